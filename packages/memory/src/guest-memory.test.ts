import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryError } from './errors.js';
import { GuestMemory } from './guest-memory.js';

describe('GuestMemory', () => {
  it('is backed by a SharedArrayBuffer so vCPU workers can share it', () => {
    const m = GuestMemory.create(8192);
    expect(m.regions()[0]!.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(m.totalSize).toBe(8192);
  });

  it('rejects a size that is not a positive multiple of the page size', () => {
    expect(() => GuestMemory.create(1000)).toThrow(MemoryError);
    expect(() => GuestMemory.create(0)).toThrow(/InvalidArgument/);
  });

  it('reads and writes little-endian 8/16/32/64-bit values', () => {
    const m = GuestMemory.create(4096);
    m.write32(0x10, 0x11223344);
    expect(m.read8(0x10)).toBe(0x44);
    expect(m.read16(0x12)).toBe(0x1122);
    expect(m.read32(0x10)).toBe(0x11223344);
    m.write64(0x20, 0xdeadbeef, 0xcafebabe);
    const out = new Uint32Array(2);
    m.read64(0x20, out);
    expect([out[0], out[1]]).toEqual([0xdeadbeef, 0xcafebabe]);
    expect(m.read32(0x24)).toBe(0xcafebabe);
  });

  it('stores negative 32-bit values as their two-complement bit pattern', () => {
    const m = GuestMemory.create(4096);
    m.write32(0, -1);
    expect(m.read32(0)).toBe(0xffffffff);
  });

  it('reads all-ones and drops writes where no RAM is (an open bus)', () => {
    const m = GuestMemory.create(4096);
    expect(m.read8(0x5000)).toBe(0xff);
    expect(m.read32(0x5000)).toBe(0xffffffff);
    m.write32(0x5000, 0);
    expect(m.read32(0x5000)).toBe(0xffffffff);
  });

  it('splits an access that straddles the end of RAM byte by byte', () => {
    const m = GuestMemory.create(4096);
    m.write32(4094, 0x11223344);
    expect(m.read8(4094)).toBe(0x44);
    expect(m.read8(4095)).toBe(0x33);
    expect(m.read32(4094)).toBe(0xffff3344);
  });

  it('refuses bulk copies that leave RAM and copies nothing', () => {
    const m = GuestMemory.create(4096);
    expect(m.writeBytes(4090, new Uint8Array(10).fill(7))).toBe(false);
    expect(m.read8(4090)).toBe(0);
    expect(m.readBytes(4000, new Uint8Array(200))).toBe(false);
    expect(m.subarray(4000, 200)).toBeUndefined();
    expect(m.fill(4095, 2, 1)).toBe(false);
  });

  it('holds several regions and rejects overlapping ones', () => {
    const m = new GuestMemory();
    m.addRegion(0, new Uint8Array(4096));
    m.addRegion(0x100000, new Uint8Array(4096));
    expect(() => m.addRegion(0x100800, new Uint8Array(4096))).toThrow(/Overlap/);
    m.write8(0x100010, 9);
    expect(m.read8(0x100010)).toBe(9);
    expect(m.contains(0x2000, 1)).toBe(false);
    expect(m.removeRegion(0x100000)).toBe(true);
    expect(m.read8(0x100010)).toBe(0xff);
  });

  it('ignores writes to a read-only region (ROM)', () => {
    const m = new GuestMemory();
    const rom = new Uint8Array(4096).fill(0xaa);
    m.addRegion(0xf0000, rom, { readonly: true });
    m.write8(0xf0000, 1);
    expect(m.read8(0xf0000)).toBe(0xaa);
    expect(m.writeBytes(0xf0000, new Uint8Array([1]))).toBe(false);
  });

  it('marks written pages dirty only while dirty logging is on', () => {
    const m = GuestMemory.create(16 * 4096);
    m.write8(0, 1);
    const bitmap = m.enableDirtyLog(0, true)!;
    expect(bitmap.count()).toBe(0);
    m.write8(3 * 4096 + 5, 1);
    m.write32(5 * 4096 - 2, 1); // straddles pages 4 and 5
    m.writeBytes(9 * 4096, new Uint8Array(1));
    expect([3, 4, 5, 6, 9].map((p) => bitmap.isDirty(p))).toEqual([true, true, true, false, true]);
    expect(bitmap.count()).toBe(4);
    m.enableDirtyLog(0, false);
    m.write8(10 * 4096, 1);
    expect(bitmap.isDirty(10)).toBe(false);
  });

  it('agrees with a byte-array model for random accesses (property)', () => {
    const size = 8192;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            addr: fc.integer({ min: -8, max: size + 8 }),
            width: fc.constantFrom(1, 2, 4),
            value: fc.integer({ min: 0, max: 0xffffffff }),
            write: fc.boolean(),
          }),
          { maxLength: 50 },
        ),
        (ops) => {
          const m = GuestMemory.create(size);
          const model = new Uint8Array(size);
          for (const op of ops) {
            if (op.write) {
              if (op.width === 1) m.write8(op.addr, op.value & 0xff);
              else if (op.width === 2) m.write16(op.addr, op.value & 0xffff);
              else m.write32(op.addr, op.value);
              for (let i = 0; i < op.width; i++) {
                const a = op.addr + i;
                if (a >= 0 && a < size) model[a] = (op.value >>> (8 * i)) & 0xff;
              }
            } else {
              const got =
                op.width === 1 ? m.read8(op.addr) : op.width === 2 ? m.read16(op.addr) : m.read32(op.addr);
              let want = 0;
              for (let i = op.width - 1; i >= 0; i--) {
                const a = op.addr + i;
                want = want * 256 + (a >= 0 && a < size ? model[a]! : 0xff);
              }
              expect(got).toBe(want);
            }
          }
        },
      ),
    );
  });
});
