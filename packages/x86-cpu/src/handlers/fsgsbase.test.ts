import { describe, expect, it } from 'vitest';
import { ATTR_DATA, CODE64, long64, PML4, reg64, setReg64 } from '../../test/long-machine.js';
import { CpuExit, CR0, CR4, MAX_MODEL, Seg, Vector } from '../index.js';
import { Efer } from '../msr.js';

function run(source: string, cr4: number, setup: (m: ReturnType<typeof long64>) => void = () => {}) {
  const vectors: [number, number][] = [];
  const m = long64(`${source}\nhlt`, {
    model: MAX_MODEL,
    events: { delivered: (_k, v, e) => vectors.push([v, e]) },
  });
  m.cpu.setControlRegisters(
    CR0.PE | CR0.ET | CR0.PG | CR0.NE,
    PML4,
    CR4.PAE | cr4,
    Efer.LME | Efer.LMA | Efer.NXE,
  );
  m.cpu.regs.ip = CODE64;
  setup(m);
  const exit = m.run(10);
  return { m, exit, vector: vectors[0]?.[0], error: vectors[0]?.[1] };
}

describe('RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE', () => {
  it('#UD with CR4.FSGSBASE clear, for every form', () => {
    for (const s of ['rdfsbase rax', 'rdgsbase eax', 'wrfsbase rax', 'wrgsbase eax'])
      expect(run(s, 0).vector).toBe(Vector.UD);
  });
  it('with CR4.FSGSBASE: WR* sets the base, RD* reads it (32-bit forms zero-extend)', () => {
    const r = run(
      'wrfsbase rax\nrdfsbase rbx\nwrgsbase ecx\nrdgsbase rdx\nrdfsbase esi',
      CR4.FSGSBASE,
      (m) => {
        setReg64(m.cpu, 0, 0xffff_8000_1234_5000n);
        setReg64(m.cpu, 1, 0xdead_beef_8765_4000n);
      },
    );
    expect(r.exit).toBe(CpuExit.Hlt);
    expect(reg64(r.m.cpu, 3)).toBe(0xffff_8000_1234_5000n);
    expect(reg64(r.m.cpu, 2)).toBe(0x8765_4000n);
    expect(reg64(r.m.cpu, 6)).toBe(0x1234_5000n);
  });
  it('WRFSBASE/WRGSBASE of a non-canonical value is #GP(0) and leaves the base', () => {
    for (const s of ['wrfsbase rax', 'wrgsbase rax']) {
      const r = run(s, CR4.FSGSBASE, (m) => setReg64(m.cpu, 0, 0x0000_8000_0000_0000n));
      expect([r.vector, r.error]).toEqual([Vector.GP, 0]);
      expect(r.m.cpu.segs.base[s.startsWith('wrfs') ? Seg.FS : Seg.GS]).toBe(0);
    }
  });
  it('#UD in compatibility mode even with CR4.FSGSBASE', () => {
    // F3 0F AE C0 (RDFSBASE EAX) from a 32-bit code segment under IA-32e mode.
    const r = run('nop', CR4.FSGSBASE, (m) => {
      m.ram.set([0xf3, 0x0f, 0xae, 0xc0, 0xf4], CODE64);
      m.cpu.segs.set(Seg.CS, 0x18, 0, 0xffffffff, 0x9b | 0xc000);
      m.cpu.segs.set(Seg.SS, 0x10, 0, 0xffffffff, ATTR_DATA);
      m.cpu.updateMode();
    });
    expect(r.vector).toBe(Vector.UD);
  });
});
