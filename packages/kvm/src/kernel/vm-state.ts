import { IoeventfdTable } from '../ioeventfd.js';
import { IrqfdTable, type IrqchipMode } from '../irqfd.js';
import { Memslots } from '../memslots.js';
import { VcpuState } from '../vcpu-state.js';
import { KVM_CLOCK_REALTIME, KVM_CLOCK_VALID_FLAGS } from '../uapi/constants.js';
import { EEXIST, EINVAL, ENOTTY } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import {
  kvm_clock_data,
  kvm_dirty_log,
  kvm_ioeventfd,
  kvm_irqfd,
  kvm_userspace_memory_region,
} from '../uapi/structs.js';
import { dv, FAULT, type IoctlArg, structArg, valueArg } from './args.js';
import type { KernelContext } from './context.js';

/**
 * The kernel side of one VM (`struct kvm`): memslots and the guest memory they form, ioeventfds,
 * irqfds, vCPUs, the kvmclock offset and the x86 real-mode helper addresses. The CPU integration
 * reads it through `KvmHost.vmState(fd)`.
 */
export class VmState {
  readonly memslots: Memslots;
  readonly ioeventfds = new IoeventfdTable();
  readonly irqfds: IrqfdTable;
  readonly vcpus = new Map<number, VcpuState>();
  /** Which in-kernel irqchip exists; KVM_CREATE_IRQCHIP is not modelled yet, so always 'none'. */
  readonly irqchip: IrqchipMode = 'none';
  /** KVM_SET_TSS_ADDR (the 3-page real-mode TSS; unused with unrestricted guest). */
  tssAddr: number | null = null;
  /** KVM_SET_IDENTITY_MAP_ADDR (the EPT identity map page for real mode; unused with unrestricted guest). */
  identityMapAddr: bigint | null = null;
  /** kvmclock = host monotonic ns + offset; starts at 0 when the VM is created (kvm_arch_init_vm). */
  kvmclockOffset: bigint;

  constructor(readonly ctx: KernelContext<VmState>) {
    this.memslots = new Memslots(ctx.addressSpace);
    this.irqfds = new IrqfdTable(() => {
      // Unreachable until an irqchip exists: assignment is refused without one.
    });
    this.kvmclockOffset = -BigInt(ctx.clock.monotonicNs());
  }

  get createdVcpus(): number {
    return this.vcpus.size;
  }

  ioctl(request: number, arg: IoctlArg): number {
    const h = VM_IOCTLS.get(request);
    // Unknown VM ioctls end in kvm_arch_vm_ioctl's default: -ENOTTY.
    return h === undefined ? -ENOTTY : h(this, arg);
  }
}

type VmIoctl = (vm: VmState, arg: IoctlArg) => number;

/** kvm_vm_ioctl_create_vcpu(). */
function createVcpu(vm: VmState, arg: IoctlArg): number {
  const id = valueArg(arg);
  const { maxVcpus, maxVcpuIds } = vm.ctx.limits;
  if (id >= maxVcpuIds) return -EINVAL;
  if (vm.createdVcpus >= maxVcpus) return -EINVAL;
  if (vm.vcpus.has(id)) return -EEXIST;
  const vcpu = new VcpuState(id);
  // The BSP is vCPU 0 unless KVM_SET_BOOT_CPU_ID says otherwise (not modelled).
  vcpu.reset(id === 0);
  const fd = vm.ctx.allocFd({ kind: 'vcpu', vm, vcpu });
  if (fd < 0) return fd;
  vm.vcpus.set(id, vcpu);
  return fd;
}

function setUserMemoryRegion(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_userspace_memory_region.size);
  if (b === null) return FAULT;
  const v = dv(b);
  return vm.memslots.set({
    slot: v.getUint32(0, true),
    flags: v.getUint32(4, true),
    guestPhysAddr: v.getBigUint64(8, true),
    memorySize: v.getBigUint64(16, true),
    userspaceAddr: v.getBigUint64(24, true),
  });
}

function getDirtyLog(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_dirty_log.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const slot = v.getUint32(kvm_dirty_log.fields.slot.offset, true);
  const addr = v.getBigUint64(kvm_dirty_log.fields.dirty_bitmap.offset, true);
  return vm.memslots.getDirtyLog(slot, (n) =>
    addr > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : vm.ctx.addressSpace.view(Number(addr), n),
  );
}

