import { type PciBarMapping, PciHost, PciRegs } from '@typevisor/devices';
import { GuestMemory } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { DeviceStatus, TransportFeature } from '../constants.js';
import { BlkDevice } from '../devices/blk/device.js';
import { MemoryBlockBackend } from '../devices/blk/backend.js';
import { RngDevice } from '../devices/rng/device.js';
import { hasFeature } from '../features.js';
import {
  FAKE_BAR4,
  FAKE_MSI_ADDRESS,
  FAKE_MSI_DATA_BASE,
  GuestAllocator,
  PciDriver,
  pciHarness,
} from '../testing/index.js';
import {
  CommonCfg,
  IsrBit,
  ModernBar,
  MsixBar,
  MsixCap,
  MsixEntry,
  NO_VECTOR,
  NOTIFY_OFF_MULTIPLIER,
  PciCap,
  PciCapType,
} from './registers.js';
import { VirtioPciDevice } from './transport.js';

const rng = () => new RngDevice({ fill: (d) => d.fill(7) });

describe('virtio-pci identity and layout', () => {
  it('is a modern-only function: vendor 0x1af4, device 0x1040 + type, revision 1', () => {
    const pci = new VirtioPciDevice(new BlkDevice(new MemoryBlockBackend(4096)), GuestMemory.create(0x10000));
    expect(pci.configRead(PciRegs.VENDOR_ID, 2)).toBe(0x1af4);
    expect(pci.configRead(PciRegs.DEVICE_ID, 2)).toBe(0x1042);
    expect(pci.configRead(PciRegs.REVISION_ID, 1)).toBe(1);
    expect(pci.configRead(PciRegs.REVISION_ID, 4) >>> 8).toBe(0x010000);
    expect(pci.configRead(PciRegs.SUBSYSTEM_VENDOR_ID, 2)).toBe(0x1af4);
    expect(pci.configRead(PciRegs.INTERRUPT_PIN, 1)).toBe(1);
  });

  it('points its vendor capabilities at the four structures in BAR 4 and offers an MSI-X table in BAR 1', () => {
    const h = pciHarness(rng(), { stopBeforeDriverOk: true });
    const d = h.driver;
    expect(d.structure(PciCapType.COMMON_CFG)).toMatchObject({
      bar: 4,
      offset: ModernBar.COMMON,
      length: CommonCfg.SIZE,
    });
    expect(d.structure(PciCapType.ISR_CFG)).toMatchObject({ bar: 4, offset: ModernBar.ISR, length: 1 });
    expect(d.structure(PciCapType.DEVICE_CFG)).toMatchObject({ bar: 4, offset: ModernBar.DEVICE });
    expect(d.structure(PciCapType.NOTIFY_CFG)).toMatchObject({ bar: 4, offset: ModernBar.NOTIFY });
    expect(d.structures.has(PciCapType.PCI_CFG)).toBe(true);
    expect(d.notifyMultiplier).toBe(NOTIFY_OFF_MULTIPLIER);
    expect(d.msixCap).not.toBe(0);
    const cap = d.structure(PciCapType.NOTIFY_CFG).cap;
    expect(h.transport.configRead(cap + PciCap.LEN, 1)).toBe(PciCap.NOTIFY_SIZE);
    // Two vectors for a one-queue device: config + queue.
    expect(h.transport.configRead(d.msixCap + MsixCap.CONTROL, 2) & MsixCap.CONTROL_TABLE_SIZE_MASK).toBe(1);
    expect(h.transport.configRead(d.msixCap + MsixCap.TABLE, 4)).toBe(MsixBar.TABLE | 1);
  });

  it('reports BAR placement to the observer once memory decoding is on', () => {
    const maps: PciBarMapping[] = [];
    const pci = new VirtioPciDevice(rng(), GuestMemory.create(0x10000), {
      barObserver: { barChanged: (m) => maps.push(m) },
    });
    pci.configWrite(PciRegs.BAR0 + 16, 4, 0xffff_ffff);
    expect(pci.configRead(PciRegs.BAR0 + 16, 4) >>> 0).toBe((0xffff_c000 | 0xc) >>> 0);
    pci.configWrite(PciRegs.BAR0 + 16, 4, FAKE_BAR4);
    pci.configWrite(PciRegs.BAR0 + 20, 4, 0);
    pci.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_MEMORY);
    expect(maps).toContainEqual({ index: 4, kind: 'mem64', size: ModernBar.SIZE, address: FAKE_BAR4 });
  });

  it('answers the PCI host bridge at 0xCF8/0xCFC', () => {
    const host = new PciHost();
    host.attach(3, 0, new VirtioPciDevice(rng(), GuestMemory.create(0x10000)));
    host.write(0, 4, (0x8000_0000 | (3 << 11)) >>> 0);
    expect(host.read(4, 4)).toBe(0x1044_1af4);
  });
});

