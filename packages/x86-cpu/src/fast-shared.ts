/**
 * What the fast handlers of `fast-paths.ts` and `fast-paths-cold.ts` share: the memory operand of an
 * instruction's record (32-bit addressing), the second operand of a 32-bit form, the 32-bit push, and
 * the 32-bit shifts by a count from 1 to 31. Each does what the generic path (`operands.ts`,
 * `memory-access.ts`, `handlers/shift.ts`) does, reading the record instead of the decoded `Instruction`.
 */
import { OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu } from './cpu.js';
import { EFLAGS, setArith, szp } from './flags.js';
import { read32, write32 } from './memory-access.js';
import { Rec } from './operand-record.js';
import { GPR_OF, Seg } from './registers.js';
import { Attr } from './segments.js';

/** Base + index * scale + displacement of the record's memory operand, not yet wrapped to 32 bits. */
export function address32(cpu: Cpu, rec: Int32Array, at: number): number {
  const u32 = cpu.regs.u32;
  const m = rec[at + Rec.Mem]!;
  let a = rec[at + Rec.Disp]!;
  const base = m & 0xff;
  if (base !== Register.None) a += u32[GPR_OF[base]!]!;
  const index = (m >>> 8) & 0xff;
  if (index !== Register.None) a += u32[GPR_OF[index]!]! * ((m >>> 16) & 0xff);
  return a;
}

/**
 * Offset of a 32-bit memory operand (address size 32), recorded like `operands.ts` `locate`: it sets
 * `cpu.eaSeg`, so a caller reads that only after the call (not as an argument evaluated before it).
 */
export function locate32(cpu: Cpu, rec: Int32Array, at: number): number {
  const a = address32(cpu, rec, at) >>> 0;
  cpu.eaSeg = (rec[at + Rec.Mem]! >>> 24) - Register.ES;
  cpu.eaOff = a;
  return a;
}

/** The second operand of a 32-bit form: register, immediate or memory. */
export function source32(cpu: Cpu, rec: Int32Array, at: number): number {
  const k = rec[at + Rec.Kind1]!;
  if (k === OpKind.Register) return cpu.regs.u32[GPR_OF[rec[at + Rec.Reg1]!]!]!;
  if (k === OpKind.Memory) {
    const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
    return read32(cpu, cpu.eaSeg, off);
  }
  return rec[at + Rec.Imm]! >>> 0;
}

/** Whether SS is a 32-bit stack segment (ESP) rather than a 16-bit one (SP). */
export function bigStack(cpu: Cpu): boolean {
  return (cpu.segs.attr[Seg.SS]! & Attr.DB) !== 0;
}

/** PUSH of a 32-bit value: written below ESP/SP, which moves only after the write succeeded. */
export function push32(cpu: Cpu, v: number): void {
  const r = cpu.regs;
  if (bigStack(cpu)) {
    const sp = (r.u32[4]! - 4) >>> 0;
    write32(cpu, Seg.SS, sp, v);
    r.r32[4] = sp;
  } else {
    const sp = (r.r16[8]! - 4) & 0xffff;
    write32(cpu, Seg.SS, sp, v);
    r.r16[8] = sp;
  }
}

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/** SHL/SAL of register-file index `d` by `c` (1..31): all six status flags (AF cleared). */
export function shiftLeft32(cpu: Cpu, d: number, c: number): void {
  const dst = cpu.regs.u32[d]!;
  const res = (dst << c) >>> 0;
  const cf = (dst >>> (32 - c)) & 1;
  cpu.regs.r32[d] = res;
  setArith(cpu.flags, OSZAPC, szp(res, 32) | ((res >>> 31) ^ cf ? EFLAGS.OF : 0) | cf);
}
/** SHR of register-file index `d` by `c` (1..31): OF is the old sign for a count of 1, else 0. */
export function shiftRight32(cpu: Cpu, d: number, c: number): void {
  const dst = cpu.regs.u32[d]!;
  const res = dst >>> c;
  const cf = (dst >>> (c - 1)) & 1;
  cpu.regs.r32[d] = res;
  setArith(cpu.flags, OSZAPC, szp(res, 32) | (c === 1 && dst >>> 31 ? EFLAGS.OF : 0) | cf);
}
/** SAR of register-file index `d` by `c` (1..31): OF 0. */
export function shiftArithmetic32(cpu: Cpu, d: number, c: number): void {
  const signed = cpu.regs.r32[d]!;
  const res = (signed >> c) >>> 0;
  const cf = (signed >> (c - 1)) & 1;
  cpu.regs.r32[d] = res;
  setArith(cpu.flags, OSZAPC, szp(res, 32) | cf);
}
