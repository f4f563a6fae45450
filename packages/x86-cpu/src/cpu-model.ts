/**
 * CPU models as data: the CPUID leaves a model reports and the instruction-set features it has. The
 * interpreter consults the model to raise #UD for instructions whose decoder feature tag
 * (`Instruction.cpuidFeature`) the model lacks, and CPUID answers from the leaf table.
 */
import { CpuidFeature } from '@typevisor/x86-decoder';

/** CPUID.01H:EDX feature bits (SDM Vol. 2A Table 3-11). */
export const Leaf1Edx = {
  FPU: 1 << 0,
  VME: 1 << 1,
  DE: 1 << 2,
  PSE: 1 << 3,
  TSC: 1 << 4,
  MSR: 1 << 5,
  PAE: 1 << 6,
  MCE: 1 << 7,
  CX8: 1 << 8,
  APIC: 1 << 9,
  SEP: 1 << 11,
  MTRR: 1 << 12,
  PGE: 1 << 13,
  MCA: 1 << 14,
  CMOV: 1 << 15,
  PAT: 1 << 16,
  PSE36: 1 << 17,
  CLFSH: 1 << 19,
  MMX: 1 << 23,
  FXSR: 1 << 24,
  SSE: 1 << 25,
  SSE2: 1 << 26,
} as const;

