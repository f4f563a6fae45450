/**
 * 64-bit forms of the ALU, shift, rotate, multiply/divide and bit instructions (REX.W), SDM Vol. 2.
 *
 * A 64-bit value travels as two 32-bit halves. The status flags are computed eagerly (the lazy
 * record holds 32-bit values): {@link setFlags64} for the arithmetic group, SF/ZF/PF alone for the
 * logic group. Where the SDM leaves a flag undefined these handlers give what the 32-bit handlers of
 * the same family give (alu.ts, shift.ts, muldiv.ts, bit.ts, popcnt.ts), with 64 for the width and
 * 6 bits of shift count. The 128-bit products and quotients of MUL/IMUL/DIV/IDIV are exact in
 * doubles: 16-bit limbs for the product, 16-bit quotient digits for a divisor below 2^36, and
 * shift-subtract on 32-bit halves for a larger one (at most 28 steps for a 64-bit dividend).
 * Helpers that are not inlined take and keep halves as int32 where they can: an unsigned half above
 * 2^31 would be boxed into a heap number at each call or module-variable store.
 */
import { OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { ARITH_FLAGS, EFLAGS, getCF, LazyOp, setArith, setCF, setFlags64, szp64 } from '../flags.js';
import { isCanonical, read64, TWO_32, write64 } from '../memory-access.js';
import { getReg64, locate, readOp0_64, readOp1_64, readOp2_64, setReg64, writeOp0_64 } from '../operands.js';
import { GPR_HI } from '../registers.js';
import { AluOp } from './alu.js';
import { popcount32 } from './popcnt.js';
import { HandlerList } from './table.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;
const OC = EFLAGS.OF | EFLAGS.CF;

// ------------------------------------------------------------------ ADD OR ADC SBB AND SUB XOR CMP

/** ADD/ADC (`withCarry`): the carry-in is CF for ADC, 0 for ADD. */
function add64(withCarry: boolean): Handler {
  return (cpu, ins) => {
    const dLo = readOp0_64(cpu, ins);
    const dHi = cpu.hi;
    const sLo = readOp1_64(cpu, ins);
    const sHi = cpu.hi;
    const c = withCarry ? getCF(cpu.flags) : 0;
    const lo = dLo + sLo + c;
    const rLo = lo >>> 0;
    const rHi = (dHi + sHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    writeOp0_64(cpu, ins, rLo, rHi, true);
    setFlags64(cpu.flags, c ? LazyOp.Adc : LazyOp.Add, dLo, dHi, sLo, sHi, rLo, rHi);
  };
}

/** SUB/SBB (`withBorrow`) and CMP (`compare`: no write). */
function sub64(withBorrow: boolean, compare: boolean): Handler {
  return (cpu, ins) => {
    const dLo = readOp0_64(cpu, ins);
    const dHi = cpu.hi;
    const sLo = readOp1_64(cpu, ins);
    const sHi = cpu.hi;
    const c = withBorrow ? getCF(cpu.flags) : 0;
    const lo = dLo - sLo - c;
    const rLo = lo >>> 0;
    const rHi = (dHi - sHi - (lo < 0 ? 1 : 0)) >>> 0;
    if (!compare) writeOp0_64(cpu, ins, rLo, rHi, true);
    setFlags64(cpu.flags, c ? LazyOp.Sbb : LazyOp.Sub, dLo, dHi, sLo, sHi, rLo, rHi);
  };
}

/** AND/OR/XOR: OF = CF = AF = 0. */
function logic64(op: number): Handler {
  return (cpu, ins) => {
    const dLo = readOp0_64(cpu, ins);
    const dHi = cpu.hi;
    const sLo = readOp1_64(cpu, ins);
    const sHi = cpu.hi;
    let rLo: number;
    let rHi: number;
    if (op === AluOp.And) {
      rLo = dLo & sLo;
      rHi = dHi & sHi;
    } else if (op === AluOp.Or) {
      rLo = dLo | sLo;
      rHi = dHi | sHi;
    } else {
      rLo = dLo ^ sLo;
      rHi = dHi ^ sHi;
    }
    writeOp0_64(cpu, ins, rLo >>> 0, rHi >>> 0, true);
    setArith(cpu.flags, ARITH_FLAGS, szp64(rLo, rHi));
  };
}

function binary64(op: number): Handler {
  switch (op) {
    case AluOp.Add:
      return add64(false);
    case AluOp.Adc:
      return add64(true);
    case AluOp.Sub:
      return sub64(false, false);
    case AluOp.Sbb:
      return sub64(true, false);
    case AluOp.Cmp:
      return sub64(false, true);
    default:
      return logic64(op);
  }
}

const test64: Handler = (cpu, ins) => {
  const dLo = readOp0_64(cpu, ins);
  const dHi = cpu.hi;
  const sLo = readOp1_64(cpu, ins);
  const sHi = cpu.hi;
  setArith(cpu.flags, ARITH_FLAGS, szp64(dLo & sLo, dHi & sHi));
};

function incDec64(dec: boolean): Handler {
  return (cpu, ins) => {
    const dLo = readOp0_64(cpu, ins);
    const dHi = cpu.hi;
    let rLo: number;
    let rHi: number;
    if (dec) {
      rLo = (dLo - 1) >>> 0;
      rHi = dLo === 0 ? (dHi - 1) >>> 0 : dHi;
    } else {
      rLo = (dLo + 1) >>> 0;
      rHi = rLo === 0 ? (dHi + 1) >>> 0 : dHi;
    }
    writeOp0_64(cpu, ins, rLo, rHi, true);
    setFlags64(cpu.flags, dec ? LazyOp.Dec : LazyOp.Inc, dLo, dHi, 1, 0, rLo, rHi);
  };
}

const neg64: Handler = (cpu, ins) => {
  const sLo = readOp0_64(cpu, ins);
  const sHi = cpu.hi;
  const rLo = -sLo >>> 0;
  const rHi = (sLo === 0 ? -sHi : ~sHi) >>> 0;
  writeOp0_64(cpu, ins, rLo, rHi, true);
  setFlags64(cpu.flags, LazyOp.Neg, 0, 0, sLo, sHi, rLo, rHi);
};

const not64: Handler = (cpu, ins) => {
  const lo = readOp0_64(cpu, ins);
  const hi = cpu.hi;
  writeOp0_64(cpu, ins, ~lo >>> 0, ~hi >>> 0, true);
};

// ------------------------------------------------------------------ 64-bit shifts on halves

/**
 * High half of the last {@link shl64}/{@link shr64}/{@link sar64} result, as an int32: module-level
 * variables hold it without boxing (an unsigned value above 2^31 would be a heap number each time).
 */
let sh = 0;

/** (hi:lo) << n for n in 0..64: low half returned, high half in `sh`. */
function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    sh = hi | 0;
    return lo;
  }
  if (n < 32) {
    sh = (hi << n) | (lo >>> (32 - n));
    return (lo << n) >>> 0;
  }
  sh = n < 64 ? lo << (n - 32) : 0;
  return 0;
}

