/**
 * Fast handlers for the forms that interpreted code (blocks not compiled yet, or never) ran most
 * through generic handlers (counted over the Debian 686 boot's interpreted instructions: CALL rel32 16 million, RET
 * 11 million, ROL/ROR by an immediate 7 million, then MOV moffs, CMP/TEST with a memory operand or
 * 8-bit operands, PUSH r/m32 and imm, ADD/INC/DEC of memory, the other Jcc, CMOVcc, SETcc, shifts by
 * CL, LEAVE, NOT, NEG, BSWAP, MOV m8, imm8). Each reads its operands from the operand record as the
 * handlers of `fast-paths.ts` do, so its block keeps no decoded `Instruction` for it (`RECORD_ONLY` in
 * `block-cache.ts`), where a generic handler reads that object (400 bytes, a cache miss or two in cold
 * code) and dispatches on its operand kinds at run time.
 *
 * Each has exactly its generic handler's semantics (32-bit operand size, memory operands with 32-bit
 * addressing; same segment and paging checks, same order of reads, writes and faults, same lazy flag
 * records), so the compiling tier treats an instruction with one of them as its generic form
 * (`compiler.ts` `BlockWriter.handler`). `fast-paths.test.ts` compares every form with the generic handler.
 */
import { Code, type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { EFLAGS, getCF, LazyOp, setArith, setLazy, testCondition } from './flags.js';
import { read8, read32, write8, write32 } from './memory-access.js';
import { Rec } from './operand-record.js';
import { BYTE_OFFSET_OF, GPR_OF, Seg } from './registers.js';
import {
  bigStack,
  locate32,
  push32,
  shiftArithmetic32,
  shiftLeft32,
  shiftRight32,
  source32,
} from './fast-shared.js';
import { CONDITIONS } from './handlers/table.js';

// ------------------------------------------------------------------ stack (32-bit operand size)

/** Near return: the target from the stack top, #GP(0) past the CS limit, then ESP/SP up by `bytes`. */
function returnNear(cpu: Cpu, bytes: number): void {
  const r = cpu.regs;
  const big = bigStack(cpu);
  const sp = big ? r.u32[4]! : r.r16[8]!;
  const target = read32(cpu, Seg.SS, sp);
  if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
  if (big) r.r32[4] = (sp + bytes) | 0;
  else r.r16[8] = (sp + bytes) & 0xffff;
  r.ip = target;
}

/** CALL rel32: the target from the next EIP (already in `regs.ip`) and the displacement. */
const callRel: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs;
  const target = (r.ip + rec[at + Rec.Branch]!) >>> 0;
  if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
  push32(cpu, r.ip);
  r.ip = target;
};
const ret: Handler = (cpu) => returnNear(cpu, 4);
const retImm: Handler = (cpu, _ins, rec, at) => returnNear(cpu, 4 + (rec[at + Rec.Imm]! & 0xffff));
const pushM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  push32(cpu, read32(cpu, cpu.eaSeg, off));
};
const pushI: Handler = (cpu, _ins, rec, at) => push32(cpu, rec[at + Rec.Imm]! >>> 0);
/** LEAVE: ESP = EBP, then EBP = the value popped from there (SP and BP on a 16-bit stack). */
const leave: Handler = (cpu) => {
  const r = cpu.regs;
  const big = bigStack(cpu);
  const bp = big ? r.u32[5]! : r.r16[10]!;
  const v = read32(cpu, Seg.SS, bp);
  if (big) r.r32[4] = (bp + 4) | 0;
  else r.r16[8] = (bp + 4) & 0xffff;
  r.r32[5] = v;
};

// ------------------------------------------------------------------ conditions

