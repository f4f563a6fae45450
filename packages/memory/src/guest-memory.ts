import { type Gpa, PAGE_SIZE } from './address.js';
import { DirtyBitmap } from './dirty-bitmap.js';
import { MemoryError } from './errors.js';
import type { WriteLog } from './write-log.js';

/** A contiguous range of guest physical memory backed by host bytes. */
export interface MemoryRegion {
  readonly gpa: number;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly readonly: boolean;
  /** Set while dirty logging is on for this region. */
  dirty: DirtyBitmap | null;
  /**
   * The log of the host mapping behind `bytes`, for the vCPUs' decoded-code caches ({@link WriteLog}):
   * every write through this object is marked there (set on the VMM's view of guest RAM).
   */
  readonly writes: WriteLog | null;
}

export interface AddRegionOptions {
  readonly readonly?: boolean;
  /** The write log of the host mapping `bytes` views (`KvmHost.mmap`'s `writes`). */
  readonly writes?: WriteLog | null;
}

/**
 * Guest physical memory: a sorted set of non-overlapping regions, each a view of host bytes (normally
 * a SharedArrayBuffer, so vCPU workers share it).
 *
 * Guest-caused accesses never throw: a read where no region is returns all-ones (an open bus, as on a
 * PC), a write there is dropped, and a bulk access that is not wholly inside one region does nothing
 * and returns false. Callers that must know use {@link GuestMemory.contains}. Only wiring mistakes
 * (overlapping regions, bad sizes) throw {@link MemoryError}.
 */
export class GuestMemory {
  private list: MemoryRegion[] = [];
  /** The most recently hit region: most accesses land in the same one. */
  private last: MemoryRegion | null = null;

  /** Guest RAM of `size` bytes at guest physical 0, in a fresh SharedArrayBuffer. */
  static create(size: number): GuestMemory {
    if (!Number.isInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) {
      throw new MemoryError(
        'InvalidArgument',
        `guest memory size ${size} must be a positive multiple of 4096`,
      );
    }
    const m = new GuestMemory();
    m.addRegion(0, new Uint8Array(new SharedArrayBuffer(size)));
    return m;
  }

  addRegion(gpa: number, bytes: Uint8Array, options: AddRegionOptions = {}): MemoryRegion {
    const size = bytes.byteLength;
    if (!Number.isSafeInteger(gpa) || gpa < 0 || size === 0) {
      throw new MemoryError('InvalidArgument', `region at ${hex(gpa)} of ${size} bytes`);
    }
    for (const r of this.list) {
      if (gpa < r.gpa + r.size && r.gpa < gpa + size) {
        throw new MemoryError(
          'Overlap',
          `region ${hex(gpa)}+${hex(size)} overlaps ${hex(r.gpa)}+${hex(r.size)}`,
        );
      }
    }
    const region: MemoryRegion = {
      gpa,
      size,
      bytes,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      readonly: options.readonly ?? false,
      dirty: null,
      writes: options.writes ?? null,
    };
    this.list.push(region);
    this.list.sort((a, b) => a.gpa - b.gpa);
    return region;
  }

  /** Removes the region that starts at `gpa`; returns whether there was one. */
  removeRegion(gpa: number): boolean {
    const i = this.list.findIndex((r) => r.gpa === gpa);
    if (i < 0) return false;
    if (this.last === this.list[i]) this.last = null;
    this.list.splice(i, 1);
    return true;
  }

  regions(): readonly MemoryRegion[] {
    return this.list;
  }

  /** The region holding all of [gpa, gpa+length), if one does. */
  findRegion(gpa: number, length = 1): MemoryRegion | undefined {
    const l = this.last;
    if (l !== null && gpa >= l.gpa && gpa + length <= l.gpa + l.size) return l;
    for (const r of this.list) {
      if (gpa >= r.gpa && gpa + length <= r.gpa + r.size) {
        this.last = r;
        return r;
      }
    }
    return undefined;
  }

  /** True when [gpa, gpa+length) lies wholly inside one region. */
  contains(gpa: number, length: number): boolean {
    return length >= 0 && this.findRegion(gpa, Math.max(length, 1)) !== undefined;
  }

  /** Starts or stops dirty logging on the region at `gpa`; returns its bitmap. */
  enableDirtyLog(gpa: number, on: boolean): DirtyBitmap | null {
    const r = this.list.find((x) => x.gpa === gpa);
    if (!r) throw new MemoryError('InvalidArgument', `no region starts at ${hex(gpa)}`);
    r.dirty = on ? (r.dirty ?? new DirtyBitmap(Math.ceil(r.size / PAGE_SIZE))) : null;
    return r.dirty;
  }

  read8(gpa: Gpa | number): number {
    const r = this.findRegion(gpa, 1);
    return r === undefined ? 0xff : r.bytes[gpa - r.gpa]!;
  }

