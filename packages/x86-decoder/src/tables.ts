/**
 * Typed-array views of the opcode table (`table.gen.ts`), built once at module load. Everything the
 * decoder, formatter and encoder need per Code is a typed-array lookup indexed by Code.
 */
import { Register } from './registers.js';
import { CODE_COUNT, OPCODE_ROWS, OperandSpec as K } from './table.gen.js';

/** Per-Code columns (see `OpcodeRow`). */
export const T_MNEMONIC = new Uint16Array(CODE_COUNT);
export const T_VEX = new Uint8Array(CODE_COUNT);
export const T_MAP = new Uint8Array(CODE_COUNT);
export const T_OPCODE = new Uint8Array(CODE_COUNT);
export const T_MP = new Uint8Array(CODE_COUNT);
export const T_REG = new Int8Array(CODE_COUNT);
export const T_RM = new Int8Array(CODE_COUNT);
export const T_OSZ = new Uint8Array(CODE_COUNT);
export const T_OSMODE = new Uint8Array(CODE_COUNT);
export const T_ASZ = new Uint8Array(CODE_COUNT);
export const T_MODES = new Uint8Array(CODE_COUNT);
export const T_W = new Int8Array(CODE_COUNT);
export const T_WIG32 = new Uint8Array(CODE_COUNT);
export const T_L = new Int8Array(CODE_COUNT);
export const T_ATTR = new Uint16Array(CODE_COUNT);
export const T_CPUID = new Uint16Array(CODE_COUNT);
export const T_CPUID2 = new Uint16Array(CODE_COUNT);
export const T_FLAGS_READ = new Uint32Array(CODE_COUNT);
export const T_FLAGS_WRITTEN = new Uint32Array(CODE_COUNT);
export const T_FLAGS_UNDEF = new Uint32Array(CODE_COUNT);
export const T_FLOW = new Uint8Array(CODE_COUNT);
export const T_ENDS_BLOCK = new Uint8Array(CODE_COUNT);
export const T_MEMSIZE = new Uint16Array(CODE_COUNT);
/** Operand specs, 5 per Code. */
export const T_OPS = new Uint8Array(CODE_COUNT * 5);
export const T_OPCOUNT = new Uint8Array(CODE_COUNT);
/** 0: ModRM mod any, 1: memory only, 2: register only. */
export const T_MODREQ = new Uint8Array(CODE_COUNT);
/** 1 when the encoding has a ModRM byte. */
export const T_HAS_MODRM = new Uint8Array(CODE_COUNT);
/** 1 when the opcode's low 3 bits select a register (`50+rd`, `D8 C0+i` is ModRM-based instead). */
export const T_OPCODE_REG = new Uint8Array(CODE_COUNT);
/** 1 for NOP/PAUSE at 90: with REX.B the byte is XCHG r8, rAX instead. */
export const T_NO_REXB = new Uint8Array(CODE_COUNT);
/** VSIB index register class base (Register.XMM0 / YMM0) or 0. */
export const T_VSIB = new Uint16Array(CODE_COUNT);
/** 1 when the encoding uses VEX.vvvv (otherwise vvvv must be 1111b). */
export const T_USES_VVVV = new Uint8Array(CODE_COUNT);
/** For an x87 no-wait Code (FNSTCW), its `9B`-prefixed twin (FSTCW), else 0. */
export const T_FWAIT_TWIN = new Uint16Array(CODE_COUNT);

export const ATTR_LOCK = 1;
export const ATTR_REP = 2;
export const ATTR_REPNE = 4;
export const ATTR_IGNORES_MOD = 8;
export const ATTR_FWAIT = 16;
export const ATTR_XACQUIRE = 32;
export const ATTR_XRELEASE = 64;
export const ATTR_BND = 128;
export const ATTR_NOTRACK = 256;
export const ATTR_HINT = 512;

export const MP_NONE = 0;
export const MP_NP = 1;
export const MP_66 = 2;
export const MP_F3 = 3;
export const MP_F2 = 4;

const MODRM_SPECS = new Set<number>([
  K.r8_or_mem,
  K.r16_or_mem,
  K.r32_or_mem,
  K.r64_or_mem,
  K.mm_or_mem,
  K.xmm_or_mem,
  K.ymm_or_mem,
  K.k_or_mem,
  K.r8_reg,
  K.r16_reg,
  K.r32_reg,
  K.r64_reg,
  K.mm_reg,
  K.xmm_reg,
  K.ymm_reg,
  K.k_reg,
  K.tmm_reg,
  K.cr_reg,
  K.dr_reg,
  K.seg_reg,
  K.r16_rm,
  K.r32_rm,
  K.r64_rm,
  K.mm_rm,
  K.xmm_rm,
  K.ymm_rm,
  K.k_rm,
  K.tmm_rm,
  K.mem,
  K.sibmem,
  K.mem_vsib32x,
  K.mem_vsib32y,
  K.mem_vsib64x,
  K.mem_vsib64y,
  K.r16_reg_mem,
  K.r32_reg_mem,
  K.r64_reg_mem,
]);
const MEM_ONLY_SPECS = new Set<number>([
  K.mem,
  K.sibmem,
  K.mem_vsib32x,
  K.mem_vsib32y,
  K.mem_vsib64x,
  K.mem_vsib64y,
]);
const REG_ONLY_SPECS = new Set<number>([
  K.r16_rm,
  K.r32_rm,
  K.r64_rm,
  K.mm_rm,
  K.xmm_rm,
  K.ymm_rm,
  K.k_rm,
  K.tmm_rm,
  K.sti_opcode,
]);
const VVVV_SPECS = new Set<number>([K.xmm_vvvv, K.ymm_vvvv, K.r32_vvvv, K.r64_vvvv, K.k_vvvv, K.tmm_vvvv]);
const OPCODE_REG_SPECS = new Set<number>([K.r8_opcode, K.r16_opcode, K.r32_opcode, K.r64_opcode]);

