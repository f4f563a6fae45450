import { CODE_NAMES } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sel } from '../../test/machine.js';
import { VEX_CR4, type VexMachine, vexMachine } from '../../test/vex-machine.js';
import { CR0, CR4, Seg, Vector } from '../index.js';
import { AVX_INT_HANDLERS } from './avx-int.js';
import { setXcr0 } from './xsave.js';

/** Unaligned on purpose: VEX memory operands of these instructions need no alignment. */
const MEM = 0x3001;
const CR4_ON = VEX_CR4;

const SHIFTS = new Set(['vpsllw', 'vpslld', 'vpsllq', 'vpsrlw', 'vpsrld', 'vpsrlq', 'vpsraw', 'vpsrad']);

/**
 * Operand shapes: rvm `v dst, src1 (vvvv), src2/m`; rvmi the same with imm8; count `v dst, src1, xmm/m128`;
 * vmi `v dst (vvvv), src (r/m), imm8`; rmi `v dst, src/m, imm8`; rm `v dst, src/m`; blendv `v dst, src1,
 * src2/m, mask (imm8[7:4])`.
 */
type Shape = 'rvm' | 'rvmi' | 'count' | 'vmi' | 'rmi' | 'rm' | 'blendv';

interface Form {
  readonly code: string;
  readonly mn: string;
  readonly l256: boolean;
  readonly shape: Shape;
}

function formOf(code: string): Form {
  const [, v, ...ops] = code.split('_');
  const mn = v!.toLowerCase();
  const l256 = ops[0] === 'ymm';
  const norm = ops
    .join('_')
    .replace(/ymmm256/g, 'xmmm128')
    .replace(/ymm/g, 'xmm');
  const shapes: Record<string, Shape> = {
    xmm_xmm_xmmm128: SHIFTS.has(mn) ? 'count' : 'rvm',
    xmm_xmm_xmmm128_imm8: 'rvmi',
    xmm_xmm_imm8: 'vmi',
    xmm_xmmm128_imm8: 'rmi',
    xmm_xmmm128: 'rm',
    xmm_xmm_xmmm128_xmm: 'blendv',
  };
  const shape = shapes[norm];
  if (shape === undefined) throw new Error(`no shape for ${code}`);
  return { code, mn, l256, shape };
}

const FORMS = AVX_INT_HANDLERS.map(([c]) => formOf(CODE_NAMES[c]!));
const hasImm = (s: Shape) => s === 'rvmi' || s === 'vmi' || s === 'rmi';
const oneSource = (s: Shape) => s === 'rmi' || s === 'rm';

/** The VEX instruction: registers 1 (destination), 2, 3 and 4, or the memory operand at MEM. */
function vexText(f: Form, l256: boolean, mem: boolean): string {
  const r = l256 ? 'ymm' : 'xmm';
  const m = `[${MEM}]`;
  switch (f.shape) {
    case 'rvm':
      return `${f.mn} ${r}1, ${r}2, ${mem ? m : `${r}3`}`;
    case 'rvmi':
      return `${f.mn} ${r}1, ${r}2, ${mem ? m : `${r}3`}, 0`;
    case 'count':
      return `${f.mn} ${r}1, ${r}2, ${mem ? m : 'xmm3'}`;
    case 'vmi':
      return `${f.mn} ${r}1, ${r}2, 0`;
    case 'rmi':
      return `${f.mn} ${r}1, ${mem ? m : `${r}2`}, 0`;
    case 'rm':
      return `${f.mn} ${r}1, ${mem ? m : `${r}2`}`;
    case 'blendv':
      return `${f.mn} ${r}1, ${r}2, ${mem ? m : `${r}3`}, ${r}4`;
  }
}

