import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EX_DE, EX_IE, EX_OE, EX_PE, EX_UE, EX_ZE, RC_DOWN, RC_NEAREST, RC_UP, RC_ZERO } from './bits.js';
import {
  add,
  CMP_EQ,
  CMP_GT,
  CMP_LT,
  CMP_UNORDERED,
  compare,
  div,
  F80,
  FloatEnv,
  floatOut,
  fromF32,
  fromF64,
  fromInt64,
  intOut,
  mul,
  remainder,
  remResult,
  roundToInt,
  sqrt,
  toFloat,
  toInt,
} from './softfloat.js';

const view = new DataView(new ArrayBuffer(8));

function envWith(precision: number, rc = RC_NEAREST, masks = 0x3f): FloatEnv {
  const e = new FloatEnv();
  e.precision = precision;
  e.rc = rc;
  e.masks = masks;
  return e;
}

function f80(d: number): F80 {
  view.setFloat64(0, d);
  const r = new F80();
  fromF64(new FloatEnv(), view.getUint32(4), view.getUint32(0), true, r);
  return r;
}

function toDouble(x: F80, rc = RC_NEAREST): number {
  toFloat(envWith(64, rc), x, 64);
  view.setUint32(0, floatOut[1]!);
  view.setUint32(4, floatOut[0]!);
  return view.getFloat64(0);
}

function hex(x: F80): string {
  return `${x.se.toString(16).padStart(4, '0')}:${x.hi.toString(16).padStart(8, '0')}${x.lo.toString(16).padStart(8, '0')}`;
}

/** Doubles whose results stay clear of the double denormal range (where PC=53 double-rounds). */
const normalDouble = fc
  .double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 })
  .filter((d) => d === 0 || Math.abs(d) > 1e-290);
const isComparable = (r: number) => r === 0 || !Number.isFinite(r) || Math.abs(r) >= 2 ** -1022;

describe('53-bit precision arithmetic matches IEEE double arithmetic (round to nearest)', () => {
  const env = envWith(53);
  const out = new F80();
  it('addition and subtraction', () => {
    fc.assert(
      fc.property(normalDouble, normalDouble, (a, b) => {
        add(env, f80(a), f80(b), false, out);
        if (isComparable(a + b)) expect(toDouble(out)).toBe(a + b);
        add(env, f80(a), f80(b), true, out);
        if (isComparable(a - b)) expect(toDouble(out)).toBe(a - b);
      }),
      { numRuns: 2000 },
    );
  });
  it('multiplication', () => {
    fc.assert(
      fc.property(normalDouble, normalDouble, (a, b) => {
        mul(env, f80(a), f80(b), out);
        if (isComparable(a * b) && Math.abs(a * b) < 1e308) expect(toDouble(out)).toBe(a * b);
      }),
      { numRuns: 2000 },
    );
  });
  it('division', () => {
    fc.assert(
      fc.property(normalDouble, normalDouble, (a, b) => {
        fc.pre(b !== 0);
        div(env, f80(a), f80(b), out);
        if (isComparable(a / b) && Math.abs(a / b) < 1e308) expect(toDouble(out)).toBe(a / b);
      }),
      { numRuns: 2000 },
    );
  });
  it('square root', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e300, noNaN: true }), (a) => {
        sqrt(env, f80(a), out);
        expect(toDouble(out)).toBe(Math.sqrt(a));
      }),
      { numRuns: 2000 },
    );
  });
  it('directed rounding of products brackets the exact product', () => {
    fc.assert(
      fc.property(normalDouble, normalDouble, (a, b) => {
        const p = a * b;
        fc.pre(isComparable(p) && Math.abs(p) < 1e300 && p !== 0);
        const lo = new F80();
        const hi = new F80();
        mul(envWith(53, RC_DOWN), f80(a), f80(b), lo);
        mul(envWith(53, RC_UP), f80(a), f80(b), hi);
        const dl = toDouble(lo);
        const dh = toDouble(hi);
        expect(dl <= p && p <= dh).toBe(true);
        // Exact products give equal bounds; inexact ones differ by one ulp.
        if (dl !== dh) expect(dh).toBe(nextUp(dl));
      }),
      { numRuns: 1000 },
    );
  });
});

function nextUp(d: number): number {
  view.setFloat64(0, d);
  const big = view.getBigUint64(0);
  if (d === 0) return Number.MIN_VALUE;
  view.setBigUint64(0, d > 0 ? big + 1n : big - 1n);
  return view.getFloat64(0);
}

