/**
 * The CPU model the facade advertises through KVM_GET_SUPPORTED_CPUID and KVM_GET_MSR_INDEX_LIST, and
 * whose CR4/physical-address limits KVM_SET_SREGS checks against. The CPUID leaves are derived from
 * `@typevisor/x86-cpu`'s model data (the one source of truth for what the software CPU executes);
 * this file only adds what is KVM's policy: the entry format, the MSRs userspace saves, the CR4 bits
 * KVM lets a guest set, the physical-address width.
 */
import {
  CORE_2,
  CORE_2_AES,
  type CpuModel,
  PENTIUM_4,
  PENTIUM_4_PRESCOTT,
  PENTIUM_II,
} from '@typevisor/x86-cpu';

export interface CpuidEntry {
  readonly function: number;
  readonly index: number;
  /** KVM_CPUID_FLAG_* (SIGNIFCANT_INDEX when `index` matters). */
  readonly flags: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface KvmCpuModel {
  readonly name: string;
  readonly cpuid: readonly CpuidEntry[];
  /** MSR indices userspace may save and restore (KVM_GET_MSR_INDEX_LIST). */
  readonly msrIndices: readonly number[];
  /** CR4 bits the guest may set; every other bit is reserved (KVM's cr4_guest_rsvd_bits). */
  readonly cr4Valid: number;
  /** Physical address width (CPUID.80000008H:EAX[7:0], or 36 with PAE/PSE-36 and no such leaf). */
  readonly maxPhyAddr: number;
  /** The software CPU's model the leaves come from (the instructions it can execute). */
  readonly cpu: CpuModel;
}

/** KVM_CPUID_FLAG_SIGNIFCANT_INDEX. */
const SIGNIFICANT_INDEX = 1;

/**
 * CR4 bits KVM allows regardless of CPUID (VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR,
 * OSXMMEXCPT), the same bits the software CPU's MOV to CR4 accepts.
 */
const CR4_ALWAYS_VALID = 0x7ff;

/** CR4.OSXSAVE (bit 18): reserved unless the CPU has XSAVE (CPUID.01H:ECX[26]). */
const CR4_OSXSAVE = 1 << 18;
const LEAF1_ECX_XSAVE = 1 << 26;

/** kvm_init_msr_lists' msrs_to_save that the software CPU's MSR file has. */
const MSR_INDICES: readonly number[] = [
  0x10, // IA32_TIME_STAMP_COUNTER
  0x1b, // IA32_APIC_BASE
  0x174, // IA32_SYSENTER_CS
  0x175, // IA32_SYSENTER_ESP
  0x176, // IA32_SYSENTER_EIP
  0x17a, // IA32_MCG_STATUS
  0x1a0, // IA32_MISC_ENABLE
  0x277, // IA32_PAT
];

/**
 * The facade's model over a software-CPU model: its CPUID leaves as kvm_cpuid_entry2s. KVM always
 * reports leaf 80000000H with EAX at least 80000000H (the model's EAX 0 there means "no extended
 * leaves" on the bare CPU, which answers such leaves like the highest basic one).
 */
export function kvmCpuModel(cpu: CpuModel): KvmCpuModel {
  return {
    name: cpu.name,
    cpuid: cpu.cpuid.map((l) => ({
      function: l.leaf,
      index: Math.max(l.subleaf, 0),
      flags: l.subleaf < 0 ? 0 : SIGNIFICANT_INDEX,
      eax: l.leaf === 0x8000_0000 ? Math.max(l.eax >>> 0, 0x8000_0000) : l.eax,
      ebx: l.ebx,
      ecx: l.ecx,
      edx: l.edx,
    })),
    msrIndices: MSR_INDICES,
    cr4Valid: cpu.cpuid.some((l) => l.leaf === 1 && l.ecx & LEAF1_ECX_XSAVE)
      ? CR4_ALWAYS_VALID | CR4_OSXSAVE
      : CR4_ALWAYS_VALID,
    maxPhyAddr: 36,
    cpu,
  };
}

/** The Pentium II model: the P6 integer ISA, x87, MMX, FXSR; no SSE. */
export const PENTIUM_II_MODEL: KvmCpuModel = kvmCpuModel(PENTIUM_II);

/** The Pentium 4 model: the Pentium II model plus SSE, SSE2 and CLFLUSH. */
export const PENTIUM_4_MODEL: KvmCpuModel = kvmCpuModel(PENTIUM_4);

/** The Pentium 4 "Prescott" model: the Pentium 4 model plus SSE3 (CPUID.01H:ECX bit 0). */
export const PENTIUM_4_PRESCOTT_MODEL: KvmCpuModel = kvmCpuModel(PENTIUM_4_PRESCOTT);

/** The Core 2 model: the Prescott model plus SSSE3 (CPUID.01H:ECX bit 9) and XSAVE (leaf 0DH: x87|SSE). */
export const CORE_2_MODEL: KvmCpuModel = kvmCpuModel(CORE_2);

/**
 * What a `KvmHost` advertises unless told otherwise, and what the software CPU of every vCPU can
 * execute: the most capable model x86-cpu implements, `CORE_2_AES` (the Core 2 model plus AES-NI,
 * CPUID.01H:ECX bit 25, and PCLMULQDQ, bit 1). The guest CPUID (KVM_SET_CPUID2) narrows it: an
 * SSE-family, AES-NI or PCLMULQDQ instruction whose CPUID.01H bit the guest CPUID lacks is #UD (see
 * `state-sync.ts`).
 */
export const DEFAULT_MODEL: KvmCpuModel = kvmCpuModel(CORE_2_AES);
