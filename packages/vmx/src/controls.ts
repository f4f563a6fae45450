/**
 * The VMX controls as typed bit-sets: each control is a named bit of its 32-bit VMCS field
 * (SDM Vol. 3C 25.6.1, 25.6.2, 25.7.1, 25.8.1). A control value is a plain number; test a control
 * with `has(value, ProcBased.HltExiting)`.
 */

/** Pin-based VM-execution controls (Table 25-5). */
export const PinBased = {
  ExternalInterruptExiting: 1 << 0,
  NmiExiting: 1 << 3,
  VirtualNmis: 1 << 5,
  ActivatePreemptionTimer: 1 << 6,
  ProcessPostedInterrupts: 1 << 7,
} as const;

/** Primary processor-based VM-execution controls (Table 25-6). */
export const ProcBased = {
  InterruptWindowExiting: 1 << 2,
  UseTscOffsetting: 1 << 3,
  HltExiting: 1 << 7,
  InvlpgExiting: 1 << 9,
  MwaitExiting: 1 << 10,
  RdpmcExiting: 1 << 11,
  RdtscExiting: 1 << 12,
  Cr3LoadExiting: 1 << 15,
  Cr3StoreExiting: 1 << 16,
  ActivateTertiaryControls: 1 << 17,
  Cr8LoadExiting: 1 << 19,
  Cr8StoreExiting: 1 << 20,
  UseTprShadow: 1 << 21,
  NmiWindowExiting: 1 << 22,
  MovDrExiting: 1 << 23,
  UnconditionalIoExiting: 1 << 24,
  UseIoBitmaps: 1 << 25,
  MonitorTrapFlag: 1 << 27,
  UseMsrBitmaps: 1 << 28,
  MonitorExiting: 1 << 29,
  PauseExiting: 1 << 30,
  ActivateSecondaryControls: 1 << 31,
} as const;

/** Secondary processor-based VM-execution controls (Table 25-7). */
export const ProcBased2 = {
  VirtualizeApicAccesses: 1 << 0,
  EnableEpt: 1 << 1,
  DescriptorTableExiting: 1 << 2,
  EnableRdtscp: 1 << 3,
  VirtualizeX2apicMode: 1 << 4,
  EnableVpid: 1 << 5,
  WbinvdExiting: 1 << 6,
  UnrestrictedGuest: 1 << 7,
  ApicRegisterVirtualization: 1 << 8,
  VirtualInterruptDelivery: 1 << 9,
  PauseLoopExiting: 1 << 10,
  RdrandExiting: 1 << 11,
  EnableInvpcid: 1 << 12,
  EnableVmFunctions: 1 << 13,
  VmcsShadowing: 1 << 14,
  EnableEnclsExiting: 1 << 15,
  RdseedExiting: 1 << 16,
  EnablePml: 1 << 17,
  EptViolationVe: 1 << 18,
  ConcealVmxFromPt: 1 << 19,
  EnableXsavesXrstors: 1 << 20,
  PasidTranslation: 1 << 21,
  ModeBasedExecuteControl: 1 << 22,
  SubPageWritePermissions: 1 << 23,
  PtUsesGuestPhysicalAddresses: 1 << 24,
  UseTscScaling: 1 << 25,
  EnableUserWaitAndPause: 1 << 26,
  EnablePconfig: 1 << 27,
  EnableEnclvExiting: 1 << 28,
  VmmBusLockDetection: 1 << 30,
  InstructionTimeout: 1 << 31,
} as const;

/** Primary VM-exit controls (Table 25-13). */
export const ExitCtl = {
  SaveDebugControls: 1 << 2,
  HostAddressSpaceSize: 1 << 9,
  LoadPerfGlobalCtrl: 1 << 12,
  AcknowledgeInterruptOnExit: 1 << 15,
  SavePat: 1 << 18,
  LoadPat: 1 << 19,
  SaveEfer: 1 << 20,
  LoadEfer: 1 << 21,
  SavePreemptionTimer: 1 << 22,
  ClearBndcfgs: 1 << 23,
  ConcealVmxFromPt: 1 << 24,
  ClearRtitCtl: 1 << 25,
  ClearLbrCtl: 1 << 26,
  ClearUinv: 1 << 27,
  LoadCetState: 1 << 28,
  LoadPkrs: 1 << 29,
  SavePerfGlobalCtrl: 1 << 30,
  ActivateSecondaryControls: 1 << 31,
} as const;

/** VM-entry controls (Table 25-15). */
export const EntryCtl = {
  LoadDebugControls: 1 << 2,
  Ia32eModeGuest: 1 << 9,
  EntryToSmm: 1 << 10,
  DeactivateDualMonitor: 1 << 11,
  LoadPerfGlobalCtrl: 1 << 13,
  LoadPat: 1 << 14,
  LoadEfer: 1 << 15,
  LoadBndcfgs: 1 << 16,
  ConcealVmxFromPt: 1 << 17,
  LoadRtitCtl: 1 << 18,
  LoadUinv: 1 << 19,
  LoadCetState: 1 << 20,
  LoadLbrCtl: 1 << 21,
  LoadPkrs: 1 << 22,
} as const;

export type PinBasedControl = (typeof PinBased)[keyof typeof PinBased];
export type ProcBasedControl = (typeof ProcBased)[keyof typeof ProcBased];
export type ProcBased2Control = (typeof ProcBased2)[keyof typeof ProcBased2];
export type ExitControl = (typeof ExitCtl)[keyof typeof ExitCtl];
export type EntryControl = (typeof EntryCtl)[keyof typeof EntryCtl];
export type AnyControl = PinBasedControl | ProcBasedControl | ProcBased2Control | ExitControl | EntryControl;

/**
 * The "default1" class of each control field (SDM Appendix A.2-A.5): bits that the non-TRUE
 * capability MSRs report as fixed to 1 on every processor.
 */
export const DEFAULT1 = {
  pin: 0x0000_0016,
  proc: 0x0401_e172,
  exit: 0x0003_6dff,
  entry: 0x0000_11ff,
} as const;

/** Whether `control` is set in the control-field value `value`. */
export const has = (value: number, control: AnyControl): boolean => (value & control) !== 0;

/** OR of several controls, as an unsigned 32-bit field value. */
export const controls = (...bits: readonly AnyControl[]): number => {
  let v = 0;
  for (const b of bits) v |= b;
  return v >>> 0;
};

/** Names of the controls set in `value`, for logs and test messages. */
export function controlNames(
  set: typeof PinBased | typeof ProcBased | typeof ProcBased2 | typeof ExitCtl | typeof EntryCtl,
  value: number,
): string[] {
  const out: string[] = [];
  for (const [name, bit] of Object.entries(set)) if ((value & bit) !== 0) out.push(name);
  return out;
}
