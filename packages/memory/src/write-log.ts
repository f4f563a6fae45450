import { PAGE_SHIFT } from './address.js';

/**
 * The pages of a host mapping that the host (the VMM: devices doing DMA, loaders) wrote through
 * {@link GuestMemory}, for each vCPU that reads them: a vCPU whose decoded-instruction cache holds code
 * on such a page must drop it before it runs again, as a real CPU's instruction cache sees DMA (QEMU's
 * TCG invalidates translated blocks on the same writes). Pages are counted from the start of the
 * mapping's buffer (`bytes.byteOffset + offset`), so every view of one mapping marks the same pages.
 *
 * The log lives with the writer (the VMM thread); each reader gets a {@link WriteConsumer} over shared
 * memory, which a vCPU on a worker thread reads from there.
 */
export class WriteLog {
  private readonly consumers = new Map<number, WriteConsumer>();

  constructor(readonly pages: number) {
    if (!Number.isInteger(pages) || pages < 0) throw new RangeError(`WriteLog: bad page count ${pages}`);
  }

  /** The consumer of reader `id` (a vCPU id), made on first use: it sees the writes from then on. */
  consumer(id: number): WriteConsumer {
    if (this.only !== null) return this.only;
    let c = this.consumers.get(id);
    if (c === undefined) {
      c = new WriteConsumer(this.pages);
      this.consumers.set(id, c);
    }
    return c;
  }

  /** Set by {@link of}: the one consumer this log hands out. */
  private only: WriteConsumer | null = null;

  /**
   * A log that hands out `consumer` to every reader: a vCPU worker's view of the log the VMM thread
   * marks (the VMM made `consumer` for that vCPU and sent its shared words).
   */
  static of(consumer: WriteConsumer): WriteLog {
    const log = new WriteLog(consumer.pages);
    log.only = consumer;
    log.consumers.set(0, consumer);
    return log;
  }

  /** Marks the pages of `[offset, offset + length)` (buffer offsets) written, for every consumer. */
  mark(offset: number, length: number): void {
    if (this.consumers.size === 0 || length <= 0) return;
    const first = Math.floor(offset / 2 ** PAGE_SHIFT);
    const last = Math.min(Math.floor((offset + length - 1) / 2 ** PAGE_SHIFT), this.pages - 1);
    for (const c of this.consumers.values()) c.mark(first, last);
  }
}

/**
 * One reader's share of a {@link WriteLog}: a pending flag (word 0) and a bitmap of written pages
 * (words 1...), in shared memory.
 */
export class WriteConsumer {
  readonly words: Int32Array;

  constructor(
    readonly pages: number,
    words?: Int32Array,
  ) {
    const n = 1 + Math.ceil(pages / 32);
    if (words !== undefined && words.length !== n)
      throw new RangeError(`WriteConsumer: ${words.length} words for ${pages} pages (want ${n})`);
    this.words = words ?? new Int32Array(new SharedArrayBuffer(n * 4));
  }

  /** Marks pages `first..last`: the bits first, then the pending flag (see {@link drain}). */
  mark(first: number, last: number): void {
    const w = this.words;
    for (let p = Math.max(first, 0); p <= last; p++) Atomics.or(w, 1 + (p >>> 5), 1 << (p & 31));
    Atomics.store(w, 0, 1);
  }

  /** Whether any page was marked since the last {@link drain}. */
  get pending(): boolean {
    return Atomics.load(this.words, 0) !== 0;
  }

  /**
   * Calls `visit` with each page marked since the last drain, clearing the marks. The flag is cleared
   * before the bits are read: a page marked meanwhile either shows now or sets the flag again.
   */
  drain(visit: (page: number) => void): void {
    const w = this.words;
    if (Atomics.load(w, 0) === 0) return;
    Atomics.store(w, 0, 0);
    for (let i = 1; i < w.length; i++) {
      let bits = Atomics.exchange(w, i, 0);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits);
        bits &= bits - 1;
        visit((i - 1) * 32 + b);
      }
    }
  }
}
