import { describe, expect, it } from 'vitest';
import { X87 } from './fpu.js';
import { emms, isMmxOp, mmxOp, mmxReadHi, mmxReadLo, mmxShiftImm, mmxWrite } from './mmx.js';

/** Run `opcode` on MM0 = a, source b (64-bit values as bigint for readability) and return MM0. */
function run(opcode: number, a: bigint, b: bigint): bigint {
  const f = new X87();
  mmxWrite(f, 0, Number(a & 0xffffffffn), Number(a >> 32n));
  expect(mmxOp(f, opcode, 0, Number(b & 0xffffffffn), Number(b >> 32n))).toBe(true);
  return (BigInt(mmxReadHi(f, 0)) << 32n) | BigInt(mmxReadLo(f, 0));
}

describe('MMX register aliasing', () => {
  it('MMX writes set TOP = 0, all tags valid and the exponent field to all ones; EMMS empties', () => {
    const f = new X87();
    f.fldF80(0, 0x80000000, 0x3fff);
    expect(f.top).toBe(7);
    mmxWrite(f, 3, 0x11223344, 0x55667788);
    expect(f.top).toBe(0);
    expect(f.abridgedTagWord).toBe(0xff);
    // The full tag word is derived from the contents (as FSTENV reports it): R7 = 1.0 valid,
    // R3 = an MMX value (exponent FFFF, integer bit 0) special, the +0.0 registers zero.
    expect(f.tagWord).toBe(0x1595);
    expect(f.regs[3]!.se).toBe(0xffff);
    expect(f.st(3).lo).toBe(0x11223344);
    emms(f);
    expect(f.tagWord).toBe(0xffff);
  });
  it('reports unknown opcodes', () => {
    expect(isMmxOp(0xfc)).toBe(true);
    expect(isMmxOp(0x10)).toBe(false);
    expect(mmxOp(new X87(), 0x10, 0, 0, 0)).toBe(false);
  });
});

describe('MMX arithmetic', () => {
  it('PADDB wraps, PADDSB and PADDUSB saturate', () => {
    expect(run(0xfc, 0x7f_ff_01n, 0x01_02_01n)).toBe(0x80_01_02n);
    expect(run(0xec, 0x7f_80n, 0x01_ffn)).toBe(0x7f_80n);
    expect(run(0xdc, 0xf0_10n, 0x20_10n)).toBe(0xff_20n);
  });
  it('PSUBW wraps, PSUBSW and PSUBUSW saturate', () => {
    expect(run(0xf9, 0x0000n, 0x0001n)).toBe(0xffffn);
    expect(run(0xe9, 0x8000n, 0x0001n)).toBe(0x8000n);
    expect(run(0xd9, 0x0005n, 0x0009n)).toBe(0n);
  });
  it('PADDQ and PSUBQ carry across the halves', () => {
    expect(run(0xd4, 0xffffffffn, 1n)).toBe(0x100000000n);
    expect(run(0xfb, 0x100000000n, 1n)).toBe(0xffffffffn);
  });
  it('PCMPEQB and PCMPGTW', () => {
    expect(run(0x74, 0x0102n, 0x0302n)).toBe(0xffffffffffff00ffn);
    expect(run(0x65, 0xffff_0001n, 0x0000_0000n)).toBe(0x0000_ffffn); // -1 > 0 false, 1 > 0 true
  });
  it('PMULLW, PMULHW and PMADDWD', () => {
    expect(run(0xd5, 0x0100n, 0x0100n)).toBe(0n); // 256 * 256 = 0x10000: low word 0
    expect(run(0xe5, 0x0100n, 0x0100n)).toBe(1n);
    expect(run(0xe5, 0xffffn, 0x0002n)).toBe(0xffffn); // -1 * 2 = -2: high word ffff
    expect(run(0xf5, 0x0003_0002n, 0x0005_0004n)).toBe(23n); // 2*4 + 3*5
    expect(run(0xf5, 0x8000_8000n, 0x8000_8000n)).toBe(0x80000000n);
  });
  it('logic', () => {
    expect(run(0xdb, 0xf0f0n, 0xff00n)).toBe(0xf000n);
    expect(run(0xdf, 0xf0f0n, 0xff00n)).toBe(0x0f00n);
    expect(run(0xeb, 0xf0f0n, 0x0f00n)).toBe(0xfff0n);
    expect(run(0xef, 0xf0f0n, 0xffffn)).toBe(0x0f0fn);
  });
  it('shifts by register count and by immediate, with counts past the element width', () => {
    expect(run(0xf1, 0x8001n, 1n)).toBe(0x0002n);
    expect(run(0xd3, 0x8000000000000000n, 63n)).toBe(1n);
    expect(run(0xf3, 1n, 40n)).toBe(1n << 40n);
    expect(run(0xd2, 0xffffffffn, 32n)).toBe(0n);
    expect(run(0xe1, 0x8000n, 100n)).toBe(0xffffn);
    expect(run(0xe2, 0x80000000n, 4n)).toBe(0xf8000000n);
    const f = new X87();
    mmxWrite(f, 1, 0x00010002, 0);
    expect(mmxShiftImm(f, 0x71, 6, 1, 4)).toBe(true);
    expect(mmxReadLo(f, 1)).toBe(0x00100020);
    expect(mmxShiftImm(f, 0x73, 4, 1, 4)).toBe(false); // no PSRAQ
  });
  it('packs saturate, unpacks interleave', () => {
    expect(run(0x63, 0x0080_ff80_0001_7fffn, 0n)).toBe(0x7f_80_01_7fn);
    expect(run(0x67, 0x0100_ffff_0080_0010n, 0n)).toBe(0xff_00_80_10n);
    expect(run(0x6b, 0x00010000_ffff0000n, 0n)).toBe(0x7fff_8000n);
    expect(run(0x60, 0x04030201n, 0x0d0c0b0an)).toBe(0x0d040c030b020a01n);
    expect(run(0x69, 0x4444333322221111n, 0xddddccccbbbbaaaan)).toBe(0xdddd4444cccc3333n);
    expect(run(0x62, 0x2222222211111111n, 0x4444444433333333n)).toBe(0x3333333311111111n);
  });
});
