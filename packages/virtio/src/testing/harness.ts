import { GuestMemory } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import type { VirtioDevice } from '../device.js';
import type { QueueError } from '../errors.js';
import { MmioTransport, type MmioTransportOptions } from '../mmio/transport.js';
import type { MsiSink } from '../pci/msix.js';
import { VirtioPciDevice } from '../pci/transport.js';
import type { RingOptions } from '../transport-core.js';
import { GuestAllocator } from './allocator.js';
import type { DriverInitOptions, VirtioDriver } from './driver.js';
import { MmioDriver } from './mmio-driver.js';
import { PciDriver } from './pci-driver.js';

export type TransportKind = 'mmio' | 'pci';

export interface HarnessOptions extends RingOptions, DriverInitOptions {
  /** Guest RAM size (default 1 MiB). */
  readonly ramSize?: number;
  /** PCI only: enable MSI-X (vector 0 config, i+1 queue i) instead of INTx. */
  readonly msix?: boolean;
}

/** A device on a transport with guest RAM, an IRQ line and a driver fake that has initialized it. */
export interface Harness<D extends VirtioDriver = VirtioDriver> {
  readonly kind: TransportKind;
  readonly memory: GuestMemory;
  /** virtio-mmio's interrupt line, or the PCI function's INTx. */
  readonly irq: FakeIrqLine;
  /** MSI messages sent (PCI with MSI-X). */
  readonly msis: { address: number; data: number }[];
  readonly driver: D;
  /** The guest-caused error that set DEVICE_NEEDS_RESET, if any. */
  readonly error: QueueError | null;
}

export interface MmioHarness extends Harness<MmioDriver> {
  readonly transport: MmioTransport;
}

export interface PciHarness extends Harness<PciDriver> {
  readonly transport: VirtioPciDevice;
}

export type MmioHarnessOptions = HarnessOptions & MmioTransportOptions;

function ram(options: HarnessOptions) {
  const ramSize = options.ramSize ?? 0x10_0000;
  const memory = GuestMemory.create(ramSize);
  return { memory, alloc: new GuestAllocator(memory, 0x1000, ramSize) };
}

export function mmioHarness(device: VirtioDevice, options: MmioHarnessOptions = {}): MmioHarness {
  const { memory, alloc } = ram(options);
  const irq = new FakeIrqLine();
  const transport = new MmioTransport(device, memory, irq, options);
  const driver = new MmioDriver(transport, memory, alloc);
  driver.init(options);
  return {
    kind: 'mmio',
    memory,
    irq,
    msis: [],
    driver,
    transport,
    get error() {
      return transport.error;
    },
  };
}

export function pciHarness(device: VirtioDevice, options: HarnessOptions = {}): PciHarness {
  const { memory, alloc } = ram(options);
  const irq = new FakeIrqLine();
  const msis: { address: number; data: number }[] = [];
  const msi: MsiSink = { sendMsi: (address, data) => msis.push({ address, data }) };
  const transport = new VirtioPciDevice(device, memory, { ...options, intx: irq, msi });
  const driver = new PciDriver(transport, memory, alloc, { msix: options.msix ?? false });
  driver.init(options);
  return {
    kind: 'pci',
    memory,
    irq,
    msis,
    driver,
    transport,
    get error() {
      return transport.error;
    },
  };
}

/** The same device test on either transport. */
export function harness(kind: TransportKind, device: VirtioDevice, options: HarnessOptions = {}): Harness {
  return kind === 'mmio' ? mmioHarness(device, options) : pciHarness(device, options);
}

/** Every transport x ring layout combination, for `describe.each`-style loops. */
export const TRANSPORT_MATRIX: readonly {
  readonly kind: TransportKind;
  readonly packed: boolean;
  readonly name: string;
}[] = [
  { kind: 'mmio', packed: false, name: 'virtio-mmio, split ring' },
  { kind: 'mmio', packed: true, name: 'virtio-mmio, packed ring' },
  { kind: 'pci', packed: false, name: 'virtio-pci, split ring' },
  { kind: 'pci', packed: true, name: 'virtio-pci, packed ring' },
];
