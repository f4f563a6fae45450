// The ABI: ioctl numbers, capabilities, exit reasons, errno values, struct layouts and accessors.
export * from './uapi/index.js';

// The raw face: the system calls of a C VMM.
export { open, close, ioctl, mmap, munmap, eventfd, read, write, defaultHost } from './raw.js';
export { KvmHost, type KvmHostOptions, type Mapping, KVM_DEVICE_PATH, FD_LIMIT } from './kernel/host.js';
export type { IoctlArg } from './kernel/args.js';
export { type HostClock, SYSTEM_CLOCK } from './kernel/context.js';
export { type KvmLimits, DEFAULT_LIMITS } from './kernel/capabilities.js';

// Kernel-side state, for the CPU integration (KVM_RUN) and for tests.
export { VmState } from './kernel/vm-state.js';
export { VcpuState, type SharedVcpuState, KVM_VCPU_MMAP_SIZE } from './vcpu-state.js';
export {
  Memslots,
  type Memslot,
  type MemslotChange,
  type MemoryRegionRequest,
  KVM_USER_MEM_SLOTS,
  KVM_MEM_SLOTS_NUM,
  KVM_MEM_MAX_NR_PAGES,
} from './memslots.js';
export { EventFd } from './eventfd.js';
export { IoeventfdTable, type IoBus, type IoeventfdRequest, NR_IOBUS_DEVS } from './ioeventfd.js';
export { IrqfdTable, type IrqfdRequest, type IrqchipMode } from './irqfd.js';
export {
  CORE_2_AES_MODEL,
  CORE_2_MODEL,
  type CpuidEntry,
  cr4ValidFor,
  DEFAULT_MODEL,
  HASWELL_MODEL,
  type KvmCpuModel,
  kvmCpuModel,
  KVM_PARAVIRT_LEAVES,
  NEHALEM_MODEL,
  PENTIUM_4_MODEL,
  PENTIUM_4_PRESCOTT_MODEL,
  PENTIUM_II_MODEL,
  X86_64_KVM_MODEL,
} from './cpu-model.js';
export {
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_SIGNATURE,
  KvmFeature,
  KVMCLOCK_MSRS,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  PVCLOCK_TSC_STABLE_BIT,
  pvclockNs,
  timeScale,
} from './kernel/kvmclock.js';

// The typed face.
export { Kvm } from './kvm.js';
export { Vm, type UserMemoryRegion, type IoEventAddress, type Datamatch, type ClockData } from './vm.js';
export {
  Vcpu,
  type Regs,
  type RegName,
  type Sregs,
  type Segment,
  type Dtable,
  type Fpu,
  type VcpuEvents,
  type DebugRegs,
  type Xcr,
} from './vcpu.js';
export { type VcpuExit, decodeExit } from './exit.js';
export { KvmError } from './errors.js';

// KVM_RUN: the per-vCPU run machinery (VMCS, statistics) and kvm_intel's options.
export { VcpuRunner, type RunOptions, type RunVm } from './run/runner.js';
export { VcpuStats } from './run/stats.js';
export { type VmxOptions, DEFAULT_VMX_OPTIONS } from './run/vmcs-setup.js';

// vCPUs in worker threads: the VMM-thread side and the worker side (Node glue: `@typevisor/kvm/node`).
export { VcpuWorker, type VcpuWorkerPort } from './worker/vcpu-worker.js';
export { serveVcpuThread, vcpuThreadHandler, type VcpuThreadScope } from './worker/vcpu-thread.js';
export type {
  ToVcpuThread,
  FromVcpuThread,
  SlotImage,
  VmImage,
  WorkerRunOptions,
} from './worker/protocol.js';
