import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../../test/machine.js';
import { type CpuModel, PENTIUM_4, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, Vector } from '../index.js';
import { MXCSR } from '../sse/state.js';

const MEM = 0x3000;

function machine(source: string, model: CpuModel = PENTIUM_4_PRESCOTT) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR | CR4.OSXMMEXCPT);
  return { m, vectors, sse: m.cpu.fpu.sse };
}

function run(source: string, setup: (x: ReturnType<typeof machine>) => void = () => {}) {
  const x = machine(source);
  setup(x);
  runToHlt(x.m);
  return x;
}

/** The first vector delivered by one instruction. */
function fault(source: string, setup: (x: ReturnType<typeof machine>) => void = () => {}, model?: CpuModel) {
  const x = machine(source, model);
  setup(x);
  x.m.run(1);
  return x.vectors[0];
}

/**
 * The reference: one scalar SSE/SSE2 instruction (ADDSS/SUBSS/ADDSD/SUBSD, whose lanes a property in
 * `sse/float.test.ts` checks against exact BigInt arithmetic) on `a`, `b` under `mxcsr`; returns the
 * result's bits (low word first) and the flags it raised.
 */
function scalar(mn: string, a: readonly number[], b: readonly number[], mxcsr: number) {
  const x = run(`${mn} xmm0, xmm1`, (x) => {
    x.sse.u32.set(a, 0);
    x.sse.u32.set(b, 4);
    x.sse.mxcsr = mxcsr;
  });
  return { bits: Array.from(x.sse.u32.subarray(0, a.length)), flags: x.sse.mxcsr & 0x3f };
}

