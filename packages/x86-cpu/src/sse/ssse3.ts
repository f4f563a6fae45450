/**
 * SSSE3 packed-integer operations (SDM Vol. 2, each instruction's page) on the scratch lanes A
 * (destination), B (source) into R, for `n` bytes: 16 for XMM, 8 for the MMX-register forms.
 */
import type { IntOp } from './integer.js';
import { A, B, R } from './lanes.js';

const { u8: a8, u16: a16, i16: as16, u32: a32, i32: as32 } = A;
const { u8: b8, i8: bs8, i16: bs16, u32: b32, i32: bs32 } = B;
const { u8: r8, u16: r16, i16: rs16, u32: r32 } = R;

const satS16 = (v: number): number => Math.max(-32768, Math.min(32767, v));

/** PHADDW/PHSUBW/PHADDSW/PHSUBSW: pairs of A's words, then pairs of B's, lower word first. */
function hWords(n: number, sub: boolean, saturate: boolean): void {
  const half = n / 4;
  for (let i = 0; i < half; i++) {
    const x = sub ? as16[2 * i]! - as16[2 * i + 1]! : as16[2 * i]! + as16[2 * i + 1]!;
    const y = sub ? bs16[2 * i]! - bs16[2 * i + 1]! : bs16[2 * i]! + bs16[2 * i + 1]!;
    rs16[i] = saturate ? satS16(x) : x;
    rs16[half + i] = saturate ? satS16(y) : y;
  }
}

/** PHADDD/PHSUBD (wrapping). */
function hDwords(n: number, sub: boolean): void {
  const half = n / 8;
  for (let i = 0; i < half; i++) {
    r32[i] = sub ? a32[2 * i]! - a32[2 * i + 1]! : a32[2 * i]! + a32[2 * i + 1]!;
    r32[half + i] = sub ? b32[2 * i]! - b32[2 * i + 1]! : b32[2 * i]! + b32[2 * i + 1]!;
  }
}

/** PALIGNR's byte count (imm8), set by the handler before it calls the operation. */
export const palignr = { shift: 0 };

/** Operations keyed by the decoder's mnemonic prefix (`Pshufb` for Pshufb_xmm_xmmm128). */
export const SSSE3_OPS: Record<string, IntOp> = {
  Pshufb: (n) => {
    const mask = n - 1;
    for (let i = 0; i < n; i++) r8[i] = b8[i]! & 0x80 ? 0 : a8[b8[i]! & mask]!;
  },
  Phaddw: (n) => hWords(n, false, false),
  Phaddsw: (n) => hWords(n, false, true),
  Phsubw: (n) => hWords(n, true, false),
  Phsubsw: (n) => hWords(n, true, true),
  Phaddd: (n) => hDwords(n, false),
  Phsubd: (n) => hDwords(n, true),
  Pmaddubsw: (n) => {
    // Unsigned bytes of the destination times signed bytes of the source, pairs summed and saturated.
    for (let i = 0; i < n / 2; i++)
      rs16[i] = satS16(a8[2 * i]! * bs8[2 * i]! + a8[2 * i + 1]! * bs8[2 * i + 1]!);
  },
  Pmulhrsw: (n) => {
    // ((a * b >> 14) + 1) >> 1, low 16 bits: 0x8000 * 0x8000 gives 0x8000.
    for (let i = 0; i < n / 2; i++) r16[i] = (((as16[i]! * bs16[i]!) >> 14) + 1) >> 1;
  },
  Psignb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = bs8[i]! < 0 ? -a8[i]! : bs8[i] === 0 ? 0 : a8[i]!;
  },
  Psignw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = bs16[i]! < 0 ? -a16[i]! : bs16[i] === 0 ? 0 : a16[i]!;
  },
  Psignd: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = bs32[i]! < 0 ? -as32[i]! : bs32[i] === 0 ? 0 : a32[i]!;
  },
  Pabsb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = bs8[i]! < 0 ? -bs8[i]! : bs8[i]!;
  },
  Pabsw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = bs16[i]! < 0 ? -bs16[i]! : bs16[i]!;
  },
  Pabsd: (n) => {
    // |-2^31| = 2^31, stored unsigned.
    for (let i = 0; i < n / 4; i++) r32[i] = bs32[i]! < 0 ? -bs32[i]! : bs32[i]!;
  },
  Palignr: (n) => {
    // (A:B) >> 8 * shift, low n bytes: B's bytes first, then A's, then zeros.
    const s = palignr.shift;
    for (let i = 0; i < n; i++) {
      const j = i + s;
      r8[i] = j < n ? b8[j]! : j < 2 * n ? a8[j - n]! : 0;
    }
  },
};