describe('1/3 under each precision and rounding control', () => {
  // 1/3 = 1.0101...b x 2^-2: exponent 3FFD, significand AAAA... with every following bit pattern 1010.
  const cases: [number, number, string, string, string][] = [
    // precision, rc, expected significand
    [64, RC_NEAREST, 'aaaaaaaa', 'aaaaaaab', 'up (round bit 1, sticky)'],
    [64, RC_UP, 'aaaaaaaa', 'aaaaaaab', ''],
    [64, RC_DOWN, 'aaaaaaaa', 'aaaaaaaa', ''],
    [64, RC_ZERO, 'aaaaaaaa', 'aaaaaaaa', ''],
    [53, RC_NEAREST, 'aaaaaaaa', 'aaaaa800', 'down (round bit 0)'],
    [53, RC_UP, 'aaaaaaaa', 'aaaab000', ''],
    [53, RC_DOWN, 'aaaaaaaa', 'aaaaa800', ''],
    [53, RC_ZERO, 'aaaaaaaa', 'aaaaa800', ''],
    [24, RC_NEAREST, 'aaaaab00', '00000000', 'up (round bit 1)'],
    [24, RC_UP, 'aaaaab00', '00000000', ''],
    [24, RC_DOWN, 'aaaaaa00', '00000000', ''],
    [24, RC_ZERO, 'aaaaaa00', '00000000', ''],
  ];
  for (const [p, rc, hi, lo] of cases) {
    it(`precision ${p}, rc ${rc}: significand ${hi}${lo}, PE set, C1 iff rounded up`, () => {
      const env = envWith(p, rc);
      const out = new F80();
      div(env, f80(1), f80(3), out);
      expect(hex(out)).toBe(`3ffd:${hi}${lo}`);
      expect(env.flags).toBe(EX_PE);
      expect(env.roundedUp).toBe(rc === RC_UP || (rc === RC_NEAREST && p !== 53));
    });
  }
  it('-1/3 rounds down in magnitude under RC=up', () => {
    const env = envWith(64, RC_UP);
    const out = new F80();
    div(env, f80(-1), f80(3), out);
    expect(hex(out)).toBe('bffd:aaaaaaaaaaaaaaaa');
    expect(env.roundedUp).toBe(false);
  });
});

describe('square root', () => {
  it('sqrt(2) has the significand floor(sqrt(2^127)) rounded by its next bit', () => {
    // Independent reference: integer square root with bigint Newton iteration.
    const n = 2n ** 129n; // sqrt(2) * 2^64 = sqrt(2^129): keep one extra bit for rounding
    let x = 2n ** 65n;
    for (;;) {
      const y = (x + n / x) / 2n;
      if (y >= x) break;
      x = y;
    }
    const sig = x >> 1n;
    const roundUp = (x & 1n) === 1n; // sqrt(2) is irrational, so the sticky bits are nonzero
    const expected = roundUp ? sig + 1n : sig;
    const out = new F80();
    const env = envWith(64);
    sqrt(env, f80(2), out);
    expect(out.se).toBe(0x3fff);
    expect((BigInt(out.hi) << 32n) | BigInt(out.lo)).toBe(expected);
    expect(env.flags).toBe(EX_PE);
    sqrt(env, f80(4), out);
    expect(hex(out)).toBe('4000:8000000000000000');
  });
  it('sqrt of a negative number is invalid, sqrt(-0) is -0', () => {
    const env = envWith(64);
    const out = new F80();
    sqrt(env, f80(-2), out);
    expect(hex(out)).toBe('ffff:c000000000000000');
    expect(env.flags & EX_IE).toBe(EX_IE);
    env.clear();
    sqrt(env, f80(-0), out);
    expect(hex(out)).toBe('8000:0000000000000000');
    expect(env.flags).toBe(0);
  });
});

