/**
 * SSE/SSE2 floating-point arithmetic with MXCSR semantics (SDM Vol. 1 §11.5): rounding control, DAZ,
 * FTZ and the six exception flags. Results in round-to-nearest come from the host's IEEE binary64
 * arithmetic (binary32 via Math.fround, whose double rounding is innocuous for + - * / sqrt because
 * 53 >= 2*24 + 2); the sign of the rounding error is computed exactly (TwoSum / Dekker TwoProduct on
 * operands scaled to [1, 2)) and drives the inexact flag and the directed rounding modes.
 *
 * NaNs are handled on bit patterns only: a JS number cannot carry an SNaN or a NaN payload reliably.
 * Known approximation: tininess (underflow) is judged on the denormal-rounded result, so an exact
 * result a fraction of an ulp below the smallest normal that rounds up to it is not reported tiny.
 */
import { MXCSR, RC } from './state.js';

/** Operation codes. */
export const FOp = { Add: 0, Sub: 1, Mul: 2, Div: 3, Min: 4, Max: 5, Sqrt: 6 } as const;

/** Exception flags raised by the current instruction (MXCSR bits 0-5). */
export let fpFlags = 0;
let daz = false;
let ftz = false;
let rc = 0;
let umMasked = true;

/** Starts an instruction: reads the control fields of MXCSR and clears the flag accumulator. */
export function fpBegin(mxcsr: number): void {
  fpFlags = 0;
  daz = (mxcsr & MXCSR.DAZ) !== 0;
  ftz = (mxcsr & MXCSR.FZ) !== 0;
  rc = (mxcsr & MXCSR.RC) >>> MXCSR.RC_SHIFT;
  umMasked = (mxcsr & MXCSR.UM) !== 0;
}

/** Raises `flags` for the current instruction (used by conversions). */
export function fpRaise(flags: number): void {
  fpFlags |= flags;
}

// ------------------------------------------------------------------ bit conversion

const cvBuf = new ArrayBuffer(8);
const cvF32 = new Float32Array(cvBuf);
const cvF64 = new Float64Array(cvBuf);
const cvU32 = new Uint32Array(cvBuf);

export function bitsToF32(bits: number): number {
  cvU32[0] = bits;
  return cvF32[0]!;
}
export function f32ToBits(v: number): number {
  cvF32[0] = v;
  return cvU32[0]!;
}
function f64Hi(v: number): number {
  cvF64[0] = v;
  return cvU32[1]!;
}
export function f64From(lo: number, hi: number): number {
  cvU32[0] = lo;
  cvU32[1] = hi;
  return cvF64[0]!;
}

/** QNaN indefinite (SDM Vol. 1 Table 4-3). */
export const F32_INDEFINITE = 0xffc00000;
export const F64_INDEFINITE_HI = 0xfff80000;

export function isNaN32(b: number): boolean {
  return (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0;
}
export function isSNaN32(b: number): boolean {
  return isNaN32(b) && (b & 0x400000) === 0;
}
export function isNaN64(hi: number, lo: number): boolean {
  return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0);
}
export function isSNaN64(hi: number, lo: number): boolean {
  return isNaN64(hi, lo) && (hi & 0x80000) === 0;
}

/** Source value of a binary32 operand: denormals become signed zero under DAZ, else raise DE. */
export function in32(b: number): number {
  if ((b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0) {
    if (daz) return b & 0x80000000 ? -0 : 0;
    fpFlags |= MXCSR.DE;
  }
  return bitsToF32(b);
}

/** Source value of a binary64 operand (hi:lo words). */
export function in64(hi: number, lo: number): number {
  if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) !== 0 || lo !== 0)) {
    if (daz) return hi & 0x80000000 ? -0 : 0;
    fpFlags |= MXCSR.DE;
  }
  return f64From(lo, hi);
}

// ------------------------------------------------------------------ exact error signs

const SPLIT = 134217729; // 2^27 + 1 (Veltkamp)

