/**
 * The VMX instructions as a state machine over one logical processor's VMX state (SDM Vol. 3C
 * chapter 31, "VMX Instruction Reference"): VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST, VMREAD,
 * VMWRITE, VMLAUNCH, VMRESUME, VMCALL, INVEPT and INVVPID.
 *
 * The CPU decodes the instruction, reads any memory operand (the 64-bit pointer, the 128-bit
 * INVEPT/INVVPID descriptor) and passes the values in; each function follows the SDM pseudocode,
 * writes RFLAGS through {@link VmxCpu.setVmxFlags} with the VMsucceed / VMfailInvalid / VMfailValid
 * conventions (31.2), and returns a {@link VmxOutcome} telling the CPU what is left for it to do:
 * raise #UD or #GP(0), perform a VM exit for the instruction (non-root operation), store
 * {@link VmxState.out} (VMREAD, VMPTRST), load guest state (VM entry), or load host state after a
 * failed VM entry.
 */
import { type VmxCapabilities, FeatureControl, EptVpidCap } from './capabilities.js';
import { ProcBased, ProcBased2 } from './controls.js';
import {
  type EntryCheckFailure,
  checkControls,
  checkGuestState,
  checkHostState,
  eptPointerProblem,
} from './entry-checks.js';
import { ExitReason, VmInstructionError, entryFailureExitReason } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import {
  LaunchState,
  type PhysicalMemory,
  SHADOW_VMCS_INDICATOR,
  Vmcs,
  readRevisionId,
  writeRegionLaunchState,
} from './vmcs.js';

/** What a VMX instruction leaves for the CPU to do. */
export const VmxOutcome = {
  /** VMsucceed: CF=PF=AF=ZF=SF=OF=0 (already written). */
  Succeed: 0,
  /** VMfailInvalid: CF=1, others 0 (already written). */
  FailInvalid: 1,
  /** VMfailValid: ZF=1, others 0, VM-instruction error in the current VMCS (already written). */
  FailValid: 2,
  /** Raise #UD; nothing changed. */
  InvalidOpcode: 3,
  /** Raise #GP(0); nothing changed. */
  GeneralProtection: 4,
  /** In VMX non-root operation: perform a VM exit with this instruction's exit reason. */
  VmExit: 5,
  /** VMLAUNCH/VMRESUME passed every check: load guest state, inject, then call {@link completeVmEntry}. */
  Enter: 6,
  /**
   * VM entry failed on guest state: exit reason 33 (bit 31 set) and the exit qualification are in the
   * VMCS; the CPU loads host state as for a VM exit (SDM 27.8). See {@link VmxState.lastEntryFailure}.
   */
  EntryFailed: 7,
} as const;
export type VmxOutcome = (typeof VmxOutcome)[keyof typeof VmxOutcome];

/** The few CPU facts and effects the VMX instructions need. */
export interface VmxCpu {
  /** Current privilege level, 0..3. */
  cpl(): number;
  /** CR0 and CR4, bits 31:0. */
  cr0(): number;
  cr4(): number;
  /** RFLAGS.VM (virtual-8086 mode). */
  v86(): boolean;
  /** IA32_EFER.LMA: the processor is in IA-32e mode. */
  ia32e(): boolean;
  /** In 64-bit mode (IA-32e mode with CS.L = 1); IA-32e mode with CS.L = 0 is compatibility mode. */
  mode64(): boolean;
  /** IA32_FEATURE_CONTROL bits 31:0. */
  featureControl(): number;
  /** Events are blocked by MOV SS / POP SS (the instruction follows one). */
  blockedByMovSs(): boolean;
  /** Sets CF and ZF as given and clears PF, AF, SF, OF. */
  setVmxFlags(cf: boolean, zf: boolean): void;
  /** Guest-physical memory holding VMXON and VMCS regions. */
  readonly memory: PhysicalMemory;
  /** INVEPT: drop EPT-derived translations; `eptpLo/Hi` is meaningful for single-context (type 1). */
  invalidateEpt(type: 1 | 2, eptpLo: number, eptpHi: number): void;
  /** INVVPID: drop VPID-tagged translations (type 0 individual address, 1 single, 2 all, 3 single keeping globals). */
  invalidateVpid(type: 0 | 1 | 2 | 3, vpid: number, linearLo: number, linearHi: number): void;
}

