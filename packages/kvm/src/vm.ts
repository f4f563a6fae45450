import { check } from './errors.js';
import type { KvmHost } from './kernel/host.js';
import {
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOEVENTFD_FLAG_DEASSIGN,
  KVM_IOEVENTFD_FLAG_PIO,
  KVM_IRQFD_FLAG_DEASSIGN,
} from './uapi/constants.js';
import * as I from './uapi/ioctls.js';
import { allocStruct } from './uapi/layout.js';
import {
  kvm_clock_data,
  kvm_irq_level,
  kvm_msi,
  kvm_pit_config,
  kvm_dirty_log,
  kvm_ioeventfd,
  kvm_irqfd,
  kvm_userspace_memory_region,
} from './uapi/structs.js';
import { Vcpu } from './vcpu.js';

/** struct kvm_userspace_memory_region. */
export interface UserMemoryRegion {
  readonly slot: number;
  readonly flags?: number;
  readonly guestPhysAddr: number | bigint;
  /** 0 deletes the slot. */
  readonly memorySize: number | bigint;
  /** A host address from `mmap`. */
  readonly userspaceAddr: number | bigint;
}

/** Where an ioeventfd listens (rust-vmm `IoEventAddress`). */
export type IoEventAddress = { readonly pio: number } | { readonly mmio: number | bigint };

/** An ioeventfd's value filter: absent for any write of any length (rust-vmm `NoDatamatch`). */
export interface Datamatch {
  readonly size: 1 | 2 | 4 | 8;
  readonly value: number | bigint;
}

/** struct kvm_clock_data. */
export interface ClockData {
  readonly clock: bigint;
  readonly flags: number;
  readonly realtime: bigint;
}

/**
 * A VM (rust-vmm kvm-ioctls' `VmFd`): typed wrappers over the VM ioctls that work today. Errors
 * throw {@link KvmError}.
 */
export class Vm {
  private bitmapBuffer: { addr: number; bytes: Uint8Array } | null = null;

  constructor(
    readonly fd: number,
    readonly host: KvmHost,
    private readonly vcpuMmapSize: number,
  ) {}

  checkExtension(cap: number): number {
    return this.host.ioctl(this.fd, I.KVM_CHECK_EXTENSION, cap);
  }

  setUserMemoryRegion(r: UserMemoryRegion): void {
    const v = allocStruct(kvm_userspace_memory_region);
    v.set('slot', r.slot);
    v.set('flags', r.flags ?? 0);
    v.set('guest_phys_addr', BigInt(r.guestPhysAddr));
    v.set('memory_size', BigInt(r.memorySize));
    v.set('userspace_addr', BigInt(r.userspaceAddr));
    check(this.host.ioctl(this.fd, I.KVM_SET_USER_MEMORY_REGION, v.bytes), 'KVM_SET_USER_MEMORY_REGION');
  }

  /**
   * KVM_GET_DIRTY_LOG for a slot of `memorySize` bytes: a fresh copy of its bitmap (one bit per page,
   * u64 words), which the call also clears.
   */
  getDirtyLog(slot: number, memorySize: number): Uint8Array {
    const bytes = Math.ceil(memorySize / 4096 / 64) * 8;
    if (this.bitmapBuffer === null || this.bitmapBuffer.bytes.byteLength < bytes) {
      const m = this.host.mmap(Math.max(bytes, 1));
      check(m.addr, 'mmap(dirty bitmap)');
      this.bitmapBuffer = m;
    }
    const v = allocStruct(kvm_dirty_log);
    v.set('slot', slot);
    v.set('dirty_bitmap', this.bitmapBuffer.addr);
    check(this.host.ioctl(this.fd, I.KVM_GET_DIRTY_LOG, v.bytes), 'KVM_GET_DIRTY_LOG');
    return this.bitmapBuffer.bytes.slice(0, bytes);
  }

  setTssAddress(addr: number): void {
    check(this.host.ioctl(this.fd, I.KVM_SET_TSS_ADDR, addr), 'KVM_SET_TSS_ADDR');
  }

