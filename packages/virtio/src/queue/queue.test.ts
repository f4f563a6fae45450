import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { TransportFeature } from '../constants.js';
import { isQueueError } from '../index.js';
import { features } from '../features.js';
import { DescFlag } from '../constants.js';
import { DriverQueue, GuestAllocator, PackedDriverQueue, SplitDriverQueue } from '../testing/index.js';
import { type DescriptorChain, readFromChain, writeToChain } from './chain.js';
import { type RingLayout, Virtqueue } from './queue.js';

const RAM = 0x10_0000;

function setup(layout: RingLayout, opts: { size?: number; indirect?: boolean; eventIdx?: boolean } = {}) {
  const memory = GuestMemory.create(RAM);
  const alloc = new GuestAllocator(memory, 0x1000, RAM);
  const size = opts.size ?? 8;
  const driver = DriverQueue.create(layout, memory, alloc, size, opts.eventIdx ?? false);
  const q = new Virtqueue(size);
  q.descAddr = driver.descAddr;
  q.driverAddr = driver.driverAddr;
  q.deviceAddr = driver.deviceAddr;
  q.ready = true;
  const bits: number[] = [TransportFeature.VERSION_1];
  if (layout === 'packed') bits.push(TransportFeature.RING_PACKED);
  if (opts.indirect ?? true) bits.push(TransportFeature.INDIRECT_DESC);
  if (opts.eventIdx) bits.push(TransportFeature.RING_EVENT_IDX);
  expect(q.activate(memory, features(...bits))).toBeNull();
  return { memory, alloc, driver, q };
}

function popChain(q: Virtqueue): DescriptorChain {
  const r = q.pop();
  if (r === null || isQueueError(r)) throw new Error(`expected a chain, got ${JSON.stringify(r)}`);
  return r;
}

const bytes = (...b: number[]) => Uint8Array.from(b);

