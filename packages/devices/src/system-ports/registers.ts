/**
 * PC/AT system control ports. Sources: IBM PC/AT Technical Reference (port 61h, "system control
 * port B"), PIIX4 datasheet (290562) section 4.1 "NMI Status and Control Register", and the IBM PS/2
 * "system control port A" (92h) as described in the PIIX4 datasheet section 4.1 (PORT92).
 */

export const PORT_B = 0x61;
// Port 0x61 ("NMI status and control" on PIIX)
export const PORTB_TIMER2_GATE = 0x01; // R/W: counter 2 GATE
export const PORTB_SPEAKER_DATA = 0x02; // R/W: speaker data enable (ANDed with counter 2 OUT)
export const PORTB_PARITY_CHECK_DISABLE = 0x04; // R/W
export const PORTB_IOCHK_DISABLE = 0x08; // R/W
export const PORTB_REFRESH_TOGGLE = 0x10; // RO: toggles every refresh cycle (15.085 us)
export const PORTB_TIMER2_OUT = 0x20; // RO: counter 2 OUT
export const PORTB_IOCHK_STATUS = 0x40; // RO
export const PORTB_PARITY_STATUS = 0x80; // RO
export const PORTB_WRITABLE = 0x0f;
/** Refresh request period of the PC/AT (counter 1 at 18 ticks of 1.193182 MHz). */
export const REFRESH_PERIOD_NS = 15_085;

export const PORT_A = 0x92;
// Port 0x92 ("fast A20 and init")
export const PORTA_FAST_RESET = 0x01; // writing 1 pulses INIT (reset)
export const PORTA_A20 = 0x02; // A20 gate
