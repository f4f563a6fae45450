/**
 * The messages between a VMM thread and a vCPU worker (`VcpuWorker` on the VMM side, `serveVcpuThread`
 * in the worker). Everything large crosses as SharedArrayBuffer-backed views, so both threads see one
 * copy of guest RAM, the dirty bitmaps, `kvm_run` and the vCPU state; the messages only say what to do.
 * Structured-clonable data only: this file is shared by Node worker_threads and browser Web Workers.
 */
import type { LocalApicState } from '@typevisor/devices';
import type { KvmCpuModel } from '../cpu-model.js';
import type { SharedVcpuState } from '../vcpu-state.js';

/** One memslot as the worker rebuilds it: its bytes and dirty bitmap are views of shared buffers. */
export interface SlotImage {
  readonly id: number;
  readonly gpa: number;
  readonly size: number;
  readonly userspaceAddr: number;
  readonly flags: number;
  /** The guest RAM behind the slot, or null when `userspaceAddr` is not mapped (guest access faults). */
  readonly bytes: Uint8Array | null;
  /** KVM_MEM_LOG_DIRTY_PAGES's bitmap words (the VMM harvests the same words), or null. */
  readonly dirtyWords: Uint32Array | null;
  readonly dirtyPages: number;
  /** This vCPU's share of the slot mapping's write log (`WriteConsumer.words`), or null; its pages. */
  readonly writeWords: Int32Array | null;
  readonly writePages: number;
}

/** The VM-wide state a KVM_RUN in the worker reads (the `struct kvm` side stays with the VMM thread). */
export interface VmImage {
  /** kvm_memslots.generation of `slots`; slots are sent only when it changed. */
  readonly generation: number;
  readonly slots: readonly SlotImage[] | null;
  readonly tssAddr: number | null;
  readonly userSpaceMsr: number;
  /** The VM's kvmclock offset and KVM_SET_CLOCK count (RunVm). */
  readonly kvmclockOffset: bigint;
  readonly clockGeneration: number;
}

/** kvm_intel's options and the run slice, as plain data (the worker makes its own clock and TSC). */
export interface WorkerRunOptions {
  readonly ept: boolean;
  readonly unrestrictedGuest: boolean;
  readonly vpid: boolean;
  readonly sliceInstructions: number;
  readonly haltWaitNs: number;
  /** The guest TSC rate in kHz, or null to count retired instructions. */
  readonly tscKhz: number | null;
  /**
   * Store the vCPU state into the shared buffers after every KVM_RUN (a VMM thread that may not block
   * cannot ask for it with FLUSH); else only when asked.
   */
  readonly eagerFlush?: boolean;
}

/**
 * The control buffer: Int32 cells shared by the VMM thread and the vCPU thread. KVM_RUN goes through
 * it, not through messages (a postMessage round trip costs ~170 us; a futex wake a few us):
 *
 *   VMM thread: DOORBELL := RUN, notify ... waits (Atomics.waitAsync / Atomics.wait) while it is RUN
 *   vCPU thread: waits (Atomics.wait) while DOORBELL is IDLE/DONE; on RUN: KVM_RUN, RESULT := r,
 *                DOORBELL := DONE (or FAILED with the error text), notify
 *
 * Messages stay for setup ('init') and for the rare VM changes ('vm': memslots, TSS address, MSR
 * exits), whose sequence number VM_SEQ tells the vCPU thread to go back to its event loop and take
 * the message before running.
 */
/** The pending signal (a kick sets it, KVM_RUN consumes it). */
export const CONTROL_SIGNAL = 0;
/** The doorbell: one of {@link Doorbell}. */
export const CONTROL_DOORBELL = 1;
/** KVM_RUN's return value (0 or a negative errno) once the doorbell says DONE. */
export const CONTROL_RESULT = 2;
/** Non-zero: userspace changed the vCPU state since the last run (VcpuRunnerPort.invalidate). */
export const CONTROL_INVALIDATE = 3;
/** The sequence number of the last 'vm' message; the run waits until the vCPU thread applied it. */
export const CONTROL_VM_SEQ = 4;
/** Bytes of UTF-8 text at {@link CONTROL_ERROR_OFFSET}: the error (FAILED) or the LAPIC state (SAVED). */
export const CONTROL_ERROR_LENGTH = 5;
/**
 * A call from the vCPU thread into the VM's irqchip on the VMM thread (the 8259s, the PIT, the I/O
 * APIC, an EOI or IPI from the vCPU's LAPIC): one of {@link IrqchipCall}, made by setting the doorbell
 * to SERVICE; the VMM thread, waiting on the doorbell for the run's end, does it and sets RUN again.
 */
