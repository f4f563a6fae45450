// MMX: MM0..MM7 alias the significands of the physical x87 registers R0..R7 (SDM Vol. 1, 9.5).
// Every MMX instruction except EMMS sets TOP = 0 and tags all registers valid; a write also sets
// the register's sign/exponent field to all ones. Operations are dispatched from a table keyed by
// the second opcode byte (0F xx), the same byte the decoder reports.

import type { X87 } from './fpu.js';

// Scratch operands: a (destination), b (source), r (result), each 8 bytes with typed views.
const bufA = new ArrayBuffer(8);
const bufB = new ArrayBuffer(8);
const bufR = new ArrayBuffer(8);
const a8 = new Uint8Array(bufA);
const as8 = new Int8Array(bufA);
const a16 = new Uint16Array(bufA);
const as16 = new Int16Array(bufA);
const a32 = new Uint32Array(bufA);
const as32 = new Int32Array(bufA);
const b8 = new Uint8Array(bufB);
const bs8 = new Int8Array(bufB);
const b16 = new Uint16Array(bufB);
const bs16 = new Int16Array(bufB);
const b32 = new Uint32Array(bufB);
const bs32 = new Int32Array(bufB);
const r8 = new Uint8Array(bufR);
const rs8 = new Int8Array(bufR);
const r16 = new Uint16Array(bufR);
const rs16 = new Int16Array(bufR);
const r32 = new Uint32Array(bufR);
const rs32 = new Int32Array(bufR);

function satS8(v: number): number {
  return Math.max(-128, Math.min(127, v));
}
function satU8(v: number): number {
  return Math.max(0, Math.min(255, v));
}
function satS16(v: number): number {
  return Math.max(-32768, Math.min(32767, v));
}
function satU16(v: number): number {
  return Math.max(0, Math.min(65535, v));
}

/** 64-bit shift count of the source operand (b), saturated to 64. */
function count(): number {
  return b32[1] !== 0 || b32[0]! > 64 ? 64 : b32[0]!;
}

type Handler = () => void;

const handlers: (Handler | undefined)[] = new Array(256).fill(undefined);

function def(opcode: number, h: Handler): void {
  handlers[opcode] = h;
}

