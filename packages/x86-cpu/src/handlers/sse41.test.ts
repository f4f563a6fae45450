import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../../test/machine.js';
import { applyGuestCpuid, CORE_2, type CpuModel, Leaf1Ecx, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, EFLAGS, Vector } from '../index.js';
import { MXCSR } from '../sse/state.js';

const MEM = 0x3000;

function machine(source: string, model: CpuModel = CORE_2) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR | CR4.OSXMMEXCPT);
  return { m, vectors, sse: m.cpu.fpu.sse };
}
type X = ReturnType<typeof machine>;

function run(source: string, setup: (x: X) => void = () => {}) {
  const x = machine(source);
  setup(x);
  runToHlt(x.m);
  return x;
}

function first(source: string, setup: (x: X) => void = () => {}, model?: CpuModel) {
  const x = machine(source, model);
  setup(x);
  x.m.run(1);
  return x.vectors[0];
}

// ------------------------------------------------------------------ plain SDM reference (integer)

const u8 = (b: readonly number[], i: number) => b[i]! & 0xff;
const s8 = (b: readonly number[], i: number) => (u8(b, i) << 24) >> 24;
const u16 = (b: readonly number[], i: number) => u8(b, 2 * i) | (u8(b, 2 * i + 1) << 8);
const s16 = (b: readonly number[], i: number) => (u16(b, i) << 16) >> 16;
const u32 = (b: readonly number[], i: number) => (u16(b, 2 * i) | (u16(b, 2 * i + 1) << 16)) >>> 0;
const s32 = (b: readonly number[], i: number) => u32(b, i) | 0;
const u64 = (b: readonly number[], i: number) => (BigInt(u32(b, 2 * i + 1)) << 32n) | BigInt(u32(b, 2 * i));
const s64 = (b: readonly number[], i: number) => BigInt.asIntN(64, u64(b, i));

