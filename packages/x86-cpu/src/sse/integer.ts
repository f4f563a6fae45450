/**
 * Packed-integer operations of SSE/SSE2 on the scratch lanes A (destination), B (source) into R, for a
 * register of `n` bytes: 16 for XMM, 8 for the MMX-register forms SSE added (PAVGB mm, PSADBW mm...).
 * Semantics follow the SDM Vol. 2 pages of each instruction.
 */
import { A, B, R } from './lanes.js';

export type IntOp = (n: number) => void;

const { u8: a8, i8: as8, u16: a16, i16: as16, u32: a32, i32: as32 } = A;
const { u8: b8, i8: bs8, u16: b16, i16: bs16, u32: b32, i32: bs32 } = B;
const { u8: r8, i8: rs8, u16: r16, i16: rs16, u32: r32, i32: rs32 } = R;

const satS8 = (v: number): number => Math.max(-128, Math.min(127, v));
const satU8 = (v: number): number => Math.max(0, Math.min(255, v));
const satS16 = (v: number): number => Math.max(-32768, Math.min(32767, v));
const satU16 = (v: number): number => Math.max(0, Math.min(65535, v));

function addQ(n: number, sub: boolean): void {
  for (let q = 0; q < n / 4; q += 2) {
    const lo = sub ? a32[q]! - b32[q]! : a32[q]! + b32[q]!;
    r32[q] = lo;
    const carry = sub ? (lo < 0 ? 1 : 0) : lo > 0xffffffff ? 1 : 0;
    r32[q + 1] = sub ? a32[q + 1]! - b32[q + 1]! - carry : a32[q + 1]! + b32[q + 1]! + carry;
  }
}

/** Shift count of PSLL/PSRL/PSRA by register: the low 64 bits of B, saturated to 255. */
function shiftCount(): number {
  return b32[1] !== 0 || b32[0]! > 255 ? 255 : b32[0]!;
}

function shiftQ(n: number, left: boolean): void {
  const c = shiftCount();
  for (let q = 0; q < n / 4; q += 2) {
    const lo = a32[q]!;
    const hi = a32[q + 1]!;
    if (c > 63) {
      r32[q] = 0;
      r32[q + 1] = 0;
    } else if (c === 0) {
      r32[q] = lo;
      r32[q + 1] = hi;
    } else if (c >= 32) {
      r32[q] = left ? 0 : hi >>> (c - 32);
      r32[q + 1] = left ? lo << (c - 32) : 0;
    } else if (left) {
      r32[q] = lo << c;
      r32[q + 1] = (hi << c) | (lo >>> (32 - c));
    } else {
      r32[q] = (lo >>> c) | (hi << (32 - c));
      r32[q + 1] = hi >>> c;
    }
  }
}

