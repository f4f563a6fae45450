import { CODE_NAMES } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { long64, reg64, runLong, setReg64 } from '../../test/long-machine.js';
import { Sel } from '../../test/machine.js';
import { MAX_MODEL } from '../cpu-model.js';
import { VEX_CR4, type VexMachine, vexMachine } from '../../test/vex-machine.js';
import { readFlags, writeFlags } from '../flags.js';
import { CR0, CR4, Seg, Vector } from '../index.js';
import { YMM_HI_WORD } from '../sse/state.js';
import { AVX_HANDLERS } from './avx.js';
import { CR4_OSXSAVE, setXcr0 } from './xsave.js';

const MEM = 0x3001;
const CR4_ON = VEX_CR4;
const EFLAGS_STATUS = 0x8d5;

/** A flat 32-bit machine with AVX enabled (CR4.OSXSAVE, XCR0 = 7) and an IDT whose handlers HLT. */
const avxMachine = (): VexMachine => vexMachine();
type AvxMachine = VexMachine;

/** YMM register `r`'s 8 words. */
const ymm = (x: AvxMachine, r: number): number[] => x.ymm(r);
const setYmm = (x: AvxMachine, r: number, w: readonly number[]): void => x.setYmm(r, w);

/** Words with float edge cases common: zeros, infinities, QNaN/SNaN, denormals, 1.0, max, min normal. */
const SPECIAL32 = [
  0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7fa00000, 0x00000001, 0x807fffff,
  0x3f800000, 0xbf800000, 0x7f7fffff, 0x00800000, 0x4b000001, 0x3effffff, 0x4f000000, 0xcf000001,
];
/** High words of binary64 edge cases (with a random or zero low word). */
const SPECIAL64HI = [
  0x7ff00000, 0xfff00000, 0x7ff80000, 0x7ff40000, 0x00000000, 0x80080000, 0x3ff00000, 0x41e00000, 0xc1e00000,
  0x7fefffff, 0x00100000,
];
const word = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(...SPECIAL32),
  fc.constantFrom(...SPECIAL64HI),
  fc.integer({ min: 0x3e000000, max: 0x42000000 }),
);
const vec = fc.array(word, { minLength: 8, maxLength: 8 });
/** MXCSR with every exception masked, any rounding mode, DAZ and FTZ. */
const mxcsrArb = fc
  .record({ rc: fc.integer({ min: 0, max: 3 }), daz: fc.boolean(), ftz: fc.boolean() })
  .map(({ rc, daz, ftz }) => 0x1f80 | (rc << 13) | (daz ? 0x40 : 0) | (ftz ? 0x8000 : 0));

/** Shapes: rvm `v d, s1, s2`; rvmi with imm8; rm `v d, s`; rmi `v d, s, imm8`; blendv with a mask register. */
type Shape = 'rvm' | 'rvmi' | 'rm' | 'rmi' | 'blendv';
interface Form {
  mn: string;
  shape: Shape;
  scalar: boolean;
  /** The imm8 the legacy instruction sees for lane `half`. */
  laneImm?: (imm: number, half: number) => number;
  /** imm8 values to draw from (default 0-255). */
  imms?: readonly number[];
  only128?: boolean;
}

const PACKED_RVM = [
  'add',
  'sub',
  'mul',
  'div',
  'min',
  'max',
  'and',
  'andn',
  'or',
  'xor',
  'unpckl',
  'unpckh',
  'addsub',
  'hadd',
  'hsub',
];
const FORMS: Form[] = [
  ...PACKED_RVM.flatMap((n) => [
    { mn: `${n}ps`, shape: 'rvm' as const, scalar: false },
    { mn: `${n}pd`, shape: 'rvm' as const, scalar: false },
  ]),
  ...['add', 'sub', 'mul', 'div', 'min', 'max', 'sqrt'].flatMap((n) => [
    { mn: `${n}ss`, shape: 'rvm' as const, scalar: true },
    { mn: `${n}sd`, shape: 'rvm' as const, scalar: true },
  ]),
  { mn: 'rcpss', shape: 'rvm', scalar: true },
  { mn: 'rsqrtss', shape: 'rvm', scalar: true },
  { mn: 'cvtss2sd', shape: 'rvm', scalar: true },
  { mn: 'cvtsd2ss', shape: 'rvm', scalar: true },
  { mn: 'cmpss', shape: 'rvmi', scalar: true, imms: [0, 1, 2, 3, 4, 5, 6, 7] },
  { mn: 'cmpsd', shape: 'rvmi', scalar: true, imms: [0, 1, 2, 3, 4, 5, 6, 7] },
  { mn: 'roundss', shape: 'rvmi', scalar: true, imms: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12] },
  { mn: 'roundsd', shape: 'rvmi', scalar: true, imms: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12] },
  { mn: 'cmpps', shape: 'rvmi', scalar: false, imms: [0, 1, 2, 3, 4, 5, 6, 7] },
  { mn: 'cmppd', shape: 'rvmi', scalar: false, imms: [0, 1, 2, 3, 4, 5, 6, 7] },
  { mn: 'shufps', shape: 'rvmi', scalar: false },
  { mn: 'shufpd', shape: 'rvmi', scalar: false, laneImm: (i, h) => i >>> (2 * h) },
  { mn: 'blendps', shape: 'rvmi', scalar: false, laneImm: (i, h) => i >>> (4 * h) },
  { mn: 'blendpd', shape: 'rvmi', scalar: false, laneImm: (i, h) => i >>> (2 * h) },
  { mn: 'dpps', shape: 'rvmi', scalar: false },
  { mn: 'dppd', shape: 'rvmi', scalar: false, only128: true },
  { mn: 'blendvps', shape: 'blendv', scalar: false },
  { mn: 'blendvpd', shape: 'blendv', scalar: false },
  ...[
    'sqrtps',
    'sqrtpd',
    'rcpps',
    'rsqrtps',
    'cvtdq2ps',
    'cvtps2dq',
    'cvttps2dq',
    'movsldup',
    'movshdup',
  ].map((mn) => ({ mn, shape: 'rm' as const, scalar: false })),
  { mn: 'roundps', shape: 'rmi', scalar: false, imms: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12] },
  { mn: 'roundpd', shape: 'rmi', scalar: false, imms: [0, 1, 2, 3, 4, 8, 9, 10, 11, 12] },
];

