/**
 * KVM-selftests-style tests of KVM_SET_USER_MEMORY_REGION through the raw face (after
 * tools/testing/selftests/kvm/set_memory_region_test.c): every rule of __kvm_set_memory_region and
 * the errno it returns.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { KvmHost } from './kernel/host.js';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from './uapi/constants.js';
import { EEXIST, EFAULT, EINVAL } from './uapi/errno.js';
import { KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION } from './uapi/ioctls.js';
import { allocStruct } from './uapi/layout.js';
import { kvm_userspace_memory_region } from './uapi/structs.js';

const MB = 1 << 20;

let host: KvmHost;
let vm: number;
let ram: { addr: number; bytes: Uint8Array };

function region(
  slot: number,
  flags: number,
  gpa: number | bigint,
  size: number | bigint,
  uaddr: number | bigint,
): Uint8Array {
  const v = allocStruct(kvm_userspace_memory_region);
  v.set('slot', slot);
  v.set('flags', flags);
  v.set('guest_phys_addr', BigInt(gpa));
  v.set('memory_size', BigInt(size));
  v.set('userspace_addr', BigInt(uaddr));
  return v.bytes;
}

const set = (
  slot: number,
  flags: number,
  gpa: number | bigint,
  size: number | bigint,
  uaddr: number | bigint,
) => host.ioctl(vm, KVM_SET_USER_MEMORY_REGION, region(slot, flags, gpa, size, uaddr));

beforeEach(() => {
  host = new KvmHost();
  vm = host.ioctl(host.open('/dev/kvm'), KVM_CREATE_VM, 0);
  ram = host.mmap(4 * MB);
});

describe('KVM_SET_USER_MEMORY_REGION', () => {
  it('maps host memory into the guest: host writes are guest-visible at once', () => {
    expect(set(0, 0, 0x100000, 2 * MB, ram.addr)).toBe(0);
    ram.bytes[0x1234] = 0xab;
    const mem = host.vmState(vm)!.memslots.memory;
    expect(mem.read8(0x100000 + 0x1234)).toBe(0xab);
    mem.write8(0x100000 + 8, 0x5a);
    expect(ram.bytes[8]).toBe(0x5a);
  });

  it('rejects a size, guest address or host address that is not page-aligned with EINVAL', () => {
    expect(set(0, 0, 0, MB + 1, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 0x800, MB, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 0, MB, ram.addr + 0x10)).toBe(-EINVAL);
  });

  it('rejects every flag but LOG_DIRTY_PAGES and READONLY with EINVAL', () => {
    for (let bit = 2; bit < 32; bit++) expect(set(0, 1 << bit, 0, MB, ram.addr)).toBe(-EINVAL);
    expect(set(0, KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY, 0, MB, ram.addr)).toBe(0);
  });

  it('accepts slot ids up to KVM_USER_MEM_SLOTS - 1 and address space 0 only', () => {
    expect(set(32763, 0, 0, 4096, ram.addr)).toBe(0);
    expect(set(32764, 0, 0x1000, 4096, ram.addr)).toBe(-EINVAL);
    expect(set(0xffff, 0, 0x1000, 4096, ram.addr)).toBe(-EINVAL);
    expect(set((1 << 16) | 1, 0, 0x1000, 4096, ram.addr)).toBe(-EINVAL);
  });

  it('rejects a guest range that wraps 64 bits or ends past the MMU limit', () => {
    expect(set(0, 0, 0xffff_ffff_ffff_f000n, 0x2000, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 2n ** 52n, 4096, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 2n ** 52n - 4096n, 4096, ram.addr)).toBe(0);
  });

  it('rejects a host range outside the user address space (access_ok)', () => {
    expect(set(0, 0, 0, 0x2000, 2n ** 47n - 4096n)).toBe(-EINVAL);
    expect(set(0, 0, 0, 4096, 0xffff_8000_0000_0000n)).toBe(-EINVAL);
  });

  it('rejects more than 2^31 - 1 pages', () => {
    expect(set(0, 0, 0, 2n ** 43n, 0x1000)).toBe(-EINVAL);
  });

  it('accepts an unmapped host address, as Linux does; the guest then sees no memory there', () => {
    expect(set(0, 0, 0, MB, 0x1000)).toBe(0);
    const s = host.vmState(vm)!.memslots.get(0)!;
    expect(s.region).toBeNull();
    expect(host.vmState(vm)!.memslots.memory.read8(0x10)).toBe(0xff);
  });

  it('refuses a new slot that overlaps another with EEXIST, and accepts adjacent ones', () => {
    expect(set(0, 0, MB, MB, ram.addr)).toBe(0);
    expect(set(1, 0, MB, MB, ram.addr + MB)).toBe(-EEXIST);
    expect(set(1, 0, MB - 4096, 8192, ram.addr + MB)).toBe(-EEXIST);
    expect(set(1, 0, 2 * MB - 4096, 8192, ram.addr + MB)).toBe(-EEXIST);
    expect(set(1, 0, 0, 4 * MB, ram.addr)).toBe(-EEXIST);
    expect(set(1, 0, 0, MB, ram.addr + MB)).toBe(0);
    expect(set(2, 0, 2 * MB, MB, ram.addr + 2 * MB)).toBe(0);
  });

  it('lets two slots alias the same host memory', () => {
    expect(set(0, 0, 0, 4096, ram.addr)).toBe(0);
    expect(set(1, 0, 0x10000, 4096, ram.addr)).toBe(0);
    const mem = host.vmState(vm)!.memslots.memory;
    mem.write8(0x5, 7);
    expect(mem.read8(0x10005)).toBe(7);
  });

  it('refuses to resize, remap or flip READONLY on an existing slot with EINVAL', () => {
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(0, 0, 0, 2 * MB, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 0, MB, ram.addr + MB)).toBe(-EINVAL);
    expect(set(0, KVM_MEM_READONLY, 0, MB, ram.addr)).toBe(-EINVAL);
  });

  it('returns 0 without change when the slot is set again identically', () => {
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(host.vmState(vm)!.memslots.all()).toHaveLength(1);
  });

  it('moves a slot to a new guest address, keeping its contents, unless it would overlap', () => {
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(1, 0, 2 * MB, MB, ram.addr + MB)).toBe(0);
    ram.bytes[0x10] = 0x42;
    expect(set(0, 0, 2 * MB, MB, ram.addr)).toBe(-EEXIST);
    expect(set(0, 0, 8 * MB, MB, ram.addr)).toBe(0);
    const mem = host.vmState(vm)!.memslots.memory;
    expect(mem.read8(8 * MB + 0x10)).toBe(0x42);
    expect(mem.read8(0x10)).toBe(0xff);
  });

  it('deletes a slot with size 0, frees its range, and refuses to delete a missing slot', () => {
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(0, 0, 0, 0, 0)).toBe(0);
    expect(host.vmState(vm)!.memslots.get(0)).toBeUndefined();
    expect(set(0, 0, 0, 0, 0)).toBe(-EINVAL);
    expect(set(7, 0, 0, 0, 0)).toBe(-EINVAL);
    expect(set(1, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(0, 0, 0, 2 * MB, ram.addr)).toBe(-EEXIST);
  });

  it('makes a READONLY slot drop guest writes', () => {
    ram.bytes[0] = 0x11;
    expect(set(0, KVM_MEM_READONLY, 0, MB, ram.addr)).toBe(0);
    const mem = host.vmState(vm)!.memslots.memory;
    mem.write8(0, 0x99);
    expect(mem.read8(0)).toBe(0x11);
    expect(host.vmState(vm)!.memslots.get(0)!.region!.readonly).toBe(true);
  });

  it('fails with EFAULT when the struct is short or not a buffer', () => {
    expect(host.ioctl(vm, KVM_SET_USER_MEMORY_REGION, new Uint8Array(31))).toBe(-EFAULT);
    expect(host.ioctl(vm, KVM_SET_USER_MEMORY_REGION, 0x1000)).toBe(-EFAULT);
    expect(host.ioctl(vm, KVM_SET_USER_MEMORY_REGION)).toBe(-EFAULT);
  });

  it('checks in the kernel order: flags before alignment, overlap before the MMU limit', () => {
    expect(set(0, 1 << 7, 0x800, MB + 1, ram.addr)).toBe(-EINVAL);
    expect(set(0, 0, 0, MB, ram.addr)).toBe(0);
    expect(set(1, 0, 0, MB, ram.addr)).toBe(-EEXIST);
  });
});