/** Little-endian bytes of `count` elements of `size` bytes (values taken modulo 2^(8*size)). */
function pack(size: number, values: readonly (number | bigint)[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    let w = BigInt.asUintN(size * 8, BigInt(v));
    for (let k = 0; k < size; k++) {
      out.push(Number(w & 0xffn));
      w >>= 8n;
    }
  }
  return out;
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** DEST op SRC as the SDM's Operation sections write it: `d` destination bytes, `s` source bytes. */
const INT_REFERENCE: Record<string, (d: number[], s: number[], imm: number, x0: number[]) => number[]> = {
  pminsb: (d, s) =>
    pack(
      1,
      range(16).map((i) => Math.min(s8(d, i), s8(s, i))),
    ),
  pmaxsb: (d, s) =>
    pack(
      1,
      range(16).map((i) => Math.max(s8(d, i), s8(s, i))),
    ),
  pminuw: (d, s) =>
    pack(
      2,
      range(8).map((i) => Math.min(u16(d, i), u16(s, i))),
    ),
  pmaxuw: (d, s) =>
    pack(
      2,
      range(8).map((i) => Math.max(u16(d, i), u16(s, i))),
    ),
  pminsd: (d, s) =>
    pack(
      4,
      range(4).map((i) => Math.min(s32(d, i), s32(s, i))),
    ),
  pmaxsd: (d, s) =>
    pack(
      4,
      range(4).map((i) => Math.max(s32(d, i), s32(s, i))),
    ),
  pminud: (d, s) =>
    pack(
      4,
      range(4).map((i) => Math.min(u32(d, i), u32(s, i))),
    ),
  pmaxud: (d, s) =>
    pack(
      4,
      range(4).map((i) => Math.max(u32(d, i), u32(s, i))),
    ),
  pmulld: (d, s) =>
    pack(
      4,
      range(4).map((i) => BigInt(s32(d, i)) * BigInt(s32(s, i))),
    ),
  pmuldq: (d, s) => pack(8, [BigInt(s32(d, 0)) * BigInt(s32(s, 0)), BigInt(s32(d, 2)) * BigInt(s32(s, 2))]),
  pcmpeqq: (d, s) =>
    pack(
      8,
      range(2).map((i) => (u64(d, i) === u64(s, i) ? -1n : 0n)),
    ),
  packusdw: (d, s) =>
    pack(
      2,
      [...range(4).map((i) => s32(d, i)), ...range(4).map((i) => s32(s, i))].map((v) =>
        v < 0 ? 0 : Math.min(v, 0xffff),
      ),
    ),
  phminposuw: (_d, s) => {
    let min = u16(s, 0);
    let at = 0;
    for (let i = 1; i < 8; i++) {
      if (u16(s, i) < min) {
        min = u16(s, i);
        at = i;
      }
    }
    return pack(2, [min, at, 0, 0, 0, 0, 0, 0]);
  },
  pblendw: (d, s, imm) =>
    pack(
      2,
      range(8).map((i) => ((imm >> i) & 1 ? u16(s, i) : u16(d, i))),
    ),
  blendps: (d, s, imm) =>
    pack(
      4,
      range(4).map((i) => ((imm >> i) & 1 ? u32(s, i) : u32(d, i))),
    ),
  blendpd: (d, s, imm) =>
    pack(
      8,
      range(2).map((i) => ((imm >> i) & 1 ? u64(s, i) : u64(d, i))),
    ),
  pblendvb: (d, s, _imm, x0) => range(16).map((i) => (u8(x0, i) & 0x80 ? u8(s, i) : u8(d, i))),
  blendvps: (d, s, _imm, x0) =>
    pack(
      4,
      range(4).map((i) => (u32(x0, i) >>> 31 ? u32(s, i) : u32(d, i))),
    ),
  blendvpd: (d, s, _imm, x0) =>
    pack(
      8,
      range(2).map((i) => (s64(x0, i) < 0n ? u64(s, i) : u64(d, i))),
    ),
  mpsadbw: (d, s, imm) => {
    const ao = ((imm >> 2) & 1) * 4;
    const bo = (imm & 3) * 4;
    return pack(
      2,
      range(8).map((i) => range(4).reduce((t, j) => t + Math.abs(u8(d, ao + i + j) - u8(s, bo + j)), 0)),
    );
  },
  pmovsxbw: (_d, s) =>
    pack(
      2,
      range(8).map((i) => s8(s, i)),
    ),
  pmovsxbd: (_d, s) =>
    pack(
      4,
      range(4).map((i) => s8(s, i)),
    ),
  pmovsxbq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => s8(s, i)),
    ),
  pmovsxwd: (_d, s) =>
    pack(
      4,
      range(4).map((i) => s16(s, i)),
    ),
  pmovsxwq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => s16(s, i)),
    ),
  pmovsxdq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => s32(s, i)),
    ),
  pmovzxbw: (_d, s) =>
    pack(
      2,
      range(8).map((i) => u8(s, i)),
    ),
  pmovzxbd: (_d, s) =>
    pack(
      4,
      range(4).map((i) => u8(s, i)),
    ),
  pmovzxbq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => u8(s, i)),
    ),
  pmovzxwd: (_d, s) =>
    pack(
      4,
      range(4).map((i) => u16(s, i)),
    ),
  pmovzxwq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => u16(s, i)),
    ),
  pmovzxdq: (_d, s) =>
    pack(
      8,
      range(2).map((i) => u32(s, i)),
    ),
  insertps: (d, s, imm) => {
    const out = range(4).map((i) => u32(d, i));
    out[(imm >> 4) & 3] = u32(s, imm >> 6);
    return pack(
      4,
      out.map((v, i) => ((imm >> i) & 1 ? 0 : v)),
    );
  },
};

const IMM_FORMS = new Set(['pblendw', 'blendps', 'blendpd', 'mpsadbw', 'insertps']);

// Edge bytes half of the time; whole edge dwords (0x80000000, 0x7FFFFFFF, -1, 0x10000) sometimes.
const byte = fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 }));
const dword = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff, 0x10000, 0xffff8000),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const reg128 = fc.oneof(
  fc.array(byte, { minLength: 16, maxLength: 16 }),
  fc.array(dword, { minLength: 4, maxLength: 4 }).map((w) => pack(4, w)),
);

