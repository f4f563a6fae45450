/**
 * Specialised handlers for the hottest instruction forms, chosen once when a block is decoded
 * ({@link fastHandler}); everything else runs the generic family handler from `dispatch.ts`.
 *
 * The generic handlers are closures over (operation, size) that dispatch on operand kinds and sizes
 * at run time, and share one body (and one set of V8 type feedback) across every form they serve. The
 * forms here are fixed at decode time: 32-bit ALU/shift/IMUL/PUSH/POP with a register destination and a
 * register, immediate or 32-bit-addressed memory source; MOV/MOVZX/LEA; JMP and the unsigned Jcc
 * (which read the recorded CMP operands directly). Each is its own function literal so V8 compiles it
 * on its own. The semantics are exactly the generic handlers' (same lazy-flag records, same segment and
 * paging checks through `memory-access.ts`); `fast-paths.test.ts` compares every form with the generic
 * handler, and `BlockCache.fastPaths = false` turns this module off.
 *
 * The handlers read their operands from the instruction's record in its block (`rec` at `at`,
 * `operand-record.ts`: a few int32 per instruction, consecutive for a block), not from the decoded
 * `Instruction`, which cold code reaches with a cache miss or two per instruction.
 */
import { Code, type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { EFLAGS, getCF, LazyOp, setArith, setLazy, szp, testCondition } from './flags.js';
import { read8, read16, read32, write8, write16, write32 } from './memory-access.js';
import { BYTE_OFFSET_OF, GPR_OF, Seg } from './registers.js';
import { Rec } from './operand-record.js';
import { Attr } from './segments.js';
import { coldFastHandler } from './fast-paths-cold.js';
import {
  address32,
  locate32,
  push32,
  shiftArithmetic32,
  shiftLeft32,
  shiftRight32,
  source32,
} from './fast-shared.js';

// ------------------------------------------------------------------ MOV

const movRR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r32;
  r[GPR_OF[rec[at + Rec.Reg0]!]!] = r[GPR_OF[rec[at + Rec.Reg1]!]!]!;
};
const movRI: Handler = (cpu, _ins, rec, at) => {
  cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = rec[at + Rec.Imm]!;
};
const movRM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = read32(cpu, cpu.eaSeg, off);
};
const movMR: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  write32(cpu, cpu.eaSeg, off, cpu.regs.u32[GPR_OF[rec[at + Rec.Reg1]!]!]!);
};
const movMI: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  write32(cpu, cpu.eaSeg, off, rec[at + Rec.Imm]! >>> 0);
};

// ------------------------------------------------------------------ ALU, register destination

/** Records a lazy 32-bit result (what `setLazy` does for the non-INC/DEC kinds). */
function lazy32(cpu: Cpu, op: LazyOp, dst: number, src: number, res: number): void {
  const f = cpu.flags;
  f.op = op;
  f.size = 32;
  f.dst = dst;
  f.src = src;
  f.res = res;
}

const addR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const res = (dst + src) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, LazyOp.Add, dst, src, res);
};
const subR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const res = (dst - src) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, LazyOp.Sub, dst, src, res);
};
const cmpR: Handler = (cpu, _ins, rec, at) => {
  const dst = cpu.regs.u32[GPR_OF[rec[at + Rec.Reg0]!]!]!;
  const src = source32(cpu, rec, at);
  lazy32(cpu, LazyOp.Sub, dst, src, (dst - src) >>> 0);
};
/** SBB/ADC record the plain SUB/ADD kind when the carry-in is 0 (as the generic handler does). */
const sbbR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const c = getCF(cpu.flags);
  const res = (dst - src - c) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, c ? LazyOp.Sbb : LazyOp.Sub, dst, src, res);
};
const adcR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const c = getCF(cpu.flags);
  const res = (dst + src + c) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, c ? LazyOp.Adc : LazyOp.Add, dst, src, res);
};
const andR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const res = (dst & src) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const orR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const res = (dst | src) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const xorR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const src = source32(cpu, rec, at);
  const res = (dst ^ src) >>> 0;
  r.r32[d] = res;
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const testR: Handler = (cpu, _ins, rec, at) => {
  const dst = cpu.regs.u32[GPR_OF[rec[at + Rec.Reg0]!]!]!;
  const src = source32(cpu, rec, at);
  lazy32(cpu, LazyOp.Logic, dst, src, (dst & src) >>> 0);
};
const incR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const res = (dst + 1) >>> 0;
  r.r32[d] = res;
  setLazy(cpu.flags, LazyOp.Inc, 32, dst, 1, res);
};
const decR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const r = cpu.regs;
  const dst = r.u32[d]!;
  const res = (dst - 1) >>> 0;
  r.r32[d] = res;
  setLazy(cpu.flags, LazyOp.Dec, 32, dst, 1, res);
};

