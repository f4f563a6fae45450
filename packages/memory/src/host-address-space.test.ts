import { describe, expect, it } from 'vitest';
import { HostAddressSpace, MMAP_BASE } from './host-address-space.js';

describe('HostAddressSpace', () => {
  it('returns page-aligned, non-overlapping addresses backed by shared memory', () => {
    const as = new HostAddressSpace();
    const a = as.mmap(100)!;
    const b = as.mmap(8192)!;
    expect(a.addr).toBe(MMAP_BASE);
    expect(a.length).toBe(4096);
    expect(b.addr % 4096).toBe(0);
    expect(b.addr).toBeGreaterThanOrEqual(a.addr + a.length + 4096); // guard page between
    expect(a.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('gives views into a mapping and nothing past its end (EFAULT for the caller)', () => {
    const as = new HostAddressSpace();
    const m = as.mmap(4096)!;
    m.bytes[10] = 42;
    expect(as.view(m.addr + 10, 1)![0]).toBe(42);
    expect(as.view(m.addr + 4000, 200)).toBeUndefined();
    expect(as.view(m.addr - 1, 1)).toBeUndefined();
  });

  it('rejects bad lengths and forgets unmapped ranges', () => {
    const as = new HostAddressSpace();
    expect(as.mmap(0)).toBeUndefined();
    expect(as.mmap(-5)).toBeUndefined();
    const m = as.mmap(4096)!;
    expect(as.munmap(m.addr)).toBe(true);
    expect(as.munmap(m.addr)).toBe(false);
    expect(as.view(m.addr, 1)).toBeUndefined();
  });
});
