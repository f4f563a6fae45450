/**
 * The compiling tier (32-bit code here, 64-bit code in `compiler64.ts`, which extends
 * {@link BlockWriter}). A block that has run {@link HOT_RUNS} times through the interpreter loop
 * is written out as one JavaScript function (`new Function`) in which every instruction's operands are
 * constants: register indices, immediates, displacements, EIPs, branch targets. What that removes,
 * per instruction: the indirect call to its handler, the reads of the decoded `Instruction`, the
 * bookkeeping of `Cpu.chain` (start EIP/ESP, EIP, the retired count and the exit test), which a
 * register-only instruction needs nowhere and a memory access needs only in front of it; and, per
 * block, the lazy-flag records that the next instruction overwrites before anything can read them, and
 * the re-reading of a CMP/SUB/TEST record by the Jcc that ends the block (the condition is computed
 * from the compared values themselves). A 32-bit block keeps the registers it uses in locals
 * (`register-locals.ts`), stored back in front of each slow path and return.
 *
 * The semantics are exactly the interpreter's: the forms written inline are those `fast-paths.ts`
 * picks a fast handler for (recognised by that handler), with its bodies, and a few forms without one
 * (ROL/ROR, CMP/TEST with memory or 8-bit operands, SETcc, CMOVcc, ...) recognised by their code and
 * generic handler, with that handler's semantics (`generic`); every other instruction
 * calls its handler as `Cpu.chain` would, with the same EIP, start EIP/ESP and count around it, and
 * the block ends early when a handler sets `stop` or moves EIP. A fault thrown anywhere finds
 * `startIp`, `startSp` and `instructions` as the interpreter leaves them, so `Cpu.runBlocks` rolls back
 * the same way. `compiler.test.ts` runs random blocks both ways and compares the whole state.
 *
 * V8 runs a new function in its interpreter first and optimises it once it is hot, which is why only
 * blocks that have proved hot are compiled; a block rebuilt (code written, table slot reused) starts
 * over uncompiled.
 */