// ------------------------------------------------------------------ LEA, MOVZX, 16-bit MOV

const lea32: Handler = (cpu, _ins, rec, at) => {
  cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = address32(cpu, rec, at);
};
const movzx16R: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs;
  r.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = r.r16[GPR_OF[rec[at + Rec.Reg1]!]! << 1]!;
};
const movzx16M: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = read16(cpu, cpu.eaSeg, off);
};
const movzx8R: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs;
  r.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = r.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg1]!]!]!;
};
const movzx8M: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = read8(cpu, cpu.eaSeg, off);
};
const mov8RR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r8;
  r[BYTE_OFFSET_OF[rec[at + Rec.Reg0]!]!] = r[BYTE_OFFSET_OF[rec[at + Rec.Reg1]!]!]!;
};
const mov8RM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg0]!]!] = read8(cpu, cpu.eaSeg, off);
};
const mov8MR: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  write8(cpu, cpu.eaSeg, off, cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg1]!]!]!);
};
const mov16RR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r16;
  r[GPR_OF[rec[at + Rec.Reg0]!]! << 1] = r[GPR_OF[rec[at + Rec.Reg1]!]! << 1]!;
};
const mov16RM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  cpu.regs.r16[GPR_OF[rec[at + Rec.Reg0]!]! << 1] = read16(cpu, cpu.eaSeg, off);
};
const mov16MR: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  write16(cpu, cpu.eaSeg, off, cpu.regs.r16[GPR_OF[rec[at + Rec.Reg1]!]! << 1]!);
};

// ------------------------------------------------------------------ shifts by an immediate, IMUL

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/** SHL/SAL, SHR, SAR r32, imm8 (a masked count of 0 changes nothing, flags included). */
const shlRI: Handler = (cpu, _ins, rec, at) => {
  const c = rec[at + Rec.Imm]! & 31;
  if (c !== 0) shiftLeft32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};
const shrRI: Handler = (cpu, _ins, rec, at) => {
  const c = rec[at + Rec.Imm]! & 31;
  if (c !== 0) shiftRight32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};
const sarRI: Handler = (cpu, _ins, rec, at) => {
  const c = rec[at + Rec.Imm]! & 31;
  if (c !== 0) shiftArithmetic32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};

/** IMUL r32, r32: the low half is Math.imul; the double product differs from it exactly on overflow. */
const imulRR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const a = r[GPR_OF[rec[at + Rec.Reg1]!]!]!;
  const b = r[d]!;
  const lo = Math.imul(a, b);
  r[d] = lo;
  setArith(cpu.flags, OSZAPC, szp(lo >>> 0, 32) | (a * b !== lo ? EFLAGS.OF | EFLAGS.CF : 0));
};

// ------------------------------------------------------------------ PUSH/POP r32

const pushR: Handler = (cpu, _ins, rec, at) => push32(cpu, cpu.regs.u32[GPR_OF[rec[at + Rec.Reg0]!]!]!);
/** POP r32: the register is written after ESP moves, so POP ESP loads the popped value. */
const popR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs;
  let v: number;
  if ((cpu.segs.attr[Seg.SS]! & Attr.DB) !== 0) {
    const sp = r.u32[4]!;
    v = read32(cpu, Seg.SS, sp);
    r.r32[4] = (sp + 4) | 0;
  } else {
    const sp = r.r16[8]!;
    v = read32(cpu, Seg.SS, sp);
    r.r16[8] = (sp + 4) & 0xffff;
  }
  r.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = v;
};

// ------------------------------------------------------------------ Jcc

