/**
 * Numbers the SDM gives names to: basic exit reasons (Vol. 3D Appendix C, Table C-1), VM-instruction
 * error numbers (Vol. 3C 31.4, Table 31-1), the exit-reason field layout (Vol. 3C 25.9.1) and the
 * interruption-information format shared by the VM-entry interruption-information, VM-exit
 * interruption-information and IDT-vectoring information fields (25.8.3, 25.9.2, 25.9.3).
 */

/** Basic exit reasons, in SDM order. Gaps (35, 38, 42) are reserved numbers. */
export const ExitReason = {
  ExceptionOrNmi: 0,
  ExternalInterrupt: 1,
  TripleFault: 2,
  InitSignal: 3,
  StartupIpi: 4,
  IoSmi: 5,
  OtherSmi: 6,
  InterruptWindow: 7,
  NmiWindow: 8,
  TaskSwitch: 9,
  Cpuid: 10,
  Getsec: 11,
  Hlt: 12,
  Invd: 13,
  Invlpg: 14,
  Rdpmc: 15,
  Rdtsc: 16,
  Rsm: 17,
  Vmcall: 18,
  Vmclear: 19,
  Vmlaunch: 20,
  Vmptrld: 21,
  Vmptrst: 22,
  Vmread: 23,
  Vmresume: 24,
  Vmwrite: 25,
  Vmxoff: 26,
  Vmxon: 27,
  CrAccess: 28,
  MovDr: 29,
  IoInstruction: 30,
  Rdmsr: 31,
  Wrmsr: 32,
  EntryFailureGuestState: 33,
  EntryFailureMsrLoading: 34,
  Mwait: 36,
  MonitorTrapFlag: 37,
  Monitor: 39,
  Pause: 40,
  EntryFailureMachineCheck: 41,
  TprBelowThreshold: 43,
  ApicAccess: 44,
  VirtualizedEoi: 45,
  GdtrIdtrAccess: 46,
  LdtrTrAccess: 47,
  EptViolation: 48,
  EptMisconfiguration: 49,
  Invept: 50,
  Rdtscp: 51,
  PreemptionTimerExpired: 52,
  Invvpid: 53,
  Wbinvd: 54,
  Xsetbv: 55,
  ApicWrite: 56,
  Rdrand: 57,
  Invpcid: 58,
  Vmfunc: 59,
  Encls: 60,
  Rdseed: 61,
  PageModificationLogFull: 62,
  Xsaves: 63,
  Xrstors: 64,
  Pconfig: 65,
  SppEvent: 66,
  Umwait: 67,
  Tpause: 68,
  Loadiwkey: 69,
  Enclv: 70,
  SgxConflict: 71,
  EnqcmdPasidTranslationFailure: 72,
  EnqcmdsPasidTranslationFailure: 73,
  BusLock: 74,
  InstructionTimeout: 75,
  Seamcall: 76,
  Tdcall: 77,
  Rdmsrlist: 78,
  Wrmsrlist: 79,
} as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

const EXIT_REASON_NAMES: string[] = [];
for (const [name, n] of Object.entries(ExitReason)) EXIT_REASON_NAMES[n] = name;

/** Name of a basic exit reason, e.g. `Hlt`; `reserved(35)` for an unassigned number. */
export function exitReasonName(basic: number): string {
  return EXIT_REASON_NAMES[basic] ?? `reserved(${basic})`;
}

/** Bits of the 32-bit exit-reason field (SDM 25.9.1, Table 25-18) above the basic reason. */
export const ExitReasonBits = {
  BasicMask: 0xffff,
  /** The VM exit was incident to enclave mode. */
  EnclaveMode: 1 << 27,
  /** A pending MTF VM exit (SMM VM exits only). */
  PendingMtf: 1 << 28,
  /** The VM exit was from VMX root operation (SMM VM exits only). */
  FromVmxRoot: 1 << 29,
  /** VM-entry failure: set with reasons 33, 34 and 41. */
  EntryFailure: 0x8000_0000,
} as const;

/** The exit-reason field for a VM exit that is a failed VM entry (SDM 27.8). */
export const entryFailureExitReason = (basic: number): number => (basic | ExitReasonBits.EntryFailure) >>> 0;

export const basicExitReason = (exitReasonField: number): number => exitReasonField & 0xffff;

/** Exit qualification of a VM-entry failure due to invalid guest state (SDM 27.8). */
export const EntryFailureQualification = {
  Default: 0,
  PdpteLoading: 2,
  NmiInjectionBlockedBySti: 3,
  InvalidVmcsLinkPointer: 4,
} as const;
export type EntryFailureQualification =
  (typeof EntryFailureQualification)[keyof typeof EntryFailureQualification];

