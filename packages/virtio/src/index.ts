export {
  DeviceStatus,
  DeviceId,
  TransportFeature,
  DescFlag,
  PackedEventFlag,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
  DESCRIPTOR_SIZE,
  MAX_QUEUE_SIZE,
} from './constants.js';
export { featureBit, features, hasFeature, featureWord } from './features.js';
export {
  type QueueError,
  type QueueErrorKind,
  VirtioError,
  type VirtioErrorKind,
} from './errors.js';
export {
  DescriptorChain,
  type Segment,
  readFromChain,
  writeToChain,
  chainViews,
  markChainDirty,
} from './queue/chain.js';
export { Virtqueue, type QueueState, type PopResult, type RingLayout, isQueueError } from './queue/queue.js';
export type { RingPosition } from './queue/ring.js';
export { SplitLayout } from './queue/split.js';
export { PackedLayout } from './queue/packed.js';
export { type VirtioDevice, type DeviceContext, readConfigBytes } from './device.js';
export { QueueDevice } from './devices/base.js';
export {
  type RingOptions,
  type TransportInterrupts,
  type CoreState,
  VirtioCore,
  offeredFeatures,
} from './transport-core.js';
export { MmioTransport, type MmioTransportOptions, type MmioTransportState } from './mmio/transport.js';
export {
  MmioReg,
  MmioInterrupt,
  MMIO_MAGIC,
  MMIO_VERSION,
  MMIO_WINDOW_SIZE,
  MMIO_DEFAULT_VENDOR,
} from './mmio/registers.js';
export { virtioMmioCmdline, virtioMmioCmdlines, type MmioCmdlineEntry } from './mmio/cmdline.js';
export {
  BlkConfig,
  BlkDevice,
  BlkFeature,
  type BlkOptions,
  BlkRequest,
  BlkStatus,
  SECTOR_SIZE,
  type BlockBackend,
  MemoryBlockBackend,
  OverlayBlockBackend,
} from './devices/blk/index.js';
export {
  MAX_FRAME,
  NET_HEADER_SIZE,
  NET_S_LINK_UP,
  NetConfig,
  NetDevice,
  NetFeature,
  type NetOptions,
  NetQueue,
  parseMac,
  LoopbackNetBackend,
  type NetBackend,
  NetHub,
} from './devices/net/index.js';
export {
  ConsoleConfig,
  ConsoleDevice,
  ConsoleFeature,
  type ConsoleOptions,
  ConsoleQueue,
  type ConsoleSink,
} from './devices/console/index.js';
export { type EntropySource, type RngOptions, RngDevice, webCryptoEntropy } from './devices/rng/index.js';
export { VirtioPciDevice, type VirtioPciOptions, type VirtioPciState } from './pci/transport.js';
export { type MsiSink, MsixTable, type MsixState } from './pci/msix.js';
export {
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
  VIRTIO_PCI_MODERN_DEVICE_BASE,
  VIRTIO_PCI_VENDOR_ID,
} from './pci/registers.js';