/**
 * Near jump to the target of a rel8/rel32 branch with a 32-bit operand size (SDM "Jcc": #GP(0) past
 * the CS limit). The target is formed from EIP, which the caller has already advanced to the next
 * instruction (`Cpu.chain`, `runOne` and a compiled block's slow path all do), and the displacement, as
 * the decoder forms `nearBranchTarget` (which a kernel's addresses above 2^31 make a heap number).
 */
function jumpNear(cpu: Cpu, rec: Int32Array, at: number): void {
  const target = (cpu.regs.ip + rec[at + Rec.Branch]!) >>> 0;
  if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
  cpu.regs.ip = target;
}

const jmp: Handler = (cpu, _ins, rec, at) => jumpNear(cpu, rec, at);

// After CMP/SUB (the usual producer) the unsigned conditions are one compare of the recorded operands.
const jb: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op === LazyOp.Sub ? f.dst < f.src : testCondition(f, 0x2)) jumpNear(cpu, rec, at);
};
const jae: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op === LazyOp.Sub ? f.dst >= f.src : testCondition(f, 0x3)) jumpNear(cpu, rec, at);
};
const je: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op !== LazyOp.None ? f.res === 0 : (f.bits & EFLAGS.ZF) !== 0) jumpNear(cpu, rec, at);
};
const jne: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op !== LazyOp.None ? f.res !== 0 : (f.bits & EFLAGS.ZF) === 0) jumpNear(cpu, rec, at);
};
const jbe: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op === LazyOp.Sub ? f.dst <= f.src : testCondition(f, 0x6)) jumpNear(cpu, rec, at);
};
const ja: Handler = (cpu, _ins, rec, at) => {
  const f = cpu.flags;
  if (f.op === LazyOp.Sub ? f.dst > f.src : testCondition(f, 0x7)) jumpNear(cpu, rec, at);
};

/** Codes whose 32-bit register-destination forms have a fast handler, by source kind. */
const REG_DEST = new Map<number, Handler>();
for (const [name, h] of [
  ['Add', addR],
  ['Adc', adcR],
  ['Sub', subR],
  ['Sbb', sbbR],
  ['Cmp', cmpR],
  ['And', andR],
  ['Or', orR],
  ['Xor', xorR],
] as const) {
  for (const form of ['rm32_r32', 'r32_rm32', 'rm32_imm32', 'rm32_imm8', 'EAX_imm32']) {
    const code = (Code as Record<string, number>)[`${name}_${form}`];
    if (code !== undefined) REG_DEST.set(code, h);
  }
}
for (const name of ['Test_rm32_r32', 'Test_rm32_imm32', 'Test_EAX_imm32']) {
  const code = (Code as Record<string, number>)[name];
  if (code !== undefined) REG_DEST.set(code, testR);
}
REG_DEST.set(Code.Inc_r32, incR);
REG_DEST.set(Code.Inc_rm32, incR);
REG_DEST.set(Code.Dec_r32, decR);
REG_DEST.set(Code.Dec_rm32, decR);
REG_DEST.set(Code.Shl_rm32_imm8, shlRI);
REG_DEST.set(Code.Sal_rm32_imm8, shlRI);
REG_DEST.set(Code.Shr_rm32_imm8, shrRI);
REG_DEST.set(Code.Sar_rm32_imm8, sarRI);
// The by-1 forms: the decoder gives them an immediate operand of 1.
REG_DEST.set(Code.Shl_rm32_1, shlRI);
REG_DEST.set(Code.Sal_rm32_1, shlRI);
REG_DEST.set(Code.Shr_rm32_1, shrRI);
REG_DEST.set(Code.Sar_rm32_1, sarRI);
REG_DEST.set(Code.Push_r32, pushR);
REG_DEST.set(Code.Pop_r32, popR);

/** JMP rel and the Jcc forms (8- and 32-bit displacements, 32-bit operand size). */
const JCC = new Map<number, Handler>();
for (const [cc, h] of [
  ['Jb', jb],
  ['Jae', jae],
  ['Je', je],
  ['Jne', jne],
  ['Jbe', jbe],
  ['Ja', ja],
  ['Jmp', jmp],
] as const) {
  for (const form of ['rel8_32', 'rel32_32']) {
    const code = (Code as Record<string, number>)[`${cc}_${form}`];
    if (code !== undefined) JCC.set(code, h);
  }
}

