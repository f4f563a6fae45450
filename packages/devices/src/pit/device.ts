import { type AccessSize, type Clock, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import { nsToTicks, ticksToNs } from '../time/ticks.js';
import {
  CONTROL_OFFSET,
  CW_BCD,
  CW_MODE_MASK,
  CW_MODE_SHIFT,
  CW_RW_MASK,
  CW_RW_SHIFT,
  CW_SC_READ_BACK,
  CW_SC_SHIFT,
  Mode,
  PIT_FREQUENCY_HZ,
  RB_COUNT_N,
  RB_STATUS_N,
  RW_LATCH,
  RW_LSB,
  RW_LSB_MSB,
  RW_MSB,
  STATUS_NULL_COUNT,
  STATUS_OUTPUT,
} from './registers.js';
import { type Pit8254State, type PitChannelState, validatePitState } from './state.js';

export interface Pit8254Options {
  /** Virtual time; the counters run at 1.193182 MHz of it. */
  readonly clock: Clock;
  /** Counter 0's OUT, wired to ISA IRQ0. */
  readonly irq0?: IrqLine;
}

/** What port 0x61 needs from the timer: counter 2's gate and output. */
export interface SpeakerTimer {
  setGate(channel: number, level: boolean): void;
  output(channel: number): boolean;
}

function newChannel(gate: boolean): PitChannelState {
  return {
    mode: Mode.InterruptOnTerminalCount,
    rw: RW_LSB_MSB,
    bcd: false,
    reload: 65536,
    active: 65536,
    armed: false,
    counting: false,
    startTick: 0,
    pausedTick: -1,
    switchTick: -1,
    gate,
    writeMsbNext: false,
    pendingLsb: 0,
    readMsbNext: false,
    latchedCount: -1,
    latchMsbNext: false,
    latchedStatus: -1,
    nullCount: true,
  };
}

const toBcd = (v: number): number =>
  (Math.floor(v / 1000) % 10) * 0x1000 +
  (Math.floor(v / 100) % 10) * 0x100 +
  (Math.floor(v / 10) % 10) * 0x10 +
  (v % 10);
const fromBcd = (raw: number): number =>
  ((raw >> 12) & 0xf) * 1000 + ((raw >> 8) & 0xf) * 100 + ((raw >> 4) & 0xf) * 10 + (raw & 0xf);

/** Modes whose counting the gate suspends (0, 4) or holds and restarts (2, 3). */
const gateLevelSensitive = (mode: number): boolean =>
  mode !== Mode.HardwareRetriggerableOneShot && mode !== 5;
const periodic = (mode: number): boolean => mode === Mode.RateGenerator || mode === Mode.SquareWave;

/**
 * An Intel 8254 programmable interval timer with its three counters as on a PC: counter 0 drives IRQ0,
 * counter 2's gate and output go to port 0x61. All six modes, binary and BCD counting, counter latch,
 * read-back with status, and gate behaviour per mode.
 *
 * Time comes only from the injected {@link Clock}; nothing runs by itself. The VMM calls
 * {@link Pit8254.poll} whenever virtual time reaches {@link Pit8254.nextDeadlineNs} (or more often), and
 * the device delivers counter 0's output edges to IRQ0. Edges that were missed because the VMM polled
 * late are coalesced into one, as QEMU does without tick catch-up.
 */
export class Pit8254 implements PioDevice, SpeakerTimer {
  readonly maxAccessSize: AccessSize = 1;
  private channels: PitChannelState[] = [newChannel(true), newChannel(true), newChannel(false)];
  private lastPollTick = 0;
  private irqLevel = false;
  private readonly clock: Clock;
  private readonly irq0: IrqLine;

  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq0 = options.irq0 ?? NO_IRQ;
    const now = this.nowTick();
    this.lastPollTick = now;
    // Reset state as QEMU leaves it (and as a PC BIOS would): every counter in mode 3 with count
    // 65536, counting from now (counter 2 held by its low gate). OUT0 is therefore high, and the
    // line is taken to be high already, so wiring the timer raises no interrupt by itself.
    for (const c of this.channels) {
      Object.assign(c, { mode: Mode.SquareWave, armed: true });
      this.startCounting(c, now);
    }
    this.irqLevel = true;
  }

  read(offset: number, _size: AccessSize): number {
    if (offset > 2) return 0xff; // the control register is write-only
    return this.readCounter(this.channels[offset]!, this.nowTick());
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    // Edges up to now first, then the write takes effect at the tick that poll stopped at. Reading the
    // clock again (or before the poll) would let a host stall between the two reads put lastPollTick
    // past a short count's terminal tick, and its one edge would never be delivered.
    this.poll();
    const now = this.lastPollTick;
    if (offset === CONTROL_OFFSET) this.writeControl(value, now);
    else if (offset <= 2) this.writeCounter(this.channels[offset]!, value, now);
    this.poll();
  }

  /** Sets a counter's GATE input (counters 0 and 1 are tied high on a PC; counter 2 is port 0x61 bit 0). */
  setGate(channel: number, level: boolean): void {
    const c = this.channels[checkInt('PIT channel', channel, 0, 2)]!;
    if (c.gate === level) return;
    this.poll();
    const now = this.lastPollTick; // the tick the poll delivered up to (see write)
    this.settle(c, now);
    c.gate = level;
    if (gateLevelSensitive(c.mode) && !periodic(c.mode)) {
      // Modes 0 and 4: gate low suspends counting, high resumes it.
      if (!c.counting) return;
      if (!level) c.pausedTick = now;
      else if (c.pausedTick >= 0) {
        c.startTick += now - c.pausedTick;
        c.pausedTick = -1;
      }
    } else if (periodic(c.mode)) {
      // Modes 2 and 3: gate low forces OUT high and stops; the rising edge reloads the count.
      if (!level) {
        if (c.counting) c.pausedTick = now;
        c.switchTick = -1;
      } else if (c.armed) {
        c.active = c.reload;
        this.startCounting(c, now);
      }
    } else if (level && c.armed) {
      // Modes 1 and 5: the rising edge (re)triggers the count.
      c.active = c.reload;
      this.startCounting(c, now);
    }
    this.poll();
  }

  /** A counter's OUT pin now. */
  output(channel: number): boolean {
    const c = this.channels[checkInt('PIT channel', channel, 0, 2)]!;
    return this.out(c, this.nowTick());
  }

  /** Delivers counter 0's output edges up to now to IRQ0. */
  poll(): void {
    const now = this.nowTick();
    const c = this.channels[0]!;
    const edges = this.risingEdges(c, this.lastPollTick, now);
    this.lastPollTick = now;
    if (edges > 0) {
      if (this.irqLevel) this.irq0.set(false);
      this.irq0.set(true);
      this.irqLevel = true;
    }
    const level = this.out(c, now);
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq0.set(level);
    }
  }

  /** Virtual time of counter 0's next output change, or null if it will not change by itself. */
  nextDeadlineNs(): number | null {
    const now = this.nowTick();
    const c = this.channels[0]!;
    this.settle(c, now);
    let t = this.nextTransitionTick(c, now);
    if (c.switchTick >= 0 && (t < 0 || c.switchTick < t)) t = c.switchTick;
    return t < 0 ? null : ticksToNs(t, PIT_FREQUENCY_HZ);
  }

  getState(): Pit8254State {
    return {
      channels: this.channels.map((c) => ({ ...c })),
      lastPollTick: this.lastPollTick,
      irqLevel: this.irqLevel,
    };
  }

  static fromState(state: Pit8254State, options: Pit8254Options): Pit8254 {
    validatePitState(state);
    const p = new Pit8254(options);
    p.channels = state.channels.map((c) => ({ ...c }));
    p.lastPollTick = state.lastPollTick;
    p.irqLevel = state.irqLevel;
    return p;
  }

  private nowTick(): number {
    return nsToTicks(this.clock.nowNs(), PIT_FREQUENCY_HZ);
  }

  private startCounting(c: PitChannelState, now: number): void {
    c.counting = true;
    c.startTick = now;
    c.pausedTick = !c.gate && gateLevelSensitive(c.mode) ? now : -1;
    c.switchTick = -1;
    c.nullCount = false;
  }

  /** Applies a count written during a mode 2/3 cycle once that cycle has ended. */
  private settle(c: PitChannelState, now: number): void {
    if (c.switchTick >= 0 && now >= c.switchTick) {
      c.active = c.reload;
      c.startTick = c.switchTick;
      c.switchTick = -1;
    }
  }

  private elapsed(c: PitChannelState, now: number): number {
    return Math.max(0, (c.pausedTick >= 0 ? c.pausedTick : now) - c.startTick);
  }

  private out(c: PitChannelState, now: number): boolean {
    // Datasheet: after a control word OUT is low in mode 0 and high in all other modes.
    if (!c.counting) return c.mode !== Mode.InterruptOnTerminalCount;
    this.settle(c, now);
    const d = this.elapsed(c, now);
    const n = c.active;
    switch (c.mode) {
      case Mode.InterruptOnTerminalCount:
      case Mode.HardwareRetriggerableOneShot:
        return d >= n;
      case Mode.RateGenerator:
        // Low for one clock while the count is 1, then reload (datasheet, mode 2).
        return c.pausedTick >= 0 || d % n !== n - 1;
      case Mode.SquareWave:
        // High for ceil(N/2) clocks and low for floor(N/2) (datasheet, mode 3).
        return c.pausedTick >= 0 || d % n < Math.ceil(n / 2);
      default:
        // Modes 4 and 5: one low clock when the count reaches 0.
        return d !== n;
    }
  }

  /** The counting element as a 16-bit register value. */
  private countValue(c: PitChannelState, now: number): number {
    const modulus = c.bcd ? 10000 : 65536;
    let v: number;
    if (!c.counting) {
      v = c.active;
    } else {
      this.settle(c, now);
      const d = this.elapsed(c, now);
      const n = c.active;
      if (c.mode === Mode.RateGenerator) {
        v = n - (d % n);
      } else if (c.mode === Mode.SquareWave) {
        // Decrements by two each clock, reloading at each half-cycle.
        const p = d % n;
        const h = Math.ceil(n / 2);
        v = Math.max((n & ~1) - 2 * (p < h ? p : p - h), 0);
      } else {
        v = (((n - d) % modulus) + modulus) % modulus;
      }
    }
    v %= modulus;
    return c.bcd ? toBcd(v) : v;
  }

  private risingEdges(c: PitChannelState, t0: number, t1: number): number {
    if (!c.counting || t1 <= t0) return 0;
    let edges = 0;
    if (c.switchTick >= 0 && c.switchTick <= t1) {
      const mid = Math.max(c.switchTick, t0);
      edges += this.edgesWithin(c, t0, mid);
      this.settle(c, c.switchTick);
      t0 = mid;
    }
    return edges + this.edgesWithin(c, t0, t1);
  }

  private edgesWithin(c: PitChannelState, t0: number, t1: number): number {
    const d0 = this.elapsed(c, t0);
    const d1 = this.elapsed(c, t1);
    const n = c.active;
    switch (c.mode) {
      case Mode.InterruptOnTerminalCount:
      case Mode.HardwareRetriggerableOneShot:
        return d0 < n && d1 >= n ? 1 : 0;
      case Mode.RateGenerator:
      case Mode.SquareWave:
        return Math.floor(d1 / n) - Math.floor(d0 / n);
      default:
        return d0 < n + 1 && d1 >= n + 1 ? 1 : 0;
    }
  }

  private nextTransitionTick(c: PitChannelState, now: number): number {
    if (!c.counting || c.pausedTick >= 0) return -1;
    const d = now - c.startTick;
    const n = c.active;
    switch (c.mode) {
      case Mode.InterruptOnTerminalCount:
      case Mode.HardwareRetriggerableOneShot:
        return d < n ? c.startTick + n : -1;
      case Mode.RateGenerator: {
        const p = d % n;
        return now + (p < n - 1 ? n - 1 - p : 1);
      }
      case Mode.SquareWave: {
        const p = d % n;
        const h = Math.ceil(n / 2);
        return now + (p < h ? h - p : n - p);
      }
      default:
        if (d < n) return c.startTick + n;
        return d === n ? c.startTick + n + 1 : -1;
    }
  }

  private writeControl(value: number, now: number): void {
    const sc = value >>> CW_SC_SHIFT;
    if (sc === CW_SC_READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const c = this.channels[i]!;
        if (!(value & RB_COUNT_N)) this.latchCount(c, now);
        if (!(value & RB_STATUS_N) && c.latchedStatus < 0) c.latchedStatus = this.status(c, now);
      }
      return;
    }
    const c = this.channels[sc]!;
    const rw = (value & CW_RW_MASK) >>> CW_RW_SHIFT;
    if (rw === RW_LATCH) {
      this.latchCount(c, now);
      return;
    }
    let mode = (value & CW_MODE_MASK) >>> CW_MODE_SHIFT;
    if (mode > 5) mode -= 4; // 110 and 111 are modes 2 and 3
    Object.assign(c, newChannel(c.gate), { mode, rw, bcd: (value & CW_BCD) !== 0 });
  }

  private latchCount(c: PitChannelState, now: number): void {
    // A second latch before the first is read is ignored (datasheet, "Counter Latch Command").
    if (c.latchedCount >= 0) return;
    c.latchedCount = this.countValue(c, now);
    c.latchMsbNext = false;
  }

  private status(c: PitChannelState, now: number): number {
    return (
      (this.out(c, now) ? STATUS_OUTPUT : 0) |
      (c.nullCount ? STATUS_NULL_COUNT : 0) |
      (c.rw << CW_RW_SHIFT) |
      (c.mode << CW_MODE_SHIFT) |
      (c.bcd ? CW_BCD : 0)
    );
  }

  private readCounter(c: PitChannelState, now: number): number {
    if (c.latchedStatus >= 0) {
      const s = c.latchedStatus;
      c.latchedStatus = -1;
      return s;
    }
    if (c.latchedCount >= 0) {
      const v = c.latchedCount;
      if (c.rw === RW_LSB_MSB && !c.latchMsbNext) {
        c.latchMsbNext = true;
        return v & 0xff;
      }
      c.latchedCount = -1;
      c.latchMsbNext = false;
      return c.rw === RW_LSB ? v & 0xff : v >>> 8;
    }
    const v = this.countValue(c, now);
    if (c.rw === RW_LSB) return v & 0xff;
    if (c.rw === RW_MSB) return v >>> 8;
    c.readMsbNext = !c.readMsbNext;
    return c.readMsbNext ? v & 0xff : v >>> 8;
  }

  private writeCounter(c: PitChannelState, value: number, now: number): void {
    if (c.rw === RW_LSB || c.rw === RW_MSB) {
      this.loadCount(c, c.rw === RW_LSB ? value : value << 8, now);
      return;
    }
    if (!c.writeMsbNext) {
      c.pendingLsb = value;
      c.writeMsbNext = true;
      c.nullCount = true;
      // Mode 0: writing the first byte of a new count stops counting and drives OUT low.
      if (c.mode === Mode.InterruptOnTerminalCount) c.counting = false;
      return;
    }
    c.writeMsbNext = false;
    this.loadCount(c, (value << 8) | c.pendingLsb, now);
  }

  private loadCount(c: PitChannelState, raw: number, now: number): void {
    let n = c.bcd ? fromBcd(raw) % 10000 : raw;
    if (n === 0) n = c.bcd ? 10000 : 65536; // 0 is the largest count
    // A count of 1 is illegal in modes 2 and 3 (datasheet); use 2 rather than a 1-tick period.
    if (periodic(c.mode) && n === 1) n = 2;
    c.reload = n;
    c.armed = true;
    c.nullCount = true;
    switch (c.mode) {
      case Mode.InterruptOnTerminalCount:
      case Mode.SoftwareTriggeredStrobe:
        c.active = n;
        this.startCounting(c, now);
        return;
      case Mode.RateGenerator:
      case Mode.SquareWave:
        if (!c.counting || c.pausedTick >= 0) {
          c.active = n;
          if (!c.counting) this.startCounting(c, now);
        } else {
          // A new count takes effect when the current period ends (datasheet, modes 2 and 3).
          this.settle(c, now);
          const d = now - c.startTick;
          c.switchTick = c.startTick + (Math.floor(d / c.active) + 1) * c.active;
          c.nullCount = false;
        }
        return;
      default:
        // Modes 1 and 5 wait for a gate trigger.
        if (!c.counting) c.active = n;
    }
  }
}