/** (hi:lo) >>> n for n in 0..64. */
function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    sh = hi | 0;
    return lo;
  }
  if (n < 32) {
    sh = hi >>> n; // n >= 1: below 2^31
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  sh = 0;
  return n < 64 ? hi >>> (n - 32) : 0;
}

/** (hi:lo) >> n (arithmetic) for n in 1..63. */
function sar64(lo: number, hi: number, n: number): number {
  if (n < 32) {
    sh = hi >> n;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  sh = hi >> 31;
  return (hi >> (n - 32)) >>> 0;
}

/** Bit `i` (0..63) of (hi:lo). */
function bit64(lo: number, hi: number, i: number): number {
  return i < 32 ? (lo >>> i) & 1 : (hi >>> (i - 32)) & 1;
}

const ShiftOp = { Rol: 0, Ror: 1, Rcl: 2, Rcr: 3, Shl: 4, Shr: 5, Sal: 6, Sar: 7 } as const;
const CountFrom = { One: 0, Cl: 1, Imm: 2 } as const;

/** Result high half (int32) and flags of the last {@link shiftValue64}, applied after the write succeeded. */
let outHi = 0;
let outMask = 0;
let outValues = 0;

/**
 * A shift/rotate of (hi:lo) by `c` (1..63), as shift.ts computes the 32-bit forms: OF from the last
 * single-bit step where the SDM leaves it undefined, AF cleared. Low half returned; high half in
 * `outHi`, flags in `outMask`/`outValues`.
 */
function shiftValue64(cpu: Cpu, op: number, lo: number, hi: number, c: number): number {
  let rLo: number;
  let rHi: number;
  let cf: number;
  let of: number;
  switch (op) {
    case ShiftOp.Rol: {
      rLo = shl64(lo, hi, c);
      rHi = sh;
      rLo = (rLo | shr64(lo, hi, 64 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = rLo & 1;
      of = (rHi >>> 31) ^ cf;
      outHi = rHi | 0;
      outMask = OC;
      outValues = (of ? EFLAGS.OF : 0) | cf;
      return rLo;
    }
    case ShiftOp.Ror: {
      rLo = shr64(lo, hi, c);
      rHi = sh;
      rLo = (rLo | shl64(lo, hi, 64 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = rHi >>> 31;
      of = cf ^ ((rHi >>> 30) & 1);
      outHi = rHi | 0;
      outMask = OC;
      outValues = (of ? EFLAGS.OF : 0) | cf;
      return rLo;
    }
    case ShiftOp.Rcl: {
      // A 65-bit rotate of CF:value; c <= 63 < 65, so no count reduction.
      const cin = getCF(cpu.flags);
      rLo = shl64(lo, hi, c);
      rHi = sh;
      const fromCf = shl64(cin, 0, c - 1);
      rLo = (rLo | fromCf) >>> 0;
      rHi = (rHi | sh) >>> 0;
      rLo = (rLo | shr64(lo, hi, 65 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = bit64(lo, hi, 64 - c);
      of = (rHi >>> 31) ^ cf;
      outHi = rHi | 0;
      outMask = OC;
      outValues = (of ? EFLAGS.OF : 0) | cf;
      return rLo;
    }
    case ShiftOp.Rcr: {
      const cin = getCF(cpu.flags);
      rLo = shr64(lo, hi, c);
      rHi = sh;
      const fromCf = shl64(cin, 0, 64 - c);
      rLo = (rLo | fromCf) >>> 0;
      rHi = (rHi | sh) >>> 0;
      rLo = (rLo | shl64(lo, hi, 65 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = bit64(lo, hi, c - 1);
      of = (rHi >>> 31) ^ ((rHi >>> 30) & 1);
      outHi = rHi | 0;
      outMask = OC;
      outValues = (of ? EFLAGS.OF : 0) | cf;
      return rLo;
    }
    case ShiftOp.Shl:
    case ShiftOp.Sal:
      rLo = shl64(lo, hi, c);
      rHi = sh;
      cf = bit64(lo, hi, 64 - c);
      of = (rHi >>> 31) ^ cf;
      break;
    case ShiftOp.Shr:
      rLo = shr64(lo, hi, c);
      rHi = sh;
      cf = bit64(lo, hi, c - 1);
      of = c === 1 ? hi >>> 31 : 0;
      break;
    default:
      rLo = sar64(lo, hi, c);
      rHi = sh;
      cf = bit64(lo, hi, c - 1);
      of = 0;
      break;
  }
  outHi = rHi | 0;
  outMask = OSZAPC;
  outValues = szp64(rLo, rHi) | (of ? EFLAGS.OF : 0) | cf;
  return rLo;
}

function shift64(op: number, from: number): Handler {
  return (cpu, ins) => {
    const c = from === CountFrom.One ? 1 : from === CountFrom.Cl ? cpu.regs.u32[1]! & 63 : ins.immediate & 63;
    const lo = readOp0_64(cpu, ins);
    const hi = cpu.hi;
    if (c === 0) return;
    const rLo = shiftValue64(cpu, op, lo, hi, c);
    writeOp0_64(cpu, ins, rLo, outHi, true);
    setArith(cpu.flags, outMask, outValues);
  };
}

/** SHLD/SHRD r/m64, r64, imm8/CL: the count (1..63) is below the width, so every result is defined. */
function doubleShift64(left: boolean, fromCl: boolean): Handler {
  return (cpu, ins) => {
    const c = fromCl ? cpu.regs.u32[1]! & 63 : ins.immediate & 63;
    const dLo = readOp0_64(cpu, ins);
    const dHi = cpu.hi;
    if (c === 0) return;
    const sLo = getReg64(cpu, ins.op1Register);
    const sHi = cpu.hi;
    let rLo: number;
    let rHi: number;
    let cf: number;
    if (left) {
      rLo = shl64(dLo, dHi, c);
      rHi = sh;
      rLo = (rLo | shr64(sLo, sHi, 64 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = bit64(dLo, dHi, 64 - c);
    } else {
      rLo = shr64(dLo, dHi, c);
      rHi = sh;
      rLo = (rLo | shl64(sLo, sHi, 64 - c)) >>> 0;
      rHi = (rHi | sh) >>> 0;
      cf = bit64(dLo, dHi, c - 1);
    }
    const of = (rHi ^ dHi) >>> 31;
    writeOp0_64(cpu, ins, rLo, rHi, true);
    setArith(cpu.flags, OSZAPC, szp64(rLo, rHi) | (of ? EFLAGS.OF : 0) | cf);
  };
}

// ------------------------------------------------------------------ 128-bit multiply and divide

/**
 * Words (least significant first) of the last {@link mulWide} product, or quotient (w0, w1) and
 * remainder (w2, w3) of the last {@link divWide}: unsigned 32-bit values.
 */
export const WIDE: Uint32Array = new Uint32Array(4);

/**
 * The 128-bit product of two 64-bit values given as halves into {@link WIDE}: unsigned, or signed
 * (two's complement) when `signed`. 16-bit limbs, so every column sum is below 2^35 and exact. The
 * halves may be passed as int32 or uint32 (callers pass int32: no heap numbers for the call).
 */
export function mulWide(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const a2 = aHi & 0xffff;
  const a3 = aHi >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const b2 = bHi & 0xffff;
  const b3 = bHi >>> 16;
  let t = a0 * b0;
  let c = Math.floor(t / 65536);
  const l0 = t - c * 65536;
  t = a0 * b1 + a1 * b0 + c;
  c = Math.floor(t / 65536);
  const l1 = t - c * 65536;
  t = a0 * b2 + a1 * b1 + a2 * b0 + c;
  c = Math.floor(t / 65536);
  const l2 = t - c * 65536;
  t = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + c;
  c = Math.floor(t / 65536);
  const l3 = t - c * 65536;
  t = a1 * b3 + a2 * b2 + a3 * b1 + c;
  c = Math.floor(t / 65536);
  const l4 = t - c * 65536;
  t = a2 * b3 + a3 * b2 + c;
  c = Math.floor(t / 65536);
  const l5 = t - c * 65536;
  t = a3 * b3 + c;
  c = Math.floor(t / 65536);
  const l6 = t - c * 65536;
  const w = WIDE;
  w[0] = l0 | (l1 << 16);
  w[1] = l2 | (l3 << 16);
  let w2 = l4 | (l5 << 16);
  let w3 = l6 | (c << 16);
  if (signed) {
    // Signed high half = unsigned high half - (a < 0 ? b : 0) - (b < 0 ? a : 0), modulo 2^64.
    if (aHi >>> 31) {
      const lo = (w2 >>> 0) - (bLo >>> 0);
      w2 = lo;
      w3 = w3 - bHi - (lo < 0 ? 1 : 0);
    }
    if (bHi >>> 31) {
      const lo = (w2 >>> 0) - (aLo >>> 0);
      w2 = lo;
      w3 = w3 - aHi - (lo < 0 ? 1 : 0);
    }
  }
  w[2] = w2;
  w[3] = w3;
}

/**
 * Unsigned (nHi:nLo) / d of a 128-bit dividend given as four words (least significant first) by a
 * 64-bit divisor, for nHi < d (so the quotient fits 64 bits) and d != 0: quotient into WIDE[0..1],
 * remainder into WIDE[2..3]. Words as int32 or uint32.
 */
export function divWide(n0: number, n1: number, n2: number, n3: number, dLo: number, dHi: number): void {
  const w = WIDE;
  n0 >>>= 0;
  n1 >>>= 0;
  n2 >>>= 0;
  n3 >>>= 0;
  dLo >>>= 0;
  dHi >>>= 0;
  if (dHi < 16) {
    // d < 2^36: 16-bit quotient digits, every partial dividend r * 2^16 + digit below 2^52 (exact).
    const d = dHi * TWO_32 + dLo;
    let r = n3 * TWO_32 + n2;
    let t = r * 65536 + (n1 >>> 16);
    const q3 = Math.floor(t / d);
    r = t - q3 * d;
    t = r * 65536 + (n1 & 0xffff);
    const q2 = Math.floor(t / d);
    r = t - q2 * d;
    t = r * 65536 + (n0 >>> 16);
    const q1 = Math.floor(t / d);
    r = t - q1 * d;
    t = r * 65536 + (n0 & 0xffff);
    const q0 = Math.floor(t / d);
    r = t - q0 * d;
    w[0] = q0 | (q1 << 16);
    w[1] = q2 | (q3 << 16);
    w[2] = r;
    w[3] = Math.floor(r / TWO_32);
    return;
  }
  // Shift-subtract: the remainder (with the bit shifted out of it) and the dividend's low half,
  // which fills with quotient bits.
  let rLo = n2;
  let rHi = n3;
  let qLo = n0;
  let qHi = n1;
  let steps = 64;
  if ((n2 | n3) === 0) {
    // A 64-bit dividend: the first bitlength(d) - 1 steps cannot subtract (the remainder holds fewer
    // bits than d), so they are one shift; at most 28 steps are left.
    const skip = 63 - Math.clz32(dHi);
    rLo = shr64(n0, n1, 64 - skip);
    rHi = sh >>> 0;
    qLo = shl64(n0, n1, skip);
    qHi = sh >>> 0;
    steps = 64 - skip;
  }
  for (let i = 0; i < steps; i++) {
    const top = rHi >>> 31;
    rHi = ((rHi << 1) | (rLo >>> 31)) >>> 0;
    rLo = ((rLo << 1) | (qHi >>> 31)) >>> 0;
    qHi = ((qHi << 1) | (qLo >>> 31)) >>> 0;
    qLo = (qLo << 1) >>> 0;
    if (top !== 0 || rHi > dHi || (rHi === dHi && rLo >= dLo)) {
      const lo = rLo - dLo;
      rLo = lo >>> 0;
      rHi = (rHi - dHi - (lo < 0 ? 1 : 0)) >>> 0;
      qLo |= 1;
    }
  }
  w[0] = qLo;
  w[1] = qHi;
  w[2] = rLo;
  w[3] = rHi;
}

function mulFlags64(cpu: Cpu, overflow: boolean, lo: number, hi: number): void {
  setArith(cpu.flags, OSZAPC, szp64(lo, hi) | (overflow ? EFLAGS.OF | EFLAGS.CF : 0));
}

/** MUL/IMUL r/m64: RDX:RAX = RAX * src. */
function mul64(signed: boolean): Handler {
  return (cpu, ins) => {
    const sLo = readOp0_64(cpu, ins);
    const sHi = cpu.hi;
    const r = cpu.regs.r32;
    mulWide(r[0]!, r[GPR_HI]!, sLo | 0, sHi | 0, signed);
    const w = WIDE;
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    const w3 = w[3]!;
    r[0] = w0;
    r[GPR_HI] = w1;
    r[2] = w2;
    r[2 + GPR_HI] = w3;
    const ext = signed && w1 >>> 31 ? 0xffffffff : 0;
    mulFlags64(cpu, w2 !== ext || w3 !== ext, w0, w1);
  };
}

/** IMUL r64, r/m64 and IMUL r64, r/m64, imm8/imm32: CF = OF = the signed product does not fit. */
function imulN64(three: boolean): Handler {
  return (cpu, ins) => {
    const aLo = readOp1_64(cpu, ins);
    const aHi = cpu.hi;
    const bLo = three ? readOp2_64(cpu, ins) : getReg64(cpu, ins.op0Register);
    const bHi = cpu.hi;
    if (((aHi ^ (aLo >> 31)) | (bHi ^ (bLo >> 31))) === 0) {
      // Both operands are sign-extended 32-bit values (indexing by a struct size, ...): when the
      // product is within 2^53 the double is exact, and it always fits 64 bits.
      const p = (aLo | 0) * (bLo | 0);
      if (p <= 9007199254740992 && p >= -9007199254740992) {
        const lo = p >>> 0;
        const hi = Math.floor(p / TWO_32) | 0;
        setReg64(cpu, ins.op0Register, lo, hi);
        mulFlags64(cpu, false, lo, hi);
        return;
      }
    }
    mulWide(aLo | 0, aHi | 0, bLo | 0, bHi | 0, true);
    const w = WIDE;
    const lo = w[0]!;
    const hi = w[1]!;
    const ext = hi >>> 31 ? 0xffffffff : 0;
    setReg64(cpu, ins.op0Register, lo, hi);
    mulFlags64(cpu, w[2] !== ext || w[3] !== ext, lo, hi);
  };
}

/** DIV r/m64: RAX = RDX:RAX / src, RDX = remainder; #DE for a zero divisor or a quotient above 64 bits. */
const div64: Handler = (cpu, ins) => {
  const dLo = readOp0_64(cpu, ins);
  const dHi = cpu.hi;
  const r = cpu.regs.u32;
  const nHi = r[2 + GPR_HI]!;
  const nLo = r[2]!;
  if (nHi > dHi || (nHi === dHi && nLo >= dLo)) raise(Vector.DE); // also d = 0
  const s = cpu.regs.r32;
  divWide(s[0]!, s[GPR_HI]!, nLo | 0, nHi | 0, dLo | 0, dHi | 0);
  const w = WIDE;
  r[0] = w[0]!;
  r[GPR_HI] = w[1]!;
  r[2] = w[2]!;
  r[2 + GPR_HI] = w[3]!;
};

/** IDIV r/m64: signed, quotient toward zero, remainder with the dividend's sign; #DE as for DIV. */
const idiv64: Handler = (cpu, ins) => {
  let dLo = readOp0_64(cpu, ins);
  let dHi = cpu.hi;
  if ((dLo | dHi) === 0) raise(Vector.DE);
  const r = cpu.regs.u32;
  let n0 = r[0]!;
  let n1 = r[GPR_HI]!;
  let n2 = r[2]!;
  let n3 = r[2 + GPR_HI]!;
  const negN = n3 >>> 31 !== 0;
  if (negN) {
    // 128-bit two's complement: a word takes the +1 only when every word below it is 0.
    const below1 = n0 !== 0;
    const below2 = below1 || n1 !== 0;
    const below3 = below2 || n2 !== 0;
    n3 = (below3 ? ~n3 : -n3) >>> 0;
    n2 = (below2 ? ~n2 : -n2) >>> 0;
    n1 = (below1 ? ~n1 : -n1) >>> 0;
    n0 = -n0 >>> 0;
  }
  const negD = dHi >>> 31 !== 0;
  if (negD) {
    dHi = (dLo !== 0 ? ~dHi : -dHi) >>> 0;
    dLo = -dLo >>> 0;
  }
  if (n3 > dHi || (n3 === dHi && n2 >= dLo)) raise(Vector.DE);
  divWide(n0 | 0, n1 | 0, n2 | 0, n3 | 0, dLo | 0, dHi | 0);
  const w = WIDE;
  let qLo = w[0]!;
  let qHi = w[1]!;
  let remLo = w[2]!;
  let remHi = w[3]!;
  const negQ = negN !== negD;
  if (negQ ? qHi > 0x80000000 || (qHi === 0x80000000 && qLo !== 0) : qHi > 0x7fffffff) raise(Vector.DE);
  if (negQ) {
    qHi = (qLo !== 0 ? ~qHi : -qHi) >>> 0;
    qLo = -qLo >>> 0;
  }
  if (negN) {
    remHi = (remLo !== 0 ? ~remHi : -remHi) >>> 0;
    remLo = -remLo >>> 0;
  }
  r[0] = qLo;
  r[GPR_HI] = qHi;
  r[2] = remLo;
  r[2 + GPR_HI] = remHi;
};

// ------------------------------------------------------------------ BT BTS BTR BTC BSF BSR POPCNT

const BitOp = { Test: 0, Set: 1, Reset: 2, Complement: 3 } as const;

/** Applies bit operation `op` to bit `b` (0..31) of a 32-bit half. */
function applyBit(op: number, v: number, b: number): number {
  const m = 1 << b;
  return op === BitOp.Set ? (v | m) >>> 0 : op === BitOp.Reset ? (v & ~m) >>> 0 : (v ^ m) >>> 0;
}

/**
 * BT/BTS/BTR/BTC r/m64, r64/imm8. A register destination or an immediate offset takes the offset
 * modulo 64; a memory destination with a register offset treats it as a signed 64-bit bit offset
 * into the bit string at the operand (SDM Vol. 2A "BT": the qword at EA + 8 * (offset SAR 6)).
 */
function bitOp64(op: number, immediate: boolean): Handler {
  return (cpu, ins) => {
    let offLo: number;
    let offHi = 0;
    if (immediate) offLo = ins.immediate & 63;
    else {
      offLo = getReg64(cpu, ins.op1Register);
      offHi = cpu.hi;
    }
    const b = offLo & 63;
    if (ins.op0Kind === OpKind.Register) {
      const reg = ins.op0Register;
      const lo = getReg64(cpu, reg);
      const hi = cpu.hi;
      if (op !== BitOp.Test) {
        if (b < 32) setReg64(cpu, reg, applyBit(op, lo, b), hi);
        else setReg64(cpu, reg, lo, applyBit(op, hi, b - 32));
      }
      setCF(cpu.flags, bit64(lo, hi, b));
      return;
    }
    locate(cpu, ins);
    let at = cpu.eaOff;
    if (!immediate) {
      // Byte displacement 8 * (offset SAR 6) = (offset SAR 3) & ~7, as halves.
      const dispLo = (((offLo >>> 3) | (offHi << 29)) & ~7) >>> 0;
      if (ins.addressSize === 32) at = (at + dispLo) >>> 0;
      else {
        // Exact whenever the sum can be canonical (|disp| < 2^48); anything larger is not canonical.
        at += (offHi >> 3) * TWO_32 + dispLo;
        if (!isCanonical(at)) raise(ins.memSegment === Register.SS ? Vector.SS : Vector.GP, 0);
      }
    }
    const seg = cpu.eaSeg;
    const lo = read64(cpu, seg, at);
    const hi = cpu.hi;
    if (op !== BitOp.Test) {
      if (b < 32) write64(cpu, seg, at, applyBit(op, lo, b), hi);
      else write64(cpu, seg, at, lo, applyBit(op, hi, b - 32));
    }
    setCF(cpu.flags, bit64(lo, hi, b));
  };
}

/** BSF/BSR r64, r/m64: ZF = source is 0, and then the destination is unchanged (as bit.ts). */
function scan64(reverse: boolean): Handler {
  return (cpu, ins) => {
    const lo = readOp1_64(cpu, ins);
    const hi = cpu.hi;
    if ((lo | hi) === 0) {
      setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
      return;
    }
    let index: number;
    if (reverse) index = hi !== 0 ? 63 - Math.clz32(hi) : 31 - Math.clz32(lo);
    else index = lo !== 0 ? 31 - Math.clz32(lo & -lo) : 63 - Math.clz32(hi & -hi);
    setReg64(cpu, ins.op0Register, index, 0);
    setArith(cpu.flags, EFLAGS.ZF, 0);
  };
}

/** POPCNT r64, r/m64: ZF for a zero source, CF/OF/SF/AF/PF cleared (as popcnt.ts). */
const popcnt64: Handler = (cpu, ins) => {
  const lo = readOp1_64(cpu, ins);
  const hi = cpu.hi;
  setReg64(cpu, ins.op0Register, popcount32(lo) + popcount32(hi), 0);
  setArith(cpu.flags, OSZAPC, (lo | hi) === 0 ? EFLAGS.ZF : 0);
};

// ------------------------------------------------------------------ registration

const ALU_NAMES = ['Add', 'Or', 'Adc', 'Sbb', 'And', 'Sub', 'Xor', 'Cmp'] as const;
const SHIFT_NAMES = ['Rol', 'Ror', 'Rcl', 'Rcr', 'Shl', 'Shr', 'Sal', 'Sar'] as const;

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  ALU_NAMES.forEach((name, op) => {
    const h = binary64(op);
    add(`${name}_rm64_r64`, h);
    add(`${name}_r64_rm64`, h);
    add(`${name}_rm64_imm32`, h);
    add(`${name}_rm64_imm8`, h);
    add(`${name}_RAX_imm32`, h);
  });
  add('Test_rm64_r64', test64);
  add('Test_rm64_imm32', test64);
  add('Test_rm64_imm32_F7r1', test64);
  add('Test_RAX_imm32', test64);
  add('Inc_rm64', incDec64(false));
  add('Dec_rm64', incDec64(true));
  add('Neg_rm64', neg64);
  add('Not_rm64', not64);
  SHIFT_NAMES.forEach((name, op) => {
    add(`${name}_rm64_1`, shift64(op, CountFrom.One));
    add(`${name}_rm64_CL`, shift64(op, CountFrom.Cl));
    add(`${name}_rm64_imm8`, shift64(op, CountFrom.Imm));
  });
  add('Shld_rm64_r64_imm8', doubleShift64(true, false));
  add('Shld_rm64_r64_CL', doubleShift64(true, true));
  add('Shrd_rm64_r64_imm8', doubleShift64(false, false));
  add('Shrd_rm64_r64_CL', doubleShift64(false, true));
  add('Mul_rm64', mul64(false));
  add('Imul_rm64', mul64(true));
  add('Imul_r64_rm64', imulN64(false));
  add('Imul_r64_rm64_imm8', imulN64(true));
  add('Imul_r64_rm64_imm32', imulN64(true));
  add('Div_rm64', div64);
  add('Idiv_rm64', idiv64);
  ['Bt', 'Bts', 'Btr', 'Btc'].forEach((name, op) => {
    add(`${name}_rm64_r64`, bitOp64(op, false));
    add(`${name}_rm64_imm8`, bitOp64(op, true));
  });
  add('Bsf_r64_rm64', scan64(false));
  add('Bsr_r64_rm64', scan64(true));
  add('Popcnt_r64_rm64', popcnt64);
  return list.entries;
}

export const LONG_ALU_HANDLERS: readonly (readonly [number, Handler])[] = entries();
