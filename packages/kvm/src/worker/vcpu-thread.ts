/**
 * The worker side of a vCPU thread: KVM_RUN's machinery (`VcpuRunner`: CPU, VMCS, MMU) rebuilt over
 * the shared buffers the VMM thread sends. Free of Node imports, so a browser Web Worker runs it as is
 * (`serveVcpuThread(self)`). KVM_RUN requests come through the doorbell of the control buffer (see
 * protocol.ts): the thread sleeps in Atomics.wait until one rings, and goes back to its event loop only
 * for messages (setup, VM changes) and now and then while idle.
 *
 * The VM stays with the VMM thread; this side only sees its memslots (the RAM is shared), the real-mode
 * TSS address and the user-space MSR mask, sent with each run when they changed.
 */
import { DirtyBitmap, GuestMemory, WriteConsumer, WriteLog } from '@typevisor/memory';
import { HostTsc, type HostClock } from '../kernel/context.js';
import { readLapicPage, writeLapicPage } from '../kernel/irqchip.js';
import type { Memslot } from '../memslots.js';
import { type RunVm, VcpuRunner } from '../run/runner.js';
import { KVM_MEM_READONLY } from '../uapi/constants.js';
import { EINVAL } from '../uapi/errno.js';
import { VcpuState } from '../vcpu-state.js';
import { WorkerIrqchip } from './worker-irqchip.js';
import {
  CONTROL_CELLS,
  CONTROL_DOORBELL,
  CONTROL_ERROR_BYTES,
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
  CONTROL_VM_SEQ,
  Doorbell,
  LapicOp,
  MAILBOX_WAKE,
  type FromVcpuThread,
  type InitMessage,
  type SlotImage,
  type ToVcpuThread,
  type VmImage,
} from './protocol.js';

/**
 * The system clock on the VMM thread's timeline (a worker's `performance.now()` starts at its own
 * origin). A sleep (a halted vCPU's) ends early when something arrives in the LAPIC mailbox.
 */
function alignedClock(timeOrigin: number, control: Int32Array, woke: () => void): HostClock {
  const shift = performance.timeOrigin - timeOrigin;
  return {
    monotonicNs: () => Math.round((shift + performance.now()) * 1e6),
    realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n,
    sleepNs: (ns) => {
      if (ns > 0) Atomics.wait(control, MAILBOX_WAKE, 0, ns / 1e6);
      woke();
    },
  };
}

/** A DirtyBitmap over words another thread allocated (the class always allocates its own). */
function sharedBitmap(pages: number, words: Uint32Array): DirtyBitmap {
  const b = Object.create(DirtyBitmap.prototype) as { pages: number; words: Uint32Array };
  b.pages = pages;
  b.words = words;
  return b as unknown as DirtyBitmap;
}

function slotOf(s: SlotImage): Memslot {
  const dirty = s.dirtyWords === null ? null : sharedBitmap(s.dirtyPages, s.dirtyWords);
  let region = null;
  if (s.bytes !== null) {
    region = new GuestMemory().addRegion(s.gpa, s.bytes, { readonly: (s.flags & KVM_MEM_READONLY) !== 0 });
    region.dirty = dirty;
  }
  return {
    id: s.id,
    asId: 0,
    gpa: s.gpa,
    size: s.size,
    userspaceAddr: s.userspaceAddr,
    flags: s.flags,
    region,
    dirty,
    // The VMM thread marks the log; this vCPU reads its share of it.
    writes: s.writeWords === null ? null : WriteLog.of(new WriteConsumer(s.writePages, s.writeWords)),
  };
}

/**
 * The VM as a worker's vCPU sees it: with the in-kernel irqchip a `WorkerIrqchip` (this vCPU's LAPIC;
 * the rest on the VMM thread), and no ioeventfds here (the VMM thread matches an OUT against them when
 * the exit arrives).
 */
