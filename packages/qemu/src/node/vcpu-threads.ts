import { startVcpuWorker } from '@typevisor/kvm/node';
import type { StartVcpuThread } from '../machine/vcpu-thread.js';

/**
 * vCPU threads for a VM in Node: each vCPU's KVM_RUN in a `worker_threads` worker of its own (the
 * facade's `VcpuWorker`: guest RAM and `kvm_run` in SharedArrayBuffers, an Atomics doorbell per run).
 */
export function nodeVcpuThreads(): StartVcpuThread {
  return (host, vcpufd) => startVcpuWorker(host, vcpufd);
}
