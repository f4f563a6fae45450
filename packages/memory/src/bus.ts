import type { AccessSize } from './contracts.js';
import { MemoryError } from './errors.js';

/** The device shape both buses carry. */
export interface BusDevice {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  readonly maxAccessSize?: AccessSize;
}

/** A device placed on a bus. */
export interface BusRange<D extends BusDevice> {
  readonly base: number;
  readonly length: number;
  readonly device: D;
  readonly name: string;
}

/** Called for an access where no device sits (for `-d guest_errors` style logging). */
export type UnassignedHandler = (addr: number, size: AccessSize, write: boolean, value: number) => void;

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffff_ffff] as const;

/**
 * A bus: sorted, non-overlapping ranges with binary-search lookup (Firecracker's `Bus`).
 * An access wider than a device's `maxAccessSize`, or one that crosses the end of a range, is split
 * into smaller little-endian accesses. Where no device sits, reads return all-ones and writes are
 * dropped, as on a PC; guest accesses never throw.
 */
export class Bus<D extends BusDevice> {
  private ranges: BusRange<D>[] = [];
  onUnassigned: UnassignedHandler | null = null;

  constructor(
    /** One past the highest address on this bus (0x10000 for port I/O). */
    readonly limit: number,
  ) {}

  /** Places `device` at [base, base+length). Throws {@link MemoryError} on overlap or a bad range. */
  insert(base: number, length: number, device: D, name = 'device'): BusRange<D> {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length <= 0) {
      throw new MemoryError('InvalidArgument', `${name}: bad range base=${base} length=${length}`);
    }
    if (base + length > this.limit) {
      throw new MemoryError(
        'InvalidArgument',
        `${name}: range ${hex(base)}+${hex(length)} past bus end ${hex(this.limit)}`,
      );
    }
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new MemoryError(
          'Overlap',
          `${name} at ${hex(base)}+${hex(length)} overlaps ${r.name} at ${hex(r.base)}+${hex(r.length)}`,
        );
      }
    }
    const range: BusRange<D> = { base, length, device, name };
    this.ranges.push(range);
    this.ranges.sort((a, b) => a.base - b.base);
    return range;
  }

  /** Removes the range starting at `base`; returns it, or undefined if none. */
  remove(base: number): BusRange<D> | undefined {
    const i = this.ranges.findIndex((r) => r.base === base);
    if (i < 0) return undefined;
    return this.ranges.splice(i, 1)[0];
  }

  /** The range holding `addr`, if any. */
  lookup(addr: number): BusRange<D> | undefined {
    const rs = this.ranges;
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.length) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  list(): readonly BusRange<D>[] {
    return this.ranges;
  }

  read(addr: number, size: AccessSize): number {
    const r = this.lookup(addr);
    if (r !== undefined && addr + size <= r.base + r.length && size <= (r.device.maxAccessSize ?? 4)) {
      return r.device.read(addr - r.base, size);
    }
    if (r === undefined && size === 1) {
      this.onUnassigned?.(addr, size, false, 0);
      return 0xff;
    }
    if (r === undefined && this.lookupSpan(addr, size) === undefined) {
      this.onUnassigned?.(addr, size, false, 0);
      return ALL_ONES[size];
    }
    // Split into two halves, low address first (little-endian).
    const half = (size >>> 1) as AccessSize;
    const lo = this.read(addr, half);
    const hi = this.read(addr + half, half);
    return size === 4 ? (lo | (hi << 16)) >>> 0 : lo | (hi << 8);
  }

  write(addr: number, size: AccessSize, value: number): void {
    const r = this.lookup(addr);
    if (r !== undefined && addr + size <= r.base + r.length && size <= (r.device.maxAccessSize ?? 4)) {
      r.device.write(addr - r.base, size, value);
      return;
    }
    if (r === undefined && (size === 1 || this.lookupSpan(addr, size) === undefined)) {
      this.onUnassigned?.(addr, size, true, value);
      return;
    }
    const half = (size >>> 1) as AccessSize;
    const bits = half * 8;
    this.write(addr, half, value & (2 ** bits - 1));
    this.write(addr + half, half, Math.floor((value >>> 0) / 2 ** bits) & (2 ** bits - 1));
  }

  /** Any range intersecting [addr, addr+size). */
  private lookupSpan(addr: number, size: number): BusRange<D> | undefined {
    for (let a = addr; a < addr + size; a++) {
      const r = this.lookup(a);
      if (r !== undefined) return r;
    }
    return undefined;
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;