/** VM-instruction error numbers (SDM 31.4, Table 31-1). 14, 21 and 27 are not assigned. */
export const VmInstructionError = {
  VmcallInRoot: 1,
  VmclearInvalidAddress: 2,
  VmclearVmxonPointer: 3,
  VmlaunchNonClearVmcs: 4,
  VmresumeNonLaunchedVmcs: 5,
  VmresumeAfterVmxoff: 6,
  EntryInvalidControlFields: 7,
  EntryInvalidHostStateFields: 8,
  VmptrldInvalidAddress: 9,
  VmptrldVmxonPointer: 10,
  VmptrldIncorrectRevisionId: 11,
  UnsupportedVmcsComponent: 12,
  VmwriteReadOnlyComponent: 13,
  VmxonInRoot: 15,
  EntryInvalidExecutiveVmcsPointer: 16,
  EntryNonLaunchedExecutiveVmcs: 17,
  EntryExecutiveVmcsPointerNotVmxonPointer: 18,
  VmcallNonClearVmcs: 19,
  VmcallInvalidExitControls: 20,
  VmcallIncorrectMsegRevisionId: 22,
  VmxoffUnderDualMonitor: 23,
  VmcallInvalidSmmMonitorFeatures: 24,
  EntryInvalidExecutiveControls: 25,
  EntryEventsBlockedByMovSs: 26,
  InvalidInveptInvvpidOperand: 28,
} as const;
export type VmInstructionError = (typeof VmInstructionError)[keyof typeof VmInstructionError];

// ---- interruption information ----

/** Interruption type, bits 10:8 of the interruption-information fields (SDM 25.8.3, Table 25-17). */
export const InterruptionType = {
  ExternalInterrupt: 0,
  Nmi: 2,
  HardwareException: 3,
  SoftwareInterrupt: 4,
  PrivilegedSoftwareException: 5,
  SoftwareException: 6,
  /** Other event: with vector 0, a pending MTF VM exit (VM-entry field only). */
  OtherEvent: 7,
} as const;
export type InterruptionType = (typeof InterruptionType)[keyof typeof InterruptionType];

export const InterruptionInfo = {
  VectorMask: 0xff,
  TypeShift: 8,
  TypeMask: 0x700,
  ErrorCodeValid: 1 << 11,
  /** VM-exit interruption information only: NMI unblocking due to IRET. */
  NmiUnblockingDueToIret: 1 << 12,
  /** Bits 30:12 of the VM-entry field must be 0 (SDM 27.2.1.3). */
  EntryReservedMask: 0x7fff_f000,
  Valid: 0x8000_0000,
} as const;

/** Builds an interruption-information value (the valid bit is set). */
export function makeInterruptionInfo(
  vector: number,
  type: InterruptionType,
  errorCodeValid = false,
  nmiUnblockingDueToIret = false,
): number {
  return (
    ((vector & 0xff) |
      (type << 8) |
      (errorCodeValid ? InterruptionInfo.ErrorCodeValid : 0) |
      (nmiUnblockingDueToIret ? InterruptionInfo.NmiUnblockingDueToIret : 0) |
      InterruptionInfo.Valid) >>>
    0
  );
}

export const interruptionValid = (info: number): boolean => (info & InterruptionInfo.Valid) !== 0;
export const interruptionVector = (info: number): number => info & 0xff;
export const interruptionType = (info: number): number => (info >>> 8) & 7;
export const interruptionHasErrorCode = (info: number): boolean =>
  (info & InterruptionInfo.ErrorCodeValid) !== 0;

/** Exception vectors that push an error code (SDM 6.15) and so need "deliver error code" when injected. */
export const EXCEPTIONS_WITH_ERROR_CODE =
  (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14) | (1 << 17);

export const exceptionHasErrorCode = (vector: number): boolean =>
  vector < 32 && (EXCEPTIONS_WITH_ERROR_CODE & (1 << vector)) !== 0;

/** Exception vectors by name, for the exception bitmap and interruption information. */
export const ExceptionVector = {
  DE: 0,
  DB: 1,
  NMI: 2,
  BP: 3,
  OF: 4,
  BR: 5,
  UD: 6,
  NM: 7,
  DF: 8,
  TS: 10,
  NP: 11,
  SS: 12,
  GP: 13,
  PF: 14,
  MF: 16,
  AC: 17,
  MC: 18,
  XM: 19,
  VE: 20,
  CP: 21,
} as const;

/** VMX-abort indicator values (SDM 28.7). */
export const VmxAbort = {
  SavingGuestMsrs: 1,
  HostPdpte: 2,
  VmcsCorrupted: 3,
  LoadingHostMsrs: 4,
  MachineCheckDuringExit: 5,
  HostNotLongModeOnExit: 6,
} as const;
