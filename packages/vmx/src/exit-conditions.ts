/**
 * Which events of VMX non-root operation cause VM exits (SDM Vol. 3C 26.1-26.2), as pure functions
 * of the current VMCS and, for the bitmaps, guest-physical memory; plus the value transformations
 * non-root operation applies without exiting (CR0/CR4 read shadows, TSC offsetting) and the writer
 * of the VM-exit information fields.
 *
 * The CPU asks before it executes a sensitive instruction or delivers an event; these functions
 * answer, and the CPU performs the exit (saving guest state, loading host state) itself.
 */
import { EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from './controls.js';
import { ExitReason, InterruptionType, makeInterruptionInfo } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import type { PhysicalMemory, Vmcs } from './vmcs.js';

const secondary = (vmcs: Vmcs, proc: number): number =>
  (proc & ProcBased.ActivateSecondaryControls) !== 0 ? vmcs.read32(F.SecondaryProcBasedControls) : 0;

/** Bit `bit` of the bitmap page at `base` in guest-physical memory. */
function bitmapBit(memory: PhysicalMemory, base: number, bit: number): boolean {
  const word = memory.read32(base + ((bit >>> 5) << 2));
  return ((word >>> (bit & 31)) & 1) !== 0;
}

const physical = (vmcs: Vmcs, field: number): number =>
  vmcs.readHi(field) * 0x1_0000_0000 + vmcs.readLo(field);

// ---- instructions (26.1.2, 26.1.3) ----

/** What non-root operation does with an instruction. */
export const InstructionAction = {
  /** Execute it normally. */
  Execute: 0,
  /** Perform a VM exit with the instruction's exit reason. */
  Exit: 1,
  /** Raise #UD: the VM-execution control that enables the instruction in non-root operation is 0. */
  InvalidOpcode: 2,
} as const;
export type InstructionAction = (typeof InstructionAction)[keyof typeof InstructionAction];

/** Where the control deciding an instruction's exit lives. */
type ControlWord = 'always' | 'proc' | 'proc2';

/** One row per instruction: exit reason, and the control that makes it exit (or `always`). */
interface InstructionRule {
  readonly reason: ExitReason;
  readonly word: ControlWord;
  readonly bit: number;
  /** A secondary control that must be 1 for the instruction to exist in non-root operation (else #UD). */
  readonly enable?: number;
}

/** SDM 26.1.2 (unconditional) and 26.1.3 (conditional) as data. */
export const INSTRUCTION_RULES = {
  cpuid: { reason: ExitReason.Cpuid, word: 'always', bit: 0 },
  getsec: { reason: ExitReason.Getsec, word: 'always', bit: 0 },
  invd: { reason: ExitReason.Invd, word: 'always', bit: 0 },
  xsetbv: { reason: ExitReason.Xsetbv, word: 'always', bit: 0 },
  vmcall: { reason: ExitReason.Vmcall, word: 'always', bit: 0 },
  vmclear: { reason: ExitReason.Vmclear, word: 'always', bit: 0 },
  vmlaunch: { reason: ExitReason.Vmlaunch, word: 'always', bit: 0 },
  vmptrld: { reason: ExitReason.Vmptrld, word: 'always', bit: 0 },
  vmptrst: { reason: ExitReason.Vmptrst, word: 'always', bit: 0 },
  vmread: { reason: ExitReason.Vmread, word: 'always', bit: 0 },
  vmresume: { reason: ExitReason.Vmresume, word: 'always', bit: 0 },
  vmwrite: { reason: ExitReason.Vmwrite, word: 'always', bit: 0 },
  vmxoff: { reason: ExitReason.Vmxoff, word: 'always', bit: 0 },
  vmxon: { reason: ExitReason.Vmxon, word: 'always', bit: 0 },
  invept: { reason: ExitReason.Invept, word: 'always', bit: 0 },
  invvpid: { reason: ExitReason.Invvpid, word: 'always', bit: 0 },
  hlt: { reason: ExitReason.Hlt, word: 'proc', bit: ProcBased.HltExiting },
  invlpg: { reason: ExitReason.Invlpg, word: 'proc', bit: ProcBased.InvlpgExiting },
  mwait: { reason: ExitReason.Mwait, word: 'proc', bit: ProcBased.MwaitExiting },
  rdpmc: { reason: ExitReason.Rdpmc, word: 'proc', bit: ProcBased.RdpmcExiting },
  rdtsc: { reason: ExitReason.Rdtsc, word: 'proc', bit: ProcBased.RdtscExiting },
  movDr: { reason: ExitReason.MovDr, word: 'proc', bit: ProcBased.MovDrExiting },
  monitor: { reason: ExitReason.Monitor, word: 'proc', bit: ProcBased.MonitorExiting },
  pause: { reason: ExitReason.Pause, word: 'proc', bit: ProcBased.PauseExiting },
  // RDTSCP exists only with "enable RDTSCP" and exits with "RDTSC exiting".
  rdtscp: {
    reason: ExitReason.Rdtscp,
    word: 'proc',
    bit: ProcBased.RdtscExiting,
    enable: ProcBased2.EnableRdtscp,
  },
  // INVPCID exists only with "enable INVPCID" and exits with "INVLPG exiting".
  invpcid: {
    reason: ExitReason.Invpcid,
    word: 'proc',
    bit: ProcBased.InvlpgExiting,
    enable: ProcBased2.EnableInvpcid,
  },
  wbinvd: { reason: ExitReason.Wbinvd, word: 'proc2', bit: ProcBased2.WbinvdExiting },
  lgdt: { reason: ExitReason.GdtrIdtrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  lidt: { reason: ExitReason.GdtrIdtrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  sgdt: { reason: ExitReason.GdtrIdtrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  sidt: { reason: ExitReason.GdtrIdtrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  lldt: { reason: ExitReason.LdtrTrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  ltr: { reason: ExitReason.LdtrTrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  sldt: { reason: ExitReason.LdtrTrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
  str: { reason: ExitReason.LdtrTrAccess, word: 'proc2', bit: ProcBased2.DescriptorTableExiting },
} as const satisfies Record<string, InstructionRule>;
export type SensitiveInstruction = keyof typeof INSTRUCTION_RULES;

/** What non-root operation does with `instruction` under the current VMCS's controls. */
export function instructionAction(vmcs: Vmcs, instruction: SensitiveInstruction): InstructionAction {
  const rule: InstructionRule = INSTRUCTION_RULES[instruction];
  if (rule.word === 'always') return InstructionAction.Exit;
  const proc = vmcs.read32(F.ProcBasedControls);
  const proc2 = secondary(vmcs, proc);
  if (rule.enable !== undefined && (proc2 & rule.enable) === 0) return InstructionAction.InvalidOpcode;
  const word = rule.word === 'proc' ? proc : proc2;
  return (word & rule.bit) !== 0 ? InstructionAction.Exit : InstructionAction.Execute;
}

/**
 * XSAVES/XRSTORS (26.1.3): with "enable XSAVES/XRSTORS" = 0 they #UD; otherwise they exit when the
 * XSS-exiting bitmap and IA32_XSS (`xssLo`/`xssHi`) share a set bit.
 */
export function xsavesAction(vmcs: Vmcs, xssLo: number, xssHi: number): InstructionAction {
  const proc2 = secondary(vmcs, vmcs.read32(F.ProcBasedControls));
  if ((proc2 & ProcBased2.EnableXsavesXrstors) === 0) return InstructionAction.InvalidOpcode;
  if (!vmcs.isSupported(F.XssExitingBitmap)) return InstructionAction.Execute;
  const hit = (vmcs.readLo(F.XssExitingBitmap) & xssLo) | (vmcs.readHi(F.XssExitingBitmap) & xssHi);
  return hit !== 0 ? InstructionAction.Exit : InstructionAction.Execute;
}

// ---- I/O and MSR accesses ----

/**
 * IN, OUT, INS, OUTS of `size` bytes at `port` (26.1.3): without I/O bitmaps, exit iff
 * "unconditional I/O exiting"; with them, exit iff the bit of any port touched is set (A covers
 * 0000H-7FFFH, B 8000H-FFFFH) or the access wraps past FFFFH.
 */
export function ioExits(vmcs: Vmcs, memory: PhysicalMemory, port: number, size: 1 | 2 | 4): boolean {
  const proc = vmcs.read32(F.ProcBasedControls);
  if ((proc & ProcBased.UseIoBitmaps) === 0) return (proc & ProcBased.UnconditionalIoExiting) !== 0;
  if (port + size - 1 > 0xffff) return true;
  const a = physical(vmcs, F.IoBitmapA);
  const b = physical(vmcs, F.IoBitmapB);
  for (let p = port; p < port + size; p++) {
    if (p < 0x8000 ? bitmapBit(memory, a, p) : bitmapBit(memory, b, p - 0x8000)) return true;
  }
  return false;
}

/**
 * RDMSR/WRMSR of `msr` (26.1.3, 25.6.9): without MSR bitmaps, always exit; with them, the bit in the
 * read-low (0000_0000H-0000_1FFFH), read-high (C000_0000H-C000_1FFFH), write-low or write-high
 * quarter decides, and an MSR outside both ranges exits.
 */
export function msrExits(vmcs: Vmcs, memory: PhysicalMemory, msr: number, write: boolean): boolean {
  const proc = vmcs.read32(F.ProcBasedControls);
  if ((proc & ProcBased.UseMsrBitmaps) === 0) return true;
  const m = msr >>> 0;
  let offset: number;
  if (m <= 0x1fff) offset = 0;
  else if (m >= 0xc000_0000 && m <= 0xc000_1fff) offset = 1024;
  else return true;
  if (write) offset += 2048;
  return bitmapBit(memory, physical(vmcs, F.MsrBitmap) + offset, m & 0x1fff);
}

// ---- control registers (26.1.3, 25.6.6, 25.6.7) ----

/** MOV to CR0/CR4 exits when a bit owned by the host (set in the mask) differs from the read shadow. */
export function movToCrExits(vmcs: Vmcs, cr: 0 | 4, valueLo: number, valueHi: number): boolean {
  const mask = cr === 0 ? F.Cr0GuestHostMask : F.Cr4GuestHostMask;
  const shadow = cr === 0 ? F.Cr0ReadShadow : F.Cr4ReadShadow;
  return (
    ((valueLo ^ vmcs.readLo(shadow)) & vmcs.readLo(mask)) !== 0 ||
    ((valueHi ^ vmcs.readHi(shadow)) & vmcs.readHi(mask)) !== 0
  );
}

const CR3_TARGETS = [F.Cr3TargetValue0, F.Cr3TargetValue1, F.Cr3TargetValue2, F.Cr3TargetValue3] as const;

/**
 * MOV to CR3 exits with "CR3-load exiting" unless the value equals one of the first
 * CR3-target-count CR3-target values.
 */
export function movToCr3Exits(vmcs: Vmcs, valueLo: number, valueHi: number): boolean {
  if ((vmcs.read32(F.ProcBasedControls) & ProcBased.Cr3LoadExiting) === 0) return false;
  const n = Math.min(vmcs.read32(F.Cr3TargetCount), 4);
  for (let i = 0; i < n; i++) {
    const t = CR3_TARGETS[i]!;
    if (vmcs.readLo(t) === valueLo >>> 0 && vmcs.readHi(t) === valueHi >>> 0) return false;
  }
  return true;
}

export const movFromCr3Exits = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.ProcBasedControls) & ProcBased.Cr3StoreExiting) !== 0;
export const movToCr8Exits = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.ProcBasedControls) & ProcBased.Cr8LoadExiting) !== 0;
export const movFromCr8Exits = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.ProcBasedControls) & ProcBased.Cr8StoreExiting) !== 0;

/** CLTS exits when CR0.TS is owned by the host and its read shadow is 1. */
export function cltsExits(vmcs: Vmcs): boolean {
  return (vmcs.readLo(F.Cr0GuestHostMask) & vmcs.readLo(F.Cr0ReadShadow) & 8) !== 0;
}

/**
 * LMSW with `source` (bits 3:0 matter) exits when it would set host-owned CR0.PE while the shadow has
 * it clear, or change a host-owned bit among MP, EM, TS relative to the shadow.
 */
export function lmswExits(vmcs: Vmcs, source: number): boolean {
  const mask = vmcs.readLo(F.Cr0GuestHostMask);
  const shadow = vmcs.readLo(F.Cr0ReadShadow);
  if ((mask & 1) !== 0 && (shadow & 1) === 0 && (source & 1) !== 0) return true;
  return ((source ^ shadow) & mask & 0xe) !== 0;
}

/** MOV from CR0/CR4 in non-root operation: host-owned bits come from the read shadow (bits 31:0). */
export function guestCrRead(vmcs: Vmcs, cr: 0 | 4, actualLo: number): number {
  const mask = vmcs.readLo(cr === 0 ? F.Cr0GuestHostMask : F.Cr4GuestHostMask);
  const shadow = vmcs.readLo(cr === 0 ? F.Cr0ReadShadow : F.Cr4ReadShadow);
  return ((actualLo & ~mask) | (shadow & mask)) >>> 0;
}

/** A MOV to CR0/CR4 that did not exit changes only guest-owned bits (bits 31:0). */
export function guestCrWrite(vmcs: Vmcs, cr: 0 | 4, valueLo: number, currentLo: number): number {
  const mask = vmcs.readLo(cr === 0 ? F.Cr0GuestHostMask : F.Cr4GuestHostMask);
  return ((valueLo & ~mask) | (currentLo & mask)) >>> 0;
}

// ---- exceptions and events (26.2) ----

/**
 * An exception with `vector` (and, for #PF, `errorCode`) exits when its bit in the exception bitmap
 * is set; for #PF the bit is inverted unless (error code AND mask) equals match (25.6.3).
 */
export function exceptionExits(vmcs: Vmcs, vector: number, errorCode = 0): boolean {
  const bitmap = vmcs.read32(F.ExceptionBitmap);
  const set = ((bitmap >>> vector) & 1) !== 0;
  if (vector !== 14) return set;
  const matches =
    (errorCode & vmcs.read32(F.PageFaultErrorCodeMask)) >>> 0 === vmcs.read32(F.PageFaultErrorCodeMatch);
  return matches ? set : !set;
}

export const nmiExits = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.PinBasedControls) & PinBased.NmiExiting) !== 0;
export const externalInterruptExits = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.PinBasedControls) & PinBased.ExternalInterruptExiting) !== 0;