  read16(gpa: Gpa | number): number {
    const r = this.findRegion(gpa, 2);
    if (r === undefined) return this.read8(gpa) | (this.read8(gpa + 1) << 8);
    return r.view.getUint16(gpa - r.gpa, true);
  }

  read32(gpa: Gpa | number): number {
    const r = this.findRegion(gpa, 4);
    if (r === undefined) return (this.read16(gpa) | (this.read16(gpa + 2) << 16)) >>> 0;
    return r.view.getUint32(gpa - r.gpa, true);
  }

  /** Low and high halves of a 64-bit value: `out[index]` = bits 0..31, `out[index+1]` = bits 32..63. */
  read64(gpa: Gpa | number, out: Uint32Array, index = 0): void {
    out[index] = this.read32(gpa);
    out[index + 1] = this.read32(gpa + 4);
  }

  write8(gpa: Gpa | number, value: number): void {
    const r = this.findRegion(gpa, 1);
    if (r === undefined || r.readonly) return;
    r.bytes[gpa - r.gpa] = value;
    if (r.dirty !== null) r.dirty.mark((gpa - r.gpa) >>> 12);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + gpa - r.gpa, 1);
  }

  write16(gpa: Gpa | number, value: number): void {
    const r = this.findRegion(gpa, 2);
    if (r === undefined) {
      this.write8(gpa, value & 0xff);
      this.write8(gpa + 1, (value >>> 8) & 0xff);
      return;
    }
    if (r.readonly) return;
    r.view.setUint16(gpa - r.gpa, value, true);
    if (r.dirty !== null) r.dirty.markRange(gpa - r.gpa, 2);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + gpa - r.gpa, 2);
  }

  write32(gpa: Gpa | number, value: number): void {
    const r = this.findRegion(gpa, 4);
    if (r === undefined) {
      this.write16(gpa, value & 0xffff);
      this.write16(gpa + 2, (value >>> 16) & 0xffff);
      return;
    }
    if (r.readonly) return;
    r.view.setUint32(gpa - r.gpa, value >>> 0, true);
    if (r.dirty !== null) r.dirty.markRange(gpa - r.gpa, 4);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + gpa - r.gpa, 4);
  }

  write64(gpa: Gpa | number, lo: number, hi: number): void {
    this.write32(gpa, lo);
    this.write32(gpa + 4, hi);
  }

  /** Copies guest bytes into `dst`. False (and nothing copied) unless the range is wholly in one region. */
  readBytes(gpa: Gpa | number, dst: Uint8Array): boolean {
    const r = this.findRegion(gpa, Math.max(dst.byteLength, 1));
    if (r === undefined) return false;
    const o = gpa - r.gpa;
    dst.set(r.bytes.subarray(o, o + dst.byteLength));
    return true;
  }

  /** Copies `src` into guest memory. False (and nothing written) unless wholly in one writable region. */
  writeBytes(gpa: Gpa | number, src: Uint8Array): boolean {
    const r = this.findRegion(gpa, Math.max(src.byteLength, 1));
    if (r === undefined || r.readonly) return false;
    const o = gpa - r.gpa;
    r.bytes.set(src, o);
    if (r.dirty !== null) r.dirty.markRange(o, src.byteLength);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + o, src.byteLength);
    return true;
  }

  /** Fills `length` bytes with `value`. False (and nothing written) unless wholly in one writable region. */
  fill(gpa: Gpa | number, length: number, value: number): boolean {
    const r = this.findRegion(gpa, Math.max(length, 1));
    if (r === undefined || r.readonly) return false;
    const o = gpa - r.gpa;
    r.bytes.fill(value, o, o + length);
    if (r.dirty !== null) r.dirty.markRange(o, length);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + o, length);
    return true;
  }

  /**
   * A zero-copy view of guest bytes, for DMA. Undefined unless wholly inside one region. Writes through
   * the view are not dirty-logged nor seen by the vCPUs' decoded-code caches: call
   * {@link GuestMemory.markDirty} after writing.
   */
  subarray(gpa: Gpa | number, length: number): Uint8Array | undefined {
    const r = this.findRegion(gpa, Math.max(length, 1));
    if (r === undefined) return undefined;
    const o = gpa - r.gpa;
    return r.bytes.subarray(o, o + length);
  }

  /** Reports a write made through a {@link subarray} view: dirty logging and the write log see it. */
  markDirty(gpa: Gpa | number, length: number): void {
    const r = this.findRegion(gpa, Math.max(length, 1));
    if (r === undefined) return;
    if (r.dirty !== null) r.dirty.markRange(gpa - r.gpa, length);
    if (r.writes !== null) r.writes.mark(r.bytes.byteOffset + gpa - r.gpa, length);
  }

  /** Total bytes of all regions. */
  get totalSize(): number {
    let n = 0;
    for (const r of this.list) n += r.size;
    return n;
  }
}

const hex = (n: number): string => `0x${n.toString(16)}`;
