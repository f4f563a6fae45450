import {
  type AccessSize,
  type ByteSink,
  type ByteSource,
  type IrqLine,
  NO_IRQ,
  NULL_SINK,
} from '@typevisor/memory';
import {
  FCR_FIFO_ENABLE,
  FCR_OFFSET,
  FCR_RX_RESET,
  FCR_TRIGGER_LEVELS,
  FIFO_CAPACITY,
  IER_MASK,
  IER_MSI_BIT,
  IER_OFFSET,
  IER_RDA_BIT,
  IER_RLS_BIT,
  IER_THRE_BIT,
  IIR_FIFO_ENABLED,
  IIR_ID_MSI,
  IIR_ID_RDA,
  IIR_ID_RLS,
  IIR_ID_THRE,
  IIR_ID_TIMEOUT,
  IIR_NO_INT,
  IIR_OFFSET,
  LCR_DLAB,
  LCR_OFFSET,
  LSR_DR,
  LSR_ERROR_BITS,
  LSR_OE,
  LSR_OFFSET,
  LSR_TEMT,
  LSR_THRE,
  MCR_DTR,
  MCR_LOOP,
  MCR_MASK,
  MCR_OFFSET,
  MCR_OUT1,
  MCR_OUT2,
  MCR_RTS,
  MSR_CTS,
  MSR_DCD,
  MSR_DCTS,
  MSR_DDCD,
  MSR_DDSR,
  MSR_DELTA_BITS,
  MSR_DSR,
  MSR_OFFSET,
  MSR_RI,
  MSR_TERI,
  RBR_OFFSET,
  SCR_OFFSET,
  THR_OFFSET,
  UART_CLOCK_HZ,
} from './registers.js';
import { type Uart16550State, validateUartState } from './state.js';

export interface Uart16550Options {
  /** Interrupt output (IRQ4 for COM1 on a PC). */
  readonly irq?: IrqLine;
  /** Where transmitted bytes go. */
  readonly output?: ByteSink;
  /** Pulled from when the RX FIFO has room (see {@link Uart16550.pollInput}). */
  readonly input?: ByteSource;
  /**
   * Gate the interrupt output with MCR.OUT2, as the PC/AT board does. Off by default, like QEMU's
   * 16550A and vm-superio, so guests that never set OUT2 still see interrupts.
   */
  readonly gateIrqWithOut2?: boolean;
}

/** Modem status inputs the host can drive when not in loopback. */
export interface ModemInputs {
  readonly cts?: boolean;
  readonly dsr?: boolean;
  readonly ri?: boolean;
  readonly dcd?: boolean;
}

/**
 * A National/TI PC16550D UART: divisor latch, 16-byte FIFOs, all four interrupt sources, modem control
 * and loopback. Transmission is instantaneous (no line timing): a byte written to THR reaches the sink
 * before the write returns and THR is empty again at once.
 *
 * Wiring it takes three lines:
 * ```ts
 * const com1 = new Uart16550({ irq: pic.irqLine(4), output: stdoutSink });
 * pio.insert(0x3f8, UART_PORT_COUNT, com1, 'com1');
 * com1.receive(0x41); // host keyboard input
 * ```
 */
export class Uart16550 {
  readonly maxAccessSize: AccessSize = 1;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsrErrors = 0;
  private msrDeltas = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud, the usual power-on choice of PC firmware
  private dlm = 0;
  private fcr = 0;
  private rx: number[] = [];
  private thrInterrupt = false;
  /** CTS, DSR and DCD asserted by default: a terminal is attached (as QEMU's default). */
  private modemInputs = MSR_CTS | MSR_DSR | MSR_DCD;
  private irqLevel = false;
  private readonly irq: IrqLine;
  private readonly output: ByteSink;
  private readonly input: ByteSource | undefined;
  private readonly gateIrqWithOut2: boolean;

  constructor(options: Uart16550Options = {}) {
    this.irq = options.irq ?? NO_IRQ;
    this.output = options.output ?? NULL_SINK;
    this.input = options.input;
    this.gateIrqWithOut2 = options.gateIrqWithOut2 ?? false;
  }