/**
 * The VM-exit interruption information of an external-interrupt exit: with "acknowledge interrupt on
 * exit" the processor acknowledges the controller and reports the vector; otherwise the field is
 * invalid and the interrupt stays pending (28.2.2).
 */
export function externalInterruptExitInfo(vmcs: Vmcs, vector: number): number {
  if ((vmcs.read32(F.ExitControls) & ExitCtl.AcknowledgeInterruptOnExit) === 0) return 0;
  return makeInterruptionInfo(vector, InterruptionType.ExternalInterrupt);
}

/** Interruptibility-state bits that block maskable interrupts (STI, MOV SS). */
const STI_OR_MOV_SS = 3;

/** "Interrupt-window exiting": exits before the first instruction at which IF=1 and nothing blocks. */
export function interruptWindowExits(vmcs: Vmcs, rflagsIf: boolean, interruptibility: number): boolean {
  if ((vmcs.read32(F.ProcBasedControls) & ProcBased.InterruptWindowExiting) === 0) return false;
  return rflagsIf && (interruptibility & STI_OR_MOV_SS) === 0;
}

/** "NMI-window exiting": exits when no virtual-NMI blocking and no MOV-SS blocking (26.7.6). */
export function nmiWindowExits(vmcs: Vmcs, interruptibility: number): boolean {
  if ((vmcs.read32(F.ProcBasedControls) & ProcBased.NmiWindowExiting) === 0) return false;
  return (interruptibility & (2 | 8)) === 0;
}

