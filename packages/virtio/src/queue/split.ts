import type { GuestMemory } from '@typevisor/memory';
import {
  DESCRIPTOR_SIZE,
  DescFlag,
  MAX_QUEUE_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_USED_F_NO_NOTIFY,
} from '../constants.js';
import { type QueueError, queueError } from '../errors.js';
import { appendDescriptor, DescriptorChain } from './chain.js';
import { dataView, descriptorAddress, needEvent, type RingPosition, u16View, writableRam } from './ring.js';

/** Split virtqueue layout (2.7): byte offsets inside each area. */
export const SplitLayout = {
  /** struct virtq_desc { le64 addr; le32 len; le16 flags; le16 next; } */
  DESC_ADDR: 0,
  DESC_LEN: 8,
  DESC_FLAGS: 12,
  DESC_NEXT: 14,
  /** struct virtq_avail { le16 flags; le16 idx; le16 ring[size]; le16 used_event; } (u16 indices) */
  AVAIL_FLAGS: 0,
  AVAIL_IDX: 1,
  AVAIL_RING: 2,
  /** struct virtq_used { le16 flags; le16 idx; struct { le32 id; le32 len; } ring[size]; le16 avail_event; } */
  USED_FLAGS: 0,
  USED_IDX: 2,
  USED_RING: 4,
  USED_ELEM_SIZE: 8,
  /** Alignments (2.7, table "Virtqueue Part Alignment"). */
  DESC_ALIGN: 16,
  AVAIL_ALIGN: 2,
  USED_ALIGN: 4,
} as const;

export const splitDescTableSize = (size: number): number => DESCRIPTOR_SIZE * size;
export const splitAvailSize = (size: number): number => 6 + 2 * size;
export const splitUsedSize = (size: number): number => 6 + 8 * size;

/** The device side of one split virtqueue over checked, cached views of its three areas. */
export class SplitRing {
  private constructor(
    private readonly memory: GuestMemory,
    private readonly size: number,
    private readonly usedAddr: number,
    private readonly desc: DataView,
    private readonly avail: Uint16Array,
    private readonly used: DataView,
    private readonly used16: Uint16Array,
    private readonly indirect: boolean,
    private readonly eventIdx: boolean,
    private readonly pos: RingPosition,
  ) {}

  /** Checks size, alignment and placement of the three areas (2.7) and builds the ring. */
  static create(
    memory: GuestMemory,
    size: number,
    descAddr: number,
    availAddr: number,
    usedAddr: number,
    indirect: boolean,
    eventIdx: boolean,
    pos: RingPosition,
  ): SplitRing | QueueError {
    if (size < 1 || size > MAX_QUEUE_SIZE || (size & (size - 1)) !== 0) {
      return queueError('InvalidQueueConfig', 0, `split queue size ${size} is not a power of 2 up to 32768`);
    }
    if (
      descAddr % SplitLayout.DESC_ALIGN !== 0 ||
      availAddr % SplitLayout.AVAIL_ALIGN !== 0 ||
      usedAddr % SplitLayout.USED_ALIGN !== 0
    ) {
      return queueError('InvalidQueueConfig', 0, 'misaligned split ring area');
    }
    const usedBytes = splitUsedSize(size);
    if (!writableRam(memory, usedAddr, usedBytes)) {
      return queueError('InvalidQueueConfig', 0, 'used ring not in writable guest RAM');
    }
    const desc = dataView(memory, descAddr, splitDescTableSize(size));
    const avail = u16View(memory, availAddr, splitAvailSize(size) / 2);
    const used = dataView(memory, usedAddr, usedBytes);
    const used16 = u16View(memory, usedAddr, usedBytes / 2);
    if (desc === undefined || avail === undefined || used === undefined || used16 === undefined) {
      return queueError('InvalidQueueConfig', 0, 'split ring area not in guest RAM');
    }
    const ring = new SplitRing(memory, size, usedAddr, desc, avail, used, used16, indirect, eventIdx, pos);
    if (pos.notifyEnabled) ring.enableNotification();
    else ring.disableNotification();
    return ring;
  }

  private availIdx(): number {
    return Atomics.load(this.avail, SplitLayout.AVAIL_IDX);
  }

  hasAvailable(): boolean {
    return this.availIdx() !== this.pos.nextAvail;
  }

  pop(): DescriptorChain | QueueError | null {
    const pos = this.pos;
    const pending = (this.availIdx() - pos.nextAvail) & 0xffff;
    if (pending === 0) return null;
    if (pending > this.size) {
      return queueError(
        'InvalidAvailRingIndex',
        0,
        `avail.idx is ${pending} entries ahead of a ${this.size}-entry queue`,
      );
    }
    const head = this.avail[SplitLayout.AVAIL_RING + (pos.nextAvail % this.size)]!;
    pos.nextAvail = (pos.nextAvail + 1) & 0xffff;
    if (this.eventIdx && pos.notifyEnabled) this.writeAvailEvent();
    return this.readChain(head);
  }