describe('virtio-pci common configuration', () => {
  it('negotiates features and reaches DRIVER_OK with the queues Linux would set up', () => {
    const h = pciHarness(rng(), { packed: true });
    expect(h.driver.status & DeviceStatus.DRIVER_OK).not.toBe(0);
    expect(hasFeature(h.driver.features, TransportFeature.RING_PACKED)).toBe(true);
    expect(h.driver.common(CommonCfg.NUM_QUEUES, 2)).toBe(1);
    h.driver.setCommon(CommonCfg.QUEUE_SELECT, 2, 0);
    expect(h.driver.common(CommonCfg.QUEUE_ENABLE, 2)).toBe(1);
    expect(h.driver.common(CommonCfg.QUEUE_NOTIFY_OFF, 2)).toBe(0);
  });

  it('reports queue size 0 for a queue that does not exist', () => {
    const h = pciHarness(rng(), { stopBeforeDriverOk: true });
    h.driver.setCommon(CommonCfg.QUEUE_SELECT, 2, 5);
    expect(h.driver.common(CommonCfg.QUEUE_SIZE, 2)).toBe(0);
  });

  it('freezes a queue once it is enabled', () => {
    const h = pciHarness(rng(), { stopBeforeDriverOk: true });
    h.driver.setCommon(CommonCfg.QUEUE_SELECT, 2, 0);
    const desc = h.driver.common(CommonCfg.QUEUE_DESC, 4);
    h.driver.setCommon(CommonCfg.QUEUE_DESC, 4, 0x8000);
    h.driver.setCommon(CommonCfg.QUEUE_SIZE, 2, 2);
    expect(h.driver.common(CommonCfg.QUEUE_DESC, 4)).toBe(desc);
    expect(h.driver.common(CommonCfg.QUEUE_SIZE, 2)).toBe(256);
  });

  it('reads back NO_VECTOR for an MSI-X vector the function does not have', () => {
    const h = pciHarness(rng(), { stopBeforeDriverOk: true });
    h.driver.setCommon(CommonCfg.CONFIG_MSIX_VECTOR, 2, 9);
    expect(h.driver.common(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(NO_VECTOR);
    h.driver.setCommon(CommonCfg.CONFIG_MSIX_VECTOR, 2, 1);
    expect(h.driver.common(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(1);
  });

  it('reaches the structures through the PCI configuration access capability', () => {
    const h = pciHarness(rng(), { stopBeforeDriverOk: true });
    const cap = h.driver.structure(PciCapType.PCI_CFG).cap;
    const pci = h.transport;
    pci.configWrite(cap + PciCap.BAR, 1, 4);
    pci.configWrite(cap + PciCap.OFFSET, 4, ModernBar.COMMON + CommonCfg.NUM_QUEUES);
    pci.configWrite(cap + PciCap.LENGTH, 4, 2);
    expect(pci.configRead(cap + PciCap.PCI_CFG_DATA, 4)).toBe(1);
    pci.configWrite(cap + PciCap.OFFSET, 4, ModernBar.COMMON + CommonCfg.DEVICE_STATUS);
    pci.configWrite(cap + PciCap.LENGTH, 4, 1);
    pci.configWrite(cap + PciCap.PCI_CFG_DATA, 4, 0);
    expect(h.driver.status).toBe(0);
    // A BAR with nothing behind it reads 0 and ignores writes.
    pci.configWrite(cap + PciCap.BAR, 1, 2);
    expect(pci.configRead(cap + PciCap.PCI_CFG_DATA, 4)).toBe(0);
  });
});

describe('virtio-pci interrupts', () => {
  it('uses INTx with the ISR when MSI-X is off; reading the ISR clears it', () => {
    const h = pciHarness(rng());
    h.driver.queue(0).add([{ write: 8 }]);
    h.driver.kick(0);
    expect(h.irq.level).toBe(true);
    expect(h.driver.ackInterrupt()).toBe(IsrBit.QUEUE);
    expect(h.irq.level).toBe(false);
    expect(h.driver.ackInterrupt()).toBe(0);
    expect(h.driver.queue(0).popUsed()?.len).toBe(8);
  });

  it('sends the queue vector as an MSI when MSI-X is on, and nothing on INTx', () => {
    const h = pciHarness(rng(), { msix: true });
    h.driver.queue(0).add([{ write: 8 }]);
    h.driver.kick(0);
    expect(h.msis).toEqual([{ address: FAKE_MSI_ADDRESS, data: FAKE_MSI_DATA_BASE + 1 }]);
    expect(h.irq.risingEdges).toBe(0);
  });

  it('holds a masked vector pending and sends it when unmasked', () => {
    const h = pciHarness(rng(), { msix: true });
    const table = h.transport.barDevice(MsixBar.INDEX)!;
    const control = MsixBar.TABLE + 1 * MsixEntry.SIZE + MsixEntry.CONTROL;
    table.write(control, 4, MsixEntry.CONTROL_MASKED);
    h.driver.queue(0).add([{ write: 8 }]);
    h.driver.kick(0);
    expect(h.msis).toEqual([]);
    expect(table.read(MsixBar.PBA, 4)).toBe(0b10);
    table.write(control, 4, 0);
    expect(h.msis).toEqual([{ address: FAKE_MSI_ADDRESS, data: FAKE_MSI_DATA_BASE + 1 }]);
    expect(table.read(MsixBar.PBA, 4)).toBe(0);
  });

  it('sends the configuration vector when a malformed chain sets DEVICE_NEEDS_RESET', () => {
    const h = pciHarness(rng(), { msix: true });
    const q = h.driver.queue(0);
    q.add([{ write: 8 }]);
    h.memory.write32(q.descAddr + 4, 0xffff_ffff);
    h.driver.kick(0);
    expect(h.driver.status & DeviceStatus.DEVICE_NEEDS_RESET).not.toBe(0);
    expect(h.error?.kind).toBe('DescriptorOutOfRange');
    expect(h.msis).toEqual([{ address: FAKE_MSI_ADDRESS, data: FAKE_MSI_DATA_BASE + 0 }]);
  });

  it('sets the ISR configuration bit on DEVICE_NEEDS_RESET with INTx', () => {
    const h = pciHarness(rng());
    h.driver.queue(0).add([{ write: 8 }]);
    h.memory.write32(h.driver.queue(0).descAddr + 4, 0xffff_ffff);
    h.driver.kick(0);
    expect(h.driver.ackInterrupt()).toBe(IsrBit.CONFIG);
  });
});

describe('virtio-pci bus mastering and state', () => {
  it('does not process queues while Bus Master Enable is off', () => {
    const h = pciHarness(rng());
    h.transport.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_MEMORY);
    h.driver.queue(0).add([{ write: 8 }]);
    h.driver.kick(0);
    expect(h.driver.queue(0).popUsed()).toBeNull();
    h.transport.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_BUS_MASTER);
    h.driver.kick(0);
    expect(h.driver.queue(0).popUsed()?.len).toBe(8);
  });

  it('round-trips its state through JSON and keeps serving the queue', () => {
    const h = pciHarness(rng(), { msix: true });
    const saved = JSON.parse(JSON.stringify(h.transport.getState()));
    const msis: number[] = [];
    const copy = new VirtioPciDevice(rng(), h.memory, { msi: { sendMsi: (_a, d) => msis.push(d) } });
    copy.setState(saved);
    h.driver.queue(0).add([{ write: 4 }]);
    copy.barDevice(4)!.write(ModernBar.NOTIFY, 2, 0);
    expect(h.driver.queue(0).popUsed()?.len).toBe(4);
    expect(msis).toEqual([FAKE_MSI_DATA_BASE + 1]);
  });

  it('resets its vectors and ISR with the device', () => {
    const memory = GuestMemory.create(0x10000);
    const pci = new VirtioPciDevice(rng(), memory, { intx: new FakeIrqLine() });
    const d = new PciDriver(pci, memory, new GuestAllocator(memory, 0x1000, 0x10000), { msix: true });
    d.init();
    expect(d.common(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(0);
    d.setStatus(0);
    expect(d.common(CommonCfg.CONFIG_MSIX_VECTOR, 2)).toBe(NO_VECTOR);
    expect(d.status).toBe(0);
  });
});
