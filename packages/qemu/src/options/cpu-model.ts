/**
 * `-cpu model[,+feat,-feat,feat=on|off]`: QEMU's x86 CPU models and feature names, and the CPUID a
 * vCPU gets from them. As QEMU does with KVM, every requested feature the accelerator does not report
 * in KVM_GET_SUPPORTED_CPUID is dropped with a warning naming the CPUID bit. Leaf 0DH (XSAVE) is
 * built from the resulting features as QEMU's cpu_x86_cpuid does: the XCR0 components whose feature
 * the vCPU has (x87 and SSE with XSAVE, YMM with AVX: x86_ext_save_areas), their sizes, sub-leaf 1's
 * XSAVEOPT word, and only the sub-leaves whose EAX is not 0 (kvm_arch_init_vcpu).
 */
import {
  type CpuidEntry,
  KVM_CPUID_FEATURES,
  KVM_CPUID_SIGNATURE,
  KVM_SIGNATURE,
  X86_64_KVM_MODEL,
} from '@typevisor/kvm';
import type { CpuConfig } from './config.js';

type Reg = 'eax' | 'ebx' | 'ecx' | 'edx';

/** QEMU's feature words (FeatureWord), in the order it reports them. */
interface FeatureWord {
  readonly leaf: number;
  readonly index: number;
  readonly reg: Reg;
  /** Bit names as QEMU spells them (null: no name). */
  readonly names: readonly (string | null)[];
}

const W_1_EDX: FeatureWord = {
  leaf: 1,
  index: 0,
  reg: 'edx',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce',
    'cx8', 'apic', null, 'sep', 'mtrr', 'pge', 'mca', 'cmov',
    'pat', 'pse36', 'pn', 'clflush', null, 'ds', 'acpi', 'mmx',
    'fxsr', 'sse', 'sse2', 'ss', 'ht', 'tm', 'ia64', 'pbe',
  ],
};
const W_1_ECX: FeatureWord = {
  leaf: 1,
  index: 0,
  reg: 'ecx',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'pni', 'pclmulqdq', 'dtes64', 'monitor', 'ds-cpl', 'vmx', 'smx', 'est',
    'tm2', 'ssse3', 'cid', null, 'fma', 'cx16', 'xtpr', 'pdcm',
    null, 'pcid', 'dca', 'sse4.1', 'sse4.2', 'x2apic', 'movbe', 'popcnt',
    'tsc-deadline', 'aes', 'xsave', null, 'avx', 'f16c', 'rdrand', 'hypervisor',
  ],
};
const W_7_0_EBX: FeatureWord = {
  leaf: 7,
  index: 0,
  reg: 'ebx',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'fsgsbase', 'tsc-adjust', 'sgx', 'bmi1', 'hle', 'avx2', null, 'smep',
    'bmi2', 'erms', 'invpcid', 'rtm', null, null, 'mpx', null,
    'avx512f', 'avx512dq', 'rdseed', 'adx', 'smap', 'avx512ifma', 'pcommit', 'clflushopt',
    'clwb', 'intel-pt', 'avx512pf', 'avx512er', 'avx512cd', 'sha-ni', 'avx512bw', 'avx512vl',
  ],
};
const W_8000_0001_EDX: FeatureWord = {
  leaf: 0x8000_0001,
  index: 0,
  reg: 'edx',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    null, null, null, null, null, null, null, null,
    null, null, null, 'syscall', null, null, null, null,
    null, null, null, null, 'nx', null, 'mmxext', null,
    null, 'fxsr-opt', 'pdpe1gb', 'rdtscp', null, 'lm', '3dnowext', '3dnow',
  ],
};
const W_8000_0001_ECX: FeatureWord = {
  leaf: 0x8000_0001,
  index: 0,
  reg: 'ecx',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'lahf-lm', 'cmp-legacy', 'svm', 'extapic', 'cr8legacy', 'abm', 'sse4a', 'misalignsse',
    '3dnowprefetch', 'osvw', 'ibs', 'xop', 'skinit', 'wdt', null, 'lwp',
    'fma4', 'tce', null, 'nodeid-msr', null, 'tbm', 'topoext', 'perfctr-core',
    'perfctr-nb', null, null, null, null, null, null, null,
  ],
};

