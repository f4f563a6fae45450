/**
 * SSE4.1 packed-integer operations (SDM Vol. 2, each instruction's page) on the scratch lanes A
 * (destination), B (source) into R, all on 16-byte XMM registers. The imm8 of PBLENDW and MPSADBW
 * and the XMM0 mask of PBLENDVB come through `sse41Control`, set by the handler before the call.
 */
import type { IntOp } from './integer.js';
import { A, B, R } from './lanes.js';

const { u8: a8, i8: as8, u16: a16, u32: a32, i32: as32 } = A;
const { u8: b8, i8: bs8, u16: b16, i16: bs16, u32: b32, i32: bs32 } = B;
const { u8: r8, u16: r16, u32: r32 } = R;

/** The handler's imm8, and XMM0 as bytes (PBLENDVB's mask). */
export const sse41Control = { imm: 0, xmm0: new Uint8Array(16) };

/** Unsigned 32 x 32 -> 64 product of x and y (uint32 values): [low, high] words into r32[q], r32[q+1]. */
function mulU32(x: number, y: number, q: number): void {
  const xl = x & 0xffff;
  const xh = x >>> 16;
  const yl = y & 0xffff;
  const yh = y >>> 16;
  const ll = xl * yl;
  const mid = xh * yl + xl * yh + Math.floor(ll / 65536);
  r32[q] = ((mid & 0xffff) * 65536 + (ll & 0xffff)) >>> 0;
  r32[q + 1] = (xh * yh + Math.floor(mid / 65536)) >>> 0;
}

const satU16 = (v: number): number => (v < 0 ? 0 : Math.min(v, 0xffff));

/** Operations keyed by the decoder's mnemonic prefix (`Pminsb` for Pminsb_xmm_xmmm128). */
export const SSE41_OPS: Record<string, IntOp> = {
  Pminsb: () => {
    for (let i = 0; i < 16; i++) r8[i] = Math.min(as8[i]!, bs8[i]!);
  },
  Pmaxsb: () => {
    for (let i = 0; i < 16; i++) r8[i] = Math.max(as8[i]!, bs8[i]!);
  },
  Pminuw: () => {
    for (let i = 0; i < 8; i++) r16[i] = Math.min(a16[i]!, b16[i]!);
  },
  Pmaxuw: () => {
    for (let i = 0; i < 8; i++) r16[i] = Math.max(a16[i]!, b16[i]!);
  },
  Pminsd: () => {
    for (let i = 0; i < 4; i++) r32[i] = Math.min(as32[i]!, bs32[i]!);
  },
  Pmaxsd: () => {
    for (let i = 0; i < 4; i++) r32[i] = Math.max(as32[i]!, bs32[i]!);
  },
  Pminud: () => {
    for (let i = 0; i < 4; i++) r32[i] = Math.min(a32[i]!, b32[i]!);
  },
  Pmaxud: () => {
    for (let i = 0; i < 4; i++) r32[i] = Math.max(a32[i]!, b32[i]!);
  },
  /** The low 32 bits of each signed dword product. */
  Pmulld: () => {
    for (let i = 0; i < 4; i++) r32[i] = Math.imul(a32[i]!, b32[i]!);
  },
  /** Signed dwords 0 and 2 multiplied into two signed quadwords. */
  Pmuldq: () => {
    for (let q = 0; q < 4; q += 2) {
      const x = a32[q]!;
      const y = b32[q]!;
      mulU32(x, y, q);
      // Two's complement: x*y (signed) = xu*yu - 2^32*(x<0 ? yu : 0) - 2^32*(y<0 ? xu : 0) mod 2^64.
      let hi = r32[q + 1]!;
      if (x & 0x80000000) hi -= y;
      if (y & 0x80000000) hi -= x;
      r32[q + 1] = hi >>> 0;
    }
  },
  Pcmpeqq: () => {
    for (let q = 0; q < 4; q += 2) {
      const eq = a32[q] === b32[q] && a32[q + 1] === b32[q + 1] ? 0xffffffff : 0;
      r32[q] = eq;
      r32[q + 1] = eq;
    }
  },
  /** Signed dwords of A then B to unsigned-saturated words. */
  Packusdw: () => {
    for (let i = 0; i < 4; i++) {
      r16[i] = satU16(as32[i]!);
      r16[4 + i] = satU16(bs32[i]!);
    }
  },
  /** The minimum unsigned word of B in word 0, its (lowest) index in bits 18:16, the rest zero. */
  Phminposuw: () => {
    let min = b16[0]!;
    let at = 0;
    for (let i = 1; i < 8; i++) {
      if (b16[i]! < min) {
        min = b16[i]!;
        at = i;
      }
    }
    r32[0] = (min | (at << 16)) >>> 0;
    r32[1] = 0;
    r32[2] = 0;
    r32[3] = 0;
  },
  /** Word i from B where imm8 bit i is set, else from A. */
  Pblendw: () => {
    const m = sse41Control.imm;
    for (let i = 0; i < 8; i++) r16[i] = (m >>> i) & 1 ? b16[i]! : a16[i]!;
  },
  /** Byte i from B where XMM0's byte i has its top bit set, else from A. */
  Pblendvb: () => {
    const m = sse41Control.xmm0;
    for (let i = 0; i < 16; i++) r8[i] = m[i]! & 0x80 ? b8[i]! : a8[i]!;
  },
  /**
   * Eight sums of absolute differences: the 4-byte block of B at 4*imm8[1:0] against the eight 4-byte
   * windows of A starting at byte 4*imm8[2] + i.
   */
  Mpsadbw: () => {
    const m = sse41Control.imm;
    const ao = m & 4;
    const bo = (m & 3) * 4;
    for (let i = 0; i < 8; i++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += Math.abs(a8[ao + i + j]! - b8[bo + j]!);
      r16[i] = s;
    }
  },
};

/** PMOVSX/PMOVZX: element width in and out (bytes) and signedness, keyed by mnemonic prefix. */
export const PMOV_FORMS: Record<
  string,
  { readonly from: number; readonly to: number; readonly signed: boolean }
> = {
  Pmovsxbw: { from: 1, to: 2, signed: true },
  Pmovsxbd: { from: 1, to: 4, signed: true },
  Pmovsxbq: { from: 1, to: 8, signed: true },
  Pmovsxwd: { from: 2, to: 4, signed: true },
  Pmovsxwq: { from: 2, to: 8, signed: true },
  Pmovsxdq: { from: 4, to: 8, signed: true },
  Pmovzxbw: { from: 1, to: 2, signed: false },
  Pmovzxbd: { from: 1, to: 4, signed: false },
  Pmovzxbq: { from: 1, to: 8, signed: false },
  Pmovzxwd: { from: 2, to: 4, signed: false },
  Pmovzxwq: { from: 2, to: 8, signed: false },
  Pmovzxdq: { from: 4, to: 8, signed: false },
};

/** Sign- or zero-extends the low elements of B (`from` bytes each) to `to`-byte elements of R. */
export function pmov(from: number, to: number, signed: boolean): void {
  const count = 16 / to;
  for (let i = 0; i < count; i++) {
    let v: number;
    if (from === 1) v = signed ? bs8[i]! : b8[i]!;
    else if (from === 2) v = signed ? bs16[i]! : b16[i]!;
    else v = signed ? bs32[i]! : b32[i]!;
    const o = i * to;
    // Little-endian store of the extended value, byte by byte; bytes above 4 are the sign fill.
    const fill = v < 0 ? 0xff : 0;
    for (let k = 0; k < to; k++) r8[o + k] = k < 4 ? (v >>> (8 * k)) & 0xff : fill;
  }
}