export const CONTROL_CALL = 6;
/** The call's arguments (8 cells). */
export const CONTROL_CALL_ARGS = 7;
/** The call's result. */
export const CONTROL_CALL_RESULT = 15;
/** Non-zero when the call was handled (a port read of a device that is not there: 0). */
export const CONTROL_CALL_HANDLED = 16;
/**
 * The LAPIC mailbox (a posted-interrupt descriptor): the VMM thread posts deliveries for the vCPU's
 * LAPIC here and sets WAKE (notified: a halted vCPU sleeps on it); the vCPU thread takes them into its
 * LAPIC when it polls its irqchip, after each irqchip call and when it wakes.
 */
export const MAILBOX_WAKE = 17;
/** Fixed / lowest-priority vectors posted (8 cells, 256 bits). */
export const MAILBOX_IRR = 18;
/** Which posted vectors are level-triggered (8 cells). */
export const MAILBOX_LEVEL = 26;
/** {@link MailboxEvent} bits: NMI, INIT, ExtINT messages. */
export const MAILBOX_EVENTS = 34;
/** A start-up IPI's vector + 1, or 0. */
export const MAILBOX_SIPI = 35;
/** The level of the 8259 pair's INT at the LAPIC's LINT0. */
export const MAILBOX_LINT0 = 36;
/** What delivery needs of the LAPIC, published by the vCPU thread when it changes: the APIC ID. */
export const APIC_ID = 37;
/** The logical destination register. */
export const APIC_LDR = 38;
/** The destination format register. */
export const APIC_DFR = 39;
/** {@link ApicFlag} bits. */
export const APIC_FLAGS = 40;
/** IA32_APIC_BASE of the vCPU's LAPIC, low dword (published with the cells above). */
export const APIC_BASE_LO = 41;
/** IA32_APIC_BASE, high dword. */
export const APIC_BASE_HI = 42;
/** A LAPIC request (doorbell LAPIC): one of {@link LapicOp}. */
export const CONTROL_LAPIC_OP = 43;
/** SET_BASE's argument: the new IA32_APIC_BASE, low dword. */
export const CONTROL_LAPIC_ARG_LO = 44;
/** SET_BASE's argument, high dword. */
export const CONTROL_LAPIC_ARG_HI = 45;
/** The LAPIC request's result: 0 or a negative errno. */
export const CONTROL_LAPIC_RESULT = 46;
/** Byte offset of the error text. */
export const CONTROL_ERROR_OFFSET = 256;
/** Room for the text. */
export const CONTROL_ERROR_BYTES = 2048;
/** Byte offset of the LAPIC register page (kvm_lapic_state) of a LAPIC request. */
export const CONTROL_LAPIC_PAGE_OFFSET = CONTROL_ERROR_OFFSET + CONTROL_ERROR_BYTES;
/** KVM_APIC_REG_SIZE: the page's bytes. */
export const CONTROL_LAPIC_PAGE_BYTES = 1024;
/** Int32 cells in the control buffer (the cells, the error text, the LAPIC page). */
export const CONTROL_CELLS = (CONTROL_LAPIC_PAGE_OFFSET + CONTROL_LAPIC_PAGE_BYTES) / 4;

