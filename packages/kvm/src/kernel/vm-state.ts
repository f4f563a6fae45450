import { IoeventfdTable } from '../ioeventfd.js';
import {
  kvm_irq_level,
  kvm_irq_routing,
  kvm_irq_routing_entry,
  kvm_irqchip,
  kvm_msi,
  kvm_pit_config,
  kvm_pit_state2,
  kvm_reinject_control,
} from '../uapi/structs.js';
import { KernelPit } from './pit.js';
import { buildRouting, KernelIrqchip, KVM_MAX_IRQ_ROUTES, type UserRoute } from './irqchip.js';
import { IrqfdTable, type IrqchipMode } from '../irqfd.js';
import { Memslots } from '../memslots.js';
import { VcpuState } from '../vcpu-state.js';
import {
  KVM_CAP_X86_USER_SPACE_MSR,
  KVM_CLOCK_REALTIME,
  KVM_CLOCK_VALID_FLAGS,
  KVM_MSR_EXIT_REASON_FILTER,
  KVM_MSR_EXIT_REASON_INVAL,
  KVM_MSR_EXIT_REASON_UNKNOWN,
  KVM_MP_STATE_UNINITIALIZED,
} from '../uapi/constants.js';
import { EEXIST, EINVAL, ENOENT, ENOTTY, ENXIO } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import {
  kvm_clock_data,
  kvm_dirty_log,
  kvm_enable_cap,
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
  /** The in-kernel irqchip (KVM_CREATE_IRQCHIP), or null: interrupts come from userspace (KVM_INTERRUPT). */
  chip: KernelIrqchip | null = null;
  /** KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR): the KVM_MSR_EXIT_REASON_* that exit to userspace. */
  userSpaceMsr = 0;
  /** KVM_SET_TSS_ADDR (the 3-page real-mode TSS; unused with unrestricted guest). */
  tssAddr: number | null = null;
  /** KVM_SET_IDENTITY_MAP_ADDR (the EPT identity map page for real mode; unused with unrestricted guest). */
  identityMapAddr: bigint | null = null;
  /** kvmclock = host monotonic ns + offset; starts at 0 when the VM is created (kvm_arch_init_vm). */
  kvmclockOffset: bigint;
  /** Counts KVM_SET_CLOCKs: each makes every vCPU rewrite its kvmclock record (KVM_REQ_CLOCK_UPDATE). */
  clockGeneration = 0;

  constructor(readonly ctx: KernelContext<VmState>) {
    this.memslots = new Memslots(ctx.addressSpace);
    // irqfd_inject(): a pulse on the GSI, or (resample) an assertion cleared when the guest acknowledges it.
    this.irqfds = new IrqfdTable((gsi, resample) => {
      const chip = this.chip;
      if (chip === null) return;
      chip.setIrq(gsi, true);
      if (!resample) chip.setIrq(gsi, false);
    });
    this.kvmclockOffset = -BigInt(ctx.clock.monotonicNs());
  }

  /** Which in-kernel interrupt controller exists ('full' after KVM_CREATE_IRQCHIP). */
  get irqchip(): IrqchipMode {
    return this.chip === null ? 'none' : 'full';
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
  if (vm.chip !== null) {
    vm.chip.addVcpu(id, id === 0);
    // kvm_arch_vcpu_create(): with an in-kernel LAPIC, an AP waits for INIT and SIPI.
    if (id !== 0) vcpu.mpState = KVM_MP_STATE_UNINITIALIZED;
  }
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
  vm.clockGeneration++;
  return 0;
}

/**
 * kvm_arch_vm_ioctl(KVM_CREATE_IRQCHIP): -EEXIST when one exists, -EINVAL once vCPUs exist; the two
 * 8259s, the I/O APIC and the default GSI routing (LAPICs come with each vCPU).
 */
function createIrqchip(vm: VmState, _arg: IoctlArg): number {
  if (vm.chip !== null) return -EEXIST;
  if (vm.createdVcpus > 0) return -EINVAL;
  const clock = vm.ctx.clock;
  vm.chip = new KernelIrqchip(
    { nowNs: () => clock.monotonicNs() },
    { acked: (gsi) => vm.irqfds.resample(gsi, (g) => vm.chip?.setIrq(g, false)) },
  );
  return 0;
}

/** kvm_vm_ioctl_irq_line(): -ENXIO without an irqchip; KVM_IRQ_LINE_STATUS writes kvm_set_irq's status back. */
function irqLine(withStatus: boolean): VmIoctl {
  return (vm, arg) => {
    const b = structArg(arg, kvm_irq_level.size);
    if (b === null) return FAULT;
    if (vm.chip === null) return -ENXIO;
    const v = dv(b);
    const irq = v.getUint32(kvm_irq_level.fields.irq.offset, true);
    const level = v.getUint32(kvm_irq_level.fields.level.offset, true);
    const status = vm.chip.setIrq(irq, level !== 0);
    if (withStatus) v.setInt32(kvm_irq_level.fields.irq.offset, status, true);
    return 0;
  };
}

/** KVM_SET_GSI_ROUTING: -EINVAL without an irqchip, past KVM_MAX_IRQ_ROUTES, with flags or a bad entry. */
function setGsiRouting(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_irq_routing.size);
  if (b === null) return FAULT;
  if (vm.chip === null) return -EINVAL;
  const v = dv(b);
  const nr = v.getUint32(kvm_irq_routing.fields.nr.offset, true);
  if (nr > KVM_MAX_IRQ_ROUTES) return -EINVAL;
  if (v.getUint32(kvm_irq_routing.fields.flags.offset, true) !== 0) return -EINVAL;
  const E = kvm_irq_routing_entry;
  if (b.byteLength < kvm_irq_routing.size + nr * E.size) return FAULT;
  const entries: UserRoute[] = [];
  for (let i = 0; i < nr; i++) {
    const o = kvm_irq_routing.size + i * E.size;
    const u = o + E.fields.u.offset;
    entries.push({
      gsi: v.getUint32(o + E.fields.gsi.offset, true),
      type: v.getUint32(o + E.fields.type.offset, true),
      flags: v.getUint32(o + E.fields.flags.offset, true),
      u0: v.getUint32(u, true),
      u1: v.getUint32(u + 4, true),
      u2: v.getUint32(u + 8, true),
    });
  }
  const routes = buildRouting(entries);
  if (typeof routes === 'number') return routes;
  vm.chip.setRouting(routes);
  return 0;
}