/** "No pointer": the current-VMCS pointer after VMXON and VMCLEAR (FFFFFFFF_FFFFFFFFH in VMPTRST). */
export const INVALID_POINTER = -1;

/** One logical processor's VMX state. */
export class VmxState {
  inVmxOperation = false;
  /** In VMX non-root operation (between a VM entry and the next VM exit). */
  nonRoot = false;
  /** Physical address of the VMXON region, or {@link INVALID_POINTER}. */
  vmxonPointer = INVALID_POINTER;
  /** Physical address of the current VMCS, or {@link INVALID_POINTER}. */
  currentVmcsPointer = INVALID_POINTER;
  /** The processor's copy of the current VMCS (valid while `currentVmcsPointer` is). */
  readonly vmcs: Vmcs;
  /** VMREAD and VMPTRST results: bits 31:0, 63:32 of the value to store. */
  readonly out = new Uint32Array(2);
  /** Why the last VM entry failed (controls, host state or guest state), for diagnostics. */
  lastEntryFailure: EntryCheckFailure | null = null;

  constructor(readonly caps: VmxCapabilities) {
    this.vmcs = new Vmcs(caps);
  }

  get hasCurrentVmcs(): boolean {
    return this.currentVmcsPointer !== INVALID_POINTER;
  }

  /** Plain, JSON-able state for snapshots and migration (the role of KVM_GET_NESTED_STATE). */
  getState(): VmxStateSnapshot {
    return {
      inVmxOperation: this.inVmxOperation,
      nonRoot: this.nonRoot,
      vmxonPointer: this.vmxonPointer,
      currentVmcsPointer: this.currentVmcsPointer,
      launchState: this.vmcs.launchState,
      launchedBeforeVmxoff: this.vmcs.launchedBeforeVmxoff,
      vmcs: Array.from(this.vmcs.values),
    };
  }

  /** Restores a {@link getState} snapshot taken with the same capability model. */
  static fromState(caps: VmxCapabilities, snap: VmxStateSnapshot): VmxState {
    const s = new VmxState(caps);
    if (snap.vmcs.length !== s.vmcs.values.length) {
      throw new RangeError(
        `VMX snapshot has ${snap.vmcs.length} VMCS words, expected ${s.vmcs.values.length}`,
      );
    }
    s.inVmxOperation = snap.inVmxOperation;
    s.nonRoot = snap.nonRoot;
    s.vmxonPointer = snap.vmxonPointer;
    s.currentVmcsPointer = snap.currentVmcsPointer;
    s.vmcs.launchState = snap.launchState;
    s.vmcs.launchedBeforeVmxoff = snap.launchedBeforeVmxoff;
    s.vmcs.values.set(snap.vmcs);
    return s;
  }
}

/** The JSON form of a {@link VmxState}. */
export interface VmxStateSnapshot {
  readonly inVmxOperation: boolean;
  readonly nonRoot: boolean;
  readonly vmxonPointer: number;
  readonly currentVmcsPointer: number;
  readonly launchState: LaunchState;
  readonly launchedBeforeVmxoff: boolean;
  /** The current VMCS's store, two 32-bit words per field in table order. */
  readonly vmcs: readonly number[];
}

// ---- the pseudo-functions of SDM 31.2 ----

function succeed(cpu: VmxCpu): VmxOutcome {
  cpu.setVmxFlags(false, false);
  return VmxOutcome.Succeed;
}

function failInvalid(cpu: VmxCpu): VmxOutcome {
  cpu.setVmxFlags(true, false);
  return VmxOutcome.FailInvalid;
}

function failValid(state: VmxState, cpu: VmxCpu, error: number): VmxOutcome {
  state.vmcs.write32(F.VmInstructionError, error);
  cpu.setVmxFlags(false, true);
  return VmxOutcome.FailValid;
}

