/**
 * Non-ioctl constants of the KVM ABI, by their Linux names: API version, capabilities, exit reasons
 * and their sub-codes, flags of the structs in ./structs.ts. From include/uapi/linux/kvm.h and
 * arch/x86/include/uapi/asm/kvm.h.
 */

export const KVM_API_VERSION = 12;

/** mmap page offsets inside a vCPU mapping (x86). */
export const KVM_PIO_PAGE_OFFSET = 1;
export const KVM_COALESCED_MMIO_PAGE_OFFSET = 2;
export const KVM_DIRTY_LOG_PAGE_OFFSET = 64;

// ---- capabilities ------------------------------------------------------------------------------------
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_MMU_SHADOW_CACHE_CONTROL = 2;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_VAPIC = 6;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_CLOCKSOURCE = 8;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_PIT = 11;
export const KVM_CAP_NOP_IO_DELAY = 12;
export const KVM_CAP_PV_MMU = 13;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_COALESCED_MMIO = 15;
export const KVM_CAP_SYNC_MMU = 16;
export const KVM_CAP_IOMMU = 18;
export const KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21;
export const KVM_CAP_USER_NMI = 22;
export const KVM_CAP_SET_GUEST_DEBUG = 23;
export const KVM_CAP_REINJECT_CONTROL = 24;
export const KVM_CAP_IRQ_ROUTING = 25;
export const KVM_CAP_IRQ_INJECT_STATUS = 26;
export const KVM_CAP_ASSIGN_DEV_IRQ = 29;
export const KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30;
export const KVM_CAP_MCE = 31;
export const KVM_CAP_IRQFD = 32;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_BOOT_CPU_ID = 34;
export const KVM_CAP_PIT_STATE2 = 35;
export const KVM_CAP_IOEVENTFD = 36;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_XEN_HVM = 38;
export const KVM_CAP_ADJUST_CLOCK = 39;
export const KVM_CAP_INTERNAL_ERROR_DATA = 40;
export const KVM_CAP_VCPU_EVENTS = 41;
export const KVM_CAP_S390_PSW = 42;
export const KVM_CAP_PPC_SEGSTATE = 43;
export const KVM_CAP_HYPERV = 44;
export const KVM_CAP_HYPERV_VAPIC = 45;
export const KVM_CAP_HYPERV_SPIN = 46;
export const KVM_CAP_PCI_SEGMENT = 47;
export const KVM_CAP_PPC_PAIRED_SINGLES = 48;
export const KVM_CAP_INTR_SHADOW = 49;
export const KVM_CAP_DEBUGREGS = 50;
export const KVM_CAP_X86_ROBUST_SINGLESTEP = 51;
export const KVM_CAP_PPC_OSI = 52;
export const KVM_CAP_PPC_UNSET_IRQ = 53;
export const KVM_CAP_ENABLE_CAP = 54;
export const KVM_CAP_XSAVE = 55;
export const KVM_CAP_XCRS = 56;
export const KVM_CAP_PPC_GET_PVINFO = 57;
export const KVM_CAP_PPC_IRQ_LEVEL = 58;
export const KVM_CAP_ASYNC_PF = 59;
export const KVM_CAP_TSC_CONTROL = 60;
export const KVM_CAP_GET_TSC_KHZ = 61;
export const KVM_CAP_PPC_BOOKE_SREGS = 62;
export const KVM_CAP_SPAPR_TCE = 63;
export const KVM_CAP_PPC_SMT = 64;
export const KVM_CAP_PPC_RMA = 65;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_PPC_HIOR = 67;
export const KVM_CAP_PPC_PAPR = 68;
export const KVM_CAP_SW_TLB = 69;
export const KVM_CAP_ONE_REG = 70;
export const KVM_CAP_S390_GMAP = 71;
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;
export const KVM_CAP_S390_UCONTROL = 73;
export const KVM_CAP_SYNC_REGS = 74;
export const KVM_CAP_PCI_2_3 = 75;
export const KVM_CAP_KVMCLOCK_CTRL = 76;
export const KVM_CAP_SIGNAL_MSI = 77;
export const KVM_CAP_PPC_GET_SMMU_INFO = 78;
export const KVM_CAP_S390_COW = 79;
export const KVM_CAP_PPC_ALLOC_HTAB = 80;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IRQFD_RESAMPLE = 82;
export const KVM_CAP_PPC_BOOKE_WATCHDOG = 83;
export const KVM_CAP_PPC_HTAB_FD = 84;
export const KVM_CAP_S390_CSS_SUPPORT = 85;
export const KVM_CAP_PPC_EPR = 86;
export const KVM_CAP_ARM_PSCI = 87;
export const KVM_CAP_ARM_SET_DEVICE_ADDR = 88;
export const KVM_CAP_DEVICE_CTRL = 89;
export const KVM_CAP_IRQ_MPIC = 90;
export const KVM_CAP_PPC_RTAS = 91;
export const KVM_CAP_IRQ_XICS = 92;
export const KVM_CAP_ARM_EL1_32BIT = 93;
export const KVM_CAP_SPAPR_MULTITCE = 94;
export const KVM_CAP_EXT_EMUL_CPUID = 95;
export const KVM_CAP_HYPERV_TIME = 96;
export const KVM_CAP_IOAPIC_POLARITY_IGNORED = 97;
export const KVM_CAP_ENABLE_CAP_VM = 98;
export const KVM_CAP_S390_IRQCHIP = 99;
export const KVM_CAP_IOEVENTFD_NO_LENGTH = 100;
export const KVM_CAP_VM_ATTRIBUTES = 101;
export const KVM_CAP_ARM_PSCI_0_2 = 102;
export const KVM_CAP_PPC_FIXUP_HCALL = 103;
export const KVM_CAP_PPC_ENABLE_HCALL = 104;
export const KVM_CAP_CHECK_EXTENSION_VM = 105;
export const KVM_CAP_S390_USER_SIGP = 106;
export const KVM_CAP_S390_VECTOR_REGISTERS = 107;
export const KVM_CAP_S390_MEM_OP = 108;
export const KVM_CAP_S390_USER_STSI = 109;
export const KVM_CAP_S390_SKEYS = 110;
export const KVM_CAP_MIPS_FPU = 111;
export const KVM_CAP_MIPS_MSA = 112;
export const KVM_CAP_S390_INJECT_IRQ = 113;
export const KVM_CAP_S390_IRQ_STATE = 114;
export const KVM_CAP_PPC_HWRNG = 115;
export const KVM_CAP_DISABLE_QUIRKS = 116;
export const KVM_CAP_X86_SMM = 117;
export const KVM_CAP_MULTI_ADDRESS_SPACE = 118;
export const KVM_CAP_GUEST_DEBUG_HW_BPS = 119;
export const KVM_CAP_GUEST_DEBUG_HW_WPS = 120;
export const KVM_CAP_SPLIT_IRQCHIP = 121;
export const KVM_CAP_IOEVENTFD_ANY_LENGTH = 122;
export const KVM_CAP_HYPERV_SYNIC = 123;
export const KVM_CAP_S390_RI = 124;
export const KVM_CAP_SPAPR_TCE_64 = 125;
export const KVM_CAP_ARM_PMU_V3 = 126;
export const KVM_CAP_VCPU_ATTRIBUTES = 127;
export const KVM_CAP_MAX_VCPU_ID = 128;
export const KVM_CAP_X2APIC_API = 129;
export const KVM_CAP_S390_USER_INSTR0 = 130;
export const KVM_CAP_MSI_DEVID = 131;
export const KVM_CAP_PPC_HTM = 132;
export const KVM_CAP_SPAPR_RESIZE_HPT = 133;
export const KVM_CAP_PPC_MMU_RADIX = 134;
export const KVM_CAP_PPC_MMU_HASH_V3 = 135;
export const KVM_CAP_IMMEDIATE_EXIT = 136;
export const KVM_CAP_MIPS_VZ = 137;
export const KVM_CAP_MIPS_TE = 138;
export const KVM_CAP_MIPS_64BIT = 139;
export const KVM_CAP_S390_GS = 140;
export const KVM_CAP_S390_AIS = 141;
export const KVM_CAP_SPAPR_TCE_VFIO = 142;
export const KVM_CAP_X86_DISABLE_EXITS = 143;
export const KVM_CAP_ARM_USER_IRQ = 144;
export const KVM_CAP_S390_CMMA_MIGRATION = 145;
export const KVM_CAP_PPC_FWNMI = 146;
export const KVM_CAP_PPC_SMT_POSSIBLE = 147;
export const KVM_CAP_HYPERV_SYNIC2 = 148;
export const KVM_CAP_HYPERV_VP_INDEX = 149;
export const KVM_CAP_S390_AIS_MIGRATION = 150;
export const KVM_CAP_PPC_GET_CPU_CHAR = 151;
export const KVM_CAP_S390_BPB = 152;
export const KVM_CAP_GET_MSR_FEATURES = 153;
export const KVM_CAP_HYPERV_EVENTFD = 154;
export const KVM_CAP_HYPERV_TLBFLUSH = 155;
export const KVM_CAP_S390_HPAGE_1M = 156;
export const KVM_CAP_NESTED_STATE = 157;
export const KVM_CAP_ARM_INJECT_SERROR_ESR = 158;
export const KVM_CAP_MSR_PLATFORM_INFO = 159;
export const KVM_CAP_PPC_NESTED_HV = 160;
export const KVM_CAP_HYPERV_SEND_IPI = 161;
export const KVM_CAP_COALESCED_PIO = 162;
export const KVM_CAP_HYPERV_ENLIGHTENED_VMCS = 163;
export const KVM_CAP_EXCEPTION_PAYLOAD = 164;
export const KVM_CAP_ARM_VM_IPA_SIZE = 165;
export const KVM_CAP_MANUAL_DIRTY_LOG_PROTECT = 166;
export const KVM_CAP_HYPERV_CPUID = 167;
export const KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 = 168;
export const KVM_CAP_PPC_IRQ_XIVE = 169;
export const KVM_CAP_ARM_SVE = 170;
export const KVM_CAP_ARM_PTRAUTH_ADDRESS = 171;
export const KVM_CAP_ARM_PTRAUTH_GENERIC = 172;
export const KVM_CAP_PMU_EVENT_FILTER = 173;
export const KVM_CAP_ARM_IRQ_LINE_LAYOUT_2 = 174;
export const KVM_CAP_HYPERV_DIRECT_TLBFLUSH = 175;
export const KVM_CAP_PPC_GUEST_DEBUG_SSTEP = 176;
export const KVM_CAP_ARM_NISV_TO_USER = 177;
export const KVM_CAP_ARM_INJECT_EXT_DABT = 178;
export const KVM_CAP_S390_VCPU_RESETS = 179;
export const KVM_CAP_S390_PROTECTED = 180;
export const KVM_CAP_PPC_SECURE_GUEST = 181;
export const KVM_CAP_HALT_POLL = 182;
export const KVM_CAP_ASYNC_PF_INT = 183;
export const KVM_CAP_LAST_CPU = 184;
export const KVM_CAP_SMALLER_MAXPHYADDR = 185;
export const KVM_CAP_S390_DIAG318 = 186;
export const KVM_CAP_STEAL_TIME = 187;
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
export const KVM_CAP_X86_MSR_FILTER = 189;
export const KVM_CAP_ENFORCE_PV_FEATURE_CPUID = 190;
export const KVM_CAP_SYS_HYPERV_CPUID = 191;
export const KVM_CAP_DIRTY_LOG_RING = 192;
export const KVM_CAP_X86_BUS_LOCK_EXIT = 193;
export const KVM_CAP_PPC_DAWR1 = 194;
export const KVM_CAP_SET_GUEST_DEBUG2 = 195;
export const KVM_CAP_SGX_ATTRIBUTE = 196;
export const KVM_CAP_VM_COPY_ENC_CONTEXT_FROM = 197;
export const KVM_CAP_PTP_KVM = 198;
export const KVM_CAP_HYPERV_ENFORCE_CPUID = 199;
export const KVM_CAP_SREGS2 = 200;
export const KVM_CAP_EXIT_HYPERCALL = 201;
export const KVM_CAP_PPC_RPT_INVALIDATE = 202;
export const KVM_CAP_BINARY_STATS_FD = 203;
export const KVM_CAP_EXIT_ON_EMULATION_FAILURE = 204;
export const KVM_CAP_ARM_MTE = 205;
export const KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM = 206;
export const KVM_CAP_VM_GPA_BITS = 207;
export const KVM_CAP_XSAVE2 = 208;
export const KVM_CAP_SYS_ATTRIBUTES = 209;
export const KVM_CAP_PPC_AIL_MODE_3 = 210;
export const KVM_CAP_S390_MEM_OP_EXTENSION = 211;
export const KVM_CAP_PMU_CAPABILITY = 212;
export const KVM_CAP_DISABLE_QUIRKS2 = 213;
export const KVM_CAP_VM_TSC_CONTROL = 214;
export const KVM_CAP_SYSTEM_EVENT_DATA = 215;
export const KVM_CAP_ARM_SYSTEM_SUSPEND = 216;
export const KVM_CAP_S390_PROTECTED_DUMP = 217;
export const KVM_CAP_X86_TRIPLE_FAULT_EVENT = 218;
export const KVM_CAP_X86_NOTIFY_VMEXIT = 219;
export const KVM_CAP_VM_DISABLE_NX_HUGE_PAGES = 220;
export const KVM_CAP_S390_ZPCI_OP = 221;
export const KVM_CAP_S390_CPU_TOPOLOGY = 222;
export const KVM_CAP_DIRTY_LOG_RING_ACQ_REL = 223;
export const KVM_CAP_S390_PROTECTED_ASYNC_DISABLE = 224;
export const KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP = 225;
export const KVM_CAP_PMU_EVENT_MASKED_EVENTS = 226;
export const KVM_CAP_COUNTER_OFFSET = 227;
export const KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE = 228;
export const KVM_CAP_ARM_SUPPORTED_BLOCK_SIZES = 229;
export const KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES = 230;
export const KVM_CAP_USER_MEMORY2 = 231;
export const KVM_CAP_MEMORY_FAULT_INFO = 232;
export const KVM_CAP_MEMORY_ATTRIBUTES = 233;
export const KVM_CAP_GUEST_MEMFD = 234;
export const KVM_CAP_VM_TYPES = 235;
export const KVM_CAP_PRE_FAULT_MEMORY = 236;
export const KVM_CAP_X86_APIC_BUS_CYCLES_NS = 237;
export const KVM_CAP_X86_GUEST_MODE = 238;