for (const layout of ['split', 'packed'] as const) {
  describe(`${layout} ring`, () => {
    it('pops a readable+writable chain and returns it through the used ring', () => {
      const { memory, driver, q } = setup(layout);
      const id = driver.add([{ read: bytes(1, 2, 3) }, { read: bytes(4) }, { write: 8 }]);
      const chain = popChain(q);
      expect(chain.id).toBe(id);
      expect(chain.readableLength).toBe(4);
      expect(chain.writableLength).toBe(8);
      const got = new Uint8Array(4);
      expect(readFromChain(memory, chain, 0, got)).toBe(4);
      expect([...got]).toEqual([1, 2, 3, 4]);
      expect(writeToChain(memory, chain, 0, bytes(9, 8, 7))).toBe(3);
      q.push(chain, 3);
      expect(q.pop()).toBeNull();
      const used = driver.popUsed();
      expect(used?.id).toBe(id);
      expect(used?.len).toBe(3);
      expect([...(used?.data ?? [])]).toEqual([9, 8, 7]);
    });

    it('follows an indirect table', () => {
      const { driver, q } = setup(layout);
      driver.add([{ read: bytes(1, 2) }, { write: 4 }, { write: 2 }], { indirect: true });
      const chain = popChain(q);
      expect(chain.readable.length).toBe(1);
      expect(chain.writable.length).toBe(2);
      expect(chain.writableLength).toBe(6);
    });

    it('rejects an indirect descriptor when INDIRECT_DESC was not negotiated', () => {
      const { driver, q } = setup(layout, { indirect: false });
      driver.add([{ read: bytes(1) }], { indirect: true });
      const r = q.pop();
      expect(isQueueError(r) && r.kind).toBe('InvalidIndirectDescriptor');
    });

    it('keeps going across many laps of the ring with out-of-order completion', () => {
      const { driver, q } = setup(layout, { size: 4 });
      for (let lap = 0; lap < 50; lap++) {
        const a = driver.add([{ read: bytes(lap & 0xff) }, { write: 1 }]);
        const b = driver.add([{ write: 2 }]);
        const ca = popChain(q);
        const cb = popChain(q);
        expect([ca.id, cb.id]).toEqual([a, b]);
        q.push(cb, 2);
        q.push(ca, 1);
        const used = driver.drainUsed();
        expect(used.map((u) => u.id)).toEqual([b, a]);
        driver.alloc.release(driver.alloc.mark());
      }
    });

    it('without EVENT_IDX interrupts unless the driver suppressed interrupts', () => {
      const { driver, q } = setup(layout);
      driver.add([{ write: 1 }]);
      q.push(popChain(q), 1);
      expect(q.needsNotification()).toBe(true);
      driver.setInterrupts(false);
      driver.add([{ write: 1 }]);
      q.push(popChain(q), 1);
      expect(q.needsNotification()).toBe(false);
    });

    it('without EVENT_IDX asks for no kicks while notifications are disabled', () => {
      const { driver, q } = setup(layout);
      q.disableNotification();
      driver.add([{ write: 1 }]);
      expect(driver.kickNeeded()).toBe(false);
      expect(q.enableNotification()).toBe(true);
      driver.add([{ write: 1 }]);
      expect(driver.kickNeeded()).toBe(true);
    });

    it('with EVENT_IDX interrupts only when the used index passes the used event', () => {
      const { driver, q } = setup(layout, { eventIdx: true, size: 16 });
      for (let i = 0; i < 4; i++) driver.add([{ write: 1 }]);
      q.push(popChain(q), 1);
      // The first decision always interrupts (nothing signalled yet).
      expect(q.needsNotification()).toBe(true);
      // Ask for an interrupt once the used element at index 2 has been written (both layouts).
      driver.setUsedEvent(2, true);
      q.push(popChain(q), 1);
      expect(q.needsNotification()).toBe(false);
      q.push(popChain(q), 1);
      expect(q.needsNotification()).toBe(true);
      q.push(popChain(q), 1);
      expect(q.needsNotification()).toBe(false);
    });

    it('with EVENT_IDX asks for a kick for the first buffer after the device drained the ring', () => {
      const { driver, q } = setup(layout, { eventIdx: true });
      driver.add([{ write: 1 }]);
      expect(driver.kickNeeded()).toBe(true);
      popChain(q);
      driver.add([{ write: 1 }]);
      expect(driver.kickNeeded()).toBe(true);
      q.disableNotification();
      popChain(q);
      driver.add([{ write: 1 }]);
      expect(driver.kickNeeded()).toBe(false);
    });

    it('reports an empty ring as null and an inactive queue pops nothing', () => {
      const { q } = setup(layout);
      expect(q.pop()).toBeNull();
      q.deactivate();
      expect(q.pop()).toBeNull();
      expect(q.needsNotification()).toBe(false);
    });

    it('rejects a buffer outside guest RAM', () => {
      const { driver, q } = setup(layout);
      if (driver instanceof SplitDriverQueue) {
        driver.writeDescriptor(0, RAM - 4, 8, 0, 0);
        driver.publish(0);
      } else if (driver instanceof PackedDriverQueue) {
        driver.writeDescriptor(0, RAM - 4, 8, 0, PackedDriverQueue.availFlags(true));
      }
      const r = q.pop();
      expect(isQueueError(r) && r.kind).toBe('DescriptorOutOfRange');
    });

    it('rejects a readable descriptor after a writable one', () => {
      const { driver, q } = setup(layout);
      if (driver instanceof SplitDriverQueue) {
        driver.writeDescriptor(0, 0x8000, 8, DescFlag.WRITE | DescFlag.NEXT, 1);
        driver.writeDescriptor(1, 0x9000, 8, 0, 0);
        driver.publish(0);
      } else if (driver instanceof PackedDriverQueue) {
        driver.writeDescriptor(1, 0x9000, 8, 0, PackedDriverQueue.availFlags(true));
        driver.writeDescriptor(
          0,
          0x8000,
          8,
          0,
          DescFlag.WRITE | DescFlag.NEXT | PackedDriverQueue.availFlags(true),
        );
      }
      const r = q.pop();
      expect(isQueueError(r) && r.kind).toBe('WriteOnlyOrderViolated');
    });

    it('rejects a chain that never ends', () => {
      const { driver, q } = setup(layout, { size: 4 });
      if (driver instanceof SplitDriverQueue) {
        driver.writeDescriptor(0, 0x8000, 8, DescFlag.NEXT, 1);
        driver.writeDescriptor(1, 0x8000, 8, DescFlag.NEXT, 0);
        driver.publish(0);
      } else if (driver instanceof PackedDriverQueue) {
        for (let i = 0; i < 4; i++) {
          driver.writeDescriptor(i, 0x8000, 8, 0, DescFlag.NEXT | PackedDriverQueue.availFlags(true));
        }
      }
      const r = q.pop();
      expect(isQueueError(r) && r.kind).toBe('DescriptorChainTooLong');
    });

    it('rejects a nested indirect table and an indirect descriptor with NEXT', () => {
      const { memory, alloc, driver, q } = setup(layout);
      const table = alloc.alloc(32, 16);
      memory.write64(table, 0x8000, 0);
      memory.write32(table + 8, 16);
      memory.write16(table + 12 + (layout === 'split' ? 0 : 2), DescFlag.INDIRECT);
      if (driver instanceof SplitDriverQueue) {
        driver.writeDescriptor(0, table, 32, DescFlag.INDIRECT, 0);
        driver.publish(0);
      } else if (driver instanceof PackedDriverQueue) {
        driver.writeDescriptor(0, table, 32, 0, DescFlag.INDIRECT | PackedDriverQueue.availFlags(true));
      }
      const r = q.pop();
      expect(isQueueError(r) && r.kind).toBe('InvalidIndirectDescriptor');
    });

    it('saves and restores its position as plain JSON', () => {
      const { memory, driver, q } = setup(layout, { size: 4 });
      for (let i = 0; i < 6; i++) {
        driver.add([{ write: 1 }]);
        q.push(popChain(q), 1);
        driver.drainUsed();
      }
      const state = JSON.parse(JSON.stringify(q.getState()));
      const copy = new Virtqueue(4);
      copy.setState(state);
      const f = features(
        TransportFeature.INDIRECT_DESC,
        ...(layout === 'packed' ? [TransportFeature.RING_PACKED] : []),
      );
      expect(copy.activate(memory, f)).toBeNull();
      const id = driver.add([{ write: 1 }]);
      expect(popChain(copy).id).toBe(id);
    });
  });
}

