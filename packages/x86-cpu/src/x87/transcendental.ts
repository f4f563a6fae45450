// F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS.
//
// Arguments are split exactly into a double-double significand in [1, 2) and an integer exponent;
// the functions are evaluated in double-double (about 100 correct bits) and the sum hi + lo is
// rounded once to the 64-bit significand under the rounding control, so results are correctly
// rounded except when the exact value lies within ~2^-100 relative of a rounding boundary. Tiny
// arguments, where the leading term decides, round exactly through a sticky nudge. Trigonometric
// arguments are reduced by pi/2 with a 152-bit Cody-Waite split for |x| < 2^20 and with an exact
// 256-bit pi (bigint; rare arguments only) up to the x87 limit 2^63, beyond which C2 is set.

import { EX_DE, EX_IE, EX_PE, EX_ZE } from './bits.js';
import { dd, ddAdd, ddDiv, ddMul, ddNorm, ddScale, ddSqrt } from './dd.js';
import {
  add,
  CLS_DENORMAL,
  CLS_INF,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  classify,
  div,
  EXP_BIAS,
  EXP_MAX,
  F80,
  FloatEnv,
  fromF64,
  isNaNClass,
  mul,
  packRounded,
  scaleBy,
  setIndefinite,
} from './softfloat.js';

export const TR_F2XM1 = 0;
export const TR_FYL2X = 1;
export const TR_FYL2XP1 = 2;
export const TR_FPTAN = 3;
export const TR_FPATAN = 4;
export const TR_FSIN = 5;
export const TR_FCOS = 6;
export const TR_FSINCOS = 7;

/** The argument of a trigonometric instruction was out of range (|x| >= 2^63): C2 = 1. */
export const TRANS_OUT_OF_RANGE = 1;

const bitsView = new DataView(new ArrayBuffer(8));
function f64FromBits(hi: number, lo: number): number {
  bitsView.setUint32(0, hi);
  bitsView.setUint32(4, lo);
  return bitsView.getFloat64(0);
}

// Double-double constants (hi, lo).
const LN2_HI = Math.LN2;
const LN2_LO = 2.3190468138462996e-17;
const LOG2E_HI = Math.LOG2E;
const LOG2E_LO = 2.0355273740931033e-17;
const PI_HI = Math.PI;
const PI_LO = 1.2246467991473532e-16;
const PIO2_HI = Math.PI / 2;
const PIO2_LO = 6.123233995736766e-17;
const PIO4_HI = Math.PI / 4;
const PIO4_LO = 3.061616997868383e-17;
// pi/2 = P1 + P2 + P3 + P3T; P1..P3 have 33 significant bits so k * Pi is exact for |k| < 2^20.
const P1 = f64FromBits(0x3ff921fb, 0x54400000);
const P2 = f64FromBits(0x3dd0b461, 0x1a600000);
const P3 = f64FromBits(0x3ba3198a, 0x2e000000);
const P3T = f64FromBits(0x397b839a, 0x252049c1);
const TWO_OVER_PI = 0.6366197723675814;

/** pi * 16^64 (256 fraction bits), from the hexadecimal expansion of pi. */
const PI_HEX = '3243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89';

// Split operand: value = (-1)^sSign * (sHi + sLo) * 2^sExp with sHi + sLo in [1, 2); sinH..cosL
// hold the results of sinCosDD. An object, so V8 updates the double fields in place.
const T = { sSign: 0, sHi: 0.5, sLo: 0.5, sExp: 0, sinH: 0.5, sinL: 0.5, cosH: 0.5, cosL: 0.5 };

function split(x: F80): void {
  T.sSign = x.se >>> 15;
  let e = x.se & EXP_MAX;
  let h = x.hi;
  let l = x.lo;
  if (e === 0) {
    e = 1;
    if (h === 0) {
      h = l;
      l = 0;
      e -= 32;
    }
    const s = Math.clz32(h);
    if (s !== 0) {
      h = ((h << s) | (l >>> (32 - s))) >>> 0;
      l = (l << s) >>> 0;
      e -= s;
    }
  }
  T.sExp = e - EXP_BIAS;
  ddNorm((h * 2097152 + (l >>> 11)) * 2 ** -52, (l & 0x7ff) * 2 ** -63);
  T.sHi = dd.hi;
  T.sLo = dd.lo;
}

