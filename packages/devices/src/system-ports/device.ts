import type { AccessSize, Clock, PioDevice } from '@typevisor/memory';
import { isUint, stateCheck } from '../errors.js';
import type { SpeakerTimer } from '../pit/device.js';
import { type A20Line, NO_A20, NO_RESET, type ResetLine } from '../signals.js';
import {
  PORTA_A20,
  PORTA_FAST_RESET,
  PORTB_REFRESH_TOGGLE,
  PORTB_SPEAKER_DATA,
  PORTB_TIMER2_GATE,
  PORTB_TIMER2_OUT,
  PORTB_WRITABLE,
  REFRESH_PERIOD_NS,
} from './registers.js';

export interface PortBState {
  readonly value: number;
}

/** Where the speaker signal goes (counter 2 OUT ANDed with port 0x61 bit 1), e.g. a beeper. */
export interface SpeakerSink {
  setSpeaker(enabled: boolean): void;
}

export interface SystemControlPortBOptions {
  /** The 8254 whose counter 2 gate and output this port exposes. */
  readonly timer: SpeakerTimer;
  /** For the refresh toggle bit (bit 4), which some delay loops poll. */
  readonly clock: Clock;
  readonly speaker?: SpeakerSink;
}

/**
 * Port 0x61: counter 2 gate and speaker enable (written), counter 2 OUT and the refresh toggle (read).
 * Linux calibrates the TSC by gating counter 2 here and polling bit 5. One port: insert at 0x61, length 1.
 */
export class SystemControlPortB implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  private value = 0;
  private readonly timer: SpeakerTimer;
  private readonly clock: Clock;
  private readonly speaker: SpeakerSink | undefined;

  constructor(options: SystemControlPortBOptions) {
    this.timer = options.timer;
    this.clock = options.clock;
    this.speaker = options.speaker;
  }

  read(offset: number, _size: AccessSize): number {
    if (offset !== 0) return 0xff;
    let v = this.value;
    if (this.timer.output(2)) v |= PORTB_TIMER2_OUT;
    if (Math.floor(this.clock.nowNs() / REFRESH_PERIOD_NS) & 1) v |= PORTB_REFRESH_TOGGLE;
    return v;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    if (offset !== 0) return;
    this.value = value & PORTB_WRITABLE;
    this.timer.setGate(2, (value & PORTB_TIMER2_GATE) !== 0);
    this.speaker?.setSpeaker((value & (PORTB_SPEAKER_DATA | PORTB_TIMER2_GATE)) === 3);
  }

  getState(): PortBState {
    return { value: this.value };
  }

  static fromState(state: PortBState, options: SystemControlPortBOptions): SystemControlPortB {
    stateCheck(isUint(state.value, PORTB_WRITABLE), 'malformed port 0x61 state');
    const p = new SystemControlPortB(options);
    p.value = state.value;
    return p;
  }
}

export interface PortAState {
  readonly value: number;
}

export interface SystemControlPortAOptions {
  readonly a20?: A20Line;
  readonly reset?: ResetLine;
}

/**
 * Port 0x92, "fast A20 and init": bit 1 drives the A20 gate, writing bit 0 = 1 requests a reset.
 * One port: insert at 0x92, length 1.
 */
export class SystemControlPortA implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  private value = 0;
  private readonly a20: A20Line;
  private readonly reset: ResetLine;

  constructor(options: SystemControlPortAOptions = {}) {
    this.a20 = options.a20 ?? NO_A20;
    this.reset = options.reset ?? NO_RESET;
  }

  read(offset: number, _size: AccessSize): number {
    return offset === 0 ? this.value : 0xff;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    if (offset !== 0) return;
    const old = this.value;
    this.value = value & PORTA_A20;
    if ((old ^ this.value) & PORTA_A20) this.a20.setA20((this.value & PORTA_A20) !== 0);
    if (value & PORTA_FAST_RESET) this.reset.requestReset();
  }

  get a20Enabled(): boolean {
    return (this.value & PORTA_A20) !== 0;
  }

  getState(): PortAState {
    return { value: this.value };
  }

  static fromState(state: PortAState, options: SystemControlPortAOptions = {}): SystemControlPortA {
    stateCheck(isUint(state.value, PORTA_A20), 'malformed port 0x92 state');
    const p = new SystemControlPortA(options);
    p.value = state.value;
    return p;
  }
}
