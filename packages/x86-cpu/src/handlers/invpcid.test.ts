import { describe, expect, it } from 'vitest';
import { ATTR_CODE64, ATTR_DATA, CODE64, long64, PML4, Sel64, setReg64 } from '../../test/long-machine.js';
import { assemble } from '@typevisor/x86-decoder';
import { flat32, real16 } from '../../test/machine.js';
import { CpuExit, CR0, CR4, EFLAGS, MAX_MODEL, Seg, Vector } from '../index.js';
import { Efer } from '../msr.js';

const DESC = 0x3000;
const PD = PML4 + 0x2000;
const OLD = 0x200100;
const NEW = 0x400100;

/**
 * Reads [0x200100] (cached), points the 2 MiB page at 0x200000 to 0x400000, runs `inv`, reads the
 * address again into RBX. Returns the vector of a fault, or RBX's low half.
 */
function remap(
  inv: string,
  type: bigint,
  pcid: bigint,
  addr: bigint,
  opts: { pcide?: boolean; cpl3?: boolean } = {},
) {
  const vectors: number[] = [];
  const m = long64(`mov rax, [${OLD}]\nmov dword [${PD + 8}], 0x400087\n${inv}\nmov rbx, [${OLD}]\nhlt`, {
    model: MAX_MODEL,
    events: { delivered: (_k, v) => vectors.push(v) },
  });
  const { cpu } = m;
  m.memory.write32(OLD, 0x01d);
  m.memory.write32(NEW, 0x7e7);
  m.memory.write32(DESC, Number(pcid & 0xffffffffn));
  m.memory.write32(DESC + 4, Number(pcid >> 32n));
  m.memory.write32(DESC + 8, Number(addr & 0xffffffffn));
  m.memory.write32(DESC + 12, Number((addr >> 32n) & 0xffffffffn));
  setReg64(cpu, 1, type);
  if (opts.pcide)
    cpu.setControlRegisters(
      CR0.PE | CR0.ET | CR0.PG | CR0.NE,
      PML4,
      CR4.PAE | CR4.OSFXSR | CR4.PCIDE,
      Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE,
    );
  if (opts.cpl3) {
    cpu.segs.set(Seg.CS, Sel64.Code64Dpl3, 0, 0xffffffff, ATTR_CODE64 | 0x60);
    cpu.segs.set(Seg.SS, Sel64.DataDpl3, 0, 0xffffffff, ATTR_DATA | 0x60);
    cpu.ctrl.cpl = 3;
    cpu.updateMode();
  }
  cpu.regs.ip = CODE64;
  const exit = m.run(20);
  if (vectors.length > 0) return { vector: vectors[0] };
  expect(exit).toBe(CpuExit.Hlt);
  return { rbx: cpu.regs.u32[3] };
}

describe('INVPCID', () => {
  it('without an invalidation the stale translation is still used (the test can see a flush)', () => {
    expect(remap('nop', 0n, 0n, BigInt(OLD))).toEqual({ rbx: 0x01d });
    expect(remap('invlpg [0x200100]', 0n, 0n, 0n)).toEqual({ rbx: 0x7e7 });
  });

  it('types 0 (the address), 1 (the PCID), 2 and 3 (all contexts) drop the translation', () => {
    for (const type of [0n, 1n, 2n, 3n])
      expect(remap(`invpcid rcx, [${DESC}]`, type, 0n, BigInt(OLD))).toEqual({ rbx: 0x7e7 });
  });

  it('type 0 for another page leaves the cached one', () => {
    expect(remap(`invpcid rcx, [${DESC}]`, 0n, 0n, 0x600000n)).toEqual({ rbx: 0x01d });
  });

  it('#GP(0) for a type above 3 (also in bits 63:32), descriptor bits 63:12, or a non-canonical type-0 address', () => {
    const inv = `invpcid rcx, [${DESC}]`;
    expect(remap(inv, 4n, 0n, 0n).vector).toBe(Vector.GP);
    expect(remap(inv, 1n << 32n, 0n, 0n).vector).toBe(Vector.GP);
    expect(remap(inv, 2n, 0x1000n, 0n).vector).toBe(Vector.GP);
    expect(remap(inv, 2n, 1n << 40n, 0n).vector).toBe(Vector.GP);
    expect(remap(inv, 0n, 0n, 0x0000_8000_0000_0000n).vector).toBe(Vector.GP);
    expect(remap(inv, 0n, 0n, 0xffff_8000_0000_0000n)).toEqual({ rbx: 0x01d });
    // The address matters to type 0 only.
    expect(remap(inv, 1n, 0n, 0x0000_8000_0000_0000n)).toEqual({ rbx: 0x7e7 });
  });

  it('a PCID other than 0 with CR4.PCIDE = 0 is #GP(0) for types 0 and 1 only; with PCIDE it is taken', () => {
    const inv = `invpcid rcx, [${DESC}]`;
    expect(remap(inv, 0n, 5n, BigInt(OLD)).vector).toBe(Vector.GP);
    expect(remap(inv, 1n, 5n, 0n).vector).toBe(Vector.GP);
    expect(remap(inv, 2n, 5n, 0n)).toEqual({ rbx: 0x7e7 });
    expect(remap(inv, 3n, 5n, 0n)).toEqual({ rbx: 0x7e7 });
    expect(remap(inv, 1n, 5n, 0n, { pcide: true })).not.toHaveProperty('vector');
    expect(remap(inv, 0n, 5n, BigInt(OLD), { pcide: true })).not.toHaveProperty('vector');
    expect(remap(inv, 1n, 0n, 0n, { pcide: true })).toEqual({ rbx: 0x7e7 });
  });

  it('#GP(0) at CPL 3', () => {
    expect(remap(`invpcid rcx, [${DESC}]`, 2n, 0n, 0n, { cpl3: true }).vector).toBe(Vector.GP);
  });

  it('#UD in virtual-8086 mode', () => {
    const vectors: number[] = [];
    const m = flat32('hlt', { model: MAX_MODEL, events: { delivered: (_k, v) => vectors.push(v) } });
    m.ram.set(assemble(`invpcid eax, [${DESC}]`, { bitness: 16, origin: 0 }), 0x2000);
    for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS])
      m.cpu.segs.set(s, 0x200, 0x2000, 0xffff, 0xf3);
    m.cpu.eflags = EFLAGS.FIXED1 | EFLAGS.VM;
    m.cpu.updateMode();
    m.cpu.regs.ip = 0;
    m.cpu.regs.u32[0] = 2;
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });

  it('runs in real-address mode (32-bit type register); type > 3 is #GP there too', () => {
    for (const [type, exit] of [
      [2, CpuExit.Hlt],
      [4, undefined],
    ] as const) {
      const vectors: number[] = [];
      const m = real16(`invpcid eax, [${DESC}]\nhlt`, {
        model: MAX_MODEL,
        events: { delivered: (_k, v) => vectors.push(v) },
      });
      m.cpu.regs.u32[0] = type;
      const got = m.run(5);
      if (exit === undefined) expect(vectors[0]).toBe(Vector.GP);
      else expect(got).toBe(exit);
    }
  });
});
