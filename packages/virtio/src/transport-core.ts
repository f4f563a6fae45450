import type { GuestMemory } from '@typevisor/memory';
import { DeviceStatus, TransportFeature } from './constants.js';
import type { DeviceContext, VirtioDevice } from './device.js';
import { type QueueError, VirtioError } from './errors.js';
import { featureBit, featureWord, hasFeature, withFeatureWord } from './features.js';
import { type QueueState, Virtqueue } from './queue/queue.js';

/** Ring features a transport offers on top of the device's own bits (QEMU spells these as device properties). */
export interface RingOptions {
  /** Offer VIRTIO_F_RING_PACKED (QEMU `packed=on`). Default false, as in QEMU. */
  readonly packed?: boolean;
  /** Offer VIRTIO_F_RING_EVENT_IDX (QEMU `event_idx`). Default true. */
  readonly eventIdx?: boolean;
  /** Offer VIRTIO_F_INDIRECT_DESC (QEMU `indirect_desc`). Default true. */
  readonly indirectDesc?: boolean;
}

/** Device bits plus VERSION_1 and the ring features selected by `options`. */
export function offeredFeatures(deviceFeatures: number, options: RingOptions): number {
  let f = deviceFeatures + featureBit(TransportFeature.VERSION_1);
  if (options.indirectDesc ?? true) f += featureBit(TransportFeature.INDIRECT_DESC);
  if (options.eventIdx ?? true) f += featureBit(TransportFeature.RING_EVENT_IDX);
  if (options.packed ?? false) f += featureBit(TransportFeature.RING_PACKED);
  return f;
}

/** How a transport delivers the two kinds of device notification (used buffer, configuration change). */
export interface TransportInterrupts {
  queue(index: number): void;
  config(): void;
}

/** The transport-independent part of a transport's state. */
export interface CoreState {
  readonly status: number;
  readonly driverFeatures: number;
  readonly configGeneration: number;
  readonly queues: readonly QueueState[];
}

/**
 * What every transport does the same way: feature negotiation, the device status state machine of
 * 3.1.1 and 2.1.2, queue activation at DRIVER_OK, and the {@link DeviceContext} a device gets. The
 * transports only map registers onto it and deliver interrupts their own way.
 */
export class VirtioCore {
  readonly queues: readonly Virtqueue[];
  readonly offered: number;
  status = 0;
  driverFeatures = 0;
  configGeneration = 0;
  private lastError: QueueError | null = null;

  constructor(
    readonly device: VirtioDevice,
    private readonly memory: GuestMemory,
    private readonly interrupts: TransportInterrupts,
    options: RingOptions,
  ) {
    if (device.queueMaxSizes.length === 0)
      throw new VirtioError('InvalidArgument', 'a virtio device needs a queue');
    this.queues = device.queueMaxSizes.map((n) => new Virtqueue(n));
    this.offered = offeredFeatures(device.features, options);
  }

  /** The last guest-caused error that set DEVICE_NEEDS_RESET, or null. */
  get error(): QueueError | null {
    return this.lastError;
  }

  /** Queue registers may change only before DRIVER_OK (without VIRTIO_F_RING_RESET). */
  get queuesConfigurable(): boolean {
    return (this.status & DeviceStatus.DRIVER_OK) === 0;
  }

  deviceFeatureWord(sel: number): number {
    return featureWord(this.offered, sel);
  }

  driverFeatureWord(sel: number): number {
    return featureWord(this.driverFeatures, sel);
  }

  /** Features are fixed once FEATURES_OK is set (3.1.1); bits not offered are dropped. */
  writeDriverFeatures(sel: number, value: number): void {
    if ((this.status & DeviceStatus.FEATURES_OK) !== 0) return;
    this.driverFeatures = withFeatureWord(this.driverFeatures, sel, value >>> 0, this.offered);
  }

