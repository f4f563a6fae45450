/**
 * IDE (ATA/ATAPI) register offsets, bits and command codes. Sources: ANSI INCITS 361-2002 "AT
 * Attachment with Packet Interface - 6" (ATA/ATAPI-6): 7.x register definitions, 8.x commands (IDENTIFY
 * DEVICE 8.15 and its Table 27 word layout), 9.x protocols; SFF-8038i "Bus Master Programming Interface
 * for IDE ATA Controllers" (BMIDE registers, PRD format); INCITS MMC-3 / SPC-3 for the ATAPI packet
 * commands; PIIX3 datasheet (290550) section 2.4 for the IDE function.
 */

export const PRIMARY_COMMAND_BASE = 0x1f0;
export const PRIMARY_CONTROL_BASE = 0x3f6;
export const SECONDARY_COMMAND_BASE = 0x170;
export const SECONDARY_CONTROL_BASE = 0x376;
export const COMMAND_BLOCK_LENGTH = 8;
export const CONTROL_BLOCK_LENGTH = 1;
export const PRIMARY_IRQ = 14;
export const SECONDARY_IRQ = 15;

// Command block offsets
export const REG_DATA = 0;
export const REG_ERROR = 1; // read
export const REG_FEATURES = 1; // write
export const REG_SECTOR_COUNT = 2;
export const REG_LBA_LOW = 3;
export const REG_LBA_MID = 4;
export const REG_LBA_HIGH = 5;
export const REG_DEVICE = 6;
export const REG_STATUS = 7; // read (clears INTRQ)
export const REG_COMMAND = 7; // write

// Status
export const ST_ERR = 0x01;
export const ST_DRQ = 0x08;
export const ST_DSC = 0x10; // device seek complete (obsolete, still set by drives)
export const ST_DF = 0x20;
export const ST_DRDY = 0x40;
export const ST_BSY = 0x80;

// Error
export const ERR_ABRT = 0x04;
export const ERR_IDNF = 0x10;
export const ERR_UNC = 0x40;
/** Error register value after reset/diagnostics: "device 0 passed". */
export const DIAG_PASSED = 0x01;

// Device register
export const DEV_SELECT_SLAVE = 0x10;
export const DEV_LBA = 0x40;
export const DEV_HEAD_MASK = 0x0f;

// Device control (control block, write)
export const CTL_NIEN = 0x02;
export const CTL_SRST = 0x04;
export const CTL_HOB = 0x80;

// ATAPI interrupt reason (sector count register during PACKET)
export const IREASON_COD = 0x01;
export const IREASON_IO = 0x02;

// Signatures left in sector count / LBA low / mid / high after reset
export const ATA_SIGNATURE = [0x01, 0x01, 0x00, 0x00] as const;
export const ATAPI_SIGNATURE = [0x01, 0x01, 0x14, 0xeb] as const;

/** ATA command codes. */
export const AtaCommand = {
  DeviceReset: 0x08,
  Recalibrate: 0x10,
  ReadSectors: 0x20,
  ReadSectorsNoRetry: 0x21,
  ReadSectorsExt: 0x24,
  ReadDmaExt: 0x25,
  ReadMultipleExt: 0x29,
  WriteSectors: 0x30,
  WriteSectorsNoRetry: 0x31,
  WriteSectorsExt: 0x34,
  WriteDmaExt: 0x35,
  WriteMultipleExt: 0x39,
  ReadVerifySectors: 0x40,
  ReadVerifySectorsExt: 0x42,
  Seek: 0x70,
  ExecuteDeviceDiagnostic: 0x90,
  InitializeDeviceParameters: 0x91,
  Packet: 0xa0,
  IdentifyPacketDevice: 0xa1,
  ReadMultiple: 0xc4,
  WriteMultiple: 0xc5,
  SetMultipleMode: 0xc6,
  ReadDma: 0xc8,
  ReadDmaNoRetry: 0xc9,
  WriteDma: 0xca,
  WriteDmaNoRetry: 0xcb,
  StandbyImmediate: 0xe0,
  IdleImmediate: 0xe1,
  Standby: 0xe2,
  Idle: 0xe3,
  CheckPowerMode: 0xe5,
  Sleep: 0xe6,
  FlushCache: 0xe7,
  FlushCacheExt: 0xea,
  IdentifyDevice: 0xec,
  SetFeatures: 0xef,
} as const;

/** ATAPI (MMC/SPC) packet operation codes. */
export const ScsiCommand = {
  TestUnitReady: 0x00,
  RequestSense: 0x03,
  Inquiry: 0x12,
  StartStopUnit: 0x1b,
  PreventAllowMediumRemoval: 0x1e,
  ReadCapacity: 0x25,
  Read10: 0x28,
  Seek10: 0x2b,
  ReadToc: 0x43,
  GetConfiguration: 0x46,
  GetEventStatusNotification: 0x4a,
  ModeSense10: 0x5a,
  Read12: 0xa8,
} as const;

// Sense keys and additional sense codes
export const SENSE_NONE = 0x00;
export const SENSE_NOT_READY = 0x02;
export const SENSE_ILLEGAL_REQUEST = 0x05;
export const ASC_INVALID_OPCODE = 0x20;
export const ASC_LBA_OUT_OF_RANGE = 0x21;
export const ASC_INVALID_FIELD_IN_CDB = 0x24;
export const ASC_MEDIUM_NOT_PRESENT = 0x3a;

export const ATA_SECTOR_SIZE = 512;
export const CD_SECTOR_SIZE = 2048;
export const ATAPI_PACKET_SIZE = 12;
/** Sectors per DRQ block that READ/WRITE MULTIPLE may use (IDENTIFY word 47). */
export const MAX_MULTIPLE_SECTORS = 16;
/** Default CHS geometry for the IDENTIFY words and CHS addressing. */
export const HEADS = 16;
export const SECTORS_PER_TRACK = 63;

// Bus master IDE (SFF-8038i), per channel at BAR4 + 0 (primary) / + 8 (secondary)
export const BM_COMMAND = 0;
export const BM_STATUS = 2;
export const BM_PRD_TABLE = 4;
export const BM_CHANNEL_STRIDE = 8;
export const BM_IO_LENGTH = 16;
export const BMCMD_START = 0x01;
export const BMCMD_TO_MEMORY = 0x08; // "read" direction: device to memory
export const BMST_ACTIVE = 0x01;
export const BMST_ERROR = 0x02;
export const BMST_INTERRUPT = 0x04;
export const BMST_DRIVE0_DMA = 0x20;
export const BMST_DRIVE1_DMA = 0x40;
export const PRD_EOT = 0x8000;
/** PRD tables must not cross a 64 KiB boundary, so at most 8192 entries: the walk is bounded by it. */
export const MAX_PRD_ENTRIES = 8192;
