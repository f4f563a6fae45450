import { isUint, stateCheck } from '../errors.js';
import { MAX_TIMERS } from './registers.js';

/** A 64-bit register value as a decimal string (JSON has no 64-bit integers). */
export type U64String = string;

export interface HpetTimerState {
  /** Tn_CONF low dword (capability bits included). */
  readonly config: number;
  readonly comparator: U64String;
  /** The periodic accumulator's increment (last value written to the comparator in periodic mode). */
  readonly period: U64String;
  /** Main-counter tick (on the unwrapped timeline of `counter`/`baseNs`) of the next match, or null. */
  readonly deadline: U64String | null;
}

/** Plain-data snapshot of an HPET block. */
export interface HpetState {
  readonly config: number;
  readonly status: number;
  /** Main counter value at `baseNs` (the frozen value while the counter is halted). */
  readonly counter: U64String;
  readonly baseNs: number;
  readonly timers: readonly HpetTimerState[];
  /** Routes whose line is currently driven high, bit n = route n. */
  readonly lines: number;
}

const U64_MAX = (1n << 64n) - 1n;
const DEADLINE_MAX = 1n << 72n;

export const isU64String = (v: unknown, max = U64_MAX): v is string =>
  typeof v === 'string' && /^[0-9]{1,22}$/.test(v) && BigInt(v) <= max;

export function validateHpetState(s: HpetState, timers: number): void {
  stateCheck(
    isUint(s.config, 3) &&
      isUint(s.status, 0xffff_ffff) &&
      isU64String(s.counter) &&
      isUint(s.baseNs, Number.MAX_SAFE_INTEGER) &&
      isUint(s.lines, 0xffff_ffff) &&
      Array.isArray(s.timers) &&
      s.timers.length === timers &&
      timers <= MAX_TIMERS,
    'malformed HPET state',
  );
  for (const t of s.timers) {
    stateCheck(
      isUint(t.config, 0xffff) &&
        isU64String(t.comparator) &&
        isU64String(t.period) &&
        (t.deadline === null || isU64String(t.deadline, DEADLINE_MAX)),
      'malformed HPET timer state',
    );
  }
}
