/**
 * Errors of the virtio package.
 *
 * Guest-caused conditions are *values* of type {@link QueueError}: a virtqueue never throws because
 * of what a driver wrote into guest memory. The device that receives one either completes the request
 * with an error status or sets DEVICE_NEEDS_RESET. {@link VirtioError} is thrown only for programmer
 * errors (wrong wiring, bad constructor arguments).
 */

/** Kinds of guest-caused virtqueue errors (names after rust-vmm virtio-queue's `Error`). */
export type QueueErrorKind =
  /** The split ring's `avail.idx` moved more than the queue size past the device's position. */
  | 'InvalidAvailRingIndex'
  /** A head or `next` index is not below the queue (or indirect table) size. */
  | 'InvalidDescriptorIndex'
  /** A chain visits more descriptors than its table holds (a loop, or a chain longer than the queue). */
  | 'DescriptorChainTooLong'
  /** An indirect descriptor that is not allowed here: feature not negotiated, nested, with NEXT, bad length. */
  | 'InvalidIndirectDescriptor'
  /** A descriptor's buffer is not wholly inside guest RAM (or its address does not fit 53 bits). */
  | 'DescriptorOutOfRange'
  /** A device-readable descriptor follows a device-writable one (2.7.4.2). */
  | 'WriteOnlyOrderViolated'
  /** Queue size, alignment or ring addresses are not acceptable at activation. */
  | 'InvalidQueueConfig'
  /** A well-formed chain that is not a valid request for the device (e.g. no room for a status byte). */
  | 'MalformedRequest';

/** A guest-caused queue error, returned (never thrown). `head` is the chain's head/ID when known. */
export interface QueueError {
  readonly kind: QueueErrorKind;
  readonly head: number;
  readonly detail: string;
}

export function queueError(kind: QueueErrorKind, head: number, detail: string): QueueError {
  return { kind, head, detail };
}

/** Kinds of programmer errors. */
export type VirtioErrorKind = 'InvalidArgument' | 'InvalidState';

export class VirtioError extends Error {
  override readonly name = 'VirtioError';
  constructor(
    readonly kind: VirtioErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}
