/**
 * QEMU firmware configuration interface. Source: QEMU docs/specs/fw_cfg.rst ("QEMU Firmware
 * Configuration (fw_cfg) Device"): x86 I/O ports, selector keys, file directory format, DMA interface.
 */

/** x86 I/O placement: selector 0x510 (16-bit), data 0x511 (8-bit), DMA address 0x514-0x51B. */
export const FW_CFG_IO_BASE = 0x510;
export const FW_CFG_IO_LENGTH = 12;
export const SELECTOR_OFFSET = 0;
export const DATA_OFFSET = 1;
export const DMA_OFFSET = 4;
export const DMA_LENGTH = 8;
/** Reading the DMA address register returns this big-endian signature ("QEMU CFG"). */
export const DMA_SIGNATURE = 'QEMU CFG';

/** Selector keys (fw_cfg.rst, "Selector Register"; x86 items from QEMU's fw_cfg.h). */
export const FwCfgKey = {
  Signature: 0x0000,
  Id: 0x0001,
  Uuid: 0x0002,
  RamSize: 0x0003,
  NoGraphic: 0x0004,
  NbCpus: 0x0005,
  MachineId: 0x0006,
  KernelAddr: 0x0007,
  KernelSize: 0x0008,
  KernelCmdline: 0x0009,
  InitrdAddr: 0x000a,
  InitrdSize: 0x000b,
  BootDevice: 0x000c,
  Numa: 0x000d,
  BootMenu: 0x000e,
  MaxCpus: 0x000f,
  KernelEntry: 0x0010,
  KernelData: 0x0011,
  InitrdData: 0x0012,
  CmdlineAddr: 0x0013,
  CmdlineSize: 0x0014,
  CmdlineData: 0x0015,
  SetupAddr: 0x0016,
  SetupSize: 0x0017,
  SetupData: 0x0018,
  FileDir: 0x0019,
  FileFirst: 0x0020,
  X86AcpiTables: 0x8000,
  X86SmbiosEntries: 0x8001,
  X86Irq0Override: 0x8002,
  X86E820Table: 0x8003,
  X86Hpet: 0x8004,
} as const;

/** The write-channel bit of old selectors; ignored since QEMU 2.4 (writes go through DMA). */
export const SELECTOR_WRITE_CHANNEL = 0x4000;
/** Keys at and above 0x8000 are architecture specific. */
export const SELECTOR_ARCH_LOCAL = 0x8000;
/** File items use keys FileFirst .. FileFirst + MAX_FILES - 1. */
export const MAX_FILES = 0x1000;
/** File names are NUL-padded to 56 bytes in the directory. */
export const FILE_NAME_LENGTH = 56;
export const FILE_DIR_ENTRY_SIZE = 64;

// FW_CFG_ID feature bits
export const ID_TRADITIONAL = 0x01;
export const ID_DMA = 0x02;

// FWCfgDmaAccess.control (big-endian in guest memory)
export const DMA_CTL_ERROR = 0x01;
export const DMA_CTL_READ = 0x02;
export const DMA_CTL_SKIP = 0x04;
export const DMA_CTL_SELECT = 0x08;
export const DMA_CTL_WRITE = 0x10;
/** control (u32), length (u32), address (u64), all big-endian. */
export const DMA_ACCESS_SIZE = 16;

/** e820 entry types for the "etc/e820" file. */
export const E820 = { Ram: 1, Reserved: 2, Acpi: 3, Nvs: 4, Unusable: 5 } as const;
