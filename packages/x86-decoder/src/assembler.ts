/**
 * Small Intel-syntax assembler for guest test programs, built on the opcode table and the encoder:
 *
 *   assemble('mov eax, 1\nout 0x3f8, al', { bitness: 16 })   // throws AssembleError on bad input
 *
 * Supported: one instruction per line (or `;`-free `\n`-separated), labels (`name:`), comments
 * (`;` or `#`), `db`/`dw`/`dd`/`dq` with numbers, characters and strings, numbers in decimal,
 * `0x..`, `..h` and `0b..`, `+`/`-` expressions over numbers, labels and `$` (current address),
 * registers, memory operands `[base + index*scale + disp]` with optional `byte/word/dword/qword/tword/
 * xmmword/ymmword ptr` and `es:`-style segment overrides, `short`/`near` hints, `rep`/`repe`/`repne`/
 * `lock` prefixes. The shortest encoding that fits is chosen; branches to labels are relaxed
 * iteratively.
 */
import { decodeInto } from './decoder.js';
import { EncodeError, encode } from './encoder.js';
import { CMP_PREDICATES } from './formatter.js';
import { type Bitness, Instruction, OpKind, Prefix, RepPrefix } from './instruction.js';
import { REGISTER_CLASS, REGISTER_NAMES, REGISTER_SIZE, Register, RegisterClass } from './registers.js';
import {
  CODE_COUNT,
  CODE_FORMAT_LAYOUT,
  CODE_MEM_KEYWORD,
  CODE_MNEMONIC_TEXT,
  OperandSpec as K,
} from './table.gen.js';
import { T_ASZ, T_MEMSIZE, T_MNEMONIC, T_MODES, T_OPCOUNT, T_OPS, T_OSMODE, T_OSZ } from './tables.js';

export class AssembleError extends Error {
  override readonly name = 'AssembleError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface AssembleOptions {
  bitness: Bitness;
  /** Address of the first byte (default 0). */
  origin?: number;
}

// ---------- lexing / parsing ----------

const REG_BY_NAME = new Map<string, number>();
REGISTER_NAMES.forEach((n, i) => {
  if (i > 0) REG_BY_NAME.set(n, i);
});
for (let i = 0; i < 8; i++) REG_BY_NAME.set(`st(${i})`, Register.ST0 + i);
REG_BY_NAME.set('st', Register.ST0);

const SIZE_KEYWORDS: Record<string, number> = {
  byte: 1,
  word: 2,
  dword: 4,
  fword: 6,
  qword: 8,
  tword: 10,
  tbyte: 10,
  xmmword: 16,
  ymmword: 32,
  fpuenv14: 14,
  fpuenv28: 28,
  fpustate94: 94,
  fpustate108: 108,
};

type Operand =
  | { t: 'reg'; reg: number; sti?: boolean }
  | { t: 'imm'; expr: string }
  | {
      t: 'mem';
      size: number;
      seg: number;
      base: number;
      index: number;
      scale: number;
      disp: string;
    }
  | { t: 'far'; sel: string; off: string };

interface ParsedLine {
  line: number;
  label?: string;
  kind: 'insn' | 'data' | 'none';
  mnemonic?: string;
  prefixes: string[];
  operands: Operand[];
  branchHint?: 'short' | 'near';
  dataSize?: number;
  dataItems?: string[];
}

function splitOperands(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  let quote = '';
  for (const ch of s) {
    if (quote) {
      cur += ch;
      if (ch === quote) quote = '';
      continue;
    }
    if (ch === "'" || ch === '"') quote = ch;
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function stripComment(s: string): string {
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === ';' || ch === '#') return s.slice(0, i);
  }
  return s;
}

