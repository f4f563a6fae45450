import type { GuestMemory } from '@typevisor/memory';
import { VirtioError } from '../errors.js';

/**
 * The device's position in a ring: plain data, saved and restored with the queue. `availWrap` and
 * `usedWrap` are the packed ring's wrap counters (unused by the split ring).
 */
export interface RingPosition {
  nextAvail: number;
  nextUsed: number;
  availWrap: boolean;
  usedWrap: boolean;
  /** `nextUsed` when the driver was last interrupted (EVENT_IDX bookkeeping). */
  signalledUsed: number;
  signalledValid: boolean;
  /** Packed ring: descriptors used since the last interrupt decision (at most 0xffff). */
  usedSinceSignal: number;
  /** Whether the device currently asks the driver for notifications. */
  notifyEnabled: boolean;
}

export function initialPosition(): RingPosition {
  return {
    nextAvail: 0,
    nextUsed: 0,
    availWrap: true,
    usedWrap: true,
    signalledUsed: 0,
    signalledValid: false,
    usedSinceSignal: 0,
    notifyEnabled: true,
  };
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A Uint16Array over guest bytes that the queue checked to be in RAM. Ring indices and flags are
 * read and published with `Atomics`, which orders them against the plain accesses around them when
 * the driver runs on another thread over the same SharedArrayBuffer (the barriers of 2.7.13).
 */
export function u16View(memory: GuestMemory, addr: number, count: number): Uint16Array | undefined {
  if (!LITTLE_ENDIAN_HOST) throw new VirtioError('InvalidState', 'virtqueues need a little-endian host');
  const bytes = memory.subarray(addr, count * 2);
  if (bytes === undefined || bytes.byteOffset % 2 !== 0) return undefined;
  return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
}

export function dataView(memory: GuestMemory, addr: number, length: number): DataView | undefined {
  const bytes = memory.subarray(addr, length);
  return bytes === undefined ? undefined : new DataView(bytes.buffer, bytes.byteOffset, length);
}

/** True when [addr, addr+length) is in one RAM region the device may write. */
export function writableRam(memory: GuestMemory, addr: number, length: number): boolean {
  const r = memory.findRegion(addr, length);
  return r !== undefined && !r.readonly;
}

/** `vring_need_event` (2.7.7.1): has the index moved past `event` on the way from `old` to `next`? */
export function needEvent(event: number, next: number, old: number): boolean {
  return ((next - event - 1) & 0xffff) < ((next - old) & 0xffff);
}

/** A descriptor's 64-bit address as a number, or -1 when it does not fit 53 bits (never RAM). */
export function descriptorAddress(lo: number, hi: number): number {
  return hi >= 0x20_0000 ? -1 : hi * 0x1_0000_0000 + lo;
}