  setIdentityMapAddress(addr: number | bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(addr), true);
    check(this.host.ioctl(this.fd, I.KVM_SET_IDENTITY_MAP_ADDR, b), 'KVM_SET_IDENTITY_MAP_ADDR');
  }

  createVcpu(id: number): Vcpu {
    const fd = check(this.host.ioctl(this.fd, I.KVM_CREATE_VCPU, id), 'KVM_CREATE_VCPU');
    return new Vcpu(fd, id, this.host, this.vcpuMmapSize);
  }

  registerIoevent(eventFd: number, addr: IoEventAddress, datamatch?: Datamatch): void {
    this.ioevent(eventFd, addr, datamatch, 0);
  }

  unregisterIoevent(eventFd: number, addr: IoEventAddress, datamatch?: Datamatch): void {
    this.ioevent(eventFd, addr, datamatch, KVM_IOEVENTFD_FLAG_DEASSIGN);
  }

  registerIrqfd(eventFd: number, gsi: number): void {
    this.irqfd(eventFd, gsi, 0);
  }

  unregisterIrqfd(eventFd: number, gsi: number): void {
    this.irqfd(eventFd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
  }

  /** KVM_CREATE_IRQCHIP: the in-kernel 8259s, I/O APIC and per-vCPU LAPICs (before any vCPU). */
  createIrqChip(): void {
    check(this.host.ioctl(this.fd, I.KVM_CREATE_IRQCHIP, 0), 'KVM_CREATE_IRQCHIP');
  }

  /** KVM_IRQ_LINE_STATUS: drives GSI `irq`; the status (-1 not delivered, 0 coalesced, > 0 delivered). */
  setIrqLine(irq: number, active: boolean): number {
    const v = allocStruct(kvm_irq_level);
    v.set('irq', irq);
    v.set('level', active ? 1 : 0);
    check(this.host.ioctl(this.fd, I.KVM_IRQ_LINE_STATUS, v.bytes), 'KVM_IRQ_LINE_STATUS');
    return new DataView(v.bytes.buffer).getInt32(0, true);
  }

  /** KVM_SIGNAL_MSI: the number of LAPICs that accepted the message. */
  signalMsi(msi: { readonly addressLo: number; readonly addressHi?: number; readonly data: number }): number {
    const v = allocStruct(kvm_msi);
    v.set('address_lo', msi.addressLo);
    v.set('address_hi', msi.addressHi ?? 0);
    v.set('data', msi.data);
    return check(this.host.ioctl(this.fd, I.KVM_SIGNAL_MSI, v.bytes), 'KVM_SIGNAL_MSI');
  }

  /** KVM_CREATE_PIT2 (needs the in-kernel irqchip); `flags` is kvm_pit_config.flags. */
  createPit2(flags = 0): void {
    const v = allocStruct(kvm_pit_config);
    v.set('flags', flags);
    check(this.host.ioctl(this.fd, I.KVM_CREATE_PIT2, v.bytes), 'KVM_CREATE_PIT2');
  }

  getClock(): ClockData {
    const v = allocStruct(kvm_clock_data);
    check(this.host.ioctl(this.fd, I.KVM_GET_CLOCK, v.bytes), 'KVM_GET_CLOCK');
    return { clock: v.getBigInt('clock'), flags: v.get('flags'), realtime: v.getBigInt('realtime') };
  }

  /** KVM_SET_CLOCK; with KVM_CLOCK_REALTIME in `flags` the wall time since `realtime` is added. */
  setClock(data: { readonly clock: bigint; readonly flags?: number; readonly realtime?: bigint }): void {
    const v = allocStruct(kvm_clock_data);
    v.set('clock', data.clock);
    v.set('flags', data.flags ?? 0);
    if (data.realtime !== undefined) v.set('realtime', data.realtime);
    check(this.host.ioctl(this.fd, I.KVM_SET_CLOCK, v.bytes), 'KVM_SET_CLOCK');
  }

  close(): void {
    check(this.host.close(this.fd), 'close');
  }

  private ioevent(
    eventFd: number,
    addr: IoEventAddress,
    datamatch: Datamatch | undefined,
    flags: number,
  ): void {
    const v = allocStruct(kvm_ioeventfd);
    if ('pio' in addr) {
      v.set('addr', addr.pio);
      flags |= KVM_IOEVENTFD_FLAG_PIO;
    } else {
      v.set('addr', BigInt(addr.mmio));
    }
    if (datamatch !== undefined) {
      flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
      v.set('len', datamatch.size);
      v.set('datamatch', BigInt(datamatch.value));
    }
    v.set('fd', eventFd);
    v.set('flags', flags);
    check(this.host.ioctl(this.fd, I.KVM_IOEVENTFD, v.bytes), 'KVM_IOEVENTFD');
  }

  private irqfd(eventFd: number, gsi: number, flags: number): void {
    const v = allocStruct(kvm_irqfd);
    v.set('fd', eventFd);
    v.set('gsi', gsi);
    v.set('flags', flags);
    check(this.host.ioctl(this.fd, I.KVM_IRQFD, v.bytes), 'KVM_IRQFD');
  }
}
