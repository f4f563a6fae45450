import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EX_PE, RC_DOWN, RC_NEAREST, RC_UP, RC_ZERO } from './bits.js';
import { ARITH_ADD, ARITH_DIV, ARITH_MUL, ARITH_SUB, X87 } from './fpu.js';
import { add, div, F80, FloatEnv, mul, sqrt } from './softfloat.js';

// Reference: exact bigint arithmetic on value = sig * 2^(exp - 16383 - 63), rounded to p bits by a
// straightforward implementation of the IEEE rules (normal-range results only). Test code only.

interface Exact {
  neg: boolean;
  mag: bigint; // magnitude numerator
  e2: number; // value = mag * 2^e2
  sticky: boolean; // nonzero bits below mag were dropped
}

function exactOf(x: F80): Exact {
  return {
    neg: (x.se & 0x8000) !== 0,
    mag: (BigInt(x.hi) << 32n) | BigInt(x.lo),
    e2: (x.se & 0x7fff) - 16383 - 63,
    sticky: false,
  };
}

function roundRef(v: Exact, rc: number, p: number): { hex: string; inexact: boolean } {
  let { mag, e2 } = v;
  const bits = mag.toString(2).length;
  let shift = bits - p;
  let sticky = v.sticky;
  if (shift < 0) {
    mag <<= BigInt(-shift);
    e2 += shift;
    shift = 0;
  }
  let kept = mag >> BigInt(shift);
  const rest = mag - (kept << BigInt(shift));
  const half = shift > 0 ? 1n << BigInt(shift - 1) : 0n;
  const rb = shift > 0 && rest >= half;
  // Below the round bit: anything left besides the half, or bits dropped before.
  sticky = sticky || (shift > 0 && (rb ? rest > half : rest !== 0n));
  const inexact = rb || sticky;
  let inc = false;
  if (rc === RC_NEAREST) inc = rb && (sticky || (kept & 1n) === 1n);
  else if (rc === RC_UP) inc = !v.neg && inexact;
  else if (rc === RC_DOWN) inc = v.neg && inexact;
  e2 += shift;
  if (inc) {
    kept += 1n;
    if (kept >> BigInt(p) === 1n) {
      kept >>= 1n;
      e2 += 1;
    }
  }
  const sig = kept << BigInt(64 - p);
  // value = kept * 2^e2 = sig * 2^(e2 - (64 - p)) = sig * 2^(E - 16383 - 63)
  const exp = e2 - (64 - p) + 16383 + 63;
  const se = (v.neg ? 0x8000 : 0) | exp;
  return { hex: `${se.toString(16)}:${sig.toString(16).padStart(16, '0')}`, inexact };
}

function hex(x: F80): string {
  return `${x.se.toString(16)}:${((BigInt(x.hi) << 32n) | BigInt(x.lo)).toString(16).padStart(16, '0')}`;
}

/** Random finite normal extended values with exponents near 1.0, biased toward edge significands. */
const edgeSig = fc.constantFrom(
  [0x80000000, 0],
  [0x80000000, 1],
  [0xffffffff, 0xffffffff],
  [0xffffffff, 0],
  [0xfffffffe, 0xffffffff],
  [0xaaaaaaaa, 0xaaaaaaab],
  [0xc0000000, 0],
  [0x80000001, 0xfffff800],
);
const arbF80 = fc
  .record({
    neg: fc.boolean(),
    e: fc.integer({ min: -80, max: 80 }),
    hi: fc.integer({ min: 0, max: 0x7fffffff }),
    lo: fc.integer({ min: 0, max: 0xffffffff }),
    kind: fc.integer({ min: 0, max: 3 }),
    edge: edgeSig,
  })
  .map(({ neg, e, hi, lo, kind, edge }) => {
    const se = (neg ? 0x8000 : 0) | (16383 + e);
    if (kind === 0) return new F80().set(se, edge[0]!, edge[1]!);
    if (kind === 1) return new F80().set(se, (0x80000000 | (hi & 0xffff0000)) >>> 0, 0);
    return new F80().set(se, (0x80000000 | hi) >>> 0, lo);
  });
const arbRc = fc.constantFrom(RC_NEAREST, RC_DOWN, RC_UP, RC_ZERO);
const arbP = fc.constantFrom(24, 53, 64);

function env(rc: number, p: number): FloatEnv {
  const e = new FloatEnv();
  e.rc = rc;
  e.precision = p;
  return e;
}

