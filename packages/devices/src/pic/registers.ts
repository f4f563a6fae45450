/**
 * 8259A command words and bits. Source: Intel 8259A Programmable Interrupt Controller datasheet
 * (order no. 231468), "Initialization Command Words" (Figure 7) and "Operation Command Words"
 * (Figure 8); PIIX/PIIX3 datasheet (order no. 290550) section 2.2.2 for ELCR1/ELCR2.
 */

/** Port offsets within one chip (0x20/0x21 master, 0xA0/0xA1 slave). */
export const PIC_COMMAND_OFFSET = 0; // A0 = 0: ICW1, OCW2, OCW3; reads IRR/ISR/poll
export const PIC_DATA_OFFSET = 1; // A0 = 1: ICW2-4, OCW1 (IMR)
export const PIC_PORT_COUNT = 2;
export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
/** Edge/level control registers of the PIIX (0x4D0 for IRQ0-7, 0x4D1 for IRQ8-15). */
export const ELCR_BASE = 0x4d0;
export const ELCR_PORT_COUNT = 2;
/** IRQ0, IRQ1, IRQ2 (master) and IRQ8, IRQ13 (slave) are edge-only: their ELCR bits read 0. */
export const ELCR_MASTER_MASK = 0xf8;
export const ELCR_SLAVE_MASK = 0xde;

/** The master IR input the slave's INT output is wired to on a PC. */
export const CASCADE_IRQ = 2;

// ICW1 (A0 = 0, D4 = 1)
export const ICW1_SELECT = 0x10;
export const ICW1_IC4 = 0x01; // ICW4 follows
export const ICW1_SNGL = 0x02; // single chip: no ICW3
export const ICW1_ADI = 0x04; // call address interval (MCS-80 only)
export const ICW1_LTIM = 0x08; // level-triggered mode for all inputs

// ICW4
export const ICW4_UPM = 0x01; // 8086 mode
export const ICW4_AEOI = 0x02; // automatic EOI
export const ICW4_MS = 0x04; // buffered master/slave
export const ICW4_BUF = 0x08;
export const ICW4_SFNM = 0x10; // special fully nested mode

// OCW2 (A0 = 0, D4 = 0, D3 = 0): bits 7-5 are R, SL, EOI; bits 2-0 the level.
export const OCW2_LEVEL_MASK = 0x07;
export const OCW2_COMMAND_MASK = 0xe0;
export const OCW2_ROTATE_AEOI_CLEAR = 0x00;
export const OCW2_NONSPECIFIC_EOI = 0x20;
export const OCW2_NOP = 0x40;
export const OCW2_SPECIFIC_EOI = 0x60;
export const OCW2_ROTATE_AEOI_SET = 0x80;
export const OCW2_ROTATE_NONSPECIFIC_EOI = 0xa0;
export const OCW2_SET_PRIORITY = 0xc0;
export const OCW2_ROTATE_SPECIFIC_EOI = 0xe0;

// OCW3 (A0 = 0, D4 = 0, D3 = 1)
export const OCW3_SELECT = 0x08;
export const OCW3_RIS = 0x01; // with RR: 1 = read ISR, 0 = read IRR
export const OCW3_RR = 0x02;
export const OCW3_POLL = 0x04;
export const OCW3_SMM = 0x20; // with ESMM: 1 = set special mask, 0 = reset
export const OCW3_ESMM = 0x40;

/** Poll word bit 7: an interrupt was pending; bits 2-0 its level. */
export const POLL_INTERRUPT = 0x80;
