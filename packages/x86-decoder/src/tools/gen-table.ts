/**
 * Generates `src/table.gen.ts`, the opcode table, from iced-x86's per-Code metadata (OpCodeInfo,
 * CPUID features, RFLAGS, flow control; iced-x86 is MIT-licensed). Run:
 *   node --import tsx/esm packages/x86-decoder/src/tools/gen-table.ts
 * The generated table is the single source of truth of the decoder, formatter, encoder and assembler;
 * `table.test.ts` checks it is fresh.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type Iced = typeof import('iced-x86');
const iced = createRequire(import.meta.url)('iced-x86') as Iced;

/** RFLAGS bits in architectural positions. */
function archFlags(bits: number): number {
  let r = 0;
  if (bits & 1) r |= 0x800; // OF
  if (bits & 2) r |= 0x80; // SF
  if (bits & 4) r |= 0x40; // ZF
  if (bits & 8) r |= 0x10; // AF
  if (bits & 16) r |= 0x1; // CF
  if (bits & 32) r |= 0x4; // PF
  if (bits & 64) r |= 0x400; // DF
  if (bits & 128) r |= 0x200; // IF
  if (bits & 256) r |= 0x40000; // AC
  return r;
}

/** Mnemonics after which a translation block must end although control flow continues. */
const ENDS_BLOCK_MNEMONICS = new Set([
  'Hlt',
  'Wrmsr',
  'Lmsw',
  'Lgdt',
  'Lidt',
  'Lldt',
  'Ltr',
  'Invlpg',
  'Invpcid',
  'Popf',
  'Popfd',
  'Popfq',
  'Sti',
  'Rsm',
  'Xsetbv',
  'Clts',
  'Vmxon',
  'Vmxoff',
  'Vmlaunch',
  'Vmresume',
  'Vmcall',
  'Vmfunc',
  'Vmptrld',
  'Vmclear',
  'Vmwrite',
  'Invept',
  'Invvpid',
  'Monitor',
  'Mwait',
  'Pause',
  'Wbinvd',
  'Invd',
  'Cpuid',
]);

type IcedInstruction = InstanceType<Iced['Instruction']>;
type IcedOpCodeInfo = InstanceType<Iced['OpCodeInfo']>;

function isMemorySpec(s: string): boolean {
  return (
    s.endsWith('_or_mem') ||
    s.startsWith('mem') ||
    s === 'sibmem' ||
    s === 'seg_rBX_al' ||
    s === 'seg_rSI' ||
    s === 'es_rDI' ||
    s === 'seg_rDI'
  );
}

