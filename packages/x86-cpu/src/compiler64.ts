/**
 * The compiling tier for 64-bit code (IA-32e 64-bit mode): `compiler.ts`'s {@link BlockWriter} with the
 * forms of `fast-paths64.ts` written inline (recognised by their handlers, `FAST64`), with those
 * handlers' semantics:
 * - 64-bit values as two 32-bit halves (low at GPR n, high at n + {@link GPR_HI}); a 32-bit result
 *   zeroes the high half;
 * - 32-bit ALU results record the lazy 32-bit flag record (so a Jcc after a 32-bit CMP/SUB/TEST is
 *   computed from the compared values and dead records are dropped, as in `compiler.ts`); 64-bit ALU
 *   results store their status flags eagerly, as `flagsAdd64`/`flagsSub64`/`flagsLogic64` do;
 * - memory operands with 64-bit addressing: the sum `effectiveAddress64` makes, #GP(0)/#SS(0) when it
 *   is not canonical (`locate64`), then the RAM-direct TLB path of `BlockWriter.load`/`store` (which
 *   holds for 64-bit offsets: a flat segment's linear address is the offset, and an access that stays
 *   in one page of a canonical address stays canonical) or `read64`/`write64` and the others, which
 *   make every check (FS/GS bases, paging);
 * - PUSH/POP r64 as `push64`/`pop64` (#SS(0) for a non-canonical RSP, RSP moved after the access);
 * - JMP/Jcc rel: #GP(0) for a non-canonical target (`jumpTo64`).
 * Everything else calls its handler with the interpreter's bookkeeping. `compiler64.test.ts` runs
 * random 64-bit blocks both ways and compares the whole state.
 *
 * Left to the handlers' scratch: an inline access sets neither `cpu.eaSeg`/`cpu.eaOff` nor, for a
 * 64-bit value, `cpu.hi` (no handler reads them without computing them first).
 */
import { Code, type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Block } from './block-cache.js';
import {
  BlockWriter,
  type CompiledBlock,
  compileSource,
  incDecRecord,
  jumpConditions,
  RUNTIME,
} from './compiler.js';
import type { Handler } from './cpu.js';
import { HANDLERS } from './dispatch.js';
import { Vector } from './exceptions.js';
import { FAST64 } from './fast-paths64.js';
import { ARITH_FLAGS, EFLAGS, LazyOp } from './flags.js';
import { isCanonical, read64, TWO_32, write64 } from './memory-access.js';
import { BYTE_OFFSET_OF, GPR_HI, GPR_OF, Seg } from './registers.js';

/** What 64-bit blocks call besides {@link RUNTIME}. */
const RUNTIME64 = { ...RUNTIME, read64, write64 };

const F = FAST64;

/** The 64-bit-mode JMP/Jcc rel codes. */
const JCC64 = jumpConditions(['rel8_64', 'rel32_64']);

/** The branch handlers written inline: the fast ones and the generic ones (`testCondition`, `jumpTo64`). */
const BRANCHES = new Set<Handler>([
  F.jmp,
  F.jb,
  F.jae,
  F.je,
  F.jne,
  F.jbe,
  F.ja,
  F.js,
  F.jns,
  F.jl,
  F.jge,
  F.jle,
  F.jg,
]);
for (const code of JCC64.keys()) {
  const h = HANDLERS[code];
  if (h !== undefined) BRANCHES.add(h);
}

/** 32-bit ALU forms (lazy 32-bit record): operation, recorded kind, whether the result is stored. */
const ALU32 = new Map<Handler, { op: string; lazy: number; store: boolean }>([
  [F.add32, { op: '+', lazy: LazyOp.Add, store: true }],
  [F.sub32, { op: '-', lazy: LazyOp.Sub, store: true }],
  [F.cmp32, { op: '-', lazy: LazyOp.Sub, store: false }],
  [F.and32, { op: '&', lazy: LazyOp.Logic, store: true }],
  [F.or32, { op: '|', lazy: LazyOp.Logic, store: true }],
  [F.xor32, { op: '^', lazy: LazyOp.Logic, store: true }],
  [F.test32, { op: '&', lazy: LazyOp.Logic, store: false }],
]);

