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
import { read32, read64 } from '../memory-access.js';
import { getReg32, getReg64, locate, setReg32, setReg64 } from '../operands.js';
import {
  FOp,
  f32ToBits,
  fpBegin,
  in32,
  in64,
  int64Hi,
  int64ToFloat,
  intToF32,
  isNaN32,
  isNaN64,
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
import {
  cmpLane,
  comisFlags,
  FP_BINARY_OPS,
  signalsOnQnan,
  estimate,
  f32toInt,
  f32to64,
  f64to32,
  f64toInt,
} from './sse.js';
import { pairsPd, pairsPs } from './sse3.js';
import { dppdLane, dppsLane } from './sse41.js';
import { copyAtoR, fpEnd, lane32, lane64 } from './sse-core.js';
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
      for (let i = 0; i < lanes; i++) cmpLane(p, sig, double, i);
      stageLane(h);
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** VCOMISS/VUCOMISS/VCOMISD/VUCOMISD xmm, xmm/m32|m64: ZF, PF, CF; OF, SF, AF cleared. */
function comis(double: boolean, quiet: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readIfMem(cpu, ins, ins.op1Kind, double ? 8 : 4);
    loadLaneA(sse, vreg(ins.op0Register), 0);
    loadLaneB(sse, ins.op1Kind, ins.op1Register, 0);
    comisFlags(cpu, sse, double, quiet);
  };
}

// ------------------------------------------------------------------ conversions

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
        for (let q = 0; q < (l256 ? 4 : 2); q++) f32to64(S[q]!, q, Y);
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
    if (toDouble) f32to64(B.u32[0]!, 0, Y);
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

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(`VEX_V${name}`, h);
  const both = (stem: string, make: (l256: boolean) => Handler, tail128: string, tail256: string): void => {
    add(`${stem}_${tail128}`, make(false));
    add(`${stem}_${tail256}`, make(true));
  };
  for (const [name, op] of FP_BINARY_OPS) {
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
