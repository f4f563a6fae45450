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

/** CPUID.01H:ECX feature bits (SDM Vol. 2A Table 3-10) that gate instructions. */
export const Leaf1Ecx = {
  SSE3: 1 << 0,
  PCLMULQDQ: 1 << 1,
  SSSE3: 1 << 9,
  SSE4_1: 1 << 19,
  SSE4_2: 1 << 20,
  CX16: 1 << 13,
  POPCNT: 1 << 23,
  AES: 1 << 25,
  XSAVE: 1 << 26,
  OSXSAVE: 1 << 27,
  FMA: 1 << 12,
  PCID: 1 << 17,
  MOVBE: 1 << 22,
  AVX: 1 << 28,
  F16C: 1 << 29,
  RDRAND: 1 << 30,
} as const;

/** CPUID.(EAX=07H,ECX=0):EBX feature bits (SDM Vol. 2A Table 3-8, structured extended features). */
export const Leaf7Ebx = {
  FSGSBASE: 1 << 0,
  BMI1: 1 << 3,
  AVX2: 1 << 5,
  SMEP: 1 << 7,
  BMI2: 1 << 8,
  ERMS: 1 << 9,
  INVPCID: 1 << 10,
  RDSEED: 1 << 18,
  ADX: 1 << 19,
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

/** Family 15, model 3, stepping 4 (Pentium 4 "Prescott"), signature in CPUID.01H:EAX. */
const PRESCOTT_SIGNATURE = 0xf34;

/**
 * A Pentium 4 "Prescott"-class CPU: the `PENTIUM_4` model plus SSE3 (CPUID.01H:ECX bit 0: ADDSUBPS/PD,
 * HADD/HSUB, MOVSLDUP/MOVSHDUP/MOVDDUP, LDDQU and the x87 FISTTP). Not MONITOR/MWAIT (their own
 * CPUID bit, not reported), not long mode.
 */
export const PENTIUM_4_PRESCOTT: CpuModel = {
  name: 'Pentium 4 (family 15 model 3)',
  cpuid: PENTIUM_4.cpuid.map((l) =>
    l.leaf === 1 ? { ...l, eax: PRESCOTT_SIGNATURE, ecx: (l.ecx | Leaf1Ecx.SSE3) >>> 0 } : l,
  ),
  features: [...PENTIUM_4.features, CpuidFeature.SSE3],
  resetEdx: PRESCOTT_SIGNATURE,
};

/**
 * CPUID.(EAX=0DH,ECX=0): the XCR0 bits supported (x87 | SSE) and the XSAVE area size (legacy region +
 * header); EBX is reported for the XCR0 in force (`leafDEbxWithXcr0`).
 */
const XSAVE_LEAF_D0 = { eax: 0x3, ebx: 576, ecx: 576, edx: 0 } as const;

/** CPUID.(EAX=0DH,ECX=1):EAX.XSAVEOPT (bit 0); XSAVEC (bit 1), XGETBV_ECX1 (bit 2), XSAVES (bit 3) are not claimed. */
const XSAVE_LEAF_D1_EAX_XSAVEOPT = 1 << 0;

/**
 * Adds the XSAVE feature set (handlers in `handlers/xsave.ts`) to a model: CPUID.01H:ECX.XSAVE, leaf
 * 0DH (sub-leaf 0: XCR0 may enable x87 and SSE, 576-byte area whatever XCR0 enables, since both live
 * in the legacy region; sub-leaf 1: XSAVEOPT), CPUID.0H:EAX raised to 0DH, and the XSAVE and XSAVEOPT
 * feature tags. CPUID.01H:ECX.OSXSAVE is not in the table: CPUID reports it from CR4.OSXSAVE.
 */
export function withXsave(model: CpuModel): CpuModel {
  const cpuid: CpuidLeaf[] = [];
  for (const l of model.cpuid) {
    if (l.leaf === 0) cpuid.push({ ...l, eax: Math.max(l.eax, 0xd) });
    else if (l.leaf === 1) cpuid.push({ ...l, ecx: (l.ecx | Leaf1Ecx.XSAVE) >>> 0 });
    else if (l.leaf !== 0xd) cpuid.push(l);
  }
  const at = cpuid.findIndex((l) => l.leaf > 0xd);
  const leafD: CpuidLeaf[] = [
    { leaf: 0xd, subleaf: 0, ...XSAVE_LEAF_D0 },
    { leaf: 0xd, subleaf: 1, eax: XSAVE_LEAF_D1_EAX_XSAVEOPT, ebx: 0, ecx: 0, edx: 0 },
  ];
  cpuid.splice(at < 0 ? cpuid.length : at, 0, ...leafD);
  return { ...model, cpuid, features: [...model.features, CpuidFeature.XSAVE, CpuidFeature.XSAVEOPT] };
}

/** Family 6, model 15, stepping 11 (Core 2 "Merom"), signature in CPUID.01H:EAX. */
const CORE_2_SIGNATURE = 0x6fb;

/**
 * A Core 2-class CPU as far as this CPU implements one, plus the later SSE extensions it implements:
 * the `PENTIUM_4_PRESCOTT` instruction set plus SSSE3 (CPUID.01H:ECX bit 9: PSHUFB, PHADD/PHSUB,
 * PMADDUBSW, PMULHRSW, PSIGN, PABS, PALIGNR on XMM and MMX registers), SSE4.1 (bit 19), SSE4.2
 * (bit 20) and POPCNT (bit 23). A real Core 2 "Penryn" has SSE4.1 but not SSE4.2/POPCNT (Nehalem);
 * they are here because this is the most capable model, the one the KVM facade advertises for
 * `-cpu host`/`max`, and a Nehalem-class model would have to claim CX16 and long mode too. What a
 * real Core 2 has beyond that is not reported: MONITOR, CX16, PAE, NX, long mode, VMX (`withVmx`
 * adds it). Leaf 2 keeps the Pentium 4 model's cache descriptors. `withXsave` adds XSAVE/XRSTOR/
 * XSAVEOPT and XGETBV/XSETBV over x87 and SSE state (CPUID.01H:ECX.XSAVE, leaf 0DH).
 */
export const CORE_2: CpuModel = withXsave({
  name: 'Core 2 (family 6 model 15)',
  cpuid: PENTIUM_4_PRESCOTT.cpuid.map((l) =>
    l.leaf === 1
      ? {
          ...l,
          eax: CORE_2_SIGNATURE,
          ecx: (l.ecx | Leaf1Ecx.SSSE3 | Leaf1Ecx.SSE4_1 | Leaf1Ecx.SSE4_2 | Leaf1Ecx.POPCNT) >>> 0,
        }
      : l,
  ),
  features: [
    ...PENTIUM_4_PRESCOTT.features,
    CpuidFeature.SSSE3,
    CpuidFeature.SSE4_1,
    CpuidFeature.SSE4_2,
    CpuidFeature.POPCNT,
  ],
  resetEdx: CORE_2_SIGNATURE,
});

/**
 * Adds AES-NI (CPUID.01H:ECX bit 25: AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC,
 * AESKEYGENASSIST; `handlers/aes.ts`) and PCLMULQDQ (bit 1) to a model: the two CPUID bits and the
 * AES and PCLMULQDQ feature tags.
 */
export function withAesPclmul(model: CpuModel): CpuModel {
  return {
    ...model,
    name: `${model.name} + AES-NI, PCLMULQDQ`,
    cpuid: model.cpuid.map((l) =>
      l.leaf === 1 ? { ...l, ecx: (l.ecx | Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ) >>> 0 } : l,
    ),
    features: [...model.features, CpuidFeature.AES, CpuidFeature.PCLMULQDQ],
  };
}

/**
 * The most capable model this CPU implements: `CORE_2` plus AES-NI and PCLMULQDQ (Westmere's
 * additions), which a real Core 2 lacks, so `CORE_2` itself does not claim them. The KVM facade
 * advertises it for `-cpu host`/`max`; the guest CPUID narrows it per vCPU.
 */
export const CORE_2_AES: CpuModel = withAesPclmul(CORE_2);

/** CPUID.80000001H:EDX bits (SDM Vol. 2A Table 3-8). */
export const Ext1Edx = {
  SYSCALL: 1 << 11,
  NX: 1 << 20,
  PDPE1GB: 1 << 26,
  RDTSCP: 1 << 27,
  LM: 1 << 29,
} as const;
/** CPUID.80000001H:ECX bits. */
export const Ext1Ecx = { LAHF_LM: 1 << 0, ABM: 1 << 5 } as const;

/**
 * Adds IA-32e mode to a model (Intel 64, SDM Vol. 1 §2.2.7): CPUID.80000001H LM, SYSCALL/SYSRET, NX,
 * RDTSCP and LAHF/SAHF in 64-bit mode; leaf 1's PAE (IA-32e paging is PAE-based) and CMPXCHG16B;
 * leaf 80000008H with 40 physical and 48 linear address bits.
 */
export function withLongMode(model: CpuModel): CpuModel {
  const cpuid = model.cpuid
    .filter((l) => l.leaf < 0x80000000)
    .map((l) =>
      l.leaf === 1 ? { ...l, ecx: (l.ecx | Leaf1Ecx.CX16) >>> 0, edx: (l.edx | Leaf1Edx.PAE) >>> 0 } : l,
    );
  cpuid.push(
    { leaf: 0x80000000, subleaf: -1, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
    {
      leaf: 0x80000001,
      subleaf: -1,
      eax: 0,
      ebx: 0,
      ecx: Ext1Ecx.LAHF_LM,
      edx: (Ext1Edx.SYSCALL | Ext1Edx.NX | Ext1Edx.RDTSCP | Ext1Edx.LM) >>> 0,
    },
    { leaf: 0x80000008, subleaf: -1, eax: 0x3028, ebx: 0, ecx: 0, edx: 0 },
  );
  return {
    ...model,
    name: `${model.name}, Intel 64`,
    cpuid,
    features: [
      ...model.features,
      CpuidFeature.X64,
      CpuidFeature.SYSCALL,
      CpuidFeature.RDTSCP,
      CpuidFeature.CMPXCHG16B,
    ],
  };
}

/**
 * The 64-bit model: `CORE_2_AES` with IA-32e mode (`withLongMode`), for 64-bit guests and the
 * long-mode test programs.
 */
export const X86_64_MODEL: CpuModel = withLongMode(CORE_2_AES);

/** Looks up a leaf in a model's table (the answer before hooks edit it). */
export function modelCpuid(model: CpuModel, leaf: number, subleaf: number): CpuidLeaf | undefined {
  // Plain loops: CPUID runs per instruction (a closure per lookup was garbage per CPUID).
  const table = model.cpuid;
  let basicMax = 0;
  let extMax = 0x80000000;
  let seenBasic = false;
  let seenExt = false;
  for (let i = 0; i < table.length; i++) {
    const l = table[i]!;
    if (l.leaf === 0 && !seenBasic) {
      basicMax = l.eax;
      seenBasic = true;
    } else if (l.leaf === 0x80000000 && !seenExt) {
      extMax = l.eax;
      seenExt = true;
    }
  }
  let effective = leaf >>> 0;
  if (effective >= 0x80000000 ? effective > extMax : effective > basicMax) effective = basicMax;
  for (let i = 0; i < table.length; i++) {
    const l = table[i]!;
    if (l.leaf === effective && (l.subleaf === -1 || l.subleaf === subleaf)) return l;
  }
  return undefined;
}

/** CPUID.(EAX=07H,ECX=0):EBX of a model (0 when it has no leaf 7). */
export function modelLeaf7Ebx(model: CpuModel): number {
  const table = model.cpuid;
  for (let i = 0; i < table.length; i++) {
    const l = table[i]!;
    if (l.leaf === 7 && (l.subleaf === 0 || l.subleaf === -1)) return l.ebx;
  }
  return 0;
}

/** Per-feature-tag flag table (1 = supported) for a model, indexed by `CpuidFeature`. */
export function featureTable(model: CpuModel): Uint8Array {
  const t = new Uint8Array(512);
  t[CpuidFeature.None] = 1;
  for (const f of model.features) t[f] = 1;
  return t;
}

/**
 * Decoder feature tags that a CPUID.01H bit (or, with `leaf`, a CPUID.80000001H bit) switches on and
 * off: a VMM's guest CPUID (KVM_SET_CPUID2, `-cpu model,-sse2`) can take them away from a model that
 * implements them, as QEMU's TCG does (hardware would still execute them). Tags not listed here are
 * the model's whatever the guest CPUID says, so a guest without any CPUID table keeps the P6
 * instruction set.
 */
export const CPUID_GATED_FEATURES: readonly {
  /** The leaf whose register holds the bit: CPUID.01H when absent (leaf 7: sub-leaf 0). */
  readonly leaf?: 0x80000001 | 7;
  readonly reg: 'ebx' | 'ecx' | 'edx';
  readonly bit: number;
  readonly tag: CpuidFeature;
}[] = [
  { reg: 'edx', bit: Leaf1Edx.CLFSH, tag: CpuidFeature.CLFSH },
  { reg: 'edx', bit: Leaf1Edx.SSE, tag: CpuidFeature.SSE },
  { reg: 'edx', bit: Leaf1Edx.SSE2, tag: CpuidFeature.SSE2 },
  { reg: 'ecx', bit: Leaf1Ecx.SSE3, tag: CpuidFeature.SSE3 },
  { reg: 'ecx', bit: Leaf1Ecx.SSSE3, tag: CpuidFeature.SSSE3 },
  { reg: 'ecx', bit: Leaf1Ecx.XSAVE, tag: CpuidFeature.XSAVE },
  { reg: 'ecx', bit: Leaf1Ecx.SSE4_1, tag: CpuidFeature.SSE4_1 },
  { reg: 'ecx', bit: Leaf1Ecx.SSE4_2, tag: CpuidFeature.SSE4_2 },
  { reg: 'ecx', bit: Leaf1Ecx.POPCNT, tag: CpuidFeature.POPCNT },
  { reg: 'ecx', bit: Leaf1Ecx.AES, tag: CpuidFeature.AES },
  { reg: 'ecx', bit: Leaf1Ecx.PCLMULQDQ, tag: CpuidFeature.PCLMULQDQ },
  { reg: 'ecx', bit: Leaf1Ecx.CX16, tag: CpuidFeature.CMPXCHG16B },
  { reg: 'ecx', bit: Leaf1Ecx.AVX, tag: CpuidFeature.AVX },
  { reg: 'ecx', bit: Leaf1Ecx.FMA, tag: CpuidFeature.FMA },
  { reg: 'ecx', bit: Leaf1Ecx.F16C, tag: CpuidFeature.F16C },
  { reg: 'ecx', bit: Leaf1Ecx.MOVBE, tag: CpuidFeature.MOVBE },
  { reg: 'ecx', bit: Leaf1Ecx.RDRAND, tag: CpuidFeature.RDRAND },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.FSGSBASE, tag: CpuidFeature.FSGSBASE },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.BMI1, tag: CpuidFeature.BMI1 },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.AVX2, tag: CpuidFeature.AVX2 },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.BMI2, tag: CpuidFeature.BMI2 },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.INVPCID, tag: CpuidFeature.INVPCID },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.RDSEED, tag: CpuidFeature.RDSEED },
  { leaf: 7, reg: 'ebx', bit: Leaf7Ebx.ADX, tag: CpuidFeature.ADX },
  { leaf: 0x80000001, reg: 'ecx', bit: Ext1Ecx.ABM, tag: CpuidFeature.LZCNT },
  // Without CPUID.80000001H:EDX.LM the guest has no IA-32e mode (EFER.LME is reserved, as KVM makes it).
  { leaf: 0x80000001, reg: 'edx', bit: Ext1Edx.LM, tag: CpuidFeature.X64 },
  { leaf: 0x80000001, reg: 'edx', bit: Ext1Edx.SYSCALL, tag: CpuidFeature.SYSCALL },
  { leaf: 0x80000001, reg: 'edx', bit: Ext1Edx.RDTSCP, tag: CpuidFeature.RDTSCP },
];