describe('SSE4.1 instructions', () => {
  it('every Code the decoder tags SSE4.1 has a handler, except the REX.W forms of 64-bit mode', () => {
    const missing: string[] = [];
    let count = 0;
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.SSE4_1 && f2 !== CpuidFeature.SSE4_1) continue;
      const name = CODE_NAMES[c]!;
      if (/r64|rm64/.test(name)) continue;
      count++;
      if (HANDLERS[c] === undefined) missing.push(name);
    }
    expect(missing).toEqual([]);
    expect(count).toBe(47);
  });

  for (const mn of Object.keys(INT_REFERENCE)) {
    it(`property: ${mn.toUpperCase()} matches the SDM's pseudo-code`, () => {
      fc.assert(
        fc.property(reg128, reg128, reg128, fc.integer({ min: 0, max: 255 }), (d, s, x0, imm) => {
          const src = IMM_FORMS.has(mn) ? `${mn} xmm1, xmm2, ${imm}` : `${mn} xmm1, xmm2`;
          const x = run(src, (x) => {
            x.sse.u8.set(x0, 0);
            x.sse.u8.set(d, 16);
            x.sse.u8.set(s, 32);
          });
          expect(Array.from(x.sse.u8.subarray(16, 32))).toEqual(INT_REFERENCE[mn]!(d, s, imm, x0));
          expect(Array.from(x.sse.u8.subarray(32, 48))).toEqual(s);
        }),
        { numRuns: 40 },
      );
    });
  }

  it('PBLENDVB/BLENDVPS with XMM0 as an operand use its value before the write', () => {
    const x = run('pblendvb xmm0, xmm1\nblendvps xmm2, xmm0', (x) => {
      x.sse.u8.set([0x80, 0, 0x80, 0, ...Array(12).fill(0x7f)], 0);
      x.sse.u8.set(Array(16).fill(0x11), 16);
      x.sse.u32.set([1, 2, 3, 4], 8);
    });
    expect(Array.from(x.sse.u8.subarray(0, 4))).toEqual([0x11, 0, 0x11, 0]);
    // XMM0 is now 11 00 11 00 7F..: no dword sign bit set, so XMM2 keeps its value.
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([1, 2, 3, 4]);
  });

  it('property: PTEST sets ZF for dest AND src = 0 and CF for src AND NOT dest = 0, clearing the others', () => {
    fc.assert(
      fc.property(reg128, reg128, (d, s) => {
        const x = run('stc\nptest xmm1, xmm2', (x) => {
          x.sse.u8.set(d, 16);
          x.sse.u8.set(s, 32);
          x.m.cpu.eflags = EFLAGS.FIXED1 | EFLAGS.SF | EFLAGS.OF | EFLAGS.PF | EFLAGS.AF;
        });
        const zf = range(16).every((i) => (d[i]! & s[i]!) === 0);
        const cf = range(16).every((i) => (~d[i]! & s[i]!) === 0);
        const mask = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;
        expect(x.m.cpu.eflags & mask).toBe((zf ? EFLAGS.ZF : 0) | (cf ? EFLAGS.CF : 0));
      }),
      { numRuns: 60 },
    );
    // The all-zero and all-ones corner cases.
    const z = run('ptest xmm1, xmm2', (x) => x.sse.u8.fill(0xff, 16, 32));
    expect(z.m.cpu.eflags & (EFLAGS.ZF | EFLAGS.CF)).toBe(EFLAGS.ZF | EFLAGS.CF);
  });

  it('property: PEXTRB/PEXTRW/PEXTRD/EXTRACTPS zero-extend into a register and store 1/2/4 bytes', () => {
    fc.assert(
      fc.property(reg128, fc.integer({ min: 0, max: 255 }), (v, imm) => {
        const x = run(
          [
            `pextrb eax, xmm3, ${imm}`,
            `pextrw ebx, xmm3, ${imm}`,
            `pextrd ecx, xmm3, ${imm}`,
            `extractps edx, xmm3, ${imm}`,
            `pextrb [${MEM}], xmm3, ${imm}`,
            `pextrw [${MEM + 4}], xmm3, ${imm}`,
            `pextrd [${MEM + 8}], xmm3, ${imm}`,
            `extractps [${MEM + 12}], xmm3, ${imm}`,
          ].join('\n'),
          (x) => {
            x.sse.u8.set(v, 48);
            x.m.cpu.regs.u32.set([-1, -1, -1, -1]);
            for (let i = 0; i < 16; i++) x.m.memory.write8(MEM + i, 0xcc);
          },
        );
        const r = x.m.cpu.regs.u32;
        expect([r[0], r[3], r[1], r[2]]).toEqual([
          u8(v, imm & 15),
          u16(v, imm & 7),
          u32(v, imm & 3),
          u32(v, imm & 3),
        ]);
        const mem = range(16).map((i) => x.m.memory.read8(MEM + i));
        expect(mem).toEqual([
          u8(v, imm & 15),
          0xcc,
          0xcc,
          0xcc,
          ...pack(2, [u16(v, imm & 7)]),
          0xcc,
          0xcc,
          ...pack(4, [u32(v, imm & 3)]),
          ...pack(4, [u32(v, imm & 3)]),
        ]);
      }),
      { numRuns: 40 },
    );
  });

  it('property: PINSRB/PINSRD replace one element from a register or memory; INSERTPS m32 ignores imm8[7:6]', () => {
    fc.assert(
      fc.property(reg128, dword, fc.integer({ min: 0, max: 255 }), (v, w, imm) => {
        const x = run(
          [
            `pinsrb xmm1, eax, ${imm}`,
            `pinsrd xmm2, eax, ${imm}`,
            `pinsrb xmm3, [${MEM}], ${imm}`,
            `pinsrd xmm4, [${MEM}], ${imm}`,
            `insertps xmm5, [${MEM}], ${imm}`,
          ].join('\n'),
          (x) => {
            for (let r = 1; r <= 5; r++) x.sse.u8.set(v, 16 * r);
            x.m.cpu.regs.u32[0] = w;
            x.m.memory.write32(MEM, w);
          },
        );
        const withByte = [...v];
        withByte[imm & 15] = w & 0xff;
        const withDword = pack(
          4,
          range(4).map((i) => (i === (imm & 3) ? w : u32(v, i))),
        );
        const ins = pack(
          4,
          range(4).map((i) => ((imm >> i) & 1 ? 0 : i === ((imm >> 4) & 3) ? w : u32(v, i))),
        );
        const reg = (r: number) => Array.from(x.sse.u8.subarray(16 * r, 16 * r + 16));
        expect([reg(1), reg(2), reg(3), reg(4), reg(5)]).toEqual([
          withByte,
          withDword,
          withByte,
          withDword,
          ins,
        ]);
      }),
      { numRuns: 40 },
    );
  });

  it('PMOVSX/PMOVZX read only the bytes they extend, unaligned (PMOVSXBQ: 2 bytes at the end of memory)', () => {
    const x = run(
      `pmovsxbq xmm1, [${MEM + 1}]\npmovzxwd xmm2, [${MEM + 3}]\npmovsxdq xmm3, [${MEM + 5}]`,
      (x) => {
        for (let i = 0; i < 16; i++) x.m.memory.write8(MEM + i, 0x80 + i);
      },
    );
    expect(Array.from(x.sse.u8.subarray(16, 32))).toEqual([
      0x81,
      ...Array(7).fill(0xff),
      0x82,
      ...Array(7).fill(0xff),
    ]);
    expect(Array.from(x.sse.u16.subarray(16, 24))).toEqual([0x8483, 0, 0x8685, 0, 0x8887, 0, 0x8a89, 0]);
    expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([0x88878685, 0xffffffff, 0x8c8b8a89, 0xffffffff]);
  });

  it('MOVNTDQA loads an aligned m128; misaligned m128 of the packed forms is #GP(0), small operands are not checked', () => {
    const x = run(`movntdqa xmm1, [${MEM}]`, (x) => {
      for (let i = 0; i < 16; i++) x.m.memory.write8(MEM + i, i + 1);
    });
    expect(Array.from(x.sse.u8.subarray(16, 32))).toEqual(range(16).map((i) => i + 1));
    for (const ins of [
      `movntdqa xmm0, [${MEM + 8}]`,
      `pminsb xmm0, [${MEM + 8}]`,
      `ptest xmm0, [${MEM + 4}]`,
      `roundps xmm0, [${MEM + 4}], 0`,
      `dpps xmm0, [${MEM + 4}], 0xff`,
      `blendvpd xmm0, [${MEM + 4}]`,
      `mpsadbw xmm0, [${MEM + 4}], 0`,
    ])
      expect(first(ins), ins).toBe(Vector.GP);
    for (const ins of [
      `pmovsxbw xmm0, [${MEM + 1}]`,
      `insertps xmm0, [${MEM + 1}], 0`,
      `roundss xmm0, [${MEM + 1}], 0`,
      `roundsd xmm0, [${MEM + 1}], 0`,
      `pinsrd xmm0, [${MEM + 1}], 0`,
      `pextrd [${MEM + 1}], xmm0, 0`,
    ])
      expect(first(ins), ins).toBeUndefined();
  });

  it('#UD on a model without SSE4.1 and when the guest CPUID clears SSE4.1; #NM with CR0.TS; #UD without OSFXSR', () => {
    expect(first('pminsd xmm0, xmm1', () => {}, PENTIUM_4_PRESCOTT)).toBe(Vector.UD);
    const clearBit = (bit: number) => (x: X) => {
      const l1 = CORE_2.cpuid.find((l) => l.leaf === 1)!;
      applyGuestCpuid(x.m.cpu.features, CORE_2, l1.ecx & ~bit, l1.edx);
    };
    for (const ins of [
      'pminsd xmm0, xmm1',
      'roundps xmm0, xmm1, 0',
      'dpps xmm0, xmm1, 0xff',
      'pextrb eax, xmm0, 0',
    ])
      expect(first(ins, clearBit(Leaf1Ecx.SSE4_1)), ins).toBe(Vector.UD);
    // Clearing another bit leaves SSE4.1 alone.
    expect(first('pminsd xmm0, xmm1', clearBit(Leaf1Ecx.SSE4_2))).toBeUndefined();
    expect(
      first('ptest xmm0, xmm1', (x) => x.m.cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.TS, 0, CR4.OSFXSR)),
    ).toBe(Vector.NM);
    expect(first('pmulld xmm0, xmm1', (x) => x.m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0))).toBe(
      Vector.UD,
    );
  });

  it('the Core 2 model reports SSE4.1, SSE4.2 and POPCNT in CPUID.01H:ECX', () => {
    const x = run('mov eax, 1\ncpuid');
    const ecx = x.m.cpu.regs.u32[1]!;
    expect(ecx & (Leaf1Ecx.SSE4_1 | Leaf1Ecx.SSE4_2 | Leaf1Ecx.POPCNT)).toBe(
      Leaf1Ecx.SSE4_1 | Leaf1Ecx.SSE4_2 | Leaf1Ecx.POPCNT,
    );
  });
});

