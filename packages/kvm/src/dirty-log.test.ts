/** KVM_GET_DIRTY_LOG through the raw face (after selftests/kvm/dirty_log_test.c, without running a guest). */
import { beforeEach, describe, expect, it } from 'vitest';
import { KvmHost } from './kernel/host.js';
import { KVM_MEM_LOG_DIRTY_PAGES } from './uapi/constants.js';
import { EFAULT, EINVAL, ENOENT } from './uapi/errno.js';
import { KVM_CREATE_VM, KVM_GET_DIRTY_LOG, KVM_SET_USER_MEMORY_REGION } from './uapi/ioctls.js';
import { allocStruct } from './uapi/layout.js';
import { kvm_dirty_log, kvm_userspace_memory_region } from './uapi/structs.js';

const PAGES = 100; // not a multiple of 64: the bitmap rounds up to 2 u64 words
let host: KvmHost;
let vm: number;
let ram: { addr: number; bytes: Uint8Array };
let bitmap: { addr: number; bytes: Uint8Array };

function setSlot(slot: number, flags: number, gpa: number, size = PAGES * 4096): number {
  const v = allocStruct(kvm_userspace_memory_region);
  v.set('slot', slot);
  v.set('flags', flags);
  v.set('guest_phys_addr', gpa);
  v.set('memory_size', size);
  v.set('userspace_addr', ram.addr);
  return host.ioctl(vm, KVM_SET_USER_MEMORY_REGION, v.bytes);
}

function getLog(slot: number, dst = bitmap.addr): number {
  const v = allocStruct(kvm_dirty_log);
  v.set('slot', slot);
  v.set('dirty_bitmap', dst);
  return host.ioctl(vm, KVM_GET_DIRTY_LOG, v.bytes);
}

const dirtyPages = (): number[] => {
  const out: number[] = [];
  for (let p = 0; p < 128; p++) if ((bitmap.bytes[p >> 3]! >> (p & 7)) & 1) out.push(p);
  return out;
};

beforeEach(() => {
  host = new KvmHost();
  vm = host.ioctl(host.open('/dev/kvm'), KVM_CREATE_VM, 0);
  ram = host.mmap(PAGES * 4096);
  bitmap = host.mmap(4096);
});

describe('KVM_GET_DIRTY_LOG', () => {
  it('reports the pages the guest wrote, one bit per page in u64 words, and clears them', () => {
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0x100000)).toBe(0);
    const mem = host.vmState(vm)!.memslots.memory;
    mem.write8(0x100000 + 3 * 4096, 1);
    mem.write32(0x100000 + 64 * 4096 + 4094, 0xdeadbeef); // straddles pages 64 and 65
    mem.write8(0x100000 + 99 * 4096, 1);
    bitmap.bytes.fill(0xff);
    expect(getLog(0)).toBe(0);
    expect(dirtyPages()).toEqual([3, 64, 65, 99]);
    expect(bitmap.bytes[16]).toBe(0xff); // only ALIGN(100, 64) / 8 = 16 bytes are written
    expect(getLog(0)).toBe(0);
    expect(dirtyPages()).toEqual([]);
  });

  it('does not report reads', () => {
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0)).toBe(0);
    host.vmState(vm)!.memslots.memory.read32(0x2000);
    expect(getLog(0)).toBe(0);
    expect(dirtyPages()).toEqual([]);
  });

  it('fails with ENOENT for a missing slot or one without LOG_DIRTY_PAGES', () => {
    expect(getLog(0)).toBe(-ENOENT);
    expect(setSlot(0, 0, 0)).toBe(0);
    expect(getLog(0)).toBe(-ENOENT);
  });

  it('fails with EINVAL for a slot id past KVM_USER_MEM_SLOTS or another address space', () => {
    expect(getLog(32764)).toBe(-EINVAL);
    expect(getLog(1 << 16)).toBe(-EINVAL);
  });

  it('fails with EFAULT when the bitmap address is not mapped or the struct is short', () => {
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0)).toBe(0);
    expect(getLog(0, 0x1000)).toBe(-EFAULT);
    expect(getLog(0, bitmap.addr + 4096 - 8)).toBe(-EFAULT);
    expect(host.ioctl(vm, KVM_GET_DIRTY_LOG, new Uint8Array(15))).toBe(-EFAULT);
  });

  it('starts and stops logging with a flags-only change, starting from a clean bitmap', () => {
    expect(setSlot(0, 0, 0)).toBe(0);
    const mem = host.vmState(vm)!.memslots.memory;
    mem.write8(0, 1);
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0)).toBe(0);
    expect(getLog(0)).toBe(0);
    expect(dirtyPages()).toEqual([]);
    mem.write8(5 * 4096, 1);
    expect(setSlot(0, 0, 0)).toBe(0);
    expect(getLog(0)).toBe(-ENOENT);
  });

  it('keeps the dirty bits across a slot move', () => {
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0)).toBe(0);
    host.vmState(vm)!.memslots.memory.write8(7 * 4096, 1);
    expect(setSlot(0, KVM_MEM_LOG_DIRTY_PAGES, 0x400000)).toBe(0);
    host.vmState(vm)!.memslots.memory.write8(0x400000 + 9 * 4096, 1);
    expect(getLog(0)).toBe(0);
    expect(dirtyPages()).toEqual([7, 9]);
  });
});
