/** The raw face's fd table and errno behaviour, and the system ioctls. */
import { beforeEach, describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { E2BIG, EBADF, EFAULT, EINVAL, EMFILE, ENODEV, ENOENT, ENOTTY } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { KVM_VCPU_MMAP_SIZE } from '../vcpu-state.js';
import { FD_LIMIT, KvmHost } from './host.js';

let host: KvmHost;
let kvm: number;

beforeEach(() => {
  host = new KvmHost();
  kvm = host.open('/dev/kvm');
});

describe('file descriptors', () => {
  it('hands out the lowest free fd from 3, as a fresh process does', () => {
    expect(kvm).toBe(3);
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const e = host.eventfd();
    expect([vm, e]).toEqual([4, 5]);
    expect(host.close(vm)).toBe(0);
    expect(host.eventfd()).toBe(4);
  });

  it('fails open of any other path with ENOENT', () => {
    expect(host.open('/dev/kvm0')).toBe(-ENOENT);
    expect(host.open('')).toBe(-ENOENT);
  });

  it('fails with EBADF on a closed or never-opened fd', () => {
    expect(host.close(kvm)).toBe(0);
    expect(host.close(kvm)).toBe(-EBADF);
    expect(host.ioctl(kvm, I.KVM_GET_API_VERSION)).toBe(-EBADF);
    expect(host.ioctl(-1, I.KVM_GET_API_VERSION)).toBe(-EBADF);
    expect(host.ioctl(1.5, I.KVM_GET_API_VERSION)).toBe(-EBADF);
  });

  it('runs out of fds with EMFILE at RLIMIT_NOFILE', () => {
    for (let i = 4; i < FD_LIMIT; i++) expect(host.open('/dev/kvm')).toBe(i);
    expect(host.open('/dev/kvm')).toBe(-EMFILE);
    expect(host.ioctl(kvm, I.KVM_CREATE_VM, 0)).toBe(-EMFILE);
  });

  it('keeps a VM alive through its vCPU fd after the VM fd is closed', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.close(vm)).toBe(0);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS, new Uint8Array(144))).toBe(0);
  });
});

describe('unknown and misdirected requests', () => {
  it('answers an unknown request per file type: /dev/kvm EINVAL, VM ENOTTY, vCPU EINVAL, eventfd ENOTTY', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const efd = host.eventfd();
    expect(host.ioctl(kvm, 0xdeadbeef)).toBe(-EINVAL);
    expect(host.ioctl(vm, 0xdeadbeef)).toBe(-ENOTTY);
    expect(host.ioctl(vcpu, 0xdeadbeef)).toBe(-EINVAL);
    expect(host.ioctl(efd, I.KVM_GET_API_VERSION)).toBe(-ENOTTY);
  });

  it('answers a VM request on /dev/kvm with EINVAL and a system request on a VM with ENOTTY', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    expect(host.ioctl(kvm, I.KVM_CREATE_VCPU, 0)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_GET_API_VERSION)).toBe(-ENOTTY);
    expect(host.ioctl(vm, I.KVM_CREATE_VM, 0)).toBe(-ENOTTY);
  });

  it('accepts the request number as a signed 32-bit value too (C int promotion)', () => {
    expect(host.ioctl(kvm, I.KVM_GET_API_VERSION | 0)).toBe(12);
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(I.KVM_GET_REGS | 0).toBeLessThan(0);
    expect(host.ioctl(vcpu, I.KVM_GET_REGS | 0, new Uint8Array(144))).toBe(0);
  });

  it('refuses KVM_RUN with a non-zero argument (EINVAL)', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.ioctl(vcpu, I.KVM_RUN, 1)).toBe(-EINVAL);
  });

  it('runs a vCPU without memory into KVM_EXIT_INTERNAL_ERROR (instruction fetch from MMIO)', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const run = host.mmap(4096, vcpu).bytes;
    expect(host.ioctl(vcpu, I.KVM_RUN, 0)).toBe(0);
    const v = new DataView(run.buffer, run.byteOffset);
    expect(v.getUint32(8, true)).toBe(C.KVM_EXIT_INTERNAL_ERROR);
    expect(v.getUint32(32, true)).toBe(C.KVM_INTERNAL_ERROR_EMULATION);
  });
});

