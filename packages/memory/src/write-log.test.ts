import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from './guest-memory.js';
import { HostAddressSpace } from './host-address-space.js';
import { WriteConsumer, WriteLog } from './write-log.js';

/** Every page `drain` names, in order. */
function drained(c: WriteConsumer): number[] {
  const pages: number[] = [];
  c.drain((p) => pages.push(p));
  return pages;
}

describe('WriteLog', () => {
  it('marks the pages of a range for each consumer, which drains them once', () => {
    const log = new WriteLog(8);
    const a = log.consumer(0);
    const b = log.consumer(1);
    expect(log.consumer(0)).toBe(a);
    log.mark(0xfff, 2); // the last byte of page 0 and the first of page 1
    log.mark(5 * 4096, 4096);
    expect(a.pending).toBe(true);
    expect(drained(a)).toEqual([0, 1, 5]);
    expect(a.pending).toBe(false);
    expect(drained(a)).toEqual([]);
    // The other consumer's marks are its own.
    expect(drained(b)).toEqual([0, 1, 5]);
  });

  it('gives a consumer made later only the writes after it, and ignores empty ranges and pages past the end', () => {
    const log = new WriteLog(4);
    log.mark(0, 4096);
    const c = log.consumer(3);
    expect(c.pending).toBe(false);
    log.mark(4096, 0);
    log.mark(3 * 4096, 3 * 4096);
    expect(drained(c)).toEqual([3]);
  });

  it('hands a worker the one consumer it was sent, over the same shared words', () => {
    const log = new WriteLog(40);
    const mine = log.consumer(2);
    const there = WriteLog.of(new WriteConsumer(40, mine.words));
    expect(there.consumer(7).words.buffer).toBe(mine.words.buffer);
    log.mark(33 * 4096, 1);
    expect(drained(there.consumer(2))).toEqual([33]);
    expect(mine.pending).toBe(false);
    expect(() => new WriteConsumer(40, new Int32Array(2))).toThrow(RangeError);
  });
});

describe('GuestMemory with a write log', () => {
  it('marks the buffer pages of every write path, for a region that views its mapping at an offset', () => {
    const space = new HostAddressSpace();
    const m = space.mmap(16 * 4096)!;
    // The region views the mapping from page 2: log pages are counted from the buffer's start.
    const mem = new GuestMemory();
    mem.addRegion(0x10000, m.bytes.subarray(2 * 4096, 10 * 4096), { writes: m.writes });
    const c = m.writes!.consumer(0);
    const ops = fc.oneof(
      fc.record({ kind: fc.constant('w8' as const), at: fc.nat({ max: 8 * 4096 - 1 }) }),
      fc.record({ kind: fc.constant('w16' as const), at: fc.nat({ max: 8 * 4096 - 2 }) }),
      fc.record({ kind: fc.constant('w32' as const), at: fc.nat({ max: 8 * 4096 - 4 }) }),
      fc.record({
        kind: fc.constantFrom('bytes' as const, 'fill' as const, 'view' as const),
        at: fc.nat({ max: 8 * 4096 - 1 }),
        length: fc.integer({ min: 1, max: 3 * 4096 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(ops, { maxLength: 6 }), (list) => {
        drained(c);
        const want = new Set<number>();
        for (const op of list) {
          const gpa = 0x10000 + op.at;
          const length =
            op.kind === 'w8'
              ? 1
              : op.kind === 'w16'
                ? 2
                : op.kind === 'w32'
                  ? 4
                  : Math.min(op.length, 8 * 4096 - op.at);
          if (op.kind === 'w8') mem.write8(gpa, 1);
          else if (op.kind === 'w16') mem.write16(gpa, 1);
          else if (op.kind === 'w32') mem.write32(gpa, 1);
          else if (op.kind === 'bytes') expect(mem.writeBytes(gpa, new Uint8Array(length))).toBe(true);
          else if (op.kind === 'fill') expect(mem.fill(gpa, length, 7)).toBe(true);
          else {
            mem.subarray(gpa, length)!.fill(9);
            mem.markDirty(gpa, length);
          }
          for (let p = Math.floor(op.at / 4096); p <= Math.floor((op.at + length - 1) / 4096); p++)
            want.add(p + 2);
        }
        expect(drained(c)).toEqual([...want].sort((x, y) => x - y));
      }),
      { numRuns: 300 },
    );
  });

  it('marks nothing for reads, for writes outside its regions, or without a log', () => {
    const space = new HostAddressSpace();
    const m = space.mmap(4 * 4096)!;
    const logged = new GuestMemory();
    logged.addRegion(0, m.bytes, { writes: m.writes });
    const plain = new GuestMemory();
    plain.addRegion(0, m.bytes);
    const c = m.writes!.consumer(0);
    logged.read32(0x100);
    logged.write8(0x10_0000, 1);
    plain.write32(0x2000, 5);
    expect(c.pending).toBe(false);
    expect(space.mapBytes(new Uint8Array(10)).writes).toBeNull();
  });
});
