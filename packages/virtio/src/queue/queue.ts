import type { GuestMemory } from '@typevisor/memory';
import { MAX_QUEUE_SIZE, TransportFeature } from '../constants.js';
import { type QueueError, queueError, VirtioError } from '../errors.js';
import { hasFeature } from '../features.js';
import { DescriptorChain } from './chain.js';
import { PackedRing } from './packed.js';
import { initialPosition, type RingPosition } from './ring.js';
import { SplitRing } from './split.js';

export type RingLayout = 'split' | 'packed';

/** Plain, JSON-able state of one virtqueue (driver-written configuration plus the device's position). */
export interface QueueState {
  readonly size: number;
  readonly ready: boolean;
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  readonly position: RingPosition;
}

/** What {@link Virtqueue.pop} returns: a chain, a guest-caused error, or null when the ring is empty. */
export type PopResult = DescriptorChain | QueueError | null;

export function isQueueError(r: PopResult): r is QueueError {
  return r !== null && !(r instanceof DescriptorChain);
}

/**
 * One virtqueue as both transports and every device see it. The transport fills in the driver's
 * configuration (size, ring addresses, ready) and calls {@link Virtqueue.activate} when the driver
 * sets DRIVER_OK; devices then pop chains and push used buffers without knowing the ring layout.
 */
export class Virtqueue {
  size: number;
  ready = false;
  /** Split: descriptor table. Packed: descriptor ring. */
  descAddr = 0;
  /** Split: available ring. Packed: driver event suppression area. */
  driverAddr = 0;
  /** Split: used ring. Packed: device event suppression area. */
  deviceAddr = 0;
  private position: RingPosition = initialPosition();
  private ring: SplitRing | PackedRing | null = null;
  private layoutValue: RingLayout = 'split';

  constructor(readonly maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 1 || maxSize > MAX_QUEUE_SIZE) {
      throw new VirtioError('InvalidArgument', `queue max size ${maxSize}`);
    }
    this.size = maxSize;
  }

  get layout(): RingLayout {
    return this.layoutValue;
  }

  /** True once activated with a valid configuration. */
  get active(): boolean {
    return this.ring !== null;
  }

  /**
   * Builds the ring over guest memory with the negotiated features. A guest-caused configuration error
   * (bad size, misaligned or unmapped ring) is returned and leaves the queue inactive.
   */
  activate(memory: GuestMemory, negotiated: number): QueueError | null {
    this.ring = null;
    if (this.size > this.maxSize) {
      return queueError(
        'InvalidQueueConfig',
        0,
        `queue size ${this.size} above the device's ${this.maxSize}`,
      );
    }
    const packed = hasFeature(negotiated, TransportFeature.RING_PACKED);
    const indirect = hasFeature(negotiated, TransportFeature.INDIRECT_DESC);
    const eventIdx = hasFeature(negotiated, TransportFeature.RING_EVENT_IDX);
    this.layoutValue = packed ? 'packed' : 'split';
    const make = packed ? PackedRing.create : SplitRing.create;
    const ring = make(
      memory,
      this.size,
      this.descAddr,
      this.driverAddr,
      this.deviceAddr,
      indirect,
      eventIdx,
      this.position,
    );
    if (!(ring instanceof SplitRing || ring instanceof PackedRing)) return ring;
    this.ring = ring;
    return null;
  }

  /** Stops using guest memory; the position is kept (for a later {@link Virtqueue.activate} after restore). */
  deactivate(): void {
    this.ring = null;
  }

  /** Back to the power-on state (device reset). */
  reset(): void {
    this.ring = null;
    this.size = this.maxSize;
    this.ready = false;
    this.descAddr = 0;
    this.driverAddr = 0;
    this.deviceAddr = 0;
    this.position = initialPosition();
  }

  /** The next available chain; never throws for anything the driver wrote. */
  pop(): PopResult {
    return this.ring === null ? null : this.ring.pop();
  }

  hasAvailable(): boolean {
    return this.ring?.hasAvailable() ?? false;
  }

  /** Returns `chain` to the driver with `written` bytes written into its device-writable buffers. */
  push(chain: DescriptorChain, written: number): void {
    this.ring?.push(chain, written);
  }

  /** Whether the driver wants an interrupt for what was pushed since the last call (2.7.7, 2.8.10). */
  needsNotification(): boolean {
    return this.ring?.needsNotification() ?? false;
  }

  /** Asks for driver notifications again; true when buffers arrived while they were off. */
  enableNotification(): boolean {
    return this.ring?.enableNotification() ?? false;
  }

  disableNotification(): void {
    this.ring?.disableNotification();
  }

  getState(): QueueState {
    return {
      size: this.size,
      ready: this.ready,
      descAddr: this.descAddr,
      driverAddr: this.driverAddr,
      deviceAddr: this.deviceAddr,
      position: { ...this.position },
    };
  }

  /** Restores configuration and position; call {@link Virtqueue.activate} afterwards if the device runs. */
  setState(state: QueueState): void {
    this.ring = null;
    this.size = state.size;
    this.ready = state.ready;
    this.descAddr = state.descAddr;
    this.driverAddr = state.driverAddr;
    this.deviceAddr = state.deviceAddr;
    this.position = { ...state.position };
  }
}
