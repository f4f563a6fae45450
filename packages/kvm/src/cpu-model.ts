/**
 * The CPU model the facade advertises through KVM_GET_SUPPORTED_CPUID and KVM_GET_MSR_INDEX_LIST, and
 * whose CR4/physical-address limits KVM_SET_SREGS checks against. The CPUID leaves are derived from
 * `@typevisor/x86-cpu`'s model data (the one source of truth for what the software CPU executes);
 * this file only adds what is KVM's policy: the entry format, the MSRs userspace saves, the CR4 bits
 * KVM lets a guest set, the physical-address width.
 */
import {
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_SIGNATURE,
  KvmFeature,
  KVMCLOCK_MSRS,
} from './kernel/kvmclock.js';
import {
  CORE_2,
  CORE_2_AES,
  type CpuModel,
  HASWELL,
  Leaf7Ebx,
  MAX_MODEL,
  NEHALEM,
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
/** CR4.FSGSBASE (bit 16): reserved unless CPUID.(07H,0):EBX.FSGSBASE[bit 0]. */
export const CR4_FSGSBASE = 1 << 16;
/** CR4.PCIDE (bit 17): reserved unless CPUID.01H:ECX.PCID[bit 17]. */
export const CR4_PCIDE = 1 << 17;
/** CR4.SMEP (bit 20): reserved unless CPUID.(07H,0):EBX.SMEP[bit 7]. */
export const CR4_SMEP = 1 << 20;
const LEAF1_ECX_PCID = 1 << 17;

/**
 * The CR4 bits a CPUID table allows (__cr4_reserved_bits over the table): the always-valid ones,
 * OSXSAVE with XSAVE, PCIDE with PCID (CPUID.01H:ECX), FSGSBASE and SMEP with their CPUID.(07H,0):EBX
 * bits. KVM applies it to the host's CPUID (cr4_reserved_bits) and to the guest's (cr4_guest_rsvd_bits).
 */
export function cr4ValidFor(leaf1Ecx: number, leaf7Ebx: number): number {
  let bits = CR4_ALWAYS_VALID;
  if (leaf1Ecx & LEAF1_ECX_XSAVE) bits |= CR4_OSXSAVE;
  if (leaf1Ecx & LEAF1_ECX_PCID) bits |= CR4_PCIDE;
  if (leaf7Ebx & Leaf7Ebx.FSGSBASE) bits |= CR4_FSGSBASE;
  if (leaf7Ebx & Leaf7Ebx.SMEP) bits |= CR4_SMEP;
  return bits >>> 0;
}

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

/** The MSR index list of a model: the base list, the long-mode MSRs the model has, kvmclock's. */
function msrIndicesOf(cpu: CpuModel): readonly number[] {
  const ext1 = cpu.cpuid.find((l) => l.leaf === 0x8000_0001)?.edx ?? 0;
  const longMode = (ext1 & EXT1_EDX_LM) === 0 ? [] : LONG_MODE_MSRS;
  const tscAux = (ext1 & EXT1_EDX_LM) !== 0 && (ext1 & EXT1_EDX_RDTSCP) !== 0 ? [MSR_TSC_AUX] : [];
  return [...MSR_INDICES, ...longMode, ...tscAux, ...KVMCLOCK_MSRS];
}

/**
 * KVM's own leaves, which KVM_GET_SUPPORTED_CPUID reports after the hardware ones: the signature leaf
 * (EAX = the highest KVM leaf) and the paravirtual features this facade implements: kvmclock (both MSR
 * pairs, with the stable bit) and the no-op I/O delay (the guest may skip its port 0x80 writes).
 */
export const KVM_PARAVIRT_LEAVES: readonly CpuidEntry[] = [
  { function: KVM_CPUID_SIGNATURE, index: 0, flags: 0, eax: KVM_CPUID_FEATURES, ...KVM_SIGNATURE },
  {
    function: KVM_CPUID_FEATURES,
    index: 0,
    flags: 0,
    eax:
      KvmFeature.CLOCKSOURCE |
      KvmFeature.NOP_IO_DELAY |
      KvmFeature.CLOCKSOURCE2 |
      KvmFeature.CLOCKSOURCE_STABLE_BIT,
    ebx: 0,
    ecx: 0,
    edx: 0,
  },
];

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
  const leaf1Ecx = cpu.cpuid.find((l) => l.leaf === 1)?.ecx ?? 0;
  const leaf7Ebx = cpu.cpuid.find((l) => l.leaf === 7 && l.subleaf <= 0)?.ebx ?? 0;
  return {
    name: cpu.name,
    cpuid: cpu.cpuid
      .map((l) => ({
        function: l.leaf,
        index: Math.max(l.subleaf, 0),
        flags: l.subleaf < 0 ? 0 : SIGNIFICANT_INDEX,
        eax: l.leaf === 0x8000_0000 ? Math.max(l.eax >>> 0, 0x8000_0000) : l.eax,
        // Leaf 0DH sub-leaf 0: EBX is the area size for every supported component (__do_cpuid_func's
        // xstate_required_size(permitted_xcr0)), the model's ECX; the guest's follows its XCR0 at run time.
        ebx: l.leaf === 0xd && l.subleaf === 0 ? l.ecx : l.ebx,
        ecx: l.ecx,
        edx: l.edx,
      }))
      // KVM's order: basic leaves, its own 40000000H leaves, then the extended ones.
      .concat(KVM_PARAVIRT_LEAVES)
      .sort((a, b) => (a.function >>> 0) - (b.function >>> 0)),
    msrIndices: msrIndicesOf(cpu),
    cr4Valid: cr4ValidFor(leaf1Ecx, leaf7Ebx),
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

/** The x86-64 model: the Core 2 AES model with IA-32e mode (the facade's default before AVX). */
export const X86_64_KVM_MODEL: KvmCpuModel = kvmCpuModel(X86_64_MODEL);

/** The Nehalem model: SSE to SSE4.2, POPCNT, IA-32e mode; no XSAVE, AES-NI or AVX. */
export const NEHALEM_MODEL: KvmCpuModel = kvmCpuModel(NEHALEM);

/**
 * The Haswell model (QEMU's `Haswell-noTSX` as far as implemented): the x86-64 model plus AVX with the
 * YMM state component, AVX2, FMA, F16C, MOVBE, RDRAND, PCID, FSGSBASE, BMI1, BMI2, SMEP, ERMS, INVPCID
 * and ABM (LZCNT).
 */
export const HASWELL_MODEL: KvmCpuModel = kvmCpuModel(HASWELL);

/**
 * What a `KvmHost` advertises unless told otherwise, and what the software CPU of every vCPU can
 * execute: the most capable model x86-cpu implements, `MAX_MODEL` (the Haswell model plus ADX and
 * RDSEED: SSE to SSE4.2, POPCNT, AES-NI, PCLMULQDQ, XSAVE with the x87, SSE and AVX components, AVX,
 * AVX2, FMA, F16C, MOVBE, RDRAND, PCID, leaf 7's FSGSBASE, BMI1, BMI2, SMEP, ERMS, INVPCID, ADX,
 * RDSEED, ABM, and IA-32e mode: LM, SYSCALL, NX, RDTSCP, LAHF_LM, CX16, PAE, 40 physical address
 * bits), as real KVM reports what the host CPU has. The guest CPUID (KVM_SET_CPUID2) narrows it: an
 * instruction whose CPUID bit (leaf 1, leaf 7 EBX, leaf 80000001H) the guest CPUID lacks is #UD,
 * XCR0 may enable only the components of the guest's leaf 0DH, and without CPUID.80000001H:EDX.LM
 * there is no IA-32e mode (see `state-sync.ts`). A VMM that sets an older CPUID sees no change.
 */
export const DEFAULT_MODEL: KvmCpuModel = kvmCpuModel(MAX_MODEL);
