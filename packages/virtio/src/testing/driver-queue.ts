import type { GuestMemory } from '@typevisor/memory';
import {
  DESCRIPTOR_SIZE,
  DescFlag,
  PackedEventFlag,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
} from '../constants.js';
import { PackedLayout } from '../queue/packed.js';
import type { RingLayout } from '../queue/queue.js';
import { needEvent } from '../queue/ring.js';
import { SplitLayout, splitAvailSize, splitDescTableSize, splitUsedSize } from '../queue/split.js';
import type { GuestAllocator } from './allocator.js';

/** One buffer the fake driver puts in a chain: bytes for the device to read, or a size for it to write. */
export type BufferSpec = { readonly read: Uint8Array } | { readonly write: number };

export interface AddOptions {
  /** Put the chain in an indirect table (needs INDIRECT_DESC negotiated). */
  readonly indirect?: boolean;
}

/** A used buffer as the driver sees it, with the bytes the device wrote into each writable buffer. */
export interface UsedBuffer {
  readonly id: number;
  readonly len: number;
  /** Contents of the device-writable buffers, in chain order (whole buffers, not cut at `len`). */
  readonly written: Uint8Array[];
  /** All written bytes concatenated and cut at `len`. */
  readonly data: Uint8Array;
}

interface Outstanding {
  readonly writable: { addr: number; len: number }[];
  readonly descriptors: number;
  readonly head: number;
}

/**
 * The driver side of one virtqueue, in either layout (like rust-vmm virtio-queue's `MockSplitQueue`).
 * It lays out the rings in guest memory, adds chains, reads used buffers back and applies the
 * device's notification suppression, all through plain guest-memory accesses.
 */
export abstract class DriverQueue {
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  protected readonly outstanding = new Map<number, Outstanding>();
  /** Chains added since the last {@link DriverQueue.kickNeeded}. */
  protected addedSinceKick = 0;

  protected constructor(
    readonly memory: GuestMemory,
    readonly alloc: GuestAllocator,
    readonly size: number,
    readonly eventIdx: boolean,
    areas: readonly [number, number, number],
  ) {
    [this.descAddr, this.driverAddr, this.deviceAddr] = areas;
  }

  static create(
    layout: RingLayout,
    memory: GuestMemory,
    alloc: GuestAllocator,
    size: number,
    eventIdx = false,
  ): DriverQueue {
    return layout === 'split'
      ? new SplitDriverQueue(memory, alloc, size, eventIdx)
      : new PackedDriverQueue(memory, alloc, size, eventIdx);
  }

  abstract readonly layout: RingLayout;

  /** Allocates the buffers, builds the chain and makes it available; returns the head index / buffer ID. */
  add(buffers: readonly BufferSpec[], options: AddOptions = {}): number {
    const descs: { addr: number; len: number; flags: number }[] = [];
    const writable: { addr: number; len: number }[] = [];
    for (const b of buffers) {
      if ('read' in b) descs.push({ addr: this.alloc.allocBytes(b.read), len: b.read.length, flags: 0 });
      else {
        const addr = this.alloc.alloc(Math.max(b.write, 1), 8);
        descs.push({ addr, len: b.write, flags: DescFlag.WRITE });
        writable.push({ addr, len: b.write });
      }
    }
    this.addedSinceKick++;
    return this.addDescriptors(descs, writable, options.indirect ?? false);
  }

  protected abstract addDescriptors(
    descs: { addr: number; len: number; flags: number }[],
    writable: { addr: number; len: number }[],
    indirect: boolean,
  ): number;

  protected writeIndirectTable(
    descs: readonly { addr: number; len: number; flags: number }[],
    split: boolean,
  ): number {
    const table = this.alloc.alloc(descs.length * DESCRIPTOR_SIZE, 16);
    descs.forEach((d, i) => {
      const at = table + i * DESCRIPTOR_SIZE;
      this.memory.write64(at, d.addr, 0);
      this.memory.write32(at + 8, d.len);
      const next = i + 1 < descs.length;
      if (split) {
        this.memory.write16(at + SplitLayout.DESC_FLAGS, d.flags | (next ? DescFlag.NEXT : 0));
        this.memory.write16(at + SplitLayout.DESC_NEXT, next ? i + 1 : 0);
      } else {
        this.memory.write16(at + PackedLayout.DESC_FLAGS, d.flags);
      }
    });
    return table;
  }

