import type { HostAddressSpace } from '@typevisor/memory';
import type { KvmCpuModel } from '../cpu-model.js';
import type { EventFd } from '../eventfd.js';
import type { VcpuState } from '../vcpu-state.js';
import type { KvmLimits } from './capabilities.js';

/** The clocks of the host the VMs run on: the only place the facade reads time. */
export interface HostClock {
  /** A monotonic clock in nanoseconds (CLOCK_MONOTONIC_RAW for kvmclock). */
  monotonicNs(): number;
  /** Wall-clock time in nanoseconds since the Unix epoch (CLOCK_REALTIME); exceeds 2^53, hence bigint. */
  realtimeNs(): bigint;
  /**
   * Blocks the calling thread for `ns` (a halted vCPU waiting for its timer). Without it a halted vCPU's
   * KVM_RUN returns -EINTR at once instead of waiting. A test clock advances its own time here.
   */
  sleepNs?(ns: number): void;
}

const sleepCell = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Performance-clock based default for Node and browsers. */
export const SYSTEM_CLOCK: HostClock = {
  monotonicNs: () => Math.round(performance.now() * 1e6),
  realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n,
  // Atomics.wait on a cell nobody notifies: a real sleep (Node and workers; browser main threads throw).
  sleepNs: (ns) => {
    if (sleepCell !== null && ns > 0) Atomics.wait(sleepCell, 0, 0, ns / 1e6);
  },
};

/**
 * The guest TSC as KVM gives it on a host with a constant, invariant TSC: `khz` ticks per millisecond of
 * the host's monotonic clock. Guest timers (PIT, HPET, LAPIC) run on the same clock, so the guest's TSC
 * calibration agrees with them however fast the software CPU happens to run.
 */
export class HostTsc {
  private last = 0;
  constructor(
    private readonly clock: HostClock,
    readonly khz: number,
  ) {}

  ticks(): number {
    const t = Math.floor((this.clock.monotonicNs() * this.khz) / 1e6);
    // Never backwards, even if the clock source is coarse or adjusted.
    if (t > this.last) this.last = t;
    return this.last;
  }
}

/** What one open file is; `V` is the VM state type (kept generic so this file imports no VM code). */
export type FdEntry<V> =
  | { readonly kind: 'system' }
  | { readonly kind: 'vm'; readonly vm: V }
  | { readonly kind: 'vcpu'; readonly vm: V; readonly vcpu: VcpuState }
  | { readonly kind: 'eventfd'; readonly eventfd: EventFd };

/** The services of the "kernel" that ioctl handlers use. */
export interface KernelContext<V> {
  readonly addressSpace: HostAddressSpace;
  readonly model: KvmCpuModel;
  readonly limits: KvmLimits;
  readonly capabilities: ReadonlyMap<number, number>;
  readonly clock: HostClock;
  /** Installs `entry` at the lowest free fd; the fd or -EMFILE. */
  allocFd(entry: FdEntry<V>): number;
  /** eventfd_ctx_fdget(): the eventfd open at `fd`, or -EBADF (not open) / -EINVAL (not an eventfd). */
  eventfdOf(fd: number): EventFd | number;
}
