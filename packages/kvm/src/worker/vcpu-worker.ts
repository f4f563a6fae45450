/**
 * The VMM-thread side of a vCPU that runs in a worker thread. The VM (fd table, memslots, ioeventfds)
 * stays here; the worker gets the vCPU's shared buffers (kvm_run, registers and the rest of its state),
 * the memslots' RAM and dirty bitmaps (SharedArrayBuffers) and runs KVM_RUN there, so a guest spinning
 * in one vCPU never blocks this thread or another vCPU's worker. `runIoctl()` is KVM_RUN made
 * asynchronous, `runSync()` the blocking KVM_RUN of a synchronous VMM; the exit is in the shared
 * `kvm_run` when it returns, and I/O/MMIO exits are completed by the next run exactly as in-thread.
 * Each KVM_RUN is a doorbell in shared memory (protocol.ts), not a message. `kick()` is the signal that makes a running KVM_RUN return
 * -EINTR (KVM_EXIT_INTR); `immediate_exit` in kvm_run works as in Linux.
 *
 * Transport-neutral: a {@link VcpuWorkerPort} wraps a Node `worker_threads` Worker (see
 * `@typevisor/kvm/node`) or a browser Web Worker whose script calls `serveVcpuThread(self)`.
 */
import { check, KvmError } from '../errors.js';
import { type VcpuExit, decodeExit } from '../exit.js';
import type { LocalApic, LocalApicState } from '@typevisor/devices';
import type { AccessSize } from '@typevisor/memory';
import type { KvmHost } from '../kernel/host.js';
import type { RemoteLapicAccess } from '../kernel/irqchip.js';
import type { VmState } from '../kernel/vm-state.js';
import type { Memslot } from '../memslots.js';
import * as C from '../uapi/constants.js';
import { EBADF, EBUSY, EIO } from '../uapi/errno.js';
import { kvm_run } from '../uapi/structs.js';
import type { VcpuRunnerPort, VcpuState } from '../vcpu-state.js';
import { RemoteLapic } from './remote-lapic.js';
import {
  CONTROL_CELLS,
  CONTROL_DOORBELL,
  CONTROL_ERROR_LENGTH,
  CONTROL_ERROR_OFFSET,
  CONTROL_INVALIDATE,
  CONTROL_LAPIC_ARG_HI,
  CONTROL_LAPIC_ARG_LO,
  CONTROL_LAPIC_OP,
  CONTROL_LAPIC_PAGE_BYTES,
  CONTROL_LAPIC_PAGE_OFFSET,
  CONTROL_LAPIC_RESULT,
  CONTROL_RESULT,
  CONTROL_SIGNAL,
  CONTROL_VM_SEQ,
  CONTROL_CALL,
  CONTROL_CALL_ARGS,
  CONTROL_CALL_HANDLED,
  CONTROL_CALL_RESULT,
  APIC_BASE_HI,
  APIC_BASE_LO,
  APIC_DFR,
  APIC_FLAGS,
  APIC_ID,
  APIC_LDR,
  ApicFlag,
  Doorbell,
  IrqchipCall,
  type LapicImage,
  LapicOp,
  MAILBOX_WAKE,
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

function slotImage(s: Memslot, vcpuId: number): SlotImage {
  const writes = s.writes?.consumer(vcpuId) ?? null;
  return {
    id: s.id,
    gpa: s.gpa,
    size: s.size,
    userspaceAddr: s.userspaceAddr,
    flags: s.flags,
    bytes: s.region?.bytes ?? null,
    dirtyWords: s.dirty?.words ?? null,
    dirtyPages: s.dirty?.pages ?? 0,
    writeWords: writes?.words ?? null,
    writePages: writes?.pages ?? 0,
  };
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

type WaitAsync = (
  typed: Int32Array,
  index: number,
  value: number,
  timeout?: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
/** Atomics.waitAsync where the engine has it (Node 16+, Chrome 87+; Firefox lacks it). */
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
/** A waitAsync that wakes up now and then anyway (the doorbell is re-checked; belt and braces). */
const WAIT_SLICE_MS = 1000;
/** The shortest wait for a timer deadline (a PIT tick due now waits this long). */
const MIN_WAIT_MS = 0.05;
const decoder = new TextDecoder();
/** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
let mayBlock = true;

function canBlock(): boolean {
  if (!mayBlock) return false;
  try {
    // Returns 'not-equal' at once where waiting is allowed, throws where it is not.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
  } catch {
    mayBlock = false;
  }
  return mayBlock;
}
/** How long a state request (FLUSH, SAVE) may take the worker before it counts as gone. */
const STATE_WAIT_MS = 1000;

export class VcpuWorker {
  /** The vCPU mapping (kvm_run at 0, PIO data at 4096): the same shared bytes the worker fills. */
  readonly run: Uint8Array;
  private readonly runView: DataView;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_CELLS * 4));
  /**
   * The runner port's `remote`: whether the worker is inside KVM_RUN, and with the in-kernel irqchip
   * the way the vCPU-fd ioctls reach its LAPIC (KVM_GET/SET_LAPIC, the APIC base of the sregs).
   */
  private readonly state: { running: boolean; lapic: RemoteLapicAccess | null } = {
    running: false,
    lapic: null,
  };
  private readonly proxy: VcpuRunnerPort;
  private stale = false;
  private sentGeneration = -1;
  private sentTssAddr: number | null = null;
  private sentUserSpaceMsr = 0;
  private sentClockGeneration = 0;
  private vmSeq = 0;
  private waiter: Waiter | null = null;
  private failed: Error | null = null;
  /**
   * How long `runIoctl()` may block this thread (Atomics.wait) waiting for the exit before it yields
   * to the event loop and awaits it (Atomics.waitAsync): a quick exit then costs one futex wake instead
   * of a trip through the event loop. 0: never block. Ignored where the thread may not block.
   */
  blockUs = 200;
  /** A KVM_RUN ended since the worker last stored the vCPU state into the shared buffers. */
  private unflushed = false;
  /** With the in-kernel irqchip: the LAPIC this thread had for the vCPU before it moved to the worker. */
  private localLapic: LocalApic | null = null;

  private constructor(
    readonly host: KvmHost,
    readonly fd: number,
    private readonly vm: VmState,
    private readonly vcpu: VcpuState,
    private readonly port: VcpuWorkerPort,
  ) {
    this.run = vcpu.run;
    this.runView = new DataView(vcpu.run.buffer, vcpu.run.byteOffset, vcpu.run.byteLength);
    this.proxy = {
      flush: () => this.flushState(),
      invalidate: () => {
        this.stale = true;
      },
      remote: this.state,
    };
  }

  /**
   * Moves the vCPU behind `vcpufd` into the worker behind `port` and waits for it to be ready. With
   * the in-kernel irqchip its LAPIC moves along (the 8259s, I/O APIC and PIT stay here; see
   * `worker-irqchip.ts`). Throws KvmError EBUSY when the vCPU already ran here (its CPU, MSRs and TSC
   * are in this thread's runner). If the worker cannot start, the promise rejects with its error and
   * the worker is terminated.
   */
  static async attach(host: KvmHost, vcpufd: number, port: VcpuWorkerPort): Promise<VcpuWorker> {
    const vcpu = host.vcpuState(vcpufd);
    const vm = host.vmState(vcpufd);
    if (vcpu === undefined || vm === undefined) {
      await port.terminate();
      throw new KvmError(EBADF, 'VcpuWorker.attach');
    }
    if (vcpu.runner !== null) {
      await port.terminate();
      throw new KvmError(EBUSY, 'VcpuWorker.attach');
    }
    const w = new VcpuWorker(host, vcpufd, vm, vcpu, port);
    await w.start();
    return w;
  }

  private start(): Promise<void> {
    const { host, vcpu } = this;
    const ready = new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
    this.port.listen(
      (reply) => this.onReply(reply),
      (error) => this.fail(error),
    );
    const o = host.runOptions;
    const lapic = this.moveLapic();
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
        eagerFlush: !canBlock(),
      },
      timeOrigin: performance.timeOrigin,
      vm: this.vmImage(true)!,
      lapic,
    });
    vcpu.runner = this.proxy;
    return ready.catch(async (e: unknown) => {
      await this.terminate();
      throw e;
    });
  }

  /**
   * With the in-kernel irqchip: the vCPU's LAPIC leaves this thread's irqchip for the worker, and a
   * mailbox (`RemoteLapic`) stands for it in deliveries. Publishes what delivery needs now, so that
   * interrupts raised before the worker is up are not lost.
   */
  private moveLapic(): LapicImage | null {
    const chip = this.vm.chip;
    if (chip === null) return null;
    const local = chip.lapic(this.vcpu.id);
    if (local === undefined) return null;
    const s = local.getState();
    const c = this.control;
    Atomics.store(c, APIC_ID, local.apicId | 0);
    Atomics.store(c, APIC_LDR, s.ldr | 0);
    Atomics.store(c, APIC_DFR, s.dfr | 0);
    const base = local.readApicBase();
    Atomics.store(c, APIC_BASE_LO, Number(base & 0xffff_ffffn) | 0);
    Atomics.store(c, APIC_BASE_HI, Number(base >> 32n) | 0);
    Atomics.store(
      c,
      APIC_FLAGS,
      (local.enabled ? ApicFlag.ENABLED : 0) |
        (local.x2apicMode ? ApicFlag.X2APIC : 0) |
        (local.softwareEnabled ? ApicFlag.SOFTWARE_ENABLED : 0),
    );
    chip.attachRemoteLapic(this.vcpu.id, new RemoteLapic(c));
    this.localLapic = local;
    this.state.lapic = {
      readApicBase: () =>
        (BigInt(Atomics.load(c, APIC_BASE_HI) >>> 0) << 32n) | BigInt(Atomics.load(c, APIC_BASE_LO) >>> 0),
      writeApicBase: (value) => {
        Atomics.store(c, CONTROL_LAPIC_ARG_LO, Number(value & 0xffff_ffffn) | 0);
        Atomics.store(c, CONTROL_LAPIC_ARG_HI, Number((value >> 32n) & 0xffff_ffffn) | 0);
        return this.lapicRequest(LapicOp.SET_BASE);
      },
      getPage: (out) => {
        const r = this.lapicRequest(LapicOp.GET);
        if (r === 0) out.set(this.lapicPage());
        return r;
      },
      setPage: (page) => {
        this.lapicPage().set(page.subarray(0, CONTROL_LAPIC_PAGE_BYTES));
        return this.lapicRequest(LapicOp.SET);
      },
    };
    // IA32_APIC_BASE.BSP (bit 8) says how the vCPU was created.
    return { state: s, bsp: (local.readApicBase() & 0x100n) !== 0n };
  }

  /** The VM image for the worker, or null when nothing changed since the last one (unless `always`). */
  private vmImage(always: boolean): VmImage | null {
    const { memslots: m, tssAddr, userSpaceMsr, kvmclockOffset, clockGeneration } = this.vm;
    const changed = m.generation !== this.sentGeneration;
    const same =
      tssAddr === this.sentTssAddr &&
      userSpaceMsr === this.sentUserSpaceMsr &&
      clockGeneration === this.sentClockGeneration;
    if (!always && !changed && same) return null;
    this.sentGeneration = m.generation;
    this.sentTssAddr = tssAddr;
    this.sentUserSpaceMsr = userSpaceMsr;
    this.sentClockGeneration = clockGeneration;
    return {
      generation: m.generation,
      slots: changed || always ? m.all().map((s) => slotImage(s, this.vcpu.id)) : null,
      tssAddr,
      userSpaceMsr,
      kvmclockOffset,
      clockGeneration,
    };
  }

  private onReply(reply: FromVcpuThread): void {
    if (reply.type === 'error') {
      this.fail(new Error(`vCPU worker: ${reply.message}`));
      return;
    }
    const w = this.waiter;
    this.waiter = null;
    w?.resolve();
  }

  /** The worker is unusable from now on: the pending call and every later one reject with `error`. */
  private fail(error: Error): void {
    if (this.failed === null) this.failed = error;
    this.state.running = false;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failed);
    // Wakes a runIoctl() waiting on the doorbell: it sees the failure.
    Atomics.notify(this.control, CONTROL_DOORBELL);
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
      if (this.failed !== null) throw this.failed;
      if (this.state.running) return -EBUSY;
      this.ring();
      let r = this.quickWait();
      while (r === null) {
        const ms = this.pollTimers(WAIT_SLICE_MS);
        if (waitAsync !== undefined) {
          const w = waitAsync(this.control, CONTROL_DOORBELL, Doorbell.RUN, ms);
          if (w.async) await w.value;
        } else {
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        r = this.finished();
      }
      if (r !== 0 || !this.takenByIoeventfd()) return r;
    }
  }

  /**
   * KVM_RUN in the worker, blocking this thread (Atomics.wait; allowed on Node's main thread and in
   * workers, not on a browser's main thread) until the exit: for a synchronous VMM loop. Same results
   * as {@link runIoctl}; throws when the worker failed or was terminated. A worker that dies without
   * a word (killed from outside while this thread blocks) is noticed only by `runIoctl()`.
   */
  runSync(): number {
    for (;;) {
      if (this.failed !== null) throw this.failed;
      if (this.state.running) return -EBUSY;
      this.ring();
      let r = this.finished();
      while (r === null) {
        Atomics.wait(this.control, CONTROL_DOORBELL, Doorbell.RUN, this.pollTimers(WAIT_SLICE_MS));
        r = this.finished();
      }
      if (r !== 0 || !this.takenByIoeventfd()) return r;
    }
  }

  /**
   * Blocks up to `blockUs` for an exit that comes quickly (the common I/O exit takes the worker a few
   * microseconds); a futex wake is much cheaper than a waitAsync wake through the event loop. The
   * result, or null when the run goes on (or this thread may not block: a browser's main thread).
   */
  private quickWait(): number | null {
    let r = this.finished();
    if (r !== null || this.blockUs <= 0 || !mayBlock) return r;
    const end = performance.now() + this.blockUs / 1000;
    while (r === null) {
      const left = end - performance.now();
      if (left <= 0) return null;
      try {
        Atomics.wait(this.control, CONTROL_DOORBELL, Doorbell.RUN, left);
      } catch {
        mayBlock = false;
        return null;
      }
      r = this.finished();
    }
    return r;
  }

  /** Rings the doorbell for one KVM_RUN, after posting the VM's changes if there are any. */
  private ring(): void {
    const c = this.control;
    // A worker that failed stays failed: finished() reports it.
    if (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FAILED) return;
    const image = this.vmImage(false);
    if (image !== null) {
      const seq = ++this.vmSeq;
      this.port.postMessage({ type: 'vm', seq, vm: image });
      Atomics.store(c, CONTROL_VM_SEQ, seq);
    }
    Atomics.store(c, CONTROL_INVALIDATE, this.stale ? 1 : 0);
    this.stale = false;
    this.state.running = true;
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.RUN);
    Atomics.notify(c, CONTROL_DOORBELL);
  }

  /** The result of the KVM_RUN in flight, or null while it runs; throws when the worker failed. */
  private finished(): number | null {
    if (this.failed !== null) throw this.failed;
    const c = this.control;
    const v = Atomics.load(c, CONTROL_DOORBELL);
    if (v === Doorbell.RUN) return null;
    if (v === Doorbell.SERVICE) {
      this.serveCall();
      return null;
    }
    if (v === Doorbell.FAILED) {
      const length = Atomics.load(c, CONTROL_ERROR_LENGTH);
      // TextDecoder does not take views of shared memory: copy the bytes out.
      const text = new Uint8Array(c.buffer, CONTROL_ERROR_OFFSET, length).slice();
      const error = new Error(`vCPU worker: ${decoder.decode(text)}`);
      this.fail(error);
      throw this.failed ?? error;
    }
    this.state.running = false;
    this.unflushed = true;
    return Atomics.load(c, CONTROL_RESULT);
  }

  /**
   * VcpuRunnerPort.flush() for the vCPU ioctls of this thread: the worker stores the vCPU state into
   * the shared buffers (FLUSH), this thread blocking until it did (a worker that does not answer
   * within a second leaves them as they are). Nothing to do when no KVM_RUN ended since, or when the
   * worker stores it after every run (a thread that may not block).
   */
  private flushState(): void {
    if (!this.unflushed || this.failed !== null || this.state.running || !mayBlock) return;
    const c = this.control;
    if (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FAILED) return;
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.FLUSH);
    Atomics.notify(c, CONTROL_DOORBELL);
    const deadline = performance.now() + STATE_WAIT_MS;
    while (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FLUSH) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      Atomics.wait(c, CONTROL_DOORBELL, Doorbell.FLUSH, left);
    }
    if (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FLUSHED) this.unflushed = false;
  }

  /**
   * The LAPIC's state from a worker outside KVM_RUN, to carry back into this thread (the vCPU state is
   * flushed too); null when the worker failed, is inside KVM_RUN or does not answer within a second.
   */
  private async savedLapic(): Promise<LocalApicState | null> {
    const c = this.control;
    if (this.failed !== null || this.state.running) return null;
    if (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FAILED) return null;
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.SAVE);
    Atomics.notify(c, CONTROL_DOORBELL);
    const deadline = performance.now() + STATE_WAIT_MS;
    while (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.SAVE) {
      const left = deadline - performance.now();
      if (left <= 0 || this.failed !== null) return null;
      if (waitAsync !== undefined) {
        const w = waitAsync(c, CONTROL_DOORBELL, Doorbell.SAVE, left);
        if (w.async) await w.value;
      } else {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }
    if (Atomics.load(c, CONTROL_DOORBELL) !== Doorbell.SAVED) return null;
    this.unflushed = false;
    const length = Atomics.load(c, CONTROL_ERROR_LENGTH);
    if (length === 0) return null;
    try {
      return JSON.parse(decoder.decode(new Uint8Array(c.buffer, CONTROL_ERROR_OFFSET, length).slice()));
    } catch {
      return null;
    }
  }

  /** The LAPIC register page area of the control buffer. */
  private lapicPage(): Uint8Array {
    return new Uint8Array(this.control.buffer, CONTROL_LAPIC_PAGE_OFFSET, CONTROL_LAPIC_PAGE_BYTES);
  }

  /**
   * A vCPU-fd ioctl on the LAPIC in the worker (doorbell LAPIC), this thread waiting until it is done:
   * its result (0 or a negative errno); -EBUSY inside KVM_RUN, -EIO when the worker failed or does not
   * answer within a second. Where this thread may not block (a browser's main thread) it spins: the
   * worker answers within microseconds when it sleeps on its doorbell.
   */
  private lapicRequest(op: number): number {
    if (this.state.running) return -EBUSY;
    const c = this.control;
    if (this.failed !== null || Atomics.load(c, CONTROL_DOORBELL) === Doorbell.FAILED) return -EIO;
    Atomics.store(c, CONTROL_LAPIC_OP, op);
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.LAPIC);
    Atomics.notify(c, CONTROL_DOORBELL);
    const deadline = performance.now() + STATE_WAIT_MS;
    while (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.LAPIC) {
      const left = deadline - performance.now();
      // Withdrawn unless the worker took it meanwhile.
      if (
        left <= 0 &&
        Atomics.compareExchange(c, CONTROL_DOORBELL, Doorbell.LAPIC, Doorbell.IDLE) === Doorbell.LAPIC
      )
        return -EIO;
      if (mayBlock) Atomics.wait(c, CONTROL_DOORBELL, Doorbell.LAPIC, Math.max(0, left));
    }
    if (Atomics.load(c, CONTROL_DOORBELL) !== Doorbell.LAPIC_DONE) return -EIO;
    return Atomics.load(c, CONTROL_LAPIC_RESULT);
  }

  /** Does the worker's irqchip call (the VM's devices live here), then lets the worker go on. */
  private serveCall(): void {
    const c = this.control;
    const chip = this.vm.chip;
    const a = (i: number): number => Atomics.load(c, CONTROL_CALL_ARGS + i);
    let result = 0;
    let handled = chip !== null;
    if (chip !== null) {
      switch (Atomics.load(c, CONTROL_CALL)) {
        case IrqchipCall.PIO_READ: {
          const v = chip.pioRead(a(0), a(1));
          handled = v !== null;
          result = v ?? 0;
          break;
        }
        case IrqchipCall.PIO_WRITE:
          handled = chip.pioWrite(a(0), a(1), a(2) >>> 0);
          break;
        case IrqchipCall.IOAPIC_READ:
          result = chip.ioapic.read(a(0), a(1) as AccessSize);
          break;
        case IrqchipCall.IOAPIC_WRITE:
          chip.ioapic.write(a(0), a(1) as AccessSize, a(2) >>> 0);
          break;
        case IrqchipCall.EOI:
          chip.eoiBroadcast(a(0));
          break;
        case IrqchipCall.IPI:
          chip.sendIpi({
            vector: a(0),
            deliveryMode: a(1),
            destMode: a(2),
            assert: a(3) !== 0,
            trigger: a(4),
            shorthand: a(5),
            destination: a(6) >>> 0,
            source: a(7) >>> 0,
          });
          break;
        case IrqchipCall.EXTINT_ACK:
          result = chip.pic.acknowledge();
          break;
        default:
          handled = false;
      }
    }
    Atomics.store(c, CONTROL_CALL_RESULT, result | 0);
    Atomics.store(c, CONTROL_CALL_HANDLED, handled ? 1 : 0);
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.RUN);
    Atomics.notify(c, CONTROL_DOORBELL);
  }

  /**
   * Runs the VM's timers that live here (the PIT) while the worker runs; how long until the next is
   * due, in ms, at most `slice`.
   */
  private pollTimers(slice: number): number {
    const pit = this.vm.chip?.pit;
    if (pit === undefined || pit === null) return slice;
    pit.poll();
    const next = pit.nextDeadlineNs();
    if (next === null) return slice;
    const ms = (next - this.vm.ctx.clock.monotonicNs()) / 1e6;
    // Never 0: a wait that returns at once would spin this thread.
    return Math.max(MIN_WAIT_MS, Math.min(slice, ms));
  }

  /** ioeventfd_write() for an OUT exit: true when an ioeventfd took the value. */
  private takenByIoeventfd(): boolean {
    const v = this.runView;
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
    // A halted vCPU sleeping on its mailbox gets up to look.
    Atomics.store(this.control, MAILBOX_WAKE, 1);
    Atomics.notify(this.control, MAILBOX_WAKE);
  }

  /**
   * Stops the worker. A pending `runIoctl()` rejects. The vCPU state is as the last completed KVM_RUN
   * left it, and the vCPU fd runs in this thread again (with a new CPU: MSRs back at reset, the TSC at 0).
   */
  async terminate(): Promise<void> {
    // The vCPU state (and the LAPIC's) as the worker has it: the vCPU fd runs here next.
    const lapic = this.localLapic === null ? null : await this.savedLapic();
    if (this.localLapic === null) this.flushState();
    this.fail(new Error('vCPU worker terminated'));
    if (this.vcpu.runner === this.proxy) this.vcpu.runner = null;
    this.state.lapic = null;
    if (this.localLapic !== null) {
      try {
        if (lapic !== null) this.localLapic.loadState(lapic);
      } catch {
        // A state the LAPIC refuses: it keeps the one it had when the vCPU moved.
      }
      this.vm.chip?.detachRemoteLapic(this.vcpu.id, this.localLapic);
      this.localLapic = null;
    }
    await this.port.terminate();
  }
}
