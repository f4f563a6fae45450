import { type AccessSize, type Clock, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import { isUint, stateCheck } from '../errors.js';
import type { PowerControl } from '../signals.js';
import { nsToTicks, ticksToNs } from '../time/ticks.js';
import {
  ACPI_DISABLE_CMD,
  ACPI_ENABLE_CMD,
  APM_CNT_OFFSET,
  APM_STS_OFFSET,
  PM_TIMER_HZ,
  PM_TIMER_STATUS_PERIOD,
  PM_TMR_OFFSET,
  PM1_CNT_OFFSET,
  PM1_CNT_STORED,
  PM1_EN_MASK,
  PM1_EN_OFFSET,
  PM1_STS_MASK,
  PM1_STS_OFFSET,
  PWRBTN_EN,
  PWRBTN_STS,
  SCI_EN,
  SCI_SOURCES,
  SLP_EN,
  SLP_TYP_MASK,
  SLP_TYP_S5,
  SLP_TYP_SHIFT,
  TMR_EN,
  TMR_STS,
} from './registers.js';

export interface AcpiPmState {
  readonly sts: number;
  readonly en: number;
  readonly cnt: number;
  readonly lastPollTick: number;
}

export interface AcpiPmOptions {
  readonly clock: Clock;
  /** SCI (ISA IRQ9 on the QEMU PC). */
  readonly sci?: IrqLine;
  readonly power?: PowerControl;
  /** SLP_TYP that means S5 (soft off); default 0 as in QEMU's PIIX4 DSDT. */
  readonly s5SleepType?: number;
}

/** The SMI command sink behind port 0xB2. */
export interface ApmHandler {
  apmCommand(value: number): void;
}

/**
 * ACPI PM1 event/control registers and the PM timer, laid out as the PIIX4 PM I/O block: power-off
 * through SLP_EN with the S5 sleep type, power button, and the 24-bit 3.579545 MHz timer with its
 * overflow status. Insert at PMBA with length {@link PM_IO_LENGTH}. Call {@link AcpiPm.poll} at
 * {@link AcpiPm.nextDeadlineNs} when the guest enables the timer interrupt.
 */
export class AcpiPm implements PioDevice, ApmHandler {
  readonly maxAccessSize: AccessSize = 4;
  private sts = 0;
  private en = 0;
  private cnt = 0;
  private lastPollTick: number;
  private sciLevel = false;
  private readonly clock: Clock;
  private readonly sci: IrqLine;
  private readonly power: PowerControl | undefined;
  private readonly s5: number;

  constructor(options: AcpiPmOptions) {
    this.clock = options.clock;
    this.sci = options.sci ?? NO_IRQ;
    this.power = options.power;
    this.s5 = (options.s5SleepType ?? SLP_TYP_S5) & 7;
    this.lastPollTick = this.nowTick();
  }

  read(offset: number, size: AccessSize): number {
    this.poll();
    // One timer sample per access: bytes of one `inl` taken at different instants tear across a carry
    // (0x4355f2 then 0x435500), and Linux's acpi_pm check rejects a timer that runs backwards.
    const timer = this.lastPollTick % 0x100_0000;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.readByte(offset + i, timer);
    return v;
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.poll();
    for (let i = 0; i < size; i++) this.writeByte(offset + i, Math.floor(value / 256 ** i) & 0xff);
    this.updateSci();
  }

  /** The 24-bit PM timer value now. */
  timerValue(): number {
    return this.nowTick() % 0x100_0000;
  }

  /**
   * The host pressed the fixed-feature power button (ACPI 4.8.3.1; the monitor's `system_powerdown`).
   * As QEMU's acpi_pm1_evt_power_down (hw/acpi/core.c), the press latches PWRBTN_STS, and so raises
   * the SCI, only while the guest has PWRBTN_EN set: a press before the OS installs its handler is
   * dropped instead of surfacing later as a stale event. Returns whether the press was latched.
   */
  pressPowerButton(): boolean {
    if (!(this.en & PWRBTN_EN)) return false;
    this.sts |= PWRBTN_STS;
    this.updateSci();
    return true;
  }

  /** SMI command port handler: the FADT's ACPI enable/disable commands toggle SCI_EN. */
  apmCommand(value: number): void {
    if (value === ACPI_ENABLE_CMD) this.cnt |= SCI_EN;
    else if (value === ACPI_DISABLE_CMD) this.cnt &= ~SCI_EN;
  }

  /** Brings TMR_STS up to date and drives SCI. */
  poll(): void {
    const now = this.nowTick();
    if (Math.floor(now / PM_TIMER_STATUS_PERIOD) > Math.floor(this.lastPollTick / PM_TIMER_STATUS_PERIOD)) {
      this.sts |= TMR_STS;
    }
    this.lastPollTick = Math.max(now, this.lastPollTick);
    this.updateSci();
  }

  /** When TMR_STS will next be set, if the guest enabled the timer interrupt; else null. */
  nextDeadlineNs(): number | null {
    if (!(this.en & TMR_EN)) return null;
    const next = (Math.floor(this.lastPollTick / PM_TIMER_STATUS_PERIOD) + 1) * PM_TIMER_STATUS_PERIOD;
    return ticksToNs(next, PM_TIMER_HZ);
  }

  getState(): AcpiPmState {
    return { sts: this.sts, en: this.en, cnt: this.cnt, lastPollTick: this.lastPollTick };
  }

  static fromState(state: AcpiPmState, options: AcpiPmOptions): AcpiPm {
    stateCheck(
      isUint(state.sts, PM1_STS_MASK) &&
        isUint(state.en, PM1_EN_MASK) &&
        isUint(state.cnt, PM1_CNT_STORED) &&
        isUint(state.lastPollTick, Number.MAX_SAFE_INTEGER),
      'malformed ACPI PM state',
    );
    const pm = new AcpiPm(options);
    pm.sts = state.sts;
    pm.en = state.en;
    pm.cnt = state.cnt;
    pm.lastPollTick = state.lastPollTick;
    pm.updateSci();
    return pm;
  }

  private nowTick(): number {
    return nsToTicks(this.clock.nowNs(), PM_TIMER_HZ);
  }

  private readByte(offset: number, timer: number): number {
    const reg = offset & ~1;
    const shift = (offset & 1) * 8;
    switch (reg) {
      case PM1_STS_OFFSET:
        return (this.sts >> shift) & 0xff;
      case PM1_EN_OFFSET:
        return (this.en >> shift) & 0xff;
      case PM1_CNT_OFFSET:
        return (this.cnt >> shift) & 0xff;
      case PM_TMR_OFFSET:
      case PM_TMR_OFFSET + 2:
        // Bits 31-24 read 0: TMR_VAL_EXT = 0 in the FADT (24-bit timer).
        return offset - PM_TMR_OFFSET < 3 ? (timer >> ((offset - PM_TMR_OFFSET) * 8)) & 0xff : 0;
      default:
        return 0;
    }
  }

  private writeByte(offset: number, b: number): void {
    const reg = offset & ~1;
    const shift = (offset & 1) * 8;
    switch (reg) {
      case PM1_STS_OFFSET:
        // Write 1 to clear (ACPI 4.8.3.1).
        this.sts &= ~((b << shift) & PM1_STS_MASK);
        return;
      case PM1_EN_OFFSET:
        this.en = ((this.en & ~(0xff << shift)) | (b << shift)) & PM1_EN_MASK;
        return;
      case PM1_CNT_OFFSET: {
        const v = (this.cnt & ~(0xff << shift)) | (b << shift);
        this.cnt = v & PM1_CNT_STORED;
        if (shift === 8 && v & SLP_EN) this.sleep((v & SLP_TYP_MASK) >> SLP_TYP_SHIFT);
        return;
      }
      default:
        return; // the timer and the rest of the block are read-only
    }
  }

  private sleep(type: number): void {
    if (type === this.s5) this.power?.powerOff();
    // Other sleep states (S3, S4) are not offered: the DSDT the VMM builds should not list them.
  }

  /** SCI is a level: asserted while any status bit has its enable bit set (ACPI 4.8.3.1). */
  private updateSci(): void {
    const level = (this.sts & this.en & SCI_SOURCES) !== 0;
    if (level !== this.sciLevel) {
      this.sciLevel = level;
      this.sci.set(level);
    }
  }
}

/** Ports 0xB2 (APM control: SMI command) and 0xB3 (APM status, a scratch byte). Length 2. */
export class ApmControl implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  private status = 0;
  constructor(private readonly handler: ApmHandler) {}
  read(offset: number, _size: AccessSize): number {
    return offset === APM_STS_OFFSET ? this.status : offset === APM_CNT_OFFSET ? 0 : 0xff;
  }
  write(offset: number, _size: AccessSize, value: number): void {
    if (offset === APM_CNT_OFFSET) this.handler.apmCommand(value & 0xff);
    else if (offset === APM_STS_OFFSET) this.status = value & 0xff;
  }
}
