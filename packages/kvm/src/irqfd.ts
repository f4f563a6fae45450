import type { EventFd } from './eventfd.js';
import { KVM_IRQFD_FLAG_DEASSIGN, KVM_IRQFD_FLAG_RESAMPLE } from './uapi/constants.js';
import { EBUSY, EINVAL } from './uapi/errno.js';

/** The arguments of struct kvm_irqfd. */
export interface IrqfdRequest {
  readonly fd: number;
  readonly gsi: number;
  readonly flags: number;
  readonly resamplefd: number;
}

/** Resolves an fd to its eventfd, or returns -EBADF (not open) / -EINVAL (not an eventfd). */
export type FdToEventFd = (fd: number) => EventFd | number;

/** Which in-kernel interrupt controller the VM has (none, KVM_CAP_SPLIT_IRQCHIP, KVM_CREATE_IRQCHIP). */
export type IrqchipMode = 'none' | 'split' | 'full';

interface Irqfd {
  readonly gsi: number;
  readonly eventfd: EventFd;
  readonly resample: EventFd | null;
  readonly unsubscribe: () => void;
}

/**
 * A VM's irqfds (virt/kvm/eventfd.c): signalling the eventfd raises GSI `gsi` through the VM's
 * interrupt routing (`inject`, supplied by the in-kernel irqchip). Without an irqchip the kernel
 * refuses irqfds (x86 kvm_arch_irqfd_allowed). Every method returns 0 or the kernel's negative errno,
 * checking in the kernel's order.
 */
export class IrqfdTable {
  private readonly list: Irqfd[] = [];

  /** `inject(gsi, resample)`: a pulse on `gsi`, or (resample irqfds) an assertion kept until {@link resample}. */
  constructor(private readonly inject: (gsi: number, resample: boolean) => void) {}

  /** kvm_irqfd(): flag check, then assign or deassign. */
  ioctl(args: IrqfdRequest, resolve: FdToEventFd, irqchip: IrqchipMode): number {
    if (args.flags & ~(KVM_IRQFD_FLAG_DEASSIGN | KVM_IRQFD_FLAG_RESAMPLE)) return -EINVAL;
    if (args.flags & KVM_IRQFD_FLAG_DEASSIGN) return this.deassign(args, resolve);
    return this.assign(args, resolve, irqchip);
  }

  /** kvm_irqfd_assign. */
  assign(args: IrqfdRequest, resolve: FdToEventFd, irqchip: IrqchipMode): number {
    const resampling = (args.flags & KVM_IRQFD_FLAG_RESAMPLE) !== 0;
    // kvm_arch_irqfd_allowed(): resampling needs the full in-kernel irqchip, plain irqfds any irqchip.
    if (resampling ? irqchip !== 'full' : irqchip === 'none') return -EINVAL;
    const eventfd = resolve(args.fd);
    if (typeof eventfd === 'number') return eventfd;
    let resample: EventFd | null = null;
    if (resampling) {
      const r = resolve(args.resamplefd);
      if (typeof r === 'number') return r;
      resample = r;
    }
    // "This fd is used for another irq already."
    if (this.list.some((q) => q.eventfd === eventfd)) return -EBUSY;
    const gsi = args.gsi;
    const fire = (): void => {
      // One injection per wake-up; the count is drained as irqfd_wakeup() does (eventfd_ctx_do_read).
      if (typeof eventfd.take() === 'bigint') this.inject(gsi, resample !== null);
    };
    const unsubscribe = eventfd.subscribe(fire);
    this.list.push({ gsi, eventfd, resample, unsubscribe });
    // A signal that arrived before the assignment is delivered now (the poll in irqfd_assign).
    if (eventfd.count > 0) fire();
    return 0;
  }

  /** kvm_irqfd_deassign: removes every irqfd on (eventfd, gsi); 0 even if there was none. */
  deassign(args: IrqfdRequest, resolve: FdToEventFd): number {
    const eventfd = resolve(args.fd);
    if (typeof eventfd === 'number') return eventfd;
    for (let i = this.list.length - 1; i >= 0; i--) {
      const q = this.list[i]!;
      if (q.eventfd === eventfd && q.gsi === args.gsi) {
        q.unsubscribe();
        this.list.splice(i, 1);
      }
    }
    return 0;
  }

  /**
   * irqfd_resampler_ack(): the guest acknowledged the level interrupt of `gsi`; if resample irqfds are
   * on it, the line is de-asserted (`deassert`) and each resamplefd is signalled. Returns how many.
   */
  resample(gsi: number, deassert: (gsi: number) => void): number {
    let n = 0;
    for (const q of this.list) {
      if (q.gsi !== gsi || q.resample === null) continue;
      if (n === 0) deassert(gsi);
      q.resample.signal();
      n++;
    }
    return n;
  }

  get size(): number {
    return this.list.length;
  }
}