describe('SSE3 instructions', () => {
  it('every Code the decoder tags SSE3 has a handler', () => {
    const missing: string[] = [];
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.SSE3 && f2 !== CpuidFeature.SSE3) continue;
      if (HANDLERS[c] === undefined) missing.push(CODE_NAMES[c]!);
    }
    expect(missing).toEqual([]);
  });

  it('ADDSUBPS/ADDSUBPD subtract in even elements and add in odd ones', () => {
    const x = run('addsubps xmm0, xmm1\naddsubpd xmm2, xmm3', (x) => {
      x.sse.f32.set([10, 20, 30, 40], 0);
      x.sse.f32.set([1, 2, 3, 4], 4);
      x.sse.f64.set([1.5, 2.5], 4);
      x.sse.f64.set([0.25, 0.5], 6);
    });
    expect(Array.from(x.sse.f32.subarray(0, 4))).toEqual([9, 22, 27, 44]);
    expect(Array.from(x.sse.f64.subarray(4, 6))).toEqual([1.25, 3]);
  });

  it('HADDPS/HSUBPS/HADDPD/HSUBPD pair neighbours, destination pairs first, lower element first', () => {
    const x = run('haddps xmm0, xmm1\nhsubps xmm2, xmm3\nhaddpd xmm4, xmm5\nhsubpd xmm6, xmm7', (x) => {
      x.sse.f32.set([1, 2, 3, 4], 0);
      x.sse.f32.set([10, 20, 30, 40], 4);
      x.sse.f32.set([1, 2, 3, 5], 8);
      x.sse.f32.set([10, 20, 30, 50], 12);
      x.sse.f64.set([1, 2], 8);
      x.sse.f64.set([10, 20], 10);
      x.sse.f64.set([1, 3], 12);
      x.sse.f64.set([10, 30], 14);
    });
    expect(Array.from(x.sse.f32.subarray(0, 4))).toEqual([3, 7, 30, 70]);
    expect(Array.from(x.sse.f32.subarray(8, 12))).toEqual([-1, -2, -10, -20]);
    expect(Array.from(x.sse.f64.subarray(8, 10))).toEqual([3, 30]);
    expect(Array.from(x.sse.f64.subarray(12, 14))).toEqual([-2, -20]);
  });

  it('a horizontal add of a register with itself reads both operands before writing', () => {
    const x = run('haddps xmm0, xmm0', (x) => x.sse.f32.set([1, 2, 3, 4], 0));
    expect(Array.from(x.sse.f32.subarray(0, 4))).toEqual([3, 7, 3, 7]);
  });

  it('MOVSLDUP/MOVSHDUP duplicate even/odd elements; MOVDDUP the low quadword, from m64 too', () => {
    const x = run(
      `movsldup xmm0, xmm1\nmovshdup xmm2, xmm1\nmovddup xmm3, xmm1\nmovddup xmm4, [${MEM + 8}]`,
      (x) => {
        x.sse.u32.set([0xa, 0xb, 0xc, 0xd], 4);
        x.m.memory.write32(MEM + 8, 0x11111111);
        x.m.memory.write32(MEM + 12, 0x22222222);
      },
    );
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([0xa, 0xa, 0xc, 0xc]);
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([0xb, 0xb, 0xd, 0xd]);
    expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([0xa, 0xb, 0xa, 0xb]);
    expect(Array.from(x.sse.u32.subarray(16, 20))).toEqual([0x11111111, 0x22222222, 0x11111111, 0x22222222]);
  });

  it('LDDQU and MOVDDUP take unaligned memory; HADDPS and MOVSLDUP m128 must be aligned (#GP(0))', () => {
    const x = run(`lddqu xmm1, [${MEM + 1}]`, (x) => {
      for (let i = 0; i < 17; i++) x.m.memory.write8(MEM + i, i);
    });
    expect(Array.from(x.sse.u8.subarray(16, 32))).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(fault(`movddup xmm0, [${MEM + 4}]`)).toBeUndefined();
    expect(fault(`haddps xmm0, [${MEM + 4}]`)).toBe(Vector.GP);
    expect(fault(`movsldup xmm0, [${MEM + 8}]`)).toBe(Vector.GP);
    expect(fault(`addsubpd xmm0, [${MEM + 16}]`)).toBeUndefined();
  });

  it('follows the SSE rules: #UD without CR4.OSFXSR and on a model without SSE3, #NM with CR0.TS', () => {
    expect(fault('haddps xmm0, xmm1', () => {}, PENTIUM_4)).toBe(Vector.UD);
    expect(fault('lddqu xmm0, [0x3000]', () => {}, PENTIUM_4)).toBe(Vector.UD);
    expect(fault('haddps xmm0, xmm1', (x) => x.m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0))).toBe(
      Vector.UD,
    );
    expect(
      fault('movddup xmm0, xmm1', (x) =>
        x.m.cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.TS, 0, CR4.OSFXSR),
      ),
    ).toBe(Vector.NM);
  });

  it('an unmasked inexact result raises #XM and leaves the destination alone; NaN rules as ADDPS', () => {
    const x = machine('hsubps xmm0, xmm1');
    x.sse.f32.set([1, 3, 0, 0], 0);
    x.sse.mxcsr = MXCSR.IM | MXCSR.DM | MXCSR.ZM | MXCSR.OM | MXCSR.UM; // PM unmasked
    x.sse.f32.set([1, 1e-10, 0, 0], 4); // 1 - 1e-10 is not a float: inexact
    const before = Array.from(x.sse.u32.subarray(0, 4));
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.XM);
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual(before);
    expect(x.sse.mxcsr & MXCSR.PE).toBe(MXCSR.PE);
    const n = run('haddps xmm0, xmm1', (x) => {
      x.sse.u32.set([0x7fc00001, 0x7f800001, 0, 0], 0); // QNaN + SNaN: the first (lower) wins, IE
    });
    expect(n.sse.u32[0]).toBe(0x7fc00001);
    expect(n.sse.mxcsr & MXCSR.IE).toBe(MXCSR.IE);
  });

  it('FISTTP truncates whatever the rounding control (the x87 member of SSE3)', () => {
    // FNINIT first: at RESET all eight registers are tagged valid (FTW 5555H), so FLD would overflow.
    const x = run(`fninit\nfld dword [${MEM}]\nfisttp dword [${MEM + 4}]`, (x) => {
      x.m.memory.write32(MEM, 0xc02ccccd); // -2.7f
    });
    expect(x.m.memory.read32(MEM + 4) | 0).toBe(-2);
    expect(fault(`fisttp dword [${MEM}]`, () => {}, PENTIUM_4)).toBe(Vector.UD);
  });
});