function vexText(f: Form, l256: boolean, mem: boolean): string {
  const r = l256 ? 'ymm' : 'xmm';
  const m = `[${MEM}]`;
  const s2 = mem ? m : `${r}3`;
  switch (f.shape) {
    case 'rvm':
      return `v${f.mn} ${r}1, ${r}2, ${s2}`;
    case 'rvmi':
      return `v${f.mn} ${r}1, ${r}2, ${s2}, 0`;
    case 'rm':
      return `v${f.mn} ${r}1, ${mem ? m : `${r}2`}`;
    case 'rmi':
      return `v${f.mn} ${r}1, ${mem ? m : `${r}2`}, 0`;
    case 'blendv':
      return `v${f.mn} ${r}1, ${r}2, ${s2}, ${r}4`;
  }
}
function legacyText(f: Form): string {
  switch (f.shape) {
    case 'rvm':
    case 'blendv':
      return `movaps xmm1, xmm2\n${f.mn} xmm1, xmm3`;
    case 'rvmi':
      return `movaps xmm1, xmm2\n${f.mn} xmm1, xmm3, 0`;
    case 'rm':
      return `${f.mn} xmm1, xmm2`;
    case 'rmi':
      return `${f.mn} xmm1, xmm2, 0`;
  }
}

describe('AVX float and data-movement registration', () => {
  it('registers 231 distinct VEX Codes, all of them VEX forms', () => {
    const names = AVX_HANDLERS.map(([c]) => CODE_NAMES[c]!);
    expect(names.length).toBe(231);
    expect(new Set(names).size).toBe(231);
    expect(names.every((n) => n.startsWith('VEX_V'))).toBe(true);
  });
});

describe('AVX float: each 128-bit lane is the legacy SSE operation', () => {
  for (const f of FORMS) {
    for (const l256 of f.scalar || f.only128 ? [false] : [false, true]) {
      it(`v${f.mn} ${l256 ? 'ymm' : 'xmm'}: result and MXCSR flags as legacy ${f.mn} per lane; ${l256 ? '' : 'bits 255:128 zeroed; '}memory form the same`, () => {
        const x = avxMachine();
        const ref = x.place(legacyText(f));
        const reg = x.place(vexText(f, l256, false));
        const mem = x.place(vexText(f, l256, true));
        const hasImm = f.shape === 'rvmi' || f.shape === 'rmi';
        const immArb = f.imms ? fc.constantFrom(...f.imms) : fc.integer({ min: 0, max: 255 });
        fc.assert(
          fc.property(vec, vec, vec, vec, immArb, mxcsrArb, (a, b, d, mask, imm, mxcsr) => {
            const oneSrc = f.shape === 'rm' || f.shape === 'rmi';
            let flags = 0;
            const lane = (h: number): number[] => {
              const u = x.sse.u32;
              for (let i = 0; i < 4; i++) {
                u[8 + i] = a[h * 4 + i]! >>> 0;
                u[12 + i] = b[h * 4 + i]! >>> 0;
                u[i] = mask[h * 4 + i]! >>> 0;
                u[4 + i] = 0xdeadbeef;
              }
              x.sse.mxcsr = mxcsr;
              x.exec(ref, hasImm ? (f.laneImm ? f.laneImm(imm, h) : imm) & 0xff : undefined);
              flags |= x.sse.mxcsr & 0x3f;
              return [...u.slice(4, 8)];
            };
            const want = l256 ? [...lane(0), ...lane(1)] : [...lane(0), 0, 0, 0, 0];
            const setAll = () => {
              setYmm(x, 1, d);
              setYmm(x, 2, a);
              setYmm(x, 3, b);
              setYmm(x, 4, mask);
              x.sse.mxcsr = mxcsr;
            };
            setAll();
            x.exec(reg, hasImm ? imm : undefined);
            expect(ymm(x, 1)).toEqual(want);
            expect(x.sse.mxcsr).toBe(mxcsr | flags);
            expect(ymm(x, 2)).toEqual(a.map((v) => v >>> 0));
            setAll();
            const src = oneSrc ? a : b;
            for (let i = 0; i < 8; i++) x.m.memory.write32(MEM + 4 * i, src[i]! >>> 0);
            if (oneSrc) setYmm(x, 2, d);
            x.exec(mem, hasImm ? imm : undefined);
            expect(ymm(x, 1)).toEqual(want);
            expect(x.sse.mxcsr).toBe(mxcsr | flags);
            expect(x.vectors).toEqual([]);
          }),
          { numRuns: 30 },
        );
      });
    }
  }
});

