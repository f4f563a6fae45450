/**
 * The VMX capability MSRs (SDM Vol. 3D Appendix A) as data: one object that both the MSR reads and
 * the VM-entry checks consult, so what RDMSR reports and what VM entry accepts cannot drift apart.
 *
 * What the model offers (and so what the allowed-1 settings report) is exactly the control set of the
 * package's scope; every control outside it reads as allowed-1 = 0, and VM entry fails with error 7
 * when software sets it. See DESIGN.md, "Capabilities".
 */
import { DEFAULT1, EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2, controls } from './controls.js';
import { type VmxFeature, highestFieldIndex } from './fields.js';
import type { VmcsFieldSupport } from './vmcs.js';

/** MSR indices of the VMX capability MSRs (SDM Vol. 4, Table 2-2). */
export const VmxMsr = {
  Basic: 0x480,
  PinBasedCtls: 0x481,
  ProcBasedCtls: 0x482,
  ExitCtls: 0x483,
  EntryCtls: 0x484,
  Misc: 0x485,
  Cr0Fixed0: 0x486,
  Cr0Fixed1: 0x487,
  Cr4Fixed0: 0x488,
  Cr4Fixed1: 0x489,
  VmcsEnum: 0x48a,
  ProcBasedCtls2: 0x48b,
  EptVpidCap: 0x48c,
  TruePinBasedCtls: 0x48d,
  TrueProcBasedCtls: 0x48e,
  TrueExitCtls: 0x48f,
  TrueEntryCtls: 0x490,
  VmFunc: 0x491,
  ProcBasedCtls3: 0x492,
  ExitCtls2: 0x493,
} as const;

/** IA32_FEATURE_CONTROL (MSR 0x3a) bits VMXON looks at (SDM 24.7). */
export const FeatureControl = {
  Msr: 0x3a,
  Lock: 1 << 0,
  VmxInsideSmx: 1 << 1,
  VmxOutsideSmx: 1 << 2,
} as const;

/** Allowed settings of one 32-bit control field: bits that must be 1, bits that may be 1. */
export interface AllowedSettings {
  /** A bit set here must be 1 in the control field (the MSR's low half). */
  readonly allowed0: number;
  /** A bit clear here must be 0 in the control field (the MSR's high half). */
  readonly allowed1: number;
}

/** Activity states (SDM 25.4.2, Table 25-3). */
export const ActivityState = { Active: 0, Hlt: 1, Shutdown: 2, WaitForSipi: 3 } as const;
export type ActivityState = (typeof ActivityState)[keyof typeof ActivityState];

/** IA32_VMX_EPT_VPID_CAP bits (SDM A.10). Low half bits 0..31, high half bits 32..63 as `1 << (n-32)`. */
export const EptVpidCap = {
  ExecuteOnly: 1 << 0,
  PageWalk4: 1 << 6,
  PageWalk5: 1 << 7,
  MemoryTypeUc: 1 << 8,
  MemoryTypeWb: 1 << 14,
  Pde2MbPages: 1 << 16,
  Pdpte1GbPages: 1 << 17,
  Invept: 1 << 20,
  AccessedDirty: 1 << 21,
  AdvancedExitInfo: 1 << 22,
  SupervisorShadowStack: 1 << 23,
  InveptSingleContext: 1 << 25,
  InveptAllContext: 1 << 26,
  // high half
  Invvpid: 1 << 0,
  InvvpidIndividualAddress: 1 << 8,
  InvvpidSingleContext: 1 << 9,
  InvvpidAllContext: 1 << 10,
  InvvpidSingleContextRetainingGlobals: 1 << 11,
} as const;

