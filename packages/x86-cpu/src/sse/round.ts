/**
 * ROUNDPS/ROUNDPD/ROUNDSS/ROUNDSD (SDM Vol. 2B "ROUNDPD"): a binary32/binary64 value rounded to an
 * integral value in the same format. The rounding mode is imm8[1:0], or MXCSR.RC when imm8[2] is set;
 * imm8[3] suppresses the precision exception. Only an SNaN source signals (IE, returning it quieted);
 * a denormal source does not signal DE, and DAZ makes it a signed zero. Integral values of the
 * format's precision are exact doubles, so the rounding itself is exact host arithmetic.
 */
import { bitsToF32, f32ToBits, fpRaise } from './float.js';
import { MXCSR, RC } from './state.js';

/** imm8 bits of the ROUND instructions. */
export const RoundImm = { RC: 0x3, USE_MXCSR: 0x4, SUPPRESS_PE: 0x8 } as const;

/** x (finite or infinite, not NaN) rounded to an integral value under `mode` (an `RC` value). */
export function roundIntegral(x: number, mode: number): number {
  // 2^52 and above (and infinities) are integral already; so is every binary32 from 2^23.
  if (!(Math.abs(x) < 2 ** 52)) return x;
  let r: number;
  if (mode === RC.Down) r = Math.floor(x);
  else if (mode === RC.Up) r = Math.ceil(x);
  else if (mode === RC.Zero) r = Math.trunc(x);
  else {
    // x - trunc(x) is exact (the fraction bits of x), so the tie test is exact.
    const t = Math.trunc(x);
    const d = Math.abs(x - t);
    r = d > 0.5 || (d === 0.5 && t % 2 !== 0) ? t + Math.sign(x) : t;
  }
  // The result keeps the sign of the source, also when it is zero (-0.3 rounds to -0).
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

const cvBuf = new ArrayBuffer(8);
const cvF64 = new Float64Array(cvBuf);
const cvU32 = new Uint32Array(cvBuf);

/** The effective rounding mode of a ROUND instruction. */
export function roundMode(imm: number, mxcsr: number): number {
  return imm & RoundImm.USE_MXCSR ? (mxcsr & MXCSR.RC) >>> MXCSR.RC_SHIFT : imm & RoundImm.RC;
}

/** One binary32 lane: the result's bits; flags go to the instruction's accumulator (`fpRaise`). */
export function round32(bits: number, mode: number, suppressPe: boolean, daz: boolean): number {
  if ((bits & 0x7f800000) === 0x7f800000) {
    if ((bits & 0x7fffff) === 0) return bits;
    if ((bits & 0x400000) === 0) fpRaise(MXCSR.IE);
    return (bits | 0x400000) >>> 0;
  }
  if (daz && (bits & 0x7f800000) === 0 && (bits & 0x7fffff) !== 0) return (bits & 0x80000000) >>> 0;
  const x = bitsToF32(bits);
  const r = roundIntegral(x, mode);
  if (r !== x && !suppressPe) fpRaise(MXCSR.PE);
  return f32ToBits(r);
}

/** One binary64 lane (hi:lo words): writes the result to `out[o]` (lo) and `out[o + 1]` (hi). */
export function round64(
  hi: number,
  lo: number,
  mode: number,
  suppressPe: boolean,
  daz: boolean,
  out: Uint32Array,
  o: number,
): void {
  if ((hi & 0x7ff00000) === 0x7ff00000) {
    const nan = (hi & 0xfffff) !== 0 || lo !== 0;
    if (nan && (hi & 0x80000) === 0) fpRaise(MXCSR.IE);
    out[o] = lo;
    out[o + 1] = nan ? (hi | 0x80000) >>> 0 : hi;
    return;
  }
  if (daz && (hi & 0x7ff00000) === 0 && ((hi & 0xfffff) !== 0 || lo !== 0)) {
    out[o] = 0;
    out[o + 1] = (hi & 0x80000000) >>> 0;
    return;
  }
  cvU32[0] = lo;
  cvU32[1] = hi;
  const x = cvF64[0]!;
  const r = roundIntegral(x, mode);
  if (r !== x && !suppressPe) fpRaise(MXCSR.PE);
  cvF64[0] = r;
  out[o] = cvU32[0]!;
  out[o + 1] = cvU32[1]!;
}
