import { expect, it } from 'vitest';
import { KvmHost } from './kernel/host.js';
import * as C from './uapi/constants.js';
import {
  allocStruct,
  close,
  ioctl,
  KVM_API_VERSION,
  KVM_CHECK_EXTENSION,
  KVM_CAP_USER_MEMORY,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_SREGS,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_EXIT_HLT,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_RUN,
  kvm_run,
  StructView,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_USER_MEMORY_REGION,
  Kvm,
  kvm_regs,
  kvm_segment,
  kvm_sregs,
  kvm_userspace_memory_region,
  mmap,
  O_CLOEXEC,
  O_RDWR,
  open,
} from './index.js';

it('runs the README raw-face example (LWN "Using the KVM API", line by line)', () => {
  const kvm = open('/dev/kvm', O_RDWR | O_CLOEXEC);
  expect(ioctl(kvm, KVM_GET_API_VERSION)).toBe(KVM_API_VERSION);
  expect(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY)).toBe(1);
  const vmfd = ioctl(kvm, KVM_CREATE_VM, 0);

  // mov dx, 0x3f8; add al, bl; add al, '0'; out dx, al; mov al, '\n'; out dx, al; hlt
  const code = [0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, 0x30, 0xee, 0xb0, 0x0a, 0xee, 0xf4];
  const mem = mmap(0x1000);
  mem.bytes.set(code);

  const region = allocStruct(kvm_userspace_memory_region);
  region.set('slot', 0);
  region.set('guest_phys_addr', 0x1000);
  region.set('memory_size', 0x1000);
  region.set('userspace_addr', mem.addr);
  expect(ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, region.bytes)).toBe(0);

  const vcpufd = ioctl(vmfd, KVM_CREATE_VCPU, 0);
  const mmapSize = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE);
  const run = mmap(mmapSize, vcpufd);
  expect(run.bytes.byteLength).toBe(12288);

  const sregs = allocStruct(kvm_sregs);
  expect(ioctl(vcpufd, KVM_GET_SREGS, sregs.bytes)).toBe(0);
  const cs = sregs.sub('cs', kvm_segment);
  cs.set('base', 0);
  cs.set('selector', 0);
  expect(ioctl(vcpufd, KVM_SET_SREGS, sregs.bytes)).toBe(0);

  const regs = allocStruct(kvm_regs);
  regs.set('rip', 0x1000);
  regs.set('rax', 2);
  regs.set('rbx', 2);
  regs.set('rflags', 0x2);
  expect(ioctl(vcpufd, KVM_SET_REGS, regs.bytes)).toBe(0);
  const out: string[] = [];
  for (;;) {
    expect(ioctl(vcpufd, KVM_RUN, 0)).toBe(0);
    const r = new StructView(kvm_run, run.bytes);
    const reason = r.get('exit_reason');
    if (reason === KVM_EXIT_HLT) break;
    expect(reason).toBe(KVM_EXIT_IO);
    if (r.get('io.direction') === KVM_EXIT_IO_OUT && r.get('io.size') === 1 && r.get('io.port') === 0x3f8) {
      out.push(String.fromCharCode(run.bytes[r.get('io.data_offset')]!));
    }
  }
  expect(out.join('')).toBe('4\n');
  for (const fd of [vcpufd, vmfd, kvm]) expect(close(fd)).toBe(0);
});

it('runs the README typed-face example', () => {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  const ram = kvm.host.mmap(0x10000);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0x10000, userspaceAddr: ram.addr });
  const vcpu = vm.createVcpu(0);
  ram.bytes.set([0xf4], 0x7c00); // hlt
  const regs = vcpu.getRegs();
  vcpu.setRegs({ ...regs, rip: 0x7c00n });
  expect(vcpu.getRegs().rip).toBe(0x7c00n);
  const sregs = vcpu.getSregs();
  vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
  expect(vcpu.runGuest()).toEqual({ kind: 'Hlt' });
  expect(vcpu.getRegs().rip).toBe(0x7c01n);
  vcpu.close();
  vm.close();
  kvm.close();
});

it('lists in the README exactly the capabilities KVM_CHECK_EXTENSION advertises', async () => {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const start = text.indexOf('`KVM_CHECK_EXTENSION` answers non-zero for:');
  const end = text.indexOf('Everything else is 0', start);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  const names = [...text.slice(start, end).matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]!);
  const listed = names.filter((n) => n !== 'KVM_CHECK_EXTENSION' && n !== 'KVM_CLOCK_VALID_FLAGS');
  const host = new KvmHost();
  const advertised = [...host.capabilities.keys()].map((cap) =>
    Object.entries(C)
      .find(([k, v]) => k.startsWith('KVM_CAP_') && v === cap)![0]
      .slice('KVM_CAP_'.length),
  );
  expect([...listed].sort()).toEqual([...advertised].sort());
});

it('runs the README kvmclock example: KVM_GET_SUPPORTED_CPUID reports kvmclock with both MSR pairs', () => {
  const kvm = Kvm.open(new KvmHost());
  const leaf = kvm.getSupportedCpuid().find((e) => e.function === 0x4000_0001)!;
  expect((leaf.eax & 1) !== 0 && (leaf.eax & 8) !== 0).toBe(true);
});
