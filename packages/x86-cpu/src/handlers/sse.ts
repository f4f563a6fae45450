/**
 * SSE and SSE2 instructions (16/32-bit modes): the interpreter side. State is `cpu.fpu.sse` (XMM file
 * and MXCSR, `../sse/state.ts`); operations live in `../sse/`. Entry checks (`sse-core.ts`) follow
 * SDM Vol. 3 §13.1 and the exception-class tables of SDM Vol. 2A chapter 2: CR0.EM=1 or CR4.OSFXSR=0 -> #UD, CR0.TS=1 -> #NM; a
 * misaligned m128 of the aligned forms -> #GP(0). An unmasked SIMD floating-point exception leaves
 * the destination unchanged and raises #XM, or #UD when CR4.OSXMMEXCPT=0 (SDM Vol. 1 §11.5.4).
 *
 * Every instruction copies its operands into the scratch lanes A/B, computes R, and only then writes
 * the destination, so faults never leave half-written state.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, setArith } from '../flags.js';
import { isCanonical, probeWrite, read16, read32, segmentFault, write32, write8 } from '../memory-access.js';
import { getReg, joinSigned, locate, setReg, writeOp0 } from '../operands.js';
import {
  bitsToF32,
  F32_INDEFINITE,
  FOp,
  f32ToBits,
  fpBegin,
  fpRaise,
  in32,
  in64,
  intToF32,
  isNaN32,
  isNaN64,
  isSNaN32,
  isSNaN64,
  toF32,
  toInt32,
} from '../sse/float.js';
import { byteMask, byteShift, INT_OPS, type IntOp, SHIFT_IMM_OPS, shuffle } from '../sse/integer.js';
import { A, B, type Lanes, R } from '../sse/lanes.js';
import { MXCSR, MXCSR_WRITABLE, type SseState } from '../sse/state.js';
import { mmxEnter, mmxReadHi, mmxReadLo, mmxWrite } from '../x87/index.js';
import { GPR_HI, Seg } from '../registers.js';
import { HandlerList } from './table.js';
import { SSE3_HANDLERS } from './sse3.js';
import { SSE64_HANDLERS } from './sse64.js';
import { SSSE3_HANDLERS } from './ssse3.js';
import {
  copyAtoR,
  intMm,
  intXmm,
  enter,
  enterMixed,
  enterMmx,
  fpEnd,
  isXmm,
  lane32,
  lane64,
  loadA,
  loadB,
  loadMmB,
  mm,
  offsetPlus,
  readMemB,
  storeR,
  writeMem,
  xmm,
} from './sse-core.js';

// ------------------------------------------------------------------ data movement

/** MOVAPS/MOVUPS/MOVDQA/... xmm, xmm/m128 (`bytes` 16) and the scalar loads MOVSS/MOVSD (4/8). */
function movLoad(bytes: number, aligned: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    if (ins.op1Kind === OpKind.Register && bytes < 16) {
      // Register-to-register MOVSS/MOVSD/MOVQ-style merge: only the low element moves.
      loadA(sse, d);
      loadB(cpu, ins, sse, 16, false);
      copyAtoR();
      for (let i = 0; i < bytes / 4; i++) R.u32[i] = B.u32[i]!;
      storeR(sse, d);
      return;
    }
    loadB(cpu, ins, sse, bytes, aligned);
    for (let i = 0; i < 4; i++) R.u32[i] = B.u32[i]!;
    storeR(sse, d);
  };
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, upper zeroed even from a register. */
const movqLoad: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 8, false);
  R.u32[0] = B.u32[0]!;
  R.u32[1] = B.u32[1]!;
  R.u32[2] = 0;
  R.u32[3] = 0;
  storeR(sse, xmm(ins.op0Register));
};

/** Stores xmm to xmm/m (MOVAPS m128, xmm...; MOVSS m32, xmm; MOVQ xmm/m64, xmm zeroes the upper half). */
function movStore(bytes: number, aligned: boolean, zeroUpper = false): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const s = xmm(ins.op1Register) * 4;
    for (let i = 0; i < 4; i++) B.u32[i] = sse.u32[s + i]!;
    if (ins.op0Kind === OpKind.Register) {
      const d = xmm(ins.op0Register);
      loadA(sse, d);
      copyAtoR();
      for (let i = 0; i < 4; i++) R.u32[i] = i * 4 < bytes ? B.u32[i]! : zeroUpper ? 0 : R.u32[i]!;
      storeR(sse, d);
      return;
    }
    writeMem(cpu, ins, B.u32, bytes, aligned);
  };
}

/** MOVLPS/MOVHPS/MOVLPD/MOVHPD xmm, m64: one half loaded, the other kept. */
function movHalfLoad(high: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    readMemB(cpu, ins, 8, false);
    const o = d * 4 + (high ? 2 : 0);
    sse.u32[o] = B.u32[0]!;
    sse.u32[o + 1] = B.u32[1]!;
  };
}