/** 64-bit ALU forms (eager flags): kind and whether the result is stored. */
const ALU64 = new Map<Handler, { kind: 'add' | 'sub' | '&' | '|' | '^'; store: boolean }>([
  [F.add64, { kind: 'add', store: true }],
  [F.sub64, { kind: 'sub', store: true }],
  [F.cmp64, { kind: 'sub', store: false }],
  [F.and64, { kind: '&', store: true }],
  [F.or64, { kind: '|', store: true }],
  [F.xor64, { kind: '^', store: true }],
  [F.test64, { kind: '&', store: false }],
]);

/** Register-only forms that leave the flags alone and cannot fault. */
const FLAG_NEUTRAL = new Set<Handler>([
  F.mov64RR,
  F.mov64RI,
  F.mov32RR,
  F.mov32RI,
  F.lea64,
  F.lea32,
  F.movzx16R,
  F.movzx8R,
  F.movsxdR,
]);

const OSZAPC = ARITH_FLAGS;

/** Compiles a 64-bit block, or returns null when it is not 64-bit code. */
export function compileBlock64(block: Block): CompiledBlock | null {
  if (block.bitness !== 64 || block.count === 0) return null;
  return compileSource(new BlockWriter64(block).write(), RUNTIME64);
}

/** The source of one 64-bit block's function (for tests and for reading what the tier makes). */
export function blockSource64(block: Block): string {
  return new BlockWriter64(block).write();
}

/**
 * `locate64`'s address for an operand whose sum is a constant (RIP-relative without index, or an
 * absolute displacement): the canonical offset, or null for #GP/#SS.
 */
function constantAddress(ins: Instruction): number | null {
  let lo = ins.memDisplacement >>> 0;
  let hi = ins.memDisplSize === 8 ? ins.memDisplacementHi : ins.memDisplacement < 0 ? -1 : 0;
  if (ins.memBase === Register.RIP || ins.memBase === Register.EIP) {
    const ip = ins.nextIp;
    lo += ip >>> 0;
    hi += Math.floor(ip / TWO_32);
  }
  const h = ((hi + Math.floor(lo / TWO_32)) >>> 0) | 0;
  if ((h << 16) >> 16 !== h) return null;
  return h * TWO_32 + (lo >>> 0);
}

/** The test that the signed-form 64-bit value `v` is canonical (`isCanonical`), as generated code. */
function canonical(v: string): string {
  return `(${v} >= -0x800000000000 && ${v} < 0x800000000000)`;
}

/** Generated code setting RSP from the signed-form 64-bit value `v` (`setRsp`). */
function setRsp(v: string): string {
  return `r32[4] = (${v} % ${TWO_32}) | 0; r32[${4 + GPR_HI}] = Math.floor(${v} / ${TWO_32});`;
}

export class BlockWriter64 extends BlockWriter {
  /**
   * 64-bit blocks keep their registers in the register file: with both halves of each GPR in locals
   * the Debian amd64 boot was slower (in-thread, first line / GUEST-READY / GUEST-DONE 81.3 / 140.1 /
   * 169.4 s against 75.1 / 134.0 / 160.7 s back to back).
   */
  protected override localWords = 0;
  /** 64-bit addresses are no `[r32 + disp]`: no access groups. */
  protected override groupAccesses = false;
  /** The last flag writer so far wrote all six status flags eagerly (`f.op` is None). */
  private eager = false;

  /** A 64-bit offset is no 32-bit number: the plain `read8`... take it as it is. */
  protected override readCall(size: 8 | 16 | 32, seg: number, a: string): string {
    return `read${size}(cpu, ${seg}, ${a})`;
  }

  protected override writeCall(size: 8 | 16 | 32, seg: number, a: string, value: string): string {
    return `write${size}(cpu, ${seg}, ${a}, ${value})`;
  }

  protected override get selfLoop(): boolean {
    const last = this.ins(this.count - 1);
    return (
      this.calls === 0 &&
      JCC64.has(last.code) &&
      BRANCHES.has(this.block.handlers[this.count - 1]!) &&
      last.nearBranchTarget === this.block.ip
    );
  }

