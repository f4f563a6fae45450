import type { GuestMemory } from '@typevisor/memory';
import { type QueueError, queueError } from '../errors.js';

/** One buffer of a chain, already checked to lie wholly inside one guest RAM region. */
export interface Segment {
  readonly addr: number;
  readonly len: number;
}

/**
 * A descriptor chain popped from a virtqueue: the device-readable buffers, then the device-writable
 * ones (2.7.4.2). Every segment was checked against guest RAM when the chain was read; zero-length
 * descriptors are dropped.
 */
export class DescriptorChain {
  /** Split ring: the head descriptor index. Packed ring: the buffer ID. Goes back in the used element. */
  id: number;
  /** Ring descriptors the chain occupies (packed ring: how far the used index advances). */
  ringDescriptors = 0;
  readonly readable: Segment[] = [];
  readonly writable: Segment[] = [];
  readableLength = 0;
  writableLength = 0;

  constructor(id: number) {
    this.id = id;
  }
}

/** Largest address bits a double holds exactly: descriptor addresses above 2^53 are rejected. */
const MAX_ADDR_HI = 0x20_0000;

/**
 * Appends one descriptor's buffer to `chain`, enforcing the readable-before-writable order and the
 * guest-RAM bounds. `hi`/`lo` are the two halves of the 64-bit address.
 */
export function appendDescriptor(
  memory: GuestMemory,
  chain: DescriptorChain,
  lo: number,
  hi: number,
  len: number,
  write: boolean,
): QueueError | null {
  if (!write && chain.writable.length > 0) {
    return queueError(
      'WriteOnlyOrderViolated',
      chain.id,
      'device-readable descriptor after a device-writable one',
    );
  }
  if (len === 0) return null;
  if (hi >= MAX_ADDR_HI) return queueError('DescriptorOutOfRange', chain.id, 'address above 2^53');
  const addr = hi * 0x1_0000_0000 + lo;
  const region = memory.findRegion(addr, len);
  // A device-writable buffer must also be writable RAM: the device writes through views, past the
  // read-only check of GuestMemory.write*.
  if (region === undefined || (write && region.readonly)) {
    return queueError(
      'DescriptorOutOfRange',
      chain.id,
      `buffer 0x${addr.toString(16)}+${len} not in guest RAM`,
    );
  }
  if (write) {
    chain.writable.push({ addr, len });
    chain.writableLength += len;
  } else {
    chain.readable.push({ addr, len });
    chain.readableLength += len;
  }
  return null;
}

/**
 * Copies device-readable bytes of `chain`, starting `offset` bytes into them, into `dst`. Returns the
 * number of bytes copied (fewer than `dst.length` when the chain is shorter).
 */
export function readFromChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  offset: number,
  dst: Uint8Array,
): number {
  return copy(memory, chain.readable, offset, dst, false);
}

/**
 * Copies `src` into the device-writable buffers of `chain`, starting `offset` bytes into them. Returns
 * the number of bytes written.
 */
export function writeToChain(
  memory: GuestMemory,
  chain: DescriptorChain,
  offset: number,
  src: Uint8Array,
): number {
  return copy(memory, chain.writable, offset, src, true);
}

function copy(
  memory: GuestMemory,
  segs: readonly Segment[],
  offset: number,
  data: Uint8Array,
  toGuest: boolean,
) {
  let done = 0;
  let skip = offset;
  for (const s of segs) {
    if (done >= data.length) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, data.length - done);
    const view = memory.subarray(s.addr + skip, n);
    // The segment was in RAM when popped; a region removed since then ends the copy.
    if (view === undefined) break;
    if (toGuest) {
      view.set(data.subarray(done, done + n));
      memory.markDirty(s.addr + skip, n);
    } else {
      data.set(view, done);
    }
    done += n;
    skip = 0;
  }
  return done;
}

/**
 * Zero-copy views of the guest bytes `[offset, offset+length)` of the readable or writable buffers,
 * for DMA by backends. Views that end up written must be reported with `memory.markDirty` — use
 * {@link markChainDirty}.
 */
export function chainViews(
  memory: GuestMemory,
  chain: DescriptorChain,
  writable: boolean,
  offset: number,
  length: number,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = offset;
  let left = length;
  for (const s of writable ? chain.writable : chain.readable) {
    if (left <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    const view = memory.subarray(s.addr + skip, n);
    if (view === undefined) break;
    out.push(view);
    left -= n;
    skip = 0;
  }
  return out;
}

/** Marks `[offset, offset+length)` of the chain's writable buffers dirty (after DMA through views). */
export function markChainDirty(
  memory: GuestMemory,
  chain: DescriptorChain,
  offset: number,
  length: number,
): void {
  let skip = offset;
  let left = length;
  for (const s of chain.writable) {
    if (left <= 0) break;
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    const n = Math.min(s.len - skip, left);
    memory.markDirty(s.addr + skip, n);
    left -= n;
    skip = 0;
  }
}