function movHalfStore(high: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const s = xmm(ins.op1Register) * 4 + (high ? 2 : 0);
    B.u32[0] = sse.u32[s]!;
    B.u32[1] = sse.u32[s + 1]!;
    writeMem(cpu, ins, B.u32, 8, false);
  };
}

/** MOVHLPS (high quadword of src to low of dst) and MOVLHPS (low of src to high of dst). */
function movHalfReg(toHigh: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const s = xmm(ins.op1Register) * 4 + (toHigh ? 0 : 2);
    const d = xmm(ins.op0Register) * 4 + (toHigh ? 2 : 0);
    const lo = sse.u32[s]!;
    const hi = sse.u32[s + 1]!;
    sse.u32[d] = lo;
    sse.u32[d + 1] = hi;
  };
}

const movdToXmm: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  let v: number;
  if (ins.op1Kind === OpKind.Register) v = getReg(cpu, ins.op1Register, 32);
  else {
    locate(cpu, ins);
    v = read32(cpu, cpu.eaSeg, cpu.eaOff);
  }
  const o = xmm(ins.op0Register) * 4;
  sse.u32[o] = v;
  sse.u32[o + 1] = 0;
  sse.u32[o + 2] = 0;
  sse.u32[o + 3] = 0;
};

const movdFromXmm: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const v = sse.u32[xmm(ins.op1Register) * 4]!;
  writeOp0(cpu, ins, 32, v, false);
};

const movq2dq: Handler = (cpu, ins) => {
  const sse = enterMixed(cpu);
  const s = mm(ins.op1Register);
  const o = xmm(ins.op0Register) * 4;
  sse.u32[o] = mmxReadLo(cpu.fpu, s);
  sse.u32[o + 1] = mmxReadHi(cpu.fpu, s);
  sse.u32[o + 2] = 0;
  sse.u32[o + 3] = 0;
};

const movdq2q: Handler = (cpu, ins) => {
  const sse = enterMixed(cpu);
  const o = xmm(ins.op1Register) * 4;
  mmxWrite(cpu.fpu, mm(ins.op0Register), sse.u32[o]!, sse.u32[o + 1]!);
};

/** MOVMSKPS / MOVMSKPD: sign bits into a general register. */
function movmsk(double: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const o = xmm(ins.op1Register) * 4;
    const x = sse.u32;
    const m = double
      ? (x[o + 1]! >>> 31) | ((x[o + 3]! >>> 31) << 1)
      : (x[o]! >>> 31) | ((x[o + 1]! >>> 31) << 1) | ((x[o + 2]! >>> 31) << 2) | ((x[o + 3]! >>> 31) << 3);
    setReg(cpu, ins.op0Register, 32, m);
  };
}

const pmovmskbXmm: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 16, false);
  setReg(cpu, ins.op0Register, 32, byteMask(16));
};

const pmovmskbMm: Handler = (cpu, ins) => {
  const fpu = enterMmx(cpu);
  loadMmB(cpu, ins, fpu);
  setReg(cpu, ins.op0Register, 32, byteMask(8));
};

/**
 * The store of MASKMOVQ/MASKMOVDQU/VMASKMOVDQU: the first `bytes` bytes of A whose mask byte in B has
 * bit 7 set go to DS:[E/R]DI (segment overridable); every selected byte is probed before any is written.
 */
export function maskMovStore(cpu: Cpu, ins: Instruction, bytes: number): void {
  // DS:[E]DI (segment overridable), not a ModRM operand.
  const seg =
    ins.memSegment >= Register.ES && ins.memSegment <= Register.GS ? ins.memSegment - Register.ES : Seg.DS;
  // The address: DI, EDI, or RDI (canonical or #GP(0)/#SS(0), as a ModRM operand would be).
  const as = ins.addressSize;
  cpu.eaSeg = seg;
  if (as === 64) {
    const a = joinSigned(cpu.regs.u32[7]!, cpu.regs.u32[7 + GPR_HI]!);
    if (!isCanonical(a)) segmentFault(seg);
    cpu.eaOff = a;
  } else cpu.eaOff = as === 32 ? cpu.regs.u32[7]! : cpu.regs.r16[14]!;
  for (let i = 0; i < bytes; i++) {
    if (B.u8[i]! & 0x80) probeWrite(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, i), 1);
  }
  for (let i = 0; i < bytes; i++) {
    if (B.u8[i]! & 0x80) write8(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, i), A.u8[i]!);
  }
}

