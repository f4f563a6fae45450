/** virtio over PCI, modern interface only (4.1 Virtio Over PCI Bus). */

/** Red Hat's virtio vendor ID (4.1.2). */
export const VIRTIO_PCI_VENDOR_ID = 0x1af4;
/** Modern (non-transitional) device IDs are 0x1040 + the virtio device type (4.1.2.1). */
export const VIRTIO_PCI_MODERN_DEVICE_BASE = 0x1040;
/** "Non-transitional devices SHOULD have a PCI Revision ID of 1 or higher" (4.1.2.2). */
export const VIRTIO_PCI_REVISION = 1;
/** QEMU's subsystem ID for its virtio functions (PCI_SUBDEVICE_ID_QEMU). */
export const VIRTIO_PCI_SUBSYSTEM_ID = 0x1100;

/** `cfg_type` of struct virtio_pci_cap (4.1.4). */
export const PciCapType = {
  COMMON_CFG: 1,
  NOTIFY_CFG: 2,
  ISR_CFG: 3,
  DEVICE_CFG: 4,
  PCI_CFG: 5,
  SHARED_MEMORY_CFG: 8,
  VENDOR_CFG: 9,
} as const;

/** struct virtio_pci_cap field offsets, plus the two extended forms (4.1.4, 4.1.4.4, 4.1.4.9). */
export const PciCap = {
  VNDR: 0,
  NEXT: 1,
  LEN: 2,
  CFG_TYPE: 3,
  BAR: 4,
  ID: 5,
  OFFSET: 8,
  LENGTH: 12,
  /** struct virtio_pci_notify_cap: le32 notify_off_multiplier. */
  NOTIFY_OFF_MULTIPLIER: 16,
  /** struct virtio_pci_cfg_cap: u8 pci_cfg_data[4]. */
  PCI_CFG_DATA: 16,
  SIZE: 16,
  NOTIFY_SIZE: 20,
  PCI_CFG_SIZE: 20,
} as const;

/** struct virtio_pci_common_cfg offsets (4.1.4.3). */
export const CommonCfg = {
  DEVICE_FEATURE_SELECT: 0x00,
  DEVICE_FEATURE: 0x04,
  DRIVER_FEATURE_SELECT: 0x08,
  DRIVER_FEATURE: 0x0c,
  CONFIG_MSIX_VECTOR: 0x10,
  NUM_QUEUES: 0x12,
  DEVICE_STATUS: 0x14,
  CONFIG_GENERATION: 0x15,
  QUEUE_SELECT: 0x16,
  QUEUE_SIZE: 0x18,
  QUEUE_MSIX_VECTOR: 0x1a,
  QUEUE_ENABLE: 0x1c,
  QUEUE_NOTIFY_OFF: 0x1e,
  QUEUE_DESC: 0x20,
  QUEUE_DRIVER: 0x28,
  QUEUE_DEVICE: 0x30,
  QUEUE_NOTIFY_DATA: 0x38,
  QUEUE_RESET: 0x3a,
  SIZE: 0x3c,
} as const;

/** ISR status bits (4.1.4.5). */
export const IsrBit = {
  QUEUE: 1,
  CONFIG: 2,
} as const;

/** "No vector" for config_msix_vector / queue_msix_vector (4.1.5.1.2). */
export const NO_VECTOR = 0xffff;

/** Where the structures live in BAR 4 (the same 4 KiB-per-structure layout QEMU uses). */
export const ModernBar = {
  INDEX: 4,
  COMMON: 0x0000,
  ISR: 0x1000,
  DEVICE: 0x2000,
  NOTIFY: 0x3000,
  SIZE: 0x4000,
} as const;

/** Each queue notifies at NOTIFY + queue_notify_off * multiplier; queue_notify_off is the queue index. */
export const NOTIFY_OFF_MULTIPLIER = 4;

/** MSI-X table and PBA in BAR 1 (PCI Local Bus 3.0, 6.8.2). */
export const MsixBar = {
  INDEX: 1,
  TABLE: 0x000,
  PBA: 0x800,
  SIZE: 0x1000,
} as const;

/** MSI-X capability fields (offsets from the capability) and Message Control bits. */
export const MsixCap = {
  CONTROL: 2,
  TABLE: 4,
  PBA: 8,
  LENGTH: 12,
  CONTROL_TABLE_SIZE_MASK: 0x07ff,
  CONTROL_FUNCTION_MASK: 0x4000,
  CONTROL_ENABLE: 0x8000,
} as const;

/** One MSI-X table entry. */
export const MsixEntry = {
  ADDR_LO: 0,
  ADDR_HI: 4,
  DATA: 8,
  CONTROL: 12,
  SIZE: 16,
  CONTROL_MASKED: 1,
} as const;

/** PCI class codes QEMU gives each device type (class << 16 | subclass << 8 | prog-if). */
export const VIRTIO_PCI_CLASS: Readonly<Record<number, number>> = {
  1: 0x020000, // network controller, Ethernet
  2: 0x010000, // mass storage, SCSI
  3: 0x078000, // communication controller, other
  4: 0xff0000, // unassigned class (PCI_CLASS_OTHERS)
};
