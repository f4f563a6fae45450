/**
 * Fused multiply-add x*y + z with one rounding (FMA3, SDM Vol. 1 §14.5.1, Tables 14-16 and 14-17) and
 * the binary16 conversions of F16C, under MXCSR: rounding control, DAZ, FTZ and the IE/DE/OE/UE/PE
 * flags (accumulated in `fpFlags` of `../sse/float.ts`, so `fpEnd` finishes the instruction).
 *
 * No BigInt and no allocation: the exact value is carried in doubles by error-free transformations.
 * binary32: x*y is exact in a double (24 + 24 bits) and TwoSum(x*y, z) = h + t exactly. binary64: the
 * operands are scaled to [1, 2), Dekker's TwoProduct gives x*y = ph + pl exactly, three TwoSums give
 * x*y + z = h + t + e exactly, and t + e is rounded to odd (the rounding boundaries of the result are
 * far coarser than its last bit, so h + RO(t + e) rounds like the exact value in every mode). The final
 * rounding is done on an integer grid (`roundGrid`), first with unbounded exponent (which decides
 * overflow and tininess: x86 detects tininess after rounding, SDM Vol. 1 §11.5.2.5), then on the
 * subnormal grid when the result is tiny.
 */
import {
  exponentOf,
  F32_INDEFINITE,
  f32ToBits,
  fpBegin,
  fpRaise,
  in32,
  in64,
  isNaN32,
  isNaN64,
  isSNaN32,
  isSNaN64,
  ldexp,
  nextToward64,
  twoProdErr,
} from '../sse/float.js';
import { MXCSR, RC } from '../sse/state.js';

let rc = 0;
let ftz = false;
let umMasked = true;
/** Whether FTZ applies to the current operation (VCVTPS2PH ignores it). */
let ftzOn = true;

/** Starts an FMA/F16C instruction: `fpBegin` plus this module's copy of RC, FTZ and UM. */
export function fmaBegin(mxcsr: number): void {
  fpBegin(mxcsr);
  rc = (mxcsr & MXCSR.RC) >>> MXCSR.RC_SHIFT;
  ftz = (mxcsr & MXCSR.FZ) !== 0;
  umMasked = (mxcsr & MXCSR.UM) !== 0;
  ftzOn = true;
}

/** Overrides the rounding mode of the current instruction (VCVTPS2PH imm8[1:0] when imm8[2] = 0). */
export function setRounding(mode: number): void {
  rc = mode & 3;
}

// ------------------------------------------------------------------ bits

const buf = new ArrayBuffer(8);
const F64 = new Float64Array(buf);
const U32 = new Uint32Array(buf);

/** High word of the last binary64 result of {@link fma64}. */
export let resultHi = 0;

function out64(v: number): number {
  F64[0] = v;
  resultHi = U32[1]!;
  return U32[0]!;
}

/** Whether the normal double x is a power of two in magnitude. */
function isPow2(x: number): boolean {
  F64[0] = x;
  return (U32[1]! & 0xfffff) === 0 && U32[0] === 0;
}

// ------------------------------------------------------------------ error-free transformations

/** Error of the last {@link twoSum} / {@link twoProd} (module scratch: no allocation). */
let err = 0;

/** a + b = s + err exactly (round to nearest, no overflow). */
function twoSum(a: number, b: number): number {
  const s = a + b;
  const bb = s - a;
  err = a - (s - bb) + (b - bb);
  return s;
}

/** a * b = p + err exactly, for |a|, |b| in [1, 2). */
function twoProd(a: number, b: number): number {
  const p = a * b;
  err = twoProdErr(a, b, p);
  return p;
}

/** a + b rounded to odd (53 bits): the truncation, with its last bit set when inexact. */
function sumToOdd(a: number, b: number): number {
  const s = twoSum(a, b);
  const e = err;
  if (e === 0) return s;
  F64[0] = s;
  if ((U32[0]! & 1) !== 0) return s;
  // Even: the exact value lies between s and its neighbour toward e, which is odd.
  return nextToward64(s, e > 0);
}