/** MASKMOVDQU / MASKMOVQ: bytes of op1 whose mask byte (op2) has bit 7 set go to DS:[E]DI. */
function maskmov(bytes: number): Handler {
  return (cpu, ins) => {
    if (bytes === 16) {
      const sse = enter(cpu);
      const s = xmm(ins.op1Register) * 4;
      const m = xmm(ins.op2Register) * 4;
      for (let i = 0; i < 4; i++) {
        A.u32[i] = sse.u32[s + i]!;
        B.u32[i] = sse.u32[m + i]!;
      }
    } else {
      const fpu = enterMmx(cpu);
      A.u32[0] = mmxReadLo(fpu, mm(ins.op1Register));
      A.u32[1] = mmxReadHi(fpu, mm(ins.op1Register));
      B.u32[0] = mmxReadLo(fpu, mm(ins.op2Register));
      B.u32[1] = mmxReadHi(fpu, mm(ins.op2Register));
    }
    maskMovStore(cpu, ins, bytes);
  };
}

const movntiStore: Handler = (cpu, ins) => {
  locate(cpu, ins);
  write32(cpu, cpu.eaSeg, cpu.eaOff, getReg(cpu, ins.op1Register, 32));
};

const movntq: Handler = (cpu, ins) => {
  const fpu = enterMmx(cpu);
  B.u32[0] = mmxReadLo(fpu, mm(ins.op1Register));
  B.u32[1] = mmxReadHi(fpu, mm(ins.op1Register));
  writeMem(cpu, ins, B.u32, 8, false);
};

// ------------------------------------------------------------------ MXCSR

const ldmxcsr: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  locate(cpu, ins);
  const v = read32(cpu, cpu.eaSeg, cpu.eaOff);
  if (v & ~MXCSR_WRITABLE) raise(Vector.GP, 0);
  sse.mxcsr = v;
};

const stmxcsr: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  locate(cpu, ins);
  write32(cpu, cpu.eaSeg, cpu.eaOff, sse.mxcsr);
};

// ------------------------------------------------------------------ integer

/** PSLLW xmm, imm8 etc.: the count in B. */
function shiftImmXmm(op: IntOp): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    B.u32[0] = ins.immediate & 0xff;
    B.u32[1] = 0;
    loadA(sse, d);
    op(16);
    storeR(sse, d);
  };
}

function byteShiftXmm(left: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadA(sse, d);
    byteShift(Math.min(ins.immediate & 0xff, 16), left);
    storeR(sse, d);
  };
}

function pshufXmm(kind: 'd' | 'lw' | 'hw'): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadB(cpu, ins, sse, 16, true);
    shuffle(kind, ins.immediate & 0xff);
    storeR(sse, xmm(ins.op0Register));
  };
}

const pshufw: Handler = (cpu, ins) => {
  const fpu = enterMmx(cpu);
  loadMmB(cpu, ins, fpu);
  shuffle('w', ins.immediate & 0xff);
  mmxWrite(fpu, mm(ins.op0Register), R.u32[0]!, R.u32[1]!);
};

function pextrw(onXmm: boolean): Handler {
  return (cpu, ins) => {
    let v: number;
    if (onXmm) {
      const sse = enter(cpu);
      v = sse.u16[xmm(ins.op1Register) * 8 + (ins.immediate & 7)]!;
    } else {
      const fpu = enterMmx(cpu);
      const r = mm(ins.op1Register);
      const sel = ins.immediate & 3;
      const w = sel < 2 ? mmxReadLo(fpu, r) : mmxReadHi(fpu, r);
      v = sel & 1 ? w >>> 16 : w & 0xffff;
    }
    setReg(cpu, ins.op0Register, 32, v);
  };
}

function pinsrw(onXmm: boolean): Handler {
  return (cpu, ins) => {
    const sse = onXmm ? enter(cpu) : undefined;
    const fpu = onXmm ? cpu.fpu : enterMmx(cpu);
    let v: number;
    if (ins.op1Kind === OpKind.Register) v = getReg(cpu, ins.op1Register, 32) & 0xffff;
    else {
      locate(cpu, ins);
      v = read16(cpu, cpu.eaSeg, cpu.eaOff);
    }
    if (sse !== undefined) {
      sse.u16[xmm(ins.op0Register) * 8 + (ins.immediate & 7)] = v;
      return;
    }
    const d = mm(ins.op0Register);
    A.u32[0] = mmxReadLo(fpu, d);
    A.u32[1] = mmxReadHi(fpu, d);
    A.u16[ins.immediate & 3] = v;
    mmxWrite(fpu, d, A.u32[0]!, A.u32[1]!);
  };
}

// ------------------------------------------------------------------ logic on floats (bitwise)

function logic(kind: 'and' | 'andn' | 'or' | 'xor'): Handler {
  return intXmm(
    kind === 'and'
      ? INT_OPS.Pand!
      : kind === 'andn'
        ? INT_OPS.Pandn!
        : kind === 'or'
          ? INT_OPS.Por!
          : INT_OPS.Pxor!,
  );
}

// ------------------------------------------------------------------ float arithmetic

