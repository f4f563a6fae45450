import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Avx2Machine, avx2Machine } from '../../test/avx2-machine.js';
import { CR0, EFLAGS, Vector } from '../index.js';
import { AVX2_HANDLERS } from './avx2.js';

/** The memory operand of the tests: unaligned (VEX operands but VMOVDQA/VMOVNT* need no alignment). */
const MEM = 0x100003;
const ALIGNED = 0x100040;

const word = fc.integer({ min: 0, max: 0xffffffff });
const words8 = fc.array(word, { minLength: 8, maxLength: 8 });
const u32 = (v: number | bigint) => Number(BigInt.asUintN(32, BigInt(v)));
const bytesOf = (w: readonly number[]) =>
  w.flatMap((x) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24]);
const wordsOf = (b: readonly number[]) =>
  Array.from(
    { length: b.length / 4 },
    (_, i) => (b[4 * i]! | (b[4 * i + 1]! << 8) | (b[4 * i + 2]! << 16) | (b[4 * i + 3]! << 24)) >>> 0,
  );
const q64 = (w: readonly number[], i: number) => (BigInt(w[2 * i + 1]!) << 32n) | BigInt(w[2 * i]!);
const fromQ = (qs: readonly bigint[]) =>
  qs.flatMap((q) => [u32(q & 0xffffffffn), u32(BigInt.asUintN(64, q) >> 32n)]);
/** VEX.128's rule: the low four words, then zeros. */
const low128 = (w: readonly number[]) => [...w.slice(0, 4), 0, 0, 0, 0];

function writeMem(x: Avx2Machine, at: number, w: readonly number[]): void {
  x.ram.set(bytesOf(w), at);
}
const readMem = (x: Avx2Machine, at: number, n: number) => wordsOf([...x.ram.slice(at, at + 4 * n)]);

interface In {
  y1: number[];
  y2: number[];
  y3: number[];
  d0: number[];
  mem: number[];
  imm: number;
}
const inArb = fc.record({
  y1: words8,
  y2: words8,
  y3: words8,
  d0: words8,
  mem: words8,
  imm: fc.integer({ min: 0, max: 255 }),
});

/**
 * Runs `text(imm)` with YMM1..3 = y1..y3, YMM0 = d0 and 32 bytes at MEM, and checks YMM0 against `want`
 * over random inputs (`arb` to bias them).
 */
function prop(
  x: Avx2Machine,
  text: (i: In) => string,
  want: (i: In) => number[],
  arb: fc.Arbitrary<In> = inArb,
  runs = 60,
) {
  fc.assert(
    fc.property(arb, (i) => {
      x.setYmm(0, i.d0);
      x.setYmm(1, i.y1);
      x.setYmm(2, i.y2);
      x.setYmm(3, i.y3);
      writeMem(x, MEM, i.mem);
      expect(x.exec(text(i))).toBeUndefined();
      expect(x.ymm(0)).toEqual(want(i).map((w) => w >>> 0));
    }),
    { numRuns: runs },
  );
}

describe('registration', () => {
  it('registers the 134 VEX forms, each an AVX/AVX2/AES/PCLMULQDQ instruction', () => {
    expect(AVX2_HANDLERS.length).toBe(134);
    expect(new Set(AVX2_HANDLERS.map(([c]) => c)).size).toBe(134);
    const ok = new Set<number>([
      CpuidFeature.AVX,
      CpuidFeature.AVX2,
      CpuidFeature.AES,
      CpuidFeature.PCLMULQDQ,
    ]);
    for (const [c] of AVX2_HANDLERS) {
      expect(CODE_NAMES[c]!.startsWith('VEX_')).toBe(true);
      expect(codeCpuidFeatures(c).some((f) => ok.has(f))).toBe(true);
    }
  });
});