/** Everything the model reports about its VMX implementation. */
export interface VmxCapabilities extends VmcsFieldSupport {
  /** VMCS revision identifier, bits 30:0 of IA32_VMX_BASIC and of every VMCS region. */
  readonly revisionId: number;
  /** MAXPHYADDR: physical-address width in bits (CPUID.80000008H:EAX[7:0]). */
  readonly physicalAddressWidth: number;
  /** Linear-address width; canonical checks use it (48 for 4-level paging). */
  readonly linearAddressWidth: number;
  readonly pin: AllowedSettings;
  readonly proc: AllowedSettings;
  readonly proc2: AllowedSettings;
  readonly exit: AllowedSettings;
  readonly entry: AllowedSettings;
  /** The non-TRUE MSRs: the same allowed-1 settings, with the whole default1 class as allowed-0. */
  readonly legacyAllowed0: {
    readonly pin: number;
    readonly proc: number;
    readonly exit: number;
    readonly entry: number;
  };
  readonly cr0Fixed0: number;
  readonly cr0Fixed1: number;
  readonly cr4Fixed0: number;
  readonly cr4Fixed1: number;
  /** Bitmask over {@link ActivityState} values 1..3 that VM entry accepts (IA32_VMX_MISC bits 8:6). */
  readonly activityStates: number;
  readonly cr3TargetCount: number;
  /** The preemption timer counts down once per 2^rate TSC ticks (IA32_VMX_MISC bits 4:0). */
  readonly preemptionTimerRate: number;
  /** Software-interrupt/exception injection with instruction length 0 is allowed (IA32_VMX_MISC[30]). */
  readonly injectWithZeroLength: boolean;
  /** IA32_VMX_EPT_VPID_CAP, low and high halves. */
  readonly eptVpidCapLo: number;
  readonly eptVpidCapHi: number;
  /** IA32_EFER bits the CPU implements (SCE, LME, LMA, NXE). */
  readonly eferValidMask: number;
  /** IA32_DEBUGCTL bits the CPU implements (LBR, BTF). */
  readonly debugctlValidMask: number;
}

export interface VmxCapabilityOptions {
  /** Default 39. */
  readonly physicalAddressWidth?: number;
  /** CR4 bits the CPU implements, reported as IA32_VMX_CR4_FIXED1. Default: see {@link DEFAULT_CR4_FIXED1}. */
  readonly cr4Fixed1?: number;
  /** The CPU executes RDTSCP (offers "enable RDTSCP"). Default true. */
  readonly rdtscp?: boolean;
  /** The CPU executes INVPCID (offers "enable INVPCID"). Default false. */
  readonly invpcid?: boolean;
  /** The CPU executes XSAVES/XRSTORS (offers "enable XSAVES/XRSTORS" and the XSS-exiting bitmap). Default false. */
  readonly xsaves?: boolean;
  /** EPT accessed/dirty flags (the MMU package implements them). Default true. */
  readonly eptAccessedDirty?: boolean;
  /** IA32_VMX_MISC[29]: VMWRITE may write VM-exit information fields. Default false. */
  readonly writableExitInfo?: boolean;
}

/** The revision identifier of this model's VMCS layout ("TV" + layout version 1). */
export const VMCS_REVISION_ID = 0x5456_0001;

/** VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT VMXE FSGSBASE PCIDE OSXSAVE. */
export const DEFAULT_CR4_FIXED1 = 0x0007_27ff;

const CR0_PE = 1 << 0;
const CR0_NE = 1 << 5;
const CR0_PG = 1 << 31;
const CR4_VMXE = 1 << 13;