/** ADDPS/ADDSS/ADDPD/ADDSD and the other arithmetic forms. */
function fpArith(op: number, double: boolean, scalar: boolean): Handler {
  const lanes = scalar ? 1 : double ? 2 : 4;
  const bytes = scalar ? (double ? 8 : 4) : 16;
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, bytes, !scalar);
    loadA(sse, d);
    copyAtoR();
    fpBegin(sse.mxcsr);
    for (let i = 0; i < lanes; i++) {
      if (double) lane64(op, i);
      else lane32(op, i);
    }
    fpEnd(cpu, sse);
    storeR(sse, d);
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

/**
 * Element i (binary64 when `double`) of A compared with B under predicate `p` (0-31) into R: all ones
 * when it holds, else zero. IE on an SNaN operand, or on a QNaN when `sig` (= signalsOnQnan(p)).
 */
export function cmpLane(p: number, sig: boolean, double: boolean, i: number): void {
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

function fpCompare(double: boolean, scalar: boolean): Handler {
  const lanes = scalar ? 1 : double ? 2 : 4;
  const bytes = scalar ? (double ? 8 : 4) : 16;
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, bytes, !scalar);
    loadA(sse, d);
    copyAtoR();
    fpBegin(sse.mxcsr);
    const p = ins.immediate & 7;
    const sig = signalsOnQnan(p);
    for (let i = 0; i < lanes; i++) cmpLane(p, sig, double, i);
    fpEnd(cpu, sse);
    storeR(sse, d);
  };
}

/**
 * The compare of (V)(U)COMISS/SD on element 0 of A and B: ZF, PF, CF (all three when unordered); OF,
 * SF, AF cleared. IE on an SNaN, or on any NaN unless `quiet`; an unmasked IE faults before the flags change.
 */
export function comisFlags(cpu: Cpu, sse: SseState, double: boolean, quiet: boolean): void {
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
}

/** COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF from the compare; OF, SF, AF cleared. */
function comis(double: boolean, quiet: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadB(cpu, ins, sse, double ? 8 : 4, false);
    loadA(sse, xmm(ins.op0Register));
    comisFlags(cpu, sse, double, quiet);
  };
}

const COMI_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

// ------------------------------------------------------------------ shuffles and unpacks

const shufps: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const d = xmm(ins.op0Register);
  loadB(cpu, ins, sse, 16, true);
  loadA(sse, d);
  const imm = ins.immediate & 0xff;
  R.u32[0] = A.u32[imm & 3]!;
  R.u32[1] = A.u32[(imm >>> 2) & 3]!;
  R.u32[2] = B.u32[(imm >>> 4) & 3]!;
  R.u32[3] = B.u32[(imm >>> 6) & 3]!;
  storeR(sse, d);
};

const shufpd: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const d = xmm(ins.op0Register);
  loadB(cpu, ins, sse, 16, true);
  loadA(sse, d);
  const imm = ins.immediate & 0xff;
  const s0 = (imm & 1) * 2;
  const s1 = ((imm >>> 1) & 1) * 2;
  R.u32[0] = A.u32[s0]!;
  R.u32[1] = A.u32[s0 + 1]!;
  R.u32[2] = B.u32[s1]!;
  R.u32[3] = B.u32[s1 + 1]!;
  storeR(sse, d);
};

// ------------------------------------------------------------------ conversions

/** binary32 bits -> binary64 (exact; SNaN quieted with IE; payload kept). Writes dst.f64[q] (R or the VEX Y). */
export function f32to64(bits: number, q: number, dst: Lanes): void {
  if (isNaN32(bits)) {
    if (isSNaN32(bits)) fpRaise(MXCSR.IE);
    dst.u32[2 * q] = (bits & 0x7) << 29;
    dst.u32[2 * q + 1] = (bits & 0x80000000) | 0x7ff80000 | ((bits & 0x3fffff) >>> 3);
    return;
  }
  dst.f64[q] = in32(bits);
}

/** binary64 (hi:lo) -> binary32 bits under MXCSR. */
export function f64to32(hi: number, lo: number): number {
  if (isNaN64(hi, lo)) {
    if (isSNaN64(hi, lo)) fpRaise(MXCSR.IE);
    return ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29)) >>> 0;
  }
  return f32ToBits(toF32(in64(hi, lo)));
}

/** Float element -> int32 (NaN -> indefinite with IE). */
export function f32toInt(bits: number, truncate: boolean): number {
  return toInt32(isNaN32(bits) ? Number.NaN : in32(bits), truncate);
}
export function f64toInt(hi: number, lo: number, truncate: boolean): number {
  return toInt32(isNaN64(hi, lo) ? Number.NaN : in64(hi, lo), truncate);
}

type Conv = (cpu: Cpu, ins: Instruction) => void;

