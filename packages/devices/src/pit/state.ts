import { isUint, stateCheck } from '../errors.js';

/** One counter of the 8254, as plain data. Tick values are absolute ticks of the 1.193182 MHz clock. */
export interface PitChannelState {
  mode: number;
  rw: number;
  bcd: boolean;
  /** Count last written (1..65536 binary, 1..10000 BCD). */
  reload: number;
  /** Count of the cycle in progress. */
  active: number;
  /** A count has been written since the last control word. */
  armed: boolean;
  /** Counting is running (or paused by the gate) from `startTick`. */
  counting: boolean;
  startTick: number;
  /** Tick at which the gate stopped counting, or -1. */
  pausedTick: number;
  /** Modes 2/3: tick at which `reload` replaces `active`, or -1. */
  switchTick: number;
  gate: boolean;
  /** LSB of a two-byte count written; MSB expected next. */
  writeMsbNext: boolean;
  pendingLsb: number;
  readMsbNext: boolean;
  /** Latched count, or -1. */
  latchedCount: number;
  latchMsbNext: boolean;
  /** Latched status byte, or -1. */
  latchedStatus: number;
  nullCount: boolean;
}

export interface Pit8254State {
  readonly channels: readonly PitChannelState[];
  /** Tick up to which channel 0's output edges were delivered to IRQ0. */
  readonly lastPollTick: number;
  readonly irqLevel: boolean;
}

const MAX_TICK = Number.MAX_SAFE_INTEGER;

export function validatePitState(s: Pit8254State): void {
  stateCheck(Array.isArray(s.channels) && s.channels.length === 3, '8254 state needs three channels');
  for (const c of s.channels) {
    stateCheck(
      isUint(c.mode, 5) &&
        isUint(c.rw, 3) &&
        c.rw !== 0 &&
        isUint(c.reload, 65536) &&
        c.reload >= 1 &&
        isUint(c.active, 65536) &&
        c.active >= 1 &&
        isUint(c.startTick, MAX_TICK) &&
        Number.isInteger(c.pausedTick) &&
        c.pausedTick >= -1 &&
        Number.isInteger(c.switchTick) &&
        c.switchTick >= -1 &&
        isUint(c.pendingLsb, 0xff) &&
        Number.isInteger(c.latchedCount) &&
        c.latchedCount >= -1 &&
        c.latchedCount <= 0xffff &&
        Number.isInteger(c.latchedStatus) &&
        c.latchedStatus >= -1 &&
        c.latchedStatus <= 0xff &&
        [
          c.bcd,
          c.armed,
          c.counting,
          c.gate,
          c.writeMsbNext,
          c.readMsbNext,
          c.latchMsbNext,
          c.nullCount,
        ].every((b) => typeof b === 'boolean'),
      'malformed 8254 channel state',
    );
  }
  stateCheck(isUint(s.lastPollTick, MAX_TICK) && typeof s.irqLevel === 'boolean', 'malformed 8254 state');
}
