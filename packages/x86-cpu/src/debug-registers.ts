/**
 * Debug-register semantics (SDM Vol. 3 §18.2): the DR6/DR7 bits and the instruction-breakpoint match
 * of DR0..DR3. Pure functions over register values, so a VMM checking its own breakpoints (KVM's
 * KVM_GUESTDBG_USE_HW_BP) and the interpreter checking the guest's share one definition.
 */

/** DR6 bits (SDM Vol. 3 §18.2.3). */
export const DR6 = {
  /** B0..B3: breakpoint condition n was met (bit n). */
  B0: 0x1,
  B1: 0x2,
  B2: 0x4,
  B3: 0x8,
  /** BD: the next instruction accesses a debug register (DR7.GD). */
  BD: 0x2000,
  /** BS: single step (EFLAGS.TF). */
  BS: 0x4000,
  /** BT: task switch to a task with the T flag. */
  BT: 0x8000,
  /** Bits that read as 1 (4..11 and 16..31; bit 12 reads 0 on this CPU). */
  FIXED1: 0xffff0ff0,
} as const;

/** DR7 bits and fields (SDM Vol. 3 §18.2.4). */
export const DR7 = {
  /** L0/G0 .. L3/G3: bits 2n and 2n+1 enable breakpoint n. */
  ENABLE_MASK: 0xff,
  LE: 0x100,
  GE: 0x200,
  /** Bit 10 reads as 1. */
  FIXED1: 0x400,
  /** GD: general-detect (a MOV DR raises #DB). */
  GD: 0x2000,
  /** R/Wn is at bit 16 + 4n, LENn at bit 18 + 4n. */
  RW_SHIFT: 16,
  LEN_SHIFT: 18,
} as const;

/** R/Wn values (SDM Vol. 3 §18.2.4): break on instruction execution, data writes, I/O, data reads or writes. */
export const BreakCondition = { Execute: 0, Write: 1, Io: 2, ReadWrite: 3 } as const;
export type BreakCondition = (typeof BreakCondition)[keyof typeof BreakCondition];

/** Whether breakpoint `n` (0..3) is enabled locally or globally in `dr7`. */
export function breakpointEnabled(dr7: number, n: number): boolean {
  return ((dr7 >>> (2 * n)) & 3) !== 0;
}

/** The R/Wn field of breakpoint `n` in `dr7`. */
export function breakCondition(dr7: number, n: number): BreakCondition {
  return ((dr7 >>> (DR7.RW_SHIFT + 4 * n)) & 3) as BreakCondition;
}

/**
 * The DR6 B0..B3 bits of the instruction breakpoints that `linear` (the linear address of the first
 * byte of the next instruction, prefixes included) meets: breakpoint n is enabled in `dr7`, its R/Wn
 * is 00 (execution) and DRn equals `linear` (LENn should be 00 for execution breakpoints; the address
 * is compared whole, as the SDM prescribes for that length). 0 when none does. `dr[n]` is DRn's low 32
 * bits (the linear addresses of this CPU are 32 bits): `ControlState.dr` itself fits.
 */
export function instructionBreakpointHits(dr7: number, dr: ArrayLike<number>, linear: number): number {
  if ((dr7 & DR7.ENABLE_MASK) === 0) return 0;
  let hits = 0;
  for (let n = 0; n < 4; n++) {
    if (!breakpointEnabled(dr7, n) || breakCondition(dr7, n) !== BreakCondition.Execute) continue;
    if (dr[n]! >>> 0 === linear >>> 0) hits |= 1 << n;
  }
  return hits;
}

/** Whether `dr7` enables at least one instruction breakpoint (the interpreter must then check each instruction). */
export function hasInstructionBreakpoints(dr7: number): boolean {
  for (let n = 0; n < 4; n++) {
    if (breakpointEnabled(dr7, n) && breakCondition(dr7, n) === BreakCondition.Execute) return true;
  }
  return false;
}