const scratchTable = new Uint8Array(512);

/**
 * Makes `table` (a `Cpu`'s `features`) the feature tags `model` implements, less those whose
 * CPUID.01H bit (`CPUID_GATED_FEATURES`) is clear in the guest's `leaf1Ecx`/`leaf1Edx`, whose
 * CPUID.80000001H bit is clear in `ext1Ecx`/`ext1Edx`, or whose CPUID.(07H,0):EBX bit is clear in
 * `leaf7Ebx` (all set when not given). Returns true when the table changed (the caller then drops
 * decoded blocks: their #UD decisions are stale).
 */
export function applyGuestCpuid(
  table: Uint8Array,
  model: CpuModel,
  leaf1Ecx: number,
  leaf1Edx: number,
  ext1Ecx = 0xffffffff,
  ext1Edx = 0xffffffff,
  leaf7Ebx = 0xffffffff,
): boolean {
  const t = scratchTable;
  t.fill(0);
  t[CpuidFeature.None] = 1;
  for (const f of model.features) t[f] = 1;
  for (const g of CPUID_GATED_FEATURES) {
    const ext = g.leaf === 0x80000001;
    const value =
      g.leaf === 7 ? leaf7Ebx : g.reg === 'edx' ? (ext ? ext1Edx : leaf1Edx) : ext ? ext1Ecx : leaf1Ecx;
    if ((value & g.bit) === 0) t[g.tag] = 0;
  }
  let changed = false;
  for (let i = 0; i < t.length; i++) {
    if (table[i] !== t[i]) {
      table[i] = t[i]!;
      changed = true;
    }
  }
  return changed;
}