describe('system ioctls', () => {
  it('reports API version 12 and refuses a non-zero argument', () => {
    expect(host.ioctl(kvm, I.KVM_GET_API_VERSION)).toBe(C.KVM_API_VERSION);
    expect(host.ioctl(kvm, I.KVM_GET_API_VERSION, 0)).toBe(12);
    expect(host.ioctl(kvm, I.KVM_GET_API_VERSION, 1)).toBe(-EINVAL);
  });

  it('creates VMs of the default type only', () => {
    expect(host.ioctl(kvm, I.KVM_CREATE_VM, 0)).toBeGreaterThan(kvm);
    expect(host.ioctl(kvm, I.KVM_CREATE_VM)).toBeGreaterThan(kvm);
    expect(host.ioctl(kvm, I.KVM_CREATE_VM, C.KVM_X86_SW_PROTECTED_VM)).toBe(-EINVAL);
    expect(host.ioctl(kvm, I.KVM_CREATE_VM, new Uint8Array(4))).toBe(-EINVAL);
  });

  it('sizes the vCPU mapping as kvm_run + PIO page + coalesced MMIO page', () => {
    expect(host.ioctl(kvm, I.KVM_GET_VCPU_MMAP_SIZE)).toBe(3 * 4096);
    expect(host.ioctl(kvm, I.KVM_GET_VCPU_MMAP_SIZE, 5)).toBe(-EINVAL);
  });

  it('advertises exactly the capabilities that work, on /dev/kvm and on a VM', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    for (const fd of [kvm, vm]) {
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_USER_MEMORY)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_NR_MEMSLOTS)).toBe(32764);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_MAX_VCPUS)).toBe(255);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_READONLY_MEM)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_IOEVENTFD)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_ADJUST_CLOCK)).toBe(C.KVM_CLOCK_VALID_FLAGS);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_IRQCHIP)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_IRQ_ROUTING)).toBe(4096);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_PIT2)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_X86_USER_SPACE_MSR)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_XSAVE)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_XCRS)).toBe(1);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_DEBUGREGS)).toBe(1);
      // KVM_CAP_XSAVE2: the size of the KVM_GET_XSAVE2 buffer, never below struct kvm_xsave.
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, C.KVM_CAP_XSAVE2)).toBe(4096);
      // Not yet: they need ioctls or features that do not exist yet.
      for (const cap of [
        C.KVM_CAP_HLT,
        C.KVM_CAP_SPLIT_IRQCHIP,
        C.KVM_CAP_PIT,
        C.KVM_CAP_X86_MSR_FILTER,
        C.KVM_CAP_GET_MSR_FEATURES,
        C.KVM_CAP_EXCEPTION_PAYLOAD,
        C.KVM_CAP_X86_TRIPLE_FAULT_EVENT,
        C.KVM_CAP_X86_SMM,
        C.KVM_CAP_ENABLE_CAP,
        C.KVM_CAP_MULTI_ADDRESS_SPACE,
        C.KVM_CAP_COALESCED_MMIO,
        C.KVM_CAP_USER_MEMORY2,
        C.KVM_CAP_INTERNAL_ERROR_DATA,
      ]) {
        expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, cap)).toBe(0);
      }
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, -1)).toBe(0);
      expect(host.ioctl(fd, I.KVM_CHECK_EXTENSION, 1e9)).toBe(0);
    }
  });

  it('lists MSR indices after an E2BIG probe that reports the count', () => {
    const probe = new Uint8Array(4);
    expect(host.ioctl(kvm, I.KVM_GET_MSR_INDEX_LIST, probe)).toBe(-E2BIG);
    const n = new DataView(probe.buffer).getUint32(0, true);
    expect(n).toBe(host.model.msrIndices.length);
    const list = new Uint8Array(4 + 4 * n);
    new DataView(list.buffer).setUint32(0, n, true);
    expect(host.ioctl(kvm, I.KVM_GET_MSR_INDEX_LIST, list)).toBe(0);
    const v = new DataView(list.buffer);
    expect(Array.from({ length: n }, (_, i) => v.getUint32(4 + 4 * i, true))).toContain(0x1b);
    const short = new Uint8Array(4 + 4 * n - 1);
    new DataView(short.buffer).setUint32(0, n, true);
    expect(host.ioctl(kvm, I.KVM_GET_MSR_INDEX_LIST, short)).toBe(-EFAULT);
    expect(host.ioctl(kvm, I.KVM_GET_MSR_INDEX_LIST, new Uint8Array(3))).toBe(-EFAULT);
  });

  it('returns the supported CPUID leaves, or E2BIG leaving nent alone when they do not fit', () => {
    const n = host.model.cpuid.length;
    const buf = (nent: number, entries = nent) => {
      const b = new Uint8Array(8 + 40 * entries);
      new DataView(b.buffer).setUint32(0, nent, true);
      return b;
    };
    const zero = buf(0);
    expect(host.ioctl(kvm, I.KVM_GET_SUPPORTED_CPUID, zero)).toBe(-E2BIG);
    const small = buf(n - 1);
    expect(host.ioctl(kvm, I.KVM_GET_SUPPORTED_CPUID, small)).toBe(-E2BIG);
    expect(new DataView(small.buffer).getUint32(0, true)).toBe(n - 1);
    expect(host.ioctl(kvm, I.KVM_GET_SUPPORTED_CPUID, buf(n, n - 1))).toBe(-EFAULT);
    const ok = buf(1000, n);
    expect(host.ioctl(kvm, I.KVM_GET_SUPPORTED_CPUID, ok)).toBe(0);
    const v = new DataView(ok.buffer);
    expect(v.getUint32(0, true)).toBe(n);
    // Leaf 0: max basic leaf in EAX, "GenuineIntel" in EBX, EDX, ECX.
    const vendor = String.fromCharCode(
      ...[16, 24, 20].flatMap((o) => [0, 1, 2, 3].map((i) => ok[8 + o + i]!)),
    );
    expect(vendor).toBe('GenuineIntel');
  });
});