class WorkerVm implements RunVm {
  readonly memslots = { generation: -1, slots: [] as Memslot[], all: (): readonly Memslot[] => [] };
  readonly ioeventfds = { write: (): boolean => false };
  chip: WorkerIrqchip | null = null;
  tssAddr: number | null = null;
  userSpaceMsr = 0;
  kvmclockOffset = 0n;
  clockGeneration = 0;

  constructor() {
    const m = this.memslots;
    m.all = () => m.slots;
  }

  update(image: VmImage): void {
    if (image.slots !== null) {
      this.memslots.slots = image.slots.map(slotOf).sort((a, b) => a.gpa - b.gpa);
      this.memslots.generation = image.generation;
    }
    this.tssAddr = image.tssAddr;
    this.userSpaceMsr = image.userSpaceMsr;
    this.kvmclockOffset = image.kvmclockOffset;
    this.clockGeneration = image.clockGeneration;
  }
}

class VcpuThread {
  private readonly vm = new WorkerVm();
  private readonly runner: VcpuRunner;
  readonly control: Int32Array;
  /** The sequence number of the last 'vm' message applied. */
  vmSeq = 0;
  private readonly eagerFlush: boolean;
  private readonly clock: HostClock;

  constructor(init: InitMessage) {
    if (!(init.control instanceof SharedArrayBuffer) || init.control.byteLength < CONTROL_CELLS * 4)
      throw new TypeError('the control buffer is not a shared buffer of the control cells');
    const vcpu = VcpuState.fromShared(init.vcpu);
    const control = new Int32Array(init.control, 0, CONTROL_CELLS);
    const clock = alignedClock(init.timeOrigin, control, () => this.vm.chip?.takeMailbox());
    const o = init.options;
    this.vm.update(init.vm);
    if (init.lapic !== null) {
      const nowNs = { nowNs: () => clock.monotonicNs() };
      this.vm.chip = new WorkerIrqchip(nowNs, control, vcpu.id, init.lapic);
    }
    this.runner = new VcpuRunner(this.vm, vcpu, init.model, {
      ept: o.ept,
      unrestrictedGuest: o.unrestrictedGuest,
      vpid: o.vpid,
      sliceInstructions: o.sliceInstructions,
      haltWaitNs: o.haltWaitNs,
      clock,
      tsc: o.tscKhz === null ? null : new HostTsc(clock, o.tscKhz),
    });
    this.control = control;
    this.clock = clock;
    this.runner.signal = control;
    this.eagerFlush = o.eagerFlush === true;
  }

  /** The LAPIC's state as JSON, or '' without the in-kernel irqchip. */
  lapicState(): string {
    const chip = this.vm.chip;
    return chip === null ? '' : JSON.stringify(chip.lapicOfVcpu.getState());
  }

  /**
   * A vCPU-fd ioctl on the LAPIC (doorbell LAPIC, CONTROL_LAPIC_OP), as the in-thread handlers do it
   * on theirs: 0 or a negative errno (-EINVAL without the in-kernel irqchip). The mailbox is taken in
   * first, so the LAPIC holds what was delivered to it before the ioctl, as an in-thread one would.
   */
  lapicRequest(): number {
    const chip = this.vm.chip;
    if (chip === null) return -EINVAL;
    chip.takeMailbox();
    const l = chip.lapicOfVcpu;
    const c = this.control;
    const page = new DataView(c.buffer, CONTROL_LAPIC_PAGE_OFFSET, CONTROL_LAPIC_PAGE_BYTES);
    switch (Atomics.load(c, CONTROL_LAPIC_OP)) {
      case LapicOp.GET:
        writeLapicPage(l, page);
        return 0;
      case LapicOp.SET:
        l.loadState(readLapicPage(l, page, this.clock.monotonicNs()));
        return 0;
      case LapicOp.SET_BASE: {
        const lo = BigInt(Atomics.load(c, CONTROL_LAPIC_ARG_LO) >>> 0);
        const base = (BigInt(Atomics.load(c, CONTROL_LAPIC_ARG_HI) >>> 0) << 32n) | lo;
        return base === l.readApicBase() || l.writeApicBase(base) ? 0 : -EINVAL;
      }
      default:
        return -EINVAL;
    }
  }