// ------------------------------------------------------------------ floating point: exact reference

/** A finite float as sign * m * 2^e (BigInt m). */
function decompose(bits: number, double: boolean, hi = 0): { neg: boolean; m: bigint; e: number } {
  if (double) {
    const exp = (hi >>> 20) & 0x7ff;
    const m = (BigInt(hi & 0xfffff) << 32n) | BigInt(bits >>> 0);
    return { neg: hi >>> 31 === 1, m: exp === 0 ? m : m | (1n << 52n), e: Math.max(exp, 1) - 1075 };
  }
  const exp = (bits >>> 23) & 0xff;
  const m = BigInt(bits & 0x7fffff);
  return { neg: bits >>> 31 === 1, m: exp === 0 ? m : m | (1n << 23n), e: Math.max(exp, 1) - 150 };
}

/** Rounds the exact value n * 2^e (n a signed BigInt) to an integer by RC mode: [value, inexact]. */
function roundToIntegerExact(neg: boolean, m: bigint, e: number, mode: number): [number, boolean] {
  if (e >= 0) return [(neg ? -1 : 1) * Number(m << BigInt(e)), false];
  const q = m >> BigInt(-e);
  const rem = m - (q << BigInt(-e));
  const half = 1n << BigInt(-e - 1);
  let up: boolean;
  if (rem === 0n) up = false;
  else if (mode === 0) up = rem > half || (rem === half && (q & 1n) === 1n);
  else if (mode === 1)
    up = neg; // toward -inf: magnitude grows for negatives
  else if (mode === 2) up = !neg;
  else up = false;
  const mag = Number(up ? q + 1n : q);
  return [neg ? -mag : mag, rem !== 0n];
}

