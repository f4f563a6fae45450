/**
 * Test machines: guest RAM, a CPU and the project's assembler. `flat32` starts in 32-bit protected
 * mode with flat 4 GiB segments at CPL 0 (caches loaded directly, plus a matching GDT at 0x500 so
 * segment loads work); `real16` starts in real mode with all segments 0.
 */
import { GuestMemory } from '@typevisor/memory';
import { assemble } from '@typevisor/x86-decoder';
import { CR0, Cpu, type CpuHooks, CpuExit, type CpuOptions, EFLAGS, Seg } from '../src/index.js';

export const CODE = 0x1000;
export const STACK_TOP = 0x9000;
export const GDT = 0x500;

/** Flat selectors of the test GDT. */
export const Sel = {
  Code32: 0x08,
  Data32: 0x10,
  Code16: 0x18,
  Data16: 0x20,
  Code32Dpl3: 0x2b,
  Data32Dpl3: 0x33,
} as const;

export interface Machine {
  cpu: Cpu;
  memory: GuestMemory;
  ram: Uint8Array;
  /** Runs until HLT (or the budget); returns the exit. */
  run(max?: number): CpuExit;
}

function machine(options: CpuOptions & { hooks?: CpuHooks }): Machine {
  const memory = GuestMemory.create(4 << 20);
  const cpu = new Cpu(memory, options);
  const ram = memory.regions()[0]!.bytes;
  return {
    cpu,
    memory,
    ram,
    run: (max = 100_000) => cpu.run(max),
  };
}

/** Writes a flat GDT: null, code32, data32, code16, data16, code32 DPL3, data32 DPL3. */
export function writeGdt(memory: GuestMemory): void {
  const d = [
    [0, 0],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00009a00],
    [0x0000ffff, 0x00009200],
    [0x0000ffff, 0x00cffa00],
    [0x0000ffff, 0x00cff200],
  ];
  d.forEach(([lo, hi], i) => {
    memory.write32(GDT + i * 8, lo!);
    memory.write32(GDT + i * 8 + 4, hi!);
  });
}

export function flat32(source: string, options: CpuOptions = {}): Machine {
  const m = machine(options);
  const code = assemble(source, { bitness: 32, origin: CODE });
  m.ram.set(code, CODE);
  writeGdt(m.memory);
  const cpu = m.cpu;
  cpu.ctrl.gdtr.base = GDT;
  cpu.ctrl.gdtr.limit = 7 * 8 - 1;
  cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0);
  const code32 = 0x9b | 0xc000;
  const data32 = 0x93 | 0xc000;
  cpu.segs.set(Seg.CS, Sel.Code32, 0, 0xffffffff, code32);
  for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS])
    cpu.segs.set(s, Sel.Data32, 0, 0xffffffff, data32);
  cpu.regs.ip = CODE;
  cpu.regs.r32[4] = STACK_TOP;
  cpu.eflags = EFLAGS.FIXED1;
  return m;
}

export function real16(source: string, options: CpuOptions = {}): Machine {
  const m = machine(options);
  const code = assemble(source, { bitness: 16, origin: CODE });
  m.ram.set(code, CODE);
  const cpu = m.cpu;
  for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) cpu.segs.set(s, 0, 0, 0xffff, 0x93);
  cpu.regs.ip = CODE;
  cpu.regs.r32[4] = STACK_TOP;
  return m;
}

/** Runs and insists on HLT. */
export function runToHlt(m: Machine, max = 100_000): void {
  const exit = m.run(max);
  if (exit !== CpuExit.Hlt)
    throw new Error(`expected HLT, got exit ${exit} at ${m.cpu.regs.ip.toString(16)}`);
}

/** Writes an 8-byte segment descriptor. `access` is the access byte, `flags` the high nibble (G, D/B, L, AVL). */
export function writeDescriptor(
  memory: GuestMemory,
  addr: number,
  base: number,
  limit: number,
  access: number,
  flags: number,
): void {
  memory.write32(addr, ((base & 0xffff) << 16) | (limit & 0xffff));
  memory.write32(
    addr + 4,
    ((base >>> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | ((flags & 0xf) << 20) | (base & 0xff000000),
  );
}

/** Writes a gate descriptor (interrupt/trap/call/task gate) of `type` with DPL `dpl`. */
export function writeGate(
  memory: GuestMemory,
  addr: number,
  selector: number,
  offset: number,
  type: number,
  dpl: number,
  params = 0,
): void {
  memory.write32(addr, (selector << 16) | (offset & 0xffff));
  memory.write32(addr + 4, (offset & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8) | (params & 31));
}

/** Address of a label: assembles `source` and returns the offset of the instruction after `label:`. */
export function labelAddress(source: string, label: string, origin: number, bitness: 16 | 32 = 32): number {
  const marker = `${label}:`;
  const idx = source.indexOf(marker);
  if (idx < 0) throw new Error(`no label ${label}`);
  const before = source.slice(0, idx);
  return origin + assemble(before, { bitness, origin }).length;
}