  protected collect(id: number, len: number): UsedBuffer {
    const o = this.outstanding.get(id);
    this.outstanding.delete(id);
    const written = (o?.writable ?? []).map((w) => {
      const b = new Uint8Array(w.len);
      this.memory.readBytes(w.addr, b);
      return b;
    });
    const all = new Uint8Array(written.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of written) {
      all.set(b, at);
      at += b.length;
    }
    return { id, len, written, data: all.subarray(0, Math.min(len, all.length)) };
  }

  /** The next used buffer, or null. */
  abstract popUsed(): UsedBuffer | null;

  /** All used buffers waiting. */
  drainUsed(): UsedBuffer[] {
    const out: UsedBuffer[] = [];
    for (let u = this.popUsed(); u !== null; u = this.popUsed()) out.push(u);
    return out;
  }

  /** Would a driver notify the device now, given the device's suppression state? Resets the count. */
  abstract kickNeeded(): boolean;

  /** Asks the device not to interrupt (without EVENT_IDX), or to interrupt again. */
  abstract setInterrupts(enabled: boolean): void;

  /** With EVENT_IDX: interrupt me once the used element at `index` has been written (`wrap`: the packed ring's lap). */
  abstract setUsedEvent(index: number, wrap?: boolean): void;

  get pending(): number {
    return this.outstanding.size;
  }
}

export class SplitDriverQueue extends DriverQueue {
  readonly layout = 'split' as const;
  private availIdx = 0;
  private lastUsed = 0;
  private freeHead = 0;
  private readonly nextFree: number[];

  constructor(memory: GuestMemory, alloc: GuestAllocator, size: number, eventIdx: boolean) {
    super(memory, alloc, size, eventIdx, [
      alloc.alloc(splitDescTableSize(size), SplitLayout.DESC_ALIGN),
      alloc.alloc(splitAvailSize(size), SplitLayout.AVAIL_ALIGN),
      alloc.alloc(splitUsedSize(size), SplitLayout.USED_ALIGN),
    ]);
    this.nextFree = Array.from({ length: size }, (_, i) => i + 1);
  }

  /** Writes descriptor `index` of the table directly (for malformed-chain tests). */
  writeDescriptor(index: number, addr: number, len: number, flags: number, next: number, addrHigh = 0): void {
    const at = this.descAddr + index * DESCRIPTOR_SIZE;
    this.memory.write64(at, addr, addrHigh);
    this.memory.write32(at + SplitLayout.DESC_LEN, len);
    this.memory.write16(at + SplitLayout.DESC_FLAGS, flags);
    this.memory.write16(at + SplitLayout.DESC_NEXT, next);
  }

