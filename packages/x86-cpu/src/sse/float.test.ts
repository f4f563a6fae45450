import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arith, FOp, fpBegin, fpFlags, intToF32, toInt32 } from './float.js';
import { MXCSR, MXCSR_RESET, RC } from './state.js';

// Exact reference arithmetic (test-only BigInt): every finite double is N * 2^-1074 for an integer N.
const cv = new DataView(new ArrayBuffer(8));
function scaled(x: number): bigint {
  cv.setFloat64(0, x);
  const hi = cv.getUint32(0);
  const lo = cv.getUint32(4);
  const e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (e !== 0) m |= 1n << 52n;
  const v = m << BigInt(Math.max(e, 1) - 1);
  return hi >>> 31 ? -v : v;
}

/** Sign of (exact a op b) - r. */
function cmpExact(op: number, a: number, b: number, r: number): number {
  const A = scaled(a);
  const B = scaled(b);
  const Rr = scaled(r);
  let d: bigint;
  const K = 1n << 1074n;
  switch (op) {
    case FOp.Add:
      d = A + B - Rr;
      break;
    case FOp.Sub:
      d = A - B - Rr;
      break;
    case FOp.Mul:
      d = A * B - Rr * K;
      break;
    case FOp.Div:
      // a/b - r = (A - R*B / K) / B, sign taken with B made positive.
      d = (A * K - Rr * B) * (B < 0n ? -1n : 1n);
      break;
    default:
      d = B * K - Rr * Rr;
      break;
  }
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

function next64(r: number, up: boolean): number {
  if (r === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
  cv.setFloat64(0, r);
  const v = cv.getBigUint64(0);
  cv.setBigUint64(0, r > 0 === up ? v + 1n : v - 1n);
  return cv.getFloat64(0);
}

function next32(r: number, up: boolean): number {
  if (r === 0) return up ? 2 ** -149 : -(2 ** -149);
  cv.setFloat32(0, r);
  const v = cv.getUint32(0);
  cv.setUint32(0, r > 0 === up ? v + 1 : v - 1);
  return cv.getFloat32(0);
}

const OPS = [FOp.Add, FOp.Sub, FOp.Mul, FOp.Div, FOp.Sqrt];

function checkRounding(op: number, a: number, b: number, mode: number, double: boolean): void {
  fpBegin(MXCSR_RESET | (mode << MXCSR.RC_SHIFT));
  const x = op === FOp.Sqrt ? 0 : a;
  const r = arith(op, x, b, double);
  if (Number.isNaN(r)) {
    expect(fpFlags & MXCSR.IE).toBe(MXCSR.IE);
    return;
  }
  if (!Number.isFinite(r) || Math.abs(r) === (double ? Number.MAX_VALUE : 3.4028234663852886e38)) return;
  if (op === FOp.Div && b === 0) return;
  const s = cmpExact(op, x, b, r);
  expect((fpFlags & MXCSR.PE) !== 0).toBe(s !== 0);
  if (s === 0) return;
  const next = double ? next64 : next32;
  const down = mode === RC.Down || (mode === RC.Zero && r > 0) || (mode === RC.Zero && r === 0 && s > 0);
  if (mode === RC.Nearest) {
    const want = op === FOp.Sqrt ? Math.sqrt(b) : [a + b, a - b, a * b, a / b][op]!;
    expect(r).toBe(double ? want : Math.fround(want));
  } else if (down) {
    expect(s).toBe(1);
    expect(cmpExact(op, x, b, next(r, true))).toBe(-1);
  } else {
    expect(s).toBe(-1);
    expect(cmpExact(op, x, b, next(r, false))).toBe(1);
  }
}

describe('SSE float core against exact BigInt arithmetic', () => {
  it('property: binary64 + - * / sqrt round correctly in all four modes and PE is set iff inexact', () => {
    const d = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(d, d, fc.constantFrom(...OPS), fc.integer({ min: 0, max: 3 }), (a, b, op, mode) => {
        checkRounding(op, a, op === FOp.Sqrt ? Math.abs(b) : b, mode, true);
      }),
      { numRuns: 400 },
    );
  });

  it('property: binary32 + - * / sqrt round correctly in all four modes and PE is set iff inexact', () => {
    const f = fc.float({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(f, f, fc.constantFrom(...OPS), fc.integer({ min: 0, max: 3 }), (a, b, op, mode) => {
        checkRounding(op, a, op === FOp.Sqrt ? Math.abs(b) : b, mode, false);
      }),
      { numRuns: 400 },
    );
  });

  it('close operands: binary64 subtraction of neighbours and products near 1 are exact or flagged', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 2, noNaN: true }), fc.integer({ min: -3, max: 3 }), (a, k) => {
        const b = a + k * Number.EPSILON;
        for (const op of OPS) checkRounding(op, a, b, RC.Nearest, true);
      }),
      { numRuns: 200 },
    );
  });

  it('overflow and underflow flags in binary64', () => {
    fpBegin(MXCSR_RESET);
    expect(arith(FOp.Mul, 1e300, 1e10, true)).toBe(Number.POSITIVE_INFINITY);
    expect(fpFlags).toBe(MXCSR.OE | MXCSR.PE);
    fpBegin(MXCSR_RESET | (RC.Zero << MXCSR.RC_SHIFT));
    expect(arith(FOp.Mul, 1e300, 1e10, true)).toBe(Number.MAX_VALUE);
    fpBegin(MXCSR_RESET);
    expect(arith(FOp.Mul, 2 ** -1000, 3 * 2 ** -70, true)).toBe(3 * 2 ** -1070);
    expect(fpFlags).toBe(0); // tiny but exact: no UE while masked
    fpBegin(MXCSR_RESET);
    arith(FOp.Div, 2 ** -1070, 3, true);
    expect(fpFlags).toBe(MXCSR.UE | MXCSR.PE);
  });

  it('integer conversions: ties to even, directed modes, indefinite', () => {
    const conv = (x: number, mode: number, t = false) => {
      fpBegin(MXCSR_RESET | (mode << MXCSR.RC_SHIFT));
      return toInt32(x, t) | 0;
    };
    expect([conv(0.5, 0), conv(1.5, 0), conv(-2.5, 0), conv(-2.5, 1), conv(-2.5, 2), conv(-2.7, 3)]).toEqual([
      0, 2, -2, -3, -2, -2,
    ]);
    expect(conv(2147483647.4, 0)).toBe(2147483647);
    expect(conv(2147483647.6, 0)).toBe(-2147483648);
    expect(fpFlags).toBe(MXCSR.IE);
    expect(conv(-2147483648.9, 0, true)).toBe(-2147483648);
    fpBegin(MXCSR_RESET | (RC.Up << MXCSR.RC_SHIFT));
    expect(intToF32(16777217)).toBe(16777218);
    expect(fpFlags).toBe(MXCSR.PE);
  });
});
