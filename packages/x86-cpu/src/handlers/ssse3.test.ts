import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../../test/machine.js';
import { CORE_2, type CpuModel, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, Vector } from '../index.js';
import { mmxReadHi, mmxReadLo, mmxWrite } from '../x87/index.js';

const SSSE3_MODEL = CORE_2;
const MEM = 0x3000;

function machine(source: string, model: CpuModel = SSSE3_MODEL) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR | CR4.OSXMMEXCPT);
  return { m, vectors, sse: m.cpu.fpu.sse };
}

// ------------------------------------------------------------------ reference (SDM pseudo-code)

/** Little-endian elements of `size` bytes, signed or not. */
function elems(bytes: readonly number[], size: number, signed: boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    let v = 0;
    for (let k = size - 1; k >= 0; k--) v = v * 256 + bytes[i + k]!;
    out.push(signed && v >= 2 ** (8 * size - 1) ? v - 2 ** (8 * size) : v);
  }
  return out;
}

/** Elements back to bytes, each taken modulo 2^(8 size). */
function bytesOf(values: readonly number[], size: number): number[] {
  const out: number[] = [];
  for (const v of values) {
    let u = ((v % 2 ** (8 * size)) + 2 ** (8 * size)) % 2 ** (8 * size);
    for (let k = 0; k < size; k++) {
      out.push(u % 256);
      u = Math.floor(u / 256);
    }
  }
  return out;
}

const sat16 = (v: number) => Math.min(32767, Math.max(-32768, v));

/** What each SSSE3 instruction leaves in the destination (`d` destination bytes, `s` source bytes). */
const REFERENCE: Record<string, (d: number[], s: number[], imm: number) => number[]> = {
  pshufb: (d, s) => s.map((sel) => (sel >= 128 ? 0 : d[sel % d.length]!)),
  phaddw: (d, s) => horizontal(d, s, 2, (x, y) => x + y),
  phaddsw: (d, s) => horizontal(d, s, 2, (x, y) => sat16(x + y)),
  phsubw: (d, s) => horizontal(d, s, 2, (x, y) => x - y),
  phsubsw: (d, s) => horizontal(d, s, 2, (x, y) => sat16(x - y)),
  phaddd: (d, s) => horizontal(d, s, 4, (x, y) => x + y),
  phsubd: (d, s) => horizontal(d, s, 4, (x, y) => x - y),
  pmaddubsw: (d, s) => {
    const sb = elems(s, 1, true);
    const out: number[] = [];
    for (let i = 0; i < d.length; i += 2) out.push(sat16(d[i]! * sb[i]! + d[i + 1]! * sb[i + 1]!));
    return bytesOf(out, 2);
  },
  pmulhrsw: (d, s) => {
    const x = elems(d, 2, true);
    const y = elems(s, 2, true);
    return bytesOf(
      x.map((v, i) => Math.floor((Math.floor((v * y[i]!) / 2 ** 14) + 1) / 2)),
      2,
    );
  },
  psignb: (d, s) => sign(d, s, 1),
  psignw: (d, s) => sign(d, s, 2),
  psignd: (d, s) => sign(d, s, 4),
  pabsb: (_d, s) => bytesOf(elems(s, 1, true).map(Math.abs), 1),
  pabsw: (_d, s) => bytesOf(elems(s, 2, true).map(Math.abs), 2),
  pabsd: (_d, s) => bytesOf(elems(s, 4, true).map(Math.abs), 4),
  palignr: (d, s, imm) => {
    const cat = [...s, ...d];
    return d.map((_, i) => cat[i + imm] ?? 0);
  },
};

function horizontal(d: number[], s: number[], size: number, f: (x: number, y: number) => number): number[] {
  const pairs = (b: number[]) => {
    const e = elems(b, size, true);
    const out: number[] = [];
    for (let i = 0; i < e.length; i += 2) out.push(f(e[i]!, e[i + 1]!));
    return out;
  };
  return bytesOf([...pairs(d), ...pairs(s)], size);
}

function sign(d: number[], s: number[], size: number): number[] {
  const x = elems(d, size, true);
  const y = elems(s, size, true);
  return bytesOf(
    x.map((v, i) => (y[i]! < 0 ? -v : y[i] === 0 ? 0 : v)),
    size,
  );
}