/** Builds the capability model. The control set is fixed by what the package implements. */
export function createVmxCapabilities(options: VmxCapabilityOptions = {}): VmxCapabilities {
  const features = new Set<VmxFeature>([
    'base',
    'vpid',
    'ept',
    'tsc-offsetting',
    'tpr-shadow',
    'preemption-timer',
    'pat',
    'efer',
  ]);
  if (options.xsaves === true) features.add('xsaves');

  const pinAllowed1 = controls(
    PinBased.ExternalInterruptExiting,
    PinBased.NmiExiting,
    PinBased.VirtualNmis,
    PinBased.ActivatePreemptionTimer,
  );
  const procAllowed1 = controls(
    ProcBased.InterruptWindowExiting,
    ProcBased.UseTscOffsetting,
    ProcBased.HltExiting,
    ProcBased.InvlpgExiting,
    ProcBased.MwaitExiting,
    ProcBased.RdpmcExiting,
    ProcBased.RdtscExiting,
    ProcBased.Cr3LoadExiting,
    ProcBased.Cr3StoreExiting,
    ProcBased.Cr8LoadExiting,
    ProcBased.Cr8StoreExiting,
    ProcBased.UseTprShadow,
    ProcBased.NmiWindowExiting,
    ProcBased.MovDrExiting,
    ProcBased.UnconditionalIoExiting,
    ProcBased.UseIoBitmaps,
    ProcBased.UseMsrBitmaps,
    ProcBased.MonitorExiting,
    ProcBased.PauseExiting,
    ProcBased.ActivateSecondaryControls,
  );
  let proc2Allowed1 = controls(
    ProcBased2.EnableEpt,
    ProcBased2.DescriptorTableExiting,
    ProcBased2.EnableVpid,
    ProcBased2.WbinvdExiting,
    ProcBased2.UnrestrictedGuest,
  );
  if (options.rdtscp ?? true) proc2Allowed1 |= ProcBased2.EnableRdtscp;
  if (options.invpcid === true) proc2Allowed1 |= ProcBased2.EnableInvpcid;
  if (options.xsaves === true) proc2Allowed1 |= ProcBased2.EnableXsavesXrstors;
  const exitAllowed1 = controls(
    ExitCtl.SaveDebugControls,
    ExitCtl.HostAddressSpaceSize,
    ExitCtl.AcknowledgeInterruptOnExit,
    ExitCtl.SavePat,
    ExitCtl.LoadPat,
    ExitCtl.SaveEfer,
    ExitCtl.LoadEfer,
    ExitCtl.SavePreemptionTimer,
  );
  const entryAllowed1 = controls(
    EntryCtl.LoadDebugControls,
    EntryCtl.Ia32eModeGuest,
    EntryCtl.LoadPat,
    EntryCtl.LoadEfer,
  );

  return {
    revisionId: VMCS_REVISION_ID,
    physicalAddressWidth: options.physicalAddressWidth ?? 39,
    linearAddressWidth: 48,
    features,
    writableExitInfo: options.writableExitInfo ?? false,
    // TRUE MSRs: the default1 bits the model can run with at 0 (CR3-load/store exiting, save/load
    // debug controls) are allowed-0 there, as on real processors.
    pin: { allowed0: DEFAULT1.pin, allowed1: (pinAllowed1 | DEFAULT1.pin) >>> 0 },
    proc: {
      allowed0: (DEFAULT1.proc & ~(ProcBased.Cr3LoadExiting | ProcBased.Cr3StoreExiting)) >>> 0,
      allowed1: (procAllowed1 | DEFAULT1.proc) >>> 0,
    },
    proc2: { allowed0: 0, allowed1: proc2Allowed1 >>> 0 },
    exit: {
      allowed0: (DEFAULT1.exit & ~ExitCtl.SaveDebugControls) >>> 0,
      allowed1: (exitAllowed1 | DEFAULT1.exit) >>> 0,
    },
    entry: {
      allowed0: (DEFAULT1.entry & ~EntryCtl.LoadDebugControls) >>> 0,
      allowed1: (entryAllowed1 | DEFAULT1.entry) >>> 0,
    },
    legacyAllowed0: { pin: DEFAULT1.pin, proc: DEFAULT1.proc, exit: DEFAULT1.exit, entry: DEFAULT1.entry },
    cr0Fixed0: (CR0_PG | CR0_NE | CR0_PE) >>> 0,
    cr0Fixed1: 0xffff_ffff,
    cr4Fixed0: CR4_VMXE,
    cr4Fixed1: ((options.cr4Fixed1 ?? DEFAULT_CR4_FIXED1) | CR4_VMXE) >>> 0,
    activityStates: 1 << ActivityState.Hlt,
    cr3TargetCount: 4,
    preemptionTimerRate: 5,
    injectWithZeroLength: false,
    eptVpidCapLo:
      (EptVpidCap.ExecuteOnly |
        EptVpidCap.PageWalk4 |
        EptVpidCap.MemoryTypeUc |
        EptVpidCap.MemoryTypeWb |
        EptVpidCap.Pde2MbPages |
        EptVpidCap.Pdpte1GbPages |
        EptVpidCap.Invept |
        ((options.eptAccessedDirty ?? true) ? EptVpidCap.AccessedDirty : 0) |
        EptVpidCap.InveptSingleContext |
        EptVpidCap.InveptAllContext) >>>
      0,
    eptVpidCapHi:
      EptVpidCap.Invvpid |
      EptVpidCap.InvvpidIndividualAddress |
      EptVpidCap.InvvpidSingleContext |
      EptVpidCap.InvvpidAllContext |
      EptVpidCap.InvvpidSingleContextRetainingGlobals,
    eferValidMask: (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11),
    debugctlValidMask: (1 << 0) | (1 << 1),
  };
}