/**
 * Match state bits. The decoder packs everything a candidate can depend on into one 32-bit word `S`;
 * candidate `ci` matches when `(S & CAND_MASK[ci]) === CAND_VALUE[ci]`.
 */
export const S_MODE16 = 1 << 0;
export const S_MODE32 = 1 << 1;
export const S_MODE64 = 1 << 2;
export const S_MPN = 1 << 3;
export const S_MP66 = 1 << 4;
export const S_MPF3 = 1 << 5;
export const S_MPF2 = 1 << 6;
export const S_REG_SHIFT = 7;
export const S_RM_SHIFT = 10;
export const S_MOD3 = 1 << 13;
/** Operand-size fields hold 0 (16), 1 (32) or 2 (64). */
export const S_OSN_SHIFT = 14;
export const S_OSD_SHIFT = 16;
export const S_OS66_SHIFT = 18;
export const S_ASZ_SHIFT = 20;
export const S_VW = 1 << 22;
/** VEX.W, or 1 outside 64-bit mode (rows whose W is ignored outside 64-bit mode and must be 1 in it). */
export const S_VWX = 1 << 23;
/** VEX.W in 64-bit mode, else 0. */
export const S_VWY = 1 << 24;
export const S_VL = 1 << 25;
export const S_REXB = 1 << 26;
export const S_OSF_SHIFT = 27;

/** 16 -> 0, 32 -> 1, 64 -> 2 (the decoder computes it inline as `bits >> 5`). */
export function sizeCode(bits: number): number {
  return bits >> 5;
}

/** Candidate lists: key = vex * 1024 + map * 256 + opcode; codes in match-priority order. */
export const KEY_COUNT = 2 * 4 * 256;
export const CAND_START = new Uint32Array(KEY_COUNT + 1);
export let CAND: Uint16Array = new Uint16Array(0);
export let CAND_MASK: Int32Array = new Int32Array(0);
export let CAND_VALUE: Int32Array = new Int32Array(0);

function constraint(c: number): [number, number] {
  let mask = ~T_MODES[c]! & 7;
  let value = 0;
  const mp = T_MP[c]!;
  if (mp !== MP_NONE) {
    const bit = mp === MP_NP ? S_MPN : mp === MP_66 ? S_MP66 : mp === MP_F3 ? S_MPF3 : S_MPF2;
    mask |= bit;
    value |= bit;
  }
  if (T_REG[c]! >= 0) {
    mask |= 7 << S_REG_SHIFT;
    value |= T_REG[c]! << S_REG_SHIFT;
  }
  if (T_RM[c]! >= 0) {
    mask |= (7 << S_RM_SHIFT) | S_MOD3;
    value |= (T_RM[c]! << S_RM_SHIFT) | S_MOD3;
  }
  if (T_MODREQ[c] === 1) mask |= S_MOD3;
  else if (T_MODREQ[c] === 2) {
    mask |= S_MOD3;
    value |= S_MOD3;
  }
  if (T_OSZ[c] !== 0) {
    const om = T_OSMODE[c]!;
    const shift = mp === MP_66 ? S_OS66_SHIFT : om === 0 ? S_OSN_SHIFT : om === 1 ? S_OSD_SHIFT : S_OSF_SHIFT;
    mask |= 3 << shift;
    value |= sizeCode(T_OSZ[c]!) << shift;
  }
  if (T_ASZ[c] !== 0) {
    mask |= 3 << S_ASZ_SHIFT;
    value |= sizeCode(T_ASZ[c]!) << S_ASZ_SHIFT;
  }
  if (T_VEX[c] === 1) {
    const w = T_W[c]!;
    if (w >= 0) {
      if (T_WIG32[c]) {
        if (w === 1) {
          mask |= S_VWX;
          value |= S_VWX;
        } else mask |= S_VWY;
      } else {
        mask |= S_VW;
        if (w === 1) value |= S_VW;
      }
    }
    const l = T_L[c]!;
    if (l >= 0) {
      mask |= S_VL;
      if (l === 1) value |= S_VL;
    }
  } else if (T_NO_REXB[c]) mask |= S_REXB;
  return [mask, value];
}
/** 1 when any candidate of the key has a ModRM byte. */
export const KEY_HAS_MODRM = new Uint8Array(KEY_COUNT);

