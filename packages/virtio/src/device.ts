import type { AccessSize, GuestMemory } from '@typevisor/memory';
import type { QueueError } from './errors.js';
import type { Virtqueue } from './queue/queue.js';

/**
 * What a transport hands a device when the driver sets DRIVER_OK. The device keeps it until
 * {@link VirtioDevice.reset}; it never sees the transport, the bus or the interrupt controller.
 */
export interface DeviceContext {
  readonly memory: GuestMemory;
  /** The device's queues, in queue-index order, activated with the negotiated features. */
  readonly queues: readonly Virtqueue[];
  /** Negotiated feature set (see `hasFeature`). */
  readonly features: number;
  /** Interrupts the driver for queue `index` if its suppression state asks for it (2.7.7 / 2.8.10). */
  notifyQueue(index: number): void;
  /** The device configuration changed: bumps the generation and sends a configuration change notification. */
  configChanged(): void;
  /** A guest-caused error the device cannot recover from: sets DEVICE_NEEDS_RESET and stops the queues (2.1.2). */
  needsReset(error: QueueError): void;
}

/**
 * The one contract every virtio device implements (after Firecracker's `VirtioDevice` trait). Both
 * transports take any `VirtioDevice`, so a device needs no per-transport glue. Ring features
 * (VERSION_1, INDIRECT_DESC, RING_EVENT_IDX, RING_PACKED) are the transport's business: `features`
 * lists only the device-type bits.
 */
export interface VirtioDevice {
  /** Device type ID (5 Device Types), e.g. `DeviceId.BLOCK`. */
  readonly deviceId: number;
  /** Device-specific feature bits offered to the driver. */
  readonly features: number;
  /** Largest size of each queue; the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Bytes of device configuration space. */
  readonly configSize: number;
  /** Little-endian read of the device configuration at `offset`; 0 past its end. */
  readConfig(offset: number, size: AccessSize): number;
  writeConfig(offset: number, size: AccessSize, value: number): void;
  /** The driver set DRIVER_OK: start processing with `context`. */
  activate(context: DeviceContext): void;
  /** The driver notified queue `index` (available buffers). */
  queueNotify(index: number): void;
  /** The driver reset the device (status 0) or the machine reset: drop the context and in-flight work. */
  reset(): void;
}

/** Little-endian read of `size` bytes of `bytes` at `offset`; bytes past the end read as 0. */
export function readConfigBytes(bytes: Uint8Array, offset: number, size: AccessSize): number {
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + (bytes[offset + i] ?? 0);
  return v;
}
