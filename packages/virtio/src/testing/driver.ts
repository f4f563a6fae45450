import type { AccessSize, GuestMemory } from '@typevisor/memory';
import { DeviceStatus, TransportFeature } from '../constants.js';
import { featureWord, hasFeature } from '../features.js';
import type { RingLayout } from '../queue/queue.js';
import type { GuestAllocator } from './allocator.js';
import { DriverQueue } from './driver-queue.js';

export interface DriverInitOptions {
  /** Features to accept; default: everything offered. They are masked with the offered set. */
  readonly accept?: number;
  /** Queue size to program (default: the device's maximum, capped at 256). */
  readonly queueSize?: number;
  /** Stop before DRIVER_OK (to test the negotiation itself). */
  readonly stopBeforeDriverOk?: boolean;
}

/** One queue's registers as a transport exposes them to the driver. */
export interface QueueRegisters {
  readonly descAddr: number;
  readonly driverAddr: number;
  readonly deviceAddr: number;
  readonly size: number;
}

/**
 * The transport-independent half of a driver fake: the initialization sequence of 3.1.1 and the
 * queues, over a handful of transport primitives that {@link MmioDriver} and {@link PciDriver}
 * implement. Device tests written against this class run unchanged on both transports.
 */
export abstract class VirtioDriver {
  readonly queues: DriverQueue[] = [];
  features = 0;

  constructor(
    readonly memory: GuestMemory,
    readonly alloc: GuestAllocator,
  ) {}

  abstract get status(): number;
  abstract setStatus(value: number): void;
  abstract readFeatureWord(sel: number): number;
  abstract writeFeatureWord(sel: number, value: number): void;
  /** Maximum size of queue `index`, or 0 when there is no such queue. */
  abstract queueMax(index: number): number;
  abstract programQueue(index: number, regs: QueueRegisters): void;
  /** Notifies queue `index`. */
  abstract kick(index: number): void;
  abstract readConfig(offset: number, size: AccessSize): number;
  abstract writeConfig(offset: number, size: AccessSize, value: number): void;
  /** Reads and acknowledges the interrupt cause, as the INTx handler does (ISR / InterruptStatus). */
  abstract ackInterrupt(): number;

  offeredFeatures(): number {
    return this.readFeatureWord(1) * 0x1_0000_0000 + this.readFeatureWord(0);
  }

  get layout(): RingLayout {
    return hasFeature(this.features, TransportFeature.RING_PACKED) ? 'packed' : 'split';
  }

  /** Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. Returns the final status. */
  init(options: DriverInitOptions = {}): number {
    this.setStatus(0);
    this.setStatus(DeviceStatus.ACKNOWLEDGE);
    this.setStatus(DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER);
    const offered = this.offeredFeatures();
    const accept = options.accept ?? offered;
    const lo = (featureWord(offered, 0) & featureWord(accept, 0)) >>> 0;
    const hi = (featureWord(offered, 1) & featureWord(accept, 1)) >>> 0;
    this.features = hi * 0x1_0000_0000 + lo;
    this.writeFeatureWord(0, lo);
    this.writeFeatureWord(1, hi);
    const base = DeviceStatus.ACKNOWLEDGE | DeviceStatus.DRIVER;
    this.setStatus(base | DeviceStatus.FEATURES_OK);
    if ((this.status & DeviceStatus.FEATURES_OK) === 0) {
      this.setStatus(base | DeviceStatus.FAILED);
      return this.status;
    }
    const eventIdx = hasFeature(this.features, TransportFeature.RING_EVENT_IDX);
    this.queues.length = 0;
    for (let i = 0; ; i++) {
      const max = this.queueMax(i);
      if (max === 0) break;
      const size = Math.min(options.queueSize ?? 256, max);
      const q = DriverQueue.create(this.layout, this.memory, this.alloc, size, eventIdx);
      this.programQueue(i, q);
      this.queues.push(q);
    }
    this.afterQueues();
    if (options.stopBeforeDriverOk) return this.status;
    this.setStatus(base | DeviceStatus.FEATURES_OK | DeviceStatus.DRIVER_OK);
    return this.status;
  }

  /** Transport-specific setup between the queues and DRIVER_OK (MSI-X vectors on PCI). */
  protected afterQueues(): void {}

  queue(index: number): DriverQueue {
    const q = this.queues[index];
    if (q === undefined) throw new Error(`VirtioDriver: no queue ${index}`);
    return q;
  }
}
