export {
  type Gpa,
  type Gva,
  type Hva,
  type Port,
  gpa,
  gva,
  hva,
  port,
  PAGE_SIZE,
  PAGE_SHIFT,
} from './address.js';
export {
  type AccessSize,
  type PioDevice,
  type MmioDevice,
  type IrqLine,
  type Clock,
  type ByteSink,
  type ByteSource,
  NO_IRQ,
  NULL_SINK,
} from './contracts.js';
export { MemoryError, type MemoryErrorKind } from './errors.js';
export { GuestMemory, type MemoryRegion, type AddRegionOptions } from './guest-memory.js';
export { HostAddressSpace, type HostMapping, MMAP_BASE } from './host-address-space.js';
export { Bus, type BusDevice, type BusRange, type UnassignedHandler } from './bus.js';
export { PioBus, MmioBus } from './buses.js';
export { DirtyBitmap } from './dirty-bitmap.js';
export { WriteConsumer, WriteLog } from './write-log.js';
