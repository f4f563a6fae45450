import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../test/machine.js';
import { CODE64, HIGH_ALIAS, long64, PML4, reg64, runLong, setReg64 } from '../../test/long-machine.js';
import { Vector } from '../exceptions.js';
import { MXCSR } from '../sse/state.js';
import { CR4_OSXSAVE } from './xsave.js';

/** A 64-bit machine recording delivered vectors. */
function machine(source: string) {
  const vectors: number[] = [];
  const m = long64(`${source}\nhlt`, { events: { delivered: (_k, v) => vectors.push(v) } });
  return { m, vectors, sse: m.cpu.fpu.sse };
}

/** Runs the machine again from `ip` (to its HLT). */
function rerun(m: Machine, ip = CODE64): void {
  m.cpu.halted = false;
  m.cpu.regs.ip = ip;
  runLong(m);
}

const u64 = (x: { sse: { u32: Uint32Array } }, r: number, q = 0): bigint =>
  (BigInt(x.sse.u32[r * 4 + q * 2 + 1]!) << 32n) | BigInt(x.sse.u32[r * 4 + q * 2]!);

function setXmm64(sse: { u32: Uint32Array }, r: number, q: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  sse.u32[r * 4 + q * 2] = Number(u & 0xffffffffn);
  sse.u32[r * 4 + q * 2 + 1] = Number(u >> 32n);
}

const f64Bits = (v: number): bigint => {
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, v, true);
  return b.getBigUint64(0, true);
};
const f32Bits = (v: number): number => {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, v, true);
  return b.getUint32(0, true);
};

const RC_NEAREST = 0;
const RC_DOWN = 1;
const RC_UP = 2;
const RC_ZERO = 3;

/**
 * The exact rounding of the integer `v` to a `p`-bit significand in rounding mode `rc` (BigInt
 * oracle): the rounded value (exact as a Number: at most p significant bits) and whether inexact.
 */
function roundInt(v: bigint, p: number, rc: number): { value: number; inexact: boolean } {
  const neg = v < 0n;
  const m = neg ? -v : v;
  const len = m.toString(2).length;
  if (m === 0n || len <= p) return { value: Number(v), inexact: false };
  const shift = BigInt(len - p);
  const trunc = m >> shift;
  const rem = m - (trunc << shift);
  if (rem === 0n) return { value: Number(v), inexact: false };
  const half = 1n << (shift - 1n);
  let up: boolean;
  if (rc === RC_NEAREST) up = rem > half || (rem === half && (trunc & 1n) === 1n);
  else if (rc === RC_ZERO) up = false;
  else up = rc === RC_UP ? !neg : neg;
  const mag = (up ? trunc + 1n : trunc) << shift;
  return { value: Number(neg ? -mag : mag), inexact: true };
}