// ---- TSC and the preemption timer ----

/**
 * The TSC value non-root RDTSC/RDTSCP returns: host TSC plus the TSC offset when "use TSC offsetting"
 * is 1 (26.3). Writes bits 31:0 and 63:32 to `out`.
 */
export function guestTsc(vmcs: Vmcs, hostLo: number, hostHi: number, out: Uint32Array): void {
  if ((vmcs.read32(F.ProcBasedControls) & ProcBased.UseTscOffsetting) === 0) {
    out[0] = hostLo;
    out[1] = hostHi;
    return;
  }
  const lo = (hostLo >>> 0) + vmcs.readLo(F.TscOffset);
  out[0] = lo >>> 0;
  out[1] = ((hostHi >>> 0) + vmcs.readHi(F.TscOffset) + (lo > 0xffff_ffff ? 1 : 0)) >>> 0;
}

/**
 * Counts the VMX-preemption timer down by the TSC ticks elapsed (the timer decrements once per
 * 2^rate ticks, 26.5.1), stores the new value, and returns true when it reached 0 (an exit with
 * reason 52). `ticks` is a whole number of TSC ticks, `rate` IA32_VMX_MISC bits 4:0.
 */
export function advancePreemptionTimer(vmcs: Vmcs, ticks: number, rate: number): boolean {
  if ((vmcs.read32(F.PinBasedControls) & PinBased.ActivatePreemptionTimer) === 0) return false;
  const value = vmcs.read32(F.PreemptionTimerValue);
  const steps = Math.floor(ticks / 2 ** rate);
  const next = steps >= value ? 0 : value - steps;
  vmcs.write32(F.PreemptionTimerValue, next);
  return next === 0;
}

