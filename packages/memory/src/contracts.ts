/**
 * The tiny contracts every device is written against (after rust-vmm vm-superio and Firecracker's
 * `BusDevice`). A device sees only offsets relative to its own base, never the bus, the CPU or the
 * machine; its side effects go through one-method interfaces that the composition root injects.
 */

/** Access width in bytes that a bus hands to a device. */
export type AccessSize = 1 | 2 | 4;

/** A device on the port-I/O bus. `offset` is relative to the base the device was inserted at. */
export interface PioDevice {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  /** Widest access the device handles itself; the bus splits wider ones (default 4). */
  readonly maxAccessSize?: AccessSize;
}

/** A device on the memory-mapped I/O bus. Same shape as {@link PioDevice}. */
export interface MmioDevice {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  readonly maxAccessSize?: AccessSize;
}

/** An interrupt line into an interrupt controller. Level semantics; an edge is `set(true)` then `set(false)`. */
export interface IrqLine {
  set(level: boolean): void;
}

/** Virtual time in nanoseconds, supplied by the VMM (never read from the host clock by a device). */
export interface Clock {
  nowNs(): number;
}

/** Where a device sends bytes (a UART's transmitter, a console). */
export interface ByteSink {
  writeByte(byte: number): void;
}

/** Where a device pulls bytes from; returns -1 when nothing is waiting. */
export interface ByteSource {
  readByte(): number;
}

/** An IRQ line that goes nowhere; a default for devices wired without interrupts. */
export const NO_IRQ: IrqLine = { set() {} };
/** A sink that drops bytes. */
export const NULL_SINK: ByteSink = { writeByte() {} };