/** Wraps a conversion: MXCSR flags, fault, then `commit` writes the destination. */
function conv(
  kind: 'xmm' | 'mixed',
  bytes: number,
  aligned: boolean,
  compute: Compute,
  commit: Conv,
): Handler {
  return (cpu, ins) => {
    const sse = kind === 'mixed' ? enterMixed(cpu) : enter(cpu);
    if (bytes > 0) loadB(cpu, ins, sse, bytes, aligned);
    const d = isXmm(ins.op0Register) ? xmm(ins.op0Register) : -1;
    if (d >= 0) loadA(sse, d);
    else A.u32.fill(0);
    copyAtoR();
    fpBegin(sse.mxcsr);
    compute(cpu, ins);
    fpEnd(cpu, sse);
    commit(cpu, ins);
  };
}

const toXmm: Conv = (cpu, ins) => storeR(cpu.fpu.sse, xmm(ins.op0Register));
const toMm: Conv = (cpu, ins) => mmxWrite(cpu.fpu, mm(ins.op0Register), R.u32[0]!, R.u32[1]!);
const toGpr: Conv = (cpu, ins) => setReg(cpu, ins.op0Register, 32, R.u32[0]!);

/** Integer source of CVTSI2SS/SD (r/m32) into B.i32[0]. */
function intSource(cpu: Cpu, ins: Instruction): void {
  if (ins.op1Kind === OpKind.Register) B.u32[0] = getReg(cpu, ins.op1Register, 32);
  else {
    locate(cpu, ins);
    B.u32[0] = read32(cpu, cpu.eaSeg, cpu.eaOff);
  }
}

/**
 * MMX or m64 source of CVTPI2PS/PD into B. The register forms enter the MMX state; CVTPI2PS does so
 * with a memory operand too (SDM: CVTPI2PS vs CVTPI2PD).
 */
function mmSource(cpu: Cpu, ins: Instruction, alwaysEnter: boolean): void {
  loadMmB(cpu, ins, cpu.fpu);
  if (alwaysEnter) mmxEnter(cpu.fpu);
}

type Compute = (cpu: Cpu, ins: Instruction) => void;

const cvtsi2ss: Compute = (cpu, ins) => {
  intSource(cpu, ins);
  R.u32[0] = f32ToBits(intToF32(B.i32[0]!));
};
const cvtsi2sd: Compute = (cpu, ins) => {
  intSource(cpu, ins);
  R.f64[0] = B.i32[0]!;
};
const cvtpi2ps: Compute = (cpu, ins) => {
  mmSource(cpu, ins, true);
  R.u32[0] = f32ToBits(intToF32(B.i32[0]!));
  R.u32[1] = f32ToBits(intToF32(B.i32[1]!));
};
const cvtpi2pd: Compute = (cpu, ins) => {
  mmSource(cpu, ins, false);
  const lo = B.i32[0]!;
  const hi = B.i32[1]!;
  R.f64[0] = lo;
  R.f64[1] = hi;
};
const cvtps2pd: Compute = () => {
  const lo = B.u32[0]!;
  const hi = B.u32[1]!;
  f32to64(lo, 0, R);
  f32to64(hi, 1, R);
};
const cvtss2sd: Compute = () => f32to64(B.u32[0]!, 0, R);
const cvtpd2ps: Compute = () => {
  R.u32[0] = f64to32(B.u32[1]!, B.u32[0]!);
  R.u32[1] = f64to32(B.u32[3]!, B.u32[2]!);
  R.u32[2] = 0;
  R.u32[3] = 0;
};
const cvtsd2ss: Compute = () => {
  R.u32[0] = f64to32(B.u32[1]!, B.u32[0]!);
};
const cvtdq2ps: Compute = () => {
  for (let i = 0; i < 4; i++) R.u32[i] = f32ToBits(intToF32(B.i32[i]!));
};
const cvtdq2pd: Compute = () => {
  const lo = B.i32[0]!;
  const hi = B.i32[1]!;
  R.f64[0] = lo;
  R.f64[1] = hi;
};

/** Float -> int32 conversions; `t` selects truncation (CVTT*) over MXCSR.RC. */
const ss2si =
  (t: boolean): Compute =>
  () => {
    R.u32[0] = f32toInt(B.u32[0]!, t);
  };
const sd2si =
  (t: boolean): Compute =>
  () => {
    R.u32[0] = f64toInt(B.u32[1]!, B.u32[0]!, t);
  };
const ps2pi =
  (t: boolean): Compute =>
  () => {
    R.u32[0] = f32toInt(B.u32[0]!, t);
    R.u32[1] = f32toInt(B.u32[1]!, t);
  };
const pd2pi =
  (t: boolean): Compute =>
  () => {
    R.u32[0] = f64toInt(B.u32[1]!, B.u32[0]!, t);
    R.u32[1] = f64toInt(B.u32[3]!, B.u32[2]!, t);
  };
const ps2dq =
  (t: boolean): Compute =>
  () => {
    for (let i = 0; i < 4; i++) R.u32[i] = f32toInt(B.u32[i]!, t);
  };
