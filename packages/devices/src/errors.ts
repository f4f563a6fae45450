/**
 * Typed errors of the devices package. These are programmer errors (bad wiring or configuration by the
 * VMM); nothing a guest does makes a device throw.
 */
export type DevicesErrorKind =
  | 'InvalidArgument' // an option or parameter out of its documented range
  | 'InvalidState' // a snapshot passed to fromState() that does not describe a valid device
  | 'SlotInUse'; // a PCI device/function number or fw_cfg key that is already taken

export class DevicesError extends Error {
  override readonly name = 'DevicesError';
  constructor(
    readonly kind: DevicesErrorKind,
    message: string,
  ) {
    super(`${kind}: ${message}`);
  }
}

/** Throws InvalidArgument unless `value` is an integer in [min, max]. */
export function checkInt(what: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new DevicesError('InvalidArgument', `${what} = ${value} is not an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Throws InvalidState unless `cond`; used by fromState() to reject malformed snapshots. */
export function stateCheck(cond: boolean, what: string): asserts cond {
  if (!cond) throw new DevicesError('InvalidState', what);
}

/** True when `v` is an integer in [0, max]. */
export const isUint = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** True when `v` is an array of integers in [0, max] no longer than `maxLength`. */
export const isUintArray = (v: unknown, max: number, maxLength: number): v is number[] =>
  Array.isArray(v) && v.length <= maxLength && v.every((x) => isUint(x, max));
