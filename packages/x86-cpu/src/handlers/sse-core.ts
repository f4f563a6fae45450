/**
 * What the SSE handler families share (`sse.ts`, `sse3.ts`): the entry checks (CR0.EM/TS, CR4.OSFXSR,
 * pending x87 exceptions), the end of a floating-point instruction (MXCSR flags, #XM/#UD), operand
 * movement between the XMM file, memory and the scratch lanes A/B/R, and the per-lane float
 * arithmetic with MXCSR semantics.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { CR0, CR4 } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { linearAddress, probeWrite, read32, write32 } from '../memory-access.js';
import { locate } from '../operands.js';
import {
  arith,
  F32_INDEFINITE,
  F64_INDEFINITE_HI,
  FOp,
  f32ToBits,
  fpFlags,
  fpRaise,
  in32,
  in64,
  isNaN32,
  isNaN64,
  isSNaN32,
  isSNaN64,
} from '../sse/float.js';
import type { IntOp } from '../sse/integer.js';
import { A, B, R } from '../sse/lanes.js';
import { MXCSR, MXCSR_FLAGS, MXCSR_MASK_SHIFT, type SseState, XMM_COUNT } from '../sse/state.js';
import { mmxReadHi, mmxReadLo, mmxWrite, PENDING_MF, type X87 } from '../x87/index.js';

// ------------------------------------------------------------------ entry checks

/** SSE/SSE2 instruction on XMM state. */
export function enter(cpu: Cpu): SseState {
  const cr0 = cpu.ctrl.cr0;
  if (cr0 & CR0.EM || (cpu.ctrl.cr4 & CR4.OSFXSR) === 0) raise(Vector.UD);
  if (cr0 & CR0.TS) raise(Vector.NM);
  return cpu.fpu.sse;
}

/** SSE instruction that also touches an MMX register: x87 pending exception (#MF) is checked too. */
export function enterMixed(cpu: Cpu): SseState {
  const sse = enter(cpu);
  if (cpu.fpu.checkPending((cpu.ctrl.cr0 & CR0.NE) !== 0) === PENDING_MF) raise(Vector.MF);
  return sse;
}

/** SSE integer instruction on MMX registers only: the MMX rules (no CR4.OSFXSR check). */
export function enterMmx(cpu: Cpu): X87 {
  const cr0 = cpu.ctrl.cr0;
  if (cr0 & CR0.EM) raise(Vector.UD);
  if (cr0 & CR0.TS) raise(Vector.NM);
  const fpu = cpu.fpu;
  if (fpu.checkPending((cr0 & CR0.NE) !== 0) === PENDING_MF) raise(Vector.MF);
  return fpu;
}

/** Unmasked SIMD floating-point exception: #XM with CR4.OSXMMEXCPT, else #UD. */
export function simdFault(cpu: Cpu): never {
  raise(cpu.ctrl.cr4 & CR4.OSXMMEXCPT ? Vector.XM : Vector.UD);
}

/**
 * Ends a floating-point instruction: merges the flags into MXCSR; with an unmasked exception the
 * destination is left alone and #XM/#UD raised. Unmasked pre-computation exceptions (IE, DE, ZE)
 * suppress the post-computation flags (SDM Vol. 1 §11.5.2). Returns whether to write the result.
 */
export function fpEnd(cpu: Cpu, sse: SseState): void {
  const f = fpFlags;
  const unmasked = f & ~(sse.mxcsr >>> MXCSR_MASK_SHIFT) & MXCSR_FLAGS;
  if (unmasked === 0) {
    sse.mxcsr |= f;
    return;
  }
  const pre = f & (MXCSR.IE | MXCSR.DE | MXCSR.ZE);
  sse.mxcsr |= pre & unmasked ? pre : f;
  simdFault(cpu);
}

// ------------------------------------------------------------------ operand movement

export const xmm = (reg: number): number => reg - Register.XMM0;
export const mm = (reg: number): number => reg - Register.MM0;
export const isXmm = (reg: number): boolean => reg >= Register.XMM0 && reg < Register.XMM0 + XMM_COUNT;

export function loadA(sse: SseState, r: number): void {
  const x = sse.u32;
  const o = r * 4;
  A.u32[0] = x[o]!;
  A.u32[1] = x[o + 1]!;
  A.u32[2] = x[o + 2]!;
  A.u32[3] = x[o + 3]!;
}

export function storeR(sse: SseState, r: number): void {
  const x = sse.u32;
  const o = r * 4;
  x[o] = R.u32[0]!;
  x[o + 1] = R.u32[1]!;
  x[o + 2] = R.u32[2]!;
  x[o + 3] = R.u32[3]!;
}

export function copyAtoR(): void {
  R.u32[0] = A.u32[0]!;
  R.u32[1] = A.u32[1]!;
  R.u32[2] = A.u32[2]!;
  R.u32[3] = A.u32[3]!;
}

/** Memory operand located; #GP(0) when `aligned` and the linear address is not 16-byte aligned. */
export function locateMem(cpu: Cpu, ins: Instruction, aligned: boolean): void {
  locate(cpu, ins);
  if (aligned && (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & 15) !== 0) raise(Vector.GP, 0);
}

/**
 * The offset `k` bytes past `off` (the memory operand's, by default): wrapped to the address size
 * in 16/32-bit modes; in 64-bit mode offsets are canonical addresses in signed form and simply add
 * (with 67h too: the operand's bytes continue past 4 GiB).
 */
export function offsetPlus(ins: Instruction, off: number, k: number): number {
  const o = off + k;
  if (ins.bitness === 64) return o;
  return ins.addressSize === 16 ? o & 0xffff : o >>> 0;
}

export function nextOff(cpu: Cpu, ins: Instruction, k: number): number {
  return offsetPlus(ins, cpu.eaOff, k);
}

