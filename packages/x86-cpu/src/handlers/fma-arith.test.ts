import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Env,
  F32,
  F64,
  oracleFma,
  oracleHalfToSingle,
  oracleSingleToHalf,
} from '../../test/fma-oracle.js';
import { fpFlags } from '../sse/float.js';
import { MXCSR } from '../sse/state.js';
import { fma32, fma64, fmaBegin, halfToSingle, resultHi, setRounding, singleToHalf } from './fma-arith.js';

const MODES = ['nearest', 'down', 'up', 'zero'] as const;

function mxcsrOf(env: Env): number {
  return (
    (0x1f80 & ~(env.um ? 0 : MXCSR.UM)) |
    (env.rc << MXCSR.RC_SHIFT) |
    (env.daz ? MXCSR.DAZ : 0) |
    (env.ftz ? MXCSR.FZ : 0)
  );
}

function run32(x: number, y: number, z: number, np: boolean, na: boolean, env: Env) {
  fmaBegin(mxcsrOf(env));
  const bits = fma32(x, y, z, np, na);
  return { bits: bits >>> 0, flags: fpFlags };
}

function run64(x: bigint, y: bigint, z: bigint, np: boolean, na: boolean, env: Env) {
  fmaBegin(mxcsrOf(env));
  const w = (v: bigint, hi: boolean) => Number((hi ? v >> 32n : v) & 0xffffffffn);
  const lo = fma64(w(x, false), w(x, true), w(y, false), w(y, true), w(z, false), w(z, true), np, na);
  return { bits: (BigInt(resultHi >>> 0) << 32n) | BigInt(lo >>> 0), flags: fpFlags };
}

function expect32(x: number, y: number, z: number, np: boolean, na: boolean, env: Env): void {
  const want = oracleFma(F32, BigInt(x >>> 0), BigInt(y >>> 0), BigInt(z >>> 0), np, na, env);
  const got = run32(x, y, z, np, na, env);
  const hex = (v: number) => (v >>> 0).toString(16);
  expect(
    { bits: hex(got.bits), flags: got.flags },
    `${hex(x)} * ${hex(y)} + ${hex(z)} np=${np} na=${na} ${JSON.stringify(env)}`,
  ).toEqual({ bits: hex(Number(want.bits)), flags: want.flags });
}

function expect64(x: bigint, y: bigint, z: bigint, np: boolean, na: boolean, env: Env): void {
  const want = oracleFma(F64, x, y, z, np, na, env);
  const got = run64(x, y, z, np, na, env);
  expect(
    { bits: got.bits.toString(16), flags: got.flags },
    `${x.toString(16)} * ${y.toString(16)} + ${z.toString(16)} np=${np} na=${na} ${JSON.stringify(env)}`,
  ).toEqual({ bits: want.bits.toString(16), flags: want.flags });
}

// ------------------------------------------------------------------ generators

const envArb = (rc: number) =>
  fc.record({
    rc: fc.constant(rc),
    daz: fc.boolean(),
    ftz: fc.boolean(),
    um: fc.integer({ min: 0, max: 9 }).map((v) => v < 8),
  });

const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** binary32 with a biased exponent in [lo, hi] and a random sign and significand. */
const f32In = (lo: number, hi: number) =>
  fc
    .tuple(fc.boolean(), fc.integer({ min: lo, max: hi }), fc.integer({ min: 0, max: 0x7fffff }))
    .map(([s, e, m]) => ((s ? 0x80000000 : 0) | (e << 23) | m) >>> 0);

const SPECIAL32 = [
  0, 0x80000000, 1, 0x80000001, 0x7fffff, 0x800000, 0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000,
  0x7fc00000, 0xffc00001, 0x7f800001, 0xff900000, 0x3f800000, 0xbf800000, 0x3f800001, 0x33800000, 0x0c000000,
];
const special32 = fc.constantFrom(...SPECIAL32);

const any32 = fc.oneof(u32, f32In(100, 154), f32In(0, 30), f32In(200, 254), special32);

/** A triple whose addend nearly cancels the product (exact zero, ties, a few ulps away). */
const cancel32 = fc
  .tuple(f32In(60, 190), f32In(60, 190), fc.integer({ min: -3, max: 3 }), fc.boolean())
  .map(([x, y, d, half]) => {
    const xv = new Float32Array(new Uint32Array([x]).buffer)[0]!;
    const yv = new Float32Array(new Uint32Array([y]).buffer)[0]!;
    const p = Math.fround(xv * yv);
    let zb = new Uint32Array(new Float32Array([-p]).buffer)[0]!;
    zb = (zb + d) >>> 0;
    if (half) zb = (zb & 0xff800000) | 0; // a power of two near the product: ties
    return [x, y, zb] as const;
  });