/** VMfail(error): VMfailValid when there is a current VMCS, VMfailInvalid otherwise. */
function fail(state: VmxState, cpu: VmxCpu, error: number): VmxOutcome {
  return state.hasCurrentVmcs ? failValid(state, cpu, error) : failInvalid(cpu);
}

/** A 4-KByte-aligned physical address within MAXPHYADDR, as a number, or -1. */
function pagePointer(lo: number, hi: number, caps: VmxCapabilities): number {
  if ((lo & 0xfff) !== 0 || hi >>> 0 >= 2 ** (caps.physicalAddressWidth - 32)) return -1;
  return (hi >>> 0) * 0x1_0000_0000 + (lo >>> 0);
}

/** The #UD conditions most VMX instructions share: outside VMX operation, virtual-8086, compatibility mode. */
const commonUd = (state: VmxState, cpu: VmxCpu): boolean =>
  !state.inVmxOperation || cpu.v86() || (cpu.ia32e() && !cpu.mode64());

function crValid(value: number, fixed0: number, fixed1: number): boolean {
  return (~value & fixed0) === 0 && (value & ~fixed1) === 0;
}

// ---- VMXON / VMXOFF ----

/** VMXON with the 64-bit pointer `ptrLo`/`ptrHi` read from its memory operand. */
export function vmxon(state: VmxState, cpu: VmxCpu, ptrLo: number, ptrHi: number): VmxOutcome {
  const caps = state.caps;
  if ((cpu.cr0() & 1) === 0 || (cpu.cr4() & (1 << 13)) === 0 || cpu.v86() || (cpu.ia32e() && !cpu.mode64())) {
    return VmxOutcome.InvalidOpcode;
  }
  if (!state.inVmxOperation) {
    const fc = cpu.featureControl();
    if (
      cpu.cpl() > 0 ||
      !crValid(cpu.cr0(), caps.cr0Fixed0, caps.cr0Fixed1) ||
      !crValid(cpu.cr4(), caps.cr4Fixed0, caps.cr4Fixed1) ||
      (fc & FeatureControl.Lock) === 0 ||
      (fc & FeatureControl.VmxOutsideSmx) === 0
    ) {
      return VmxOutcome.GeneralProtection;
    }
    const addr = pagePointer(ptrLo, ptrHi, caps);
    if (addr < 0) return failInvalid(cpu);
    const rev = readRevisionId(cpu.memory, addr);
    if (rev !== caps.revisionId) return failInvalid(cpu);
    state.inVmxOperation = true;
    state.nonRoot = false;
    state.vmxonPointer = addr;
    state.currentVmcsPointer = INVALID_POINTER;
    return succeed(cpu);
  }
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  return fail(state, cpu, VmInstructionError.VmxonInRoot);
}

/**
 * VMXOFF. The current VMCS, if any, is written back to its region first; if it had been launched,
 * the region remembers that VMXOFF came between, and a later VMRESUME of it fails with error 6.
 */
export function vmxoff(state: VmxState, cpu: VmxCpu): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  if (state.hasCurrentVmcs) {
    if (state.vmcs.launchState === LaunchState.Launched) state.vmcs.launchedBeforeVmxoff = true;
    state.vmcs.storeRegion(cpu.memory, state.currentVmcsPointer);
  }
  state.inVmxOperation = false;
  state.vmxonPointer = INVALID_POINTER;
  state.currentVmcsPointer = INVALID_POINTER;
  return succeed(cpu);
}

// ---- VMCLEAR / VMPTRLD / VMPTRST ----

export function vmclear(state: VmxState, cpu: VmxCpu, ptrLo: number, ptrHi: number): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  const addr = pagePointer(ptrLo, ptrHi, state.caps);
  if (addr < 0) return fail(state, cpu, VmInstructionError.VmclearInvalidAddress);
  if (addr === state.vmxonPointer) return fail(state, cpu, VmInstructionError.VmclearVmxonPointer);
  if (addr === state.currentVmcsPointer) {
    state.vmcs.launchState = LaunchState.Clear;
    state.vmcs.launchedBeforeVmxoff = false;
    state.vmcs.storeRegion(cpu.memory, addr);
    state.currentVmcsPointer = INVALID_POINTER;
  } else {
    writeRegionLaunchState(cpu.memory, addr, LaunchState.Clear);
  }
  return succeed(cpu);
}