// ---- VM-exit information (28.2) ----

/** Everything a VM exit records besides guest state; reused between exits (no allocation). */
export class ExitInfo {
  /** The exit-reason field (basic reason plus bits 31:16). */
  reason = 0;
  qualificationLo = 0;
  qualificationHi = 0;
  guestLinearLo = 0;
  guestLinearHi = 0;
  guestPhysicalLo = 0;
  guestPhysicalHi = 0;
  instructionLength = 0;
  instructionInfo = 0;
  interruptionInfo = 0;
  interruptionErrorCode = 0;
  idtVectoringInfo = 0;
  idtVectoringErrorCode = 0;

  reset(reason: number): this {
    this.reason = reason;
    this.qualificationLo = 0;
    this.qualificationHi = 0;
    this.guestLinearLo = 0;
    this.guestLinearHi = 0;
    this.guestPhysicalLo = 0;
    this.guestPhysicalHi = 0;
    this.instructionLength = 0;
    this.instructionInfo = 0;
    this.interruptionInfo = 0;
    this.interruptionErrorCode = 0;
    this.idtVectoringInfo = 0;
    this.idtVectoringErrorCode = 0;
    return this;
  }
}

/**
 * Writes the VM-exit information fields (28.2.1-28.2.5). The guest-physical-address field exists
 * only with EPT and is written only by exits that define it (EPT violation and misconfiguration);
 * the interruption error-code fields only matter when their info field says an error code is valid.
 */
