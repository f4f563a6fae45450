/**
 * Event injection on VM entry (SDM Vol. 3C 27.6): what the VM-entry interruption-information field
 * asks the CPU to deliver through the guest IDT (or IVT, for a real-mode guest under unrestricted
 * guest) right after guest state is loaded, and what it does to the guest's blocking state.
 */
import { PinBased } from './controls.js';
import { InterruptionInfo, InterruptionType } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import type { ProcessorState } from './processor-state.js';
import type { Vmcs } from './vmcs.js';

/** The event a VM entry injects; reused between entries. */
export class Injection {
  vector = 0;
  type: InterruptionType = InterruptionType.ExternalInterrupt;
  hasErrorCode = false;
  errorCode = 0;
  /**
   * For software interrupts and software/privileged software exceptions: the length the return
   * address is advanced by (RIP + length is pushed), from the VM-entry instruction-length field.
   */
  instructionLength = 0;
  /**
   * The event counts as external to the guest's instruction stream: a fault while delivering it sets
   * the EXT bit of the error code (external interrupts, NMIs, hardware and privileged software
   * exceptions).
   */
  external = false;
}

/** Software-originated types, whose delivery pushes RIP + instruction length. */
const isSoftware = (type: number): boolean =>
  type === InterruptionType.SoftwareInterrupt ||
  type === InterruptionType.SoftwareException ||
  type === InterruptionType.PrivilegedSoftwareException;

/**
 * Decodes the VM-entry interruption-information field into `out`. Returns false when the valid bit
 * is clear (nothing to inject). Call after {@link checkControls} accepted the field.
 */
export function pendingInjection(vmcs: Vmcs, out: Injection): boolean {
  const info = vmcs.read32(F.EntryInterruptionInfo);
  if ((info & InterruptionInfo.Valid) === 0) return false;
  const type = ((info >>> 8) & 7) as InterruptionType;
  out.vector = info & 0xff;
  out.type = type;
  out.hasErrorCode = (info & InterruptionInfo.ErrorCodeValid) !== 0;
  out.errorCode = out.hasErrorCode ? vmcs.read32(F.EntryExceptionErrorCode) : 0;
  out.instructionLength = isSoftware(type) ? vmcs.read32(F.EntryInstructionLength) : 0;
  out.external =
    type === InterruptionType.ExternalInterrupt ||
    type === InterruptionType.Nmi ||
    type === InterruptionType.HardwareException ||
    type === InterruptionType.PrivilegedSoftwareException;
  return true;
}

/** Interruptibility-state bit 3: blocking by NMI (virtual-NMI blocking when "virtual NMIs" is 1). */
const BLOCKING_BY_NMI = 1 << 3;

/**
 * What injecting `event` does to the loaded guest state `s` before delivery (27.3.2.5, 27.6.1):
 * the guest is active, no STI/MOV-SS blocking applies, and an injected NMI blocks further NMIs (or
 * virtual NMIs when "virtual NMIs" is 1; the interruptibility bit stands for both).
 */
export function applyInjectionEffects(event: Injection, s: ProcessorState): void {
  s.activityState = 0;
  s.interruptibility &= ~3;
  if (event.type === InterruptionType.Nmi) s.interruptibility |= BLOCKING_BY_NMI;
}

/** True when NMI blocking in the interruptibility state means virtual-NMI blocking. */
export const nmiBlockingIsVirtual = (vmcs: Vmcs): boolean =>
  (vmcs.read32(F.PinBasedControls) & PinBased.VirtualNmis) !== 0;
