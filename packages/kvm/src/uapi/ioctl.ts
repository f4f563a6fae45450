/**
 * The Linux ioctl request encoding (include/uapi/asm-generic/ioctl.h, which x86_64 uses unchanged):
 * bits 0..7 command number, 8..15 type ("magic"), 16..29 argument size, 30..31 direction.
 * Values are returned as unsigned 32-bit numbers, exactly as they print in C with `%#x`.
 */

export const _IOC_NRBITS = 8;
export const _IOC_TYPEBITS = 8;
export const _IOC_SIZEBITS = 14;
export const _IOC_DIRBITS = 2;

export const _IOC_NRSHIFT = 0;
export const _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
export const _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
export const _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

/** No data transfer. */
export const _IOC_NONE = 0;
/** Userspace writes, the kernel reads (`copy_from_user`). */
export const _IOC_WRITE = 1;
/** The kernel writes back to userspace (`copy_to_user`). */
export const _IOC_READ = 2;

/** The ioctl type of every KVM request. */
export const KVMIO = 0xae;

export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (size < 0 || size >= 1 << _IOC_SIZEBITS) throw new RangeError(`ioctl argument size ${size} too large`);
  return (
    ((dir << _IOC_DIRSHIFT) | (size << _IOC_SIZESHIFT) | (type << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT)) >>>
    0
  );
}

export const _IO = (type: number, nr: number): number => _IOC(_IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, size: number): number => _IOC(_IOC_READ, type, nr, size);
export const _IOW = (type: number, nr: number, size: number): number => _IOC(_IOC_WRITE, type, nr, size);
export const _IOWR = (type: number, nr: number, size: number): number =>
  _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);

export const _IOC_DIR = (request: number): number => (request >>> _IOC_DIRSHIFT) & ((1 << _IOC_DIRBITS) - 1);
export const _IOC_TYPE = (request: number): number =>
  (request >>> _IOC_TYPESHIFT) & ((1 << _IOC_TYPEBITS) - 1);
export const _IOC_NR = (request: number): number => (request >>> _IOC_NRSHIFT) & ((1 << _IOC_NRBITS) - 1);
export const _IOC_SIZE = (request: number): number =>
  (request >>> _IOC_SIZESHIFT) & ((1 << _IOC_SIZEBITS) - 1);