  read(offset: number, _size: AccessSize): number {
    let value: number;
    switch (offset) {
      case RBR_OFFSET:
        value = this.dlab ? this.dll : this.readRbr();
        break;
      case IER_OFFSET:
        value = this.dlab ? this.dlm : this.ier;
        break;
      case IIR_OFFSET:
        value = this.readIir();
        break;
      case LCR_OFFSET:
        value = this.lcr;
        break;
      case MCR_OFFSET:
        value = this.mcr;
        break;
      case LSR_OFFSET:
        value = this.lsr();
        // Reading LSR clears the error bits and so the receiver-line-status interrupt (datasheet 8.6).
        this.lsrErrors = 0;
        break;
      case MSR_OFFSET:
        value = this.msr();
        this.msrDeltas = 0;
        break;
      case SCR_OFFSET:
        value = this.scr;
        break;
      default:
        return 0xff;
    }
    this.updateIrq();
    return value;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    switch (offset) {
      case THR_OFFSET:
        if (this.dlab) this.dll = value;
        else this.transmit(value);
        break;
      case IER_OFFSET:
        if (this.dlab) {
          this.dlm = value;
        } else {
          const old = this.ier;
          this.ier = value & IER_MASK;
          // Enabling ETBEI while THR is empty raises THRE at once; Linux's THRE probe relies on it.
          if ((this.ier & IER_THRE_BIT) !== 0 && (old & IER_THRE_BIT) === 0) this.thrInterrupt = true;
        }
        break;
      case FCR_OFFSET:
        this.writeFcr(value);
        break;
      case LCR_OFFSET:
        this.lcr = value;
        break;
      case MCR_OFFSET:
        this.writeMcr(value & MCR_MASK);
        break;
      case LSR_OFFSET:
      case MSR_OFFSET:
        // Factory test registers on the 16550A; writes are ignored here.
        return;
      case SCR_OFFSET:
        this.scr = value;
        break;
      default:
        return;
    }
    this.updateIrq();
  }

  /**
   * Offers one byte from the host to the receiver. Returns false, without losing anything, when the
   * RX FIFO (or the holding register in non-FIFO mode) is full: the host should retry later.
   */
  receive(byte: number): boolean {
    if (this.rx.length >= this.rxCapacity) return false;
    this.rx.push(byte & 0xff);
    this.updateIrq();
    return true;
  }

  /** Offers bytes; returns how many were accepted. */
  receiveBytes(bytes: ArrayLike<number>): number {
    let n = 0;
    while (n < bytes.length && this.receive(bytes[n]!)) n++;
    return n;
  }

  /** Pulls from the injected input source while the RX FIFO has room; returns the bytes taken. */
  pollInput(): number {
    if (this.input === undefined) return 0;
    let n = 0;
    while (this.rx.length < this.rxCapacity) {
      const b = this.input.readByte();
      if (b < 0) break;
      this.rx.push(b & 0xff);
      n++;
    }
    if (n > 0) this.updateIrq();
    return n;
  }

  /** Sets modem status inputs (ignored while in loopback, where MCR drives them). */
  setModemInputs(inputs: ModemInputs): void {
    let v = this.modemInputs;
    const put = (bit: number, on: boolean | undefined): void => {
      if (on !== undefined) v = on ? v | bit : v & ~bit;
    };
    put(MSR_CTS, inputs.cts);
    put(MSR_DSR, inputs.dsr);
    put(MSR_RI, inputs.ri);
    put(MSR_DCD, inputs.dcd);
    const before = this.msrStatus();
    this.modemInputs = v;
    this.noteMsrChange(before, this.msrStatus());
    this.updateIrq();
  }

  /** Room left in the RX FIFO. */
  get rxSpace(): number {
    return this.rxCapacity - this.rx.length;
  }

  /** Baud rate the guest programmed (0 while the divisor is 0). */
  get baudRate(): number {
    const divisor = (this.dlm << 8) | this.dll;
    return divisor === 0 ? 0 : UART_CLOCK_HZ / 16 / divisor;
  }

  /** Level of the interrupt output. */
  get interruptPending(): boolean {
    return this.irqLevel;
  }