/** Operations keyed by the decoder's mnemonic prefix (`Paddb` for Paddb_xmm_xmmm128). */
export const INT_OPS: Record<string, IntOp> = {
  Paddb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = a8[i]! + b8[i]!;
  },
  Paddw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = a16[i]! + b16[i]!;
  },
  Paddd: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i]! + b32[i]!;
  },
  Paddq: (n) => addQ(n, false),
  Psubb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = a8[i]! - b8[i]!;
  },
  Psubw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = a16[i]! - b16[i]!;
  },
  Psubd: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i]! - b32[i]!;
  },
  Psubq: (n) => addQ(n, true),
  Paddsb: (n) => {
    for (let i = 0; i < n; i++) rs8[i] = satS8(as8[i]! + bs8[i]!);
  },
  Paddsw: (n) => {
    for (let i = 0; i < n / 2; i++) rs16[i] = satS16(as16[i]! + bs16[i]!);
  },
  Paddusb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = satU8(a8[i]! + b8[i]!);
  },
  Paddusw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = satU16(a16[i]! + b16[i]!);
  },
  Psubsb: (n) => {
    for (let i = 0; i < n; i++) rs8[i] = satS8(as8[i]! - bs8[i]!);
  },
  Psubsw: (n) => {
    for (let i = 0; i < n / 2; i++) rs16[i] = satS16(as16[i]! - bs16[i]!);
  },
  Psubusb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = satU8(a8[i]! - b8[i]!);
  },
  Psubusw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = satU16(a16[i]! - b16[i]!);
  },
  Pcmpeqb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = a8[i] === b8[i] ? 0xff : 0;
  },
  Pcmpeqw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = a16[i] === b16[i] ? 0xffff : 0;
  },
  Pcmpeqd: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i] === b32[i] ? 0xffffffff : 0;
  },
  Pcmpgtb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = as8[i]! > bs8[i]! ? 0xff : 0;
  },
  Pcmpgtw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = as16[i]! > bs16[i]! ? 0xffff : 0;
  },
  Pcmpgtd: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = as32[i]! > bs32[i]! ? 0xffffffff : 0;
  },
  Pmullw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = Math.imul(as16[i]!, bs16[i]!);
  },
  Pmulhw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = (as16[i]! * bs16[i]!) >> 16;
  },
  Pmulhuw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = (a16[i]! * b16[i]!) / 65536;
  },
  Pmuludq: (n) => {
    // Low dword of each quadword, unsigned 32 x 32 -> 64, split exactly into 16-bit halves.
    for (let q = 0; q < n / 4; q += 2) {
      const x = a32[q]!;
      const y = b32[q]!;
      const xl = x & 0xffff;
      const xh = x >>> 16;
      const yl = y & 0xffff;
      const yh = y >>> 16;
      const ll = xl * yl;
      const mid = xh * yl + xl * yh + Math.floor(ll / 65536);
      r32[q] = ((mid & 0xffff) * 65536 + (ll & 0xffff)) >>> 0;
      r32[q + 1] = (xh * yh + Math.floor(mid / 65536)) >>> 0;
    }
  },
  Pmaddwd: (n) => {
    // 0x8000*0x8000 twice wraps to 0x80000000, as the hardware does.
    for (let i = 0; i < n / 4; i++)
      rs32[i] = as16[2 * i]! * bs16[2 * i]! + as16[2 * i + 1]! * bs16[2 * i + 1]!;
  },
  Pand: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i]! & b32[i]!;
  },
  Pandn: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = ~a32[i]! & b32[i]!;
  },
  Por: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i]! | b32[i]!;
  },
  Pxor: (n) => {
    for (let i = 0; i < n / 4; i++) r32[i] = a32[i]! ^ b32[i]!;
  },
  Psllw: (n) => {
    const c = shiftCount();
    for (let i = 0; i < n / 2; i++) r16[i] = c > 15 ? 0 : a16[i]! << c;
  },
  Pslld: (n) => {
    const c = shiftCount();
    for (let i = 0; i < n / 4; i++) r32[i] = c > 31 ? 0 : a32[i]! << c;
  },
  Psllq: (n) => shiftQ(n, true),
  Psrlw: (n) => {
    const c = shiftCount();
    for (let i = 0; i < n / 2; i++) r16[i] = c > 15 ? 0 : a16[i]! >>> c;
  },
  Psrld: (n) => {
    const c = shiftCount();
    for (let i = 0; i < n / 4; i++) r32[i] = c > 31 ? 0 : a32[i]! >>> c;
  },
  Psrlq: (n) => shiftQ(n, false),
  Psraw: (n) => {
    const c = Math.min(shiftCount(), 15);
    for (let i = 0; i < n / 2; i++) rs16[i] = as16[i]! >> c;
  },
  Psrad: (n) => {
    const c = Math.min(shiftCount(), 31);
    for (let i = 0; i < n / 4; i++) rs32[i] = as32[i]! >> c;
  },
  Packsswb: (n) => {
    const h = n / 2;
    for (let i = 0; i < h; i++) {
      rs8[i] = satS8(as16[i]!);
      rs8[i + h] = satS8(bs16[i]!);
    }
  },
  Packuswb: (n) => {
    const h = n / 2;
    for (let i = 0; i < h; i++) {
      r8[i] = satU8(as16[i]!);
      r8[i + h] = satU8(bs16[i]!);
    }
  },
  Packssdw: (n) => {
    const h = n / 4;
    for (let i = 0; i < h; i++) {
      rs16[i] = satS16(as32[i]!);
      rs16[i + h] = satS16(bs32[i]!);
    }
  },
  Punpcklbw: (n) => {
    for (let i = 0; i < n / 2; i++) {
      r8[2 * i] = a8[i]!;
      r8[2 * i + 1] = b8[i]!;
    }
  },
  Punpcklwd: (n) => {
    for (let i = 0; i < n / 4; i++) {
      r16[2 * i] = a16[i]!;
      r16[2 * i + 1] = b16[i]!;
    }
  },
  Punpckldq: (n) => {
    for (let i = 0; i < n / 8; i++) {
      r32[2 * i] = a32[i]!;
      r32[2 * i + 1] = b32[i]!;
    }
  },
  Punpcklqdq: () => {
    r32[2] = b32[0]!;
    r32[3] = b32[1]!;
    r32[0] = a32[0]!;
    r32[1] = a32[1]!;
  },
  Punpckhbw: (n) => {
    const h = n / 2;
    for (let i = 0; i < h; i++) {
      r8[2 * i] = a8[i + h]!;
      r8[2 * i + 1] = b8[i + h]!;
    }
  },
  Punpckhwd: (n) => {
    const h = n / 4;
    for (let i = 0; i < h; i++) {
      r16[2 * i] = a16[i + h]!;
      r16[2 * i + 1] = b16[i + h]!;
    }
  },
  Punpckhdq: (n) => {
    const h = n / 8;
    for (let i = 0; i < h; i++) {
      r32[2 * i] = a32[i + h]!;
      r32[2 * i + 1] = b32[i + h]!;
    }
  },
  Punpckhqdq: () => {
    r32[0] = a32[2]!;
    r32[1] = a32[3]!;
    r32[2] = b32[2]!;
    r32[3] = b32[3]!;
  },
  Pavgb: (n) => {
    for (let i = 0; i < n; i++) r8[i] = (a8[i]! + b8[i]! + 1) >>> 1;
  },
  Pavgw: (n) => {
    for (let i = 0; i < n / 2; i++) r16[i] = (a16[i]! + b16[i]! + 1) >>> 1;
  },
  Pminub: (n) => {
    for (let i = 0; i < n; i++) r8[i] = Math.min(a8[i]!, b8[i]!);
  },
  Pmaxub: (n) => {
    for (let i = 0; i < n; i++) r8[i] = Math.max(a8[i]!, b8[i]!);
  },
  Pminsw: (n) => {
    for (let i = 0; i < n / 2; i++) rs16[i] = Math.min(as16[i]!, bs16[i]!);
  },
  Pmaxsw: (n) => {
    for (let i = 0; i < n / 2; i++) rs16[i] = Math.max(as16[i]!, bs16[i]!);
  },
  Psadbw: (n) => {
    for (let q = 0; q < n / 8; q++) {
      let s = 0;
      for (let i = 8 * q; i < 8 * q + 8; i++) s += Math.abs(a8[i]! - b8[i]!);
      r32[2 * q] = s;
      r32[2 * q + 1] = 0;
    }
  },
};

