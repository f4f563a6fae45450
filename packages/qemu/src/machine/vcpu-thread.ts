/**
 * A vCPU whose KVM_RUN executes on a host thread of its own (a worker thread with the facade's vCPU,
 * see `@typevisor/kvm`'s `VcpuWorker`), while this VMM thread keeps the devices. The VMM drives it
 * synchronously, as QEMU's vCPU threads hold the big lock around exit handling: it rings the vCPU's
 * doorbell and waits for the exit, so monitor commands, resets and device callbacks never run while a
 * KVM_RUN is in flight.
 */
import type { KvmHost } from '@typevisor/kvm';

export interface VcpuThread {
  /** KVM_RUN on the vCPU's thread; returns its result with the exit in the shared `kvm_run`. */
  runSync(): number;
  /** Stops the thread (the VM is over). */
  terminate(): Promise<void>;
}

/**
 * Starts vCPU `vcpufd`'s thread (a host that offers threads: `nodeVcpuThreads()` in Node). Must be
 * called before the vCPU's first KVM_RUN.
 */
export type StartVcpuThread = (host: KvmHost, vcpufd: number) => Promise<VcpuThread>;
