import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../../test/machine.js';
import { applyGuestCpuid, CORE_2, type CpuModel, Leaf1Ecx, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, EFLAGS, Vector } from '../index.js';

const MEM = 0x3000;
const STATUS = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;
const [EAX, ECX, EBX] = [0, 1, 3];

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

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('SSE4.2 instructions', () => {
  it('every Code the decoder tags SSE4.2 has a handler, except the REX.W forms of 64-bit mode', () => {
    const missing: string[] = [];
    let count = 0;
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.SSE4_2 && f2 !== CpuidFeature.SSE4_2) continue;
      const name = CODE_NAMES[c]!;
      if (/r64|64_xmm/.test(name)) continue;
      count++;
      if (HANDLERS[c] === undefined) missing.push(name);
    }
    expect(missing).toEqual([]);
    expect(count).toBe(8);
  });

  it('property: PCMPGTQ compares signed quadwords', () => {
    const q = fc.oneof(
      fc.constantFrom(0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 0xffffffffn, -0x100000000n),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    );
    fc.assert(
      fc.property(fc.array(q, { minLength: 4, maxLength: 4 }), (v) => {
        const x = run('pcmpgtq xmm1, xmm2', (x) => {
          const w = new BigInt64Array(x.sse.buffer, 16, 4);
          w.set(v);
        });
        const got = Array.from(new BigInt64Array(x.sse.buffer, 16, 2));
        expect(got).toEqual([v[0]! > v[2]! ? -1n : 0n, v[1]! > v[3]! ? -1n : 0n]);
      }),
      { numRuns: 100 },
    );
  });

  it('#UD on a model without SSE4.2 and when the guest CPUID clears SSE4.2 (CRC32 too)', () => {
    const ecx = CORE_2.cpuid.find((l) => l.leaf === 1)!.ecx;
    const without = (x: X) => applyGuestCpuid(x.m.cpu.features, CORE_2, ecx & ~Leaf1Ecx.SSE4_2, 0xffffffff);
    for (const ins of ['pcmpgtq xmm0, xmm1', 'crc32 eax, bl', 'pcmpistri xmm0, xmm1, 0']) {
      expect(
        first(ins, () => {}, PENTIUM_4_PRESCOTT),
        ins,
      ).toBe(Vector.UD);
      expect(first(ins, without), ins).toBe(Vector.UD);
      expect(first(ins), ins).toBeUndefined();
    }
    expect(first(`pcmpgtq xmm0, [${MEM + 8}]`)).toBe(Vector.GP);
    expect(first(`pcmpestri xmm0, [${MEM + 1}], 0`)).toBeUndefined();
    // CRC32 is not an SSE instruction: CR4.OSFXSR does not matter.
    expect(
      first('crc32 eax, ebx', (x) => x.m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0)),
    ).toBeUndefined();
  });
});

// ------------------------------------------------------------------ CRC32

/** The SDM's CRC32 Operation section, literally, with BigInt polynomials over GF(2). */
function reflect(v: bigint, bits: number): bigint {
  let r = 0n;
  for (let i = 0; i < bits; i++) if ((v >> BigInt(i)) & 1n) r |= 1n << BigInt(bits - 1 - i);
  return r;
}
function mod2(v: bigint, poly: bigint): bigint {
  const plen = poly.toString(2).length;
  while (v !== 0n && v.toString(2).length >= plen) v ^= poly << BigInt(v.toString(2).length - plen);
  return v;
}
function crcReference(dest: number, src: number, n: number): number {
  const temp1 = reflect(BigInt(src), n);
  const temp2 = reflect(BigInt(dest), 32);
  const temp5 = (temp1 << 32n) ^ (temp2 << BigInt(n));
  return Number(reflect(mod2(temp5, 0x11edc6f41n), 32));
}