describe('SSE in 64-bit mode: XMM8..XMM15, RIP-relative operands', () => {
  it('adds packed doubles in XMM8..XMM15 with aligned RIP-relative operands and stores RIP-relative', () => {
    // Data first, at CODE64 (16-byte aligned); execution starts at `start` (CODE64 + 0x30).
    const src = [
      'a: dq 0', // CODE64 + 0x00
      'dq 0',
      'b: dq 0', // + 0x10
      'dq 0',
      'out: dq 0', // + 0x20
      'dq 0',
      'start:', // + 0x30
      'movaps xmm8, [rip + a]',
      'addpd xmm8, [rip + b]',
      'movapd xmm15, xmm8',
      'mulpd xmm15, xmm8',
      'movdqa xmm11, xmm15',
      'pxor xmm12, xmm12',
      'paddq xmm12, xmm11',
      'movaps [rip + out], xmm12',
    ].join('\n');
    const y = machine(src);
    const view = new DataView(y.m.ram.buffer, y.m.ram.byteOffset);
    view.setFloat64(CODE64, 1.5, true);
    view.setFloat64(CODE64 + 8, -2, true);
    view.setFloat64(CODE64 + 0x10, 0.25, true);
    view.setFloat64(CODE64 + 0x18, 10, true);
    rerun(y.m, CODE64 + 0x30);
    expect(y.vectors).toEqual([]);
    expect(view.getFloat64(CODE64 + 0x20, true)).toBe(1.75 * 1.75);
    expect(view.getFloat64(CODE64 + 0x28, true)).toBe(64);
    expect(y.sse.f64[8 * 2]).toBe(1.75);
    expect(y.sse.f64[15 * 2 + 1]).toBe(64);
  });

  it('MOVAPS through the high canonical alias: aligned loads, a misaligned one raises #GP(0)', () => {
    const x = machine('movaps xmm9, [rbx]\nmovups xmm10, [rbx + 8]');
    x.m.memory.write32(0x2000, 0x11111111);
    x.m.memory.write32(0x2008, 0x22222222);
    x.m.memory.write32(0x2010, 0x33333333);
    setReg64(x.m.cpu, 3, BigInt(HIGH_ALIAS) + 0x2000n);
    runLong(x.m);
    expect(x.sse.u32[9 * 4]).toBe(0x11111111);
    expect(x.sse.u32[10 * 4]).toBe(0x22222222);
    expect(x.sse.u32[10 * 4 + 2]).toBe(0x33333333);
    const bad = machine('movaps xmm0, [rbx]');
    setReg64(bad.m.cpu, 3, BigInt(HIGH_ALIAS) + 0x2008n);
    bad.m.run(1);
    expect(bad.vectors[0]).toBe(Vector.GP);
    expect(bad.m.cpu.regs.ip).toBe(CODE64);
  });

  it('MMX MOVQ and x87 FLD m64 read 8 bytes through the high alias (the second half too)', () => {
    const x = machine(
      'movq mm2, [rbx]\nmovq [rbx + 16], mm2\nemms\nfninit\nfld qword [rbx]\nfstp qword [rbx + 32]',
    );
    x.m.memory.write32(0x2000, 0x00000000);
    x.m.memory.write32(0x2004, 0x3ff80000); // 1.5
    setReg64(x.m.cpu, 3, BigInt(HIGH_ALIAS) + 0x2000n);
    // Only the high alias is mapped: an offset cut to 32 bits would page-fault.
    x.m.memory.write32(PML4, 0);
    rerun(x.m, HIGH_ALIAS + CODE64);
    expect(x.vectors).toEqual([]);
    expect(x.m.memory.read32(0x2014)).toBe(0x3ff80000);
    expect(x.m.memory.read32(0x2024)).toBe(0x3ff80000);
  });
  it('MASKMOVDQU stores through RDI (all 64 bits: the high alias), not DI', () => {
    const x = machine('maskmovdqu xmm9, xmm10');
    setXmm64(x.sse, 9, 0, 0x8877_6655_4433_2211n);
    setXmm64(x.sse, 10, 0, 0x0000_0000_0000_80ffn);
    setReg64(x.m.cpu, 7, BigInt(HIGH_ALIAS) + 0x13000n); // DI alone would be 0x3000
    x.m.memory.write32(0x13000, 0xaaaaaaaa);
    x.m.memory.write32(0x3000, 0xaaaaaaaa);
    runLong(x.m);
    expect(x.vectors).toEqual([]);
    expect(x.m.memory.read32(0x13000)).toBe(0xaaaa2211);
    expect(x.m.memory.read32(0x3000)).toBe(0xaaaaaaaa);
  });
});