const pd2dq =
  (t: boolean): Compute =>
  () => {
    R.u32[0] = f64toInt(B.u32[1]!, B.u32[0]!, t);
    R.u32[1] = f64toInt(B.u32[3]!, B.u32[2]!, t);
    R.u32[2] = 0;
    R.u32[3] = 0;
  };

/** [Code name, entry kind, source bytes read by the wrapper (0: the compute reads), aligned, compute, commit]. */
type ConvRow = readonly [string, 'xmm' | 'mixed', number, boolean, Compute, Conv];

// biome-ignore format: one conversion per row
const CONVERSIONS: readonly ConvRow[] = [
  ['Cvtsi2ss_xmm_rm32', 'xmm', 0, false, cvtsi2ss, toXmm],
  ['Cvtsi2sd_xmm_rm32', 'xmm', 0, false, cvtsi2sd, toXmm],
  ['Cvtpi2ps_xmm_mmm64', 'mixed', 0, false, cvtpi2ps, toXmm],
  ['Cvtpi2pd_xmm_mmm64', 'mixed', 0, false, cvtpi2pd, toXmm],
  ['Cvtps2pd_xmm_xmmm64', 'xmm', 8, false, cvtps2pd, toXmm],
  ['Cvtss2sd_xmm_xmmm32', 'xmm', 4, false, cvtss2sd, toXmm],
  ['Cvtpd2ps_xmm_xmmm128', 'xmm', 16, true, cvtpd2ps, toXmm],
  ['Cvtsd2ss_xmm_xmmm64', 'xmm', 8, false, cvtsd2ss, toXmm],
  ['Cvtdq2ps_xmm_xmmm128', 'xmm', 16, true, cvtdq2ps, toXmm],
  ['Cvtdq2pd_xmm_xmmm64', 'xmm', 8, false, cvtdq2pd, toXmm],
  ['Cvtss2si_r32_xmmm32', 'xmm', 4, false, ss2si(false), toGpr],
  ['Cvttss2si_r32_xmmm32', 'xmm', 4, false, ss2si(true), toGpr],
  ['Cvtsd2si_r32_xmmm64', 'xmm', 8, false, sd2si(false), toGpr],
  ['Cvttsd2si_r32_xmmm64', 'xmm', 8, false, sd2si(true), toGpr],
  ['Cvtps2pi_mm_xmmm64', 'mixed', 8, false, ps2pi(false), toMm],
  ['Cvttps2pi_mm_xmmm64', 'mixed', 8, false, ps2pi(true), toMm],
  ['Cvtpd2pi_mm_xmmm128', 'mixed', 16, true, pd2pi(false), toMm],
  ['Cvttpd2pi_mm_xmmm128', 'mixed', 16, true, pd2pi(true), toMm],
  ['Cvtps2dq_xmm_xmmm128', 'xmm', 16, true, ps2dq(false), toXmm],
  ['Cvttps2dq_xmm_xmmm128', 'xmm', 16, true, ps2dq(true), toXmm],
  ['Cvtpd2dq_xmm_xmmm128', 'xmm', 16, true, pd2dq(false), toXmm],
  ['Cvttpd2dq_xmm_xmmm128', 'xmm', 16, true, pd2dq(true), toXmm],
];

// ------------------------------------------------------------------ reciprocal estimates

/**
 * RCPPS/RCPSS/RSQRTPS/RSQRTSS. This CPU returns the correctly rounded binary32 value of 1/x or
 * 1/sqrt(x) (relative error <= 2^-24, inside the SDM's |error| <= 1.5 * 2^-12). As on hardware,
 * denormal inputs count as zero, tiny results flush to signed zero, and no MXCSR flag is raised.
 */
export function estimate(bits: number, rsqrt: boolean): number {
  if (isNaN32(bits)) return (bits | 0x400000) >>> 0;
  const neg = (bits & 0x80000000) !== 0;
  const zero = (bits & 0x7f800000) === 0;
  if (zero) return neg ? 0xff800000 : 0x7f800000;
  const x = bitsToF32(bits);
  if (rsqrt) {
    if (neg) return F32_INDEFINITE;
    return f32ToBits(Math.fround(1 / Math.sqrt(x)));
  }
  const r = Math.fround(1 / x);
  if (Math.abs(r) < 2 ** -126) return neg ? 0x80000000 : 0;
  return f32ToBits(r);
}

function rcp(rsqrt: boolean, scalar: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, scalar ? 4 : 16, !scalar);
    loadA(sse, d);
    copyAtoR();
    for (let i = 0; i < (scalar ? 1 : 4); i++) R.u32[i] = estimate(B.u32[i]!, rsqrt);
    storeR(sse, d);
  };
}

// ------------------------------------------------------------------ fences, prefetch, cache

const nop: Handler = () => {};

// ------------------------------------------------------------------ registration

