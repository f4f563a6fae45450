// 80-bit extended-precision software floating point with x87 semantics.
//
// A value is sign (1 bit), biased exponent (15 bits, bias 16383) and a 64-bit significand with an
// explicit integer bit, kept as two unsigned 32-bit halves (`hi`, `lo`). Results are rounded once,
// under the rounding control and the precision control (24/53/64 bits, SDM Vol. 1, 8.1.5.2) of a
// `FloatEnv`, which also collects the exception flags. Tininess is detected after rounding, the
// masked underflow response sets UE only for inexact tiny results, and unmasked overflow/underflow
// deliver the bias-adjusted result (exponent -/+ 24576, SDM Vol. 1, 8.5.4 and 8.5.5).
//
// Nothing here allocates: intermediate significands live in one preallocated scratch object, the
// 64x64-bit product is built from 16-bit partial products, division produces radix-2^32 digits
// (double-precision estimate, exact correction) and square root refines a double estimate with
// Newton steps on the exact remainder.

import { EX_DE, EX_IE, EX_OE, EX_PE, EX_UE, EX_ZE, RC_DOWN, RC_NEAREST, RC_UP, RC_ZERO } from './bits.js';

const TWO32 = 4294967296;
export const EXP_BIAS = 16383;
export const EXP_MAX = 0x7fff;
/** Bias adjustment of the unmasked overflow/underflow responses (SDM Vol. 1, 8.5.4). */
const BIAS_ADJUST = 24576;
const QUIET_BIT = 0x40000000;
const INT_BIT = 0x80000000;

/** A mutable 80-bit register image. `se` = sign << 15 | exponent; `hi`, `lo` = significand halves. */
export class F80 {
  se = 0;
  hi = 0;
  lo = 0;
  set(se: number, hi: number, lo: number): this {
    this.se = se;
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }
  copy(x: F80): this {
    this.se = x.se;
    this.hi = x.hi;
    this.lo = x.lo;
    return this;
  }
  get sign(): number {
    return this.se >>> 15;
  }
  get exp(): number {
    return this.se & EXP_MAX;
  }
}

/** Rounding parameters in force and the exception flags raised since `clear()`. */
export class FloatEnv {
  /** Rounding control, RC_*. */
  rc = RC_NEAREST;
  /** Significand precision for the arithmetic the precision control governs: 24, 53 or 64. */
  precision = 64;
  /** Exception masks from the control word (EX_* bits set = masked). */
  masks = 0x3f;
  /** EX_* flags raised. */
  flags = 0;
  /** True when an inexact result was rounded away from zero (reported in C1). */
  roundedUp = false;
  clear(): void {
    this.flags = 0;
    this.roundedUp = false;
  }
}

/** Operand classes. */
export const CLS_ZERO = 0;
export const CLS_NORMAL = 1;
/** Denormal or pseudo-denormal (exponent 0). */
export const CLS_DENORMAL = 2;
export const CLS_INF = 3;
export const CLS_QNAN = 4;
export const CLS_SNAN = 5;
/** Unnormal, pseudo-NaN, pseudo-infinity: invalid operands since the 387 (SDM Vol. 1, 8.2.2). */
export const CLS_UNSUPPORTED = 6;

export function classify(x: F80): number {
  const e = x.se & EXP_MAX;
  const h = x.hi;
  if (e === EXP_MAX) {
    if ((h & INT_BIT) === 0) return CLS_UNSUPPORTED;
    if ((h & 0x7fffffff) === 0 && x.lo === 0) return CLS_INF;
    return (h & QUIET_BIT) !== 0 ? CLS_QNAN : CLS_SNAN;
  }
  if (e === 0) return h === 0 && x.lo === 0 ? CLS_ZERO : CLS_DENORMAL;
  return (h & INT_BIT) !== 0 ? CLS_NORMAL : CLS_UNSUPPORTED;
}

export function isNaNClass(c: number): boolean {
  return c === CLS_QNAN || c === CLS_SNAN;
}

/** The real indefinite (default QNaN): sign 1, exponent 7FFF, significand C000000000000000. */
export function setIndefinite(out: F80): void {
  out.set(0xffff, 0xc0000000, 0);
}

// ---- scratch state -------------------------------------------------------------------------------

// Scratch registers live in one object: V8 updates double-valued object fields in place, while
// module-level `let` numbers outside the small-integer range would allocate on every write.
const S = {
  // Working significand: g0:g1 (64 bits, g0 bit 31 = integer bit when normalized) and g2, 32 more
  // bits whose lowest bit is also a sticky bit for anything shifted out below it.
  g0: 0.5,
  g1: 0.5,
  g2: 0.5,
  // Unpacked operands: normalized significands, exponents may be < 1 for denormals.
  aExp: 0,
  a0: 0.5,
  a1: 0.5,
  bExp: 0,
  b0: 0.5,
  b1: 0.5,
  // Product and integer-conversion outputs.
  mHi: 0.5,
  mLo: 0.5,
  iHi: 0.5,
  iLo: 0.5,
};

function unpackA(x: F80): void {
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
  S.aExp = e;
  S.a0 = h;
  S.a1 = l;
}

function unpackB(x: F80): void {
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
  S.bExp = e;
  S.b0 = h;
  S.b1 = l;
}

/** Unbiased exponent of a finite nonzero value after normalization (denormals below -16382). */
export function normalizedExponent(x: F80): number {
  unpackA(x);
  return S.aExp - EXP_BIAS;
}

/** Shift S.g0:S.g1:S.g2 right by n bits, OR-ing everything shifted out into the lowest bit of S.g2. */
function shiftRightJam(n: number): void {
  if (n <= 0) return;
  if (n >= 96) {
    const nonzero = S.g0 !== 0 || S.g1 !== 0 || S.g2 !== 0;
    S.g0 = 0;
    S.g1 = 0;
    S.g2 = nonzero ? 1 : 0;
    return;
  }
  let sticky = 0;
  while (n >= 32) {
    sticky |= S.g2;
    S.g2 = S.g1;
    S.g1 = S.g0;
    S.g0 = 0;
    n -= 32;
  }
  if (n > 0) {
    sticky |= S.g2 << (32 - n);
    S.g2 = ((S.g2 >>> n) | (S.g1 << (32 - n))) >>> 0;
    S.g1 = ((S.g1 >>> n) | (S.g0 << (32 - n))) >>> 0;
    S.g0 = S.g0 >>> n;
  }
  if (sticky !== 0) S.g2 = (S.g2 | 1) >>> 0;
}