const tmpEnv = new FloatEnv();
const fa = new F80();
const fb = new F80();
const fc = new F80();
const ONE = new F80().set(0x3fff, 0x80000000, 0);
const LN2_F80 = new F80().set(0x3ffe, 0xb17217f7, 0xd1cf79ac);
const LOG2E_F80 = new F80().set(0x3fff, 0xb8aa3b29, 0x5c17f0bc);

function f64ToF80(d: number, adj: number, out: F80): void {
  bitsView.setFloat64(0, d);
  fromF64(tmpEnv, bitsView.getUint32(4), bitsView.getUint32(0), false, out);
  if (d !== 0) out.se = (out.se & 0x8000) | ((out.se & EXP_MAX) + adj);
}

/** out = (h + l) * 2^adj rounded once to 64 bits under env.rc. */
function ddToF80(env: FloatEnv, h: number, l: number, adj: number, out: F80): void {
  if (h === 0) {
    out.set(0, 0, 0);
    return;
  }
  bitsView.setFloat64(0, h);
  const eh = ((bitsView.getUint32(0) >>> 20) & 0x7ff) - 1023;
  const e = eh + adj + EXP_BIAS;
  if (e <= 64 || e >= EXP_MAX - 1) {
    // Near the ends of the exponent range: scale the high part (the low part only adds PE).
    f64ToF80(h, 0, fa);
    scaleBy(env, fa, adj, out);
    env.flags |= EX_PE;
    return;
  }
  f64ToF80(h, adj, fa);
  f64ToF80(l, adj, fb);
  const p = env.precision;
  env.precision = 64;
  add(env, fa, fb, false, out);
  env.precision = p;
}

/** Result = v with magnitude nudged by less than 2^-32 ulp (up or down), rounded under env.rc. */
function nudge(env: FloatEnv, v: F80, up: boolean, out: F80): void {
  let e = v.se & EXP_MAX;
  let h = v.hi;
  let l = v.lo;
  if (e === 0) {
    e = 1;
    if (h === 0) {
      h = l;
      l = 0;
      e -= 32;
    }
    const s = Math.clz32(h);
    if (s !== 0) {
      h = ((h << s) | (l >>> (32 - s))) >>> 0;
      l = (l << s) >>> 0;
      e -= s;
    }
  }
  if (up) {
    packRounded(env, v.se >>> 15, e, h, l, 1, 64, out);
    return;
  }
  if (l === 0) {
    h = (h - 1) >>> 0;
    l = 0xffffffff;
  } else l -= 1;
  packRounded(env, v.se >>> 15, e, h, l, 0xffffffff, 64, out);
}

// ---- double-double kernels (results in dd.hi, dd.lo) -----------------------------------------------

const TERM_LIMIT = 2 ** -112;

/** expm1(t) for |t| <= 1. */
function expm1DD(th: number, tl: number): void {
  const k = 10;
  const uh = th * 2 ** -k;
  const ul = tl * 2 ** -k;
  // Taylor series of expm1(u).
  let sh = uh;
  let sl = ul;
  let termH = uh;
  let termL = ul;
  for (let n = 2; n < 30; n++) {
    ddMul(termH, termL, uh, ul);
    ddDiv(dd.hi, dd.lo, n, 0);
    termH = dd.hi;
    termL = dd.lo;
    ddAdd(sh, sl, termH, termL);
    sh = dd.hi;
    sl = dd.lo;
    if (Math.abs(termH) < TERM_LIMIT * Math.abs(sh)) break;
  }
  // expm1(2u) = expm1(u) * (expm1(u) + 2).
  for (let i = 0; i < k; i++) {
    ddAdd(sh, sl, 2, 0);
    ddMul(sh, sl, dd.hi, dd.lo);
    sh = dd.hi;
    sl = dd.lo;
  }
  ddNorm(sh, sl);
}

