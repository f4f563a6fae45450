import { describe, expect, it } from 'vitest';
import {
  EFLAGS_CF,
  EFLAGS_PF,
  EFLAGS_ZF,
  EX_DE,
  EX_IE,
  EX_OE,
  EX_PE,
  EX_UE,
  EX_ZE,
  RC_DOWN,
  RC_UP,
  SW_B,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_ES,
  SW_SF,
} from './bits.js';
import {
  ARITH_ADD,
  ARITH_DIV,
  ARITH_DIVR,
  ARITH_MUL,
  ARITH_SUB,
  ARITH_SUBR,
  CONST_L2E,
  CONST_L2T,
  CONST_LG2,
  CONST_LN2,
  CONST_ONE,
  CONST_PI,
  CONST_ZERO,
  PENDING_FERR,
  PENDING_MF,
  PENDING_NONE,
  X87,
} from './fpu.js';

const view = new DataView(new ArrayBuffer(8));

function ld(fpu: X87, d: number): void {
  view.setFloat64(0, d);
  fpu.fldF64(view.getUint32(4), view.getUint32(0));
}

function st0(fpu: X87): number {
  fpu.fstFloat(64, false);
  view.setUint32(0, fpu.out[1]!);
  view.setUint32(4, fpu.out[0]!);
  return view.getFloat64(0);
}

function sig(fpu: X87, i = 0): string {
  const r = fpu.st(i);
  return `${r.se.toString(16).padStart(4, '0')}:${r.hi.toString(16).padStart(8, '0')}${r.lo.toString(16).padStart(8, '0')}`;
}

function withRc(rc: number): X87 {
  const f = new X87();
  f.fldcw((f.cw & ~0x0c00) | (rc << 10));
  return f;
}

describe('README example', () => {
  it('FLDPI, FLD 2.0, FMULP, FSTP m64 gives the double 2 pi', () => {
    const fpu = new X87();
    fpu.fldConst(CONST_PI);
    fpu.fldF64(0, 0x40000000);
    fpu.arithSt(ARITH_MUL, 1, 0, true);
    expect(fpu.fstFloat(64, true)).toBe(true);
    expect([fpu.out[0], fpu.out[1]]).toEqual([0x54442d18, 0x401921fb]);
    expect(fpu.checkPending(true)).toBe(PENDING_NONE);
  });
});

describe('stack', () => {
  it('FLD pushes, FSTP pops, and TOP shows in the status word', () => {
    const f = new X87();
    ld(f, 1.5);
    expect(f.top).toBe(7);
    expect((f.fstsw() >> 11) & 7).toBe(7);
    expect(f.tagWord).toBe(0x3fff); // R7 valid, others empty
    ld(f, 0);
    expect(f.tagWord).toBe(0x1fff); // R6 zero
    f.fstSt(0, true);
    expect(st0(f)).toBe(1.5);
  });
  it('pushing onto a full stack is a stack overflow: IE, SF, C1 = 1, the real indefinite', () => {
    const f = new X87();
    for (let i = 0; i < 8; i++) ld(f, i);
    ld(f, 99);
    expect(f.sw & (EX_IE | SW_SF | SW_C1)).toBe(EX_IE | SW_SF | SW_C1);
    expect(sig(f)).toBe('ffff:c000000000000000');
  });
  it('reading an empty register is a stack underflow: IE, SF, C1 = 0', () => {
    const f = new X87();
    f.arithSt(ARITH_ADD, 0, 1, false);
    expect(f.sw & (EX_IE | SW_SF | SW_C1)).toBe(EX_IE | SW_SF);
    expect(sig(f)).toBe('ffff:c000000000000000');
  });
  it('an unmasked stack fault leaves the stack alone and makes the next waiting instruction fault', () => {
    const f = new X87();
    f.fldcw(0x037e); // IE unmasked
    f.fstFloat(64, true);
    expect(f.top).toBe(0);
    expect(f.sw & (SW_ES | SW_B)).toBe(SW_ES | SW_B);
    expect(f.checkPending(true)).toBe(PENDING_MF);
    expect(f.checkPending(false)).toBe(PENDING_FERR);
    f.fnclex();
    expect(f.checkPending(true)).toBe(PENDING_NONE);
  });
  it('FXCH, FINCSTP, FDECSTP, FFREE', () => {
    const f = new X87();
    ld(f, 1);
    ld(f, 2);
    f.fxch(1);
    expect(st0(f)).toBe(1);
    f.fincstp();
    expect(st0(f)).toBe(2);
    f.fdecstp();
    f.ffree(0, false);
    expect(f.isEmpty(0)).toBe(true);
    expect(f.isEmpty(1)).toBe(false);
  });
  it('FCMOV copies ST(i) only when the condition holds', () => {
    const f = new X87();
    ld(f, 5);
    ld(f, 6);
    f.fcmov(1, false);
    expect(st0(f)).toBe(6);
    f.fcmov(1, true);
    expect(st0(f)).toBe(5);
  });
});

