import { isUint, isUintArray, stateCheck } from '../errors.js';
import { NUM_PINS } from './registers.js';

/** Plain-data snapshot of an I/O APIC. */
export interface IoApicState {
  readonly id: number;
  readonly ioregsel: number;
  /** Redirection entries as [low dword, high dword] pairs, 24 of them. */
  readonly redirection: readonly (readonly [number, number])[];
  /** Asserted input pins, bit n = pin n. */
  readonly lines: number;
}

export function validateIoApicState(s: IoApicState): void {
  stateCheck(
    isUint(s.id, 0x0f) &&
      isUint(s.ioregsel, 0xff) &&
      isUint(s.lines, 0xff_ffff) &&
      Array.isArray(s.redirection) &&
      s.redirection.length === NUM_PINS &&
      s.redirection.every((e) => isUintArray(e, 0xffff_ffff, 2) && e.length === 2),
    'malformed I/O APIC state',
  );
}