const F32_EDGES = [
  0, 0x80000000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000, 0xbfc00000, 0x3effffff, 0x3f000001,
  0x4b000000, 0x4affffff, 0xcb7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xff812345, 0x00000001,
  0x807fffff, 0x00800000, 0x7f7fffff,
];
const f32 = fc.oneof(
  fc.constantFrom(...F32_EDGES),
  fc.integer({ min: 0, max: 0xffffffff }).map((v) => v >>> 0),
);
// Values near small integers and halves (exponent 126..150) are where rounding decides.
const f32Near = fc
  .tuple(fc.integer({ min: 120, max: 152 }), fc.integer({ min: 0, max: 0x7fffff }), fc.boolean())
  .map(([e, m, s]) => ((s ? 0x80000000 : 0) | (e << 23) | m) >>> 0);
const f64 = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1000, max: 1080 }),
      fc.integer({ min: 0, max: 0xfffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.boolean(),
    )
    .map(([e, h, l, s]) => [l >>> 0, ((s ? 0x80000000 : 0) | (e << 20) | h) >>> 0] as const),
  fc.constantFrom(
    [0, 0x3fe00000],
    [0, 0xbff80000],
    [1, 0x3fe00000],
    [0xffffffff, 0x3fdfffff],
    [0, 0x7ff00000],
    [1, 0x7ff00000],
    [0, 0x7ff80000],
    [1, 0x00000000],
    [0, 0x80000000],
    [0, 0x43300000],
    [0xffffffff, 0x432fffff],
  ) as fc.Arbitrary<readonly [number, number]>,
  fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([l, h]) => [l >>> 0, h >>> 0] as const),
);

const bitsOf = (v: number, double: boolean): number[] => {
  const b = new ArrayBuffer(8);
  if (double) new Float64Array(b)[0] = v;
  else new Float32Array(b)[0] = v;
  return Array.from(new Uint32Array(b)).slice(0, double ? 2 : 1);
};