/**
 * The fast handler for a decoded instruction, or null for the generic one. Only instructions without
 * prefixes that change their meaning qualify (LOCK needs a memory destination, so never applies here).
 */
export function fastHandler(ins: Instruction): Handler | null {
  const code = ins.code;
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  const mem32 = ins.addressSize === 32;
  switch (code) {
    case Code.Mov_r32_rm32:
    case Code.Mov_rm32_r32:
      if (k0 === OpKind.Register && k1 === OpKind.Register) return movRR;
      if (k0 === OpKind.Register && k1 === OpKind.Memory && mem32) return movRM;
      if (k0 === OpKind.Memory && k1 === OpKind.Register && mem32) return movMR;
      return null;
    case Code.Mov_r32_imm32:
      return movRI;
    // MOV AL/AX/EAX, moffs and back: the decoder gives moffs as a memory operand without base or
    // index (the offset in the displacement), which the memory forms above locate the same way.
    case Code.Mov_EAX_moffs32:
      return mem32 ? movRM : null;
    case Code.Mov_moffs32_EAX:
      return mem32 ? movMR : null;
    case Code.Mov_AL_moffs8:
      return mem32 ? mov8RM : null;
    case Code.Mov_moffs8_AL:
      return mem32 ? mov8MR : null;
    case Code.Mov_AX_moffs16:
      return mem32 ? mov16RM : null;
    case Code.Mov_moffs16_AX:
      return mem32 ? mov16MR : null;
    case Code.Mov_rm32_imm32:
      if (k0 === OpKind.Register) return movRI;
      return mem32 ? movMI : null;
    case Code.Mov_r8_rm8:
    case Code.Mov_rm8_r8:
      if (k0 === OpKind.Register && k1 === OpKind.Register) return mov8RR;
      if (k0 === OpKind.Register && k1 === OpKind.Memory && mem32) return mov8RM;
      if (k0 === OpKind.Memory && k1 === OpKind.Register && mem32) return mov8MR;
      return null;
    case Code.Mov_r16_rm16:
    case Code.Mov_rm16_r16:
      if (k0 === OpKind.Register && k1 === OpKind.Register) return mov16RR;
      if (k0 === OpKind.Register && k1 === OpKind.Memory && mem32) return mov16RM;
      if (k0 === OpKind.Memory && k1 === OpKind.Register && mem32) return mov16MR;
      return null;
    case Code.Lea_r32_m:
      return mem32 ? lea32 : null;
    case Code.Movzx_r32_rm16:
      if (k1 === OpKind.Register) return movzx16R;
      return mem32 ? movzx16M : null;
    case Code.Movzx_r32_rm8:
      if (k1 === OpKind.Register) return movzx8R;
      return mem32 ? movzx8M : null;
    case Code.Imul_r32_rm32:
      return k1 === OpKind.Register ? imulRR : null;
  }
  const jcc = JCC.get(code);
  if (jcc !== undefined) return jcc;
  const reg = k0 === OpKind.Register && (k1 !== OpKind.Memory || mem32) ? REG_DEST.get(code) : undefined;
  // Then the forms cold code runs most through generic handlers (`fast-paths-cold.ts`).
  return reg ?? coldFastHandler(ins);
}

/**
 * The handlers above by name, for the compiling tier (`compiler.ts`): it recognises a block's
 * instructions by the fast handler chosen for them and writes their semantics out inline.
 */
export const FAST32 = {
  movRR,
  movRI,
  movRM,
  movMR,
  movMI,
  mov8RR,
  mov8RM,
  mov8MR,
  mov16RR,
  mov16RM,
  mov16MR,
  addR,
  adcR,
  subR,
  sbbR,
  cmpR,
  andR,
  orR,
  xorR,
  testR,
  incR,
  decR,
  lea32,
  movzx16R,
  movzx16M,
  movzx8R,
  movzx8M,
  shlRI,
  shrRI,
  sarRI,
  imulRR,
  pushR,
  popR,
  jb,
  jae,
  je,
  jne,
  jbe,
  ja,
  jmp,
} as const;