/** Shift S.g0:S.g1:S.g2 left until S.g0 bit 31 is set; returns the shift count (0 for a zero value). */
function normalizeLeft(): number {
  if (S.g0 === 0 && S.g1 === 0 && S.g2 === 0) return 0;
  let n = 0;
  while (S.g0 === 0) {
    S.g0 = S.g1;
    S.g1 = S.g2;
    S.g2 = 0;
    n += 32;
  }
  const s = Math.clz32(S.g0);
  if (s !== 0) {
    S.g0 = ((S.g0 << s) | (S.g1 >>> (32 - s))) >>> 0;
    S.g1 = ((S.g1 << s) | (S.g2 >>> (32 - s))) >>> 0;
    S.g2 = (S.g2 << s) >>> 0;
  }
  return n + s;
}

const ROUND_INEXACT = 1;
const ROUND_INCREMENTED = 2;
const ROUND_CARRY = 4;

/**
 * Round S.g0:S.g1:S.g2 to `p` significant bits (64, 53 or 24) counted from S.g0 bit 31. Bits below the
 * precision are cleared. On carry out of bit 63 the significand becomes 1.0 (S.g0 = 8000_0000) and
 * ROUND_CARRY tells the caller to increment the exponent.
 */
function roundSig(sign: number, rc: number, p: number): number {
  let rb: number;
  let sticky: boolean;
  let lsb: number;
  if (p === 64) {
    rb = S.g2 >>> 31;
    sticky = (S.g2 & 0x7fffffff) !== 0;
    lsb = S.g1 & 1;
  } else if (p === 53) {
    rb = (S.g1 >>> 10) & 1;
    sticky = (S.g1 & 0x3ff) !== 0 || S.g2 !== 0;
    lsb = (S.g1 >>> 11) & 1;
    S.g1 = (S.g1 & 0xfffff800) >>> 0;
  } else {
    rb = (S.g0 >>> 7) & 1;
    sticky = (S.g0 & 0x7f) !== 0 || S.g1 !== 0 || S.g2 !== 0;
    lsb = (S.g0 >>> 8) & 1;
    S.g0 = (S.g0 & 0xffffff00) >>> 0;
    S.g1 = 0;
  }
  S.g2 = 0;
  if (rb === 0 && !sticky) return 0;
  let inc: boolean;
  if (rc === RC_NEAREST) inc = rb !== 0 && (sticky || lsb !== 0);
  else if (rc === RC_DOWN) inc = sign !== 0;
  else if (rc === RC_UP) inc = sign === 0;
  else inc = false;
  if (!inc) return ROUND_INEXACT;
  if (p === 24) {
    S.g0 += 0x100;
  } else {
    S.g1 += p === 64 ? 1 : 0x800;
    if (S.g1 >= TWO32) {
      S.g1 -= TWO32;
      S.g0 += 1;
    }
  }
  if (S.g0 >= TWO32) {
    S.g0 = INT_BIT;
    S.g1 = 0;
    return ROUND_INEXACT | ROUND_INCREMENTED | ROUND_CARRY;
  }
  return ROUND_INEXACT | ROUND_INCREMENTED;
}

/** Would rounding the current S.g0:S.g1:S.g2 at precision p carry out of bit 63? (g is preserved.) */
function roundingCarries(sign: number, rc: number, p: number): boolean {
  const s0 = S.g0;
  const s1 = S.g1;
  const s2 = S.g2;
  const r = roundSig(sign, rc, p);
  S.g0 = s0;
  S.g1 = s1;
  S.g2 = s2;
  return (r & ROUND_CARRY) !== 0;
}

/**
 * Round and pack the normalized working significand with biased exponent `exp` into an extended
 * register value, at precision p. Handles denormal results, overflow and the unmasked responses.
 */
function packExt(env: FloatEnv, sign: number, exp: number, p: number, out: F80): void {
  if (S.g0 === 0 && S.g1 === 0 && S.g2 === 0) {
    out.set(sign << 15, 0, 0);
    return;
  }
  const rc = env.rc;
  let r: number;
  if (exp <= 0) {
    const tiny = exp < 0 || !roundingCarries(sign, rc, p);
    const unmasked = (env.masks & EX_UE) === 0;
    if (unmasked && tiny && exp + BIAS_ADJUST > 0) {
      // Unmasked response: the bias-adjusted normal result, UE even when exact.
      env.flags |= EX_UE;
      exp += BIAS_ADJUST;
    } else {
      // Masked response (also when even the bias-adjusted exponent is out of range).
      shiftRightJam(1 - exp);
      r = roundSig(sign, rc, p);
      if (tiny && (r !== 0 || unmasked)) env.flags |= EX_UE;
      if (r !== 0) {
        env.flags |= EX_PE;
        if ((r & ROUND_INCREMENTED) !== 0) env.roundedUp = true;
      }
      out.set((sign << 15) | (S.g0 >= INT_BIT ? 1 : 0), S.g0, S.g1);
      return;
    }
  }
  r = roundSig(sign, rc, p);
  if ((r & ROUND_CARRY) !== 0) exp++;
  if (r !== 0) {
    env.flags |= EX_PE;
    if ((r & ROUND_INCREMENTED) !== 0) env.roundedUp = true;
  }
  if (exp >= EXP_MAX) {
    if ((env.masks & EX_OE) === 0) {
      if (exp - BIAS_ADJUST < EXP_MAX) {
        env.flags |= EX_OE;
        out.set((sign << 15) | (exp - BIAS_ADJUST), S.g0, S.g1);
      } else {
        // Massive overflow (FSCALE): a properly signed infinity even after biasing (SDM 8.5.4).
        env.flags |= EX_OE | EX_PE;
        out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
      }
      return;
    }
    overflowResult(env, sign, p, EXP_MAX, out);
    return;
  }
  out.set((sign << 15) | exp, S.g0, S.g1);
}

/** Masked overflow: infinity or the largest finite value, by rounding direction. */
function overflowResult(env: FloatEnv, sign: number, p: number, maxExp: number, out: F80): void {
  env.flags |= EX_OE | EX_PE;
  const rc = env.rc;
  if (rc === RC_ZERO || (rc === RC_UP && sign !== 0) || (rc === RC_DOWN && sign === 0)) {
    env.roundedUp = false;
    const hi = p === 24 ? 0xffffff00 : 0xffffffff;
    const lo = p === 64 ? 0xffffffff : p === 53 ? 0xfffff800 : 0;
    out.set((sign << 15) | (maxExp - 1), hi, lo);
  } else {
    env.roundedUp = true;
    out.set((sign << 15) | maxExp, INT_BIT, 0);
  }
}

/**
 * Propagate NaN operands by the x87 rules (SDM Vol. 1, Table 4-7): an SNaN raises IE; SNaN with
 * QNaN gives the QNaN; two of a kind give the larger significand (the positive one on a tie).
 */