describe('special operands', () => {
  it('x/0 raises ZE and gives a signed infinity; 0/0 and inf-inf give the real indefinite', () => {
    const env = envWith(64);
    const out = new F80();
    div(env, f80(-5), f80(0), out);
    expect(hex(out)).toBe('ffff:8000000000000000');
    expect(env.flags).toBe(EX_ZE);
    env.clear();
    div(env, f80(0), f80(0), out);
    expect(hex(out)).toBe('ffff:c000000000000000');
    expect(env.flags).toBe(EX_IE);
    env.clear();
    add(env, f80(Infinity), f80(Infinity), true, out);
    expect(hex(out)).toBe('ffff:c000000000000000');
  });
  it('x - x is +0 except under RC=down, where it is -0', () => {
    const out = new F80();
    add(envWith(64, RC_NEAREST), f80(1.5), f80(1.5), true, out);
    expect(out.se).toBe(0);
    add(envWith(64, RC_DOWN), f80(1.5), f80(1.5), true, out);
    expect(out.se).toBe(0x8000);
  });
  it('an SNaN operand raises IE and is quieted; two QNaNs give the larger significand', () => {
    const env = envWith(64);
    const out = new F80();
    const snan = new F80().set(0x7fff, 0x80000001, 0);
    add(env, snan, f80(1), false, out);
    expect(hex(out)).toBe('7fff:c000000100000000');
    expect(env.flags).toBe(EX_IE);
    env.clear();
    const q1 = new F80().set(0xffff, 0xc0000000, 5);
    const q2 = new F80().set(0x7fff, 0xc0000000, 9);
    mul(env, q1, q2, out);
    expect(hex(out)).toBe('7fff:c000000000000009');
    expect(env.flags).toBe(0);
  });
  it('unnormals and pseudo-infinities are invalid operands', () => {
    const env = envWith(64);
    const out = new F80();
    const unnormal = new F80().set(0x3fff, 0x40000000, 0);
    add(env, unnormal, f80(1), false, out);
    expect(hex(out)).toBe('ffff:c000000000000000');
    expect(env.flags).toBe(EX_IE);
    env.clear();
    const pseudoInf = new F80().set(0x7fff, 0, 0);
    mul(env, pseudoInf, f80(1), out);
    expect(env.flags).toBe(EX_IE);
  });
  it('a pseudo-denormal raises DE and is used with exponent 1', () => {
    const env = envWith(64);
    const out = new F80();
    const pseudo = new F80().set(0, 0x80000000, 0); // value 2^-16382
    const minNormal = new F80().set(1, 0x80000000, 0);
    add(env, pseudo, minNormal, false, out);
    expect(hex(out)).toBe('0002:8000000000000000');
    expect(env.flags).toBe(EX_DE);
  });
});

