export {
  Cpu,
  type CpuEvents,
  CpuExit,
  type CpuOptions,
  type Handler,
  type InterruptController,
  NO_EVENTS,
  type TscSource,
} from './cpu.js';
export { EventKind } from './interrupts.js';
export { type CpuState, loadState, saveState, type SegmentState } from './cpu-state.js';
export {
  applyGuestCpuid,
  CORE_2,
  CORE_2_AES,
  X86_64_MODEL,
  NEHALEM,
  HASWELL,
  MAX_MODEL,
  withAvx,
  withLongMode,
  CPUID_GATED_FEATURES,
  Ext1Ecx,
  Ext1Edx,
  Leaf7Ebx,
  type CpuModel,
  type CpuidLeaf,
  Leaf1Ecx,
  Leaf1Edx,
  PENTIUM_4,
  PENTIUM_4_PRESCOTT,
  PENTIUM_II,
  withAesPclmul,
  withXsave,
} from './cpu-model.js';
export { MXCSR, MXCSR_WRITABLE, SseState, YMM_HI_BYTE, YMM_HI_WORD } from './sse/state.js';
export { CR0, CR4, Mode } from './control.js';
export {
  BreakCondition,
  breakCondition,
  breakpointEnabled,
  DR6,
  DR7,
  hasInstructionBreakpoints,
  instructionBreakpointHits,
} from './debug-registers.js';
export { EFLAGS } from './flags.js';
export { Vector } from './exceptions.js';
export { type CpuHooks, CpuidResult, INTERCEPT, MsrValue, NullHooks } from './hooks.js';
export { MAX_DEFINED_MSRS, Msr } from './msr.js';
export { interceptSoftwareEvent, isSoftwareException } from './software-exceptions.js';
export {
  CPUID_1_ECX_VMX,
  CR4_VMXE,
  currentInstructionBytes,
  VmxInstruction,
  VmxOperands,
  type VmxPort,
  withVmx,
} from './vmx-port.js';
export { AccessKind } from './paging.js';
export { Gpr, Seg } from './registers.js';
export { HANDLERS } from './dispatch.js';
export {
  CR4_OSXSAVE,
  leaf1EcxWithOsxsave,
  leafDEbxWithXcr0,
  modelXcr0,
  xsaveAreaSize,
  setXcr0,
  setXcr0Supported,
  XCR0_RESET,
  XCR0_SUPPORTED,
  XFeature,
  XsaveArea,
  xcr0Of,
  xcr0Valid,
} from './handlers/xsave.js';
export { CpuError, type CpuErrorKind } from './errors.js';
export {
  ENV_PROT16,
  ENV_PROT32,
  ENV_REAL16,
  ENV_REAL32,
  F80,
  FloatEnv,
  FXSAVE_SIZE,
  fldenv,
  frstor,
  fsave,
  fstenv,
  fxrstor,
  fxsave,
  X87,
  type X87State,
} from './x87/index.js';