// ---- exit reasons (kvm_run.exit_reason) --------------------------------------------------------------
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_SET_TPR = 11;
export const KVM_EXIT_TPR_ACCESS = 12;
export const KVM_EXIT_S390_SIEIC = 13;
export const KVM_EXIT_S390_RESET = 14;
export const KVM_EXIT_DCR = 15;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_OSI = 18;
export const KVM_EXIT_PAPR_HCALL = 19;
export const KVM_EXIT_S390_UCONTROL = 20;
export const KVM_EXIT_WATCHDOG = 21;
export const KVM_EXIT_S390_TSCH = 22;
export const KVM_EXIT_EPR = 23;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_S390_STSI = 25;
export const KVM_EXIT_IOAPIC_EOI = 26;
export const KVM_EXIT_HYPERV = 27;
export const KVM_EXIT_ARM_NISV = 28;
export const KVM_EXIT_X86_RDMSR = 29;
export const KVM_EXIT_X86_WRMSR = 30;
export const KVM_EXIT_DIRTY_RING_FULL = 31;
export const KVM_EXIT_AP_RESET_HOLD = 32;
export const KVM_EXIT_X86_BUS_LOCK = 33;
export const KVM_EXIT_XEN = 34;
export const KVM_EXIT_RISCV_SBI = 35;
export const KVM_EXIT_RISCV_CSR = 36;
export const KVM_EXIT_NOTIFY = 37;
export const KVM_EXIT_LOONGARCH_IOCSR = 38;
export const KVM_EXIT_MEMORY_FAULT = 39;
export const KVM_EXIT_TDX = 40;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.internal.suberror */
export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1;