export function recordVmExit(vmcs: Vmcs, info: ExitInfo): void {
  vmcs.write32(F.ExitReason, info.reason);
  vmcs.write64(F.ExitQualification, info.qualificationLo, info.qualificationHi);
  vmcs.write64(F.GuestLinearAddress, info.guestLinearLo, info.guestLinearHi);
  const basic = info.reason & 0xffff;
  if (
    (basic === ExitReason.EptViolation || basic === ExitReason.EptMisconfiguration) &&
    vmcs.isSupported(F.GuestPhysicalAddress)
  ) {
    vmcs.write64(F.GuestPhysicalAddress, info.guestPhysicalLo, info.guestPhysicalHi);
  }
  vmcs.write32(F.ExitInstructionLength, info.instructionLength);
  vmcs.write32(F.ExitInstructionInfo, info.instructionInfo);
  vmcs.write32(F.ExitInterruptionInfo, info.interruptionInfo);
  vmcs.write32(F.ExitInterruptionErrorCode, info.interruptionErrorCode);
  vmcs.write32(F.IdtVectoringInfo, info.idtVectoringInfo);
  vmcs.write32(F.IdtVectoringErrorCode, info.idtVectoringErrorCode);
}

/**
 * On a VM exit with "save IA32_EFER" / the SDM's rule for the "IA-32e mode guest" control (28.3):
 * the entry control is set to the guest's IA32_EFER.LMA (IA32_VMX_MISC[5] is 1 on this model).
 */
export function saveIa32eModeGuest(vmcs: Vmcs, guestLma: boolean): void {
  const entry = vmcs.read32(F.EntryControls);
  vmcs.write32(
    F.EntryControls,
    guestLma ? entry | EntryCtl.Ia32eModeGuest : entry & ~EntryCtl.Ia32eModeGuest,
  );
}
