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
  MACHINES,
  machineHelpText,
  OPTIONS,
  parseCharBackend,
  parseCommandLine,
} from './options/parse.js';
export { parseKeyValues, parseSize, splitCommas } from './options/keyval.js';
export { VERSION } from './version.js';
export {
  type AcpiBlob,
  Aml,
  buildPcAcpi,
  checksum8,
  FADT,
  FADT_FLAG,
  MADT,
  PC_ACPI,
  type PcAcpiOptions,
  pcDsdtAml,
} from './acpi/index.js';
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
export { type ExitAction, type ExitTargets, handleExit } from './machine/exit-dispatch.js';
export { applyEntryRegs, applyEntrySregs, flatSegment } from './machine/entry-state.js';
export { type MachineIo, PC_IRQ, PC_PORTS, PcMachine } from './machine/pc.js';
export {
  PcVga,
  VBE_LFB_BASE,
  type VgaFrame,
  vgaEnabled,
  vgaFont8x16,
  VGA_PORTS,
  TEXT_WINDOW,
} from './machine/vga.js';
export {
  MICROVM_MMIO_BASE,
  MICROVM_VIRTIO_IRQS,
  MicrovmMachine,
  type MicrovmVirtioSlot,
} from './machine/microvm.js';
export { PCI_IRQS, PCI_MMIO_BASE, PciBusError, PcPciBus, pirqOf } from './machine/pci-bus.js';
export {
  type BuiltVirtio,
  type OpenedDrive,
  type OpenedNetdev,
  type VirtioBackends,
  VirtioBackendError,
  VirtioDeviceSet,
  type VirtioIo,
} from './machine/virtio-devices.js';
export {
  deviceHelpText,
  deviceModels,
  planVirtio,
  type VirtioSpec,
  VirtioOptionError,
} from './options/virtio-plan.js';
export { type LoopPolicy, type LoopState, nextState, VcpuLoop } from './machine/vcpu-loop.js';
export { cpuSnapshot, type MonitorHooks, pcMonitorTarget, segmentFlags } from './machine/monitor-target.js';
export {
  type Chardev,
  describeBackend,
  type OpenChardev,
  type OpenedChardev,
} from './chardev/backend.js';
export { ESCAPE, Mux, MUX_HELP, type MuxFocus, type MuxOutput } from './chardev/mux.js';
export { DEFAULT_BIOS_PATH, DEFAULT_VGA_ROM_PATH } from './machine/firmware.js';
export { VirtualMachine, type VmHost, VmStartError } from './vm.js';
export type { StartVcpuThread, VcpuThread } from './machine/vcpu-thread.js';
export { GuestLog, LOG_ITEM_HELP, logHelpText } from './machine/guest-log.js';
export { IrqCounter } from './machine/irq-stats.js';
export {
  CPU_MODELS,
  CpuModelError,
  checkCpuConfig,
  cpuFlagNames,
  cpuHelpText,
  cpuModelList,
  type ResolvedCpu,
  resolveCpu,
} from './options/cpu-model.js';
