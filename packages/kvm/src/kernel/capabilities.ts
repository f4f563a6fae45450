import * as C from '../uapi/constants.js';
import { KVM_USER_MEM_SLOTS } from '../memslots.js';
import { KVM_MAX_IRQ_ROUTES } from './irqchip.js';
import { GUESTDBG_VALID_MASK } from './vcpu-ioctls.js';
import { XSAVE2_SIZE } from './xstate-ioctls.js';

/** Limits of this KVM model (the x86 kernel's KVM_MAX_VCPUS etc.). */
export interface KvmLimits {
  /** KVM_CAP_NR_VCPUS: recommended vCPUs per VM. */
  readonly recommendedVcpus: number;
  /** KVM_CAP_MAX_VCPUS: vCPUs per VM. */
  readonly maxVcpus: number;
  /** KVM_CAP_MAX_VCPU_ID: vCPU ids are below this (xAPIC ids 0..254). */
  readonly maxVcpuIds: number;
}

export const DEFAULT_LIMITS: KvmLimits = { recommendedVcpus: 8, maxVcpus: 255, maxVcpuIds: 255 };

/**
 * KVM_CHECK_EXTENSION answers, as data: a capability is listed only when every ioctl it announces
 * works in this package today (README "Status"). Anything absent answers 0, as the kernel does for
 * an unknown capability. Valid on the system fd and on VM fds (KVM_CAP_CHECK_EXTENSION_VM).
 */
export function capabilityTable(limits: KvmLimits): ReadonlyMap<number, number> {
  return new Map<number, number>([
    [C.KVM_CAP_USER_MEMORY, 1],
    [C.KVM_CAP_SET_TSS_ADDR, 1],
    [C.KVM_CAP_EXT_CPUID, 1],
    [C.KVM_CAP_NR_VCPUS, limits.recommendedVcpus],
    [C.KVM_CAP_NR_MEMSLOTS, KVM_USER_MEM_SLOTS],
    [C.KVM_CAP_MP_STATE, 1],
    [C.KVM_CAP_USER_NMI, 1],
    [C.KVM_CAP_SET_GUEST_DEBUG, 1],
    // The KVM_SET_GUEST_DEBUG control bits accepted (KVM_GUESTDBG_VALID_MASK), BLOCKIRQ included.
    [C.KVM_CAP_SET_GUEST_DEBUG2, GUESTDBG_VALID_MASK],
    [C.KVM_CAP_VCPU_EVENTS, 1],
    [C.KVM_CAP_INTR_SHADOW, 1],
    // KVM_GET/SET_DEBUGREGS; KVM_GET/SET_XSAVE and XCRS (x87|SSE in the standard XSAVE format, XCR0 as
    // the guest set it); KVM_GET_XSAVE2 fills sizeof(struct kvm_xsave).
    [C.KVM_CAP_DEBUGREGS, 1],
    [C.KVM_CAP_XSAVE, 1],
    [C.KVM_CAP_XCRS, 1],
    [C.KVM_CAP_XSAVE2, XSAVE2_SIZE],
    // Slots point straight at the host mapping's bytes: host writes are guest-visible at once.
    [C.KVM_CAP_SYNC_MMU, 1],
    [C.KVM_CAP_DESTROY_MEMORY_REGION_WORKS, 1],
    [C.KVM_CAP_JOIN_MEMORY_REGIONS_WORKS, 1],
    [C.KVM_CAP_IOEVENTFD, 1],
    [C.KVM_CAP_SET_IDENTITY_MAP_ADDR, 1],
    // The KVM_SET_CLOCK flags accepted (KVM_CLOCK_VALID_FLAGS), as x86 reports.
    [C.KVM_CAP_ADJUST_CLOCK, C.KVM_CLOCK_VALID_FLAGS],
    [C.KVM_CAP_MAX_VCPUS, limits.maxVcpus],
    [C.KVM_CAP_READONLY_MEM, 1],
    [C.KVM_CAP_IMMEDIATE_EXIT, 1],
    [C.KVM_CAP_GET_TSC_KHZ, 1],
    [C.KVM_CAP_IOEVENTFD_NO_LENGTH, 1],
    [C.KVM_CAP_CHECK_EXTENSION_VM, 1],
    [C.KVM_CAP_IOEVENTFD_ANY_LENGTH, 1],
    [C.KVM_CAP_MAX_VCPU_ID, limits.maxVcpuIds],
    // The in-kernel irqchip (KVM_CREATE_IRQCHIP) and what hangs off it.
    [C.KVM_CAP_IRQCHIP, 1],
    [C.KVM_CAP_IRQ_ROUTING, KVM_MAX_IRQ_ROUTES],
    [C.KVM_CAP_IRQ_INJECT_STATUS, 1],
    [C.KVM_CAP_IRQFD, 1],
    [C.KVM_CAP_IRQFD_RESAMPLE, 1],
    [C.KVM_CAP_SIGNAL_MSI, 1],
    [C.KVM_CAP_IOAPIC_POLARITY_IGNORED, 1],
    [C.KVM_CAP_PIT2, 1],
    [C.KVM_CAP_PIT_STATE2, 1],
    [C.KVM_CAP_REINJECT_CONTROL, 1],
    // KVM_ENABLE_CAP on VM fds, for KVM_CAP_X86_USER_SPACE_MSR.
    [C.KVM_CAP_ENABLE_CAP_VM, 1],
    [C.KVM_CAP_X86_USER_SPACE_MSR, 1],
    // Bit mask of the KVM_CREATE_VM types accepted: only KVM_X86_DEFAULT_VM.
    [C.KVM_CAP_VM_TYPES, 1 << C.KVM_X86_DEFAULT_VM],
  ]);
}