/** 2 * atanh(s) = s-series for ln((1+s)/(1-s)), |s| <= 1/3. */
function lnSeries(sh: number, sl: number): void {
  ddMul(sh, sl, sh, sl);
  const s2h = dd.hi;
  const s2l = dd.lo;
  let termH = sh;
  let termL = sl;
  let accH = sh;
  let accL = sl;
  for (let n = 3; n < 200; n += 2) {
    ddMul(termH, termL, s2h, s2l);
    termH = dd.hi;
    termL = dd.lo;
    ddDiv(termH, termL, n, 0);
    const qh = dd.hi;
    ddAdd(accH, accL, qh, dd.lo);
    accH = dd.hi;
    accL = dd.lo;
    if (Math.abs(qh) < TERM_LIMIT * Math.abs(accH)) break;
  }
  ddNorm(2 * accH, 2 * accL);
}

/** log2((mh + ml) * 2^e) for mh + ml in [1, 2). */
function log2DD(mh: number, ml: number, e: number): void {
  if (mh > Math.SQRT2) {
    mh /= 2;
    ml /= 2;
    e += 1;
  }
  // s = (m - 1) / (m + 1)
  ddAdd(mh, ml, -1, 0);
  const nh = dd.hi;
  const nl = dd.lo;
  ddAdd(mh, ml, 1, 0);
  ddDiv(nh, nl, dd.hi, dd.lo);
  lnSeries(dd.hi, dd.lo);
  ddMul(dd.hi, dd.lo, LOG2E_HI, LOG2E_LO);
  ddAdd(dd.hi, dd.lo, e, 0);
}

/** ln(1 + x) for a double-double x > -1 (x not tiny). */
function log1pDD(xh: number, xl: number): void {
  if (Math.abs(xh) <= 0.25) {
    ddAdd(xh, xl, 2, 0);
    ddDiv(xh, xl, dd.hi, dd.lo);
    lnSeries(dd.hi, dd.lo);
    return;
  }
  ddAdd(xh, xl, 1, 0);
  const uh = dd.hi;
  const ul = dd.lo;
  const e = Math.floor(Math.log2(uh));
  ddScale(uh, ul, -e);
  let mh = dd.hi;
  let ml = dd.lo;
  let k = e;
  if (mh < 1) {
    mh *= 2;
    ml *= 2;
    k -= 1;
  } else if (mh >= 2) {
    mh /= 2;
    ml /= 2;
    k += 1;
  }
  log2DD(mh, ml, k);
  ddMul(dd.hi, dd.lo, LN2_HI, LN2_LO);
}

/** atan(t) for 0 <= t <= 1. */
function atanDD(th: number, tl: number): void {
  // Three halvings: atan(t) = 2 atan(t / (1 + sqrt(1 + t^2))).
  for (let i = 0; i < 3; i++) {
    ddMul(th, tl, th, tl);
    ddAdd(dd.hi, dd.lo, 1, 0);
    ddSqrt(dd.hi, dd.lo);
    ddAdd(dd.hi, dd.lo, 1, 0);
    ddDiv(th, tl, dd.hi, dd.lo);
    th = dd.hi;
    tl = dd.lo;
  }
  ddMul(th, tl, th, tl);
  const t2h = dd.hi;
  const t2l = dd.lo;
  let termH = th;
  let termL = tl;
  let accH = th;
  let accL = tl;
  for (let n = 3; n < 200; n += 2) {
    ddMul(termH, termL, -t2h, -t2l);
    termH = dd.hi;
    termL = dd.lo;
    ddDiv(termH, termL, n, 0);
    const qh = dd.hi;
    ddAdd(accH, accL, qh, dd.lo);
    accH = dd.hi;
    accL = dd.lo;
    if (Math.abs(qh) < TERM_LIMIT * Math.abs(accH)) break;
  }
  ddNorm(accH * 8, accL * 8);
}