// ------------------------------------------------------------------ rounding

/** Whether the last {@link roundGrid} was inexact. */
let inexact = false;

/** Sign of (fs + fe) - t for the exact pair fs + fe (|fe| <= ulp(fs)/2) and a double t. */
function cmpPair(fs: number, fe: number, t: number): number {
  if (fs !== t) return fs > t ? 1 : -1;
  return fe > 0 ? 1 : fe < 0 ? -1 : 0;
}

/**
 * The exact value (h + z) rounded to a multiple of 2^g under the current RC, as the integer multiple n
 * (h the leading part, of binade `eb`, |z| at most about half a unit of 2^g); sets {@link inexact}.
 */
function roundGrid(h: number, z: number, eb: number, g: number, negative: boolean): number {
  let big: number;
  let small: number;
  if (eb < g - 2) {
    // |value| < 2^(g-1): a fraction below one half of the grid, inexact (a stand-in keeps its sign).
    big = negative ? -(2 ** -10) : 2 ** -10;
    small = 0;
  } else {
    big = ldexp(h, -g);
    small = ldexp(z, -g);
  }
  const fl = Math.floor(big);
  const f = big - fl;
  const fs = twoSum(f, small);
  const fe = err;
  let k = 0;
  if (cmpPair(fs, fe, 0) < 0) k = -1;
  else if (cmpPair(fs, fe, 1) >= 0) k = 1;
  const base = fl + k;
  inexact = cmpPair(fs, fe, k) !== 0;
  if (!inexact) return base;
  switch (rc) {
    case RC.Nearest: {
      const m = cmpPair(fs, fe, k + 0.5);
      return m > 0 || (m === 0 && base % 2 !== 0) ? base + 1 : base;
    }
    case RC.Down:
      return base;
    case RC.Up:
      return base + 1;
    default:
      return negative ? base + 1 : base;
  }
}

/**
 * Rounds the exact non-zero value (h + z) * 2^K to a format of `p` significand bits and normal
 * exponents emin..emax under MXCSR; returns it as a double (±Infinity on overflow to infinity) and
 * raises OE/UE/PE. `h` is a normal double carrying the leading bits, `z` the rest (exact, or rounded
 * to odd far below the format's last bit).
 */
function roundFormat(h: number, z: number, K: number, p: number, emin: number, emax: number): number {
  const negative = h < 0;
  let eb = exponentOf(h);
  if (z !== 0 && z < 0 !== negative && isPow2(h)) eb -= 1;
  const e = eb + K;
  // Rounded to p bits with unbounded exponent: decides overflow and tininess.
  const g = eb - p + 1;
  let n = roundGrid(h, z, eb, g, negative);
  let inex = inexact;
  const eR = Math.abs(n) >= 2 ** p ? e + 1 : e;
  if (eR > emax) {
    fpRaise(MXCSR.OE | MXCSR.PE);
    const toInf = rc === RC.Nearest || (rc === RC.Up && !negative) || (rc === RC.Down && negative);
    if (toInf) return negative ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    const max = ldexp(2 - 2 ** (1 - p), emax);
    return negative ? -max : max;
  }
  if (eR < emin) {
    // Tiny (after rounding).
    if (!umMasked) fpRaise(MXCSR.UE);
    else if (ftz && ftzOn) {
      fpRaise(MXCSR.UE | MXCSR.PE);
      return negative ? -0 : 0;
    }
    const gs = emin - p + 1 - K;
    n = roundGrid(h, z, eb, gs, negative);
    inex = inexact;
    if (inex) fpRaise(umMasked ? MXCSR.UE | MXCSR.PE : MXCSR.PE);
    if (n === 0) return negative ? -0 : 0;
    return ldexp(n, gs + K);
  }
  if (inex) fpRaise(MXCSR.PE);
  return ldexp(n, g + K);
}

/** Signed zero of an exact zero sum of opposite signs: -0 when rounding down, else +0 (Table 14-16). */
function exactZero(): number {
  return rc === RC.Down ? -0 : 0;
}

