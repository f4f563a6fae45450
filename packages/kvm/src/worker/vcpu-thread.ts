/**
 * The worker side of a vCPU thread: KVM_RUN's machinery (`VcpuRunner`: CPU, VMCS, MMU) rebuilt over
 * the shared buffers the VMM thread sends. Free of Node imports, so a browser Web Worker runs it as is:
 *
 *   self.onmessage = (e) => self.postMessage(handle(e.data));   // const handle = vcpuThreadHandler();
 *
 * The VM stays with the VMM thread; this side only sees its memslots (the RAM is shared), the real-mode
 * TSS address and the user-space MSR mask, sent with each run when they changed.
 */
import { DirtyBitmap, GuestMemory } from '@typevisor/memory';
import { HostTsc, type HostClock } from '../kernel/context.js';
import type { Memslot } from '../memslots.js';
import { type RunVm, VcpuRunner } from '../run/runner.js';
import { KVM_MEM_READONLY } from '../uapi/constants.js';
import { VcpuState } from '../vcpu-state.js';
import {
  CONTROL_CELLS,
  type FromVcpuThread,
  type InitMessage,
  type SlotImage,
  type ToVcpuThread,
  type VmImage,
} from './protocol.js';

/** The system clock on the VMM thread's timeline (a worker's `performance.now()` starts at its own origin). */
function alignedClock(timeOrigin: number): HostClock {
  const shift = performance.timeOrigin - timeOrigin;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return {
    monotonicNs: () => Math.round((shift + performance.now()) * 1e6),
    realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n,
    sleepNs: (ns) => {
      if (ns > 0) Atomics.wait(cell, 0, 0, ns / 1e6);
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
  };
}

/**
 * The VM as a worker's vCPU sees it: no in-kernel irqchip (refused when the worker starts) and no
 * ioeventfds here (the VMM thread matches an OUT against them when the exit arrives).
 */
class WorkerVm implements RunVm {
  readonly memslots = { generation: -1, slots: [] as Memslot[], all: (): readonly Memslot[] => [] };
  readonly ioeventfds = { write: (): boolean => false };
  readonly chip = null;
  tssAddr: number | null = null;
  userSpaceMsr = 0;

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
  }
}

class VcpuThread {
  private readonly vm = new WorkerVm();
  private readonly runner: VcpuRunner;

  constructor(init: InitMessage) {
    if (!(init.control instanceof SharedArrayBuffer) || init.control.byteLength < CONTROL_CELLS * 4)
      throw new TypeError('the control buffer is not a shared buffer of the control cells');
    const vcpu = VcpuState.fromShared(init.vcpu);
    const clock = alignedClock(init.timeOrigin);
    const o = init.options;
    this.vm.update(init.vm);
    this.runner = new VcpuRunner(this.vm, vcpu, init.model, {
      ept: o.ept,
      unrestrictedGuest: o.unrestrictedGuest,
      vpid: o.vpid,
      sliceInstructions: o.sliceInstructions,
      haltWaitNs: o.haltWaitNs,
      clock,
      tsc: o.tscKhz === null ? null : new HostTsc(clock, o.tscKhz),
    });
    this.runner.signal = new Int32Array(init.control, 0, CONTROL_CELLS);
  }

  run(vm: VmImage, invalidate: boolean): number {
    this.vm.update(vm);
    if (invalidate) this.runner.invalidate();
    const r = this.runner.runIoctl();
    // The VMM thread's ioctls read the shared buffers while this vCPU is out of KVM_RUN.
    this.runner.flush();
    return r;
  }
}

/**
 * The message handler of a vCPU worker: 'init' builds the vCPU ('ready'), each 'run' is one KVM_RUN
 * ('exit' with its result). Never throws: a failure (bad state, a bug in the run machinery) is an
 * 'error' reply, and the thread stays usable for nothing but further 'error' replies.
 */
export function vcpuThreadHandler(): (message: ToVcpuThread) => FromVcpuThread {
  let thread: VcpuThread | null = null;
  let broken: string | null = null;
  return (m) => {
    const seq = m.type === 'run' ? m.seq : -1;
    if (broken !== null) return { type: 'error', seq, message: broken };
    try {
      if (m.type === 'init') {
        if (thread !== null) throw new Error('the vCPU thread is already initialised');
        thread = new VcpuThread(m);
        return { type: 'ready' };
      }
      if (m.type === 'run') {
        if (thread === null) throw new Error('KVM_RUN before the vCPU thread was initialised');
        return { type: 'exit', seq, result: thread.run(m.vm, m.invalidate) };
      }
      throw new Error(`unknown message ${JSON.stringify((m as { type?: unknown }).type)}`);
    } catch (e) {
      const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      // After an exception in KVM_RUN the CPU state is unknown: no further runs.
      if (thread !== null) broken = message;
      return { type: 'error', seq, message };
    }
  };
}

/** What a worker global scope or a Node MessagePort offers for receiving and replying. */
export interface VcpuThreadScope {
  postMessage(message: FromVcpuThread): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/** Serves a vCPU on `scope`: `self` in a Web Worker, `parentPort` in a Node worker. */
export function serveVcpuThread(scope: VcpuThreadScope): void {
  const handle = vcpuThreadHandler();
  scope.addEventListener('message', (event) => scope.postMessage(handle(event.data as ToVcpuThread)));
}