  protected override instruction(i: number): void {
    const ins = this.ins(i);
    const h = this.block.handlers[i]!;
    const cc = JCC64.get(ins.code);
    const generic = h === HANDLERS[ins.code];
    if (cc !== undefined && this.isLast(i) && BRANCHES.has(h)) this.branch(i, cc);
    else if (cc !== undefined && cc >= 0 && BRANCHES.has(h)) this.exitIfTaken(i, cc);
    else if (this.isLast(i) && generic && ins.code === Code.Call_rel32_64) this.callNear64(i);
    else if (this.isLast(i) && generic && (ins.code === Code.Retnq || ins.code === Code.Retnq_imm16))
      this.returnNear64(i);
    else if (!this.inline(i, ins, h)) this.call(i);
  }

  /**
   * Emits RSP + `delta` into the new local `sp<i>` and `stackAddress`'s test of it (#SS(0) when it is
   * not canonical): PUSH, POP, CALL and RET.
   */
  private stackSlot(i: number, delta: number): string {
    const sp = `sp${i}`;
    this.lines.push(
      `const ${sp} = r32[${4 + GPR_HI}] * ${TWO_32} + u32[4]${delta === 0 ? '' : ` - ${-delta}`};`,
      `if (!${canonical(sp)}) { ${this.book()} raise(${Vector.SS}, 0); }`,
    );
    return sp;
  }

  /**
   * CALL rel32 in 64-bit mode ending the block (long-data.ts `call64`): #GP(0) for a non-canonical
   * target before anything moves, then the 8-byte push of the next RIP (#SS(0) for a non-canonical
   * RSP - 8, then the write; RSP after it).
   */
  protected callNear64(i: number): void {
    const ins = this.ins(i);
    const out = this.lines;
    this.enter(i);
    const target = ins.nearBranchTarget;
    if (!isCanonical(target)) {
      out.push(`${this.book()} raise(${Vector.GP}, 0);`);
      return;
    }
    const next = ins.nextIp;
    const sp = this.stackSlot(i, -8);
    this.store64(Seg.SS, sp, `${next >>> 0}`, `${Math.floor(next / TWO_32) >>> 0}`);
    out.push(setRsp(sp), `regs.ip = ${target}; cpu.instructions = base + ${this.count};`);
  }

  /**
   * RET / RET imm16 in 64-bit mode ending the block (long-data.ts `retNear64`): the 8 bytes at RSP
   * (#SS(0) for a non-canonical RSP), #GP(0) for a non-canonical return address with RSP unchanged,
   * then RSP moves up by 8 and the immediate.
   */
  protected returnNear64(i: number): void {
    const ins = this.ins(i);
    const out = this.lines;
    this.enter(i);
    const bytes = 8 + (ins.code === Code.Retnq_imm16 ? ins.immediate & 0xffff : 0);
    const sp = this.stackSlot(i, 0);
    const [lo, hi] = this.load64(Seg.SS, sp);
    const tg = `tg${i}`;
    out.push(`const ${tg} = (${hi} | 0) * ${TWO_32} + (${lo} >>> 0);`);
    out.push(`if (!${canonical(tg)}) { ${this.book()} raise(${Vector.GP}, 0); }`);
    out.push(`{ const n = ${sp} + ${bytes}; ${setRsp('n')} }`);
    out.push(`regs.ip = ${tg}; cpu.instructions = base + ${this.count};`);
  }

  /** The jump to `target` in 64-bit mode: #GP(0) for a non-canonical target (no CS limit). */
  protected override jumpTo(target: number): string {
    return isCanonical(target) ? `regs.ip = ${target};` : `${this.book()} raise(${Vector.GP}, 0);`;
  }

  /** JMP rel / Jcc rel in 64-bit mode, the block's last instruction. */
  protected override branch(i: number, cc: number): void {
    const ins = this.ins(i);
    this.enter(i);
    const go = this.jumpTo(ins.nearBranchTarget);
    if (cc < 0) this.lines.push(go);
    else this.lines.push(`if (${this.condition(cc)}) { ${go} } else regs.ip = ${ins.nextIp};`);
    this.lines.push(`cpu.instructions = base + ${this.count};`);
  }

