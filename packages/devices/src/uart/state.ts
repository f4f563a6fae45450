import { isUint, isUintArray, stateCheck } from '../errors.js';
import { FIFO_CAPACITY } from './registers.js';

/** Plain-data snapshot of a {@link Uart16550}. */
export interface Uart16550State {
  readonly ier: number;
  readonly lcr: number;
  readonly mcr: number;
  /** Sticky LSR error bits (OE/PE/FE/BI); DR, THRE and TEMT are derived. */
  readonly lsrErrors: number;
  /** MSR delta bits (0-3); the status bits are derived from the inputs or loopback. */
  readonly msrDeltas: number;
  readonly scr: number;
  readonly dll: number;
  readonly dlm: number;
  readonly fcr: number;
  readonly rxFifo: readonly number[];
  /** A THR-empty interrupt is pending (cleared by reading IIR or writing THR). */
  readonly thrInterrupt: boolean;
  /** Modem input pins as the host last set them: MSR bits 4-7 (CTS, DSR, RI, DCD). */
  readonly modemInputs: number;
}

export function validateUartState(s: Uart16550State): void {
  stateCheck(
    isUint(s.ier, 0x0f) &&
      isUint(s.lcr, 0xff) &&
      isUint(s.mcr, 0x1f) &&
      isUint(s.lsrErrors, 0x1e) &&
      isUint(s.msrDeltas, 0x0f) &&
      isUint(s.scr, 0xff) &&
      isUint(s.dll, 0xff) &&
      isUint(s.dlm, 0xff) &&
      isUint(s.fcr, 0xff) &&
      isUintArray(s.rxFifo, 0xff, FIFO_CAPACITY) &&
      typeof s.thrInterrupt === 'boolean' &&
      isUint(s.modemInputs, 0xf0) &&
      (s.modemInputs & 0x0f) === 0,
    'malformed 16550A state',
  );
}