/** Unpack lanes for UNPCKLPS/UNPCKHPS/UNPCKLPD/UNPCKHPD: integer unpacks of the same width. */
const UNPACKS: readonly (readonly [string, IntOp])[] = [
  ['Unpcklps', INT_OPS.Punpckldq!],
  ['Unpckhps', INT_OPS.Punpckhdq!],
  ['Unpcklpd', INT_OPS.Punpcklqdq!],
  ['Unpckhpd', INT_OPS.Punpckhqdq!],
];

/** SSE/SSE2 integer forms on MMX registers that the MMX handler family does not cover. */
const MM_ADDITIONS = [
  'Pavgb',
  'Pavgw',
  'Pminub',
  'Pmaxub',
  'Pminsw',
  'Pmaxsw',
  'Pmulhuw',
  'Psadbw',
  'Pmuludq',
  'Paddq',
  'Psubq',
];

/** The two-source float operations by mnemonic stem (ADD..MAX PS/PD/SS/SD, also their VEX forms in `avx.ts`). */
export const FP_BINARY_OPS: readonly (readonly [string, number])[] = [
  ['Add', FOp.Add],
  ['Sub', FOp.Sub],
  ['Mul', FOp.Mul],
  ['Div', FOp.Div],
  ['Min', FOp.Min],
  ['Max', FOp.Max],
];

