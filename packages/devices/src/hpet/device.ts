import type { AccessSize, Clock, IrqLine, MmioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import {
  CAP_NUM_TIM_SHIFT,
  CONF_ENABLE,
  CONF_LEG_RT,
  CONF_WRITABLE,
  DEFAULT_ROUTE_CAP,
  DEFAULT_TIMERS,
  GCAP_ID_OFFSET,
  GEN_CONF_OFFSET,
  GINTR_STA_OFFSET,
  LEGACY_TIMER0_IRQ,
  LEGACY_TIMER1_IRQ,
  MAIN_CNT_OFFSET,
  MAX_TIMERS,
  PERIOD_FS,
  PERIOD_NS,
  PERIOD_OFFSET,
  QEMU_CAPABILITIES,
  TIMER_BASE,
  TIMER_STRIDE,
  TN_32MODE,
  TN_COMPARATOR_OFFSET,
  TN_CONF_OFFSET,
  TN_INT_ENB,
  TN_INT_ROUTE_MASK,
  TN_INT_ROUTE_SHIFT,
  TN_INT_TYPE_LEVEL,
  TN_PER_INT_CAP,
  TN_SIZE_CAP,
  TN_TYPE_PERIODIC,
  TN_VAL_SET,
  TN_WRITABLE,
} from './registers.js';
import { type HpetState, validateHpetState } from './state.js';

/** Told when LegacyReplacement routing changes: the VMM then silences the PIT's IRQ0 and the RTC's IRQ8. */
export interface HpetLegacyObserver {
  legacyRouteChanged(enabled: boolean): void;
}

export interface HpetOptions {
  /** Virtual time; the main counter runs at 100 MHz of it. */
  readonly clock: Clock;
  /**
   * The interrupt line for route `n`: an IOAPIC input for Tn_INT_ROUTE_CNF values, and ISA IRQ0 / IRQ8
   * (to both the 8259 and the IOAPIC input the board maps them to) for legacy replacement. Called once
   * per route, lazily.
   */
  readonly irq: (route: number) => IrqLine;
  /** Number of comparators, 3-32 (QEMU's default is 3). */
  readonly timers?: number;
  /** Tn_INT_ROUTE_CAP of every timer: bit n = IOAPIC input n allowed (QEMU's pc machine: input 2). */
  readonly routeCap?: number;
  readonly legacyObserver?: HpetLegacyObserver;
}

interface Timer {
  config: number;
  comparator: bigint;
  period: bigint;
  deadline: bigint | null;
}

const MASK32 = 0xffff_ffffn;
const MASK64 = (1n << 64n) - 1n;
const replaceHalf = (v: bigint, high: boolean, dword: number): bigint =>
  high ? (v & MASK32) | (BigInt(dword >>> 0) << 32n) : (v & ~MASK32) | BigInt(dword >>> 0);

/**
 * An IA-PC HPET event timer block with QEMU's defaults: a 64-bit main counter at 100 MHz (10 ns
 * period), three 64-bit comparators that can run periodic or one-shot, 32-bit mode, level or edge
 * interrupts with a write-1-to-clear status register, and LegacyReplacement routing of timers 0 and 1
 * to IRQ0 and IRQ8.
 *
 * Time comes only from the injected {@link Clock}: the VMM calls {@link Hpet.poll} when virtual time
 * reaches {@link Hpet.nextDeadlineNs}. Periods missed because of a late poll coalesce into one
 * interrupt, and the periodic accumulator skips ahead past the current counter (as QEMU does).
 */
export class Hpet implements MmioDevice {
  readonly maxAccessSize: AccessSize = 4;
  private config = 0;
  private status = 0;
  private counter = 0n;
  private baseNs: number;
  private lines = 0;
  private timers: Timer[];
  private readonly clock: Clock;
  private readonly irqFactory: (route: number) => IrqLine;
  private readonly irqCache = new Map<number, IrqLine>();
  private readonly routeCap: number;
  private readonly legacyObserver: HpetLegacyObserver | undefined;

  constructor(options: HpetOptions) {
    this.clock = options.clock;
    this.irqFactory = options.irq;
    const n = checkInt('HPET timers', options.timers ?? DEFAULT_TIMERS, DEFAULT_TIMERS, MAX_TIMERS);
    this.routeCap = checkInt('HPET route capability', options.routeCap ?? DEFAULT_ROUTE_CAP, 0, 0xffff_ffff);
    this.legacyObserver = options.legacyObserver;
    this.baseNs = this.clock.nowNs();
    this.timers = Array.from({ length: n }, () => ({
      config: TN_PER_INT_CAP | TN_SIZE_CAP,
      comparator: MASK64,
      period: 0n,
      deadline: null,
    }));
  }

  get timerCount(): number {
    return this.timers.length;
  }

  /** GEN_CONF.LEG_RT_CNF: timers 0 and 1 own IRQ0 and IRQ8. */
  get legacyReplacement(): boolean {
    return (this.config & CONF_LEG_RT) !== 0;
  }

  read(offset: number, size: AccessSize): number {
    const v = this.readDword(offset & ~3);
    const shifted = v >>> ((offset & 3) * 8);
    return size === 4 ? shifted >>> 0 : shifted & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: AccessSize, value: number): void {
    // QEMU accepts only 32-bit accesses; narrower writes are dropped.
    if (size !== 4 || offset & 3) return;
    this.poll();
    this.writeDword(offset, value >>> 0);
    this.poll();
  }

  /** Delivers every comparator match up to now. */
  poll(): void {
    if (!this.enabled) return;
    const now = this.tickNow();
    for (const [i, t] of this.timers.entries()) {
      if (t.deadline === null || now < t.deadline) continue;
      const width = this.widthMask(t);
      if (t.config & TN_TYPE_PERIODIC && t.period > 0n) {
        const k = (now - t.deadline) / t.period + 1n;
        t.deadline += k * t.period;
        t.comparator = (t.comparator + k * t.period) & width;
      } else {
        t.deadline = null;
      }
      this.fire(i, t);
    }
  }

  /** Virtual time of the next comparator match, or null when the counter is halted or nothing is armed. */
  nextDeadlineNs(): number | null {
    if (!this.enabled) return null;
    let best: bigint | null = null;
    for (const t of this.timers)
      if (t.deadline !== null && (best === null || t.deadline < best)) best = t.deadline;
    if (best === null) return null;
    const ns = this.baseNs + Number(best - this.counter) * PERIOD_NS;
    return Math.min(ns, Number.MAX_SAFE_INTEGER);
  }

  getState(): HpetState {
    return {
      config: this.config,
      status: this.status,
      counter: this.counter.toString(),
      baseNs: this.baseNs,
      lines: this.lines,
      timers: this.timers.map((t) => ({
        config: t.config,
        comparator: t.comparator.toString(),
        period: t.period.toString(),
        deadline: t.deadline === null ? null : t.deadline.toString(),
      })),
    };
  }

  static fromState(state: HpetState, options: HpetOptions): Hpet {
    const h = new Hpet(options);
    h.loadState(state);
    return h;
  }

  /** Restores a snapshot in place; the lines are taken to be at the recorded levels already. */
  loadState(s: HpetState): void {
    validateHpetState(s, this.timers.length);
    this.config = s.config;
    this.status = s.status;
    this.counter = BigInt(s.counter);
    this.baseNs = s.baseNs;
    this.lines = s.lines;
    this.timers = s.timers.map((t) => ({
      config: (t.config & TN_WRITABLE) | TN_PER_INT_CAP | TN_SIZE_CAP,
      comparator: BigInt(t.comparator),
      period: BigInt(t.period),
      deadline: t.deadline === null ? null : BigInt(t.deadline),
    }));
  }

  private get enabled(): boolean {
    return (this.config & CONF_ENABLE) !== 0;
  }

  /** The main counter on an unwrapped timeline (reads take it modulo 2^64). */
  private tickNow(): bigint {
    if (!this.enabled) return this.counter;
    const elapsed = Math.floor((this.clock.nowNs() - this.baseNs) / PERIOD_NS);
    return this.counter + BigInt(Math.max(0, elapsed));
  }

  private widthMask(t: Timer): bigint {
    return t.config & TN_32MODE ? MASK32 : MASK64;
  }

  private readDword(offset: number): number {
    if (offset >= TIMER_BASE) {
      const i = Math.floor((offset - TIMER_BASE) / TIMER_STRIDE);
      const t = this.timers[i];
      if (t === undefined) return 0;
      const reg = (offset - TIMER_BASE) % TIMER_STRIDE;
      switch (reg) {
        case TN_CONF_OFFSET:
          return t.config;
        case TN_CONF_OFFSET + 4:
          return this.routeCap >>> 0;
        case TN_COMPARATOR_OFFSET:
          return Number(t.comparator & MASK32);
        case TN_COMPARATOR_OFFSET + 4:
          return Number(t.comparator >> 32n);
        default:
          return 0; // FSB interrupt route: FSB delivery is not offered
      }
    }
    switch (offset) {
      case GCAP_ID_OFFSET:
        return (QEMU_CAPABILITIES | ((this.timers.length - 1) << CAP_NUM_TIM_SHIFT)) >>> 0;
      case PERIOD_OFFSET:
        return PERIOD_FS;
      case GEN_CONF_OFFSET:
        return this.config;
      case GINTR_STA_OFFSET:
        return this.status >>> 0;
      case MAIN_CNT_OFFSET:
        return Number(this.tickNow() & MASK32);
      case MAIN_CNT_OFFSET + 4:
        return Number((this.tickNow() >> 32n) & MASK32);
      default:
        return 0;
    }
  }

  private writeDword(offset: number, value: number): void {
    if (offset >= TIMER_BASE) {
      const i = Math.floor((offset - TIMER_BASE) / TIMER_STRIDE);
      const t = this.timers[i];
      if (t === undefined) return;
      const reg = (offset - TIMER_BASE) % TIMER_STRIDE;
      if (reg === TN_CONF_OFFSET) this.writeTimerConfig(i, t, value);
      else if (reg === TN_COMPARATOR_OFFSET) this.writeComparator(t, false, value);
      else if (reg === TN_COMPARATOR_OFFSET + 4) this.writeComparator(t, true, value);
      return;
    }
    switch (offset) {
      case GEN_CONF_OFFSET:
        this.writeConfig(value & CONF_WRITABLE);
        return;
      case GINTR_STA_OFFSET:
        // Write-1-to-clear (spec 2.3.6); writing 0 has no effect.
        this.status = (this.status & ~value) >>> 0;
        this.updateLines();
        return;
      case MAIN_CNT_OFFSET:
      case MAIN_CNT_OFFSET + 4:
        // Software should halt the counter first (spec 2.3.7); a write while running takes effect anyway.
        this.counter = replaceHalf(this.tickNow() & MASK64, offset !== MAIN_CNT_OFFSET, value);
        this.baseNs = this.clock.nowNs();
        this.armAll();
        return;
      default:
        return; // capabilities and reserved registers are read-only
    }
  }

  private writeConfig(value: number): void {
    const old = this.config;
    if (value & CONF_ENABLE && !(old & CONF_ENABLE)) {
      this.config = value;
      this.baseNs = this.clock.nowNs();
      this.armAll();
    } else if (!(value & CONF_ENABLE) && old & CONF_ENABLE) {
      // Halting freezes the counter and stops interrupt generation (spec 2.3.5).
      this.counter = this.tickNow() & MASK64;
      this.baseNs = this.clock.nowNs();
      this.config = value;
      for (const t of this.timers) t.deadline = null;
    } else {
      this.config = value;
    }
    if ((old ^ value) & CONF_LEG_RT) this.legacyObserver?.legacyRouteChanged((value & CONF_LEG_RT) !== 0);
    this.updateLines();
  }

  private writeTimerConfig(i: number, t: Timer, value: number): void {
    let next = (t.config & ~TN_WRITABLE) | (value & TN_WRITABLE);
    // A route the timer does not support is not taken; the old route reads back (spec 2.3.8).
    const route = (next & TN_INT_ROUTE_MASK) >>> TN_INT_ROUTE_SHIFT;
    if (!((this.routeCap >>> route) & 1)) next = (next & ~TN_INT_ROUTE_MASK) | (t.config & TN_INT_ROUTE_MASK);
    t.config = next;
    if (next & TN_32MODE) {
      t.comparator &= MASK32;
      t.period &= MASK32;
    }
    // The status bit has no meaning for edge-triggered timers (spec 2.3.6).
    if (!(next & TN_INT_TYPE_LEVEL)) this.status = (this.status & ~(1 << i)) >>> 0;
    this.arm(t);
    this.updateLines();
  }

  private writeComparator(t: Timer, high: boolean, value: number): void {
    const mode32 = (t.config & TN_32MODE) !== 0;
    if (high && mode32) return;
    const periodic = (t.config & TN_TYPE_PERIODIC) !== 0;
    // Periodic mode: a comparator write sets the accumulator's increment; with Tn_VAL_SET_CNF it also
    // sets the comparator itself (spec 2.3.9.2.2, the sequence Linux's hpet_set_periodic uses).
    if (!periodic || t.config & TN_VAL_SET) t.comparator = replaceHalf(t.comparator, high, value);
    if (periodic) {
      // QEMU limits the period to half the timer's range.
      t.period = replaceHalf(t.period, high, value) & (mode32 ? MASK32 >> 1n : MASK64 >> 1n);
    }
    t.config &= ~TN_VAL_SET;
    this.arm(t);
  }

  private armAll(): void {
    for (const t of this.timers) this.arm(t);
  }

  /**
   * Schedules the next match of `t`. A comparator at or behind the counter (by less than half the
   * timer's range) fires on the next tick, as QEMU's hpet_calculate_diff does, rather than a full
   * counter wrap later. A comparator still at its reset value (all ones) is not armed (as QEMU).
   */
  private arm(t: Timer): void {
    const width = this.widthMask(t);
    if (!this.enabled || t.comparator === width) {
      t.deadline = null;
      return;
    }
    const now = this.tickNow();
    const diff = (t.comparator - (now & width)) & width;
    const half = (width >> 1n) + 1n;
    t.deadline = now + (diff > 0n && diff < half ? diff : 1n);
  }

  private route(i: number, t: Timer): number {
    if (this.legacyReplacement && i === 0) return LEGACY_TIMER0_IRQ;
    if (this.legacyReplacement && i === 1) return LEGACY_TIMER1_IRQ;
    return (t.config & TN_INT_ROUTE_MASK) >>> TN_INT_ROUTE_SHIFT;
  }

  private fire(i: number, t: Timer): void {
    if (t.config & TN_INT_TYPE_LEVEL) {
      // Level mode: the status bit is set whether or not the interrupt is enabled (spec 2.3.8).
      this.status = (this.status | (1 << i)) >>> 0;
      this.updateLines();
      return;
    }
    if (!(t.config & TN_INT_ENB)) return;
    const route = this.route(i, t);
    if (this.lines & (1 << route)) return; // already held high by a level-triggered timer
    const line = this.line(route);
    line.set(true);
    line.set(false);
  }

  private updateLines(): void {
    let want = 0;
    if (this.enabled) {
      for (const [i, t] of this.timers.entries()) {
        if (t.config & TN_INT_TYPE_LEVEL && t.config & TN_INT_ENB && this.status & (1 << i)) {
          want |= 1 << this.route(i, t);
        }
      }
    }
    const changed = (want ^ this.lines) >>> 0;
    this.lines = want >>> 0;
    for (let r = 0; r < 32; r++) if (changed & (1 << r)) this.line(r).set((want & (1 << r)) !== 0);
  }

  private line(route: number): IrqLine {
    let l = this.irqCache.get(route);
    if (l === undefined) {
      l = this.irqFactory(route);
      this.irqCache.set(route, l);
    }
    return l;
  }
}
