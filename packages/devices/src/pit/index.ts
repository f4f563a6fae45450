export { Pit8254, type Pit8254Options, type SpeakerTimer } from './device.js';
export type { Pit8254State, PitChannelState } from './state.js';
export * as PitRegs from './registers.js';