/** Synthesizes an instruction with placeholder operands and records how iced's Intel formatter lays them out. */
function formatTemplate(
  ins: IcedInstruction,
  _o: IcedOpCodeInfo,
  specs: string[],
): { layout: string; memKeyword: string } {
  const { OpKind, Register, Formatter, FormatterSyntax } = iced;
  let immCount = 0;
  let memIndex = -1;
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i]!;
    let k: number = OpKind.Register;
    if (s.endsWith('_or_mem') || s.startsWith('mem') || s === 'sibmem' || s === 'seg_rBX_al') {
      k = OpKind.Memory;
      memIndex = i;
    } else if (s === 'imm8' || s === 'imm8_const_1' || s === 'imm4_m2z') {
      k = immCount++ === 0 ? OpKind.Immediate8 : OpKind.Immediate8_2nd;
    } else if (s === 'imm16') {
      k = OpKind.Immediate16;
      immCount++;
    } else if (s === 'imm32') k = OpKind.Immediate32;
    else if (s === 'imm64') k = OpKind.Immediate64;
    else if (s === 'imm8sex16') k = OpKind.Immediate8to16;
    else if (s === 'imm8sex32') k = OpKind.Immediate8to32;
    else if (s === 'imm8sex64') k = OpKind.Immediate8to64;
    else if (s === 'imm32sex64') k = OpKind.Immediate32to64;
    else if (s.startsWith('br16')) k = OpKind.NearBranch16;
    else if (s.startsWith('br32')) k = OpKind.NearBranch32;
    else if (s.startsWith('br64') || s.startsWith('xbegin')) k = OpKind.NearBranch64;
    else if (s === 'farbr2_2') k = OpKind.FarBranch16;
    else if (s === 'farbr4_2') k = OpKind.FarBranch32;
    else if (s === 'seg_rSI') k = OpKind.MemorySegRSI;
    else if (s === 'es_rDI') k = OpKind.MemoryESRDI;
    else if (s === 'seg_rDI') k = OpKind.MemorySegRDI;
    ins.setOpKind(i, k);
    if (k === OpKind.Register) ins.setOpRegister(i, Register.RAX);
  }
  if (memIndex >= 0) ins.memoryBase = Register.RAX;
  const f = new Formatter(FormatterSyntax.Intel);
  const n = f.operandCount(ins);
  const layout: (string | number)[] = [];
  let identity = n === specs.length;
  let memKeyword = '';
  for (let j = 0; j < n; j++) {
    let i = f.getInstructionOperand(ins, j);
    const text = f.formatOperand(ins, j);
    if (i !== undefined && text.includes('[') && !isMemorySpec(specs[i]!)) {
      // iced reports the wrong instruction operand for string instructions (SCASB shows [rdi] as op 0).
      const m = specs.findIndex(isMemorySpec);
      i = m >= 0 ? m : i;
    }
    if (i === undefined) {
      layout.push(f.formatOperand(ins, j));
      identity = false;
    } else {
      layout.push(i);
      if (i !== j) identity = false;
      if (i === memIndex) {
        const t = f.formatOperand(ins, j);
        memKeyword = t.slice(0, t.indexOf('['));
      }
    }
  }
  f.free();
  return { layout: identity ? 'null' : JSON.stringify(layout), memKeyword };
}

