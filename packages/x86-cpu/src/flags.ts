/**
 * EFLAGS with lazy arithmetic flags (SDM Vol. 1 §3.4.3).
 *
 * The common ALU operations (ADD/ADC/SUB/SBB/CMP/NEG/INC/DEC and the logic group) do not compute
 * OF/SF/ZF/AF/PF/CF when they execute: they record the operation kind, the operand size, both operands
 * and the result, and the bits are derived only when something reads them. Every other instruction
 * stores its flags eagerly with {@link setArith}.
 */

/** EFLAGS bits (SDM Vol. 1 Figure 3-8). */
export const EFLAGS = {
  CF: 0x1,
  /** Reserved, always 1. */
  FIXED1: 0x2,
  PF: 0x4,
  AF: 0x10,
  ZF: 0x40,
  SF: 0x80,
  TF: 0x100,
  IF: 0x200,
  DF: 0x400,
  OF: 0x800,
  IOPL: 0x3000,
  NT: 0x4000,
  RF: 0x10000,
  VM: 0x20000,
  AC: 0x40000,
  VIF: 0x80000,
  VIP: 0x100000,
  ID: 0x200000,
} as const;

export const IOPL_SHIFT = 12;
/** The six status flags. */
export const ARITH_FLAGS = 0x8d5;
/** Status flags without CF: what INC and DEC write. */
const ARITH_NO_CF = ARITH_FLAGS & ~EFLAGS.CF;

/** What produced the lazy status flags. ADC/SBB are recorded only when the carry-in was 1. */
export const LazyOp = {
  /** The status flags are all in `FlagState.bits`. */
  None: 0,
  Add: 1,
  /** ADD with carry-in 1 (ADC with CF=1). */
  Adc: 2,
  Sub: 3,
  /** SUB with borrow-in 1 (SBB with CF=1). */
  Sbb: 4,
  /** AND/OR/XOR/TEST: OF=CF=0, AF=0 (P6 family and the 286 both clear it). */
  Logic: 5,
  /** INC/DEC: CF is kept in `bits`. */
  Inc: 6,
  Dec: 7,
  /** NEG: dst=0, src=operand. */
  Neg: 8,
} as const;
export type LazyOp = (typeof LazyOp)[keyof typeof LazyOp];

/** PF for every byte value: 1 when the number of set bits is even. */
export const PARITY: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let b = i;
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    t[i] = (b & 1) === 0 ? 1 : 0;
  }
  return t;
})();

/** Operand size in bits (8, 16, 32) to an unsigned mask. */
export function sizeMask(size: number): number {
  return size === 32 ? 0xffffffff : size === 16 ? 0xffff : 0xff;
}

export class FlagState {
  /** EFLAGS with the status flags valid only where `op` is None (or CF for Inc/Dec). Always has bit 1. */
  bits: number = EFLAGS.FIXED1;
  op: LazyOp = LazyOp.None;
  /** 8, 16 or 32. */
  size = 32;
  /** Operands and result, each masked to `size` and unsigned. */
  dst = 0;
  src = 0;
  res = 0;
}

/** Records a lazy ALU result. `dst`, `src`, `res` must be masked to `size` (unsigned). */
export function setLazy(f: FlagState, op: LazyOp, size: number, dst: number, src: number, res: number): void {
  if (op === LazyOp.Inc || op === LazyOp.Dec) {
    // INC/DEC keep CF: freeze it before the new lazy record replaces the old one.
    const cf = getCF(f);
    f.bits = (f.bits & ~EFLAGS.CF) | cf;
  }
  f.op = op;
  f.size = size;
  f.dst = dst;
  f.src = src;
  f.res = res;
}

export function getCF(f: FlagState): number {
  switch (f.op) {
    case LazyOp.None:
    case LazyOp.Inc:
    case LazyOp.Dec:
      return f.bits & EFLAGS.CF;
    case LazyOp.Add:
      return f.res < f.dst ? 1 : 0;
    case LazyOp.Adc:
      return f.res <= f.dst ? 1 : 0;
    case LazyOp.Sub:
      return f.dst < f.src ? 1 : 0;
    case LazyOp.Sbb:
      return f.dst <= f.src ? 1 : 0;
    case LazyOp.Neg:
      return f.src !== 0 ? 1 : 0;
    default:
      return 0;
  }
}

export function getZF(f: FlagState): number {
  if (f.op === LazyOp.None) return f.bits & EFLAGS.ZF ? 1 : 0;
  return f.res === 0 ? 1 : 0;
}

export function getSF(f: FlagState): number {
  if (f.op === LazyOp.None) return f.bits & EFLAGS.SF ? 1 : 0;
  return (f.res >>> (f.size - 1)) & 1;
}

export function getPF(f: FlagState): number {
  if (f.op === LazyOp.None) return f.bits & EFLAGS.PF ? 1 : 0;
  return PARITY[f.res & 0xff]!;
}

export function getAF(f: FlagState): number {
  if (f.op === LazyOp.None) return f.bits & EFLAGS.AF ? 1 : 0;
  if (f.op === LazyOp.Logic) return 0;
  return (f.dst ^ f.src ^ f.res) & 0x10 ? 1 : 0;
}

