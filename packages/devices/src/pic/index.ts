export { Pic8259, PicPair, type Pic8259Options, type PicPairOptions } from './device.js';
export type { Pic8259State, PicPairState } from './state.js';
export * as PicRegs from './registers.js';
