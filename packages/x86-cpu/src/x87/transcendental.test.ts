import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EX_IE, EX_PE, EX_ZE, SW_C2 } from './bits.js';
import { CONST_PI, X87 } from './fpu.js';
import { F80 } from './softfloat.js';

// Independent reference: 256-bit fixed-point bigint series (Machin's pi, Taylor sin/cos/exp,
// atanh-based ln, halved Taylor atan). Test code only.
const P = 256n;
const ONE = 1n << P;
const fmul = (a: bigint, b: bigint) => (a * b) >> P;
const fdiv = (a: bigint, b: bigint) => (a << P) / b;
function atanInv(n: bigint): bigint {
  let sum = 0n;
  let term = ONE / n;
  for (let k = 1n; term !== 0n; k += 2n) {
    sum += ((k & 3n) === 1n ? 1n : -1n) * (term / k);
    term /= n * n;
  }
  return sum;
}
const PI = 4n * (4n * atanInv(5n) - atanInv(239n));
function isqrt(v: bigint): bigint {
  if (v <= 0n) return 0n;
  let x = 1n << BigInt(Math.ceil(v.toString(2).length / 2));
  for (;;) {
    const y = (x + v / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}
const fsqrt = (a: bigint) => isqrt(a << P);
function sinCosRef(x: bigint): [bigint, bigint] {
  const halfPi = PI / 2n;
  let k = (x + halfPi / 2n) / halfPi;
  if (x < -halfPi / 2n) k = -((-x + halfPi / 2n) / halfPi);
  const r = x - k * halfPi;
  let s = 0n;
  let c = 0n;
  let term = ONE;
  for (let n = 0n; n < 120n; n++) {
    if (n % 2n === 0n) c += (n / 2n) % 2n === 0n ? term : -term;
    else s += ((n - 1n) / 2n) % 2n === 0n ? term : -term;
    term = fmul(term, r) / (n + 1n);
    if (term <= 1n && term >= -1n) break;
  }
  const q = Number(((k % 4n) + 4n) % 4n);
  return [[s, c, -s, -c][q]!, [c, -s, -c, s][q]!];
}
function expRef(x: bigint): bigint {
  let sum = 0n;
  let term = ONE;
  for (let n = 1n; term > 1n || term < -1n; n++) {
    sum += term;
    term = fmul(term, x) / n;
  }
  return sum;
}
function lnRef(x: bigint): bigint {
  let k = 0n;
  while (x >= 2n * ONE) {
    x >>= 1n;
    k++;
  }
  while (x < ONE) {
    x <<= 1n;
    k--;
  }
  const s = fdiv(x - ONE, x + ONE);
  const s2 = fmul(s, s);
  let sum = 0n;
  let term = s;
  for (let n = 1n; term !== 0n; n += 2n) {
    sum += term / n;
    term = fmul(term, s2);
  }
  return 2n * sum + k * LN2;
}
const LN2 = (() => {
  const s = fdiv(ONE, 3n * ONE);
  const s2 = fmul(s, s);
  let sum = 0n;
  let term = s;
  for (let n = 1n; term !== 0n; n += 2n) {
    sum += term / n;
    term = fmul(term, s2);
  }
  return 2n * sum;
})();
function atanRef(t: bigint): bigint {
  const neg = t < 0n;
  if (neg) t = -t;
  let base = 0n;
  if (t > ONE) {
    base = PI / 2n;
    t = -fdiv(ONE, t);
  }
  // Two halvings, then Taylor.
  let h = t;
  for (let i = 0; i < 2; i++) h = fdiv(h, ONE + fsqrt(ONE + fmul(h, h)));
  const h2 = fmul(h, h);
  let sum = 0n;
  let term = h;
  for (let n = 1n; term > 1n || term < -1n; n += 2n) {
    sum += ((n - 1n) / 2n) % 2n === 0n ? term / n : -(term / n);
    term = fmul(term, h2);
  }
  const r = base + 4n * sum;
  return neg ? -r : r;
}

function toFixed(x: F80): bigint {
  const sig = (BigInt(x.hi) << 32n) | BigInt(x.lo);
  const e = BigInt((x.se & 0x7fff) - 16383 - 63) + P;
  const v = e >= 0n ? sig << e : sig >> -e;
  return x.se & 0x8000 ? -v : v;
}

/** Error of x against the exact value ref, in units of the last place of x. */
function ulpError(x: F80, ref: bigint): number {
  const e = BigInt((x.se & 0x7fff) - 16383 - 63) + P;
  const ulp = 1n << (e > 0n ? e : 0n);
  return Number(((toFixed(x) - ref) * 1000000n) / ulp) / 1000000;
}

const view = new DataView(new ArrayBuffer(8));
function load(f: X87, d: number, extraBits = 0): void {
  view.setFloat64(0, d);
  f.fldF64(view.getUint32(4), view.getUint32(0));
  // Fill the 11 significand bits below double precision so the full 64 bits are exercised.
  if (d !== 0) f.st(0).lo = (f.st(0).lo | (extraBits & 0x7ff)) >>> 0;
}

/** Check ~300 random arguments against the reference: all within 1 ulp, nearly all correctly rounded. */
function accuracy(
  gen: fc.Arbitrary<number>,
  run: (f: X87, x: number, bits: number) => [F80, bigint] | undefined,
): void {
  let worst = 0;
  let correct = 0;
  let total = 0;
  fc.assert(
    fc.property(gen, fc.integer({ min: 0, max: 2047 }), (x, bits) => {
      const f = new X87();
      const r = run(f, x, bits);
      if (r === undefined) return;
      const err = Math.abs(ulpError(r[0], r[1]));
      worst = Math.max(worst, err);
      total++;
      if (err <= 0.5) correct++;
    }),
    { numRuns: 300, seed: 42 },
  );
  expect(worst).toBeLessThan(1);
  expect(correct / total).toBeGreaterThan(0.99);
}

describe('transcendental accuracy against a 256-bit reference (round to nearest)', () => {
  it('FSIN and FCOS for |x| < 100', () => {
    accuracy(fc.double({ min: -100, max: 100, noNaN: true }), (f, x, bits) => {
      load(f, x, bits);
      const arg = toFixed(f.st(0));
      if (arg === 0n) return undefined;
      f.fsincos();
      const [s, c] = sinCosRef(arg);
      expect(Math.abs(ulpError(f.st(1), s))).toBeLessThan(1);
      return [f.st(0), c];
    });
  });
  it('FPTAN for |x| < 1.5', () => {
    accuracy(fc.double({ min: -1.5, max: 1.5, noNaN: true }), (f, x, bits) => {
      load(f, x, bits);
      const arg = toFixed(f.st(0));
      if (Math.abs(x) < 1e-30) return undefined; // below the reference's fixed-point resolution
      f.fptan();
      expect(f.st(0).se).toBe(0x3fff);
      const [s, c] = sinCosRef(arg);
      return [f.st(1), fdiv(s, c)];
    });
  });
  it('F2XM1 on [-1, 1]', () => {
    accuracy(fc.double({ min: -1, max: 1, noNaN: true }), (f, x, bits) => {
      load(f, x, bits);
      const arg = toFixed(f.st(0));
      if (arg === 0n || Math.abs(x) < 1e-30) return undefined;
      f.f2xm1();
      return [f.st(0), expRef(fmul(arg, LN2)) - ONE];
    });
  });
  it('FYL2X with y = 1 (log2) on (0, 1e6]', () => {
    accuracy(fc.double({ min: 1e-6, max: 1e6, noNaN: true }), (f, x, bits) => {
      f.fldConst(0 /* 1.0 */);
      load(f, x, bits);
      const arg = toFixed(f.st(0));
      f.fyl2x(false);
      const ref = fdiv(lnRef(arg), LN2);
      if (ref === 0n) return undefined;
      return [f.st(0), ref];
    });
  });
  it('FYL2XP1 with y = 1 on |x| < 0.29', () => {
    accuracy(fc.double({ min: -0.29, max: 0.29, noNaN: true }), (f, x, bits) => {
      f.fldConst(0);
      load(f, x, bits);
      const arg = toFixed(f.st(0));
      if (arg === 0n || Math.abs(x) < 1e-30) return undefined;
      f.fyl2x(true);
      return [f.st(0), fdiv(lnRef(ONE + arg), LN2)];
    });
  });
  it('FPATAN over all quadrants', () => {
    accuracy(fc.double({ min: -1000, max: 1000, noNaN: true }), (f, x, bits) => {
      const y = Math.sin(x * 7) * 300; // a second argument decorrelated from x
      load(f, y);
      load(f, x, bits);
      const xa = toFixed(f.st(0));
      const ya = toFixed(f.st(1));
      if (Math.abs(x) < 1e-30 || Math.abs(y) < 1e-30) return undefined; // reference resolution
      f.fpatan();
      let ref = atanRef(fdiv(ya, xa));
      if (xa < 0n) ref += ya >= 0n ? PI : -PI;
      return [f.st(0), ref];
    });
  });
});

describe('transcendental results honour the rounding control', () => {
  it('RC=down and RC=up bracket the 256-bit reference and differ by at most one ulp', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 2047 }),
        (x, bits) => {
          fc.pre(Math.abs(x) > 1e-6);
          const results: F80[] = [];
          let ref = 0n;
          for (const cw of [0x077f, 0x0b7f]) {
            const f = new X87();
            f.fldcw(cw);
            load(f, x, bits);
            ref = sinCosRef(toFixed(f.st(0)))[0];
            f.fsin();
            results.push(new F80().copy(f.st(0)));
          }
          const [down, up] = results as [F80, F80];
          expect(toFixed(down) <= ref && ref <= toFixed(up)).toBe(true);
          expect(Math.abs(ulpError(up, toFixed(down)))).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('transcendental special cases', () => {
  it('FSIN of the 64-bit pi is -(pi80 - pi), about -5.0165e-20', () => {
    const f = new X87();
    f.fldConst(CONST_PI);
    const pi80 = toFixed(f.st(0));
    f.fsin();
    expect(Math.abs(ulpError(f.st(0), PI - pi80))).toBeLessThan(0.5);
    expect(f.st(0).se & 0x8000).toBe(0x8000);
  });
  it('FSIN of 1e18 reduces exactly (bigint path) and stays within 1 ulp', () => {
    const f = new X87();
    load(f, 1e18);
    const arg = toFixed(f.st(0));
    f.fsin();
    expect(Math.abs(ulpError(f.st(0), sinCosRef(arg)[0]))).toBeLessThan(1);
  });
  it('|x| >= 2^63 sets C2 and leaves the operand unchanged', () => {
    const f = new X87();
    load(f, 2 ** 63);
    f.fsin();
    expect(f.sw & SW_C2).toBe(SW_C2);
    expect(f.st(0).se).toBe(0x403e);
    load(f, 1);
    f.fcos();
    expect(f.sw & SW_C2).toBe(0);
  });
  it('exact results: F2XM1(1) = 1, F2XM1(-1) = -0.5, FYL2X(8, 3) = 9, tan pushes 1.0', () => {
    const f = new X87();
    load(f, 1);
    f.f2xm1();
    expect(f.st(0).hi).toBe(0x80000000);
    expect(f.st(0).se).toBe(0x3fff);
    load(f, -1);
    f.f2xm1();
    expect(f.st(0).se).toBe(0xbffe);
    expect(f.st(0).lo).toBe(0);
    load(f, 3);
    load(f, 8);
    f.fnclex();
    f.fyl2x(false);
    expect(f.st(0).se).toBe(0x4002);
    expect(f.st(0).hi).toBe(0x90000000);
    expect(f.sw & EX_PE).toBe(0);
  });
  it('FYL2X of zero raises ZE; of a negative number raises IE', () => {
    const f = new X87();
    load(f, 2);
    load(f, 0);
    f.fyl2x(false);
    expect(f.sw & EX_ZE).toBe(EX_ZE);
    expect(f.st(0).se).toBe(0xffff);
    load(f, -2);
    f.fyl2x(false);
    expect(f.sw & EX_IE).toBe(EX_IE);
  });
  it('FPATAN of (+-0, -x) is +-pi; FSIN of tiny x rounds toward zero under RC=zero', () => {
    const f = new X87();
    load(f, -0);
    load(f, -1);
    f.fpatan();
    expect(f.st(0).se).toBe(0xc000);
    const g = new X87();
    g.fldcw(0x0f7f);
    load(g, 1e-20);
    const before = g.st(0).lo;
    g.fsin();
    expect(g.st(0).lo).toBe(before - 1);
    expect(g.sw & EX_PE).toBe(EX_PE);
  });
});
