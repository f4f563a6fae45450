import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { KvmHost } from './kernel/host.js';
import { KVM_EXIT_HLT } from './uapi/constants.js';
import * as I from './uapi/ioctls.js';
import { allocStruct } from './uapi/layout.js';
import { kvm_regs, kvm_run } from './uapi/structs.js';

describe('vCPU state across threads', () => {
  it('lets a worker thread read and write the registers and kvm_run the VMM thread sees', async () => {
    const host = new KvmHost();
    const vm = host.ioctl(host.open('/dev/kvm'), I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const regs = allocStruct(kvm_regs);
    regs.set('rip', 0x7c00);
    regs.set('rflags', 2);
    host.ioctl(vcpu, I.KVM_SET_REGS, regs.bytes);
    const run = host.mmap(4096, vcpu);

    // Plain JS in the worker: it touches only the shared buffers, as the CPU integration will.
    const worker = new Worker(
      `const { parentPort, workerData: d } = require('node:worker_threads');
       const regs = new DataView(d.shared.state, 0, 144);
       const rip = regs.getUint32(d.rip, true);
       regs.setUint32(d.rip, rip + 12, true);
       new DataView(d.shared.run).setUint32(d.exitReason, d.hlt, true);
       parentPort.postMessage(rip);`,
      {
        eval: true,
        workerData: {
          shared: host.vcpuState(vcpu)!.shared,
          rip: kvm_regs.fields.rip.offset,
          exitReason: kvm_run.fields.exit_reason.offset,
          hlt: KVM_EXIT_HLT,
        },
      },
    );
    const [seen] = await once(worker, 'message');
    await worker.terminate();
    expect(seen).toBe(0x7c00);
    host.ioctl(vcpu, I.KVM_GET_REGS, regs.bytes);
    expect(regs.get('rip')).toBe(0x7c00 + 12);
    expect(new DataView(run.bytes.buffer).getUint32(8, true)).toBe(KVM_EXIT_HLT);
  });
});
