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
}

/** Performance-clock based default for Node and browsers. */
export const SYSTEM_CLOCK: HostClock = {
  monotonicNs: () => Math.round(performance.now() * 1e6),
  realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n,
};

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
