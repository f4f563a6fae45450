/**
 * Intel-syntax formatter, matching iced-x86's default Intel formatter text (hex numbers with an `h`
 * suffix, numbers below 10 in decimal, memory size keyword only where the operands leave it ambiguous,
 * absolute targets for branches and RIP-relative operands). Not on the hot path.
 */
import { type Instruction, OpKind, Prefix, RepPrefix } from './instruction.js';
import { CODE_NAMES } from './names.js';
import { REGISTER_CLASS, REGISTER_NAMES, Register, RegisterClass } from './registers.js';
import {
  CODE_FORMAT_LAYOUT,
  Code,
  Mnemonic,
  CODE_MEM_KEYWORD,
  CODE_MNEMONIC_TEXT,
  OperandSpec as K,
} from './table.gen.js';
import {
  ATTR_BND,
  ATTR_HINT,
  ATTR_NOTRACK,
  ATTR_REP,
  ATTR_REPNE,
  ATTR_XACQUIRE,
  ATTR_XRELEASE,
  T_ATTR,
  T_OPS,
} from './tables.js';

/** Hex the way iced-x86 prints it: `0FFh`, `10h`; values below 10 in decimal. */
export function formatHex(v: bigint, minDigits = 0): string {
  if (v < 10n && v >= 0n) return v.toString();
  let s = v.toString(16).toUpperCase().padStart(minDigits, '0');
  if (s.charCodeAt(0) >= 0x41) s = `0${s}`;
  return `${s}h`;
}

function farHex(v: number, digits: number): string {
  return v < 10 ? String(v) : formatHex(BigInt(v), digits);
}

