/**
 * Fakes of the device contracts, for other packages' tests (like virtio-queue's `mock.rs`).
 * Import from `@typevisor/memory/testing`.
 */
import type {
  AccessSize,
  ByteSink,
  ByteSource,
  Clock,
  IrqLine,
  MmioDevice,
  PioDevice,
} from '../contracts.js';

/** An IRQ line that remembers its level and counts rising edges. */
export class FakeIrqLine implements IrqLine {
  level = false;
  risingEdges = 0;
  readonly history: boolean[] = [];
  set(level: boolean): void {
    if (level && !this.level) this.risingEdges++;
    this.level = level;
    this.history.push(level);
  }
}

/** A clock the test advances by hand. */
export class ManualClock implements Clock {
  constructor(private ns = 0) {}
  nowNs(): number {
    return this.ns;
  }
  advanceNs(ns: number): void {
    this.ns += ns;
  }
  setNs(ns: number): void {
    this.ns = ns;
  }
}

/** A byte sink that keeps everything written to it. */
export class CollectingSink implements ByteSink {
  readonly bytes: number[] = [];
  writeByte(byte: number): void {
    this.bytes.push(byte & 0xff);
  }
  text(): string {
    return String.fromCharCode(...this.bytes);
  }
}

/** A byte source fed by the test. */
export class QueueSource implements ByteSource {
  private readonly queue: number[] = [];
  push(data: string | Iterable<number>): void {
    for (const b of typeof data === 'string' ? Buffer.from(data, 'latin1') : data) this.queue.push(b & 0xff);
  }
  readByte(): number {
    return this.queue.length > 0 ? this.queue.shift()! : -1;
  }
}

/** One recorded device access. */
export interface Access {
  readonly write: boolean;
  readonly offset: number;
  readonly size: AccessSize;
  readonly value: number;
}

/**
 * A device backed by little-endian scratch bytes that records every access it receives; usable on
 * either bus. `maxAccessSize` lets tests see how the bus splits wide accesses.
 */
export class ScratchDevice implements PioDevice, MmioDevice {
  readonly bytes: Uint8Array;
  readonly accesses: Access[] = [];
  constructor(
    length: number,
    readonly maxAccessSize: AccessSize = 4,
  ) {
    this.bytes = new Uint8Array(length);
  }
  read(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (this.bytes[offset + i] ?? 0xff);
    this.accesses.push({ write: false, offset, size, value: v });
    return v;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.accesses.push({ write: true, offset, size, value });
    let v = value >>> 0;
    for (let i = 0; i < size; i++) {
      if (offset + i < this.bytes.length) this.bytes[offset + i] = v & 0xff;
      v = Math.floor(v / 256);
    }
  }
}