/** sin and cos of |r| <= pi/4 (+ a little) into T.sinH/T.sinL, T.cosH/T.cosL. */
function sinCosDD(rh: number, rl: number): void {
  ddMul(rh, rl, rh, rl);
  const r2h = dd.hi;
  const r2l = dd.lo;
  // sin
  let termH = rh;
  let termL = rl;
  let accH = rh;
  let accL = rl;
  for (let n = 2; n < 60; n += 2) {
    ddMul(termH, termL, -r2h, -r2l);
    ddDiv(dd.hi, dd.lo, n * (n + 1), 0);
    termH = dd.hi;
    termL = dd.lo;
    ddAdd(accH, accL, termH, termL);
    accH = dd.hi;
    accL = dd.lo;
    if (Math.abs(termH) < TERM_LIMIT * Math.abs(accH)) break;
  }
  T.sinH = accH;
  T.sinL = accL;
  // cos
  termH = 1;
  termL = 0;
  accH = 1;
  accL = 0;
  for (let n = 1; n < 60; n += 2) {
    ddMul(termH, termL, -r2h, -r2l);
    ddDiv(dd.hi, dd.lo, n * (n + 1), 0);
    termH = dd.hi;
    termL = dd.lo;
    ddAdd(accH, accL, termH, termL);
    accH = dd.hi;
    accL = dd.lo;
    if (Math.abs(termH) < TERM_LIMIT) break;
  }
  T.cosH = accH;
  T.cosL = accL;
}

let piBig: bigint | undefined;

/**
 * Reduce the split argument (|x| < 2^63, |x| > pi/4) modulo pi/2: returns the quadrant and leaves
 * the reduced argument in dd.hi/dd.lo.
 */
function reduce(): number {
  if (T.sExp < 20) {
    ddScale(T.sHi, T.sLo, T.sExp);
    const xh = dd.hi;
    const xl = dd.lo;
    const k = Math.round(xh * TWO_OVER_PI);
    ddAdd(xh, xl, -k * P1, 0);
    ddAdd(dd.hi, dd.lo, -k * P2, 0);
    ddAdd(dd.hi, dd.lo, -k * P3, 0);
    ddAdd(dd.hi, dd.lo, -k * P3T, 0);
    return ((k % 4) + 4) % 4;
  }
  // Large arguments (rare): exact reduction with a 256-bit pi.
  if (piBig === undefined) piBig = BigInt(`0x${PI_HEX}`);
  const S = 256n;
  const halfPi = piBig >> 1n; // pi/2 * 2^256
  const mant = BigInt(T.sHi * 2 ** 52) * 2048n + BigInt(Math.round(T.sLo * 2 ** 63));
  const x = mant << (BigInt(T.sExp - 63) + S);
  let k = x / halfPi;
  let r = x - k * halfPi;
  if (r * 2n > halfPi) {
    r -= halfPi;
    k += 1n;
  }
  const h = Number(r) * 2 ** -256;
  const l = Number(r - BigInt(h * 2 ** 256)) * 2 ** -256;
  ddNorm(h, l);
  return Number(k % 4n);
}

// ---- instruction entry -------------------------------------------------------------------------

/**
 * Evaluate transcendental `op` with x = ST(0) and y = ST(1) (y unused by the one-operand forms)
 * into out0 (and out1 for FPTAN: 1.0, FSINCOS: cos). Returns TRANS_OUT_OF_RANGE for trigonometric
 * arguments with |x| >= 2^63 (nothing written, C2 = 1), else 0. Flags go to env.
 */
export function transcendental(env: FloatEnv, op: number, x: F80, y: F80, out0: F80, out1: F80): number {
  const cx = classify(x);
  const binary = op === TR_FYL2X || op === TR_FYL2XP1 || op === TR_FPATAN;
  const cy = binary ? classify(y) : CLS_ZERO;
  if (cx === CLS_UNSUPPORTED || cy === CLS_UNSUPPORTED) {
    env.flags |= EX_IE;
    setIndefinite(out0);
    setIndefinite(out1);
    return 0;
  }
  if (isNaNClass(cx) || isNaNClass(cy)) {
    if (binary) add(env, y, x, false, out0);
    else add(env, x, x, false, out0);
    out1.copy(out0);
    return 0;
  }
  if (cx === CLS_DENORMAL || cy === CLS_DENORMAL) env.flags |= EX_DE;
  switch (op) {
    case TR_F2XM1:
      f2xm1(env, x, cx, out0);
      return 0;
    case TR_FYL2X:
      fyl2x(env, x, cx, y, cy, out0);
      return 0;
    case TR_FYL2XP1:
      fyl2xp1(env, x, cx, y, cy, out0);
      return 0;
    case TR_FPATAN:
      fpatan(env, x, cx, y, cy, out0);
      return 0;
    default:
      return trig(env, op, x, cx, out0, out1);
  }
}

