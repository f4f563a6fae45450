/**
 * Test oracle (BigInt, tests only): x*y + z and the binary16 conversions computed on exact integers
 * and rounded once, from SDM Vol. 1 §11.5.2, §14.5.1 (Tables 14-16, 14-17) and IEEE 754-2008 (tininess
 * after rounding), with MXCSR's RC, DAZ, FTZ and UM. Independent of `fma-arith.ts` (no doubles).
 */

export interface Fmt {
  readonly p: number; // significand bits, hidden bit included
  readonly expBits: number;
  readonly width: number;
}
export const F16: Fmt = { p: 11, expBits: 5, width: 16 };
export const F32: Fmt = { p: 24, expBits: 8, width: 32 };
export const F64: Fmt = { p: 53, expBits: 11, width: 64 };

const bias = (f: Fmt) => (1 << (f.expBits - 1)) - 1;
const emin = (f: Fmt) => 1 - bias(f);
const emax = (f: Fmt) => bias(f);

export const Flag = { IE: 1, DE: 2, OE: 8, UE: 16, PE: 32 } as const;

export interface Env {
  rc: number; // 0 nearest, 1 down, 2 up, 3 zero
  daz: boolean;
  ftz: boolean;
  um: boolean; // underflow masked
}

type Val =
  | { kind: 'nan'; sign: boolean; snan: boolean; bits: bigint }
  | { kind: 'inf'; sign: boolean }
  | { kind: 'zero'; sign: boolean }
  | { kind: 'fin'; sign: boolean; m: bigint; e: number; denormal: boolean };

function decode(bits: bigint, f: Fmt): Val {
  const mantBits = BigInt(f.p - 1);
  const sign = ((bits >> BigInt(f.width - 1)) & 1n) === 1n;
  const ef = Number((bits >> mantBits) & ((1n << BigInt(f.expBits)) - 1n));
  const mant = bits & ((1n << mantBits) - 1n);
  if (ef === (1 << f.expBits) - 1) {
    if (mant === 0n) return { kind: 'inf', sign };
    return { kind: 'nan', sign, snan: mant >> (mantBits - 1n) === 0n, bits };
  }
  if (ef === 0) {
    if (mant === 0n) return { kind: 'zero', sign };
    return { kind: 'fin', sign, m: mant, e: emin(f) - (f.p - 1), denormal: true };
  }
  return { kind: 'fin', sign, m: mant | (1n << mantBits), e: ef - bias(f) - (f.p - 1), denormal: false };
}

const quiet = (bits: bigint, f: Fmt) => bits | (1n << BigInt(f.p - 2));
const signBit = (f: Fmt) => 1n << BigInt(f.width - 1);
const infBits = (f: Fmt, neg: boolean) =>
  (neg ? signBit(f) : 0n) | (((1n << BigInt(f.expBits)) - 1n) << BigInt(f.p - 1));
const zeroBits = (f: Fmt, neg: boolean) => (neg ? signBit(f) : 0n);
const indefinite = (f: Fmt) => infBits(f, true) | (1n << BigInt(f.p - 2));

function bitLength(m: bigint): number {
  return m.toString(2).length;
}

/** |m| * 2^e rounded to a multiple of 2^g in `rc`; the sign only matters for the directed modes. */
function roundTo(m: bigint, e: number, g: number, neg: boolean, rc: number): { q: bigint; inexact: boolean } {
  const shift = g - e;
  if (shift <= 0) return { q: m << BigInt(-shift), inexact: false };
  const s = BigInt(shift);
  const q = m >> s;
  const rem = m - (q << s);
  if (rem === 0n) return { q, inexact: false };
  const half = 1n << (s - 1n);
  let up: boolean;
  if (rc === 0) up = rem > half || (rem === half && (q & 1n) === 1n);
  else if (rc === 1) up = neg;
  else if (rc === 2) up = !neg;
  else up = false;
  return { q: up ? q + 1n : q, inexact: true };
}

function encode(f: Fmt, neg: boolean, q: bigint, g: number): bigint {
  if (q === 0n) return zeroBits(f, neg);
  const p = BigInt(f.p);
  while (q >= 1n << p) {
    q >>= 1n;
    g += 1;
  }
  let ef: bigint;
  let mant: bigint;
  if (q < 1n << (p - 1n)) {
    ef = 0n;
    mant = q;
  } else {
    ef = BigInt(g + f.p - 1 + bias(f));
    mant = q - (1n << (p - 1n));
  }
  return (neg ? signBit(f) : 0n) | (ef << (p - 1n)) | mant;
}

/** The exact value sgn * m * 2^e (m > 0) rounded to `f` under `env`, with the post-computation flags. */
export function roundExact(
  f: Fmt,
  neg: boolean,
  m: bigint,
  e: number,
  env: Env,
  useFtz = true,
): { bits: bigint; flags: number } {
  const p = f.p;
  const eb = bitLength(m) - 1 + e;
  const g = eb - p + 1;
  const r = roundTo(m, e, g, neg, env.rc);
  const eR = r.q >= 1n << BigInt(p) ? eb + 1 : eb;
  if (eR > emax(f)) {
    const toInf = env.rc === 0 || (env.rc === 2 && !neg) || (env.rc === 1 && neg);
    const bits = toInf ? infBits(f, neg) : infBits(f, neg) - 1n;
    return { bits, flags: Flag.OE | Flag.PE };
  }
  if (eR < emin(f)) {
    let flags = env.um ? 0 : Flag.UE;
    if (env.um && env.ftz && useFtz) return { bits: zeroBits(f, neg), flags: Flag.UE | Flag.PE };
    const gs = emin(f) - p + 1;
    const s = roundTo(m, e, gs, neg, env.rc);
    if (s.inexact) flags |= env.um ? Flag.UE | Flag.PE : Flag.PE;
    return { bits: encode(f, neg, s.q, gs), flags };
  }
  return { bits: encode(f, neg, r.q, g), flags: r.inexact ? Flag.PE : 0 };
}

