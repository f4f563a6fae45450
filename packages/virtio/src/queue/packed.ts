import type { GuestMemory } from '@typevisor/memory';
import { DESCRIPTOR_SIZE, DescFlag, MAX_QUEUE_SIZE, PackedEventFlag } from '../constants.js';
import { type QueueError, queueError } from '../errors.js';
import { appendDescriptor, DescriptorChain } from './chain.js';
import { dataView, descriptorAddress, needEvent, type RingPosition, u16View, writableRam } from './ring.js';

/** Packed virtqueue layout (2.8): byte offsets inside a descriptor and an event suppression area. */
export const PackedLayout = {
  /** struct pvirtq_desc { le64 addr; le32 len; le16 id; le16 flags; } */
  DESC_ADDR: 0,
  DESC_LEN: 8,
  DESC_ID: 12,
  DESC_FLAGS: 14,
  /** struct pvirtq_event_suppress { le16 off_wrap; le16 flags; } (u16 indices) */
  EVENT_OFF_WRAP: 0,
  EVENT_FLAGS: 1,
  EVENT_SIZE: 4,
  /** Bit 15 of off_wrap is the wrap counter the offset refers to. */
  EVENT_WRAP_SHIFT: 15,
  DESC_ALIGN: 16,
  EVENT_ALIGN: 4,
} as const;

const FLAGS_U16 = PackedLayout.DESC_FLAGS / 2;
const U16_PER_DESC = DESCRIPTOR_SIZE / 2;

/**
 * The device side of one packed virtqueue (2.8). The driver area holds the driver's event
 * suppression structure (read here), the device area the device's (written here).
 */
export class PackedRing {
  private constructor(
    private readonly memory: GuestMemory,
    private readonly size: number,
    private readonly descAddr: number,
    private readonly deviceAddr: number,
    private readonly desc: DataView,
    private readonly desc16: Uint16Array,
    private readonly driverEvent: Uint16Array,
    private readonly deviceEvent: Uint16Array,
    private readonly indirect: boolean,
    private readonly eventIdx: boolean,
    private readonly pos: RingPosition,
  ) {}

  static create(
    memory: GuestMemory,
    size: number,
    descAddr: number,
    driverAddr: number,
    deviceAddr: number,
    indirect: boolean,
    eventIdx: boolean,
    pos: RingPosition,
  ): PackedRing | QueueError {
    if (size < 1 || size > MAX_QUEUE_SIZE)
      return queueError('InvalidQueueConfig', 0, `packed queue size ${size}`);
    if (
      descAddr % PackedLayout.DESC_ALIGN !== 0 ||
      driverAddr % PackedLayout.EVENT_ALIGN !== 0 ||
      deviceAddr % PackedLayout.EVENT_ALIGN !== 0
    ) {
      return queueError('InvalidQueueConfig', 0, 'misaligned packed ring area');
    }
    const ringBytes = size * DESCRIPTOR_SIZE;
    if (
      !writableRam(memory, descAddr, ringBytes) ||
      !writableRam(memory, deviceAddr, PackedLayout.EVENT_SIZE)
    ) {
      return queueError('InvalidQueueConfig', 0, 'descriptor ring or device area not in writable guest RAM');
    }
    const desc = dataView(memory, descAddr, ringBytes);
    const desc16 = u16View(memory, descAddr, ringBytes / 2);
    const driverEvent = u16View(memory, driverAddr, 2);
    const deviceEvent = u16View(memory, deviceAddr, 2);
    if (
      desc === undefined ||
      desc16 === undefined ||
      driverEvent === undefined ||
      deviceEvent === undefined
    ) {
      return queueError('InvalidQueueConfig', 0, 'packed ring area not in guest RAM');
    }
    const ring = new PackedRing(
      memory,
      size,
      descAddr,
      deviceAddr,
      desc,
      desc16,
      driverEvent,
      deviceEvent,
      indirect,
      eventIdx,
      pos,
    );
    if (pos.notifyEnabled) ring.enableNotification();
    else ring.disableNotification();
    return ring;
  }

  /** 2.8.1: available when AVAIL equals the device's avail wrap counter and USED does not. */
  hasAvailable(): boolean {
    const flags = Atomics.load(this.desc16, this.pos.nextAvail * U16_PER_DESC + FLAGS_U16);
    const avail = (flags & DescFlag.AVAIL) !== 0;
    const used = (flags & DescFlag.USED) !== 0;
    return avail === this.pos.availWrap && used !== this.pos.availWrap;
  }

  pop(): DescriptorChain | QueueError | null {
    if (!this.hasAvailable()) return null;
    const pos = this.pos;
    const desc = this.desc;
    const chain = new DescriptorChain(
      desc.getUint16(pos.nextAvail * DESCRIPTOR_SIZE + PackedLayout.DESC_ID, true),
    );
    let index = pos.nextAvail;
    for (;;) {
      if (chain.ringDescriptors >= this.size) {
        return queueError('DescriptorChainTooLong', chain.id, 'chain longer than the queue');
      }
      const at = index * DESCRIPTOR_SIZE;
      const lo = desc.getUint32(at + PackedLayout.DESC_ADDR, true);
      const hi = desc.getUint32(at + PackedLayout.DESC_ADDR + 4, true);
      const len = desc.getUint32(at + PackedLayout.DESC_LEN, true);
      const flags = desc.getUint16(at + PackedLayout.DESC_FLAGS, true);
      // The buffer ID is the one in the last descriptor of the chain (2.8.6).
      chain.id = desc.getUint16(at + PackedLayout.DESC_ID, true);
      chain.ringDescriptors++;
      index = index + 1 === this.size ? 0 : index + 1;
      if ((flags & DescFlag.INDIRECT) !== 0) {
        const err = this.readIndirect(chain, flags, lo, hi, len);
        if (err !== null) return err;
      } else {
        const err = appendDescriptor(this.memory, chain, lo, hi, len, (flags & DescFlag.WRITE) !== 0);
        if (err !== null) return err;
      }
      if ((flags & DescFlag.NEXT) === 0) break;
    }
    pos.nextAvail += chain.ringDescriptors;
    if (pos.nextAvail >= this.size) {
      pos.nextAvail -= this.size;
      pos.availWrap = !pos.availWrap;
    }
    if (this.eventIdx && pos.notifyEnabled) this.writeDeviceEvent(PackedEventFlag.DESC);
    return chain;
  }

