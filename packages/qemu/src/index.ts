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
export { E820, type E820Entry, pcE820 } from './loaders/e820.js';
export {
  BOOT_GDT,
  type BzImageInfo,
  describeLinuxLoadError,
  type Entry32,
  type GuestWriter,
  LAYOUT as LINUX_LAYOUT,
  type LinuxLoadError,
  type LinuxLoadOptions,
  type LinuxLoadResult,
  loadLinux,
  parseBzImage,
} from './loaders/linux.js';
export { Monitor, type MonitorTarget, type VmStatus } from './monitor/hmp.js';
export type { CpuSnapshot, SegmentSnapshot } from './monitor/snapshot.js';
export { formatRegisters } from './monitor/registers.js';
export { type DumpSpec, formatDump, parseDumpFormat } from './monitor/memory-dump.js';
export {
  loadMultiboot,
  MB_LAYOUT,
  MULTIBOOT,
  type MultibootError,
  type MultibootImage,
  type MultibootLoadOptions,
  type MultibootLoadResult,
  type MultibootModule,
  makeMultibootImage,
  parseMultiboot,
} from './loaders/multiboot.js';
