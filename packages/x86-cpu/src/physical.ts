/**
 * Guest-physical memory as the CPU sees it: RAM through a direct typed-array fast path, everything
 * else through {@link GuestMemory} or, outside any region, the MMIO hooks. Every write checks a page
 * bitmap of pages that hold decoded code and tells the block cache when one of them changes.
 */
import type { GuestMemory } from '@typevisor/memory';
import type { CpuHooks } from './hooks.js';

/** Pages of the 32-bit physical address space. */
const PHYS_PAGES = 1 << 20;

/** Receives notice that bytes on a page holding decoded code were written. */
export interface CodeWriteListener {
  codeWritten(gpa: number, length: number): void;
}

/** Receives notice that the RAM array or its dirty logging changed (RAM-direct TLB entries are stale). */
export interface RamListener {
  ramRemapped(): void;
}

export class PhysicalMemory {
  /** Guest RAM at physical 0 (the first region when it starts at 0), the fast path. Read-only outside. */
  ram: Uint8Array;
  view: DataView;
  ramSize: number;
  /** 1 for pages that hold code in the block cache. */
  readonly codePages = new Uint8Array(PHYS_PAGES);
  listener: CodeWriteListener | null = null;
  ramListener: RamListener | null = null;

  constructor(
    readonly guest: GuestMemory,
    private readonly hooks: CpuHooks,
  ) {
    const first = guest.regions()[0];
    if (first !== undefined && first.gpa === 0 && !first.readonly) {
      this.ram = first.bytes;
      this.view = first.view;
      this.ramSize = first.size;
    } else {
      this.ram = new Uint8Array(0);
      this.view = new DataView(this.ram.buffer);
      this.ramSize = 0;
    }
  }

  read8(gpa: number): number {
    if (gpa < this.ramSize) return this.ram[gpa]!;
    return this.guest.contains(gpa, 1) ? this.guest.read8(gpa) : this.hooks.mmioRead(gpa, 1) & 0xff;
  }

  read16(gpa: number): number {
    if (gpa + 2 <= this.ramSize) return this.view.getUint16(gpa, true);
    return this.guest.contains(gpa, 2) ? this.guest.read16(gpa) : this.hooks.mmioRead(gpa, 2) & 0xffff;
  }

  read32(gpa: number): number {
    if (gpa + 4 <= this.ramSize) return this.view.getUint32(gpa, true);
    return this.guest.contains(gpa, 4) ? this.guest.read32(gpa) : this.hooks.mmioRead(gpa, 4) >>> 0;
  }

  write8(gpa: number, value: number): void {
    if (this.codePages[gpa >>> 12] === 1) this.listener?.codeWritten(gpa, 1);
    if (gpa < this.ramSize) {
      this.ram[gpa] = value;
      if (this.tracking) this.guest.markDirty(gpa, 1);
    } else if (this.guest.contains(gpa, 1)) this.guest.write8(gpa, value);
    else this.hooks.mmioWrite(gpa, 1, value & 0xff);
  }

  write16(gpa: number, value: number): void {
    if (this.codePages[gpa >>> 12] === 1) this.listener?.codeWritten(gpa, 2);
    if (gpa + 2 <= this.ramSize) {
      this.view.setUint16(gpa, value, true);
      if (this.tracking) this.guest.markDirty(gpa, 2);
    } else if (this.guest.contains(gpa, 2)) this.guest.write16(gpa, value);
    else this.hooks.mmioWrite(gpa, 2, value & 0xffff);
  }

  write32(gpa: number, value: number): void {
    if (this.codePages[gpa >>> 12] === 1) this.listener?.codeWritten(gpa, 4);
    if (gpa + 4 <= this.ramSize) {
      this.view.setUint32(gpa, value, true);
      if (this.tracking) this.guest.markDirty(gpa, 4);
    } else if (this.guest.contains(gpa, 4)) this.guest.write32(gpa, value);
    else this.hooks.mmioWrite(gpa, 4, value >>> 0);
  }

  /**
   * Bulk copy inside RAM for string instructions: false (nothing done) unless both ranges are RAM.
   * Behaves like a forward byte loop, so callers must not use it when `dst` overlaps `src` from above.
   */
  copy(dst: number, src: number, length: number): boolean {
    if (dst + length > this.ramSize || src + length > this.ramSize) return false;
    this.noteBulkWrite(dst, length);
    this.ram.copyWithin(dst, src, src + length);
    return true;
  }

  /** Bulk fill of `count` elements of `size` bytes with `value`; false unless the range is RAM. */
  fill(dst: number, size: number, count: number, value: number): boolean {
    const length = size * count;
    if (dst + length > this.ramSize) return false;
    this.noteBulkWrite(dst, length);
    if (
      size === 1 ||
      (value & 0xff) * 0x01010101 === value >>> 0 ||
      (size === 2 && (value & 0xff) * 0x101 === (value & 0xffff))
    ) {
      this.ram.fill(value & 0xff, dst, dst + length);
    } else {
      const v = this.view;
      for (let i = 0; i < count; i++) {
        if (size === 2) v.setUint16(dst + i * 2, value, true);
        else v.setUint32(dst + i * 4, value >>> 0, true);
      }
    }
    return true;
  }

  /**
   * The host (the VMM: DMA, loaders) wrote `[gpa, gpa + length)` behind the CPU's back: drops the
   * decoded code of those pages, as a write by the CPU would (the KVM facade calls this from the
   * mapping's write log before the vCPU runs).
   */
  hostWrote(gpa: number, length: number): void {
    this.rangeWritten(gpa, length);
  }

  /** Tells the block cache of a write to `[gpa, gpa + length)`, page by page where code is. */
  private rangeWritten(gpa: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(gpa / 4096);
    const last = Math.min(Math.floor((gpa + length - 1) / 4096), PHYS_PAGES - 1);
    for (let p = first; p <= last; p++) {
      if (this.codePages[p] !== 1) continue;
      // The part of the range on page p (`codeWritten` looks at the page of its address).
      const from = Math.max(gpa, p * 4096);
      this.listener?.codeWritten(from, Math.min(gpa + length, (p + 1) * 4096) - from);
    }
  }

  private noteBulkWrite(dst: number, length: number): void {
    this.rangeWritten(dst, length);
    if (this.tracking) this.guest.markDirty(dst, length);
  }

  /** True while the RAM region has dirty logging on (checked per write; refreshed by {@link refresh}). */
  private tracking = false;

  /**
   * The RAM offset of the physical page at `page` (page-aligned) when the whole page is RAM below 2 GiB
   * (an Int32 offset), else -1: what the RAM-direct TLB may cache.
   */
  ramPage(page: number): number {
    return page + 4096 <= this.ramSize && page < 0x80000000 ? page : -1;
  }

  /** Whether a RAM-direct write to the physical page may skip this object (no code on it, no dirty logging). */
  directlyWritable(page: number): boolean {
    return !this.tracking && this.codePages[page >>> 12] === 0;
  }

  /** Re-reads region state (call after enabling dirty logging or changing regions). */
  refresh(): void {
    const first = this.guest.regions()[0];
    if (first !== undefined && first.gpa === 0 && !first.readonly) {
      this.ram = first.bytes;
      this.view = first.view;
      this.ramSize = first.size;
      this.tracking = first.dirty !== null;
    } else {
      this.ramSize = 0;
      this.tracking = false;
    }
    this.ramListener?.ramRemapped();
  }
}