import { Code, type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { highHalf } from './address-halves.js';
import type { Block } from './block-cache.js';
import type { Cpu, Handler } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { FAST32 } from './fast-paths.js';
import { FAST32_COLD } from './fast-paths-cold.js';
import { CONDITIONS } from './handlers/table.js';
import { HANDLERS } from './dispatch.js';
import { EFLAGS, getCF, LazyOp, PARITY, setArith, testCondition } from './flags.js';
import { read8, read16, read32, write8, write16, write32 } from './memory-access.js';
import { OPS_STRIDE } from './operand-record.js';
import { TLB_MASK, tlbTag } from './paging.js';
import { BYTE_OFFSET_OF, GPR_OF, Seg } from './registers.js';
import { registerLocals } from './register-locals.js';
import { Access, Attr } from './segments.js';

/**
 * A compiled block: runs all of `block.instructions` (or up to the one that ended it early). Returns
 * the block to run next when it can name it without `BlockCache.lookup` (a block without handler calls
 * leaves CS, CPL and the mode as they were, so its own successor links, valid for the current pager
 * generation, name the next block as the lookup's link path would), else null.
 */
export type CompiledBlock = (
  cpu: Cpu,
  list: readonly Instruction[],
  handlers: readonly Handler[],
  /**
   * Instructions the block may retire: `Cpu.instructions` must not pass its value at entry plus this
   * (a block that loops on itself checks before each round). A count rather than the limit itself:
   * small, so it goes into the call as it is (a limit past 2^31 would be boxed at every call).
   */
  budget: number,
  /** The block itself (its successor links). */
  block: Block,
) => Block | null;

/**
 * Interpreted runs after which a block is compiled. Measured on the Debian 686 boot (bench=1, one
 * vCPU in the VMM thread, 2-core machine): 3,000 compiled 6,071 blocks and was slowest (131 s to
 * power-off; V8 optimises every function it is given, on the same two cores); 10,000 compiled 2,978
 * (106 s, 333 MiB peak RSS); 30,000 compiled 1,190 (105 s, 296 MiB). The interpreter alone: 192 s.
 */
export const HOT_RUNS = 30_000;

/**
 * The block to run after `b` when one of its successor links names the block at EIP, with the tests
 * `BlockCache.lookup` makes on its link path: links made in this pager generation, a block still valid,
 * the CS base and CPL/code size of `b` (which a block without handler calls leaves as they were), and
 * outside 64-bit mode EIP within the CS limit (the lookup's first test); else null (a lookup).
 */
export function linkedSuccessor(cpu: Cpu, b: Block): Block | null {
  const ip = cpu.regs.ip;
  if (b.linkGen !== cpu.pager.generation || (b.bitness !== 64 && ip > cpu.segs.hi[Seg.CS]!)) return null;
  return b.linked(ip | 0, b.bitness === 64 ? highHalf(ip) : 0, b.csLo, b.key);
}

/*
 * The generated code passes no number that may be above 2^31 to a call it makes on its fast paths:
 * V8 boxes such a number (a heap allocation) whenever it does not inline the callee, and a value a slow
 * path passes may be boxed on the fast path too when V8 shares the conversion between two slow paths.
 * Hence {@link szpOf} and {@link incDecRecord} written out, and the 32-bit slow paths' offsets and
 * values passed as int32 to `read8s`... (the Debian 686 boot allocated 190 MB/s of such boxes).
 */

/** SF, ZF and PF of the unsigned `size`-bit value `x`, written out (`flags.ts` `szp`). */
export function szpOf(x: string, size: number): string {
  return `(((${x}) >>> ${size - 1}) & 1 ? ${EFLAGS.SF} : 0) | ((${x}) === 0 ? ${EFLAGS.ZF} : 0) | (PARITY[(${x}) & 0xff] << 2)`;
}

/** The lazy record of a 32-bit INC/DEC of `d` to `x`, written out (`flags.ts` `setLazy`, which keeps CF). */
export function incDecRecord(op: LazyOp, d: string, x: string): string {
  return `f.bits = (f.bits & ${~EFLAGS.CF}) | getCF(f); f.op = ${op}; f.size = 32; f.dst = ${d}; f.src = 1; f.res = ${x};`;
}

/** The slow paths of 32-bit blocks: offsets (and values) come as int32, taken back to unsigned here. */
function read8s(cpu: Cpu, seg: number, off: number): number {
  return read8(cpu, seg, off >>> 0);
}
function read16s(cpu: Cpu, seg: number, off: number): number {
  return read16(cpu, seg, off >>> 0);
}
function read32s(cpu: Cpu, seg: number, off: number): number {
  return read32(cpu, seg, off >>> 0);
}
function write8s(cpu: Cpu, seg: number, off: number, value: number): void {
  write8(cpu, seg, off >>> 0, value & 0xff);
}
function write16s(cpu: Cpu, seg: number, off: number, value: number): void {
  write16(cpu, seg, off >>> 0, value & 0xffff);
}
function write32s(cpu: Cpu, seg: number, off: number, value: number): void {
  write32(cpu, seg, off >>> 0, value >>> 0);
}

/** What the generated code calls: bound once, passed to each block's factory. */
export const RUNTIME = {
  linkedSuccessor,
  read8,
  read16,
  read32,
  write8,
  write16,
  write32,
  read8s,
  read16s,
  read32s,
  write8s,
  write16s,
  write32s,
  getCF,
  setArith,
  testCondition,
  raise,
  PARITY,
};
const RUNTIME_NAMES = Object.keys(RUNTIME).join(', ');

/** The RAM-direct TLB's tag bits for a supervisor and a user access (`paging.ts` `tlbTag`). */
const TAG_SUPERVISOR = tlbTag(0, false);
const TAG_USER = tlbTag(0, true);
const FLAT_READ = Access.FLAT | Access.READ;
const FLAT_WRITE = Access.FLAT | Access.WRITE;

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/**
 * Condition index (low nibble of Jcc) of the JMP/Jcc rel codes with the given forms (`rel8_32`...);
 * -1 for JMP rel.
 */
export function jumpConditions(forms: readonly string[]): Map<number, number> {
  const map = new Map<number, number>();
  [...CONDITIONS, 'mp'].forEach((name, cc) => {
    for (const form of forms) {
      const code = (Code as Record<string, number>)[`J${name}_${form}`];
      if (code !== undefined) map.set(code, cc === 16 ? -1 : cc);
    }
  });
  return map;
}

/** The 32-bit-operand JMP/Jcc rel codes. */
const JCC_CONDITION = jumpConditions(['rel8_32', 'rel32_32']);
const CODES = Code as Record<string, number>;
/** SETcc r/m8 and CMOVcc r32, r/m32 by code: the condition index. */
const SETCC = new Map<number, number>();
const CMOVCC = new Map<number, number>();
CONDITIONS.forEach((cc, i) => {
  SETCC.set(CODES[`Set${cc}_rm8`]!, i);
  CMOVCC.set(CODES[`Cmov${cc}_r32_rm32`]!, i);
});
/** CMP/TEST r/m32 forms written inline when operand 0 is memory (the register forms have fast handlers). */
const CMP32 = new Set<number>([Code.Cmp_rm32_r32, Code.Cmp_rm32_imm32, Code.Cmp_rm32_imm8]);
const TEST32 = new Set<number>([Code.Test_rm32_r32, Code.Test_rm32_imm32, Code.Test_rm32_imm32_F7r1]);
/** The 8-bit CMP and TEST forms. */
const CMP8 = new Set<number>([
  Code.Cmp_rm8_r8,
  Code.Cmp_r8_rm8,
  Code.Cmp_rm8_imm8,
  Code.Cmp_rm8_imm8_82,
  Code.Cmp_AL_imm8,
]);
const TEST8 = new Set<number>([
  Code.Test_rm8_r8,
  Code.Test_rm8_imm8,
  Code.Test_rm8_imm8_F6r1,
  Code.Test_AL_imm8,
]);
/** SHL/SAL, SHR, SAR r/m32, CL. */
const SHIFT_CL = new Map<number, string>([
  [Code.Shl_rm32_CL, 'shl'],
  [Code.Sal_rm32_CL, 'shl'],
  [Code.Shr_rm32_CL, 'shr'],
  [Code.Sar_rm32_CL, 'sar'],
]);

/** ADD, OR, AND, SUB, XOR: the operation written inline and the lazy record it leaves. */
const ALU_OPS = [
  ['Add', '+', LazyOp.Add],
  ['Or', '|', LazyOp.Logic],
  ['And', '&', LazyOp.Logic],
  ['Sub', '-', LazyOp.Sub],
  ['Xor', '^', LazyOp.Logic],
] as const;
/** {@link ALU_OPS} by code, for the given operand forms (`rm32_r32`...; forms a name lacks are left out). */
function aluByCode(forms: readonly string[]): Map<number, { op: string; lazy: number }> {
  const map = new Map<number, { op: string; lazy: number }>();
  for (const [name, op, lazy] of ALU_OPS)
    for (const form of forms) {
      const code = CODES[`${name}_${form}`];
      if (code !== undefined) map.set(code, { op, lazy });
    }
  return map;
}
/** ADD/OR/AND/SUB/XOR r/m32 with a register or immediate source: inline when operand 0 is memory. */
const ALU_RMW = aluByCode(['rm32_r32', 'rm32_imm32', 'rm32_imm8']);
/** ADD/OR/AND/SUB/XOR of 8-bit operands (register, memory, immediate; either direction). */
const ALU8 = aluByCode(['rm8_r8', 'r8_rm8', 'rm8_imm8', 'rm8_imm8_82', 'AL_imm8']);
/** Multi-byte NOPs (0F 1F /0): no memory access. */
const NOPS = new Set<number>([Code.Nopw, Code.Nopd]);
/** SHL/SAL, SHR, SAR r/m16 and r/m32 by 1 or an immediate: kind and operand size. */
const SHIFT_CONST = new Map<number, { kind: 'shl' | 'shr' | 'sar'; size: 16 | 32 }>();
for (const [name, kind] of [
  ['Shl', 'shl'],
  ['Sal', 'shl'],
  ['Shr', 'shr'],
  ['Sar', 'sar'],
] as const)
  for (const size of [16, 32] as const)
    for (const count of ['1', 'imm8']) SHIFT_CONST.set(CODES[`${name}_rm${size}_${count}`]!, { kind, size });

/** The ALU forms that record a lazy result, by fast handler: operation, and whether the result is stored. */
const ALU = new Map<Handler, { op: string; lazy: number; store: boolean }>([
  [FAST32.addR, { op: '+', lazy: LazyOp.Add, store: true }],
  [FAST32.subR, { op: '-', lazy: LazyOp.Sub, store: true }],
  [FAST32.cmpR, { op: '-', lazy: LazyOp.Sub, store: false }],
  [FAST32.andR, { op: '&', lazy: LazyOp.Logic, store: true }],
  [FAST32.orR, { op: '|', lazy: LazyOp.Logic, store: true }],
  [FAST32.xorR, { op: '^', lazy: LazyOp.Logic, store: true }],
  [FAST32.testR, { op: '&', lazy: LazyOp.Logic, store: false }],
]);

/** Register-only forms that leave the flags alone. */
const FLAG_NEUTRAL = new Set<Handler>([
  FAST32.movRR,
  FAST32.movRI,
  FAST32.mov8RR,
  FAST32.mov16RR,
  FAST32.lea32,
  FAST32.movzx16R,
  FAST32.movzx8R,
]);

/** An address as part of a function name (64-bit RIPs are negative in their signed form). */
function name(a: number): string {
  return a < 0 ? `n${(-a).toString(16)}` : a.toString(16);
}

/** The lazy record left by the last flag-writing instruction, as locals of the generated code. */
interface FlagLocals {
  readonly op: number;
  readonly d: string;
  readonly s: string;
  readonly x: string;
}

/**
 * Memory operands of one block through one base register and segment (`[reg + disp]`, no index), in a
 * span of at most {@link GROUP_SPAN} bytes: the first access the block makes of them (the anchor)
 * tests the RAM-direct TLB once for the whole span, which lies on one page, and the others then only
 * compare the register with its value at the anchor. The anchor's result holds until a slow path (any
 * of them may refill the TLB or change the segments; `book` forgets it).
 */
interface AccessGroup {
  readonly id: number;
  /** Register-file index of the base register, segment index. */
  readonly reg: number;
  readonly seg: number;
  /** Lowest displacement, and the end (exclusive) of the highest access, relative to the register. */
  min: number;
  end: number;
  members: number;
  anchored: boolean;
}

/** Widest span of an access group (bytes); members: at least {@link GROUP_MEMBERS}. */
const GROUP_SPAN = 256;
const GROUP_MEMBERS = 3;

/** Compiles a block, or returns null when it has nothing to gain (not 32-bit code). */
export function compileBlock(block: Block): CompiledBlock | null {
  if (block.bitness !== 32 || block.count === 0) return null;
  return compileSource(new BlockWriter(block).write());
}

/**
 * Turns a block function's source into the function. The source sees the names of `runtime` (by
 * default {@link RUNTIME}; a writer for other code passes a superset) as constants.
 */
export function compileSource(source: string, runtime: Record<string, unknown> = RUNTIME): CompiledBlock {
  const names = runtime === RUNTIME ? RUNTIME_NAMES : Object.keys(runtime).join(', ');
  const factory = new Function('rt', `const { ${names} } = rt;\nreturn ${source};`) as (
    rt: Record<string, unknown>,
  ) => CompiledBlock;
  return factory(runtime);
}

/** The source of one block's function (exported for tests and for reading what the tier makes). */
export function blockSource(block: Block): string {
  return new BlockWriter(block).write();
}

/**
 * Writes one block's function. Subclasses for other code (64-bit) override {@link instruction} and
 * {@link inline} and reuse the bookkeeping: {@link enter}, {@link call}, {@link leaveIfStopped},
 * {@link finish}, the inline memory paths {@link load}/{@link store} and the self-loop frame.
 */
export class BlockWriter {
  protected readonly lines: string[] = [];
  protected flags: FlagLocals | null = null;
  protected readonly count: number;

  constructor(protected readonly block: Block) {
    this.count = block.count;
  }

  write(): string {
    const b = this.block;
    if (this.groupAccesses) this.findGroups();
    for (let i = 0; i < this.count; i++) {
      this.current = i;
      this.instruction(i);
    }
    const head = [
      `function block_${name(b.csBase)}_${name(b.ip)}(cpu, l, h, budget, _b) {`,
      'const regs = cpu.regs, r32 = regs.r32, u32 = regs.u32, r16 = regs.r16, r8 = regs.r8, f = cpu.flags;',
    ];
    for (const g of this.groups.values())
      if (g.anchored) head.push(`let gv${g.id} = 0, gr${g.id} = -1, gw${g.id} = -1;`);
    if (this.accesses > 0)
      head.push(
        'const sacc = cpu.segs.access, pg = cpu.pager, rT = pg.ramRTag, rB = pg.ramRBase, wT = pg.ramWTag, wB = pg.ramWBase;',
        `const ram = cpu.phys.ram, view = cpu.phys.view, tb = cpu.ctrl.cpl === 3 ? ${TAG_USER} : ${TAG_SUPERVISOR};`,
      );
    if (!this.selfLoop) {
      const next = this.calls === 0 ? this.successor() : ['return null;'];
      const { prologue, body } = registerLocals([...this.lines, ...next], this.localWords);
      return [...head, ...prologue, 'const base = cpu.instructions;', ...body, '}'].join('\n');
    }
    // A loop that is this one block goes round here while `Cpu.chain` would run it again at once: the
    // same tests it makes between blocks (budget, NMI, an interrupt IF allows, the interrupt window),
    // and no translation changed (the link it would take is valid for one pager generation). Start
    // EIP/ESP need no update: every path that can fault sets them (`book`). Leaving, it names its
    // successor as a block without a loop does.
    const leave = [
      `if (regs.ip !== ${b.ip} || cpu.instructions + ${this.count} > limit || cpu.nmiPending ||`,
      `  ((cpu.intr || cpu.interruptWindowExiting) && (f.bits & ${EFLAGS.IF}) !== 0) || cpu.pager.generation !== gen) break;`,
    ];
    const { prologue, body } = registerLocals(
      ['for (;;) {', 'const base = cpu.instructions;', ...this.lines, ...leave, '}', ...this.successor()],
      this.localWords,
    );
    return [
      ...head,
      ...prologue,
      'const gen = cpu.pager.generation, limit = cpu.instructions + budget;',
      ...body,
      '}',
    ].join('\n');
  }

  /**
   * The end of a block without handler calls: the next block from this one's successor links, with
   * the tests `BlockCache.lookup` makes on its link path ({@link linkedSuccessor}: the pager generation
   * the links were made in, the EIP, a block still valid, the same CS base and CPL/code size: this
   * block's, which nothing in it changed) and the CS limit the lookup checks first (outside 64-bit
   * mode). (A block with handler calls returns null: tested against the CS base and CPL/code size the
   * handlers left, its successor made the Debian amd64 decompressor slower, 71.7 -> 79.0 s, when its
   * RETs were handler calls whose links missed.)
   */
  protected successor(): string[] {
    return ['return linkedSuccessor(cpu, _b);'];
  }

  /** Register-file words (`r32` indices below it) the function may keep in locals (`register-locals.ts`). */
  protected localWords = 8;

  /** Generic handler calls written (a block with any is never a self-loop: a handler may change anything). */
  protected calls = 0;
  /** The block ends with a JMP/Jcc back to its own start and has no handler calls. */
  protected get selfLoop(): boolean {
    const last = this.ins(this.count - 1);
    return this.calls === 0 && JCC_CONDITION.has(last.code) && last.nearBranchTarget === this.block.ip;
  }

  protected ins(i: number): Instruction {
    let ins = this.decoded[i];
    if (ins === undefined) {
      ins = this.block.instruction(i);
      this.decoded[i] = ins;
    }
    return ins;
  }

  /** The block's instructions as the writer reads them (`Block.instruction`), decoded on first use. */
  private readonly decoded: Instruction[] = [];

  protected isLast(i: number): boolean {
    return i === this.count - 1;
  }

  /** The instruction being written. */
  protected current = -1;
  /** The instruction whose bookkeeping {@link book} writes ({@link enter}). */
  private entered = -1;

  /**
   * Marks instruction `i` as one that may fault, exit or reach a device: the paths where it can (the
   * calls of `read32`/`write32`..., a `raise`) begin with what `Cpu.chain` sets before a handler
   * ({@link book}); the RAM-direct hits and the register-only work around them need none of it.
   */
  protected enter(i: number): void {
    this.entered = i;
  }

  /**
   * What `Cpu.chain` sets before a handler (start EIP/ESP, EIP after the instruction, the retired
   * count), for the instruction {@link enter} marked: written at the front of each path that can fault,
   * exit or set `stop`, so a fault, a device or `leaveIfStopped` finds the interpreter's state. ESP is
   * still the instruction's own there (pushes and pops move it after their access).
   */
  protected book(): string {
    const i = this.entered;
    if (i !== this.current)
      throw new Error(`compiler: instruction ${this.current} reaches memory without enter()`);
    const ins = this.ins(i);
    let forget = '';
    for (const g of this.groups.values()) if (g.anchored) forget += ` gr${g.id} = -1; gw${g.id} = -1;`;
    return `cpu.startIp = ${ins.ip}; cpu.startSp = r32[4]; regs.ip = ${ins.nextIp}; cpu.instructions = base + ${i};${forget}`;
  }

  /** After an instruction that may have set `stop` (a memory access: code written, MMIO). */
  protected leaveIfStopped(i: number): void {
    if (this.isLast(i)) return;
    this.lines.push(`if (cpu.stop) { cpu.instructions = base + ${i + 1}; return null; }`);
  }

  /** The end of the block after a straight-line last instruction. */
  protected finish(i: number): void {
    if (!this.isLast(i)) return;
    this.lines.push(`regs.ip = ${this.ins(i).nextIp}; cpu.instructions = base + ${this.count};`);
  }

  /**
   * The handler of instruction `i` as the tier reads it: a handler of `fast-paths-cold.ts` stands for
   * the generic handler of its code (it has exactly those semantics), so the forms below that are
   * written out for the generic handler are written out for it too.
   */
  protected handler(i: number): Handler {
    const h = this.block.handlers[i]!;
    return FAST32_COLD.has(h) ? HANDLERS[this.ins(i).code]! : h;
  }

  protected instruction(i: number): void {
    const ins = this.ins(i);
    const h = this.handler(i);
    const cc = JCC_CONDITION.get(ins.code);
    // JMP rel ends a block, a Jcc rel may sit inside one (`BlockCache` goes on past one); the
    // rel8_32/rel32_32 codes say the operand size.
    if (cc !== undefined && this.isLast(i)) this.branch(i, cc);
    else if (cc !== undefined && cc >= 0) this.exitIfTaken(i, cc);
    else if (this.isLast(i) && ins.code === Code.Call_rel32_32) this.callNear(i);
    else if (this.isLast(i) && (ins.code === Code.Retnd || ins.code === Code.Retnd_imm16)) this.returnNear(i);
    else if (!this.inline(i, ins, h)) this.call(i);
  }

  /** An instruction the tier does not write out: its handler, with the interpreter's bookkeeping. */
  protected call(i: number): void {
    const ins = this.ins(i);
    this.flags = null;
    this.calls++;
    this.enter(i);
    this.lines.push(this.book(), `h[${i}](cpu, l[${i}], _b.ops, ${i * OPS_STRIDE});`);
    if (this.isLast(i)) this.lines.push(`cpu.instructions = base + ${this.count};`);
    else
      this.lines.push(
        `if (cpu.stop || regs.ip !== ${ins.nextIp}) { cpu.instructions = base + ${i + 1}; return null; }`,
      );
  }

  /** The jump to `target` of the branch {@link enter} marked: #GP(0) past the CS limit. */
  protected jumpTo(target: number): string {
    return `if (${target} > cpu.segs.hi[${Seg.CS}]) { ${this.book()} raise(${Vector.GP}, 0); } regs.ip = ${target};`;
  }

  /**
   * A Jcc inside the block (`BlockCache` goes on past conditional branches with the path not taken):
   * taken, the block ends there, naming its successor as at its end when no handler ran before.
   */
  protected exitIfTaken(i: number, cc: number): void {
    this.enter(i);
    const leave = this.calls === 0 ? this.successor() : ['return null;'];
    this.lines.push(
      `if (${this.condition(cc)}) {`,
      this.jumpTo(this.ins(i).nearBranchTarget),
      `cpu.instructions = base + ${i + 1};`,
      ...leave,
      '}',
    );
  }

  /** JMP rel / Jcc rel with a 32-bit operand size, the block's last instruction. */
  protected branch(i: number, cc: number): void {
    const ins = this.ins(i);
    this.enter(i);
    const go = this.jumpTo(ins.nearBranchTarget);
    if (cc < 0) this.lines.push(go);
    else this.lines.push(`if (${this.condition(cc)}) { ${go} } else regs.ip = ${ins.nextIp};`);
    this.lines.push(`cpu.instructions = base + ${this.count};`);
  }

  /** CALL rel32 (32-bit operand size) ending the block: branch.ts `callRel(32)` written out. */
  protected callNear(i: number): void {
    const ins = this.ins(i);
    const out = this.lines;
    this.enter(i);
    const target = ins.nearBranchTarget;
    out.push(`if (${target} > cpu.segs.hi[${Seg.CS}]) { ${this.book()} raise(${Vector.GP}, 0); }`);
    this.push32(i, `${ins.nextIp}`);
    out.push(`regs.ip = ${target}; cpu.instructions = base + ${this.count};`);
  }

  /** RET / RET imm16 (32-bit operand size) ending the block: branch.ts `retNear(32, ...)` written out. */
  protected returnNear(i: number): void {
    const ins = this.ins(i);
    const out = this.lines;
    this.enter(i);
    const bytes = 4 + (ins.code === Code.Retnd_imm16 ? ins.immediate & 0xffff : 0);
    this.pop32(
      i,
      `tg${i}`,
      bytes,
      `if (tg${i} > cpu.segs.hi[${Seg.CS}]) { ${this.book()} raise(${Vector.GP}, 0); }`,
    );
    out.push(`regs.ip = tg${i}; cpu.instructions = base + ${this.count};`);
  }

  /**
   * Pushes a 32-bit value (`memory-access.ts` `push(cpu, 32, ...)`): on a 32-bit stack through the
   * inline store, on a 16-bit one (SS.B clear) through write32, ESP/SP moved after the write.
   */
  protected push32(i: number, value: string): void {
    const out = this.lines;
    out.push(`if ((cpu.segs.attr[${Seg.SS}] & ${Attr.DB}) !== 0) {`, `const sp${i} = (u32[4] - 4) >>> 0;`);
    this.store(32, Seg.SS, `sp${i}`, value);
    out.push(`r32[4] = sp${i}; }`);
    out.push(
      `else { ${this.book()} const sp = (r16[8] - 4) & 0xffff; write32(cpu, ${Seg.SS}, sp, ${value}); r16[8] = sp; }`,
    );
  }

  /**
   * Reads the 32-bit stack top into the new local `into` (`peek`), runs `check` (code that may raise),
   * then moves ESP/SP up by `bytes` (`adjustSp`): POP and RET.
   */
  protected pop32(i: number, into: string, bytes: number, check = ''): void {
    const out = this.lines;
    out.push(
      `let ${into};`,
      `if ((cpu.segs.attr[${Seg.SS}] & ${Attr.DB}) !== 0) {`,
      `const sp${i} = u32[4];`,
    );
    out.push(`${into} = ${this.load(32, Seg.SS, `sp${i}`)};`, check, `r32[4] = (sp${i} + ${bytes}) | 0; }`);
    out.push(
      `else { ${this.book()} const sp = r16[8]; ${into} = read32(cpu, ${Seg.SS}, sp) >>> 0; ${check} r16[8] = (sp + ${bytes}) & 0xffff; }`,
    );
  }

  /** A Jcc condition, from the compared values when this block computed them. */
  protected condition(cc: number): string {
    const fl = this.flags;
    if (fl !== null) {
      const { d, s, x } = fl;
      if (fl.op === LazyOp.Sub) {
        const sub = [
          `(((${d} ^ ${s}) & (${d} ^ ${x})) >>> 31) === 1`,
          `(((${d} ^ ${s}) & (${d} ^ ${x})) >>> 31) === 0`,
          `${d} < ${s}`,
          `${d} >= ${s}`,
          `${x} === 0`,
          `${x} !== 0`,
          `${d} <= ${s}`,
          `${d} > ${s}`,
          `(${x} | 0) < 0`,
          `(${x} | 0) >= 0`,
          `PARITY[${x} & 0xff] === 1`,
          `PARITY[${x} & 0xff] === 0`,
          `(${d} | 0) < (${s} | 0)`,
          `(${d} | 0) >= (${s} | 0)`,
          `(${d} | 0) <= (${s} | 0)`,
          `(${d} | 0) > (${s} | 0)`,
        ];
        return sub[cc]!;
      }
      if (fl.op === LazyOp.Logic) {
        const logic = [
          'false',
          'true',
          'false',
          'true',
          `${x} === 0`,
          `${x} !== 0`,
          `${x} === 0`,
          `${x} !== 0`,
          `(${x} | 0) < 0`,
          `(${x} | 0) >= 0`,
          `PARITY[${x} & 0xff] === 1`,
          `PARITY[${x} & 0xff] === 0`,
          `(${x} | 0) < 0`,
          `(${x} | 0) >= 0`,
          `(${x} | 0) <= 0`,
          `(${x} | 0) > 0`,
        ];
        return logic[cc]!;
      }
      // ADD and INC/DEC: the zero and sign tests; the rest from the record.
      if (cc === 4) return `${x} === 0`;
      if (cc === 5) return `${x} !== 0`;
      if (cc === 8) return `(${x} | 0) < 0`;
      if (cc === 9) return `(${x} | 0) >= 0`;
      if (fl.op === LazyOp.Add && cc === 2) return `${x} < ${d}`;
      if (fl.op === LazyOp.Add && cc === 3) return `${x} >= ${d}`;
    }
    return `testCondition(f, ${cc})`;
  }

  /**
   * Whether the flags instruction `i` leaves (its lazy record, or the status bits an eager writer
   * sets) are overwritten before anything can read them: a later register-only instruction replaces
   * all six status flags without reading them ({@link overwritesFlags}), with only flag-neutral
   * register instructions between (none of which can fault, so no handler or exception sees them).
   */
  protected flagsDead(i: number): boolean {
    for (let j = i + 1; j < this.count; j++) {
      const h = this.handler(j);
      if (FLAG_NEUTRAL.has(h)) continue;
      return this.overwritesFlags(j);
    }
    return false;
  }

  /**
   * Instruction `j` sets all six status flags from its operands alone and cannot fault: the
   * register-only ALU forms (a lazy record), IMUL r32, r32 and the shifts of a register by a
   * constant that is not 0 (eager bits, written inline below).
   */
  private overwritesFlags(j: number): boolean {
    const h = this.handler(j);
    const ins = this.ins(j);
    if (ALU.has(h)) return ins.op1Kind !== OpKind.Memory;
    if (h === FAST32.imulRR) return true;
    if (h === FAST32.shlRI || h === FAST32.shrRI || h === FAST32.sarRI) return (ins.immediate & 31) !== 0;
    const shift = SHIFT_CONST.get(ins.code);
    if (shift === undefined || ins.op0Kind !== OpKind.Register || h !== HANDLERS[ins.code]) return false;
    const c = ins.immediate & 31;
    return c !== 0 && c < shift.size;
  }

  /**
   * Instruction `i` sets all six status flags to the EFLAGS bits `bits` (`setArith` with every status
   * flag: nothing of the old record is needed), unless they are dead; no lazy record stays for a Jcc.
   */
  protected allFlags(i: number, bits: string): void {
    if (!this.flagsDead(i))
      this.lines.push(`f.bits = (f.bits & ${~OSZAPC}) | ((${bits}) & ${OSZAPC}); f.op = ${LazyOp.None};`);
    this.flags = null;
  }

  protected record(i: number, op: number, d: string, s: string, x: string): void {
    if (!this.flagsDead(i))
      this.lines.push(`f.op = ${op}; f.size = 32; f.dst = ${d}; f.src = ${s}; f.res = ${x};`);
    this.flags = { op, d, s, x };
  }

  /** The memory operand's offset (32-bit addressing), as `locate32` computes it. */
  protected address(ins: Instruction): string {
    const terms: string[] = [];
    if (ins.memBase !== Register.None) terms.push(`u32[${GPR_OF[ins.memBase]}]`);
    if (ins.memIndex !== Register.None) {
      const index = `u32[${GPR_OF[ins.memIndex]}]`;
      terms.push(ins.memScale === 1 ? index : `${index} * ${ins.memScale}`);
    }
    const disp = ins.memDisplacement;
    if (terms.length === 0) return `${disp >>> 0}`;
    if (disp !== 0) terms.unshift(`${disp}`);
    // A lone register needs no wrap (it is a 32-bit value already); any sum or scaled index does.
    if (terms.length === 1 && ins.memScale === 1) return terms[0]!;
    return `((${terms.join(' + ')}) >>> 0)`;
  }

  protected segment(ins: Instruction): number {
    return ins.memSegment - Register.ES;
  }

  /** Memory accesses written inline (the function then loads the TLB and RAM it uses). */
  protected accesses = 0;

  /**
   * Emits the offset `ma<k>` and TLB index `mt<k>` of an inline access of `last + 1` bytes at seg:off
   * and returns them with the test of the RAM-direct hit of `memory-access.ts` (flat segment, access
   * within one page, a RAM-direct read or write entry for it) and the RAM offset that hit gives.
   */
  protected ramDirect(
    seg: number,
    off: string,
    last: number,
    write: boolean,
  ): { k: number; a: string; hit: string; at: string; group: { hit: string; at: string } | null } {
    const group = this.groupAccess(seg, off, last, write);
    const k = this.accesses++;
    const a = `ma${k}`;
    const t = `mt${k}`;
    const [flat, tags, bases] = write ? [FLAT_WRITE, 'wT', 'wB'] : [FLAT_READ, 'rT', 'rB'];
    this.lines.push(`const ${a} = ${off}, ${t} = (${a} >>> 12) & ${TLB_MASK};`);
    const hit = `(sacc[${seg}] & ${flat}) === ${flat} && (${a} & 0xfff) <= ${0xfff - last} && ${tags}[${t}] === ${a} - (${a} & 0xfff) + tb`;
    return { k, a, hit, at: `${bases}[${t}] + (${a} & 0xfff)`, group };
  }

  /** Whether memory operands are grouped by base register ({@link AccessGroup}; 32-bit addresses). */
  protected groupAccesses = true;
  private readonly groups = new Map<number, AccessGroup>();

  /** Collects the block's {@link AccessGroup}s (before any instruction is written). */
  private findGroups(): void {
    const all = new Map<number, AccessGroup>();
    for (let i = 0; i < this.count; i++) {
      const m = this.groupMember(this.ins(i));
      if (m === null) continue;
      const key = m.reg * 8 + m.seg;
      const g = all.get(key);
      if (g === undefined)
        all.set(key, {
          id: 0,
          reg: m.reg,
          seg: m.seg,
          min: m.disp,
          end: m.disp + m.size,
          members: 1,
          anchored: false,
        });
      else {
        g.min = Math.min(g.min, m.disp);
        g.end = Math.max(g.end, m.disp + m.size);
        g.members++;
      }
    }
    let id = 0;
    for (const [key, g] of all)
      if (g.members >= GROUP_MEMBERS && g.end - g.min <= GROUP_SPAN) this.groups.set(key, { ...g, id: id++ });
  }

  /** The base register, segment, displacement and size of `ins`'s memory operand when it is `[reg + disp]`. */
  private groupMember(ins: Instruction): { reg: number; seg: number; disp: number; size: number } | null {
    if (ins.addressSize !== 32 || ins.memIndex !== Register.None || ins.memSize === 0) return null;
    if (ins.op0Kind !== OpKind.Memory && ins.op1Kind !== OpKind.Memory) return null;
    const reg = GPR_OF[ins.memBase];
    if (reg === undefined || ins.memBase < Register.EAX || ins.memBase > Register.EDI) return null;
    return { reg, seg: this.segment(ins), disp: ins.memDisplacement | 0, size: ins.memSize };
  }

  /**
   * The test and RAM offset of the group path for an access of `last + 1` bytes at seg:off, when it is
   * the current instruction's memory operand and that is in an {@link AccessGroup}; the group's first
   * access writes the anchor in front.
   */
  private groupAccess(
    seg: number,
    off: string,
    last: number,
    write: boolean,
  ): { hit: string; at: string } | null {
    if (this.groups.size === 0) return null;
    const ins = this.ins(this.current);
    const m = this.groupMember(ins);
    if (m === null || m.seg !== seg || off !== this.address(ins)) return null;
    const g = this.groups.get(m.reg * 8 + m.seg);
    if (g === undefined || m.disp < g.min || m.disp + last + 1 > g.end) return null;
    const n = g.id;
    if (!g.anchored) {
      g.anchored = true;
      const span = g.end - g.min;
      const ga = `ga${n}`;
      const gt = `gt${n}`;
      const entry = (flat: number, tags: string, bases: string, into: string) =>
        `if ((sacc[${seg}] & ${flat}) === ${flat} && ${tags}[${gt}] === ${ga} - (${ga} & 0xfff) + tb) ${into} = ${bases}[${gt}] + (${ga} & 0xfff) - ${g.min};`;
      this.lines.push(
        `gv${n} = r32[${g.reg}]; gr${n} = -1; gw${n} = -1;`,
        `const ${ga} = (u32[${g.reg}] + ${g.min}) >>> 0, ${gt} = (${ga} >>> 12) & ${TLB_MASK};`,
        `if ((${ga} & 0xfff) <= ${4096 - span}) {`,
        entry(FLAT_READ, 'rT', 'rB', `gr${n}`),
        entry(FLAT_WRITE, 'wT', 'wB', `gw${n}`),
        '}',
      );
    }
    const base = write ? `gw${n}` : `gr${n}`;
    return { hit: `${base} >= 0 && r32[${g.reg}] === gv${n}`, at: `${base} + ${m.disp}` };
  }

  /**
   * Emits a read of `size` bits at seg:off into a new local and returns its name: the RAM-direct hit
   * written out ({@link ramDirect}), else the call `read8/16/32` makes every check in.
   */
  protected load(size: 8 | 16 | 32, seg: number, off: string): string {
    const { k, a, hit, at, group } = this.ramDirect(seg, off, size / 8 - 1, false);
    const v = `mv${k}`;
    const get =
      size === 8 ? `ram[at]` : size === 16 ? 'view.getUint16(at, true)' : 'view.getUint32(at, true)';
    this.lines.push(`let ${v};`);
    if (group !== null) this.lines.push(`if (${group.hit}) { const at = ${group.at}; ${v} = ${get}; } else`);
    this.lines.push(
      `if (${hit}) { const at = ${at}; ${v} = ${get}; }`,
      `else { ${this.book()} ${v} = ${this.readCall(size, seg, a)} >>> 0; }`,
    );
    return v;
  }

  /** The slow path's read of `size` bits at seg:`a` (32-bit code: the offset as int32, see {@link szpOf}). */
  protected readCall(size: 8 | 16 | 32, seg: number, a: string): string {
    return `read${size}s(cpu, ${seg}, ${a} | 0)`;
  }

  /** The slow path's write of `value` (`size` bits) at seg:`a`, as {@link readCall}. */
  protected writeCall(size: 8 | 16 | 32, seg: number, a: string, value: string): string {
    return `write${size}s(cpu, ${seg}, ${a} | 0, (${value}) | 0)`;
  }

  /** Emits a write of `size` bits at seg:off, as {@link load} (a write entry: RAM without decoded code). */
  protected store(size: 8 | 16 | 32, seg: number, off: string, value: string): void {
    const { a, hit, at, group } = this.ramDirect(seg, off, size / 8 - 1, true);
    const put =
      size === 8
        ? `ram[at] = ${value}`
        : size === 16
          ? `view.setUint16(at, ${value}, true)`
          : `view.setUint32(at, ${value}, true)`;
    if (group !== null) this.lines.push(`if (${group.hit}) { const at = ${group.at}; ${put}; } else`);
    this.lines.push(
      `if (${hit}) { const at = ${at}; ${put}; }`,
      `else { ${this.book()} ${this.writeCall(size, seg, a, value)}; }`,
    );
  }

  /** Writes an instruction inline when its fast handler is one the tier knows; false otherwise. */
  protected inline(i: number, ins: Instruction, h: Handler): boolean {
    const out = this.lines;
    const F = FAST32;
    const d = GPR_OF[ins.op0Register] ?? -1;
    const s = GPR_OF[ins.op1Register] ?? -1;
    // Register-only, flag-neutral moves.
    if (h === F.movRR) out.push(`r32[${d}] = r32[${s}];`);
    else if (h === F.movRI) out.push(`r32[${d}] = ${ins.immediate | 0};`);
    else if (h === F.mov8RR)
      out.push(`r8[${BYTE_OFFSET_OF[ins.op0Register]}] = r8[${BYTE_OFFSET_OF[ins.op1Register]}];`);
    else if (h === F.mov16RR) out.push(`r16[${d << 1}] = r16[${s << 1}];`);
    else if (h === F.lea32) out.push(`r32[${d}] = ${this.address(ins)};`);
    else if (h === F.movzx16R) out.push(`r32[${d}] = r16[${s << 1}];`);
    else if (h === F.movzx8R) out.push(`r32[${d}] = r8[${BYTE_OFFSET_OF[ins.op1Register]}];`);
    // Loads and stores: the interpreter's bookkeeping in front, the stop test after.
    else if (h === F.movRM || h === F.mov8RM || h === F.mov16RM || h === F.movzx16M || h === F.movzx8M) {
      this.enter(i);
      const seg = this.segment(ins);
      const off = this.address(ins);
      if (h === F.movRM) out.push(`r32[${d}] = ${this.load(32, seg, off)};`);
      else if (h === F.mov8RM)
        out.push(`r8[${BYTE_OFFSET_OF[ins.op0Register]}] = ${this.load(8, seg, off)};`);
      else if (h === F.mov16RM) out.push(`r16[${d << 1}] = ${this.load(16, seg, off)};`);
      else if (h === F.movzx16M) out.push(`r32[${d}] = ${this.load(16, seg, off)};`);
      else out.push(`r32[${d}] = ${this.load(8, seg, off)};`);
      this.leaveIfStopped(i);
    } else if (h === F.movMR || h === F.movMI || h === F.mov8MR || h === F.mov16MR) {
      this.enter(i);
      const seg = this.segment(ins);
      const off = this.address(ins);
      if (h === F.movMR) this.store(32, seg, off, `u32[${s}]`);
      else if (h === F.movMI) this.store(32, seg, off, `${ins.immediate >>> 0}`);
      else if (h === F.mov8MR) this.store(8, seg, off, `r8[${BYTE_OFFSET_OF[ins.op1Register]}]`);
      else this.store(16, seg, off, `r16[${s << 1}]`);
      this.leaveIfStopped(i);
    } else if (ALU.has(h) || h === F.adcR || h === F.sbbR) {
      const k = ins.op1Kind;
      const memory = k === OpKind.Memory;
      if (memory) this.enter(i);
      const src =
        k === OpKind.Register
          ? `u32[${s}]`
          : memory
            ? this.load(32, this.segment(ins), this.address(ins))
            : `${ins.immediate >>> 0}`;
      const dv = `d${i}`;
      const sv = `s${i}`;
      const xv = `x${i}`;
      out.push(`const ${dv} = u32[${d}], ${sv} = ${src};`);
      const alu = ALU.get(h);
      if (alu !== undefined) {
        out.push(`const ${xv} = (${dv} ${alu.op} ${sv}) >>> 0;`);
        if (alu.store) out.push(`r32[${d}] = ${xv};`);
        this.record(i, alu.lazy, dv, sv, xv);
      } else {
        // ADC/SBB: the carry-in decides the recorded kind, as in the interpreter.
        const add = h === F.adcR;
        out.push(
          `const c${i} = getCF(f), ${xv} = (${dv} ${add ? '+' : '-'} ${sv} ${add ? '+' : '-'} c${i}) >>> 0;`,
        );
        out.push(`r32[${d}] = ${xv};`);
        const [withCarry, plain] = add ? [LazyOp.Adc, LazyOp.Add] : [LazyOp.Sbb, LazyOp.Sub];
        out.push(
          `f.op = c${i} ? ${withCarry} : ${plain}; f.size = 32; f.dst = ${dv}; f.src = ${sv}; f.res = ${xv};`,
        );
        this.flags = null;
      }
      if (memory) this.leaveIfStopped(i);
    } else if (h === F.incR || h === F.decR) {
      const inc = h === F.incR;
      out.push(`const d${i} = u32[${d}], x${i} = (d${i} ${inc ? '+' : '-'} 1) >>> 0;`);
      out.push(`r32[${d}] = x${i};`);
      const op = inc ? LazyOp.Inc : LazyOp.Dec;
      out.push(incDecRecord(op, `d${i}`, `x${i}`));
      this.flags = { op, d: `d${i}`, s: '1', x: `x${i}` };
    } else if (h === F.shlRI || h === F.shrRI || h === F.sarRI) {
      const c = ins.immediate & 31;
      if (c !== 0) {
        const dv = `d${i}`;
        const xv = `x${i}`;
        const cf = `cf${i}`;
        let bits: string;
        if (h === F.shlRI) {
          out.push(
            `const ${dv} = u32[${d}], ${xv} = (${dv} << ${c}) >>> 0, ${cf} = (${dv} >>> ${32 - c}) & 1;`,
          );
          bits = `${szpOf(xv, 32)} | ((${xv} >>> 31) ^ ${cf} ? ${EFLAGS.OF} : 0) | ${cf}`;
        } else if (h === F.shrRI) {
          out.push(`const ${dv} = u32[${d}], ${xv} = ${dv} >>> ${c}, ${cf} = (${dv} >>> ${c - 1}) & 1;`);
          bits =
            c === 1
              ? `${szpOf(xv, 32)} | (${dv} >>> 31 ? ${EFLAGS.OF} : 0) | ${cf}`
              : `${szpOf(xv, 32)} | ${cf}`;
        } else {
          out.push(
            `const ${dv} = r32[${d}], ${xv} = (${dv} >> ${c}) >>> 0, ${cf} = (${dv} >> ${c - 1}) & 1;`,
          );
          bits = `${szpOf(xv, 32)} | ${cf}`;
        }
        out.push(`r32[${d}] = ${xv};`);
        this.allFlags(i, bits);
      }
    } else if (h === F.imulRR) {
      out.push(`const a${i} = r32[${s}], b${i} = r32[${d}], x${i} = Math.imul(a${i}, b${i});`);
      out.push(`r32[${d}] = x${i};`);
      this.allFlags(
        i,
        `${szpOf(`x${i} >>> 0`, 32)} | (a${i} * b${i} !== x${i} ? ${EFLAGS.OF | EFLAGS.CF} : 0)`,
      );
    } else if (h === F.pushR) {
      this.enter(i);
      out.push(`const v${i} = u32[${d}];`);
      this.push32(i, `v${i}`);
      this.leaveIfStopped(i);
    } else if (h === F.popR) {
      this.enter(i);
      // The register is written after ESP moves, so POP ESP loads the popped value.
      this.pop32(i, `v${i}`, 4);
      out.push(`r32[${d}] = v${i};`);
      this.leaveIfStopped(i);
    } else if (!this.generic(i, ins, h)) return false;
    this.finish(i);
    return true;
  }

  /**
   * Forms without a fast handler written inline (when the block runs their generic handler: not when
   * a missing CPUID feature gave them another meaning), with those handlers' semantics.
   */
  protected generic(i: number, ins: Instruction, h: Handler): boolean {
    if (HANDLERS[ins.code] !== h) return false;
    const out = this.lines;
    const code = ins.code;
    const k0 = ins.op0Kind;
    const k1 = ins.op1Kind;
    const d = GPR_OF[ins.op0Register] ?? -1;
    const s = GPR_OF[ins.op1Register] ?? -1;
    const memory = k0 === OpKind.Memory || k1 === OpKind.Memory;
    if (memory && ins.addressSize !== 32) return false;
    const dv = `d${i}`;
    const sv = `s${i}`;
    const xv = `x${i}`;
    if ((code === Code.Rol_rm32_imm8 || code === Code.Ror_rm32_imm8) && k0 === OpKind.Register) {
      // shift.ts: a masked count of 0 changes nothing; ROL/ROR set CF and OF only (setArith).
      const c = ins.immediate & 31;
      if (c === 0) return true;
      const rol = code === Code.Rol_rm32_imm8;
      out.push(
        rol
          ? `const ${dv} = u32[${d}], ${xv} = ((${dv} << ${c}) | (${dv} >>> ${32 - c})) >>> 0, cf${i} = ${xv} & 1, of${i} = (${xv} >>> 31) ^ cf${i};`
          : `const ${dv} = u32[${d}], ${xv} = ((${dv} >>> ${c}) | (${dv} << ${32 - c})) >>> 0, cf${i} = ${xv} >>> 31, of${i} = cf${i} ^ ((${xv} >>> 30) & 1);`,
      );
      out.push(
        `r32[${d}] = ${xv};`,
        `setArith(f, ${EFLAGS.OF | EFLAGS.CF}, (of${i} ? ${EFLAGS.OF} : 0) | cf${i});`,
      );
      this.flags = null;
      return true;
    }
    if ((CMP32.has(code) || TEST32.has(code)) && k0 === OpKind.Memory) {
      // alu.ts binary/test: operand 0 read first, then operand 1 (a register or the immediate).
      this.enter(i);
      const m = this.load(32, this.segment(ins), this.address(ins));
      const src = k1 === OpKind.Register ? `u32[${s}]` : `${ins.immediate >>> 0}`;
      const cmp = CMP32.has(code);
      out.push(`const ${dv} = ${m}, ${sv} = ${src}, ${xv} = (${dv} ${cmp ? '-' : '&'} ${sv}) >>> 0;`);
      this.record(i, cmp ? LazyOp.Sub : LazyOp.Logic, dv, sv, xv);
      this.leaveIfStopped(i);
      return true;
    }
    if (CMP8.has(code) || TEST8.has(code)) {
      if (memory) this.enter(i);
      const seg = this.segment(ins);
      const operand = (kind: number, reg: number): string =>
        kind === OpKind.Register
          ? `r8[${BYTE_OFFSET_OF[reg]}]`
          : kind === OpKind.Memory
            ? this.load(8, seg, this.address(ins))
            : `${ins.immediate & 0xff}`;
      const a = operand(k0, ins.op0Register);
      const b = operand(k1, ins.op1Register);
      const cmp = CMP8.has(code);
      out.push(`const ${dv} = ${a}, ${sv} = ${b}, ${xv} = (${dv} ${cmp ? '-' : '&'} ${sv}) & 0xff;`);
      if (!this.flagsDead(i))
        out.push(
          `f.op = ${cmp ? LazyOp.Sub : LazyOp.Logic}; f.size = 8; f.dst = ${dv}; f.src = ${sv}; f.res = ${xv};`,
        );
      // condition() reads 32-bit locals: Jcc reads this record through testCondition.
      this.flags = null;
      if (memory) this.leaveIfStopped(i);
      return true;
    }
    const setcc = SETCC.get(code);
    if (setcc !== undefined && k0 === OpKind.Register) {
      out.push(`r8[${BYTE_OFFSET_OF[ins.op0Register]}] = ${this.condition(setcc)} ? 1 : 0;`);
      return true;
    }
    const cmov = CMOVCC.get(code);
    if (cmov !== undefined) {
      // data.ts cmov: the source is read whether or not the condition holds.
      if (k1 === OpKind.Register) out.push(`if (${this.condition(cmov)}) r32[${d}] = r32[${s}];`);
      else {
        this.enter(i);
        const m = this.load(32, this.segment(ins), this.address(ins));
        out.push(`if (${this.condition(cmov)}) r32[${d}] = ${m};`);
        this.leaveIfStopped(i);
      }
      return true;
    }
    if (code === Code.Bswap_r32) {
      out.push(
        `const ${dv} = u32[${d}];`,
        `r32[${d}] = (${dv} >>> 24) | ((${dv} >>> 8) & 0xff00) | ((${dv} << 8) & 0xff0000) | (${dv} << 24);`,
      );
      return true;
    }
    if (code === Code.Not_rm32 && k0 === OpKind.Register) {
      out.push(`r32[${d}] = ~r32[${d}];`);
      return true;
    }
    if (code === Code.Neg_rm32 && k0 === OpKind.Register) {
      out.push(`const ${sv} = u32[${d}], ${xv} = -${sv} >>> 0;`, `r32[${d}] = ${xv};`);
      this.record(i, LazyOp.Neg, '0', sv, xv);
      return true;
    }
    const rmw = ALU_RMW.get(code);
    if (rmw !== undefined && k0 === OpKind.Memory) {
      // alu.ts binary: operand 0 read, operand 1, the result written, then the lazy record.
      this.enter(i);
      const seg = this.segment(ins);
      const off = this.address(ins);
      const m = this.load(32, seg, off);
      const src = k1 === OpKind.Register ? `u32[${s}]` : `${ins.immediate >>> 0}`;
      out.push(`const ${dv} = ${m}, ${sv} = ${src}, ${xv} = (${dv} ${rmw.op} ${sv}) >>> 0;`);
      this.store(32, seg, off, xv);
      this.record(i, rmw.lazy, dv, sv, xv);
      this.leaveIfStopped(i);
      return true;
    }
    if ((code === Code.Inc_rm32 || code === Code.Dec_rm32) && k0 === OpKind.Memory) {
      // alu.ts incDec: read, write, then the lazy record (which keeps CF).
      this.enter(i);
      const seg = this.segment(ins);
      const off = this.address(ins);
      const m = this.load(32, seg, off);
      const inc = code === Code.Inc_rm32;
      out.push(`const ${dv} = ${m}, ${xv} = (${dv} ${inc ? '+' : '-'} 1) >>> 0;`);
      this.store(32, seg, off, xv);
      const op = inc ? LazyOp.Inc : LazyOp.Dec;
      out.push(incDecRecord(op, dv, xv));
      this.flags = { op, d: dv, s: '1', x: xv };
      this.leaveIfStopped(i);
      return true;
    }
    const alu8 = ALU8.get(code);
    if (alu8 !== undefined) {
      // alu.ts binary at 8 bits: operand 0 read, operand 1, the result written, then the lazy record.
      if (memory) this.enter(i);
      const seg = this.segment(ins);
      const dst =
        k0 === OpKind.Register
          ? `r8[${BYTE_OFFSET_OF[ins.op0Register]}]`
          : this.load(8, seg, this.address(ins));
      const src =
        k1 === OpKind.Register
          ? `r8[${BYTE_OFFSET_OF[ins.op1Register]}]`
          : k1 === OpKind.Memory
            ? this.load(8, seg, this.address(ins))
            : `${ins.immediate & 0xff}`;
      out.push(`const ${dv} = ${dst}, ${sv} = ${src}, ${xv} = (${dv} ${alu8.op} ${sv}) & 0xff;`);
      if (k0 === OpKind.Register) out.push(`r8[${BYTE_OFFSET_OF[ins.op0Register]}] = ${xv};`);
      else this.store(8, seg, this.address(ins), xv);
      if (!this.flagsDead(i))
        out.push(`f.op = ${alu8.lazy}; f.size = 8; f.dst = ${dv}; f.src = ${sv}; f.res = ${xv};`);
      // condition() reads 32-bit locals: a Jcc reads this record through testCondition.
      this.flags = null;
      if (memory) this.leaveIfStopped(i);
      return true;
    }
    if (NOPS.has(code)) return true;
    if (code === Code.Mov_rm8_imm8 && k0 === OpKind.Memory) {
      this.enter(i);
      this.store(8, this.segment(ins), this.address(ins), `${ins.immediate & 0xff}`);
      this.leaveIfStopped(i);
      return true;
    }
    if (code === Code.Mov_r8_imm8) {
      out.push(`r8[${BYTE_OFFSET_OF[ins.op0Register]}] = ${ins.immediate & 0xff};`);
      return true;
    }
    const constant = SHIFT_CONST.get(code);
    if (constant !== undefined && k0 === OpKind.Register) return this.shiftConstant(i, ins, constant);
    const shift = SHIFT_CL.get(code);
    if (shift !== undefined && k0 === OpKind.Register) {
      // shift.ts with the count from CL: 0 changes nothing, else all six status flags (setArith).
      const c = `c${i}`;
      const cf = `cf${i}`;
      let bits: string;
      out.push(`const ${c} = r8[${BYTE_OFFSET_OF[Register.CL]}] & 31;`, `if (${c} !== 0) {`);
      if (shift === 'shl') {
        out.push(
          `const ${dv} = u32[${d}], ${xv} = (${dv} << ${c}) >>> 0, ${cf} = (${dv} >>> (32 - ${c})) & 1;`,
        );
        bits = `${szpOf(xv, 32)} | ((${xv} >>> 31) ^ ${cf} ? ${EFLAGS.OF} : 0) | ${cf}`;
      } else if (shift === 'shr') {
        out.push(`const ${dv} = u32[${d}], ${xv} = ${dv} >>> ${c}, ${cf} = (${dv} >>> (${c} - 1)) & 1;`);
        bits = `${szpOf(xv, 32)} | (${c} === 1 && ${dv} >>> 31 ? ${EFLAGS.OF} : 0) | ${cf}`;
      } else {
        out.push(
          `const ${dv} = r32[${d}], ${xv} = (${dv} >> ${c}) >>> 0, ${cf} = (${dv} >> (${c} - 1)) & 1;`,
        );
        bits = `${szpOf(xv, 32)} | ${cf}`;
      }
      out.push(`r32[${d}] = ${xv};`);
      out.push(`f.bits = (f.bits & ${~OSZAPC}) | ((${bits}) & ${OSZAPC}); f.op = ${LazyOp.None}; }`);
      this.flags = null;
      return true;
    }
    return false;
  }

  /**
   * SHL/SHR/SAR of a 16- or 32-bit register by a constant (shift.ts `shiftValue`): a masked count of 0
   * changes nothing; 1 to width-1 set all six status flags (AF cleared); a 16-bit count of 16 or more
   * calls the handler (false).
   */
  protected shiftConstant(
    i: number,
    ins: Instruction,
    { kind, size }: { kind: 'shl' | 'shr' | 'sar'; size: 16 | 32 },
  ): boolean {
    // The decoder gives the `_1` forms an immediate of 1.
    const c = ins.immediate & 31;
    if (c >= size) return false;
    if (c === 0) return true;
    const out = this.lines;
    const d = GPR_OF[ins.op0Register]!;
    const reg = size === 32 ? `u32[${d}]` : `r16[${d << 1}]`;
    const dv = `d${i}`;
    const xv = `x${i}`;
    const cf = `cf${i}`;
    const top = size - 1;
    const mask = size === 32 ? '>>> 0' : '& 0xffff';
    let of: string;
    if (kind === 'shl') {
      out.push(`const ${dv} = ${reg}, ${xv} = (${dv} << ${c}) ${mask}, ${cf} = (${dv} >>> ${size - c}) & 1;`);
      of = `((${xv} >>> ${top}) & 1) ^ ${cf}`;
    } else if (kind === 'shr') {
      out.push(`const ${dv} = ${reg}, ${xv} = ${dv} >>> ${c}, ${cf} = (${dv} >>> ${c - 1}) & 1;`);
      of = c === 1 ? `(${dv} >>> ${top}) & 1` : '0';
    } else {
      const signed = size === 32 ? `${reg} | 0` : `(${reg} << 16) >> 16`;
      out.push(`const ${dv} = ${signed}, ${xv} = (${dv} >> ${c}) ${mask}, ${cf} = (${dv} >> ${c - 1}) & 1;`);
      of = '0';
    }
    out.push(size === 32 ? `r32[${d}] = ${xv};` : `r16[${d << 1}] = ${xv};`);
    this.allFlags(i, `${szpOf(xv, size)} | (${of} ? ${EFLAGS.OF} : 0) | ${cf}`);
    return true;
  }
}