/** Products near the overflow and underflow thresholds, with small or zero addends. */
const edge32 = fc
  .tuple(
    fc.integer({ min: 1, max: 254 }),
    fc.constantFrom(127 + 128, 127 - 126, 127 - 149, 127 - 125, 127 - 150, 127 + 127),
    fc.integer({ min: -2, max: 2 }),
    fc.integer({ min: 0, max: 0x7fffff }),
    fc.integer({ min: 0, max: 0x7fffff }),
    fc.oneof(special32, f32In(0, 3), u32),
  )
  .map(([ex, target, d, mx, my, z]) => {
    const ey = Math.min(254, Math.max(1, target + 127 - ex + d));
    return [((ex << 23) | mx) >>> 0, ((ey << 23) | my) >>> 0, z] as const;
  });

const u64 = fc.tuple(u32, u32).map(([h, l]) => (BigInt(h) << 32n) | BigInt(l));
const f64In = (lo: number, hi: number) =>
  fc
    .tuple(fc.boolean(), fc.integer({ min: lo, max: hi }), fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }))
    .map(([s, e, m]) => (s ? 1n << 63n : 0n) | (BigInt(e) << 52n) | m);
const SPECIAL64 = [
  0n,
  1n << 63n,
  1n,
  (1n << 63n) | 1n,
  (1n << 52n) - 1n,
  1n << 52n,
  0x7fefffffffffffffn,
  0x7ff0000000000000n,
  0xfff0000000000000n,
  0x7ff8000000000000n,
  0x7ff0000000000001n,
  0xfff4000000000000n,
  0x3ff0000000000000n,
  0xbff0000000000000n,
  0x3ff0000000000001n,
];
const special64 = fc.constantFrom(...SPECIAL64);
const any64 = fc.oneof(u64, f64In(900, 1150), f64In(0, 60), f64In(1990, 2046), special64);

const toF64 = (b: bigint) => new Float64Array(new BigUint64Array([b]).buffer)[0]!;
const toBits64 = (v: number) => new BigUint64Array(new Float64Array([v]).buffer)[0]!;

const cancel64 = fc
  .tuple(
    f64In(700, 1300),
    f64In(700, 1300),
    fc.integer({ min: -3, max: 3 }),
    fc.boolean(),
    fc.integer({ min: 0, max: 60 }),
  )
  .map(([x, y, d, pow2, shift]) => {
    const p = toF64(x) * toF64(y);
    let z = toBits64(-p);
    z = (z + BigInt(d)) & ((1n << 64n) - 1n);
    if (pow2) z &= 0xfff0000000000000n;
    else z = (z >> BigInt(shift)) << BigInt(shift);
    return [x, y, z] as const;
  });

const edge64 = fc
  .tuple(
    fc.integer({ min: 1, max: 2046 }),
    fc.constantFrom(1023 + 1024, 1023 - 1022, 1023 - 1074, 1023 - 1021, 1023 - 1075, 1023 + 1023),
    fc.integer({ min: -2, max: 2 }),
    fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
    fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }),
    fc.oneof(special64, f64In(0, 3), u64),
  )
  .map(([ex, target, d, mx, my, z]) => {
    const ey = Math.min(2046, Math.max(1, target + 1023 - ex + d));
    return [(BigInt(ex) << 52n) | mx, (BigInt(ey) << 52n) | my, z] as const;
  });

const RUNS = 4000;

// ------------------------------------------------------------------ properties against the oracle