function parseMemory(text: string, line: number): Operand {
  let s = text.trim();
  let size = 0;
  let seg = 0;
  const m =
    /^(byte|word|dword|fword|qword|tword|tbyte|xmmword|ymmword|fpuenv14|fpuenv28|fpustate94|fpustate108)\s+(ptr\s+)?/i.exec(
      s,
    );
  if (m) {
    size = SIZE_KEYWORDS[m[1]!.toLowerCase()]!;
    s = s.slice(m[0].length).trim();
  }
  const sm = /^([c-gs]s)\s*:\s*/i.exec(s);
  if (sm) {
    seg = REG_BY_NAME.get(sm[1]!.toLowerCase()) ?? 0;
    s = s.slice(sm[0].length).trim();
  }
  if (!s.startsWith('[') || !s.endsWith(']')) throw new AssembleError(`bad memory operand '${text}'`, line);
  const inner = s.slice(1, -1).replace(/\s+/g, '');
  let base = 0;
  let index = 0;
  let scale = 1;
  const dispParts: string[] = [];
  for (const term of inner.match(/[+-]?[^+-]+/g) ?? []) {
    const neg = term.startsWith('-');
    const body = term.replace(/^[+-]/, '').toLowerCase();
    const star = body.split('*');
    if (star.length === 2) {
      const [a, b] = star as [string, string];
      const ra = REG_BY_NAME.get(a);
      const rb = REG_BY_NAME.get(b);
      if (ra !== undefined && !neg) {
        index = ra;
        scale = Number(b);
      } else if (rb !== undefined && !neg) {
        index = rb;
        scale = Number(a);
      } else throw new AssembleError(`bad index term '${term}'`, line);
      if (![1, 2, 4, 8].includes(scale)) throw new AssembleError(`bad scale in '${term}'`, line);
      continue;
    }
    const r = REG_BY_NAME.get(body);
    if (r !== undefined && !neg) {
      if (base === 0) base = r;
      else if (index === 0) index = r;
      else throw new AssembleError(`too many registers in '${text}'`, line);
      continue;
    }
    dispParts.push(term);
  }
  return { t: 'mem', size, seg, base, index, scale, disp: dispParts.join('') || '0' };
}