/** Independent oracle for the 32 VCMP predicates, from their SDM names (Table 3-1 of CMPPS). */
const PREDICATES = [
  'EQ_OQ',
  'LT_OS',
  'LE_OS',
  'UNORD_Q',
  'NEQ_UQ',
  'NLT_US',
  'NLE_US',
  'ORD_Q',
  'EQ_UQ',
  'NGE_US',
  'NGT_US',
  'FALSE_OQ',
  'NEQ_OQ',
  'GE_OS',
  'GT_OS',
  'TRUE_UQ',
  'EQ_OS',
  'LT_OQ',
  'LE_OQ',
  'UNORD_S',
  'NEQ_US',
  'NLT_UQ',
  'NLE_UQ',
  'ORD_S',
  'EQ_US',
  'NGE_UQ',
  'NGT_UQ',
  'FALSE_OS',
  'NEQ_OS',
  'GE_OQ',
  'GT_OQ',
  'TRUE_US',
];
function oracle(
  name: string,
  x: number,
  y: number,
): { r: boolean; ie: (qnan: boolean, snan: boolean) => boolean } {
  const [rel, kind] = name.split('_') as [string, string];
  const un = Number.isNaN(x) || Number.isNaN(y);
  const base: Record<string, () => boolean> = {
    EQ: () => x === y,
    LT: () => x < y,
    LE: () => x <= y,
    GT: () => x > y,
    GE: () => x >= y,
    NEQ: () => x !== y,
    NLT: () => !(x < y),
    NLE: () => !(x <= y),
    NGT: () => !(x > y),
    NGE: () => !(x >= y),
    UNORD: () => un,
    ORD: () => !un,
    FALSE: () => false,
    TRUE: () => true,
  };
  // _U predicates are true on unordered operands, _O ones false; UNORD/ORD are their own relation.
  const r = rel === 'UNORD' || rel === 'ORD' || !un ? base[rel]!() : kind.startsWith('U');
  const signalling = kind.endsWith('S');
  return { r, ie: (q, s) => s || (q && signalling) };
}

describe('VCMPPS/VCMPPD: the 32 predicates of imm8[4:0]', () => {
  const cases: [number, number, number][] = [
    // [binary32 bits a, bits b, kind: 0 ordered, 1 QNaN, 2 SNaN]
    [0x3f800000, 0x40000000, 0],
    [0x40000000, 0x3f800000, 0],
    [0x3f800000, 0x3f800000, 0],
    [0x80000000, 0x00000000, 0],
    [0x7fc00000, 0x3f800000, 1],
    [0x3f800000, 0xffc00000, 1],
    [0x7fa00000, 0x3f800000, 2],
  ];
  const f32 = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0]!;
  for (const double of [false, true]) {
    it(`${double ? 'vcmppd' : 'vcmpps'} ymm: every predicate's result and IE flag follow the SDM table`, () => {
      const x = avxMachine();
      const slot = x.place(`${double ? 'vcmppd' : 'vcmpps'} ymm1, ymm2, ymm3, 0`);
      for (let p = 0; p < 32; p++) {
        for (const [ab, bb, kind] of cases) {
          const toW = (b: number) => {
            if (!double) return [b, b, b, b, b, b, b, b];
            // The binary64 with the same value/NaN kind: 1.0 -> 0x3ff00000 etc.
            const d = new Float64Array([f32(b)]);
            const w = new Uint32Array(d.buffer);
            if (Number.isNaN(f32(b)))
              w[1] = (b & 0x80000000) | 0x7ff00000 | (b & 0x400000 ? 0x80000 : 0x40000);
            return [w[0]!, w[1]!, w[0]!, w[1]!, w[0]!, w[1]!, w[0]!, w[1]!];
          };
          setYmm(x, 2, toW(ab));
          setYmm(x, 3, toW(bb));
          x.sse.mxcsr = 0x1f80;
          x.exec(slot, p);
          const o = oracle(PREDICATES[p]!, f32(ab), f32(bb));
          const v = o.r ? 0xffffffff : 0;
          expect(ymm(x, 1), `${PREDICATES[p]} ${ab.toString(16)} ${bb.toString(16)}`).toEqual([
            v,
            v,
            v,
            v,
            v,
            v,
            v,
            v,
          ]);
          expect((x.sse.mxcsr & 1) === 1, `IE ${PREDICATES[p]}`).toBe(o.ie(kind === 1, kind === 2));
        }
      }
    });
  }
});

