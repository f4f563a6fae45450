/**
 * AVX floating point (SDM Vol. 1 §14.1-14.4, Vol. 2 for each instruction): the VEX.128 and VEX.256
 * forms of the SSE/SSE2/SSE3/SSE4.1 float arithmetic (ADD/SUB/MUL/DIV/MIN/MAX/SQRT/RCP/RSQRT,
 * ADDSUB, HADD/HSUB, the bitwise AND/ANDN/OR/XOR), VCMP* with the 32 predicates of imm8[4:0],
 * V(U)COMIS*, every VCVT*, VROUND* and VDPPS/VDPPD. The data-movement forms are in `avx-move.ts`.
 *
 * The arithmetic is the legacy SSE lanes' (`sse-core.ts` lane32/lane64/fpEnd, `../sse/float.ts`,
 * `../sse/round.ts`), applied to each 128-bit lane: MXCSR rounding, DAZ/FTZ, NaN rules and flags are
 * the same. The differences are the VEX ones: a non-destructive first source (VEX.vvvv), VEX.128
 * zeroing bits 255:128 of the destination, scalar forms taking bits 127:32 (or 127:64) from the
 * VEX.vvvv source, and memory operands that need no alignment. Results are staged in the scratch Y
 * and committed after `fpEnd`, so an unmasked SIMD exception leaves the destination unchanged.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { read32, read64 } from '../memory-access.js';
import { getReg32, getReg64, locate, setReg32, setReg64 } from '../operands.js';
import {
  F32_INDEFINITE,
  FOp,
  f32ToBits,
  fpBegin,
  fpRaise,
  in32,
  in64,
  int64Hi,
  int64ToFloat,
  intToF32,
  isNaN32,
  isNaN64,
  isSNaN32,
  isSNaN64,
  toF32,
  toInt32,
  toInt64,
} from '../sse/float.js';
import { INT_OPS, type IntOp } from '../sse/integer.js';
import { A, B, R } from '../sse/lanes.js';
import { RoundImm, round32, round64, roundMode } from '../sse/round.js';
import { MXCSR, type SseState } from '../sse/state.js';
import {
  commitY,
  enterVex,
  laneWord,
  loadLaneA,
  loadLaneB,
  M,
  readVexMem,
  stageLane,
  vreg,
  Y,
} from './avx-core.js';
import { AVX_MOVE_HANDLERS } from './avx-move.js';
import { fpEnd, lane32, lane64 } from './sse-core.js';
import { HandlerList } from './table.js';

// ------------------------------------------------------------------ shared helpers

/** A 256-bit source (register or memory) copied whole, for the cross-width forms (conversions). */
const S = new Uint32Array(8);

/** Reads the memory operand when `kind` is memory (`bytes` of it into M). */
function readIfMem(cpu: Cpu, ins: Instruction, kind: OpKind, bytes: number): void {
  if (kind !== OpKind.Register) readVexMem(cpu, ins, bytes);
}

/** The r/m source (register `reg` or M, read before) into S: 8 words (a register's whole YMM). */
function loadS(sse: SseState, kind: OpKind, reg: number): void {
  if (kind !== OpKind.Register) {
    for (let i = 0; i < 8; i++) S[i] = M.u32[i]!;
    return;
  }
  const x = sse.u32;
  const r = vreg(reg);
  const lo = laneWord(r, 0);
  const hi = laneWord(r, 1);
  for (let i = 0; i < 4; i++) {
    S[i] = x[lo + i]!;
    S[4 + i] = x[hi + i]!;
  }
}

/** R = A (the merge base of scalar forms: bits 127:32/64 of the VEX.vvvv source). */
function copyAtoR(): void {
  R.u32[0] = A.u32[0]!;
  R.u32[1] = A.u32[1]!;
  R.u32[2] = A.u32[2]!;
  R.u32[3] = A.u32[3]!;
}

/** 256-bit forms have a YMM first operand, or (VCVTPD2PS xmm, ymm/m256...) a ymm in the Code name. */
const l256Of = (name: string): boolean => /_ymm/.test(name);

// ------------------------------------------------------------------ packed/scalar arithmetic