/**
 * Special operands of x*y + z (no NaNs; values after DAZ and negation): returns the result, NaN for
 * the invalid cases (IE raised; the caller writes the QNaN indefinite), or undefined when x, y are
 * finite non-zero or z is the only non-zero (handled by the rounding path).
 */
function special(x: number, y: number, z: number): number | undefined {
  const xInf = x === Number.POSITIVE_INFINITY || x === Number.NEGATIVE_INFINITY;
  const yInf = y === Number.POSITIVE_INFINITY || y === Number.NEGATIVE_INFINITY;
  const zInf = z === Number.POSITIVE_INFINITY || z === Number.NEGATIVE_INFINITY;
  if (xInf || yInf) {
    if (x === 0 || y === 0) {
      fpRaise(MXCSR.IE);
      return Number.NaN;
    }
    const prod = x * y;
    if (zInf && z !== prod) {
      fpRaise(MXCSR.IE);
      return Number.NaN;
    }
    return prod;
  }
  if (zInf) return z;
  if (x === 0 || y === 0) {
    if (z !== 0) return undefined;
    const prod = x * y;
    return Object.is(prod, z) ? z : exactZero();
  }
  return undefined;
}

// ------------------------------------------------------------------ binary32 / binary64 FMA

/**
 * x*y + z on binary32 bit patterns (x multiplicand, y multiplier, z addend, as Table 14-17 names them),
 * with the product negated (`negProduct`, VFNM*) and/or z negated (`negAddend`, VFMSUB/VFNMSUB).
 * Returns the result's bits.
 */
export function fma32(xb: number, yb: number, zb: number, negProduct: boolean, negAddend: boolean): number {
  const xN = isNaN32(xb);
  const yN = isNaN32(yb);
  const zN = isNaN32(zb);
  if (xN || yN || zN) {
    if (isSNaN32(xb) || isSNaN32(yb) || isSNaN32(zb)) fpRaise(MXCSR.IE);
    return ((xN ? xb : yN ? yb : zb) | 0x400000) >>> 0;
  }
  let x = in32(xb);
  const y = in32(yb);
  let z = in32(zb);
  if (negProduct) x = -x;
  if (negAddend) z = -z;
  let r = special(x, y, z);
  if (r === undefined) {
    let h: number;
    let t = 0;
    if (x === 0 || y === 0) h = z;
    else {
      h = twoSum(x * y, z);
      t = err;
    }
    r = h === 0 ? exactZero() : rc === RC.Nearest ? nearest32(h, t) : roundFormat(h, t, 0, 24, -126, 127);
  }
  return Number.isNaN(r) ? F32_INDEFINITE : f32ToBits(r);
}

const F32_MAX = 3.4028234663852886e38;

/**
 * Round to nearest of the exact h + t (TwoSum pair) to binary32: h + t rounded to odd in 53 bits,
 * then Math.fround (53 >= 24 + 2 makes the double rounding exact). Results that may be tiny or
 * overflow take the general path.
 */
function nearest32(h: number, t: number): number {
  let v = h;
  if (t !== 0) {
    F64[0] = h;
    if ((U32[0]! & 1) === 0) v = sumToOdd(h, t);
  }
  const r = Math.fround(v);
  const a = Math.abs(r);
  if (a <= 2 ** -126 || a > F32_MAX) return roundFormat(h, t, 0, 24, -126, 127);
  if (r !== v) fpRaise(MXCSR.PE);
  return r;
}

const STAND_IN = 2 ** -400;