/** The three properties of one width: random and edge operands, near-cancellation, thresholds. */
function fmaProperties<T>(
  fn: string,
  any: fc.Arbitrary<T>,
  cancel: fc.Arbitrary<readonly [T, T, T]>,
  edge: fc.Arbitrary<readonly [T, T, T]>,
  check: (x: T, y: T, z: T, np: boolean, na: boolean, env: Env) => void,
): void {
  describe(`${fn} is x*y+z rounded once, as the exact BigInt oracle`, () => {
    MODES.forEach((name, rc) => {
      it(`random bit patterns and edge operands, round ${name}`, () => {
        fc.assert(
          fc.property(any, any, any, fc.boolean(), fc.boolean(), envArb(rc), (x, y, z, np, na, env) =>
            check(x, y, z, np, na, env),
          ),
          { numRuns: RUNS },
        );
      });
      it(`near-cancellation (exact zeros, ties, sticky bits), round ${name}`, () => {
        fc.assert(
          fc.property(cancel, fc.boolean(), fc.boolean(), envArb(rc), ([x, y, z], np, na, env) =>
            check(x, y, z, np, na !== np, env),
          ),
          { numRuns: RUNS },
        );
      });
      it(`results at the overflow and underflow thresholds, round ${name}`, () => {
        fc.assert(
          fc.property(edge, fc.boolean(), fc.boolean(), envArb(rc), ([x, y, z], np, na, env) =>
            check(x, y, z, np, na, env),
          ),
          { numRuns: RUNS },
        );
      });
    });
  });
}

fmaProperties('fma32', any32, cancel32, edge32, expect32);
fmaProperties('fma64', any64, cancel64, edge64, expect64);

// ------------------------------------------------------------------ targeted SDM cases

const NEAREST: Env = { rc: 0, daz: false, ftz: false, um: true };
const env = (rc: number, extra: Partial<Env> = {}): Env => ({ ...NEAREST, rc, ...extra });

describe('SDM Tables 14-16 and 14-17', () => {
  it('x + (-x) is -0 only when rounding down; equal-signed zeros keep their sign', () => {
    for (let rc = 0; rc < 4; rc++) {
      // 1*1 - 1
      expect(run32(0x3f800000, 0x3f800000, 0x3f800000, false, true, env(rc)).bits).toBe(
        rc === 1 ? 0x80000000 : 0,
      );
      expect(
        run64(0x3ff0000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, false, false, env(rc)).bits,
      ).toBe(rc === 1 ? 1n << 63n : 0n);
      // (-0)*(+0) + (-0) = -0 in every mode; (+0)*(+0) - (+0) per RC
      expect(run32(0x80000000, 0, 0x80000000, false, false, env(rc)).bits).toBe(0x80000000);
      expect(run32(0, 0, 0, false, true, env(rc)).bits).toBe(rc === 1 ? 0x80000000 : 0);
      expect(run32(0, 0, 0, true, true, env(rc)).bits).toBe(0x80000000);
    }
  });

  it('the NaN of the multiplicand wins over the multiplier and addend, quieted, no sign change', () => {
    const r = run32(0x7f800001, 0xffc00002, 0x7fc00003, true, true, NEAREST);
    expect(r).toEqual({ bits: 0x7fc00001, flags: MXCSR.IE });
    expect(run32(0x3f800000, 0xffc00002, 0x7f800003, false, false, NEAREST)).toEqual({
      bits: 0xffc00002,
      flags: MXCSR.IE,
    });
  });

  it('0 * inf + QNaN returns the QNaN without IE (only SNaN operands make a NaN case invalid)', () => {
    expect(run32(0, 0x7f800000, 0x7fc00005, false, false, NEAREST)).toEqual({ bits: 0x7fc00005, flags: 0 });
    expect(run64(0n, 0x7ff0000000000000n, 0x7ff8000000000005n, false, false, NEAREST)).toEqual({
      bits: 0x7ff8000000000005n,
      flags: 0,
    });
  });

  it('inf * 0 and inf - inf are invalid: QNaN indefinite with IE', () => {
    expect(run32(0x7f800000, 0, 0x3f800000, false, false, NEAREST)).toEqual({
      bits: 0xffc00000,
      flags: MXCSR.IE,
    });
    expect(run32(0x7f800000, 0x3f800000, 0x7f800000, false, true, NEAREST)).toEqual({
      bits: 0xffc00000,
      flags: MXCSR.IE,
    });
  });

  it('FTZ flushes by tininess after rounding: a result rounding up to the smallest normal is kept', () => {
    // 2^-63 (1 + 2^-23) * 2^-63 (1 - 2^-23) = 2^-126 (1 - 2^-46): rounds (nearest) to 2^-126, not tiny.
    const x = 0x20000001;
    const y = 0x1ffffffe;
    expect(run32(x, y, 0, false, false, env(0, { ftz: true }))).toEqual({
      bits: 0x00800000,
      flags: MXCSR.PE,
    });
    // Rounding toward zero it stays below 2^-126: tiny, flushed with UE and PE.
    expect(run32(x, y, 0, false, false, env(3, { ftz: true }))).toEqual({
      bits: 0,
      flags: MXCSR.UE | MXCSR.PE,
    });
  });

  it('an exact tiny result raises UE only when underflow is unmasked; DE for a denormal input unless DAZ', () => {
    expect(run32(0x3f800000, 1, 0, false, false, NEAREST)).toEqual({ bits: 1, flags: MXCSR.DE });
    expect(run32(0x3f800000, 1, 0, false, false, env(0, { um: false }))).toEqual({
      bits: 1,
      flags: MXCSR.DE | MXCSR.UE,
    });
    expect(run32(0x3f800000, 1, 0x80000000, false, false, env(0, { daz: true }))).toEqual({
      bits: 0,
      flags: 0,
    });
  });
});