/** The legacy SSE instruction on one lane: xmm2 = src1 (or the one source), xmm3 = src2, xmm0 = mask. */
function legacyText(f: Form): string {
  const mn = f.mn.slice(1);
  switch (f.shape) {
    case 'rvm':
    case 'count':
      return `movdqa xmm1, xmm2\n${mn} xmm1, xmm3`;
    case 'rvmi':
      return `movdqa xmm1, xmm2\n${mn} xmm1, xmm3, 0`;
    case 'vmi':
      return `movdqa xmm1, xmm2\n${mn} xmm1, 0`;
    case 'rmi':
      return `${mn} xmm1, xmm2, 0`;
    case 'rm':
      return `${mn} xmm1, xmm2`;
    case 'blendv':
      return `movdqa xmm1, xmm2\n${mn} xmm1, xmm3`;
  }
}

/** A flat 32-bit machine with AVX enabled (CR4.OSXSAVE, XCR0 = 7) and an IDT whose handlers HLT. */
const avxMachine = (): VexMachine => vexMachine();
type AvxMachine = VexMachine;

/** YMM register `r`'s 8 words. */
const ymm = (x: AvxMachine, r: number): number[] => x.ymm(r);
const setYmm = (x: AvxMachine, r: number, w: readonly number[]): void => x.setYmm(r, w);
const words = (b: Uint8Array): number[] => [...new Uint32Array(b.slice().buffer)];

/** Bytes with edge values common: 0, 1, 0x7f, 0x80, 0xff among random ones. */
const edgeByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 0x7f, 0x80, 0xff));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).chain((r) =>
  fc.array(edgeByte, { minLength: 32, maxLength: 32 }).map((e) => {
    // Mostly random bytes, with runs of edge values so saturation and sign edges come up.
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = (i >> 2) % 3 === 0 ? e[i]! : r[i]!;
    return out;
  }),
);
/** Shift counts: the low qword of a count operand. */
const COUNTS = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 0x10000];
const count64 = fc.oneof(
  fc.constantFrom(...COUNTS).map((c) => [c, 0] as const),
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 1, 0x80000000)),
);

interface Case {
  a: Uint8Array;
  b: Uint8Array;
  d: Uint8Array;
  mask: Uint8Array;
  imm: number;
}

const caseArb = (f: Form): fc.Arbitrary<Case> =>
  fc
    .record({
      a: bytes32,
      b: bytes32,
      d: bytes32,
      mask: bytes32,
      imm:
        f.shape === 'vmi' && SHIFTS.has(f.mn)
          ? fc.constantFrom(...COUNTS.map((c) => c & 0xff), 2, 3, 0x80)
          : fc.integer({ min: 0, max: 255 }),
      same: fc.integer({ min: 0, max: 0xffffffff }),
      count: count64,
    })
    .map(({ a, b: b0, d, mask, imm, same, count }) => {
      const b = b0.slice();
      // Equal elements in some places (PCMPEQ, PMIN/PMAX ties, PSIGN zero): b copies a's bytes where
      // `same` says so, four bytes at a time.
      for (let i = 0; i < 32; i++) if ((same >>> (i >> 2)) & 1) b[i] = a[i]!;
      if (f.shape === 'count') {
        const c = new Uint32Array(b.buffer);
        c[0] = count[0];
        c[1] = count[1];
      }
      return { a, b, d, mask, imm };
    });

