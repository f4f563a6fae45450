/**
 * The messages between a VMM thread and a vCPU worker (`VcpuWorker` on the VMM side, `serveVcpuThread`
 * in the worker). Everything large crosses as SharedArrayBuffer-backed views, so both threads see one
 * copy of guest RAM, the dirty bitmaps, `kvm_run` and the vCPU state; the messages only say what to do.
 * Structured-clonable data only: this file is shared by Node worker_threads and browser Web Workers.
 */
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
}

/** The VM-wide state a KVM_RUN in the worker reads (the `struct kvm` side stays with the VMM thread). */
export interface VmImage {
  /** kvm_memslots.generation of `slots`; slots are sent only when it changed. */
  readonly generation: number;
  readonly slots: readonly SlotImage[] | null;
  readonly tssAddr: number | null;
  readonly userSpaceMsr: number;
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
}

/** Index of the pending-signal cell in the control Int32Array (a kick sets it, KVM_RUN consumes it). */
export const CONTROL_SIGNAL = 0;
/** Int32 cells in the control buffer. */
export const CONTROL_CELLS = 1;

export interface InitMessage {
  readonly type: 'init';
  readonly vcpu: SharedVcpuState;
  /** CONTROL_CELLS Int32 cells: the pending signal. */
  readonly control: SharedArrayBuffer;
  readonly model: KvmCpuModel;
  readonly options: WorkerRunOptions;
  /** The VMM thread's `performance.timeOrigin`: the worker's clock reads the same timeline. */
  readonly timeOrigin: number;
  readonly vm: VmImage;
}

export interface RunMessage {
  readonly type: 'run';
  readonly seq: number;
  /** Userspace changed the vCPU state since the last run (VcpuRunnerPort.invalidate). */
  readonly invalidate: boolean;
  readonly vm: VmImage;
}

export type ToVcpuThread = InitMessage | RunMessage;

export type FromVcpuThread =
  | { readonly type: 'ready' }
  /** KVM_RUN returned `result` (0 with kvm_run filled, or a negative errno); the state buffers are current. */
  | { readonly type: 'exit'; readonly seq: number; readonly result: number }
  /** The worker could not do what it was asked (bad state, an exception in the run machinery). */
  | { readonly type: 'error'; readonly seq: number; readonly message: string };