/**
 * VADD/VSUB/VMUL/VDIV/VMIN/VMAX PS/PD/SS/SD `dst, src1, src2/m` and VSQRTPS/PD `dst, src/m` (`rm`),
 * VSQRTSS/SD `dst, src1, src2/m`: `op` on each element, each 128-bit lane as legacy SSE does it.
 */
function fpArith(op: number, double: boolean, scalar: boolean, l256: boolean, rm: boolean): Handler {
  const lanes = scalar ? 1 : double ? 2 : 4;
  const bytes = scalar ? (double ? 8 : 4) : l256 ? 32 : 16;
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const kind = rm ? ins.op1Kind : ins.op2Kind;
    const reg = rm ? ins.op1Register : ins.op2Register;
    readIfMem(cpu, ins, kind, bytes);
    fpBegin(sse.mxcsr);
    for (let h = 0; h < halves; h++) {
      if (rm) A.u32.fill(0);
      else loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, kind, reg, h);
      copyAtoR();
      for (let i = 0; i < lanes; i++) {
        if (double) lane64(op, i);
        else lane32(op, i);
      }
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** Bitwise VAND/VANDN/VOR/VXOR PS/PD, VUNPCK*: an integer lane operation on A and B. */
function intLanes(op: IntOp, l256: boolean): Handler {
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op2Kind, l256 ? 32 : 16);
    for (let h = 0; h < halves; h++) {
      loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, h);
      op(16);
      stageLane(h);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

// ------------------------------------------------------------------ reciprocal estimates

/**
 * VRCPPS/VRCPSS/VRSQRTPS/VRSQRTSS: as the legacy forms (`sse.ts`), the correctly rounded binary32
 * 1/x or 1/sqrt(x); denormal inputs count as zero, tiny reciprocals flush to signed zero, no flags.
 */
function estimate(bits: number, rsqrt: boolean): number {
  if (isNaN32(bits)) return (bits | 0x400000) >>> 0;
  const neg = (bits & 0x80000000) !== 0;
  if ((bits & 0x7f800000) === 0) return neg ? 0xff800000 : 0x7f800000;
  const x = fromBits32(bits);
  if (rsqrt) {
    if (neg) return F32_INDEFINITE;
    return f32ToBits(Math.fround(1 / Math.sqrt(x)));
  }
  const r = Math.fround(1 / x);
  if (Math.abs(r) < 2 ** -126) return neg ? 0x80000000 : 0;
  return f32ToBits(r);
}

const cv = new Float32Array(1);
const cvU = new Uint32Array(cv.buffer);
function fromBits32(b: number): number {
  cvU[0] = b;
  return cv[0]!;
}

function rcp(rsqrt: boolean, scalar: boolean, l256: boolean): Handler {
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const kind = scalar ? ins.op2Kind : ins.op1Kind;
    const reg = scalar ? ins.op2Register : ins.op1Register;
    readIfMem(cpu, ins, kind, scalar ? 4 : l256 ? 32 : 16);
    for (let h = 0; h < halves; h++) {
      if (scalar) loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, kind, reg, h);
      if (scalar) copyAtoR();
      for (let i = 0; i < (scalar ? 1 : 4); i++) R.u32[i] = estimate(B.u32[i]!, rsqrt);
      stageLane(h);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

// ------------------------------------------------------------------ ADDSUB, HADD, HSUB

const T = new Uint32Array(8);

/** A' = [A0, A2, B0, B2], B' = [A1, A3, B1, B3] (HADDPS/HSUBPS pairs). */
function pairsPs(): void {
  T[0] = A.u32[0]!;
  T[1] = A.u32[2]!;
  T[2] = B.u32[0]!;
  T[3] = B.u32[2]!;
  T[4] = A.u32[1]!;
  T[5] = A.u32[3]!;
  T[6] = B.u32[1]!;
  T[7] = B.u32[3]!;
  for (let i = 0; i < 4; i++) {
    A.u32[i] = T[i]!;
    B.u32[i] = T[4 + i]!;
  }
}

/** A' = [A.q0, B.q0], B' = [A.q1, B.q1] (HADDPD/HSUBPD pairs). */
function pairsPd(): void {
  T[0] = A.u32[0]!;
  T[1] = A.u32[1]!;
  T[2] = B.u32[0]!;
  T[3] = B.u32[1]!;
  T[4] = A.u32[2]!;
  T[5] = A.u32[3]!;
  T[6] = B.u32[2]!;
  T[7] = B.u32[3]!;
  for (let i = 0; i < 4; i++) {
    A.u32[i] = T[i]!;
    B.u32[i] = T[4 + i]!;
  }
}

const Form = { AddSub: 0, HAdd: 1, HSub: 2 } as const;

function horizontal(form: number, double: boolean, l256: boolean): Handler {
  const lanes = double ? 2 : 4;
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op2Kind, l256 ? 32 : 16);
    fpBegin(sse.mxcsr);
    for (let h = 0; h < halves; h++) {
      loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, h);
      if (form !== Form.AddSub) {
        if (double) pairsPd();
        else pairsPs();
      }
      for (let i = 0; i < lanes; i++) {
        const op =
          form === Form.HAdd ? FOp.Add : form === Form.HSub ? FOp.Sub : (i & 1) === 0 ? FOp.Sub : FOp.Add;
        if (double) lane64(op, i);
        else lane32(op, i);
      }
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

// ------------------------------------------------------------------ compares

/**
 * The 32 VCMP predicates (SDM Vol. 2A "CMPPS", Table 3-1): bit set for each outcome that makes the
 * predicate true (LT 1, EQ 2, GT 4, unordered 8). Predicates 16-31 repeat 0-15.
 */
const REL_LT = 1;
const REL_EQ = 2;
const REL_GT = 4;
const REL_UN = 8;
// biome-ignore format: one predicate per entry
const PRED_TRUE = new Uint8Array([
  REL_EQ, REL_LT, REL_LT | REL_EQ, REL_UN, REL_LT | REL_GT | REL_UN, REL_EQ | REL_GT | REL_UN, REL_GT | REL_UN,
  REL_LT | REL_EQ | REL_GT, REL_EQ | REL_UN, REL_LT | REL_UN, REL_LT | REL_EQ | REL_UN, 0, REL_LT | REL_GT,
  REL_EQ | REL_GT, REL_GT, 15,
]);

/**
 * Whether predicate `p` (0-31) signals invalid on a QNaN operand: the _OS/_US predicates. Among 0-15
 * those are p mod 4 = 1 or 2 (LT_OS, LE_OS, NLT_US, NLE_US, NGE_US, NGT_US, GE_OS, GT_OS); 16-31 flip it.
 */
export function signalsOnQnan(p: number): boolean {
  const s = (p & 3) === 1 || (p & 3) === 2;
  return p & 16 ? !s : s;
}

/** Whether predicate `p` holds for the outcome (x, y compared, or `unordered`). */
export function cmpPredicate(p: number, x: number, y: number, unordered: boolean): boolean {
  const rel = unordered ? REL_UN : x < y ? REL_LT : x === y ? REL_EQ : REL_GT;
  return (PRED_TRUE[p & 15]! & rel) !== 0;
}

function fpCompare(double: boolean, scalar: boolean, l256: boolean): Handler {
  const lanes = scalar ? 1 : double ? 2 : 4;
  const bytes = scalar ? (double ? 8 : 4) : l256 ? 32 : 16;
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op2Kind, bytes);
    const p = ins.immediate & 31;
    const sig = signalsOnQnan(p);
    fpBegin(sse.mxcsr);
    for (let h = 0; h < halves; h++) {
      loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, h);
      copyAtoR();
      for (let i = 0; i < lanes; i++) {
        let un: boolean;
        let sn: boolean;
        let x = 0;
        let y = 0;
        if (double) {
          const ahi = A.u32[2 * i + 1]!;
          const alo = A.u32[2 * i]!;
          const bhi = B.u32[2 * i + 1]!;
          const blo = B.u32[2 * i]!;
          un = isNaN64(ahi, alo) || isNaN64(bhi, blo);
          sn = isSNaN64(ahi, alo) || isSNaN64(bhi, blo);
          if (!un) {
            x = in64(ahi, alo);
            y = in64(bhi, blo);
          }
        } else {
          const ab = A.u32[i]!;
          const bb = B.u32[i]!;
          un = isNaN32(ab) || isNaN32(bb);
          sn = isSNaN32(ab) || isSNaN32(bb);
          if (!un) {
            x = in32(ab);
            y = in32(bb);
          }
        }
        if (sn || (un && sig)) fpRaise(MXCSR.IE);
        const v = cmpPredicate(p, x, y, un) ? 0xffffffff : 0;
        if (double) {
          R.u32[2 * i] = v;
          R.u32[2 * i + 1] = v;
        } else R.u32[i] = v;
      }
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

const COMI_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/** VCOMISS/VUCOMISS/VCOMISD/VUCOMISD xmm, xmm/m32|m64: ZF, PF, CF; OF, SF, AF cleared. */
function comis(double: boolean, quiet: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op1Kind, double ? 8 : 4);
    loadLaneA(sse, vreg(ins.op0Register), 0);
    loadLaneB(sse, ins.op1Kind, ins.op1Register, 0);
    fpBegin(sse.mxcsr);
    let un: boolean;
    let sn: boolean;
    let x = 0;
    let y = 0;
    if (double) {
      un = isNaN64(A.u32[1]!, A.u32[0]!) || isNaN64(B.u32[1]!, B.u32[0]!);
      sn = isSNaN64(A.u32[1]!, A.u32[0]!) || isSNaN64(B.u32[1]!, B.u32[0]!);
      if (!un) {
        x = in64(A.u32[1]!, A.u32[0]!);
        y = in64(B.u32[1]!, B.u32[0]!);
      }
    } else {
      un = isNaN32(A.u32[0]!) || isNaN32(B.u32[0]!);
      sn = isSNaN32(A.u32[0]!) || isSNaN32(B.u32[0]!);
      if (!un) {
        x = in32(A.u32[0]!);
        y = in32(B.u32[0]!);
      }
    }
    if (sn || (un && !quiet)) fpRaise(MXCSR.IE);
    fpEnd(cpu, sse);
    const bits = un ? EFLAGS.ZF | EFLAGS.PF | EFLAGS.CF : x < y ? EFLAGS.CF : x === y ? EFLAGS.ZF : 0;
    setArith(cpu.flags, COMI_MASK, bits);
  };
}