describe('AVX/AVX2 per-lane packed integer', () => {
  it('registers every form once: 204 VEX Codes', () => {
    expect(FORMS.length).toBe(204);
    expect(new Set(FORMS.map((f) => f.code)).size).toBe(204);
    expect(FORMS.filter((f) => f.l256).length).toBe(102);
  });

  for (const f of FORMS) {
    it(`${f.code}: each 128-bit lane is the legacy SSE op; VEX.128 zeroes bits 255:128 and keeps its sources`, () => {
      const x = avxMachine();
      const ref = x.place(legacyText(f));
      const reg = x.place(vexText(f, f.l256, false));
      const mem = f.shape === 'vmi' ? undefined : x.place(vexText(f, f.l256, true));
      const legacyImm = (imm: number, half: number) =>
        f.mn === 'vmpsadbw' && half === 1 ? (imm >>> 3) & 7 : imm;
      /** The legacy instruction on one lane of each input. */
      const lane = (c: Case, half: number): number[] => {
        const o = f.shape === 'count' ? 0 : half * 4;
        const aw = words(c.a);
        const bw = words(c.b);
        const mw = words(c.mask);
        const u = x.sse.u32;
        for (let i = 0; i < 4; i++) {
          u[8 + i] = aw[half * 4 + i]!;
          u[12 + i] = bw[o + i]!;
          u[i] = mw[half * 4 + i]!;
          u[4 + i] = 0xdeadbeef;
        }
        x.exec(ref, hasImm(f.shape) ? legacyImm(c.imm, half) : undefined);
        return [...u.slice(4, 8)];
      };
      fc.assert(
        fc.property(caseArb(f), (c) => {
          const want = f.l256 ? [...lane(c, 0), ...lane(c, 1)] : [...lane(c, 0), 0, 0, 0, 0];
          const setAll = () => {
            setYmm(x, 1, words(c.d));
            setYmm(x, 2, words(c.a));
            setYmm(x, 3, words(c.b));
            setYmm(x, 4, words(c.mask));
          };
          setAll();
          x.exec(reg, hasImm(f.shape) ? c.imm : undefined);
          expect(ymm(x, 1)).toEqual(want);
          // The sources are intact (the destination differs from them).
          expect(ymm(x, 2)).toEqual(words(c.a));
          expect(ymm(x, 3)).toEqual(words(c.b));
          expect(ymm(x, 4)).toEqual(words(c.mask));
          if (mem !== undefined) {
            setAll();
            x.m.ram.set(oneSource(f.shape) ? c.a : c.b, MEM);
            // A one-source form reads only the memory: its register source holds something else.
            if (oneSource(f.shape)) setYmm(x, 2, words(c.d));
            x.exec(mem, hasImm(f.shape) ? c.imm : undefined);
            expect(ymm(x, 1)).toEqual(want);
          }
          expect(x.vectors).toEqual([]);
        }),
        { numRuns: 25 },
      );
    });
  }

  it('every form: a destination that is also a source gives the same result (sources are read before the write)', () => {
    const x = avxMachine();
    const r = (n: number) => Array.from({ length: 32 }, (_, i) => (i * 37 + n * 101 + 0x5b) & 0xff);
    const [a, b, d, mask] = [r(1), r(2), r(3), r(4)].map((v) => words(Uint8Array.from(v)));
    // Shift counts in b's low qword: 3 (the rest of b is ignored by the count forms).
    b![0] = 3;
    b![1] = 0;
    for (const f of FORMS) {
      const text = vexText(f, f.l256, false);
      const reg = f.l256 ? 'ymm' : 'xmm';
      const runWith = (t: string, out: number): number[] => {
        setYmm(x, 1, d!);
        setYmm(x, 2, a!);
        setYmm(x, 3, b!);
        setYmm(x, 4, mask!);
        x.exec(x.place(t), hasImm(f.shape) ? 0x5d : undefined);
        return ymm(x, out);
      };
      const want = runWith(text, 1);
      expect(runWith(text.replace(`${reg}1,`, `${reg}2,`), 2), f.code).toEqual(want);
      if (!oneSource(f.shape) && f.shape !== 'vmi')
        expect(runWith(text.replace(`${reg}1,`, `${reg}3,`), 3), f.code).toEqual(want);
      if (f.shape === 'blendv')
        expect(runWith(text.replace(`${reg}1,`, `${reg}4,`), 4), f.code).toEqual(want);
    }
    expect(x.vectors).toEqual([]);
  });

  it('every form: #UD without CR4.OSXSAVE or with XCR0[2:1] != 11b, #NM with CR0.TS; a fault leaves the destination', () => {
    const x = avxMachine();
    for (const f of FORMS) {
      const slot = x.place(vexText(f, f.l256, false));
      const first = (setup: () => void): number | undefined => {
        x.vectors.length = 0;
        x.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4_ON);
        setXcr0(x.cpu, 7);
        setup();
        setYmm(x, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
        x.exec(slot);
        if (x.vectors.length !== 0) expect(ymm(x, 1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        return x.vectors[0];
      };
      expect(
        first(() => {}),
        f.code,
      ).toBeUndefined();
      expect(
        first(() => x.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR)),
        f.code,
      ).toBe(Vector.UD);
      expect(
        first(() => setXcr0(x.cpu, 3)),
        f.code,
      ).toBe(Vector.UD);
      expect(
        first(() => x.cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.TS, 0, CR4_ON)),
        f.code,
      ).toBe(Vector.NM);
      x.place('nop'); // keep slots apart from the next form's
    }
  });

  it('a faulting memory operand leaves the destination as it was (#GP past the DS limit)', () => {
    const x = avxMachine();
    for (const text of [
      'vpaddb ymm1, ymm2, [0x3001]',
      'vpsllw ymm1, ymm2, [0x3001]',
      'vpshufd ymm1, [0x3001], 0x1b',
    ]) {
      const slot = x.place(text);
      setYmm(x, 1, [1, 2, 3, 4, 5, 6, 7, 8]);
      x.vectors.length = 0;
      x.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0x3008, 0x93 | 0x4000);
      x.exec(slot);
      expect(x.vectors, text).toEqual([Vector.GP]);
      expect(ymm(x, 1)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
    // The count operand of VPSLLW ymm is an m128 even in VEX.256: 0x3001..0x3010 is all it reads.
    const slot = x.place('vpsllw ymm1, ymm2, [0x3001]');
    x.vectors.length = 0;
    x.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0x3010, 0x93 | 0x4000);
    x.exec(slot);
    expect(x.vectors).toEqual([]);
  });
});

