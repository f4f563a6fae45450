import { describe, expect, it } from 'vitest';
import { KvmHost } from '../kernel/host.js';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import { kvm_regs, kvm_run, kvm_segment, kvm_sregs, kvm_userspace_memory_region } from '../uapi/structs.js';

/** LWN "Using the KVM API": mov dx,0x3f8; add al,bl; add al,'0'; out dx,al; mov al,'\n'; out dx,al; hlt. */
const CODE = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4];

for (const ept of [true, false]) {
  describe(`the LWN example (ept ${ept ? 'on' : 'off'})`, () => {
    it('writes "4\\n" to port 0x3f8 and halts, exit by exit as the article describes', () => {
      const host = new KvmHost({ vmx: { ept } });
      const kvm = host.open('/dev/kvm');
      expect(host.ioctl(kvm, I.KVM_GET_API_VERSION)).toBe(12);
      const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
      const mem = host.mmap(0x1000);
      mem.bytes.set(CODE);
      const region = allocStruct(kvm_userspace_memory_region);
      region.set('slot', 0);
      region.set('guest_phys_addr', 0x1000);
      region.set('memory_size', 0x1000);
      region.set('userspace_addr', mem.addr);
      expect(host.ioctl(vmfd, I.KVM_SET_USER_MEMORY_REGION, region.bytes)).toBe(0);
      const vcpufd = host.ioctl(vmfd, I.KVM_CREATE_VCPU, 0);
      const mmapSize = host.ioctl(kvm, I.KVM_GET_VCPU_MMAP_SIZE);
      const runMap = host.mmap(mmapSize, vcpufd);
      const run = new StructView(kvm_run, runMap.bytes);

      const sregs = allocStruct(kvm_sregs);
      expect(host.ioctl(vcpufd, I.KVM_GET_SREGS, sregs.bytes)).toBe(0);
      sregs.sub('cs', kvm_segment).set('base', 0);
      sregs.sub('cs', kvm_segment).set('selector', 0);
      expect(host.ioctl(vcpufd, I.KVM_SET_SREGS, sregs.bytes)).toBe(0);
      const regs = allocStruct(kvm_regs);
      regs.set('rip', 0x1000);
      regs.set('rax', 2);
      regs.set('rbx', 2);
      regs.set('rflags', 0x2);
      expect(host.ioctl(vcpufd, I.KVM_SET_REGS, regs.bytes)).toBe(0);

      const out: string[] = [];
      const exits: number[] = [];
      for (;;) {
        expect(host.ioctl(vcpufd, I.KVM_RUN, 0)).toBe(0);
        const reason = run.get('exit_reason');
        exits.push(reason);
        if (reason === C.KVM_EXIT_HLT) break;
        expect(reason).toBe(C.KVM_EXIT_IO);
        expect(run.get('io.direction')).toBe(C.KVM_EXIT_IO_OUT);
        expect(run.get('io.size')).toBe(1);
        expect(run.get('io.port')).toBe(0x3f8);
        expect(run.get('io.count')).toBe(1);
        out.push(String.fromCharCode(runMap.bytes[run.get('io.data_offset')]!));
        expect(exits.length).toBeLessThan(3);
      }
      expect(exits).toEqual([C.KVM_EXIT_IO, C.KVM_EXIT_IO, C.KVM_EXIT_HLT]);
      expect(out.join('')).toBe('4\n');
      expect(host.ioctl(vcpufd, I.KVM_GET_REGS, regs.bytes)).toBe(0);
      expect(regs.get('rip')).toBe(0x100c);
      expect(regs.get('rax')).toBe(0x0a);
      expect(regs.get('rdx')).toBe(0x3f8);
    });
  });
}

describe('the typed face', () => {
  it('runs the LWN guest with vcpu.runGuest() returning decoded exits', async () => {
    const { Kvm } = await import('../kvm.js');
    const kvm = Kvm.open(new KvmHost());
    const vm = kvm.createVm();
    const ram = kvm.host.mmap(0x1000);
    ram.bytes.set(CODE);
    vm.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0x1000n,
      memorySize: 0x1000n,
      userspaceAddr: BigInt(ram.addr),
    });
    const vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSregs();
    sregs.cs.base = 0n;
    sregs.cs.selector = 0;
    vcpu.setSregs(sregs);
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rax: 2n, rbx: 2n, rflags: 2n });
    const seen: string[] = [];
    for (;;) {
      const exit = vcpu.runGuest();
      if (exit.kind === 'Hlt') break;
      if (exit.kind !== 'IoOut') throw new Error(`unexpected exit ${exit.kind}`);
      expect(exit.port).toBe(0x3f8);
      seen.push(String.fromCharCode(exit.data[0]!));
    }
    expect(seen.join('')).toBe('4\n');
  });
});