  update(seq: number, vm: VmImage): void {
    this.vm.update(vm);
    this.vmSeq = seq;
  }

  run(invalidate: boolean): number {
    if (invalidate) this.runner.invalidate();
    const r = this.runner.runIoctl();
    // The VMM thread's ioctls read the shared buffers while this vCPU is out of KVM_RUN: they ask for
    // them (FLUSH), or get them after every run.
    if (this.eagerFlush) this.runner.flush();
    return r;
  }

  /** The vCPU state into the shared buffers. */
  flush(): void {
    this.runner.flush();
  }
}

/** What one {@link VcpuThreadHandler.serve} call did. */
export type ServeStep =
  /** A request was served (a KVM_RUN ran, the state was flushed or saved); its answer is posted. */
  | 'ran'
  /** No request within the wait: time to let the event loop run. */
  | 'idle'
  /** A request waits for a 'vm' message that has not been handled yet: back to the event loop. */
  | 'message'
  /** Nothing to serve: not initialised, or failed (the doorbell says FAILED). */
  | 'off';

/** The worker side of a vCPU, transport-free: messages in, replies out, and the doorbell. */
export interface VcpuThreadHandler {
  /** 'init' builds the vCPU ('ready'); 'vm' applies a VM change (no reply). Never throws. */
  (message: ToVcpuThread): FromVcpuThread | null;
  /**
   * Serves the doorbell: waits up to `waitMs` for a request and does it: a KVM_RUN (the result and
   * DONE, or the error and FAILED, posted in the control buffer and notified), a FLUSH of the vCPU
   * state into the shared buffers (FLUSHED), a SAVE (flush and the LAPIC state: SAVED), a LAPIC
   * ioctl (LAPIC_DONE). Never throws.
   */
  serve(waitMs: number): ServeStep;
  /** The error of the last failed request, once `serve` returned 'off' after a failure. */
  readonly failure: string | null;
}

const encoder = new TextEncoder();

/** Doorbell states the vCPU thread acts on. */
const isRequest = (v: number): boolean =>
  v === Doorbell.RUN || v === Doorbell.FLUSH || v === Doorbell.SAVE || v === Doorbell.LAPIC;

/** Posts `message` in the text area and `state` in the doorbell, for a VMM thread that waits there. */
function postText(control: Int32Array, message: string, state: number): void {
  const text = new Uint8Array(control.buffer, CONTROL_ERROR_OFFSET, CONTROL_ERROR_BYTES);
  const { read, written } = encoder.encodeInto(message, text);
  // A state that does not fit is no state (an error message is cut short).
  const length = state === Doorbell.SAVED && read < message.length ? 0 : written;
  Atomics.store(control, CONTROL_ERROR_LENGTH, length);
  Atomics.store(control, CONTROL_DOORBELL, state);
  Atomics.notify(control, CONTROL_DOORBELL);
}

const postFailure = (control: Int32Array, message: string): void =>
  postText(control, message, Doorbell.FAILED);

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

/**
 * The handler of a vCPU worker. Never throws: a failure (bad state, a bug in the run machinery) is an
 * 'error' reply or a FAILED doorbell, and the thread stays usable for nothing but further errors.
 */
