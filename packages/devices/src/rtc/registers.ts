/**
 * MC146818 registers and bits. Source: Motorola MC146818A datasheet, "Address Map" (Figure 4),
 * "Register A" - "Register D" and "Update Cycle"; the IBM PC/AT CMOS layout (IBM PC/AT Technical
 * Reference, "CMOS RAM address map") and the extra bytes QEMU/SeaBIOS use (SeaBIOS src/hw/rtc.h).
 */

export const RTC_BASE = 0x70;
export const RTC_PORT_COUNT = 2;
export const INDEX_OFFSET = 0; // port 0x70: bits 6-0 register index, bit 7 NMI disable
export const DATA_OFFSET = 1; // port 0x71
export const INDEX_MASK = 0x7f;
export const NMI_DISABLE = 0x80;
export const CMOS_SIZE = 128;

// Clock and calendar registers
export const REG_SECONDS = 0x00;
export const REG_SECONDS_ALARM = 0x01;
export const REG_MINUTES = 0x02;
export const REG_MINUTES_ALARM = 0x03;
export const REG_HOURS = 0x04;
export const REG_HOURS_ALARM = 0x05;
export const REG_DAY_OF_WEEK = 0x06; // 1 = Sunday
export const REG_DAY_OF_MONTH = 0x07;
export const REG_MONTH = 0x08;
export const REG_YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
export const REG_D = 0x0d;
/** IBM PC century byte (BCD or binary like the other fields). */
export const REG_CENTURY = 0x32;
/** Alarm bytes with both top bits set match any value ("don't care"). */
export const ALARM_DONT_CARE = 0xc0;
/** 12-hour mode: bit 7 of the hours byte means PM. */
export const HOURS_PM = 0x80;

// Register A
export const A_UIP = 0x80; // update in progress (read-only)
export const A_DV_MASK = 0x70; // divider chain select
export const A_DV_32768 = 0x20; // 32.768 kHz time base: the only running setting on a PC
export const A_DV_RESET = 0x60; // 11x holds the divider in reset
export const A_RS_MASK = 0x0f; // periodic rate select

// Register B
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
export const B_SQWE = 0x08;
export const B_DM_BINARY = 0x04;
export const B_24H = 0x02;
export const B_DSE = 0x01;

// Register C (read-only, cleared on read)
export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;

// Register D
export const D_VRT = 0x80; // valid RAM and time

/** UIP rises this long before each update (datasheet, "Update Cycle"). */
export const UIP_LEAD_NS = 244_000;
/** After the divider leaves reset the first update comes half a second later. */
export const FIRST_UPDATE_DELAY_NS = 500_000_000;
export const RTC_TIMEBASE_HZ = 32_768;

/** PC CMOS bytes beyond the clock (IBM PC/AT layout plus the QEMU/SeaBIOS extensions). */
export const Cmos = {
  ShutdownStatus: 0x0f,
  FloppyTypes: 0x10,
  DiskTypes: 0x12,
  Equipment: 0x14,
  BaseMemoryLow: 0x15, // KB below 1 MiB
  BaseMemoryHigh: 0x16,
  ExtendedMemoryLow: 0x17, // KB above 1 MiB, capped at 65535
  ExtendedMemoryHigh: 0x18,
  ChecksumHigh: 0x2e, // sum of 0x10-0x2d
  ChecksumLow: 0x2f,
  ExtendedMemory2Low: 0x30, // copy of 0x17/0x18
  ExtendedMemory2High: 0x31,
  Century: 0x32,
  MemoryAbove16MLow: 0x34, // 64 KiB units between 16 MiB and the 32-bit PCI hole
  MemoryAbove16MHigh: 0x35,
  BootFlag1: 0x38, // bits 7-4 third boot device; bit 0 = skip the floppy signature check
  BootFlag2: 0x3d, // bits 3-0 first, bits 7-4 second boot device
  MemoryAbove4G0: 0x5b, // 64 KiB units above 4 GiB, 3 bytes little-endian
  MemoryAbove4G1: 0x5c,
  MemoryAbove4G2: 0x5d,
  SmpCount: 0x5f, // CPUs - 1
} as const;

// Equipment byte (0x14)
export const EQUIPMENT_FLOPPY = 0x01;
export const EQUIPMENT_FPU = 0x02;
export const EQUIPMENT_PS2_MOUSE = 0x04;

/** Boot device codes for BootFlag1/BootFlag2, as SeaBIOS reads them. */
export const BootDevice = { None: 0, Floppy: 1, Disk: 2, Cdrom: 3, Network: 4 } as const;
export type BootDevice = (typeof BootDevice)[keyof typeof BootDevice];