// ------------------------------------------------------------------ conversions

/** binary32 bits -> binary64 words Y[2q], Y[2q+1] (SNaN quieted with IE, payload kept). */
function f32to64(bits: number, q: number): void {
  if (isNaN32(bits)) {
    if (isSNaN32(bits)) fpRaise(MXCSR.IE);
    Y.u32[2 * q] = (bits & 0x7) << 29;
    Y.u32[2 * q + 1] = (bits & 0x80000000) | 0x7ff80000 | ((bits & 0x3fffff) >>> 3);
    return;
  }
  Y.f64[q] = in32(bits);
}

/** binary64 (hi:lo) -> binary32 bits under MXCSR. */
function f64to32(hi: number, lo: number): number {
  if (isNaN64(hi, lo)) {
    if (isSNaN64(hi, lo)) fpRaise(MXCSR.IE);
    return ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29)) >>> 0;
  }
  return f32ToBits(toF32(in64(hi, lo)));
}

function f32toInt(bits: number, truncate: boolean): number {
  return toInt32(isNaN32(bits) ? Number.NaN : in32(bits), truncate);
}
function f64toInt(hi: number, lo: number, truncate: boolean): number {
  return toInt32(isNaN64(hi, lo) ? Number.NaN : in64(hi, lo), truncate);
}

