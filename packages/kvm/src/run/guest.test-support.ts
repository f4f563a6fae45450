/** A small real-mode test guest on the raw face (for the KVM_RUN tests; not part of the package API). */
import { KvmHost, type KvmHostOptions } from '../kernel/host.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import { kvm_regs, kvm_run, kvm_segment, kvm_sregs, kvm_userspace_memory_region } from '../uapi/structs.js';

export interface TestGuest {
  readonly host: KvmHost;
  readonly vmfd: number;
  readonly vcpufd: number;
  /** The vCPU mapping (kvm_run at 0, PIO data at 4096). */
  readonly map: Uint8Array;
  readonly run: StructView<keyof typeof kvm_run.fields>;
  /** Guest RAM of slot 0 (guest-physical 0 .. ramSize). */
  readonly ram: Uint8Array;
  runOnce(): number;
  regs(): StructView<keyof typeof kvm_regs.fields>;
  setRegs(values: Partial<Record<keyof typeof kvm_regs.fields, number>>): void;
  addSlot(slot: number, gpa: number, bytes: number, flags?: number): Uint8Array;
}

/** RAM at 0 .. `ramSize`, `code` at 0x1000, CS = DS = ES = SS = 0, RIP 0x1000, SP 0x8000. */
export function realModeGuest(
  code: readonly number[],
  options: KvmHostOptions & { ramSize?: number } = {},
): TestGuest {
  const host = new KvmHost(options);
  const kvm = host.open('/dev/kvm');
  const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
  const vcpufd = host.ioctl(vmfd, I.KVM_CREATE_VCPU, 0);
  const map = host.mmap(host.ioctl(kvm, I.KVM_GET_VCPU_MMAP_SIZE), vcpufd).bytes;
  const run = new StructView(kvm_run, map);
  const addSlot = (slot: number, gpa: number, bytes: number, flags = 0): Uint8Array => {
    const m = host.mmap(bytes);
    const r = allocStruct(kvm_userspace_memory_region);
    r.set('slot', slot);
    r.set('flags', flags);
    r.set('guest_phys_addr', gpa);
    r.set('memory_size', bytes);
    r.set('userspace_addr', m.addr);
    const rc = host.ioctl(vmfd, I.KVM_SET_USER_MEMORY_REGION, r.bytes);
    if (rc !== 0) throw new Error(`KVM_SET_USER_MEMORY_REGION: ${rc}`);
    return m.bytes;
  };
  const ram = addSlot(0, 0, options.ramSize ?? 0x2000);
  ram.set(code, 0x1000);
  const sregs = allocStruct(kvm_sregs);
  host.ioctl(vcpufd, I.KVM_GET_SREGS, sregs.bytes);
  sregs.sub('cs', kvm_segment).set('base', 0);
  sregs.sub('cs', kvm_segment).set('selector', 0);
  host.ioctl(vcpufd, I.KVM_SET_SREGS, sregs.bytes);
  const regs = (): StructView<keyof typeof kvm_regs.fields> => {
    const r = allocStruct(kvm_regs);
    host.ioctl(vcpufd, I.KVM_GET_REGS, r.bytes);
    return r;
  };
  const setRegs = (values: Partial<Record<keyof typeof kvm_regs.fields, number>>): void => {
    const r = regs();
    for (const [k, v] of Object.entries(values)) r.set(k as keyof typeof kvm_regs.fields, v);
    host.ioctl(vcpufd, I.KVM_SET_REGS, r.bytes);
  };
  setRegs({ rip: 0x1000, rsp: 0x1ff0, rflags: 2 });
  return {
    host,
    vmfd,
    vcpufd,
    map,
    run,
    ram,
    runOnce: () => host.ioctl(vcpufd, I.KVM_RUN, 0),
    regs,
    setRegs,
    addSlot,
  };
}