/** Sets `bits` in register `reg` of leaf `leaf` (sub-leaf `subleaf`), adding the leaf zeroed when the model has none. */
function setLeafBits(
  cpuid: readonly CpuidLeaf[],
  leaf: number,
  subleaf: number,
  reg: 'eax' | 'ebx' | 'ecx' | 'edx',
  bits: number,
): CpuidLeaf[] {
  const out = cpuid.map((l) =>
    l.leaf === leaf && l.subleaf === subleaf ? { ...l, [reg]: (l[reg] | bits) >>> 0 } : l,
  );
  if (out.some((l) => l.leaf === leaf && l.subleaf === subleaf)) return out;
  const added: CpuidLeaf = { leaf, subleaf, eax: 0, ebx: 0, ecx: 0, edx: 0, [reg]: bits >>> 0 };
  const at = out.findIndex((l) => leaf < 0x80000000 === l.leaf < 0x80000000 && l.leaf > leaf);
  out.splice(at < 0 ? out.length : at, 0, added);
  return out;
}

/** A model with another family/model/stepping signature (CPUID.01H:EAX and the reset EDX) and name. */
function withSignature(model: CpuModel, name: string, signature: number): CpuModel {
  return {
    ...model,
    name,
    cpuid: model.cpuid.map((l) => (l.leaf === 1 ? { ...l, eax: signature } : l)),
    resetEdx: signature,
  };
}

