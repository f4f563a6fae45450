import { EFD_NONBLOCK, EFD_SEMAPHORE } from './uapi/constants.js';
import { EAGAIN, EINVAL } from './uapi/errno.js';

/** The largest value an eventfd counter may hold (ULLONG_MAX - 1, fs/eventfd.c). */
const EVENTFD_MAX = 0xffff_ffff_ffff_fffen;

/**
 * The model of a Linux eventfd (fs/eventfd.c): a 64-bit counter that `write` adds to and `read`
 * drains (or decrements by one with EFD_SEMAPHORE). The counter and a wake-up sequence word live in a
 * SharedArrayBuffer, so a vCPU worker that signals an ioeventfd and a device thread that waits on it
 * see the same object (`EventFd.fromShared`). Same-thread consumers (irqfd routing) subscribe with
 * {@link EventFd.subscribe}.
 *
 * Reads never block: a read of a zero counter returns -EAGAIN even without EFD_NONBLOCK (a JS main
 * thread cannot sleep); a thread that wants to sleep calls {@link EventFd.wait}.
 */
export class EventFd {
  /** [0] = counter (u64). */
  private readonly counter: BigUint64Array;
  /** [0] = wake-up sequence, bumped on every successful write (Atomics.wait/notify target). */
  private readonly seq: Int32Array;
  private readonly listeners = new Set<() => void>();

  constructor(
    initval = 0,
    readonly flags = 0,
    shared?: SharedArrayBuffer,
  ) {
    const buf = shared ?? new SharedArrayBuffer(16);
    this.counter = new BigUint64Array(buf, 0, 1);
    this.seq = new Int32Array(buf, 8, 1);
    if (shared === undefined) this.counter[0] = BigInt(Math.max(0, Math.floor(initval))) & 0xffff_ffffn;
  }

  /** The shared state, to rebuild this eventfd in another thread with {@link EventFd.fromShared}. */
  get shared(): SharedArrayBuffer {
    return this.counter.buffer as SharedArrayBuffer;
  }

  static fromShared(buffer: SharedArrayBuffer, flags = 0): EventFd {
    return new EventFd(0, flags, buffer);
  }

  get semaphore(): boolean {
    return (this.flags & EFD_SEMAPHORE) !== 0;
  }

  get nonblocking(): boolean {
    return (this.flags & EFD_NONBLOCK) !== 0;
  }

  /** The current counter (for tests and debugging; exact below 2^53). */
  get count(): number {
    return Number(Atomics.load(this.counter, 0));
  }

  /** Adds 1 to the counter, as the kernel's eventfd_signal() does for ioeventfd and irqfd. */
  signal(): void {
    this.add(1n);
  }

  /** Adds `n` (0 <= n <= 2^64-2); false (-EAGAIN in write(2)) if the counter would overflow. */
  add(n: bigint): boolean {
    for (;;) {
      const old = Atomics.load(this.counter, 0);
      if (old + n > EVENTFD_MAX) return false;
      if (Atomics.compareExchange(this.counter, 0, old, old + n) === old) break;
    }
    if (n > 0n) {
      Atomics.add(this.seq, 0, 1);
      Atomics.notify(this.seq, 0);
      for (const l of this.listeners) l();
    }
    return true;
  }

  /** read(2): the value read, or -EAGAIN when the counter is zero. */
  take(): bigint | typeof EAGAIN {
    for (;;) {
      const old = Atomics.load(this.counter, 0);
      if (old === 0n) return EAGAIN;
      const next = this.semaphore ? old - 1n : 0n;
      if (Atomics.compareExchange(this.counter, 0, old, next) === old) return this.semaphore ? 1n : old;
    }
  }

  /** Sleeps (in a worker) until the counter is non-zero or `timeoutMs` passes; true if it is non-zero. */
  wait(timeoutMs: number): boolean {
    const s = Atomics.load(this.seq, 0);
    if (Atomics.load(this.counter, 0) !== 0n) return true;
    Atomics.wait(this.seq, 0, s, timeoutMs);
    return Atomics.load(this.counter, 0) !== 0n;
  }

  /** Calls `listener` after every successful write; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** read(2) into `buf` (at least 8 bytes): 8, or a negative errno. */
  read(buf: Uint8Array): number {
    if (buf.byteLength < 8) return -EINVAL;
    const v = this.take();
    if (typeof v === 'number') return -v;
    new DataView(buf.buffer, buf.byteOffset, 8).setBigUint64(0, v, true);
    return 8;
  }

  /** write(2) from `buf` (at least 8 bytes): 8, or a negative errno. */
  write(buf: Uint8Array): number {
    if (buf.byteLength < 8) return -EINVAL;
    const v = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
    if (v === 0xffff_ffff_ffff_ffffn) return -EINVAL;
    return this.add(v) ? 8 : -EAGAIN;
  }
}