/** kvm_run.system_event.type */
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;
export const KVM_SYSTEM_EVENT_WAKEUP = 4;
export const KVM_SYSTEM_EVENT_SUSPEND = 5;
export const KVM_SYSTEM_EVENT_SEV_TERM = 6;
export const KVM_SYSTEM_EVENT_TDX_FATAL = 7;

/** kvm_run.msr.reason */
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;

/** kvm_run.flags (x86) */
export const KVM_RUN_X86_SMM = 1 << 0;
export const KVM_RUN_X86_BUS_LOCK = 1 << 1;
export const KVM_RUN_X86_GUEST_MODE = 1 << 2;

/** kvm_run.kvm_valid_regs / kvm_dirty_regs */
export const KVM_SYNC_X86_REGS = 1 << 0;
export const KVM_SYNC_X86_SREGS = 1 << 1;
export const KVM_SYNC_X86_EVENTS = 1 << 2;

// ---- memory slots ------------------------------------------------------------------------------------
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_MEM_GUEST_MEMFD = 1 << 2;

// ---- VM types (KVM_CREATE_VM argument, x86) ----------------------------------------------------------
export const KVM_X86_DEFAULT_VM = 0;
export const KVM_X86_SW_PROTECTED_VM = 1;
export const KVM_X86_SEV_VM = 2;
export const KVM_X86_SEV_ES_VM = 3;
export const KVM_X86_SNP_VM = 4;
export const KVM_X86_TDX_VM = 5;