/** SDM x*y + z (x multiplicand, y multiplier, z addend) on bit patterns of format `f`. */
export function oracleFma(
  f: Fmt,
  xb: bigint,
  yb: bigint,
  zb: bigint,
  negProduct: boolean,
  negAddend: boolean,
  env: Env,
): { bits: bigint; flags: number } {
  let x = decode(xb, f);
  let y = decode(yb, f);
  let z = decode(zb, f);
  // Table 14-17: the first NaN of x, y, z, quieted; IE for any SNaN.
  if (x.kind === 'nan' || y.kind === 'nan' || z.kind === 'nan') {
    const snan = [x, y, z].some((v) => v.kind === 'nan' && v.snan);
    const w = x.kind === 'nan' ? xb : y.kind === 'nan' ? yb : zb;
    return { bits: quiet(w, f), flags: snan ? Flag.IE : 0 };
  }
  let flags = 0;
  const daz = (v: Val): Val => {
    if (v.kind === 'fin' && v.denormal) {
      if (env.daz) return { kind: 'zero', sign: v.sign };
      flags |= Flag.DE;
    }
    return v;
  };
  x = daz(x);
  y = daz(y);
  z = daz(z);
  const ps = (x.sign !== y.sign) !== negProduct;
  const zs = z.sign !== negAddend;
  const pInf = x.kind === 'inf' || y.kind === 'inf';
  const pZero = x.kind === 'zero' || y.kind === 'zero';
  if (pInf && pZero) return { bits: indefinite(f), flags: flags | Flag.IE };
  if (pInf) {
    if (z.kind === 'inf' && zs !== ps) return { bits: indefinite(f), flags: flags | Flag.IE };
    return { bits: infBits(f, ps), flags };
  }
  if (z.kind === 'inf') return { bits: infBits(f, zs), flags };
  // Exact value as a signed integer times 2^e0.
  let pm = 0n;
  let pe = 0;
  if (!pZero && x.kind === 'fin' && y.kind === 'fin') {
    pm = x.m * y.m;
    pe = x.e + y.e;
  }
  const zm = z.kind === 'fin' ? z.m : 0n;
  const ze = z.kind === 'fin' ? z.e : 0;
  if (pm === 0n && zm === 0n) {
    // Zeros: equal signs keep it, opposite signs give -0 only when rounding down.
    const neg = ps === zs ? ps : env.rc === 1;
    return { bits: zeroBits(f, neg), flags };
  }
  let total: bigint;
  let e0: number;
  if (pm === 0n) {
    total = zs ? -zm : zm;
    e0 = ze;
  } else if (zm === 0n) {
    total = ps ? -pm : pm;
    e0 = pe;
  } else {
    e0 = Math.min(pe, ze);
    const a = pm << BigInt(pe - e0);
    const b = zm << BigInt(ze - e0);
    total = (ps ? -a : a) + (zs ? -b : b);
  }
  if (total === 0n) return { bits: zeroBits(f, env.rc === 1), flags };
  const neg = total < 0n;
  const r = roundExact(f, neg, neg ? -total : total, e0, env);
  return { bits: r.bits, flags: flags | r.flags };
}

/** VCVTPS2PH per the SDM: DAZ applies to the input, FTZ does not. */
export function oracleSingleToHalf(b: number, env: Env): { bits: number; flags: number } {
  const v = decode(BigInt(b >>> 0), F32);
  const sign = v.sign;
  if (v.kind === 'nan') {
    const m = BigInt(b >>> 0) & 0x7fffffn;
    return {
      bits: (sign ? 0x8000 : 0) | 0x7e00 | Number(m >> 13n),
      flags: v.snan ? Flag.IE : 0,
    };
  }
  if (v.kind === 'inf') return { bits: (sign ? 0x8000 : 0) | 0x7c00, flags: 0 };
  if (v.kind === 'zero' || (v.denormal && env.daz)) return { bits: sign ? 0x8000 : 0, flags: 0 };
  const r = roundExact(F16, sign, v.m, v.e, env, false);
  return { bits: Number(r.bits), flags: r.flags | (v.denormal ? Flag.DE : 0) };
}

/** VCVTPH2PS per the SDM: exact, DAZ ignored, no DE; an SNaN raises IE and is quieted. */
export function oracleHalfToSingle(h: number): { bits: number; flags: number } {
  const v = decode(BigInt(h), F16);
  if (v.kind === 'nan') {
    const m = h & 0x3ff;
    return { bits: ((v.sign ? 0x80000000 : 0) | 0x7fc00000 | (m << 13)) >>> 0, flags: v.snan ? Flag.IE : 0 };
  }
  if (v.kind === 'inf') return { bits: (v.sign ? 0xff800000 : 0x7f800000) >>> 0, flags: 0 };
  if (v.kind === 'zero') return { bits: v.sign ? 0x80000000 : 0, flags: 0 };
  const r = roundExact(F32, v.sign, v.m, v.e, { rc: 0, daz: false, ftz: false, um: true });
  return { bits: Number(r.bits) >>> 0, flags: 0 };
}