  protected override call(i: number): void {
    this.eager = false;
    super.call(i);
  }

  /**
   * A Jcc condition: from the compared values after a 32-bit ALU form of this block (`compiler.ts`),
   * from the status bits after a 64-bit one (as `testCondition` reads them when `f.op` is None).
   */
  protected override condition(cc: number): string {
    if (this.flags !== null || !this.eager) return super.condition(cc);
    const less = `(((f.bits >>> 7) ^ (f.bits >>> 11)) & 1) !== 0`;
    const lessOrEqual = `((f.bits & ${EFLAGS.ZF}) !== 0 || ${less})`;
    const bits = [EFLAGS.OF, EFLAGS.CF, EFLAGS.ZF, EFLAGS.CF | EFLAGS.ZF, EFLAGS.SF, EFLAGS.PF];
    if (cc < 12) return `(f.bits & ${bits[cc >>> 1]}) ${cc & 1 ? '===' : '!=='} 0`;
    if (cc === 12) return less;
    if (cc === 13) return `!(${less})`;
    if (cc === 14) return lessOrEqual;
    return `!${lessOrEqual}`;
  }

  /** As in `compiler.ts`: a 32-bit record is dead when a register-only 32-bit ALU form replaces it. */
  protected override flagsDead(i: number): boolean {
    for (let j = i + 1; j < this.count; j++) {
      const h = this.block.handlers[j]!;
      if (FLAG_NEUTRAL.has(h)) continue;
      return ALU32.has(h) && this.ins(j).op1Kind !== OpKind.Memory;
    }
    return false;
  }

  /**
   * Emits `locate64` for the memory operand of instruction `i` into a new local and returns its name
   * (the canonical offset in signed form), raising #GP(0)/#SS(0) as it does.
   */
  protected address64(i: number, ins: Instruction): string {
    const fault = `{ ${this.book()} raise(${ins.memSegment === Register.SS ? Vector.SS : Vector.GP}, 0); }`;
    const o = `o${i}`;
    const base = ins.memBase;
    const index = ins.memIndex;
    if (
      (base === Register.None || base === Register.RIP || base === Register.EIP) &&
      index === Register.None
    ) {
      const c = constantAddress(ins);
      if (c === null) this.lines.push(fault, `const ${o} = 0;`);
      else this.lines.push(`const ${o} = ${c};`);
      return o;
    }
    let lo = `${ins.memDisplacement >>> 0}`;
    let hi = `${ins.memDisplSize === 8 ? ins.memDisplacementHi : ins.memDisplacement < 0 ? -1 : 0}`;
    if (base === Register.RIP || base === Register.EIP) {
      const ip = ins.nextIp;
      lo += ` + ${ip >>> 0}`;
      hi += ` + ${Math.floor(ip / TWO_32)}`;
    } else if (base !== Register.None) {
      const n = GPR_OF[base]!;
      lo += ` + u32[${n}]`;
      hi += ` + u32[${n + GPR_HI}]`;
    }
    if (index !== Register.None) {
      const n = GPR_OF[index]!;
      const s = ins.memScale;
      lo += s === 1 ? ` + u32[${n}]` : ` + u32[${n}] * ${s}`;
      hi += s === 1 ? ` + u32[${n + GPR_HI}]` : ` + u32[${n + GPR_HI}] * ${s}`;
    }
    this.lines.push(
      `const l${i} = ${lo}, h${i} = (${hi} + Math.floor(l${i} / ${TWO_32})) | 0;`,
      `if ((h${i} << 16) >> 16 !== h${i}) ${fault}`,
      `const ${o} = h${i} * ${TWO_32} + (l${i} >>> 0);`,
    );
    return o;
  }

  /** As `load`, for 8 bytes (`read64`): returns the names of the low and high halves. */
  protected load64(seg: number, off: string): [string, string] {
    const { k, a, hit, at } = this.ramDirect(seg, off, 7, false);
    const lo = `mv${k}`;
    const hi = `mh${k}`;
    this.lines.push(
      `let ${lo}, ${hi};`,
      `if (${hit}) { const at = ${at}; ${lo} = view.getUint32(at, true); ${hi} = view.getUint32(at + 4, true); }`,
      `else { ${this.book()} ${lo} = read64(cpu, ${seg}, ${a}) >>> 0; ${hi} = cpu.hi; }`,
    );
    return [lo, hi];
  }

