import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { X87 } from './fpu.js';
import { fldenv, fxrstor, fxsave } from './layout.js';
import { mmxOp } from './mmx.js';

/** Register images biased toward the interesting encodings: NaNs, pseudo-values, denormals, zeros. */
const arbReg = fc.record({
  se: fc.oneof(
    fc.constantFrom(0, 0x8000, 0x7fff, 0xffff, 1, 0x8001, 0x3fff, 0x7ffe, 0x403e, 0x403f),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  hi: fc.oneof(
    fc.constantFrom(0, 0x80000000, 0xc0000000, 0x40000000, 0xffffffff, 1),
    fc.integer({ min: 0, max: 0xffffffff }),
  ),
  lo: fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
});

type Step = (f: X87, a: number, b: number) => void;
const steps: Step[] = [
  (f, a, b) => f.arithSt(a & 7 & ~2, a & 7, b & 7, (b & 8) !== 0),
  (f, a) => f.arithF32(a & 7 & ~2, a),
  (f, a, b) => f.arithF64(a & 7 & ~2, a, b),
  (f, a) => f.arithInt(a & 7 & ~2, a | 0),
  (f, a, b) => f.comSt(a & 7, (b & 1) !== 0, b & 3 ? 1 : 0),
  (f, a, b) => {
    f.comi(a & 7, (b & 1) !== 0, (b & 2) !== 0);
  },
  (f) => f.ftst(),
  (f) => f.fxam(),
  (f, a) => f.fldSt(a & 7),
  (f, a) => f.fldF32(a),
  (f, a, b) => f.fldF64(a, b),
  (f, a, b) => f.fldF80(a, b, a >>> 16),
  (f, a, b) => f.fildI64(a, b),
  (f, a) => {
    f.fstFloat((a & 1) === 0 ? 32 : 64, (a & 2) !== 0);
  },
  (f, a) => {
    f.fistInt((a & 3) === 0 ? 16 : (a & 3) === 1 ? 32 : 64, (a & 4) !== 0, (a & 8) !== 0);
  },
  (f) => {
    f.fbstp();
  },
  (f, a, b) => {
    const bytes = new Uint8Array(10);
    new DataView(bytes.buffer).setUint32(0, a, true);
    new DataView(bytes.buffer).setUint32(4, b, true);
    f.fbld(bytes, 0);
  },
  (f) => f.fsqrt(),
  (f) => f.frndint(),
  (f) => f.fscale(),
  (f) => f.fxtract(),
  (f, a) => f.fprem((a & 1) !== 0),
  (f) => f.f2xm1(),
  (f, a) => f.fyl2x((a & 1) !== 0),
  (f) => f.fpatan(),
  (f) => f.fptan(),
  (f) => f.fsin(),
  (f) => f.fcos(),
  (f) => f.fsincos(),
  (f, a) => f.fxch(a & 7),
  (f, a) => f.fcmov(a & 7, (a & 8) !== 0),
  (f, a) => f.ffree(a & 7, (a & 8) !== 0),
  (f) => f.fincstp(),
  (f, a) => f.fldcw(a & 0x1f7f),
  (f) => f.fchs(),
  (f) => f.fabs(),
  (f, a, b) => {
    mmxOp(f, a & 0xff, b & 7, a, b);
  },
];

describe('the FPU accepts any guest input', () => {
  it('random register images and instruction sequences never throw and keep the state well-formed', () => {
    fc.assert(
      fc.property(
        fc.array(arbReg, { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0x1f7f }),
        fc.array(
          fc.tuple(
            fc.nat(steps.length - 1),
            fc.integer({ min: 0, max: 0xffffffff }),
            fc.integer({ min: 0, max: 0xffffffff }),
          ),
          {
            maxLength: 30,
          },
        ),
        (regs, tags, cw, program) => {
          const f = new X87();
          f.fldcw(cw);
          regs.forEach((r, i) => {
            f.regs[i]!.set(r.se, r.hi, r.lo);
          });
          f.abridgedTagWord = tags;
          f.top = tags & 7;
          for (const [k, a, b] of program) steps[k]!(f, a, b);
          expect(f.top >= 0 && f.top < 8).toBe(true);
          for (const r of f.regs) {
            expect(Number.isInteger(r.se) && r.se >= 0 && r.se <= 0xffff).toBe(true);
            expect(Number.isInteger(r.hi) && r.hi >= 0 && r.hi <= 0xffffffff).toBe(true);
            expect(Number.isInteger(r.lo) && r.lo >= 0 && r.lo <= 0xffffffff).toBe(true);
          }
          expect(f.statusWord >= 0 && f.statusWord <= 0xffff).toBe(true);
          // The saved image restores to the same observable state.
          const img = new Uint8Array(512);
          fxsave(f, img, 0, false);
          const g = new X87();
          fxrstor(g, img, 0, false);
          expect(g.statusWord).toBe(f.statusWord);
          expect(g.tagWord).toBe(f.tagWord);
          fldenv(g, new Uint8Array(28), 0, 3);
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });
});
