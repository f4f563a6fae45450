import type { AccessSize, Clock, IrqLine, MmioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import {
  APIC_BASE_ADDR_MASK,
  APIC_BASE_BSP,
  APIC_BASE_ENABLE,
  APIC_BASE_EXTD,
  DCR_WRITABLE,
  DeliveryMode,
  DFR_CLUSTER,
  DFR_MODEL_SHIFT,
  DFR_RESERVED_ONES,
  ESR_ILLEGAL_REGISTER,
  ESR_RECEIVE_ILLEGAL_VECTOR,
  ESR_SEND_ILLEGAL_VECTOR,
  FIRST_VALID_VECTOR,
  ICR_DELIVERY_MODE_MASK,
  ICR_DELIVERY_MODE_SHIFT,
  ICR_DEST_LOGICAL,
  ICR_LEVEL_ASSERT,
  ICR_LOW_WRITABLE,
  ICR_SHORTHAND_MASK,
  ICR_SHORTHAND_SHIFT,
  ICR_TRIGGER_LEVEL,
  ICR_VECTOR_MASK,
  ICR_XAPIC_DEST_SHIFT,
  LAPIC_BASE,
  LDR_MASK,
  LVT_DELIVERY_MODE_MASK,
  LVT_DELIVERY_MODE_SHIFT,
  LVT_ERROR_WRITABLE,
  LVT_LINT_WRITABLE,
  LVT_LINT0_BSP_RESET,
  LVT_MASKED,
  LVT_REMOTE_IRR,
  LVT_RESET,
  LVT_THERMAL_PERF_WRITABLE,
  LVT_TIMER_MODE_MASK,
  LVT_TIMER_MODE_SHIFT,
  LVT_TIMER_WRITABLE,
  LVT_TRIGGER_LEVEL,
  LVT_VECTOR_MASK,
  Reg,
  Shorthand,
  SVR_ENABLE,
  SVR_VECTOR_MASK,
  SVR_WRITABLE,
  TimerMode,
  VERSION,
  X2APIC_MSR_BASE,
  X2APIC_MSR_LAST,
  XAPIC_ID_SHIFT,
} from './registers.js';
import { type LocalApicState, validateLapicState } from './state.js';

/** An inter-processor interrupt written to the ICR, for the VMM to route to the other local APICs. */
export interface LapicIpi {
  readonly vector: number;
  /** {@link DeliveryMode}. */
  readonly deliveryMode: number;
  /** 0 physical, 1 logical. */
  readonly destMode: number;
  /** ICR bit 14: false only for the INIT level de-assert message, which a VMM ignores. */
  readonly assert: boolean;
  /** 0 edge, 1 level. */
  readonly trigger: number;
  /** {@link Shorthand}: None, AllIncludingSelf or AllExcludingSelf (Self never leaves the APIC). */
  readonly shorthand: number;
  /** Destination field: 8 bits in xAPIC mode, 32 in x2APIC mode. */
  readonly destination: number;
  /** The sender's APIC ID. */
  readonly source: number;
}

/** Where IPIs go. With shorthand None or AllIncludingSelf the VMM also delivers to the sender when it matches. */
export interface LapicIpiSink {
  sendIpi(ipi: LapicIpi): void;
}

/** The EOI broadcast for level-triggered vectors (to the I/O APIC's `eoi`). */
export interface LapicEoiBroadcast {
  eoi(vector: number): void;
}

/** The 8259 side of ExtINT: the INTA cycle that supplies the vector (a `PicPair` fits). */
export interface ExtIntController {
  acknowledge(): number;
}

/** The guest's time-stamp counter, for TSC-deadline mode. */
export interface TscSource {
  readTsc(): bigint;
}

/** Told whenever something new is pending for the CPU (an interrupt, NMI, INIT or SIPI): wake the vCPU. */
export interface LapicKick {
  kick(): void;
}

export interface LocalApicOptions {
  readonly clock: Clock;
  /** Initial APIC ID (0-255 for xAPIC; up to 2^32 - 2 usable in x2APIC mode). */
  readonly id: number;
  /** The bootstrap processor: sets IA32_APIC_BASE.BSP and, as QEMU, LINT0 to ExtINT at reset. */
  readonly bsp?: boolean;
  readonly ipi?: LapicIpiSink;
  readonly eoiBroadcast?: LapicEoiBroadcast;
  readonly extInt?: ExtIntController;
  /** Required for TSC-deadline mode; without it IA32_TSC_DEADLINE never fires. */
  readonly tsc?: TscSource;
  /** TSC frequency, to turn a TSC deadline into virtual time for {@link LocalApic.nextDeadlineNs}. */
  readonly tscHz?: number;
  readonly kick?: LapicKick;
  /** Timer input clock period before the divider, in ns (QEMU and KVM: 1, a 1 GHz bus clock). */
  readonly busPeriodNs?: number;
}

// LVT indices in register order (0x320 + 0x10 * index): timer, thermal (1), perf (2), LINT0, LINT1, error.
const LVT_TIMER = 0;
const LVT_LINT0 = 3;
const LVT_LINT1 = 4;
const LVT_ERROR = 5;
const LVT_WRITABLE = [
  LVT_TIMER_WRITABLE,
  LVT_THERMAL_PERF_WRITABLE,
  LVT_THERMAL_PERF_WRITABLE,
  LVT_LINT_WRITABLE,
  LVT_LINT_WRITABLE,
  LVT_ERROR_WRITABLE,
];
const MASK64 = (1n << 64n) - 1n;
const NS_PER_S = 1_000_000_000n;

const highestBit = (words: readonly number[]): number => {
  for (let i = 7; i >= 0; i--) {
    const w = words[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
};
const testBit = (words: readonly number[], v: number): boolean => ((words[v >>> 5]! >>> (v & 31)) & 1) === 1;
const setBit = (words: number[], v: number, on: boolean): void => {
  const i = v >>> 5;
  const bit = 1 << (v & 31);
  words[i] = (on ? words[i]! | bit : words[i]! & ~bit) >>> 0;
};

/** Divisor for a divide configuration value (11.5.4, Figure 11-10): 2, 4, ... 128, or 1. */
const divisorOf = (dcr: number): number => {
  const v = (dcr & 3) | ((dcr >>> 1) & 4);
  return v === 7 ? 1 : 2 << v;
};

/**
 * A local APIC: xAPIC registers as MMIO (offsets from 0xFEE00000) and the x2APIC view as MSRs
 * ({@link LocalApic.readMsr} / {@link LocalApic.writeMsr}), IA32_APIC_BASE mode switching, task and
 * processor priority, IRR/ISR/TMR with EOI (broadcast to the I/O APIC for level-triggered vectors), the
 * six LVT entries of QEMU's model, the ICR with self IPIs handled locally and the rest handed to an
 * injected {@link LapicIpiSink}, and the timer in one-shot, periodic and TSC-deadline modes on virtual
 * time.
 *
 * The CPU side: {@link LocalApic.hasInterrupt} and {@link LocalApic.acknowledge} (the INTA cycle: the
 * vector moves from IRR to ISR, or comes from the 8259 for ExtINT), and NMI / INIT / SIPI as events
 * the VMM takes ({@link LocalApic.takeNmi}, {@link LocalApic.takeInit}, {@link LocalApic.takeSipi}).
 * Interrupt messages from the I/O APIC, MSIs and other APICs arrive through {@link LocalApic.deliver}.
 */
export class LocalApic implements MmioDevice {
  readonly maxAccessSize: AccessSize = 4;
  /** LINT0 input: wire the 8259 pair's INT output here (ExtINT, or INTR while the APIC is off). */
  readonly lint0: IrqLine = { set: (level: boolean) => this.setLint(0, level) };
  /** LINT1 input: usually the board's NMI. */
  readonly lint1: IrqLine = { set: (level: boolean) => this.setLint(1, level) };

  private id: number;
  private apicBase: bigint;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffff_ffff;
  private svr = 0xff;
  private isr = new Array<number>(8).fill(0);
  private tmr = new Array<number>(8).fill(0);
  private irr = new Array<number>(8).fill(0);
  private esr = 0;
  private esrPending = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private lvt: number[];
  private timerInitial = 0;
  private timerDivide = 0;
  private timerStartNs = 0;
  private timerCountAtStart = 0;
  private timerNextNs = -1;
  private tscDeadline = 0n;
  private lint = 0;
  private extIntRequested = false;
  private nmiPending = false;
  private initPending = false;
  private sipiVector = -1;

  private readonly clock: Clock;
  private readonly bsp: boolean;
  private readonly ipi: LapicIpiSink | undefined;
  private readonly eoiBroadcast: LapicEoiBroadcast | undefined;
  private readonly extInt: ExtIntController | undefined;
  private readonly tsc: TscSource | undefined;
  private readonly tscHz: bigint;
  private readonly kicker: LapicKick | undefined;
  private readonly busPeriodNs: number;

  constructor(options: LocalApicOptions) {
    this.clock = options.clock;
    this.id = checkInt('APIC ID', options.id, 0, 0xffff_fffe);
    this.bsp = options.bsp ?? false;
    this.ipi = options.ipi;
    this.eoiBroadcast = options.eoiBroadcast;
    this.extInt = options.extInt;
    this.tsc = options.tsc;
    this.tscHz = BigInt(
      checkInt('TSC frequency', options.tscHz ?? 1_000_000_000, 1, Number.MAX_SAFE_INTEGER),
    );
    this.kicker = options.kick;
    this.busPeriodNs = checkInt('APIC bus period', options.busPeriodNs ?? 1, 1, 1_000_000);
    this.apicBase = BigInt(LAPIC_BASE) | BigInt(APIC_BASE_ENABLE) | (this.bsp ? BigInt(APIC_BASE_BSP) : 0n);
    this.lvt = this.resetLvt();
  }

  // ---- Modes ----

  /** The APIC is enabled in IA32_APIC_BASE (xAPIC or x2APIC). */
  get enabled(): boolean {
    return (this.apicBase & BigInt(APIC_BASE_ENABLE)) !== 0n;
  }

  get x2apicMode(): boolean {
    return this.enabled && (this.apicBase & BigInt(APIC_BASE_EXTD)) !== 0n;
  }

  /** SVR.APIC Software Enable. */
  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  get apicId(): number {
    return this.id;
  }

  /** MMIO base the guest programmed in IA32_APIC_BASE (the VMM moves the MMIO range when it changes). */
  get mmioBase(): number {
    return Number(this.apicBase & APIC_BASE_ADDR_MASK);
  }

  readApicBase(): bigint {
    return this.apicBase;
  }

  /**
   * WRMSR IA32_APIC_BASE. Returns false (the VMM injects #GP) for reserved bits or a transition the SDM
   * forbids (11.12.5: x2APIC -> xAPIC without disabling first, disabled -> x2APIC, EXTD without EN).
   * Disabling the APIC resets it (11.4.3).
   */
  writeApicBase(value: bigint): boolean {
    value &= MASK64;
    const allowed = APIC_BASE_ADDR_MASK | BigInt(APIC_BASE_ENABLE | APIC_BASE_EXTD | APIC_BASE_BSP);
    if (value & ~allowed) return false;
    const en = (value & BigInt(APIC_BASE_ENABLE)) !== 0n;
    const extd = (value & BigInt(APIC_BASE_EXTD)) !== 0n;
    if (extd && !en) return false;
    if (this.x2apicMode && en && !extd) return false;
    if (!this.enabled && extd) return false;
    // BSP is read-only: it reflects how the processor was started.
    value = (value & ~BigInt(APIC_BASE_BSP)) | (this.apicBase & BigInt(APIC_BASE_BSP));
    const wasEnabled = this.enabled;
    this.apicBase = value;
    if (wasEnabled && !en) this.initReset();
    if (extd) this.ldr = (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0;
    return true;
  }

  /**
   * The INIT reset (11.4.7.3): every register returns to its power-up value except the APIC ID and
   * IA32_APIC_BASE (the x2APIC mode stays). The VMM calls it when it handles an INIT.
   */
  initReset(): void {
    this.tpr = 0;
    this.ldr = this.x2apicMode ? this.ldr : 0;
    this.dfr = 0xffff_ffff;
    this.svr = 0xff;
    this.isr.fill(0);
    this.tmr.fill(0);
    this.irr.fill(0);
    this.esr = 0;
    this.esrPending = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt = this.resetLvt();
    this.timerInitial = 0;
    this.timerDivide = 0;
    this.timerCountAtStart = 0;
    this.timerNextNs = -1;
    this.tscDeadline = 0n;
    this.extIntRequested = false;
  }

  // ---- Register access ----

  read(offset: number, size: AccessSize): number {
    if (!this.enabled || this.x2apicMode) return 0; // the MMIO window only decodes in xAPIC mode
    const byte = offset & 0xf;
    if (byte >= 4) return 0;
    let v = this.readRegister(offset & 0xff0, false);
    if (v === null) {
      this.error(ESR_ILLEGAL_REGISTER);
      v = 0;
    }
    const shifted = v >>> (byte * 8);
    return size === 4 ? shifted >>> 0 : shifted & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (!this.enabled || this.x2apicMode) return;
    // The SDM requires aligned 32-bit stores; narrower ones are dropped.
    if (size !== 4 || offset & 0xf) return;
    if (!this.writeRegister(offset & 0xff0, value >>> 0, false)) this.error(ESR_ILLEGAL_REGISTER);
  }

  /** RDMSR of an x2APIC register (0x800-0x8FF). Returns null for #GP (not x2APIC mode, absent or write-only). */
  readMsr(index: number): bigint | null {
    if (!this.x2apicMode || !Number.isInteger(index) || index < X2APIC_MSR_BASE || index > X2APIC_MSR_LAST) {
      return null;
    }
    const reg = (index - X2APIC_MSR_BASE) << 4;
    if (reg === Reg.ICR_LOW) return (BigInt(this.icrHigh) << 32n) | BigInt(this.icrLow);
    const v = this.readRegister(reg, true);
    return v === null ? null : BigInt(v >>> 0);
  }

  /** WRMSR of an x2APIC register. Returns false for #GP (not x2APIC mode, absent, read-only, reserved bits). */
  writeMsr(index: number, value: bigint): boolean {
    if (!this.x2apicMode || !Number.isInteger(index) || index < X2APIC_MSR_BASE || index > X2APIC_MSR_LAST) {
      return false;
    }
    value &= MASK64;
    const reg = (index - X2APIC_MSR_BASE) << 4;
    if (reg === Reg.ICR_LOW) {
      // x2APIC: one 64-bit write, destination in bits 63:32 (11.12.9).
      this.icrHigh = Number(value >> 32n);
      this.icrLow = Number(value & 0xffff_ffffn) & ICR_LOW_WRITABLE;
      this.sendIcr();
      return true;
    }
    if (value >> 32n) return false;
    return this.writeRegister(reg, Number(value), true);
  }

  /** RDMSR IA32_TSC_DEADLINE: reads 0 outside TSC-deadline mode (11.5.4.1). */
  readTscDeadline(): bigint {
    return this.timerMode === TimerMode.TscDeadline ? this.tscDeadline : 0n;
  }

  /** WRMSR IA32_TSC_DEADLINE: arms (non-zero) or disarms (0) the timer; ignored outside TSC-deadline mode. */
  writeTscDeadline(value: bigint): void {
    if (this.timerMode !== TimerMode.TscDeadline) return;
    this.tscDeadline = value & MASK64;
    this.poll();
  }

  // ---- Interrupt inputs ----

  /**
   * An interrupt message from the I/O APIC, an MSI or another APIC's IPI, already matched to this APIC
   * by the VMM. Fixed and lowest-priority set IRR (TMR as `trigger`); NMI, INIT and StartUp become
   * events; ExtINT asks the 8259 for the vector at the next INTA. SMI is dropped (no SMM). Returns
   * whether the message was accepted (an I/O APIC delivery callback can pass that on).
   */
  deliver(deliveryMode: number, vector: number, trigger: number): boolean {
    if (!this.enabled) return false;
    switch (deliveryMode) {
      case DeliveryMode.Fixed:
      case DeliveryMode.LowestPriority:
        return this.accept(vector, trigger === 1);
      case DeliveryMode.Nmi:
        this.nmiPending = true;
        break;
      case DeliveryMode.Init:
        this.initPending = true;
        break;
      case DeliveryMode.StartUp:
        this.sipiVector = vector & 0xff;
        break;
      case DeliveryMode.ExtInt:
        this.extIntRequested = true;
        break;
      default:
        return false;
    }
    this.kicker?.kick();
    return true;
  }

  /**
   * A fixed interrupt with `vector`: IRR set, TMR set for level-triggered and cleared for edge
   * (11.8.4). Vectors 0-15 are refused with ESR "receive illegal vector". Dropped while the APIC is
   * software-disabled (as KVM). Returns whether the interrupt was accepted.
   */
  accept(vector: number, levelTriggered: boolean): boolean {
    vector &= 0xff;
    if (!this.enabled) return false;
    if (vector < FIRST_VALID_VECTOR) {
      this.error(ESR_RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    if (!this.softwareEnabled) return false;
    setBit(this.irr, vector, true);
    setBit(this.tmr, vector, levelTriggered);
    this.kicker?.kick();
    return true;
  }

  // ---- CPU side ----

  /** A maskable interrupt is ready for INTA (the VMM still checks RFLAGS.IF and interrupt shadows). */
  hasInterrupt(): boolean {
    return this.pendingApicVector() >= 0 || this.extIntPending();
  }

  /**
   * The INTA cycle: the highest-priority deliverable vector moves from IRR to ISR and is returned; an
   * ExtINT request is answered by the 8259. With nothing deliverable this is the spurious vector
   * (11.9).
   */
  acknowledge(): number {
    const v = this.pendingApicVector();
    if (v >= 0) {
      setBit(this.irr, v, false);
      setBit(this.isr, v, true);
      return v;
    }
    if (this.extIntPending()) {
      this.extIntRequested = false;
      if (this.extInt !== undefined) return this.extInt.acknowledge() & 0xff;
    }
    return this.svr & SVR_VECTOR_MASK;
  }

  /** Takes a pending NMI (from LINT, the ICR or a message). */
  takeNmi(): boolean {
    const p = this.nmiPending;
    this.nmiPending = false;
    return p;
  }

  /** Takes a pending INIT; the VMM then resets the vCPU and calls {@link initReset}. */
  takeInit(): boolean {
    const p = this.initPending;
    this.initPending = false;
    return p;
  }

  /** Takes a pending start-up IPI's vector (the real-mode entry page), or -1. */
  takeSipi(): number {
    const v = this.sipiVector;
    this.sipiVector = -1;
    return v;
  }

  /** PPR (11.8.3.1), for lowest-priority arbitration by the VMM. */
  get processorPriority(): number {
    const isrv = Math.max(highestBit(this.isr), 0);
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr : isrv & 0xf0;
  }

  /**
   * Whether a message with this destination reaches this APIC (11.6.2): physical by ID (0xFF, or
   * 0xFFFFFFFF in x2APIC mode, is a broadcast); logical by the LDR in the flat or cluster model, or the
   * x2APIC cluster/bit-mask form (11.12.10).
   */
  matchesDestination(dest: number, logical: boolean): boolean {
    if (!this.enabled) return false;
    if (this.x2apicMode) {
      if (dest === 0xffff_ffff) return true;
      if (!logical) return dest === this.id;
      return dest >>> 16 === this.ldr >>> 16 && (dest & this.ldr & 0xffff) !== 0;
    }
    dest &= 0xff;
    if (dest === 0xff) return true;
    if (!logical) return dest === (this.id & 0xff);
    const ldr = this.ldr >>> XAPIC_ID_SHIFT;
    if (this.dfr >>> DFR_MODEL_SHIFT === DFR_CLUSTER)
      return dest >>> 4 === ldr >>> 4 && (dest & ldr & 0xf) !== 0;
    return (dest & ldr) !== 0;
  }

  // ---- Timer ----

  /** Fires the timer if its time (or TSC deadline) has come. */
  poll(): void {
    if (this.timerMode === TimerMode.TscDeadline) {
      if (this.tscDeadline !== 0n && this.tsc !== undefined && this.tsc.readTsc() >= this.tscDeadline) {
        this.tscDeadline = 0n;
        this.fireTimer();
      }
      return;
    }
    const now = this.clock.nowNs();
    if (this.timerNextNs < 0 || now < this.timerNextNs) return;
    if (this.timerMode === TimerMode.Periodic && this.timerInitial > 0) {
      // Missed periods coalesce into one interrupt (the IRR bit holds one).
      const period = this.timerInitial * this.tickNs;
      this.timerNextNs += (Math.floor((now - this.timerNextNs) / period) + 1) * period;
    } else {
      this.timerNextNs = -1;
    }
    this.fireTimer();
  }

  /** Virtual time of the next timer interrupt, or null when the timer is not armed. */
  nextDeadlineNs(): number | null {
    if (this.timerMode === TimerMode.TscDeadline) {
      if (this.tscDeadline === 0n || this.tsc === undefined) return null;
      const now = this.clock.nowNs();
      const diff = this.tscDeadline - this.tsc.readTsc();
      if (diff <= 0n) return now;
      const ns = (diff * NS_PER_S + this.tscHz - 1n) / this.tscHz;
      return ns > BigInt(Number.MAX_SAFE_INTEGER - now) ? Number.MAX_SAFE_INTEGER : now + Number(ns);
    }
    return this.timerNextNs < 0 ? null : this.timerNextNs;
  }

  // ---- State ----

  getState(): LocalApicState {
    return {
      id: this.id,
      apicBase: this.apicBase.toString(),
      tpr: this.tpr,
      ldr: this.ldr,
      dfr: this.dfr,
      svr: this.svr,
      isr: [...this.isr],
      tmr: [...this.tmr],
      irr: [...this.irr],
      esr: this.esr,
      esrPending: this.esrPending,
      icrLow: this.icrLow,
      icrHigh: this.icrHigh,
      lvt: [...this.lvt],
      timerInitial: this.timerInitial,
      timerDivide: this.timerDivide,
      timerStartNs: this.timerStartNs,
      timerCountAtStart: this.timerCountAtStart,
      timerNextNs: this.timerNextNs,
      tscDeadline: this.tscDeadline.toString(),
      lint: this.lint,
      extIntRequested: this.extIntRequested,
      nmiPending: this.nmiPending,
      initPending: this.initPending,
      sipiVector: this.sipiVector,
    };
  }

  static fromState(state: LocalApicState, options: LocalApicOptions): LocalApic {
    const a = new LocalApic(options);
    a.loadState(state);
    return a;
  }

  loadState(s: LocalApicState): void {
    validateLapicState(s);
    this.id = s.id;
    this.apicBase = BigInt(s.apicBase);
    this.tpr = s.tpr;
    this.ldr = s.ldr;
    this.dfr = s.dfr;
    this.svr = s.svr;
    this.isr = [...s.isr];
    this.tmr = [...s.tmr];
    this.irr = [...s.irr];
    this.esr = s.esr;
    this.esrPending = s.esrPending;
    this.icrLow = s.icrLow;
    this.icrHigh = s.icrHigh;
    this.lvt = [...s.lvt];
    this.timerInitial = s.timerInitial;
    this.timerDivide = s.timerDivide;
    this.timerStartNs = s.timerStartNs;
    this.timerCountAtStart = s.timerCountAtStart;
    this.timerNextNs = s.timerNextNs;
    this.tscDeadline = BigInt(s.tscDeadline);
    this.lint = s.lint;
    this.extIntRequested = s.extIntRequested;
    this.nmiPending = s.nmiPending;
    this.initPending = s.initPending;
    this.sipiVector = s.sipiVector;
  }

  // ---- Internals ----

  private resetLvt(): number[] {
    const lvt = new Array<number>(6).fill(LVT_RESET);
    if (this.bsp) lvt[LVT_LINT0] = LVT_LINT0_BSP_RESET;
    return lvt;
  }

  private get timerMode(): number {
    return (this.lvt[LVT_TIMER]! & LVT_TIMER_MODE_MASK) >>> LVT_TIMER_MODE_SHIFT;
  }

  private get tickNs(): number {
    return divisorOf(this.timerDivide) * this.busPeriodNs;
  }

  /** Highest IRR vector whose priority class is above the PPR's (11.8.3), or -1. */
  private pendingApicVector(): number {
    if (!this.enabled || !this.softwareEnabled) return -1;
    const v = highestBit(this.irr);
    if (v < 0) return -1;
    return (v & 0xf0) > (this.processorPriority & 0xf0) ? v : -1;
  }

  /** ExtINT pending: LINT0 in ExtINT mode (or the whole APIC hardware-disabled) with INTR high, or a message. */
  private extIntPending(): boolean {
    if (this.extIntRequested) return true;
    if (!(this.lint & 1)) return false;
    if (!this.enabled) return true; // LINT0 is the CPU's INTR pin when the APIC is off (11.4.3)
    const l = this.lvt[LVT_LINT0]!;
    return (
      !(l & LVT_MASKED) && (l & LVT_DELIVERY_MODE_MASK) >>> LVT_DELIVERY_MODE_SHIFT === DeliveryMode.ExtInt
    );
  }

  private setLint(pin: 0 | 1, level: boolean): void {
    const bit = 1 << pin;
    const rising = level && !(this.lint & bit);
    this.lint = level ? this.lint | bit : this.lint & ~bit;
    if (!this.enabled) {
      // Hardware-disabled: LINT0 is INTR, LINT1 is NMI.
      if (pin === 1 && rising) this.nmiPending = true;
      if (rising) this.kicker?.kick();
      return;
    }
    const idx = pin === 0 ? LVT_LINT0 : LVT_LINT1;
    const l = this.lvt[idx]!;
    if (l & LVT_MASKED) return;
    const mode = (l & LVT_DELIVERY_MODE_MASK) >>> LVT_DELIVERY_MODE_SHIFT;
    if (mode === DeliveryMode.ExtInt) {
      if (rising) this.kicker?.kick();
    } else if (mode === DeliveryMode.Nmi) {
      if (rising) this.deliver(DeliveryMode.Nmi, 0, 0);
    } else if (mode === DeliveryMode.Fixed) {
      if (l & LVT_TRIGGER_LEVEL) {
        if (level && !(l & LVT_REMOTE_IRR)) {
          this.lvt[idx] = l | LVT_REMOTE_IRR;
          this.accept(l & LVT_VECTOR_MASK, true);
        }
      } else if (rising) {
        this.accept(l & LVT_VECTOR_MASK, false);
      }
    } else if (rising && mode === DeliveryMode.Init) {
      this.deliver(DeliveryMode.Init, 0, 0);
    }
  }

  private fireTimer(): void {
    const l = this.lvt[LVT_TIMER]!;
    if (l & LVT_MASKED) return;
    this.accept(l & LVT_VECTOR_MASK, false);
  }

  /** Records an error for the next ESR write and raises the error LVT (11.5.3). */
  private error(bit: number): void {
    this.esrPending |= bit;
    const l = this.lvt[LVT_ERROR]!;
    const v = l & LVT_VECTOR_MASK;
    // An illegal error vector would raise another error; it is simply not delivered.
    if (!(l & LVT_MASKED) && v >= FIRST_VALID_VECTOR && this.softwareEnabled && this.enabled) {
      setBit(this.irr, v, true);
      setBit(this.tmr, v, false);
      this.kicker?.kick();
    }
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) return;
    setBit(this.isr, v, false);
    if (!testBit(this.tmr, v)) return;
    // Level-triggered: LINT remote IRR, then the broadcast to the I/O APIC (11.8.5).
    for (const idx of [LVT_LINT0, LVT_LINT1]) {
      const l = this.lvt[idx]!;
      if (l & LVT_REMOTE_IRR && (l & LVT_VECTOR_MASK) === v) {
        this.lvt[idx] = l & ~LVT_REMOTE_IRR;
        if (this.lint & (idx === LVT_LINT0 ? 1 : 2)) this.setLint(idx === LVT_LINT0 ? 0 : 1, true);
      }
    }
    this.eoiBroadcast?.eoi(v);
  }

  private get apr(): number {
    // 11.8.3 (arbitration priority, P6 family definition).
    const isrv = Math.max(highestBit(this.isr), 0);
    const irrv = Math.max(highestBit(this.irr), 0);
    if ((this.tpr & 0xf0) >= (irrv & 0xf0) && (this.tpr & 0xf0) > (isrv & 0xf0)) return this.tpr;
    return Math.max(this.tpr & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  private currentCount(): number {
    if (this.timerMode === TimerMode.TscDeadline || this.timerCountAtStart === 0) return 0;
    const elapsed = Math.floor(Math.max(0, this.clock.nowNs() - this.timerStartNs) / this.tickNs);
    if (elapsed < this.timerCountAtStart) return this.timerCountAtStart - elapsed;
    if (this.timerMode !== TimerMode.Periodic || this.timerInitial === 0) return 0;
    return this.timerInitial - ((elapsed - this.timerCountAtStart) % this.timerInitial);
  }

  /** (Re)starts the count-down from `count` now. */
  private startTimer(count: number): void {
    const now = this.clock.nowNs();
    this.timerStartNs = now;
    this.timerCountAtStart = count;
    this.timerNextNs = count > 0 ? now + count * this.tickNs : -1;
  }

  /** A register's value, or null if it does not exist in this mode (ESR / #GP). */
  private readRegister(reg: number, x2: boolean): number | null {
    if (reg >= Reg.ISR0 && reg < Reg.ISR0 + 0x80) return this.isr[(reg - Reg.ISR0) >>> 4]!;
    if (reg >= Reg.TMR0 && reg < Reg.TMR0 + 0x80) return this.tmr[(reg - Reg.TMR0) >>> 4]!;
    if (reg >= Reg.IRR0 && reg < Reg.IRR0 + 0x80) return this.irr[(reg - Reg.IRR0) >>> 4]!;
    const lvtIndex = (reg - Reg.LVT_TIMER) >>> 4;
    if (reg >= Reg.LVT_TIMER && lvtIndex <= LVT_ERROR) return this.lvt[lvtIndex]!;
    switch (reg) {
      case Reg.ID:
        return x2 ? this.id : ((this.id & 0xff) << XAPIC_ID_SHIFT) >>> 0;
      case Reg.VERSION:
        return VERSION;
      case Reg.TPR:
        return this.tpr;
      case Reg.APR:
        return x2 ? null : this.apr;
      case Reg.PPR:
        return this.processorPriority;
      case Reg.RRD:
        return x2 ? null : 0;
      case Reg.LDR:
        return this.ldr;
      case Reg.DFR:
        return x2 ? null : this.dfr;
      case Reg.SVR:
        return this.svr;
      case Reg.ESR:
        return this.esr;
      case Reg.ICR_LOW:
        return this.icrLow; // delivery is immediate, so the delivery status bit reads idle
      case Reg.ICR_HIGH:
        return x2 ? null : this.icrHigh;
      case Reg.TIMER_INITIAL:
        return this.timerInitial;
      case Reg.TIMER_CURRENT:
        return this.currentCount();
      case Reg.TIMER_DIVIDE:
        return this.timerDivide;
      case Reg.EOI:
        return x2 ? null : 0; // write-only: reads 0 through MMIO, #GP as an MSR
      default:
        return null; // SELF IPI is write-only; CMCI is absent in this model
    }
  }

  /** Writes a register; false if it is absent or read-only in this mode. */
  private writeRegister(reg: number, value: number, x2: boolean): boolean {
    // Keep the timer's bookkeeping current before anything that may change it.
    this.poll();
    const lvtIndex = (reg - Reg.LVT_TIMER) >>> 4;
    if (reg >= Reg.LVT_TIMER && lvtIndex <= LVT_ERROR) {
      this.writeLvt(lvtIndex, value);
      return true;
    }
    switch (reg) {
      case Reg.ID:
        if (x2) return false; // read-only in x2APIC mode
        this.id = value >>> XAPIC_ID_SHIFT;
        return true;
      case Reg.TPR:
        this.tpr = value & 0xff;
        return true;
      case Reg.EOI:
        if (x2 && value !== 0) return false;
        this.eoi();
        return true;
      case Reg.LDR:
        if (x2) return false;
        this.ldr = (value & LDR_MASK) >>> 0;
        return true;
      case Reg.DFR:
        if (x2) return false;
        this.dfr = ((value & 0xf000_0000) | DFR_RESERVED_ONES) >>> 0;
        return true;
      case Reg.SVR:
        this.svr = value & SVR_WRITABLE;
        // Software disable masks every LVT entry (11.4.7.2).
        if (!(this.svr & SVR_ENABLE)) for (let i = 0; i <= LVT_ERROR; i++) this.lvt[i]! |= LVT_MASKED;
        return true;
      case Reg.ESR:
        if (x2 && value !== 0) return false;
        // A write latches the errors collected since the last write (11.5.3).
        this.esr = this.esrPending;
        this.esrPending = 0;
        return true;
      case Reg.ICR_LOW:
        if (x2) return false; // handled as one 64-bit MSR by writeMsr
        this.icrLow = value & ICR_LOW_WRITABLE;
        this.sendIcr();
        return true;
      case Reg.ICR_HIGH:
        if (x2) return false;
        this.icrHigh = (value & 0xff00_0000) >>> 0;
        return true;
      case Reg.TIMER_INITIAL:
        // Ignored in TSC-deadline mode (11.5.4.1).
        if (this.timerMode === TimerMode.TscDeadline) return true;
        this.timerInitial = value >>> 0;
        this.startTimer(this.timerInitial);
        return true;
      case Reg.TIMER_DIVIDE: {
        const remaining = this.currentCount();
        this.timerDivide = value & DCR_WRITABLE;
        if (this.timerMode !== TimerMode.TscDeadline && this.timerNextNs >= 0) this.startTimer(remaining);
        return true;
      }
      case Reg.SELF_IPI:
        if (!x2) return false;
        this.accept(value & 0xff, false);
        return true;
      case Reg.VERSION:
      case Reg.PPR:
      case Reg.TIMER_CURRENT:
      case Reg.APR:
      case Reg.RRD:
        return !x2; // read-only: xAPIC ignores the write, x2APIC raises #GP
      default:
        if (reg >= Reg.ISR0 && reg < Reg.IRR0 + 0x80) return !x2;
        return false;
    }
  }

  private writeLvt(index: number, value: number): void {
    const old = this.lvt[index]!;
    let v = (value & LVT_WRITABLE[index]!) | (old & LVT_REMOTE_IRR);
    if (!this.softwareEnabled) v |= LVT_MASKED;
    if (index === LVT_TIMER) {
      // TSC-deadline needs the mode value 2; 3 is reserved and treated as one-shot.
      if ((v & LVT_TIMER_MODE_MASK) >>> LVT_TIMER_MODE_SHIFT === 3) v &= ~LVT_TIMER_MODE_MASK;
      const oldMode = (old & LVT_TIMER_MODE_MASK) >>> LVT_TIMER_MODE_SHIFT;
      const newMode = (v & LVT_TIMER_MODE_MASK) >>> LVT_TIMER_MODE_SHIFT;
      this.lvt[index] = v;
      // Switching into or out of TSC-deadline mode disarms the timer (11.5.4.1).
      if (oldMode !== newMode && (oldMode === TimerMode.TscDeadline || newMode === TimerMode.TscDeadline)) {
        this.timerInitial = 0;
        this.timerCountAtStart = 0;
        this.timerNextNs = -1;
        this.tscDeadline = 0n;
      }
      return;
    }
    // Remote IRR is only meaningful for level-triggered fixed LINT entries.
    if (!(v & LVT_TRIGGER_LEVEL)) v &= ~LVT_REMOTE_IRR;
    this.lvt[index] = v;
    if ((index === LVT_LINT0 || index === LVT_LINT1) && !(v & LVT_MASKED) && v & LVT_TRIGGER_LEVEL) {
      const pin = index === LVT_LINT0 ? 0 : 1;
      if (this.lint & (1 << pin)) this.setLint(pin, true);
    }
  }

  private sendIcr(): void {
    const low = this.icrLow;
    const vector = low & ICR_VECTOR_MASK;
    const deliveryMode = (low & ICR_DELIVERY_MODE_MASK) >>> ICR_DELIVERY_MODE_SHIFT;
    const shorthand = (low & ICR_SHORTHAND_MASK) >>> ICR_SHORTHAND_SHIFT;
    const trigger = low & ICR_TRIGGER_LEVEL ? 1 : 0;
    if (
      (deliveryMode === DeliveryMode.Fixed || deliveryMode === DeliveryMode.LowestPriority) &&
      vector < FIRST_VALID_VECTOR
    ) {
      this.error(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (shorthand === Shorthand.Self) {
      this.deliver(deliveryMode, vector, trigger);
      return;
    }
    this.ipi?.sendIpi({
      vector,
      deliveryMode,
      destMode: low & ICR_DEST_LOGICAL ? 1 : 0,
      assert: (low & ICR_LEVEL_ASSERT) !== 0,
      trigger,
      shorthand,
      destination: this.x2apicMode ? this.icrHigh : this.icrHigh >>> ICR_XAPIC_DEST_SHIFT,
      source: this.id,
    });
  }
}
