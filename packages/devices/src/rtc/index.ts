export { Mc146818, type Mc146818Options, periodicTicks } from './device.js';
export { pcCmosLayout, type PcCmosOptions } from './cmos-layout.js';
export type { Mc146818State } from './state.js';
export * as RtcRegs from './registers.js';