function propagateNaN(env: FloatEnv, a: F80, ca: number, b: F80, cb: number, out: F80): void {
  if (ca === CLS_SNAN || cb === CLS_SNAN) env.flags |= EX_IE;
  let pick = a;
  const aNaN = isNaNClass(ca);
  const bNaN = isNaNClass(cb);
  if (aNaN && bNaN) {
    if (ca !== cb) {
      pick = ca === CLS_QNAN ? a : b;
    } else {
      const ah = a.hi & 0x7fffffff;
      const bh = b.hi & 0x7fffffff;
      if (ah !== bh) pick = ah > bh ? a : b;
      else if (a.lo !== b.lo) pick = a.lo > b.lo ? a : b;
      else pick = (a.se & 0x8000) === 0 ? a : b;
    }
  } else if (bNaN) {
    pick = b;
  }
  out.set(pick.se, pick.hi | QUIET_BIT, pick.lo);
}

/** Quiet a single NaN operand (IE for an SNaN). */
function propagateNaN1(env: FloatEnv, a: F80, ca: number, out: F80): void {
  if (ca === CLS_SNAN) env.flags |= EX_IE;
  out.set(a.se, a.hi | QUIET_BIT, a.lo);
}

function invalid(env: FloatEnv, out: F80): void {
  env.flags |= EX_IE;
  setIndefinite(out);
}

/**
 * Common prologue of two-operand arithmetic: unsupported and NaN operands produce their result
 * here (returns true); denormal operands raise DE.
 */
function prologue2(env: FloatEnv, a: F80, ca: number, b: F80, cb: number, out: F80): boolean {
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) {
    invalid(env, out);
    return true;
  }
  if (isNaNClass(ca) || isNaNClass(cb)) {
    propagateNaN(env, a, ca, b, cb, out);
    return true;
  }
  if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) env.flags |= EX_DE;
  return false;
}

// ---- add / subtract ------------------------------------------------------------------------------

/** out = a + b (or a - b when `negateB`), rounded to env.precision. */
export function add(env: FloatEnv, a: F80, b: F80, negateB: boolean, out: F80): void {
  const ca = classify(a);
  const cb = classify(b);
  if (prologue2(env, a, ca, b, cb, out)) return;
  const sa = a.se >>> 15;
  const sb = (b.se >>> 15) ^ (negateB ? 1 : 0);
  if (ca === CLS_INF || cb === CLS_INF) {
    if (ca === CLS_INF && cb === CLS_INF && sa !== sb) {
      invalid(env, out);
      return;
    }
    out.set(((ca === CLS_INF ? sa : sb) << 15) | EXP_MAX, INT_BIT, 0);
    return;
  }
  if (ca === CLS_ZERO && cb === CLS_ZERO) {
    const s = sa === sb ? sa : env.rc === RC_DOWN ? 1 : 0;
    out.set(s << 15, 0, 0);
    return;
  }
  if (cb === CLS_ZERO) {
    unpackA(a);
    S.g0 = S.a0;
    S.g1 = S.a1;
    S.g2 = 0;
    packExt(env, sa, S.aExp, env.precision, out);
    return;
  }
  if (ca === CLS_ZERO) {
    unpackA(b);
    S.g0 = S.a0;
    S.g1 = S.a1;
    S.g2 = 0;
    packExt(env, sb, S.aExp, env.precision, out);
    return;
  }
  unpackA(a);
  unpackB(b);
  addSig(env, sa, sb, out, env.precision);
}

/** Add/subtract the unpacked operands A (sign sa) and B (sign sb); both nonzero finite. */
function addSig(env: FloatEnv, sa: number, sb: number, out: F80, p: number): void {
  // Make A the operand with the larger exponent.
  let bigSign = sa;
  let smallSign = sb;
  let exp = S.aExp;
  let h0 = S.b0;
  let h1 = S.b1;
  let diff = S.aExp - S.bExp;
  S.g0 = S.a0;
  S.g1 = S.a1;
  if (diff < 0) {
    bigSign = sb;
    smallSign = sa;
    exp = S.bExp;
    S.g0 = S.b0;
    S.g1 = S.b1;
    h0 = S.a0;
    h1 = S.a1;
    diff = -diff;
  }
  // Shift the smaller operand right by diff (in g while shifting, then swap back).
  const t0 = S.g0;
  const t1 = S.g1;
  S.g0 = h0;
  S.g1 = h1;
  S.g2 = 0;
  shiftRightJam(diff);
  h0 = S.g0;
  h1 = S.g1;
  const h2 = S.g2;
  S.g0 = t0;
  S.g1 = t1;
  S.g2 = 0;
  if (bigSign === smallSign) {
    let s2 = S.g2 + h2;
    let c = s2 >= TWO32 ? 1 : 0;
    s2 -= c * TWO32;
    let s1 = S.g1 + h1 + c;
    c = s1 >= TWO32 ? 1 : 0;
    s1 -= c * TWO32;
    let s0 = S.g0 + h0 + c;
    c = s0 >= TWO32 ? 1 : 0;
    s0 -= c * TWO32;
    S.g0 = s0;
    S.g1 = s1;
    S.g2 = s2;
    if (c !== 0) {
      shiftRightJam(1);
      S.g0 = (S.g0 | INT_BIT) >>> 0;
      exp++;
    }
    packExt(env, bigSign, exp, p, out);
    return;
  }
  // Magnitude subtraction.
  let sign = bigSign;
  let cmp = S.g0 - h0;
  if (cmp === 0) cmp = S.g1 - h1;
  if (cmp === 0) cmp = S.g2 - h2;
  if (cmp === 0) {
    out.set(env.rc === RC_DOWN ? 0x8000 : 0, 0, 0);
    return;
  }
  let x0 = S.g0;
  let x1 = S.g1;
  let x2 = S.g2;
  let y0 = h0;
  let y1 = h1;
  let y2 = h2;
  if (cmp < 0) {
    sign = smallSign;
    x0 = h0;
    x1 = h1;
    x2 = h2;
    y0 = S.g0;
    y1 = S.g1;
    y2 = S.g2;
  }
  let d2 = x2 - y2;
  let br = d2 < 0 ? 1 : 0;
  d2 += br * TWO32;
  let d1 = x1 - y1 - br;
  br = d1 < 0 ? 1 : 0;
  d1 += br * TWO32;
  const d0 = x0 - y0 - br;
  S.g0 = d0;
  S.g1 = d1;
  S.g2 = d2;
  exp -= normalizeLeft();
  packExt(env, sign, exp, p, out);
}

// ---- multiply ------------------------------------------------------------------------------------