/** FEAT_XSAVE: CPUID.(EAX=0DH,ECX=1):EAX. */
const W_XSAVE: FeatureWord = {
  leaf: 0xd,
  index: 1,
  reg: 'eax',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'xsaveopt', 'xsavec', 'xgetbv1', 'xsaves', 'xfd', null, null, null,
    null, null, null, null, null, null, null, null,
    null, null, null, null, null, null, null, null,
    null, null, null, null, null, null, null, null,
  ],
};

/** FEAT_KVM: CPUID.40000001H:EAX, KVM's paravirtual features (bits 0 and 3 are both "kvmclock"). */
const W_KVM: FeatureWord = {
  leaf: 0x4000_0001,
  index: 0,
  reg: 'eax',
  // biome-ignore format: a table of 32 bit names, 8 per row
  names: [
    'kvmclock', 'kvm-nopiodelay', 'kvm-mmu', 'kvmclock', 'kvm-asyncpf', 'kvm-steal-time', 'kvm-pv-eoi', 'kvm-pv-unhalt',
    null, 'kvm-pv-tlb-flush', null, 'kvm-pv-ipi', 'kvm-poll-control', 'kvm-pv-sched-yield', 'kvm-asyncpf-int', 'kvm-msi-ext-dest-id',
    null, null, null, null, null, null, null, null,
    'kvmclock-stable-bit', null, null, null, null, null, null, null,
  ],
};

const WORDS = [W_1_EDX, W_1_ECX, W_7_0_EBX, W_8000_0001_EDX, W_8000_0001_ECX, W_XSAVE, W_KVM] as const;
/** Indices into WORDS. */
const WI = { EDX1: 0, ECX1: 1, EBX7: 2, EXT_EDX: 3, EXT_ECX: 4, XSAVE: 5, KVM: 6 } as const;

/** CPUID.01H:ECX.HYPERVISOR: QEMU sets it for every model and counts it as supported by KVM. */
const HYPERVISOR_BIT = 1 << 31;

/** QEMU's alternative spellings (feature_word_info aliases and the legacy underscore forms). */
const ALIASES: Readonly<Record<string, string>> = {
  sse3: 'pni',
  'sse4-1': 'sse4.1',
  sse4_1: 'sse4.1',
  'sse4-2': 'sse4.2',
  sse4_2: 'sse4.2',
  pclmuldq: 'pclmulqdq',
  xd: 'nx',
  i64: 'lm',
  ffxsr: 'fxsr-opt',
  lahf_lm: 'lahf-lm',
  tsc_deadline: 'tsc-deadline',
  ds_cpl: 'ds-cpl',
  fxsr_opt: 'fxsr-opt',
};

/** Each flag name's bits (one, except "kvmclock": KVM_FEATURE_CLOCKSOURCE and CLOCKSOURCE2). */
const FEATURES = new Map<string, { readonly word: number; readonly mask: number }>();
for (const [w, word] of WORDS.entries()) {
  for (const [bit, name] of word.names.entries()) {
    if (name === null) continue;
    FEATURES.set(name, { word: w, mask: ((FEATURES.get(name)?.mask ?? 0) | (1 << bit)) >>> 0 });
  }
}

const bits = (word: FeatureWord, ...names: string[]): number => {
  let v = 0;
  for (const [bit, n] of word.names.entries()) if (n !== null && names.includes(n)) v |= 1 << bit;
  return v >>> 0;
};

/**
 * The KVM features every model gets with `accel=kvm` (QEMU's kvm_default_props), as far as the facade
 * implements them: kvmclock with its stable bit, and the no-op I/O delay. QEMU's other defaults
 * (kvm-asyncpf, kvm-steal-time, kvm-pv-eoi) are left out rather than warned about.
 */
const KVM_DEFAULT_WORD = bits(W_KVM, 'kvmclock', 'kvm-nopiodelay', 'kvmclock-stable-bit');

