import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Avx2Machine, avx2Machine } from '../../test/avx2-machine.js';
import { Vector } from '../index.js';

/** The sixteen gather forms: opcode (90 dword indices, 91 qword; 92/93 the float twins), VEX.W, VEX.L. */
interface Form {
  readonly name: string;
  readonly op: number;
  readonly w: 0 | 1;
  readonly l: 0 | 1;
  readonly idxQ: boolean;
  readonly dataQ: boolean;
  /** Elements gathered. */
  readonly n: number;
}

const FORMS: Form[] = [];
for (const [p, base] of [
  ['vpgather', 0x90],
  ['vgather', 0x92],
] as const) {
  for (const idxQ of [false, true]) {
    for (const w of [0, 1] as const) {
      for (const l of [0, 1] as const) {
        const dataQ = w === 1;
        const n = !idxQ && !dataQ ? (l ? 8 : 4) : l ? 4 : 2;
        const suffix = p === 'vpgather' ? (dataQ ? 'q' : 'd') : dataQ ? 'pd' : 'ps';
        FORMS.push({
          name: `${p}${idxQ ? 'q' : 'd'}${suffix}.${l ? 256 : 128}`,
          op: base + (idxQ ? 1 : 0),
          w,
          l,
          idxQ,
          dataQ,
          n,
        });
      }
    }
  }
}

/** The instruction's bytes: `form dest, [base + index*scale + disp32], mask` (VEX3, ModRM mod=10, SIB). */
function encode(
  f: Form,
  dest: number,
  index: number,
  mask: number,
  base: number,
  scale: number,
  disp: number,
  a32 = false,
): string {
  const b1 = (((dest >> 3) ^ 1) << 7) | (((index >> 3) ^ 1) << 6) | (((base >> 3) ^ 1) << 5) | 0x02;
  const b2 = (f.w << 7) | ((~mask & 15) << 3) | (f.l << 2) | 1;
  const modrm = 0x80 | ((dest & 7) << 3) | 4;
  const sib = (Math.log2(scale) << 6) | ((index & 7) << 3) | (base & 7);
  const bytes = [
    0xc4,
    b1,
    b2,
    f.op,
    modrm,
    sib,
    disp & 0xff,
    (disp >>> 8) & 0xff,
    (disp >>> 16) & 0xff,
    (disp >>> 24) & 0xff,
  ];
  if (a32) bytes.unshift(0x67);
  return `db ${bytes.map((b) => `0x${b.toString(16)}`).join(', ')}`;
}

const setGpr = (x: Avx2Machine, n: number, lo: number, hi = 0) => {
  x.cpu.regs.u32[n] = lo >>> 0;
  x.cpu.regs.u32[n + 16] = hi >>> 0;
};

/** Memory as the reference reads it: little-endian words of guest RAM (identity mapped). */
const ramWord = (x: Avx2Machine, a: number) =>
  (x.ram[a]! | (x.ram[a + 1]! << 8) | (x.ram[a + 2]! << 16) | (x.ram[a + 3]! << 24)) >>> 0;

interface Setup {
  f: Form;
  dest: number;
  index: number;
  mask: number;
  base: number;
  scale: number;
  disp: number;
  /** Element j's byte offset from base + disp (index_j * scale). */
  offsets: number[];
  /** Mask element j's top bit, and junk in its other bits. */
  on: boolean[];
  junk: number[];
  destInit: number[];
  maskInit: number[];
  indexInit: number[];
}

/** The index register's words for the offsets (dword or sign-extended qword indices), junk after. */
function indexWords(s: Omit<Setup, 'indexInit'>, fill: number[]): number[] {
  const w = fill.slice();
  s.offsets.forEach((off, j) => {
    const idx = off / s.scale;
    if (s.f.idxQ) {
      w[2 * j] = idx >>> 0;
      w[2 * j + 1] = idx < 0 ? 0xffffffff : 0;
    } else w[j] = idx >>> 0;
  });
  return w;
}

/** The mask register's words: element j's top bit from `on`, the other bits junk. */
function maskWords(s: Pick<Setup, 'f' | 'on' | 'junk'>, fill: number[]): number[] {
  const w = fill.slice();
  const per = s.f.dataQ ? 2 : 1;
  s.on.forEach((on, j) => {
    for (let k = 0; k < per; k++) w[j * per + k] = s.junk[j * per + k]! >>> 0;
    const top = j * per + per - 1;
    w[top] = on ? (w[top]! | 0x80000000) >>> 0 : w[top]! & 0x7fffffff;
  });
  return w;
}

function place(x: Avx2Machine, s: Setup, baseAddr: number): string {
  x.setYmm(s.dest, s.destInit);
  x.setYmm(s.mask, s.maskInit);
  x.setYmm(s.index, s.indexInit);
  setGpr(x, s.base, baseAddr);
  return encode(s.f, s.dest, s.index, s.mask, s.base, s.scale, s.disp);
}