function f2xm1(env: FloatEnv, x: F80, cx: number, out: F80): void {
  const neg = (x.se & 0x8000) !== 0;
  if (cx === CLS_ZERO) {
    out.copy(x);
    return;
  }
  if (cx === CLS_INF) {
    if (neg) out.set(0xbfff, 0x80000000, 0);
    else out.copy(x);
    return;
  }
  split(x);
  if (T.sExp === 0 && T.sHi === 1 && T.sLo === 0) {
    // 2^1 - 1 = 1 and 2^-1 - 1 = -0.5, exactly.
    if (neg) out.set(0xbffe, 0x80000000, 0);
    else out.copy(ONE);
    return;
  }
  if (T.sExp < -1000) {
    // 2^x - 1 = x ln 2 (1 + x ln2 / 2 + ...): the first term decides.
    mul(env, x, LN2_F80, fc);
    nudge(env, fc, !neg, out);
    env.flags |= EX_PE;
    return;
  }
  if (T.sExp < 0) {
    ddScale(T.sHi, T.sLo, T.sExp);
    const xh = neg ? -dd.hi : dd.hi;
    const xl = neg ? -dd.lo : dd.lo;
    ddMul(xh, xl, LN2_HI, LN2_LO);
    expm1DD(dd.hi, dd.lo);
    ddToF80(env, dd.hi, dd.lo, 0, out);
    return;
  }
  // Outside the architectural domain [-1, 1]: 2^n * 2^f - 1.
  if (T.sExp >= 15) {
    if (neg) {
      fa.set(0xbfff, 0x80000000, 0);
      nudge(env, fa, false, out);
      env.flags |= EX_PE;
    } else scaleBy(env, ONE, 0x8000, out);
    return;
  }
  ddScale(T.sHi, T.sLo, T.sExp);
  let xh = neg ? -dd.hi : dd.hi;
  let xl = neg ? -dd.lo : dd.lo;
  const n = Math.floor(xh);
  ddNorm(xh - n, xl);
  xh = dd.hi;
  xl = dd.lo;
  ddMul(xh, xl, LN2_HI, LN2_LO);
  expm1DD(dd.hi, dd.lo);
  ddAdd(dd.hi, dd.lo, 1, 0);
  ddScale(dd.hi, dd.lo, n);
  ddAdd(dd.hi, dd.lo, -1, 0);
  ddToF80(env, dd.hi, dd.lo, 0, out);
}

/** Result sign/zero/infinity helpers. */
function setZero(out: F80, sign: number): void {
  out.set(sign << 15, 0, 0);
}
function setInf(out: F80, sign: number): void {
  out.set((sign << 15) | EXP_MAX, 0x80000000, 0);
}

function fyl2x(env: FloatEnv, x: F80, cx: number, y: F80, cy: number, out: F80): void {
  const xNeg = (x.se & 0x8000) !== 0;
  const yNeg = y.se >>> 15;
  if (xNeg && cx !== CLS_ZERO) {
    env.flags |= EX_IE;
    setIndefinite(out);
    return;
  }
  if (cx === CLS_ZERO) {
    if (cy === CLS_ZERO) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else {
      if (cy !== CLS_INF) env.flags |= EX_ZE;
      setInf(out, yNeg ^ 1);
    }
    return;
  }
  if (cx === CLS_INF) {
    if (cy === CLS_ZERO) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else setInf(out, yNeg);
    return;
  }
  split(x);
  const isOne = T.sExp === 0 && T.sHi === 1 && T.sLo === 0;
  const below = T.sExp < 0; // x < 1
  if (isOne) {
    if (cy === CLS_INF) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else setZero(out, yNeg);
    return;
  }
  if (cy === CLS_INF) {
    setInf(out, yNeg ^ (below ? 1 : 0));
    return;
  }
  if (cy === CLS_ZERO) {
    setZero(out, yNeg ^ (below ? 1 : 0));
    return;
  }
  log2DD(T.sHi, T.sLo, T.sExp);
  const lh = dd.hi;
  const ll = dd.lo;
  split(y);
  ddMul(yNeg ? -T.sHi : T.sHi, yNeg ? -T.sLo : T.sLo, lh, ll);
  ddToF80(env, dd.hi, dd.lo, T.sExp, out);
}