/** ROUND* of one element per the SDM: [result words, flags]. */
function roundReference(
  words: readonly number[],
  double: boolean,
  imm: number,
  mxcsr: number,
): [number[], number] {
  const hi = double ? words[1]! : words[0]!;
  const expAll = double ? (hi & 0x7ff00000) === 0x7ff00000 : (hi & 0x7f800000) === 0x7f800000;
  const frac = double ? (hi & 0xfffff) !== 0 || words[0] !== 0 : (hi & 0x7fffff) !== 0;
  if (expAll) {
    if (!frac) return [[...words], 0];
    const quiet = double ? 0x80000 : 0x400000;
    const q = [...words];
    q[q.length - 1] = (hi | quiet) >>> 0;
    return [q, hi & quiet ? 0 : MXCSR.IE];
  }
  const { neg, m, e } = double ? decompose(words[0]!, true, words[1]!) : decompose(words[0]!, false);
  const denormal = m !== 0n && (double ? (hi & 0x7ff00000) === 0 : (hi & 0x7f800000) === 0);
  if (denormal && mxcsr & MXCSR.DAZ) return [double ? [0, neg ? 0x80000000 : 0] : [neg ? 0x80000000 : 0], 0];
  const mode = imm & 4 ? (mxcsr >> 13) & 3 : imm & 3;
  const [v, inexact] = roundToIntegerExact(neg, m, e, mode);
  const r = v === 0 ? (neg ? -0 : 0) : v;
  return [bitsOf(r, double), inexact && (imm & 8) === 0 ? MXCSR.PE : 0];
}

const mxcsrAny = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.boolean())
  .map(([rc, daz]) => 0x1f80 | (rc << 13) | (daz ? MXCSR.DAZ : 0));

describe('SSE4.1 rounding against exact BigInt arithmetic', () => {
  it('property: ROUNDPS/ROUNDSS, every imm8 control and MXCSR mode, with IE/PE flags', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(f32, f32Near), { minLength: 4, maxLength: 4 }),
        fc.array(dword, { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 15 }),
        mxcsrAny,
        (src, dst, imm, mxcsr) => {
          const x = run(`roundps xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(src, 8);
            x.sse.mxcsr = mxcsr;
          });
          let flags = 0;
          const want = src.flatMap((w) => {
            const [r, f] = roundReference([w], false, imm, mxcsr);
            flags |= f;
            return r;
          });
          expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(want);
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
          const s = run(`roundss xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(dst, 4);
            x.sse.u32.set(src, 8);
            x.sse.mxcsr = mxcsr;
          });
          const [r0, f0] = roundReference([src[0]!], false, imm, mxcsr);
          expect(Array.from(s.sse.u32.subarray(4, 8))).toEqual([...r0, ...dst.slice(1)]);
          expect(s.sse.mxcsr).toBe(mxcsr | f0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: ROUNDPD/ROUNDSD, every imm8 control and MXCSR mode, with IE/PE flags', () => {
    fc.assert(
      fc.property(f64, f64, fc.integer({ min: 0, max: 15 }), mxcsrAny, (a, b, imm, mxcsr) => {
        const x = run(`roundpd xmm1, xmm2, ${imm}\nroundsd xmm3, xmm2, ${imm}`, (x) => {
          x.sse.u32.set([...a, ...b], 8);
          x.sse.u32.set([7, 8, 9, 10], 12);
          x.sse.mxcsr = mxcsr;
        });
        const [ra, fa] = roundReference(a, true, imm, mxcsr);
        const [rb, fb] = roundReference(b, true, imm, mxcsr);
        expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual([...ra, ...rb]);
        expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([...ra, 9, 10]);
        expect(x.sse.mxcsr).toBe(mxcsr | fa | fb);
      }),
      { numRuns: 150 },
    );
  });

  it('known values: ties to even, -0.3 to -0, imm8[2] takes MXCSR.RC, imm8[3] suppresses PE', () => {
    const x = run('roundps xmm1, xmm2, 0\nroundps xmm3, xmm2, 4\nroundps xmm4, xmm2, 0x0b', (x) => {
      x.sse.f32.set([2.5, -3.5, -0.3, 1.5], 8);
      x.sse.mxcsr = 0x1f80 | (1 << 13); // RC = down
    });
    expect(Array.from(x.sse.f32.subarray(4, 8))).toEqual([2, -4, -0, 2]);
    expect(Object.is(x.sse.f32[6], -0)).toBe(true);
    expect(Array.from(x.sse.f32.subarray(12, 16))).toEqual([2, -4, -1, 1]);
    expect(Array.from(x.sse.f32.subarray(16, 20))).toEqual([2, -3, -0, 1]);
  });

  it('an SNaN with IE unmasked raises #XM and leaves the destination; PE unmasked with imm8[3] set does not fault', () => {
    const x = machine('roundps xmm1, xmm2, 0');
    x.sse.u32.set([1, 2, 3, 4], 4);
    x.sse.u32.set([0x7f800001, 0, 0, 0], 8);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.IM;
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.XM);
    expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual([1, 2, 3, 4]);
    expect(x.sse.mxcsr & MXCSR.IE).toBe(MXCSR.IE);
    const pm = 0x1f80 & ~MXCSR.PM;
    expect(
      first('roundss xmm1, xmm2, 8', (x) => {
        x.sse.f32[8] = 0.5;
        x.sse.mxcsr = pm;
      }),
    ).toBeUndefined();
    expect(
      first('roundss xmm1, xmm2, 0', (x) => {
        x.sse.f32[8] = 0.5;
        x.sse.mxcsr = pm;
      }),
    ).toBe(Vector.XM);
  });
});

