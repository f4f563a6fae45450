export {
  SystemControlPortA,
  SystemControlPortB,
  type SystemControlPortAOptions,
  type SystemControlPortBOptions,
  type SpeakerSink,
  type PortAState,
  type PortBState,
} from './device.js';
export * as SystemPortRegs from './registers.js';