function u64(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function maskTo(v: bigint, bits: number): bigint {
  return BigInt.asUintN(bits, v);
}

function regName(r: number, spec: number): string {
  if (r >= Register.ST0 && r <= Register.ST7) return spec === K.st0 ? 'st' : `st(${r - Register.ST0})`;
  return REGISTER_NAMES[r] ?? '?';
}

/** Codes whose `r32m16`/`r64m16` register form prints the 16-bit register (iced-x86 convention). */
const REG16_FORMS = new Set<number>([
  Code.Mov_Sreg_r32m16,
  Code.Mov_Sreg_r64m16,
  Code.Arpl_r32m16_r32,
  Code.Lldt_r32m16,
  Code.Lldt_r64m16,
  Code.Ltr_r32m16,
  Code.Ltr_r64m16,
  Code.Verr_r32m16,
  Code.Verr_r64m16,
  Code.Verw_r32m16,
  Code.Verw_r64m16,
  Code.Lmsw_r32m16,
  Code.Lmsw_r64m16,
]);

/** x87 codes printed without operands when the ST(i) operand is ST(1) (`faddp` = `faddp st(1),st`). */
const X87_IMPLICIT_ST1 = new Set<number>([
  Code.Faddp_sti_st0,
  Code.Fmulp_sti_st0,
  Code.Fsubrp_sti_st0,
  Code.Fsubp_sti_st0,
  Code.Fdivrp_sti_st0,
  Code.Fdivp_sti_st0,
  Code.Fcom_st0_sti,
  Code.Fcomp_st0_sti,
  Code.Fucom_st0_sti,
  Code.Fucomp_st0_sti,
  Code.Fxch_st0_sti,
  Code.Fcom_st0_sti_DCD0,
  Code.Fcomp_st0_sti_DCD8,
  Code.Fcomp_st0_sti_DED0,
  Code.Fxch_st0_sti_DDC8,
  Code.Fxch_st0_sti_DFC8,
]);

/** IMUL r, r/m, imm prints two operands when destination and source are the same register. */
const IMUL_3OP = new Set<number>([
  Code.Imul_r16_rm16_imm16,
  Code.Imul_r32_rm32_imm32,
  Code.Imul_r64_rm64_imm32,
  Code.Imul_r16_rm16_imm8,
  Code.Imul_r32_rm32_imm8,
  Code.Imul_r64_rm64_imm8,
]);

/** The CMPPS/CMPPD/CMPSS/CMPSD predicates by immediate (`cmpltps` = `cmpps x, y, 1`); the assembler reads them too. */
export const CMP_PREDICATES: readonly string[] = [
  'eq',
  'lt',
  'le',
  'unord',
  'neq',
  'nlt',
  'nle',
  'ord',
  'eq_uq',
  'nge',
  'ngt',
  'false',
  'neq_oq',
  'ge',
  'gt',
  'true',
  'eq_os',
  'lt_oq',
  'le_oq',
  'unord_s',
  'neq_us',
  'nlt_uq',
  'nle_uq',
  'ord_s',
  'eq_us',
  'nge_uq',
  'ngt_uq',
  'false_os',
  'neq_os',
  'ge_oq',
  'gt_oq',
  'true_us',
];
const PCLMUL_PREDICATES: Record<number, string> = { 0: 'lqlq', 1: 'hqlq', 16: 'lqhq', 17: 'hqhq' };

/** CMPPS-style and PCLMULQDQ pseudo-op: the mnemonic text and whether the immediate is folded into it. */
function pseudoOp(insn: Instruction, m: string): { text: string; folded: boolean } | null {
  const cmp = /^(v?)cmpeq(ps|pd|ss|sd)$/.exec(m);
  if (cmp) {
    const imm = insn.immediate & 0xff;
    const limit = cmp[1] ? 32 : 8;
    if (imm < limit) return { text: `${cmp[1]}cmp${CMP_PREDICATES[imm]}${cmp[2]}`, folded: true };
    return { text: `${cmp[1]}cmp${cmp[2]}`, folded: false };
  }
  const pcl = /^(v?)pclmullqlqdq$/.exec(m);
  if (pcl) {
    const name = PCLMUL_PREDICATES[insn.immediate & 0xff];
    if (name !== undefined) return { text: `${pcl[1]}pclmul${name}dq`, folded: true };
    return { text: `${pcl[1]}pclmulqdq`, folded: false };
  }
  return null;
}

function stringReg(insn: Instruction, kind: number): string {
  const si = kind === OpKind.MemorySegRSI;
  const base = si ? 'si' : 'di';
  const a = insn.addressSize;
  const name = a === 16 ? base : a === 32 ? `e${base}` : `r${base}`;
  let seg = '';
  const sp = insn.segmentPrefix;
  if (kind === OpKind.MemoryESRDI) {
    if (sp !== Register.None && sp !== Register.DS) seg = 'es:';
  } else if (sp !== Register.None && sp !== Register.DS) seg = `${REGISTER_NAMES[sp]}:`;
  return `${seg}[${name}]`;
}

const X87_ENV = /^F(?:n?st|ld)env_m(14|28)byte$|^F(?:n?save|rstor)_m(94|108)byte$/;

/** Memory size keyword; x87 environment/state images show theirs when 66 selects the other layout. */
function memKeyword(insn: Instruction): string {
  const m = X87_ENV.exec(CODE_NAMES[insn.code] ?? '');
  if (m) {
    const small = m[1] === '14' || m[2] === '94';
    if (small === (insn.bitness === 16)) return '';
    return m[1] ? `fpuenv${m[1]} ptr ` : `fpustate${m[2]} ptr `;
  }
  return CODE_MEM_KEYWORD[insn.code] ?? '';
}

function formatMemory(insn: Instruction): string {
  let s = '';
  const base = insn.memBase;
  const index = insn.memIndex;
  const asz = insn.addressSize;
  let disp = u64(insn.memDisplacement, insn.memDisplacementHi);
  if (base === Register.RIP || base === Register.EIP) {
    const next = BigInt(insn.nextIp);
    const target = maskTo(next + BigInt.asIntN(64, disp), base === Register.RIP ? 64 : 32);
    s = formatHex(target);
  } else {
    if (base !== Register.None) s = REGISTER_NAMES[base]!;
    if (index !== Register.None && index !== Register.AL) {
      if (s) s += '+';
      s += REGISTER_NAMES[index]!;
      if (insn.memScale !== 1 || base === Register.None) s += `*${insn.memScale}`;
    }
    if (insn.memDisplSize !== 0 || s === '') {
      if (s === '') {
        s = formatHex(maskTo(disp, asz));
      } else {
        disp = BigInt.asIntN(asz === 16 ? 16 : 64, disp);
        if (disp < 0n) s += `-${formatHex(-disp)}`;
        else if (disp > 0n) s += `+${formatHex(disp)}`;
      }
    }
  }
  // iced-x86 shows an override only when it differs from the default segment; LEA has no segment.
  let seg = '';
  const sp = insn.segmentPrefix;
  if (sp !== Register.None && insn.mnemonic !== Mnemonic.Lea) {
    const ssDefault =
      base === Register.BP ||
      base === Register.EBP ||
      base === Register.RBP ||
      base === Register.ESP ||
      base === Register.RSP;
    if (sp !== (ssDefault ? Register.SS : Register.DS)) seg = `${REGISTER_NAMES[sp]}:`;
  }
  return `${memKeyword(insn)}${seg}[${s}]`;
}

function immediateText(insn: Instruction, kind: number): string {
  switch (kind) {
    case OpKind.Immediate8:
      return formatHex(BigInt(insn.immediate & 0xff));
    case OpKind.Immediate8_2nd:
      return formatHex(BigInt(insn.immediate2 & 0xff));
    case OpKind.Immediate16:
      return formatHex(BigInt(insn.immediate & 0xffff));
    case OpKind.Immediate8to16:
      return formatHex(BigInt(insn.immediate & 0xffff));
    case OpKind.Immediate32:
    case OpKind.Immediate8to32:
      return formatHex(BigInt(insn.immediate >>> 0));
    case OpKind.Immediate64:
    case OpKind.Immediate8to64:
    case OpKind.Immediate32to64:
      return formatHex(u64(insn.immediate, insn.immediateHi));
    default:
      return '';
  }
}

/** Text of instruction operand `i` (0-based, instruction order). */
export function formatOperand(insn: Instruction, i: number): string {
  const kind = insn.opKind(i);
  switch (kind) {
    case OpKind.Register: {
      const r = insn.opRegister(i);
      if (REG16_FORMS.has(insn.code) && r >= Register.EAX && r <= Register.R15) {
        return REGISTER_NAMES[Register.AX + ((r - Register.EAX) & 15)]!;
      }
      return regName(r, T_OPS[insn.code * 5 + i]!);
    }
    case OpKind.Memory:
      return formatMemory(insn);
    case OpKind.NearBranch: {
      const xbegin = insn.code === Code.Xbegin_rel16 || insn.code === Code.Xbegin_rel32;
      const size = xbegin ? (insn.bitness === 16 ? 32 : insn.bitness) : insn.operandSize;
      const digits = size === 16 ? 4 : size === 32 ? 8 : 16;
      const spec = T_OPS[insn.code * 5 + i];
      const m = CODE_MNEMONIC_TEXT[insn.code] ?? '';
      const short =
        (spec === K.br16_1 || spec === K.br32_1 || spec === K.br64_1) &&
        m.charCodeAt(0) === 0x6a &&
        !m.endsWith('cxz');
      const t = maskTo(BigInt(insn.nearBranchTarget), size);
      return `${short ? 'short ' : ''}${formatHex(t, digits)}`;
    }
    case OpKind.FarBranch: {
      const size = insn.operandSize === 16 ? 4 : 8;
      return `${farHex(insn.farBranchOffset, size)},${farHex(insn.farBranchSelector, 4)}`;
    }
    case OpKind.MemorySegRSI:
    case OpKind.MemoryESRDI:
    case OpKind.MemorySegRDI:
      return stringReg(insn, kind);
    default:
      return immediateText(insn, kind);
  }
}

/** All operands as iced-x86 joins them (`eax,[rbx+4]`). */
export function formatOperands(insn: Instruction): string {
  const code = insn.code;
  const nop = nopAsXchg(insn);
  if (nop !== '') return nop;
  if (X87_IMPLICIT_ST1.has(code) && (insn.op0Register === Register.ST1 || insn.op1Register === Register.ST1))
    return '';
  if (IMUL_3OP.has(code) && insn.op1Kind === OpKind.Register && insn.op0Register === insn.op1Register) {
    return `${formatOperand(insn, 0)},${formatOperand(insn, 2)}`;
  }
  const m = CODE_MNEMONIC_TEXT[code] ?? '';
  const pseudo =
    m.charCodeAt(0) === 0x76 || m.charCodeAt(0) === 0x63 || m.charCodeAt(0) === 0x70
      ? pseudoOp(insn, m)
      : null;
  if (pseudo !== null && !pseudo.folded) {
    let s = '';
    for (let i = 0; i < insn.opCount; i++) s += `${i ? ',' : ''}${formatOperand(insn, i)}`;
    return s;
  }
  const layout = CODE_FORMAT_LAYOUT[code];
  if (layout === null || layout === undefined) {
    let s = '';
    for (let i = 0; i < insn.opCount; i++) {
      if (i) s += ',';
      s += formatOperand(insn, i);
    }
    return s;
  }
  return layout.map((x) => (typeof x === 'number' ? formatOperand(insn, x) : x)).join(',');
}

const STRING_COMPARE = new Set(['cmpsb', 'cmpsw', 'cmpsd', 'cmpsq', 'scasb', 'scasw', 'scasd', 'scasq']);

/** Mnemonic with its prefixes (`rep movsb`, `lock add`). */
export function formatMnemonic(insn: Instruction): string {
  let m = nopAsXchg(insn) !== '' ? 'xchg' : (CODE_MNEMONIC_TEXT[insn.code] ?? '(bad)');
  const pseudo = pseudoOp(insn, m);
  if (pseudo !== null) m = pseudo.text;
  const attrs = T_ATTR[insn.code]!;
  let p = '';
  // XACQUIRE/XRELEASE (F2/F3) apply to LOCKed memory forms, XCHG with memory and (XRELEASE) MOV to memory.
  const hasMem = insn.op0Kind === OpKind.Memory || insn.op1Kind === OpKind.Memory;
  const locked = hasMem && (insn.lock || m === 'xchg' || m === 'mov');
  const stringOp = (attrs & (ATTR_REP | ATTR_REPNE)) !== 0;
  if (insn.repPrefix === RepPrefix.Rep) {
    if (attrs & ATTR_REP || (m === 'ret' && insn.opCount === 0)) p = STRING_COMPARE.has(m) ? 'repe ' : 'rep ';
    else if (attrs & ATTR_XRELEASE && locked) p = 'xrelease ';
  } else if (insn.repPrefix === RepPrefix.Repne) {
    if (stringOp) p = 'repne ';
    else if (attrs & ATTR_BND) p = 'bnd ';
    else if (attrs & ATTR_XACQUIRE && locked) p = 'xacquire ';
  }
  if (insn.lock) p += 'lock ';
  // In 64-bit mode an FS/GS override makes a later 2E/3E an ignored segment prefix, not a hint.
  const fsgs = insn.bitness === 64 && (insn.prefixes & (Prefix.Fs | Prefix.Gs)) !== 0;
  if (insn.prefixes & Prefix.LastSegDs && !fsgs) {
    if (attrs & ATTR_NOTRACK) p = `notrack ${p}`;
    else if (attrs & ATTR_HINT) p = `hint-taken ${p}`;
  } else if (insn.prefixes & Prefix.LastSegCs && !fsgs && attrs & ATTR_HINT) p = `hint-not-taken ${p}`;
  p = sizePseudoPrefix(insn) + p;
  return p + m;
}

/** NOP with a non-default operand size is shown as the XCHG it encodes (`66 90` = `xchg ax,ax`). */
function nopAsXchg(insn: Instruction): string {
  const c = insn.code;
  if (c === Code.Nopw && insn.bitness !== 16) return 'ax,ax';
  if (c === Code.Nopd && insn.bitness === 16) return 'eax,eax';
  if (c === Code.Nopq) return 'rax,rax';
  return '';
}

/** Mnemonics whose operand size is invisible without register/memory operands (`66 6A 01` = `data32 push 1`). */
const SIZE_HIDDEN = new Set(['push', 'pop', 'ret', 'ret far', 'enter', 'leave']);

/** A general-purpose register or memory operand (they show the operand size; segment registers do not). */
function hasRegOrMem(insn: Instruction): boolean {
  for (let i = 0; i < insn.opCount; i++) {
    const k = insn.opKind(i);
    if (k === OpKind.Memory) return true;
    if (k === OpKind.Register && REGISTER_CLASS[insn.opRegister(i)] !== RegisterClass.Segment) return true;
  }
  return false;
}

const LOOPS = new Set<number>([Mnemonic.Loop, Mnemonic.Loope, Mnemonic.Loopne]);

/** iced-x86 prints `data16`/`addr32`... when a 66/67 prefix changes a branch or an implicit address. */
function sizePseudoPrefix(insn: Instruction): string {
  let p = '';
  if (insn.prefixes & Prefix.OperandSize) {
    const k0 = insn.op0Kind;
    if (insn.bitness !== 64 && (k0 === OpKind.NearBranch || k0 === OpKind.FarBranch))
      p = `data${insn.operandSize} `;
    else if (
      SIZE_HIDDEN.has(CODE_MNEMONIC_TEXT[insn.code] ?? '') &&
      !hasRegOrMem(insn) &&
      (insn.bitness === 64 ? insn.operandSize === 16 : insn.operandSize !== insn.bitness)
    )
      p = `data${insn.operandSize} `;
  }
  if (insn.prefixes & Prefix.AddressSize) {
    if (
      LOOPS.has(insn.mnemonic) ||
      insn.memDisplSize === 8 ||
      (insn.memBase === Register.None &&
        insn.memIndex === Register.None &&
        insn.opCount > 0 &&
        T_OPS[insn.code * 5 + (insn.op0Kind === OpKind.Memory ? 0 : 1)] === K.mem_offs)
    ) {
      p += `addr${insn.addressSize} `;
    }
  }
  return p;
}

/** Full Intel text: `mnemonic operands`. */
export function formatInstruction(insn: Instruction): string {
  if (insn.code === 0) return '(bad)';
  const ops = formatOperands(insn);
  const m = formatMnemonic(insn);
  return ops ? `${m} ${ops}` : m;
}
