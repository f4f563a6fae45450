import { type AccessSize, type Clock, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import { nsToTicks, ticksToNs } from '../time/ticks.js';
import {
  A_DV_32768,
  A_DV_MASK,
  A_RS_MASK,
  A_UIP,
  ALARM_DONT_CARE,
  B_24H,
  B_AIE,
  B_DM_BINARY,
  B_PIE,
  B_SET,
  B_UIE,
  C_AF,
  C_IRQF,
  C_PF,
  C_UF,
  CMOS_SIZE,
  D_VRT,
  DATA_OFFSET,
  FIRST_UPDATE_DELAY_NS,
  HOURS_PM,
  INDEX_MASK,
  INDEX_OFFSET,
  NMI_DISABLE,
  REG_A,
  REG_B,
  REG_C,
  REG_CENTURY,
  REG_D,
  REG_DAY_OF_MONTH,
  REG_DAY_OF_WEEK,
  REG_HOURS,
  REG_HOURS_ALARM,
  REG_MINUTES,
  REG_MINUTES_ALARM,
  REG_MONTH,
  REG_SECONDS,
  REG_SECONDS_ALARM,
  REG_YEAR,
  RTC_TIMEBASE_HZ,
  UIP_LEAD_NS,
} from './registers.js';
import { type Mc146818State, validateRtcState } from './state.js';

const NS_PER_S = 1_000_000_000;
/** Seconds examined for an alarm match after a long pause: one day covers every alarm pattern. */
const MAX_ALARM_SCAN = 86_400;
const TIME_REGISTERS = new Set([
  REG_SECONDS,
  REG_MINUTES,
  REG_HOURS,
  REG_DAY_OF_WEEK,
  REG_DAY_OF_MONTH,
  REG_MONTH,
  REG_YEAR,
  REG_CENTURY,
]);

export interface Mc146818Options {
  readonly clock: Clock;
  /** IRQ8 on a PC. */
  readonly irq?: IrqLine;
  /** Guest wall-clock time at creation, Unix seconds UTC (default 2000-01-01T00:00:00Z). */
  readonly startTime?: number;
}

const toBcd = (v: number): number => ((Math.floor(v / 10) % 10) << 4) | (v % 10);
const fromBcd = (v: number): number => (v >> 4) * 10 + (v & 0x0f);

/** Periodic interrupt period in 32.768 kHz ticks for rate select 1-15 (datasheet Table 5). */
export function periodicTicks(rs: number): number {
  if (rs === 0) return 0;
  return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
}

/**
 * A Motorola MC146818A real-time clock with 128 bytes of CMOS RAM, as on port 0x70/0x71 of a PC:
 * BCD or binary, 12 or 24 hour, update-ended, alarm and periodic interrupts, update-in-progress flag,
 * and the NMI mask bit in the index port.
 *
 * Guest time advances with the injected {@link Clock}, never the host's. Flags are brought up to date
 * on every access and by {@link Mc146818.poll}, which the VMM calls at {@link Mc146818.nextDeadlineNs}
 * when it wants interrupts delivered on time.
 */
export class Mc146818 implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  private cmos = new Array<number>(CMOS_SIZE).fill(0);
  private index = 0;
  private nmiDisabled = false;
  private timeSec: number;
  private phaseNs: number;
  private lastPollNs: number;
  private irqLevel = false;
  private readonly clock: Clock;
  private readonly irq: IrqLine;

  constructor(options: Mc146818Options) {
    this.clock = options.clock;
    this.irq = options.irq ?? NO_IRQ;
    this.timeSec = Math.floor(options.startTime ?? 946_684_800);
    const now = this.clock.nowNs();
    this.phaseNs = now;
    this.lastPollNs = now;
    // Power-on values a PC BIOS leaves: 32.768 kHz, 1024 Hz periodic rate; 24-hour BCD.
    this.cmos[REG_A] = A_DV_32768 | 0x06;
    this.cmos[REG_B] = B_24H;
    this.cmos[REG_D] = D_VRT;
    this.writeTimeRegisters();
  }

  read(offset: number, _size: AccessSize): number {
    if (offset !== DATA_OFFSET) return 0xff; // the index port is write-only
    const now = this.advance();
    const idx = this.index;
    let value = this.cmos[idx]!;
    if (idx === REG_A) {
      if (this.updateInProgress(now)) value |= A_UIP;
    } else if (idx === REG_C) {
      // Reading C clears every flag and so the interrupt (datasheet, Register C).
      this.cmos[REG_C] = 0;
      this.updateIrq();
    }
    return value;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === INDEX_OFFSET) {
      this.index = value & INDEX_MASK;
      this.nmiDisabled = (value & NMI_DISABLE) !== 0;
      return;
    }
    if (offset !== DATA_OFFSET) return;
    const now = this.advance();
    const idx = this.index;
    switch (idx) {
      case REG_A: {
        const wasRunning = this.running;
        this.cmos[REG_A] = value & ~A_UIP;
        if (!wasRunning && this.running) this.phaseNs = now - NS_PER_S + FIRST_UPDATE_DELAY_NS;
        break;
      }
      case REG_B: {
        const old = this.cmos[REG_B]!;
        // Setting SET also clears UIE (datasheet, Register B).
        if (value & B_SET) value &= ~B_UIE;
        this.cmos[REG_B] = value;
        if (old & B_SET && !(value & B_SET)) {
          this.timeSec = this.parseTime();
          this.phaseNs = now;
        }
        break;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.cmos[idx] = value;
        if (TIME_REGISTERS.has(idx) && !(this.cmos[REG_B]! & B_SET)) this.timeSec = this.parseTime();
    }
    this.updateIrq();
  }

  /** Brings the clock and interrupt flags up to the current virtual time. */
  poll(): void {
    this.advance();
  }

  /** Virtual time of the next event that can raise the interrupt, or null if none is enabled. */
  nextDeadlineNs(): number | null {
    const b = this.cmos[REG_B]!;
    let next: number | null = null;
    if (this.running && !(b & B_SET) && b & (B_UIE | B_AIE)) next = this.phaseNs + NS_PER_S;
    const pt = periodicTicks(this.cmos[REG_A]! & A_RS_MASK);
    if (this.running && pt > 0 && b & B_PIE) {
      const k = Math.floor(nsToTicks(this.lastPollNs, RTC_TIMEBASE_HZ) / pt) + 1;
      const t = ticksToNs(k * pt, RTC_TIMEBASE_HZ);
      next = next === null ? t : Math.min(next, t);
    }
    return next;
  }

  /** Whether the guest has set the NMI-disable bit (port 0x70 bit 7). */
  get nmiMasked(): boolean {
    return this.nmiDisabled;
  }

  /** CMOS byte for the VMM (firmware configuration). Throws DevicesError outside 0..127. */
  getCmos(index: number): number {
    return this.cmos[checkInt('CMOS index', index, 0, CMOS_SIZE - 1)]!;
  }

  /** Sets a CMOS byte from the VMM, bypassing register semantics. Throws DevicesError out of range. */
  setCmos(index: number, value: number): void {
    this.cmos[checkInt('CMOS index', index, 0, CMOS_SIZE - 1)] = checkInt('CMOS value', value, 0, 0xff);
  }

  /** Guest wall-clock time, Unix seconds UTC. */
  get time(): number {
    this.advance();
    return this.timeSec;
  }

  getState(): Mc146818State {
    return {
      cmos: [...this.cmos],
      index: this.index,
      nmiDisabled: this.nmiDisabled,
      timeSec: this.timeSec,
      phaseNs: this.phaseNs,
      lastPollNs: this.lastPollNs,
      irqLevel: this.irqLevel,
    };
  }

  static fromState(state: Mc146818State, options: Mc146818Options): Mc146818 {
    validateRtcState(state);
    const r = new Mc146818(options);
    r.cmos = [...state.cmos];
    r.index = state.index;
    r.nmiDisabled = state.nmiDisabled;
    r.timeSec = state.timeSec;
    r.phaseNs = state.phaseNs;
    r.lastPollNs = state.lastPollNs;
    r.irqLevel = state.irqLevel;
    r.irq.set(r.irqLevel);
    return r;
  }

  private get running(): boolean {
    return (this.cmos[REG_A]! & A_DV_MASK) === A_DV_32768;
  }

  private updateInProgress(now: number): boolean {
    if (!this.running || this.cmos[REG_B]! & B_SET) return false;
    return this.phaseNs + NS_PER_S - now <= UIP_LEAD_NS;
  }

  private advance(): number {
    const now = Math.max(this.clock.nowNs(), this.lastPollNs);
    let flags = this.cmos[REG_C]!;
    const pt = periodicTicks(this.cmos[REG_A]! & A_RS_MASK);
    if (this.running && pt > 0) {
      const k0 = Math.floor(nsToTicks(this.lastPollNs, RTC_TIMEBASE_HZ) / pt);
      const k1 = Math.floor(nsToTicks(now, RTC_TIMEBASE_HZ) / pt);
      if (k1 > k0) flags |= C_PF;
    }
    if (this.running && !(this.cmos[REG_B]! & B_SET)) {
      const n = Math.floor((now - this.phaseNs) / NS_PER_S);
      if (n >= 1) {
        if (this.alarmMatchedWithin(this.timeSec + 1, n)) flags |= C_AF;
        this.timeSec += n;
        this.phaseNs += n * NS_PER_S;
        flags |= C_UF;
        this.writeTimeRegisters();
      }
    }
    this.cmos[REG_C] = flags;
    this.lastPollNs = now;
    this.updateIrq();
    return now;
  }

  private alarmMatchedWithin(first: number, count: number): boolean {
    const start = first + Math.max(0, count - MAX_ALARM_SCAN);
    const end = first + count;
    const as = this.cmos[REG_SECONDS_ALARM]!;
    const am = this.cmos[REG_MINUTES_ALARM]!;
    const ah = this.cmos[REG_HOURS_ALARM]!;
    const match = (alarm: number, v: number) => (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === v;
    for (let t = start; t < end; t++) {
      const d = new Date(t * 1000);
      if (
        match(as, this.encode(d.getUTCSeconds())) &&
        match(am, this.encode(d.getUTCMinutes())) &&
        match(ah, this.encodeHours(d.getUTCHours()))
      ) {
        return true;
      }
    }
    return false;
  }

  private encode(v: number): number {
    return this.cmos[REG_B]! & B_DM_BINARY ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.cmos[REG_B]! & B_DM_BINARY ? v : fromBcd(v);
  }

  private encodeHours(h: number): number {
    if (this.cmos[REG_B]! & B_24H) return this.encode(h);
    return this.encode(h % 12 || 12) | (h >= 12 ? HOURS_PM : 0);
  }

  private writeTimeRegisters(): void {
    const d = new Date(this.timeSec * 1000);
    const year = d.getUTCFullYear();
    this.cmos[REG_SECONDS] = this.encode(d.getUTCSeconds());
    this.cmos[REG_MINUTES] = this.encode(d.getUTCMinutes());
    this.cmos[REG_HOURS] = this.encodeHours(d.getUTCHours());
    this.cmos[REG_DAY_OF_WEEK] = this.encode(d.getUTCDay() + 1);
    this.cmos[REG_DAY_OF_MONTH] = this.encode(d.getUTCDate());
    this.cmos[REG_MONTH] = this.encode(d.getUTCMonth() + 1);
    this.cmos[REG_YEAR] = this.encode(((year % 100) + 100) % 100);
    this.cmos[REG_CENTURY] = this.encode(Math.floor(year / 100) & 0x7f);
  }

  /** Guest time from the clock registers as the guest wrote them (out-of-range fields carry over). */
  private parseTime(): number {
    const c = this.cmos;
    const rawHours = c[REG_HOURS]!;
    let hours: number;
    if (c[REG_B]! & B_24H) hours = this.decode(rawHours);
    else hours = (this.decode(rawHours & ~HOURS_PM) % 12) + (rawHours & HOURS_PM ? 12 : 0);
    const year = this.decode(c[REG_CENTURY]!) * 100 + this.decode(c[REG_YEAR]!);
    const d = new Date(0);
    d.setUTCFullYear(year, this.decode(c[REG_MONTH]!) - 1, this.decode(c[REG_DAY_OF_MONTH]!));
    d.setUTCHours(hours, this.decode(c[REG_MINUTES]!), this.decode(c[REG_SECONDS]!), 0);
    const t = Math.floor(d.getTime() / 1000);
    return Number.isSafeInteger(t) ? t : this.timeSec;
  }

  private updateIrq(): void {
    const c = this.cmos[REG_C]!;
    // PF/AF/UF sit at the same bit positions as their enables PIE/AIE/UIE in register B.
    const irqf = (c & this.cmos[REG_B]! & (C_PF | C_AF | C_UF)) !== 0;
    this.cmos[REG_C] = irqf ? c | C_IRQF : c & ~C_IRQF;
    if (irqf !== this.irqLevel) {
      this.irqLevel = irqf;
      this.irq.set(irqf);
    }
  }
}