const Cvt = {
  Ps2Pd: 0,
  Pd2Ps: 1,
  Dq2Ps: 2,
  Ps2Dq: 3,
  Ttps2Dq: 4,
  Dq2Pd: 5,
  Pd2Dq: 6,
  Ttpd2Dq: 7,
} as const;

/**
 * The packed conversions `dst, src/m` (VEX.L from the Code: `l256`): the source has `srcBytes`
 * (16/32, or 8/16 for the widening ones), the destination `l256 ? 32 : 16` bytes, or 16 for the
 * narrowing ones (their VEX.256 form writes an XMM register).
 */
function packedCvt(kind: number, l256: boolean): Handler {
  const widen = kind === Cvt.Ps2Pd || kind === Cvt.Dq2Pd;
  const narrow = kind === Cvt.Pd2Ps || kind === Cvt.Pd2Dq || kind === Cvt.Ttpd2Dq;
  const srcBytes = widen ? (l256 ? 16 : 8) : l256 ? 32 : 16;
  const outL256 = l256 && !narrow;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op1Kind, srcBytes);
    loadS(sse, ins.op1Kind, ins.op1Register);
    fpBegin(sse.mxcsr);
    Y.u32.fill(0);
    switch (kind) {
      case Cvt.Ps2Pd:
        for (let q = 0; q < (l256 ? 4 : 2); q++) f32to64(S[q]!, q);
        break;
      case Cvt.Dq2Pd:
        for (let q = 0; q < (l256 ? 4 : 2); q++) Y.f64[q] = S[q]! | 0;
        break;
      case Cvt.Pd2Ps:
        for (let q = 0; q < (l256 ? 4 : 2); q++) Y.u32[q] = f64to32(S[2 * q + 1]!, S[2 * q]!);
        break;
      case Cvt.Pd2Dq:
      case Cvt.Ttpd2Dq:
        for (let q = 0; q < (l256 ? 4 : 2); q++)
          Y.u32[q] = f64toInt(S[2 * q + 1]!, S[2 * q]!, kind === Cvt.Ttpd2Dq);
        break;
      case Cvt.Dq2Ps:
        for (let i = 0; i < (l256 ? 8 : 4); i++) Y.u32[i] = f32ToBits(intToF32(S[i]! | 0));
        break;
      default:
        for (let i = 0; i < (l256 ? 8 : 4); i++) Y.u32[i] = f32toInt(S[i]!, kind === Cvt.Ttps2Dq);
        break;
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), outL256);
  };
}

