/**
 * The VM-entry checks of SDM Vol. 3C 27.2 and 27.3 (26.2/26.3 in editions before 2023), split into
 * the three stages the SDM has:
 *
 * - {@link checkControls}: VMX controls (27.2.1). Failure: VMfailValid with VM-instruction error 7.
 * - {@link checkHostState}: host-state area and address-space size (27.2.2-27.2.4). Failure:
 *   VMfailValid with error 8.
 * - {@link checkGuestState}: guest-state area (27.3.1), including the VMCS link pointer and the
 *   PDPTEs. Failure: a VM exit with basic reason 33 and the VM-entry-failure bit set, with an exit
 *   qualification of 0, 2 (PDPTEs), 3 (NMI injection under STI blocking) or 4 (VMCS link pointer).
 *
 * Each function is pure over the VMCS, the capability model and the little processor context it
 * names, and returns `null` or the first failed check as a typed value naming the check and the
 * field at fault. Checks on controls the model never offers (APIC virtualization, posted interrupts,
 * PML, VM functions, SMM, ...) are subsumed by the reserved-bit checks: those controls cannot be 1.
 */
import { type VmxCapabilities, ActivityState, controlsValid, EptVpidCap } from './capabilities.js';
import { EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from './controls.js';
import {
  EntryFailureQualification,
  ExitReason,
  InterruptionInfo,
  InterruptionType,
  VmInstructionError,
  entryFailureExitReason,
  exceptionHasErrorCode,
} from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import { SHADOW_VMCS_INDICATOR, type PhysicalMemory, type Vmcs } from './vmcs.js';

// ---- failure values ----

/** Every control check, in the order they run. */
export const CONTROL_CHECKS = [
  'pin-based-reserved',
  'proc-based-reserved',
  'secondary-reserved',
  'cr3-target-count',
  'io-bitmap-address',
  'msr-bitmap-address',
  'virtual-apic-address',
  'tpr-threshold-reserved',
  'tpr-threshold-above-vtpr',
  'virtual-nmis-without-nmi-exiting',
  'nmi-window-without-virtual-nmis',
  'vpid-zero',
  'eptp-memory-type',
  'eptp-walk-length',
  'eptp-accessed-dirty',
  'eptp-reserved',
  'unrestricted-guest-without-ept',
  'exit-reserved',
  'save-preemption-timer-without-timer',
  'exit-msr-store-address',
  'exit-msr-load-address',
  'entry-reserved',
  'entry-msr-load-address',
  'injection-reserved-bits',
  'injection-type',
  'injection-vector',
  'injection-error-code-flag',
  'injection-error-code-reserved',
  'injection-instruction-length',
] as const;
export type ControlCheck = (typeof CONTROL_CHECKS)[number];

/** Every host-state check, in the order they run. */
export const HOST_CHECKS = [
  'host-cr0',
  'host-cr4',
  'host-cr3',
  'host-sysenter-canonical',
  'host-pat',
  'host-efer-reserved',
  'host-efer-lma-lme',
  'host-selector-rpl-ti',
  'host-cs-null',
  'host-tr-null',
  'host-ss-null',
  'host-base-canonical',
  'host-size-outside-ia32e',
  'guest-ia32e-outside-ia32e',
  'host-size-inside-ia32e',
  'host-cr4-pcide',
  'host-rip-high',
  'host-cr4-pae',
  'host-rip-canonical',
] as const;
export type HostCheck = (typeof HOST_CHECKS)[number];

/** Every guest-state check, in the order they run. */
export const GUEST_CHECKS = [
  'guest-cr0',
  'guest-cr0-pg-without-pe',
  'guest-cr4',
  'guest-ia32e-paging',
  'guest-cr4-pcide',
  'guest-cr3',
  'guest-debugctl',
  'guest-dr7',
  'guest-sysenter-canonical',
  'guest-pat',
  'guest-efer-reserved',
  'guest-efer-lma',
  'guest-efer-lme',
  'selector-ti',
  'ss-rpl',
  'v86-base',
  'v86-limit',
  'v86-access-rights',
  'base-canonical',
  'base-high',
  'cs-type',
  'ss-type',
  'data-segment-type',
  'descriptor-type',
  'cs-dpl',
  'ss-dpl',
  'data-segment-dpl',
  'segment-present',
  'access-rights-reserved',
  'cs-long-and-default',
  'granularity',
  'tr-type',
  'tr-unusable',
  'ldtr-type',
  'descriptor-table-limit',
  'guest-rip',
  'rflags-reserved',
  'rflags-vm',
  'rflags-if',
  'activity-state',
  'activity-hlt-dpl',
  'activity-blocking',
  'activity-event',
  'interruptibility-reserved',
  'interruptibility-sti-and-mov-ss',
  'interruptibility-sti-if',
  'interruptibility-external-interrupt',
  'interruptibility-nmi-mov-ss',
  'interruptibility-nmi-sti',
  'interruptibility-smi',
  'interruptibility-virtual-nmi',
  'pending-debug-reserved',
  'pending-debug-bs',
  'vmcs-link-pointer',
  'pdpte',
] as const;
export type GuestCheck = (typeof GUEST_CHECKS)[number];

export interface ControlCheckFailure {
  readonly stage: 'controls';
  readonly error: typeof VmInstructionError.EntryInvalidControlFields;
  readonly check: ControlCheck;
  /** Encoding of the VMCS field at fault. */
  readonly field: number;
}

export interface HostCheckFailure {
  readonly stage: 'host';
  readonly error: typeof VmInstructionError.EntryInvalidHostStateFields;
  readonly check: HostCheck;
  readonly field: number;
}

export interface GuestCheckFailure {
  readonly stage: 'guest';
  /** The exit-reason field: 33 with bit 31 set. */
  readonly exitReason: number;
  readonly qualification: EntryFailureQualification;
  readonly check: GuestCheck;
  readonly field: number;
}

export type EntryCheckFailure = ControlCheckFailure | HostCheckFailure | GuestCheckFailure;

const controlFail = (check: ControlCheck, field: number): ControlCheckFailure => ({
  stage: 'controls',
  error: VmInstructionError.EntryInvalidControlFields,
  check,
  field,
});

const hostFail = (check: HostCheck, field: number): HostCheckFailure => ({
  stage: 'host',
  error: VmInstructionError.EntryInvalidHostStateFields,
  check,
  field,
});

const GUEST_STATE_EXIT = entryFailureExitReason(ExitReason.EntryFailureGuestState);

const guestFail = (
  check: GuestCheck,
  field: number,
  qualification: EntryFailureQualification = EntryFailureQualification.Default,
): GuestCheckFailure => ({ stage: 'guest', exitReason: GUEST_STATE_EXIT, qualification, check, field });

// ---- bit helpers over lo/hi halves ----

/** True when bits 63:width of the 64-bit value are 0 (a physical address inside MAXPHYADDR). */
const fitsPhysical = (hi: number, width: number): boolean => hi >>> 0 < 2 ** (width - 32);

const pageAligned = (lo: number): boolean => (lo & 0xfff) === 0;

/** Canonical for `width` (48) linear-address bits: bits 63:width-1 all equal. */
const canonical = (hi: number, width: number): boolean => {
  const top = (hi | 0) >> (width - 1 - 32);
  return top === 0 || top === -1;
};

const fieldCanonical = (vmcs: Vmcs, field: number, caps: VmxCapabilities): boolean =>
  canonical(vmcs.readHi(field), caps.linearAddressWidth);

/** Every byte of the PAT is a valid memory type: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC- (SDM 11.12.2). */
function patValid(lo: number, hi: number): boolean {
  for (let i = 0; i < 4; i++) {
    const a = (lo >>> (i * 8)) & 0xff;
    const b = (hi >>> (i * 8)) & 0xff;
    if (a > 7 || a === 2 || a === 3 || b > 7 || b === 2 || b === 3) return false;
  }
  return true;
}

const CR0_PE = 1 << 0;
const CR0_WP = 1 << 16;
const CR0_NW = 1 << 29;
const CR0_CD = 1 << 30;
const CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;
const CR4_PCIDE = 1 << 17;
const CR4_CET = 1 << 23;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const RFLAGS_TF = 1 << 8;
const RFLAGS_IF = 1 << 9;
const RFLAGS_VM = 1 << 17;
/** RFLAGS bits 31:22, 15, 5, 3 (and 63:32, checked on the high half). */
const RFLAGS_RESERVED_LO = 0xffc0_8028 | 0;

/** Interruptibility state bits (SDM 25.4.2, Table 25-3). */
export const Interruptibility = {
  BlockingBySti: 1 << 0,
  BlockingByMovSs: 1 << 1,
  BlockingBySmi: 1 << 2,
  BlockingByNmi: 1 << 3,
  /** Bit 4 (enclave interruption) needs SGX, which the model lacks, so it is reserved too. */
  ReservedMask: 0xffff_fff0 | 0,
} as const;

/** Pending debug exceptions: B3-B0, enabled breakpoint (12), BS (14). RTM (16) is not offered. */
const PENDING_DEBUG_VALID_LO = 0x0000_500f;
const PENDING_DEBUG_BS = 1 << 14;

const INVALID_POINTER_HI = 0xffff_ffff;

// ---- stage 1: VMX controls (SDM 27.2.1) ----

/**
 * Checks on the VM-execution, VM-exit and VM-entry control fields (27.2.1.1-27.2.1.3). `memory` is
 * read for the one check that looks into guest memory: the TPR threshold against the VTPR byte of
 * the virtual-APIC page.
 */
export function checkControls(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  memory: PhysicalMemory,
): ControlCheckFailure | null {
  const pin = vmcs.read32(F.PinBasedControls);
  const proc = vmcs.read32(F.ProcBasedControls);
  // "activate secondary controls" = 0 makes the secondary controls 0 for every purpose.
  const proc2 =
    (proc & ProcBased.ActivateSecondaryControls) !== 0 ? vmcs.read32(F.SecondaryProcBasedControls) : 0;
  const width = caps.physicalAddressWidth;

  // 27.2.1.1 VM-execution control fields
  if (!controlsValid(pin, caps.pin)) return controlFail('pin-based-reserved', F.PinBasedControls);
  if (!controlsValid(proc, caps.proc)) return controlFail('proc-based-reserved', F.ProcBasedControls);
  if (!controlsValid(proc2, caps.proc2))
    return controlFail('secondary-reserved', F.SecondaryProcBasedControls);
  if (vmcs.read32(F.Cr3TargetCount) > caps.cr3TargetCount)
    return controlFail('cr3-target-count', F.Cr3TargetCount);

  if ((proc & ProcBased.UseIoBitmaps) !== 0) {
    for (const f of [F.IoBitmapA, F.IoBitmapB]) {
      if (!pageAligned(vmcs.readLo(f)) || !fitsPhysical(vmcs.readHi(f), width))
        return controlFail('io-bitmap-address', f);
    }
  }
  if ((proc & ProcBased.UseMsrBitmaps) !== 0) {
    if (!pageAligned(vmcs.readLo(F.MsrBitmap)) || !fitsPhysical(vmcs.readHi(F.MsrBitmap), width)) {
      return controlFail('msr-bitmap-address', F.MsrBitmap);
    }
  }
  if ((proc & ProcBased.UseTprShadow) !== 0) {
    const lo = vmcs.readLo(F.VirtualApicAddress);
    const hi = vmcs.readHi(F.VirtualApicAddress);
    if (!pageAligned(lo) || !fitsPhysical(hi, width))
      return controlFail('virtual-apic-address', F.VirtualApicAddress);
    // Virtual-interrupt delivery is not offered, so bits 31:4 of the TPR threshold must be 0 and,
    // with APIC-access virtualization not offered either, threshold <= VTPR[7:4].
    const threshold = vmcs.read32(F.TprThreshold);
    if ((threshold & ~0xf) !== 0) return controlFail('tpr-threshold-reserved', F.TprThreshold);
    const vtpr = memory.read32(hi * 0x1_0000_0000 + lo + 0x80) & 0xff;
    if (threshold > vtpr >>> 4) return controlFail('tpr-threshold-above-vtpr', F.TprThreshold);
  }
  if ((pin & PinBased.NmiExiting) === 0 && (pin & PinBased.VirtualNmis) !== 0) {
    return controlFail('virtual-nmis-without-nmi-exiting', F.PinBasedControls);
  }
  if ((pin & PinBased.VirtualNmis) === 0 && (proc & ProcBased.NmiWindowExiting) !== 0) {
    return controlFail('nmi-window-without-virtual-nmis', F.ProcBasedControls);
  }
  if ((proc2 & ProcBased2.EnableVpid) !== 0 && (vmcs.read32(F.VirtualProcessorId) & 0xffff) === 0) {
    return controlFail('vpid-zero', F.VirtualProcessorId);
  }
  if ((proc2 & ProcBased2.EnableEpt) !== 0) {
    const r = eptPointerProblem(vmcs.readLo(F.EptPointer), vmcs.readHi(F.EptPointer), caps);
    if (r !== null) return controlFail(r, F.EptPointer);
  }
  if ((proc2 & ProcBased2.UnrestrictedGuest) !== 0 && (proc2 & ProcBased2.EnableEpt) === 0) {
    return controlFail('unrestricted-guest-without-ept', F.SecondaryProcBasedControls);
  }

  // 27.2.1.2 VM-exit control fields
  const exit = vmcs.read32(F.ExitControls);
  if (!controlsValid(exit, caps.exit)) return controlFail('exit-reserved', F.ExitControls);
  if ((pin & PinBased.ActivatePreemptionTimer) === 0 && (exit & ExitCtl.SavePreemptionTimer) !== 0) {
    return controlFail('save-preemption-timer-without-timer', F.ExitControls);
  }
  if (!msrAreaValid(vmcs, F.ExitMsrStoreCount, F.ExitMsrStoreAddress, width)) {
    return controlFail('exit-msr-store-address', F.ExitMsrStoreAddress);
  }
  if (!msrAreaValid(vmcs, F.ExitMsrLoadCount, F.ExitMsrLoadAddress, width)) {
    return controlFail('exit-msr-load-address', F.ExitMsrLoadAddress);
  }

  // 27.2.1.3 VM-entry control fields
  const entry = vmcs.read32(F.EntryControls);
  if (!controlsValid(entry, caps.entry)) return controlFail('entry-reserved', F.EntryControls);
  if (!msrAreaValid(vmcs, F.EntryMsrLoadCount, F.EntryMsrLoadAddress, width)) {
    return controlFail('entry-msr-load-address', F.EntryMsrLoadAddress);
  }
  return checkInjection(vmcs, caps, proc2);
}

/** Which EPTP check fails (27.2.1.1, "enable EPT"), or null. */
export function eptPointerProblem(
  lo: number,
  hi: number,
  caps: VmxCapabilities,
): 'eptp-memory-type' | 'eptp-walk-length' | 'eptp-accessed-dirty' | 'eptp-reserved' | null {
  const memType = lo & 7;
  const ucOk = (caps.eptVpidCapLo & EptVpidCap.MemoryTypeUc) !== 0;
  const wbOk = (caps.eptVpidCapLo & EptVpidCap.MemoryTypeWb) !== 0;
  if (!((memType === 0 && ucOk) || (memType === 6 && wbOk))) return 'eptp-memory-type';
  const walk = ((lo >>> 3) & 7) + 1;
  const walkOk =
    (walk === 4 && (caps.eptVpidCapLo & EptVpidCap.PageWalk4) !== 0) ||
    (walk === 5 && (caps.eptVpidCapLo & EptVpidCap.PageWalk5) !== 0);
  if (!walkOk) return 'eptp-walk-length';
  if ((lo & 0x40) !== 0 && (caps.eptVpidCapLo & EptVpidCap.AccessedDirty) === 0) return 'eptp-accessed-dirty';
  // Bit 7 (supervisor shadow-stack control) needs CET, bits 11:8 are reserved, and the address
  // must fit MAXPHYADDR.
  const reservedLo = 0xf00 | ((caps.eptVpidCapLo & EptVpidCap.SupervisorShadowStack) === 0 ? 0x80 : 0);
  if ((lo & reservedLo) !== 0 || !fitsPhysical(hi, caps.physicalAddressWidth)) return 'eptp-reserved';
  return null;
}

/** A nonzero MSR count needs a 16-byte-aligned area whose last byte fits MAXPHYADDR. */
function msrAreaValid(vmcs: Vmcs, countField: number, addressField: number, width: number): boolean {
  const count = vmcs.read32(countField);
  if (count === 0) return true;
  const lo = vmcs.readLo(addressField);
  const hi = vmcs.readHi(addressField);
  if ((lo & 0xf) !== 0 || !fitsPhysical(hi, width)) return false;
  const last = hi * 0x1_0000_0000 + lo + count * 16 - 1;
  return last < 2 ** width;
}

/** The VM-entry interruption-information checks (27.2.1.3). */
function checkInjection(vmcs: Vmcs, caps: VmxCapabilities, proc2: number): ControlCheckFailure | null {
  const info = vmcs.read32(F.EntryInterruptionInfo);
  if ((info & InterruptionInfo.Valid) === 0) return null;
  const f = F.EntryInterruptionInfo;
  const vector = info & 0xff;
  const type = (info >>> 8) & 7;
  const deliverErrorCode = (info & InterruptionInfo.ErrorCodeValid) !== 0;
  if ((info & InterruptionInfo.EntryReservedMask) !== 0) return controlFail('injection-reserved-bits', f);
  // Type 1 is reserved; type 7 (other event) needs the monitor trap flag, which is not offered.
  if (type === 1 || type === InterruptionType.OtherEvent) return controlFail('injection-type', f);
  if (type === InterruptionType.Nmi && vector !== 2) return controlFail('injection-vector', f);
  if (type === InterruptionType.HardwareException && vector > 31) return controlFail('injection-vector', f);
  // Deliver-error-code must be 1 exactly for a hardware exception that pushes one, delivered in
  // protected mode (a real-mode guest under unrestricted guest gets no error code).
  const protectedGuest =
    (proc2 & ProcBased2.UnrestrictedGuest) === 0 || (vmcs.readLo(F.GuestCr0) & CR0_PE) !== 0;
  const wantErrorCode =
    type === InterruptionType.HardwareException && protectedGuest && exceptionHasErrorCode(vector);
  if (deliverErrorCode !== wantErrorCode) return controlFail('injection-error-code-flag', f);
  if (deliverErrorCode && (vmcs.read32(F.EntryExceptionErrorCode) & 0xffff_0000) !== 0) {
    return controlFail('injection-error-code-reserved', F.EntryExceptionErrorCode);
  }
  if (
    type === InterruptionType.SoftwareInterrupt ||
    type === InterruptionType.PrivilegedSoftwareException ||
    type === InterruptionType.SoftwareException
  ) {
    const len = vmcs.read32(F.EntryInstructionLength);
    if (len > 15 || (len === 0 && !caps.injectWithZeroLength)) {
      return controlFail('injection-instruction-length', F.EntryInstructionLength);
    }
  }
  return null;
}

// ---- stage 2: host-state area (SDM 27.2.2-27.2.4) ----

/**
 * Checks on the host-state area. `processorInIa32e` is IA32_EFER.LMA of the logical processor that
 * executes VMLAUNCH/VMRESUME (27.2.4).
 */
export function checkHostState(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  processorInIa32e: boolean,
): HostCheckFailure | null {
  const exit = vmcs.read32(F.ExitControls);
  const entry = vmcs.read32(F.EntryControls);
  const hostIa32e = (exit & ExitCtl.HostAddressSpaceSize) !== 0;
  const width = caps.physicalAddressWidth;

  // 27.2.2 control registers, MSRs
  const cr0 = vmcs.readLo(F.HostCr0);
  if ((~cr0 & caps.cr0Fixed0) !== 0 || (cr0 & ~caps.cr0Fixed1) !== 0 || vmcs.readHi(F.HostCr0) !== 0) {
    return hostFail('host-cr0', F.HostCr0);
  }
  const cr4 = vmcs.readLo(F.HostCr4);
  if ((~cr4 & caps.cr4Fixed0) !== 0 || (cr4 & ~caps.cr4Fixed1) !== 0 || vmcs.readHi(F.HostCr4) !== 0) {
    return hostFail('host-cr4', F.HostCr4);
  }
  if (!fitsPhysical(vmcs.readHi(F.HostCr3), width)) return hostFail('host-cr3', F.HostCr3);
  for (const f of [F.HostIa32SysenterEsp, F.HostIa32SysenterEip]) {
    if (!fieldCanonical(vmcs, f, caps)) return hostFail('host-sysenter-canonical', f);
  }
  if ((exit & ExitCtl.LoadPat) !== 0 && !patValid(vmcs.readLo(F.HostIa32Pat), vmcs.readHi(F.HostIa32Pat))) {
    return hostFail('host-pat', F.HostIa32Pat);
  }
  if ((exit & ExitCtl.LoadEfer) !== 0) {
    const efer = vmcs.readLo(F.HostIa32Efer);
    if ((efer & ~caps.eferValidMask) !== 0 || vmcs.readHi(F.HostIa32Efer) !== 0) {
      return hostFail('host-efer-reserved', F.HostIa32Efer);
    }
    if (((efer & EFER_LMA) !== 0) !== hostIa32e || ((efer & EFER_LME) !== 0) !== hostIa32e) {
      return hostFail('host-efer-lma-lme', F.HostIa32Efer);
    }
  }

  // 27.2.3 segment and descriptor-table registers
  for (const f of [
    F.HostEsSelector,
    F.HostCsSelector,
    F.HostSsSelector,
    F.HostDsSelector,
    F.HostFsSelector,
    F.HostGsSelector,
    F.HostTrSelector,
  ]) {
    if ((vmcs.read32(f) & 7) !== 0) return hostFail('host-selector-rpl-ti', f);
  }
  if (vmcs.read32(F.HostCsSelector) === 0) return hostFail('host-cs-null', F.HostCsSelector);
  if (vmcs.read32(F.HostTrSelector) === 0) return hostFail('host-tr-null', F.HostTrSelector);
  if (!hostIa32e && vmcs.read32(F.HostSsSelector) === 0) return hostFail('host-ss-null', F.HostSsSelector);
  for (const f of [F.HostFsBase, F.HostGsBase, F.HostGdtrBase, F.HostIdtrBase, F.HostTrBase]) {
    if (!fieldCanonical(vmcs, f, caps)) return hostFail('host-base-canonical', f);
  }

  // 27.2.4 address-space size
  if (!processorInIa32e) {
    if (hostIa32e) return hostFail('host-size-outside-ia32e', F.ExitControls);
    if ((entry & EntryCtl.Ia32eModeGuest) !== 0)
      return hostFail('guest-ia32e-outside-ia32e', F.EntryControls);
  } else if (!hostIa32e) {
    return hostFail('host-size-inside-ia32e', F.ExitControls);
  }
  if (!hostIa32e) {
    if ((cr4 & CR4_PCIDE) !== 0) return hostFail('host-cr4-pcide', F.HostCr4);
    if (vmcs.readHi(F.HostRip) !== 0) return hostFail('host-rip-high', F.HostRip);
  } else {
    if ((cr4 & CR4_PAE) === 0) return hostFail('host-cr4-pae', F.HostCr4);
    if (!fieldCanonical(vmcs, F.HostRip, caps)) return hostFail('host-rip-canonical', F.HostRip);
  }
  return null;
}

// ---- stage 3: guest-state area (SDM 27.3.1) ----

/** What the guest-state checks need besides the VMCS: memory and the processor's VMCS pointers. */
export interface GuestCheckContext {
  readonly memory: PhysicalMemory;
  /** Physical address of the current VMCS (the link pointer may not equal it). */
  readonly currentVmcsPointer: number;
}

/** Segment registers in guest-state field order: ES CS SS DS FS GS. */
const SEGMENTS = [
  {
    name: 'ES',
    sel: F.GuestEsSelector,
    base: F.GuestEsBase,
    limit: F.GuestEsLimit,
    ar: F.GuestEsAccessRights,
  },
  {
    name: 'CS',
    sel: F.GuestCsSelector,
    base: F.GuestCsBase,
    limit: F.GuestCsLimit,
    ar: F.GuestCsAccessRights,
  },
  {
    name: 'SS',
    sel: F.GuestSsSelector,
    base: F.GuestSsBase,
    limit: F.GuestSsLimit,
    ar: F.GuestSsAccessRights,
  },
  {
    name: 'DS',
    sel: F.GuestDsSelector,
    base: F.GuestDsBase,
    limit: F.GuestDsLimit,
    ar: F.GuestDsAccessRights,
  },
  {
    name: 'FS',
    sel: F.GuestFsSelector,
    base: F.GuestFsBase,
    limit: F.GuestFsLimit,
    ar: F.GuestFsAccessRights,
  },
  {
    name: 'GS',
    sel: F.GuestGsSelector,
    base: F.GuestGsBase,
    limit: F.GuestGsLimit,
    ar: F.GuestGsAccessRights,
  },
] as const;
const ES = 0;
const CS = 1;
const SS = 2;
const FS = 4;

/** Access-rights field bits (SDM 25.4.1, Table 25-2). */
export const AccessRights = {
  TypeMask: 0xf,
  S: 1 << 4,
  DplShift: 5,
  P: 1 << 7,
  Avl: 1 << 12,
  L: 1 << 13,
  Db: 1 << 14,
  G: 1 << 15,
  Unusable: 1 << 16,
  /** Bits 11:8 and 31:17. */
  ReservedMask: 0xfffe_0f00 | 0,
} as const;

const arDpl = (ar: number): number => (ar >>> 5) & 3;

/** G must be 0 if any of limit bits 11:0 is 0, and 1 if any of limit bits 31:20 is 1. */
const granularityConsistent = (limit: number, ar: number): boolean =>
  (ar & AccessRights.G) !== 0 ? (limit & 0xfff) === 0xfff : (limit & 0xfff0_0000) === 0;

/** Checks on the guest-state area, in the order of SDM 27.3.1.1-27.3.1.6. */
export function checkGuestState(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  ctx: GuestCheckContext,
): GuestCheckFailure | null {
  const proc = vmcs.read32(F.ProcBasedControls);
  const proc2 =
    (proc & ProcBased.ActivateSecondaryControls) !== 0 ? vmcs.read32(F.SecondaryProcBasedControls) : 0;
  const pin = vmcs.read32(F.PinBasedControls);
  const entry = vmcs.read32(F.EntryControls);
  const unrestricted = (proc2 & ProcBased2.UnrestrictedGuest) !== 0;
  const ia32e = (entry & EntryCtl.Ia32eModeGuest) !== 0;
  const width = caps.physicalAddressWidth;

  // 27.3.1.1 control registers, debug registers, MSRs
  const cr0 = vmcs.readLo(F.GuestCr0);
  // PE and PG are exempt under unrestricted guest; NW and CD are never checked.
  const fixed0 = (caps.cr0Fixed0 & ~(CR0_NW | CR0_CD) & ~(unrestricted ? CR0_PE | CR0_PG : 0)) >>> 0;
  if (
    (~cr0 & fixed0) !== 0 ||
    (cr0 & ~caps.cr0Fixed1 & ~(CR0_NW | CR0_CD)) !== 0 ||
    vmcs.readHi(F.GuestCr0) !== 0
  ) {
    return guestFail('guest-cr0', F.GuestCr0);
  }
  if ((cr0 & CR0_PG) !== 0 && (cr0 & CR0_PE) === 0) return guestFail('guest-cr0-pg-without-pe', F.GuestCr0);
  const cr4 = vmcs.readLo(F.GuestCr4);
  if ((~cr4 & caps.cr4Fixed0) !== 0 || (cr4 & ~caps.cr4Fixed1) !== 0 || vmcs.readHi(F.GuestCr4) !== 0) {
    return guestFail('guest-cr4', F.GuestCr4);
  }
  if ((cr4 & CR4_CET) !== 0 && (cr0 & CR0_WP) === 0) return guestFail('guest-cr4', F.GuestCr4);
  if (ia32e && ((cr0 & CR0_PG) === 0 || (cr4 & CR4_PAE) === 0))
    return guestFail('guest-ia32e-paging', F.GuestCr0);
  if (!ia32e && (cr4 & CR4_PCIDE) !== 0) return guestFail('guest-cr4-pcide', F.GuestCr4);
  if (!fitsPhysical(vmcs.readHi(F.GuestCr3), width)) return guestFail('guest-cr3', F.GuestCr3);
  if ((entry & EntryCtl.LoadDebugControls) !== 0) {
    if (
      (vmcs.readLo(F.GuestIa32Debugctl) & ~caps.debugctlValidMask) !== 0 ||
      vmcs.readHi(F.GuestIa32Debugctl) !== 0
    ) {
      return guestFail('guest-debugctl', F.GuestIa32Debugctl);
    }
    if (vmcs.readHi(F.GuestDr7) !== 0) return guestFail('guest-dr7', F.GuestDr7);
  }
  for (const f of [F.GuestIa32SysenterEsp, F.GuestIa32SysenterEip]) {
    if (!fieldCanonical(vmcs, f, caps)) return guestFail('guest-sysenter-canonical', f);
  }
  if (
    (entry & EntryCtl.LoadPat) !== 0 &&
    !patValid(vmcs.readLo(F.GuestIa32Pat), vmcs.readHi(F.GuestIa32Pat))
  ) {
    return guestFail('guest-pat', F.GuestIa32Pat);
  }
  if ((entry & EntryCtl.LoadEfer) !== 0) {
    const efer = vmcs.readLo(F.GuestIa32Efer);
    if ((efer & ~caps.eferValidMask) !== 0 || vmcs.readHi(F.GuestIa32Efer) !== 0) {
      return guestFail('guest-efer-reserved', F.GuestIa32Efer);
    }
    if (((efer & EFER_LMA) !== 0) !== ia32e) return guestFail('guest-efer-lma', F.GuestIa32Efer);
    if ((cr0 & CR0_PG) !== 0 && ((efer & EFER_LME) !== 0) !== ia32e)
      return guestFail('guest-efer-lme', F.GuestIa32Efer);
  }

  // 27.3.1.2 segment registers
  const rflagsLo = vmcs.readLo(F.GuestRflags);
  const v86 = (rflagsLo & RFLAGS_VM) !== 0;
  const failure = checkGuestSegments(vmcs, caps, v86, unrestricted, ia32e, cr0);
  if (failure !== null) return failure;

  // 27.3.1.3 descriptor-table registers
  for (const f of [F.GuestGdtrBase, F.GuestIdtrBase]) {
    if (!fieldCanonical(vmcs, f, caps)) return guestFail('base-canonical', f);
  }
  for (const f of [F.GuestGdtrLimit, F.GuestIdtrLimit]) {
    if ((vmcs.read32(f) & 0xffff_0000) !== 0) return guestFail('descriptor-table-limit', f);
  }

  // 27.3.1.4 RIP and RFLAGS
  const csLong = (vmcs.read32(F.GuestCsAccessRights) & AccessRights.L) !== 0;
  if (ia32e && csLong) {
    if (!fieldCanonical(vmcs, F.GuestRip, caps)) return guestFail('guest-rip', F.GuestRip);
  } else if (vmcs.readHi(F.GuestRip) !== 0) {
    return guestFail('guest-rip', F.GuestRip);
  }
  if ((rflagsLo & RFLAGS_RESERVED_LO) !== 0 || (rflagsLo & 2) === 0 || vmcs.readHi(F.GuestRflags) !== 0) {
    return guestFail('rflags-reserved', F.GuestRflags);
  }
  if (v86 && (ia32e || (cr0 & CR0_PE) === 0)) return guestFail('rflags-vm', F.GuestRflags);
  const info = vmcs.read32(F.EntryInterruptionInfo);
  const injecting = (info & InterruptionInfo.Valid) !== 0;
  const injType = (info >>> 8) & 7;
  const injVector = info & 0xff;
  if (injecting && injType === InterruptionType.ExternalInterrupt && (rflagsLo & RFLAGS_IF) === 0) {
    return guestFail('rflags-if', F.GuestRflags);
  }

  // 27.3.1.5 non-register state
  const activity = vmcs.read32(F.GuestActivityState);
  const interruptibility = vmcs.read32(F.GuestInterruptibilityState);
  if (activity !== ActivityState.Active && (activity > 3 || (caps.activityStates & (1 << activity)) === 0)) {
    return guestFail('activity-state', F.GuestActivityState);
  }
  if (activity === ActivityState.Hlt && arDpl(vmcs.read32(F.GuestSsAccessRights)) !== 0) {
    return guestFail('activity-hlt-dpl', F.GuestActivityState);
  }
  const stiOrMovSs = Interruptibility.BlockingBySti | Interruptibility.BlockingByMovSs;
  if (activity !== ActivityState.Active && (interruptibility & stiOrMovSs) !== 0) {
    return guestFail('activity-blocking', F.GuestActivityState);
  }
  if (injecting && !eventAllowedInActivityState(activity, injType, injVector)) {
    return guestFail('activity-event', F.GuestActivityState);
  }
  const fi = F.GuestInterruptibilityState;
  if ((interruptibility & Interruptibility.ReservedMask) !== 0)
    return guestFail('interruptibility-reserved', fi);
  if ((interruptibility & stiOrMovSs) === stiOrMovSs) return guestFail('interruptibility-sti-and-mov-ss', fi);
  if ((rflagsLo & RFLAGS_IF) === 0 && (interruptibility & Interruptibility.BlockingBySti) !== 0) {
    return guestFail('interruptibility-sti-if', fi);
  }
  if (injecting && injType === InterruptionType.ExternalInterrupt && (interruptibility & stiOrMovSs) !== 0) {
    return guestFail('interruptibility-external-interrupt', fi);
  }
  if (injecting && injType === InterruptionType.Nmi) {
    if ((interruptibility & Interruptibility.BlockingByMovSs) !== 0)
      return guestFail('interruptibility-nmi-mov-ss', fi);
    // The SDM lets processors fail this case; this model does, with exit qualification 3.
    if ((interruptibility & Interruptibility.BlockingBySti) !== 0) {
      return guestFail('interruptibility-nmi-sti', fi, EntryFailureQualification.NmiInjectionBlockedBySti);
    }
    if ((pin & PinBased.VirtualNmis) !== 0 && (interruptibility & Interruptibility.BlockingByNmi) !== 0) {
      return guestFail('interruptibility-virtual-nmi', fi);
    }
  }
  // The model never runs in SMM.
  if ((interruptibility & Interruptibility.BlockingBySmi) !== 0) return guestFail('interruptibility-smi', fi);

  const pendingLo = vmcs.readLo(F.GuestPendingDebugExceptions);
  if ((pendingLo & ~PENDING_DEBUG_VALID_LO) !== 0 || vmcs.readHi(F.GuestPendingDebugExceptions) !== 0) {
    return guestFail('pending-debug-reserved', F.GuestPendingDebugExceptions);
  }
  if ((interruptibility & stiOrMovSs) !== 0 || activity === ActivityState.Hlt) {
    const tf = (rflagsLo & RFLAGS_TF) !== 0;
    const btf = (vmcs.readLo(F.GuestIa32Debugctl) & 2) !== 0;
    const bs = (pendingLo & PENDING_DEBUG_BS) !== 0;
    if (bs !== (tf && !btf)) return guestFail('pending-debug-bs', F.GuestPendingDebugExceptions);
  }

  const linkLo = vmcs.readLo(F.VmcsLinkPointer);
  const linkHi = vmcs.readHi(F.VmcsLinkPointer);
  if (!(linkLo === 0xffff_ffff && linkHi === INVALID_POINTER_HI)) {
    const q = EntryFailureQualification.InvalidVmcsLinkPointer;
    if (!pageAligned(linkLo) || !fitsPhysical(linkHi, width))
      return guestFail('vmcs-link-pointer', F.VmcsLinkPointer, q);
    const link = linkHi * 0x1_0000_0000 + linkLo;
    const rev = ctx.memory.read32(link) >>> 0;
    const shadow = (proc2 & ProcBased2.VmcsShadowing) !== 0;
    if ((rev & 0x7fff_ffff) !== caps.revisionId || ((rev & SHADOW_VMCS_INDICATOR) !== 0) !== shadow) {
      return guestFail('vmcs-link-pointer', F.VmcsLinkPointer, q);
    }
    if (link === ctx.currentVmcsPointer) return guestFail('vmcs-link-pointer', F.VmcsLinkPointer, q);
  }

  // 27.3.1.6 PDPTEs, for a PAE guest that is not in IA-32e mode.
  if (!ia32e && (cr0 & CR0_PG) !== 0 && (cr4 & CR4_PAE) !== 0) {
    const pd = pdpteProblem(vmcs, caps, ctx.memory, (proc2 & ProcBased2.EnableEpt) !== 0);
    if (pd !== null) return guestFail('pdpte', pd, EntryFailureQualification.PdpteLoading);
  }
  return null;
}

/** Which injected events each activity state accepts (27.3.1.5). */
function eventAllowedInActivityState(activity: number, type: number, vector: number): boolean {
  switch (activity) {
    case ActivityState.Active:
      return true;
    case ActivityState.Hlt:
      return (
        type === InterruptionType.ExternalInterrupt ||
        type === InterruptionType.Nmi ||
        (type === InterruptionType.HardwareException && (vector === 1 || vector === 18)) ||
        (type === InterruptionType.OtherEvent && vector === 0)
      );
    case ActivityState.Shutdown:
      return type === InterruptionType.Nmi || (type === InterruptionType.HardwareException && vector === 18);
    default:
      return false;
  }
}

function checkGuestSegments(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  v86: boolean,
  unrestricted: boolean,
  ia32e: boolean,
  cr0: number,
): GuestCheckFailure | null {
  // Selectors
  if ((vmcs.read32(F.GuestTrSelector) & 4) !== 0) return guestFail('selector-ti', F.GuestTrSelector);
  const ldtrAr = vmcs.read32(F.GuestLdtrAccessRights);
  const ldtrUsable = (ldtrAr & AccessRights.Unusable) === 0;
  if (ldtrUsable && (vmcs.read32(F.GuestLdtrSelector) & 4) !== 0)
    return guestFail('selector-ti', F.GuestLdtrSelector);
  const csSel = vmcs.read32(F.GuestCsSelector);
  const ssSel = vmcs.read32(F.GuestSsSelector);
  if (!v86 && !unrestricted && (ssSel & 3) !== (csSel & 3)) return guestFail('ss-rpl', F.GuestSsSelector);

  if (v86) {
    for (const s of SEGMENTS) {
      const sel = vmcs.read32(s.sel);
      if (vmcs.readLo(s.base) !== sel << 4 || vmcs.readHi(s.base) !== 0) return guestFail('v86-base', s.base);
      if (vmcs.read32(s.limit) !== 0xffff) return guestFail('v86-limit', s.limit);
      if (vmcs.read32(s.ar) !== 0xf3) return guestFail('v86-access-rights', s.ar);
    }
  }

  // Bases: TR, FS, GS, usable LDTR canonical; CS and usable SS, DS, ES below 4 GiB.
  for (const f of [F.GuestTrBase, F.GuestFsBase, F.GuestGsBase]) {
    if (!fieldCanonical(vmcs, f, caps)) return guestFail('base-canonical', f);
  }
  if (ldtrUsable && !fieldCanonical(vmcs, F.GuestLdtrBase, caps))
    return guestFail('base-canonical', F.GuestLdtrBase);
  for (let i = 0; i < FS; i++) {
    const s = SEGMENTS[i]!;
    const usable = i === CS || (vmcs.read32(s.ar) & AccessRights.Unusable) === 0;
    if (usable && vmcs.readHi(s.base) !== 0) return guestFail('base-high', s.base);
  }

  if (!v86) {
    const csAr = vmcs.read32(F.GuestCsAccessRights);
    const ssAr = vmcs.read32(F.GuestSsAccessRights);
    const csType = csAr & 0xf;
    for (let i = ES; i < SEGMENTS.length; i++) {
      const s = SEGMENTS[i]!;
      const ar = vmcs.read32(s.ar);
      if (i !== CS && (ar & AccessRights.Unusable) !== 0) continue;
      const type = ar & 0xf;
      if (i === CS) {
        const ok = type === 9 || type === 11 || type === 13 || type === 15 || (unrestricted && type === 3);
        if (!ok) return guestFail('cs-type', s.ar);
      } else if (i === SS) {
        if (type !== 3 && type !== 7) return guestFail('ss-type', s.ar);
      } else if ((type & 1) === 0 || ((type & 8) !== 0 && (type & 2) === 0)) {
        return guestFail('data-segment-type', s.ar);
      }
      if ((ar & AccessRights.S) === 0) return guestFail('descriptor-type', s.ar);
      const dpl = arDpl(ar);
      if (i === CS) {
        if (type === 3 && dpl !== 0) return guestFail('cs-dpl', s.ar);
        if ((type === 9 || type === 11) && dpl !== arDpl(ssAr)) return guestFail('cs-dpl', s.ar);
        if ((type === 13 || type === 15) && dpl > arDpl(ssAr)) return guestFail('cs-dpl', s.ar);
      } else if (i === SS) {
        if (!unrestricted && dpl !== (ssSel & 3)) return guestFail('ss-dpl', s.ar);
        if ((csType === 3 || (cr0 & CR0_PE) === 0) && dpl !== 0) return guestFail('ss-dpl', s.ar);
      } else if (!unrestricted && type <= 11 && dpl < (vmcs.read32(s.sel) & 3)) {
        return guestFail('data-segment-dpl', s.ar);
      }
      if ((ar & AccessRights.P) === 0) return guestFail('segment-present', s.ar);
      if ((ar & AccessRights.ReservedMask) !== 0) return guestFail('access-rights-reserved', s.ar);
      if (i === CS && ia32e && (ar & AccessRights.L) !== 0 && (ar & AccessRights.Db) !== 0) {
        return guestFail('cs-long-and-default', s.ar);
      }
      if (!granularityConsistent(vmcs.read32(s.limit), ar)) return guestFail('granularity', s.ar);
    }
  }

  // TR
  const trAr = vmcs.read32(F.GuestTrAccessRights);
  const trType = trAr & 0xf;
  if (ia32e ? trType !== 11 : trType !== 3 && trType !== 11)
    return guestFail('tr-type', F.GuestTrAccessRights);
  if ((trAr & AccessRights.S) !== 0) return guestFail('descriptor-type', F.GuestTrAccessRights);
  if ((trAr & AccessRights.P) === 0) return guestFail('segment-present', F.GuestTrAccessRights);
  if ((trAr & AccessRights.ReservedMask) !== 0)
    return guestFail('access-rights-reserved', F.GuestTrAccessRights);
  if (!granularityConsistent(vmcs.read32(F.GuestTrLimit), trAr))
    return guestFail('granularity', F.GuestTrAccessRights);
  if ((trAr & AccessRights.Unusable) !== 0) return guestFail('tr-unusable', F.GuestTrAccessRights);

  // LDTR, if usable
  if (ldtrUsable) {
    const f = F.GuestLdtrAccessRights;
    if ((ldtrAr & 0xf) !== 2) return guestFail('ldtr-type', f);
    if ((ldtrAr & AccessRights.S) !== 0) return guestFail('descriptor-type', f);
    if ((ldtrAr & AccessRights.P) === 0) return guestFail('segment-present', f);
    if ((ldtrAr & AccessRights.ReservedMask) !== 0) return guestFail('access-rights-reserved', f);
    if (!granularityConsistent(vmcs.read32(F.GuestLdtrLimit), ldtrAr)) return guestFail('granularity', f);
  }
  return null;
}

/** PAE PDPTE bits that must be 0 in a present entry: 2:1 and 8:5 (bits 63:MAXPHYADDR checked apart). */
const PDPTE_RESERVED_LO = 0x1e6;

/**
 * 27.3.1.6: with EPT the PDPTE fields are checked; without it the four PDPTEs are read from guest
 * memory at CR3[31:5]. Returns the field at fault (the first PDPTE field, or CR3), or null.
 */
function pdpteProblem(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  memory: PhysicalMemory,
  ept: boolean,
): number | null {
  const pdptes = [F.GuestPdpte0, F.GuestPdpte1, F.GuestPdpte2, F.GuestPdpte3];
  const base = vmcs.readLo(F.GuestCr3) & ~0x1f;
  for (let i = 0; i < 4; i++) {
    const f = pdptes[i]!;
    const lo = ept ? vmcs.readLo(f) : memory.read32((base >>> 0) + i * 8) >>> 0;
    const hi = ept ? vmcs.readHi(f) : memory.read32((base >>> 0) + i * 8 + 4) >>> 0;
    if ((lo & 1) === 0) continue;
    if ((lo & PDPTE_RESERVED_LO) !== 0 || !fitsPhysical(hi, caps.physicalAddressWidth))
      return ept ? f : F.GuestCr3;
  }
  return null;
}
