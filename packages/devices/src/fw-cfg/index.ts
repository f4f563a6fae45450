export {
  FwCfg,
  type FwCfgOptions,
  type FwCfgState,
  type E820Entry,
  e820File,
  bootOrderFile,
} from './device.js';
export { FwCfgKey, E820 } from './registers.js';
export * as FwCfgRegs from './registers.js';