  /** Puts `head` in the available ring and bumps avail.idx (for malformed-chain tests). */
  publish(head: number): void {
    this.memory.write16(this.driverAddr + 4 + 2 * (this.availIdx % this.size), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.memory.write16(this.driverAddr + 2, this.availIdx);
  }

  /** Sets avail.idx to any value (for ring-index tests). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.memory.write16(this.driverAddr + 2, this.availIdx);
  }

  protected addDescriptors(
    descs: { addr: number; len: number; flags: number }[],
    writable: { addr: number; len: number }[],
    indirect: boolean,
  ): number {
    const direct = indirect
      ? [
          {
            addr: this.writeIndirectTable(descs, true),
            len: descs.length * DESCRIPTOR_SIZE,
            flags: DescFlag.INDIRECT,
          },
        ]
      : descs;
    if (direct.length > this.size - this.outstandingDescriptors())
      throw new Error('SplitDriverQueue: ring full');
    const indices: number[] = [];
    for (let i = 0; i < direct.length; i++) {
      indices.push(this.freeHead);
      this.freeHead = this.nextFree[this.freeHead]!;
    }
    direct.forEach((d, i) => {
      const more = i + 1 < direct.length;
      this.writeDescriptor(
        indices[i]!,
        d.addr,
        d.len,
        d.flags | (more ? DescFlag.NEXT : 0),
        more ? indices[i + 1]! : 0,
      );
    });
    const head = indices[0]!;
    this.outstanding.set(head, { writable, descriptors: direct.length, head });
    this.publish(head);
    return head;
  }

  private outstandingDescriptors(): number {
    let n = 0;
    for (const o of this.outstanding.values()) n += o.descriptors;
    return n;
  }

  get usedIdx(): number {
    return this.memory.read16(this.deviceAddr + SplitLayout.USED_IDX);
  }

  popUsed(): UsedBuffer | null {
    if (this.usedIdx === this.lastUsed) return null;
    const at = this.deviceAddr + SplitLayout.USED_RING + 8 * (this.lastUsed % this.size);
    const id = this.memory.read32(at);
    const len = this.memory.read32(at + 4);
    this.lastUsed = (this.lastUsed + 1) & 0xffff;
    const o = this.outstanding.get(id);
    if (o !== undefined) {
      // Return the chain's descriptors to the free list.
      let index = id;
      for (let i = 0; i < o.descriptors; i++) {
        const next = this.memory.read16(this.descAddr + index * DESCRIPTOR_SIZE + SplitLayout.DESC_NEXT);
        this.nextFree[index] = i + 1 < o.descriptors ? next : this.freeHead;
        index = next;
      }
      this.freeHead = id;
    }
    return this.collect(id, len);
  }

  kickNeeded(): boolean {
    const added = this.addedSinceKick;
    this.addedSinceKick = 0;
    if (added === 0) return false;
    if (!this.eventIdx) return (this.memory.read16(this.deviceAddr) & VIRTQ_USED_F_NO_NOTIFY) === 0;
    const availEvent = this.memory.read16(this.deviceAddr + SplitLayout.USED_RING + 8 * this.size);
    return needEvent(availEvent, this.availIdx, (this.availIdx - added) & 0xffff);
  }

  setInterrupts(enabled: boolean): void {
    this.memory.write16(this.driverAddr, enabled ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
  }

  setUsedEvent(index: number): void {
    this.memory.write16(this.driverAddr + 4 + 2 * this.size, index & 0xffff);
  }
}

export class PackedDriverQueue extends DriverQueue {
  readonly layout = 'packed' as const;
  private nextAvail = 0;
  private availWrap = true;
  private nextUsed = 0;
  private usedWrap = true;
  private readonly freeIds: number[];
  private inFlightDescriptors = 0;

  constructor(memory: GuestMemory, alloc: GuestAllocator, size: number, eventIdx: boolean) {
    super(memory, alloc, size, eventIdx, [
      alloc.alloc(size * DESCRIPTOR_SIZE, PackedLayout.DESC_ALIGN),
      alloc.alloc(PackedLayout.EVENT_SIZE, PackedLayout.EVENT_ALIGN),
      alloc.alloc(PackedLayout.EVENT_SIZE, PackedLayout.EVENT_ALIGN),
    ]);
    this.freeIds = Array.from({ length: size }, (_, i) => size - 1 - i);
  }

  /** Flags that make a descriptor available in the lap with wrap counter `wrap` (2.8.1). */
  static availFlags(wrap: boolean): number {
    return wrap ? DescFlag.AVAIL : DescFlag.USED;
  }

  /** Writes ring descriptor `index` directly (for malformed-chain tests). */
  writeDescriptor(index: number, addr: number, len: number, id: number, flags: number, addrHigh = 0): void {
    const at = this.descAddr + index * DESCRIPTOR_SIZE;
    this.memory.write64(at, addr, addrHigh);
    this.memory.write32(at + PackedLayout.DESC_LEN, len);
    this.memory.write16(at + PackedLayout.DESC_ID, id);
    this.memory.write16(at + PackedLayout.DESC_FLAGS, flags);
  }

  protected addDescriptors(
    descs: { addr: number; len: number; flags: number }[],
    writable: { addr: number; len: number }[],
    indirect: boolean,
  ): number {
    const direct = indirect
      ? [
          {
            addr: this.writeIndirectTable(descs, false),
            len: descs.length * DESCRIPTOR_SIZE,
            flags: DescFlag.INDIRECT,
          },
        ]
      : descs;
    if (direct.length > this.size - this.inFlightDescriptors || this.freeIds.length === 0) {
      throw new Error('PackedDriverQueue: ring full');
    }
    const id = this.freeIds.pop()!;
    const first = this.nextAvail;
    const firstWrap = this.availWrap;
    let firstFlags = 0;
    direct.forEach((d, i) => {
      const flags =
        d.flags | (i + 1 < direct.length ? DescFlag.NEXT : 0) | PackedDriverQueue.availFlags(this.availWrap);
      // The head's flags are written last so the device never sees half a chain (2.8.21.1).
      if (i === 0) {
        firstFlags = flags;
        this.writeDescriptor(this.nextAvail, d.addr, d.len, id, PackedDriverQueue.availFlags(!firstWrap));
      } else this.writeDescriptor(this.nextAvail, d.addr, d.len, id, flags);
      this.nextAvail++;
      if (this.nextAvail === this.size) {
        this.nextAvail = 0;
        this.availWrap = !this.availWrap;
      }
    });
    this.memory.write16(this.descAddr + first * DESCRIPTOR_SIZE + PackedLayout.DESC_FLAGS, firstFlags);
    this.inFlightDescriptors += direct.length;
    this.outstanding.set(id, { writable, descriptors: direct.length, head: first });
    return id;
  }

  popUsed(): UsedBuffer | null {
    const at = this.descAddr + this.nextUsed * DESCRIPTOR_SIZE;
    const flags = this.memory.read16(at + PackedLayout.DESC_FLAGS);
    const avail = (flags & DescFlag.AVAIL) !== 0;
    const used = (flags & DescFlag.USED) !== 0;
    if (avail !== used || used !== this.usedWrap) return null;
    const id = this.memory.read16(at + PackedLayout.DESC_ID);
    const len = this.memory.read32(at + PackedLayout.DESC_LEN);
    const n = this.outstanding.get(id)?.descriptors ?? 1;
    this.nextUsed += n;
    if (this.nextUsed >= this.size) {
      this.nextUsed -= this.size;
      this.usedWrap = !this.usedWrap;
    }
    this.inFlightDescriptors -= n;
    if (this.outstanding.has(id)) this.freeIds.push(id);
    return this.collect(id, len);
  }

  private kickMark = 0;
  private kickMarkWrap = true;

  kickNeeded(): boolean {
    const added = this.addedSinceKick;
    this.addedSinceKick = 0;
    // Descriptors made available since the last decision (Linux counts them as num_added).
    let descriptors = this.nextAvail - this.kickMark;
    if (this.availWrap !== this.kickMarkWrap) descriptors += this.size;
    this.kickMark = this.nextAvail;
    this.kickMarkWrap = this.availWrap;
    if (added === 0) return false;
    const flags = this.memory.read16(this.deviceAddr + 2);
    if (flags === PackedEventFlag.DISABLE) return false;
    if (flags !== PackedEventFlag.DESC) return true;
    // Linux virtqueue_kick_prepare_packed: an offset in the other lap lies `size` before this one.
    const offWrap = this.memory.read16(this.deviceAddr);
    let event = offWrap & 0x7fff;
    if (offWrap >>> 15 !== (this.availWrap ? 1 : 0)) event -= this.size;
    return needEvent(event & 0xffff, this.nextAvail, (this.nextAvail - descriptors) & 0xffff);
  }

  setInterrupts(enabled: boolean): void {
    this.memory.write16(this.driverAddr + 2, enabled ? PackedEventFlag.ENABLE : PackedEventFlag.DISABLE);
  }

  setUsedEvent(index: number, wrap = true): void {
    this.memory.write16(this.driverAddr, (index & 0x7fff) | (wrap ? 0x8000 : 0));
    this.memory.write16(this.driverAddr + 2, PackedEventFlag.DESC);
  }
}