/** VCVTSS2SD / VCVTSD2SS xmm1, xmm2, xmm3/m: the low element converted, the rest from xmm2. */
function scalarCvt(toDouble: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op2Kind, toDouble ? 4 : 8);
    loadLaneB(sse, ins.op2Kind, ins.op2Register, 0);
    loadLaneA(sse, vreg(ins.op1Register), 0);
    fpBegin(sse.mxcsr);
    for (let i = 0; i < 4; i++) Y.u32[i] = A.u32[i]!;
    if (toDouble) f32to64(B.u32[0]!, 0);
    else Y.u32[0] = f64to32(B.u32[1]!, B.u32[0]!);
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), false);
  };
}

/** VCVTSI2SS/SD xmm1, xmm2, r/m32|r/m64: the low element the rounded integer, the rest from xmm2. */
function cvtsi2(double: boolean, w64: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    let lo: number;
    let hi = 0;
    if (ins.op2Kind === OpKind.Register) {
      lo = w64 ? getReg64(cpu, ins.op2Register) : getReg32(cpu, ins.op2Register);
      if (w64) hi = cpu.hi;
    } else {
      locate(cpu, ins);
      lo = w64 ? read64(cpu, cpu.eaSeg, cpu.eaOff) : read32(cpu, cpu.eaSeg, cpu.eaOff);
      if (w64) hi = cpu.hi;
    }
    loadLaneA(sse, vreg(ins.op1Register), 0);
    for (let i = 0; i < 4; i++) Y.u32[i] = A.u32[i]!;
    fpBegin(sse.mxcsr);
    if (w64) {
      const v = int64ToFloat(lo, hi, double);
      if (double) Y.f64[0] = v;
      else Y.u32[0] = f32ToBits(v);
    } else if (double) Y.f64[0] = lo | 0;
    else Y.u32[0] = f32ToBits(intToF32(lo | 0));
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), false);
  };
}