describe('per-lane details the SDM spells out', () => {
  function run(text: string, regs: Record<number, readonly number[]>, mem?: readonly number[]) {
    const x = avxMachine();
    const slot = x.place(text);
    for (const [r, w] of Object.entries(regs)) setYmm(x, Number(r), w);
    if (mem) for (let i = 0; i < mem.length; i++) x.m.memory.write32(MEM + 4 * i, mem[i]!);
    x.exec(slot);
    expect(x.vectors).toEqual([]);
    return (r: number) => ymm(x, r);
  }
  const W = [0x80018002, 0x7fff0001, 0xffff8000, 0x00010002, 0x12345678, 0x9abcdef0, 0x0f0f0f0f, 0xf0f0f0f0];

  it('VPSRAW ymm by xmm: the low 64 bits of the count serve both lanes; a count over 15 fills with the sign', () => {
    expect(run('vpsraw ymm1, ymm2, xmm3', { 2: W, 3: [16, 0, 1, 1, 0, 0, 0, 0] })(1)).toEqual([
      0xffffffff, 0x00000000, 0xffffffff, 0, 0, 0xffffffff, 0, 0xffffffff,
    ]);
    // High qword of the count is ignored, the upper half of YMM3 too.
    expect(run('vpsrlw ymm1, ymm2, xmm3', { 2: W, 3: [4, 0, 99, 99, 99, 99, 99, 99] })(1)).toEqual([
      0x08000800, 0x07ff0000, 0x0fff0800, 0x00000000, 0x01230567, 0x09ab0def, 0x00f000f0, 0x0f0f0f0f,
    ]);
  });

  it('VPSRLQ ymm by m128: the count is a 16-byte operand (a 64-bit count of 2^32 clears)', () => {
    expect(run('vpsrlq ymm1, ymm2, [0x3001]', { 2: W }, [0, 1, 0, 0])(1)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(run('vpsllq ymm1, ymm2, [0x3001]', { 2: W }, [4, 0, 0xff, 0xff])(1)).toEqual([
      0x00180020, 0xfff00018, 0xfff80000, 0x0010002f, 0x23456780, 0xabcdef01, 0xf0f0f0f0, 0x0f0f0f00,
    ]);
  });

  it('VPSLLW ymm1 (vvvv), ymm2, imm8 shifts ymm2 into ymm1', () => {
    const r = run('vpsllw ymm5, ymm2, 1', { 2: W, 5: [9, 9, 9, 9, 9, 9, 9, 9] });
    expect(r(5)).toEqual([
      0x00020004, 0xfffe0002, 0xfffe0000, 0x00020004, 0x2468acf0, 0x3578bde0, 0x1e1e1e1e, 0xe1e0e1e0,
    ]);
    expect(r(2)).toEqual(W);
  });

  it('VPSLLDQ/VPSRLDQ ymm shift each 128-bit lane on its own', () => {
    const b = [
      0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x13121110, 0x17161514, 0x1b1a1918, 0x1f1e1d1c,
    ];
    expect(run('vpslldq ymm1, ymm2, 3', { 2: b })(1)).toEqual([
      0x00000000, 0x04030201, 0x08070605, 0x0c0b0a09, 0x10000000, 0x14131211, 0x18171615, 0x1c1b1a19,
    ]);
    expect(run('vpsrldq ymm1, ymm2, 17', { 2: b })(1)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('VMPSADBW ymm takes imm8[2:0] for the low lane and imm8[5:3] for the high lane', () => {
    const a = [
      0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c,
    ];
    const z = [0, 0, 0, 0, 0, 0, 0, 0];
    // Low lane: imm 0 -> A bytes 0.., B block 0 (zeros): sums of bytes i..i+3 = 4i+6.
    // High lane: imm[5:3] = 4 -> A bytes 4.. : sums 4(i+4)+6.
    const r = run('vmpsadbw ymm1, ymm2, ymm3, 0x20', { 2: a, 3: z })(1);
    const w16 = (i: number) => 4 * i + 6;
    expect(r).toEqual([
      w16(0) | (w16(1) << 16),
      w16(2) | (w16(3) << 16),
      w16(4) | (w16(5) << 16),
      w16(6) | (w16(7) << 16),
      w16(4) | (w16(5) << 16),
      w16(6) | (w16(7) << 16),
      w16(8) | (w16(9) << 16),
      w16(10) | (w16(11) << 16),
    ]);
  });

  it('VPBLENDVB takes its mask from the register in imm8[7:4], not XMM0', () => {
    const ones = [-1, -1, -1, -1, -1, -1, -1, -1].map((v) => v >>> 0);
    const mask = [0x80, 0x8000_0000, 0, 0x00800080, 0xffffffff, 0, 0x80000000, 0x7f7f7f7f];
    const r = run('vpblendvb ymm1, ymm2, ymm3, ymm6', {
      0: ones,
      2: [0, 0, 0, 0, 0, 0, 0, 0],
      3: ones,
      6: mask,
    })(1);
    expect(r).toEqual([0xff, 0xff000000, 0, 0x00ff00ff, 0xffffffff, 0, 0xff000000, 0]);
  });

  it('VPACKUSWB ymm packs within each lane (low lane: a then b, high lane: a then b)', () => {
    const a = [
      0x00020001, 0x00040003, 0x00060005, 0x00080007, 0x00120011, 0x00140013, 0x00160015, 0x01000017,
    ];
    const b = [
      0xffff0021, 0x00240023, 0x00260025, 0x00280027, 0x00320031, 0x00340033, 0x00360035, 0x00380037,
    ];
    expect(run('vpackuswb ymm1, ymm2, ymm3', { 2: a, 3: b })(1)).toEqual([
      0x04030201, 0x08070605, 0x24230021, 0x28272625, 0x14131211, 0xff171615, 0x34333231, 0x38373635,
    ]);
  });
});