describe('arithmetic forms', () => {
  it('register forms with reversed operands and pops', () => {
    const f = new X87();
    ld(f, 8);
    ld(f, 2); // ST0 = 2, ST1 = 8
    f.arithSt(ARITH_SUB, 0, 1, false); // ST0 = 2 - 8
    expect(st0(f)).toBe(-6);
    f.arithSt(ARITH_SUBR, 0, 1, false); // ST0 = 8 - (-6)
    expect(st0(f)).toBe(14);
    f.arithSt(ARITH_DIVR, 1, 0, true); // ST1 = 14 / 8, pop
    expect(st0(f)).toBe(1.75);
    expect(f.top).toBe(7);
  });
  it('memory forms convert float32, float64 and integer operands', () => {
    const f = new X87();
    ld(f, 10);
    f.arithF32(ARITH_MUL, 0x40400000); // * 3.0f
    expect(st0(f)).toBe(30);
    view.setFloat64(0, 4);
    f.arithF64(ARITH_DIV, view.getUint32(4), view.getUint32(0));
    expect(st0(f)).toBe(7.5);
    f.arithInt(ARITH_SUBR, -2); // -2 - 7.5
    expect(st0(f)).toBe(-9.5);
  });
  it('precision control rounds FADD results to 24 bits and sets C1 when rounded up', () => {
    const f = new X87();
    f.fldcw(0x007f); // PC = 24 bits
    ld(f, 1);
    ld(f, 2 ** -24 + 2 ** -30); // 1 + this rounds up at 24 bits
    f.arithSt(ARITH_ADD, 0, 1, false);
    expect(f.sw & (EX_PE | SW_C1)).toBe(EX_PE | SW_C1);
    expect(st0(f)).toBe(1 + 2 ** -23);
  });
  it('a denormal float32 operand raises DE; unmasked, the destination is unchanged', () => {
    const f = new X87();
    f.fldcw(0x037d); // DE unmasked
    ld(f, 1);
    f.arithF32(ARITH_ADD, 1); // smallest float32 denormal
    expect(f.sw & EX_DE).toBe(EX_DE);
    expect(f.sw & SW_ES).toBe(SW_ES);
    expect(st0(f)).toBe(1);
  });
  it('division by zero: masked gives infinity; unmasked keeps the operand and sets ES', () => {
    const f = new X87();
    ld(f, 3);
    f.arithInt(ARITH_DIV, 0);
    expect(st0(f)).toBe(Infinity);
    const g = new X87();
    g.fldcw(0x037b);
    ld(g, 3);
    g.arithInt(ARITH_DIV, 0);
    expect(st0(g)).toBe(3);
    expect(g.sw & (EX_ZE | SW_ES)).toBe(EX_ZE | SW_ES);
  });
});

