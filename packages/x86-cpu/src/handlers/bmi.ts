/**
 * BMI1 (ANDN, BEXTR, BLSI, BLSMSK, BLSR, TZCNT), BMI2 (BZHI, MULX, PDEP, PEXT, RORX, SARX, SHLX,
 * SHRX) and LZCNT, SDM Vol. 2 (CPUID.07H:EBX.BMI1[bit 3], .BMI2[bit 8]; CPUID.80000001H:ECX.LZCNT
 * [bit 5]). The VEX-encoded ones #UD in real and virtual-8086 mode (`enterVexGpr`); VEX.W selects the
 * 64-bit form in 64-bit mode (the decoder gives the `_r64` Codes there). 32-bit results zero-extend
 * into the 64-bit register; 64-bit values travel as two 32-bit halves as in `long-alu.ts`, and MULX
 * reuses its 16-bit-limb product (`mulWide`).
 *
 * Flags: where the SDM leaves a status flag undefined these handlers clear it (AF and PF of the BMI1
 * group and BZHI, SF too for BEXTR; OF, SF, AF and PF of TZCNT/LZCNT). MULX, PDEP, PEXT, RORX and the
 * SHIFTX group leave the flags alone. Without BMI1/LZCNT the F3 0F BC/BD encodings are BSF/BSR (see
 * `block-cache.ts` LEGACY_MEANING).
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { read32, read64 } from '../memory-access.js';
import {
  getReg32,
  getReg64,
  locate,
  readOp1,
  readOp1_64,
  setReg16,
  setReg32,
  setReg64,
} from '../operands.js';
import { enterVexGpr } from './avx-core.js';
import { mulWide, WIDE } from './long-alu.js';
import { GPR_HI } from '../registers.js';
import { HandlerList } from './table.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/** High half (int32) of the last 64-bit result computed by a helper below. */
let rh = 0;

/** A 32-bit register or memory operand (`kind`/`reg` of the slot). */
function rm32(cpu: Cpu, ins: Instruction, kind: number, reg: number): number {
  if (kind === OpKind.Register) return getReg32(cpu, reg);
  locate(cpu, ins);
  return read32(cpu, cpu.eaSeg, cpu.eaOff);
}

/** A 64-bit register or memory operand: low half returned, high half in `cpu.hi`. */
function rm64(cpu: Cpu, ins: Instruction, kind: number, reg: number): number {
  if (kind === OpKind.Register) return getReg64(cpu, reg);
  locate(cpu, ins);
  return read64(cpu, cpu.eaSeg, cpu.eaOff);
}

function sf32(v: number): number {
  return v >>> 31 ? EFLAGS.SF : 0;
}

// ------------------------------------------------------------------ 64-bit shifts on halves

/** (hi:lo) << n for n in 0..63: low half returned, high half in `rh`. */
export function shl64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    rh = hi | 0;
    return lo >>> 0;
  }
  if (n < 32) {
    rh = (hi << n) | (lo >>> (32 - n));
    return (lo << n) >>> 0;
  }
  rh = lo << (n - 32);
  return 0;
}

/** (hi:lo) >>> n for n in 0..63. */
export function shr64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    rh = hi | 0;
    return lo >>> 0;
  }
  if (n < 32) {
    rh = hi >>> n;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  rh = 0;
  return hi >>> (n - 32);
}

/** (hi:lo) >> n (arithmetic) for n in 0..63. */
function sar64(lo: number, hi: number, n: number): number {
  if (n === 0) {
    rh = hi | 0;
    return lo >>> 0;
  }
  if (n < 32) {
    rh = hi >> n;
    return ((lo >>> n) | (hi << (32 - n))) >>> 0;
  }
  rh = hi >> 31;
  return (hi >> (n - 32)) >>> 0;
}

/** Low `n` bits (0..64) of (hi:lo). */
function lowBits64(lo: number, hi: number, n: number): number {
  if (n >= 64) {
    rh = hi | 0;
    return lo >>> 0;
  }
  if (n >= 32) {
    rh = n === 32 ? 0 : hi & (0xffffffff >>> (64 - n));
    return lo >>> 0;
  }
  rh = 0;
  return n === 0 ? 0 : (lo & (0xffffffff >>> (32 - n))) >>> 0;
}

