/**
 * What a VM exit costs in `@typevisor/kvm`: a real-mode guest loop doing 1,000,000 OUTs to a port
 * that userspace handles (KVM_EXIT_IO, a return from KVM_RUN per OUT), and one doing 1,000,000
 * CPUIDs (handled in the kernel: the VM exit never leaves KVM_RUN), each with `ept` on and off.
 * Prints nanoseconds per exit.
 *
 *   node_modules/.bin/tsx --conditions=source bench/exits.bench.ts [iterations]
 *
 * Figures of 2026-11-26 on a loaded 2-core machine, 300,000 iterations, ns per exit (OUT ept=on / CPUID
 * ept=on / OUT ept=off / CPUID ept=off): 4180 / 3554 / 3985 / 3971 while an intercepted instruction
 * unwound with a throw (`raiseIntercept`: 18.8% of the profile's self time), 1240 / 1480 / 1301 / 1178
 * since the common exits return from their handler (`interceptInstruction`). What is left is spread over
 * the exit path: vcpu_enter_guest 9.5%, the CPUID handler 7.4%, recording the VM exit 6.8%, the two
 * `performance.now()` per entry 5.7%.
 */
import {
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_EXIT_HLT,
  KVM_EXIT_IO,
  KVM_GET_SREGS,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_RUN,
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

const N = Number(process.argv[2] ?? 1_000_000);
const le32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

// mov dx,0x3f8; mov ecx,N; l: out dx,al; dec ecx; jnz l; hlt
const OUT_LOOP = [0xba, 0xf8, 0x03, 0x66, 0xb9, ...le32(N), 0xee, 0x66, 0x49, 0x75, 0xfb, 0xf4];
// mov esi,N; l: xor eax,eax; cpuid; dec esi; jnz l; hlt
const CPUID_LOOP = [0x66, 0xbe, ...le32(N), 0x66, 0x31, 0xc0, 0x0f, 0xa2, 0x66, 0x4e, 0x75, 0xf7, 0xf4];

function guest(code: number[], ept: boolean) {
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

function bench(name: string, code: number[], ept: boolean): void {
  const { host, vcpu, run } = guest(code, ept);
  let userExits = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    if (host.ioctl(vcpu, KVM_RUN, 0) !== 0) throw new Error('KVM_RUN failed');
    const reason = run.get('exit_reason');
    if (reason === KVM_EXIT_HLT) break;
    if (reason !== KVM_EXIT_IO) throw new Error(`unexpected exit ${reason}`);
    userExits++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const stats = host.vcpuRunner(vcpu)!.stats;
  const exits = stats.totalExits;
  console.log(
    `${name.padEnd(6)} ept=${ept ? 'on ' : 'off'}  ${(ns / N).toFixed(0).padStart(6)} ns/iteration` +
      `  (${exits} VM exits, ${userExits} to userspace, ${stats.kernelExits} in the kernel, guest time ${(((stats.guestMs * 1e6) / ns) * 100).toFixed(0)}%)`,
  );
}

console.log(`${N} iterations per loop`);
for (const ept of [true, false]) {
  bench('OUT', OUT_LOOP, ept);
  bench('CPUID', CPUID_LOOP, ept);
}
