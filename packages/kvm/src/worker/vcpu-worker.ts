/**
 * The VMM-thread side of a vCPU that runs in a worker thread. The VM (fd table, memslots, ioeventfds)
 * stays here; the worker gets the vCPU's shared buffers (kvm_run, registers and the rest of its state),
 * the memslots' RAM and dirty bitmaps (SharedArrayBuffers) and runs KVM_RUN there, so a guest spinning
 * in one vCPU never blocks this thread or another vCPU's worker. `runIoctl()` is KVM_RUN made
 * asynchronous; the exit is in the shared `kvm_run` when it resolves, and I/O/MMIO exits are completed
 * by the next run exactly as in-thread. `kick()` is the signal that makes a running KVM_RUN return
 * -EINTR (KVM_EXIT_INTR); `immediate_exit` in kvm_run works as in Linux.
 *
 * Transport-neutral: a {@link VcpuWorkerPort} wraps a Node `worker_threads` Worker (see
 * `@typevisor/kvm/node`) or a browser Web Worker whose script calls `serveVcpuThread(self)`.
 */
import { check, KvmError } from '../errors.js';
import { type VcpuExit, decodeExit } from '../exit.js';
import type { KvmHost } from '../kernel/host.js';
import type { VmState } from '../kernel/vm-state.js';
import type { Memslot } from '../memslots.js';
import * as C from '../uapi/constants.js';
import { EBADF, EBUSY, ENXIO } from '../uapi/errno.js';
import { kvm_run } from '../uapi/structs.js';
import type { VcpuRunnerPort, VcpuState } from '../vcpu-state.js';
import {
  CONTROL_CELLS,
  CONTROL_SIGNAL,
  type FromVcpuThread,
  type SlotImage,
  type ToVcpuThread,
  type VmImage,
} from './protocol.js';

/** A worker as the VMM thread talks to it. */
export interface VcpuWorkerPort {
  postMessage(message: ToVcpuThread): void;
  /**
   * Installs the handlers (called once): `message` for each reply, `failure` when the worker dies or
   * throws outside the handler (an uncaught error, a failed start, an exit).
   */
  listen(message: (reply: FromVcpuThread) => void, failure: (error: Error) => void): void;
  /** Stops the worker (Worker.terminate()). */
  terminate(): Promise<void>;
}

const RF = kvm_run.fields;
const PIO_OFFSET = C.KVM_PIO_PAGE_OFFSET * 4096;

function slotImage(s: Memslot): SlotImage {
  return {
    id: s.id,
    gpa: s.gpa,
    size: s.size,
    userspaceAddr: s.userspaceAddr,
    flags: s.flags,
    bytes: s.region?.bytes ?? null,
    dirtyWords: s.dirty?.words ?? null,
    dirtyPages: s.dirty?.pages ?? 0,
  };
}

interface Waiter {
  readonly seq: number;
  resolve(result: number): void;
  reject(error: Error): void;
}

