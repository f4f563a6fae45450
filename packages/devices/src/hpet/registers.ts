/**
 * HPET registers. Source: IA-PC HPET (High Precision Event Timers) Specification 1.0a (Intel, 2004),
 * section 2.3 "Register Definition and Address Map" (Table 3) and 2.3.4-2.3.10; QEMU's defaults from
 * hw/timer/hpet.c (capabilities 0x8086A001 with NUM_TIM_CAP = timers - 1, a 10 ns period, three
 * timers, Tn_INT_ROUTE_CAP advertising IOAPIC input 2 on the pc machine).
 */

export const HPET_BASE = 0xfed0_0000;
export const HPET_MMIO_SIZE = 0x400;

// General registers (64-bit; accessed as two dwords).
export const GCAP_ID_OFFSET = 0x000;
/** COUNTER_CLK_PERIOD: the upper dword of GCAP_ID. */
export const PERIOD_OFFSET = 0x004;
export const GEN_CONF_OFFSET = 0x010;
export const GINTR_STA_OFFSET = 0x020;
export const MAIN_CNT_OFFSET = 0x0f0;
/** Timer N registers at 0x100 + 0x20 * N. */
export const TIMER_BASE = 0x100;
export const TIMER_STRIDE = 0x20;
export const TN_CONF_OFFSET = 0x00;
export const TN_COMPARATOR_OFFSET = 0x08;
export const TN_FSB_ROUTE_OFFSET = 0x10;

// GCAP_ID low dword (2.3.4).
export const CAP_REV_ID_MASK = 0xff;
export const CAP_NUM_TIM_SHIFT = 8;
/** COUNT_SIZE_CAP: the main counter is 64 bits wide. */
export const CAP_COUNT_SIZE = 1 << 13;
/** LEG_RT_CAP: legacy replacement routing is supported. */
export const CAP_LEG_RT = 1 << 15;
export const CAP_VENDOR_SHIFT = 16;
/** QEMU's capability dword before NUM_TIM_CAP is merged in: Intel, legacy route, 64-bit, revision 1. */
export const QEMU_CAPABILITIES = 0x8086_a001;
/** Counter period in femtoseconds: 10 ns, a 100 MHz counter (QEMU's HPET_CLK_PERIOD). */
export const PERIOD_FS = 10_000_000;
export const PERIOD_NS = 10;
export const DEFAULT_TIMERS = 3;
export const MAX_TIMERS = 32;

// GEN_CONF (2.3.5).
export const CONF_ENABLE = 1 << 0;
/** LEG_RT_CNF: timer 0 -> 8259 IRQ0 / IOAPIC INTI2, timer 1 -> IRQ8 / INTI8. */
export const CONF_LEG_RT = 1 << 1;
export const CONF_WRITABLE = CONF_ENABLE | CONF_LEG_RT;
/** The route numbers handed to the IRQ factory for legacy replacement (ISA IRQs). */
export const LEGACY_TIMER0_IRQ = 0;
export const LEGACY_TIMER1_IRQ = 8;

// Tn_CONF_CAP (2.3.8), low dword; the high dword is Tn_INT_ROUTE_CAP.
/** Tn_INT_TYPE_CNF: 1 = level-triggered, 0 = edge. */
export const TN_INT_TYPE_LEVEL = 1 << 1;
export const TN_INT_ENB = 1 << 2;
/** Tn_TYPE_CNF: 1 = periodic. */
export const TN_TYPE_PERIODIC = 1 << 3;
export const TN_PER_INT_CAP = 1 << 4;
/** Tn_SIZE_CAP: the timer is 64 bits wide. */
export const TN_SIZE_CAP = 1 << 5;
/** Tn_VAL_SET_CNF: the next comparator write in periodic mode sets the value, not just the period. */
export const TN_VAL_SET = 1 << 6;
/** Tn_32MODE_CNF: force a 64-bit timer to behave as a 32-bit one. */
export const TN_32MODE = 1 << 8;
export const TN_INT_ROUTE_SHIFT = 9;
export const TN_INT_ROUTE_MASK = 0x1f << TN_INT_ROUTE_SHIFT;
export const TN_FSB_EN = 1 << 14;
export const TN_FSB_INT_DEL_CAP = 1 << 15;
/** Bits software may write (FSB delivery is not offered, so Tn_FSB_EN_CNF stays 0). */
export const TN_WRITABLE =
  TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | TN_32MODE | TN_INT_ROUTE_MASK;
/** QEMU's pc machine: each timer may be routed to IOAPIC input 2 only. */
export const DEFAULT_ROUTE_CAP = 1 << 2;