function fyl2xp1(env: FloatEnv, x: F80, cx: number, y: F80, cy: number, out: F80): void {
  const xNeg = x.se >>> 15;
  const yNeg = y.se >>> 15;
  if (cx === CLS_ZERO) {
    if (cy === CLS_INF) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else setZero(out, xNeg ^ yNeg);
    return;
  }
  if (cx === CLS_INF) {
    if (xNeg || cy === CLS_ZERO) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else setInf(out, yNeg);
    return;
  }
  split(x);
  if (xNeg && T.sExp >= 0) {
    // x <= -1: log2(1 + x) undefined (x = -1 is log2(0)).
    if (T.sExp === 0 && T.sHi === 1 && T.sLo === 0 && cy !== CLS_ZERO) {
      if (cy !== CLS_INF) env.flags |= EX_ZE;
      setInf(out, yNeg ^ 1);
    } else {
      env.flags |= EX_IE;
      setIndefinite(out);
    }
    return;
  }
  if (cy === CLS_INF) {
    setInf(out, xNeg ^ yNeg);
    return;
  }
  if (cy === CLS_ZERO) {
    setZero(out, xNeg ^ yNeg);
    return;
  }
  if (T.sExp < -1000) {
    // log2(1 + x) = x log2(e) (1 - x/2 + ...).
    mul(env, x, LOG2E_F80, fc);
    mul(env, fc, y, fa);
    nudge(env, fa, false, out);
    env.flags |= EX_PE;
    return;
  }
  ddScale(T.sHi, T.sLo, T.sExp);
  log1pDD(xNeg ? -dd.hi : dd.hi, xNeg ? -dd.lo : dd.lo);
  ddMul(dd.hi, dd.lo, LOG2E_HI, LOG2E_LO);
  const lh = dd.hi;
  const ll = dd.lo;
  split(y);
  ddMul(yNeg ? -T.sHi : T.sHi, yNeg ? -T.sLo : T.sLo, lh, ll);
  ddToF80(env, dd.hi, dd.lo, T.sExp, out);
}

