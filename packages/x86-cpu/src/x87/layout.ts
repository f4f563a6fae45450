// Memory images of the FPU state: FSTENV/FLDENV (14 or 28 bytes), FSAVE/FRSTOR (94 or 108 bytes)
// and FXSAVE/FXRSTOR (512 bytes). The caller moves the bytes between guest memory and a buffer.

import { EX_ALL } from './bits.js';
import type { F80 } from './softfloat.js';
import type { X87 } from './fpu.js';

/** Environment layouts (SDM Vol. 1, Figures 8-9 to 8-12): operand size x real/protected mode. */
export const ENV_REAL16 = 0;
export const ENV_PROT16 = 1;
export const ENV_REAL32 = 2;
export const ENV_PROT32 = 3;

/** Size in bytes of the environment image. */
export function envSize(layout: number): number {
  return layout === ENV_REAL32 || layout === ENV_PROT32 ? 28 : 14;
}

/** Size in bytes of the FSAVE image. */
export function saveSize(layout: number): number {
  return envSize(layout) + 80;
}

/** Bits 63:32 of an FPU pointer (FIP/FDP) held as a number: a signed-form address in 64-bit mode. */
export function high32(v: number): number {
  return Math.floor(v / 4294967296) >>> 0;
}

/** FXSAVE image size and byte offsets (SDM Vol. 1, Table 10-2). */
export const FXSAVE_SIZE = 512;
export const FXSAVE_FCW = 0;
export const FXSAVE_FSW = 2;
export const FXSAVE_FTW = 4;
export const FXSAVE_FOP = 6;
export const FXSAVE_FIP = 8;
export const FXSAVE_FCS = 12;
export const FXSAVE_FDP = 16;
export const FXSAVE_FDS = 20;
/** MXCSR and MXCSR_MASK belong to the SSE state: the caller fills them. */
export const FXSAVE_MXCSR = 24;
export const FXSAVE_MXCSR_MASK = 28;
export const FXSAVE_ST0 = 32;
export const FXSAVE_XMM0 = 160;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

function get16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function putReg(b: Uint8Array, o: number, r: F80): void {
  put32(b, o, r.lo);
  put32(b, o + 4, r.hi);
  put16(b, o + 8, r.se);
}

function getReg(b: Uint8Array, o: number, r: F80): void {
  r.set(get16(b, o + 8), get32(b, o + 4), get32(b, o));
}

/**
 * FNSTENV: writes the environment, then masks all exceptions (SDM: FSTENV). In the real-mode
 * layouts the pointers are 20/32-bit linear addresses: (FCS << 4) + FIP and (FDS << 4) + FDP.
 */
export function fstenv(fpu: X87, b: Uint8Array, o: number, layout: number): void {
  writeEnv(fpu, b, o, layout);
  fpu.setControlWord(fpu.cw | EX_ALL);
}

function writeEnv(fpu: X87, b: Uint8Array, o: number, layout: number): void {
  const cw = fpu.cw;
  const sw = fpu.statusWord;
  const tw = fpu.tagWord;
  const fop = fpu.fop & 0x7ff;
  switch (layout) {
    case ENV_PROT32:
      put32(b, o, cw);
      put32(b, o + 4, sw);
      put32(b, o + 8, tw);
      put32(b, o + 12, fpu.fip);
      put32(b, o + 16, (fpu.fcs & 0xffff) | (fop << 16));
      put32(b, o + 20, fpu.fdp);
      put32(b, o + 24, fpu.fds & 0xffff);
      break;
    case ENV_REAL32: {
      const ip = (fpu.fcs << 4) + fpu.fip;
      const dp = (fpu.fds << 4) + fpu.fdp;
      put32(b, o, cw);
      put32(b, o + 4, sw);
      put32(b, o + 8, tw);
      put32(b, o + 12, ip & 0xffff);
      put32(b, o + 16, fop | (((ip >>> 16) & 0xffff) << 12));
      put32(b, o + 20, dp & 0xffff);
      put32(b, o + 24, ((dp >>> 16) & 0xffff) << 12);
      break;
    }
    case ENV_PROT16:
      put16(b, o, cw);
      put16(b, o + 2, sw);
      put16(b, o + 4, tw);
      put16(b, o + 6, fpu.fip);
      put16(b, o + 8, fpu.fcs);
      put16(b, o + 10, fpu.fdp);
      put16(b, o + 12, fpu.fds);
      break;
    default: {
      const ip = (fpu.fcs << 4) + fpu.fip;
      const dp = (fpu.fds << 4) + fpu.fdp;
      put16(b, o, cw);
      put16(b, o + 2, sw);
      put16(b, o + 4, tw);
      put16(b, o + 6, ip);
      put16(b, o + 8, fop | (((ip >>> 16) & 0xf) << 12));
      put16(b, o + 10, dp);
      put16(b, o + 12, ((dp >>> 16) & 0xf) << 12);
      break;
    }
  }
}