  /** As `store`, for 8 bytes (`write64`); `lo` and `hi` are unsigned halves. */
  protected store64(seg: number, off: string, lo: string, hi: string): void {
    const { a, hit, at } = this.ramDirect(seg, off, 7, true);
    this.lines.push(
      `if (${hit}) { const at = ${at}; view.setUint32(at, ${lo}, true); view.setUint32(at + 4, ${hi}, true); }`,
      `else { ${this.book()} write64(cpu, ${seg}, ${a}, ${lo}, ${hi}); }`,
    );
  }

  /** The 64-bit ALU forms: `add64` ... `test64` with their eager flags. */
  private alu64(i: number, ins: Instruction, kind: 'add' | 'sub' | '&' | '|' | '^', store: boolean): void {
    const out = this.lines;
    const d = GPR_OF[ins.op0Register]!;
    const k = ins.op1Kind;
    let sl: string;
    let sh: string;
    if (k === OpKind.Register) {
      const s = GPR_OF[ins.op1Register]!;
      sl = `u32[${s}]`;
      sh = `u32[${s + GPR_HI}]`;
    } else if (k === OpKind.Memory) {
      [sl, sh] = this.load64(this.segment(ins), this.address64(i, ins));
    } else {
      sl = `${ins.immediate >>> 0}`;
      sh = `${ins.immediateHi >>> 0}`;
    }
    const [dl, dh, rl, rh] = [`dl${i}`, `dh${i}`, `rl${i}`, `rh${i}`];
    out.push(`const ${dl} = u32[${d}], ${dh} = u32[${d + GPR_HI}], s${i} = ${sl}, t${i} = ${sh};`);
    const szp = `(PARITY[${rl} & 0xff] << 2) | ((${rl} | ${rh}) === 0 ? ${EFLAGS.ZF} : 0) | (${rh} >>> 31 ? ${EFLAGS.SF} : 0)`;
    let bits: string;
    if (kind === 'add') {
      out.push(
        `const n${i} = ${dl} + s${i}, ${rl} = n${i} >>> 0, ${rh} = (${dh} + t${i} + (n${i} > 0xffffffff ? 1 : 0)) >>> 0;`,
      );
      bits =
        `(${rh} < ${dh} || (${rh} === ${dh} && ${rl} < ${dl}) ? 1 : 0) | ${szp} | ((${dl} ^ s${i} ^ ${rl}) & 0x10)` +
        ` | ((((${dh} ^ ${rh}) & (t${i} ^ ${rh})) >>> 31) ? ${EFLAGS.OF} : 0)`;
    } else if (kind === 'sub') {
      out.push(
        `const n${i} = ${dl} - s${i}, ${rl} = n${i} >>> 0, ${rh} = (${dh} - t${i} - (n${i} < 0 ? 1 : 0)) >>> 0;`,
      );
      bits =
        `(${dh} < t${i} || (${dh} === t${i} && ${dl} < s${i}) ? 1 : 0) | ${szp} | ((${dl} ^ s${i} ^ ${rl}) & 0x10)` +
        ` | ((((${dh} ^ t${i}) & (${dh} ^ ${rh})) >>> 31) ? ${EFLAGS.OF} : 0)`;
    } else {
      out.push(`const ${rl} = ${dl} ${kind} s${i}, ${rh} = ${dh} ${kind} t${i};`);
      bits = szp;
    }
    if (store) out.push(`r32[${d}] = ${rl}; r32[${d + GPR_HI}] = ${rh};`);
    out.push(`f.bits = (f.bits & ${~OSZAPC}) | ${bits}; f.op = ${LazyOp.None};`);
    this.flags = null;
    this.eager = true;
  }

