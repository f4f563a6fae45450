import { describe, expect, it } from 'vitest';
import { DirtyBitmap } from './dirty-bitmap.js';

describe('DirtyBitmap', () => {
  it('rounds its size up to whole 64-bit words as KVM_GET_DIRTY_LOG does', () => {
    expect(new DirtyBitmap(1).byteLength).toBe(8);
    expect(new DirtyBitmap(64).byteLength).toBe(8);
    expect(new DirtyBitmap(65).byteLength).toBe(16);
  });

  it('harvests in the KVM layout (bit i of little-endian u64 words = page i) and clears', () => {
    const b = new DirtyBitmap(128);
    b.mark(0);
    b.mark(9);
    b.mark(64 + 33);
    const out = new Uint8Array(16);
    expect(b.harvest(out)).toBe(true);
    const dv = new DataView(out.buffer);
    expect(dv.getBigUint64(0, true)).toBe((1n << 0n) | (1n << 9n));
    expect(dv.getBigUint64(8, true)).toBe(1n << 33n);
    expect(b.count()).toBe(0);
  });

  it('refuses a harvest buffer that is too small', () => {
    expect(new DirtyBitmap(65).harvest(new Uint8Array(8))).toBe(false);
  });

  it('ignores pages outside the tracked range', () => {
    const b = new DirtyBitmap(10);
    b.mark(10);
    b.mark(-1);
    expect(b.count()).toBe(0);
  });

  it('marks every page a byte range touches', () => {
    const b = new DirtyBitmap(10);
    b.markRange(4095, 2);
    expect([b.isDirty(0), b.isDirty(1), b.isDirty(2)]).toEqual([true, true, false]);
  });
});