describe('exact ties and sticky bits', () => {
  const one = 0x3ff0000000000000n;
  const f64Bits = (v: number) => new BigUint64Array(new Float64Array([v]).buffer)[0]!;
  // (1 + 2^-26)(1 + 2^-27) = 1 + 2^-26 + 2^-27 + 2^-53: exactly half an ulp above a double.
  const x = f64Bits(1 + 2 ** -26);
  const y = f64Bits(1 + 2 ** -27);
  it('binary64: a tie rounds to even in nearest; a sticky bit far below the product breaks it', () => {
    const base = f64Bits(1 + 2 ** -26 + 2 ** -27);
    expect(run64(x, y, 0n, false, false, NEAREST)).toEqual({ bits: base, flags: MXCSR.PE });
    // + 2^-52 makes the lower neighbour odd: the tie rounds up.
    expect(run64(x, y, f64Bits(2 ** -52), false, false, NEAREST)).toEqual({
      bits: base + 2n,
      flags: MXCSR.PE,
    });
    // A sticky 2^-300 above or below the tie decides it.
    expect(run64(x, y, f64Bits(2 ** -300), false, false, NEAREST).bits).toBe(base + 1n);
    expect(run64(x, y, f64Bits(-(2 ** -300)), false, false, NEAREST).bits).toBe(base);
    for (let rc = 0; rc < 4; rc++)
      for (const z of [0n, f64Bits(2 ** -52), f64Bits(2 ** -300), f64Bits(-(2 ** -300)), f64Bits(-1), one])
        expect64(x, y, z, false, false, env(rc));
  });
  it('binary32: the same tie one precision down', () => {
    const xs = 0x3f800000 | (1 << 11); // 1 + 2^-12: squared, 1 + 2^-11 + 2^-24 (a tie)
    const ys = xs;
    for (let rc = 0; rc < 4; rc++)
      for (const z of [0, 0x33800000, 0x0d800000, 0x8d800000, 0xbf800000, 0x00000001])
        for (const np of [false, true]) expect32(xs, ys, z, np, false, env(rc));
    expect(run32(xs, ys, 0, false, false, NEAREST)).toEqual({
      bits: 0x3f800000 | (1 << 12),
      flags: MXCSR.PE,
    });
  });
});

describe('F16C conversions against the oracle', () => {
  it('VCVTPH2PS is exact for every half value (denormals to normals, SNaN quieted with IE)', () => {
    for (let h = 0; h < 0x10000; h++) {
      fmaBegin(0x1f80 | MXCSR.DAZ | MXCSR.FZ);
      const bits = halfToSingle(h) >>> 0;
      expect({ bits, flags: fpFlags }).toEqual(oracleHalfToSingle(h));
    }
  });

  MODES.forEach((name, rc) => {
    it(`VCVTPS2PH rounds once, round ${name}, FTZ ignored, DAZ honoured`, () => {
      const single = fc.oneof(u32, f32In(90, 150), f32In(0, 3), special32);
      fc.assert(
        fc.property(single, envArb(rc), (b, e) => {
          fmaBegin(mxcsrOf({ ...e, rc: (rc + 1) & 3 }));
          setRounding(rc);
          const got = singleToHalf(b);
          expect({ bits: got, flags: fpFlags }, `${b.toString(16)} ${JSON.stringify(e)}`).toEqual(
            oracleSingleToHalf(b, e),
          );
        }),
        { numRuns: 5000 },
      );
    });
  });
});
