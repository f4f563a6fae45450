export type {
  CharBackend,
  Command,
  CpuConfig,
  DeviceConfig,
  DriveConfig,
  MachineType,
  NetdevConfig,
  VmConfig,
} from './options/config.js';
export {
  CommandLineError,
  helpText,
  LOG_ITEMS,
  OPTIONS,
  parseCharBackend,
  parseCommandLine,
} from './options/parse.js';
export { parseKeyValues, parseSize, splitCommas } from './options/keyval.js';
export { VERSION } from './version.js';