/** The SDM's result with every masked-in element readable: destination words and mask words. */
function reference(x: Avx2Machine, s: Setup, baseAddr: number): { dest: number[]; mask: number[] } {
  const per = s.f.dataQ ? 2 : 1;
  const dest = s.destInit.slice();
  for (let j = 0; j < s.f.n; j++) {
    if (!s.on[j]) continue;
    const a = baseAddr + s.disp + s.offsets[j]!;
    for (let k = 0; k < per; k++) dest[j * per + k] = ramWord(x, a + 4 * k);
  }
  for (let w = s.f.n * per; w < 8; w++) dest[w] = 0;
  return { dest, mask: [0, 0, 0, 0, 0, 0, 0, 0] };
}

const word = fc.integer({ min: 0, max: 0xffffffff });
const words8 = fc.array(word, { minLength: 8, maxLength: 8 });

/** Three distinct vector registers, a base GPR (not RSP), scale, disp, and the per-element inputs. */
function setupArb(offset: (scale: number) => fc.Arbitrary<number>): fc.Arbitrary<Setup> {
  return fc
    .record({
      f: fc.constantFrom(...FORMS),
      regs: fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { minLength: 3, maxLength: 3 }),
      base: fc.integer({ min: 0, max: 15 }).filter((b) => b !== 4),
      scale: fc.constantFrom(1, 2, 4, 8),
      disp: fc.integer({ min: -64, max: 64 }),
      destInit: words8,
      maskFill: words8,
      indexFill: words8,
      junk: words8,
      on: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    })
    .chain((r) =>
      fc.array(offset(r.scale), { minLength: r.f.n, maxLength: r.f.n }).map((offsets) => {
        const s = {
          f: r.f,
          dest: r.regs[0]!,
          index: r.regs[1]!,
          mask: r.regs[2]!,
          base: r.base,
          scale: r.scale,
          disp: r.disp,
          offsets,
          on: r.on.slice(0, r.f.n),
          junk: r.junk,
          destInit: r.destInit,
          maskInit: [] as number[],
        };
        const maskInit = maskWords(s, r.maskFill);
        return { ...s, maskInit, indexInit: indexWords({ ...s, maskInit }, r.indexFill) };
      }),
    );
}

/** Byte offsets index * scale within +-32 KiB. */
const nearOffset = (scale: number) => fc.integer({ min: -4096, max: 4095 }).map((i) => i * scale);