describe('overflow, underflow and denormals', () => {
  const big = new F80().set(0x7ffe, 0xffffffff, 0xffffffff);
  it('masked overflow gives infinity (nearest) or the largest finite (toward zero) with OE and PE', () => {
    const out = new F80();
    let env = envWith(64, RC_NEAREST);
    mul(env, big, f80(2), out);
    expect(hex(out)).toBe('7fff:8000000000000000');
    expect(env.flags).toBe(EX_OE | EX_PE);
    env = envWith(64, RC_ZERO);
    mul(env, big, f80(2), out);
    expect(hex(out)).toBe('7ffe:ffffffffffffffff');
    env = envWith(53, RC_ZERO);
    mul(env, big, f80(2), out);
    expect(hex(out)).toBe('7ffe:fffffffffffff800');
  });
  it('unmasked overflow delivers the result with the exponent reduced by 24576', () => {
    const env = envWith(64, RC_NEAREST, 0x3f & ~EX_OE);
    const out = new F80();
    mul(env, big, f80(2), out);
    expect(hex(out)).toBe(`${(0x7fff - 24576).toString(16)}:ffffffffffffffff`);
    expect(env.flags & EX_OE).toBe(EX_OE);
  });
  it('a tiny inexact result is denormalized with UE and PE; an exact tiny result raises no UE', () => {
    const minNormal = new F80().set(1, 0x80000000, 0);
    const out = new F80();
    let env = envWith(64);
    div(env, minNormal, f80(4), out);
    expect(hex(out)).toBe('0000:2000000000000000');
    expect(env.flags).toBe(0);
    env = envWith(64);
    div(env, minNormal, f80(3), out);
    expect(out.se).toBe(0);
    expect(env.flags).toBe(EX_UE | EX_PE);
    // Unmasked underflow: bias-adjusted normal result and UE even when exact.
    env = envWith(64, RC_NEAREST, 0x3f & ~EX_UE);
    div(env, minNormal, f80(4), out);
    expect(hex(out)).toBe(`${(24576 - 1).toString(16)}:8000000000000000`);
    expect(env.flags).toBe(EX_UE);
  });
  it('float64 denormals load exactly with DE; storing them rounds with UE', () => {
    const env = envWith(64);
    const x = new F80();
    view.setFloat64(0, 5e-324);
    fromF64(env, view.getUint32(4), view.getUint32(0), true, x);
    expect(hex(x)).toBe(`${(16383 - 1074).toString(16)}:8000000000000000`);
    expect(env.flags).toBe(EX_DE);
    expect(toDouble(x)).toBe(5e-324);
    const third = new F80();
    div(envWith(64), x, f80(3), third);
    const e2 = envWith(64);
    toFloat(e2, third, 64);
    expect(floatOut[0]).toBe(0);
    expect(e2.flags).toBe(EX_UE | EX_PE);
  });
  it('float32 loads and stores round-trip every finite float32', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (f) => {
        const bits = new Uint32Array(new Float32Array([f]).buffer)[0]!;
        const x = new F80();
        fromF32(envWith(64), bits, true, x);
        toFloat(envWith(64), x, 32);
        expect(floatOut[0]).toBe(bits);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('comparisons', () => {
  it('orders values and reports NaN as unordered (IE only for signaling compares)', () => {
    const env = envWith(64);
    expect(compare(env, f80(1), f80(2), false)).toBe(CMP_LT);
    expect(compare(env, f80(-0), f80(0), false)).toBe(CMP_EQ);
    expect(compare(env, f80(Infinity), f80(1e300), false)).toBe(CMP_GT);
    expect(compare(env, f80(-3), f80(-2), false)).toBe(CMP_LT);
    expect(env.flags).toBe(0);
    expect(compare(env, f80(Number.NaN), f80(1), true)).toBe(CMP_UNORDERED);
    expect(env.flags).toBe(0);
    expect(compare(env, f80(Number.NaN), f80(1), false)).toBe(CMP_UNORDERED);
    expect(env.flags).toBe(EX_IE);
  });
});

describe('integer conversions', () => {
  it('64-bit integers round-trip through the extended format', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const u = BigInt.asUintN(64, v);
        const x = new F80();
        fromInt64(Number(u & 0xffffffffn), Number(u >> 32n), x);
        const env = envWith(64);
        expect(toInt(env, x, 64, false)).toBe(true);
        expect((BigInt(intOut[1]!) << 32n) | BigInt(intOut[0]!)).toBe(u);
        expect(env.flags).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });
  it('rounds halfway cases to even, truncates for FISTTP, and flags out-of-range as invalid', () => {
    const env = envWith(64);
    toInt(env, f80(2.5), 32, false);
    expect(intOut[0]).toBe(2);
    toInt(env, f80(-2.5), 32, false);
    expect(intOut[0]).toBe(0xfffffffe);
    toInt(env, f80(-2.7), 32, true);
    expect(intOut[0]).toBe(0xfffffffe);
    expect(env.flags).toBe(EX_PE);
    env.clear();
    expect(toInt(env, f80(32768), 16, false)).toBe(false);
    expect(intOut[0]).toBe(0x8000);
    expect(env.flags).toBe(EX_IE);
    env.clear();
    expect(toInt(env, f80(-32768), 16, false)).toBe(true);
    expect(intOut[0]).toBe(0x8000);
    expect(toInt(env, f80(2 ** 63), 64, false)).toBe(false);
    expect([intOut[0], intOut[1]]).toEqual([0, 0x80000000]);
  });
  it('FRNDINT rounds by RC and keeps the sign of zero', () => {
    const out = new F80();
    roundToInt(envWith(64, RC_UP), f80(-0.5), out);
    expect(out.se).toBe(0x8000);
    expect(out.hi).toBe(0);
    roundToInt(envWith(64, RC_UP), f80(0.25), out);
    expect(toDouble(out)).toBe(1);
    roundToInt(envWith(64, RC_NEAREST), f80(3.5), out);
    expect(toDouble(out)).toBe(4);
  });
});

describe('partial remainder', () => {
  it('FPREM truncates and FPREM1 rounds the quotient; low quotient bits are reported', () => {
    const out = new F80();
    remainder(envWith(64), f80(11), f80(3), false, out);
    expect(toDouble(out)).toBe(2);
    expect(remResult.q).toBe(3);
    remainder(envWith(64), f80(11), f80(3), true, out);
    expect(toDouble(out)).toBe(-1);
    expect(remResult.q).toBe(4);
    remainder(envWith(64), f80(-7.5), f80(2), false, out);
    expect(toDouble(out)).toBe(-1.5);
    expect(remResult.q).toBe(3);
  });
  it('FPREM1 rounds quotient ties to even, including |a| < |b|', () => {
    const out = new F80();
    const cases: [number, number, number, number][] = [
      // a, b, remainder, quotient bits
      [5, 2, 1, 2],
      [3, 2, -1, 2],
      [1.5, 2, -0.5, 1],
      [1, 2, 1, 0],
      [0.75, 2, 0.75, 0],
    ];
    for (const [a, b, r, q] of cases) {
      remainder(envWith(64), f80(a), f80(b), true, out);
      expect(toDouble(out)).toBe(r);
      expect(remResult.q).toBe(q);
    }
  });
  it('matches fmod for random doubles once the partial steps complete', () => {
    fc.assert(
      fc.property(normalDouble, normalDouble, (a, b) => {
        fc.pre(b !== 0 && a !== 0);
        let x = f80(a);
        const y = f80(b);
        const out = new F80();
        for (let i = 0; i < 100; i++) {
          remainder(envWith(64), x, y, false, out);
          x = new F80().copy(out);
          if (!remResult.partial) break;
        }
        const expected = a % b;
        if (Math.abs(expected) >= 2 ** -1022 || expected === 0) expect(toDouble(x)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
