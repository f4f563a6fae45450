/**
 * Local APIC registers. Source: Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 3A,
 * chapter 11 "Advanced Programmable Interrupt Controller (APIC)": Table 11-1 (local APIC register
 * address map), 11.4.4 (IA32_APIC_BASE), 11.4.6 (ID), 11.4.8 (version), 11.5.1 (LVT, Figure 11-8),
 * 11.5.3 (ESR), 11.5.4 (timer, divide configuration, TSC-deadline mode), 11.6.1 (ICR, Figure 11-12),
 * 11.6.2 (LDR/DFR), 11.8.3 (TPR/PPR/APR), 11.8.4 (IRR/ISR/TMR), 11.8.5 (EOI), 11.9 (SVR), 11.12
 * (x2APIC: Table 11-6 MSR map, 11.12.9 ICR, 11.12.10 LDR, 11.12.11 SELF IPI). The version value is
 * QEMU's (hw/intc/apic.c: 0x14 with six LVT entries).
 */

export const LAPIC_BASE = 0xfee0_0000;
export const LAPIC_MMIO_SIZE = 0x1000;

/** MMIO offsets (each register is 32 bits at a 16-byte-aligned offset). */
export const Reg = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR0: 0x100,
  TMR0: 0x180,
  IRR0: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LOW: 0x300,
  ICR_HIGH: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PERF: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
  /** x2APIC only (MSR 0x83F). */
  SELF_IPI: 0x3f0,
} as const;

/** x2APIC register MSRs are 0x800 + (MMIO offset >> 4) (SDM 11.12.1.2). */
export const X2APIC_MSR_BASE = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;
export const MSR_APIC_BASE = 0x1b;
export const MSR_TSC_DEADLINE = 0x6e0;

// IA32_APIC_BASE (11.4.4, 11.12.1).
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EXTD = 1 << 10;
export const APIC_BASE_ENABLE = 1 << 11;
export const APIC_BASE_ADDR_MASK = 0x000f_ffff_ffff_f000n;

/** QEMU's version register: version 0x14, max LVT entry 5 (six LVTs, no CMCI), no EOI suppression. */
export const VERSION = 0x0005_0014;
export const XAPIC_ID_SHIFT = 24;

// SVR (11.9).
export const SVR_VECTOR_MASK = 0xff;
export const SVR_ENABLE = 1 << 8;
export const SVR_FOCUS_DISABLE = 1 << 9;
export const SVR_WRITABLE = SVR_VECTOR_MASK | SVR_ENABLE | SVR_FOCUS_DISABLE;

// DFR (11.6.2.2): model in bits 31:28, the rest reads as ones.
export const DFR_MODEL_SHIFT = 28;
export const DFR_FLAT = 0xf;
export const DFR_CLUSTER = 0x0;
export const DFR_RESERVED_ONES = 0x0fff_ffff;
export const LDR_MASK = 0xff00_0000;

// LVT fields (11.5.1, Figure 11-8).
export const LVT_VECTOR_MASK = 0xff;
export const LVT_DELIVERY_MODE_SHIFT = 8;
export const LVT_DELIVERY_MODE_MASK = 0x700;
export const LVT_DELIVERY_STATUS = 1 << 12;
export const LVT_POLARITY = 1 << 13;
/** Remote IRR (LINT0/LINT1, fixed level-triggered): set on acceptance, cleared by EOI. */
export const LVT_REMOTE_IRR = 1 << 14;
export const LVT_TRIGGER_LEVEL = 1 << 15;
export const LVT_MASKED = 1 << 16;
export const LVT_TIMER_MODE_SHIFT = 17;
export const LVT_TIMER_MODE_MASK = 3 << 17;
/** Writable bits per LVT register. */
export const LVT_TIMER_WRITABLE = LVT_VECTOR_MASK | LVT_MASKED | LVT_TIMER_MODE_MASK;
export const LVT_LINT_WRITABLE =
  LVT_VECTOR_MASK | LVT_DELIVERY_MODE_MASK | LVT_POLARITY | LVT_TRIGGER_LEVEL | LVT_MASKED;
export const LVT_THERMAL_PERF_WRITABLE = LVT_VECTOR_MASK | LVT_DELIVERY_MODE_MASK | LVT_MASKED;
export const LVT_ERROR_WRITABLE = LVT_VECTOR_MASK | LVT_MASKED;
/** Reset value of every LVT: masked. */
export const LVT_RESET = LVT_MASKED;
/** QEMU leaves the BSP's LINT0 in ExtINT mode at reset so the 8259 works before the OS sets it up. */
export const LVT_LINT0_BSP_RESET = 7 << LVT_DELIVERY_MODE_SHIFT;

export const TimerMode = { OneShot: 0, Periodic: 1, TscDeadline: 2 } as const;

/** Divide configuration (11.5.4, Figure 11-10): bits 0, 1 and 3. */
export const DCR_WRITABLE = 0b1011;

// ESR bits (11.5.3).
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;
export const ESR_ILLEGAL_REGISTER = 1 << 7;

// ICR (11.6.1, Figure 11-12).
export const ICR_VECTOR_MASK = 0xff;
export const ICR_DELIVERY_MODE_SHIFT = 8;
export const ICR_DELIVERY_MODE_MASK = 0x700;
export const ICR_DEST_LOGICAL = 1 << 11;
export const ICR_DELIVERY_STATUS = 1 << 12;
export const ICR_LEVEL_ASSERT = 1 << 14;
export const ICR_TRIGGER_LEVEL = 1 << 15;
export const ICR_SHORTHAND_SHIFT = 18;
export const ICR_SHORTHAND_MASK = 3 << 18;
export const ICR_LOW_WRITABLE =
  ICR_VECTOR_MASK |
  ICR_DELIVERY_MODE_MASK |
  ICR_DEST_LOGICAL |
  ICR_LEVEL_ASSERT |
  ICR_TRIGGER_LEVEL |
  ICR_SHORTHAND_MASK;
export const ICR_XAPIC_DEST_SHIFT = 24;

export const Shorthand = { None: 0, Self: 1, AllIncludingSelf: 2, AllExcludingSelf: 3 } as const;

/** Delivery modes shared by the LVT, the ICR and interrupt messages (Figure 11-8, 11-12). */
export const DeliveryMode = {
  Fixed: 0,
  LowestPriority: 1,
  Smi: 2,
  Nmi: 4,
  Init: 5,
  StartUp: 6,
  ExtInt: 7,
} as const;

/** Vectors 0-15 are reserved; sending or receiving one is an error (11.5.2). */
export const FIRST_VALID_VECTOR = 16;
