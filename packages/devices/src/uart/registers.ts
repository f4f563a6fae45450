/**
 * 16550A register offsets and bits, grouped by register.
 * Source: TI/National PC16550D "Universal Asynchronous Receiver/Transmitter with FIFOs" datasheet,
 * Table II ("Summary of Registers") and sections 8.4-8.8.
 */

// Offsets from the base port. DLAB is LCR bit 7.
export const RBR_OFFSET = 0; // receiver buffer (read, DLAB=0)
export const THR_OFFSET = 0; // transmitter holding (write, DLAB=0)
export const DLL_OFFSET = 0; // divisor latch LSB (DLAB=1)
export const IER_OFFSET = 1; // interrupt enable (DLAB=0)
export const DLM_OFFSET = 1; // divisor latch MSB (DLAB=1)
export const IIR_OFFSET = 2; // interrupt identification (read)
export const FCR_OFFSET = 2; // FIFO control (write)
export const LCR_OFFSET = 3;
export const MCR_OFFSET = 4;
export const LSR_OFFSET = 5;
export const MSR_OFFSET = 6;
export const SCR_OFFSET = 7;
/** Eight consecutive ports (0x3F8-0x3FF for COM1). */
export const UART_PORT_COUNT = 8;

// IER
export const IER_RDA_BIT = 0x01; // ERBFI: received data available (and character timeout)
export const IER_THRE_BIT = 0x02; // ETBEI: transmitter holding register empty
export const IER_RLS_BIT = 0x04; // ELSI: receiver line status
export const IER_MSI_BIT = 0x08; // EDSSI: modem status
export const IER_MASK = 0x0f; // bits 4-7 are always 0 on the 16550A

// IIR: bit 0 is 0 while an interrupt is pending; bits 1-3 identify the highest-priority one.
export const IIR_NO_INT = 0x01;
export const IIR_ID_RLS = 0x06; // priority 1: overrun/parity/framing/break
export const IIR_ID_RDA = 0x04; // priority 2: data at or above the trigger level
export const IIR_ID_TIMEOUT = 0x0c; // priority 2: character timeout (FIFO mode only)
export const IIR_ID_THRE = 0x02; // priority 3
export const IIR_ID_MSI = 0x00; // priority 4
export const IIR_FIFO_ENABLED = 0xc0; // bits 6-7 set when FCR bit 0 is set

// FCR
export const FCR_FIFO_ENABLE = 0x01;
export const FCR_RX_RESET = 0x02;
export const FCR_TX_RESET = 0x04;
export const FCR_DMA_MODE = 0x08;
export const FCR_TRIGGER_MASK = 0xc0;
/** RX trigger level in bytes for FCR bits 7:6 = 00, 01, 10, 11 (datasheet Table III). */
export const FCR_TRIGGER_LEVELS = [1, 4, 8, 14] as const;

// LCR
export const LCR_WORD_LENGTH_MASK = 0x03;
export const LCR_STOP_BITS = 0x04;
export const LCR_PARITY_ENABLE = 0x08;
export const LCR_EVEN_PARITY = 0x10;
export const LCR_STICK_PARITY = 0x20;
export const LCR_BREAK = 0x40;
export const LCR_DLAB = 0x80;

// MCR
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08; // gates the interrupt output on PC boards
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f; // bits 5-7 are always 0 on the 16550A

// LSR
export const LSR_DR = 0x01; // data ready
export const LSR_OE = 0x02; // overrun error
export const LSR_PE = 0x04; // parity error
export const LSR_FE = 0x08; // framing error
export const LSR_BI = 0x10; // break interrupt
export const LSR_THRE = 0x20; // transmitter holding register empty
export const LSR_TEMT = 0x40; // transmitter empty
export const LSR_RX_FIFO_ERROR = 0x80; // FIFO mode: an error byte is in the RX FIFO
export const LSR_ERROR_BITS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// MSR: bits 0-3 are deltas (cleared on read), bits 4-7 the complement of the input pins.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04; // trailing edge of ring indicator
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
export const MSR_DELTA_BITS = 0x0f;

/** Capacity of each FIFO on the 16550A (datasheet section 1, "Features"). */
export const FIFO_CAPACITY = 16;
/** Input clock of a PC UART: 1.8432 MHz, i.e. 115200 baud at divisor 1. */
export const UART_CLOCK_HZ = 1_843_200;
