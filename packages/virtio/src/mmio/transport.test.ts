import { GuestMemory } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { DeviceStatus, TransportFeature } from '../constants.js';
import { webCryptoEntropy } from '../devices/rng/device.js';
import { RngDevice } from '../devices/rng/index.js';
import { featureBit, hasFeature } from '../features.js';
import { GuestAllocator, MmioDriver, mmioHarness } from '../testing/index.js';
import { virtioMmioCmdline, virtioMmioCmdlines } from './cmdline.js';
import { MMIO_MAGIC, MmioInterrupt, MmioReg } from './registers.js';
import { MmioTransport } from './transport.js';

const rng = () => new RngDevice(webCryptoEntropy);

describe('virtio-mmio transport', () => {
  it('identifies itself as a version 2 device of the right type', () => {
    const { driver } = mmioHarness(rng(), { stopBeforeDriverOk: true });
    expect(driver.reg(MmioReg.MAGIC_VALUE)).toBe(MMIO_MAGIC);
    expect(driver.reg(MmioReg.VERSION)).toBe(2);
    expect(driver.reg(MmioReg.DEVICE_ID)).toBe(4);
    expect(driver.reg(MmioReg.VENDOR_ID)).toBe(0x554d4551);
  });

  it('offers VERSION_1 and the ring features, packed only when asked', () => {
    const split = mmioHarness(rng(), { stopBeforeDriverOk: true }).driver.offeredFeatures();
    expect(hasFeature(split, TransportFeature.VERSION_1)).toBe(true);
    expect(hasFeature(split, TransportFeature.RING_EVENT_IDX)).toBe(true);
    expect(hasFeature(split, TransportFeature.INDIRECT_DESC)).toBe(true);
    expect(hasFeature(split, TransportFeature.RING_PACKED)).toBe(false);
    const packed = mmioHarness(rng(), { packed: true, stopBeforeDriverOk: true }).driver.offeredFeatures();
    expect(hasFeature(packed, TransportFeature.RING_PACKED)).toBe(true);
  });

  it('refuses FEATURES_OK for a driver that did not accept VERSION_1', () => {
    const { driver } = mmioHarness(rng(), { accept: 0 });
    expect(driver.status & DeviceStatus.FEATURES_OK).toBe(0);
    expect(driver.status & DeviceStatus.DRIVER_OK).toBe(0);
  });

  it('reaches DRIVER_OK after the 3.1.1 sequence and reports queue geometry', () => {
    const { driver } = mmioHarness(rng());
    expect(driver.status).toBe(
      DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK,
    );
    driver.setReg(MmioReg.QUEUE_SEL, 0);
    expect(driver.reg(MmioReg.QUEUE_NUM_MAX)).toBe(256);
    expect(driver.reg(MmioReg.QUEUE_READY)).toBe(1);
    driver.setReg(MmioReg.QUEUE_SEL, 1);
    expect(driver.reg(MmioReg.QUEUE_NUM_MAX)).toBe(0);
  });

  it('does not let the driver accept features the device did not offer', () => {
    const { driver } = mmioHarness(rng(), { stopBeforeDriverOk: true });
    const t = driver.device as MmioTransport;
    driver.setReg(MmioReg.STATUS, 0);
    driver.setReg(MmioReg.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    driver.setReg(MmioReg.DRIVER_FEATURES_SEL, 1);
    driver.setReg(MmioReg.DRIVER_FEATURES, 0xffffffff);
    driver.setReg(MmioReg.STATUS, DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER | DeviceStatus.FEATURES_OK);
    expect(t.getState().driverFeatures).toBe(featureBit(TransportFeature.VERSION_1));
  });

  for (const packed of [false, true]) {
    it(`raises the used-buffer interrupt and clears it on ACK (${packed ? 'packed' : 'split'})`, () => {
      const { driver, irq } = mmioHarness(rng(), { packed });
      expect(driver.layout).toBe(packed ? 'packed' : 'split');
      driver.queue(0).add([{ write: 16 }]);
      driver.kick(0);
      expect(irq.level).toBe(true);
      expect(driver.ackInterrupt()).toBe(MmioInterrupt.USED_BUFFER);
      expect(irq.level).toBe(false);
      expect(driver.queue(0).popUsed()?.len).toBe(16);
    });
  }

  it('completes every chain of one kick with a single interrupt', () => {
    const { driver, irq } = mmioHarness(rng());
    for (let i = 0; i < 5; i++) driver.queue(0).add([{ write: 4 }]);
    driver.kick(0);
    expect(irq.risingEdges).toBe(1);
    expect(driver.queue(0).drainUsed()).toHaveLength(5);
  });

  for (const packed of [false, true]) {
    const layout = packed ? 'packed' : 'split';
    it(`does not interrupt a driver that suppressed interrupts (${layout}, no EVENT_IDX)`, () => {
      const { driver, irq } = mmioHarness(rng(), { packed, eventIdx: false });
      driver.queue(0).setInterrupts(false);
      driver.queue(0).add([{ write: 4 }]);
      driver.kick(0);
      expect(irq.risingEdges).toBe(0);
      expect(driver.queue(0).popUsed()?.len).toBe(4);
    });

    it(`interrupts only when the used index reaches the driver's used event (${layout}, EVENT_IDX)`, () => {
      const { driver, irq } = mmioHarness(rng(), { packed, queueSize: 16 });
      const q = driver.queue(0);
      q.add([{ write: 4 }]);
      driver.kick(0);
      expect(irq.risingEdges).toBe(1);
      driver.ackInterrupt();
      // Interrupt once the used element at index 2 (the third) has been written.
      q.setUsedEvent(2, true);
      q.add([{ write: 4 }]);
      driver.kick(0);
      expect(irq.risingEdges).toBe(1);
      q.add([{ write: 4 }]);
      driver.kick(0);
      expect(irq.risingEdges).toBe(2);
    });
  }

  it('ignores queue notifications before DRIVER_OK', () => {
    const { driver, irq } = mmioHarness(rng(), { stopBeforeDriverOk: true });
    driver.queue(0).add([{ write: 16 }]);
    driver.kick(0);
    expect(irq.risingEdges).toBe(0);
    expect(driver.queue(0).popUsed()).toBeNull();
  });

  it('sets DEVICE_NEEDS_RESET and a config interrupt on a malformed chain, then recovers after reset', () => {
    const h = mmioHarness(rng());
    const q = h.driver.queue(0);
    q.add([{ read: new Uint8Array(4) }, { write: 4 }]);
    // Corrupt the first descriptor's address to point past RAM.
    h.memory.write32(q.descAddr, 0x7000_0000);
    h.driver.kick(0);
    expect(h.driver.status & DeviceStatus.DEVICE_NEEDS_RESET).not.toBe(0);
    expect(h.driver.ackInterrupt()).toBe(MmioInterrupt.CONFIG_CHANGE);
    expect(h.transport.error?.kind).toBe('DescriptorOutOfRange');
    // Further kicks do nothing.
    h.driver.kick(0);
    expect(h.irq.level).toBe(false);
    // A reset and re-initialization bring it back.
    expect(h.driver.init() & DeviceStatus.DRIVER_OK).not.toBe(0);
    h.driver.queue(0).add([{ write: 8 }]);
    h.driver.kick(0);
    expect(h.driver.queue(0).popUsed()?.len).toBe(8);
  });

  it('sets DEVICE_NEEDS_RESET when a ready queue lies outside RAM at DRIVER_OK', () => {
    const memory = GuestMemory.create(0x10000);
    const t = new MmioTransport(rng(), memory, new FakeIrqLine());
    const d = new MmioDriver(t, memory, new GuestAllocator(memory, 0x1000, 0x10000));
    d.init({ stopBeforeDriverOk: true });
    // Queue registers are frozen once ready; reset, set up by hand with a bad used ring.
    d.setReg(MmioReg.STATUS, 0);
    d.setReg(MmioReg.STATUS, 3);
    d.setReg(MmioReg.DRIVER_FEATURES_SEL, 1);
    d.setReg(MmioReg.DRIVER_FEATURES, 1);
    d.setReg(MmioReg.STATUS, 11);
    d.setReg(MmioReg.QUEUE_SEL, 0);
    d.setReg(MmioReg.QUEUE_NUM, 16);
    d.setReg(MmioReg.QUEUE_DEVICE_LOW, 0xfff0);
    d.setReg(MmioReg.QUEUE_READY, 1);
    d.setReg(MmioReg.STATUS, 15);
    expect(d.status & DeviceStatus.DEVICE_NEEDS_RESET).not.toBe(0);
    expect(t.error?.kind).toBe('InvalidQueueConfig');
  });

  it('keeps queue registers read-only while the queue is ready', () => {
    const { driver } = mmioHarness(rng(), { stopBeforeDriverOk: true });
    driver.setReg(MmioReg.QUEUE_SEL, 0);
    const before = driver.reg(MmioReg.QUEUE_DESC_LOW);
    driver.setReg(MmioReg.QUEUE_DESC_LOW, 0x5000);
    expect(driver.reg(MmioReg.QUEUE_DESC_LOW)).toBe(before);
  });

  it('reads as zero for narrow register accesses and reports no shared memory', () => {
    const { transport, driver } = mmioHarness(rng());
    expect(transport.read(MmioReg.MAGIC_VALUE, 2)).toBe(0);
    expect(driver.reg(MmioReg.SHM_LEN_LOW)).toBe(0xffffffff);
    expect(driver.reg(MmioReg.SHM_LEN_HIGH)).toBe(0xffffffff);
  });

  it('round-trips its state through JSON and keeps serving the queue', () => {
    const h = mmioHarness(rng());
    h.driver.queue(0).add([{ write: 4 }]);
    h.driver.kick(0);
    h.driver.queue(0).popUsed();
    const saved = JSON.parse(JSON.stringify(h.transport.getState()));
    const t2 = new MmioTransport(rng(), h.memory, new FakeIrqLine());
    t2.setState(saved);
    h.driver.queue(0).add([{ write: 4 }]);
    t2.write(MmioReg.QUEUE_NOTIFY, 4, 0);
    expect(h.driver.queue(0).popUsed()?.len).toBe(4);
  });
});

describe('virtio_mmio.device= command line', () => {
  it('spells the window as Linux parses it', () => {
    expect(virtioMmioCmdline({ base: 0xd0000000, irq: 5 })).toBe('virtio_mmio.device=4K@0xd0000000:5');
    expect(virtioMmioCmdline({ base: 0xfeb00000, irq: 12, size: 0x200, id: 3 })).toBe(
      'virtio_mmio.device=512@0xfeb00000:12:3',
    );
    expect(
      virtioMmioCmdlines([
        { base: 0xd0000000, irq: 5 },
        { base: 0xd0001000, irq: 6 },
      ]),
    ).toBe('virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6');
  });

  it('rejects nonsense', () => {
    expect(() => virtioMmioCmdline({ base: -1, irq: 5 })).toThrow(/InvalidArgument/);
    expect(() => virtioMmioCmdline({ base: 0x1000, irq: 5, size: 0 })).toThrow(/InvalidArgument/);
  });
});