/** Reads `bytes` (4, 8 or 16) of memory into B (the rest of B zeroed). */
export function readMemB(cpu: Cpu, ins: Instruction, bytes: number, aligned: boolean): void {
  locateMem(cpu, ins, aligned);
  for (let i = 0; i < 4; i++) B.u32[i] = i * 4 < bytes ? read32(cpu, cpu.eaSeg, nextOff(cpu, ins, i * 4)) : 0;
}

/** Source operand 1 (XMM register, or memory of `bytes`) into B. */
export function loadB(cpu: Cpu, ins: Instruction, sse: SseState, bytes: number, aligned: boolean): void {
  if (ins.op1Kind === OpKind.Register) {
    const o = xmm(ins.op1Register) * 4;
    for (let i = 0; i < 4; i++) B.u32[i] = sse.u32[o + i]!;
    return;
  }
  readMemB(cpu, ins, bytes, aligned);
}

/** MMX register or m64 source into B (low 8 bytes). */
export function loadMmB(cpu: Cpu, ins: Instruction, fpu: X87): void {
  if (ins.op1Kind === OpKind.Register) {
    B.u32[0] = mmxReadLo(fpu, mm(ins.op1Register));
    B.u32[1] = mmxReadHi(fpu, mm(ins.op1Register));
    B.u32[2] = 0;
    B.u32[3] = 0;
    return;
  }
  readMemB(cpu, ins, 8, false);
}

/** Writes the low `bytes` of `src` words to the memory operand (probed first: all or nothing). */
export function writeMem(
  cpu: Cpu,
  ins: Instruction,
  src: Uint32Array,
  bytes: number,
  aligned: boolean,
): void {
  locateMem(cpu, ins, aligned);
  probeWrite(cpu, cpu.eaSeg, cpu.eaOff, bytes);
  for (let i = 0; i < bytes / 4; i++) write32(cpu, cpu.eaSeg, nextOff(cpu, ins, i * 4), src[i]!);
}

// ------------------------------------------------------------------ packed integer

/** Packed integer op on XMM: xmm, xmm/m128 (aligned). */
export function intXmm(op: IntOp): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, 16, true);
    loadA(sse, d);
    op(16);
    storeR(sse, d);
  };
}

/** Packed integer op on MMX registers (the forms SSE/SSE2 added): mm, mm/m64. */
export function intMm(op: IntOp): Handler {
  return (cpu, ins) => {
    const fpu = enterMmx(cpu);
    loadMmB(cpu, ins, fpu);
    const d = mm(ins.op0Register);
    A.u32[0] = mmxReadLo(fpu, d);
    A.u32[1] = mmxReadHi(fpu, d);
    op(8);
    mmxWrite(fpu, d, R.u32[0]!, R.u32[1]!);
  };
}

// ------------------------------------------------------------------ float lanes

/** One binary32 lane of A op B into R. */
export function lane32(op: number, i: number): void {
  const ab = A.u32[i]!;
  const bb = B.u32[i]!;
  const unary = op === FOp.Sqrt;
  const aNaN = !unary && isNaN32(ab);
  const bNaN = isNaN32(bb);
  if (op === FOp.Min || op === FOp.Max) {
    // Any NaN (signalling or quiet) is invalid and returns the second operand as it is.
    if (aNaN || bNaN) {
      fpRaise(MXCSR.IE);
      R.u32[i] = bb;
      return;
    }
    const x = in32(ab);
    const y = in32(bb);
    const pickA = op === FOp.Min ? x < y : x > y;
    R.u32[i] = f32ToBits(pickA ? x : y);
    return;
  }
  if (aNaN || bNaN) {
    if ((aNaN && isSNaN32(ab)) || (bNaN && isSNaN32(bb))) fpRaise(MXCSR.IE);
    // The first source's NaN wins, quieted (SDM Vol. 1 Table 4-7).
    R.u32[i] = (aNaN ? ab : bb) | 0x400000;
    return;
  }
  const r = arith(op, unary ? 0 : in32(ab), in32(bb), false);
  R.u32[i] = Number.isNaN(r) ? F32_INDEFINITE : f32ToBits(r);
}

/** One binary64 lane (words 2q, 2q+1). */
export function lane64(op: number, q: number): void {
  const alo = A.u32[2 * q]!;
  const ahi = A.u32[2 * q + 1]!;
  const blo = B.u32[2 * q]!;
  const bhi = B.u32[2 * q + 1]!;
  const unary = op === FOp.Sqrt;
  const aNaN = !unary && isNaN64(ahi, alo);
  const bNaN = isNaN64(bhi, blo);
  if (op === FOp.Min || op === FOp.Max) {
    if (aNaN || bNaN) {
      fpRaise(MXCSR.IE);
      R.u32[2 * q] = blo;
      R.u32[2 * q + 1] = bhi;
      return;
    }
    const x = in64(ahi, alo);
    const y = in64(bhi, blo);
    const pickA = op === FOp.Min ? x < y : x > y;
    R.f64[q] = pickA ? x : y;
    return;
  }
  if (aNaN || bNaN) {
    if ((aNaN && isSNaN64(ahi, alo)) || (bNaN && isSNaN64(bhi, blo))) fpRaise(MXCSR.IE);
    R.u32[2 * q] = aNaN ? alo : blo;
    R.u32[2 * q + 1] = (aNaN ? ahi : bhi) | 0x80000;
    return;
  }
  const r = arith(op, unary ? 0 : in64(ahi, alo), in64(bhi, blo), true);
  if (Number.isNaN(r)) {
    R.u32[2 * q] = 0;
    R.u32[2 * q + 1] = F64_INDEFINITE_HI;
  } else R.f64[q] = r;
}
