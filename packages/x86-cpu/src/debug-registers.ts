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

/** Bytes covered by LENn (SDM Vol. 3 §18.2.5): 00 one, 01 two, 11 four, 10 eight (undefined before 64-bit CPUs). */
export function breakLength(dr7: number, n: number): number {
  const len = (dr7 >>> (DR7.LEN_SHIFT + 4 * n)) & 3;
  return len === 0 ? 1 : len === 1 ? 2 : len === 3 ? 4 : 8;
}

/** CR4.DE: R/W=10 means I/O breakpoints (else undefined, treated as never met). */
const CR4_DE = 0x8;

/** The registers {@link Breakpoints.sync} compares, as last loaded. */
const SEEN_DR7 = 4;
const SEEN_CR4 = 5;

/**
 * The breakpoints in force (SDM Vol. 3 §18.3.1): decoded from DR0..DR3 and DR7 once, when they change,
 * so that the interpreter only tests a few booleans. The registers are the guest's own (`ControlState.dr`)
 * unless a VMM owns the debug hardware ({@link own}: KVM_GUESTDBG_USE_HW_BP loads the debugger's
 * registers and keeps the guest's aside, so the guest's MOV DR sees its own values and its breakpoints
 * are not armed meanwhile).
 *
 * B0..B3 are reported for every breakpoint whose condition is met, enabled or not (the SDM allows
 * either for disabled ones); a #DB is raised only when an enabled one is among them.
 */
export class Breakpoints {
  /** First byte of each breakpoint's range (DRn with its low bits masked by LENn). */
  readonly start = new Float64Array(4);
  /** Last byte of each range. */
  readonly end = new Float64Array(4);
  /** R/Wn of each breakpoint. */
  readonly cond = new Uint8Array(4);
  /** The effective DR7. */
  dr7: number = DR7.FIXED1;
  /** B bits of the enabled breakpoints. */
  enabled = 0;
  /** An enabled instruction breakpoint exists: the interpreter checks each instruction. */
  instruction = false;
  /** An enabled data breakpoint exists: every memory access goes through the checking path. */
  data = false;
  /** An enabled I/O breakpoint exists (CR4.DE set). */
  io = false;
  /** Any of the three: the interpreter runs instruction by instruction. */
  armed = false;
  /** The debug registers belong to a VMM ({@link own}), not to the guest. */
  vmmOwned = false;
  /** B bits of data and I/O breakpoints met by the current instruction (a trap after it). */
  hits = 0;
  /** DR6 bits of the #DB being delivered (see `Cpu.deliver`). */
  pending = 0;
  /** DR0..DR3, DR7 and CR4 as last loaded from the guest's registers (-1: never). */
  private readonly seen = new Float64Array(6).fill(-1);

  /**
   * Reloads from the guest's registers when they changed since the last load (state restore, KVM
   * SET_DEBUGREGS, MOV DR/CR4). Returns true when it reloaded (the caller then drops RAM-direct
   * translations if data breakpoints are armed).
   */
  sync(dr: ArrayLike<number>, cr4: number): boolean {
    const s = this.seen;
    const de = cr4 & CR4_DE;
    if (
      s[0] === dr[0]! >>> 0 &&
      s[1] === dr[1]! >>> 0 &&
      s[2] === dr[2]! >>> 0 &&
      s[3] === dr[3]! >>> 0 &&
      s[SEEN_DR7] === dr[7]! >>> 0 &&
      s[SEEN_CR4] === de
    )
      return false;
    for (let n = 0; n < 4; n++) s[n] = dr[n]! >>> 0;
    s[SEEN_DR7] = dr[7]! >>> 0;
    s[SEEN_CR4] = de;
    if (this.vmmOwned) return false;
    this.load(dr[7]!, dr, de !== 0);
    return true;
  }

  /** A VMM's breakpoints replace the guest's (KVM_GUESTDBG_USE_HW_BP): `dr` is DR0..DR3, `dr7` its DR7. */
  own(dr7: number, dr: ArrayLike<number>, cr4: number): void {
    this.vmmOwned = true;
    this.load(dr7, dr, (cr4 & CR4_DE) !== 0);
  }

  /** The guest's registers are in force again. */
  release(): void {
    this.vmmOwned = false;
    this.seen.fill(-1);
    this.load(DR7.FIXED1, [0, 0, 0, 0], false);
  }

  private load(dr7: number, dr: ArrayLike<number>, de: boolean): void {
    this.dr7 = dr7 >>> 0;
    let enabled = 0;
    let instruction = false;
    let data = false;
    let io = false;
    for (let n = 0; n < 4; n++) {
      const len = breakLength(dr7, n);
      const cond = breakCondition(dr7, n);
      const start = (dr[n]! >>> 0) - ((dr[n]! >>> 0) % len);
      this.start[n] = start;
      this.end[n] = start + len - 1;
      // R/W=10 without CR4.DE is undefined: never met here.
      this.cond[n] = cond === BreakCondition.Io && !de ? 0xff : cond;
      if (!breakpointEnabled(dr7, n)) continue;
      if (cond === BreakCondition.Execute) instruction = true;
      else if (cond === BreakCondition.Io) {
        if (!de) continue;
        io = true;
      } else data = true;
      enabled |= 1 << n;
    }
    this.enabled = enabled;
    this.instruction = instruction;
    this.data = data;
    this.io = io;
    this.armed = instruction || data || io;
  }

  /** B bits of the instruction breakpoints at `linear` when one of them is enabled, else 0. */
  execute(linear: number): number {
    let m = 0;
    for (let n = 0; n < 4; n++) {
      if (this.cond[n] === BreakCondition.Execute && this.start[n] === linear >>> 0) m |= 1 << n;
    }
    return (m & this.enabled) !== 0 ? m : 0;
  }

  /** Records the data breakpoints met by an access of `size` bytes at `linear` (a write when `write`). */
  access(linear: number, size: number, write: boolean): void {
    const first = linear >>> 0;
    const last = first + size - 1;
    let m = 0;
    for (let n = 0; n < 4; n++) {
      const c = this.cond[n];
      if (!(c === BreakCondition.ReadWrite || (write && c === BreakCondition.Write))) continue;
      if (first <= this.end[n]! && this.start[n]! <= last) m |= 1 << n;
    }
    if ((m & this.enabled) !== 0) this.hits |= m;
  }

  /** Records the I/O breakpoints met by an access of `size` ports at `port`. */
  port(port: number, size: number): void {
    const last = port + size - 1;
    let m = 0;
    for (let n = 0; n < 4; n++) {
      if (this.cond[n] === BreakCondition.Io && port <= this.end[n]! && this.start[n]! <= last) m |= 1 << n;
    }
    if ((m & this.enabled) !== 0) this.hits |= m;
  }
}

/**
 * DR6 after a #DB with the `bits` (B0..B3, BD, BS, BT) of its conditions, as KVM's
 * kvm_deliver_exception_payload writes it: B0..B3 replaced, BD/BS/BT added, the fixed bits set.
 */
export function dr6After(dr6: number, bits: number): number {
  return (((dr6 & ~0xf) | DR6.FIXED1 | bits) & ~0x1000) >>> 0;
}