/** Shift-by-immediate groups: 0F 71/72/73 /reg, as [mnemonic, operation]. */
export const SHIFT_IMM_OPS: readonly (readonly [string, IntOp])[] = [
  ['Psrlw', INT_OPS.Psrlw!],
  ['Psraw', INT_OPS.Psraw!],
  ['Psllw', INT_OPS.Psllw!],
  ['Psrld', INT_OPS.Psrld!],
  ['Psrad', INT_OPS.Psrad!],
  ['Pslld', INT_OPS.Pslld!],
  ['Psrlq', INT_OPS.Psrlq!],
  ['Psllq', INT_OPS.Psllq!],
];

/** PSLLDQ/PSRLDQ: byte shift of the whole 128-bit register by imm8 (> 15 clears it). */
export function byteShift(count: number, left: boolean): void {
  for (let i = 0; i < 16; i++) {
    const j = left ? i - count : i + count;
    r8[i] = j >= 0 && j < 16 ? a8[j]! : 0;
  }
}

/** PSHUFD (n = 16, dwords), PSHUFW (8, words), PSHUFLW/PSHUFHW (words of one half). */
export function shuffle(kind: 'd' | 'w' | 'lw' | 'hw', imm: number): void {
  if (kind === 'd') {
    for (let i = 0; i < 4; i++) r32[i] = b32[(imm >>> (2 * i)) & 3]!;
    return;
  }
  if (kind === 'w') {
    for (let i = 0; i < 4; i++) r16[i] = b16[(imm >>> (2 * i)) & 3]!;
    return;
  }
  const base = kind === 'lw' ? 0 : 4;
  const keep = 4 - base;
  for (let i = 0; i < 4; i++) r16[keep + i] = b16[keep + i]!;
  for (let i = 0; i < 4; i++) r16[base + i] = b16[base + ((imm >>> (2 * i)) & 3)]!;
}

/** PMOVMSKB: the top bit of each of the n bytes of B. */
export function byteMask(n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) m |= (b8[i]! >>> 7) << i;
  return m;
}