/** Error of the binary64 product p = fl(a * b), exactly (|a|, |b| in [1, 4)). */
export function twoProdErr(a: number, b: number, p: number): number {
  let c = SPLIT * a;
  const ah = c - (c - a);
  const al = a - ah;
  c = SPLIT * b;
  const bh = c - (c - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** Unbiased exponent k with |x| * 2^-k in [1, 2) (x finite, non-zero). */
export function exponentOf(x: number): number {
  const e = (f64Hi(x) >>> 20) & 0x7ff;
  if (e !== 0) return e - 1023;
  return ((f64Hi(x * 2 ** 64) >>> 20) & 0x7ff) - 1023 - 64;
}

/** x * 2^n, exact when the result is normal. */
export function ldexp(x: number, n: number): number {
  while (n > 1000) {
    x *= 2 ** 1000;
    n -= 1000;
  }
  while (n < -1000) {
    x *= 2 ** -1000;
    n += 1000;
  }
  return x * 2 ** n;
}

function sign(x: number): number {
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** Sign of (exact result - r) for r = fl(x op y), all finite and r finite. */
function errorSign(op: number, x: number, y: number, r: number): number {
  switch (op) {
    case FOp.Add:
    case FOp.Sub: {
      const yy = op === FOp.Sub ? -y : y;
      const bb = r - x;
      return sign(x - (r - bb) + (yy - bb));
    }
    case FOp.Mul: {
      if (x === 0 || y === 0) return 0;
      if (r === 0) return sign(x) * sign(y);
      const kx = exponentOf(x);
      const ky = exponentOf(y);
      const xs = ldexp(x, -kx);
      const ys = ldexp(y, -ky);
      const rs = ldexp(r, -(kx + ky));
      const p = xs * ys;
      return sign(p - rs + twoProdErr(xs, ys, p));
    }
    case FOp.Div: {
      if (x === 0) return 0;
      if (r === 0) return sign(x) * sign(y);
      const kx = exponentOf(x);
      const ky = exponentOf(y);
      const xs = ldexp(x, -kx);
      const ys = ldexp(y, -ky);
      const qs = ldexp(r, ky - kx);
      const p = qs * ys;
      return sign(xs - p - twoProdErr(qs, ys, p)) * sign(ys);
    }
    default: {
      // Square root of x > 0.
      if (x === 0) return 0;
      let k = exponentOf(x);
      if (k & 1) k -= 1;
      const xs = ldexp(x, -k);
      const rs = ldexp(r, -k / 2);
      const p = rs * rs;
      return sign(xs - p - twoProdErr(rs, rs, p));
    }
  }
}

// ------------------------------------------------------------------ rounding and post-computation

const F32_MIN_NORMAL = 2 ** -126;
const F32_MAX = bitsToF32(0x7f7fffff);
const F64_MIN_NORMAL = 2 ** -1022;
const F64_MAX = Number.MAX_VALUE;

function nextToward32(r: number, up: boolean): number {
  if (r === 0) return up ? 2 ** -149 : -(2 ** -149);
  const b = f32ToBits(r);
  return bitsToF32(r > 0 === up ? b + 1 : b - 1);
}

/** The binary64 neighbour of r toward +inf (`up`) or -inf. */
export function nextToward64(r: number, up: boolean): number {
  if (r === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  cvF64[0] = r;
  let lo = cvU32[0]!;
  let hi = cvU32[1]!;
  if (r > 0 === up) {
    lo = (lo + 1) >>> 0;
    if (lo === 0) hi = (hi + 1) >>> 0;
  } else {
    if (lo === 0) hi = (hi - 1) >>> 0;
    lo = (lo - 1) >>> 0;
  }
  return f64From(lo, hi);
}

/**
 * Final rounding of a round-to-nearest result r whose exact value differs from it by `es` (sign of
 * exact - r): directed rounding, overflow, underflow, FTZ and the OE/UE/PE flags.
 */
function finish(r: number, es: number, double: boolean): number {
  const max = double ? F64_MAX : F32_MAX;
  const minNormal = double ? F64_MIN_NORMAL : F32_MIN_NORMAL;
  if (r === Number.POSITIVE_INFINITY || r === Number.NEGATIVE_INFINITY) {
    // Overflow from finite operands: the exact value is finite.
    fpFlags |= MXCSR.OE | MXCSR.PE;
    const neg = r < 0;
    if (rc === RC.Zero || (rc === RC.Down && !neg) || (rc === RC.Up && neg)) return neg ? -max : max;
    return r;
  }
  if (es !== 0) {
    fpFlags |= MXCSR.PE;
    const up = es > 0;
    if (
      rc === RC.Down ? !up : rc === RC.Up ? up : rc === RC.Zero ? (r > 0 ? !up : r < 0 ? up : false) : false
    ) {
      r = double ? nextToward64(r, up) : nextToward32(r, up);
      if (Math.abs(r) > max) fpFlags |= MXCSR.OE;
    }
  }
  const tiny = (r !== 0 && Math.abs(r) < minNormal) || (r === 0 && es !== 0);
  if (tiny) {
    if (!umMasked) fpFlags |= MXCSR.UE;
    else if (ftz) {
      fpFlags |= MXCSR.UE | MXCSR.PE;
      const neg = r === 0 ? es < 0 : r < 0;
      return neg ? -0 : 0;
    } else if (es !== 0) fpFlags |= MXCSR.UE;
  }
  return r;
}

/**
 * x op y in binary64 (double) or binary32, on non-NaN values. Returns NaN for an invalid operation
 * (the caller writes the QNaN indefinite). Min/Max are handled by the caller.
 */
export function arith(op: number, x: number, y: number, double: boolean): number {
  let r: number;
  switch (op) {
    case FOp.Add:
    case FOp.Sub: {
      const yy = op === FOp.Sub ? -y : y;
      r = x + yy;
      if (Number.isNaN(r)) {
        fpFlags |= MXCSR.IE;
        return r;
      }
      if (r === 0 && !(x === 0 && yy === 0 && Object.is(x, yy))) {
        // Exact zero sum of opposite signs (or x + -x): +0, or -0 when rounding down (IEEE 754 §6.3).
        if (x === -yy || (x === 0 && yy === 0)) return rc === RC.Down ? -0 : 0;
      }
      break;
    }
    case FOp.Mul:
      r = x * y;
      if (Number.isNaN(r)) {
        fpFlags |= MXCSR.IE;
        return r;
      }
      break;
    case FOp.Div:
      if (y === 0 && x !== 0 && Number.isFinite(x)) {
        fpFlags |= MXCSR.ZE;
        return x / y;
      }
      r = x / y;
      if (Number.isNaN(r)) {
        fpFlags |= MXCSR.IE;
        return r;
      }
      break;
    default:
      if (y < 0) {
        fpFlags |= MXCSR.IE;
        return Number.NaN;
      }
      r = Math.sqrt(y);
      x = y;
      break;
  }
  // Infinite operands give exact infinite results.
  if (!Number.isFinite(x) || !Number.isFinite(y)) return r;
  if (!double) {
    const rr = Math.fround(r);
    if (!Number.isFinite(rr)) return finish(rr, -sign(rr), false);
    const es = r !== rr ? sign(r - rr) : Number.isFinite(r) ? errorSign(op, x, y, r) : 0;
    return finish(rr, es, false);
  }
  if (!Number.isFinite(r)) return finish(r, -sign(r), true);
  return finish(r, errorSign(op, x, y, r), true);
}

/** Rounds a binary64 value to binary32 under MXCSR (CVTSD2SS/CVTPD2PS); x is not a NaN. */
export function toF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  const rr = Math.fround(x);
  if (!Number.isFinite(rr)) return finish(rr, -sign(rr), false);
  return finish(rr, sign(x - rr), false);
}

/** Rounds an integer (|v| < 2^53) to binary32 under MXCSR.RC (CVTSI2SS/CVTDQ2PS/CVTPI2PS). */
export function intToF32(v: number): number {
  const rr = Math.fround(v);
  return finish(rr, sign(v - rr), false);
}

const INT_INDEFINITE = 0x80000000;

/**
 * Converts a finite-or-infinite value to int32 with MXCSR.RC (or truncation); NaN, infinities and
 * out-of-range values give the integer indefinite 0x80000000 with IE; inexact results raise PE.
 * Returns the unsigned 32-bit pattern.
 */
export function toInt32(x: number, truncate: boolean): number {
  if (!Number.isFinite(x)) {
    fpFlags |= MXCSR.IE;
    return INT_INDEFINITE;
  }
  let v = Math.trunc(x);
  const frac = x - v;
  if (frac !== 0 && !truncate) {
    const mode = rc;
    if (mode === RC.Nearest) {
      const a = Math.abs(frac);
      if (a > 0.5 || (a === 0.5 && v % 2 !== 0)) v += frac > 0 ? 1 : -1;
    } else if (mode === RC.Down) {
      if (frac < 0) v -= 1;
    } else if (mode === RC.Up) {
      if (frac > 0) v += 1;
    }
  }
  if (v > 0x7fffffff || v < -0x80000000) {
    fpFlags |= MXCSR.IE;
    return INT_INDEFINITE;
  }
  if (frac !== 0) fpFlags |= MXCSR.PE;
  return v >>> 0;
}

// ------------------------------------------------------------------ 64-bit integers (REX.W forms)

const TWO_32 = 4294967296;

/** Magnitude halves of the last {@link int64Magnitude}; module scratch, no allocation. */
let magHi = 0;
let magLo = 0;

/** |lo + hi * 2^32| (signed 64-bit) into magHi:magLo (unsigned; 2^63 for the most negative value). */
function int64Magnitude(lo: number, hi: number): boolean {
  const neg = (hi | 0) < 0;
  if (!neg) {
    magHi = hi >>> 0;
    magLo = lo >>> 0;
    return false;
  }
  // Two's complement negation of the 64-bit pattern.
  magLo = -lo >>> 0;
  magHi = (~hi + (magLo === 0 ? 1 : 0)) >>> 0;
  return true;
}

/** Sign of (mHi:mLo - r) for an integer r in [0, 2^64] (compared as halves, exactly). */
function compareHalves(mHi: number, mLo: number, r: number): number {
  const rHi = Math.floor(r / TWO_32);
  const rLo = r - rHi * TWO_32;
  if (mHi !== rHi) return mHi > rHi ? 1 : -1;
  return mLo > rLo ? 1 : mLo < rLo ? -1 : 0;
}

/**
 * A signed 64-bit integer (halves) rounded to binary64 (`double`) or binary32 under MXCSR.RC, with
 * PE when inexact (CVTSI2SD/CVTSI2SS with REX.W). One correct rounding of the exact integer: for
 * binary64 the sum of the exact halves is rounded once; for binary32 the magnitude is first cut to
 * 53 bits with a sticky bit below the binary32 rounding position, so the double rounding is harmless.
 */
export function int64ToFloat(lo: number, hi: number, double: boolean): number {
  const neg = int64Magnitude(lo, hi);
  const mHi = magHi;
  const mLo = magLo;
  let r: number;
  if (double) r = mHi * TWO_32 + mLo;
  else if (mHi < 0x200000) r = Math.fround(mHi * TWO_32 + mLo);
  else r = Math.fround(mHi * TWO_32 + ((mLo & 0xfffff000) >>> 0) + (mLo & 0xfff ? 0x800 : 0));
  const es = compareHalves(mHi, mLo, r);
  return neg ? finish(-r, -es, double) : finish(r, es, double);
}

/** High half of the last {@link toInt64} result (unsigned). */
export let int64Hi = 0;

const INT64_INDEFINITE_HI = 0x80000000;

/**
 * Converts a value to int64 with MXCSR.RC (or truncation), as {@link toInt32}: NaN, infinities and
 * out-of-range values give the integer indefinite 0x8000_0000_0000_0000 with IE; inexact results
 * raise PE. Returns the low half; the high half goes to {@link int64Hi}.
 */
export function toInt64(x: number, truncate: boolean): number {
  if (!Number.isFinite(x)) {
    fpFlags |= MXCSR.IE;
    int64Hi = INT64_INDEFINITE_HI;
    return 0;
  }
  let v = Math.trunc(x);
  const frac = x - v;
  if (frac !== 0 && !truncate) {
    const mode = rc;
    if (mode === RC.Nearest) {
      const a = Math.abs(frac);
      if (a > 0.5 || (a === 0.5 && v % 2 !== 0)) v += frac > 0 ? 1 : -1;
    } else if (mode === RC.Down) {
      if (frac < 0) v -= 1;
    } else if (mode === RC.Up) {
      if (frac > 0) v += 1;
    }
  }
  // 2^63 and above (or below -2^63) do not fit; every double below 2^63 in magnitude is exact here.
  if (v >= 2 ** 63 || v < -(2 ** 63)) {
    fpFlags |= MXCSR.IE;
    int64Hi = INT64_INDEFINITE_HI;
    return 0;
  }
  if (frac !== 0) fpFlags |= MXCSR.PE;
  const h = Math.floor(v / TWO_32);
  int64Hi = h >>> 0;
  return (v - h * TWO_32) >>> 0;
}