/**
 * Adds AVX (CPUID.01H:ECX bit 28: the VEX-encoded 128- and 256-bit floating-point instructions and the
 * VEX.128 forms of the SSE integer instructions; `handlers/avx*.ts`) to a model with XSAVE: XCR0 may
 * enable the AVX state component (leaf 0DH sub-leaf 0 EAX bit 2, 832-byte area with it), whose
 * 256 bytes (YMM_Hi128) sit at offset 576 (sub-leaf 2).
 */
export function withAvx(model: CpuModel): CpuModel {
  const cpuid = setLeafBits(model.cpuid, 1, -1, 'ecx', Leaf1Ecx.AVX).map((l) =>
    l.leaf === 0xd && l.subleaf === 0 ? { ...l, eax: l.eax | 4, ecx: 832 } : l,
  );
  const at = cpuid.findIndex((l) => l.leaf === 0xd && l.subleaf === 1);
  cpuid.splice(at + 1, 0, { leaf: 0xd, subleaf: 2, eax: 256, ebx: 576, ecx: 0, edx: 0 });
  return { ...model, cpuid, features: [...model.features, CpuidFeature.AVX] };
}

/** Family 6, model 26, stepping 3 (Core i7 "Nehalem"), QEMU's `Nehalem` signature. */
const NEHALEM_SIGNATURE = 0x106a3;