// ------------------------------------------------------------------ PDEP / PEXT

/** PDEP of 32 bits: the low bits of `src` deposited at the set bits of `mask`. */
export function pdep32(src: number, mask: number): number {
  let r = 0;
  let m = mask | 0;
  let k = 0;
  while (m !== 0) {
    const low = m & -m;
    if ((src >>> k) & 1) r |= low;
    k++;
    m &= m - 1;
  }
  return r >>> 0;
}

/** PEXT of 32 bits: the bits of `src` at the set bits of `mask`, packed into the low bits. */
export function pext32(src: number, mask: number): number {
  let r = 0;
  let m = mask | 0;
  let k = 0;
  while (m !== 0) {
    const low = m & -m;
    if (src & low) r |= 1 << k;
    k++;
    m &= m - 1;
  }
  return r >>> 0;
}

/** PDEP of 64 bits (halves): low half returned, high half in `rh`. */
function pdep64(sLo: number, sHi: number, mLo: number, mHi: number): number {
  let lo = 0;
  let hi = 0;
  let k = 0;
  let m = mLo | 0;
  while (m !== 0) {
    const low = m & -m;
    if ((sLo >>> k) & 1) lo |= low;
    k++;
    m &= m - 1;
  }
  m = mHi | 0;
  while (m !== 0) {
    const low = m & -m;
    const b = k < 32 ? (sLo >>> k) & 1 : (sHi >>> (k - 32)) & 1;
    if (b) hi |= low;
    k++;
    m &= m - 1;
  }
  rh = hi;
  return lo >>> 0;
}

/** PEXT of 64 bits (halves): low half returned, high half in `rh`. */
function pext64(sLo: number, sHi: number, mLo: number, mHi: number): number {
  let lo = 0;
  let hi = 0;
  let k = 0;
  let m = mLo | 0;
  while (m !== 0) {
    const low = m & -m;
    if (sLo & low) lo |= 1 << k; // k < 32 here
    k++;
    m &= m - 1;
  }
  m = mHi | 0;
  while (m !== 0) {
    const low = m & -m;
    if (sHi & low) {
      if (k < 32) lo |= 1 << k;
      else hi |= 1 << (k - 32);
    }
    k++;
    m &= m - 1;
  }
  rh = hi;
  return lo >>> 0;
}

// ------------------------------------------------------------------ BMI1

/** ANDN r, vvvv, r/m: ~src1 & src2; SF, ZF; OF = CF = 0. */
const andn32: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const a = getReg32(cpu, ins.op1Register);
  const r = (~a & rm32(cpu, ins, ins.op2Kind, ins.op2Register)) >>> 0;
  setReg32(cpu, ins.op0Register, r);
  setArith(cpu.flags, OSZAPC, sf32(r) | (r === 0 ? EFLAGS.ZF : 0));
};
const andn64: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const aLo = getReg64(cpu, ins.op1Register);
  const aHi = cpu.hi;
  const bLo = rm64(cpu, ins, ins.op2Kind, ins.op2Register);
  const bHi = cpu.hi;
  const lo = (~aLo & bLo) >>> 0;
  const hi = (~aHi & bHi) >>> 0;
  setReg64(cpu, ins.op0Register, lo, hi);
  setArith(cpu.flags, OSZAPC, sf32(hi) | ((lo | hi) === 0 ? EFLAGS.ZF : 0));
};

