import { CODE_NAMES } from '@typevisor/x86-decoder';
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
import { type Slot, vexMachine } from '../../test/vex-machine.js';
import { CR4, Vector } from '../index.js';
import { MXCSR } from '../sse/state.js';
import { FMA_HANDLERS } from './fma.js';
import { CR4_OSXSAVE } from './xsave.js';

const MEM = 0x3001;

/** The VEX test machine; `exec` places `text` once and runs it with `vectors` cleared. */
function avxMachine(cr4?: number) {
  const x = vexMachine(cr4);
  const { m, vectors } = x;
  const slots = new Map<string, Slot>();
  const exec = (text: string): void => {
    let slot = slots.get(text);
    if (slot === undefined) {
      slot = x.place(text);
      slots.set(text, slot);
    }
    vectors.length = 0;
    x.exec(slot);
  };
  const setMem = (w: readonly number[]): void => {
    for (let i = 0; i < w.length; i++) m.memory.write32(MEM + 4 * i, w[i]! >>> 0);
  };
  const mem = (n: number): number[] =>
    Array.from({ length: n }, (_, i) => m.memory.read32(MEM + 4 * i) >>> 0);
  return { ...x, exec, setMem, mem };
}

// ------------------------------------------------------------------ the SDM reference per form

interface FmaForm {
  code: string;
  mn: string;
  op: string;
  digits: [number, number, number];
  type: 'ps' | 'pd' | 'ss' | 'sd';
  l256: boolean;
}

function fmaForm(code: string): FmaForm | undefined {
  const m = /^VEX_V(fn?m(?:addsub|subadd|add|sub))(\d)(\d)(\d)(ps|pd|ss|sd)_(xmm|ymm)/.exec(code);
  if (m === null) return undefined;
  return {
    code,
    mn: `v${m[1]}${m[2]}${m[3]}${m[4]}${m[5]}`,
    op: m[1]!,
    digits: [Number(m[2]) - 1, Number(m[3]) - 1, Number(m[4]) - 1],
    type: m[5] as FmaForm['type'],
    l256: m[6] === 'ymm',
  };
}

const FORMS = FMA_HANDLERS.map(([c]) => fmaForm(CODE_NAMES[c]!)).filter((f): f is FmaForm => f !== undefined);

/** Negations of element i: (product, addend), per the SDM's Operation sections. */
function negations(op: string, i: number): [boolean, boolean] {
  switch (op) {
    case 'fmadd':
      return [false, false];
    case 'fmsub':
      return [false, true];
    case 'fnmadd':
      return [true, false];
    case 'fnmsub':
      return [true, true];
    case 'fmaddsub':
      return [false, i % 2 === 0];
    default:
      return [false, i % 2 === 1];
  }
}

function envOf(mxcsr: number): Env {
  return {
    rc: (mxcsr >> 13) & 3,
    daz: (mxcsr & MXCSR.DAZ) !== 0,
    ftz: (mxcsr & MXCSR.FZ) !== 0,
    um: (mxcsr & MXCSR.UM) !== 0,
  };
}

/** Expected destination words and flags: src[0] = op0, src[1] = vvvv, src[2] = r/m (8 words each). */
function reference(f: FmaForm, src: number[][], mxcsr: number): { dst: number[]; flags: number } {
  const env = envOf(mxcsr);
  const [mx, my, mz] = f.digits.map((d) => src[d]!);
  let flags = 0;
  const dst = new Array<number>(8).fill(0);
  if (f.type === 'ss' || f.type === 'sd') for (let i = 0; i < 4; i++) dst[i] = src[0]![i]!;
  const single = f.type === 'ps' || f.type === 'ss';
  const n = f.type === 'ss' || f.type === 'sd' ? 1 : (f.l256 ? 8 : 4) / (single ? 1 : 2);
  for (let i = 0; i < n; i++) {
    const [np, na] = negations(f.op, i);
    if (single) {
      const r = oracleFma(F32, BigInt(mx![i]!), BigInt(my![i]!), BigInt(mz![i]!), np, na, env);
      dst[i] = Number(r.bits);
      flags |= r.flags;
    } else {
      const q = (w: number[]) => (BigInt(w[2 * i + 1]!) << 32n) | BigInt(w[2 * i]!);
      const r = oracleFma(F64, q(mx!), q(my!), q(mz!), np, na, env);
      dst[2 * i] = Number(r.bits & 0xffffffffn);
      dst[2 * i + 1] = Number(r.bits >> 32n);
      flags |= r.flags;
    }
  }
  return { dst, flags };
}

// ------------------------------------------------------------------ operand generators

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Words that make interesting binary32 values and binary64 halves (signs, NaNs, denormals, ones). */
const word = fc.oneof(
  u32,
  fc.constantFrom(0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00000, 0x3f800000, 0xbf800000, 1),
  fc.constantFrom(0x3ff00000, 0xbff00000, 0x7ff00000, 0x7ff80000, 0x7ff40000, 0x00000001, 0x40000000),
  fc.integer({ min: 0x3e000000, max: 0x41000000 }),
  fc.integer({ min: 0xbe000000, max: 0xc1000000 }),
);
const ymmArb = fc.array(word, { minLength: 8, maxLength: 8 });
/** MXCSR with every exception masked and random RC, DAZ, FTZ. */
const mxcsrArb = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.boolean())
  .map(([rc, daz, ftz]) => 0x1f80 | (rc << 13) | (daz ? MXCSR.DAZ : 0) | (ftz ? MXCSR.FZ : 0));