/**
 * A Nehalem-class CPU, as QEMU's `Nehalem` model: SSE to SSE4.2, POPCNT, CX16, IA-32e mode (LM, NX,
 * SYSCALL, LAHF_LM, RDTSCP); no XSAVE, no AES-NI (Westmere), no AVX (Sandy Bridge).
 */
export const NEHALEM: CpuModel = withLongMode(
  withSignature(
    {
      ...CORE_2,
      cpuid: CORE_2.cpuid
        .filter((l) => l.leaf !== 0xd)
        .map((l) =>
          l.leaf === 0 ? { ...l, eax: 2 } : l.leaf === 1 ? { ...l, ecx: (l.ecx & ~Leaf1Ecx.XSAVE) >>> 0 } : l,
        ),
      features: CORE_2.features.filter((f) => f !== CpuidFeature.XSAVE && f !== CpuidFeature.XSAVEOPT),
    },
    'Nehalem (family 6 model 26)',
    NEHALEM_SIGNATURE,
  ),
);

/** Family 6, model 60, stepping 4 (4th generation Core "Haswell"), QEMU's `Haswell` signature. */
const HASWELL_SIGNATURE = 0x306c4;

/**
 * A Haswell-class CPU, as QEMU's `Haswell-noTSX` model: the 64-bit model (`X86_64_MODEL`: SSE to
 * SSE4.2, POPCNT, AES-NI, PCLMULQDQ, XSAVE, IA-32e mode) plus AVX with the YMM state, AVX2, FMA,
 * F16C, MOVBE, RDRAND, PCID (CPUID.01H:ECX), FSGSBASE, BMI1, BMI2, SMEP, ERMS, INVPCID (CPUID.07H:EBX)
 * and LZCNT (CPUID.80000001H:ECX.ABM). Not TSX (HLE/RTM), not the TSC deadline timer, not x2APIC.
 */