describe('split ring index checks', () => {
  it('reports InvalidAvailRingIndex when avail.idx runs more than the queue size ahead', () => {
    const { driver, q } = setup('split', { size: 8 });
    (driver as SplitDriverQueue).setAvailIdx(9);
    const r = q.pop();
    expect(isQueueError(r) && r.kind).toBe('InvalidAvailRingIndex');
  });

  it('reports InvalidDescriptorIndex for a head past the table', () => {
    const { driver, q } = setup('split', { size: 8 });
    (driver as SplitDriverQueue).publish(8);
    const r = q.pop();
    expect(isQueueError(r) && r.kind).toBe('InvalidDescriptorIndex');
  });

  it('refuses a size that is not a power of two', () => {
    const memory = GuestMemory.create(RAM);
    const q = new Virtqueue(8);
    q.size = 6;
    expect(q.activate(memory, 0)?.kind).toBe('InvalidQueueConfig');
  });

  it("refuses a size above the device's maximum", () => {
    const memory = GuestMemory.create(RAM);
    const q = new Virtqueue(8);
    q.size = 16;
    expect(q.activate(memory, 0)?.kind).toBe('InvalidQueueConfig');
  });

  it('refuses rings outside guest RAM', () => {
    const memory = GuestMemory.create(RAM);
    const q = new Virtqueue(8);
    q.descAddr = 0;
    q.driverAddr = 0x200;
    q.deviceAddr = RAM;
    expect(q.activate(memory, 0)?.kind).toBe('InvalidQueueConfig');
  });
});