/** kvm_vm_ioctl_set_tss_addr(): the TSS takes 3 pages that must not wrap a 32-bit address. */
function setTssAddr(vm: VmState, arg: IoctlArg): number {
  const addr = valueArg(arg);
  if (addr > 0xffffd000) return -EINVAL;
  vm.tssAddr = addr;
  return 0;
}

function setIdentityMapAddr(vm: VmState, arg: IoctlArg): number {
  // Refused once a vCPU exists, before the argument is even read.
  if (vm.createdVcpus > 0) return -EINVAL;
  const b = structArg(arg, 8);
  if (b === null) return FAULT;
  vm.identityMapAddr = dv(b).getBigUint64(0, true);
  return 0;
}

function ioeventfd(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_ioeventfd.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_ioeventfd.fields;
  const fd = v.getInt32(f.fd.offset, true);
  return vm.ioeventfds.ioctl(
    {
      datamatch: v.getBigUint64(f.datamatch.offset, true),
      addr: v.getBigUint64(f.addr.offset, true),
      len: v.getUint32(f.len.offset, true),
      flags: v.getUint32(f.flags.offset, true),
    },
    () => vm.ctx.eventfdOf(fd),
  );
}

function irqfd(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_irqfd.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_irqfd.fields;
  return vm.irqfds.ioctl(
    {
      // struct kvm_irqfd.fd is a __u32 that the kernel passes to fdget() as an int.
      fd: v.getInt32(f.fd.offset, true),
      gsi: v.getUint32(f.gsi.offset, true),
      flags: v.getUint32(f.flags.offset, true),
      resamplefd: v.getInt32(f.resamplefd.offset, true),
    },
    (fd) => vm.ctx.eventfdOf(fd),
    vm.irqchip,
  );
}

/** KVM_GET_CLOCK (get_kvmclock without a master clock): the clock and the wall time it was read at. */
function getClock(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_clock_data.size);
  if (b === null) return FAULT;
  b.fill(0, 0, kvm_clock_data.size);
  const v = dv(b);
  const f = kvm_clock_data.fields;
  const clock = BigInt(vm.ctx.clock.monotonicNs()) + vm.kvmclockOffset;
  v.setBigUint64(f.clock.offset, BigInt.asUintN(64, clock), true);
  v.setUint32(f.flags.offset, KVM_CLOCK_REALTIME, true);
  v.setBigUint64(f.realtime.offset, vm.ctx.clock.realtimeNs(), true);
  return 0;
}

/** kvm_vm_ioctl_set_clock(): with KVM_CLOCK_REALTIME, the wall time elapsed since `realtime` is added. */
function setClock(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_clock_data.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_clock_data.fields;
  const flags = v.getUint32(f.flags.offset, true);
  if (flags & ~KVM_CLOCK_VALID_FLAGS) return -EINVAL;
  let clock = v.getBigUint64(f.clock.offset, true);
  if (flags & KVM_CLOCK_REALTIME) {
    const now = vm.ctx.clock.realtimeNs();
    const then = v.getBigUint64(f.realtime.offset, true);
    if (now > then) clock += now - then;
  }
  vm.kvmclockOffset = clock - BigInt(vm.ctx.clock.monotonicNs());
  return 0;
}

function checkExtension(vm: VmState, arg: IoctlArg): number {
  return typeof arg === 'number' ? (vm.ctx.capabilities.get(arg) ?? 0) : 0;
}

/** The VM ioctls this model implements; every other request is -ENOTTY. */
const VM_IOCTLS: ReadonlyMap<number, VmIoctl> = new Map<number, VmIoctl>([
  [I.KVM_CREATE_VCPU, createVcpu],
  [I.KVM_SET_USER_MEMORY_REGION, setUserMemoryRegion],
  [I.KVM_GET_DIRTY_LOG, getDirtyLog],
  [I.KVM_SET_TSS_ADDR, setTssAddr],
  [I.KVM_SET_IDENTITY_MAP_ADDR, setIdentityMapAddr],
  [I.KVM_IOEVENTFD, ioeventfd],
  [I.KVM_IRQFD, irqfd],
  [I.KVM_GET_CLOCK, getClock],
  [I.KVM_SET_CLOCK, setClock],
  [I.KVM_CHECK_EXTENSION, checkExtension],
]);

/** Requests with a handler, for the README status table and tests. */
export const VM_IOCTL_REQUESTS: readonly number[] = [...VM_IOCTLS.keys()];
