/** The VM ioctls that need no guest execution. */
import { beforeEach, describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_clock_data, kvm_ioeventfd, kvm_irqfd } from '../uapi/structs.js';
import type { HostClock } from './context.js';
import { KvmHost } from './host.js';

/** A host clock the test moves by hand. */
class FakeClock implements HostClock {
  mono = 5_000_000_000;
  real = 1_700_000_000_000_000_000n;
  monotonicNs(): number {
    return this.mono;
  }
  realtimeNs(): bigint {
    return this.real;
  }
  advance(ns: number): void {
    this.mono += ns;
    this.real += BigInt(ns);
  }
}

let clock: FakeClock;
let host: KvmHost;
let kvm: number;
let vm: number;

beforeEach(() => {
  clock = new FakeClock();
  host = new KvmHost({ clock });
  kvm = host.open('/dev/kvm');
  vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
});

describe('KVM_CREATE_VCPU', () => {
  it('creates vCPUs with ids below KVM_CAP_MAX_VCPU_ID, each once', () => {
    const fd = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(fd).toBeGreaterThan(vm);
    expect(host.ioctl(vm, I.KVM_CREATE_VCPU, 254)).toBeGreaterThan(fd);
    expect(host.ioctl(vm, I.KVM_CREATE_VCPU, 255)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_CREATE_VCPU, -1)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_CREATE_VCPU, 0)).toBe(-EEXIST);
    expect(host.vmState(vm)!.createdVcpus).toBe(2);
  });

  it('stops at KVM_CAP_MAX_VCPUS', () => {
    const small = new KvmHost({ limits: { recommendedVcpus: 1, maxVcpus: 2, maxVcpuIds: 8 } });
    const v = small.ioctl(small.open('/dev/kvm'), I.KVM_CREATE_VM, 0);
    expect(small.ioctl(v, I.KVM_CREATE_VCPU, 0)).toBeGreaterThan(0);
    expect(small.ioctl(v, I.KVM_CREATE_VCPU, 1)).toBeGreaterThan(0);
    expect(small.ioctl(v, I.KVM_CREATE_VCPU, 2)).toBe(-EINVAL);
  });

  it('gives each vCPU its own kvm_run mapping in a SharedArrayBuffer', () => {
    const a = host.vcpuState(host.ioctl(vm, I.KVM_CREATE_VCPU, 0))!;
    const b = host.vcpuState(host.ioctl(vm, I.KVM_CREATE_VCPU, 1))!;
    expect(a.run.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.run.buffer).not.toBe(b.run.buffer);
    expect(a.run.byteLength).toBe(3 * 4096);
  });
});

describe('KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR', () => {
  it('accepts a TSS address whose 3 pages stay below 4 GiB', () => {
    expect(host.ioctl(vm, I.KVM_SET_TSS_ADDR, 0xfffbd000)).toBe(0);
    expect(host.vmState(vm)!.tssAddr).toBe(0xfffbd000);
    expect(host.ioctl(vm, I.KVM_SET_TSS_ADDR, 0xffffd000)).toBe(0);
    expect(host.ioctl(vm, I.KVM_SET_TSS_ADDR, 0xffffe000)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_SET_TSS_ADDR, 2 ** 40)).toBe(-EINVAL);
  });

  it('takes the identity-map address by pointer, only before the first vCPU', () => {
    const arg = new Uint8Array(8);
    new DataView(arg.buffer).setBigUint64(0, 0xfffbc000n, true);
    expect(host.ioctl(vm, I.KVM_SET_IDENTITY_MAP_ADDR, new Uint8Array(7))).toBe(-EFAULT);
    expect(host.ioctl(vm, I.KVM_SET_IDENTITY_MAP_ADDR, arg)).toBe(0);
    expect(host.vmState(vm)!.identityMapAddr).toBe(0xfffbc000n);
    host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
    expect(host.ioctl(vm, I.KVM_SET_IDENTITY_MAP_ADDR, arg)).toBe(-EINVAL);
    expect(host.ioctl(vm, I.KVM_SET_IDENTITY_MAP_ADDR, new Uint8Array(7))).toBe(-EINVAL);
  });
});

