/**
 * Driver-side fakes for tests of virtio devices and transports (like rust-vmm virtio-queue's
 * `mock.rs`). Import from `@typevisor/virtio/testing`.
 */
export { GuestAllocator } from './allocator.js';
export {
  type AddOptions,
  type BufferSpec,
  DriverQueue,
  PackedDriverQueue,
  SplitDriverQueue,
  type UsedBuffer,
} from './driver-queue.js';
export { type DriverInitOptions, type QueueRegisters, VirtioDriver } from './driver.js';
export { MmioDriver } from './mmio-driver.js';
export {
  FAKE_BAR1,
  FAKE_BAR4,
  FAKE_MSI_ADDRESS,
  FAKE_MSI_DATA_BASE,
  PciDriver,
  type PciDriverOptions,
  type StructureLocation,
} from './pci-driver.js';
export {
  type Harness,
  type HarnessOptions,
  harness,
  type MmioHarness,
  type MmioHarnessOptions,
  mmioHarness,
  type PciHarness,
  pciHarness,
  TRANSPORT_MATRIX,
  type TransportKind,
} from './harness.js';