export function vmptrld(state: VmxState, cpu: VmxCpu, ptrLo: number, ptrHi: number): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  const addr = pagePointer(ptrLo, ptrHi, state.caps);
  if (addr < 0) return fail(state, cpu, VmInstructionError.VmptrldInvalidAddress);
  if (addr === state.vmxonPointer) return fail(state, cpu, VmInstructionError.VmptrldVmxonPointer);
  const rev = readRevisionId(cpu.memory, addr);
  const shadowOffered = (state.caps.proc2.allowed1 & ProcBased2.VmcsShadowing) !== 0;
  if (
    (rev & 0x7fff_ffff) !== state.caps.revisionId ||
    ((rev & SHADOW_VMCS_INDICATOR) !== 0 && !shadowOffered)
  ) {
    return fail(state, cpu, VmInstructionError.VmptrldIncorrectRevisionId);
  }
  if (addr !== state.currentVmcsPointer) {
    if (state.hasCurrentVmcs) state.vmcs.storeRegion(cpu.memory, state.currentVmcsPointer);
    state.vmcs.loadRegion(cpu.memory, addr);
    state.currentVmcsPointer = addr;
  }
  return succeed(cpu);
}

/** VMPTRST: the pointer to store is left in `state.out` (all ones when there is no current VMCS). */
export function vmptrst(state: VmxState, cpu: VmxCpu): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  const p = state.currentVmcsPointer;
  state.out[0] = p === INVALID_POINTER ? 0xffff_ffff : p % 0x1_0000_0000;
  state.out[1] = p === INVALID_POINTER ? 0xffff_ffff : Math.floor(p / 0x1_0000_0000);
  return succeed(cpu);
}

// ---- VMREAD / VMWRITE ----

/**
 * VMREAD of the field whose encoding is in the source register (`encHi` = bits 63:32 in 64-bit mode,
 * else 0). On success the value is in `state.out`: 64 bits in 64-bit mode, 32 bits otherwise.
 * VMCS shadowing is not offered, so in non-root operation VMREAD always exits.
 */
export function vmread(state: VmxState, cpu: VmxCpu, encLo: number, encHi: number): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  if (!state.hasCurrentVmcs) return failInvalid(cpu);
  const err = state.vmcs.vmread(encLo, encHi, cpu.mode64(), state.out);
  return err === 0 ? succeed(cpu) : failValid(state, cpu, err);
}

/** VMWRITE of `valLo`/`valHi` (bits 63:32 used only in 64-bit mode) to the field `encLo`/`encHi`. */
export function vmwrite(
  state: VmxState,
  cpu: VmxCpu,
  encLo: number,
  encHi: number,
  valLo: number,
  valHi: number,
): VmxOutcome {
  if (commonUd(state, cpu)) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  if (!state.hasCurrentVmcs) return failInvalid(cpu);
  const err = state.vmcs.vmwrite(encLo, encHi, valLo, valHi, cpu.mode64());
  return err === 0 ? succeed(cpu) : failValid(state, cpu, err);
}

// ---- VMLAUNCH / VMRESUME ----

/**
 * VMLAUNCH (`launch` true) or VMRESUME: the checks of SDM 27.1-27.3 in order. `Enter` means the
 * CPU must now load guest state (27.3.2), load MSRs (27.4), inject the event (27.6) and call
 * {@link completeVmEntry}.
 */
