/**
 * ACPI fixed-hardware PM registers as the PIIX4 function 3 implements them. Sources: ACPI 6.5
 * specification section 4.8.3 "PM1 Event Grouping" (Tables 4.16/4.17), 4.8.3.2 "PM1 Control"
 * (Table 4.18), 4.8.3.3 "Power Management Timer"; PIIX4 datasheet (290562) section 7.2 "Power
 * Management I/O Space"; QEMU's FADT for the ACPI enable/disable SMI commands.
 */

/** Offsets in the PM I/O block (PMBA, 0x600 under SeaBIOS/QEMU). */
export const PM1_STS_OFFSET = 0x00; // 16-bit, write 1 to clear
export const PM1_EN_OFFSET = 0x02; // 16-bit
export const PM1_CNT_OFFSET = 0x04; // 16-bit
export const PM_TMR_OFFSET = 0x08; // 32-bit read-only (24-bit counter)
export const PM_IO_LENGTH = 0x40;

// PM1_STS / PM1_EN
export const TMR_STS = 0x0001;
export const BM_STS = 0x0010;
export const GBL_STS = 0x0020;
export const PWRBTN_STS = 0x0100;
export const RTC_STS = 0x0400;
export const WAK_STS = 0x8000;
export const PM1_STS_MASK = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | RTC_STS | WAK_STS;
export const TMR_EN = 0x0001;
export const GBL_EN = 0x0020;
export const PWRBTN_EN = 0x0100;
export const RTC_EN = 0x0400;
export const PM1_EN_MASK = TMR_EN | GBL_EN | PWRBTN_EN | RTC_EN;
/** Status bits that raise SCI when enabled. */
export const SCI_SOURCES = TMR_STS | GBL_STS | PWRBTN_STS | RTC_STS;

// PM1_CNT
export const SCI_EN = 0x0001;
export const BM_RLD = 0x0002;
export const GBL_RLS = 0x0004; // write-only
export const SLP_TYP_SHIFT = 10;
export const SLP_TYP_MASK = 0x1c00;
export const SLP_EN = 0x2000; // write-only
export const PM1_CNT_STORED = SCI_EN | BM_RLD | SLP_TYP_MASK;

/** The PM timer runs at 3.579545 MHz. */
export const PM_TIMER_HZ = 3_579_545;
/** TMR_STS is set when bit 23 of the 24-bit counter changes. */
export const PM_TIMER_STATUS_PERIOD = 1 << 23;

/** SLP_TYP values of QEMU's PIIX4 DSDT: \_S5 = 0 (soft off), \_S3 = 1. */
export const SLP_TYP_S5 = 0;
export const SLP_TYP_S3 = 1;

/** APM control/status ports (PIIX4 APMC 0xB2, APMS 0xB3) and the FADT SMI commands. */
export const APM_CNT_OFFSET = 0;
export const APM_STS_OFFSET = 1;
export const ACPI_ENABLE_CMD = 0xf1;
export const ACPI_DISABLE_CMD = 0xf0;