describe('constants', () => {
  // Independently derived: Machin's formula and atanh series in 200-bit fixed point.
  const P = 200n;
  const ONE = 1n << P;
  const atanInv = (n: bigint) => {
    let sum = 0n;
    let term = ONE / n;
    for (let k = 1n; term !== 0n; k += 2n) {
      sum += ((k & 3n) === 1n ? 1n : -1n) * (term / k);
      term /= n * n;
    }
    return sum;
  };
  const atanhInv = (n: bigint) => {
    let sum = 0n;
    let term = ONE / n;
    for (let k = 1n; term !== 0n; k += 2n) {
      sum += term / k;
      term /= n * n;
    }
    return sum;
  };
  const pi = 4n * (4n * atanInv(5n) - atanInv(239n));
  const ln2 = 2n * atanhInv(3n);
  const ln10 = 3n * ln2 + 2n * atanhInv(9n); // ln 10 = 3 ln 2 + ln 1.25
  const div = (a: bigint, b: bigint) => (a << P) / b;
  const values: [number, bigint][] = [
    [CONST_PI, pi],
    [CONST_LN2, ln2],
    [CONST_L2E, div(ONE, ln2)],
    [CONST_LG2, div(ln2, ln10)],
    [CONST_L2T, div(ln10, ln2)],
  ];
  /** Round a positive fixed-point value to a 64-bit significand: [exponent, significand]. */
  const round64 = (v: bigint, mode: 'near' | 'down' | 'up'): [number, bigint] => {
    const bits = v.toString(2).length;
    const shift = BigInt(bits - 64);
    let s = v >> shift;
    const rest = v - (s << shift);
    const half = 1n << (shift - 1n);
    if (
      mode === 'up'
        ? rest !== 0n
        : mode === 'near'
          ? rest > half || (rest === half && (s & 1n) === 1n)
          : false
    )
      s += 1n;
    return [bits - 1 - Number(P) + 16383, s];
  };
  for (const [k, v] of values) {
    it(`constant ${k} is the true value rounded by RC (nearest, down, up, zero)`, () => {
      for (const [rc, mode] of [
        [0, 'near'],
        [RC_DOWN, 'down'],
        [RC_UP, 'up'],
        [3, 'down'],
      ] as const) {
        const f = withRc(rc);
        f.fldConst(k);
        const [e, s] = round64(v, mode);
        expect(f.st(0).se).toBe(e);
        expect((BigInt(f.st(0).hi) << 32n) | BigInt(f.st(0).lo)).toBe(s);
      }
    });
  }
  it('FLDPI under each rounding mode has the SDM bit patterns', () => {
    const pats = [
      '4000:c90fdaa22168c235',
      '4000:c90fdaa22168c234',
      '4000:c90fdaa22168c235',
      '4000:c90fdaa22168c234',
    ];
    for (let rc = 0; rc < 4; rc++) {
      const f = withRc(rc);
      f.fldConst(CONST_PI);
      expect(sig(f)).toBe(pats[rc]);
    }
  });
  it('FLD1 and FLDZ', () => {
    const f = new X87();
    f.fldConst(CONST_ONE);
    f.fldConst(CONST_ZERO);
    expect(sig(f, 1)).toBe('3fff:8000000000000000');
    expect(sig(f, 0)).toBe('0000:0000000000000000');
  });
});

describe('comparisons', () => {
  it('FCOM sets C3/C2/C0 and FCOMPP pops twice', () => {
    const f = new X87();
    ld(f, 2);
    ld(f, 1);
    f.comSt(1, false, 0);
    expect(f.sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C0);
    f.comSt(0, false, 0);
    expect(f.sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C3);
    f.comSt(1, false, 2);
    expect(f.top).toBe(0);
  });
  it('FUCOM with a QNaN is unordered without IE; FCOM raises IE', () => {
    const f = new X87();
    ld(f, 1);
    ld(f, Number.NaN);
    f.comSt(1, true, 0);
    expect(f.sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C3 | SW_C2 | SW_C0);
    expect(f.sw & EX_IE).toBe(0);
    f.comSt(1, false, 0);
    expect(f.sw & EX_IE).toBe(EX_IE);
  });
  it('FCOMI returns ZF/PF/CF', () => {
    const f = new X87();
    ld(f, 3);
    ld(f, 4);
    expect(f.comi(1, false, false)).toBe(0);
    f.fxch(1);
    expect(f.comi(1, false, false)).toBe(EFLAGS_CF);
    expect(f.comi(0, false, false)).toBe(EFLAGS_ZF);
    ld(f, Number.NaN);
    expect(f.comi(1, true, true)).toBe(EFLAGS_ZF | EFLAGS_PF | EFLAGS_CF);
    f.fldcw(0x037e);
    ld(f, Number.NaN);
    expect(f.comi(1, false, false)).toBe(-1);
  });
  it('FTST and FICOM', () => {
    const f = new X87();
    ld(f, -2);
    f.ftst();
    expect(f.sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C0);
    f.comInt(-2, false);
    expect(f.sw & (SW_C3 | SW_C2 | SW_C0)).toBe(SW_C3);
  });
  it('FXAM classifies and reports the sign in C1', () => {
    const f = new X87();
    const cls = () => f.sw & (SW_C3 | SW_C2 | SW_C1 | SW_C0);
    f.fxam();
    expect(cls()).toBe(SW_C3 | SW_C0); // empty
    ld(f, -1);
    f.fxam();
    expect(cls()).toBe(SW_C2 | SW_C1);
    ld(f, 0);
    f.fxam();
    expect(cls()).toBe(SW_C3);
    ld(f, Infinity);
    f.fxam();
    expect(cls()).toBe(SW_C2 | SW_C0);
    ld(f, Number.NaN);
    f.fxam();
    expect(cls() & ~SW_C1).toBe(SW_C0);
    f.fldF80(1, 0, 0); // denormal
    f.fxam();
    expect(cls()).toBe(SW_C3 | SW_C2);
    f.fldF80(0, 0x40000000, 0x3fff); // unnormal
    f.fxam();
    expect(cls()).toBe(0);
  });
});