/** S.mHi:S.mLo = x * y for unsigned 32-bit x, y (exact, from 16-bit partial products). */
function mul32(x: number, y: number): void {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const ll = xl * yl;
  const mid = xl * yh + xh * yl + Math.floor(ll / 65536);
  S.mLo = ((mid % 65536) * 65536 + (ll % 65536)) >>> 0;
  S.mHi = xh * yh + Math.floor(mid / 65536);
}

/** S.g0:S.g1:S.g2 (+ sticky) = S.a0:S.a1 * S.b0:S.b1, the 128-bit product truncated to 96 bits with jamming. */
function mul64(): void {
  mul32(S.a1, S.b1);
  const w3 = S.mLo;
  let c = S.mHi;
  mul32(S.a0, S.b1);
  const p1lo = S.mLo;
  const p1hi = S.mHi;
  mul32(S.a1, S.b0);
  const p2lo = S.mLo;
  const p2hi = S.mHi;
  mul32(S.a0, S.b0);
  let s = c + p1lo + p2lo;
  const w2 = s % TWO32;
  c = Math.floor(s / TWO32);
  s = S.mLo + p1hi + p2hi + c;
  const w1 = s % TWO32;
  c = Math.floor(s / TWO32);
  const w0 = S.mHi + c;
  S.g0 = w0;
  S.g1 = w1;
  S.g2 = w3 !== 0 ? (w2 | 1) >>> 0 : w2;
}

/** out = a * b, rounded to env.precision. */
export function mul(env: FloatEnv, a: F80, b: F80, out: F80): void {
  const ca = classify(a);
  const cb = classify(b);
  if (prologue2(env, a, ca, b, cb, out)) return;
  const sign = (a.se >>> 15) ^ (b.se >>> 15);
  if (ca === CLS_INF || cb === CLS_INF) {
    if (ca === CLS_ZERO || cb === CLS_ZERO) {
      invalid(env, out);
      return;
    }
    out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
    return;
  }
  if (ca === CLS_ZERO || cb === CLS_ZERO) {
    out.set(sign << 15, 0, 0);
    return;
  }
  unpackA(a);
  unpackB(b);
  mul64();
  let exp = S.aExp + S.bExp - EXP_BIAS + 1;
  if (S.g0 < INT_BIT) {
    exp -= normalizeLeft();
  }
  packExt(env, sign, exp, env.precision, out);
}

// ---- divide --------------------------------------------------------------------------------------

/**
 * Division of S.a0:S.a1 by S.b0:S.b1 (both normalized) into 96 quotient bits S.g0:S.g1:S.g2 (leading
 * 1 at g0 bit 31, sticky in the lowest bit). Three radix-2^32 digits, each estimated in double
 * precision (off by at most one) and corrected with the exact remainder. Returns 0 when a >= b,
 * else 1 (quotient exponent one lower).
 */
function divSig(): number {
  const b0 = S.b0;
  const b1 = S.b1;
  let r1 = S.a0;
  let r0 = S.a1;
  let lower = 1;
  if (r1 > b0 || (r1 === b0 && r0 >= b1)) {
    // a >= b: the leading quotient bit is 1; continue with a - b.
    let lo = r0 - b1;
    let br = 0;
    if (lo < 0) {
      lo += TWO32;
      br = 1;
    }
    r1 = r1 - b0 - br;
    r0 = lo;
    lower = 0;
  }
  const bd = b0 * TWO32 + b1;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  for (let k = 0; k < 3; k++) {
    // Invariant: remainder r1:r0 < b, so the next digit floor(r * 2^32 / b) < 2^32.
    let d = Math.floor(((r1 * TWO32 + r0) / bd) * TWO32);
    if (d > 0xffffffff) d = 0xffffffff;
    // t = r * 2^32 - d * b, as t2:t1:t0 with a small signed top word.
    mul32(d, b1);
    const p0 = S.mLo;
    const h1 = S.mHi;
    mul32(d, b0);
    const s = h1 + S.mLo;
    const p1 = s % TWO32;
    const p2 = S.mHi + Math.floor(s / TWO32);
    let t0 = -p0;
    let br = 0;
    if (t0 < 0) {
      t0 += TWO32;
      br = 1;
    }
    let t1 = r0 - p1 - br;
    br = 0;
    if (t1 < 0) {
      t1 += TWO32;
      br = 1;
    }
    let t2 = r1 - p2 - br;
    while (t2 < 0) {
      // Estimate one too large: add b back.
      d--;
      t0 += b1;
      let c = 0;
      if (t0 >= TWO32) {
        t0 -= TWO32;
        c = 1;
      }
      t1 += b0 + c;
      c = 0;
      if (t1 >= TWO32) {
        t1 -= TWO32;
        c = 1;
      }
      t2 += c;
    }
    while (t2 > 0 || t1 > b0 || (t1 === b0 && t0 >= b1)) {
      // Estimate one too small: subtract b.
      d++;
      t0 -= b1;
      let w = 0;
      if (t0 < 0) {
        t0 += TWO32;
        w = 1;
      }
      t1 -= b0 + w;
      w = 0;
      if (t1 < 0) {
        t1 += TWO32;
        w = 1;
      }
      t2 -= w;
    }
    r1 = t1;
    r0 = t0;
    if (k === 0) d1 = d;
    else if (k === 1) d2 = d;
    else d3 = d;
  }
  const sticky = r1 !== 0 || r0 !== 0 ? 1 : 0;
  if (lower === 1) {
    S.g0 = d1;
    S.g1 = d2;
    S.g2 = (d3 | sticky) >>> 0;
  } else {
    S.g0 = (INT_BIT | (d1 >>> 1)) >>> 0;
    S.g1 = ((d1 << 31) | (d2 >>> 1)) >>> 0;
    S.g2 = ((d2 << 31) | (d3 >>> 1) | (d3 & 1) | sticky) >>> 0;
  }
  return lower;
}

/** out = a / b, rounded to env.precision. */
export function div(env: FloatEnv, a: F80, b: F80, out: F80): void {
  const ca = classify(a);
  const cb = classify(b);
  if (prologue2(env, a, ca, b, cb, out)) return;
  const sign = (a.se >>> 15) ^ (b.se >>> 15);
  if (ca === CLS_INF) {
    if (cb === CLS_INF) invalid(env, out);
    else out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
    return;
  }
  if (cb === CLS_INF) {
    out.set(sign << 15, 0, 0);
    return;
  }
  if (cb === CLS_ZERO) {
    if (ca === CLS_ZERO) {
      invalid(env, out);
      return;
    }
    env.flags |= EX_ZE;
    out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
    return;
  }
  if (ca === CLS_ZERO) {
    out.set(sign << 15, 0, 0);
    return;
  }
  unpackA(a);
  unpackB(b);
  const lower = divSig();
  packExt(env, sign, S.aExp - S.bExp + EXP_BIAS - lower, env.precision, out);
}