/** Exact value n * 2^e of a finite float, as BigInt n with a common e = -2200 (below any product). */
const SCALE = 2200;
function exactOf(words: readonly number[], double: boolean): bigint {
  const { neg, m, e } = double ? decompose(words[0]!, true, words[1]!) : decompose(words[0]!, false);
  const v = m << BigInt(e + SCALE);
  return neg ? -v : v;
}

/** n * 2^-(2 * SCALE) rounded to binary32/binary64 with RC `mode` (no overflow or underflow here). */
function roundExact(n: bigint, double: boolean, mode: number): [number, boolean] {
  if (n === 0n) return [mode === 1 ? -0 : 0, false];
  const neg = n < 0n;
  const mag = neg ? -n : n;
  const p = double ? 53 : 24;
  const len = mag.toString(2).length;
  const shift = len - p;
  let q = shift > 0 ? mag >> BigInt(shift) : mag << BigInt(-shift);
  const rem = shift > 0 ? mag - (q << BigInt(shift)) : 0n;
  const half = shift > 0 ? 1n << BigInt(shift - 1) : 0n;
  let up = false;
  if (rem !== 0n) {
    if (mode === 0) up = rem > half || (rem === half && (q & 1n) === 1n);
    else if (mode === 1) up = neg;
    else if (mode === 2) up = !neg;
  }
  if (up) q += 1n;
  const v = Number(q) * 2 ** (shift - 2 * SCALE);
  return [neg ? -v : v, rem !== 0n];
}

/** Products and sums of the SDM's DPPS/DPPD pseudo-code, each step rounded exactly. */
function dotReference(
  a: readonly number[][],
  b: readonly number[][],
  imm: number,
  double: boolean,
  mode: number,
) {
  let inexact = false;
  const scaled = (v: number): bigint => exactOf(bitsOf(v, double), double) << BigInt(SCALE);
  const rounded = (n: bigint): number => {
    const [v, ie] = roundExact(n, double, mode);
    inexact ||= ie;
    return v;
  };
  // IEEE 754 §6.3: an exact zero sum is +0 (-0 rounding down) unless both addends are zeros of one sign.
  const add = (x: number, y: number): number => {
    const n = scaled(x) + scaled(y);
    if (n !== 0n) return rounded(n);
    if (x === 0 && y === 0 && Object.is(x, y)) return x;
    return mode === 1 ? -0 : 0;
  };
  const lanes = a.length;
  const prods = range(lanes).map((i) =>
    (imm >> (4 + i)) & 1 ? rounded(exactOf(a[i]!, double) * exactOf(b[i]!, double)) : 0,
  );
  const value =
    lanes === 4 ? add(add(prods[0]!, prods[1]!), add(prods[2]!, prods[3]!)) : add(prods[0]!, prods[1]!);
  return { value, inexact };
}

// Normal values with moderate exponents: no overflow or underflow in any product or sum.
const f32Mid = fc
  .tuple(fc.integer({ min: 100, max: 154 }), fc.integer({ min: 0, max: 0x7fffff }), fc.boolean())
  .map(([e, m, s]) => ((s ? 0x80000000 : 0) | (e << 23) | m) >>> 0);