export function generateTable(): string {
  const {
    Code,
    CodeExt,
    EncodingKind,
    OpCodeOperandKind,
    Instruction,
    Mnemonic,
    CpuidFeature,
    Formatter,
    FormatterSyntax,
    MemorySizeExt,
  } = iced;
  const formatter = new Formatter(FormatterSyntax.Intel);
  const codeNames = Object.keys(Code).filter((k) => Number.isNaN(Number(k)));
  const usedMnemonics = new Map<string, number>([['INVALID', 0]]);
  const usedCpuid = new Map<string, number>([['None', 0]]);
  const usedKinds = new Map<string, number>([['None', 0]]);
  const rows: string[] = [];
  const codeDecl: string[] = ['  INVALID: 0,'];
  const codeMnemonicText: string[] = ["''"];
  const codeFormat: string[] = ['null'];
  const codeMemKeyword: string[] = ["''"];
  let codeNo = 1;
  const idOf = (m: Map<string, number>, k: string): number => {
    let v = m.get(k);
    if (v === undefined) {
      v = m.size;
      m.set(k, v);
    }
    return v;
  };
  for (const name of codeNames) {
    const c = (Code as unknown as Record<string, number>)[name]!;
    const o = CodeExt.opCode(c);
    const enc = EncodingKind[o.encoding];
    if ((enc !== 'Legacy' && enc !== 'VEX') || o.decoderOption !== 0 || !o.isInstruction) {
      o.free();
      continue;
    }
    const modes = (o.intelDecoder16 ? 1 : 0) | (o.intelDecoder32 ? 2 : 0) | (o.intelDecoder64 ? 4 : 0);
    if (modes === 0) {
      o.free();
      continue;
    }
    const ins = Instruction.create(c);
    const cpuid = Array.from(ins.cpuidFeatures()).map((f) => CpuidFeature[f] ?? 'None');
    const mn = Mnemonic[o.mnemonic] ?? 'INVALID';
    idOf(usedMnemonics, mn);
    for (const f of cpuid) idOf(usedCpuid, f);
    const kinds: number[] = [];
    const kindNames: string[] = [];
    for (let i = 0; i < o.opCount; i++) {
      const kn = OpCodeOperandKind[o.opKind(i)] ?? 'None';
      kinds.push(idOf(usedKinds, kn));
      kindNames.push(`K.${kn}`);
    }
    let opcode = o.opCode;
    const map = o.table; // 0 normal, 1 0F, 2 0F38, 3 0F3A
    let reg = o.isGroup ? o.groupIndex : -1;
    let rm = o.isRmGroup ? o.rmGroupIndex : -1;
    if (o.opCodeLength === 2) {
      // "D9 E8", "0F 01 D0", "0F 3A 0F C0"...: the second byte is a register-form ModRM.
      const second = opcode & 0xff;
      opcode = opcode >>> 8;
      reg = (second >> 3) & 7;
      rm = kindNames.includes('K.sti_opcode') ? -1 : second & 7;
    }
    // mandatory prefix: 0 none (66 = operand size), 1 NP, 2 66, 3 F3, 4 F2
    const mp = o.mandatoryPrefix;
    let osMode = 0;
    if (o.intelForceOpSize64 || o.forceOpSize64) osMode = 2;
    else if (o.defaultOpSize64) osMode = 1;
    const w = enc === 'VEX' ? (o.isWIG ? -1 : o.W) : -1;
    const wig32 = enc === 'VEX' && o.isWIG32 ? 1 : 0;
    const l = enc === 'VEX' ? (o.isLIG ? -1 : o.L) : -1;
    let attrs = 0;
    if (o.canUseLockPrefix) attrs |= 1;
    if (o.canUseRepPrefix) attrs |= 2;
    if (o.canUseRepnePrefix) attrs |= 4;
    if (o.ignoresModBits) attrs |= 8;
    if (o.fwait) attrs |= 16;
    if (o.canUseXacquirePrefix) attrs |= 32;
    if (o.canUseXreleasePrefix) attrs |= 64;
    if (o.canUseBndPrefix) attrs |= 128;
    if (o.canUseNotrackPrefix) attrs |= 256;
    if (o.canUseHintTakenPrefix) attrs |= 512;
    if (o.requiresUniqueRegNums) attrs |= 1024;
    const fc = ins.flowControl;
    const endsBlock =
      fc !== 0 ||
      ENDS_BLOCK_MNEMONICS.has(mn) ||
      (mn === 'Mov' &&
        kinds.some((k) => k === usedKinds.get('cr_reg') || k === usedKinds.get('dr_reg')) &&
        kinds[0] !== idOf(usedKinds, 'r32_rm') &&
        kinds[0] !== idOf(usedKinds, 'r64_rm'));
    const text = formatter.formatMnemonic(ins);
    const tpl = formatTemplate(
      ins,
      o,
      kindNames.map((k) => k.slice(2)),
    );
    codeFormat.push(tpl.layout);
    codeMemKeyword.push(JSON.stringify(tpl.memKeyword));
    const memSize = MemorySizeExt.size(o.memorySize);
    const cols = [
      `C.${name}`,
      `M.${mn}`,
      enc === 'VEX' ? 1 : 0,
      map,
      `0x${opcode.toString(16)}`,
      mp,
      reg,
      rm,
      o.operandSize,
      osMode,
      o.addressSize,
      modes,
      w,
      wig32,
      l,
      attrs,
      `F.${cpuid[0] ?? 'None'}`,
      `F.${cpuid[1] ?? 'None'}`,
      archFlags(ins.rflagsRead),
      archFlags(ins.rflagsModified),
      archFlags(ins.rflagsUndefined),
      fc,
      endsBlock ? 1 : 0,
      memSize,
      `[${kindNames.join(', ')}]`,
    ];
    rows.push(`  // ${o.opCodeString} | ${o.instructionString}\n  [${cols.join(', ')}],`);
    codeDecl.push(`  ${name}: ${codeNo},`);
    codeMnemonicText.push(JSON.stringify(text));
    codeNo++;
    ins.free();
    o.free();
  }
  formatter.free();
  const obj = (name: string, doc: string, m: Map<string, number>) =>
    `/** ${doc} */\nexport const ${name} = {\n${[...m].map(([k, v]) => `  ${k}: ${v},`).join('\n')}\n} as const;\nexport type ${name} = (typeof ${name})[keyof typeof ${name}];\n`;
  return `// GENERATED by src/tools/gen-table.ts from iced-x86 ${'1.21.0'} metadata (MIT). Do not edit by hand:
// change the generator and re-run it; table.test.ts fails when this file is stale.

/** Exact encoding form of an instruction (names follow iced-x86's \`Code\`). Dense: index handler tables with it. */
export const Code = {
${codeDecl.join('\n')}
} as const;
export type Code = (typeof Code)[keyof typeof Code];
// Widened to number so the row literal below stays cheap to type-check.
const C: Record<keyof typeof Code, number> = Code;

export const CODE_COUNT = ${codeNo};

${obj('Mnemonic', 'Instruction mnemonic (names follow iced-x86).', usedMnemonics)}
${obj('CpuidFeature', 'CPUID feature an instruction needs (names follow iced-x86).', usedCpuid)}
${obj('OperandSpec', 'How an operand is encoded (names follow iced-x86 OpCodeOperandKind).', usedKinds)}
/** Intel-syntax mnemonic text of each Code (iced-x86 Intel formatter), indexed by Code. */
export const CODE_MNEMONIC_TEXT: readonly string[] = [${codeMnemonicText.join(',')}];

/**
 * Intel formatter operand layout per Code (null: the instruction operands in order). A number is an
 * instruction operand index, a string is literal text (iced-x86 shows e.g. \`st\` for FLD m32fp).
 */
export const CODE_FORMAT_LAYOUT: readonly (readonly (string | number)[] | null)[] = [${codeFormat.join(',')}];

/** Memory size keyword the Intel formatter shows for the Code's memory operand ('' when none). */
export const CODE_MEM_KEYWORD: readonly string[] = [${codeMemKeyword.join(',')}];

/**
 * One row per Code. Columns:
 * code, mnemonic, vex(0 legacy/1 VEX), map(0 one-byte, 1 0F, 2 0F38, 3 0F3A), opcode,
 * mandatoryPrefix(0 none: 66 is operand size, 1 NP, 2 66, 3 F3, 4 F2), modrm.reg (-1 any), modrm.rm (-1 any;
 * else register form only), operandSize(0 any), osMode(0 normal, 1 default 64, 2 forced 64),
 * addressSize(0 any), modes(1=16,2=32,4=64 bit), W(-1 ignored), W ignored outside 64-bit, L(-1 ignored),
 * attrs(1 lock, 2 rep, 4 repne, 8 ignores mod, 16 fwait form, 32 xacquire, 64 xrelease, 128 bnd, 256 notrack,
 * 512 hint, 1024 unique regs), cpuid, cpuid2, flagsRead, flagsWritten, flagsUndefined, flowControl,
 * endsBlock, memory size in bytes, operand specs.
 */
export type OpcodeRow = readonly [
  code: number,
  mnemonic: number,
  vex: number,
  map: number,
  opcode: number,
  mandatoryPrefix: number,
  reg: number,
  rm: number,
  operandSize: number,
  osMode: number,
  addressSize: number,
  modes: number,
  w: number,
  wig32: number,
  l: number,
  attrs: number,
  cpuid: number,
  cpuid2: number,
  flagsRead: number,
  flagsWritten: number,
  flagsUndefined: number,
  flowControl: number,
  endsBlock: number,
  memSize: number,
  operands: readonly number[],
];

const M: Record<keyof typeof Mnemonic, number> = Mnemonic;
const F: Record<keyof typeof CpuidFeature, number> = CpuidFeature;
const K: Record<keyof typeof OperandSpec, number> = OperandSpec;

export const OPCODE_ROWS: readonly OpcodeRow[] = [
${rows.join('\n')}
];
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL('../table.gen.ts', import.meta.url));
  writeFileSync(out, generateTable());
  console.log(`wrote ${out}`);
}
