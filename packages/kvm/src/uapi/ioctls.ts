/**
 * KVM ioctl request numbers, computed exactly as include/uapi/linux/kvm.h does, from the encoders and
 * the struct sizes of ./structs.ts. ioctls.test.ts checks them against the literal x86_64 values.
 */
import { _IO, _IOR, _IOW, _IOWR, KVMIO } from './ioctl.js';
import * as S from './structs.js';

const U64 = 8;
const U32 = 4;
const INT = 4;
const ULONG = 8;

// ---- /dev/kvm (system) -------------------------------------------------------------------------------
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_GET_MSR_INDEX_LIST = _IOWR(KVMIO, 0x02, S.kvm_msr_list.size);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, S.kvm_cpuid2.size);
export const KVM_S390_ENABLE_SIE = _IO(KVMIO, 0x06);
export const KVM_GET_EMULATED_CPUID = _IOWR(KVMIO, 0x09, S.kvm_cpuid2.size);
export const KVM_GET_MSR_FEATURE_INDEX_LIST = _IOWR(KVMIO, 0x0a, S.kvm_msr_list.size);

// ---- VM ----------------------------------------------------------------------------------------------
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_GET_DIRTY_LOG = _IOW(KVMIO, 0x42, S.kvm_dirty_log.size);
export const KVM_SET_NR_MMU_PAGES = _IO(KVMIO, 0x44);
export const KVM_GET_NR_MMU_PAGES = _IO(KVMIO, 0x45);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, S.kvm_userspace_memory_region.size);
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = _IOW(KVMIO, 0x48, U64);
export const KVM_SET_USER_MEMORY_REGION2 = _IOW(KVMIO, 0x49, S.kvm_userspace_memory_region2.size);
export const KVM_CREATE_IRQCHIP = _IO(KVMIO, 0x60);
export const KVM_IRQ_LINE = _IOW(KVMIO, 0x61, S.kvm_irq_level.size);
export const KVM_GET_IRQCHIP = _IOWR(KVMIO, 0x62, S.kvm_irqchip.size);
export const KVM_SET_IRQCHIP = _IOR(KVMIO, 0x63, S.kvm_irqchip.size);
export const KVM_CREATE_PIT = _IO(KVMIO, 0x64);
export const KVM_GET_PIT = _IOWR(KVMIO, 0x65, S.kvm_pit_state.size);
export const KVM_SET_PIT = _IOR(KVMIO, 0x66, S.kvm_pit_state.size);
export const KVM_IRQ_LINE_STATUS = _IOWR(KVMIO, 0x67, S.kvm_irq_level.size);
export const KVM_REGISTER_COALESCED_MMIO = _IOW(KVMIO, 0x67, S.kvm_coalesced_mmio_zone.size);
export const KVM_UNREGISTER_COALESCED_MMIO = _IOW(KVMIO, 0x68, S.kvm_coalesced_mmio_zone.size);
export const KVM_SET_GSI_ROUTING = _IOW(KVMIO, 0x6a, S.kvm_irq_routing.size);
export const KVM_REINJECT_CONTROL = _IO(KVMIO, 0x71);
export const KVM_IRQFD = _IOW(KVMIO, 0x76, S.kvm_irqfd.size);
export const KVM_CREATE_PIT2 = _IOW(KVMIO, 0x77, S.kvm_pit_config.size);
export const KVM_SET_BOOT_CPU_ID = _IO(KVMIO, 0x78);
export const KVM_IOEVENTFD = _IOW(KVMIO, 0x79, S.kvm_ioeventfd.size);
export const KVM_SET_CLOCK = _IOW(KVMIO, 0x7b, S.kvm_clock_data.size);
export const KVM_GET_CLOCK = _IOR(KVMIO, 0x7c, S.kvm_clock_data.size);
export const KVM_GET_PIT2 = _IOR(KVMIO, 0x9f, S.kvm_pit_state2.size);
export const KVM_SET_PIT2 = _IOW(KVMIO, 0xa0, S.kvm_pit_state2.size);
export const KVM_SET_TSC_KHZ = _IO(KVMIO, 0xa2);
export const KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3);
export const KVM_SIGNAL_MSI = _IOW(KVMIO, 0xa5, S.kvm_msi.size);
export const KVM_SET_PMU_EVENT_FILTER = _IOW(KVMIO, 0xb2, 32);
export const KVM_CLEAR_DIRTY_LOG = _IOWR(KVMIO, 0xc0, S.kvm_clear_dirty_log.size);
export const KVM_X86_SET_MSR_FILTER = _IOW(KVMIO, 0xc6, S.kvm_msr_filter.size);
export const KVM_RESET_DIRTY_RINGS = _IO(KVMIO, 0xc7);
export const KVM_GET_STATS_FD = _IO(KVMIO, 0xce);
export const KVM_CREATE_DEVICE = _IOWR(KVMIO, 0xe0, S.kvm_create_device.size);
export const KVM_SET_DEVICE_ATTR = _IOW(KVMIO, 0xe1, S.kvm_device_attr.size);
export const KVM_GET_DEVICE_ATTR = _IOW(KVMIO, 0xe2, S.kvm_device_attr.size);
export const KVM_HAS_DEVICE_ATTR = _IOW(KVMIO, 0xe3, S.kvm_device_attr.size);

