/**
 * The CPU model the facade advertises through KVM_GET_SUPPORTED_CPUID and KVM_GET_MSR_INDEX_LIST, and
 * whose CR4/physical-address limits KVM_SET_SREGS checks against.
 *
 * NOTE: this table is a temporary copy. The CPU model belongs to @typevisor/x86-cpu (`cpu-model.ts`,
 * `msr.ts`), which is being written at the same time; once its model is stable this file is replaced
 * by an import of that model so the two can never disagree. It mirrors x86-cpu's Pentium II model:
 * the P6 integer ISA with FPU, CMOV, CX8, FXSR, MMX, SYSENTER, TSC, MSRs, PSE, PGE, MTRR, PAT and a
 * local APIC; no SSE, no PAE-NX, no long mode.
 */

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
}

const vendor = (s: string, i: number): number =>
  (s.charCodeAt(i) |
    (s.charCodeAt(i + 1) << 8) |
    (s.charCodeAt(i + 2) << 16) |
    (s.charCodeAt(i + 3) << 24)) >>>
  0;

/** CPUID.01H:EDX bits the model reports (SDM Vol. 2A Table 3-11). */
const LEAF1_EDX =
  (1 << 0) | // FPU
  (1 << 3) | // PSE
  (1 << 4) | // TSC
  (1 << 5) | // MSR
  (1 << 8) | // CX8
  (1 << 9) | // APIC
  (1 << 11) | // SEP
  (1 << 12) | // MTRR
  (1 << 13) | // PGE
  (1 << 15) | // CMOV
  (1 << 16) | // PAT
  (1 << 23) | // MMX
  (1 << 24); // FXSR

/** CR4 bits KVM allows regardless of CPUID (VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR, OSXMMEXCPT). */
const CR4_ALWAYS_VALID = 0x7ff;

export const PENTIUM_II_MODEL: KvmCpuModel = {
  name: 'Pentium II (family 6 model 5)',
  cpuid: [
    {
      function: 0,
      index: 0,
      flags: 0,
      eax: 2,
      ebx: vendor('GenuineIntel', 0),
      ecx: vendor('GenuineIntel', 8),
      edx: vendor('GenuineIntel', 4),
    },
    { function: 1, index: 0, flags: 0, eax: 0x652, ebx: 0, ecx: 0, edx: LEAF1_EDX },
    // Cache/TLB descriptors of a Pentium II with 512 KiB L2 (SDM Vol. 2A Table 3-12).
    { function: 2, index: 0, flags: 0, eax: 0x03020101, ebx: 0, ecx: 0, edx: 0x0c040843 },
    { function: 0x80000000, index: 0, flags: 0, eax: 0x80000000, ebx: 0, ecx: 0, edx: 0 },
  ],
  msrIndices: [
    0x10, // IA32_TIME_STAMP_COUNTER
    0x1b, // IA32_APIC_BASE
    0x174, // IA32_SYSENTER_CS
    0x175, // IA32_SYSENTER_ESP
    0x176, // IA32_SYSENTER_EIP
    0x17a, // IA32_MCG_STATUS
    0x1a0, // IA32_MISC_ENABLE
    0x277, // IA32_PAT
  ],
  cr4Valid: CR4_ALWAYS_VALID,
  maxPhyAddr: 36,
};