export class VcpuWorker {
  /** The vCPU mapping (kvm_run at 0, PIO data at 4096): the same shared bytes the worker fills. */
  readonly run: Uint8Array;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_CELLS * 4));
  private readonly state = { running: false };
  private readonly proxy: VcpuRunnerPort;
  private stale = false;
  private sentGeneration = -1;
  private seq = 0;
  private waiter: Waiter | null = null;
  private failed: Error | null = null;

  private constructor(
    readonly host: KvmHost,
    readonly fd: number,
    private readonly vm: VmState,
    private readonly vcpu: VcpuState,
    private readonly port: VcpuWorkerPort,
  ) {
    this.run = vcpu.run;
    this.proxy = {
      flush: () => {},
      invalidate: () => {
        this.stale = true;
      },
      remote: this.state,
    };
  }

  /**
   * Moves the vCPU behind `vcpufd` into the worker behind `port` and waits for it to be ready. Throws
   * KvmError ENXIO with an in-kernel irqchip (its LAPICs and timers live in this thread) and EBUSY
   * when the vCPU already ran here (its CPU, MSRs and TSC are in this thread's runner). If the worker
   * cannot start, the promise rejects with its error and the worker is terminated.
   */
  static async attach(host: KvmHost, vcpufd: number, port: VcpuWorkerPort): Promise<VcpuWorker> {
    const vcpu = host.vcpuState(vcpufd);
    const vm = host.vmState(vcpufd);
    if (vcpu === undefined || vm === undefined) {
      await port.terminate();
      throw new KvmError(EBADF, 'VcpuWorker.attach');
    }
    if (vm.chip !== null || vcpu.runner !== null) {
      await port.terminate();
      throw new KvmError(vm.chip !== null ? ENXIO : EBUSY, 'VcpuWorker.attach');
    }
    const w = new VcpuWorker(host, vcpufd, vm, vcpu, port);
    await w.start();
    return w;
  }

  private start(): Promise<void> {
    const { host, vcpu } = this;
    const ready = new Promise<void>((resolve, reject) => {
      this.waiter = { seq: -1, resolve: () => resolve(), reject };
    });
    this.port.listen(
      (reply) => this.onReply(reply),
      (error) => this.fail(error),
    );
    const o = host.runOptions;
    this.port.postMessage({
      type: 'init',
      vcpu: vcpu.shared,
      control: this.control.buffer as SharedArrayBuffer,
      model: host.model,
      options: {
        ept: o.ept,
        unrestrictedGuest: o.unrestrictedGuest,
        vpid: o.vpid,
        sliceInstructions: o.sliceInstructions,
        haltWaitNs: o.haltWaitNs,
        tscKhz: o.tsc?.khz ?? null,
      },
      timeOrigin: performance.timeOrigin,
      vm: this.vmImage(),
    });
    vcpu.runner = this.proxy;
    return ready.catch(async (e: unknown) => {
      await this.terminate();
      throw e;
    });
  }

  private vmImage(): VmImage {
    const m = this.vm.memslots;
    const changed = m.generation !== this.sentGeneration;
    this.sentGeneration = m.generation;
    return {
      generation: m.generation,
      slots: changed ? m.all().map(slotImage) : null,
      tssAddr: this.vm.tssAddr,
      userSpaceMsr: this.vm.userSpaceMsr,
    };
  }

  private onReply(reply: FromVcpuThread): void {
    const w = this.waiter;
    if (reply.type === 'error') {
      this.fail(new Error(`vCPU worker: ${reply.message}`));
      return;
    }
    if (w === null) return;
    if (reply.type === 'ready' && w.seq === -1) {
      this.waiter = null;
      w.resolve(0);
    } else if (reply.type === 'exit' && reply.seq === w.seq) {
      this.waiter = null;
      this.state.running = false;
      w.resolve(reply.result);
    }
  }

  /** The worker is unusable from now on: the pending call and every later one reject with `error`. */
  private fail(error: Error): void {
    if (this.failed === null) this.failed = error;
    this.state.running = false;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failed);
  }

  /** Whether the worker is inside KVM_RUN (other ioctls on the vCPU fd are -EBUSY meanwhile). */
  get running(): boolean {
    return this.state.running;
  }

  /**
   * KVM_RUN in the worker: resolves 0 with kvm_run describing the exit, or a negative errno (-EINTR
   * for a kick or immediate_exit, -EBUSY while a KVM_RUN is in flight). An OUT matching one of the
   * VM's ioeventfds is consumed here and the guest resumes, as if the kernel had handled it. Rejects
   * when the worker failed (its error), died or was terminated; never hangs on a dead worker.
   */
  async runIoctl(): Promise<number> {
    for (;;) {
      const r = await this.runOnce();
      if (r !== 0 || !this.takenByIoeventfd()) return r;
    }
  }

  private runOnce(): Promise<number> {
    if (this.failed !== null) return Promise.reject(this.failed);
    if (this.waiter !== null) return Promise.resolve(-EBUSY);
    const seq = ++this.seq;
    const p = new Promise<number>((resolve, reject) => {
      this.waiter = { seq, resolve, reject };
    });
    this.state.running = true;
    this.port.postMessage({ type: 'run', seq, invalidate: this.stale, vm: this.vmImage() });
    this.stale = false;
    return p;
  }

  /** ioeventfd_write() for an OUT exit: true when an ioeventfd took the value. */
  private takenByIoeventfd(): boolean {
    const v = new DataView(this.run.buffer, this.run.byteOffset, this.run.byteLength);
    if (v.getUint32(RF.exit_reason.offset, true) !== C.KVM_EXIT_IO) return false;
    if (v.getUint8(RF['io.direction'].offset) !== C.KVM_EXIT_IO_OUT) return false;
    if (v.getUint32(RF['io.count'].offset, true) !== 1) return false;
    const size = v.getUint8(RF['io.size'].offset);
    const offset = Number(v.getBigUint64(RF['io.data_offset'].offset, true));
    if (offset !== PIO_OFFSET || (size !== 1 && size !== 2 && size !== 4)) return false;
    const value =
      size === 1 ? v.getUint8(offset) : size === 2 ? v.getUint16(offset, true) : v.getUint32(offset, true);
    return this.vm.ioeventfds.write('pio', v.getUint16(RF['io.port'].offset, true), size, value);
  }

  /** KVM_RUN decoded, like `Vcpu.runGuest()`; throws KvmError for a negative errno. */
  async runGuest(): Promise<VcpuExit> {
    check(await this.runIoctl(), 'KVM_RUN');
    return decodeExit(this.run);
  }

  /**
   * A signal to the vCPU's thread: a KVM_RUN in progress returns -EINTR (KVM_EXIT_INTR) at its next
   * VM exit (at most about a million guest instructions later); if none is in progress, the next one
   * returns -EINTR before entering the guest (the signal stays pending until a KVM_RUN takes it).
   */
  kick(): void {
    Atomics.store(this.control, CONTROL_SIGNAL, 1);
  }

  /**
   * Stops the worker. A pending `runIoctl()` rejects. The vCPU state is as the last completed KVM_RUN
   * left it, and the vCPU fd runs in this thread again (with a new CPU: MSRs back at reset, the TSC at 0).
   */
  async terminate(): Promise<void> {
    this.fail(new Error('vCPU worker terminated'));
    if (this.vcpu.runner === this.proxy) this.vcpu.runner = null;
    await this.port.terminate();
  }
}
