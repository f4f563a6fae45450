import { describe, expect, it } from 'vitest';
import { harness, mmioHarness, pciHarness, TRANSPORT_MATRIX } from '../../testing/index.js';
import { LoopbackNetBackend, type NetBackend, NetHub } from './backend.js';
import { NET_HEADER_SIZE, NET_S_LINK_UP, NetConfig, NetDevice, NetQueue, parseMac } from './device.js';

class RecordingBackend implements NetBackend {
  sent: Uint8Array[] = [];
  receive: (frame: Uint8Array) => void = () => {};
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }
}

const frame = (n: number, fill: number) => new Uint8Array(n).fill(fill);

for (const { kind, packed, name } of TRANSPORT_MATRIX) {
  describe(`virtio-net (${name})`, () => {
    it('reports its MAC, link up and one queue pair', () => {
      const h = harness(kind, new NetDevice(new RecordingBackend(), { mac: '02:00:00:aa:bb:cc' }), {
        packed,
      });
      const mac = [0, 1, 2, 3, 4, 5].map((i) => h.driver.readConfig(NetConfig.MAC + i, 1));
      expect(mac).toEqual([2, 0, 0, 0xaa, 0xbb, 0xcc]);
      expect(h.driver.readConfig(NetConfig.STATUS, 2)).toBe(NET_S_LINK_UP);
      expect(h.driver.readConfig(NetConfig.MAX_VIRTQUEUE_PAIRS, 2)).toBe(1);
    });

    it('strips the virtio-net header from transmitted frames', () => {
      const backend = new RecordingBackend();
      const h = harness(kind, new NetDevice(backend), { packed });
      h.driver
        .queue(NetQueue.TRANSMIT)
        .add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame(60, 7) }]);
      h.driver.kick(NetQueue.TRANSMIT);
      expect(backend.sent.map((f) => f.length)).toEqual([60]);
      expect(backend.sent[0]?.every((b) => b === 7)).toBe(true);
      expect(h.driver.queue(NetQueue.TRANSMIT).popUsed()?.len).toBe(0);
    });

    it('prepends a header with num_buffers = 1 to received frames and interrupts', () => {
      const backend = new RecordingBackend();
      const dev = new NetDevice(backend);
      const h = harness(kind, dev, { packed });
      const rx = h.driver.queue(NetQueue.RECEIVE);
      rx.add([{ write: 1526 }]);
      h.driver.kick(NetQueue.RECEIVE);
      const edges = h.irq.risingEdges;
      backend.receive(frame(64, 9));
      expect(h.irq.risingEdges).toBe(edges + 1);
      const used = rx.popUsed();
      expect(used?.len).toBe(NET_HEADER_SIZE + 64);
      expect(used?.data[10]).toBe(1);
      expect(used?.data.subarray(NET_HEADER_SIZE).every((b) => b === 9)).toBe(true);
    });

    it('holds frames until receive buffers arrive and drops them past the backlog', () => {
      const backend = new RecordingBackend();
      const dev = new NetDevice(backend, { rxBacklog: 2 });
      const h = harness(kind, dev, { packed });
      for (let i = 0; i < 3; i++) backend.receive(frame(60, i));
      expect(dev.stats.rxDropped).toBe(1);
      const rx = h.driver.queue(NetQueue.RECEIVE);
      for (let i = 0; i < 3; i++) rx.add([{ write: 2048 }]);
      h.driver.kick(NetQueue.RECEIVE);
      expect(rx.drainUsed().map((u) => u.data[NET_HEADER_SIZE])).toEqual([0, 1]);
    });

    it('drops a frame that does not fit the receive buffer', () => {
      const backend = new RecordingBackend();
      const dev = new NetDevice(backend);
      const h = harness(kind, dev, { packed });
      const rx = h.driver.queue(NetQueue.RECEIVE);
      rx.add([{ write: 100 }]);
      h.driver.kick(NetQueue.RECEIVE);
      backend.receive(frame(200, 1));
      expect(dev.stats.rxDropped).toBe(1);
      expect(rx.popUsed()?.len).toBe(0);
    });
  });
}

describe('loopback and hub backends', () => {
  it('loops a transmitted frame back into the same guest', () => {
    const h = mmioHarness(new NetDevice(new LoopbackNetBackend()));
    h.driver.queue(NetQueue.RECEIVE).add([{ write: 2048 }]);
    h.driver.kick(NetQueue.RECEIVE);
    h.driver
      .queue(NetQueue.TRANSMIT)
      .add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame(42, 0x33) }]);
    h.driver.kick(NetQueue.TRANSMIT);
    expect(h.driver.queue(NetQueue.RECEIVE).popUsed()?.len).toBe(NET_HEADER_SIZE + 42);
  });

  it('carries frames between two devices on one hub (one per transport) and not back to the sender', () => {
    const hub = new NetHub();
    const a = mmioHarness(new NetDevice(hub.port(), { mac: '52:54:00:00:00:01' }));
    const b = pciHarness(new NetDevice(hub.port(), { mac: '52:54:00:00:00:02' }));
    for (const h of [a, b]) {
      h.driver.queue(NetQueue.RECEIVE).add([{ write: 2048 }]);
      h.driver.kick(NetQueue.RECEIVE);
    }
    a.driver
      .queue(NetQueue.TRANSMIT)
      .add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame(60, 0xa1) }]);
    a.driver.kick(NetQueue.TRANSMIT);
    expect(b.driver.queue(NetQueue.RECEIVE).popUsed()?.data[NET_HEADER_SIZE]).toBe(0xa1);
    expect(a.driver.queue(NetQueue.RECEIVE).popUsed()).toBeNull();
  });

  it('parses MAC addresses and rejects malformed ones', () => {
    expect([...parseMac('52:54:00:12:34:56')]).toEqual([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(() => parseMac('52:54:00:12:34')).toThrow(/InvalidArgument/);
  });
});
