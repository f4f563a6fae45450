/**
 * PCI configuration space layout and the PC's configuration mechanism #1. Sources: PCI Local Bus
 * Specification 3.0, section 3.2.2.3.2 (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC), section 6.1
 * (Type 0 header, Figure 6-1), 6.2.2-6.2.5 (Command, Status, BARs); Intel 440FX PMC datasheet (290549)
 * section 3.2 (PAM, SMRAM); PIIX3 datasheet (290550) section 2.2 (PIRQRC, RCR at 0xCF9); PIIX4
 * datasheet (290562) section 3.3 (PMBA, PMREGMISC).
 */

export const CONFIG_ADDRESS_PORT = 0xcf8;
/** The host bridge device spans 0xCF8-0xCFF: address, PIIX reset control at 0xCF9, data at 0xCFC. */
export const PCI_HOST_PORT_COUNT = 8;
export const CONFIG_ADDRESS_OFFSET = 0;
export const RESET_CONTROL_OFFSET = 1;
export const CONFIG_DATA_OFFSET = 4;
export const CONFIG_ADDRESS_ENABLE = 0x8000_0000;

// Type 0 header offsets
export const VENDOR_ID = 0x00;
export const DEVICE_ID = 0x02;
export const COMMAND = 0x04;
export const STATUS = 0x06;
export const REVISION_ID = 0x08;
export const CLASS_PROG_IF = 0x09;
export const CLASS_SUBCLASS = 0x0a;
export const CLASS_BASE = 0x0b;
export const CACHE_LINE_SIZE = 0x0c;
export const LATENCY_TIMER = 0x0d;
export const HEADER_TYPE = 0x0e;
export const BAR0 = 0x10;
export const BAR_COUNT = 6;
export const SUBSYSTEM_VENDOR_ID = 0x2c;
export const SUBSYSTEM_ID = 0x2e;
export const EXPANSION_ROM = 0x30;
export const CAPABILITIES_POINTER = 0x34;
export const INTERRUPT_LINE = 0x3c;
export const INTERRUPT_PIN = 0x3d;
/** First byte after the standard header, where capabilities and device registers go. */
export const DEVICE_SPECIFIC = 0x40;
export const CONFIG_SPACE_SIZE = 256;
export const EXTENDED_CONFIG_SPACE_SIZE = 4096;

// Command register
export const COMMAND_IO = 0x0001;
export const COMMAND_MEMORY = 0x0002;
export const COMMAND_BUS_MASTER = 0x0004;
export const COMMAND_PARITY = 0x0040;
export const COMMAND_SERR = 0x0100;
export const COMMAND_INTX_DISABLE = 0x0400;
export const COMMAND_WRITABLE =
  COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_PARITY | COMMAND_SERR | COMMAND_INTX_DISABLE;

// Status register
export const STATUS_INTERRUPT = 0x0008; // read-only: INTx asserted
export const STATUS_CAP_LIST = 0x0010; // read-only
export const STATUS_ERROR_BITS = 0xf900; // write 1 to clear

// Header type
export const HEADER_TYPE_MULTI_FUNCTION = 0x80;

// BAR low bits
export const BAR_IO = 0x01;
export const BAR_MEM_TYPE_64 = 0x04;
export const BAR_MEM_PREFETCH = 0x08;

/** Capability IDs used in this package and by virtio-pci. */
export const CAP_ID_PM = 0x01;
export const CAP_ID_MSI = 0x05;
export const CAP_ID_VENDOR = 0x09;
export const CAP_ID_MSIX = 0x11;

/** Interrupt pins (config byte 0x3D). */
export const INTA = 1;
export const INTB = 2;
export const INTC = 3;
export const INTD = 4;

// i440FX host bridge (function 00.0)
export const I440FX_PAM0 = 0x59; // PAM0-PAM6: 0x59-0x5F
export const I440FX_PAM_COUNT = 7;
export const I440FX_SMRAM = 0x72;

// PIIX3 ISA bridge (function 01.0)
export const PIIX_PIRQRC = 0x60; // PIRQA-D route control: 0x60-0x63
export const PIRQRC_DISABLE = 0x80;
export const PIRQRC_IRQ_MASK = 0x0f;
/** ISA IRQs a PIRQ may be routed to (PIIX3 datasheet 2.2.9). */
export const PIRQ_VALID_IRQS = [3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15] as const;

// PIIX reset control register (port 0xCF9)
export const RCR_SYS_RST = 0x02;
export const RCR_RST_CPU = 0x04;

// PIIX4 power management function (01.3)
export const PIIX4_PMBA = 0x40;
export const PIIX4_PMREGMISC = 0x80;
export const PMREGMISC_PMIOSE = 0x01;
export const PIIX4_PM_IO_MASK = 0xffc0;

// IDs
export const VENDOR_INTEL = 0x8086;
export const DEVICE_I440FX = 0x1237;
export const DEVICE_PIIX3_ISA = 0x7000;
export const DEVICE_PIIX3_IDE = 0x7010;
export const DEVICE_PIIX4_PM = 0x7113;
export const CLASS_HOST_BRIDGE = 0x060000;
export const CLASS_ISA_BRIDGE = 0x060100;
export const CLASS_IDE = 0x010180; // prog-if 0x80: bus master, legacy ports
export const CLASS_BRIDGE_OTHER = 0x068000;
