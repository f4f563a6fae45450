/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h; x86_64 uses the generic
 * numbering). The raw face returns them negated, as the kernel's ioctl handlers do.
 */
export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const ECHILD = 10;
export const EAGAIN = 11;
export const EWOULDBLOCK = EAGAIN;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const ENOTBLK = 15;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const ETXTBSY = 26;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const EMLINK = 31;
export const EPIPE = 32;
export const EDOM = 33;
export const ERANGE = 34;
export const EDEADLK = 35;
export const ENAMETOOLONG = 36;
export const ENOLCK = 37;
export const ENOSYS = 38;
export const ENOTEMPTY = 39;
export const ELOOP = 40;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const ENOTSUP = EOPNOTSUPP;
export const ETIMEDOUT = 110;
export const ECANCELED = 125;
export const EHWPOISON = 133;

/** Names by value, for messages (`errnoName(-22) === 'EINVAL'`). */
const NAMES: Readonly<Record<number, string>> = {
  [EPERM]: 'EPERM',
  [ENOENT]: 'ENOENT',
  [ESRCH]: 'ESRCH',
  [EINTR]: 'EINTR',
  [EIO]: 'EIO',
  [ENXIO]: 'ENXIO',
  [E2BIG]: 'E2BIG',
  [ENOEXEC]: 'ENOEXEC',
  [EBADF]: 'EBADF',
  [ECHILD]: 'ECHILD',
  [EAGAIN]: 'EAGAIN',
  [ENOMEM]: 'ENOMEM',
  [EACCES]: 'EACCES',
  [EFAULT]: 'EFAULT',
  [ENOTBLK]: 'ENOTBLK',
  [EBUSY]: 'EBUSY',
  [EEXIST]: 'EEXIST',
  [EXDEV]: 'EXDEV',
  [ENODEV]: 'ENODEV',
  [ENOTDIR]: 'ENOTDIR',
  [EISDIR]: 'EISDIR',
  [EINVAL]: 'EINVAL',
  [ENFILE]: 'ENFILE',
  [EMFILE]: 'EMFILE',
  [ENOTTY]: 'ENOTTY',
  [ETXTBSY]: 'ETXTBSY',
  [EFBIG]: 'EFBIG',
  [ENOSPC]: 'ENOSPC',
  [ESPIPE]: 'ESPIPE',
  [EROFS]: 'EROFS',
  [EMLINK]: 'EMLINK',
  [EPIPE]: 'EPIPE',
  [EDOM]: 'EDOM',
  [ERANGE]: 'ERANGE',
  [EDEADLK]: 'EDEADLK',
  [ENAMETOOLONG]: 'ENAMETOOLONG',
  [ENOLCK]: 'ENOLCK',
  [ENOSYS]: 'ENOSYS',
  [ENOTEMPTY]: 'ENOTEMPTY',
  [ELOOP]: 'ELOOP',
  [EOVERFLOW]: 'EOVERFLOW',
  [EOPNOTSUPP]: 'EOPNOTSUPP',
  [ETIMEDOUT]: 'ETIMEDOUT',
  [ECANCELED]: 'ECANCELED',
  [EHWPOISON]: 'EHWPOISON',
};

/** The symbolic name of an errno value, positive or negated (`'E?'` followed by the number if unknown). */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return NAMES[n] ?? `E?${n}`;
}
