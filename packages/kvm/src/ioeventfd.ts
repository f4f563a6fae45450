import type { EventFd } from './eventfd.js';
import {
  KVM_IOEVENTFD_FLAG_DATAMATCH,
  KVM_IOEVENTFD_FLAG_DEASSIGN,
  KVM_IOEVENTFD_FLAG_PIO,
  KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY,
  KVM_IOEVENTFD_VALID_FLAG_MASK,
} from './uapi/constants.js';
import { EEXIST, EINVAL, ENOENT, ENOSPC } from './uapi/errno.js';

/** The kernel's I/O buses an ioeventfd can sit on (enum kvm_bus). */
export type IoBus = 'mmio' | 'pio' | 'virtio-ccw' | 'fast-mmio';

/** NR_IOBUS_DEVS: devices per bus. */
export const NR_IOBUS_DEVS = 1000;

/** The arguments of struct kvm_ioeventfd, 64-bit fields exact. */
export interface IoeventfdRequest {
  readonly datamatch: bigint;
  readonly addr: bigint;
  readonly len: number;
  readonly flags: number;
}

interface Ioeventfd {
  readonly bus: IoBus;
  readonly addr: bigint;
  /** The address as a number for matching (NaN above 2^53: never matches a guest access). */
  readonly addrNum: number;
  readonly length: number;
  readonly wildcard: boolean;
  readonly datamatch: bigint;
  readonly datamatchLo: number;
  readonly datamatchHi: number;
  readonly eventfd: EventFd;
}

function busFromFlags(flags: number): IoBus {
  if (flags & KVM_IOEVENTFD_FLAG_PIO) return 'pio';
  if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY) return 'virtio-ccw';
  return 'mmio';
}

/** Resolves the request's fd to its eventfd, or returns -EBADF / -EINVAL (eventfd_ctx_fdget). */
export type EventFdResolver = () => EventFd | number;

/**
 * A VM's ioeventfds (virt/kvm/eventfd.c): a guest write of the right length (and value, with
 * DATAMATCH) to a registered PIO or MMIO address signals an eventfd instead of exiting to userspace.
 * `assign`/`deassign` return 0 or the kernel's negative errno, checking in the kernel's order (the fd
 * is resolved after the argument checks when assigning, first when deassigning).
 */
export class IoeventfdTable {
  private readonly list: Ioeventfd[] = [];

  /** KVM_IOEVENTFD without KVM_IOEVENTFD_FLAG_DEASSIGN (kvm_assign_ioeventfd). */
  assign(args: IoeventfdRequest, resolve: EventFdResolver): number {
    const bus = busFromFlags(args.flags);
    switch (args.len) {
      case 0:
      case 1:
      case 2:
      case 4:
      case 8:
        break;
      default:
        return -EINVAL;
    }
    if (args.addr + BigInt(args.len) >= 2n ** 64n) return -EINVAL;
    if (args.flags & ~KVM_IOEVENTFD_VALID_FLAG_MASK) return -EINVAL;
    if (args.len === 0 && args.flags & KVM_IOEVENTFD_FLAG_DATAMATCH) return -EINVAL;
    const eventfd = resolve();
    if (typeof eventfd === 'number') return eventfd;
    const r = this.assignOn(bus, args, eventfd);
    if (r !== 0) return r;
    // A length-less MMIO ioeventfd also sits on the fast-MMIO bus.
    if (args.len === 0 && bus === 'mmio') {
      const f = this.assignOn('fast-mmio', args, eventfd);
      if (f !== 0) {
        this.deassignOn(bus, args, eventfd);
        return f;
      }
    }
    return 0;
  }

  /** KVM_IOEVENTFD with KVM_IOEVENTFD_FLAG_DEASSIGN (kvm_deassign_ioeventfd). */
  deassign(args: IoeventfdRequest, resolve: EventFdResolver): number {
    const eventfd = resolve();
    if (typeof eventfd === 'number') return eventfd;
    const bus = busFromFlags(args.flags);
    const r = this.deassignOn(bus, args, eventfd);
    if (args.len === 0 && bus === 'mmio') this.deassignOn('fast-mmio', args, eventfd);
    return r;
  }

  /** Dispatches on the DEASSIGN flag, as kvm_ioeventfd() does. */
  ioctl(args: IoeventfdRequest, resolve: EventFdResolver): number {
    return args.flags & KVM_IOEVENTFD_FLAG_DEASSIGN
      ? this.deassign(args, resolve)
      : this.assign(args, resolve);
  }

  /**
   * A guest write of `len` bytes of value (`lo`, `hi`) at `addr` on `bus`: signals the matching
   * ioeventfd and returns true (the write is consumed), or returns false (normal exit path).
   * ioeventfd_in_range(): same address; no length registered, or same length and (wildcard or equal
   * value).
   */
  write(bus: 'mmio' | 'pio', addr: number, len: number, lo: number, hi = 0): boolean {
    for (const p of this.list) {
      if ((p.bus !== bus && !(bus === 'mmio' && p.bus === 'fast-mmio')) || p.addrNum !== addr) continue;
      if (p.length !== 0) {
        if (p.length !== len) continue;
        if (!p.wildcard) {
          const mask = len >= 4 ? 0xffffffff : 2 ** (len * 8) - 1;
          if ((lo & mask) >>> 0 !== p.datamatchLo || (len === 8 ? hi >>> 0 : 0) !== p.datamatchHi) continue;
        }
      }
      p.eventfd.signal();
      return true;
    }
    return false;
  }

  /** Number of registrations on `bus`. */
  count(bus: IoBus): number {
    let n = 0;
    for (const p of this.list) if (p.bus === bus) n++;
    return n;
  }

  private assignOn(bus: IoBus, args: IoeventfdRequest, eventfd: EventFd): number {
    const wildcard = (args.flags & KVM_IOEVENTFD_FLAG_DATAMATCH) === 0;
    const datamatch = wildcard ? 0n : args.datamatch;
    // ioeventfd_check_collision()
    for (const q of this.list) {
      if (
        q.bus === bus &&
        q.addr === args.addr &&
        (q.length === 0 ||
          args.len === 0 ||
          (q.length === args.len && (q.wildcard || wildcard || q.datamatch === datamatch)))
      ) {
        return -EEXIST;
      }
    }
    if (this.count(bus) >= NR_IOBUS_DEVS) return -ENOSPC;
    this.list.push({
      bus,
      addr: args.addr,
      addrNum: args.addr <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(args.addr) : Number.NaN,
      length: args.len,
      wildcard,
      datamatch,
      datamatchLo: Number(datamatch & 0xffff_ffffn),
      datamatchHi: Number((datamatch >> 32n) & 0xffff_ffffn),
      eventfd,
    });
    return 0;
  }

  private deassignOn(bus: IoBus, args: IoeventfdRequest, eventfd: EventFd): number {
    const wildcard = (args.flags & KVM_IOEVENTFD_FLAG_DATAMATCH) === 0;
    for (let i = 0; i < this.list.length; i++) {
      const p = this.list[i]!;
      if (
        p.bus !== bus ||
        p.eventfd !== eventfd ||
        p.addr !== args.addr ||
        p.length !== args.len ||
        p.wildcard !== wildcard
      ) {
        continue;
      }
      if (!p.wildcard && p.datamatch !== args.datamatch) continue;
      this.list.splice(i, 1);
      return 0;
    }
    return -ENOENT;
  }
}