export function vmentry(state: VmxState, cpu: VmxCpu, launch: boolean): VmxOutcome {
  if (!state.inVmxOperation || (cpu.cr0() & 1) === 0 || cpu.v86() || (cpu.ia32e() && !cpu.mode64())) {
    return VmxOutcome.InvalidOpcode;
  }
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  if (!state.hasCurrentVmcs) return failInvalid(cpu);
  const vmcs = state.vmcs;
  if (cpu.blockedByMovSs()) return failValid(state, cpu, VmInstructionError.EntryEventsBlockedByMovSs);
  if (launch && vmcs.launchState !== LaunchState.Clear) {
    return failValid(state, cpu, VmInstructionError.VmlaunchNonClearVmcs);
  }
  if (!launch && vmcs.launchState !== LaunchState.Launched) {
    return failValid(state, cpu, VmInstructionError.VmresumeNonLaunchedVmcs);
  }
  if (!launch && vmcs.launchedBeforeVmxoff)
    return failValid(state, cpu, VmInstructionError.VmresumeAfterVmxoff);

  const controls = checkControls(vmcs, state.caps, cpu.memory);
  if (controls !== null) {
    state.lastEntryFailure = controls;
    return failValid(state, cpu, controls.error);
  }
  const host = checkHostState(vmcs, state.caps, cpu.ia32e());
  if (host !== null) {
    state.lastEntryFailure = host;
    return failValid(state, cpu, host.error);
  }
  const guest = checkGuestState(vmcs, state.caps, {
    memory: cpu.memory,
    currentVmcsPointer: state.currentVmcsPointer,
  });
  if (guest !== null) {
    state.lastEntryFailure = guest;
    recordEntryFailure(vmcs, guest.exitReason, guest.qualification);
    return VmxOutcome.EntryFailed;
  }
  state.lastEntryFailure = null;
  return VmxOutcome.Enter;
}

export const vmlaunch = (state: VmxState, cpu: VmxCpu): VmxOutcome => vmentry(state, cpu, true);
export const vmresume = (state: VmxState, cpu: VmxCpu): VmxOutcome => vmentry(state, cpu, false);

/**
 * Writes the VM-exit information of a failed VM entry (SDM 27.8): exit reason and qualification; the
 * VM-exit interruption-information field is invalidated and, per 27.8, the other exit-information
 * fields are left as they are.
 */
export function recordEntryFailure(vmcs: Vmcs, exitReason: number, qualification: number): void {
  vmcs.write32(F.ExitReason, exitReason);
  vmcs.write32(F.ExitQualification, qualification);
  vmcs.write32(F.ExitInterruptionInfo, 0);
}

/** The CPU finished loading guest state: the VMCS becomes launched (VMLAUNCH) and the processor non-root. */
export function completeVmEntry(state: VmxState, launch: boolean): void {
  if (launch) state.vmcs.launchState = LaunchState.Launched;
  // A successful VM entry clears the "VM-entry interruption-information valid" bit (SDM 27.6).
  const info = state.vmcs.read32(F.EntryInterruptionInfo);
  state.vmcs.write32(F.EntryInterruptionInfo, info & 0x7fff_ffff);
  state.nonRoot = true;
}

/** The CPU performed a VM exit: back to VMX root operation. */
export function completeVmExit(state: VmxState): void {
  state.nonRoot = false;
}

// ---- VMCALL, INVEPT, INVVPID ----

/**
 * VMCALL. In non-root operation it exits; in root operation, with no dual-monitor treatment of SMM
 * (IA32_SMM_MONITOR_CTL[0] is 0 on this model), it fails with error 1.
 */
export function vmcall(state: VmxState, cpu: VmxCpu): VmxOutcome {
  if (!state.inVmxOperation) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.v86() || (cpu.ia32e() && !cpu.mode64())) return VmxOutcome.InvalidOpcode;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  return fail(state, cpu, VmInstructionError.VmcallInRoot);
}

/**
 * INVEPT with the type from its register operand (`typeHi` = bits 63:32 in 64-bit mode) and the
 * 128-bit descriptor `desc` (four dwords, EPTP in dwords 0-1).
 */
