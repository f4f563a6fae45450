import type { CpuidEntry } from './cpu-model.js';
import { check } from './errors.js';
import type { KvmHost } from './kernel/host.js';
import { defaultHost } from './raw.js';
import { KVM_MAX_CPUID_ENTRIES, KVM_X86_DEFAULT_VM } from './uapi/constants.js';
import { E2BIG } from './uapi/errno.js';
import * as I from './uapi/ioctls.js';
import { arrayEntry } from './uapi/layout.js';
import { kvm_cpuid_entry2, kvm_cpuid2, kvm_msr_list } from './uapi/structs.js';
import { Vm } from './vm.js';

/**
 * An open /dev/kvm (rust-vmm kvm-ioctls' `Kvm`): typed wrappers over the system ioctls. Errors throw
 * {@link KvmError}.
 */
export class Kvm {
  private constructor(
    readonly fd: number,
    readonly host: KvmHost,
  ) {}

  /** Opens /dev/kvm in `host` (the process-wide default unless given). */
  static open(host: KvmHost = defaultHost): Kvm {
    return new Kvm(check(host.open('/dev/kvm'), 'open(/dev/kvm)'), host);
  }

  getApiVersion(): number {
    return check(this.host.ioctl(this.fd, I.KVM_GET_API_VERSION), 'KVM_GET_API_VERSION');
  }

  /** KVM_CHECK_EXTENSION: 0 when the capability is absent, else a positive (often informative) value. */
  checkExtension(cap: number): number {
    return check(this.host.ioctl(this.fd, I.KVM_CHECK_EXTENSION, cap), 'KVM_CHECK_EXTENSION');
  }

  getVcpuMmapSize(): number {
    return check(this.host.ioctl(this.fd, I.KVM_GET_VCPU_MMAP_SIZE), 'KVM_GET_VCPU_MMAP_SIZE');
  }

  getSupportedCpuid(maxEntries = KVM_MAX_CPUID_ENTRIES): CpuidEntry[] {
    const bytes = new Uint8Array(kvm_cpuid2.size + maxEntries * kvm_cpuid_entry2.size);
    new DataView(bytes.buffer).setUint32(0, maxEntries, true);
    check(this.host.ioctl(this.fd, I.KVM_GET_SUPPORTED_CPUID, bytes), 'KVM_GET_SUPPORTED_CPUID');
    const n = new DataView(bytes.buffer).getUint32(0, true);
    return Array.from({ length: n }, (_, i) => {
      const e = arrayEntry(kvm_cpuid_entry2, bytes, kvm_cpuid2.size, i);
      return {
        function: e.get('function'),
        index: e.get('index'),
        flags: e.get('flags'),
        eax: e.get('eax'),
        ebx: e.get('ebx'),
        ecx: e.get('ecx'),
        edx: e.get('edx'),
      };
    });
  }

  /** KVM_GET_MSR_INDEX_LIST, sized by a first call that fails with E2BIG and reports the count. */
  getMsrIndexList(): number[] {
    const probe = new Uint8Array(kvm_msr_list.size);
    const r = this.host.ioctl(this.fd, I.KVM_GET_MSR_INDEX_LIST, probe);
    if (r < 0 && r !== -E2BIG) check(r, 'KVM_GET_MSR_INDEX_LIST');
    const n = new DataView(probe.buffer).getUint32(0, true);
    const bytes = new Uint8Array(kvm_msr_list.size + 4 * n);
    const v = new DataView(bytes.buffer);
    v.setUint32(0, n, true);
    check(this.host.ioctl(this.fd, I.KVM_GET_MSR_INDEX_LIST, bytes), 'KVM_GET_MSR_INDEX_LIST');
    return Array.from({ length: v.getUint32(0, true) }, (_, i) =>
      v.getUint32(kvm_msr_list.size + 4 * i, true),
    );
  }

  createVm(type = KVM_X86_DEFAULT_VM): Vm {
    const fd = check(this.host.ioctl(this.fd, I.KVM_CREATE_VM, type), 'KVM_CREATE_VM');
    return new Vm(fd, this.host, this.getVcpuMmapSize());
  }

  close(): void {
    check(this.host.close(this.fd), 'close');
  }
}
