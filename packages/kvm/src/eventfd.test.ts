import { describe, expect, it } from 'vitest';
import { EventFd } from './eventfd.js';
import { IrqfdTable } from './irqfd.js';
import { KvmHost } from './kernel/host.js';
import {
  EFD_NONBLOCK,
  EFD_SEMAPHORE,
  KVM_IRQFD_FLAG_DEASSIGN,
  KVM_IRQFD_FLAG_RESAMPLE,
} from './uapi/constants.js';
import { EAGAIN, EBADF, EBUSY, EINVAL } from './uapi/errno.js';

const u64 = (v: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
};
const readU64 = (b: Uint8Array): bigint => new DataView(b.buffer).getBigUint64(0, true);

describe('eventfd', () => {
  it('adds writes to the counter and drains it on read', () => {
    const host = new KvmHost();
    const fd = host.eventfd(3);
    expect(host.write(fd, u64(4n))).toBe(8);
    const buf = new Uint8Array(8);
    expect(host.read(fd, buf)).toBe(8);
    expect(readU64(buf)).toBe(7n);
    expect(host.read(fd, buf)).toBe(-EAGAIN);
  });

  it('counts down by one per read in semaphore mode', () => {
    const e = new EventFd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    const buf = new Uint8Array(8);
    expect([e.read(buf), readU64(buf)]).toEqual([8, 1n]);
    expect([e.read(buf), readU64(buf)]).toEqual([8, 1n]);
    expect(e.read(buf)).toBe(-EAGAIN);
  });

  it('refuses short buffers, a write of 2^64-1, and an overflowing write', () => {
    const e = new EventFd();
    expect(e.read(new Uint8Array(7))).toBe(-EINVAL);
    expect(e.write(new Uint8Array(7))).toBe(-EINVAL);
    expect(e.write(u64(0xffff_ffff_ffff_ffffn))).toBe(-EINVAL);
    expect(e.write(u64(0xffff_ffff_ffff_fffen))).toBe(8);
    expect(e.write(u64(1n))).toBe(-EAGAIN);
  });

  it('notifies subscribers on every successful write and shares its state across threads', () => {
    const e = new EventFd();
    let calls = 0;
    const off = e.subscribe(() => calls++);
    e.signal();
    e.write(u64(0n));
    expect(calls).toBe(1);
    off();
    e.signal();
    expect(calls).toBe(1);
    const twin = EventFd.fromShared(structuredClone(e.shared));
    expect(twin.count).toBe(2);
    expect(twin.wait(0)).toBe(true);
  });

  it('rejects unknown eventfd flags, and read/write on non-eventfd fds', () => {
    const host = new KvmHost();
    expect(host.eventfd(0, 1 << 20)).toBe(-EINVAL);
    const kvm = host.open('/dev/kvm');
    expect(host.read(kvm, new Uint8Array(8))).toBe(-EINVAL);
    expect(host.write(kvm, new Uint8Array(8))).toBe(-EINVAL);
    expect(host.read(77, new Uint8Array(8))).toBe(-EBADF);
    expect(host.write(77, new Uint8Array(8))).toBe(-EBADF);
  });
});

describe('IrqfdTable (with an irqchip present)', () => {
  const setup = () => {
    const injected: number[] = [];
    const fds = new Map<number, EventFd>([
      [10, new EventFd()],
      [11, new EventFd()],
    ]);
    const resolve = (fd: number) => fds.get(fd) ?? -EBADF;
    return { t: new IrqfdTable((gsi) => injected.push(gsi)), injected, fds, resolve };
  };

  it('injects the GSI once per signal', () => {
    const { t, injected, fds, resolve } = setup();
    expect(t.ioctl({ fd: 10, gsi: 5, flags: 0, resamplefd: 0 }, resolve, 'split')).toBe(0);
    fds.get(10)!.signal();
    fds.get(10)!.signal();
    expect(injected).toEqual([5, 5]);
    expect(fds.get(10)!.count).toBe(0);
  });

  it('delivers a signal that arrived before assignment', () => {
    const { t, injected, fds, resolve } = setup();
    fds.get(10)!.signal();
    expect(t.assign({ fd: 10, gsi: 9, flags: 0, resamplefd: 0 }, resolve, 'full')).toBe(0);
    expect(injected).toEqual([9]);
  });

  it('refuses an eventfd already used for an irq (EBUSY) and a bad fd (EBADF)', () => {
    const { t, resolve } = setup();
    expect(t.ioctl({ fd: 10, gsi: 5, flags: 0, resamplefd: 0 }, resolve, 'full')).toBe(0);
    expect(t.ioctl({ fd: 10, gsi: 6, flags: 0, resamplefd: 0 }, resolve, 'full')).toBe(-EBUSY);
    expect(t.ioctl({ fd: 12, gsi: 6, flags: 0, resamplefd: 0 }, resolve, 'full')).toBe(-EBADF);
  });

  it('needs the full irqchip for resampling and a valid resample fd', () => {
    const { t, resolve } = setup();
    const R = KVM_IRQFD_FLAG_RESAMPLE;
    expect(t.ioctl({ fd: 10, gsi: 5, flags: R, resamplefd: 11 }, resolve, 'split')).toBe(-EINVAL);
    expect(t.ioctl({ fd: 10, gsi: 5, flags: R, resamplefd: 12 }, resolve, 'full')).toBe(-EBADF);
    expect(t.ioctl({ fd: 10, gsi: 5, flags: R, resamplefd: 11 }, resolve, 'full')).toBe(0);
  });

  it('deassigns by (eventfd, gsi) and stops injecting', () => {
    const { t, injected, fds, resolve } = setup();
    t.ioctl({ fd: 10, gsi: 5, flags: 0, resamplefd: 0 }, resolve, 'full');
    expect(t.ioctl({ fd: 10, gsi: 6, flags: KVM_IRQFD_FLAG_DEASSIGN, resamplefd: 0 }, resolve, 'full')).toBe(
      0,
    );
    expect(t.size).toBe(1);
    expect(t.ioctl({ fd: 10, gsi: 5, flags: KVM_IRQFD_FLAG_DEASSIGN, resamplefd: 0 }, resolve, 'full')).toBe(
      0,
    );
    fds.get(10)!.signal();
    expect(injected).toEqual([]);
    expect(t.size).toBe(0);
  });
});