// ---- vCPU --------------------------------------------------------------------------------------------
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, S.kvm_regs.size);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, S.kvm_regs.size);
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, S.kvm_sregs.size);
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, S.kvm_sregs.size);
export const KVM_TRANSLATE = _IOWR(KVMIO, 0x85, S.kvm_translation.size);
export const KVM_INTERRUPT = _IOW(KVMIO, 0x86, S.kvm_interrupt.size);
export const KVM_GET_MSRS = _IOWR(KVMIO, 0x88, S.kvm_msrs.size);
export const KVM_SET_MSRS = _IOW(KVMIO, 0x89, S.kvm_msrs.size);
export const KVM_SET_CPUID = _IOW(KVMIO, 0x8a, S.kvm_cpuid.size);
export const KVM_SET_SIGNAL_MASK = _IOW(KVMIO, 0x8b, S.kvm_signal_mask.size);
export const KVM_GET_FPU = _IOR(KVMIO, 0x8c, S.kvm_fpu.size);
export const KVM_SET_FPU = _IOW(KVMIO, 0x8d, S.kvm_fpu.size);
export const KVM_GET_LAPIC = _IOR(KVMIO, 0x8e, S.kvm_lapic_state.size);
export const KVM_SET_LAPIC = _IOW(KVMIO, 0x8f, S.kvm_lapic_state.size);
export const KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, S.kvm_cpuid2.size);
export const KVM_GET_CPUID2 = _IOWR(KVMIO, 0x91, S.kvm_cpuid2.size);
export const KVM_TPR_ACCESS_REPORTING = _IOWR(KVMIO, 0x92, S.kvm_tpr_access_ctl.size);
export const KVM_SET_VAPIC_ADDR = _IOW(KVMIO, 0x93, S.kvm_vapic_addr.size);
export const KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, S.kvm_mp_state.size);
export const KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, S.kvm_mp_state.size);
export const KVM_NMI = _IO(KVMIO, 0x9a);
export const KVM_SET_GUEST_DEBUG = _IOW(KVMIO, 0x9b, S.kvm_guest_debug.size);
export const KVM_X86_SETUP_MCE = _IOW(KVMIO, 0x9c, U64);
export const KVM_X86_GET_MCE_CAP_SUPPORTED = _IOR(KVMIO, 0x9d, U64);
export const KVM_X86_SET_MCE = _IOW(KVMIO, 0x9e, S.kvm_x86_mce.size);
export const KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, S.kvm_vcpu_events.size);
export const KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, S.kvm_vcpu_events.size);
export const KVM_GET_DEBUGREGS = _IOR(KVMIO, 0xa1, S.kvm_debugregs.size);
export const KVM_SET_DEBUGREGS = _IOW(KVMIO, 0xa2, S.kvm_debugregs.size);
/** vCPU version with KVM_CAP_ENABLE_CAP, VM version with KVM_CAP_ENABLE_CAP_VM. */
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, S.kvm_enable_cap.size);
export const KVM_GET_XSAVE = _IOR(KVMIO, 0xa4, S.kvm_xsave.size);
export const KVM_SET_XSAVE = _IOW(KVMIO, 0xa5, S.kvm_xsave.size);
export const KVM_GET_XCRS = _IOR(KVMIO, 0xa6, S.kvm_xcrs.size);
export const KVM_SET_XCRS = _IOW(KVMIO, 0xa7, S.kvm_xcrs.size);
export const KVM_GET_ONE_REG = _IOW(KVMIO, 0xab, S.kvm_one_reg.size);
export const KVM_SET_ONE_REG = _IOW(KVMIO, 0xac, S.kvm_one_reg.size);
export const KVM_KVMCLOCK_CTRL = _IO(KVMIO, 0xad);
export const KVM_GET_REG_LIST = _IOWR(KVMIO, 0xb0, U64);
export const KVM_SMI = _IO(KVMIO, 0xb7);
export const KVM_GET_NESTED_STATE = _IOWR(KVMIO, 0xbe, S.kvm_nested_state.size);
export const KVM_SET_NESTED_STATE = _IOW(KVMIO, 0xbf, S.kvm_nested_state.size);
export const KVM_GET_SUPPORTED_HV_CPUID = _IOWR(KVMIO, 0xc1, S.kvm_cpuid2.size);
export const KVM_GET_SREGS2 = _IOR(KVMIO, 0xcc, S.kvm_sregs2.size);
export const KVM_SET_SREGS2 = _IOW(KVMIO, 0xcd, S.kvm_sregs2.size);
export const KVM_GET_XSAVE2 = _IOR(KVMIO, 0xcf, S.kvm_xsave.size);

/** Size of `int` and `unsigned long` on x86_64, for callers building their own requests. */
export const SIZEOF = { u32: U32, u64: U64, int: INT, ulong: ULONG } as const;
