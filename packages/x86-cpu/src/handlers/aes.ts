/**
 * AES-NI and PCLMULQDQ (SDM Vol. 2A/2B, the legacy SSE encodings; the VEX.128 forms in `avx2.ts` run
 * the same engines, exported here, on the scratch lanes A/B into R):
 * AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC, AESKEYGENASSIST (CPUID.01H:ECX.AES, bit 25) and
 * PCLMULQDQ (bit 1). Exception type 4: the SSE entry checks and an aligned m128 (#GP(0) otherwise).
 *
 * The AES state is the XMM register with byte i = state[i mod 4][i div 4] (FIPS-197 §3.4, column
 * major), so a column is one little-endian dword. A round is table driven: `ENC` folds ShiftRows'
 * source selection, SubBytes and MixColumns into four 256-entry tables per row (the classic T-tables),
 * `DEC` the inverse steps, `IMC` InvMixColumns alone. Tables are built once at module load.
 */
import type { Handler } from '../cpu.js';
import { A, B, R } from '../sse/lanes.js';
import { enter, loadA, loadB, storeR, xmm } from './sse-core.js';
import { HandlerList } from './table.js';

// ------------------------------------------------------------------ GF(2^8) and the S-boxes

/** Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 §4.2). */
function gmul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    a = a & 0x80 ? ((a << 1) ^ 0x11b) & 0xff : a << 1;
    b >>= 1;
  }
  return p;
}

const rotl8 = (x: number, n: number): number => ((x << n) | (x >>> (8 - n))) & 0xff;
const rotl32 = (x: number, n: number): number => (n === 0 ? x >>> 0 : ((x << n) | (x >>> (32 - n))) >>> 0);

/** FIPS-197 §5.1.1: the multiplicative inverse (0 for 0) followed by the affine transformation. */
export const SBOX = new Uint8Array(256);
export const INV_SBOX = new Uint8Array(256);
for (let x = 0; x < 256; x++) {
  let inv = 0;
  for (let y = 1; y < 256 && x !== 0; y++) {
    if (gmul(x, y) === 1) {
      inv = y;
      break;
    }
  }
  const s = inv ^ rotl8(inv, 1) ^ rotl8(inv, 2) ^ rotl8(inv, 3) ^ rotl8(inv, 4) ^ 0x63;
  SBOX[x] = s;
  INV_SBOX[s] = x;
}

/**
 * Per source row r (offset r * 256): the column a byte at row r contributes after SubBytes and
 * MixColumns (matrix column r of {02 03 01 01} circulant), InvSubBytes and InvMixColumns ({0e 0b 0d
 * 09}), or InvMixColumns alone.
 */
export const ENC = new Uint32Array(1024);
export const DEC = new Uint32Array(1024);
const IMC = new Uint32Array(1024);
for (let x = 0; x < 256; x++) {
  const s = SBOX[x]!;
  const e = (gmul(s, 2) | (s << 8) | (s << 16) | (gmul(s, 3) << 24)) >>> 0;
  const imc = (v: number): number =>
    (gmul(v, 14) | (gmul(v, 9) << 8) | (gmul(v, 13) << 16) | (gmul(v, 11) << 24)) >>> 0;
  const d = imc(INV_SBOX[x]!);
  const m = imc(x);
  for (let r = 0; r < 4; r++) {
    ENC[r * 256 + x] = rotl32(e, 8 * r);
    DEC[r * 256 + x] = rotl32(d, 8 * r);
    IMC[r * 256 + x] = rotl32(m, 8 * r);
  }
}

/** SubWord: the S-box on each byte of a dword. */
function subWord(w: number): number {
  return (
    (SBOX[w & 0xff]! |
      (SBOX[(w >>> 8) & 0xff]! << 8) |
      (SBOX[(w >>> 16) & 0xff]! << 16) |
      (SBOX[w >>> 24]! << 24)) >>>
    0
  );
}

// ------------------------------------------------------------------ rounds (A = state, B = round key)

/**
 * A full round into R: row r of output column c comes from input column c + r * k (ShiftRows for
 * k = 1, InvShiftRows for k = 3), through `table` ((Inv)SubBytes and (Inv)MixColumns), then
 * AddRoundKey with B.
 */
export function mixRound(table: Uint32Array, k: number): void {
  const s = A.u8;
  for (let c = 0; c < 4; c++) {
    R.u32[c] =
      (table[s[4 * c]!]! ^
        table[256 + s[1 + 4 * ((c + k) & 3)]!]! ^
        table[512 + s[2 + 4 * ((c + 2) & 3)]!]! ^
        table[768 + s[3 + 4 * ((c + 3 * k) & 3)]!]! ^
        B.u32[c]!) >>>
      0;
  }
}