export function getOF(f: FlagState): number {
  switch (f.op) {
    case LazyOp.None:
      return f.bits & EFLAGS.OF ? 1 : 0;
    case LazyOp.Add:
    case LazyOp.Adc:
    case LazyOp.Inc:
      return (((f.dst ^ f.res) & (f.src ^ f.res)) >>> (f.size - 1)) & 1;
    case LazyOp.Sub:
    case LazyOp.Sbb:
    case LazyOp.Dec:
    case LazyOp.Neg:
      return (((f.dst ^ f.src) & (f.dst ^ f.res)) >>> (f.size - 1)) & 1;
    default:
      return 0;
  }
}

/** The whole EFLAGS value with the lazy status flags folded in. */
export function readFlags(f: FlagState): number {
  if (f.op === LazyOp.None) return f.bits;
  const arith =
    getCF(f) | (getPF(f) << 2) | (getAF(f) << 4) | (getZF(f) << 6) | (getSF(f) << 7) | (getOF(f) << 11);
  return (f.bits & ~ARITH_FLAGS) | arith;
}

/** Folds the lazy flags into `bits` so that they can be edited bit by bit. */
export function materialize(f: FlagState): void {
  if (f.op !== LazyOp.None) {
    f.bits = readFlags(f);
    f.op = LazyOp.None;
  }
}

/** Replaces the whole EFLAGS value (bit 1 forced on, bits 3, 5, 15 forced off). */
export function writeFlags(f: FlagState, value: number): void {
  f.bits = ((value | EFLAGS.FIXED1) & ~0x8028) >>> 0;
  f.op = LazyOp.None;
}

/** Eagerly sets the status flags selected by `mask` to `values` (other status flags are kept). */
export function setArith(f: FlagState, mask: number, values: number): void {
  // Replacing all six status flags needs nothing from the lazy record: skip folding it in.
  if ((mask & ARITH_FLAGS) !== ARITH_FLAGS) materialize(f);
  f.bits = (f.bits & ~mask) | (values & mask);
  f.op = LazyOp.None;
}

/** SF, ZF and PF of `res` (masked to `size`), as EFLAGS bits. */
export function szp(res: number, size: number): number {
  return (
    ((res >>> (size - 1)) & 1 ? EFLAGS.SF : 0) | (res === 0 ? EFLAGS.ZF : 0) | (PARITY[res & 0xff]! << 2)
  );
}

export function setCF(f: FlagState, cf: number): void {
  materialize(f);
  f.bits = (f.bits & ~EFLAGS.CF) | (cf & 1);
}

export { ARITH_NO_CF };

/**
 * Condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc, SDM Vol. 1 Appendix B).
 * Returns 1 when condition `cc` holds.
 */
export function testCondition(f: FlagState, cc: number): boolean {
  let r: number;
  switch (cc >>> 1) {
    case 0:
      r = getOF(f);
      break;
    case 1:
      r = getCF(f);
      break;
    case 2:
      r = getZF(f);
      break;
    case 3:
      r = getCF(f) | getZF(f);
      break;
    case 4:
      r = getSF(f);
      break;
    case 5:
      r = getPF(f);
      break;
    case 6:
      r = getSF(f) ^ getOF(f);
      break;
    default:
      r = getZF(f) | (getSF(f) ^ getOF(f));
      break;
  }
  return (r ^ (cc & 1)) === 1;
}

/**
 * The status flags of a 64-bit ALU result, computed at once (the lazy record holds 32-bit values):
 * `op` as for {@link setLazy} (INC/DEC keep CF), operands and result as unsigned 32-bit halves.
 */
export function setFlags64(
  f: FlagState,
  op: LazyOp,
  dLo: number,
  dHi: number,
  sLo: number,
  sHi: number,
  rLo: number,
  rHi: number,
): void {
  let cf = 0;
  let of = 0;
  let af = (dLo ^ sLo ^ rLo) & 0x10;
  switch (op) {
    case LazyOp.Add:
      cf = rHi < dHi || (rHi === dHi && rLo < dLo) ? 1 : 0;
      of = ((dHi ^ rHi) & (sHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Adc:
      cf = rHi < dHi || (rHi === dHi && rLo <= dLo) ? 1 : 0;
      of = ((dHi ^ rHi) & (sHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Sub:
      cf = dHi < sHi || (dHi === sHi && dLo < sLo) ? 1 : 0;
      of = ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Sbb:
      cf = dHi < sHi || (dHi === sHi && dLo <= sLo) ? 1 : 0;
      of = ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Inc:
      of = ((dHi ^ rHi) & (sHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Dec:
      of = ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31;
      break;
    case LazyOp.Neg:
      cf = (sLo | sHi) !== 0 ? 1 : 0;
      of = ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31;
      break;
    default:
      af = 0;
      break;
  }
  const bits =
    cf |
    (PARITY[rLo & 0xff]! << 2) |
    (af !== 0 ? EFLAGS.AF : 0) |
    ((rLo | rHi) === 0 ? EFLAGS.ZF : 0) |
    (rHi >>> 31 ? EFLAGS.SF : 0) |
    (of ? EFLAGS.OF : 0);
  setArith(f, op === LazyOp.Inc || op === LazyOp.Dec ? ARITH_NO_CF : ARITH_FLAGS, bits);
}

/** SF, ZF and PF of a 64-bit result given as halves, as EFLAGS bits. */
export function szp64(lo: number, hi: number): number {
  return (hi >>> 31 ? EFLAGS.SF : 0) | ((lo | hi) === 0 ? EFLAGS.ZF : 0) | (PARITY[lo & 0xff]! << 2);
}