/** VCVT(T)SS2SI / VCVT(T)SD2SI r32|r64, xmm/m32|m64. */
function cvt2si(double: boolean, truncate: boolean, w64: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op1Kind, double ? 8 : 4);
    loadLaneB(sse, ins.op1Kind, ins.op1Register, 0);
    fpBegin(sse.mxcsr);
    let x: number;
    if (double) x = isNaN64(B.u32[1]!, B.u32[0]!) ? Number.NaN : in64(B.u32[1]!, B.u32[0]!);
    else x = isNaN32(B.u32[0]!) ? Number.NaN : in32(B.u32[0]!);
    if (w64) {
      const lo = toInt64(x, truncate);
      const hi = int64Hi;
      fpEnd(cpu, sse);
      setReg64(cpu, ins.op0Register, lo, hi);
      return;
    }
    const v = toInt32(x, truncate);
    fpEnd(cpu, sse);
    setReg32(cpu, ins.op0Register, v);
  };
}

// ------------------------------------------------------------------ rounding and dot products

/** VROUNDPS/PD `dst, src/m, imm8` (per element), VROUNDSS/SD `dst, src1, src2/m, imm8` (low one). */
function round(double: boolean, scalar: boolean, l256: boolean): Handler {
  const bytes = scalar ? (double ? 8 : 4) : l256 ? 32 : 16;
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const kind = scalar ? ins.op2Kind : ins.op1Kind;
    const reg = scalar ? ins.op2Register : ins.op1Register;
    readIfMem(cpu, ins, kind, bytes);
    const imm = ins.immediate;
    const mode = roundMode(imm, sse.mxcsr);
    const noPe = (imm & RoundImm.SUPPRESS_PE) !== 0;
    const daz = (sse.mxcsr & MXCSR.DAZ) !== 0;
    fpBegin(sse.mxcsr);
    for (let h = 0; h < halves; h++) {
      if (scalar) loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, kind, reg, h);
      if (scalar) copyAtoR();
      if (double) {
        for (let q = 0; q < (scalar ? 1 : 2); q++)
          round64(B.u32[2 * q + 1]!, B.u32[2 * q]!, mode, noPe, daz, R.u32, 2 * q);
      } else {
        for (let i = 0; i < (scalar ? 1 : 4); i++) R.u32[i] = round32(B.u32[i]!, mode, noPe, daz);
      }
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

const P = new Uint32Array(4);

/** DPPS on one lane (A, B) into R: the SDM pseudo-code's products and sums, each rounded. */
function dppsLane(imm: number): void {
  for (let i = 0; i < 4; i++) {
    if ((imm >>> (4 + i)) & 1) lane32(FOp.Mul, i);
    else R.u32[i] = 0;
  }
  for (let i = 0; i < 4; i++) P[i] = R.u32[i]!;
  A.u32[0] = P[0]!;
  B.u32[0] = P[1]!;
  A.u32[1] = P[2]!;
  B.u32[1] = P[3]!;
  lane32(FOp.Add, 0);
  lane32(FOp.Add, 1);
  A.u32[0] = R.u32[0]!;
  B.u32[0] = R.u32[1]!;
  lane32(FOp.Add, 0);
  const sum = R.u32[0]!;
  for (let i = 0; i < 4; i++) R.u32[i] = (imm >>> i) & 1 ? sum : 0;
}

/** DPPD on one lane. */
function dppdLane(imm: number): void {
  for (let q = 0; q < 2; q++) {
    if ((imm >>> (4 + q)) & 1) lane64(FOp.Mul, q);
    else {
      R.u32[2 * q] = 0;
      R.u32[2 * q + 1] = 0;
    }
  }
  A.u32[0] = R.u32[0]!;
  A.u32[1] = R.u32[1]!;
  B.u32[0] = R.u32[2]!;
  B.u32[1] = R.u32[3]!;
  lane64(FOp.Add, 0);
  const lo = R.u32[0]!;
  const hi = R.u32[1]!;
  for (let q = 0; q < 2; q++) {
    const on = (imm >>> q) & 1;
    R.u32[2 * q] = on ? lo : 0;
    R.u32[2 * q + 1] = on ? hi : 0;
  }
}

function dp(double: boolean, l256: boolean): Handler {
  const halves = l256 ? 2 : 1;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op2Kind, l256 ? 32 : 16);
    const imm = ins.immediate & 0xff;
    fpBegin(sse.mxcsr);
    for (let h = 0; h < halves; h++) {
      loadLaneA(sse, vreg(ins.op1Register), h);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, h);
      if (double) dppdLane(imm);
      else dppsLane(imm);
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

// ------------------------------------------------------------------ registration

const FP_OPS: readonly (readonly [string, number])[] = [
  ['Add', FOp.Add],
  ['Sub', FOp.Sub],
  ['Mul', FOp.Mul],
  ['Div', FOp.Div],
  ['Min', FOp.Min],
  ['Max', FOp.Max],
];

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(`VEX_V${name}`, h);
  const both = (stem: string, make: (l256: boolean) => Handler, tail128: string, tail256: string): void => {
    add(`${stem}_${tail128}`, make(false));
    add(`${stem}_${tail256}`, make(true));
  };
  for (const [name, op] of FP_OPS) {
    both(
      `${name.toLowerCase()}ps`,
      (l) => fpArith(op, false, false, l, false),
      'xmm_xmm_xmmm128',
      'ymm_ymm_ymmm256',
    );
    both(
      `${name.toLowerCase()}pd`,
      (l) => fpArith(op, true, false, l, false),
      'xmm_xmm_xmmm128',
      'ymm_ymm_ymmm256',
    );
    add(`${name.toLowerCase()}ss_xmm_xmm_xmmm32`, fpArith(op, false, true, false, false));
    add(`${name.toLowerCase()}sd_xmm_xmm_xmmm64`, fpArith(op, true, true, false, false));
  }
  both('sqrtps', (l) => fpArith(FOp.Sqrt, false, false, l, true), 'xmm_xmmm128', 'ymm_ymmm256');
  both('sqrtpd', (l) => fpArith(FOp.Sqrt, true, false, l, true), 'xmm_xmmm128', 'ymm_ymmm256');
  add('sqrtss_xmm_xmm_xmmm32', fpArith(FOp.Sqrt, false, true, false, false));
  add('sqrtsd_xmm_xmm_xmmm64', fpArith(FOp.Sqrt, true, true, false, false));
  both('rcpps', (l) => rcp(false, false, l), 'xmm_xmmm128', 'ymm_ymmm256');
  both('rsqrtps', (l) => rcp(true, false, l), 'xmm_xmmm128', 'ymm_ymmm256');
  add('rcpss_xmm_xmm_xmmm32', rcp(false, true, false));
  add('rsqrtss_xmm_xmm_xmmm32', rcp(true, true, false));
  for (const [n, op] of [
    ['and', INT_OPS.Pand!],
    ['andn', INT_OPS.Pandn!],
    ['or', INT_OPS.Por!],
    ['xor', INT_OPS.Pxor!],
    ['unpckl', INT_OPS.Punpckldq!],
    ['unpckh', INT_OPS.Punpckhdq!],
  ] as const) {
    both(`${n}ps`, (l) => intLanes(op, l), 'xmm_xmm_xmmm128', 'ymm_ymm_ymmm256');
  }
  for (const [n, op] of [
    ['and', INT_OPS.Pand!],
    ['andn', INT_OPS.Pandn!],
    ['or', INT_OPS.Por!],
    ['xor', INT_OPS.Pxor!],
    ['unpckl', INT_OPS.Punpcklqdq!],
    ['unpckh', INT_OPS.Punpckhqdq!],
  ] as const) {
    both(`${n}pd`, (l) => intLanes(op, l), 'xmm_xmm_xmmm128', 'ymm_ymm_ymmm256');
  }
  for (const [n, f] of [
    ['addsub', Form.AddSub],
    ['hadd', Form.HAdd],
    ['hsub', Form.HSub],
  ] as const) {
    both(`${n}ps`, (l) => horizontal(f, false, l), 'xmm_xmm_xmmm128', 'ymm_ymm_ymmm256');
    both(`${n}pd`, (l) => horizontal(f, true, l), 'xmm_xmm_xmmm128', 'ymm_ymm_ymmm256');
  }
  both('cmpps', (l) => fpCompare(false, false, l), 'xmm_xmm_xmmm128_imm8', 'ymm_ymm_ymmm256_imm8');
  both('cmppd', (l) => fpCompare(true, false, l), 'xmm_xmm_xmmm128_imm8', 'ymm_ymm_ymmm256_imm8');
  add('cmpss_xmm_xmm_xmmm32_imm8', fpCompare(false, true, false));
  add('cmpsd_xmm_xmm_xmmm64_imm8', fpCompare(true, true, false));
  add('comiss_xmm_xmmm32', comis(false, false));
  add('ucomiss_xmm_xmmm32', comis(false, true));
  add('comisd_xmm_xmmm64', comis(true, false));
  add('ucomisd_xmm_xmmm64', comis(true, true));
  // Conversions.
  const cvts: readonly (readonly [string, number])[] = [
    ['cvtps2pd_xmm_xmmm64', Cvt.Ps2Pd],
    ['cvtps2pd_ymm_xmmm128', Cvt.Ps2Pd],
    ['cvtpd2ps_xmm_xmmm128', Cvt.Pd2Ps],
    ['cvtpd2ps_xmm_ymmm256', Cvt.Pd2Ps],
    ['cvtdq2ps_xmm_xmmm128', Cvt.Dq2Ps],
    ['cvtdq2ps_ymm_ymmm256', Cvt.Dq2Ps],
    ['cvtps2dq_xmm_xmmm128', Cvt.Ps2Dq],
    ['cvtps2dq_ymm_ymmm256', Cvt.Ps2Dq],
    ['cvttps2dq_xmm_xmmm128', Cvt.Ttps2Dq],
    ['cvttps2dq_ymm_ymmm256', Cvt.Ttps2Dq],
    ['cvtdq2pd_xmm_xmmm64', Cvt.Dq2Pd],
    ['cvtdq2pd_ymm_xmmm128', Cvt.Dq2Pd],
    ['cvtpd2dq_xmm_xmmm128', Cvt.Pd2Dq],
    ['cvtpd2dq_xmm_ymmm256', Cvt.Pd2Dq],
    ['cvttpd2dq_xmm_xmmm128', Cvt.Ttpd2Dq],
    ['cvttpd2dq_xmm_ymmm256', Cvt.Ttpd2Dq],
  ];
  for (const [name, k] of cvts) add(name, packedCvt(k, l256Of(name)));
  add('cvtss2sd_xmm_xmm_xmmm32', scalarCvt(true));
  add('cvtsd2ss_xmm_xmm_xmmm64', scalarCvt(false));
  add('cvtsi2ss_xmm_xmm_rm32', cvtsi2(false, false));
  add('cvtsi2ss_xmm_xmm_rm64', cvtsi2(false, true));
  add('cvtsi2sd_xmm_xmm_rm32', cvtsi2(true, false));
  add('cvtsi2sd_xmm_xmm_rm64', cvtsi2(true, true));
  for (const w of [32, 64]) {
    add(`cvtss2si_r${w}_xmmm32`, cvt2si(false, false, w === 64));
    add(`cvttss2si_r${w}_xmmm32`, cvt2si(false, true, w === 64));
    add(`cvtsd2si_r${w}_xmmm64`, cvt2si(true, false, w === 64));
    add(`cvttsd2si_r${w}_xmmm64`, cvt2si(true, true, w === 64));
  }
  both('roundps', (l) => round(false, false, l), 'xmm_xmmm128_imm8', 'ymm_ymmm256_imm8');
  both('roundpd', (l) => round(true, false, l), 'xmm_xmmm128_imm8', 'ymm_ymmm256_imm8');
  add('roundss_xmm_xmm_xmmm32_imm8', round(false, true, false));
  add('roundsd_xmm_xmm_xmmm64_imm8', round(true, true, false));
  both('dpps', (l) => dp(false, l), 'xmm_xmm_xmmm128_imm8', 'ymm_ymm_ymmm256_imm8');
  add('dppd_xmm_xmm_xmmm128_imm8', dp(true, false));
  return list.entries;
}

/** The AVX float arithmetic above and the data movement of `avx-move.ts`. */
export const AVX_HANDLERS: readonly [number, Handler][] = [...entries(), ...AVX_MOVE_HANDLERS];
