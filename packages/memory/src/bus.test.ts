import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MmioBus, PioBus } from './buses.js';
import { MemoryError } from './errors.js';
import { ScratchDevice } from './testing/index.js';

describe('Bus', () => {
  it('routes an access to the device with the offset relative to its base', () => {
    const bus = new PioBus();
    const uart = new ScratchDevice(8);
    bus.insert(0x3f8, 8, uart, 'serial');
    bus.write(0x3fb, 1, 0x83);
    expect(uart.accesses[0]).toEqual({ write: true, offset: 3, size: 1, value: 0x83 });
    expect(bus.read(0x3fb, 1)).toBe(0x83);
  });

  it('rejects overlapping ranges with an Overlap error naming both devices', () => {
    const bus = new PioBus();
    bus.insert(0x3f8, 8, new ScratchDevice(8), 'serial0');
    expect(() => bus.insert(0x3ff, 2, new ScratchDevice(2), 'other')).toThrow(MemoryError);
    expect(() => bus.insert(0x3ff, 2, new ScratchDevice(2), 'other')).toThrow(/other.*overlaps serial0/);
    bus.insert(0x400, 1, new ScratchDevice(1), 'adjacent');
  });

  it('rejects ranges past the end of the port space', () => {
    expect(() => new PioBus().insert(0xfffe, 4, new ScratchDevice(4))).toThrow(/past bus end/);
    expect(() => new PioBus().insert(0, 0, new ScratchDevice(4))).toThrow(/InvalidArgument/);
  });

  it('reads all-ones and reports accesses where no device is', () => {
    const bus = new PioBus();
    const misses: number[] = [];
    bus.onUnassigned = (addr) => misses.push(addr);
    expect(bus.read(0x80, 1)).toBe(0xff);
    expect(bus.read(0x80, 2)).toBe(0xffff);
    expect(bus.read(0x80, 4)).toBe(0xffffffff);
    bus.write(0x80, 1, 0);
    expect(misses).toEqual([0x80, 0x80, 0x80, 0x80]);
  });

  it('splits an access wider than the device supports into little-endian pieces', () => {
    const bus = new MmioBus();
    const dev = new ScratchDevice(16, 1);
    bus.insert(0xfee00000, 16, dev);
    bus.write(0xfee00000, 4, 0x11223344);
    expect(dev.accesses.map((a) => [a.offset, a.size, a.value])).toEqual([
      [0, 1, 0x44],
      [1, 1, 0x33],
      [2, 1, 0x22],
      [3, 1, 0x11],
    ]);
    expect(bus.read(0xfee00000, 4)).toBe(0x11223344);
  });

  it('splits an access that crosses the end of a device range', () => {
    const bus = new PioBus();
    const a = new ScratchDevice(2);
    bus.insert(0x100, 2, a);
    a.bytes.set([0x12, 0x34]);
    // bytes 0x100,0x101 from the device, 0x102,0x103 unassigned (0xff)
    expect(bus.read(0x100, 4)).toBe(0xffff3412);
    expect(bus.read(0x0ff, 2)).toBe(0x12ff);
  });

  it('finds devices by binary search among many ranges', () => {
    const bus = new PioBus();
    for (let i = 0; i < 100; i++) bus.insert(i * 16, 8, new ScratchDevice(8), `d${i}`);
    expect(bus.lookup(50 * 16 + 3)?.name).toBe('d50');
    expect(bus.lookup(50 * 16 + 9)).toBeUndefined();
    expect(bus.remove(50 * 16)?.name).toBe('d50');
    expect(bus.lookup(50 * 16 + 3)).toBeUndefined();
  });

  it('behaves like a byte-level model for random devices and accesses (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            base: fc.integer({ min: 0, max: 60 }),
            len: fc.integer({ min: 1, max: 8 }),
            max: fc.constantFrom(1, 2, 4),
          }),
          { maxLength: 8 },
        ),
        fc.array(
          fc.record({
            addr: fc.integer({ min: 0, max: 70 }),
            size: fc.constantFrom(1, 2, 4),
            value: fc.integer({ min: 0, max: 0xffffffff }),
            write: fc.boolean(),
          }),
          { maxLength: 40 },
        ),
        (specs, ops) => {
          const bus = new PioBus();
          const model = new Int16Array(80).fill(-1); // -1: no device at this byte
          const devs: { base: number; dev: ScratchDevice }[] = [];
          for (const s of specs) {
            const dev = new ScratchDevice(s.len, s.max as 1 | 2 | 4);
            try {
              bus.insert(s.base, s.len, dev);
            } catch (e) {
              expect(e).toBeInstanceOf(MemoryError);
              continue;
            }
            devs.push({ base: s.base, dev });
            for (let i = 0; i < s.len; i++) model[s.base + i] = 0;
          }
          for (const op of ops) {
            const size = op.size as 1 | 2 | 4;
            if (op.write) {
              const v = size === 4 ? op.value : op.value & (2 ** (8 * size) - 1);
              bus.write(op.addr, size, v);
              for (let i = 0; i < size; i++) {
                if (model[op.addr + i]! >= 0) model[op.addr + i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
              }
            } else {
              let want = 0;
              for (let i = size - 1; i >= 0; i--) {
                const b = model[op.addr + i]!;
                want = want * 256 + (b < 0 ? 0xff : b);
              }
              expect(bus.read(op.addr, size)).toBe(want);
            }
          }
          for (const { dev } of devs) {
            for (const a of dev.accesses) expect(a.size).toBeLessThanOrEqual(dev.maxAccessSize);
          }
        },
      ),
    );
  });
});