// ---- square root ---------------------------------------------------------------------------------

/** out = sqrt(a), rounded to env.precision. */
export function sqrt(env: FloatEnv, a: F80, out: F80): void {
  const ca = classify(a);
  if (ca === CLS_UNSUPPORTED) {
    invalid(env, out);
    return;
  }
  if (isNaNClass(ca)) {
    propagateNaN1(env, a, ca, out);
    return;
  }
  if (ca === CLS_ZERO) {
    out.copy(a);
    return;
  }
  if ((a.se & 0x8000) !== 0) {
    if (ca === CLS_DENORMAL) env.flags |= EX_DE;
    invalid(env, out);
    return;
  }
  if (ca === CLS_INF) {
    out.copy(a);
    return;
  }
  if (ca === CLS_DENORMAL) env.flags |= EX_DE;
  unpackA(a);
  // value = sig * 2^u with u = S.aExp - bias - 63; radicand R = sig * 2^t, t in {65, 66}, u - t even.
  const u = S.aExp - EXP_BIAS - 63;
  const t = ((u - 65) & 1) === 0 ? 65 : 66;
  sqrtRoot(t - 64);
  const exp = (u - t) / 2 + 1 + EXP_BIAS + 63;
  packExt(env, 0, exp, env.precision, out);
}

// Square-root scratch, little-endian base-2^16 limbs: radicand R (130 bits), root Q (65 bits),
// Q^2 and the difference R - Q^2.
const RL = new Float64Array(10);
const QL = new Float64Array(5);
const SQ = new Float64Array(10);
const DL = new Float64Array(10);
const L16 = 65536;

/** Q = limbs of the nonnegative integer-valued double q (< 2^80, exact). */
function setRoot(q: number): void {
  for (let k = 0; k < 5; k++) {
    const next = Math.floor(q / L16);
    QL[k] = q - next * L16;
    q = next;
  }
}

/** Add the small integer c (|c| < 2^40) to Q. */
function addRoot(c: number): void {
  let carry = c;
  for (let k = 0; k < 5; k++) {
    const v = QL[k]! + carry;
    carry = Math.floor(v / L16);
    QL[k] = v - carry * L16;
  }
}

/**
 * D = R - Q^2 into DL as a magnitude; returns its sign (-1, 0, 1) and leaves an approximation of
 * D as a double in `sqrtDiff`.
 */
let sqrtDiff = 0;
function rootDiff(): number {
  SQ.fill(0);
  for (let i = 0; i < 5; i++) {
    const qi = QL[i]!;
    if (qi === 0) continue;
    for (let j = 0; j < 5; j++) SQ[i + j] = SQ[i + j]! + qi * QL[j]!;
  }
  let carry = 0;
  for (let k = 0; k < 10; k++) {
    const v = SQ[k]! + carry;
    carry = Math.floor(v / L16);
    SQ[k] = v - carry * L16;
  }
  let cmp = 0;
  for (let k = 9; k >= 0 && cmp === 0; k--) cmp = RL[k]! - SQ[k]!;
  const x = cmp >= 0 ? RL : SQ;
  const y = cmp >= 0 ? SQ : RL;
  let borrow = 0;
  let approx = 0;
  let scale = 1;
  for (let k = 0; k < 10; k++) {
    let v = x[k]! - y[k]! - borrow;
    borrow = 0;
    if (v < 0) {
      v += L16;
      borrow = 1;
    }
    DL[k] = v;
    approx += v * scale;
    scale *= L16;
  }
  const sign = cmp > 0 ? 1 : cmp < 0 ? -1 : 0;
  sqrtDiff = sign * approx;
  return sign;
}

/** D <= 2Q (for a nonnegative D in DL)? */
function diffWithinTwiceRoot(): boolean {
  // Compare DL with 2Q limb by limb from the top.
  let carry = 0;
  const twoQ = SQ; // reuse as scratch
  for (let k = 0; k < 10; k++) {
    const v = (k < 5 ? QL[k]! * 2 : 0) + carry;
    carry = Math.floor(v / L16);
    twoQ[k] = v - carry * L16;
  }
  for (let k = 9; k >= 0; k--) {
    if (DL[k] !== twoQ[k]) return DL[k]! < twoQ[k]!;
  }
  return true;
}

/**
 * Integer square root of R = sig * 2^(64 + shift) (shift 1 or 2): Q = floor(sqrt(R)) (65 bits) from
 * a double estimate refined by Newton steps on the exact difference R - Q^2, then
 * S.g0:S.g1 = Q >> 1, S.g2 = (Q & 1) << 31 | (R != Q^2).
 */
function sqrtRoot(shift: number): void {
  RL.fill(0);
  const lo = (S.a1 << shift) >>> 0;
  const hi = S.a0 * (1 << shift) + (S.a1 >>> (32 - shift)); // below 2^34
  RL[4] = lo % L16;
  RL[5] = Math.floor(lo / L16);
  RL[6] = hi % L16;
  RL[7] = Math.floor(hi / L16) % L16;
  RL[8] = Math.floor(hi / TWO32);
  const estimate = Math.floor(Math.sqrt((S.a0 * TWO32 + S.a1) * (1 << shift)) * TWO32);
  setRoot(estimate);
  let q = estimate;
  // Newton steps Q += (R - Q^2) / 2Q; the first brings the 2^-53 estimate within one unit.
  let sign = rootDiff();
  for (let i = 0; i < 6; i++) {
    const c = Math.trunc(sqrtDiff / (2 * q));
    if (c === 0) break;
    addRoot(c);
    q += c;
    sign = rootDiff();
  }
  // Exact final adjustment to 0 <= R - Q^2 <= 2Q.
  while (sign < 0) {
    addRoot(-1);
    sign = rootDiff();
  }
  while (!diffWithinTwiceRoot()) {
    addRoot(1);
    sign = rootDiff();
  }
  S.g0 = (QL[4]! * 0x80000000 + QL[3]! * 0x8000 + Math.floor(QL[2]! / 2)) >>> 0;
  S.g1 = ((QL[2]! & 1) * 0x80000000 + QL[1]! * 0x8000 + Math.floor(QL[0]! / 2)) >>> 0;
  S.g2 = (((QL[0]! & 1) << 31) | (sign !== 0 ? 1 : 0)) >>> 0;
}

// ---- compare -------------------------------------------------------------------------------------

export const CMP_LT = 0;
export const CMP_EQ = 1;
export const CMP_GT = 2;
export const CMP_UNORDERED = 3;

