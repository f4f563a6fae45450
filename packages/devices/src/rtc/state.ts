import { isUint, isUintArray, stateCheck } from '../errors.js';
import { CMOS_SIZE } from './registers.js';

/** Plain-data snapshot of an {@link Mc146818}. */
export interface Mc146818State {
  /** All 128 CMOS bytes, including the clock registers as last updated. */
  readonly cmos: readonly number[];
  readonly index: number;
  readonly nmiDisabled: boolean;
  /** Guest time (Unix seconds, UTC) of the last update. */
  readonly timeSec: number;
  /** Virtual ns at which that update happened. */
  readonly phaseNs: number;
  /** Virtual ns up to which flags were brought up to date. */
  readonly lastPollNs: number;
  readonly irqLevel: boolean;
}

export function validateRtcState(s: Mc146818State): void {
  stateCheck(
    isUintArray(s.cmos, 0xff, CMOS_SIZE) &&
      s.cmos.length === CMOS_SIZE &&
      isUint(s.index, 0x7f) &&
      typeof s.nmiDisabled === 'boolean' &&
      Number.isSafeInteger(s.timeSec) &&
      Number.isFinite(s.phaseNs) &&
      Number.isFinite(s.lastPollNs) &&
      typeof s.irqLevel === 'boolean',
    'malformed MC146818 state',
  );
}