export function vcpuThreadHandler(): VcpuThreadHandler {
  let thread: VcpuThread | null = null;
  let broken: string | null = null;
  const handle = ((m: ToVcpuThread): FromVcpuThread | null => {
    if (broken !== null) return { type: 'error', message: broken };
    try {
      if (m.type === 'init') {
        if (thread !== null) throw new Error('the vCPU thread is already initialised');
        thread = new VcpuThread(m);
        return { type: 'ready' };
      }
      if (m.type === 'vm') {
        if (thread === null) throw new Error('a VM change before the vCPU thread was initialised');
        thread.update(m.seq, m.vm);
        return null;
      }
      throw new Error(`unknown message ${JSON.stringify((m as { type?: unknown }).type)}`);
    } catch (e) {
      const message = errorText(e);
      // After an exception in the VM's update the run state is unknown: no further runs.
      if (thread !== null) {
        broken = message;
        postFailure(thread.control, message);
      }
      return { type: 'error', message };
    }
  }) as VcpuThreadHandler & { failure: string | null };
  handle.failure = null;
  handle.serve = (waitMs) => {
    const t = thread;
    if (t === null || broken !== null) return 'off';
    const c = t.control;
    let v = Atomics.load(c, CONTROL_DOORBELL);
    if (!isRequest(v)) {
      if (v === Doorbell.FAILED) return 'off';
      Atomics.wait(c, CONTROL_DOORBELL, v, waitMs);
      v = Atomics.load(c, CONTROL_DOORBELL);
      if (!isRequest(v)) return v === Doorbell.FAILED ? 'off' : 'idle';
    }
    if (v === Doorbell.LAPIC) {
      let r: number;
      try {
        r = t.lapicRequest();
      } catch {
        // A page the LAPIC cannot take: refused, the LAPIC as it was (loadState validates first).
        r = -EINVAL;
      }
      Atomics.store(c, CONTROL_LAPIC_RESULT, r);
      Atomics.store(c, CONTROL_DOORBELL, Doorbell.LAPIC_DONE);
      Atomics.notify(c, CONTROL_DOORBELL);
      return 'ran';
    }
    if (v === Doorbell.FLUSH || v === Doorbell.SAVE) {
      try {
        t.flush();
      } catch (e) {
        broken = errorText(e);
        handle.failure = broken;
        postFailure(c, broken);
        return 'off';
      }
      if (v === Doorbell.SAVE) postText(c, t.lapicState(), Doorbell.SAVED);
      else {
        Atomics.store(c, CONTROL_DOORBELL, Doorbell.FLUSHED);
        Atomics.notify(c, CONTROL_DOORBELL);
      }
      return 'ran';
    }
    if (Atomics.load(c, CONTROL_VM_SEQ) !== t.vmSeq) return 'message';
    try {
      const r = t.run(Atomics.load(c, CONTROL_INVALIDATE) !== 0);
      Atomics.store(c, CONTROL_RESULT, r);
      Atomics.store(c, CONTROL_DOORBELL, Doorbell.DONE);
      Atomics.notify(c, CONTROL_DOORBELL);
      return 'ran';
    } catch (e) {
      // After an exception in KVM_RUN the CPU state is unknown: no further runs.
      broken = errorText(e);
      handle.failure = broken;
      postFailure(c, broken);
      return 'off';
    }
  };
  return handle;
}

/** What a worker global scope or a Node MessagePort offers for receiving and replying. */
export interface VcpuThreadScope {
  postMessage(message: FromVcpuThread): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** How long an idle vCPU thread sleeps on its doorbell before it lets its event loop run. */
const IDLE_WAIT_MS = 50;

/** Serves a vCPU on `scope`: `self` in a Web Worker, `parentPort` in a Node worker. */
export function serveVcpuThread(scope: VcpuThreadScope): void {
  const handle = vcpuThreadHandler();
  let later = false;
  let reported = false;
  const loop = (): void => {
    for (;;) {
      const step = handle.serve(IDLE_WAIT_MS);
      if (step === 'ran') continue;
      if (step === 'idle' && !later) {
        later = true;
        setTimeout(() => {
          later = false;
          loop();
        }, 0);
      }
      if (step === 'off' && handle.failure !== null && !reported) {
        reported = true;
        scope.postMessage({ type: 'error', message: handle.failure });
      }
      // 'message' and 'off': the next message brings the loop back.
      return;
    }
  };
  scope.addEventListener('message', (event) => {
    const reply = handle(event.data as ToVcpuThread);
    if (reply !== null) scope.postMessage(reply);
    loop();
  });
}