  getState(): Uart16550State {
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsrErrors: this.lsrErrors,
      msrDeltas: this.msrDeltas,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fcr: this.fcr,
      rxFifo: [...this.rx],
      thrInterrupt: this.thrInterrupt,
      modemInputs: this.modemInputs,
    };
  }

  static fromState(state: Uart16550State, options: Uart16550Options = {}): Uart16550 {
    validateUartState(state);
    const u = new Uart16550(options);
    u.ier = state.ier;
    u.lcr = state.lcr;
    u.mcr = state.mcr;
    u.lsrErrors = state.lsrErrors;
    u.msrDeltas = state.msrDeltas;
    u.scr = state.scr;
    u.dll = state.dll;
    u.dlm = state.dlm;
    u.fcr = state.fcr;
    u.rx = state.rxFifo.slice(0, u.rxCapacity);
    u.thrInterrupt = state.thrInterrupt;
    u.modemInputs = state.modemInputs;
    u.updateIrq();
    return u;
  }

  private get dlab(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  private get fifoEnabled(): boolean {
    return (this.fcr & FCR_FIFO_ENABLE) !== 0;
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? FIFO_CAPACITY : 1;
  }

  private get loopback(): boolean {
    return (this.mcr & MCR_LOOP) !== 0;
  }

  private readRbr(): number {
    const b = this.rx.shift() ?? 0;
    if (this.rx.length === 0 && this.input !== undefined) this.pollInput();
    return b;
  }

  private readIir(): number {
    const id = this.pendingId();
    // Reading IIR while THRE is the reported source clears it (datasheet Table IV, "reset control").
    if (id === IIR_ID_THRE) this.thrInterrupt = false;
    return id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
  }

  private transmit(byte: number): void {
    if (this.loopback) {
      if (this.rx.length >= this.rxCapacity) this.lsrErrors |= LSR_OE;
      else this.rx.push(byte);
    } else {
      this.output.writeByte(byte);
    }
    // The byte left at once, so THR is empty again and THRE is re-armed.
    this.thrInterrupt = true;
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_FIFO_ENABLE) !== 0;
    // Changing the enable bit clears both FIFOs (datasheet 8.5); so does RX reset. With no line
    // timing the TX FIFO is always empty, so TX reset has nothing to clear.
    if (enable !== this.fifoEnabled || (value & FCR_RX_RESET) !== 0) this.rx = [];
    this.fcr = enable ? value & 0xc9 : 0;
    if (this.rx.length > this.rxCapacity) this.rx.length = this.rxCapacity;
  }

  private writeMcr(value: number): void {
    const before = this.msrStatus();
    this.mcr = value;
    this.noteMsrChange(before, this.msrStatus());
  }

  private lsr(): number {
    let v = LSR_THRE | LSR_TEMT | this.lsrErrors;
    if (this.rx.length > 0) v |= LSR_DR;
    return v;
  }

  /** MSR bits 4-7: the input pins, or in loopback the MCR outputs wired back (datasheet 8.7). */
  private msrStatus(): number {
    if (!this.loopback) return this.modemInputs;
    let v = 0;
    if (this.mcr & MCR_RTS) v |= MSR_CTS;
    if (this.mcr & MCR_DTR) v |= MSR_DSR;
    if (this.mcr & MCR_OUT1) v |= MSR_RI;
    if (this.mcr & MCR_OUT2) v |= MSR_DCD;
    return v;
  }

  private noteMsrChange(before: number, after: number): void {
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    if (before & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TERI;
  }

  private msr(): number {
    return this.msrStatus() | (this.msrDeltas & MSR_DELTA_BITS);
  }

  /** The IIR identification of the highest-priority pending interrupt (datasheet Table IV). */
  private pendingId(): number {
    const ier = this.ier;
    if (ier & IER_RLS_BIT && this.lsrErrors & LSR_ERROR_BITS) return IIR_ID_RLS;
    if (ier & IER_RDA_BIT && this.rx.length > 0) {
      if (!this.fifoEnabled) return IIR_ID_RDA;
      const trigger = FCR_TRIGGER_LEVELS[(this.fcr >>> 6) & 3]!;
      // Below the trigger level the 16550A reports a character timeout after four idle character
      // times. There is no line timing here, so the timeout is reported at once.
      return this.rx.length >= trigger ? IIR_ID_RDA : IIR_ID_TIMEOUT;
    }
    if (ier & IER_THRE_BIT && this.thrInterrupt) return IIR_ID_THRE;
    if (ier & IER_MSI_BIT && this.msrDeltas & MSR_DELTA_BITS) return IIR_ID_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    let level = this.pendingId() !== IIR_NO_INT;
    if (this.gateIrqWithOut2 && (this.mcr & MCR_OUT2) === 0) level = false;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
