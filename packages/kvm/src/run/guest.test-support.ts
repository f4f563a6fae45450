/** A small real-mode test guest on the raw face (for the KVM_RUN tests; not part of the package API). */
import type { HostClock } from '../kernel/context.js';
import { KvmHost, type KvmHostOptions } from '../kernel/host.js';
import * as I from '../uapi/ioctls.js';
import { StructView, allocStruct } from '../uapi/layout.js';
import {
  kvm_dtable,
  kvm_regs,
  kvm_run,
  kvm_segment,
  kvm_sregs,
  kvm_userspace_memory_region,
} from '../uapi/structs.js';

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

/** A host clock the test moves: `sleepNs` advances it (a halted vCPU's wait takes no real time). */
export class TestClock implements HostClock {
  mono = 1_000_000_000;
  monotonicNs(): number {
    return this.mono;
  }
  realtimeNs(): bigint {
    return 1_700_000_000_000_000_000n + BigInt(this.mono);
  }
  sleepNs(ns: number): void {
    this.mono += ns;
  }
}

/**
 * RAM at 0 .. `ramSize`, `code` at 0x1000, CS = DS = ES = SS = 0, RIP 0x1000, SP 0x1ff0. With
 * `irqchip`, KVM_CREATE_IRQCHIP runs before KVM_CREATE_VCPU.
 */
export function realModeGuest(
  code: readonly number[],
  options: KvmHostOptions & { ramSize?: number; irqchip?: boolean } = {},
): TestGuest {
  const host = new KvmHost(options);
  const kvm = host.open('/dev/kvm');
  const vmfd = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
  if (options.irqchip === true && host.ioctl(vmfd, I.KVM_CREATE_IRQCHIP, 0) !== 0) {
    throw new Error('KVM_CREATE_IRQCHIP failed');
  }
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

/**
 * Switches a test guest to flat 32-bit protected mode without paging: a GDT at 0x600 (null, code 0x08,
 * data 0x10), an IDT at 0x700 whose `vectors` are 32-bit interrupt gates to `handler`, RIP 0x1000.
 */
export function flatProtectedMode(g: TestGuest, handler: number, vectors: readonly number[]): void {
  const dv = new DataView(g.ram.buffer, g.ram.byteOffset, g.ram.byteLength);
  dv.setBigUint64(0x608, 0x00cf9a000000ffffn, true);
  dv.setBigUint64(0x610, 0x00cf92000000ffffn, true);
  for (const v of vectors) {
    const o = 0x700 + v * 8;
    dv.setUint16(o, handler & 0xffff, true);
    dv.setUint16(o + 2, 0x08, true);
    dv.setUint16(o + 4, 0x8e00, true);
    dv.setUint16(o + 6, handler >>> 16, true);
  }
  const s = allocStruct(kvm_sregs);
  g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes);
  for (const name of ['cs', 'ds', 'es', 'ss', 'fs', 'gs'] as const) {
    const seg = s.sub(name, kvm_segment);
    seg.set('base', 0);
    seg.set('limit', 0xffffffff);
    seg.set('selector', name === 'cs' ? 8 : 16);
    seg.set('type', name === 'cs' ? 11 : 3);
    seg.set('s', 1);
    seg.set('present', 1);
    seg.set('db', 1);
    seg.set('g', 1);
  }
  s.sub('gdt', kvm_dtable).set('base', 0x600);
  s.sub('gdt', kvm_dtable).set('limit', 0x17);
  s.sub('idt', kvm_dtable).set('base', 0x700);
  s.sub('idt', kvm_dtable).set('limit', 0x7ff);
  s.set('cr0', 0x11);
  if (g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes) !== 0) throw new Error('KVM_SET_SREGS failed');
  g.setRegs({ rip: 0x1000, rsp: 0x1ff0, rflags: 2 });
}