  /** A driver notification for queue `index`; ignored unless the device runs. */
  notify(index: number): void {
    const running = DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET;
    if ((this.status & running) !== DeviceStatus.DRIVER_OK || index >= this.queues.length) return;
    this.device.queueNotify(index);
  }

  /** Device status writes (2.1, 3.1.1). Returns true when the write was 0, i.e. a reset the transport must finish. */
  writeStatus(value: number): boolean {
    value &= 0xff;
    if (value === 0) {
      this.reset();
      return true;
    }
    const old = this.status;
    // The driver may only add bits; DEVICE_NEEDS_RESET is the device's to set.
    let next = ((old | value) & ~DeviceStatus.DEVICE_NEEDS_RESET) | (old & DeviceStatus.DEVICE_NEEDS_RESET);
    if ((next & DeviceStatus.FEATURES_OK) !== 0 && (old & DeviceStatus.FEATURES_OK) === 0) {
      // A modern-only device refuses a driver that did not accept VERSION_1 by leaving FEATURES_OK clear.
      if (!hasFeature(this.driverFeatures, TransportFeature.VERSION_1)) next &= ~DeviceStatus.FEATURES_OK;
    }
    const starting = (next & DeviceStatus.DRIVER_OK) !== 0 && (old & DeviceStatus.DRIVER_OK) === 0;
    if (starting && (next & DeviceStatus.FEATURES_OK) === 0) next &= ~DeviceStatus.DRIVER_OK;
    this.status = next;
    if (starting && (next & DeviceStatus.DRIVER_OK) !== 0) this.start();
    return false;
  }

  private start(): void {
    for (const q of this.queues) {
      if (!q.ready) continue;
      const err = q.activate(this.memory, this.driverFeatures);
      if (err !== null) {
        this.setNeedsReset(err);
        return;
      }
    }
    this.device.activate(this.context());
  }

  private context(): DeviceContext {
    return {
      memory: this.memory,
      queues: this.queues,
      features: this.driverFeatures,
      notifyQueue: (index) => {
        if (this.queues[index]?.needsNotification()) this.interrupts.queue(index);
      },
      configChanged: () => {
        this.configGeneration = (this.configGeneration + 1) >>> 0;
        if ((this.status & DeviceStatus.DRIVER_OK) !== 0) this.interrupts.config();
      },
      needsReset: (error) => this.setNeedsReset(error),
    };
  }

  /** 2.1.2: set DEVICE_NEEDS_RESET, stop touching the rings, and tell a running driver. */
  setNeedsReset(error: QueueError): void {
    if ((this.status & DeviceStatus.DEVICE_NEEDS_RESET) !== 0) return;
    this.lastError = error;
    this.status |= DeviceStatus.DEVICE_NEEDS_RESET;
    for (const q of this.queues) q.deactivate();
    if ((this.status & DeviceStatus.DRIVER_OK) !== 0) this.interrupts.config();
  }

  reset(): void {
    this.device.reset();
    for (const q of this.queues) q.reset();
    this.status = 0;
    this.driverFeatures = 0;
    this.lastError = null;
  }

  getState(): CoreState {
    return {
      status: this.status,
      driverFeatures: this.driverFeatures,
      configGeneration: this.configGeneration,
      queues: this.queues.map((q) => q.getState()),
    };
  }

  /** Restores the state; a running device is re-activated over the same guest memory. */
  setState(state: CoreState): void {
    if (state.queues.length !== this.queues.length) {
      throw new VirtioError(
        'InvalidArgument',
        `state has ${state.queues.length} queues, device ${this.queues.length}`,
      );
    }
    this.device.reset();
    this.status = state.status;
    this.driverFeatures = state.driverFeatures;
    this.configGeneration = state.configGeneration;
    this.lastError = null;
    state.queues.forEach((s, i) => {
      this.queues[i]!.setState(s);
    });
    const running = DeviceStatus.DRIVER_OK | DeviceStatus.DEVICE_NEEDS_RESET;
    if ((this.status & running) === DeviceStatus.DRIVER_OK) this.start();
  }
}