describe('CRC32', () => {
  it('property: r32, r/m8, r/m16 and r/m32 forms equal the SDM pseudo-code (polynomial 11EDC6F41H)', () => {
    const v = fc.oneof(
      fc.constantFrom(0, 0xffffffff, 0x80000000, 1),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    fc.assert(
      fc.property(v, v, (crc, data) => {
        const x = run(
          `mov eax, ecx\ncrc32 eax, bl\nmov esi, ecx\ncrc32 esi, bx\nmov edi, ecx\ncrc32 edi, dword [${MEM}]\ncrc32 ecx, word [${MEM}]\npushfd\npop ebp`,
          (x) => {
            x.m.cpu.regs.u32[ECX] = crc;
            x.m.cpu.regs.u32[EBX] = data;
            x.m.memory.write32(MEM, data);
            x.m.cpu.eflags = EFLAGS.FIXED1 | STATUS;
          },
        );
        const r = x.m.cpu.regs.u32;
        expect([r[EAX], r[6], r[7], r[ECX]]).toEqual([
          crcReference(crc, data & 0xff, 8),
          crcReference(crc, data & 0xffff, 16),
          crcReference(crc, data, 32),
          crcReference(crc, data & 0xffff, 16),
        ]);
        // Flags are unaffected.
        expect(r[5]! & STATUS).toBe(STATUS);
      }),
      { numRuns: 100 },
    );
  });

  it('computes the CRC-32C check value of "123456789" (E3069283H) with the usual inversions', () => {
    const text = '123456789';
    const x = run(
      `mov eax, 0xffffffff\nmov esi, ${MEM}\n${range(text.length)
        .map((i) => `crc32 eax, byte [esi + ${i}]`)
        .join('\n')}\nnot eax`,
      (x) => {
        for (let i = 0; i < text.length; i++) x.m.memory.write8(MEM + i, text.charCodeAt(i));
      },
    );
    expect(x.m.cpu.regs.u32[EAX]).toBe(0xe3069283);
  });
});

// ------------------------------------------------------------------ string compares: the SDM's model

/**
 * PCMPxSTRx as SDM Vol. 2B §4.1 describes it, written as a matrix: BoolRes[j][i] compares element j
 * of xmm1 with element i of xmm2/m128; Table 4-7 overrides invalid elements; then aggregation,
 * polarity and output. Returns IntRes2.
 */
function stringReference(
  imm: number,
  a: readonly number[],
  b: readonly number[],
  la: number,
  lb: number,
): number {
  const words = (imm & 1) === 1;
  const signed = (imm & 2) === 2;
  const n = words ? 8 : 16;
  const el = (v: readonly number[], i: number): number => {
    const u = words ? v[2 * i]! | (v[2 * i + 1]! << 8) : v[i]!;
    return signed ? (words ? (u << 16) >> 16 : (u << 24) >> 24) : u;
  };
  const agg = (imm >> 2) & 3;
  const bool: boolean[][] = range(n).map((j) =>
    range(n).map((i) => {
      const regValid = j < la;
      const memValid = i < lb;
      if (agg === 0 || agg === 1) {
        if (!regValid || !memValid) return false;
      } else if (agg === 2) {
        if (!regValid && !memValid) return true;
        if (!regValid || !memValid) return false;
      } else {
        if (!regValid) return true;
        if (!memValid) return false;
      }
      if (agg === 1) return j % 2 === 0 ? el(b, i) >= el(a, j) : el(b, i) <= el(a, j);
      return el(a, j) === el(b, i);
    }),
  );
  const res1 = range(n).map((i) => {
    if (agg === 0) return range(n).some((j) => bool[j]![i]!);
    if (agg === 1) return range(n / 2).some((k) => bool[2 * k]![i]! && bool[2 * k + 1]![i]!);
    if (agg === 2) return bool[i]![i]!;
    // Equal ordered: IntRes1[i] = AND over k of BoolRes[k][i + k] while i + k stays in the register.
    return range(n - i).every((k) => bool[k]![i + k]!);
  });
  const pol = (imm >> 4) & 3;
  const res2 = res1.map((r, i) => (pol === 1 ? !r : pol === 3 ? (i < lb ? !r : r) : r));
  return res2.reduce((acc, r, i) => acc | (r ? 1 << i : 0), 0);
}

/** The length registers' meaning: |value| saturated to the element count. */
const explicitLength = (v: number, n: number) => Math.min(Math.abs(v | 0), n);
const implicitLength = (v: readonly number[], words: boolean) => {
  const n = words ? 8 : 16;
  return range(n).find((i) => (words ? v[2 * i]! | v[2 * i + 1]! : v[i]!) === 0) ?? n;
};

// A small alphabet so that matches, ranges and nulls are frequent.
const ch = fc.constantFrom(0, 0x61, 0x62, 0x63, 0x7a, 0x80, 0xff, 0x01);
const str = fc.array(ch, { minLength: 16, maxLength: 16 });
const len = fc.oneof(
  fc.integer({ min: -20, max: 20 }),
  fc.constantFrom(0x80000000, 0x7fffffff, 0xfffffff0, 0x10, 0x8),
);

describe('PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM', () => {
  it('property: every imm8 on explicit and implicit lengths equals the SDM model: ECX or XMM0, and flags', () => {
    fc.assert(
      fc.property(str, str, len, len, fc.integer({ min: 0, max: 127 }), (a, b, eax, edx, imm) => {
        const words = (imm & 1) === 1;
        const n = words ? 8 : 16;
        for (const [explicit, mn] of [
          [true, 'pcmpestri'],
          [true, 'pcmpestrm'],
          [false, 'pcmpistri'],
          [false, 'pcmpistrm'],
        ] as const) {
          const x = run(`${mn} xmm1, xmm2, ${imm}\npushfd\npop esi`, (x) => {
            x.sse.u8.set(
              range(16).map((i) => i + 0x40),
              0,
            );
            x.sse.u8.set(a, 16);
            x.sse.u8.set(b, 32);
            x.m.cpu.regs.u32.set([eax >>> 0, 0xdeadbeef, edx >>> 0]);
          });
          const la = explicit ? explicitLength(eax, n) : implicitLength(a, words);
          const lb = explicit ? explicitLength(edx, n) : implicitLength(b, words);
          const res = stringReference(imm, a, b, la, lb);
          const flags =
            (res !== 0 ? EFLAGS.CF : 0) |
            (lb < n ? EFLAGS.ZF : 0) |
            (la < n ? EFLAGS.SF : 0) |
            (res & 1 ? EFLAGS.OF : 0);
          expect(x.m.cpu.regs.u32[6]! & STATUS, mn).toBe(flags);
          if (mn.endsWith('i')) {
            const bits = range(n).filter((i) => (res >> i) & 1);
            const want = bits.length === 0 ? n : imm & 0x40 ? bits[bits.length - 1]! : bits[0]!;
            expect(x.m.cpu.regs.u32[ECX], mn).toBe(want);
            expect(Array.from(x.sse.u8.subarray(0, 16))).toEqual(range(16).map((i) => i + 0x40));
          } else {
            const size = words ? 2 : 1;
            const want =
              imm & 0x40
                ? range(16).map((k) => ((res >> Math.floor(k / size)) & 1 ? 0xff : 0))
                : range(16).map((k) => (k < 2 ? (res >> (8 * k)) & 0xff : 0));
            expect(Array.from(x.sse.u8.subarray(0, 16)), mn).toEqual(want);
            expect(x.m.cpu.regs.u32[ECX]).toBe(0xdeadbeef);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  const bytesOf = (s: string) => [...range(16).map((i) => (i < s.length ? s.charCodeAt(i) : 0))];
  function strings(ins: string, a: string, b: string, eax = 0, edx = 0) {
    return run(`${ins}\npushfd\npop esi`, (x) => {
      x.sse.u8.set(bytesOf(a), 16);
      x.sse.u8.set(bytesOf(b), 32);
      x.m.cpu.regs.u32.set([eax, 0, edx]);
    });
  }

  it('known answers: strlen, strspn/strcspn sets, character ranges and substring search', () => {
    // strlen: equal each against an empty string: the first index past the string.
    expect(strings('pcmpistri xmm1, xmm2, 0x08', '', 'hello').m.cpu.regs.u32[ECX]).toBe(5);
    // Equal any: the first vowel; negative polarity, masked: the first non-vowel within the string.
    expect(strings('pcmpistri xmm1, xmm2, 0x00', 'aeiou', 'xyzzyo').m.cpu.regs.u32[ECX]).toBe(5);
    expect(strings('pcmpistri xmm1, xmm2, 0x30', 'aeiou', 'aeixa').m.cpu.regs.u32[ECX]).toBe(3);
    // Ranges: the first lowercase letter, and the last one (imm8[6]).
    expect(strings('pcmpistri xmm1, xmm2, 0x04', 'az', 'ABCdeF').m.cpu.regs.u32[ECX]).toBe(3);
    expect(strings('pcmpistri xmm1, xmm2, 0x44', 'az', 'ABCdeF').m.cpu.regs.u32[ECX]).toBe(4);
    // Equal ordered: a substring; a partial match at the end of the register counts.
    expect(strings('pcmpistri xmm1, xmm2, 0x0c', 'lo w', 'hello world').m.cpu.regs.u32[ECX]).toBe(3);
    expect(strings('pcmpistri xmm1, xmm2, 0x0c', 'xyz!', 'abcdefghijklmnxy').m.cpu.regs.u32[ECX]).toBe(14);
    expect(strings('pcmpistri xmm1, xmm2, 0x0c', 'q', 'hello').m.cpu.regs.u32[ECX]).toBe(16);
    // Explicit lengths: |EAX| and |EDX|, so a null inside the data is an ordinary element.
    const e = strings('pcmpestri xmm1, xmm2, 0x00', 'b', 'aaaa', 1, -6);
    expect(e.m.cpu.regs.u32[ECX]).toBe(16);
    expect(e.m.cpu.regs.u32[6]! & STATUS).toBe(EFLAGS.ZF | EFLAGS.SF);
    // Unsigned words, byte mask expanded to words in XMM0.
    const words = (imm: number) =>
      run(`pcmpistrm xmm1, xmm2, ${imm}`, (x) => {
        x.sse.u16.set([0x161, 0], 8);
        x.sse.u16.set([0x162, 0x161, 0x161, 0x61, 0], 16);
      });
    expect(Array.from(words(0x41).sse.u16.subarray(0, 8))).toEqual([0, 0xffff, 0xffff, 0, 0, 0, 0, 0]);
    expect(Array.from(words(0x01).sse.u16.subarray(0, 8))).toEqual([0b0110, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('signed formats compare signed elements (0x80 is below 0x7F as a signed byte)', () => {
    const x = run('pcmpistri xmm1, xmm2, 0x06\nmov ebx, ecx\npcmpistri xmm1, xmm2, 0x04', (x) => {
      x.sse.u8.set([0x80, 0x10], 16); // range -128..16 (signed) or 128..16 (unsigned: empty)
      x.sse.u8.set([0x7f, 0x90, 0x05], 32);
    });
    expect(x.m.cpu.regs.u32[EBX]).toBe(1);
    expect(x.m.cpu.regs.u32[ECX]).toBe(16);
  });
});