const I486 = ['fpu', 'vme', 'pse'];
const PENTIUM = [...I486, 'de', 'tsc', 'msr', 'mce', 'cx8', 'mmx', 'apic'];
const PENTIUM2 = [...PENTIUM, 'pae', 'sep', 'mtrr', 'pge', 'mca', 'cmov', 'pat', 'pse36', 'fxsr'];
const PENTIUM3 = [...PENTIUM2, 'sse'];
const PPRO = ['fpu', 'de', 'pse', 'tsc', 'msr', 'mce', 'cx8', 'pge', 'cmov', 'pat', 'fxsr', 'mmx'].concat([
  'sse',
  'sse2',
  'pae',
  'sep',
  'apic',
]);
/** The CPUID.01H:EDX of QEMU's Intel Core models from Conroe on (Nehalem, Haswell...). */
const CORE_EDX = [...PPRO, 'vme', 'clflush', 'pse36', 'mca', 'mtrr'];
const NEHALEM_ECX = ['popcnt', 'sse4.2', 'sse4.1', 'cx16', 'ssse3', 'pni'];
// Haswell's CPUID.01H:ECX but x2apic and tsc-deadline (neither is the facade's).
// biome-ignore format: a list of names
const HASWELL_ECX = [...NEHALEM_ECX, 'avx', 'xsave', 'aes', 'pclmulqdq', 'fma', 'movbe', 'pcid', 'f16c', 'rdrand'];
/** Haswell's CPUID.(07H,0):EBX without TSX (hle, rtm): Haswell-noTSX's. */
// biome-ignore format: a list of names
const HASWELL_EBX7 = ['fsgsbase', 'bmi1', 'avx2', 'smep', 'bmi2', 'erms', 'invpcid'];
const HASWELL_WORDS: readonly number[] = [
  bits(W_1_EDX, ...CORE_EDX),
  bits(W_1_ECX, ...HASWELL_ECX),
  bits(W_7_0_EBX, ...HASWELL_EBX7),
  bits(W_8000_0001_EDX, 'lm', 'rdtscp', 'nx', 'syscall'),
  bits(W_8000_0001_ECX, 'abm', 'lahf-lm'),
  bits(W_XSAVE, 'xsaveopt'),
];

interface ModelDef {
  readonly vendor: 'GenuineIntel' | 'AuthenticAMD';
  readonly level: number;
  readonly xlevel: number;
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
  readonly modelId: string;
  /** What `-cpu help` says of the model (QEMU's model_id, or its description when that is empty). */
  readonly description: string;
  /** One value per entry of WORDS. */
  readonly words: readonly number[];
}

const QEMU_MODEL_ID = 'QEMU Virtual CPU version 2.5+';

