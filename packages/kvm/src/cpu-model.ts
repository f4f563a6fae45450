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
  X86_64_MODEL,
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
 * msrs_to_save of a 64-bit host for a model with long mode (CPUID.80000001H:EDX.LM): the SYSCALL and
 * SWAPGS MSRs, and IA32_TSC_AUX with RDTSCP (bit 27). FS/GS bases travel in kvm_sregs.
 */
const LONG_MODE_MSRS: readonly number[] = [
  0xc000_0081, // MSR_STAR
  0xc000_0082, // MSR_LSTAR
  0xc000_0083, // MSR_CSTAR
  0xc000_0084, // MSR_SYSCALL_MASK
  0xc000_0102, // MSR_KERNEL_GS_BASE
];
const EXT1_EDX_LM = 1 << 29;
const EXT1_EDX_RDTSCP = 1 << 27;
const MSR_TSC_AUX = 0xc000_0103;

/** The MSR index list of a model: the base list, plus the long-mode MSRs the model has. */
function msrIndicesOf(cpu: CpuModel): readonly number[] {
  const ext1 = cpu.cpuid.find((l) => l.leaf === 0x8000_0001)?.edx ?? 0;
  if ((ext1 & EXT1_EDX_LM) === 0) return MSR_INDICES;
  return [...MSR_INDICES, ...LONG_MODE_MSRS, ...((ext1 & EXT1_EDX_RDTSCP) !== 0 ? [MSR_TSC_AUX] : [])];
}

/** CPUID.80000008H:EAX[7:0] when the model has that leaf, else 36 (PAE/PSE-36 without it). */
function maxPhyAddrOf(cpu: CpuModel): number {
  const leaf = cpu.cpuid.find((l) => l.leaf === 0x8000_0008);
  return leaf === undefined ? 36 : leaf.eax & 0xff;
}

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
    msrIndices: msrIndicesOf(cpu),
    cr4Valid: cpu.cpuid.some((l) => l.leaf === 1 && l.ecx & LEAF1_ECX_XSAVE)
      ? CR4_ALWAYS_VALID | CR4_OSXSAVE
      : CR4_ALWAYS_VALID,
    maxPhyAddr: maxPhyAddrOf(cpu),
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

/** The Core 2 model with AES-NI and PCLMULQDQ, without IA-32e mode (the default before 64-bit guests). */
export const CORE_2_AES_MODEL: KvmCpuModel = kvmCpuModel(CORE_2_AES);

/**
 * What a `KvmHost` advertises unless told otherwise, and what the software CPU of every vCPU can
 * execute: the most capable model x86-cpu implements, `X86_64_MODEL` (`CORE_2_AES`, i.e. the Core 2
 * model plus AES-NI and PCLMULQDQ, with IA-32e mode: CPUID.80000001H LM, SYSCALL, NX, RDTSCP,
 * LAHF_LM, leaf 1's CX16 and PAE, and leaf 80000008H with 40 physical address bits), as real KVM
 * reports long mode on a 64-bit host. The guest CPUID (KVM_SET_CPUID2) narrows it: an SSE-family,
 * AES-NI or PCLMULQDQ instruction whose CPUID.01H bit the guest CPUID lacks is #UD, and without
 * CPUID.80000001H:EDX.LM there is no IA-32e mode (see `state-sync.ts`).
 */
export const DEFAULT_MODEL: KvmCpuModel = kvmCpuModel(X86_64_MODEL);