// Wrapping add/sub.
def(0xfc, () => {
  for (let i = 0; i < 8; i++) r8[i] = a8[i]! + b8[i]!;
});
def(0xfd, () => {
  for (let i = 0; i < 4; i++) r16[i] = a16[i]! + b16[i]!;
});
def(0xfe, () => {
  for (let i = 0; i < 2; i++) r32[i] = a32[i]! + b32[i]!;
});
def(0xd4, () => {
  const lo = a32[0]! + b32[0]!;
  r32[0] = lo;
  r32[1] = a32[1]! + b32[1]! + (lo > 0xffffffff ? 1 : 0);
});
def(0xf8, () => {
  for (let i = 0; i < 8; i++) r8[i] = a8[i]! - b8[i]!;
});
def(0xf9, () => {
  for (let i = 0; i < 4; i++) r16[i] = a16[i]! - b16[i]!;
});
def(0xfa, () => {
  for (let i = 0; i < 2; i++) r32[i] = a32[i]! - b32[i]!;
});
def(0xfb, () => {
  const lo = a32[0]! - b32[0]!;
  r32[0] = lo;
  r32[1] = a32[1]! - b32[1]! - (lo < 0 ? 1 : 0);
});
// Saturating add/sub.
def(0xec, () => {
  for (let i = 0; i < 8; i++) rs8[i] = satS8(as8[i]! + bs8[i]!);
});
def(0xed, () => {
  for (let i = 0; i < 4; i++) rs16[i] = satS16(as16[i]! + bs16[i]!);
});
def(0xdc, () => {
  for (let i = 0; i < 8; i++) r8[i] = satU8(a8[i]! + b8[i]!);
});
def(0xdd, () => {
  for (let i = 0; i < 4; i++) r16[i] = satU16(a16[i]! + b16[i]!);
});
def(0xe8, () => {
  for (let i = 0; i < 8; i++) rs8[i] = satS8(as8[i]! - bs8[i]!);
});
def(0xe9, () => {
  for (let i = 0; i < 4; i++) rs16[i] = satS16(as16[i]! - bs16[i]!);
});
def(0xd8, () => {
  for (let i = 0; i < 8; i++) r8[i] = satU8(a8[i]! - b8[i]!);
});
def(0xd9, () => {
  for (let i = 0; i < 4; i++) r16[i] = satU16(a16[i]! - b16[i]!);
});
// Compares.
def(0x74, () => {
  for (let i = 0; i < 8; i++) r8[i] = a8[i] === b8[i] ? 0xff : 0;
});
def(0x75, () => {
  for (let i = 0; i < 4; i++) r16[i] = a16[i] === b16[i] ? 0xffff : 0;
});
def(0x76, () => {
  for (let i = 0; i < 2; i++) r32[i] = a32[i] === b32[i] ? 0xffffffff : 0;
});
def(0x64, () => {
  for (let i = 0; i < 8; i++) r8[i] = as8[i]! > bs8[i]! ? 0xff : 0;
});
def(0x65, () => {
  for (let i = 0; i < 4; i++) r16[i] = as16[i]! > bs16[i]! ? 0xffff : 0;
});
def(0x66, () => {
  for (let i = 0; i < 2; i++) r32[i] = as32[i]! > bs32[i]! ? 0xffffffff : 0;
});
// Multiplies.
def(0xd5, () => {
  for (let i = 0; i < 4; i++) r16[i] = Math.imul(as16[i]!, bs16[i]!);
});
def(0xe5, () => {
  for (let i = 0; i < 4; i++) r16[i] = (as16[i]! * bs16[i]!) >> 16;
});
def(0xf5, () => {
  // 0x8000*0x8000 twice wraps to 0x80000000, as the hardware does.
  for (let i = 0; i < 2; i++) rs32[i] = as16[2 * i]! * bs16[2 * i]! + as16[2 * i + 1]! * bs16[2 * i + 1]!;
});
// Logic.
def(0xdb, () => {
  r32[0] = a32[0]! & b32[0]!;
  r32[1] = a32[1]! & b32[1]!;
});
def(0xdf, () => {
  r32[0] = ~a32[0]! & b32[0]!;
  r32[1] = ~a32[1]! & b32[1]!;
});
def(0xeb, () => {
  r32[0] = a32[0]! | b32[0]!;
  r32[1] = a32[1]! | b32[1]!;
});
def(0xef, () => {
  r32[0] = a32[0]! ^ b32[0]!;
  r32[1] = a32[1]! ^ b32[1]!;
});
// Shifts by the 64-bit count in the source.
def(0xf1, () => {
  const n = count();
  for (let i = 0; i < 4; i++) r16[i] = n > 15 ? 0 : a16[i]! << n;
});
def(0xf2, () => {
  const n = count();
  for (let i = 0; i < 2; i++) r32[i] = n > 31 ? 0 : a32[i]! << n;
});
def(0xf3, () => {
  const n = count();
  if (n > 63) {
    r32[0] = 0;
    r32[1] = 0;
  } else if (n >= 32) {
    r32[1] = a32[0]! << (n - 32);
    r32[0] = 0;
  } else if (n === 0) {
    r32[0] = a32[0]!;
    r32[1] = a32[1]!;
  } else {
    r32[1] = (a32[1]! << n) | (a32[0]! >>> (32 - n));
    r32[0] = a32[0]! << n;
  }
});
def(0xd1, () => {
  const n = count();
  for (let i = 0; i < 4; i++) r16[i] = n > 15 ? 0 : a16[i]! >>> n;
});
def(0xd2, () => {
  const n = count();
  for (let i = 0; i < 2; i++) r32[i] = n > 31 ? 0 : a32[i]! >>> n;
});
def(0xd3, () => {
  const n = count();
  if (n > 63) {
    r32[0] = 0;
    r32[1] = 0;
  } else if (n >= 32) {
    r32[0] = a32[1]! >>> (n - 32);
    r32[1] = 0;
  } else if (n === 0) {
    r32[0] = a32[0]!;
    r32[1] = a32[1]!;
  } else {
    r32[0] = (a32[0]! >>> n) | (a32[1]! << (32 - n));
    r32[1] = a32[1]! >>> n;
  }
});
def(0xe1, () => {
  const n = Math.min(count(), 15);
  for (let i = 0; i < 4; i++) rs16[i] = as16[i]! >> n;
});
def(0xe2, () => {
  const n = Math.min(count(), 31);
  for (let i = 0; i < 2; i++) rs32[i] = as32[i]! >> n;
});
// Packs: destination elements form the low half, source elements the high half.
def(0x63, () => {
  for (let i = 0; i < 4; i++) {
    rs8[i] = satS8(as16[i]!);
    rs8[i + 4] = satS8(bs16[i]!);
  }
});
def(0x6b, () => {
  for (let i = 0; i < 2; i++) {
    rs16[i] = satS16(as32[i]!);
    rs16[i + 2] = satS16(bs32[i]!);
  }
});
def(0x67, () => {
  for (let i = 0; i < 4; i++) {
    r8[i] = satU8(as16[i]!);
    r8[i + 4] = satU8(bs16[i]!);
  }
});
// Unpacks: interleave the low (60-62) or high (68-6A) halves, destination element first.
def(0x60, () => {
  for (let i = 0; i < 4; i++) {
    r8[2 * i] = a8[i]!;
    r8[2 * i + 1] = b8[i]!;
  }
});
def(0x61, () => {
  for (let i = 0; i < 2; i++) {
    r16[2 * i] = a16[i]!;
    r16[2 * i + 1] = b16[i]!;
  }
});
def(0x62, () => {
  r32[1] = b32[0]!;
  r32[0] = a32[0]!;
});
def(0x68, () => {
  for (let i = 0; i < 4; i++) {
    r8[2 * i] = a8[i + 4]!;
    r8[2 * i + 1] = b8[i + 4]!;
  }
});
def(0x69, () => {
  for (let i = 0; i < 2; i++) {
    r16[2 * i] = a16[i + 2]!;
    r16[2 * i + 1] = b16[i + 2]!;
  }
});
def(0x6a, () => {
  r32[0] = a32[1]!;
  r32[1] = b32[1]!;
});