/** QEMU 7.2's builtin_x86_defs for the models Typevisor offers. */
const MODELS: Readonly<Record<string, ModelDef>> = {
  qemu32: {
    vendor: 'GenuineIntel',
    level: 4,
    xlevel: 0x8000_0004,
    family: 6,
    model: 6,
    stepping: 3,
    modelId: QEMU_MODEL_ID,
    description: QEMU_MODEL_ID,
    words: [bits(W_1_EDX, ...PPRO), bits(W_1_ECX, 'pni'), 0, 0, 0, 0],
  },
  qemu64: {
    vendor: 'AuthenticAMD',
    level: 0xd,
    xlevel: 0x8000_000a,
    family: 15,
    model: 107,
    stepping: 1,
    modelId: QEMU_MODEL_ID,
    description: QEMU_MODEL_ID,
    words: [
      bits(W_1_EDX, ...PPRO, 'mtrr', 'clflush', 'mca', 'pse36'),
      bits(W_1_ECX, 'pni', 'cx16'),
      0,
      bits(W_8000_0001_EDX, 'lm', 'syscall', 'nx'),
      bits(W_8000_0001_ECX, 'lahf-lm', 'svm'),
      0,
    ],
  },
  pentium: {
    vendor: 'GenuineIntel',
    level: 1,
    xlevel: 0,
    family: 5,
    model: 4,
    stepping: 3,
    modelId: '',
    description: 'Intel Pentium',
    words: [bits(W_1_EDX, ...PENTIUM), 0, 0, 0, 0, 0],
  },
  pentium2: {
    vendor: 'GenuineIntel',
    level: 2,
    xlevel: 0,
    family: 6,
    model: 5,
    stepping: 2,
    modelId: '',
    description: 'Intel Pentium II',
    words: [bits(W_1_EDX, ...PENTIUM2), 0, 0, 0, 0, 0],
  },
  pentium3: {
    vendor: 'GenuineIntel',
    level: 3,
    xlevel: 0,
    family: 6,
    model: 7,
    stepping: 3,
    modelId: '',
    description: 'Intel Pentium III',
    words: [bits(W_1_EDX, ...PENTIUM3), 0, 0, 0, 0, 0],
  },
  Nehalem: {
    vendor: 'GenuineIntel',
    level: 11,
    xlevel: 0x8000_0008,
    family: 6,
    model: 26,
    stepping: 3,
    modelId: 'Intel Core i7 9xx (Nehalem Class Core i7)',
    description: 'Intel Core i7 9xx (Nehalem Class Core i7)',
    words: [
      bits(W_1_EDX, ...CORE_EDX),
      bits(W_1_ECX, ...NEHALEM_ECX),
      0,
      bits(W_8000_0001_EDX, 'lm', 'syscall', 'nx'),
      bits(W_8000_0001_ECX, 'lahf-lm'),
      0,
    ],
  },
  // Haswell-v1's identity with Haswell-noTSX's features (TSX, HLE/RTM, is not implemented).
  Haswell: {
    vendor: 'GenuineIntel',
    level: 0xd,
    xlevel: 0x8000_0008,
    family: 6,
    model: 60,
    stepping: 4,
    modelId: 'Intel Core Processor (Haswell)',
    description: 'Intel Core Processor (Haswell)',
    words: HASWELL_WORDS,
  },
  'Haswell-noTSX': {
    vendor: 'GenuineIntel',
    level: 0xd,
    xlevel: 0x8000_0008,
    family: 6,
    model: 60,
    stepping: 1,
    modelId: 'Intel Core Processor (Haswell, no TSX)',
    description: 'Intel Core Processor (Haswell, no TSX)',
    words: HASWELL_WORDS,
  },
};

/**
 * What a vCPU gets without `-cpu`: the facade's x86-64 model (SSE to SSE4.2, POPCNT, AES-NI,
 * PCLMULQDQ, XSAVE with x87|SSE, IA-32e mode), the `host` CPUID from before the facade had AVX, so
 * that default guests keep their CPUID. Not a `-cpu` name.
 */
export const DEFAULT_CPU_MODEL = 'default';

/** Whether `model` takes a CPUID table as it is (host, max, the default) rather than a named model. */
export function isTableModel(model: string): boolean {
  return model === 'host' || model === 'max' || model === DEFAULT_CPU_MODEL;
}

/** Every `-cpu` model name Typevisor accepts (`host` and `max`: everything the facade supports). */
export const CPU_MODELS: readonly string[] = [...Object.keys(MODELS), 'host', 'max'];

/** The `-cpu` models with what `-cpu help` says of each (host and max in QEMU's words for KVM). */
export function cpuModelList(): readonly { readonly name: string; readonly description: string }[] {
  return [
    ...Object.entries(MODELS).map(([name, m]) => ({ name, description: m.description })),
    { name: 'host', description: 'KVM processor with all supported host features' },
    { name: 'max', description: 'Enables all features supported by the accelerator in the current host' },
  ];
}

/** The feature names `-cpu model,+feat` accepts (QEMU's names; the aliases are accepted too), sorted. */
export function cpuFlagNames(): readonly string[] {
  return [...FEATURES.keys()].sort();
}

/**
 * `-cpu help` as qemu-system-x86_64 prints it (x86_cpu_list): "Available CPUs:", one `x86 <name>`
 * line per model, then "Recognized CPUID flags:" with the names wrapped before column 75.
 */