function parseOperand(text: string, line: number): Operand {
  const s = text.trim();
  const lower = s.toLowerCase();
  const compact = lower.replace(/\s+/g, '');
  const reg = REG_BY_NAME.get(compact);
  if (reg !== undefined) return compact.startsWith('st(') ? { t: 'reg', reg, sti: true } : { t: 'reg', reg };
  if (s.includes('[')) return parseMemory(s, line);
  const far = /^([^:[]+):([^:[]+)$/.exec(s);
  if (far && !REG_BY_NAME.has(far[1]!.trim().toLowerCase())) return { t: 'far', sel: far[1]!, off: far[2]! };
  return { t: 'imm', expr: s };
}

function parseLine(raw: string, line: number): ParsedLine {
  let s = stripComment(raw).trim();
  const res: ParsedLine = { line, kind: 'none', prefixes: [], operands: [] };
  const lm = /^([A-Za-z_.$][\w.$]*):/.exec(s);
  if (lm) {
    res.label = lm[1]!;
    s = s.slice(lm[0].length).trim();
  }
  if (!s) return res;
  let [word, ...rest] = s.split(/\s+/);
  let tail = rest.join(' ');
  while (
    word &&
    /^(rep|repe|repz|repne|repnz|lock|bnd|notrack|xacquire|xrelease|hint-taken|hint-not-taken|data16|data32|data64|addr16|addr32|addr64)$/i.test(
      word,
    )
  ) {
    res.prefixes.push(word.toLowerCase());
    [word, ...rest] = tail.split(/\s+/);
    tail = rest.join(' ');
  }
  const mnemonic = (word ?? '').toLowerCase();
  const dsz = { db: 1, dw: 2, dd: 4, dq: 8 }[mnemonic];
  if (dsz !== undefined) {
    res.kind = 'data';
    res.dataSize = dsz;
    res.dataItems = splitOperands(tail);
    return res;
  }
  res.kind = mnemonic ? 'insn' : 'none';
  res.mnemonic = mnemonic;
  let ops = tail.trim();
  const hm = /^(short|near)\s+/i.exec(ops);
  if (hm) {
    res.branchHint = hm[1]!.toLowerCase() as 'short' | 'near';
    ops = ops.slice(hm[0].length);
  }
  let far = false;
  if (mnemonic === 'jmp' || mnemonic === 'call' || mnemonic === 'ret') {
    const fm = /^far(\s+|$)/i.exec(ops);
    if (fm) {
      ops = ops.slice(fm[0].length);
      res.mnemonic = `${mnemonic} far`;
      far = mnemonic !== 'ret';
    }
  }
  res.operands = ops ? splitOperands(ops).map((o) => parseOperand(o, line)) : [];
  // `jmp far offset,selector` (the formatter's spelling) is the same as `jmp far selector:offset`.
  const [a, b] = res.operands;
  if (far && res.operands.length === 2 && a?.t === 'imm' && b?.t === 'imm') {
    res.operands = [{ t: 'far', sel: b.expr, off: a.expr }];
  }
  return res;
}

// ---------- expressions ----------

/** Evaluates `+`/`-` terms exactly (BigInt: 64-bit immediates and addresses keep every bit). */
function evalBig(
  expr: string,
  labels: Map<string, number>,
  here: number,
  line: number,
  strict: boolean,
): bigint {
  const s = expr.replace(/\s+/g, '');
  let total = 0n;
  for (const term of s.match(/[+-]?[^+-]+/g) ?? []) {
    const neg = term.startsWith('-');
    const body = term.replace(/^[+-]/, '');
    let v: bigint;
    if (/^0x[0-9a-f]+$/i.test(body)) v = BigInt(body);
    else if (/^0b[01]+$/i.test(body)) v = BigInt(body);
    else if (/^[0-9][0-9a-f]*h$/i.test(body)) v = BigInt(`0x${body.slice(0, -1)}`);
    else if (/^[0-9]+$/.test(body)) v = BigInt(body);
    else if (/^'.'$/.test(body)) v = BigInt(body.charCodeAt(1));
    else if (body === '$') v = BigInt(here);
    else if (labels.has(body)) v = BigInt(labels.get(body)!);
    else if (!strict && /^[A-Za-z_.$][\w.$]*$/.test(body)) v = BigInt(here);
    else throw new AssembleError(`unknown symbol or number '${body}'`, line);
    total += neg ? -v : v;
  }
  return total;
}

/** As `evalBig`, as a JS number: values of 2^63 and above are taken as negative (canonical form). */
function evalExpr(
  expr: string,
  labels: Map<string, number>,
  here: number,
  line: number,
  strict: boolean,
): number {
  const v = evalBig(expr, labels, here, line, strict);
  return Number(v >= 1n << 63n ? BigInt.asIntN(64, v) : v);
}

// ---------- instruction selection ----------

const CODES_BY_TEXT = new Map<string, number[]>();
for (let c = 1; c < CODE_COUNT; c++) {
  const full = CODE_MNEMONIC_TEXT[c]!;
  // "data64 ret far" is found as "ret far" (the data64 prefix word selects it).
  for (const t of full.startsWith('data64 ') ? [full, full.slice(7)] : [full]) {
    const l = CODES_BY_TEXT.get(t);
    if (l) l.push(c);
    else CODES_BY_TEXT.set(t, [c]);
  }
}
// Aliases used by assembler authors for iced's spellings.
const ALIASES: Record<string, string> = {
  jz: 'je',
  jnz: 'jne',
  jc: 'jb',
  jnc: 'jae',
  jnae: 'jb',
  jnb: 'jae',
  jna: 'jbe',
  jnbe: 'ja',
  jpe: 'jp',
  jpo: 'jnp',
  jnge: 'jl',
  jnl: 'jge',
  jng: 'jle',
  jnle: 'jg',
  sal: 'shl',
  retn: 'ret',
  int1: 'int1',
  cmovz: 'cmove',
  cmovnz: 'cmovne',
  setz: 'sete',
  setnz: 'setne',
  cmovc: 'cmovb',
  cmovnc: 'cmovae',
  setc: 'setb',
  setnc: 'setae',
  iretd: 'iretd',
  wait: 'fwait',
  movsd: 'movsd',
};

function regSizeOk(spec: number, reg: number): boolean {
  const c = REGISTER_CLASS[reg];
  switch (spec) {
    case K.r8_or_mem:
    case K.r8_reg:
    case K.r8_opcode:
      return c === RegisterClass.Gpr8;
    case K.r16_or_mem:
    case K.r16_reg:
    case K.r16_rm:
    case K.r16_opcode:
    case K.r16_reg_mem:
      return c === RegisterClass.Gpr16;
    case K.r32_or_mem:
    case K.r32_reg:
    case K.r32_rm:
    case K.r32_opcode:
    case K.r32_vvvv:
    case K.r32_reg_mem:
      return c === RegisterClass.Gpr32;
    case K.r64_or_mem:
    case K.r64_reg:
    case K.r64_rm:
    case K.r64_opcode:
    case K.r64_vvvv:
    case K.r64_reg_mem:
      return c === RegisterClass.Gpr64;
    case K.mm_or_mem:
    case K.mm_reg:
    case K.mm_rm:
      return c === RegisterClass.Mmx;
    case K.xmm_or_mem:
    case K.xmm_reg:
    case K.xmm_rm:
    case K.xmm_vvvv:
    case K.xmm_is4:
    case K.xmm_is5:
      return c === RegisterClass.Xmm;
    case K.ymm_or_mem:
    case K.ymm_reg:
    case K.ymm_rm:
    case K.ymm_vvvv:
    case K.ymm_is4:
    case K.ymm_is5:
      return c === RegisterClass.Ymm;
    case K.k_or_mem:
    case K.k_reg:
    case K.k_rm:
    case K.k_vvvv:
      return c === RegisterClass.K;
    case K.cr_reg:
      return c === RegisterClass.Cr;
    case K.dr_reg:
      return c === RegisterClass.Dr;
    case K.seg_reg:
      return c === RegisterClass.Segment;
    case K.sti_opcode:
      return c === RegisterClass.St;
    case K.al:
      return reg === Register.AL;
    case K.cl:
      return reg === Register.CL;
    case K.ax:
      return reg === Register.AX;
    case K.dx:
      return reg === Register.DX;
    case K.eax:
      return reg === Register.EAX;
    case K.rax:
      return reg === Register.RAX;
    case K.st0:
      return reg === Register.ST0;
    case K.es:
      return reg === Register.ES;
    case K.cs:
      return reg === Register.CS;
    case K.ss:
      return reg === Register.SS;
    case K.ds:
      return reg === Register.DS;
    case K.fs:
      return reg === Register.FS;
    case K.gs:
      return reg === Register.GS;
    default:
      return false;
  }
}

function isMemSpec(spec: number): boolean {
  return (
    spec === K.r8_or_mem ||
    spec === K.r16_or_mem ||
    spec === K.r32_or_mem ||
    spec === K.r64_or_mem ||
    spec === K.mm_or_mem ||
    spec === K.xmm_or_mem ||
    spec === K.ymm_or_mem ||
    spec === K.k_or_mem ||
    spec === K.mem ||
    spec === K.mem_offs
  );
}

function immFits(spec: number, v: number, osz: number): boolean {
  const wrap = (bits: number) => v >= -(2 ** (bits - 1)) && v < 2 ** bits;
  switch (spec) {
    case K.imm8:
      return wrap(8);
    case K.imm16:
      return wrap(16);
    case K.imm32:
      return wrap(32);
    case K.imm64:
      return true;
    case K.imm8sex16:
      return (v >= -128 && v <= 127) || (v >= 0xff80 && v <= 0xffff);
    case K.imm8sex32:
      return (v >= -128 && v <= 127) || (v >= 0xffffff80 && v <= 0xffffffff);
    case K.imm8sex64:
      return v >= -128 && v <= 127;
    case K.imm32sex64:
      return v >= -(2 ** 31) && v < 2 ** 31;
    case K.imm4_m2z:
      return v >= 0 && v <= 15;
    case K.imm8_const_1:
      return v === 1;
    default:
      void osz;
      return false;
  }
}

function isBranchSpec(spec: number): 1 | 2 | 4 | 0 {
  if (spec === K.br16_1 || spec === K.br32_1 || spec === K.br64_1) return 1;
  if (spec === K.br16_2 || spec === K.xbegin_2) return 2;
  if (spec === K.br32_4 || spec === K.br64_4 || spec === K.xbegin_4) return 4;
  return 0;
}

/** Operand specs a source line may leave out entirely (string instructions, XLAT). */
const IMPLICIT_KIND = new Map<number, [number, number]>([
  [K.es_rDI, [OpKind.MemoryESRDI, 0]],
  [K.seg_rSI, [OpKind.MemorySegRSI, 0]],
  [K.seg_rDI, [OpKind.MemorySegRDI, 0]],
  [K.al, [OpKind.Register, Register.AL]],
  [K.ax, [OpKind.Register, Register.AX]],
  [K.eax, [OpKind.Register, Register.EAX]],
  [K.rax, [OpKind.Register, Register.RAX]],
  [K.dx, [OpKind.Register, Register.DX]],
  [K.seg_rBX_al, [OpKind.Memory, 0]],
]);

const STRING_SPECS = new Set<number>([K.seg_rSI, K.es_rDI, K.seg_rDI, K.seg_rBX_al]);
const FIXED_REG = new Map<number, number>([
  [K.al, Register.AL],
  [K.cl, Register.CL],
  [K.ax, Register.AX],
  [K.dx, Register.DX],
  [K.eax, Register.EAX],
  [K.rax, Register.RAX],
  [K.st0, Register.ST0],
  [K.es, Register.ES],
  [K.cs, Register.CS],
  [K.ss, Register.SS],
  [K.ds, Register.DS],
  [K.fs, Register.FS],
  [K.gs, Register.GS],
]);

function isFixedRegSpec(s: number): boolean {
  return FIXED_REG.has(s);
}

/** Whether a displacement fits the address size (sign- or zero-extended, as the CPU would wrap it). */
function dispFits(v: bigint, asz: number, hasReg: boolean): boolean {
  if (asz === 16) return v >= -0x8000n && v <= 0xffffn;
  if (asz === 32 || !hasReg) {
    const s = BigInt.asIntN(64, v);
    return (s >= -0x80000000n && s <= 0xffffffffn) || (asz === 64 && s >= -0x80000000n && s < 0x80000000n);
  }
  const s = BigInt.asIntN(64, v);
  return s >= -0x80000000n && s < 0x80000000n;
}

interface Context {
  bits: Bitness;
  labels: Map<string, number>;
  here: number;
  line: number;
  strict: boolean;
}

function fill(insn: Candidate, code: number, p: ParsedLine, ctx: Context): boolean {
  const n = T_OPCOUNT[code]!;
  const specs: number[] = [];
  for (let i = 0; i < n; i++) specs.push(T_OPS[code * 5 + i]!);
  // Bind source operands to instruction operands through the formatter's layout (so that everything
  // formatInstruction prints assembles back): literal layout entries (`st`) must be spelled as such,
  // instruction operands the layout omits must be implicit.
  // All operands spelled out (`cmpps x, y, 5`, `stosd [rdi], eax`) always works, whatever the formatter omits.
  const layout =
    p.operands.length === n ? specs.map((_, i) => i) : (CODE_FORMAT_LAYOUT[code] ?? specs.map((_, i) => i));
  const src = p.operands;
  const ops: (Operand | null)[] = new Array(n).fill(null);
  if (src.length !== 0 || n === 0) {
    if (src.length !== layout.length) return false;
    for (let j = 0; j < layout.length; j++) {
      const l = layout[j]!;
      const o = src[j]!;
      if (typeof l === 'string') {
        if (o.t !== 'reg' || REG_BY_NAME.get(l) !== o.reg) return false;
      } else ops[l] = o;
    }
  }
  for (let i = 0; i < n; i++) {
    if (ops[i] === null && !IMPLICIT_KIND.has(specs[i]!) && !isFixedRegSpec(specs[i]!)) return false;
  }
  insn.code = code;
  insn.mnemonic = T_MNEMONIC[code]!;
  insn.bitness = ctx.bits;
  insn.ip = ctx.here;
  insn.opCount = n;
  insn.prefixes = 0;
  insn.segmentPrefix = Register.None;
  insn.lock = p.prefixes.includes('lock');
  const pf = p.prefixes;
  insn.repPrefix =
    pf.some((x) => x.startsWith('repn')) || pf.includes('bnd') || pf.includes('xacquire')
      ? RepPrefix.Repne
      : pf.some((x) => x.startsWith('rep')) || pf.includes('xrelease')
        ? RepPrefix.Rep
        : RepPrefix.None;
  if (pf.includes('hint-taken') || pf.includes('notrack')) insn.prefixes |= Prefix.LastSegDs;
  if (pf.includes('hint-not-taken')) insn.prefixes |= Prefix.LastSegCs;
  const osz = T_OSZ[code]!;
  insn.nonDefaultSize = false;
  const namesSize = (o: Operand | null) =>
    o !== null &&
    ((o.t === 'reg' && REGISTER_CLASS[o.reg] !== RegisterClass.Segment) || (o.t === 'mem' && o.size !== 0));
  if (osz !== 0 && !ops.some(namesSize)) {
    // Nothing in the source names a size (push imm, ret, jmp label): prefer the mode's default size,
    // or the one a data16/data32/data64 prefix asks for.
    const want = p.prefixes.find((x) => x.startsWith('data'));
    const def = want ? Number(want.slice(4)) : ctx.bits === 64 ? (T_OSMODE[code] ? 64 : 32) : ctx.bits;
    if (osz !== def) {
      if (want) return false;
      insn.nonDefaultSize = true;
    }
  }
  insn.operandSize = osz || (ctx.bits === 64 ? 32 : ctx.bits);
  const addr = p.prefixes.find((x) => x.startsWith('addr'));
  insn.addressSize = T_ASZ[code] || (addr ? Number(addr.slice(4)) : ctx.bits === 64 ? 64 : ctx.bits);
  if (addr && T_ASZ[code] && T_ASZ[code] !== Number(addr.slice(4))) return false;
  insn.memBase = 0;
  insn.memIndex = 0;
  insn.memScale = 1;
  insn.memDisplacement = 0;
  insn.memDisplacementHi = 0;
  insn.memDisplSize = 0;
  insn.immediate = 0;
  insn.immediateHi = 0;
  insn.immediate2 = 0;
  let immCount = 0;
  for (let i = 0; i < n; i++) {
    const s = specs[i]!;
    const o = ops[i];
    let kind: number = OpKind.None;
    let reg = 0;
    if (o === null || o === undefined) {
      const imp = IMPLICIT_KIND.get(s) ?? [OpKind.Register, FIXED_REG.get(s)!];
      setOp(insn, i, imp[0], imp[1]);
      continue;
    }
    if (o.t === 'mem' && STRING_SPECS.has(s)) {
      // [rsi] / es:[rdi] / [rbx] (XLAT): the register width selects the address size.
      const want = s === K.seg_rSI ? 'si' : s === K.seg_rBX_al ? 'bx' : 'di';
      const name = REGISTER_NAMES[o.base] ?? '';
      if (o.index !== 0 || !name.endsWith(want) || name.length > 3 || o.disp !== '0') return false;
      insn.addressSize = REGISTER_SIZE[o.base]! * 8;
      // A destination `es:` only shows that some segment prefix was present; a source override wins.
      if (o.seg !== 0 && (s !== K.es_rDI || insn.segmentPrefix === Register.None)) insn.segmentPrefix = o.seg;
      const imp = IMPLICIT_KIND.get(s)!;
      if (s === K.seg_rBX_al) {
        insn.memBase = o.base;
        insn.memIndex = Register.AL;
      }
      setOp(insn, i, imp[0], imp[1]);
      continue;
    }
    if (o.t === 'reg') {
      if (!regSizeOk(s, o.reg)) return false;
      // `st` is the implicit ST(0) operand, `st(0)` the ModRM-encoded one (FADD ST(0),ST vs FADD ST,ST(0)).
      if ((s === K.st0 && o.sti) || (s === K.sti_opcode && !o.sti && o.reg === Register.ST0)) return false;
      kind = OpKind.Register;
      reg = o.reg;
      if (s === K.r8_opcode && ctx.bits !== 64 && o.reg >= Register.SPL) return false;
    } else if (o.t === 'mem') {
      if (!isMemSpec(s)) return false;
      const ms = T_MEMSIZE[code]!;
      if (o.size !== 0 && ms !== 0 && o.size !== ms) return false;
      if (
        o.size === 0 &&
        ms !== 0 &&
        !specs.some((_, j) => j !== i && ops[j]?.t === 'reg') &&
        CODE_MEM_KEYWORD[code] !== ''
      ) {
        // The size must come from somewhere: a register operand or an explicit keyword.
        return false;
      }
      kind = OpKind.Memory;
      const addrReg = o.base || o.index;
      if (addrReg) {
        const sz = REGISTER_SIZE[addrReg]!;
        if (addrReg === Register.RIP) insn.addressSize = 64;
        else if (addrReg === Register.EIP) insn.addressSize = 32;
        else insn.addressSize = sz * 8;
      }
      insn.memBase = o.base;
      insn.memIndex = o.index;
      insn.memScale = o.index ? o.scale : 1;
      const big = evalBig(o.disp, ctx.labels, ctx.here, ctx.line, ctx.strict);
      const d = Number(BigInt.asIntN(64, big));
      if (o.base === Register.RIP) {
        insn.memDisplacement = 0; // patched by the caller once the length is known
      } else {
        if (s !== K.mem_offs && !dispFits(big, insn.addressSize, o.base !== 0 || o.index !== 0)) {
          // An absolute address beyond 64 KiB in 16-bit code needs 32-bit addressing (67 prefix).
          if (insn.addressSize !== 16 || o.base !== 0 || o.index !== 0 || !dispFits(big, 32, false))
            return false;
          insn.addressSize = 32;
        }
        insn.memDisplacement = insn.addressSize === 16 ? (d << 16) >> 16 : Number(BigInt.asIntN(32, big));
      }
      insn.memDisplacementHi = insn.memDisplacement < 0 ? -1 : 0;
      if (s === K.mem_offs) {
        if (o.base || o.index) return false;
        insn.memDisplacement = Number(BigInt.asUintN(32, big));
        insn.memDisplacementHi = Number(BigInt.asIntN(32, big >> 32n));
        insn.memDisplSize = insn.addressSize / 8;
      }
      insn.segmentPrefix = o.seg;
      insn.ripTarget = o.base === Register.RIP ? d : 0;
    } else if (o.t === 'imm') {
      const big = evalBig(o.expr, ctx.labels, ctx.here, ctx.line, ctx.strict);
      const v = Number(big >= 1n << 63n ? BigInt.asIntN(64, big) : big);
      const br = isBranchSpec(s);
      if (br) {
        if (p.branchHint === 'short' && br !== 1) return false;
        if (p.branchHint === 'near' && br === 1) return false;
        kind = OpKind.NearBranch;
        insn.nearBranchTarget = v;
      } else {
        if (!immFits(s, v, osz)) return false;
        if (s === K.imm8 && immCount > 0) {
          insn.immediate2 = v & 0xff;
          kind = OpKind.Immediate8_2nd;
        } else {
          immCount++;
          kind =
            s === K.imm16
              ? OpKind.Immediate16
              : s === K.imm32
                ? OpKind.Immediate32
                : s === K.imm64
                  ? OpKind.Immediate64
                  : s === K.imm8sex16
                    ? OpKind.Immediate8to16
                    : s === K.imm8sex32
                      ? OpKind.Immediate8to32
                      : s === K.imm8sex64
                        ? OpKind.Immediate8to64
                        : s === K.imm32sex64
                          ? OpKind.Immediate32to64
                          : OpKind.Immediate8;
          if (s === K.imm64) {
            insn.immediate = Number(BigInt.asUintN(32, big));
            insn.immediateHi = Number(BigInt.asUintN(32, big >> 32n));
          } else {
            insn.immediate = v;
            insn.immediateHi = v < 0 ? -1 : 0;
          }
        }
      }
    } else {
      if (s !== K.farbr2_2 && s !== K.farbr4_2) return false;
      if (o.t !== 'far') return false;
      kind = OpKind.FarBranch;
      insn.farBranchSelector = evalExpr(o.sel, ctx.labels, ctx.here, ctx.line, ctx.strict);
      insn.farBranchOffset = evalExpr(o.off, ctx.labels, ctx.here, ctx.line, ctx.strict);
    }
    setOp(insn, i, kind, reg);
  }
  for (let i = n; i < 5; i++) setOp(insn, i, OpKind.None, 0);
  return true;
}

function setOp(insn: Instruction, i: number, kind: number, reg: number): void {
  const k = kind as OpKind;
  if (i === 0) {
    insn.op0Kind = k;
    insn.op0Register = reg;
  } else if (i === 1) {
    insn.op1Kind = k;
    insn.op1Register = reg;
  } else if (i === 2) {
    insn.op2Kind = k;
    insn.op2Register = reg;
  } else if (i === 3) {
    insn.op3Kind = k;
    insn.op3Register = reg;
  } else {
    insn.op4Kind = k;
    insn.op4Register = reg;
  }
}

/** The assembler's working instruction: an Instruction plus selection bookkeeping. */
class Candidate extends Instruction {
  nonDefaultSize = false;
  ripTarget = 0;
}

const check = new Instruction();

const X87_ST1_MNEMONICS = new Set([
  'faddp',
  'fmulp',
  'fsubp',
  'fsubrp',
  'fdivp',
  'fdivrp',
  'fcom',
  'fcomp',
  'fucom',
  'fucomp',
  'fxch',
]);
const PCLMUL_PREDICATES: Record<string, number> = { lqlq: 0, hqlq: 1, lqhq: 16, hqhq: 17 };

/** CMPPS/PCLMULQDQ pseudo-ops (`cmpltps`, `vpclmulhqlqdq`) and explicit forms (`cmpps x, y, 5`). */
function rewritePseudoOp(p: ParsedLine): ParsedLine {
  const m = p.mnemonic!;
  const cmp = /^(v?)cmp([a-z_]*)(ps|pd|ss|sd)$/.exec(m);
  if (cmp && !(cmp[2] === '' && p.operands.length === 2 && !cmp[1])) {
    if (cmp[2] === '') return { ...p, mnemonic: `${cmp[1]}cmpeq${cmp[3]}` };
    const idx = CMP_PREDICATES.indexOf(cmp[2]!);
    if (idx >= 0)
      return {
        ...p,
        mnemonic: `${cmp[1]}cmpeq${cmp[3]}`,
        operands: [...p.operands, { t: 'imm', expr: String(idx) }],
      };
  }
  const pcl = /^(v?)pclmul(qdq|lqlq|hqlq|lqhq|hqhq)?(?:dq)?$/.exec(m);
  if (pcl && (m.endsWith('qdq') || pcl[2] !== undefined)) {
    const base = `${pcl[1]}pclmullqlqdq`;
    if (pcl[2] === 'qdq') return { ...p, mnemonic: base };
    const v = PCLMUL_PREDICATES[pcl[2] ?? ''];
    if (v !== undefined)
      return { ...p, mnemonic: base, operands: [...p.operands, { t: 'imm', expr: String(v) }] };
  }
  // x87 `faddp` / `fxch` / `fcom`... without operands mean ST(1) (the formatter prints them that way).
  if (p.operands.length === 0 && X87_ST1_MNEMONICS.has(m)) {
    const st1: Operand = { t: 'reg', reg: Register.ST1, sti: true };
    const st: Operand = { t: 'reg', reg: Register.ST0 };
    return { ...p, operands: m.endsWith('p') && m !== 'fcomp' && m !== 'fucomp' ? [st1, st] : [st, st1] };
  }
  // `imul r, imm` is `imul r, r, imm`.
  const [a, b] = p.operands;
  if (m === 'imul' && p.operands.length === 2 && a?.t === 'reg' && b?.t === 'imm') {
    return { ...p, operands: [a, a, b] };
  }
  return p;
}

/** Encodes one parsed instruction: the shortest candidate whose encoding decodes back to the same Code. */
function encodeLine(line: ParsedLine, ctx: Context): Uint8Array {
  const p = rewritePseudoOp(line);
  const m = ALIASES[p.mnemonic!] ?? p.mnemonic!;
  const cands = CODES_BY_TEXT.get(m);
  if (!cands) throw new AssembleError(`unknown mnemonic '${p.mnemonic}'`, p.line);
  const modeBit = ctx.bits === 64 ? 4 : ctx.bits === 32 ? 2 : 1;
  let best: Uint8Array | null = null;
  let bestRank = 0;
  let lastError = `no form of '${m}' takes these operands in ${ctx.bits}-bit mode`;
  const insn = new Candidate();
  for (const c of cands) {
    if ((T_MODES[c]! & modeBit) === 0) continue;
    if (!fill(insn, c, p, ctx)) continue;
    let bytes: Uint8Array;
    try {
      bytes = encode(insn);
      if (insn.memBase === Register.RIP) {
        insn.memDisplacement = insn.ripTarget - (ctx.here + bytes.length);
        bytes = encode(insn);
      }
    } catch (e) {
      if (e instanceof EncodeError) {
        lastError = e.message;
        continue;
      }
      throw e;
    }
    // Keep only encodings that decode to the same form (guards table/encoder corner cases).
    if (decodeInto(check, bytes, 0, ctx.bits, ctx.here) === 0 || check.code !== c) continue;
    // Shortest encoding, but a form of the mode's default operand size beats a shorter other size.
    const rank = bytes.length + (insn.nonDefaultSize ? 100 : 0);
    if (best === null || rank < bestRank) {
      best = bytes;
      bestRank = rank;
    }
  }
  if (best === null) throw new AssembleError(lastError, p.line);
  return best;
}

function encodeData(p: ParsedLine, ctx: Context): Uint8Array {
  const out: number[] = [];
  const size = p.dataSize!;
  for (const item of p.dataItems!) {
    const str = /^(['"])(.*)\1$/.exec(item);
    if (str && (size === 1 || str[2]!.length !== 1)) {
      for (const ch of str[2]!) out.push(ch.charCodeAt(0) & 0xff);
      continue;
    }
    const v = evalExpr(item, ctx.labels, ctx.here, p.line, ctx.strict);
    for (let i = 0; i < size; i++)
      out.push(i < 4 ? (v >>> (8 * i)) & 0xff : (Math.floor(v / 2 ** 32) >>> (8 * (i - 4))) & 0xff);
  }
  return Uint8Array.from(out);
}

/** Assembles Intel-syntax `source` into machine code. Throws `AssembleError` with the line number. */
export function assemble(source: string, options: AssembleOptions): Uint8Array {
  const bits = options.bitness;
  const origin = options.origin ?? 0;
  const lines = source.split('\n').map((l, i) => parseLine(l, i + 1));
  let labels = new Map<string, number>();
  let chunks: Uint8Array[] = [];
  // Relaxation: re-assemble until every label address is stable (branches may shrink to rel8).
  for (let pass = 0; pass < 8; pass++) {
    const strict = pass > 0;
    const next = new Map<string, number>();
    chunks = [];
    let here = origin;
    for (const p of lines) {
      if (p.label !== undefined) {
        if (next.has(p.label)) throw new AssembleError(`duplicate label '${p.label}'`, p.line);
        next.set(p.label, here);
      }
      if (p.kind === 'none') continue;
      const ctx: Context = { bits, labels: strict ? labels : next, here, line: p.line, strict };
      if (!strict) {
        // First pass: unknown labels resolve to `here`; unknown forward branches assume the long form.
        for (const [k, v] of labels) if (!next.has(k)) next.set(k, v);
      }
      const bytes =
        p.kind === 'data' ? encodeData(p, ctx) : encodeLine(p, { ...ctx, labels: strict ? labels : next });
      chunks.push(bytes);
      here += bytes.length;
    }
    let stable = pass > 0 && next.size === labels.size;
    if (stable) for (const [k, v] of next) if (labels.get(k) !== v) stable = false;
    labels = next;
    if (stable) break;
  }
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Tagged-template form: asm16`mov ax, 1` etc. Interpolated values are inserted as text. */
export function asm(bitness: Bitness): (strings: TemplateStringsArray, ...values: unknown[]) => Uint8Array {
  return (strings, ...values) => assemble(String.raw({ raw: strings }, ...values), { bitness });
}