const f32bits = fc.integer({ min: 0, max: 0xffffffff }).map((v) => v >>> 0);
const rcMode = fc.integer({ min: 0, max: 3 }).map((rc) => 0x1f80 | (rc << 13));

describe('SSE3 arithmetic against the scalar SSE instructions', () => {
  it('property: HADDPS/HSUBPS/ADDSUBPS lanes and flags equal ADDSS/SUBSS on the same pairs, any rounding mode', () => {
    fc.assert(
      fc.property(fc.array(f32bits, { minLength: 8, maxLength: 8 }), rcMode, (v, mxcsr) => {
        const a = v.slice(0, 4);
        const b = v.slice(4);
        for (const [mn, pairs, ops] of [
          [
            'haddps',
            [
              [a[0], a[1]],
              [a[2], a[3]],
              [b[0], b[1]],
              [b[2], b[3]],
            ],
            ['addss', 'addss', 'addss', 'addss'],
          ],
          [
            'hsubps',
            [
              [a[0], a[1]],
              [a[2], a[3]],
              [b[0], b[1]],
              [b[2], b[3]],
            ],
            ['subss', 'subss', 'subss', 'subss'],
          ],
          [
            'addsubps',
            [
              [a[0], b[0]],
              [a[1], b[1]],
              [a[2], b[2]],
              [a[3], b[3]],
            ],
            ['subss', 'addss', 'subss', 'addss'],
          ],
        ] as const) {
          const x = run(`${mn} xmm0, xmm1`, (x) => {
            x.sse.u32.set(a as number[], 0);
            x.sse.u32.set(b as number[], 4);
            x.sse.mxcsr = mxcsr;
          });
          let flags = 0;
          const lanes = pairs.map(([p, q], i) => {
            const r = scalar(ops[i]!, [p!], [q!], mxcsr);
            flags |= r.flags;
            return r.bits[0];
          });
          expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual(lanes);
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('property: HADDPD/HSUBPD/ADDSUBPD lanes and flags equal ADDSD/SUBSD on the same pairs, any rounding mode', () => {
    fc.assert(
      fc.property(fc.array(f32bits, { minLength: 8, maxLength: 8 }), rcMode, (v, mxcsr) => {
        const q = (i: number) => [v[2 * i]!, v[2 * i + 1]!]; // quadword i as [lo, hi]
        const [a0, a1, b0, b1] = [q(0), q(1), q(2), q(3)];
        for (const [mn, pairs, ops] of [
          [
            'haddpd',
            [
              [a0, a1],
              [b0, b1],
            ],
            ['addsd', 'addsd'],
          ],
          [
            'hsubpd',
            [
              [a0, a1],
              [b0, b1],
            ],
            ['subsd', 'subsd'],
          ],
          [
            'addsubpd',
            [
              [a0, b0],
              [a1, b1],
            ],
            ['subsd', 'addsd'],
          ],
        ] as const) {
          const x = run(`${mn} xmm0, xmm1`, (x) => {
            x.sse.u32.set([...a0, ...a1], 0);
            x.sse.u32.set([...b0, ...b1], 4);
            x.sse.mxcsr = mxcsr;
          });
          let flags = 0;
          const lanes = pairs.flatMap(([p, r], i) => {
            const s = scalar(ops[i]!, p, r, mxcsr);
            flags |= s.flags;
            return s.bits;
          });
          expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual(lanes);
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        }
      }),
      { numRuns: 60 },
    );
  });
});