/** The last round into R: the same row selection through the S-box `box` alone, then AddRoundKey. */
export function lastRound(box: Uint8Array, k: number): void {
  const s = A.u8;
  for (let c = 0; c < 4; c++) {
    R.u32[c] =
      ((box[s[4 * c]!]! |
        (box[s[1 + 4 * ((c + k) & 3)]!]! << 8) |
        (box[s[2 + 4 * ((c + 2) & 3)]!]! << 16) |
        (box[s[3 + 4 * ((c + 3 * k) & 3)]!]! << 24)) ^
        B.u32[c]!) >>>
      0;
  }
}

/**
 * AES round instruction, xmm1 = round(xmm1, xmm2/m128): AESENC (`ENC`, k = 1), AESDEC (`DEC`, k = 3),
 * or with `mix` null the last rounds AESENCLAST (`SBOX`, 1) and AESDECLAST (`INV_SBOX`, 3).
 */
function round(mix: Uint32Array | null, box: Uint8Array, k: number): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, 16, true);
    loadA(sse, d);
    if (mix !== null) mixRound(mix, k);
    else lastRound(box, k);
    storeR(sse, d);
  };
}

/** InvMixColumns of B into R (AESIMC's operation). */
export function invMixColumns(): void {
  const s = B.u8;
  for (let c = 0; c < 4; c++) {
    R.u32[c] =
      (IMC[s[4 * c]!]! ^
        IMC[256 + s[4 * c + 1]!]! ^
        IMC[512 + s[4 * c + 2]!]! ^
        IMC[768 + s[4 * c + 3]!]!) >>>
      0;
  }
}

/** AESIMC: xmm1 = InvMixColumns(xmm2/m128), the decryption round keys of the equivalent inverse cipher. */
const aesimc: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 16, true);
  invMixColumns();
  storeR(sse, xmm(ins.op0Register));
};

/**
 * AESKEYGENASSIST: from dwords X1 and X3 of the source, [SubWord(X1), RotWord(SubWord(X1)) ^ RCON,
 * SubWord(X3), RotWord(SubWord(X3)) ^ RCON] with RCON = imm8; RotWord rotates the bytes right by one.
 */
export function keygenAssist(rcon: number): void {
  const x1 = subWord(B.u32[1]!);
  const x3 = subWord(B.u32[3]!);
  R.u32[0] = x1;
  R.u32[1] = (rotl32(x1, 24) ^ rcon) >>> 0;
  R.u32[2] = x3;
  R.u32[3] = (rotl32(x3, 24) ^ rcon) >>> 0;
}

const aeskeygenassist: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 16, true);
  keygenAssist(ins.immediate & 0xff);
  storeR(sse, xmm(ins.op0Register));
};

// ------------------------------------------------------------------ PCLMULQDQ

/**
 * PCLMULQDQ xmm1, xmm2/m128, imm8: the 128-bit carry-less product of quadword imm8[0] of xmm1 and
 * quadword imm8[4] of the source (0 = low, 1 = high). Shift-and-xor over the 64 multiplier bits,
 * the multiplicand kept shifted in four dwords.
 */
export function clmul(imm: number): void {
  const qa = imm & 1 ? 2 : 0;
  const qb = imm & 0x10 ? 2 : 0;
  let s0 = A.u32[qa]!;
  let s1 = A.u32[qa + 1]!;
  let s2 = 0;
  let s3 = 0;
  let r0 = 0;
  let r1 = 0;
  let r2 = 0;
  let r3 = 0;
  for (let w = 0; w < 2; w++) {
    let m = B.u32[qb + w]!;
    for (let i = 0; i < 32; i++) {
      if (m & 1) {
        r0 ^= s0;
        r1 ^= s1;
        r2 ^= s2;
        r3 ^= s3;
      }
      m >>>= 1;
      s3 = (s3 << 1) | (s2 >>> 31);
      s2 = (s2 << 1) | (s1 >>> 31);
      s1 = (s1 << 1) | (s0 >>> 31);
      s0 <<= 1;
    }
  }
  R.u32[0] = r0;
  R.u32[1] = r1;
  R.u32[2] = r2;
  R.u32[3] = r3;
}

const pclmulqdq: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const d = xmm(ins.op0Register);
  loadB(cpu, ins, sse, 16, true);
  loadA(sse, d);
  clmul(ins.immediate);
  storeR(sse, d);
};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Aesenc_xmm_xmmm128', round(ENC, SBOX, 1));
  list.add('Aesenclast_xmm_xmmm128', round(null, SBOX, 1));
  list.add('Aesdec_xmm_xmmm128', round(DEC, INV_SBOX, 3));
  list.add('Aesdeclast_xmm_xmmm128', round(null, INV_SBOX, 3));
  list.add('Aesimc_xmm_xmmm128', aesimc);
  list.add('Aeskeygenassist_xmm_xmmm128_imm8', aeskeygenassist);
  list.add('Pclmulqdq_xmm_xmmm128_imm8', pclmulqdq);
  return list.entries;
}

export const AES_HANDLERS: readonly [number, Handler][] = entries();