export function invept(
  state: VmxState,
  cpu: VmxCpu,
  typeLo: number,
  typeHi: number,
  desc: Uint32Array,
): VmxOutcome {
  const caps = state.caps;
  if (!state.inVmxOperation || (cpu.cr0() & 1) === 0 || cpu.v86() || (cpu.ia32e() && !cpu.mode64())) {
    return VmxOutcome.InvalidOpcode;
  }
  if ((caps.eptVpidCapLo & EptVpidCap.Invept) === 0) return VmxOutcome.InvalidOpcode;
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  const supported =
    typeHi === 0 &&
    ((typeLo === 1 && (caps.eptVpidCapLo & EptVpidCap.InveptSingleContext) !== 0) ||
      (typeLo === 2 && (caps.eptVpidCapLo & EptVpidCap.InveptAllContext) !== 0));
  if (!supported) return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  if (typeLo === 1 && eptPointerProblem(desc[0]!, desc[1]!, caps) !== null) {
    return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  }
  cpu.invalidateEpt(typeLo as 1 | 2, desc[0]!, desc[1]!);
  return succeed(cpu);
}

/**
 * INVVPID with the type from its register operand and the 128-bit descriptor `desc`: VPID in bits
 * 15:0 (bits 63:16 must be 0), linear address in dwords 2-3.
 */
export function invvpid(
  state: VmxState,
  cpu: VmxCpu,
  typeLo: number,
  typeHi: number,
  desc: Uint32Array,
): VmxOutcome {
  const caps = state.caps;
  if (!state.inVmxOperation || (cpu.cr0() & 1) === 0 || cpu.v86() || (cpu.ia32e() && !cpu.mode64())) {
    return VmxOutcome.InvalidOpcode;
  }
  if ((caps.proc2.allowed1 & ProcBased2.EnableVpid) === 0 || (caps.eptVpidCapHi & EptVpidCap.Invvpid) === 0) {
    return VmxOutcome.InvalidOpcode;
  }
  if (state.nonRoot) return VmxOutcome.VmExit;
  if (cpu.cpl() > 0) return VmxOutcome.GeneralProtection;
  if (
    typeHi !== 0 ||
    typeLo > 3 ||
    (caps.eptVpidCapHi & (EptVpidCap.InvvpidIndividualAddress << typeLo)) === 0
  ) {
    return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  }
  const vpid = desc[0]! & 0xffff;
  if ((desc[0]! & 0xffff_0000) !== 0 || desc[1] !== 0) {
    return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  }
  const type = typeLo as 0 | 1 | 2 | 3;
  if (type !== 2 && vpid === 0) return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  if (type === 0) {
    const top = (desc[3]! | 0) >> (caps.linearAddressWidth - 1 - 32);
    if (top !== 0 && top !== -1) return fail(state, cpu, VmInstructionError.InvalidInveptInvvpidOperand);
  }
  cpu.invalidateVpid(type, vpid, desc[2]!, desc[3]!);
  return succeed(cpu);
}

/** The basic exit reason a VMX instruction reports when it exits from non-root operation. */
export const VMX_INSTRUCTION_EXIT_REASON = {
  vmxon: ExitReason.Vmxon,
  vmxoff: ExitReason.Vmxoff,
  vmclear: ExitReason.Vmclear,
  vmptrld: ExitReason.Vmptrld,
  vmptrst: ExitReason.Vmptrst,
  vmread: ExitReason.Vmread,
  vmwrite: ExitReason.Vmwrite,
  vmlaunch: ExitReason.Vmlaunch,
  vmresume: ExitReason.Vmresume,
  vmcall: ExitReason.Vmcall,
  invept: ExitReason.Invept,
  invvpid: ExitReason.Invvpid,
} as const;

/** Exit reason of a VM entry that failed on guest state, as the VMCS records it. */
export const ENTRY_FAILURE_GUEST_STATE = entryFailureExitReason(ExitReason.EntryFailureGuestState);

/** Reads `ProcBased.ActivateSecondaryControls`-gated secondary controls of a VMCS (0 when not activated). */
export function secondaryControls(vmcs: Vmcs): number {
  const proc = vmcs.read32(F.ProcBasedControls);
  return (proc & ProcBased.ActivateSecondaryControls) !== 0 ? vmcs.read32(F.SecondaryProcBasedControls) : 0;
}