/** MMX state entry: TOP = 0 and all tags valid (every MMX instruction except EMMS). */
export function mmxEnter(fpu: X87): void {
  fpu.top = 0;
  fpu.empty.fill(0);
}

/** EMMS: all registers empty. */
export function emms(fpu: X87): void {
  fpu.empty.fill(1);
}

/** Low 32 bits of MMi (reading enters the MMX state). */
export function mmxReadLo(fpu: X87, i: number): number {
  mmxEnter(fpu);
  return fpu.regs[i & 7]!.lo;
}

/** High 32 bits of MMi. */
export function mmxReadHi(fpu: X87, i: number): number {
  mmxEnter(fpu);
  return fpu.regs[i & 7]!.hi;
}

/** MMi = hi:lo (MOVD writes hi = 0); the exponent field becomes all ones. */
export function mmxWrite(fpu: X87, i: number, lo: number, hi: number): void {
  mmxEnter(fpu);
  fpu.regs[i & 7]!.set(0xffff, hi, lo);
}

/** Whether the 0F xx opcode is an MMX operation `mmxOp` implements. */
export function isMmxOp(opcode: number): boolean {
  return handlers[opcode & 0xff] !== undefined;
}

/**
 * MMdst = MMdst op src (srcHi:srcLo from MMsrc or m64). Returns false when `opcode` is not an MMX
 * operation handled here (the caller raises #UD).
 */
export function mmxOp(fpu: X87, opcode: number, dst: number, srcLo: number, srcHi: number): boolean {
  const h = handlers[opcode & 0xff];
  if (h === undefined) return false;
  const d = fpu.regs[dst & 7]!;
  a32[0] = d.lo;
  a32[1] = d.hi;
  b32[0] = srcLo;
  b32[1] = srcHi;
  h();
  mmxWrite(fpu, dst, r32[0]!, r32[1]!);
  return true;
}

/** Shift-by-immediate group 0F 71/72/73 with ModRM reg 2 (PSRL), 4 (PSRA), 6 (PSLL). */
export function mmxShiftImm(fpu: X87, opcode: number, reg: number, dst: number, imm: number): boolean {
  const size = opcode === 0x71 ? 0 : opcode === 0x72 ? 1 : opcode === 0x73 ? 2 : -1;
  if (size < 0) return false;
  let op: number;
  if (reg === 2) op = 0xd1 + size;
  else if (reg === 6) op = 0xf1 + size;
  else if (reg === 4 && size < 2) op = 0xe1 + size;
  else return false;
  return mmxOp(fpu, op, dst, imm & 0xff, 0);
}