  protected override inline(i: number, ins: Instruction, h: Handler): boolean {
    const out = this.lines;
    const d = GPR_OF[ins.op0Register] ?? -1;
    const s = GPR_OF[ins.op1Register] ?? -1;
    const dh = d + GPR_HI;
    // Register-only, flag-neutral moves.
    if (h === F.mov64RR) out.push(`r32[${d}] = r32[${s}]; r32[${dh}] = r32[${s + GPR_HI}];`);
    else if (h === F.mov64RI)
      out.push(`r32[${d}] = ${ins.immediate | 0}; r32[${dh}] = ${ins.immediateHi | 0};`);
    else if (h === F.mov32RR) out.push(`r32[${d}] = r32[${s}]; r32[${dh}] = 0;`);
    else if (h === F.mov32RI) out.push(`r32[${d}] = ${ins.immediate | 0}; r32[${dh}] = 0;`);
    else if (h === F.movzx16R) out.push(`r32[${d}] = r16[${s << 1}]; r32[${dh}] = 0;`);
    else if (h === F.movzx8R) out.push(`r32[${d}] = r8[${BYTE_OFFSET_OF[ins.op1Register]}]; r32[${dh}] = 0;`);
    else if (h === F.movsxdR) out.push(`{ const v = r32[${s}]; r32[${d}] = v; r32[${dh}] = v >> 31; }`);
    else if (h === F.lea64) this.lea64(ins, d);
    else if (h === F.lea32) this.lea32(ins, d);
    // Loads and stores: the interpreter's bookkeeping in front, the stop test after.
    else if (
      h === F.mov64RM ||
      h === F.mov32RM ||
      h === F.movzx16M ||
      h === F.movzx8M ||
      h === F.movsxdM ||
      h === F.mov64MR ||
      h === F.mov64MI ||
      h === F.mov32MR ||
      h === F.mov32MI
    ) {
      this.enter(i);
      const seg = this.segment(ins);
      const off = this.address64(i, ins);
      if (h === F.mov64RM) {
        const [lo, hi] = this.load64(seg, off);
        out.push(`r32[${d}] = ${lo}; r32[${dh}] = ${hi};`);
      } else if (h === F.mov32RM) out.push(`r32[${d}] = ${this.load(32, seg, off)}; r32[${dh}] = 0;`);
      else if (h === F.movzx16M) out.push(`r32[${d}] = ${this.load(16, seg, off)}; r32[${dh}] = 0;`);
      else if (h === F.movzx8M) out.push(`r32[${d}] = ${this.load(8, seg, off)}; r32[${dh}] = 0;`);
      else if (h === F.movsxdM)
        out.push(`{ const v = ${this.load(32, seg, off)} | 0; r32[${d}] = v; r32[${dh}] = v >> 31; }`);
      else if (h === F.mov64MR) this.store64(seg, off, `u32[${s}]`, `u32[${s + GPR_HI}]`);
      else if (h === F.mov64MI) this.store64(seg, off, `${ins.immediate >>> 0}`, `${ins.immediateHi >>> 0}`);
      else if (h === F.mov32MR) this.store(32, seg, off, `u32[${s}]`);
      else this.store(32, seg, off, `${ins.immediate >>> 0}`);
      this.leaveIfStopped(i);
    } else if (ALU32.has(h)) {
      const alu = ALU32.get(h)!;
      const k = ins.op1Kind;
      const memory = k === OpKind.Memory;
      // The destination is read before the source is located (neither has side effects).
      const dv = `d${i}`;
      const sv = `s${i}`;
      const xv = `x${i}`;
      out.push(`const ${dv} = u32[${d}];`);
      if (memory) this.enter(i);
      const src =
        k === OpKind.Register
          ? `u32[${s}]`
          : memory
            ? this.load(32, this.segment(ins), this.address64(i, ins))
            : `${ins.immediate >>> 0}`;
      out.push(`const ${sv} = ${src}, ${xv} = (${dv} ${alu.op} ${sv}) >>> 0;`);
      if (alu.store) out.push(`r32[${d}] = ${xv}; r32[${dh}] = 0;`);
      this.record(i, alu.lazy, dv, sv, xv);
      this.eager = false;
      if (memory) this.leaveIfStopped(i);
    } else if (h === F.inc32 || h === F.dec32) {
      const inc = h === F.inc32;
      out.push(`const d${i} = u32[${d}], x${i} = (d${i} ${inc ? '+' : '-'} 1) >>> 0;`);
      out.push(`r32[${d}] = x${i}; r32[${dh}] = 0;`);
      const op = inc ? LazyOp.Inc : LazyOp.Dec;
      out.push(incDecRecord(op, `d${i}`, `x${i}`));
      this.flags = { op, d: `d${i}`, s: '1', x: `x${i}` };
      this.eager = false;
    } else if (ALU64.has(h)) {
      const memory = ins.op1Kind === OpKind.Memory;
      if (memory) this.enter(i);
      const alu = ALU64.get(h)!;
      this.alu64(i, ins, alu.kind, alu.store);
      if (memory) this.leaveIfStopped(i);
    } else if (h === F.inc64 || h === F.dec64) {
      const dec = h === F.dec64;
      const [dl, dhv, rl, rh] = [`dl${i}`, `dh${i}`, `rl${i}`, `rh${i}`];
      out.push(`const ${dl} = u32[${d}], ${dhv} = u32[${dh}];`);
      if (dec)
        out.push(`const ${rl} = (${dl} - 1) >>> 0, ${rh} = ${dl} === 0 ? (${dhv} - 1) >>> 0 : ${dhv};`);
      else out.push(`const ${rl} = (${dl} + 1) >>> 0, ${rh} = ${rl} === 0 ? (${dhv} + 1) >>> 0 : ${dhv};`);
      out.push(`r32[${d}] = ${rl}; r32[${dh}] = ${rh};`);
      const of = dec ? `(${dhv} & (${dhv} ^ ${rh})) >>> 31` : `((${dhv} ^ ${rh}) & ${rh}) >>> 31`;
      out.push(
        `f.bits = (f.bits & ${~OSZAPC}) | getCF(f) | (PARITY[${rl} & 0xff] << 2) | ((${dl} ^ 1 ^ ${rl}) & 0x10) | ((${rl} | ${rh}) === 0 ? ${EFLAGS.ZF} : 0) | (${rh} >>> 31 ? ${EFLAGS.SF} : 0) | ((${of}) ? ${EFLAGS.OF} : 0); f.op = ${LazyOp.None};`,
      );
      this.flags = null;
      this.eager = true;
    } else if (h === F.shl64 || h === F.shr64 || h === F.sar64) {
      this.shift64(ins, h, d);
    } else if (h === F.pushR) {
      this.enter(i);
      // `push64`: the value before RSP moves (PUSH RSP pushes the old one), RSP after the write.
      out.push(`const pl${i} = u32[${d}], ph${i} = u32[${dh}];`);
      const sp = this.stackSlot(i, -8);
      this.store64(Seg.SS, sp, `pl${i}`, `ph${i}`);
      out.push(setRsp(sp));
      this.leaveIfStopped(i);
    } else if (h === F.popR) {
      this.enter(i);
      // `pop64`: RSP moves, then the register is written (POP RSP loads the popped value).
      const sp = this.stackSlot(i, 0);
      const [lo, hi] = this.load64(Seg.SS, sp);
      out.push(`{ const n = ${sp} + 8; ${setRsp('n')} }`);
      out.push(`r32[${d}] = ${lo}; r32[${dh}] = ${hi};`);
      this.leaveIfStopped(i);
    } else return false;
    this.finish(i);
    return true;
  }