const f64Mid = fc
  .tuple(
    fc.integer({ min: 900, max: 1150 }),
    fc.integer({ min: 0, max: 0xfffff }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.boolean(),
  )
  .map(([e, h, l, s]) => [l >>> 0, ((s ? 0x80000000 : 0) | (e << 20) | h) >>> 0]);

describe('DPPS/DPPD', () => {
  it('property: DPPS equals the SDM order (p0 + p1) + (p2 + p3), each step rounded exactly, any mode and mask', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(f32Mid, fc.constantFrom(0x3f800000, 0xbf800000)), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 3 }),
        (v, imm, mode) => {
          const mxcsr = 0x1f80 | (mode << 13);
          const x = run(`dpps xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(v, 4);
            x.sse.mxcsr = mxcsr;
          });
          const { value, inexact } = dotReference(
            range(4).map((i) => [v[i]!]),
            range(4).map((i) => [v[4 + i]!]),
            imm,
            false,
            mode,
          );
          const sum = bitsOf(value, false)[0]!;
          expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(
            range(4).map((i) => ((imm >> i) & 1 ? sum : 0)),
          );
          expect(x.sse.mxcsr).toBe(mxcsr | (inexact ? MXCSR.PE : 0));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: DPPD equals p0 + p1 with each step rounded exactly, any mode and mask', () => {
    fc.assert(
      fc.property(
        fc.array(f64Mid, { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 3 }),
        (v, imm, mode) => {
          const mxcsr = 0x1f80 | (mode << 13);
          const x = run(`dppd xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(v.flat(), 4);
            x.sse.mxcsr = mxcsr;
          });
          const { value, inexact } = dotReference([v[0]!, v[1]!], [v[2]!, v[3]!], imm, true, mode);
          const sum = bitsOf(value, true);
          expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(
            [0, 1].flatMap((q) => ((imm >> q) & 1 ? sum : [0, 0])),
          );
          expect(x.sse.mxcsr).toBe(mxcsr | (inexact ? MXCSR.PE : 0));
        },
      ),
      { numRuns: 300 },
    );
  });

  /** MULSS/ADDSS (MULSD/ADDSD), checked against BigInt in `sse/float.test.ts`, on one pair. */
  function scalar(mn: string, a: readonly number[], b: readonly number[], mxcsr: number) {
    const x = run(`${mn} xmm0, xmm1`, (x) => {
      x.sse.u32.set(a, 0);
      x.sse.u32.set(b, 4);
      x.sse.mxcsr = mxcsr;
    });
    return { bits: Array.from(x.sse.u32.subarray(0, a.length)), flags: x.sse.mxcsr & 0x3f };
  }

  it('property: DPPS on any inputs (NaN, infinities, denormals, overflow) equals the pseudo-code on MULSS/ADDSS', () => {
    fc.assert(
      fc.property(
        fc.array(f32, { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 255 }),
        mxcsrAny,
        (v, imm, mxcsr) => {
          const x = run(`dpps xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(v, 4);
            x.sse.mxcsr = mxcsr;
          });
          let flags = 0;
          const op = (mn: string, a: number, b: number) => {
            const r = scalar(mn, [a], [b], mxcsr);
            flags |= r.flags;
            return r.bits[0]!;
          };
          const t = range(4).map((i) => ((imm >> (4 + i)) & 1 ? op('mulss', v[i]!, v[4 + i]!) : 0));
          const sum = op('addss', op('addss', t[0]!, t[1]!), op('addss', t[2]!, t[3]!));
          expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(
            range(4).map((i) => ((imm >> i) & 1 ? sum : 0)),
          );
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('property: DPPD on any inputs equals the pseudo-code on MULSD/ADDSD', () => {
    fc.assert(
      fc.property(
        fc.array(f64, { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 255 }),
        mxcsrAny,
        (v, imm, mxcsr) => {
          const x = run(`dppd xmm1, xmm2, ${imm}`, (x) => {
            x.sse.u32.set(v.flat(), 4);
            x.sse.mxcsr = mxcsr;
          });
          let flags = 0;
          const op = (mn: string, a: readonly number[], b: readonly number[]) => {
            const r = scalar(mn, a, b, mxcsr);
            flags |= r.flags;
            return r.bits;
          };
          const t = [0, 1].map((q) => ((imm >> (4 + q)) & 1 ? op('mulsd', v[q]!, v[2 + q]!) : [0, 0]));
          const sum = op('addsd', t[0]!, t[1]!);
          expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(
            [0, 1].flatMap((q) => ((imm >> q) & 1 ? sum : [0, 0])),
          );
          expect(x.sse.mxcsr).toBe(mxcsr | flags);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('an unmasked overflow in a product raises #XM and leaves the destination', () => {
    const x = machine('dpps xmm1, xmm2, 0xf1');
    x.sse.f32.set([3e38, 1, 1, 1], 4);
    x.sse.f32.set([3e38, 1, 1, 1], 8);
    x.sse.mxcsr = 0x1f80 & ~MXCSR.OM;
    const before = Array.from(x.sse.u32.subarray(4, 8));
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.XM);
    expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual(before);
    expect(x.sse.mxcsr & MXCSR.OE).toBe(MXCSR.OE);
  });
});