function priority(code: number): number {
  // More specific rows first: register-form rm groups, mandatory prefixes, then the rest.
  let p = 0;
  if (T_RM[code]! >= 0) p -= 8;
  if (T_MP[code] !== MP_NONE) p -= 4;
  if (T_REG[code]! >= 0) p -= 2;
  if (T_OSZ[code] !== 0) p -= 1;
  return p;
}

function build(): void {
  const lists: number[][] = [];
  for (let k = 0; k < KEY_COUNT; k++) lists.push([]);
  const fwaitCodes: number[] = [];
  for (const row of OPCODE_ROWS) {
    const c = row[0];
    T_MNEMONIC[c] = row[1];
    T_VEX[c] = row[2];
    T_MAP[c] = row[3];
    T_OPCODE[c] = row[4];
    T_MP[c] = row[5];
    T_REG[c] = row[6];
    T_RM[c] = row[7];
    T_OSZ[c] = row[8];
    T_OSMODE[c] = row[9];
    T_ASZ[c] = row[10];
    T_MODES[c] = row[11];
    T_W[c] = row[12];
    T_WIG32[c] = row[13];
    T_L[c] = row[14];
    T_ATTR[c] = row[15];
    T_CPUID[c] = row[16];
    T_CPUID2[c] = row[17];
    T_FLAGS_READ[c] = row[18];
    T_FLAGS_WRITTEN[c] = row[19];
    T_FLAGS_UNDEF[c] = row[20];
    T_FLOW[c] = row[21];
    T_ENDS_BLOCK[c] = row[22];
    T_MEMSIZE[c] = row[23];
    const ops = row[24];
    T_OPCOUNT[c] = ops.length;
    let hasModrm = T_REG[c]! >= 0 || T_RM[c]! >= 0;
    let modreq = T_RM[c]! >= 0 ? 2 : 0;
    let opReg = false;
    for (let i = 0; i < ops.length; i++) {
      const s = ops[i]!;
      T_OPS[c * 5 + i] = s;
      if (MODRM_SPECS.has(s) || s === K.sti_opcode) hasModrm = true;
      if (MEM_ONLY_SPECS.has(s)) modreq = 1;
      if (REG_ONLY_SPECS.has(s)) modreq = 2;
      if (OPCODE_REG_SPECS.has(s)) opReg = true;
      if (VVVV_SPECS.has(s)) T_USES_VVVV[c] = 1;
      if (s === K.mem_vsib32x || s === K.mem_vsib64x) T_VSIB[c] = Register.XMM0;
      if (s === K.mem_vsib32y || s === K.mem_vsib64y) T_VSIB[c] = Register.YMM0;
    }
    if (T_ATTR[c]! & ATTR_IGNORES_MOD) modreq = 0;
    T_HAS_MODRM[c] = hasModrm ? 1 : 0;
    T_MODREQ[c] = modreq;
    T_OPCODE_REG[c] = opReg ? 1 : 0;
    if (T_VEX[c] === 0 && T_MAP[c] === 0 && T_OPCODE[c] === 0x90 && !opReg) T_NO_REXB[c] = 1;
    if (T_ATTR[c]! & ATTR_FWAIT) {
      fwaitCodes.push(c);
      continue;
    }
    const key = T_VEX[c]! * 1024 + T_MAP[c]! * 256;
    const n = opReg ? 8 : 1;
    for (let i = 0; i < n; i++) lists[key + T_OPCODE[c]! + i]!.push(c);
  }
  // Match the fwait forms (FSTCW = 9B D9 /7) with their no-wait twins (FNSTCW = D9 /7).
  for (const f of fwaitCodes) {
    for (const c of lists[T_OPCODE[f]!]!) {
      if (
        T_REG[c] === T_REG[f] &&
        T_RM[c] === T_RM[f] &&
        T_OSZ[c] === T_OSZ[f] &&
        T_MODREQ[c] === T_MODREQ[f] &&
        T_MODES[c] === T_MODES[f] &&
        T_OPS[c * 5] === T_OPS[f * 5]
      ) {
        T_FWAIT_TWIN[c] = f;
      }
    }
  }
  let total = 0;
  for (const l of lists) total += l.length;
  CAND = new Uint16Array(total);
  CAND_MASK = new Int32Array(total);
  CAND_VALUE = new Int32Array(total);
  let at = 0;
  for (let k = 0; k < KEY_COUNT; k++) {
    const l = lists[k]!;
    // Stable sort keeps the table order within one priority class.
    const sorted = l.map((c, i) => [priority(c), i, c] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    CAND_START[k] = at;
    let anyModrm = 0;
    for (const [, , c] of sorted) {
      const [m, v] = constraint(c);
      CAND_MASK[at] = m;
      CAND_VALUE[at] = v;
      CAND[at++] = c;
      anyModrm |= T_HAS_MODRM[c]!;
    }
    KEY_HAS_MODRM[k] = anyModrm;
  }
  CAND_START[KEY_COUNT] = at;
}
build();
