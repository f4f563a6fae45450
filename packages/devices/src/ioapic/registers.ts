/**
 * 82093AA I/O APIC registers. Source: Intel 82093AA I/O Advanced Programmable Interrupt Controller
 * (IOAPIC) datasheet (order no. 290566), section 3.0 "Register Description": Table 2 (memory-mapped
 * IOREGSEL/IOWIN), 3.2.1 IOAPICID, 3.2.2 IOAPICVER, 3.2.3 IOAPICARB, 3.2.4 IOREDTBL[23:0]. The EOI
 * register at 0x40 and version 0x20 are those of the ICH/PIIX4-era IOAPIC that QEMU models
 * (hw/intc/ioapic.c, `IOAPIC_VER_DEF`).
 */

export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_MMIO_SIZE = 0x100;

// Memory-mapped registers (offsets from the base).
export const IOREGSEL_OFFSET = 0x00;
export const IOWIN_OFFSET = 0x10;
/** Directed EOI register of IOAPIC version 0x20: writing a vector acts as an EOI for it. */
export const EOI_OFFSET = 0x40;

// Indirect registers selected through IOREGSEL.
export const IOAPICID = 0x00;
export const IOAPICVER = 0x01;
export const IOAPICARB = 0x02;
/** IOREDTBL[n] low dword at 0x10 + 2n, high dword at 0x11 + 2n. */
export const IOREDTBL_BASE = 0x10;

export const NUM_PINS = 24;
export const VERSION = 0x20;
export const VER_MAX_REDIR_SHIFT = 16;
/** IOAPICID bits 27:24. */
export const ID_SHIFT = 24;
export const ID_MASK = 0x0f;

// Redirection entry, low dword (3.2.4).
export const RTE_VECTOR_MASK = 0xff;
export const RTE_DELIVERY_MODE_SHIFT = 8;
export const RTE_DELIVERY_MODE_MASK = 0x700;
/** Destination mode: 0 = physical (APIC ID), 1 = logical (set of processors). */
export const RTE_DEST_MODE = 1 << 11;
/** Delivery status (read-only): 1 = send pending. Delivery here is synchronous, so it reads 0. */
export const RTE_DELIVERY_STATUS = 1 << 12;
/** Interrupt input pin polarity: 1 = active low. */
export const RTE_POLARITY = 1 << 13;
/** Remote IRR (read-only, level-triggered only): set when a LAPIC accepted the interrupt, cleared by EOI. */
export const RTE_REMOTE_IRR = 1 << 14;
/** Trigger mode: 1 = level, 0 = edge. */
export const RTE_TRIGGER_LEVEL = 1 << 15;
export const RTE_MASK = 1 << 16;
/** Low-dword bits software may write (everything defined except delivery status and remote IRR). */
export const RTE_LOW_WRITABLE =
  RTE_VECTOR_MASK | RTE_DELIVERY_MODE_MASK | RTE_DEST_MODE | RTE_POLARITY | RTE_TRIGGER_LEVEL | RTE_MASK;
/** Redirection entry, high dword: destination field in bits 63:56. */
export const RTE_DEST_SHIFT = 24;
export const RTE_HIGH_WRITABLE = 0xff00_0000;

/** Delivery modes (3.2.4, bits 10:8); the same encoding as the local APIC's. */
export const DeliveryMode = {
  Fixed: 0,
  LowestPriority: 1,
  Smi: 2,
  Nmi: 4,
  Init: 5,
  ExtInt: 7,
} as const;

export const DestMode = { Physical: 0, Logical: 1 } as const;
export const Trigger = { Edge: 0, Level: 1 } as const;