  private readChain(head: number): DescriptorChain | QueueError {
    const chain = new DescriptorChain(head);
    if (head >= this.size) return queueError('InvalidDescriptorIndex', head, `head ${head} >= queue size`);
    let table = this.desc;
    let tableSize = this.size;
    let inIndirect = false;
    let index = head;
    let visited = 0;
    for (;;) {
      if (++visited > tableSize) {
        return queueError('DescriptorChainTooLong', head, `chain longer than its ${tableSize}-entry table`);
      }
      const at = index * DESCRIPTOR_SIZE;
      const lo = table.getUint32(at + SplitLayout.DESC_ADDR, true);
      const hi = table.getUint32(at + SplitLayout.DESC_ADDR + 4, true);
      const len = table.getUint32(at + SplitLayout.DESC_LEN, true);
      const flags = table.getUint16(at + SplitLayout.DESC_FLAGS, true);
      const next = table.getUint16(at + SplitLayout.DESC_NEXT, true);
      chain.ringDescriptors++;
      if ((flags & DescFlag.INDIRECT) !== 0) {
        const indirect = this.openIndirect(chain, inIndirect, flags, lo, hi, len);
        if (!(indirect instanceof DataView)) return indirect;
        table = indirect;
        tableSize = len / DESCRIPTOR_SIZE;
        inIndirect = true;
        index = 0;
        visited = 0;
        continue;
      }
      const err = appendDescriptor(this.memory, chain, lo, hi, len, (flags & DescFlag.WRITE) !== 0);
      if (err !== null) return err;
      if ((flags & DescFlag.NEXT) === 0) return chain;
      if (next >= tableSize) return queueError('InvalidDescriptorIndex', head, `next ${next} >= table size`);
      index = next;
    }
  }

  /** Validates an indirect descriptor (2.7.5.3) and returns a view of its table. */
  private openIndirect(
    chain: DescriptorChain,
    inIndirect: boolean,
    flags: number,
    lo: number,
    hi: number,
    len: number,
  ): DataView | QueueError {
    const head = chain.id;
    if (!this.indirect) return queueError('InvalidIndirectDescriptor', head, 'INDIRECT_DESC not negotiated');
    if (inIndirect)
      return queueError('InvalidIndirectDescriptor', head, 'indirect descriptor inside an indirect table');
    if ((flags & DescFlag.NEXT) !== 0)
      return queueError('InvalidIndirectDescriptor', head, 'INDIRECT together with NEXT');
    if (len === 0 || len % DESCRIPTOR_SIZE !== 0 || len / DESCRIPTOR_SIZE > MAX_QUEUE_SIZE) {
      return queueError('InvalidIndirectDescriptor', head, `indirect table length ${len}`);
    }
    const addr = descriptorAddress(lo, hi);
    const view = addr < 0 ? undefined : dataView(this.memory, addr, len);
    if (view === undefined)
      return queueError('DescriptorOutOfRange', head, 'indirect table not in guest RAM');
    return view;
  }

  push(chain: DescriptorChain, written: number): void {
    const pos = this.pos;
    const slot = pos.nextUsed % this.size;
    const at = SplitLayout.USED_RING + slot * SplitLayout.USED_ELEM_SIZE;
    this.used.setUint32(at, chain.id, true);
    this.used.setUint32(at + 4, Math.min(written, chain.writableLength), true);
    pos.nextUsed = (pos.nextUsed + 1) & 0xffff;
    // Publishing used.idx with a store after the element writes (2.7.8.2 "before updating idx").
    Atomics.store(this.used16, SplitLayout.USED_IDX / 2, pos.nextUsed);
    this.memory.markDirty(this.usedAddr, SplitLayout.USED_RING);
    this.memory.markDirty(this.usedAddr + at, SplitLayout.USED_ELEM_SIZE);
  }

  /** Should the driver be interrupted for the used buffers added since the last call? (2.7.7.2) */
  needsNotification(): boolean {
    const pos = this.pos;
    if (!this.eventIdx)
      return (Atomics.load(this.avail, SplitLayout.AVAIL_FLAGS) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const usedEvent = Atomics.load(this.avail, SplitLayout.AVAIL_RING + this.size);
    const old = pos.signalledUsed;
    const valid = pos.signalledValid;
    pos.signalledUsed = pos.nextUsed;
    pos.signalledValid = true;
    return !valid || needEvent(usedEvent, pos.nextUsed, old);
  }

  /** Asks the driver to notify again; returns true if buffers arrived meanwhile (recheck before sleeping). */
  enableNotification(): boolean {
    this.pos.notifyEnabled = true;
    if (this.eventIdx) this.writeAvailEvent();
    else this.setUsedFlags(Atomics.load(this.used16, 0) & ~VIRTQ_USED_F_NO_NOTIFY);
    return this.hasAvailable();
  }

  disableNotification(): void {
    this.pos.notifyEnabled = false;
    // With EVENT_IDX the device suppresses by not moving avail_event (2.7.10).
    if (!this.eventIdx) this.setUsedFlags(Atomics.load(this.used16, 0) | VIRTQ_USED_F_NO_NOTIFY);
  }

  private setUsedFlags(flags: number): void {
    Atomics.store(this.used16, SplitLayout.USED_FLAGS, flags);
    this.memory.markDirty(this.usedAddr, 2);
  }

  private writeAvailEvent(): void {
    const index = (SplitLayout.USED_RING + SplitLayout.USED_ELEM_SIZE * this.size) / 2;
    Atomics.store(this.used16, index, this.pos.nextAvail);
    this.memory.markDirty(this.usedAddr + index * 2, 2);
  }
}