export const HASWELL: CpuModel = (() => {
  const base = withAvx(withSignature(X86_64_MODEL, 'Haswell (family 6 model 60)', HASWELL_SIGNATURE));
  let cpuid = setLeafBits(
    base.cpuid,
    1,
    -1,
    'ecx',
    Leaf1Ecx.FMA | Leaf1Ecx.PCID | Leaf1Ecx.MOVBE | Leaf1Ecx.F16C | Leaf1Ecx.RDRAND,
  );
  cpuid = setLeafBits(
    cpuid,
    7,
    0,
    'ebx',
    Leaf7Ebx.FSGSBASE |
      Leaf7Ebx.BMI1 |
      Leaf7Ebx.AVX2 |
      Leaf7Ebx.SMEP |
      Leaf7Ebx.BMI2 |
      Leaf7Ebx.ERMS |
      Leaf7Ebx.INVPCID,
  );
  cpuid = setLeafBits(cpuid, 0x80000001, -1, 'ecx', Ext1Ecx.ABM);
  return {
    ...base,
    cpuid,
    features: [
      ...base.features,
      CpuidFeature.AVX2,
      CpuidFeature.FMA,
      CpuidFeature.F16C,
      CpuidFeature.MOVBE,
      CpuidFeature.RDRAND,
      CpuidFeature.FSGSBASE,
      CpuidFeature.BMI1,
      CpuidFeature.BMI2,
      CpuidFeature.INVPCID,
      CpuidFeature.LZCNT,
    ],
  };
})();

/**
 * Everything this CPU implements (`-cpu max`/`host`): the Haswell model plus Broadwell's ADX
 * (ADCX/ADOX) and RDSEED (CPUID.07H:EBX bits 19 and 18).
 */
export const MAX_MODEL: CpuModel = {
  ...HASWELL,
  name: 'max (Haswell + ADX, RDSEED)',
  cpuid: setLeafBits(HASWELL.cpuid, 7, 0, 'ebx', Leaf7Ebx.ADX | Leaf7Ebx.RDSEED),
  features: [...HASWELL.features, CpuidFeature.ADX, CpuidFeature.RDSEED],
};
