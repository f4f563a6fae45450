export {
  LocalApic,
  type LocalApicOptions,
  type LapicIpi,
  type LapicIpiSink,
  type LapicEoiBroadcast,
  type ExtIntController,
  type TscSource,
  type LapicKick,
} from './device.js';
export type { LocalApicState } from './state.js';
export * as LapicRegs from './registers.js';