describe('FMA3 forms against the SDM reference', () => {
  it('registers every FMA Code of the decoder (PS/PD/SS/SD, 132/213/231, VEX.128/256)', () => {
    expect(FORMS.length).toBe(96);
  });

  for (const f of FORMS) {
    it(`${f.code}: register and memory sources, upper bits per VEX.L and scalar rules`, () => {
      const x = avxMachine();
      const r = f.l256 ? 'ymm' : 'xmm';
      fc.assert(
        fc.property(ymmArb, ymmArb, ymmArb, ymmArb, mxcsrArb, fc.boolean(), (d, s1, s2, m, mxcsr, useMem) => {
          x.setYmm(1, d);
          x.setYmm(2, s1);
          x.setYmm(3, s2);
          x.setMem(m);
          x.sse.mxcsr = mxcsr;
          x.exec(`${f.mn} ${r}1, ${r}2, ${useMem ? `[${MEM}]` : `${r}3`}`);
          const memBytes = f.type === 'ss' ? 4 : f.type === 'sd' ? 8 : f.l256 ? 32 : 16;
          const third = useMem ? m.map((w, i) => (i * 4 < memBytes ? w : 0)) : s2;
          const want = reference(f, [d, s1, third], mxcsr);
          expect(x.vectors).toEqual([]);
          expect(x.ymm(1).map((v) => v.toString(16))).toEqual(want.dst.map((v) => (v >>> 0).toString(16)));
          expect(x.sse.mxcsr).toBe(mxcsr | want.flags);
        }),
        { numRuns: 40 },
      );
    });
  }

  it('the 132/213/231 orders pick multiplicand, multiplier and addend as their digits say', () => {
    const x = avxMachine();
    // src1 = 2, src2 = 3, src3 = 5: 132 -> 2*5+3, 213 -> 3*2+5, 231 -> 3*5+2.
    const two = 0x40000000;
    const three = 0x40400000;
    const five = 0x40a00000;
    for (const [mn, want] of [
      ['vfmadd132ss', 13],
      ['vfmadd213ss', 11],
      ['vfmadd231ss', 17],
      ['vfnmsub231ss', -17],
      ['vfmsub213ss', 1],
      ['vfnmadd132ss', -7],
    ] as const) {
      x.setYmm(1, [two, 9, 9, 9, 9, 9, 9, 9]);
      x.setYmm(2, [three, 0, 0, 0, 0, 0, 0, 0]);
      x.setYmm(3, [five, 0, 0, 0, 0, 0, 0, 0]);
      x.exec(`${mn} xmm1, xmm2, xmm3`);
      expect(new Float32Array(new Uint32Array(x.ymm(1).slice(0, 1)).buffer)[0], mn).toBe(want);
      expect(x.ymm(1).slice(1)).toEqual([9, 9, 9, 0, 0, 0, 0]);
    }
  });

  it('an unmasked exception raises #XM and leaves the destination and memory alone', () => {
    const x = avxMachine();
    const before = [
      0x7fa00000, 0x3f800000, 0x40000000, 0x40400000, 0x40800000, 0x40a00000, 0x40c00000, 0x40e00000,
    ];
    x.setYmm(1, before);
    x.setYmm(2, [0x3f800000, 0, 0, 0, 0, 0, 0, 0]);
    x.setYmm(3, [0x3f800000, 0, 0, 0, 0, 0, 0, 0]);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.IM;
    x.exec('vfmadd231ps ymm1, ymm2, ymm3');
    expect(x.vectors).toEqual([Vector.XM]);
    expect(x.ymm(1)).toEqual(before);
    expect(x.sse.mxcsr & MXCSR_FLAGS_ALL).toBe(MXCSR.IE);
  });

  it('an unmasked exception without CR4.OSXMMEXCPT raises #UD', () => {
    const x = avxMachine(CR4.OSFXSR | CR4_OSXSAVE);
    x.setYmm(1, [0x7f7fffff, 0, 0, 0, 0, 0, 0, 0]);
    x.setYmm(2, [0x7f7fffff, 0, 0, 0, 0, 0, 0, 0]);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.OM;
    x.exec('vfmadd213ss xmm1, xmm2, xmm1');
    expect(x.vectors).toEqual([Vector.UD]);
    expect(x.sse.mxcsr & MXCSR_FLAGS_ALL).toBe(MXCSR.OE | MXCSR.PE);
  });

  it('an unmasked post-computation exception (PE) faults with the flags set and no result written', () => {
    const x = avxMachine();
    x.setYmm(1, [0x3f800000, 0x3f800000, 0, 0, 5, 5, 5, 5]);
    x.setYmm(2, [0x3eaaaaab, 0, 0, 0, 0, 0, 0, 0]);
    x.setYmm(3, [0x40400000, 0, 0, 0, 0, 0, 0, 0]);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.PM;
    x.exec('vfmadd231ss xmm1, xmm2, xmm3');
    expect(x.vectors).toEqual([Vector.XM]);
    expect(x.ymm(1)).toEqual([0x3f800000, 0x3f800000, 0, 0, 5, 5, 5, 5]);
    expect(x.sse.mxcsr & MXCSR_FLAGS_ALL).toBe(MXCSR.PE);
  });

  it('VCVTPS2PH to memory stores nothing when an unmasked exception faults', () => {
    const x = avxMachine();
    x.setYmm(2, [0x3eaaaaab, 0, 0, 0, 0, 0, 0, 0]);
    x.setMem([9, 9, 9, 9]);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.PM;
    x.exec(`vcvtps2ph [${MEM}], xmm2, 0`);
    expect(x.vectors).toEqual([Vector.XM]);
    expect(x.mem(4)).toEqual([9, 9, 9, 9]);
    expect(x.sse.mxcsr & MXCSR_FLAGS_ALL).toBe(MXCSR.PE);
  });

  it('VEX instructions #UD without CR4.OSXSAVE', () => {
    const x = avxMachine(CR4.OSFXSR | CR4.OSXMMEXCPT);
    x.exec('vfmadd132pd xmm1, xmm2, xmm3');
    expect(x.vectors).toEqual([Vector.UD]);
  });
});

