export { Hpet, type HpetOptions, type HpetLegacyObserver } from './device.js';
export type { HpetState, HpetTimerState, U64String } from './state.js';
export * as HpetRegs from './registers.js';