/**
 * Compare a with b. `quiet` (FUCOM*) raises IE only for SNaN and unsupported operands; otherwise
 * (FCOM*) any NaN raises IE. Denormal operands raise DE.
 */
export function compare(env: FloatEnv, a: F80, b: F80, quiet: boolean): number {
  const ca = classify(a);
  const cb = classify(b);
  if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) {
    env.flags |= EX_IE;
    return CMP_UNORDERED;
  }
  if (isNaNClass(ca) || isNaNClass(cb)) {
    if (!quiet || ca === CLS_SNAN || cb === CLS_SNAN) env.flags |= EX_IE;
    return CMP_UNORDERED;
  }
  if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) env.flags |= EX_DE;
  return compareOrdered(a, ca, b, cb);
}

function compareOrdered(a: F80, ca: number, b: F80, cb: number): number {
  if (ca === CLS_ZERO && cb === CLS_ZERO) return CMP_EQ;
  const sa = a.se >>> 15;
  const sb = b.se >>> 15;
  if (ca === CLS_ZERO) return sb !== 0 ? CMP_GT : CMP_LT;
  if (cb === CLS_ZERO) return sa !== 0 ? CMP_LT : CMP_GT;
  if (sa !== sb) return sa !== 0 ? CMP_LT : CMP_GT;
  // Same sign: compare magnitudes (pseudo-denormals compare by value through normalization).
  unpackA(a);
  unpackB(b);
  let m = S.aExp - S.bExp;
  if (ca === CLS_INF || cb === CLS_INF) m = ca === cb ? 0 : ca === CLS_INF ? 1 : -1;
  else {
    if (m === 0) m = S.a0 - S.b0;
    if (m === 0) m = S.a1 - S.b1;
  }
  if (m === 0) return CMP_EQ;
  return m > 0 !== (sa !== 0) ? CMP_GT : CMP_LT;
}

// ---- integer conversions -------------------------------------------------------------------------

/**
 * Round a finite value to an integer magnitude in S.iHi:S.iLo by rc. Returns ROUND_* bits, or -1 if the
 * magnitude does not fit in 64 bits.
 */
function roundToIntMag(a: F80, rc: number): number {
  unpackA(a);
  const e = S.aExp - EXP_BIAS; // value = sig * 2^(e - 63)
  if (e > 63) return -1;
  S.g0 = S.a0;
  S.g1 = S.a1;
  S.g2 = 0;
  const sign = a.se >>> 15;
  if (e === 63) {
    S.iHi = S.g0;
    S.iLo = S.g1;
    return 0;
  }
  if (e < -1) {
    // |value| < 0.5: all bits are sticky.
    const nonzero = S.g0 !== 0 || S.g1 !== 0;
    S.iHi = 0;
    S.iLo = 0;
    if (!nonzero) return 0;
    if ((rc === RC_UP && sign === 0) || (rc === RC_DOWN && sign !== 0)) {
      S.iLo = 1;
      return ROUND_INEXACT | ROUND_INCREMENTED;
    }
    return ROUND_INEXACT;
  }
  // Shift so that the integer part is S.g0:S.g1 and the fraction is in S.g2.
  shiftRightJam(63 - e);
  const rb = S.g2 >>> 31;
  const sticky = (S.g2 & 0x7fffffff) !== 0;
  if (rb === 0 && !sticky) {
    S.iHi = S.g0;
    S.iLo = S.g1;
    return 0;
  }
  let inc: boolean;
  if (rc === RC_NEAREST) inc = rb !== 0 && (sticky || (S.g1 & 1) !== 0);
  else if (rc === RC_DOWN) inc = sign !== 0;
  else if (rc === RC_UP) inc = sign === 0;
  else inc = false;
  if (inc) {
    S.g1 += 1;
    if (S.g1 >= TWO32) {
      S.g1 = 0;
      S.g0 += 1;
      if (S.g0 >= TWO32) return -1;
    }
  }
  S.iHi = S.g0;
  S.iLo = S.g1;
  return inc ? ROUND_INEXACT | ROUND_INCREMENTED : ROUND_INEXACT;
}

/** Output of integer stores: low and high 32 bits (two's complement). */
export const intOut = new Uint32Array(2);

/**
 * Convert a to a signed integer of `bits` (16, 32 or 64), rounding by rc (or truncating). Returns
 * false after raising IE for NaN, infinity or out-of-range; intOut then holds the integer indefinite.
 */