/** x*y + z on binary64 (lo, hi) word pairs, as {@link fma32}; returns the low word, the high in {@link resultHi}. */
export function fma64(
  xlo: number,
  xhi: number,
  ylo: number,
  yhi: number,
  zlo: number,
  zhi: number,
  negProduct: boolean,
  negAddend: boolean,
): number {
  const xN = isNaN64(xhi, xlo);
  const yN = isNaN64(yhi, ylo);
  const zN = isNaN64(zhi, zlo);
  if (xN || yN || zN) {
    if (isSNaN64(xhi, xlo) || isSNaN64(yhi, ylo) || isSNaN64(zhi, zlo)) fpRaise(MXCSR.IE);
    resultHi = ((xN ? xhi : yN ? yhi : zhi) | 0x80000) >>> 0;
    return xN ? xlo : yN ? ylo : zlo;
  }
  let x = in64(xhi, xlo);
  const y = in64(yhi, ylo);
  let z = in64(zhi, zlo);
  if (negProduct) x = -x;
  if (negAddend) z = -z;
  let r = special(x, y, z);
  if (r === undefined) r = fmaFinite64(x, y, z);
  if (Number.isNaN(r)) {
    resultHi = 0xfff80000;
    return 0;
  }
  return out64(r);
}

/** x*y + z correctly rounded to binary64, x*y or z non-zero, all finite. */
function fmaFinite64(x: number, y: number, z: number): number {
  if (x === 0 || y === 0) {
    const kz = exponentOf(z);
    return roundFormat(ldexp(z, -kz), 0, kz, 53, -1022, 1023);
  }
  const kx = exponentOf(x);
  const ky = exponentOf(y);
  let ph = twoProd(ldexp(x, -kx), ldexp(y, -ky));
  let pl = err;
  let K = kx + ky;
  let c = 0;
  if (z !== 0) {
    const kz = exponentOf(z);
    const d = kz - K;
    if (d > 300) {
      // The product lies far below z's last bit: only its sign matters.
      c = ldexp(z, -kz);
      K = kz;
      ph = ph > 0 ? STAND_IN : -STAND_IN;
      pl = 0;
    } else if (d < -300) c = z > 0 ? STAND_IN : -STAND_IN;
    else c = ldexp(z, -K);
  }
  const s1 = twoSum(ph, c);
  const e1 = err;
  const s2 = twoSum(e1, pl);
  const e2 = err;
  let h = twoSum(s1, s2);
  let t = sumToOdd(err, e2);
  if (h === 0) {
    if (t === 0) return exactZero();
    h = t;
    t = 0;
  }
  if (rc === RC.Nearest) {
    // Far from the exponent limits the nearest double of h + t is the result (see the file comment).
    const e = exponentOf(h) + K;
    if (e > -1000 && e < 1000) {
      const r = twoSum(h, t);
      if (err !== 0) fpRaise(MXCSR.PE);
      return ldexp(r, K);
    }
  }
  return roundFormat(h, t, K, 53, -1022, 1023);
}

// ------------------------------------------------------------------ F16C

/**
 * binary16 -> binary32 bits, exact (VCVTPH2PS): half denormals become single normals; DAZ does not
 * apply and no DE is reported; an SNaN raises IE and is quieted.
 */
export function halfToSingle(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) {
    if (m === 0) return (sign | 0x7f800000) >>> 0;
    if ((m & 0x200) === 0) fpRaise(MXCSR.IE);
    return (sign | 0x7fc00000 | (m << 13)) >>> 0;
  }
  if (e === 0) {
    if (m === 0) return sign >>> 0;
    return (f32ToBits(m * 2 ** -24) | sign) >>> 0;
  }
  return (sign | ((e - 15 + 127) << 23) | (m << 13)) >>> 0;
}

/**
 * binary32 -> binary16 bits under the current rounding (VCVTPS2PH): DAZ applies to the input, FTZ
 * does not (tiny results become half denormals); IE for an SNaN (quieted, payload truncated), DE for a
 * denormal input, OE/UE/PE.
 */
export function singleToHalf(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  if (isNaN32(b)) {
    if (isSNaN32(b)) fpRaise(MXCSR.IE);
    return sign | 0x7e00 | ((b >>> 13) & 0x3ff);
  }
  const v = in32(b);
  if (v === 0) return sign;
  if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) return sign | 0x7c00;
  ftzOn = false;
  const r = roundFormat(v, 0, 0, 11, -14, 15);
  ftzOn = true;
  const a = Math.abs(r);
  if (a === Number.POSITIVE_INFINITY) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | (a * 2 ** 24);
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | ((a * 2 ** -e - 1) * 1024);
}