/** Jcc rel8/rel32 (32-bit operand size) on condition `cc`: the target as `callRel` forms it. */
function jcc(cc: number): Handler {
  return (cpu, _ins, rec, at) => {
    if (!testCondition(cpu.flags, cc)) return;
    const target = (cpu.regs.ip + rec[at + Rec.Branch]!) >>> 0;
    if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
    cpu.regs.ip = target;
  };
}
/** CMOVcc r32, r/m32: the source is read (a memory one may fault) whether or not the condition holds. */
function cmov(cc: number): Handler {
  return (cpu, _ins, rec, at) => {
    const v = source32(cpu, rec, at);
    if (testCondition(cpu.flags, cc)) cpu.regs.r32[GPR_OF[rec[at + Rec.Reg0]!]!] = v;
  };
}
function setcc(cc: number): Handler {
  return (cpu, _ins, rec, at) => {
    cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg0]!]!] = testCondition(cpu.flags, cc) ? 1 : 0;
  };
}

// ------------------------------------------------------------------ 32-bit ALU with a memory operand

/** The register or immediate source of a form whose destination is memory. */
function registerOrImmediate32(cpu: Cpu, rec: Int32Array, at: number): number {
  return rec[at + Rec.Kind1]! === OpKind.Register
    ? cpu.regs.u32[GPR_OF[rec[at + Rec.Reg1]!]!]!
    : rec[at + Rec.Imm]! >>> 0;
}

const cmpM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Sub, 32, dst, src, (dst - src) >>> 0);
};
const testM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Logic, 32, dst, src, (dst & src) >>> 0);
};

/**
 * The read-modify-write forms `op m32, r32/imm`: read, compute, write to the same place, then the lazy
 * record (a write that faults leaves the flags as they were). One body per operation.
 */
const addM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const res = (dst + src) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Add, 32, dst, src, res);
};
const subM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const res = (dst - src) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Sub, 32, dst, src, res);
};
const andM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const res = (dst & src) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Logic, 32, dst, src, res);
};
const orM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const res = (dst | src) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Logic, 32, dst, src, res);
};
const xorM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const res = (dst ^ src) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Logic, 32, dst, src, res);
};
/** ADC/SBB record the plain ADD/SUB kind when the carry-in is 0 (as the generic handler does). */
const adcM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const c = getCF(cpu.flags);
  const res = (dst + src + c) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, c ? LazyOp.Adc : LazyOp.Add, 32, dst, src, res);
};
const sbbM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate32(cpu, rec, at);
  const c = getCF(cpu.flags);
  const res = (dst - src - c) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, c ? LazyOp.Sbb : LazyOp.Sub, 32, dst, src, res);
};
const incM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const res = (dst + 1) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Inc, 32, dst, 1, res);
};
const decM: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  const dst = read32(cpu, cpu.eaSeg, off);
  const res = (dst - 1) >>> 0;
  write32(cpu, cpu.eaSeg, off, res);
  setLazy(cpu.flags, LazyOp.Dec, 32, dst, 1, res);
};

// ------------------------------------------------------------------ one-operand register forms

const notR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  r[d] = ~r[d]!;
};
const negR: Handler = (cpu, _ins, rec, at) => {
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const src = cpu.regs.u32[d]!;
  const res = -src >>> 0;
  cpu.regs.r32[d] = res;
  setLazy(cpu.flags, LazyOp.Neg, 32, 0, src, res);
};
const bswapR: Handler = (cpu, _ins, rec, at) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const v = r[d]!;
  r[d] = (v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
};

// ------------------------------------------------------------------ rotates by an immediate, shifts by CL

const OC = EFLAGS.OF | EFLAGS.CF;

/** ROL r32, imm8: CF and OF only; a masked count of 0 changes nothing. */
const rolRI: Handler = (cpu, _ins, rec, at) => {
  const c = rec[at + Rec.Imm]! & 31;
  if (c === 0) return;
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const dst = cpu.regs.u32[d]!;
  const res = ((dst << c) | (dst >>> (32 - c))) >>> 0;
  const cf = res & 1;
  cpu.regs.r32[d] = res;
  setArith(cpu.flags, OC, ((res >>> 31) ^ cf ? EFLAGS.OF : 0) | cf);
};
const rorRI: Handler = (cpu, _ins, rec, at) => {
  const c = rec[at + Rec.Imm]! & 31;
  if (c === 0) return;
  const d = GPR_OF[rec[at + Rec.Reg0]!]!;
  const dst = cpu.regs.u32[d]!;
  const res = ((dst >>> c) | (dst << (32 - c))) >>> 0;
  const cf = res >>> 31;
  cpu.regs.r32[d] = res;
  setArith(cpu.flags, OC, (cf ^ ((res >>> 30) & 1) ? EFLAGS.OF : 0) | cf);
};

