/**
 * The 64-bit test machine: `source` assembled for 64-bit mode and run in IA-32e mode at CPL 0, with
 * 4-level paging that identity-maps the first 4 MiB (2 MiB pages, user-accessible) and maps the same
 * 4 MiB again at the high canonical address {@link HIGH_ALIAS} (0xFFFF_8000_0000_0000, in signed
 * form), a GDT with 64-bit code, data and a 32-bit (compatibility-mode) code segment, RSP at
 * STACK_TOP. The model defaults to `X86_64_MODEL`.
 */
import { GuestMemory } from '@typevisor/memory';
import { assemble } from '@typevisor/x86-decoder';
import { CR0, CR4, Cpu, CpuExit, type CpuOptions, EFLAGS, Seg, X86_64_MODEL } from '../src/index.js';
import { Efer } from '../src/msr.js';
import type { Machine } from './machine.js';

export const CODE64 = 0x1000;
export const STACK64 = 0x9000;
export const GDT64 = 0x500;
export const PML4 = 0x10000;
/** 0xFFFF_8000_0000_0000 as the CPU holds it: a canonical address in signed form. */
export const HIGH_ALIAS = -(2 ** 47);

/** Selectors of the 64-bit test GDT. */
export const Sel64 = {
  Code64: 0x08,
  Data: 0x10,
  Code32: 0x18,
  Code64Dpl3: 0x23,
  DataDpl3: 0x2b,
} as const;

/** Cache attributes (descriptor bits 40..55 >> 8): 64-bit code (L, G), data (D/B, G). */
export const ATTR_CODE64 = 0x9b | 0xa000;
export const ATTR_DATA = 0x93 | 0xc000;

export function long64(source: string, options: CpuOptions = {}): Machine {
  const memory = GuestMemory.create(8 << 20);
  const cpu = new Cpu(memory, { model: X86_64_MODEL, ...options });
  const ram = memory.regions()[0]!.bytes;
  ram.set(assemble(source, { bitness: 64, origin: CODE64 }), CODE64);
  // GDT: null, code64, data, code32, code64 DPL3, data DPL3.
  const d = [
    [0, 0],
    [0x0000ffff, 0x00af9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00affa00],
    [0x0000ffff, 0x00cff200],
  ];
  d.forEach(([lo, hi], i) => {
    memory.write32(GDT64 + i * 8, lo!);
    memory.write32(GDT64 + i * 8 + 4, hi!);
  });
  cpu.ctrl.gdtr.base = GDT64;
  cpu.ctrl.gdtr.limit = d.length * 8 - 1;
  // PML4[0] and PML4[256] -> one PDPT; PDPT[0] -> one PD; PD[0..1]: 2 MiB pages at 0 and 2 MiB.
  const pdpt = PML4 + 0x1000;
  const pd = PML4 + 0x2000;
  memory.write32(PML4, pdpt | 7);
  memory.write32(PML4 + 256 * 8, pdpt | 7);
  memory.write32(pdpt, pd | 7);
  memory.write32(pd, 0x87);
  memory.write32(pd + 8, 0x200000 | 0x87);
  cpu.setControlRegisters(
    CR0.PE | CR0.ET | CR0.PG | CR0.NE,
    PML4,
    CR4.PAE | CR4.OSFXSR | CR4.OSXMMEXCPT,
    Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE,
  );
  cpu.segs.set(Seg.CS, Sel64.Code64, 0, 0xffffffff, ATTR_CODE64);
  for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS])
    cpu.segs.set(s, Sel64.Data, 0, 0xffffffff, ATTR_DATA);
  cpu.updateMode();
  cpu.regs.ip = CODE64;
  cpu.regs.r32[4] = STACK64;
  cpu.eflags = EFLAGS.FIXED1;
  return { cpu, memory, ram, run: (max = 100_000) => cpu.run(max) };
}

/** A 64-bit register as a BigInt (tests only): GPR `n` (0 = RAX ... 15 = R15). */
export function reg64(cpu: Cpu, n: number): bigint {
  return (BigInt(cpu.regs.u32[16 + n]!) << 32n) | BigInt(cpu.regs.u32[n]!);
}

/** Sets GPR `n` from a BigInt (taken modulo 2^64). */
export function setReg64(cpu: Cpu, n: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  cpu.regs.u32[n] = Number(u & 0xffffffffn);
  cpu.regs.u32[16 + n] = Number(u >> 32n);
}

/** Runs to HLT; throws with RIP on any other exit. */
export function runLong(m: Machine, max = 100_000): void {
  const exit = m.run(max);
  if (exit !== CpuExit.Hlt)
    throw new Error(`expected HLT, got exit ${exit} at RIP ${m.cpu.regs.ip.toString(16)}`);
}