/** BEXTR r, r/m, vvvv: bits START (vvvv[7:0]) .. START+LEN-1 (LEN = vvvv[15:8]); ZF; CF = OF = 0. */
const bextr32: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const v = readOp1(cpu, ins, 32);
  const ctl = getReg32(cpu, ins.op2Register);
  const start = ctl & 0xff;
  const len = (ctl >>> 8) & 0xff;
  let r = start >= 32 ? 0 : v >>> start;
  if (len < 32) r = len === 0 ? 0 : r & (0xffffffff >>> (32 - len));
  r >>>= 0;
  setReg32(cpu, ins.op0Register, r);
  setArith(cpu.flags, OSZAPC, r === 0 ? EFLAGS.ZF : 0);
};
const bextr64: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const vLo = readOp1_64(cpu, ins);
  const vHi = cpu.hi;
  const ctl = getReg32(cpu, ins.op2Register);
  const start = ctl & 0xff;
  const len = (ctl >>> 8) & 0xff;
  let lo = 0;
  let hi = 0;
  if (start < 64) {
    lo = shr64(vLo, vHi, start);
    lo = lowBits64(lo, rh, len);
    hi = rh >>> 0;
  }
  setReg64(cpu, ins.op0Register, lo, hi);
  setArith(cpu.flags, OSZAPC, (lo | hi) === 0 ? EFLAGS.ZF : 0);
};

const BlsOp = { Blsi: 0, Blsmsk: 1, Blsr: 2 } as const;

/**
 * BLSI (src & -src; CF = src != 0), BLSMSK (src ^ (src - 1); CF = src == 0, ZF = 0) and BLSR
 * (src & (src - 1); CF = src == 0) into the vvvv register; SF (and ZF) of the result, OF = 0.
 */
function bls32(op: number): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const s = readOp1(cpu, ins, 32);
    let r: number;
    let cf: number;
    if (op === BlsOp.Blsi) {
      r = (s & -s) >>> 0;
      cf = s !== 0 ? 1 : 0;
    } else {
      r = (op === BlsOp.Blsmsk ? s ^ (s - 1) : s & (s - 1)) >>> 0;
      cf = s === 0 ? 1 : 0;
    }
    setReg32(cpu, ins.op0Register, r);
    const zf = op !== BlsOp.Blsmsk && r === 0 ? EFLAGS.ZF : 0;
    setArith(cpu.flags, OSZAPC, sf32(r) | zf | cf);
  };
}
function bls64(op: number): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const sLo = readOp1_64(cpu, ins);
    const sHi = cpu.hi;
    const zero = (sLo | sHi) === 0;
    // s - 1 as halves (a borrow from the high half when the low half is 0).
    const mLo = (sLo - 1) >>> 0;
    const mHi = (sLo === 0 ? sHi - 1 : sHi) >>> 0;
    let lo: number;
    let hi: number;
    let cf: number;
    if (op === BlsOp.Blsi) {
      // -s = ~(s - 1)
      lo = (sLo & ~mLo) >>> 0;
      hi = (sHi & ~mHi) >>> 0;
      cf = zero ? 0 : 1;
    } else if (op === BlsOp.Blsmsk) {
      lo = (sLo ^ mLo) >>> 0;
      hi = (sHi ^ mHi) >>> 0;
      cf = zero ? 1 : 0;
    } else {
      lo = (sLo & mLo) >>> 0;
      hi = (sHi & mHi) >>> 0;
      cf = zero ? 1 : 0;
    }
    setReg64(cpu, ins.op0Register, lo, hi);
    const zf = op !== BlsOp.Blsmsk && (lo | hi) === 0 ? EFLAGS.ZF : 0;
    setArith(cpu.flags, OSZAPC, sf32(hi) | zf | cf);
  };
}

/**
 * TZCNT/LZCNT r, r/m (16/32/64): trailing/leading zero bits, the operand size for a zero source; CF =
 * source is 0, ZF = result is 0.
 */
function count(size: number, leading: boolean): Handler {
  return (cpu, ins) => {
    let n: number;
    let zero: boolean;
    if (size === 64) {
      const lo = readOp1_64(cpu, ins);
      const hi = cpu.hi;
      zero = (lo | hi) === 0;
      if (leading) n = hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
      else n = lo !== 0 ? 31 - Math.clz32(lo & -lo) : hi !== 0 ? 63 - Math.clz32(hi & -hi) : 64;
      setReg64(cpu, ins.op0Register, n, 0);
    } else {
      const v = size === 16 ? readOp1(cpu, ins, 16) & 0xffff : readOp1(cpu, ins, 32);
      zero = v === 0;
      if (zero) n = size;
      else if (leading) n = Math.clz32(v) - (32 - size);
      else n = 31 - Math.clz32(v & -v);
      if (size === 16) setReg16(cpu, ins.op0Register, n);
      else setReg32(cpu, ins.op0Register, n);
    }
    setArith(cpu.flags, OSZAPC, (zero ? EFLAGS.CF : 0) | (n === 0 ? EFLAGS.ZF : 0));
  };
}