/** The count in CL, masked to 5 bits. */
function countCl(cpu: Cpu): number {
  return cpu.regs.r8[BYTE_OFFSET_OF[Register.CL]!]! & 31;
}

/** SHL/SAL, SHR, SAR r32, CL (a masked count of 0 changes nothing, flags included). */
const shlRC: Handler = (cpu, _ins, rec, at) => {
  const c = countCl(cpu);
  if (c !== 0) shiftLeft32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};
const shrRC: Handler = (cpu, _ins, rec, at) => {
  const c = countCl(cpu);
  if (c !== 0) shiftRight32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};
const sarRC: Handler = (cpu, _ins, rec, at) => {
  const c = countCl(cpu);
  if (c !== 0) shiftArithmetic32(cpu, GPR_OF[rec[at + Rec.Reg0]!]!, c);
};

// ------------------------------------------------------------------ 8-bit CMP/TEST, MOV m8, imm8

/** The second operand of an 8-bit form: a byte register, memory or the immediate. */
function source8(cpu: Cpu, rec: Int32Array, at: number): number {
  const k = rec[at + Rec.Kind1]!;
  if (k === OpKind.Register) return cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg1]!]!]!;
  if (k === OpKind.Memory) {
    const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
    return read8(cpu, cpu.eaSeg, off);
  }
  return rec[at + Rec.Imm]! & 0xff;
}
/** A register source of a form whose destination is memory, else the immediate. */
function registerOrImmediate8(cpu: Cpu, rec: Int32Array, at: number): number {
  return rec[at + Rec.Kind1]! === OpKind.Register
    ? cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg1]!]!]!
    : rec[at + Rec.Imm]! & 0xff;
}

const cmp8R: Handler = (cpu, _ins, rec, at) => {
  const dst = cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg0]!]!]!;
  const src = source8(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Sub, 8, dst, src, (dst - src) & 0xff);
};
const cmp8M: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
  const dst = read8(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate8(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Sub, 8, dst, src, (dst - src) & 0xff);
};
const test8R: Handler = (cpu, _ins, rec, at) => {
  const dst = cpu.regs.r8[BYTE_OFFSET_OF[rec[at + Rec.Reg0]!]!]!;
  const src = source8(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Logic, 8, dst, src, dst & src);
};
const test8M: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at); // sets cpu.eaSeg: read it only afterwards
  const dst = read8(cpu, cpu.eaSeg, off);
  const src = registerOrImmediate8(cpu, rec, at);
  setLazy(cpu.flags, LazyOp.Logic, 8, dst, src, dst & src);
};
const mov8MI: Handler = (cpu, _ins, rec, at) => {
  const off = locate32(cpu, rec, at);
  write8(cpu, cpu.eaSeg, off, rec[at + Rec.Imm]! & 0xff);
};

// ------------------------------------------------------------------ selection

/** Handler per code where the form needs nothing but the code (and 32-bit addressing for memory). */
const BY_CODE = new Map<number, Handler>();
/** Forms with a register destination / a memory destination, by code. */
const REGISTER_DEST = new Map<number, Handler>();
const MEMORY_DEST = new Map<number, Handler>();

function code(name: string): number {
  const c = (Code as Record<string, number>)[name];
  if (c === undefined) throw new Error(`fast-paths-cold: no code ${name}`);
  return c;
}