describe('REX.W moves', () => {
  it('MOVQ xmm <-> r64 and mm <-> r64 round trips, memory forms, PEXTRQ/PINSRQ', () => {
    const x = machine(
      [
        'movq xmm9, rax',
        'movq rbx, xmm9',
        'movq mm3, rcx',
        'movq rdx, mm3',
        'pinsrq xmm14, rsi, 1',
        'pinsrq xmm14, [rdi], 0',
        'pextrq r8, xmm14, 1',
        'pextrq [rdi + 8], xmm14, 0',
        'movq xmm13, [rdi]',
        'movq [rdi + 16], xmm9',
      ].join('\n'),
    );
    const c = x.m.cpu;
    setReg64(c, 0, 0x8123_4567_89ab_cdefn);
    setReg64(c, 1, 0xfedc_ba98_7654_3210n);
    setReg64(c, 6, 0x0102_0304_0506_0708n);
    setReg64(c, 7, 0x3000n);
    x.m.memory.write32(0x3000, 0xaabbccdd);
    x.m.memory.write32(0x3004, 0x11223344);
    x.sse.u32.fill(0xffffffff, 9 * 4, 10 * 4);
    x.sse.u32.fill(0xffffffff, 13 * 4, 14 * 4);
    runLong(x.m);
    expect(reg64(c, 3)).toBe(0x8123_4567_89ab_cdefn);
    expect(u64(x, 9, 1)).toBe(0n); // upper quadword zeroed
    expect(reg64(c, 2)).toBe(0xfedc_ba98_7654_3210n);
    expect(u64(x, 14, 1)).toBe(0x0102_0304_0506_0708n);
    expect(u64(x, 14, 0)).toBe(0x1122_3344_aabb_ccddn);
    expect(reg64(c, 8)).toBe(0x0102_0304_0506_0708n);
    expect(x.m.memory.read32(0x3008)).toBe(0xaabbccdd);
    expect(x.m.memory.read32(0x300c)).toBe(0x11223344);
    expect(u64(x, 13, 0)).toBe(0x1122_3344_aabb_ccddn);
    expect(u64(x, 13, 1)).toBe(0n);
    expect(x.m.memory.read32(0x3010)).toBe(0x89abcdef);
    expect(x.m.memory.read32(0x3014)).toBe(0x81234567);
  });

  it('32-bit and r64 destinations are zero-extended: PMOVMSKB, MOVMSKPS, PEXTRD/W/B, EXTRACTPS, CVTTSD2SI, PCMPISTRI, CRC32', () => {
    const x = machine(
      [
        'pmovmskb eax, xmm1',
        'pmovmskb r10, xmm1',
        'movmskps r11, xmm1',
        'pextrd r9d, xmm9, 1',
        'pextrw rbx, xmm9, 1',
        'pextrb rsi, xmm9, 7',
        'extractps rdi, xmm9, 1',
        'cvttsd2si r12d, xmm2',
        'pcmpistri xmm1, xmm1, 0',
        'crc32 r13, byte [rsp]',
        'crc32 r14d, dword [rsp]',
      ].join('\n'),
    );
    const c = x.m.cpu;
    for (const r of [0, 1, 3, 6, 7, 9, 10, 11, 12, 13, 14]) setReg64(c, r, -1n);
    setXmm64(x.sse, 1, 0, 0x8000_0000_8000_8080n);
    setXmm64(x.sse, 1, 1, 0x0000_0001_0000_0000n);
    setXmm64(x.sse, 9, 0, 0xf1f2_f3f4_f5f6_f7f8n);
    x.sse.f64[4] = -3.75;
    x.m.memory.write32(0x9000, 0x12345678);
    runLong(x.m);
    expect(reg64(c, 0)).toBe(0b0000_0000_1000_1011n);
    expect(reg64(c, 10)).toBe(0b0000_0000_1000_1011n);
    expect(reg64(c, 11)).toBe(0b0011n);
    expect(reg64(c, 9)).toBe(0xf1f2_f3f4n);
    expect(reg64(c, 3)).toBe(0xf5f6n);
    expect(reg64(c, 6)).toBe(0xf1n);
    expect(reg64(c, 7)).toBe(0xf1f2_f3f4n);
    expect(reg64(c, 12)).toBe(0xffff_fffdn);
    expect(reg64(c, 1) >> 32n).toBe(0n);
    expect(reg64(c, 13) >> 32n).toBe(0n);
    expect(reg64(c, 14) >> 32n).toBe(0n);
  });

  it('CRC32 r64, r/m64 is CRC32 of the low dword then the high dword', () => {
    const x = machine('crc32 rax, rbx\nmov ecx, 0\ncrc32 ecx, edx\ncrc32 ecx, esi');
    const c = x.m.cpu;
    setReg64(c, 0, 0xdead_beef_0000_0000n);
    setReg64(c, 3, 0x0123_4567_89ab_cdefn);
    setReg64(c, 2, 0x89ab_cdefn);
    setReg64(c, 6, 0x0123_4567n);
    runLong(x.m);
    expect(reg64(c, 0)).toBe(reg64(c, 1));
    expect(reg64(c, 0)).not.toBe(0n);
  });

  it('PCMPESTRI64 takes 64-bit lengths from RAX/RDX: a large positive length saturates', () => {
    const x = machine('pcmpestri64 xmm1, xmm2, 0x18');
    const c = x.m.cpu;
    setReg64(c, 0, 0x1_0000_0000n); // 2^32: saturates to 16 (the 32-bit form would read 0)
    setReg64(c, 2, -3n);
    setReg64(c, 1, -1n);
    runLong(x.m);
    // Equal each, negative polarity: the first mismatch at the length end (bytes are all zero).
    expect(reg64(c, 1)).toBe(3n);
  });
});