describe('AVX exceptions, alignment and faults', () => {
  it('an unmasked exception (#XM) leaves the destination unchanged and sets the flag', () => {
    const x = avxMachine();
    const slot = x.place('vdivps ymm1, ymm2, ymm3');
    setYmm(x, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
    setYmm(x, 2, Array(8).fill(0x3f800000));
    setYmm(x, 3, [0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0, 0x3f800000, 0x3f800000]);
    x.sse.mxcsr = 0x1f80 & ~0x200; // ZE unmasked
    x.exec(slot);
    expect(x.vectors).toEqual([Vector.XM]);
    expect(ymm(x, 1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(x.sse.mxcsr & 0x3f).toBe(4);
  });

  it('VMOVAPS/VMOVAPD/VMOVNTPS need 16 (VEX.128) or 32 (VEX.256) byte alignment; VMOVUPS and arithmetic none', () => {
    const run = (text: string): number[] => {
      const x = avxMachine();
      x.exec(x.place(text));
      return x.vectors;
    };
    expect(run('vmovaps ymm1, [0x3010]')).toEqual([Vector.GP]);
    expect(run('vmovaps xmm1, [0x3010]')).toEqual([]);
    expect(run('vmovapd ymm1, [0x3020]')).toEqual([]);
    expect(run('vmovntps [0x3010], ymm1')).toEqual([Vector.GP]);
    expect(run('vmovntpd [0x3008], xmm1')).toEqual([Vector.GP]);
    expect(run('vmovaps [0x3004], xmm1')).toEqual([Vector.GP]);
    expect(run('vmovups ymm1, [0x3001]')).toEqual([]);
    expect(run('vaddps ymm1, ymm2, [0x3001]')).toEqual([]);
    expect(run('vmovapd xmm1, xmm2')).toEqual([]);
  });

  it('a 256-bit memory operand past the DS limit faults and leaves the destination; scalar forms read only their element', () => {
    const x = avxMachine();
    x.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0x301f, 0x93 | 0x4000);
    for (const [text, fault] of [
      ['vaddps ymm1, ymm2, [0x3001]', true],
      ['db 0xc5, 0xfd, 0x5a, 0x0d, 0x01, 0x30, 0x00, 0x00', true], // vcvtpd2ps xmm1, m256 [0x3001]
      ['vaddps xmm1, xmm2, [0x3001]', false],
      ['vaddss xmm1, xmm2, [0x301c]', false],
      ['vaddsd xmm1, xmm2, [0x3018]', false],
      ['vaddsd xmm1, xmm2, [0x301c]', true],
      ['vcvtps2pd ymm1, [0x3010]', false],
      ['vbroadcastsd ymm1, [0x3018]', false],
    ] as const) {
      const slot = x.place(text);
      setYmm(x, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
      x.vectors.length = 0;
      x.exec(slot);
      expect(x.vectors, text).toEqual(fault ? [Vector.GP] : []);
      if (fault) expect(ymm(x, 1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  it('#UD without CR4.OSXSAVE, #NM with CR0.TS', () => {
    const x = avxMachine();
    const slot = x.place('vaddps ymm1, ymm2, ymm3');
    x.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR);
    x.exec(slot);
    x.cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.TS, 0, CR4_ON);
    x.exec(slot);
    expect(x.vectors).toEqual([Vector.UD, Vector.NM]);
  });
});

describe('VMASKMOVPS/PD', () => {
  /** DS limit 0x300f: bytes 0x3000-0x300f are reachable, from 0x3010 on #GP. */
  function limited() {
    const x = avxMachine();
    x.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0x300f, 0x93 | 0x4000);
    return x;
  }
  const ON = 0x80000000;
  it('a load reads only the selected elements (others 0) and a masked-out element past the limit does not fault', () => {
    const x = limited();
    for (let i = 0; i < 8; i++) x.m.memory.write32(0x3000 + 4 * i, 0x100 + i);
    const slot = x.place('vmaskmovps ymm1, ymm2, [0x3000]');
    setYmm(x, 1, [9, 9, 9, 9, 9, 9, 9, 9]);
    setYmm(x, 2, [ON, 0, ON, ON, 0, 0, 0, 0]);
    x.exec(slot);
    expect(x.vectors).toEqual([]);
    expect(ymm(x, 1)).toEqual([0x100, 0, 0x102, 0x103, 0, 0, 0, 0]);
    setYmm(x, 2, [0, 0, 0, 0, ON, 0, 0, 0]);
    x.exec(slot);
    expect(x.vectors).toEqual([Vector.GP]);
    expect(ymm(x, 1)).toEqual([0x100, 0, 0x102, 0x103, 0, 0, 0, 0]);
  });
  it('VMASKMOVPD uses each quadword sign bit; VEX.128 zeroes bits 255:128', () => {
    const x = avxMachine();
    for (let i = 0; i < 4; i++) x.m.memory.write32(0x3000 + 4 * i, 0x200 + i);
    setYmm(x, 1, [9, 9, 9, 9, 9, 9, 9, 9]);
    setYmm(x, 2, [ON, 0, 0, ON, 0, 0, 0, 0]);
    x.exec(x.place('vmaskmovpd xmm1, xmm2, [0x3000]'));
    expect(ymm(x, 1)).toEqual([0, 0, 0x202, 0x203, 0, 0, 0, 0]);
  });
  it('a store writes only selected elements, and a faulting selected element writes none', () => {
    const x = limited();
    for (let i = 0; i < 8; i++) x.m.memory.write32(0x3000 + 4 * i, 0xaa);
    setYmm(x, 3, [1, 2, 3, 4, 5, 6, 7, 8]);
    setYmm(x, 2, [0, ON, 0, ON, 0, 0, 0, 0]);
    const slot = x.place('vmaskmovps [0x3000], ymm2, ymm3');
    x.exec(slot);
    expect(x.vectors).toEqual([]);
    const mem = () => Array.from({ length: 8 }, (_, i) => x.m.memory.read32(0x3000 + 4 * i));
    expect(mem()).toEqual([0xaa, 2, 0xaa, 4, 0xaa, 0xaa, 0xaa, 0xaa]);
    setYmm(x, 3, [11, 12, 13, 14, 15, 16, 17, 18]);
    setYmm(x, 2, [ON, 0, 0, 0, 0, ON, 0, 0]);
    x.exec(slot);
    expect(x.vectors).toEqual([Vector.GP]);
    expect(mem()).toEqual([0xaa, 2, 0xaa, 4, 0xaa, 0xaa, 0xaa, 0xaa]);
  });
});

/** Reference models of the data-movement forms on 8-word vectors. */
const MOVES: {
  text: string;
  model: (a: number[], b: number[], c: number[], imm: number) => number[];
  imm?: boolean;
}[] = [
  { text: 'vpermilps ymm1, ymm2, ymm3', model: (a, b) => a.map((_, i) => a[(i & 4) + (b[i]! & 3)]!) },
  {
    text: 'vpermilps xmm1, xmm2, xmm3',
    model: (a, b) => [...a.slice(0, 4).map((_, i) => a[b[i]! & 3]!), 0, 0, 0, 0],
  },
  {
    text: 'vpermilpd ymm1, ymm2, ymm3',
    model: (a, b) => a.map((_, i) => a[(i & 4) + ((b[i & 6]! >>> 1) & 1) * 2 + (i & 1)]!),
  },
  {
    text: 'vpermilps ymm1, ymm2, 0',
    imm: true,
    model: (a, _b, _c, imm) => a.map((_, i) => a[(i & 4) + ((imm >>> (2 * (i & 3))) & 3)]!),
  },
  {
    text: 'vpermilpd ymm1, ymm2, 0',
    imm: true,
    model: (a, _b, _c, imm) => a.map((_, i) => a[(i & 4) + ((imm >>> (i >> 1)) & 1) * 2 + (i & 1)]!),
  },
  {
    text: 'vperm2f128 ymm1, ymm2, ymm3, 0',
    imm: true,
    model: (a, b, _c, imm) =>
      [0, 1].flatMap((h) => {
        const c = (imm >>> (4 * h)) & 15;
        if (c & 8) return [0, 0, 0, 0];
        const s = c & 2 ? b : a;
        return s.slice((c & 1) * 4, (c & 1) * 4 + 4);
      }),
  },
  {
    text: 'vinsertf128 ymm1, ymm2, xmm3, 0',
    imm: true,
    model: (a, b, _c, imm) =>
      imm & 1 ? [...a.slice(0, 4), ...b.slice(0, 4)] : [...b.slice(0, 4), ...a.slice(4)],
  },
  {
    text: 'vextractf128 xmm1, ymm2, 0',
    imm: true,
    model: (a, _b, _c, imm) => [...a.slice((imm & 1) * 4, (imm & 1) * 4 + 4), 0, 0, 0, 0],
  },
  {
    text: 'vinsertps xmm1, xmm2, xmm3, 0',
    imm: true,
    model: (a, b, _c, imm) => {
      const r = a.slice(0, 4);
      r[(imm >>> 4) & 3] = b[imm >>> 6]!;
      return [...r.map((v, i) => ((imm >>> i) & 1 ? 0 : v)), 0, 0, 0, 0];
    },
  },
  {
    text: 'vblendvps ymm1, ymm2, ymm3, ymm4',
    model: (a, b, c) => a.map((v, i) => (c[i]! >>> 31 ? b[i]! : v)),
  },
  { text: 'vmovss xmm1, xmm2, xmm3', model: (a, b) => [b[0]!, a[1]!, a[2]!, a[3]!, 0, 0, 0, 0] },
  { text: 'vmovsd xmm1, xmm2, xmm3', model: (a, b) => [b[0]!, b[1]!, a[2]!, a[3]!, 0, 0, 0, 0] },
  { text: 'vmovhlps xmm1, xmm2, xmm3', model: (a, b) => [b[2]!, b[3]!, a[2]!, a[3]!, 0, 0, 0, 0] },
  { text: 'vmovlhps xmm1, xmm2, xmm3', model: (a, b) => [a[0]!, a[1]!, b[0]!, b[1]!, 0, 0, 0, 0] },
  { text: 'vmovddup ymm1, ymm2', model: (a) => a.map((_, i) => a[i & ~2]!) },
  { text: 'vmovaps xmm1, xmm2', model: (a) => [...a.slice(0, 4), 0, 0, 0, 0] },
  { text: 'vmovupd ymm1, ymm2', model: (a) => a.slice() },
];

describe('AVX data movement against reference models', () => {
  for (const mv of MOVES) {
    it(`${mv.text}: as the SDM's operation section`, () => {
      const x = avxMachine();
      const slot = x.place(mv.text);
      fc.assert(
        fc.property(vec, vec, vec, vec, fc.integer({ min: 0, max: 255 }), (a, b, c, d, imm) => {
          setYmm(x, 1, d);
          setYmm(x, 2, a);
          setYmm(x, 3, b);
          setYmm(x, 4, c);
          x.exec(slot, mv.imm ? imm : undefined);
          const u = (v: number[]) => v.map((w) => w >>> 0);
          expect(ymm(x, 1)).toEqual(u(mv.model(u(a), u(b), u(c), imm)));
          expect(x.vectors).toEqual([]);
        }),
        { numRuns: 40 },
      );
    });
  }

  it('VTESTPS/VTESTPD set ZF and CF from the sign bits only', () => {
    const x = avxMachine();
    const ps = x.place('vtestps ymm1, ymm2');
    const pd = x.place('vtestpd ymm1, ymm2');
    fc.assert(
      fc.property(vec, vec, (a, b) => {
        setYmm(x, 1, a);
        setYmm(x, 2, b);
        for (const [slot, step] of [
          [ps, 1],
          [pd, 2],
        ] as const) {
          writeFlags(x.cpu.flags, readFlags(x.cpu.flags) | EFLAGS_STATUS);
          x.exec(slot);
          let and = false;
          let andn = false;
          for (let i = step - 1; i < 8; i += step) {
            and ||= (a[i]! & b[i]!) >>> 31 === 1;
            andn ||= (~a[i]! & b[i]!) >>> 31 === 1;
          }
          const f = readFlags(x.cpu.flags);
          expect(f & EFLAGS_STATUS).toBe((and ? 0 : 0x40) | (andn ? 0 : 1));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('VBROADCASTSS/SD/F128 repeat the memory element; VMOVMSKPS ymm collects 8 sign bits', () => {
    const x = avxMachine();
    for (let i = 0; i < 4; i++) x.m.memory.write32(MEM + 4 * i, 0x11 * (i + 1));
    x.exec(x.place(`vbroadcastss ymm1, [${MEM}]`));
    expect(ymm(x, 1)).toEqual(Array(8).fill(0x11));
    x.exec(x.place(`vbroadcastss xmm1, [${MEM}]`));
    expect(ymm(x, 1)).toEqual([0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0]);
    x.exec(x.place(`vbroadcastsd ymm1, [${MEM}]`));
    expect(ymm(x, 1)).toEqual([0x11, 0x22, 0x11, 0x22, 0x11, 0x22, 0x11, 0x22]);
    x.exec(x.place(`vbroadcastf128 ymm1, [${MEM}]`));
    expect(ymm(x, 1)).toEqual([0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0x44]);
    setYmm(x, 2, [0x80000000, 0, 0, 0xffffffff, 0, 0x80000000, 0, 1]);
    x.exec(x.place('vmovmskps eax, ymm2'));
    expect(x.cpu.regs.r32[0]).toBe(0b00101001);
    x.exec(x.place('vmovmskpd eax, ymm2'));
    expect(x.cpu.regs.r32[0]).toBe(0b0110);
  });

  it('VZEROUPPER/VZEROALL outside 64-bit mode leave YMM8-15 alone', () => {
    const x = avxMachine();
    for (let r = 0; r < 16; r++) setYmm(x, r, [r, r, r, r, r + 1, r + 1, r + 1, r + 1]);
    x.exec(x.place('vzeroupper'));
    for (let r = 0; r < 8; r++) expect(ymm(x, r)).toEqual([r, r, r, r, 0, 0, 0, 0]);
    for (let r = 8; r < 16; r++) expect(ymm(x, r)).toEqual([r, r, r, r, r + 1, r + 1, r + 1, r + 1]);
    x.exec(x.place('vzeroall'));
    for (let r = 0; r < 8; r++) expect(ymm(x, r)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ymm(x, 9)).toEqual([9, 9, 9, 9, 10, 10, 10, 10]);
  });

  it('VLDMXCSR loads MXCSR (#GP on reserved bits), VSTMXCSR stores it', () => {
    const x = avxMachine();
    x.m.memory.write32(MEM, 0x7f80);
    x.exec(x.place(`vldmxcsr [${MEM}]`));
    expect(x.sse.mxcsr).toBe(0x7f80);
    x.sse.mxcsr = 0x1fa5;
    x.exec(x.place(`vstmxcsr [${MEM}]`));
    expect(x.m.memory.read32(MEM)).toBe(0x1fa5);
    x.m.memory.write32(MEM, 0x10000);
    x.exec(x.place(`vldmxcsr [${MEM}]`));
    expect(x.vectors).toEqual([Vector.GP]);
    expect(x.sse.mxcsr).toBe(0x1fa5);
  });
});

/** Runs `legacy` on `input` words in XMM2 (XMM1 preset to `d`), returning XMM1's 4 words and the flags. */
function legacyRun(
  x: AvxMachine,
  slot: { at: number; immAt: number },
  input: readonly number[],
  d: readonly number[],
  mxcsr: number,
) {
  const u = x.sse.u32;
  for (let i = 0; i < 4; i++) {
    u[8 + i] = input[i]! >>> 0;
    u[4 + i] = d[i]! >>> 0;
  }
  x.sse.mxcsr = mxcsr;
  x.exec(slot);
  return { w: [...u.slice(4, 8)], flags: x.sse.mxcsr & 0x3f };
}

describe('AVX conversions against the legacy SSE conversions', () => {
  /** [VEX form, legacy form on one 16-byte piece, how the VEX result is made of legacy pieces]. */
  const CASES: {
    vex: string;
    legacy: string;
    pieces: (src: number[]) => number[][];
    join: (r: number[][]) => number[];
  }[] = [
    // Widening: the source's two low elements per legacy run.
    ...(['cvtps2pd', 'cvtdq2pd'] as const).flatMap((mn) => [
      {
        vex: `v${mn} ymm1, xmm2`,
        legacy: `${mn} xmm1, xmm2`,
        pieces: (s: number[]) => [s.slice(0, 4), [s[2]!, s[3]!, 0, 0]],
        join: (r: number[][]) => [...r[0]!, ...r[1]!],
      },
      {
        vex: `v${mn} xmm1, xmm2`,
        legacy: `${mn} xmm1, xmm2`,
        pieces: (s: number[]) => [s.slice(0, 4)],
        join: (r: number[][]) => [...r[0]!, 0, 0, 0, 0],
      },
    ]),
    // Narrowing: each 16-byte half gives two elements.
    ...(['cvtpd2ps', 'cvtpd2dq', 'cvttpd2dq'] as const).flatMap((mn) => [
      {
        vex: `v${mn} xmm1, ymm2`,
        legacy: `${mn} xmm1, xmm2`,
        pieces: (s: number[]) => [s.slice(0, 4), s.slice(4)],
        join: (r: number[][]) => [r[0]![0]!, r[0]![1]!, r[1]![0]!, r[1]![1]!, 0, 0, 0, 0],
      },
      {
        vex: `v${mn} xmm1, xmm2`,
        legacy: `${mn} xmm1, xmm2`,
        pieces: (s: number[]) => [s.slice(0, 4)],
        join: (r: number[][]) => [...r[0]!, 0, 0, 0, 0],
      },
    ]),
  ];
  for (const cs of CASES) {
    it(`${cs.vex}: as legacy ${cs.legacy.split(' ')[0]} on each piece, flags ORed, the rest zeroed`, () => {
      const x = avxMachine();
      const ref = x.place(cs.legacy);
      const slot = x.place(cs.vex);
      fc.assert(
        fc.property(vec, vec, mxcsrArb, (s0, d, mxcsr) => {
          const s = s0.map((v) => v >>> 0);
          let flags = 0;
          const parts = cs.pieces(s).map((p) => {
            const r = legacyRun(x, ref, p, [0, 0, 0, 0], mxcsr);
            flags |= r.flags;
            return r.w;
          });
          setYmm(x, 1, d);
          setYmm(x, 2, s);
          x.sse.mxcsr = mxcsr;
          x.exec(slot);
          expect(ymm(x, 1)).toEqual(cs.join(parts));
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
          expect(x.vectors).toEqual([]);
        }),
        { numRuns: 60 },
      );
    });
  }

  for (const [vex, legacy] of [
    ['vcvtsi2ss xmm1, xmm3, eax', 'cvtsi2ss xmm1, eax'],
    ['vcvtsi2sd xmm1, xmm3, eax', 'cvtsi2sd xmm1, eax'],
    ['vcvtss2si eax, xmm2', 'cvtss2si eax, xmm2'],
    ['vcvttss2si eax, xmm2', 'cvttss2si eax, xmm2'],
    ['vcvtsd2si eax, xmm2', 'cvtsd2si eax, xmm2'],
    ['vcvttsd2si eax, xmm2', 'cvttsd2si eax, xmm2'],
    ['vcomiss xmm2, xmm3', 'comiss xmm2, xmm3'],
    ['vucomiss xmm2, xmm3', 'ucomiss xmm2, xmm3'],
    ['vcomisd xmm2, xmm3', 'comisd xmm2, xmm3'],
    ['vucomisd xmm2, xmm3', 'ucomisd xmm2, xmm3'],
  ] as const) {
    it(`${vex}: EAX, EFLAGS, MXCSR and XMM1 as legacy ${legacy.split(' ')[0]} (XMM1 from xmm3's upper part, upper zeroed)`, () => {
      const x = avxMachine();
      const ref = x.place(legacy);
      const slot = x.place(vex);
      fc.assert(
        fc.property(
          vec,
          vec,
          vec,
          fc.integer({ min: 0, max: 0xffffffff }),
          mxcsrArb,
          (a, b, d, eax, mxcsr) => {
            const run = (s: { at: number; immAt: number }, legacyForm: boolean) => {
              setYmm(x, 1, legacyForm ? b : d);
              setYmm(x, 2, a);
              setYmm(x, 3, b);
              x.cpu.regs.r32[0] = eax;
              x.sse.mxcsr = mxcsr;
              writeFlags(x.cpu.flags, readFlags(x.cpu.flags) | EFLAGS_STATUS);
              x.exec(s);
              return {
                r1: ymm(x, 1),
                eax: x.cpu.regs.r32[0],
                f: readFlags(x.cpu.flags) & EFLAGS_STATUS,
                mx: x.sse.mxcsr,
              };
            };
            const want = run(ref, true);
            const got = run(slot, false);
            expect(got.eax).toBe(want.eax);
            expect(got.f).toBe(want.f);
            expect(got.mx).toBe(want.mx);
            if (vex.startsWith('vcvtsi2')) expect(got.r1).toEqual([...want.r1.slice(0, 4), 0, 0, 0, 0]);
            else expect(got.r1).toEqual(d.map((v) => v >>> 0));
            expect(x.vectors).toEqual([]);
          },
        ),
        { numRuns: 60 },
      );
    });
  }
});

describe('AVX in 64-bit mode', () => {
  function longAvx(source: string) {
    const m = long64(`${source}\nhlt`, { model: MAX_MODEL });
    const cpu = m.cpu;
    cpu.ctrl.cr4 |= CR4_OSXSAVE;
    setXcr0(cpu, 7);
    return m;
  }
  it('VZEROUPPER clears bits 255:128 of all 16 registers; VZEROALL all of them', () => {
    const m = longAvx('vzeroupper');
    const u = m.cpu.fpu.sse.u32;
    u.fill(0x5a5a5a5a);
    runLong(m);
    for (let r = 0; r < 16; r++) {
      expect([...u.slice(4 * r, 4 * r + 4)]).toEqual([0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a]);
      expect([...u.slice(YMM_HI_WORD + 4 * r, YMM_HI_WORD + 4 * r + 4)]).toEqual([0, 0, 0, 0]);
    }
    const m2 = longAvx('vzeroall');
    m2.cpu.fpu.sse.u32.fill(0x5a5a5a5a);
    runLong(m2);
    expect(m2.cpu.fpu.sse.u32.slice(0, 128).every((w) => w === 0)).toBe(true);
  });
  it('VCVTSI2SS/SD with a 64-bit source round once under MXCSR.RC; VCVT(T)SS2SI/SD2SI r64 give the 64-bit indefinite out of range', () => {
    const cases: [string, bigint, number, number][] = [
      // [instruction, RAX, MXCSR, expected low word(s) of XMM0 or RAX]
      ['vcvtsi2ss xmm0, xmm1, rax', 0x7fffffffffffffffn, 0x1f80, 0x5f000000],
      ['vcvtsi2ss xmm0, xmm1, rax', 0x7fffffffffffffffn, 0x7f80, 0x5effffff],
      ['vcvtsi2ss xmm0, xmm1, rax', -0x8000000000000000n, 0x1f80, 0xdf000000],
      ['vcvtsi2ss xmm0, xmm1, rax', 0x1000001n, 0x5f80, 0x4b800001],
    ];
    for (const [text, rax, mx, want] of cases) {
      const m = longAvx(text);
      setReg64(m.cpu, 0, rax);
      m.cpu.fpu.sse.mxcsr = mx;
      m.cpu.fpu.sse.u32.fill(0x11111111);
      runLong(m);
      const u = m.cpu.fpu.sse.u32;
      expect(u[0], `${text} ${rax}`).toBe(want);
      expect([...u.slice(1, 4)]).toEqual([0x11111111, 0x11111111, 0x11111111]);
      expect([...u.slice(YMM_HI_WORD, YMM_HI_WORD + 4)]).toEqual([0, 0, 0, 0]);
    }
    const m = longAvx('vcvtsi2sd xmm0, xmm1, rax');
    setReg64(m.cpu, 0, -9007199254740993n);
    m.cpu.fpu.sse.mxcsr = 0x3f80; // round down
    runLong(m);
    expect(m.cpu.fpu.sse.f64[0]).toBe(-9007199254740994);
    expect(m.cpu.fpu.sse.mxcsr & 0x20).toBe(0x20);
    const toInt: [string, number, bigint][] = [
      ['vcvttss2si rax, xmm1', 0x5f000000, 0x8000000000000000n], // 2^63: out of range
      ['vcvttss2si rax, xmm1', 0xdf000000, 0x8000000000000000n], // -2^63: fits
      ['vcvtss2si rax, xmm1', 0x7fc00000, 0x8000000000000000n],
      ['vcvtss2si rax, xmm1', 0x4f000000, 0x80000000n],
      ['vcvttsd2si rax, xmm1', 0xc3e00000, 0x8000000000000000n],
    ];
    for (const [text, hiOrBits, want] of toInt) {
      const m = longAvx(text);
      m.cpu.fpu.sse.u32[4] = text.includes('sd') ? 0 : hiOrBits;
      m.cpu.fpu.sse.u32[5] = text.includes('sd') ? hiOrBits : 0;
      setReg64(m.cpu, 0, 0x1234n);
      runLong(m);
      expect(reg64(m.cpu, 0), `${text} ${hiOrBits.toString(16)}`).toBe(want);
    }
  });
});
