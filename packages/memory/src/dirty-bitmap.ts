import { PAGE_SHIFT } from './address.js';

/**
 * One bit per guest page, set when the page is written. The words are 32-bit little-endian, so the
 * bytes of {@link DirtyBitmap.words} have exactly the layout of KVM_GET_DIRTY_LOG's bitmap (an array of
 * little-endian u64 words, bit i = page i). Backed by a SharedArrayBuffer so that vCPU workers mark
 * and the VMM harvests with Atomics.
 */
export class DirtyBitmap {
  readonly words: Uint32Array;

  constructor(readonly pages: number) {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`DirtyBitmap: bad page count ${pages}`);
    // Round to whole u64 words as KVM does.
    const words = Math.ceil(pages / 64) * 2;
    this.words = new Uint32Array(new SharedArrayBuffer(words * 4));
  }

  /** Marks page `page` dirty. Pages past the end are ignored. */
  mark(page: number): void {
    if (page >= this.pages || page < 0) return;
    Atomics.or(this.words, page >>> 5, 1 << (page & 31));
  }

  /** Marks every page touched by `length` bytes at byte `offset` of the tracked range. */
  markRange(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(offset / 2 ** PAGE_SHIFT);
    const last = Math.floor((offset + length - 1) / 2 ** PAGE_SHIFT);
    for (let p = first; p <= last; p++) this.mark(p);
  }

  isDirty(page: number): boolean {
    if (page >= this.pages || page < 0) return false;
    return ((this.words[page >>> 5]! >>> (page & 31)) & 1) === 1;
  }

  /** Number of dirty pages. */
  count(): number {
    let n = 0;
    for (let i = 0; i < this.words.length; i++) {
      let w = this.words[i]!;
      while (w !== 0) {
        w &= w - 1;
        n++;
      }
    }
    return n;
  }

  /**
   * Copies the bitmap into `out` (KVM layout) and clears it, word by word atomically, so that a page
   * marked concurrently is reported either now or next time, never lost.
   * Returns false if `out` is too small.
   */
  harvest(out: Uint8Array): boolean {
    if (out.byteLength < this.words.length * 4) return false;
    for (let i = 0; i < this.words.length; i++) {
      const w = Atomics.exchange(this.words, i, 0);
      const o = i * 4;
      out[o] = w & 0xff;
      out[o + 1] = (w >>> 8) & 0xff;
      out[o + 2] = (w >>> 16) & 0xff;
      out[o + 3] = w >>> 24;
    }
    return true;
  }

  /** Size in bytes of the KVM-layout bitmap. */
  get byteLength(): number {
    return this.words.length * 4;
  }

  clear(): void {
    this.words.fill(0);
  }
}