export function cpuHelpText(): string {
  const lines = ['Available CPUs:'];
  for (const m of cpuModelList()) lines.push(`x86 ${m.name.padEnd(20)}  ${m.description}`.trimEnd());
  lines.push('', 'Recognized CPUID flags:');
  let line = '';
  for (const name of cpuFlagNames()) {
    // listflags(): a new line when the name would reach column 75 (`line` holds its 2-space indent).
    if (line !== '' && line.length - 1 + name.length + 1 >= 75) {
      lines.push(line);
      line = '';
    }
    line += `${line === '' ? '  ' : ' '}${name}`;
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}

/** A `-cpu` value that names no model or feature, with QEMU's message. */
export class CpuModelError extends Error {
  override readonly name = 'CpuModelError';
}

/**
 * Checks a parsed `-cpu` value: the model exists and every feature is one QEMU knows.
 * `explicit` tells whether the feature came as `feat=on|off` (QEMU reports those as a global).
 */
export function checkCpuConfig(cpu: CpuConfig, explicit: ReadonlySet<string> = new Set()): void {
  if (!CPU_MODELS.includes(cpu.model)) throw new CpuModelError(`unable to find CPU model '${cpu.model}'`);
  for (const [name, on] of cpu.features) {
    if (FEATURES.has(ALIASES[name] ?? name)) continue;
    const prop = `'${cpu.model}-x86_64-cpu.${name}'`;
    throw new CpuModelError(
      explicit.has(name)
        ? `can't apply global ${cpu.model}-x86_64-cpu.${name}=${on ? 'on' : 'off'}: Property ${prop} not found`
        : `Property ${prop} not found`,
    );
  }
}

/** XCR0 components (x86_ext_save_areas): x87, SSE, YMM (AVX's upper halves, 256 bytes at 576). */
const XSTATE_FP_SSE = 3;
const XSTATE_YMM = 4;
const LEGACY_AND_HEADER = 576;
const YMM_SIZE = 256;
const XSAVE_BIT = 1 << 26;
const AVX_BIT = 1 << 28;

/**
 * Leaf 0DH for the feature words (cpu_x86_cpuid, x86_cpu_enable_xsave_components): nothing without
 * XSAVE; else sub-leaf 0 with the XCR0 components the features enable (YMM with AVX) within what
 * the accelerator supports, the area size in EBX and ECX (EBX then follows XCR0 in KVM), sub-leaf 1
 * with the XSAVE word when not 0, sub-leaf 2 with YMM's size and offset when YMM is enabled.
 */
function xsaveLeaves(words: readonly number[], supported: readonly CpuidEntry[]): CpuidEntry[] {
  if ((words[WI.ECX1]! & XSAVE_BIT) === 0) return [];
  const host = findEntry(supported, 0xd, 0);
  let xcr0 = XSTATE_FP_SSE | ((words[WI.ECX1]! & AVX_BIT) !== 0 ? XSTATE_YMM : 0);
  if (host !== undefined) xcr0 &= host.eax | XSTATE_FP_SSE;
  const size = LEGACY_AND_HEADER + (xcr0 & XSTATE_YMM ? YMM_SIZE : 0);
  const leaf = (index: number, eax: number, ebx = 0, ecx = 0): CpuidEntry => ({
    function: 0xd,
    index,
    flags: 1,
    eax,
    ebx,
    ecx,
    edx: 0,
  });
  const out = [leaf(0, xcr0, size, size)];
  if (words[WI.XSAVE]! !== 0) out.push(leaf(1, words[WI.XSAVE]!));
  if (xcr0 & XSTATE_YMM) out.push(leaf(2, YMM_SIZE, LEGACY_AND_HEADER));
  return out;
}

/** The CPUID a vCPU gets for `cpu`, and QEMU's warnings for what the accelerator lacks. */
export interface ResolvedCpu {
  readonly cpuid: CpuidEntry[];
  readonly warnings: string[];
}

const hexLeaf = (leaf: number): string => `${leaf.toString(16).toUpperCase().padStart(2, '0')}H`;

function findEntry(entries: readonly CpuidEntry[], leaf: number, index: number): CpuidEntry | undefined {
  return entries.find((e) => e.function === leaf && (e.index === index || (e.flags & 1) === 0));
}

function vendorRegs(vendor: string): { ebx: number; edx: number; ecx: number } {
  const b = new TextEncoder().encode(vendor);
  const dw = (i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  return { ebx: dw(0), edx: dw(4), ecx: dw(8) };
}

/** CPUID.1:EAX from family/model/stepping, with the extended fields as QEMU encodes them. */
function signature(family: number, model: number, stepping: number): number {
  const fam = family > 0x0f ? 0x0f | ((family - 0x0f) << 12) : family;
  return ((fam << 8) | ((model & 0x0f) << 4) | ((model >> 4) << 16) | (stepping & 0x0f)) >>> 0;
}

function brandEntries(modelId: string): CpuidEntry[] {
  const b = new Uint8Array(48);
  b.set(new TextEncoder().encode(modelId).subarray(0, 47));
  const dv = new DataView(b.buffer);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < 3; i++) {
    const r = (j: number) => dv.getUint32(i * 16 + j * 4, true);
    out.push({ function: 0x8000_0002 + i, index: 0, flags: 0, eax: r(0), ebx: r(1), ecx: r(2), edx: r(3) });
  }
  return out;
}

/** KVM's signature leaf and its feature leaf (the feature word is written in afterwards), as QEMU adds them. */
function kvmLeaves(): CpuidEntry[] {
  return [
    { function: KVM_CPUID_SIGNATURE, index: 0, flags: 0, eax: KVM_CPUID_FEATURES, ...KVM_SIGNATURE },
    { function: KVM_CPUID_FEATURES, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ];
}

const LM_BIT = 1 << 29;
const PSE36_BIT = 1 << 17;

/**
 * CPUID.80000008H:EAX of a named model (cpu_x86_cpuid): with long mode the physical-address width
 * (`phys-bits`, QEMU's default 40, never above what the accelerator reports) and 48 linear-address
 * bits; without it 36 bits with PSE-36, else 32, and no linear width.
 */
function addressSizes(words: readonly number[], supported: readonly CpuidEntry[]): number {
  if ((words[3]! & LM_BIT) === 0) return (words[0]! & PSE36_BIT) !== 0 ? 36 : 32;
  const host = findEntry(supported, 0x8000_0008, 0);
  const phys = Math.min(40, host === undefined ? 40 : host.eax & 0xff);
  return (48 << 8) | phys;
}

/**
 * Builds the CPUID for `cpu` against `supported` (KVM_GET_SUPPORTED_CPUID). `host` and `max` are the
 * supported CPUID itself; a named model gets its vendor, levels, signature, brand string and feature
 * words. `+feat`/`feat=on` add features, `-feat`/`feat=off` remove them; then every feature the
 * accelerator does not support is removed with QEMU's warning. Call {@link checkCpuConfig} first.
 */
export function resolveCpu(cpu: CpuConfig, supported: readonly CpuidEntry[]): ResolvedCpu {
  const model = MODELS[cpu.model];
  const wordOf = (table: readonly CpuidEntry[], w: FeatureWord): number =>
    (findEntry(table, w.leaf, w.index)?.[w.reg] ?? 0) >>> 0;
  const supportedWord = (w: FeatureWord): number =>
    (wordOf(supported, w) | (w === W_1_ECX ? HYPERVISOR_BIT : 0)) >>> 0;
  // host/max: the supported CPUID; the default: the facade's x86-64 model's table, within it.
  const table = cpu.model === DEFAULT_CPU_MODEL ? X86_64_KVM_MODEL.cpuid : supported;
  const words = WORDS.map((w, i) =>
    i === WI.KVM ? KVM_DEFAULT_WORD : model === undefined ? wordOf(table, w) : model.words[i]!,
  );
  words[WI.ECX1] = (words[WI.ECX1]! | HYPERVISOR_BIT) >>> 0;
  for (const [name, on] of cpu.features) {
    const f = FEATURES.get(ALIASES[name] ?? name);
    if (f === undefined) continue;
    words[f.word] = on ? (words[f.word]! | f.mask) >>> 0 : (words[f.word]! & ~f.mask) >>> 0;
  }
  const warnings: string[] = [];
  for (const [i, w] of WORDS.entries()) {
    const missing = (words[i]! & ~supportedWord(w)) >>> 0;
    for (let bit = 0; bit < 32; bit++) {
      if ((missing & (1 << bit)) === 0) continue;
      const where = `CPUID.${hexLeaf(w.leaf)}:${w.reg.toUpperCase()}`;
      warnings.push(`host doesn't support requested feature: ${where}.${w.names[bit] ?? ''} [bit ${bit}]`);
    }
    words[i] = (words[i]! & ~missing) >>> 0;
  }

  let entries: CpuidEntry[];
  if (model === undefined) {
    // KVM's leaves as this VMM sets them (the accelerator's table may or may not report them).
    const hardware = table.filter((e) => e.function >>> 0 < 0x4000_0000 || e.function >>> 0 >= 0x8000_0000);
    entries = [...hardware.map((e) => ({ ...e })), ...kvmLeaves()].sort(
      (a, b) => (a.function >>> 0) - (b.function >>> 0) || a.index - b.index,
    );
  } else {
    const v = vendorRegs(model.vendor);
    const leaf1 = findEntry(supported, 1, 0);
    entries = [{ function: 0, index: 0, flags: 0, eax: model.level, ...v }];
    for (let leaf = 1; leaf <= model.level; leaf++) {
      const base = supported.filter((e) => e.function === leaf);
      if (leaf === 1) {
        const eax = signature(model.family, model.model, model.stepping);
        entries.push({ function: 1, index: 0, flags: 0, eax, ebx: leaf1?.ebx ?? 0, ecx: 0, edx: 0 });
      } else if (base.length > 0 && leaf !== 7 && leaf !== 0xd) {
        entries.push(...base.map((e) => ({ ...e })));
      } else if (leaf !== 0xd) {
        // Leaf 0DH is built from the features below.
        entries.push({ function: leaf, index: 0, flags: leaf === 7 ? 1 : 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
      }
    }
    entries.push(...kvmLeaves());
    if (model.xlevel >= 0x8000_0000) {
      entries.push({ function: 0x8000_0000, index: 0, flags: 0, eax: model.xlevel, ...v });
      entries.push({
        function: 0x8000_0001,
        index: 0,
        flags: 0,
        eax: signature(model.family, model.model, model.stepping),
        ebx: 0,
        ecx: 0,
        edx: 0,
      });
      if (model.xlevel >= 0x8000_0004) entries.push(...brandEntries(model.modelId));
      for (let leaf = 0x8000_0005; leaf <= model.xlevel; leaf++) {
        const eax = leaf === 0x8000_0008 ? addressSizes(words, supported) : 0;
        entries.push({ function: leaf, index: 0, flags: 0, eax, ebx: 0, ecx: 0, edx: 0 });
      }
    }
  }
  // Leaf 0DH from the features (within the model's level), in leaf order.
  const level = entries.find((e) => e.function === 0)?.eax ?? 0;
  const others = entries.filter((e) => e.function !== 0xd);
  if (level >= 0xd) {
    const xsave = xsaveLeaves(words, supported);
    const at = others.findIndex((e) => e.function > 0xd);
    others.splice(at < 0 ? others.length : at, 0, ...xsave);
  }
  entries = others;
  // Write the (filtered) feature words into their leaves.
  for (const [i, w] of WORDS.entries()) {
    const at = entries.findIndex((e) => e.function === w.leaf && e.index === w.index);
    // A word whose leaf is above the model's level stays invisible to the guest.
    if (at >= 0) entries[at] = { ...entries[at]!, [w.reg]: words[i]! };
  }
  return { cpuid: entries, warnings };
}