describe('gathers', () => {
  it('every form gathers the masked-in elements (signed indices, scale, disp), zeroes the mask and the unused destination bits', () => {
    const x = avx2Machine();
    const BASE = 0x180000;
    for (let a = BASE - 0x9000; a < BASE + 0x9000; a += 4)
      x.memory.write32(a, Math.imul(a, 0x9e3779b1) >>> 0);
    fc.assert(
      fc.property(setupArb(nearOffset), (s) => {
        const text = place(x, s, BASE);
        expect(x.exec(text)).toBeUndefined();
        const want = reference(x, s, BASE);
        expect(x.ymm(s.dest)).toEqual(want.dest);
        expect(x.ymm(s.mask)).toEqual(want.mask);
        expect(x.ymm(s.index)).toEqual(s.indexInit);
      }),
      { numRuns: 300 },
    );
  });

  it('a #PF on a masked-in element leaves the earlier elements gathered with their mask cleared; masked-out elements on a not-present page never fault; re-executing completes', () => {
    const x = avx2Machine();
    // 2 MiB page 1 (0x200000..) not present; the base sits 4 KiB below it.
    const BASE = 0x1ff000;
    for (let a = BASE - 0x8000; a < BASE + 0x1000; a += 4)
      x.memory.write32(a, Math.imul(a, 0x85ebca6b) >>> 0);
    for (let a = 0x200000; a < 0x210000; a += 4) x.memory.write32(a, Math.imul(a, 0xc2b2ae35) >>> 0);
    // Offsets either on the present page (below 0x1000 - 64 - 8 from the base) or past it.
    const mixed = (scale: number) =>
      fc.oneof(
        fc.integer({ min: -512, max: Math.floor((0xfb0 - 64) / scale) - 1 }).map((i) => i * scale),
        fc.integer({ min: Math.ceil((0x1000 + 64) / scale), max: 0x3000 }).map((i) => i * scale),
      );
    fc.assert(
      fc.property(setupArb(mixed), (s) => {
        x.map2m(1, false);
        const text = place(x, s, BASE);
        const per = s.f.dataQ ? 2 : 1;
        const addr = (j: number) => BASE + s.disp + s.offsets[j]!;
        const k = s.on.findIndex((on, j) => on && addr(j) >= 0x200000);
        const full = reference(x, s, BASE);
        const v = x.exec(text);
        if (k < 0) {
          expect(v).toBeUndefined();
          expect(x.ymm(s.dest)).toEqual(full.dest);
          expect(x.ymm(s.mask)).toEqual(full.mask);
          return;
        }
        expect(v).toBe(Vector.PF);
        expect(x.cpu.ctrl.cr2).toBe(addr(k));
        const dest = x.ymm(s.dest);
        const mask = x.ymm(s.mask);
        for (let j = 0; j < s.f.n; j++) {
          for (let q = 0; q < per; q++) {
            const w = j * per + q;
            // Gathered before the fault: the reference value and a clear mask element.
            expect(dest[w]).toBe(j < k ? full.dest[w] : s.destInit[w]);
            expect(mask[w]).toBe(j < k || !s.on[j] ? 0 : 0xffffffff);
          }
        }
        for (let w = s.f.n * per; w < 8; w++) expect(mask[w]).toBe(0);
        // The instruction restarts from its state once the page is there, and finishes the job.
        x.map2m(1, true);
        expect(x.exec(text)).toBeUndefined();
        expect(x.ymm(s.dest)).toEqual(full.dest);
        expect(x.ymm(s.mask)).toEqual(full.mask);
      }),
      { numRuns: 300 },
    );
  });

  it('#UD when any two of destination, index and mask are the same register, with nothing written', () => {
    const x = avx2Machine();
    fc.assert(
      fc.property(
        fc.constantFrom(...FORMS),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 15 }),
        fc.constantFrom('dest=index', 'dest=mask', 'index=mask', 'all'),
        words8,
        words8,
        (f, r, other, which, a, b) => {
          const o = other === r ? (r + 1) & 15 : other;
          const [d, i, m] =
            which === 'dest=index'
              ? [r, r, o]
              : which === 'dest=mask'
                ? [r, o, r]
                : which === 'index=mask'
                  ? [o, r, r]
                  : [r, r, r];
          x.setYmm(r, a);
          x.setYmm(o, b);
          setGpr(x, 3, 0x100000);
          expect(x.exec(encode(f, d, i, m, 3, 4, 0))).toBe(Vector.UD);
          expect(x.ymm(r)).toEqual(a.map((w) => w >>> 0));
          expect(x.ymm(o)).toEqual(b.map((w) => w >>> 0));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('with a 67h prefix the addresses wrap at 4 GiB; with a qword index the full 64-bit sum is used', () => {
    const x = avx2Machine();
    const f = FORMS.find((g) => g.name === 'vpgatherdd.128')!;
    for (let a = 0x100000; a < 0x100100; a += 4) x.memory.write32(a, a * 3);
    for (let a = 0x10; a < 0x50; a += 4) x.memory.write32(a, 0x5a000000 + a);
    x.setYmm(1, [0x100010, 0x100020, 0x100030, 0x100040, 0, 0, 0, 0]);
    x.setYmm(2, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0, 0, 0, 0]);
    setGpr(x, 3, 0xfff00000, 0x12345678);
    // 32-bit address: EBX + index wraps to 0x100010 - 0x100000 + ... (0xfff00000 + 0x100010 = 0x1_0000_0010).
    expect(x.exec(encode(f, 0, 1, 2, 3, 1, 0, true))).toBeUndefined();
    expect(x.ymm(0).slice(0, 4)).toEqual([0x10, 0x20, 0x30, 0x40].map((o) => ramWord(x, o)));
    // 64-bit: RBX = -0x100 (sign-extended), qword indices.
    const q = FORMS.find((g) => g.name === 'vpgatherqq.256')!;
    x.setYmm(1, [0x100100, 0, 0x100110, 0, 0x100120, 0, 0x100130, 0]);
    x.setYmm(2, [0, 0xffffffff, 0, 0xffffffff, 0, 0xffffffff, 0, 0xffffffff]);
    setGpr(x, 3, -0x100, -1);
    expect(x.exec(encode(q, 0, 1, 2, 3, 1, 0))).toBeUndefined();
    expect(x.ymm(0)).toEqual(
      [0, 1, 2, 3].flatMap((j) => [ramWord(x, 0x100000 + 16 * j), ramWord(x, 0x100004 + 16 * j)]),
    );
  });

  it('a non-canonical element address is #GP(0) and leaves that element and the later ones alone', () => {
    const x = avx2Machine();
    const q = FORMS.find((g) => g.name === 'vpgatherqq.256')!;
    x.setYmm(1, [0x100000, 0, 0, 0x8000, 0x100008, 0, 0x100010, 0]);
    x.setYmm(2, [0, 0x80000000, 0, 0x80000000, 0, 0x80000000, 0, 0x80000000]);
    x.setYmm(0, [1, 2, 3, 4, 5, 6, 7, 8]);
    setGpr(x, 3, 0);
    expect(x.exec(encode(q, 0, 1, 2, 3, 1, 0))).toBe(Vector.GP);
    expect(x.ymm(0)).toEqual([ramWord(x, 0x100000), ramWord(x, 0x100004), 3, 4, 5, 6, 7, 8]);
    expect(x.ymm(2)).toEqual([0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  });
});
