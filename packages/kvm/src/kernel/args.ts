import { EFAULT } from '../uapi/errno.js';

/** The third argument of ioctl(2): an integer, or a pointer to a struct (here: its bytes). */
export type IoctlArg = number | Uint8Array | undefined;

/**
 * copy_from_user/copy_to_user of a `size`-byte struct: the caller's bytes, or null (-EFAULT) when the
 * argument is not a buffer (a bad or NULL pointer) or is shorter than the struct.
 */
export function structArg(arg: IoctlArg, size: number): Uint8Array | null {
  if (!(arg instanceof Uint8Array) || arg.byteLength < size) return null;
  return arg;
}

/** -EFAULT, spelled once. */
export const FAULT = -EFAULT;

/**
 * An integer argument (`unsigned long arg`) for an _IO request: undefined reads as 0; a buffer (a
 * pointer where a value was expected) or a value that is not a non-negative safe integer reads as
 * `Number.MAX_SAFE_INTEGER`, larger than any valid value, so the kernel's range checks reject it.
 */
export function valueArg(arg: IoctlArg): number {
  if (arg === undefined) return 0;
  if (typeof arg !== 'number' || !Number.isSafeInteger(arg) || arg < 0) return Number.MAX_SAFE_INTEGER;
  return arg;
}

/** A DataView over a struct argument. */
export function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
