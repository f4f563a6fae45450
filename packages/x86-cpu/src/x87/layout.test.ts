import { describe, expect, it } from 'vitest';
import { EX_ALL, SW_ES } from './bits.js';
import { ARITH_DIV, X87 } from './fpu.js';
import {
  ENV_PROT16,
  ENV_PROT32,
  ENV_REAL16,
  ENV_REAL32,
  envSize,
  fldenv,
  frstor,
  fsave,
  fstenv,
  fxrstor,
  fxsave,
  saveSize,
} from './layout.js';

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

/** An FPU with ST0 = 2.0 (R6), ST1 = 0 (R7), TOP = 6, a raised PE, and recorded pointers. */
function sample(): X87 {
  const f = new X87();
  f.fldF80(0, 0, 0); // +0 into R7
  f.fldF80(0, 0x80000000, 0x4000); // 2.0 into R6
  f.fldcw(0x027f); // PC = 53 bits
  f.arithInt(ARITH_DIV, 1); // no flags
  f.sw |= 0x20; // PE
  f.recordInstruction(0x1234, 0x89abcdef, 0x5e1);
  f.recordOperand(0x5678, 0x01234567);
  return f;
}

describe('FXSAVE image', () => {
  it('has FCW, FSW with TOP, the abridged tag, FOP, FIP/FCS, FDP/FDS and ST(i) at 32 + 16 i', () => {
    const f = sample();
    const b = new Uint8Array(512).fill(0xaa);
    fxsave(f, b, 0, false);
    expect(u16(b, 0)).toBe(0x027f);
    expect(u16(b, 2)).toBe(0x3020); // TOP = 6, PE
    expect(b[4]).toBe(0xc0); // R6 and R7 non-empty
    expect(b[5]).toBe(0);
    expect(u16(b, 6)).toBe(0x5e1);
    expect(u32(b, 8)).toBe(0x89abcdef);
    expect(u16(b, 12)).toBe(0x1234);
    expect(u32(b, 16)).toBe(0x01234567);
    expect(u16(b, 20)).toBe(0x5678);
    expect(u32(b, 24)).toBe(0xaaaaaaaa); // MXCSR left to the caller
    // ST0 = 2.0: significand 8000000000000000, exponent 4000.
    expect([...b.subarray(32, 42)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x40]);
    expect([...b.subarray(48, 58)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(b[160]).toBe(0xaa); // XMM area untouched
  });
  it('the REX.W form stores 64-bit instruction and data pointers', () => {
    const f = sample();
    const b = new Uint8Array(512);
    fxsave(f, b, 0, true, 0xffff8000, 0x7);
    expect(u32(b, 8)).toBe(0x89abcdef);
    expect(u32(b, 12)).toBe(0xffff8000);
    expect(u32(b, 16)).toBe(0x01234567);
    expect(u32(b, 20)).toBe(7);
  });
  it('FXRSTOR restores what FXSAVE stored', () => {
    const f = sample();
    const b = new Uint8Array(512);
    fxsave(f, b, 0, false);
    const g = new X87();
    fxrstor(g, b, 0, false);
    expect(g.cw).toBe(f.cw);
    expect(g.statusWord).toBe(f.statusWord);
    expect(g.tagWord).toBe(f.tagWord);
    expect([g.fip, g.fcs, g.fdp, g.fds, g.fop]).toEqual([f.fip, f.fcs, f.fdp, f.fds, f.fop]);
    expect(g.st(0).hi).toBe(0x80000000);
    expect(g.env.precision).toBe(53);
  });
});

describe('FSTENV / FSAVE images', () => {
  it('32-bit protected mode: 7 doublewords, full tag word, FOP beside FCS', () => {
    const f = sample();
    const b = new Uint8Array(28);
    fstenv(f, b, 0, ENV_PROT32);
    expect(u32(b, 0)).toBe(0x027f);
    expect(u32(b, 4)).toBe(0x3020);
    expect(u32(b, 8)).toBe(0x4fff); // R7 zero (01), R6 valid (00), the rest empty
    expect(u32(b, 12)).toBe(0x89abcdef);
    expect(u32(b, 16)).toBe(0x1234 | (0x5e1 << 16));
    expect(u32(b, 20)).toBe(0x01234567);
    expect(u32(b, 24)).toBe(0x5678);
    expect(f.cw & EX_ALL).toBe(EX_ALL); // FSTENV masks all exceptions afterwards
  });
  it('16-bit protected mode: 7 words', () => {
    const f = sample();
    const b = new Uint8Array(14);
    fstenv(f, b, 0, ENV_PROT16);
    expect([0, 2, 4, 6, 8, 10, 12].map((o) => u16(b, o))).toEqual([
      0x027f, 0x3020, 0x4fff, 0xcdef, 0x1234, 0x4567, 0x5678,
    ]);
  });
  it('real-mode layouts store linear pointers split around FOP', () => {
    const f = new X87();
    f.recordInstruction(0x1000, 0x2345, 0x7ff);
    f.recordOperand(0x2000, 0x0010);
    const b32 = new Uint8Array(28);
    fstenv(f, b32, 0, ENV_REAL32);
    // FIP linear = 0x12345, FDP linear = 0x20010.
    expect(u32(b32, 12)).toBe(0x2345);
    expect(u32(b32, 16)).toBe(0x7ff | (0x1 << 12));
    expect(u32(b32, 20)).toBe(0x0010);
    expect(u32(b32, 24)).toBe(0x2 << 12);
    const b16 = new Uint8Array(14);
    fstenv(f, b16, 0, ENV_REAL16);
    expect(u16(b16, 6)).toBe(0x2345);
    expect(u16(b16, 8)).toBe(0x7ff | (0x1 << 12));
    expect(u16(b16, 10)).toBe(0x0010);
    expect(u16(b16, 12)).toBe(0x2 << 12);
    const g = new X87();
    fldenv(g, b32, 0, ENV_REAL32);
    expect([g.fip, g.fdp, g.fop]).toEqual([0x12345, 0x20010, 0x7ff]);
  });
  it('FSAVE writes the registers in stack order and reinitializes; FRSTOR brings everything back', () => {
    for (const layout of [ENV_REAL16, ENV_PROT16, ENV_REAL32, ENV_PROT32]) {
      const f = sample();
      const b = new Uint8Array(saveSize(layout));
      fsave(f, b, 0, layout);
      const base = envSize(layout);
      expect([...b.subarray(base, base + 10)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0x80, 0x00, 0x40]);
      expect(f.cw).toBe(0x037f);
      expect(f.tagWord).toBe(0xffff);
      const g = new X87();
      frstor(g, b, 0, layout);
      expect(g.statusWord).toBe(0x3020);
      expect(g.tagWord).toBe(0x4fff);
      expect(g.st(0).se).toBe(0x4000);
      expect(g.cw).toBe(0x027f);
    }
  });
  it('FLDENV with an unmasked raised flag makes an exception pending', () => {
    const f = new X87();
    const b = new Uint8Array(28);
    fstenv(f, b, 0, ENV_PROT32);
    b[0] = 0x7e; // CW 037E: IE unmasked
    b[4] = 0x01; // IE raised
    fldenv(f, b, 0, ENV_PROT32);
    expect(f.sw & SW_ES).toBe(SW_ES);
  });
});