/** The doorbell's states. */
export const Doorbell = {
  /** Nothing asked yet. */
  IDLE: 0,
  /** The VMM thread asks for a KVM_RUN. */
  RUN: 1,
  /** The KVM_RUN returned; RESULT holds its value. */
  DONE: 2,
  /** The vCPU thread failed (bad state, an exception in the run machinery); it runs no more. */
  FAILED: 3,
  /** Inside KVM_RUN, the vCPU thread waits for an irqchip call (CONTROL_CALL) to be done. */
  SERVICE: 4,
  /** The VMM thread asks for the LAPIC's state (the worker is about to end). */
  SAVE: 5,
  /** The LAPIC's state is in the text area as JSON (LocalApicState); empty without a LAPIC. */
  SAVED: 6,
  /** The VMM thread asks for the vCPU state in the shared buffers (an ioctl is about to read them). */
  FLUSH: 7,
  /** The shared buffers hold the vCPU state as the last KVM_RUN left it. */
  FLUSHED: 8,
  /**
   * The VMM thread asks the idle vCPU thread to do a vCPU-fd ioctl on its LAPIC (CONTROL_LAPIC_OP:
   * KVM_GET/SET_LAPIC through the page area, the APIC base of KVM_SET_SREGS).
   */
  LAPIC: 9,
  /** The LAPIC request is done: CONTROL_LAPIC_RESULT holds its result. */
  LAPIC_DONE: 10,
} as const;

/** The LAPIC requests (doorbell LAPIC). */
export const LapicOp = {
  /** KVM_GET_LAPIC: the register page into the page area. */
  GET: 1,
  /** KVM_SET_LAPIC: the LAPIC loads the register page from the page area. */
  SET: 2,
  /** kvm_lapic_set_base() of KVM_SET_SREGS with the base in CONTROL_LAPIC_ARG_LO/HI (-EINVAL: refused). */
  SET_BASE: 3,
} as const;

/** The irqchip calls of a vCPU thread (arguments in CONTROL_CALL_ARGS order). */
export const IrqchipCall = {
  /** (port, size) -> value; unhandled: not an irqchip port. */
  PIO_READ: 1,
  /** (port, size, value); unhandled: not an irqchip port. */
  PIO_WRITE: 2,
  /** (offset, size) -> value. */
  IOAPIC_READ: 3,
  /** (offset, size, value). */
  IOAPIC_WRITE: 4,
  /** (vector): the EOI broadcast of a level-triggered vector. */
  EOI: 5,
  /** (vector, deliveryMode, destMode, assert, trigger, shorthand, destination, source). */
  IPI: 6,
  /** () -> vector: the 8259 pair's INTA cycle for an ExtINT. */
  EXTINT_ACK: 7,
} as const;

export const MailboxEvent = { NMI: 1, INIT: 2, EXTINT: 4 } as const;
export const ApicFlag = { ENABLED: 1, X2APIC: 2, SOFTWARE_ENABLED: 4 } as const;

/** The vCPU's LAPIC, moved into the vCPU thread with the in-kernel irqchip. */
export interface LapicImage {
  readonly state: LocalApicState;
  readonly bsp: boolean;
}

export interface InitMessage {
  readonly type: 'init';
  readonly vcpu: SharedVcpuState;
  /** CONTROL_CELLS Int32 cells: the signal, the doorbell, the run's result (see above). */
  readonly control: SharedArrayBuffer;
  readonly model: KvmCpuModel;
  readonly options: WorkerRunOptions;
  /** The VMM thread's `performance.timeOrigin`: the worker's clock reads the same timeline. */
  readonly timeOrigin: number;
  readonly vm: VmImage;
  /** With the in-kernel irqchip: the vCPU's LAPIC (it lives in the vCPU thread from now on), else null. */
  readonly lapic: LapicImage | null;
}

/** The VM changed (memslots, TSS address, user-space MSR mask): applied before the next KVM_RUN. */
export interface VmMessage {
  readonly type: 'vm';
  /** Stored in CONTROL_VM_SEQ before the doorbell rings. */
  readonly seq: number;
  readonly vm: VmImage;
}

export type ToVcpuThread = InitMessage | VmMessage;

export type FromVcpuThread =
  | { readonly type: 'ready' }
  /** The worker could not do what it was asked (bad state, an exception in the run machinery). */
  | { readonly type: 'error'; readonly message: string };