/** FLDENV. Pending unmasked exceptions in the loaded status word fault at the next waiting op. */
export function fldenv(fpu: X87, b: Uint8Array, o: number, layout: number): void {
  const wide = layout === ENV_REAL32 || layout === ENV_PROT32;
  const cw = wide ? get32(b, o) & 0xffff : get16(b, o);
  const sw = wide ? get32(b, o + 4) & 0xffff : get16(b, o + 2);
  const tw = wide ? get32(b, o + 8) & 0xffff : get16(b, o + 4);
  switch (layout) {
    case ENV_PROT32:
      fpu.fip = get32(b, o + 12);
      fpu.fcs = get16(b, o + 16);
      fpu.fop = get16(b, o + 18) & 0x7ff;
      fpu.fdp = get32(b, o + 20);
      fpu.fds = get16(b, o + 24);
      break;
    case ENV_REAL32: {
      const w = get32(b, o + 16);
      fpu.fcs = 0;
      fpu.fip = (get16(b, o + 12) | (((w >>> 12) & 0xffff) << 16)) >>> 0;
      fpu.fop = w & 0x7ff;
      fpu.fds = 0;
      fpu.fdp = (get16(b, o + 20) | (((get32(b, o + 24) >>> 12) & 0xffff) << 16)) >>> 0;
      break;
    }
    case ENV_PROT16:
      fpu.fip = get16(b, o + 6);
      fpu.fcs = get16(b, o + 8);
      fpu.fdp = get16(b, o + 10);
      fpu.fds = get16(b, o + 12);
      break;
    default: {
      const w = get16(b, o + 8);
      fpu.fcs = 0;
      fpu.fip = get16(b, o + 6) | ((w >>> 12) << 16);
      fpu.fop = w & 0x7ff;
      fpu.fds = 0;
      fpu.fdp = get16(b, o + 10) | ((get16(b, o + 12) >>> 12) << 16);
      break;
    }
  }
  fpu.tagWord = tw;
  fpu.setControlWord(cw);
  fpu.statusWord = sw;
}

/** FNSAVE: environment, ST(0)..ST(7) (10 bytes each), then FNINIT. */
export function fsave(fpu: X87, b: Uint8Array, o: number, layout: number): void {
  writeEnv(fpu, b, o, layout);
  const base = o + envSize(layout);
  for (let i = 0; i < 8; i++) putReg(b, base + 10 * i, fpu.st(i));
  fpu.fninit();
}

/** FRSTOR. */
export function frstor(fpu: X87, b: Uint8Array, o: number, layout: number): void {
  fldenv(fpu, b, o, layout);
  const base = o + envSize(layout);
  for (let i = 0; i < 8; i++) getReg(b, base + 10 * i, fpu.st(i));
}

/**
 * FXSAVE, x87/MMX part: bytes 0-23 and the ST(i)/MMi slots at 32 + 16 i (10 bytes each; the 6
 * reserved bytes of each slot and bytes 24-31 (MXCSR), 160-511 (XMM, reserved) are left to the
 * caller, as QEMU leaves them). `wide` selects the REX.W (FXSAVE64) form with 64-bit FIP/FDP.
 * `fipHigh`/`fdpHigh` are the upper halves of the pointers for that form.
 */
export function fxsave(fpu: X87, b: Uint8Array, o: number, wide: boolean, fipHigh = 0, fdpHigh = 0): void {
  put16(b, o + FXSAVE_FCW, fpu.cw);
  put16(b, o + FXSAVE_FSW, fpu.statusWord);
  b[o + FXSAVE_FTW] = fpu.abridgedTagWord;
  b[o + FXSAVE_FTW + 1] = 0;
  put16(b, o + FXSAVE_FOP, fpu.fop & 0x7ff);
  put32(b, o + FXSAVE_FIP, fpu.fip);
  if (wide) {
    put32(b, o + FXSAVE_FCS, fipHigh);
    put32(b, o + FXSAVE_FDP, fpu.fdp);
    put32(b, o + FXSAVE_FDS, fdpHigh);
  } else {
    put16(b, o + FXSAVE_FCS, fpu.fcs);
    put16(b, o + FXSAVE_FCS + 2, 0);
    put32(b, o + FXSAVE_FDP, fpu.fdp);
    put16(b, o + FXSAVE_FDS, fpu.fds);
    put16(b, o + FXSAVE_FDS + 2, 0);
  }
  for (let i = 0; i < 8; i++) putReg(b, o + FXSAVE_ST0 + 16 * i, fpu.st(i));
}

/**
 * FXRSTOR, x87/MMX part (the caller loads MXCSR and the XMM registers, and checks MXCSR). `wide`
 * (FXRSTOR64) loads 64-bit FIP/FDP from bytes 8 and 16; FCS and FDS become 0.
 */
export function fxrstor(fpu: X87, b: Uint8Array, o: number, wide: boolean): void {
  fpu.setControlWord(get16(b, o + FXSAVE_FCW));
  fpu.statusWord = get16(b, o + FXSAVE_FSW);
  fpu.abridgedTagWord = b[o + FXSAVE_FTW]!;
  fpu.fop = get16(b, o + FXSAVE_FOP) & 0x7ff;
  fpu.fip = get32(b, o + FXSAVE_FIP);
  fpu.fdp = get32(b, o + FXSAVE_FDP);
  if (wide) {
    // 64-bit pointers, kept in the signed form of 64-bit-mode addresses (exact below 2^53).
    fpu.fip += (get32(b, o + FXSAVE_FCS) | 0) * 4294967296;
    fpu.fdp += (get32(b, o + FXSAVE_FDS) | 0) * 4294967296;
    fpu.fcs = 0;
    fpu.fds = 0;
  } else {
    fpu.fcs = get16(b, o + FXSAVE_FCS);
    fpu.fds = get16(b, o + FXSAVE_FDS);
  }
  for (let i = 0; i < 8; i++) getReg(b, o + FXSAVE_ST0 + 16 * i, fpu.st(i));
}
