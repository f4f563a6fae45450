import { describe, expect, it } from 'vitest';
import { DeviceStatus } from '../../constants.js';
import { hasFeature } from '../../features.js';
import {
  type BufferSpec,
  type Harness,
  harness,
  mmioHarness,
  TRANSPORT_MATRIX,
} from '../../testing/index.js';
import { MemoryBlockBackend, OverlayBlockBackend } from './backend.js';
import { BlkConfig, BlkDevice, BlkFeature, BlkRequest, BlkStatus, SECTOR_SIZE } from './device.js';

function header(type: number, sector = 0): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setUint32(8, sector % 0x1_0000_0000, true);
  v.setUint32(12, Math.floor(sector / 0x1_0000_0000), true);
  return h;
}

function segment(sector: number, count: number, flags = 0): Uint8Array {
  const s = new Uint8Array(16);
  const v = new DataView(s.buffer);
  v.setUint32(0, sector, true);
  v.setUint32(8, count, true);
  v.setUint32(12, flags, true);
  return s;
}

function image(sectors: number): Uint8Array {
  const b = new Uint8Array(sectors * SECTOR_SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

/** Submits one request and returns (status, data written before the status byte). */
function request(h: Harness, buffers: BufferSpec[], indirect = false) {
  const q = h.driver.queue(0);
  q.add(buffers, { indirect });
  h.driver.kick(0);
  const used = q.popUsed();
  if (used === null) throw new Error('no used buffer');
  const all = used.written.flatMap((w) => [...w]);
  return { status: all[all.length - 1], data: Uint8Array.from(all.slice(0, -1)), len: used.len };
}

for (const { kind, packed, name } of TRANSPORT_MATRIX) {
  describe(`virtio-blk (${name})`, () => {
    it('reports capacity, block size and seg_max in its configuration', () => {
      const h = harness(kind, new BlkDevice(new MemoryBlockBackend(image(64))), { packed });
      expect(h.driver.readConfig(BlkConfig.CAPACITY, 4)).toBe(64);
      expect(h.driver.readConfig(BlkConfig.CAPACITY + 4, 4)).toBe(0);
      expect(h.driver.readConfig(BlkConfig.BLK_SIZE, 4)).toBe(512);
      expect(h.driver.readConfig(BlkConfig.SEG_MAX, 4)).toBe(254);
      expect(h.driver.readConfig(BlkConfig.NUM_QUEUES, 2)).toBe(1);
    });

    it('reads sectors into a scattered buffer', () => {
      const img = image(64);
      const h = harness(kind, new BlkDevice(new MemoryBlockBackend(img)), { packed });
      const r = request(h, [
        { read: header(BlkRequest.IN, 3) },
        { write: 512 },
        { write: 512 },
        { write: 1 },
      ]);
      expect(r.status).toBe(BlkStatus.OK);
      expect(r.len).toBe(1025);
      expect([...r.data]).toEqual([...img.subarray(3 * 512, 5 * 512)]);
    });

    it('writes sectors and flushes them to the backend', () => {
      const backend = new MemoryBlockBackend(image(64));
      const h = harness(kind, new BlkDevice(backend), { packed });
      const data = new Uint8Array(1024).fill(0xab);
      expect(
        request(h, [{ read: header(BlkRequest.OUT, 10) }, { read: data }, { write: 1 }], true).status,
      ).toBe(BlkStatus.OK);
      expect(backend.bytes.subarray(10 * 512, 12 * 512).every((b) => b === 0xab)).toBe(true);
      expect(request(h, [{ read: header(BlkRequest.FLUSH) }, { write: 1 }]).status).toBe(BlkStatus.OK);
      expect(backend.flushes).toBe(1);
    });

    it('fails reads past the end and partial sectors with IOERR', () => {
      const h = harness(kind, new BlkDevice(new MemoryBlockBackend(image(8))), { packed });
      expect(request(h, [{ read: header(BlkRequest.IN, 7) }, { write: 1024 }, { write: 1 }]).status).toBe(
        BlkStatus.IOERR,
      );
      expect(request(h, [{ read: header(BlkRequest.IN, 0) }, { write: 100 }, { write: 1 }]).status).toBe(
        BlkStatus.IOERR,
      );
      expect(
        request(h, [{ read: header(BlkRequest.IN, 2 ** 60) }, { write: 512 }, { write: 1 }]).status,
      ).toBe(BlkStatus.IOERR);
    });

    it('answers GET_ID with the serial and unknown types with UNSUPP', () => {
      const h = harness(kind, new BlkDevice(new MemoryBlockBackend(image(8)), { serial: 'TV-0001' }), {
        packed,
      });
      const id = request(h, [{ read: header(BlkRequest.GET_ID) }, { write: 20 }, { write: 1 }]);
      expect(id.status).toBe(BlkStatus.OK);
      expect(new TextDecoder().decode(id.data).replace(/\0+$/, '')).toBe('TV-0001');
      expect(request(h, [{ read: header(99) }, { write: 1 }]).status).toBe(BlkStatus.UNSUPP);
    });

    it('writes zeroes and discards one segment, refusing UNMAP on discard', () => {
      const backend = new MemoryBlockBackend(image(16));
      const h = harness(kind, new BlkDevice(backend), { packed });
      expect(hasFeature(h.driver.features, BlkFeature.WRITE_ZEROES)).toBe(true);
      expect(
        request(h, [{ read: header(BlkRequest.WRITE_ZEROES) }, { read: segment(2, 3, 1) }, { write: 1 }])
          .status,
      ).toBe(BlkStatus.OK);
      expect(backend.bytes.subarray(2 * 512, 5 * 512).every((b) => b === 0)).toBe(true);
      expect(backend.bytes[5 * 512 + 1]).not.toBe(0);
      expect(
        request(h, [{ read: header(BlkRequest.DISCARD) }, { read: segment(0, 1, 1) }, { write: 1 }]).status,
      ).toBe(BlkStatus.UNSUPP);
      expect(
        request(h, [{ read: header(BlkRequest.DISCARD) }, { read: segment(0, 1) }, { write: 1 }]).status,
      ).toBe(BlkStatus.OK);
      expect(
        request(h, [{ read: header(BlkRequest.DISCARD) }, { read: segment(15, 2) }, { write: 1 }]).status,
      ).toBe(BlkStatus.IOERR);
    });

    it('offers RO and fails writes on a read-only drive', () => {
      const backend = new MemoryBlockBackend(image(8));
      const h = harness(kind, new BlkDevice(backend, { readOnly: true }), { packed });
      expect(hasFeature(h.driver.features, BlkFeature.RO)).toBe(true);
      const before = backend.bytes.slice();
      const r = request(h, [
        { read: header(BlkRequest.OUT, 0) },
        { read: new Uint8Array(512) },
        { write: 1 },
      ]);
      expect(r.status).toBe(BlkStatus.IOERR);
      expect(backend.bytes).toEqual(before);
    });

    it('sets DEVICE_NEEDS_RESET for a request with no status byte', () => {
      const h = harness(kind, new BlkDevice(new MemoryBlockBackend(image(8))), { packed });
      h.driver.queue(0).add([{ read: header(BlkRequest.IN, 0) }]);
      h.driver.kick(0);
      expect(h.driver.status & DeviceStatus.DEVICE_NEEDS_RESET).not.toBe(0);
      expect(h.error?.kind).toBe('MalformedRequest');
    });
  });
}

describe('snapshot overlay', () => {
  it('keeps the base image untouched and reads back its own writes', () => {
    const base = new MemoryBlockBackend(image(16));
    const original = base.bytes.slice();
    const overlay = new OverlayBlockBackend(base, new MemoryBlockBackend(base.size));
    const h = mmioHarness(new BlkDevice(overlay));
    const data = new Uint8Array(512).fill(0x5a);
    expect(request(h, [{ read: header(BlkRequest.OUT, 9) }, { read: data }, { write: 1 }]).status).toBe(
      BlkStatus.OK,
    );
    const r = request(h, [{ read: header(BlkRequest.IN, 8) }, { write: 1536 }, { write: 1 }]);
    expect([...r.data.subarray(0, 512)]).toEqual([...original.subarray(8 * 512, 9 * 512)]);
    expect(r.data.subarray(512, 1024).every((b) => b === 0x5a)).toBe(true);
    expect([...r.data.subarray(1024)]).toEqual([...original.subarray(10 * 512, 11 * 512)]);
    expect(base.bytes).toEqual(original);
  });
});