/** kvm_send_userspace_msi(): -EINVAL without an irqchip or with flags; else the number of deliveries. */
function signalMsi(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_msi.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_msi.fields;
  if (vm.chip === null || v.getUint32(f.flags.offset, true) !== 0) return -EINVAL;
  const r = vm.chip.deliverMsi(
    v.getUint32(f.address_lo.offset, true),
    v.getUint32(f.address_hi.offset, true),
    v.getUint32(f.data.offset, true),
  );
  return Math.max(r, 0);
}

/** KVM_GET_IRQCHIP / KVM_SET_IRQCHIP: -ENXIO without the in-kernel irqchip, -EINVAL for an unknown chip id. */
function irqchipState(set: boolean): VmIoctl {
  return (vm, arg) => {
    const b = structArg(arg, kvm_irqchip.size);
    if (b === null) return FAULT;
    if (vm.chip === null) return -ENXIO;
    const v = dv(b);
    const chipId = v.getUint32(kvm_irqchip.fields.chip_id.offset, true);
    const union = new DataView(b.buffer, b.byteOffset + kvm_irqchip.fields.chip.offset, 512);
    if (set) return vm.chip.setChip(chipId, union);
    return vm.chip.getChip(chipId, union);
  };
}

/**
 * KVM_CREATE_PIT2: -EEXIST when the VM has one, -ENOENT without the in-kernel 8259s. The flags
 * (KVM_PIT_SPEAKER_DUMMY) are taken; port 0x61 stays in userspace either way.
 */
function createPit2(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_pit_config.size);
  if (b === null) return FAULT;
  const chip = vm.chip;
  if (chip?.pit != null) return -EEXIST;
  if (chip === null) return -ENOENT;
  const clock = vm.ctx.clock;
  chip.pit = new KernelPit({ nowNs: () => clock.monotonicNs() }, (level) => chip.setIrq(0, level));
  return 0;
}

/** KVM_GET_PIT2 / KVM_SET_PIT2: -ENXIO without a PIT (GET checks it before the buffer, SET after). */
function pitState(set: boolean): VmIoctl {
  return (vm, arg) => {
    const pit = vm.chip?.pit;
    if (!set && pit == null) return -ENXIO;
    const b = structArg(arg, kvm_pit_state2.size);
    if (b === null) return FAULT;
    if (pit == null) return -ENXIO;
    const v = new DataView(b.buffer, b.byteOffset, kvm_pit_state2.size);
    if (set) pit.setState(v);
    else pit.getState(v);
    return 0;
  };
}

/** KVM_REINJECT_CONTROL: stores pit_reinject; -ENXIO without a PIT. */
function reinjectControl(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_reinject_control.size);
  if (b === null) return FAULT;
  const pit = vm.chip?.pit;
  if (pit == null) return -ENXIO;
  pit.reinject = b[0] !== 0 ? 1 : 0;
  return 0;
}

/**
 * KVM_ENABLE_CAP on a VM (kvm_vm_ioctl_enable_cap): flags must be 0; KVM_CAP_X86_USER_SPACE_MSR takes
 * a mask of KVM_MSR_EXIT_REASON_INVAL/UNKNOWN/FILTER in args[0]; any other capability is -EINVAL.
 */
function enableCap(vm: VmState, arg: IoctlArg): number {
  const b = structArg(arg, kvm_enable_cap.size);
  if (b === null) return FAULT;
  const v = dv(b);
  const f = kvm_enable_cap.fields;
  if (v.getUint32(f.flags.offset, true) !== 0) return -EINVAL;
  const cap = v.getUint32(f.cap.offset, true);
  if (cap !== KVM_CAP_X86_USER_SPACE_MSR) return -EINVAL;
  const mask = v.getBigUint64(f.args0.offset, true);
  const valid = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER;
  if (mask & ~BigInt(valid)) return -EINVAL;
  vm.userSpaceMsr = Number(mask);
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
  [I.KVM_CREATE_IRQCHIP, createIrqchip],
  [I.KVM_IRQ_LINE, irqLine(false)],
  [I.KVM_IRQ_LINE_STATUS, irqLine(true)],
  [I.KVM_SET_GSI_ROUTING, setGsiRouting],
  [I.KVM_SIGNAL_MSI, signalMsi],
  [I.KVM_GET_IRQCHIP, irqchipState(false)],
  [I.KVM_SET_IRQCHIP, irqchipState(true)],
  [I.KVM_CREATE_PIT2, createPit2],
  [I.KVM_GET_PIT2, pitState(false)],
  [I.KVM_SET_PIT2, pitState(true)],
  [I.KVM_REINJECT_CONTROL, reinjectControl],
  [I.KVM_ENABLE_CAP, enableCap],
]);

/** Requests with a handler, for the README status table and tests. */
export const VM_IOCTL_REQUESTS: readonly number[] = [...VM_IOCTLS.keys()];