describe('moves', () => {
  const x = avx2Machine();
  it('VMOVDQA/VMOVDQU/VLDDQU/VMOVNTDQA load all 256 bits, or 128 with bits 255:128 zeroed', () => {
    for (const [t, l] of [
      ['vmovdqu ymm0, [MEM]', true],
      ['vmovdqu xmm0, [MEM]', false],
      ['vlddqu ymm0, [MEM]', true],
      ['vlddqu xmm0, [MEM]', false],
    ] as const) {
      prop(
        x,
        () => t.replace('MEM', `${MEM}`),
        (i) => (l ? i.mem : low128(i.mem)),
        inArb,
        10,
      );
    }
    prop(
      x,
      () => 'vmovdqa ymm0, ymm1',
      (i) => i.y1,
      inArb,
      10,
    );
    prop(
      x,
      () => 'vmovdqa xmm0, xmm1',
      (i) => low128(i.y1),
      inArb,
      10,
    );
    fc.assert(
      fc.property(words8, words8, (m, d) => {
        writeMem(x, ALIGNED, m);
        for (const [t, l] of [
          [`vmovdqa ymm0, [${ALIGNED}]`, true],
          [`vmovntdqa ymm0, [${ALIGNED}]`, true],
          [`vmovdqa xmm0, [${ALIGNED + 16}]`, false],
          [`vmovntdqa xmm0, [${ALIGNED + 16}]`, false],
        ] as const) {
          x.setYmm(0, d);
          expect(x.exec(t)).toBeUndefined();
          expect(x.ymm(0)).toEqual(l ? m : low128(m.slice(4)));
        }
      }),
      { numRuns: 10 },
    );
  });

  it('VMOVDQA, VMOVNTDQA and VMOVNTDQ #GP(0) unless 16/32-byte aligned, writing nothing', () => {
    x.setYmm(0, [1, 2, 3, 4, 5, 6, 7, 8]);
    x.setYmm(1, [9, 9, 9, 9, 9, 9, 9, 9]);
    writeMem(x, ALIGNED, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    for (const t of [
      `vmovdqa ymm0, [${ALIGNED + 16}]`,
      `vmovdqa xmm0, [${ALIGNED + 8}]`,
      `vmovntdqa ymm0, [${ALIGNED + 16}]`,
      `vmovdqa [${ALIGNED + 16}], ymm1`,
      `vmovntdq [${ALIGNED + 16}], ymm1`,
      `vmovntdq [${ALIGNED + 4}], xmm1`,
    ]) {
      expect(x.exec(t)).toBe(Vector.GP);
      expect(x.cpu.regs.ip).toBe(0x2f00 + 1);
    }
    expect(x.ymm(0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(readMem(x, ALIGNED, 12)).toEqual(Array(12).fill(0));
    // 32-byte forms need 32-byte alignment; 16 is enough for the 128-bit ones.
    expect(x.exec(`vmovdqa xmm0, [${ALIGNED + 16}]`)).toBeUndefined();
    expect(x.exec(`vmovntdq [${ALIGNED + 32}], ymm1`)).toBeUndefined();
  });

  it('the stores write 16/32 bytes (unaligned for VMOVDQU), and the 7F register forms move like the loads', () => {
    fc.assert(
      fc.property(words8, words8, (a, d) => {
        x.setYmm(1, a);
        writeMem(x, MEM, Array(10).fill(0x11111111));
        expect(x.exec(`vmovdqu [${MEM}], ymm1`)).toBeUndefined();
        expect(readMem(x, MEM, 10)).toEqual([...a, 0x11111111, 0x11111111]);
        writeMem(x, MEM, Array(10).fill(0x11111111));
        expect(x.exec(`vmovdqu [${MEM}], xmm1`)).toBeUndefined();
        expect(readMem(x, MEM, 10)).toEqual([...a.slice(0, 4), ...Array(6).fill(0x11111111)]);
        x.setYmm(0, d);
        expect(x.exec('db 0xc5, 0xf9, 0x7f, 0xc8')).toBeUndefined(); // vmovdqa xmm0, xmm1 (7F)
        expect(x.ymm(0)).toEqual(low128(a));
        expect(x.exec('db 0xc5, 0xfe, 0x7f, 0xc8')).toBeUndefined(); // vmovdqu ymm0, ymm1 (7F)
        expect(x.ymm(0)).toEqual(a);
      }),
      { numRuns: 20 },
    );
  });

  it('VMOVD/VMOVQ to an XMM register zero-extend to 256 bits; from one they write 32/64 bits (a 32-bit GPR write zero-extends)', () => {
    fc.assert(
      fc.property(words8, word, word, (d, lo, hi) => {
        x.setYmm(0, d);
        x.cpu.regs.u32[0] = lo;
        x.cpu.regs.u32[16] = hi;
        x.exec('vmovd xmm0, eax');
        expect(x.ymm(0)).toEqual([lo, 0, 0, 0, 0, 0, 0, 0]);
        x.exec('vmovq xmm0, rax');
        expect(x.ymm(0)).toEqual([lo, hi, 0, 0, 0, 0, 0, 0]);
        x.setYmm(1, d);
        x.exec('vmovd ebx, xmm1');
        expect([x.cpu.regs.u32[3], x.cpu.regs.u32[19]]).toEqual([d[0], 0]);
        x.exec('vmovq rbx, xmm1');
        expect([x.cpu.regs.u32[3], x.cpu.regs.u32[19]]).toEqual([d[0], d[1]]);
        x.setYmm(0, d);
        x.exec('vmovq xmm0, xmm1');
        expect(x.ymm(0)).toEqual([d[0], d[1], 0, 0, 0, 0, 0, 0]);
        x.setYmm(0, d);
        x.exec('db 0xc5, 0xf9, 0xd6, 0xc8'); // vmovq xmm0, xmm1 (66 0F D6)
        expect(x.ymm(0)).toEqual([d[0], d[1], 0, 0, 0, 0, 0, 0]);
        writeMem(x, MEM, [7, 7, 7]);
        x.exec(`vmovq [${MEM}], xmm1`);
        expect(readMem(x, MEM, 3)).toEqual([d[0], d[1], 7]);
      }),
      { numRuns: 30 },
    );
  });

  it('VMASKMOVDQU stores the bytes whose mask byte has bit 7 set to [RDI], the others untouched', () => {
    fc.assert(
      fc.property(words8, words8, (a, m) => {
        x.setYmm(1, a);
        x.setYmm(2, m);
        writeMem(x, MEM, [0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a]);
        x.cpu.regs.u32[7] = MEM;
        x.cpu.regs.u32[23] = 0;
        expect(x.exec('vmaskmovdqu xmm1, xmm2')).toBeUndefined();
        const ab = bytesOf(a);
        const mb = bytesOf(m);
        const want = Array.from({ length: 20 }, (_, k) => (k < 16 && mb[k]! & 0x80 ? ab[k]! : 0x5a));
        expect([...x.ram.slice(MEM, MEM + 20)]).toEqual(want);
      }),
      { numRuns: 30 },
    );
  });
});

describe('extract, insert, VPMOVMSKB, VPTEST', () => {
  const x = avx2Machine();
  it('VPEXTRB/W/D/Q take element imm8 mod count, zero-extended in the register; the memory forms store that many bytes', () => {
    fc.assert(
      fc.property(words8, fc.integer({ min: 0, max: 255 }), (a, imm) => {
        x.setYmm(1, a);
        const b = bytesOf(a);
        for (const [mn, size] of [
          ['vpextrb', 1],
          ['vpextrw', 2],
          ['vpextrd', 4],
          ['vpextrq', 8],
        ] as const) {
          const k = imm & (16 / size - 1);
          const want = b.slice(k * size, k * size + size);
          x.cpu.regs.u32[3] = 0xdeadbeef;
          x.cpu.regs.u32[19] = 0xdeadbeef;
          expect(x.exec(`${mn} ${size === 8 ? 'rbx' : 'ebx'}, xmm1, ${imm}`)).toBeUndefined();
          const got = bytesOf([x.cpu.regs.u32[3]!, x.cpu.regs.u32[19]!]);
          expect(got).toEqual([...want, ...Array(8 - size).fill(0)]);
          x.ram.fill(0xee, MEM, MEM + 10);
          expect(x.exec(`${mn} [${MEM}], xmm1, ${imm}`)).toBeUndefined();
          expect([...x.ram.slice(MEM, MEM + 10)]).toEqual([...want, ...Array(10 - size).fill(0xee)]);
        }
        // The 0F C5 form (register destination only).
        expect(x.exec(`db 0xc5, 0xf9, 0xc5, 0xd9, ${imm}`)).toBeUndefined(); // vpextrw ebx, xmm1, imm
        expect(x.cpu.regs.u32[3]).toBe(b[(imm & 7) * 2]! | (b[(imm & 7) * 2 + 1]! << 8));
      }),
      { numRuns: 40 },
    );
  });

  it('VPINSRB/W/D/Q replace element imm8 mod count of the second operand; bits 255:128 zeroed', () => {
    fc.assert(
      fc.property(words8, words8, word, word, fc.integer({ min: 0, max: 255 }), (a, d, lo, hi, imm) => {
        x.setYmm(1, a);
        x.cpu.regs.u32[0] = lo;
        x.cpu.regs.u32[16] = hi;
        writeMem(x, MEM, [hi, lo]);
        for (const [mn, size] of [
          ['vpinsrb', 1],
          ['vpinsrw', 2],
          ['vpinsrd', 4],
          ['vpinsrq', 8],
        ] as const) {
          const k = imm & (16 / size - 1);
          const reg = size === 8 ? 'rax' : 'eax';
          for (const [src, val] of [
            [reg, bytesOf([lo, hi])],
            [`[${MEM}]`, bytesOf([hi, lo])],
          ] as const) {
            x.setYmm(0, d);
            expect(x.exec(`${mn} xmm0, xmm1, ${src}, ${imm}`)).toBeUndefined();
            const want = bytesOf(a.slice(0, 4));
            want.splice(k * size, size, ...val.slice(0, size));
            expect(x.ymm(0)).toEqual([...wordsOf(want), 0, 0, 0, 0]);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('VPMOVMSKB gathers the byte sign bits (16 or 32), zero-extended', () => {
    fc.assert(
      fc.property(words8, (a) => {
        x.setYmm(1, a);
        const b = bytesOf(a);
        const mask = (n: number) => b.slice(0, n).reduce((m, v, k) => m + (v >> 7) * 2 ** k, 0);
        x.cpu.regs.u32[19] = 0xffffffff;
        x.exec('vpmovmskb ebx, xmm1');
        expect([x.cpu.regs.u32[3], x.cpu.regs.u32[19]]).toEqual([mask(16), 0]);
        x.exec('vpmovmskb rbx, ymm1');
        expect([x.cpu.regs.u32[3], x.cpu.regs.u32[19]]).toEqual([mask(32), 0]);
      }),
      { numRuns: 40 },
    );
  });

  it('VPTEST: ZF = (a AND b) = 0, CF = (b AND NOT a) = 0 over 128/256 bits, AF OF PF SF cleared', () => {
    const arith = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;
    const sparse = fc.array(fc.oneof(word, fc.constant(0), fc.constant(0xffffffff)), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(sparse, sparse, fc.boolean(), (a, b, l) => {
        x.setYmm(1, a);
        x.setYmm(2, b);
        const n = l ? 8 : 4;
        const zf = a.slice(0, n).every((v, k) => (v & b[k]!) === 0);
        const cf = a.slice(0, n).every((v, k) => (~v & b[k]!) === 0);
        x.exec(`push 0x8d7\npopfq\nvptest ${l ? 'ymm1, ymm2' : 'xmm1, xmm2'}`);
        expect(x.cpu.eflags & arith).toBe((zf ? EFLAGS.ZF : 0) | (cf ? EFLAGS.CF : 0));
      }),
      { numRuns: 100 },
    );
  });
});

describe('cross-lane permutes and blends', () => {
  const x = avx2Machine();
  it('VPERMD/VPERMPS: dword i of the table (third operand) at index (second operand)[i] & 7', () => {
    const ref = (i: In, table: number[]) => i.y2.map((k) => table[k & 7]!);
    prop(
      x,
      () => 'vpermd ymm0, ymm2, ymm1',
      (i) => ref(i, i.y1),
    );
    prop(
      x,
      () => `vpermps ymm0, ymm2, [${MEM}]`,
      (i) => ref(i, i.mem),
    );
    prop(
      x,
      () => 'vpermps ymm0, ymm2, ymm1',
      (i) => ref(i, i.y1),
    );
  });

  it('VPERMQ/VPERMPD: quadword i = source quadword imm8[2i+1:2i]', () => {
    const ref = (i: In, s: number[]) =>
      [0, 1, 2, 3].flatMap((k) => {
        const q = (i.imm >> (2 * k)) & 3;
        return [s[2 * q]!, s[2 * q + 1]!];
      });
    prop(
      x,
      (i) => `vpermq ymm0, ymm1, ${i.imm}`,
      (i) => ref(i, i.y1),
    );
    prop(
      x,
      (i) => `vpermpd ymm0, [${MEM}], ${i.imm}`,
      (i) => ref(i, i.mem),
    );
  });

  it('VPERM2I128: each lane from imm8 nibble [1:0] (src1 lo/hi, src2 lo/hi) or zero with bit 3', () => {
    const ref = (i: In, s2: number[]) =>
      [0, 1].flatMap((h) => {
        const sel = (i.imm >> (4 * h)) & 0xf;
        if (sel & 8) return [0, 0, 0, 0];
        const src = sel & 2 ? s2 : i.y1;
        return src.slice((sel & 1) * 4, (sel & 1) * 4 + 4);
      });
    prop(
      x,
      (i) => `vperm2i128 ymm0, ymm1, ymm2, ${i.imm}`,
      (i) => ref(i, i.y2),
    );
    prop(
      x,
      (i) => `vperm2i128 ymm0, ymm1, [${MEM}], ${i.imm}`,
      (i) => ref(i, i.mem),
    );
  });

  it('VPBLENDD: dword i from the third operand where imm8[i] is set (VEX.128 zeroes the upper half)', () => {
    const ref = (i: In, s2: number[]) => i.y1.map((v, k) => ((i.imm >> k) & 1 ? s2[k]! : v));
    prop(
      x,
      (i) => `vpblendd ymm0, ymm1, ymm2, ${i.imm}`,
      (i) => ref(i, i.y2),
    );
    prop(
      x,
      (i) => `vpblendd xmm0, xmm1, [${MEM}], ${i.imm}`,
      (i) => low128(ref(i, i.mem)),
    );
  });

  it('VINSERTI128/VEXTRACTI128/VBROADCASTI128 move a lane by imm8[0]', () => {
    prop(
      x,
      (i) => `vinserti128 ymm0, ymm1, xmm2, ${i.imm}`,
      (i) => {
        const r = i.y1.slice();
        r.splice((i.imm & 1) * 4, 4, ...i.y2.slice(0, 4));
        return r;
      },
    );
    prop(
      x,
      (i) => `vinserti128 ymm0, ymm1, [${MEM}], ${i.imm}`,
      (i) => {
        const r = i.y1.slice();
        r.splice((i.imm & 1) * 4, 4, ...i.mem.slice(0, 4));
        return r;
      },
    );
    prop(
      x,
      (i) => `vextracti128 xmm0, ymm1, ${i.imm}`,
      (i) => [...i.y1.slice((i.imm & 1) * 4, (i.imm & 1) * 4 + 4), 0, 0, 0, 0],
    );
    prop(
      x,
      (i) => `vextracti128 [${MEM}], ymm1, ${i.imm}\nvmovdqu ymm0, [${MEM}]`,
      (i) => [...i.y1.slice((i.imm & 1) * 4, (i.imm & 1) * 4 + 4), ...i.mem.slice(4)],
    );
    prop(
      x,
      () => `vbroadcasti128 ymm0, [${MEM}]`,
      (i) => [...i.mem.slice(0, 4), ...i.mem.slice(0, 4)],
    );
  });

  it('VPBROADCASTB/W/D/Q and VBROADCASTSS/SD repeat the low element over 128 or 256 bits', () => {
    for (const [mn, size] of [
      ['vpbroadcastb', 1],
      ['vpbroadcastw', 2],
      ['vpbroadcastd', 4],
      ['vpbroadcastq', 8],
      ['vbroadcastss', 4],
      ['vbroadcastsd', 8],
    ] as const) {
      const rep = (s: number[], n: number) =>
        wordsOf(Array.from({ length: n }, (_, k) => bytesOf(s)[k % size]!));
      const forms: [string, boolean][] =
        mn === 'vbroadcastsd'
          ? [['ymm0', true]]
          : [
              ['ymm0', true],
              ['xmm0', false],
            ];
      for (const [d, l] of forms) {
        prop(
          x,
          () => `${mn} ${d}, xmm1`,
          (i) => (l ? rep(i.y1, 32) : low128(rep(i.y1, 16))),
          inArb,
          15,
        );
        if (mn.startsWith('vp'))
          prop(
            x,
            () => `${mn} ${d}, [${MEM}]`,
            (i) => (l ? rep(i.mem, 32) : low128(rep(i.mem, 16))),
            inArb,
            15,
          );
      }
    }
  });
});

describe('per-element shifts', () => {
  const x = avx2Machine();
  /** Counts: mostly edges (0, 1, width-1, width, width+1, huge), some random. */
  const countD = fc.oneof(fc.constantFrom(0, 1, 15, 31, 32, 33, 0x80000000, 0xffffffff), word);
  const countQ = fc.oneof(
    fc.constantFrom(0n, 1n, 31n, 32n, 33n, 63n, 64n, 65n, 1n << 32n, 1n << 63n, (1n << 64n) - 1n),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  );
  const arbD = inArb.chain((i) =>
    fc.array(countD, { minLength: 8, maxLength: 8 }).map((c) => ({ ...i, y2: c, mem: c })),
  );
  const arbQ = inArb.chain((i) =>
    fc.array(countQ, { minLength: 4, maxLength: 4 }).map((c) => ({ ...i, y2: fromQ(c), mem: fromQ(c) })),
  );

  it('VPSLLVD/VPSRLVD/VPSRAVD: a count above 31 gives 0, or the sign fill for VPSRAVD', () => {
    const ref = {
      vpsllvd: (a: number, c: number) => (c > 31 ? 0 : u32(BigInt(a) << BigInt(c))),
      vpsrlvd: (a: number, c: number) => (c > 31 ? 0 : a >>> c),
      vpsravd: (a: number, c: number) => u32(BigInt.asIntN(32, BigInt(a)) >> BigInt(Math.min(c, 31))),
    };
    for (const [mn, f] of Object.entries(ref)) {
      prop(
        x,
        () => `${mn} ymm0, ymm1, ymm2`,
        (i) => i.y1.map((a, k) => f(a, i.y2[k]!)),
        arbD,
      );
      prop(
        x,
        () => `${mn} xmm0, xmm1, [${MEM}]`,
        (i) => low128(i.y1.map((a, k) => f(a, i.y2[k]!))),
        arbD,
      );
    }
  });

  it('VPSLLVQ/VPSRLVQ: the unsigned 64-bit count; above 63 gives 0', () => {
    const M = (1n << 64n) - 1n;
    const ref = {
      vpsllvq: (a: bigint, c: bigint) => (c > 63n ? 0n : (a << c) & M),
      vpsrlvq: (a: bigint, c: bigint) => (c > 63n ? 0n : a >> c),
    };
    for (const [mn, f] of Object.entries(ref)) {
      const want = (i: In) => fromQ([0, 1, 2, 3].map((k) => f(q64(i.y1, k), q64(i.y2, k))));
      prop(x, () => `${mn} ymm0, ymm1, ymm2`, want, arbQ);
      prop(
        x,
        () => `${mn} xmm0, xmm1, [${MEM}]`,
        (i) => low128(want(i)),
        arbQ,
      );
    }
  });
});

describe('VPMOVSX/VPMOVZX, VPHMINPOSUW', () => {
  const x = avx2Machine();
  it('extend the low elements of a register or a 2..16-byte memory operand over 128 or 256 bits', () => {
    for (const [f, from, to] of [
      ['bw', 1, 2],
      ['bd', 1, 4],
      ['bq', 1, 8],
      ['wd', 2, 4],
      ['wq', 2, 8],
      ['dq', 4, 8],
    ] as const) {
      for (const signed of [true, false]) {
        const ref = (s: number[], l: boolean) => {
          const b = bytesOf(s);
          const n = (l ? 32 : 16) / to;
          const out: number[] = [];
          for (let k = 0; k < n; k++) {
            let v = 0n;
            for (let j = 0; j < from; j++) v |= BigInt(b[k * from + j]!) << BigInt(8 * j);
            if (signed) v = BigInt.asIntN(from * 8, v);
            for (let j = 0; j < to; j++)
              out.push(Number((BigInt.asUintN(to * 8, v) >> BigInt(8 * j)) & 0xffn));
          }
          return l ? wordsOf(out) : [...wordsOf(out), 0, 0, 0, 0];
        };
        const mn = `vpmov${signed ? 's' : 'z'}x${f}`;
        prop(
          x,
          () => `${mn} ymm0, xmm1`,
          (i) => ref(i.y1, true),
          inArb,
          10,
        );
        prop(
          x,
          () => `${mn} xmm0, xmm1`,
          (i) => ref(i.y1, false),
          inArb,
          10,
        );
        // The memory operand is only as wide as the elements read: the bytes after it are not read.
        prop(
          x,
          () => `${mn} ymm0, [${MEM}]`,
          (i) => ref(i.mem, true),
          inArb,
          10,
        );
        prop(
          x,
          () => `${mn} xmm0, [${MEM}]`,
          (i) => ref(i.mem, false),
          inArb,
          10,
        );
      }
    }
  });

  it('the memory forms read no further than their operand (a page boundary after it does not fault)', () => {
    x.map2m(1, false);
    const end = 0x200000;
    x.ram.set([0x81, 0x02, 0x83, 0x04, 0x85, 0x06, 0x87, 0x08], end - 8);
    expect(x.exec(`vpmovsxbq ymm0, [${end - 4}]`)).toBeUndefined();
    expect(x.ymm(0)).toEqual(fromQ([-0x7bn, 6n, -0x79n, 8n]));
    expect(x.exec(`vpmovzxbq xmm0, [${end - 2}]`)).toBeUndefined();
    expect(x.ymm(0)).toEqual(fromQ([0x87n, 8n, 0n, 0n]));
    expect(x.exec(`vpbroadcastb ymm0, [${end - 1}]`)).toBeUndefined();
    expect(x.ymm(0)).toEqual(Array(8).fill(0x08080808));
    expect(x.exec(`vpbroadcastw xmm0, [${end - 2}]`)).toBeUndefined();
    expect(x.ymm(0)).toEqual([0x08870887, 0x08870887, 0x08870887, 0x08870887, 0, 0, 0, 0]);
    expect(x.exec(`vpmovzxwq ymm0, [${end - 6}]`)).toBe(Vector.PF);
    x.map2m(1, true);
  });

  it('VPHMINPOSUW: the minimum unsigned word and its lowest index; bits 255:16+3 zero', () => {
    const ref = (s: number[]) => {
      const w = s.slice(0, 4).flatMap((v) => [v & 0xffff, v >>> 16]);
      const min = Math.min(...w);
      return [min | (w.indexOf(min) << 16), 0, 0, 0, 0, 0, 0, 0];
    };
    prop(
      x,
      () => 'vphminposuw xmm0, xmm1',
      (i) => ref(i.y1),
    );
    prop(
      x,
      () => `vphminposuw xmm0, [${MEM}]`,
      (i) => ref(i.mem),
    );
  });
});

describe('masked moves', () => {
  const x = avx2Machine();
  it('VPMASKMOVD/Q loads the elements whose mask top bit is set, zeroes the others', () => {
    for (const [mn, q] of [
      ['vpmaskmovd', false],
      ['vpmaskmovq', true],
    ] as const) {
      const ref = (i: In, l: boolean) => {
        const r = i.mem.map((v, k) => (i.y2[q ? k | 1 : k]! >>> 31 === 1 ? v : 0));
        return l ? r : low128(r);
      };
      prop(
        x,
        () => `${mn} ymm0, ymm2, [${MEM}]`,
        (i) => ref(i, true),
      );
      prop(
        x,
        () => `${mn} xmm0, xmm2, [${MEM}]`,
        (i) => ref(i, false),
      );
    }
  });

  it('masked-out elements on a not-present page never fault; a masked-in one faults with nothing written', () => {
    const END = 0x200000;
    x.map2m(1, false);
    fc.assert(
      fc.property(
        words8,
        words8,
        words8,
        fc.constantFrom(0, 4, 8, 12, 16, 20, 24, 28),
        fc.boolean(),
        fc.boolean(),
        (m, s, d, cut, q, ymm) => {
          const at = END - cut;
          const n = ymm ? 8 : 4;
          /** Word k's element is selected (the top bit of its mask element). */
          const on = (k: number) => m[q ? k | 1 : k]! >>> 31 === 1;
          const faults = Array.from({ length: n }, (_, k) => k).some((k) => on(k) && 4 * k >= cut);
          const mn = q ? 'vpmaskmovq' : 'vpmaskmovd';
          const r = ymm ? 'ymm' : 'xmm';
          writeMem(x, END - 32, d);
          x.setYmm(2, m);
          x.setYmm(3, s);
          x.setYmm(0, d);
          const v = x.exec(`${mn} ${r}0, ${r}2, [${at}]`);
          if (faults) {
            expect(v).toBe(Vector.PF);
            expect(x.ymm(0)).toEqual(d);
          } else {
            expect(v).toBeUndefined();
            const mem = readMem(x, at, cut / 4);
            const want = Array.from({ length: 8 }, (_, k) => (k < n && on(k) ? mem[k]! : 0));
            expect(x.ymm(0)).toEqual(want);
          }
          const pre = readMem(x, END - 32, 8);
          const w = x.exec(`${mn} [${at}], ${r}2, ${r}3`);
          const after = readMem(x, END - 32, 8);
          if (faults) {
            expect(w).toBe(Vector.PF);
            expect(after).toEqual(pre);
          } else {
            expect(w).toBeUndefined();
            const want = pre.slice();
            for (let k = 0; k < n; k++) if (on(k)) want[8 - cut / 4 + k] = s[k]!;
            expect(after).toEqual(want);
          }
        },
      ),
      { numRuns: 300 },
    );
    x.map2m(1, true);
  });
});

describe('VEX.128 forms of SSE4.2 strings, AES-NI and PCLMULQDQ', () => {
  const x = avx2Machine();
  /** Runs the legacy form on copies: xmm5 = xmm1, xmm6 = xmm2; the VEX form must give the same. */
  const same = (vex: string, legacy: string, dst: number) =>
    fc.assert(
      fc.property(words8, words8, words8, fc.integer({ min: 0, max: 255 }), (a, b, d, imm) => {
        x.setYmm(1, a);
        x.setYmm(2, b);
        x.setYmm(0, d);
        x.setYmm(5, a);
        x.setYmm(6, b);
        x.setYmm(7, d);
        writeMem(x, MEM, b);
        expect(x.exec(legacy.replaceAll('IMM', `${imm}`))).toBeUndefined();
        const want = x.ymm(7).slice(0, 4);
        x.setYmm(0, d);
        expect(x.exec(vex.replaceAll('IMM', `${imm}`))).toBeUndefined();
        expect(x.ymm(dst)).toEqual([...want, 0, 0, 0, 0]);
      }),
      { numRuns: 30 },
    );

  it('VAESENC/ENCLAST/DEC/DECLAST xmm0, xmm1 (state), xmm2/m128 (key) = the legacy round, upper half zeroed', () => {
    for (const mn of ['aesenc', 'aesenclast', 'aesdec', 'aesdeclast']) {
      same(`v${mn} xmm0, xmm1, xmm2`, `movdqa xmm7, xmm5\n${mn} xmm7, xmm6`, 0);
      same(`v${mn} xmm0, xmm1, [${MEM}]`, `movdqa xmm7, xmm5\n${mn} xmm7, xmm6`, 0);
    }
  });

  it('VAESIMC, VAESKEYGENASSIST and VPCLMULQDQ = the legacy forms', () => {
    same('vaesimc xmm0, xmm2', 'aesimc xmm7, xmm6', 0);
    same(`vaesimc xmm0, [${MEM}]`, 'aesimc xmm7, xmm6', 0);
    same('vaeskeygenassist xmm0, xmm2, IMM', 'aeskeygenassist xmm7, xmm6, IMM', 0);
    same('vpclmulqdq xmm0, xmm1, xmm2, IMM', 'movdqa xmm7, xmm5\npclmulqdq xmm7, xmm6, IMM', 0);
    same(`vpclmulqdq xmm0, xmm1, [${MEM}], IMM`, 'movdqa xmm7, xmm5\npclmulqdq xmm7, xmm6, IMM', 0);
  });

  it('VPCMPxSTRx = PCMPxSTRx (ECX, flags, XMM0), the mask forms zeroing YMM0[255:128]', () => {
    const arith = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;
    // Short strings with repeats, so the aggregations find matches.
    const str = fc
      .array(fc.constantFrom(0, 0x41, 0x42, 0x43, 0x61, 0xff), { minLength: 32, maxLength: 32 })
      .map(wordsOf);
    for (const op of ['pcmpestri', 'pcmpestrm', 'pcmpistri', 'pcmpistrm']) {
      fc.assert(
        fc.property(
          str,
          str,
          words8,
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: -20, max: 20 }),
          fc.integer({ min: -20, max: 20 }),
          (a, b, d, imm, la, lb) => {
            const run = (text: string) => {
              x.setYmm(1, a);
              x.setYmm(2, b);
              x.setYmm(0, d);
              x.cpu.regs.u32[0] = la >>> 0;
              x.cpu.regs.u32[2] = lb >>> 0;
              x.cpu.regs.u32[1] = 0x12345678;
              x.cpu.regs.u32[17] = 0x9abcdef0;
              expect(x.exec(text)).toBeUndefined();
              return {
                rcx: [x.cpu.regs.u32[1], x.cpu.regs.u32[17]],
                flags: x.cpu.eflags & arith,
                y0: x.ymm(0),
              };
            };
            const legacy = run(`${op} xmm1, xmm2, ${imm}`);
            const vex = run(`v${op} xmm1, xmm2, ${imm}`);
            expect(vex.rcx).toEqual(legacy.rcx);
            expect(vex.flags).toBe(legacy.flags);
            expect(vex.y0).toEqual(op.endsWith('m') ? low128(legacy.y0) : legacy.y0);
          },
        ),
        { numRuns: 40 },
      );
    }
  });
});

describe('entry checks', () => {
  it('#UD without CR4.OSXSAVE or with XCR0[2] clear; #NM with CR0.TS', () => {
    const x = avx2Machine();
    expect(x.exec('vpermq ymm0, ymm1, 0')).toBeUndefined();
    x.cpu.ctrl.xcr0 = 3;
    expect(x.exec('vpermq ymm0, ymm1, 0')).toBe(Vector.UD);
    x.cpu.ctrl.xcr0 = 7;
    x.cpu.ctrl.cr0 |= CR0.TS;
    expect(x.exec('vpbroadcastb ymm0, xmm1')).toBe(Vector.NM);
  });
});