export interface CpuidLeaf {
  readonly leaf: number;
  /** Sub-leaf, or -1 when the leaf ignores ECX. */
  readonly subleaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface CpuModel {
  readonly name: string;
  /** CPUID leaves; a leaf above the highest basic/extended leaf answers like the highest basic leaf (Intel). */
  readonly cpuid: readonly CpuidLeaf[];
  /** Decoder feature tags this model executes; any other tag (except `None`) is #UD. */
  readonly features: readonly CpuidFeature[];
  /** Model-specific reset value of EDX (family/model/stepping signature). */
  readonly resetEdx: number;
}

/** Packs a 12-character vendor string into EBX, EDX, ECX order. */
function vendorWords(vendor: string): [number, number, number] {
  const w = (i: number): number =>
    (vendor.charCodeAt(i) |
      (vendor.charCodeAt(i + 1) << 8) |
      (vendor.charCodeAt(i + 2) << 16) |
      (vendor.charCodeAt(i + 3) << 24)) >>>
    0;
  return [w(0), w(4), w(8)];
}

const [GI_EBX, GI_EDX, GI_ECX] = vendorWords('GenuineIntel');

/** Family 6, model 5, stepping 2 (Pentium II "Deschutes"), signature in CPUID.01H:EAX. */
const P2_SIGNATURE = 0x652;

/** CPUID.01H:EDX of the Pentium II model (the base of the later models). */
const P6_LEAF1_EDX =
  Leaf1Edx.FPU |
  Leaf1Edx.PSE |
  Leaf1Edx.TSC |
  Leaf1Edx.MSR |
  Leaf1Edx.CX8 |
  Leaf1Edx.APIC |
  Leaf1Edx.SEP |
  Leaf1Edx.MTRR |
  Leaf1Edx.PGE |
  Leaf1Edx.CMOV |
  Leaf1Edx.PAT |
  Leaf1Edx.MMX |
  Leaf1Edx.FXSR;

/**
 * A Pentium II-class CPU: the P6 integer ISA with FPU, CMOV, CMPXCHG8B, FXSR, MMX, SYSENTER, TSC, MSRs,
 * PSE, PGE, MTRR and PAT. It is what the 32-bit Linux `686` flavour needs. No SSE (see `PENTIUM_4`).
 */
export const PENTIUM_II: CpuModel = {
  name: 'Pentium II (family 6 model 5)',
  cpuid: [
    { leaf: 0, subleaf: -1, eax: 2, ebx: GI_EBX, ecx: GI_ECX, edx: GI_EDX },
    {
      leaf: 1,
      subleaf: -1,
      eax: P2_SIGNATURE,
      ebx: 0,
      ecx: 0,
      edx: P6_LEAF1_EDX,
    },
    // Cache/TLB descriptors of a Pentium II with 512 KiB L2 (SDM Vol. 2A Table 3-12).
    { leaf: 2, subleaf: -1, eax: 0x03020101, ebx: 0, ecx: 0, edx: 0x0c040843 },
    { leaf: 0x80000000, subleaf: -1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ],
  features: [
    CpuidFeature.INTEL8086,
    CpuidFeature.INTEL186,
    CpuidFeature.INTEL286,
    CpuidFeature.INTEL386,
    CpuidFeature.INTEL486,
    CpuidFeature.CPUID,
    CpuidFeature.FPU,
    CpuidFeature.FPU287,
    CpuidFeature.FPU387,
    CpuidFeature.CMOV,
    CpuidFeature.CX8,
    CpuidFeature.MSR,
    CpuidFeature.TSC,
    CpuidFeature.SEP,
    CpuidFeature.MMX,
    CpuidFeature.FXSR,
    CpuidFeature.MULTIBYTENOP,
    CpuidFeature.RDPMC,
    CpuidFeature.PAUSE,
  ],
  resetEdx: P2_SIGNATURE,
};

/** Family 15, model 2, stepping 9 (Pentium 4 "Northwood"), signature in CPUID.01H:EAX. */
const P4_SIGNATURE = 0xf29;

/**
 * A Pentium 4-class CPU: the Pentium II model plus SSE, SSE2 and CLFLUSH (16/32-bit modes; no HTT,
 * no PAE/VME, which this CPU does not advertise in any model yet). CPUID.01H:EBX[15:8] = 8: CLFLUSH
 * line size 64 bytes. Opt-in: pass it as `model`; the default stays the Pentium II.
 */
export const PENTIUM_4: CpuModel = {
  name: 'Pentium 4 (family 15 model 2)',
  cpuid: [
    { leaf: 0, subleaf: -1, eax: 2, ebx: GI_EBX, ecx: GI_ECX, edx: GI_EDX },
    {
      leaf: 1,
      subleaf: -1,
      eax: P4_SIGNATURE,
      ebx: 8 << 8,
      ecx: 0,
      edx: P6_LEAF1_EDX | Leaf1Edx.CLFSH | Leaf1Edx.SSE | Leaf1Edx.SSE2,
    },
    // Cache/TLB descriptors of a Northwood with 512 KiB L2 (SDM Vol. 2A Table 3-12).
    { leaf: 2, subleaf: -1, eax: 0x665b5001, ebx: 0, ecx: 0, edx: 0x007b7040 },
    { leaf: 0x80000000, subleaf: -1, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ],
  features: [...PENTIUM_II.features, CpuidFeature.SSE, CpuidFeature.SSE2, CpuidFeature.CLFSH],
  resetEdx: P4_SIGNATURE,
};

/** Looks up a leaf in a model's table (the answer before hooks edit it). */
export function modelCpuid(model: CpuModel, leaf: number, subleaf: number): CpuidLeaf | undefined {
  const basicMax = model.cpuid.find((l) => l.leaf === 0)?.eax ?? 0;
  const extMax = model.cpuid.find((l) => l.leaf === 0x80000000)?.eax ?? 0x80000000;
  let effective = leaf >>> 0;
  if (effective >= 0x80000000 ? effective > extMax : effective > basicMax) effective = basicMax;
  return model.cpuid.find((l) => l.leaf === effective && (l.subleaf === -1 || l.subleaf === subleaf));
}

/** Per-feature-tag flag table (1 = supported) for a model, indexed by `CpuidFeature`. */
export function featureTable(model: CpuModel): Uint8Array {
  const t = new Uint8Array(512);
  t[CpuidFeature.None] = 1;
  for (const f of model.features) t[f] = 1;
  return t;
}