// ------------------------------------------------------------------ BMI2

/** BZHI r, r/m, vvvv: bits N (vvvv[7:0]) and up cleared when N < size; CF = N > size - 1; SF, ZF; OF = 0. */
const bzhi32: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const v = readOp1(cpu, ins, 32);
  const n = getReg32(cpu, ins.op2Register) & 0xff;
  const r = (n >= 32 ? v : n === 0 ? 0 : v & (0xffffffff >>> (32 - n))) >>> 0;
  setReg32(cpu, ins.op0Register, r);
  setArith(cpu.flags, OSZAPC, sf32(r) | (r === 0 ? EFLAGS.ZF : 0) | (n > 31 ? EFLAGS.CF : 0));
};
const bzhi64: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const vLo = readOp1_64(cpu, ins);
  const vHi = cpu.hi;
  const n = getReg32(cpu, ins.op2Register) & 0xff;
  const lo = lowBits64(vLo, vHi, n);
  const hi = rh >>> 0;
  setReg64(cpu, ins.op0Register, lo, hi);
  setArith(cpu.flags, OSZAPC, sf32(hi) | ((lo | hi) === 0 ? EFLAGS.ZF : 0) | (n > 63 ? EFLAGS.CF : 0));
};

/**
 * MULX r_hi, r_lo (vvvv), r/m: EDX/RDX * src unsigned; the low half to vvvv, then the high half to
 * ModRM.reg (so with the same register twice it holds the high half). Flags unaffected.
 */
const mulx32: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const b = rm32(cpu, ins, ins.op2Kind, ins.op2Register);
  mulWide(cpu.regs.r32[2]!, 0, b | 0, 0, false);
  const lo = WIDE[0]!;
  const hi = WIDE[1]!;
  setReg32(cpu, ins.op1Register, lo);
  setReg32(cpu, ins.op0Register, hi);
};
const mulx64: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const bLo = rm64(cpu, ins, ins.op2Kind, ins.op2Register);
  const bHi = cpu.hi;
  const r = cpu.regs.r32;
  mulWide(r[2]!, r[2 + GPR_HI]!, bLo | 0, bHi | 0, false);
  const w = WIDE;
  const w0 = w[0]!;
  const w1 = w[1]!;
  const w2 = w[2]!;
  const w3 = w[3]!;
  setReg64(cpu, ins.op1Register, w0, w1);
  setReg64(cpu, ins.op0Register, w2, w3);
};

/** PDEP/PEXT r, vvvv, r/m: the vvvv value with the r/m mask. Flags unaffected. */
function depExt32(extract: boolean): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const s = getReg32(cpu, ins.op1Register);
    const m = rm32(cpu, ins, ins.op2Kind, ins.op2Register);
    setReg32(cpu, ins.op0Register, extract ? pext32(s, m) : pdep32(s, m));
  };
}
function depExt64(extract: boolean): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const sLo = getReg64(cpu, ins.op1Register);
    const sHi = cpu.hi;
    const mLo = rm64(cpu, ins, ins.op2Kind, ins.op2Register);
    const mHi = cpu.hi;
    const lo = extract ? pext64(sLo, sHi, mLo, mHi) : pdep64(sLo, sHi, mLo, mHi);
    setReg64(cpu, ins.op0Register, lo, rh >>> 0);
  };
}