describe('KVM_GET_CLOCK and KVM_SET_CLOCK', () => {
  const get = () => {
    const v = allocStruct(kvm_clock_data);
    expect(host.ioctl(vm, I.KVM_GET_CLOCK, v.bytes)).toBe(0);
    return v;
  };

  it('starts kvmclock at 0 when the VM is created and follows the host clock', () => {
    expect(get().getBigInt('clock')).toBe(0n);
    clock.advance(1234);
    const v = get();
    expect(v.getBigInt('clock')).toBe(1234n);
    expect(v.get('flags')).toBe(C.KVM_CLOCK_REALTIME);
    expect(v.getBigInt('realtime')).toBe(clock.real);
  });

  it('sets the clock, which then keeps running', () => {
    const v = allocStruct(kvm_clock_data);
    v.set('clock', 10n ** 12n);
    expect(host.ioctl(vm, I.KVM_SET_CLOCK, v.bytes)).toBe(0);
    clock.advance(500);
    expect(get().getBigInt('clock')).toBe(10n ** 12n + 500n);
  });

  it('with KVM_CLOCK_REALTIME adds the wall time since the saved reading (migration)', () => {
    clock.advance(1000);
    const saved = get();
    clock.advance(7000);
    const other = new KvmHost({ clock });
    const vm2 = other.ioctl(other.open('/dev/kvm'), I.KVM_CREATE_VM, 0);
    expect(other.ioctl(vm2, I.KVM_SET_CLOCK, saved.bytes)).toBe(0);
    const now = allocStruct(kvm_clock_data);
    other.ioctl(vm2, I.KVM_GET_CLOCK, now.bytes);
    expect(now.getBigInt('clock')).toBe(8000n);
  });

  it('refuses unknown flags with EINVAL and short structs with EFAULT', () => {
    const v = allocStruct(kvm_clock_data);
    v.set('flags', 1);
    expect(host.ioctl(vm, I.KVM_SET_CLOCK, v.bytes)).toBe(-EINVAL);
    v.set('flags', C.KVM_CLOCK_TSC_STABLE | C.KVM_CLOCK_HOST_TSC);
    expect(host.ioctl(vm, I.KVM_SET_CLOCK, v.bytes)).toBe(0);
    expect(host.ioctl(vm, I.KVM_GET_CLOCK, new Uint8Array(47))).toBe(-EFAULT);
    expect(host.ioctl(vm, I.KVM_SET_CLOCK, new Uint8Array(47))).toBe(-EFAULT);
  });
});