  /** 2.8.19: entries of an indirect table are used in order; their NEXT flags and IDs are ignored. */
  private readIndirect(
    chain: DescriptorChain,
    flags: number,
    lo: number,
    hi: number,
    len: number,
  ): QueueError | null {
    const id = chain.id;
    if (!this.indirect) return queueError('InvalidIndirectDescriptor', id, 'INDIRECT_DESC not negotiated');
    if ((flags & DescFlag.NEXT) !== 0)
      return queueError('InvalidIndirectDescriptor', id, 'INDIRECT together with NEXT');
    if (len === 0 || len % DESCRIPTOR_SIZE !== 0 || len / DESCRIPTOR_SIZE > MAX_QUEUE_SIZE) {
      return queueError('InvalidIndirectDescriptor', id, `indirect table length ${len}`);
    }
    const addr = descriptorAddress(lo, hi);
    const table = addr < 0 ? undefined : dataView(this.memory, addr, len);
    if (table === undefined) return queueError('DescriptorOutOfRange', id, 'indirect table not in guest RAM');
    for (let at = 0; at < len; at += DESCRIPTOR_SIZE) {
      const f = table.getUint16(at + PackedLayout.DESC_FLAGS, true);
      if ((f & DescFlag.INDIRECT) !== 0) {
        return queueError('InvalidIndirectDescriptor', id, 'indirect descriptor inside an indirect table');
      }
      const err = appendDescriptor(
        this.memory,
        chain,
        table.getUint32(at + PackedLayout.DESC_ADDR, true),
        table.getUint32(at + PackedLayout.DESC_ADDR + 4, true),
        table.getUint32(at + PackedLayout.DESC_LEN, true),
        (f & DescFlag.WRITE) !== 0,
      );
      if (err !== null) return err;
    }
    return null;
  }

  /** Writes one used descriptor at the device's used index and skips the rest of the chain (2.8.7). */
  push(chain: DescriptorChain, written: number): void {
    const pos = this.pos;
    const at = pos.nextUsed * DESCRIPTOR_SIZE;
    const len = Math.min(written, chain.writableLength);
    this.desc.setUint32(at + PackedLayout.DESC_LEN, len, true);
    this.desc.setUint16(at + PackedLayout.DESC_ID, chain.id, true);
    let flags = pos.usedWrap ? DescFlag.AVAIL | DescFlag.USED : 0;
    if (len > 0) flags |= DescFlag.WRITE;
    // The flags store publishes the descriptor: id and len are written before it (2.8.21.2).
    Atomics.store(this.desc16, pos.nextUsed * U16_PER_DESC + FLAGS_U16, flags);
    this.memory.markDirty(this.descAddr + at, DESCRIPTOR_SIZE);
    pos.nextUsed += Math.max(chain.ringDescriptors, 1);
    if (pos.nextUsed >= this.size) {
      pos.nextUsed -= this.size;
      pos.usedWrap = !pos.usedWrap;
    }
    pos.usedSinceSignal = Math.min(pos.usedSinceSignal + Math.max(chain.ringDescriptors, 1), 0xffff);
  }

  /** 2.8.10: the driver's event suppression structure decides whether to interrupt it. */
  needsNotification(): boolean {
    const pos = this.pos;
    const flags = Atomics.load(this.driverEvent, PackedLayout.EVENT_FLAGS);
    const next = pos.nextUsed;
    const old = (next - pos.usedSinceSignal) & 0xffff;
    const valid = pos.signalledValid;
    pos.signalledUsed = next;
    pos.signalledValid = true;
    pos.usedSinceSignal = 0;
    if (flags === PackedEventFlag.DISABLE) return false;
    if (flags !== PackedEventFlag.DESC || !this.eventIdx) return true;
    const offWrap = Atomics.load(this.driverEvent, PackedLayout.EVENT_OFF_WRAP);
    let event = offWrap & 0x7fff;
    // An offset in the other lap of the ring lies `size` before this lap's indices.
    if (offWrap >>> PackedLayout.EVENT_WRAP_SHIFT !== (pos.usedWrap ? 1 : 0)) event -= this.size;
    return !valid || needEvent(event & 0xffff, next, old);
  }

  enableNotification(): boolean {
    this.pos.notifyEnabled = true;
    this.writeDeviceEvent(this.eventIdx ? PackedEventFlag.DESC : PackedEventFlag.ENABLE);
    return this.hasAvailable();
  }

  disableNotification(): void {
    this.pos.notifyEnabled = false;
    this.writeDeviceEvent(PackedEventFlag.DISABLE);
  }

  private writeDeviceEvent(flags: number): void {
    if (flags === PackedEventFlag.DESC) {
      const offWrap = this.pos.nextAvail | ((this.pos.availWrap ? 1 : 0) << PackedLayout.EVENT_WRAP_SHIFT);
      Atomics.store(this.deviceEvent, PackedLayout.EVENT_OFF_WRAP, offWrap);
    }
    Atomics.store(this.deviceEvent, PackedLayout.EVENT_FLAGS, flags);
    this.memory.markDirty(this.deviceAddr, PackedLayout.EVENT_SIZE);
  }
}
