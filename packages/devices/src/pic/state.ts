import { isUint, stateCheck } from '../errors.js';

/** Plain-data snapshot of one 8259A. */
export interface Pic8259State {
  readonly irr: number;
  readonly isr: number;
  readonly imr: number;
  /** Edge/level control (PIIX ELCR): 1 = level-triggered input. */
  readonly elcr: number;
  /** Last level seen on each IR input (for edge detection). */
  readonly lines: number;
  /** IR level with the highest priority (rotation moves it). */
  readonly priorityBase: number;
  readonly vectorBase: number;
  /** 0 = ready; 2, 3, 4 = the next initialization command word expected. */
  readonly initStep: number;
  readonly icw1: number;
  readonly icw3: number;
  readonly icw4: number;
  readonly readIsr: boolean;
  readonly poll: boolean;
  readonly specialMask: boolean;
  readonly rotateOnAutoEoi: boolean;
}

export interface PicPairState {
  readonly master: Pic8259State;
  readonly slave: Pic8259State;
}

export function validatePicState(s: Pic8259State): void {
  stateCheck(
    [s.irr, s.isr, s.imr, s.elcr, s.lines, s.vectorBase, s.icw1, s.icw3, s.icw4].every((v) =>
      isUint(v, 0xff),
    ) &&
      isUint(s.priorityBase, 7) &&
      [0, 2, 3, 4].includes(s.initStep) &&
      [s.readIsr, s.poll, s.specialMask, s.rotateOnAutoEoi].every((b) => typeof b === 'boolean'),
    'malformed 8259A state',
  );
}