describe('KVM_IOEVENTFD', () => {
  const ioevent = (
    fd: number,
    addr: number | bigint,
    len: number,
    flags: number,
    datamatch: bigint | number = 0,
  ) => {
    const v = allocStruct(kvm_ioeventfd);
    v.set('fd', fd);
    v.set('addr', BigInt(addr));
    v.set('len', len);
    v.set('flags', flags);
    v.set('datamatch', BigInt(datamatch));
    return host.ioctl(vm, I.KVM_IOEVENTFD, v.bytes);
  };
  const {
    KVM_IOEVENTFD_FLAG_PIO: PIO,
    KVM_IOEVENTFD_FLAG_DATAMATCH: DM,
    KVM_IOEVENTFD_FLAG_DEASSIGN: DE,
  } = C;

  it('signals the eventfd on a matching guest write, and only then', () => {
    const efd = host.eventfd();
    expect(ioevent(efd, 0xd000_0000, 4, DM, 7)).toBe(0);
    const t = host.vmState(vm)!.ioeventfds;
    expect(t.write('mmio', 0xd000_0000, 4, 6)).toBe(false);
    expect(t.write('mmio', 0xd000_0000, 2, 7)).toBe(false);
    expect(t.write('pio', 0xd000_0000, 4, 7)).toBe(false);
    expect(t.write('mmio', 0xd000_0000, 4, 7)).toBe(true);
    const buf = new Uint8Array(8);
    expect(host.read(efd, buf)).toBe(8);
    expect(buf[0]).toBe(1);
  });

  it('matches any write with no length, and any value without DATAMATCH', () => {
    const a = host.eventfd();
    const b = host.eventfd();
    expect(ioevent(a, 0x10000, 0, 0)).toBe(0);
    expect(ioevent(b, 0x510, 2, PIO)).toBe(0);
    const t = host.vmState(vm)!.ioeventfds;
    expect(t.write('mmio', 0x10000, 1, 0xff)).toBe(true);
    expect(t.write('pio', 0x510, 2, 0x1234)).toBe(true);
    expect(t.write('pio', 0x510, 1, 0x12)).toBe(false);
    expect(host.eventfdState(a)!.count).toBe(1);
    expect(host.eventfdState(b)!.count).toBe(1);
    expect(t.count('fast-mmio')).toBe(1);
  });

  it('refuses bad lengths, unknown flags, DATAMATCH without a length, and a wrapping range (EINVAL)', () => {
    const efd = host.eventfd();
    for (const len of [3, 5, 16]) expect(ioevent(efd, 0x1000, len, 0)).toBe(-EINVAL);
    expect(ioevent(efd, 0x1000, 4, 1 << 5)).toBe(-EINVAL);
    expect(ioevent(efd, 0x1000, 0, DM)).toBe(-EINVAL);
    expect(ioevent(efd, 0xffff_ffff_ffff_fffen, 4, 0)).toBe(-EINVAL);
  });

  it('resolves the fd after the argument checks: EBADF for a closed fd, EINVAL for a non-eventfd', () => {
    expect(ioevent(99, 0x1000, 3, 0)).toBe(-EINVAL);
    expect(ioevent(99, 0x1000, 4, 0)).toBe(-EBADF);
    expect(ioevent(kvm, 0x1000, 4, 0)).toBe(-EINVAL);
  });

  it('refuses a registration that collides with an existing one (EEXIST)', () => {
    const a = host.eventfd();
    const b = host.eventfd();
    expect(ioevent(a, 0x1000, 4, DM, 1)).toBe(0);
    expect(ioevent(b, 0x1000, 4, DM, 1)).toBe(-EEXIST);
    expect(ioevent(b, 0x1000, 4, 0)).toBe(-EEXIST);
    expect(ioevent(b, 0x1000, 0, 0)).toBe(-EEXIST);
    expect(ioevent(b, 0x1000, 4, DM, 2)).toBe(0);
    expect(ioevent(b, 0x1000, 2, DM, 1)).toBe(0);
    expect(ioevent(b, 0x1000, 4, DM | PIO, 1)).toBe(0);
  });

  it('deassigns only an exact match, else ENOENT', () => {
    const a = host.eventfd();
    const b = host.eventfd();
    expect(ioevent(a, 0x2000, 4, DM, 3)).toBe(0);
    expect(ioevent(b, 0x2000, 4, DM | DE, 3)).toBe(-ENOENT);
    expect(ioevent(a, 0x2000, 4, DM | DE, 4)).toBe(-ENOENT);
    expect(ioevent(a, 0x2000, 4, DE)).toBe(-ENOENT);
    expect(ioevent(a, 0x2000, 4, DM | DE, 3)).toBe(0);
    expect(host.vmState(vm)!.ioeventfds.write('mmio', 0x2000, 4, 3)).toBe(false);
    expect(ioevent(99, 0x2000, 4, DE)).toBe(-EBADF);
  });

  it('removes a length-less MMIO ioeventfd from both MMIO buses', () => {
    const a = host.eventfd();
    expect(ioevent(a, 0x3000, 0, 0)).toBe(0);
    expect(ioevent(a, 0x3000, 0, DE)).toBe(0);
    const t = host.vmState(vm)!.ioeventfds;
    expect([t.count('mmio'), t.count('fast-mmio')]).toEqual([0, 0]);
  });

  it('holds at most NR_IOBUS_DEVS devices per bus (ENOSPC)', () => {
    const a = host.eventfd();
    for (let i = 0; i < 1000; i++) expect(ioevent(a, i, 1, PIO)).toBe(0);
    expect(ioevent(a, 1000, 1, PIO)).toBe(-ENOSPC);
    expect(ioevent(a, 1000, 1, 0)).toBe(0);
  });
});

describe('KVM_IRQFD', () => {
  const irqfd = (fd: number, gsi: number, flags: number, resamplefd = 0) => {
    const v = allocStruct(kvm_irqfd);
    v.set('fd', fd);
    v.set('gsi', gsi);
    v.set('flags', flags);
    v.set('resamplefd', resamplefd);
    return host.ioctl(vm, I.KVM_IRQFD, v.bytes);
  };

  it('refuses an irqfd without an in-kernel irqchip (EINVAL), and unknown flags first', () => {
    const efd = host.eventfd();
    expect(irqfd(efd, 4, 0)).toBe(-EINVAL);
    expect(irqfd(efd, 4, C.KVM_IRQFD_FLAG_RESAMPLE, efd)).toBe(-EINVAL);
    expect(irqfd(99, 4, 1 << 2)).toBe(-EINVAL);
  });

  it('deassigns without an irqchip, checking only the fd', () => {
    const efd = host.eventfd();
    expect(irqfd(efd, 4, C.KVM_IRQFD_FLAG_DEASSIGN)).toBe(0);
    expect(irqfd(99, 4, C.KVM_IRQFD_FLAG_DEASSIGN)).toBe(-EBADF);
    expect(irqfd(kvm, 4, C.KVM_IRQFD_FLAG_DEASSIGN)).toBe(-EINVAL);
  });

  it('fails with EFAULT for a short struct', () => {
    expect(host.ioctl(vm, I.KVM_IRQFD, new Uint8Array(31))).toBe(-EFAULT);
  });
});