  /** SHL/SHR/SAR r64 by a constant count, as `shl64`/`shr64`/`sar64` (a count of 0 changes nothing). */
  private shift64(ins: Instruction, h: Handler, d: number): void {
    const c = ins.op1Kind === OpKind.Immediate8 ? ins.immediate & 63 : 1;
    if (c === 0) return;
    const lo = `u32[${d}]`;
    const hi = h === F.sar64 ? `r32[${d + GPR_HI}]` : `u32[${d + GPR_HI}]`;
    let rl: string;
    let rh: string;
    let cf: string;
    if (h === F.shl64) {
      if (c < 32) {
        rh = `((hi << ${c}) | (lo >>> ${32 - c})) >>> 0`;
        rl = `(lo << ${c}) >>> 0`;
        cf = `(hi >>> ${32 - c}) & 1`;
      } else {
        rh = `(lo << ${c - 32}) >>> 0`;
        rl = '0';
        cf = c === 32 ? 'hi & 1' : `(lo >>> ${64 - c}) & 1`;
      }
    } else if (h === F.shr64) {
      if (c < 32) {
        rl = `((lo >>> ${c}) | (hi << ${32 - c})) >>> 0`;
        rh = `hi >>> ${c}`;
        cf = `(lo >>> ${c - 1}) & 1`;
      } else {
        rl = `hi >>> ${c - 32}`;
        rh = '0';
        cf = c === 32 ? 'lo >>> 31' : `(hi >>> ${c - 33}) & 1`;
      }
    } else if (c < 32) {
      rl = `((lo >>> ${c}) | (hi << ${32 - c})) >>> 0`;
      rh = `(hi >> ${c}) >>> 0`;
      cf = `(lo >>> ${c - 1}) & 1`;
    } else {
      rl = `(hi >> ${c - 32}) >>> 0`;
      rh = '(hi >> 31) >>> 0';
      cf = c === 32 ? 'lo >>> 31' : `(hi >>> ${c - 33}) & 1`;
    }
    const szp = `(rh >>> 31 ? ${EFLAGS.SF} : 0) | ((rl | rh) === 0 ? ${EFLAGS.ZF} : 0) | (PARITY[rl & 0xff] << 2)`;
    const of =
      h === F.shl64
        ? ` | ((rh >>> 31) ^ cf ? ${EFLAGS.OF} : 0)`
        : h === F.shr64 && c === 1
          ? ` | (hi >>> 31 ? ${EFLAGS.OF} : 0)`
          : '';
    this.lines.push(
      `{ const lo = ${lo}, hi = ${hi}, rl = ${rl}, rh = ${rh}, cf = ${cf};`,
      `u32[${d}] = rl; u32[${d + GPR_HI}] = rh;`,
      `f.bits = (f.bits & ${~OSZAPC}) | ((${szp}${of} | cf) & ${OSZAPC}); f.op = ${LazyOp.None}; }`,
    );
    this.flags = null;
    this.eager = true;
  }