// ---- MP state ----------------------------------------------------------------------------------------
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;
export const KVM_MP_STATE_STOPPED = 5;
export const KVM_MP_STATE_CHECK_STOP = 6;
export const KVM_MP_STATE_OPERATING = 7;
export const KVM_MP_STATE_LOAD = 8;
export const KVM_MP_STATE_AP_RESET_HOLD = 9;
export const KVM_MP_STATE_SUSPENDED = 10;

// ---- interrupts --------------------------------------------------------------------------------------
export const KVM_IRQCHIP_PIC_MASTER = 0;
export const KVM_IRQCHIP_PIC_SLAVE = 1;
export const KVM_IRQCHIP_IOAPIC = 2;
export const KVM_NR_IRQCHIPS = 3;

export const KVM_IRQ_ROUTING_IRQCHIP = 1;
export const KVM_IRQ_ROUTING_MSI = 2;
export const KVM_IRQ_ROUTING_S390_ADAPTER = 3;
export const KVM_IRQ_ROUTING_HV_SINT = 4;
export const KVM_IRQ_ROUTING_XEN_EVTCHN = 5;

export const KVM_MSI_VALID_DEVID = 1 << 0;

export const KVM_IRQFD_FLAG_DEASSIGN = 1 << 0;
export const KVM_IRQFD_FLAG_RESAMPLE = 1 << 1;

