/** The guest both `bench/exits` benchmarks run: real-mode code at 0x1000 in 8 KiB of RAM, CS base 0. */
import {
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_SREGS,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_USER_MEMORY_REGION,
  KvmHost,
  StructView,
  allocStruct,
  kvm_regs,
  kvm_run,
  kvm_segment,
  kvm_sregs,
  kvm_userspace_memory_region,
} from '@typevisor/kvm';

export const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

/** mov dx,0x3f8; mov ecx,N; l: out dx,al; dec ecx; jnz l; hlt */
export const outLoop = (n: number): number[] => [
  0xba,
  0xf8,
  0x03,
  0x66,
  0xb9,
  ...le32(n),
  0xee,
  0x66,
  0x49,
  0x75,
  0xfb,
  0xf4,
];

/** A fresh facade with one VM running `code` at 0x1000 in real mode (`ept` as kvm_intel's parameter). */
export function realModeGuest(code: readonly number[], ept: boolean) {
  const host = new KvmHost({ vmx: { ept } });
  const kvm = host.open('/dev/kvm');
  const vm = host.ioctl(kvm, KVM_CREATE_VM, 0);
  const mem = host.mmap(0x2000);
  mem.bytes.set(code, 0x1000);
  const region = allocStruct(kvm_userspace_memory_region);
  region.set('memory_size', 0x2000);
  region.set('userspace_addr', mem.addr);
  host.ioctl(vm, KVM_SET_USER_MEMORY_REGION, region.bytes);
  const vcpu = host.ioctl(vm, KVM_CREATE_VCPU, 0);
  const run = new StructView(kvm_run, host.mmap(host.ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE), vcpu).bytes);
  const sregs = allocStruct(kvm_sregs);
  host.ioctl(vcpu, KVM_GET_SREGS, sregs.bytes);
  sregs.sub('cs', kvm_segment).set('base', 0);
  sregs.sub('cs', kvm_segment).set('selector', 0);
  host.ioctl(vcpu, KVM_SET_SREGS, sregs.bytes);
  const regs = allocStruct(kvm_regs);
  regs.set('rip', 0x1000);
  regs.set('rflags', 2);
  host.ioctl(vcpu, KVM_SET_REGS, regs.bytes);
  return { host, vcpu, run };
}