const MXCSR_FLAGS_ALL = 0x3f;

// ------------------------------------------------------------------ F16C

describe('F16C forms', () => {
  const halfWord = fc.oneof(
    u32,
    fc.constantFrom(0x7c00, 0xfc00, 0x7e00, 0x7d00, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0x3c00),
  );
  it('VCVTPH2PS xmm/ymm from register and m64/m128: exact, upper bits zeroed for VEX.128', () => {
    const x = avxMachine();
    fc.assert(
      fc.property(
        fc.array(halfWord, { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        mxcsrArb,
        (h, l256, useMem, mxcsr) => {
          const halves = h.map((v) => v & 0xffff);
          const words = [0, 1, 2, 3].map((i) => (halves[2 * i]! | (halves[2 * i + 1]! << 16)) >>> 0);
          x.setYmm(1, [5, 5, 5, 5, 5, 5, 5, 5]);
          x.setYmm(2, [...words, 7, 7, 7, 7]);
          x.setMem([...words, 7, 7, 7, 7]);
          x.sse.mxcsr = mxcsr;
          const r = l256 ? 'ymm' : 'xmm';
          x.exec(`vcvtph2ps ${r}1, ${useMem ? `[${MEM}]` : 'xmm2'}`);
          const n = l256 ? 8 : 4;
          let flags = 0;
          const want = new Array<number>(8).fill(0);
          for (let i = 0; i < n; i++) {
            const o = oracleHalfToSingle(halves[i]!);
            want[i] = o.bits;
            flags |= o.flags;
          }
          expect(x.ymm(1)).toEqual(want);
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('VCVTPS2PH to xmm and m64/m128: imm8[1:0] rounds unless imm8[2] selects MXCSR.RC', () => {
    const x = avxMachine();
    const single = fc.oneof(word, fc.integer({ min: 0x33000000, max: 0x48000000 }));
    fc.assert(
      fc.property(
        fc.array(single, { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 7 }),
        mxcsrArb,
        (s, l256, useMem, imm, mxcsr) => {
          x.setYmm(1, [5, 5, 5, 5, 5, 5, 5, 5]);
          x.setYmm(2, s);
          x.setMem([9, 9, 9, 9, 9, 9, 9, 9]);
          x.sse.mxcsr = mxcsr;
          const r = l256 ? 'ymm' : 'xmm';
          x.exec(`vcvtps2ph ${useMem ? `[${MEM}]` : 'xmm1'}, ${r}2, ${imm}`);
          const env = envOf(mxcsr);
          if ((imm & 4) === 0) env.rc = imm & 3;
          const n = l256 ? 8 : 4;
          let flags = 0;
          const halves: number[] = [];
          for (let i = 0; i < n; i++) {
            const o = oracleSingleToHalf(s[i]! >>> 0, env);
            halves.push(o.bits);
            flags |= o.flags;
          }
          const words = Array.from(
            { length: n / 2 },
            (_, i) => (halves[2 * i]! | (halves[2 * i + 1]! << 16)) >>> 0,
          );
          if (useMem) {
            expect(x.mem(8)).toEqual([...words, ...new Array<number>(8 - n / 2).fill(9)]);
            expect(x.ymm(1)).toEqual([5, 5, 5, 5, 5, 5, 5, 5]);
          } else expect(x.ymm(1)).toEqual([...words, ...new Array<number>(8 - n / 2).fill(0)]);
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        },
      ),
      { numRuns: 400 },
    );
  });
});