BY_CODE.set(code('Call_rel32_32'), callRel);
BY_CODE.set(code('Retnd'), ret);
BY_CODE.set(code('Retnd_imm16'), retImm);
BY_CODE.set(code('Leaved'), leave);
BY_CODE.set(code('Pushd_imm8'), pushI);
BY_CODE.set(code('Pushd_imm32'), pushI);
MEMORY_DEST.set(code('Push_rm32'), pushM);
CONDITIONS.forEach((cc, n) => {
  // The fast-paths.ts forms (JB, JAE, JE, JNE, JBE, JA) come first in `fastHandler`.
  const j = jcc(n);
  BY_CODE.set(code(`J${cc}_rel8_32`), j);
  BY_CODE.set(code(`J${cc}_rel32_32`), j);
  REGISTER_DEST.set(code(`Cmov${cc}_r32_rm32`), cmov(n));
  REGISTER_DEST.set(code(`Set${cc}_rm8`), setcc(n));
});
for (const [name, h] of [
  ['Cmp', cmpM],
  ['Test', testM],
  ['Add', addM],
  ['Sub', subM],
  ['And', andM],
  ['Or', orM],
  ['Xor', xorM],
  ['Adc', adcM],
  ['Sbb', sbbM],
] as const) {
  for (const form of ['rm32_r32', 'rm32_imm32', 'rm32_imm8']) {
    const c = (Code as Record<string, number>)[`${name}_${form}`];
    if (c !== undefined) MEMORY_DEST.set(c, h);
  }
}
MEMORY_DEST.set(code('Inc_rm32'), incM);
MEMORY_DEST.set(code('Dec_rm32'), decM);
MEMORY_DEST.set(code('Mov_rm8_imm8'), mov8MI);
REGISTER_DEST.set(code('Not_rm32'), notR);
REGISTER_DEST.set(code('Neg_rm32'), negR);
REGISTER_DEST.set(code('Bswap_r32'), bswapR);
REGISTER_DEST.set(code('Rol_rm32_imm8'), rolRI);
REGISTER_DEST.set(code('Ror_rm32_imm8'), rorRI);
// The by-1 forms: the decoder gives them an immediate operand of 1.
REGISTER_DEST.set(code('Rol_rm32_1'), rolRI);
REGISTER_DEST.set(code('Ror_rm32_1'), rorRI);
REGISTER_DEST.set(code('Shl_rm32_CL'), shlRC);
REGISTER_DEST.set(code('Sal_rm32_CL'), shlRC);
REGISTER_DEST.set(code('Shr_rm32_CL'), shrRC);
REGISTER_DEST.set(code('Sar_rm32_CL'), sarRC);
for (const name of ['Cmp_rm8_r8', 'Cmp_r8_rm8', 'Cmp_rm8_imm8', 'Cmp_AL_imm8']) {
  REGISTER_DEST.set(code(name), cmp8R);
  MEMORY_DEST.set(code(name), cmp8M);
}
for (const name of ['Test_rm8_r8', 'Test_rm8_imm8', 'Test_AL_imm8']) {
  REGISTER_DEST.set(code(name), test8R);
  MEMORY_DEST.set(code(name), test8M);
}

/**
 * The fast handler of this module for a decoded instruction (32-bit code), or null. Memory operands
 * qualify with 32-bit addressing only (`locate` forms a 32-bit offset).
 */
export function coldFastHandler(ins: Instruction): Handler | null {
  const c = ins.code;
  const h = BY_CODE.get(c);
  if (h !== undefined) return h;
  const memory = ins.op0Kind === OpKind.Memory || ins.op1Kind === OpKind.Memory;
  if (memory && ins.addressSize !== 32) return null;
  if (ins.op0Kind === OpKind.Register) return REGISTER_DEST.get(c) ?? null;
  if (ins.op0Kind === OpKind.Memory) return MEMORY_DEST.get(c) ?? null;
  return null;
}

/** Every handler of this module (each has its code's generic semantics). */
export const FAST32_COLD: ReadonlySet<Handler> = new Set([
  ...BY_CODE.values(),
  ...REGISTER_DEST.values(),
  ...MEMORY_DEST.values(),
]);
