/**
 * The raw face: the system calls a C VMM makes on /dev/kvm, with the same request numbers, struct
 * bytes and return values (>= 0, or a negative errno), so that code from the KVM documentation,
 * kvmtool, Firecracker or rust-vmm ports line by line. They act on {@link defaultHost}, the "process"
 * of this JS realm; build a separate {@link KvmHost} for isolation (tests, several VMMs in one page).
 */
import type { IoctlArg } from './kernel/args.js';
import { KvmHost, type Mapping } from './kernel/host.js';
import { EFAULT, EINVAL } from './uapi/errno.js';

/** The process every free function below acts on. */
export const defaultHost = new KvmHost();

/**
 * Runs a system call, mapping an exception raised while touching the caller's buffers (a detached or
 * otherwise unusable typed array: the "bad user pointer" of this world) to -EFAULT.
 */
function guarded(call: () => number): number {
  try {
    return call();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) return -EFAULT;
    throw e;
  }
}

/** open(2) of `/dev/kvm`: a file descriptor, or -ENOENT. */
export function open(path: string, flags?: number): number {
  return defaultHost.open(path, flags);
}

/** ioctl(2): `request` is the Linux x86_64 value; a struct argument is its bytes, read and written in place. */
export function ioctl(fd: number, request: number, arg?: number | Uint8Array): number {
  return guarded(() => defaultHost.ioctl(fd, request, arg as IoctlArg));
}

/**
 * mmap(2): anonymous shared host memory without an fd (or with -1), or a vCPU's kvm_run mapping with a
 * vCPU fd. On failure `addr` is the negative errno and `bytes` is empty.
 */
export function mmap(length: number, fd?: number, offset?: number): { addr: number; bytes: Uint8Array } {
  const m: Mapping = defaultHost.mmap(length, fd ?? -1, offset ?? 0);
  return { addr: m.addr, bytes: m.bytes };
}

/** munmap(2) of an anonymous mapping: 0, or -EINVAL if `addr` starts no mapping. */
export function munmap(addr: number): number {
  return defaultHost.addressSpace.munmap(addr) ? 0 : -EINVAL;
}

/** close(2): 0, or -EBADF. */
export function close(fd: number): number {
  return defaultHost.close(fd);
}

/** eventfd(2): a file descriptor, or a negative errno. */
export function eventfd(initval?: number, flags?: number): number {
  return defaultHost.eventfd(initval, flags);
}

/** read(2) of an eventfd (8 bytes). */
export function read(fd: number, buf: Uint8Array): number {
  return guarded(() => defaultHost.read(fd, buf));
}

/** write(2) of an eventfd (8 bytes). */
export function write(fd: number, buf: Uint8Array): number {
  return guarded(() => defaultHost.write(fd, buf));
}