describe('stores', () => {
  it('FIST rounds by RC; FISTTP truncates and pops', () => {
    const f = withRc(RC_UP);
    ld(f, -2.5);
    expect(f.fistInt(16, false, false)).toBe(true);
    expect(f.out[0]).toBe(0xfffe);
    expect(f.fistInt(32, true, true)).toBe(true);
    expect(f.out[0]).toBe(0xfffffffe);
    expect(f.top).toBe(0);
  });
  it('FIST of a too-large value stores the integer indefinite when IE is masked, nothing when unmasked', () => {
    const f = new X87();
    ld(f, 1e10);
    expect(f.fistInt(32, false, false)).toBe(true);
    expect(f.out[0]).toBe(0x80000000);
    f.fldcw(0x037e);
    expect(f.fistInt(32, false, false)).toBe(false);
  });
  it('FST m32 of an overflowing value: masked infinity; unmasked no store and no pop', () => {
    const f = new X87();
    ld(f, 1e300);
    expect(f.fstFloat(32, false)).toBe(true);
    expect(f.out[0]).toBe(0x7f800000);
    expect(f.sw & (EX_OE | EX_PE)).toBe(EX_OE | EX_PE);
    f.fldcw(0x0377);
    expect(f.fstFloat(32, true)).toBe(false);
    expect(f.top).toBe(7);
  });
  it('FBSTP and FBLD round-trip 18 decimal digits', () => {
    const f = new X87();
    const bytes = new Uint8Array([0x89, 0x67, 0x45, 0x23, 0x01, 0x89, 0x67, 0x45, 0x23, 0x80]);
    f.fbld(bytes, 0);
    expect(f.fistInt(64, false, false)).toBe(true); // -234567890123456789, exactly
    expect([f.out[0], f.out[1]]).toEqual([0x297a7eeb, 0xfcbea5bf]);
    expect(f.fbstp()).toBe(true);
    expect([...f.bcdOut]).toEqual([...bytes]);
    ld(f, 1e18);
    expect(f.fbstp()).toBe(true);
    expect([...f.bcdOut]).toEqual([0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff]);
    expect(f.sw & EX_IE).toBe(EX_IE);
  });
  it('FSTP m80 and FLD m80 preserve bit patterns, including SNaNs', () => {
    const f = new X87();
    f.fldF80(0x12345678, 0x80000001, 0x7fff);
    expect(f.fstF80()).toBe(true);
    expect([...f.out]).toEqual([0x12345678, 0x80000001, 0x7fff]);
    expect(f.sw & EX_IE).toBe(0);
  });
  it('FLD m64 of an SNaN raises IE and loads the quiet NaN', () => {
    const f = new X87();
    f.fldF64(1, 0x7ff00000);
    expect(f.sw & EX_IE).toBe(EX_IE);
    expect(sig(f)).toBe('7fff:c000000000000800');
  });
  it('FILD m64 loads exactly', () => {
    const f = new X87();
    f.fildI64(0xffffffff, 0x7fffffff);
    expect(sig(f)).toBe('403d:fffffffffffffffe');
  });
});