describe('mmap', () => {
  it('maps anonymous shared memory at page-aligned host addresses', () => {
    const a = host.mmap(5000);
    const b = host.mmap(4096, -1);
    expect(a.addr % 4096).toBe(0);
    expect(a.bytes.byteLength).toBe(5000);
    expect(a.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(b.addr).toBeGreaterThan(a.addr);
  });

  it('maps a vCPU fd to its kvm_run, the same shared bytes every time', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    const r1 = host.mmap(KVM_VCPU_MMAP_SIZE, vcpu);
    const r2 = host.mmap(4096, vcpu, 0);
    expect(r1.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    r1.bytes[8] = C.KVM_EXIT_HLT;
    expect(r2.bytes[8]).toBe(C.KVM_EXIT_HLT);
    expect(r2.addr).toBe(r1.addr);
    const pio = host.mmap(4096, vcpu, C.KVM_PIO_PAGE_OFFSET * 4096);
    expect(pio.addr).toBe(r1.addr + 4096);
    expect(host.vcpuState(vcpu)!.run).toBe(host.vcpuState(vcpu)!.run);
  });

  it('fails with a negative errno in addr: EINVAL, EBADF or ENODEV', () => {
    const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.mmap(0).addr).toBe(-EINVAL);
    expect(host.mmap(-1).addr).toBe(-EINVAL);
    expect(host.mmap(KVM_VCPU_MMAP_SIZE + 1, vcpu).addr).toBe(-EINVAL);
    expect(host.mmap(4096, vcpu, 100).addr).toBe(-EINVAL);
    expect(host.mmap(4096, 99).addr).toBe(-EBADF);
    expect(host.mmap(4096, vm).addr).toBe(-ENODEV);
    expect(host.mmap(4096, kvm).addr).toBe(-ENODEV);
    expect(host.mmap(4096, vcpu, 100).bytes.byteLength).toBe(0);
  });
});
