/**
 * Numbers from the virtio 1.2 specification (OASIS virtio-v1.2-cs01), named once here and used
 * everywhere else. Section numbers refer to that document.
 */

/** Device status bits (2.1 Device Status Field). */
export const DeviceStatus = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  /** Set by the device when it hit an error it cannot recover from without a reset (2.1.2). */
  DEVICE_NEEDS_RESET: 64,
  FAILED: 128,
} as const;

/** Device IDs (5 Device Types). */
export const DeviceId = {
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
} as const;

/** Reserved (transport and ring) feature bits (6 Reserved Feature Bits). */
export const TransportFeature = {
  /** The driver may use descriptors with VIRTQ_DESC_F_INDIRECT (2.7.5.3). */
  INDIRECT_DESC: 28,
  /** used_event / avail_event fields, and the packed ring's descriptor event suppression (2.7.7, 2.8.10). */
  RING_EVENT_IDX: 29,
  /** Compliance with this (1.x) specification; no legacy interface. */
  VERSION_1: 32,
  ACCESS_PLATFORM: 33,
  /** The packed virtqueue layout (2.8). */
  RING_PACKED: 34,
  IN_ORDER: 35,
  ORDER_PLATFORM: 36,
  SR_IOV: 37,
  NOTIFICATION_DATA: 38,
  NOTIF_CONFIG_DATA: 39,
  RING_RESET: 40,
} as const;

/** Descriptor flags, shared by both layouts (2.7.5 and 2.8.13). */
export const DescFlag = {
  NEXT: 1,
  WRITE: 2,
  INDIRECT: 4,
  /** Packed ring only: the driver's wrap counter when made available (2.8.1). */
  AVAIL: 1 << 7,
  /** Packed ring only: the device's wrap counter when used (2.8.1). */
  USED: 1 << 15,
} as const;

/** Split ring: `flags` of the available ring (2.7.6). */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** Split ring: `flags` of the used ring (2.7.8). */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

/** Packed ring event suppression `flags` values (2.8.10). */
export const PackedEventFlag = {
  ENABLE: 0,
  DISABLE: 1,
  /** Only with RING_EVENT_IDX: notify when the descriptor at `off_wrap` is reached. */
  DESC: 2,
} as const;

/** Size of one descriptor in either layout, and of one indirect table entry. */
export const DESCRIPTOR_SIZE = 16;
/** Largest queue size the spec allows (2.6: Queue Size is at most 32768). */
export const MAX_QUEUE_SIZE = 32768;