/** IA32_VMX_BASIC high half (bits 63:32), SDM A.1. */
function basicHigh(): number {
  const regionSize = 4096; // bits 44:32
  const memoryTypeWb = 6; // bits 53:50
  const insOutsInfo = 1 << 22; // bit 54
  const trueControls = 1 << 23; // bit 55
  return (regionSize | (memoryTypeWb << 18) | insOutsInfo | trueControls) >>> 0;
}

/** IA32_VMX_MISC low half, SDM A.6. */
function miscLow(caps: VmxCapabilities): number {
  const storeLmaOnExit = 1 << 5; // required of processors offering unrestricted guest
  return (
    (caps.preemptionTimerRate |
      storeLmaOnExit |
      ((caps.activityStates >>> 1) << 6) |
      (caps.cr3TargetCount << 16) |
      (caps.writableExitInfo ? 1 << 29 : 0) |
      (caps.injectWithZeroLength ? 1 << 30 : 0)) >>>
    0
  );
}

/**
 * RDMSR of a VMX capability MSR: writes bits 31:0 to `out[0]` and 63:32 to `out[1]` and returns
 * true, or returns false when `index` is not a capability MSR this model has (RDMSR then #GPs).
 */
export function readVmxMsr(caps: VmxCapabilities, index: number, out: Uint32Array): boolean {
  let lo = 0;
  let hi = 0;
  switch (index) {
    case VmxMsr.Basic:
      lo = caps.revisionId;
      hi = basicHigh();
      break;
    case VmxMsr.PinBasedCtls:
      lo = caps.legacyAllowed0.pin;
      hi = caps.pin.allowed1;
      break;
    case VmxMsr.ProcBasedCtls:
      lo = caps.legacyAllowed0.proc;
      hi = caps.proc.allowed1;
      break;
    case VmxMsr.ExitCtls:
      lo = caps.legacyAllowed0.exit;
      hi = caps.exit.allowed1;
      break;
    case VmxMsr.EntryCtls:
      lo = caps.legacyAllowed0.entry;
      hi = caps.entry.allowed1;
      break;
    case VmxMsr.Misc:
      lo = miscLow(caps);
      hi = 0; // MSEG revision identifier
      break;
    case VmxMsr.Cr0Fixed0:
      lo = caps.cr0Fixed0;
      break;
    case VmxMsr.Cr0Fixed1:
      lo = caps.cr0Fixed1;
      break;
    case VmxMsr.Cr4Fixed0:
      lo = caps.cr4Fixed0;
      break;
    case VmxMsr.Cr4Fixed1:
      lo = caps.cr4Fixed1;
      break;
    case VmxMsr.VmcsEnum:
      lo = highestFieldIndex(caps.features) << 1;
      break;
    case VmxMsr.ProcBasedCtls2:
      lo = caps.proc2.allowed0;
      hi = caps.proc2.allowed1;
      break;
    case VmxMsr.EptVpidCap:
      lo = caps.eptVpidCapLo;
      hi = caps.eptVpidCapHi;
      break;
    case VmxMsr.TruePinBasedCtls:
      lo = caps.pin.allowed0;
      hi = caps.pin.allowed1;
      break;
    case VmxMsr.TrueProcBasedCtls:
      lo = caps.proc.allowed0;
      hi = caps.proc.allowed1;
      break;
    case VmxMsr.TrueExitCtls:
      lo = caps.exit.allowed0;
      hi = caps.exit.allowed1;
      break;
    case VmxMsr.TrueEntryCtls:
      lo = caps.entry.allowed0;
      hi = caps.entry.allowed1;
      break;
    default:
      // IA32_VMX_VMFUNC, PROCBASED_CTLS3 and EXIT_CTLS2 exist only when the controls that activate
      // them are allowed-1; this model offers none of them.
      return false;
  }
  out[0] = lo >>> 0;
  out[1] = hi >>> 0;
  return true;
}

/** True when `value` obeys `allowed` (SDM 27.2.1.1: "reserved bits ... must be set properly"). */
export const controlsValid = (value: number, allowed: AllowedSettings): boolean =>
  ((~value & allowed.allowed0) | (value & ~allowed.allowed1)) === 0;