  /** LEA r64: the 64-bit sum without a canonical check, as `lea64`. */
  private lea64(ins: Instruction, d: number): void {
    let lo = `${ins.memDisplacement >>> 0}`;
    let hi = `${ins.memDisplacement < 0 ? -1 : 0}`;
    const base = ins.memBase;
    if (base === Register.RIP) {
      const ip = ins.nextIp;
      lo += ` + ${ip >>> 0}`;
      hi += ` + ${Math.floor(ip / TWO_32)}`;
    } else if (base !== Register.None) {
      const n = GPR_OF[base]!;
      lo += ` + u32[${n}]`;
      hi += ` + u32[${n + GPR_HI}]`;
    }
    if (ins.memIndex !== Register.None) {
      const n = GPR_OF[ins.memIndex]!;
      const s = ins.memScale;
      lo += ` + u32[${n}] * ${s}`;
      hi += ` + u32[${n + GPR_HI}] * ${s}`;
    }
    this.lines.push(
      `{ const lo = ${lo}, hi = ${hi}; r32[${d}] = lo; r32[${d + GPR_HI}] = hi + Math.floor(lo / ${TWO_32}); }`,
    );
  }

  /** LEA r32: the low half of the sum, zero-extended, as `lea32`. */
  private lea32(ins: Instruction, d: number): void {
    let lo = `${ins.memDisplacement}`;
    const base = ins.memBase;
    if (base === Register.RIP) lo += ` + ${ins.nextIp % TWO_32}`;
    else if (base !== Register.None) lo += ` + u32[${GPR_OF[base]}]`;
    if (ins.memIndex !== Register.None) lo += ` + u32[${GPR_OF[ins.memIndex]}] * ${ins.memScale}`;
    this.lines.push(`r32[${d}] = (${lo}) % ${TWO_32}; r32[${d + GPR_HI}] = 0;`);
  }
}
