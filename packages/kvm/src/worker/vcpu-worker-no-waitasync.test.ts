/** `runIoctl()` on an engine without Atomics.waitAsync (Firefox): it polls the doorbell instead. */
import { afterAll, describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import { kvm_regs, kvm_run, kvm_segment, kvm_sregs, kvm_userspace_memory_region } from '../uapi/structs.js';

const atomics = Atomics as unknown as { waitAsync?: unknown };
const saved = atomics.waitAsync;
afterAll(() => {
  atomics.waitAsync = saved;
});

describe('a vCPU worker where Atomics.waitAsync is missing', () => {
  it('still completes KVM_RUN round trips (the LWN guest: IO, IO, HLT) without blocking this thread', async () => {
    delete atomics.waitAsync;
    // Loaded after the deletion: the module looks for waitAsync once.
    const { startVcpuWorker } = await import('../node/index.js');
    const host = new KvmHost();
    const kvm = host.open('/dev/kvm');
    const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const mem = host.mmap(0x1000);
    mem.bytes.set([0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4]);
    const region = allocStruct(kvm_userspace_memory_region);
    region.set('guest_phys_addr', 0x1000);
    region.set('memory_size', 0x1000);
    region.set('userspace_addr', mem.addr);
    expect(host.ioctl(vmfd, I.KVM_SET_USER_MEMORY_REGION, region.bytes)).toBe(0);
    const vcpufd = host.ioctl(vmfd, I.KVM_CREATE_VCPU, 0);
    const sregs = allocStruct(kvm_sregs);
    host.ioctl(vcpufd, I.KVM_GET_SREGS, sregs.bytes);
    sregs.sub('cs', kvm_segment).set('base', 0);
    sregs.sub('cs', kvm_segment).set('selector', 0);
    host.ioctl(vcpufd, I.KVM_SET_SREGS, sregs.bytes);
    const regs = allocStruct(kvm_regs);
    regs.set('rip', 0x1000);
    regs.set('rax', 2);
    regs.set('rbx', 2);
    regs.set('rflags', 2);
    host.ioctl(vcpufd, I.KVM_SET_REGS, regs.bytes);
    const run = new StructView(kvm_run, host.mmap(3 * 4096, vcpufd).bytes);
    const w = await startVcpuWorker(host, vcpufd);
    try {
      w.blockUs = 0; // never block: only the fallback waits
      const exits: number[] = [];
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      for (let i = 0; i < 3; i++) {
        expect(await w.runIoctl()).toBe(0);
        exits.push(run.get('exit_reason'));
      }
      clearInterval(timer);
      expect(exits).toEqual([C.KVM_EXIT_IO, C.KVM_EXIT_IO, C.KVM_EXIT_HLT]);
      // The event loop kept turning while the worker ran (a timer fired in between).
      expect(ticks).toBeGreaterThan(0);
    } finally {
      await w.terminate();
    }
  }, 60_000);
});