/** Runs `mn dst, src[, imm]` on XMM0/XMM1 (16 bytes) or MM0/MM1 (8 bytes); returns the destination bytes. */
function execute(mn: string, d: readonly number[], s: readonly number[], imm: number): number[] {
  const wide = d.length === 16;
  const x = machine(
    wide
      ? `${mn} xmm0, xmm1${mn === 'palignr' ? `, ${imm}` : ''}`
      : `${mn} mm0, mm1${mn === 'palignr' ? `, ${imm}` : ''}`,
  );
  if (wide) {
    x.sse.u8.set(d, 0);
    x.sse.u8.set(s, 16);
  } else {
    const w = (b: readonly number[], o: number) =>
      (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
    mmxWrite(x.m.cpu.fpu, 0, w(d, 0), w(d, 4));
    mmxWrite(x.m.cpu.fpu, 1, w(s, 0), w(s, 4));
  }
  runToHlt(x.m);
  if (wide) return Array.from(x.sse.u8.subarray(0, 16));
  const lo = mmxReadLo(x.m.cpu.fpu, 0);
  const hi = mmxReadHi(x.m.cpu.fpu, 0);
  return bytesOf([lo, hi], 4);
}

describe('SSSE3 instructions', () => {
  it('every Code the decoder tags SSSE3 has a handler', () => {
    const missing: string[] = [];
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.SSSE3 && f2 !== CpuidFeature.SSSE3) continue;
      if (HANDLERS[c] === undefined) missing.push(CODE_NAMES[c]!);
    }
    expect(missing).toEqual([]);
  });

  it('known values: PSHUFB zeroes on bit 7, PMULHRSW 0x8000^2, PABSB -128, PALIGNR 4, PHADDSW saturates', () => {
    const idx = Array.from({ length: 16 }, (_, i) => i);
    expect(
      execute(
        'pshufb',
        idx.map((i) => i + 0x10),
        [15, 0x80, 0, 3, ...Array(12).fill(1)],
        0,
      ).slice(0, 4),
    ).toEqual([0x1f, 0, 0x10, 0x13]);
    expect(
      execute(
        'pmulhrsw',
        [0, 0x80, 0x00, 0x40, ...Array(12).fill(0)],
        [0, 0x80, 0x00, 0x40, ...Array(12).fill(0)],
        0,
      ).slice(0, 4),
    ).toEqual([0, 0x80, 0, 0x20]);
    expect(execute('pabsb', Array(16).fill(0), [0x80, 0xff, 1, ...Array(13).fill(0)], 0).slice(0, 3)).toEqual(
      [0x80, 1, 1],
    );
    expect(
      execute(
        'palignr',
        idx.map((i) => i + 100),
        idx,
        4,
      ),
    ).toEqual([...idx.slice(4), 100, 101, 102, 103]);
    expect(
      execute(
        'palignr',
        idx.map((i) => i + 100),
        idx,
        32,
      ),
    ).toEqual(Array(16).fill(0));
    expect(
      execute('phaddsw', [0xff, 0x7f, 1, 0, ...Array(12).fill(0)], Array(16).fill(0), 0).slice(0, 2),
    ).toEqual([0xff, 0x7f]);
  });

  it('XMM forms need an aligned m128 (#GP(0)); the MMX forms take any m64; no SSSE3 in the model: #UD', () => {
    const first = (src: string, model?: CpuModel) => {
      const x = machine(src, model);
      x.m.run(1);
      return x.vectors[0];
    };
    expect(first(`pshufb xmm0, [${MEM + 8}]`)).toBe(Vector.GP);
    expect(first(`pshufb xmm0, [${MEM}]`)).toBeUndefined();
    expect(first(`pshufb mm0, [${MEM + 3}]`)).toBeUndefined();
    expect(first('pabsd xmm0, xmm1', PENTIUM_4_PRESCOTT)).toBe(Vector.UD);
    expect(first('palignr mm0, mm1, 3', PENTIUM_4_PRESCOTT)).toBe(Vector.UD);
  });

  // Edge bytes (0, 1, 0x7F, 0x80, 0xFF) half of the time, so saturation, -1, -128 and 0x8000 come up.
  const byte = fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 }));
  const bytes = (n: number) => fc.array(byte, { minLength: n, maxLength: n });
  for (const mn of Object.keys(REFERENCE)) {
    it(`property: ${mn.toUpperCase()} on XMM and MMX registers matches the SDM's pseudo-code`, () => {
      fc.assert(
        fc.property(
          fc.boolean(),
          bytes(16),
          bytes(16),
          fc.integer({ min: 0, max: 40 }),
          (wide, d16, s16, imm) => {
            const n = wide ? 16 : 8;
            const d = d16.slice(0, n);
            const s = s16.slice(0, n);
            expect(execute(mn, d, s, imm)).toEqual(REFERENCE[mn]!(d, s, imm));
          },
        ),
        { numRuns: 40 },
      );
    });
  }
});