describe('CVTSI2SD/CVTSI2SS from int64, CVT(T)S*2SI to r64', () => {
  const src = 'cvtsi2sd xmm10, rax\ncvtsi2ss xmm3, rax';
  const memSrc = 'cvtsi2sd xmm10, qword [rip + v]\ncvtsi2ss xmm3, qword [rip + v]\nhlt\nv: dq 0';

  for (const [name, rc] of [
    ['nearest', RC_NEAREST],
    ['down', RC_DOWN],
    ['up', RC_UP],
    ['toward zero', RC_ZERO],
  ] as const) {
    it(`property: any int64 rounds exactly once (${name}), PE iff inexact, the rest of the register kept`, () => {
      const reg = machine(src);
      const mem = machine(memSrc);
      const int64 = fc.oneof(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        // Near the rounding boundaries: a few significant bits with a short tail.
        fc
          .tuple(
            fc.bigInt({ min: 1n, max: (1n << 26n) - 1n }),
            fc.integer({ min: 0, max: 38 }),
            fc.bigInt({ min: -3n, max: 3n }),
            fc.boolean(),
          )
          .map(([m, s, t, neg]) => {
            const v = BigInt.asIntN(64, (m << BigInt(s)) + t);
            return neg ? BigInt.asIntN(64, -v) : v;
          }),
        fc.constantFrom(-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 2n ** 53n + 1n, 2n ** 24n + 1n),
      );
      fc.assert(
        fc.property(int64, (v) => {
          const d = roundInt(v, 53, rc);
          const s = roundInt(v, 24, rc);
          for (const x of [reg, mem]) {
            x.sse.mxcsr = 0x1f80 | (rc << 13);
            setXmm64(x.sse, 10, 1, 0x1234_5678_9abc_def0n);
            x.sse.u32[3 * 4 + 1] = 0xcafef00d;
            if (x === reg) setReg64(x.m.cpu, 0, v);
            else new DataView(x.m.ram.buffer, x.m.ram.byteOffset).setBigInt64(CODE64 + memVOffset, v, true);
            rerun(x.m);
            expect(u64(x, 10, 0)).toBe(f64Bits(d.value));
            expect(u64(x, 10, 1)).toBe(0x1234_5678_9abc_def0n);
            expect(x.sse.u32[3 * 4]).toBe(f32Bits(s.value));
            expect(x.sse.u32[3 * 4 + 1]).toBe(0xcafef00d);
            expect((x.sse.mxcsr & MXCSR.PE) !== 0).toBe(d.inexact || s.inexact);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('CVTSI2SD with unmasked PE raises #XM and leaves the register alone', () => {
    const x = machine('cvtsi2sd xmm0, rax');
    x.sse.mxcsr = 0x1f80 & ~MXCSR.PM;
    setReg64(x.m.cpu, 0, 2n ** 60n + 1n);
    x.sse.f64[0] = 7;
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.XM);
    expect(x.sse.f64[0]).toBe(7);
  });

  it('property: CVTTSD2SI/CVTSD2SI r64 equal the BigInt reference; out of range or NaN is the indefinite with IE', () => {
    const x = machine('cvttsd2si rax, xmm0\ncvtsd2si rbx, xmm0\ncvttss2si rcx, xmm1\ncvtss2si rdx, xmm1');
    const INDEF = 0x8000_0000_0000_0000n;
    const ref = (f: number, rc: number): bigint | undefined => {
      if (!Number.isFinite(f)) return undefined;
      let t = Math.trunc(f);
      const frac = f - t;
      if (rc === RC_NEAREST && (Math.abs(frac) > 0.5 || (Math.abs(frac) === 0.5 && t % 2 !== 0)))
        t += Math.sign(frac);
      if (rc === RC_DOWN && frac < 0) t -= 1;
      if (rc === RC_UP && frac > 0) t += 1;
      const b = BigInt(t);
      return b >= -(2n ** 63n) && b < 2n ** 63n ? b : undefined;
    };
    const value = fc.oneof(
      fc.double({ min: -(2 ** 64), max: 2 ** 64 }),
      fc.double(),
      fc.constantFrom(2 ** 63, -(2 ** 63), 2 ** 63 - 1024, -2.5, 2.5, -0.5, Number.NaN, -Infinity, 1e300),
    );
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 3 }), (f, rc) => {
        const f32 = Math.fround(f);
        x.sse.mxcsr = 0x1f80 | (rc << 13);
        x.sse.f64[0] = f;
        x.sse.f32[4] = f32;
        rerun(x.m);
        const c = x.m.cpu;
        const t = ref(f, RC_ZERO);
        const r = ref(f, rc);
        const t32 = ref(f32, RC_ZERO);
        const r32 = ref(f32, rc);
        expect(reg64(c, 0)).toBe(t === undefined ? INDEF : BigInt.asUintN(64, t));
        expect(reg64(c, 3)).toBe(r === undefined ? INDEF : BigInt.asUintN(64, r));
        expect(reg64(c, 1)).toBe(t32 === undefined ? INDEF : BigInt.asUintN(64, t32));
        expect(reg64(c, 2)).toBe(r32 === undefined ? INDEF : BigInt.asUintN(64, r32));
        const invalid = [t, r, t32, r32].some((v) => v === undefined);
        expect((x.sse.mxcsr & MXCSR.IE) !== 0).toBe(invalid);
        const inexact =
          (t !== undefined && Number.isFinite(f) && Math.trunc(f) !== f) ||
          (t32 !== undefined && Math.trunc(f32) !== f32);
        if (!invalid) expect((x.sse.mxcsr & MXCSR.PE) !== 0).toBe(inexact);
      }),
      { numRuns: 400 },
    );
  });
});

describe('FXSAVE64/FXRSTOR64 and XSAVE64 in 64-bit mode', () => {
  /** Runs `fld qword [rip + v]` from the high alias, so FIP and FDP have bits 63:32 set. */
  function withHighPointers(tail: string) {
    const x = machine(`fld qword [rip + v]\n${tail}\nhlt\nv: dq 0`);
    for (let r = 0; r < 16; r++) x.sse.u32.fill(0x01010101 * (r + 1), r * 4, r * 4 + 4);
    x.sse.mxcsr = 0x1f80 | MXCSR.PE;
    setReg64(x.m.cpu, 3, 0x4000n);
    return x;
  }

  it('FXSAVE keeps FCS/FDS and 32-bit pointers; FXSAVE64 has 64-bit FIP/FDP; both hold XMM8..XMM15', () => {
    const x = withHighPointers('fxsave [rbx]\nfxsave64 [rbx + 512]');
    rerun(x.m, HIGH_ALIAS + CODE64);
    expect(x.vectors).toEqual([]);
    const mem = x.m.memory;
    const fip = BigInt(HIGH_ALIAS + CODE64);
    // 32-bit form: FIP[31:0] at 8, FCS at 12, FDP[31:0] at 16, FDS at 20.
    expect(mem.read32(0x4008)).toBe(Number(BigInt.asUintN(32, fip)));
    expect(mem.read16(0x400c)).toBe(0x08);
    expect(mem.read16(0x4014)).toBe(0x10);
    // 64-bit form: FIP[63:0] at 8, FDP[63:0] at 16.
    expect(mem.read32(0x4208)).toBe(Number(BigInt.asUintN(32, fip)));
    expect(mem.read32(0x420c)).toBe(0xffff8000);
    expect(mem.read32(0x4214)).toBe(0xffff8000);
    expect(mem.read32(0x4210)).toBe(mem.read32(0x4010));
    for (const base of [0x4000, 0x4200]) {
      expect(mem.read32(base + 24)).toBe(x.sse.mxcsr);
      for (let r = 0; r < 16; r++) expect(mem.read32(base + 160 + 16 * r + 12)).toBe(0x01010101 * (r + 1));
    }
  });

  it('FXRSTOR64 restores XMM8..XMM15 and the 64-bit FPU pointers (FXSAVE64 again reads them back)', () => {
    const x = withHighPointers(
      'fxsave64 [rbx]\nfninit\npxor xmm15, xmm15\npxor xmm8, xmm8\nfxrstor64 [rbx]\nfxsave64 [rbx + 512]',
    );
    rerun(x.m, HIGH_ALIAS + CODE64);
    expect(x.vectors).toEqual([]);
    expect(x.sse.u32[15 * 4]).toBe(0x10101010);
    expect(x.sse.u32[8 * 4 + 3]).toBe(0x09090909);
    for (let i = 0; i < 24; i += 4) expect(x.m.memory.read32(0x4200 + i)).toBe(x.m.memory.read32(0x4000 + i));
    expect(x.m.cpu.fpu.fip).toBe(HIGH_ALIAS + CODE64);
  });

  it('XSAVE64/XRSTOR64: the FXSAVE64 layout, all sixteen XMM registers, XSTATE_BV', () => {
    const x = withHighPointers(
      'xsave64 [rbx]\npxor xmm12, xmm12\nfninit\nxrstor64 [rbx]\nxsaveopt64 [rbx + 0x400]',
    );
    x.m.cpu.ctrl.cr4 |= CR4_OSXSAVE;
    x.m.cpu.ctrl.xcr0 = 3;
    setReg64(x.m.cpu, 0, 3n);
    setReg64(x.m.cpu, 2, 0n);
    rerun(x.m, HIGH_ALIAS + CODE64);
    expect(x.vectors).toEqual([]);
    const mem = x.m.memory;
    expect(mem.read32(0x400c)).toBe(0xffff8000);
    expect(mem.read32(0x4000 + 160 + 16 * 12)).toBe(0x0d0d0d0d);
    expect(mem.read8(0x4000 + 512)).toBe(3);
    expect(x.sse.u32[12 * 4]).toBe(0x0d0d0d0d);
    for (let i = 0; i < 512; i += 4) expect(mem.read32(0x4400 + i)).toBe(mem.read32(0x4000 + i));
  });

  it('FXSAVE64 needs 16-byte alignment of the linear address: #GP(0) through the high alias', () => {
    const x = machine('fxsave64 [rbx]');
    setReg64(x.m.cpu, 3, BigInt(HIGH_ALIAS) + 0x4008n);
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.GP);
  });
});

/** Offset from CODE64 of `v` in the memory-source CVTSI2S* program (two 9-byte instructions and HLT). */
const memVOffset = 9 + 9 + 1;