describe('one-operand operations', () => {
  it('FCHS, FABS, FSQRT, FRNDINT, FSCALE, FXTRACT', () => {
    const f = new X87();
    ld(f, -9);
    f.fabs();
    f.fsqrt();
    expect(st0(f)).toBe(3);
    f.fchs();
    expect(st0(f)).toBe(-3);
    ld(f, 2.5);
    f.fscale(); // 2.5 * 2^-3
    expect(st0(f)).toBe(0.3125);
    f.frndint();
    expect(st0(f)).toBe(0);
    ld(f, 48);
    f.fxtract();
    expect(st0(f)).toBe(1.5);
    f.fstSt(0, true);
    expect(st0(f)).toBe(5);
  });
  it('FXTRACT of zero raises ZE and gives -infinity as the exponent', () => {
    const f = new X87();
    ld(f, -0);
    f.fxtract();
    expect(f.sw & EX_ZE).toBe(EX_ZE);
    expect(Object.is(st0(f), -0)).toBe(true);
    f.fstSt(0, true);
    expect(st0(f)).toBe(-Infinity);
  });
  it('FPREM sets the quotient bits in C0, C3, C1 and C2 = 0 when complete', () => {
    const f = new X87();
    ld(f, 3);
    ld(f, 10);
    f.fprem(false); // 10 = 3*3 + 1, Q = 011b
    expect(f.sw & (SW_C0 | SW_C1 | SW_C2 | SW_C3)).toBe(SW_C3 | SW_C1);
    expect(st0(f)).toBe(1);
  });
  it('FPREM on a huge exponent difference sets C2 and converges by repetition', () => {
    const f = new X87();
    ld(f, 3);
    ld(f, 2 ** 100);
    let steps = 0;
    do {
      f.fprem(false);
      steps++;
    } while ((f.sw & SW_C2) !== 0 && steps < 10);
    expect(steps).toBeGreaterThan(1);
    expect(st0(f)).toBe(1); // 2^100 mod 3 = 4^50 mod 3 = 1
  });
  it('FSCALE massive overflow with OE unmasked still gives a signed infinity', () => {
    const f = new X87();
    f.fldcw(0x0377);
    ld(f, 1e5);
    ld(f, -3);
    f.fscale();
    expect(f.sw & (EX_OE | SW_ES)).toBe(EX_OE | SW_ES);
    expect(sig(f)).toBe('ffff:8000000000000000');
  });
  it('FXTRACT of a denormal raises DE and returns the true exponent', () => {
    const f = new X87();
    f.fldF80(1, 0, 0); // 2^-16445
    f.fxtract();
    expect(f.sw & EX_DE).toBe(EX_DE);
    expect(sig(f, 0)).toBe('3fff:8000000000000000');
    f.fstSt(0, true);
    expect(st0(f)).toBe(-16445);
  });
  it('FLD m32 of a denormal raises DE and loads it exactly', () => {
    const f = new X87();
    f.fldF32(1);
    expect(f.sw & EX_DE).toBe(EX_DE);
    expect(sig(f)).toBe(`${(16383 - 149).toString(16)}:8000000000000000`);
  });
  it('FST m64 of a tiny exact value with UE unmasked stores nothing', () => {
    const f = new X87();
    f.fldcw(0x036f);
    f.fldF80(0, 0x80000000, 16383 - 1030); // 2^-1030: tiny for float64, exactly representable
    expect(f.fstFloat(64, true)).toBe(false);
    expect(f.top).toBe(7);
    const g = new X87();
    g.fldF80(0, 0x80000000, 16383 - 1030);
    expect(g.fstFloat(64, true)).toBe(true);
    expect([g.out[0], g.out[1]]).toEqual([0, 0x00001000]); // 2^-1074 * 2^44
    expect(g.sw & EX_UE).toBe(0);
  });
  it('FSCALE by a huge exponent overflows to infinity', () => {
    const f = new X87();
    ld(f, 1e5);
    ld(f, 3);
    f.fscale();
    expect(st0(f)).toBe(Infinity);
    expect(f.sw & EX_OE).toBe(EX_OE);
  });
});

describe('control', () => {
  it('FNINIT sets CW 037F, empties the stack and clears the pointers', () => {
    const f = new X87();
    ld(f, 1);
    f.recordInstruction(8, 0x1234, 0x5c1);
    f.fninit();
    expect(f.fstcw()).toBe(0x037f);
    expect(f.fstsw()).toBe(0);
    expect(f.tagWord).toBe(0xffff);
    expect(f.fip).toBe(0);
  });
  it('FLDCW unmasking a raised flag makes ES pending', () => {
    const f = new X87();
    ld(f, 1);
    f.arithInt(ARITH_DIV, 3);
    expect(f.sw & SW_ES).toBe(0);
    f.fldcw(0x035f); // unmask PE
    expect(f.checkPending(true)).toBe(PENDING_MF);
  });
  it('getState/setState round-trip through JSON', () => {
    const f = new X87();
    f.fldcw(0x0b7f);
    ld(f, 1.25);
    ld(f, -0);
    f.arithInt(ARITH_DIV, 3);
    f.recordInstruction(0x10, 0x1000, 0x123);
    const json = JSON.stringify(f.getState());
    const g = new X87();
    g.setState(JSON.parse(json));
    expect(g.getState()).toEqual(f.getState());
    expect(g.env.rc).toBe(RC_UP);
    expect(st0(g)).toBe(st0(f));
  });
  it('power-up reset state', () => {
    const f = new X87();
    f.reset();
    expect(f.fstcw()).toBe(0x0040);
    expect(f.tagWord).toBe(0x5555);
  });
});