export const KVM_IOEVENTFD_FLAG_DATAMATCH = 1 << 0;
export const KVM_IOEVENTFD_FLAG_PIO = 1 << 1;
export const KVM_IOEVENTFD_FLAG_DEASSIGN = 1 << 2;
export const KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY = 1 << 3;
/** kvm_ioeventfd_flag_nr_fast_mmio: in the valid mask, without a public macro. */
export const KVM_IOEVENTFD_FLAG_FAST_MMIO = 1 << 4;
export const KVM_IOEVENTFD_VALID_FLAG_MASK = (1 << 5) - 1;

export const KVM_PIT_SPEAKER_DUMMY = 1;
export const KVM_PIT_FLAGS_HPET_LEGACY = 0x1;
export const KVM_PIT_FLAGS_SPEAKER_DATA_ON = 0x2;

// ---- clock -------------------------------------------------------------------------------------------
export const KVM_CLOCK_TSC_STABLE = 2;
export const KVM_CLOCK_REALTIME = 1 << 2;
export const KVM_CLOCK_HOST_TSC = 1 << 3;
export const KVM_CLOCK_VALID_FLAGS = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;

// ---- CPUID -------------------------------------------------------------------------------------------
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1 << 0;
export const KVM_CPUID_FLAG_STATEFUL_FUNC = 1 << 1;
export const KVM_CPUID_FLAG_STATE_READ_NEXT = 1 << 2;
/** Upper bound on kvm_cpuid2.nent accepted by the kernel (arch/x86/kvm/cpuid.h). */
export const KVM_MAX_CPUID_ENTRIES = 256;

// ---- guest debug -------------------------------------------------------------------------------------
export const KVM_GUESTDBG_ENABLE = 0x00000001;
export const KVM_GUESTDBG_SINGLESTEP = 0x00000002;
export const KVM_GUESTDBG_USE_SW_BP = 0x00010000;
export const KVM_GUESTDBG_USE_HW_BP = 0x00020000;
export const KVM_GUESTDBG_INJECT_DB = 0x00040000;
export const KVM_GUESTDBG_INJECT_BP = 0x00080000;
export const KVM_GUESTDBG_BLOCKIRQ = 0x00100000;

// ---- vCPU events -------------------------------------------------------------------------------------
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 0x00000001;
export const KVM_VCPUEVENT_VALID_SIPI_VECTOR = 0x00000002;
export const KVM_VCPUEVENT_VALID_SHADOW = 0x00000004;
export const KVM_VCPUEVENT_VALID_SMM = 0x00000008;
export const KVM_VCPUEVENT_VALID_PAYLOAD = 0x00000010;
export const KVM_VCPUEVENT_VALID_TRIPLE_FAULT = 0x00000020;
export const KVM_X86_SHADOW_INT_MOV_SS = 0x01;
export const KVM_X86_SHADOW_INT_STI = 0x02;

// ---- eventfd (include/uapi/linux/eventfd.h) ----------------------------------------------------------
export const EFD_SEMAPHORE = 1 << 0;
export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

// ---- open(2) flags used with /dev/kvm ----------------------------------------------------------------
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