/** RORX r, r/m, imm8: rotate right by imm8 mod size. Flags unaffected. */
const rorx32: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const v = readOp1(cpu, ins, 32);
  const n = ins.immediate & 31;
  setReg32(cpu, ins.op0Register, n === 0 ? v : ((v >>> n) | (v << (32 - n))) >>> 0);
};
const rorx64: Handler = (cpu, ins) => {
  enterVexGpr(cpu);
  const vLo = readOp1_64(cpu, ins);
  const vHi = cpu.hi;
  const n = ins.immediate & 63;
  let lo = shr64(vLo, vHi, n);
  let hi = rh;
  if (n !== 0) {
    lo = (lo | shl64(vLo, vHi, 64 - n)) >>> 0;
    hi |= rh;
  }
  setReg64(cpu, ins.op0Register, lo, hi >>> 0);
};

const ShiftX = { Shl: 0, Shr: 1, Sar: 2 } as const;

/** SHLX/SHRX/SARX r, r/m, vvvv: count = vvvv mod size. Flags unaffected. */
function shiftx32(op: number): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const v = readOp1(cpu, ins, 32);
    const n = getReg32(cpu, ins.op2Register) & 31;
    const r = op === ShiftX.Shl ? v << n : op === ShiftX.Shr ? v >>> n : v >> n;
    setReg32(cpu, ins.op0Register, r >>> 0);
  };
}
function shiftx64(op: number): Handler {
  return (cpu, ins) => {
    enterVexGpr(cpu);
    const vLo = readOp1_64(cpu, ins);
    const vHi = cpu.hi;
    const n = getReg32(cpu, ins.op2Register) & 63;
    const lo =
      op === ShiftX.Shl ? shl64(vLo, vHi, n) : op === ShiftX.Shr ? shr64(vLo, vHi, n) : sar64(vLo, vHi, n);
    setReg64(cpu, ins.op0Register, lo, rh >>> 0);
  };
}

// ------------------------------------------------------------------ registration

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  add('VEX_Andn_r32_r32_rm32', andn32);
  add('VEX_Andn_r64_r64_rm64', andn64);
  add('VEX_Bextr_r32_rm32_r32', bextr32);
  add('VEX_Bextr_r64_rm64_r64', bextr64);
  add('VEX_Blsi_r32_rm32', bls32(BlsOp.Blsi));
  add('VEX_Blsi_r64_rm64', bls64(BlsOp.Blsi));
  add('VEX_Blsmsk_r32_rm32', bls32(BlsOp.Blsmsk));
  add('VEX_Blsmsk_r64_rm64', bls64(BlsOp.Blsmsk));
  add('VEX_Blsr_r32_rm32', bls32(BlsOp.Blsr));
  add('VEX_Blsr_r64_rm64', bls64(BlsOp.Blsr));
  for (const size of [16, 32, 64]) {
    add(`Tzcnt_r${size}_rm${size}`, count(size, false));
    add(`Lzcnt_r${size}_rm${size}`, count(size, true));
  }
  add('VEX_Bzhi_r32_rm32_r32', bzhi32);
  add('VEX_Bzhi_r64_rm64_r64', bzhi64);
  add('VEX_Mulx_r32_r32_rm32', mulx32);
  add('VEX_Mulx_r64_r64_rm64', mulx64);
  add('VEX_Pdep_r32_r32_rm32', depExt32(false));
  add('VEX_Pdep_r64_r64_rm64', depExt64(false));
  add('VEX_Pext_r32_r32_rm32', depExt32(true));
  add('VEX_Pext_r64_r64_rm64', depExt64(true));
  add('VEX_Rorx_r32_rm32_imm8', rorx32);
  add('VEX_Rorx_r64_rm64_imm8', rorx64);
  add('VEX_Shlx_r32_rm32_r32', shiftx32(ShiftX.Shl));
  add('VEX_Shlx_r64_rm64_r64', shiftx64(ShiftX.Shl));
  add('VEX_Shrx_r32_rm32_r32', shiftx32(ShiftX.Shr));
  add('VEX_Shrx_r64_rm64_r64', shiftx64(ShiftX.Shr));
  add('VEX_Sarx_r32_rm32_r32', shiftx32(ShiftX.Sar));
  add('VEX_Sarx_r64_rm64_r64', shiftx64(ShiftX.Sar));
  return list.entries;
}

/** Handlers of BMI1, BMI2, TZCNT and LZCNT. */
export const BMI_HANDLERS: readonly (readonly [number, Handler])[] = entries();