export function toInt(env: FloatEnv, a: F80, bits: number, truncate: boolean): boolean {
  const ca = classify(a);
  const indefHi = bits === 64 ? 0x80000000 : 0;
  const indefLo = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0x8000;
  if (ca === CLS_UNSUPPORTED || ca === CLS_INF || isNaNClass(ca)) {
    env.flags |= EX_IE;
    intOut[0] = indefLo;
    intOut[1] = indefHi;
    return false;
  }
  if (ca === CLS_ZERO) {
    intOut[0] = 0;
    intOut[1] = 0;
    return true;
  }
  const r = roundToIntMag(a, truncate ? RC_ZERO : env.rc);
  const neg = (a.se & 0x8000) !== 0;
  let ok = r >= 0;
  if (ok) {
    if (bits === 64) ok = S.iHi < INT_BIT || (neg && S.iHi === INT_BIT && S.iLo === 0);
    else if (bits === 32) ok = S.iHi === 0 && (S.iLo < INT_BIT || (neg && S.iLo === INT_BIT));
    else ok = S.iHi === 0 && (S.iLo < 0x8000 || (neg && S.iLo === 0x8000));
  }
  if (!ok) {
    env.flags |= EX_IE;
    intOut[0] = indefLo;
    intOut[1] = indefHi;
    return false;
  }
  if (r !== 0) {
    env.flags |= EX_PE;
    if ((r & ROUND_INCREMENTED) !== 0) env.roundedUp = true;
  }
  let lo = S.iLo;
  let hi = S.iHi;
  if (neg) {
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  if (bits === 16) {
    lo &= 0xffff;
    hi = 0;
  } else if (bits === 32) {
    hi = 0;
  }
  intOut[0] = lo;
  intOut[1] = hi;
  return true;
}

/** out = the signed 64-bit integer hi:lo (two's complement halves), exactly. */
export function fromInt64(lo: number, hi: number, out: F80): void {
  lo >>>= 0;
  hi >>>= 0;
  let sign = 0;
  if (hi >= INT_BIT) {
    sign = 1;
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  fromMagnitude(sign, hi, lo, out);
}

/** out = (-1)^sign * hi:lo (unsigned 64-bit magnitude), exactly. */
export function fromMagnitude(sign: number, hi: number, lo: number, out: F80): void {
  S.g0 = hi >>> 0;
  S.g1 = lo >>> 0;
  S.g2 = 0;
  if (S.g0 === 0 && S.g1 === 0) {
    out.set(sign << 15, 0, 0);
    return;
  }
  const n = normalizeLeft();
  out.set((sign << 15) | (EXP_BIAS + 63 - n), S.g0, S.g1);
}

/** out = the signed 32-bit integer v, exactly. */
export function fromInt32(v: number, out: F80): void {
  v |= 0;
  fromMagnitude(v < 0 ? 1 : 0, 0, Math.abs(v), out);
}

/** out = a rounded to an integer by rc (FRNDINT); PE if inexact. Precision control does not apply. */
export function roundToInt(env: FloatEnv, a: F80, out: F80): void {
  const ca = classify(a);
  if (ca === CLS_UNSUPPORTED) {
    invalid(env, out);
    return;
  }
  if (isNaNClass(ca)) {
    propagateNaN1(env, a, ca, out);
    return;
  }
  if (ca === CLS_ZERO || ca === CLS_INF) {
    out.copy(a);
    return;
  }
  if (ca === CLS_DENORMAL) env.flags |= EX_DE;
  const sign = a.se >>> 15;
  if ((a.se & EXP_MAX) - EXP_BIAS >= 63) {
    out.copy(a);
    return;
  }
  const r = roundToIntMag(a, env.rc);
  if (r === -1) {
    // 2^64 - 0.5 or more rounded up: the carry out of the 64-bit integer.
    env.flags |= EX_PE;
    env.roundedUp = true;
    out.set((sign << 15) | (EXP_BIAS + 64), INT_BIT, 0);
    return;
  }
  if (r !== 0) {
    env.flags |= EX_PE;
    if ((r & ROUND_INCREMENTED) !== 0) env.roundedUp = true;
  }
  fromMagnitude(sign, S.iHi, S.iLo, out);
}

// ---- float32 / float64 conversions ---------------------------------------------------------------

/**
 * out = the float32 `bits` as an extended value, exactly. A denormal raises DE; an SNaN is kept
 * signaling unless `quietSNaN` (loads quiet it and raise IE; arithmetic operands stay signaling so
 * the operation raises IE).
 */
export function fromF32(env: FloatEnv, bits: number, quietSNaN: boolean, out: F80): void {
  const sign = bits >>> 31;
  const e = (bits >>> 23) & 0xff;
  const f = bits & 0x7fffff;
  if (e === 0xff) {
    if (f === 0) {
      out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
      return;
    }
    let hi = (INT_BIT | (f << 8)) >>> 0;
    if ((f & 0x400000) === 0 && quietSNaN) {
      env.flags |= EX_IE;
      hi = (hi | QUIET_BIT) >>> 0;
    }
    out.set((sign << 15) | EXP_MAX, hi, 0);
    return;
  }
  if (e === 0) {
    if (f === 0) {
      out.set(sign << 15, 0, 0);
      return;
    }
    env.flags |= EX_DE;
    const s = Math.clz32(f) - 8; // shift to put the leading 1 at bit 23
    out.set((sign << 15) | (EXP_BIAS - 126 - s), (f << (8 + s)) >>> 0, 0);
    return;
  }
  out.set((sign << 15) | (e - 127 + EXP_BIAS), (INT_BIT | (f << 8)) >>> 0, 0);
}

/** out = the float64 hi:lo as an extended value, exactly (DE and SNaN as for fromF32). */
export function fromF64(env: FloatEnv, lo: number, hi: number, quietSNaN: boolean, out: F80): void {
  lo >>>= 0;
  hi >>>= 0;
  const sign = hi >>> 31;
  const e = (hi >>> 20) & 0x7ff;
  const fh = hi & 0xfffff;
  if (e === 0x7ff) {
    if (fh === 0 && lo === 0) {
      out.set((sign << 15) | EXP_MAX, INT_BIT, 0);
      return;
    }
    let h = (INT_BIT | (fh << 11) | (lo >>> 21)) >>> 0;
    if ((fh & 0x80000) === 0 && quietSNaN) {
      env.flags |= EX_IE;
      h = (h | QUIET_BIT) >>> 0;
    }
    out.set((sign << 15) | EXP_MAX, h, (lo << 11) >>> 0);
    return;
  }
  if (e === 0) {
    if (fh === 0 && lo === 0) {
      out.set(sign << 15, 0, 0);
      return;
    }
    env.flags |= EX_DE;
    // value = f * 2^-1074; f = fh:lo (52 bits).
    fromMagnitude(sign, fh, lo, out);
    out.se = (sign << 15) | ((out.se & EXP_MAX) - 1074);
    return;
  }
  out.set((sign << 15) | (e - 1023 + EXP_BIAS), (INT_BIT | (fh << 11) | (lo >>> 21)) >>> 0, (lo << 11) >>> 0);
}

/** Output of float stores: float32 bits in [0]; float64 low, high in [0], [1]. */
export const floatOut = new Uint32Array(2);

/**
 * Round a to float32 (`bits` 32) or float64 (`bits` 64) into floatOut, by rc. Precision control
 * does not apply. Raises IE (SNaN/unsupported), OE, UE, PE (FST raises no DE). With OE/UE unmasked the caller must
 * not store (SDM Vol. 1, 8.5.4.2); floatOut then holds the masked response anyway.
 */
export function toFloat(env: FloatEnv, a: F80, bits: number): void {
  const ca = classify(a);
  const sign = a.se >>> 15;
  const f64 = bits === 64;
  if (ca === CLS_UNSUPPORTED) {
    env.flags |= EX_IE;
    if (f64) {
      floatOut[0] = 0;
      floatOut[1] = 0xfff80000;
    } else floatOut[0] = 0xffc00000;
    return;
  }
  if (isNaNClass(ca)) {
    if (ca === CLS_SNAN) env.flags |= EX_IE;
    if (f64) {
      floatOut[1] = ((sign << 31) | 0x7ff80000 | ((a.hi >>> 11) & 0xfffff)) >>> 0;
      floatOut[0] = (((a.hi & 0x7ff) << 21) | (a.lo >>> 11)) >>> 0;
    } else {
      floatOut[0] = ((sign << 31) | 0x7fc00000 | ((a.hi >>> 8) & 0x7fffff)) >>> 0;
    }
    return;
  }
  if (ca === CLS_INF || ca === CLS_ZERO) {
    if (f64) {
      floatOut[1] = ((sign << 31) | (ca === CLS_INF ? 0x7ff00000 : 0)) >>> 0;
      floatOut[0] = 0;
    } else floatOut[0] = ((sign << 31) | (ca === CLS_INF ? 0x7f800000 : 0)) >>> 0;
    return;
  }
  unpackA(a);
  S.g0 = S.a0;
  S.g1 = S.a1;
  S.g2 = 0;
  const p = f64 ? 53 : 24;
  const maxE = f64 ? 0x7ff : 0xff;
  let e = S.aExp - EXP_BIAS + (f64 ? 1023 : 127);
  const rc = env.rc;
  let r: number;
  if (e <= 0) {
    const tiny = e < 0 || !roundingCarries(sign, rc, p);
    shiftRightJam(1 - e);
    r = roundSig(sign, rc, p);
    e = S.g0 >= INT_BIT ? 1 : 0;
    if (tiny && (r !== 0 || (env.masks & EX_UE) === 0)) env.flags |= EX_UE;
  } else {
    r = roundSig(sign, rc, p);
    if ((r & ROUND_CARRY) !== 0) e++;
  }
  if (r !== 0) {
    env.flags |= EX_PE;
    if ((r & ROUND_INCREMENTED) !== 0) env.roundedUp = true;
  }
  if (e >= maxE) {
    overflowResult(env, sign, p, maxE, scratch);
    S.g0 = scratch.hi;
    S.g1 = scratch.lo;
    e = scratch.se & EXP_MAX;
    if (e === maxE) {
      S.g0 = 0;
      S.g1 = 0;
    }
  }
  if (f64) {
    floatOut[1] = ((sign << 31) | (e << 20) | ((S.g0 >>> 11) & 0xfffff)) >>> 0;
    floatOut[0] = (((S.g0 & 0x7ff) << 21) | (S.g1 >>> 11)) >>> 0;
  } else {
    floatOut[0] = ((sign << 31) | (e << 23) | ((S.g0 >>> 8) & 0x7fffff)) >>> 0;
  }
}

const scratch = new F80();

// ---- scaling, remainder, extraction --------------------------------------------------------------

/**
 * out = a * 2^n for an integer n (FSCALE's core), rounded at 64 bits (only denormal results round).
 */
export function scaleBy(env: FloatEnv, a: F80, n: number, out: F80): void {
  unpackA(a);
  S.g0 = S.a0;
  S.g1 = S.a1;
  S.g2 = 0;
  packExt(env, a.se >>> 15, S.aExp + n, 64, out);
}

/** Quotient bits of the last `remainder` call: low three bits of Q and whether it was partial. */
export const remResult = { q: 0, partial: false };

/**
 * FPREM (`ieee` false, truncating quotient) and FPREM1 (`ieee` true, nearest quotient) on finite
 * nonzero a and b (the caller handles specials): exact partial remainder into out. When the
 * exponent difference is 64 or more the reduction is partial by 32 + (d mod 32) bits (the AMD
 * documented choice that Intel follows), remResult.partial is set and the quotient bits are 0.
 */
export function remainder(env: FloatEnv, a: F80, b: F80, ieee: boolean, out: F80): void {
  unpackA(a);
  unpackB(b);
  const sign = a.se >>> 15;
  let d = S.aExp - S.bExp;
  let scaleExp = S.bExp;
  remResult.partial = false;
  remResult.q = 0;
  if (d >= 64) {
    const n = 32 + (d % 32);
    scaleExp = S.bExp + (d - n);
    d = n;
    remResult.partial = true;
    ieee = false;
  }
  if (d < -1 || (d === -1 && !ieee)) {
    out.copy(a);
    return;
  }
  let rHi = S.a0;
  let rLo = S.a1;
  let q = 0;
  if (d === -1) {
    // FPREM1 with |b|/4 < |a| < |b|: the quotient rounds to 1 iff 2|a| > |b| (a tie goes to 0).
    if (S.a0 > S.b0 || (S.a0 === S.b0 && S.a1 > S.b1)) {
      // |r| = |b| - |a| = (2B - A) at the scale of a's last bit; it is below 2^64.
      let lo = ((S.b1 * 2) % TWO32) - S.a1;
      let borrow = 0;
      if (lo < 0) {
        lo += TWO32;
        borrow = 1;
      }
      S.g0 = S.b0 * 2 + (S.b1 >= INT_BIT ? 1 : 0) - S.a0 - borrow;
      S.g1 = lo;
      S.g2 = 0;
      const n = normalizeLeft();
      remResult.q = 1;
      packExt(env, sign ^ 1, S.aExp - n, 64, out);
      return;
    }
    out.copy(a);
    return;
  }
  // r = a_sig * 2^d mod b_sig, keeping the quotient's low three bits.
  for (let i = 0; i <= d; i++) {
    q = (q << 1) & 7;
    if (rHi > S.b0 || (rHi === S.b0 && rLo >= S.b1)) {
      let lo = rLo - S.b1;
      let borrow = 0;
      if (lo < 0) {
        lo += TWO32;
        borrow = 1;
      }
      rHi = rHi - S.b0 - borrow;
      rLo = lo;
      q |= 1;
    }
    if (i < d) {
      rHi = rHi * 2 + (rLo >>> 31);
      rLo = (rLo << 1) >>> 0;
    }
  }
  let s = sign;
  if (ieee) {
    // Round to nearest: compare 2r with b.
    const r2Hi = rHi * 2 + (rLo >>> 31);
    const r2Lo = (rLo << 1) >>> 0;
    const c = r2Hi !== S.b0 ? r2Hi - S.b0 : r2Lo - S.b1;
    if (c > 0 || (c === 0 && (q & 1) !== 0)) {
      let lo = S.b1 - rLo;
      let borrow = 0;
      if (lo < 0) {
        lo += TWO32;
        borrow = 1;
      }
      rHi = S.b0 - rHi - borrow;
      rLo = lo;
      q = (q + 1) & 7;
      s ^= 1;
    }
  }
  remResult.q = remResult.partial ? 0 : q;
  S.g0 = rHi;
  S.g1 = rLo;
  S.g2 = 0;
  if (S.g0 === 0 && S.g1 === 0) {
    out.set(sign << 15, 0, 0);
    return;
  }
  const n = normalizeLeft();
  packExt(env, s, scaleExp - n, 64, out);
}

// ---- packing helpers for other modules -----------------------------------------------------------

/**
 * Round and pack a value given as a 96-bit significand w0:w1:w2 (w0 bit 31 set; w2's lowest bit may
 * carry a sticky bit) and a biased exponent, at precision p, into out.
 */
export function packRounded(
  env: FloatEnv,
  sign: number,
  exp: number,
  w0: number,
  w1: number,
  w2: number,
  p: number,
  out: F80,
): void {
  S.g0 = w0 >>> 0;
  S.g1 = w1 >>> 0;
  S.g2 = w2 >>> 0;
  if (S.g0 < INT_BIT) exp -= normalizeLeft();
  packExt(env, sign, exp, p, out);
}