function fpatan(env: FloatEnv, x: F80, cx: number, y: F80, cy: number, out: F80): void {
  const xNeg = (x.se & 0x8000) !== 0;
  const yNeg = y.se >>> 15;
  let ah: number;
  let al: number;
  if (cy === CLS_ZERO) {
    if (!xNeg) {
      setZero(out, yNeg);
      return;
    }
    ah = PI_HI;
    al = PI_LO;
  } else if (cx === CLS_ZERO) {
    ah = PIO2_HI;
    al = PIO2_LO;
  } else if (cy === CLS_INF) {
    if (cx === CLS_INF) {
      if (xNeg) {
        ddMul(PIO4_HI, PIO4_LO, 3, 0);
        ah = dd.hi;
        al = dd.lo;
      } else {
        ah = PIO4_HI;
        al = PIO4_LO;
      }
    } else {
      ah = PIO2_HI;
      al = PIO2_LO;
    }
  } else if (cx === CLS_INF) {
    if (!xNeg) {
      setZero(out, yNeg);
      return;
    }
    ah = PI_HI;
    al = PI_LO;
  } else {
    split(x);
    const xh = T.sHi;
    const xl = T.sLo;
    const xe = T.sExp;
    split(y);
    const d = T.sExp - xe;
    if (d < -1000 && !xNeg) {
      // atan(t) = t (1 - t^2/3 ...) with t = |y/x| tiny.
      const p = env.precision;
      env.precision = 64;
      div(env, y, x, fc);
      env.precision = p;
      fc.se &= 0x7fff;
      nudge(env, fc, false, out);
      out.se |= yNeg << 15;
      env.flags |= EX_PE;
      return;
    }
    if (d > 1000) {
      ah = PIO2_HI;
      al = PIO2_LO;
    } else if (d < -1000) {
      ah = PI_HI;
      al = PI_LO;
    } else {
      ddDiv(T.sHi, T.sLo, xh, xl);
      ddScale(dd.hi, dd.lo, d);
      const th = dd.hi;
      const tl = dd.lo;
      if (th > 1) {
        ddDiv(1, 0, th, tl);
        atanDD(dd.hi, dd.lo);
        ddAdd(PIO2_HI, PIO2_LO, -dd.hi, -dd.lo);
      } else atanDD(th, tl);
      ah = dd.hi;
      al = dd.lo;
      if (xNeg) {
        ddAdd(PI_HI, PI_LO, -ah, -al);
        ah = dd.hi;
        al = dd.lo;
      }
    }
  }
  ddToF80(env, yNeg ? -ah : ah, yNeg ? -al : al, 0, out);
}

function trig(env: FloatEnv, op: number, x: F80, cx: number, out0: F80, out1: F80): number {
  if (cx === CLS_INF) {
    env.flags |= EX_IE;
    setIndefinite(out0);
    setIndefinite(out1);
    return 0;
  }
  if (cx === CLS_ZERO) {
    if (op === TR_FCOS) out0.copy(ONE);
    else out0.copy(x);
    out1.copy(ONE); // FPTAN pushes 1.0; FSINCOS pushes cos(0)
    return 0;
  }
  split(x);
  if (T.sExp >= 63) return TRANS_OUT_OF_RANGE;
  const neg = T.sSign !== 0;
  if (T.sExp < -32) {
    // sin x = x - x^3/6, tan x = x + x^3/3, cos x = 1 - x^2/2: the leading term decides.
    env.flags |= EX_PE;
    if (op === TR_FCOS) {
      nudge(env, ONE, false, out0);
      return 0;
    }
    nudge(env, x, op === TR_FPTAN, out0);
    if (op === TR_FPTAN) out1.copy(ONE);
    else if (op === TR_FSINCOS) {
      const f = env.flags;
      nudge(env, ONE, false, out1);
      env.flags = f | EX_PE;
    }
    return 0;
  }
  let q = 0;
  let rh: number;
  let rl: number;
  if (T.sExp < 0 && (T.sHi < PIO2_HI || T.sExp < -1)) {
    // |x| < pi/4: no reduction.
    ddScale(T.sHi, T.sLo, T.sExp);
    rh = dd.hi;
    rl = dd.lo;
  } else {
    q = reduce();
    rh = dd.hi;
    rl = dd.lo;
  }
  if (neg) {
    rh = -rh;
    rl = -rl;
    q = (4 - q) & 3;
  }
  sinCosDD(rh, rl);
  let s1h = T.sinH;
  let s1l = T.sinL;
  let c1h = T.cosH;
  let c1l = T.cosL;
  // Rotate by the quadrant: x = r + q pi/2.
  for (let i = 0; i < q; i++) {
    const th = s1h;
    const tl = s1l;
    s1h = c1h;
    s1l = c1l;
    c1h = -th;
    c1l = -tl;
  }
  if (op === TR_FSIN) ddToF80(env, s1h, s1l, 0, out0);
  else if (op === TR_FCOS) ddToF80(env, c1h, c1l, 0, out0);
  else if (op === TR_FSINCOS) {
    ddToF80(env, s1h, s1l, 0, out0);
    ddToF80(env, c1h, c1l, 0, out1);
  } else {
    ddDiv(s1h, s1l, c1h, c1l);
    ddToF80(env, dd.hi, dd.lo, 0, out0);
    out1.copy(ONE);
  }
  return 0;
}