const FP_OPS: readonly (readonly [string, number])[] = [...FP_BINARY_OPS, ['Sqrt', FOp.Sqrt]];

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  // Data movement.
  add('Movaps_xmm_xmmm128', movLoad(16, true));
  add('Movapd_xmm_xmmm128', movLoad(16, true));
  add('Movdqa_xmm_xmmm128', movLoad(16, true));
  add('Movups_xmm_xmmm128', movLoad(16, false));
  add('Movupd_xmm_xmmm128', movLoad(16, false));
  add('Movdqu_xmm_xmmm128', movLoad(16, false));
  add('Movss_xmm_xmmm32', movLoad(4, false));
  add('Movsd_xmm_xmmm64', movLoad(8, false));
  add('Movq_xmm_xmmm64', movqLoad);
  add('Movaps_xmmm128_xmm', movStore(16, true));
  add('Movapd_xmmm128_xmm', movStore(16, true));
  add('Movdqa_xmmm128_xmm', movStore(16, true));
  add('Movups_xmmm128_xmm', movStore(16, false));
  add('Movupd_xmmm128_xmm', movStore(16, false));
  add('Movdqu_xmmm128_xmm', movStore(16, false));
  add('Movss_xmmm32_xmm', movStore(4, false));
  add('Movsd_xmmm64_xmm', movStore(8, false));
  add('Movq_xmmm64_xmm', movStore(8, false, true));
  add('Movntps_m128_xmm', movStore(16, true));
  add('Movntpd_m128_xmm', movStore(16, true));
  add('Movntdq_m128_xmm', movStore(16, true));
  add('Movnti_m32_r32', movntiStore);
  add('Movntq_m64_mm', movntq);
  add('Movlps_xmm_m64', movHalfLoad(false));
  add('Movhps_xmm_m64', movHalfLoad(true));
  add('Movlps_m64_xmm', movHalfStore(false));
  add('Movhps_m64_xmm', movHalfStore(true));
  add('Movlpd_xmm_m64', movHalfLoad(false));
  add('Movhpd_xmm_m64', movHalfLoad(true));
  add('Movlpd_m64_xmm', movHalfStore(false));
  add('Movhpd_m64_xmm', movHalfStore(true));
  add('Movhlps_xmm_xmm', movHalfReg(false));
  add('Movlhps_xmm_xmm', movHalfReg(true));
  add('Movd_xmm_rm32', movdToXmm);
  add('Movd_rm32_xmm', movdFromXmm);
  add('Movq2dq_xmm_mm', movq2dq);
  add('Movdq2q_mm_xmm', movdq2q);
  add('Movmskps_r32_xmm', movmsk(false));
  add('Movmskpd_r32_xmm', movmsk(true));
  add('Pmovmskb_r32_xmm', pmovmskbXmm);
  add('Pmovmskb_r32_mm', pmovmskbMm);
  add('Maskmovdqu_rDI_xmm_xmm', maskmov(16));
  add('Maskmovq_rDI_mm_mm', maskmov(8));
  add('Ldmxcsr_m32', ldmxcsr);
  add('Stmxcsr_m32', stmxcsr);
  // Logic.
  for (const [k, n] of [
    ['and', 'And'],
    ['andn', 'Andn'],
    ['or', 'Or'],
    ['xor', 'Xor'],
  ] as const) {
    add(`${n}ps_xmm_xmmm128`, logic(k));
    add(`${n}pd_xmm_xmmm128`, logic(k));
  }
  // Packed integer on XMM, and the SSE additions on MMX registers.
  for (const [name, op] of Object.entries(INT_OPS)) add(`${name}_xmm_xmmm128`, intXmm(op));
  for (const name of MM_ADDITIONS) add(`${name}_mm_mmm64`, intMm(INT_OPS[name]!));
  for (const [name, op] of SHIFT_IMM_OPS) add(`${name}_xmm_imm8`, shiftImmXmm(op));
  add('Pslldq_xmm_imm8', byteShiftXmm(true));
  add('Psrldq_xmm_imm8', byteShiftXmm(false));
  add('Pshufd_xmm_xmmm128_imm8', pshufXmm('d'));
  add('Pshuflw_xmm_xmmm128_imm8', pshufXmm('lw'));
  add('Pshufhw_xmm_xmmm128_imm8', pshufXmm('hw'));
  add('Pshufw_mm_mmm64_imm8', pshufw);
  add('Pextrw_r32_xmm_imm8', pextrw(true));
  add('Pextrw_r32_mm_imm8', pextrw(false));
  add('Pinsrw_xmm_r32m16_imm8', pinsrw(true));
  add('Pinsrw_mm_r32m16_imm8', pinsrw(false));
  // REX.W forms with a 64-bit register: the same result, zero-extended (a source's low bits read).
  add('Movmskps_r64_xmm', movmsk(false));
  add('Movmskpd_r64_xmm', movmsk(true));
  add('Pmovmskb_r64_xmm', pmovmskbXmm);
  add('Pmovmskb_r64_mm', pmovmskbMm);
  add('Pextrw_r64_xmm_imm8', pextrw(true));
  add('Pextrw_r64_mm_imm8', pextrw(false));
  add('Pinsrw_xmm_r64m16_imm8', pinsrw(true));
  add('Pinsrw_mm_r64m16_imm8', pinsrw(false));
  // Float arithmetic, compares, shuffles.
  for (const [name, op] of FP_OPS) {
    add(`${name}ps_xmm_xmmm128`, fpArith(op, false, false));
    add(`${name}pd_xmm_xmmm128`, fpArith(op, true, false));
    add(`${name}ss_xmm_xmmm32`, fpArith(op, false, true));
    add(`${name}sd_xmm_xmmm64`, fpArith(op, true, true));
  }
  add('Cmpps_xmm_xmmm128_imm8', fpCompare(false, false));
  add('Cmppd_xmm_xmmm128_imm8', fpCompare(true, false));
  add('Cmpss_xmm_xmmm32_imm8', fpCompare(false, true));
  add('Cmpsd_xmm_xmmm64_imm8', fpCompare(true, true));
  add('Comiss_xmm_xmmm32', comis(false, false));
  add('Ucomiss_xmm_xmmm32', comis(false, true));
  add('Comisd_xmm_xmmm64', comis(true, false));
  add('Ucomisd_xmm_xmmm64', comis(true, true));
  add('Shufps_xmm_xmmm128_imm8', shufps);
  add('Shufpd_xmm_xmmm128_imm8', shufpd);
  for (const [name, op] of UNPACKS) add(`${name}_xmm_xmmm128`, intXmm(op));
  for (const [name, kind, bytes, aligned, compute, commit] of CONVERSIONS) {
    add(name, conv(kind, bytes, aligned, compute, commit));
  }
  add('Rcpps_xmm_xmmm128', rcp(false, false));
  add('Rcpss_xmm_xmmm32', rcp(false, true));
  add('Rsqrtps_xmm_xmmm128', rcp(true, false));
  add('Rsqrtss_xmm_xmmm32', rcp(true, true));
  // Hints and ordering: no caches or reordering in this CPU.
  for (const p of ['Prefetchnta_m8', 'Prefetcht0_m8', 'Prefetcht1_m8', 'Prefetcht2_m8']) add(p, nop);
  // The fences ignore ModRM.rm: 0F AE E8-EF / F0-F7 / F8-FF all decode as LFENCE / MFENCE / SFENCE.
  for (const f of ['Lfence', 'Mfence', 'Sfence']) {
    add(f, nop);
    const first = f === 'Lfence' ? 0xe9 : f === 'Mfence' ? 0xf1 : 0xf9;
    for (let b = first; b < first + 7; b++) add(`${f}_${b.toString(16).toUpperCase()}`, nop);
  }
  // CLFLUSH: no caches to flush; its operand is not probed (a read could touch MMIO side effects).
  add('Clflush_m8', nop);
  return list.entries;
}

/**
 * SSE, SSE2, SSE3 (`sse3.ts`), SSSE3 (`ssse3.ts`) and the 64-bit-mode forms (`sse64.ts`): the model's
 * feature tags decide which execute.
 */
export const SSE_HANDLERS: readonly [number, Handler][] = [
  ...entries(),
  ...SSE3_HANDLERS,
  ...SSSE3_HANDLERS,
  ...SSE64_HANDLERS,
];