describe('extended arithmetic is correctly rounded in every precision and rounding mode', () => {
  it('addition and subtraction', () => {
    fc.assert(
      fc.property(arbF80, arbF80, arbRc, arbP, (a, b, rc, p) => {
        const ea = exactOf(a);
        const eb = exactOf(b);
        const e2 = Math.min(ea.e2, eb.e2);
        const va = (ea.neg ? -ea.mag : ea.mag) << BigInt(ea.e2 - e2);
        const vb = (eb.neg ? -eb.mag : eb.mag) << BigInt(eb.e2 - e2);
        const sum = va + vb;
        fc.pre(sum !== 0n);
        const ref = roundRef({ neg: sum < 0n, mag: sum < 0n ? -sum : sum, e2, sticky: false }, rc, p);
        const out = new F80();
        const en = env(rc, p);
        add(en, a, b, false, out);
        expect(hex(out)).toBe(ref.hex);
        expect((en.flags & EX_PE) !== 0).toBe(ref.inexact);
      }),
      { numRuns: 3000 },
    );
  });
  it('multiplication', () => {
    fc.assert(
      fc.property(arbF80, arbF80, arbRc, arbP, (a, b, rc, p) => {
        const ea = exactOf(a);
        const eb = exactOf(b);
        const ref = roundRef(
          { neg: ea.neg !== eb.neg, mag: ea.mag * eb.mag, e2: ea.e2 + eb.e2, sticky: false },
          rc,
          p,
        );
        const out = new F80();
        const en = env(rc, p);
        mul(en, a, b, out);
        expect(hex(out)).toBe(ref.hex);
        expect((en.flags & EX_PE) !== 0).toBe(ref.inexact);
      }),
      { numRuns: 3000 },
    );
  });
  it('division', () => {
    fc.assert(
      fc.property(arbF80, arbF80, arbRc, arbP, (a, b, rc, p) => {
        const ea = exactOf(a);
        const eb = exactOf(b);
        const num = ea.mag << 140n;
        const q = num / eb.mag;
        const ref = roundRef(
          { neg: ea.neg !== eb.neg, mag: q, e2: ea.e2 - eb.e2 - 140, sticky: q * eb.mag !== num },
          rc,
          p,
        );
        const out = new F80();
        const en = env(rc, p);
        div(en, a, b, out);
        expect(hex(out)).toBe(ref.hex);
        expect((en.flags & EX_PE) !== 0).toBe(ref.inexact);
      }),
      { numRuns: 3000 },
    );
  });
  it('square root', () => {
    const isqrt = (v: bigint) => {
      let x = 1n << BigInt(Math.ceil(v.toString(2).length / 2) + 1);
      for (;;) {
        const y = (x + v / x) >> 1n;
        if (y >= x) return x;
        x = y;
      }
    };
    fc.assert(
      fc.property(arbF80, arbRc, arbP, (a0, rc, p) => {
        const a = new F80().copy(a0);
        a.se &= 0x7fff;
        const ea = exactOf(a);
        // Make the exponent even, then take 140 extra bits.
        const shift = (ea.e2 & 1) === 0 ? 140 : 141;
        const rad = ea.mag << BigInt(shift);
        const r = isqrt(rad);
        const ref = roundRef({ neg: false, mag: r, e2: (ea.e2 - shift) / 2, sticky: r * r !== rad }, rc, p);
        const out = new F80();
        const en = env(rc, p);
        sqrt(en, a, out);
        expect(hex(out)).toBe(ref.hex);
        expect((en.flags & EX_PE) !== 0).toBe(ref.inexact);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('64-bit precision holds every 64-bit integer exactly', () => {
  const i64 = fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n - 1n });
  const load = (f: X87, v: bigint) => {
    const u = BigInt.asUintN(64, v);
    f.fildI64(Number(u & 0xffffffffn), Number(u >> 32n));
  };
  const store = (f: X87): bigint => {
    expect(f.fistInt(64, true, false)).toBe(true);
    return BigInt.asIntN(64, (BigInt(f.out[1]!) << 32n) | BigInt(f.out[0]!));
  };
  it('FILD a, FILD b, FADD/FSUB, FISTP gives a + b and a - b', () => {
    fc.assert(
      fc.property(i64, i64, (a, b) => {
        const f = new X87();
        load(f, a);
        load(f, b);
        f.arithSt(ARITH_ADD, 0, 1, false);
        expect(store(f)).toBe(a + b);
        load(f, b);
        f.arithSt(ARITH_SUB, 0, 1, false); // b - a
        expect(store(f)).toBe(b - a);
      }),
      { numRuns: 1000 },
    );
  });
  it('FSQRT of a perfect square is exact', () => {
    fc.assert(
      // n^2 stays below 2^63 so it loads as a signed 64-bit integer.
      fc.property(fc.bigInt({ min: 1n, max: 3037000499n }), (n) => {
        const f = new X87();
        load(f, n * n);
        f.fsqrt();
        expect(f.sw & EX_PE).toBe(0);
        expect(store(f)).toBe(n);
      }),
      { numRuns: 1000 },
    );
  });
  it('products of 32-bit integers and the division back are exact', () => {
    const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    fc.assert(
      fc.property(i32, i32, (a, b) => {
        fc.pre(b !== 0);
        const f = new X87();
        f.fildI32(a);
        f.arithInt(ARITH_MUL, b);
        f.arithInt(ARITH_DIV, b);
        expect(f.sw & EX_PE).toBe(0);
        expect(store(f)).toBe(BigInt(a));
      }),
      { numRuns: 1000 },
    );
  });
});
