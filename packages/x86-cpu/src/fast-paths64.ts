/**
 * Specialised handlers for the hottest instruction forms of 64-bit code (IA-32e 64-bit mode), chosen
 * once when a block is decoded ({@link fastHandler64}); everything else runs the generic family handler
 * from `dispatch.ts`. The 64-bit counterpart of `fast-paths.ts`.
 *
 * The forms: MOV r64/r32 (register, immediate, memory either way), the ALU group and TEST with a
 * 64-bit or 32-bit register destination and a register, immediate or memory source, CMP/TEST r/m8
 * and CMP/TEST with a memory first operand, ADD/SUB/AND/OR/XOR/INC/DEC m32/m64, INC/DEC, LEA, MOVZX,
 * MOVSXD, SHL/SHR/SAR r64 by an immediate, PUSH/POP r64, JMP and Jcc rel. Their semantics are exactly
 * the generic handlers' (`alu.ts`, `data.ts`, `long-alu.ts`, `long-data.ts`):
 * - a 32-bit result zeroes the upper half of its register (SDM Vol. 1 §3.4.1.1) and records the same
 *   lazy 32-bit flag record; a 64-bit result stores its status flags eagerly (the lazy record holds
 *   32-bit values), computed as `setFlags64`/`szp64` do;
 * - memory operands use 64-bit addressing only (no 67h): base + index * scale + displacement or
 *   RIP-relative, #GP(0)/#SS(0) for a non-canonical address, then `memory-access.ts` (FS/GS bases,
 *   paging) as `operands.ts` `locate` does;
 * - PUSH/POP move RSP by 8 after the access succeeded (#SS(0) for a non-canonical RSP); near branches
 *   check the target is canonical instead of the CS limit.
 * `fast-paths64.test.ts` compares every form with the generic handler; `BlockCache.fastPaths = false`
 * turns this module off too.
 */
import { Code, type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { ARITH_FLAGS, EFLAGS, getCF, LazyOp, PARITY, setArith, setLazy, testCondition } from './flags.js';
import {
  isCanonical,
  pop64,
  push64,
  read8,
  read16,
  read32,
  read64,
  TWO_32,
  write32,
  write64,
} from './memory-access.js';
import { effectiveAddress64 } from './operands.js';
import { BYTE_OFFSET_OF, GPR_HI, GPR_OF } from './registers.js';

// ------------------------------------------------------------------ memory operands

/**
 * Offset of a memory operand with 64-bit addressing, recorded like `operands.ts` `locate`: the sum
 * `effectiveAddress64` computes, as a canonical address in signed form, or #GP(0) (#SS(0) through SS).
 */
function locate64(cpu: Cpu, ins: Instruction): number {
  const lo = effectiveAddress64(cpu, ins);
  const h = cpu.hi | 0;
  if ((h << 16) >> 16 !== h) raise(ins.memSegment === Register.SS ? Vector.SS : Vector.GP, 0);
  const off = h * TWO_32 + lo;
  cpu.eaSeg = ins.memSegment - Register.ES;
  cpu.eaOff = off;
  return off;
}

// ------------------------------------------------------------------ MOV

const mov64RR: Handler = (cpu, ins) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  const s = GPR_OF[ins.op1Register]!;
  r[d] = r[s]!;
  r[d + GPR_HI] = r[s + GPR_HI]!;
};
/** MOV r64, imm64 and MOV r/m64, imm32 (sign-extended: `immediateHi` holds either). */
const mov64RI: Handler = (cpu, ins) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = ins.immediate;
  r[d + GPR_HI] = ins.immediateHi;
};
const mov64RM: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const lo = read64(cpu, cpu.eaSeg, off);
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = lo;
  r[d + GPR_HI] = cpu.hi;
};
const mov64MR: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const u = cpu.regs.u32;
  const s = GPR_OF[ins.op1Register]!;
  write64(cpu, cpu.eaSeg, off, u[s]!, u[s + GPR_HI]!);
};
const mov64MI: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  write64(cpu, cpu.eaSeg, off, ins.immediate >>> 0, ins.immediateHi >>> 0);
};

/** MOV r32, r32 in 64-bit mode: the upper half of the destination becomes 0. */
const mov32RR: Handler = (cpu, ins) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = r[GPR_OF[ins.op1Register]!]!;
  r[d + GPR_HI] = 0;
};
const mov32RI: Handler = (cpu, ins) => {
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = ins.immediate;
  r[d + GPR_HI] = 0;
};
const mov32RM: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const v = read32(cpu, cpu.eaSeg, off);
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = v;
  r[d + GPR_HI] = 0;
};
const mov32MR: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  write32(cpu, cpu.eaSeg, off, cpu.regs.u32[GPR_OF[ins.op1Register]!]!);
};
const mov32MI: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  write32(cpu, cpu.eaSeg, off, ins.immediate >>> 0);
};

// ------------------------------------------------------------------ 32-bit ALU, register destination

/** Records a lazy 32-bit result (what `setLazy` does for the non-INC/DEC kinds). */
function lazy32(cpu: Cpu, op: LazyOp, dst: number, src: number, res: number): void {
  const f = cpu.flags;
  f.op = op;
  f.size = 32;
  f.dst = dst;
  f.src = src;
  f.res = res;
}

/** The second operand of a 32-bit register-destination form: register, immediate or memory. */
function source32(cpu: Cpu, ins: Instruction): number {
  const k = ins.op1Kind;
  if (k === OpKind.Register) return cpu.regs.u32[GPR_OF[ins.op1Register]!]!;
  if (k === OpKind.Memory) {
    const off = locate64(cpu, ins); // sets cpu.eaSeg: read it only afterwards
    return read32(cpu, cpu.eaSeg, off);
  }
  return ins.immediate >>> 0;
}

/** Writes a 32-bit result to GPR `d`, zero-extended. */
function set32(cpu: Cpu, d: number, v: number): void {
  const r = cpu.regs.r32;
  r[d] = v;
  r[d + GPR_HI] = 0;
}

const add32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const src = source32(cpu, ins);
  const res = (dst + src) >>> 0;
  set32(cpu, d, res);
  lazy32(cpu, LazyOp.Add, dst, src, res);
};
const sub32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const src = source32(cpu, ins);
  const res = (dst - src) >>> 0;
  set32(cpu, d, res);
  lazy32(cpu, LazyOp.Sub, dst, src, res);
};
const cmp32: Handler = (cpu, ins) => {
  const dst = cpu.regs.u32[GPR_OF[ins.op0Register]!]!;
  const src = source32(cpu, ins);
  lazy32(cpu, LazyOp.Sub, dst, src, (dst - src) >>> 0);
};
const and32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const src = source32(cpu, ins);
  const res = (dst & src) >>> 0;
  set32(cpu, d, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const or32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const src = source32(cpu, ins);
  const res = (dst | src) >>> 0;
  set32(cpu, d, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const xor32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const src = source32(cpu, ins);
  const res = (dst ^ src) >>> 0;
  set32(cpu, d, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const test32: Handler = (cpu, ins) => {
  const dst = cpu.regs.u32[GPR_OF[ins.op0Register]!]!;
  const src = source32(cpu, ins);
  lazy32(cpu, LazyOp.Logic, dst, src, (dst & src) >>> 0);
};
const inc32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const res = (dst + 1) >>> 0;
  set32(cpu, d, res);
  setLazy(cpu.flags, LazyOp.Inc, 32, dst, 1, res);
};
const dec32: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const dst = cpu.regs.u32[d]!;
  const res = (dst - 1) >>> 0;
  set32(cpu, d, res);
  setLazy(cpu.flags, LazyOp.Dec, 32, dst, 1, res);
};

// ------------------------------------------------------------------ 64-bit ALU, register destination

/**
 * The second operand of a 64-bit register-destination form (register, sign-extended immediate or
 * memory): the low half returned, the high half in `cpu.hi`.
 */
function source64(cpu: Cpu, ins: Instruction): number {
  const k = ins.op1Kind;
  if (k === OpKind.Register) {
    const n = GPR_OF[ins.op1Register]!;
    const u = cpu.regs.u32;
    cpu.hi = u[n + GPR_HI]!;
    return u[n]!;
  }
  if (k === OpKind.Memory) {
    const off = locate64(cpu, ins);
    return read64(cpu, cpu.eaSeg, off);
  }
  cpu.hi = ins.immediateHi >>> 0;
  return ins.immediate >>> 0;
}

/**
 * The status flags of a 64-bit ADD as `setFlags64` computes them, stored eagerly. Its own copy of that
 * case: calling `setFlags64` (one switch over every kind) here measured 59 MIPS against 80 on the
 * `--long` ALU loop of bench/cpu.bench.ts.
 */
function flagsAdd64(
  cpu: Cpu,
  dLo: number,
  dHi: number,
  sLo: number,
  sHi: number,
  rLo: number,
  rHi: number,
): void {
  const cf = rHi < dHi || (rHi === dHi && rLo < dLo) ? 1 : 0;
  const of = ((dHi ^ rHi) & (sHi ^ rHi)) >>> 31;
  const f = cpu.flags;
  f.bits =
    (f.bits & ~ARITH_FLAGS) |
    cf |
    (PARITY[rLo & 0xff]! << 2) |
    ((dLo ^ sLo ^ rLo) & 0x10) |
    ((rLo | rHi) === 0 ? EFLAGS.ZF : 0) |
    (rHi >>> 31 ? EFLAGS.SF : 0) |
    (of ? EFLAGS.OF : 0);
  f.op = LazyOp.None;
}

/** As {@link flagsAdd64}, for SUB/CMP. */
function flagsSub64(
  cpu: Cpu,
  dLo: number,
  dHi: number,
  sLo: number,
  sHi: number,
  rLo: number,
  rHi: number,
): void {
  const cf = dHi < sHi || (dHi === sHi && dLo < sLo) ? 1 : 0;
  const of = ((dHi ^ sHi) & (dHi ^ rHi)) >>> 31;
  const f = cpu.flags;
  f.bits =
    (f.bits & ~ARITH_FLAGS) |
    cf |
    (PARITY[rLo & 0xff]! << 2) |
    ((dLo ^ sLo ^ rLo) & 0x10) |
    ((rLo | rHi) === 0 ? EFLAGS.ZF : 0) |
    (rHi >>> 31 ? EFLAGS.SF : 0) |
    (of ? EFLAGS.OF : 0);
  f.op = LazyOp.None;
}

/** The status flags of a 64-bit logic result (OF = CF = AF = 0), as `szp64`. */
function flagsLogic64(cpu: Cpu, rLo: number, rHi: number): void {
  const f = cpu.flags;
  f.bits =
    (f.bits & ~ARITH_FLAGS) |
    (PARITY[rLo & 0xff]! << 2) |
    ((rLo | rHi) === 0 ? EFLAGS.ZF : 0) |
    (rHi >>> 31 ? EFLAGS.SF : 0);
  f.op = LazyOp.None;
}

const add64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const dLo = u[d]!;
  const dHi = u[d + GPR_HI]!;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo + sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi + sHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  flagsAdd64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const sub64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const dLo = u[d]!;
  const dHi = u[d + GPR_HI]!;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo - sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi - sHi - (lo < 0 ? 1 : 0)) >>> 0;
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  flagsSub64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const cmp64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const dLo = u[d]!;
  const dHi = u[d + GPR_HI]!;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo - sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi - sHi - (lo < 0 ? 1 : 0)) >>> 0;
  flagsSub64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const and64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const r = cpu.regs.r32;
  const sLo = source64(cpu, ins);
  const rLo = r[d]! & sLo;
  const rHi = r[d + GPR_HI]! & cpu.hi;
  r[d] = rLo;
  r[d + GPR_HI] = rHi;
  flagsLogic64(cpu, rLo, rHi);
};
const or64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const r = cpu.regs.r32;
  const sLo = source64(cpu, ins);
  const rLo = r[d]! | sLo;
  const rHi = r[d + GPR_HI]! | cpu.hi;
  r[d] = rLo;
  r[d + GPR_HI] = rHi;
  flagsLogic64(cpu, rLo, rHi);
};
const xor64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const r = cpu.regs.r32;
  const sLo = source64(cpu, ins);
  const rLo = r[d]! ^ sLo;
  const rHi = r[d + GPR_HI]! ^ cpu.hi;
  r[d] = rLo;
  r[d + GPR_HI] = rHi;
  flagsLogic64(cpu, rLo, rHi);
};
const test64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const r = cpu.regs.r32;
  const sLo = source64(cpu, ins);
  flagsLogic64(cpu, r[d]! & sLo, r[d + GPR_HI]! & cpu.hi);
};
/**
 * The status flags of a 64-bit INC/DEC as `setFlags64` stores them: CF kept (from the previous record,
 * lazy or not), the others from the result; `src` is 1 (high half 0).
 */
function flagsIncDec64(cpu: Cpu, dLo: number, dHi: number, rLo: number, rHi: number, dec: boolean): void {
  const f = cpu.flags;
  const cf = getCF(f);
  const of = (dec ? dHi & (dHi ^ rHi) : (dHi ^ rHi) & rHi) >>> 31;
  f.bits =
    (f.bits & ~ARITH_FLAGS) |
    cf |
    (PARITY[rLo & 0xff]! << 2) |
    ((dLo ^ 1 ^ rLo) & 0x10) |
    ((rLo | rHi) === 0 ? EFLAGS.ZF : 0) |
    (rHi >>> 31 ? EFLAGS.SF : 0) |
    (of ? EFLAGS.OF : 0);
  f.op = LazyOp.None;
}

/** INC/DEC r64 keep CF. */
const inc64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const dLo = u[d]!;
  const dHi = u[d + GPR_HI]!;
  const rLo = (dLo + 1) >>> 0;
  const rHi = rLo === 0 ? (dHi + 1) >>> 0 : dHi;
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  flagsIncDec64(cpu, dLo, dHi, rLo, rHi, false);
};
const dec64: Handler = (cpu, ins) => {
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const dLo = u[d]!;
  const dHi = u[d + GPR_HI]!;
  const rLo = (dLo - 1) >>> 0;
  const rHi = dLo === 0 ? (dHi - 1) >>> 0 : dHi;
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  flagsIncDec64(cpu, dLo, dHi, rLo, rHi, true);
};

// ------------------------------------------------------------------ CMP/TEST r/m8; CMP/TEST with a memory first operand

/** Records a lazy 8-bit result (as `setLazy` for the non-INC/DEC kinds). */
function lazy8(cpu: Cpu, op: LazyOp, dst: number, src: number, res: number): void {
  const f = cpu.flags;
  f.op = op;
  f.size = 8;
  f.dst = dst;
  f.src = src;
  f.res = res;
}

/** The first operand of CMP/TEST r/m8 (register or memory, located first). */
function first8(cpu: Cpu, ins: Instruction): number {
  if (ins.op0Kind === OpKind.Register) return cpu.regs.r8[BYTE_OFFSET_OF[ins.op0Register]!]!;
  const off = locate64(cpu, ins);
  return read8(cpu, cpu.eaSeg, off);
}

/** The second operand of CMP/TEST r/m8: register, memory or immediate. */
function second8(cpu: Cpu, ins: Instruction): number {
  const k = ins.op1Kind;
  if (k === OpKind.Register) return cpu.regs.r8[BYTE_OFFSET_OF[ins.op1Register]!]!;
  if (k === OpKind.Memory) {
    const off = locate64(cpu, ins);
    return read8(cpu, cpu.eaSeg, off);
  }
  return ins.immediate & 0xff;
}

const cmp8: Handler = (cpu, ins) => {
  const dst = first8(cpu, ins);
  const src = second8(cpu, ins);
  lazy8(cpu, LazyOp.Sub, dst, src, (dst - src) & 0xff);
};
const test8: Handler = (cpu, ins) => {
  const dst = first8(cpu, ins);
  const src = second8(cpu, ins);
  lazy8(cpu, LazyOp.Logic, dst, src, dst & src);
};

/** The second operand of a memory-first 32-bit CMP/TEST: register or immediate. */
function regOrImm32(cpu: Cpu, ins: Instruction): number {
  return ins.op1Kind === OpKind.Register ? cpu.regs.u32[GPR_OF[ins.op1Register]!]! : ins.immediate >>> 0;
}

const cmp32M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = regOrImm32(cpu, ins);
  lazy32(cpu, LazyOp.Sub, dst, src, (dst - src) >>> 0);
};
const test32M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const dst = read32(cpu, cpu.eaSeg, off);
  const src = regOrImm32(cpu, ins);
  lazy32(cpu, LazyOp.Logic, dst, src, (dst & src) >>> 0);
};
/** CMP/TEST m64, r64/imm32: the second operand is a register or an immediate (`source64` reads no memory). */
const cmp64M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const dLo = read64(cpu, cpu.eaSeg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo - sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi - sHi - (lo < 0 ? 1 : 0)) >>> 0;
  flagsSub64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const test64M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const dLo = read64(cpu, cpu.eaSeg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  flagsLogic64(cpu, dLo & sLo, dHi & cpu.hi);
};

// ------------------------------------------------------------------ ALU with a memory destination

// Read, compute, write back to the located operand, then the flags (a faulting write changes none).
const addM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const src = regOrImm32(cpu, ins);
  const res = (dst + src) >>> 0;
  write32(cpu, seg, off, res);
  lazy32(cpu, LazyOp.Add, dst, src, res);
};
const subM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const src = regOrImm32(cpu, ins);
  const res = (dst - src) >>> 0;
  write32(cpu, seg, off, res);
  lazy32(cpu, LazyOp.Sub, dst, src, res);
};
const andM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const src = regOrImm32(cpu, ins);
  const res = (dst & src) >>> 0;
  write32(cpu, seg, off, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const orM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const src = regOrImm32(cpu, ins);
  const res = (dst | src) >>> 0;
  write32(cpu, seg, off, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const xorM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const src = regOrImm32(cpu, ins);
  const res = (dst ^ src) >>> 0;
  write32(cpu, seg, off, res);
  lazy32(cpu, LazyOp.Logic, dst, src, res);
};
const incM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const res = (dst + 1) >>> 0;
  write32(cpu, seg, off, res);
  setLazy(cpu.flags, LazyOp.Inc, 32, dst, 1, res);
};
const decM32: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dst = read32(cpu, seg, off);
  const res = (dst - 1) >>> 0;
  write32(cpu, seg, off, res);
  setLazy(cpu.flags, LazyOp.Dec, 32, dst, 1, res);
};
const addM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo + sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi + sHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  write64(cpu, seg, off, rLo, rHi);
  flagsAdd64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const subM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const sHi = cpu.hi;
  const lo = dLo - sLo;
  const rLo = lo >>> 0;
  const rHi = (dHi - sHi - (lo < 0 ? 1 : 0)) >>> 0;
  write64(cpu, seg, off, rLo, rHi);
  flagsSub64(cpu, dLo, dHi, sLo, sHi, rLo, rHi);
};
const andM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const rLo = dLo & sLo;
  const rHi = dHi & cpu.hi;
  write64(cpu, seg, off, rLo >>> 0, rHi >>> 0);
  flagsLogic64(cpu, rLo, rHi);
};
const orM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const rLo = dLo | sLo;
  const rHi = dHi | cpu.hi;
  write64(cpu, seg, off, rLo >>> 0, rHi >>> 0);
  flagsLogic64(cpu, rLo, rHi);
};
const xorM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const sLo = source64(cpu, ins);
  const rLo = dLo ^ sLo;
  const rHi = dHi ^ cpu.hi;
  write64(cpu, seg, off, rLo >>> 0, rHi >>> 0);
  flagsLogic64(cpu, rLo, rHi);
};
const incM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const rLo = (dLo + 1) >>> 0;
  const rHi = rLo === 0 ? (dHi + 1) >>> 0 : dHi;
  write64(cpu, seg, off, rLo, rHi);
  flagsIncDec64(cpu, dLo, dHi, rLo, rHi, false);
};
const decM64: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const seg = cpu.eaSeg;
  const dLo = read64(cpu, seg, off);
  const dHi = cpu.hi;
  const rLo = (dLo - 1) >>> 0;
  const rHi = dLo === 0 ? (dHi - 1) >>> 0 : dHi;
  write64(cpu, seg, off, rLo, rHi);
  flagsIncDec64(cpu, dLo, dHi, rLo, rHi, true);
};

// ------------------------------------------------------------------ MOVSXD

const movsxdR: Handler = (cpu, ins) => {
  const v = cpu.regs.r32[GPR_OF[ins.op1Register]!]!;
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = v;
  r[d + GPR_HI] = v >> 31;
};
const movsxdM: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  const v = read32(cpu, cpu.eaSeg, off) | 0;
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = v;
  r[d + GPR_HI] = v >> 31;
};

// ------------------------------------------------------------------ shifts of r64 by an immediate

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/** SZP of a 64-bit result as EFLAGS bits (as `szp64`). */
function szp64(lo: number, hi: number): number {
  return (hi >>> 31 ? EFLAGS.SF : 0) | ((lo | hi) === 0 ? EFLAGS.ZF : 0) | (PARITY[lo & 0xff]! << 2);
}

/** The shift count of SHL/SHR/SAR r/m64, 1 or imm8 (the 1 forms carry no immediate). */
function count64(ins: Instruction): number {
  return ins.op1Kind === OpKind.Immediate8 ? ins.immediate & 63 : 1;
}

/** SHL/SAL r64 (a masked count of 0 changes nothing, flags included); OF from the last step, AF 0. */
const shl64: Handler = (cpu, ins) => {
  const c = count64(ins);
  if (c === 0) return;
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const lo = u[d]!;
  const hi = u[d + GPR_HI]!;
  let rLo: number;
  let rHi: number;
  let cf: number;
  if (c < 32) {
    rHi = ((hi << c) | (lo >>> (32 - c))) >>> 0;
    rLo = (lo << c) >>> 0;
    cf = (hi >>> (32 - c)) & 1;
  } else {
    rHi = (lo << (c - 32)) >>> 0;
    rLo = 0;
    cf = c === 32 ? hi & 1 : (lo >>> (64 - c)) & 1;
  }
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  setArith(cpu.flags, OSZAPC, szp64(rLo, rHi) | ((rHi >>> 31) ^ cf ? EFLAGS.OF : 0) | cf);
};
const shr64: Handler = (cpu, ins) => {
  const c = count64(ins);
  if (c === 0) return;
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const lo = u[d]!;
  const hi = u[d + GPR_HI]!;
  let rLo: number;
  let rHi: number;
  let cf: number;
  if (c < 32) {
    rLo = ((lo >>> c) | (hi << (32 - c))) >>> 0;
    rHi = hi >>> c;
    cf = (lo >>> (c - 1)) & 1;
  } else {
    rLo = hi >>> (c - 32);
    rHi = 0;
    cf = c === 32 ? lo >>> 31 : (hi >>> (c - 33)) & 1;
  }
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  setArith(cpu.flags, OSZAPC, szp64(rLo, rHi) | (c === 1 && hi >>> 31 ? EFLAGS.OF : 0) | cf);
};
const sar64: Handler = (cpu, ins) => {
  const c = count64(ins);
  if (c === 0) return;
  const d = GPR_OF[ins.op0Register]!;
  const u = cpu.regs.u32;
  const lo = u[d]!;
  const hi = u[d + GPR_HI]! | 0;
  let rLo: number;
  let rHi: number;
  let cf: number;
  if (c < 32) {
    rLo = ((lo >>> c) | (hi << (32 - c))) >>> 0;
    rHi = (hi >> c) >>> 0;
    cf = (lo >>> (c - 1)) & 1;
  } else {
    rLo = (hi >> (c - 32)) >>> 0;
    rHi = (hi >> 31) >>> 0;
    cf = c === 32 ? lo >>> 31 : (hi >>> (c - 33)) & 1;
  }
  u[d] = rLo;
  u[d + GPR_HI] = rHi;
  setArith(cpu.flags, OSZAPC, szp64(rLo, rHi) | cf);
};

// ------------------------------------------------------------------ LEA, MOVZX

/** LEA r64 (64-bit addressing): the 64-bit sum, no canonical check (LEA does not access memory). */
const lea64: Handler = (cpu, ins) => {
  const u32 = cpu.regs.u32;
  const base = ins.memBase;
  let lo = ins.memDisplacement >>> 0;
  let hi = ins.memDisplacement < 0 ? -1 : 0;
  if (base === Register.RIP) {
    const ip = ins.nextIp;
    lo += ip >>> 0;
    hi += Math.floor(ip / TWO_32);
  } else if (base !== Register.None) {
    const n = GPR_OF[base]!;
    lo += u32[n]!;
    hi += u32[n + GPR_HI]!;
  }
  const index = ins.memIndex;
  if (index !== Register.None) {
    const n = GPR_OF[index]!;
    const scale = ins.memScale;
    lo += u32[n]! * scale;
    hi += u32[n + GPR_HI]! * scale;
  }
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = lo;
  r[d + GPR_HI] = hi + Math.floor(lo / TWO_32);
};
/** LEA r32 (64-bit addressing): the low half of the sum, zero-extended. */
const lea32: Handler = (cpu, ins) => {
  const u32 = cpu.regs.u32;
  const base = ins.memBase;
  let lo = ins.memDisplacement;
  if (base === Register.RIP) lo += ins.nextIp % TWO_32;
  else if (base !== Register.None) lo += u32[GPR_OF[base]!]!;
  const index = ins.memIndex;
  if (index !== Register.None) lo += u32[GPR_OF[index]!]! * ins.memScale;
  set32(cpu, GPR_OF[ins.op0Register]!, lo % TWO_32);
};

/** MOVZX r32/r64 (the same: a 32-bit destination is zero-extended), from a register or memory. */
const movzx16R: Handler = (cpu, ins) => {
  set32(cpu, GPR_OF[ins.op0Register]!, cpu.regs.r16[GPR_OF[ins.op1Register]! << 1]!);
};
const movzx16M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  set32(cpu, GPR_OF[ins.op0Register]!, read16(cpu, cpu.eaSeg, off));
};
const movzx8R: Handler = (cpu, ins) => {
  set32(cpu, GPR_OF[ins.op0Register]!, cpu.regs.r8[BYTE_OFFSET_OF[ins.op1Register]!]!);
};
const movzx8M: Handler = (cpu, ins) => {
  const off = locate64(cpu, ins);
  set32(cpu, GPR_OF[ins.op0Register]!, read8(cpu, cpu.eaSeg, off));
};

// ------------------------------------------------------------------ PUSH/POP r64

const pushR: Handler = (cpu, ins) => {
  const u = cpu.regs.u32;
  const n = GPR_OF[ins.op0Register]!;
  push64(cpu, u[n]!, u[n + GPR_HI]!);
};
/** POP r64: the register is written after RSP moves, so POP RSP loads the popped value. */
const popR: Handler = (cpu, ins) => {
  const lo = pop64(cpu);
  const r = cpu.regs.r32;
  const d = GPR_OF[ins.op0Register]!;
  r[d] = lo;
  r[d + GPR_HI] = cpu.hi;
};

// ------------------------------------------------------------------ JMP, Jcc

/** A near branch in 64-bit mode: #GP(0) (RIP still at the branch) unless the target is canonical. */
function jumpTo64(cpu: Cpu, target: number): void {
  if (!isCanonical(target)) raise(Vector.GP, 0);
  cpu.regs.ip = target;
}

const jmp: Handler = (cpu, ins) => jumpTo64(cpu, ins.nearBranchTarget);

// After a 32-bit CMP (a lazy SUB record) the unsigned conditions compare the recorded operands; after a
// 64-bit one (eager flags) they read the bits. Other records go through `testCondition`.
const jb: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & EFLAGS.CF) !== 0
      : op === LazyOp.Sub
        ? f.dst < f.src
        : testCondition(f, 0x2)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const jae: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & EFLAGS.CF) === 0
      : op === LazyOp.Sub
        ? f.dst >= f.src
        : testCondition(f, 0x3)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const je: Handler = (cpu, ins) => {
  const f = cpu.flags;
  if (f.op !== LazyOp.None ? f.res === 0 : (f.bits & EFLAGS.ZF) !== 0) jumpTo64(cpu, ins.nearBranchTarget);
};
const jne: Handler = (cpu, ins) => {
  const f = cpu.flags;
  if (f.op !== LazyOp.None ? f.res !== 0 : (f.bits & EFLAGS.ZF) === 0) jumpTo64(cpu, ins.nearBranchTarget);
};
const jbe: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & (EFLAGS.CF | EFLAGS.ZF)) !== 0
      : op === LazyOp.Sub
        ? f.dst <= f.src
        : testCondition(f, 0x6)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const ja: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & (EFLAGS.CF | EFLAGS.ZF)) === 0
      : op === LazyOp.Sub
        ? f.dst > f.src
        : testCondition(f, 0x7)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
/** SF != OF from eager bits. */
function lessBits(bits: number): boolean {
  return (((bits >>> 7) ^ (bits >>> 11)) & 1) !== 0;
}
const jl: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? lessBits(f.bits)
      : op === LazyOp.Sub && f.size === 32
        ? (f.dst | 0) < (f.src | 0)
        : testCondition(f, 0xc)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const jge: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? !lessBits(f.bits)
      : op === LazyOp.Sub && f.size === 32
        ? (f.dst | 0) >= (f.src | 0)
        : testCondition(f, 0xd)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const jle: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & EFLAGS.ZF) !== 0 || lessBits(f.bits)
      : op === LazyOp.Sub && f.size === 32
        ? (f.dst | 0) <= (f.src | 0)
        : testCondition(f, 0xe)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const jg: Handler = (cpu, ins) => {
  const f = cpu.flags;
  const op = f.op;
  if (
    op === LazyOp.None
      ? (f.bits & EFLAGS.ZF) === 0 && !lessBits(f.bits)
      : op === LazyOp.Sub && f.size === 32
        ? (f.dst | 0) > (f.src | 0)
        : testCondition(f, 0xf)
  )
    jumpTo64(cpu, ins.nearBranchTarget);
};
const js: Handler = (cpu, ins) => {
  const f = cpu.flags;
  if (f.op === LazyOp.None ? (f.bits & EFLAGS.SF) !== 0 : testCondition(f, 0x8))
    jumpTo64(cpu, ins.nearBranchTarget);
};
const jns: Handler = (cpu, ins) => {
  const f = cpu.flags;
  if (f.op === LazyOp.None ? (f.bits & EFLAGS.SF) === 0 : testCondition(f, 0x9))
    jumpTo64(cpu, ins.nearBranchTarget);
};

// ------------------------------------------------------------------ choosing

const CODES = Code as Record<string, number>;

/** Register-destination ALU forms (register, immediate or memory source), by Code. */
const REG_DEST = new Map<number, Handler>();
for (const [name, h32, h64] of [
  ['Add', add32, add64],
  ['Sub', sub32, sub64],
  ['Cmp', cmp32, cmp64],
  ['And', and32, and64],
  ['Or', or32, or64],
  ['Xor', xor32, xor64],
] as const) {
  for (const form of ['rm32_r32', 'r32_rm32', 'rm32_imm32', 'rm32_imm8', 'EAX_imm32']) {
    const code = CODES[`${name}_${form}`];
    if (code !== undefined) REG_DEST.set(code, h32);
  }
  for (const form of ['rm64_r64', 'r64_rm64', 'rm64_imm32', 'rm64_imm8', 'RAX_imm32']) {
    const code = CODES[`${name}_${form}`];
    if (code !== undefined) REG_DEST.set(code, h64);
  }
}
for (const name of ['Test_rm32_r32', 'Test_rm32_imm32', 'Test_EAX_imm32']) {
  const code = CODES[name];
  if (code !== undefined) REG_DEST.set(code, test32);
}
for (const name of ['Test_rm64_r64', 'Test_rm64_imm32', 'Test_RAX_imm32']) {
  const code = CODES[name];
  if (code !== undefined) REG_DEST.set(code, test64);
}
REG_DEST.set(Code.Inc_rm32, inc32);
REG_DEST.set(Code.Dec_rm32, dec32);
REG_DEST.set(Code.Inc_rm64, inc64);
REG_DEST.set(Code.Dec_rm64, dec64);
for (const [name, h] of [
  ['Shl', shl64],
  ['Sal', shl64],
  ['Shr', shr64],
  ['Sar', sar64],
] as const) {
  for (const form of ['rm64_imm8', 'rm64_1']) {
    const code = CODES[`${name}_${form}`];
    if (code !== undefined) REG_DEST.set(code, h);
  }
}
REG_DEST.set(Code.Push_r64, pushR);
REG_DEST.set(Code.Pop_r64, popR);

/** CMP/TEST r/m8 (either operand kind); memory-first CMP/TEST and ALU/INC/DEC forms of 32 and 64 bits. */
const CMP_TEST = new Map<number, Handler>();
const MEM_FIRST = new Map<number, Handler>();
for (const name of ['Cmp_rm8_r8', 'Cmp_r8_rm8', 'Cmp_rm8_imm8', 'Cmp_AL_imm8'])
  CMP_TEST.set(CODES[name]!, cmp8);
for (const name of ['Test_rm8_r8', 'Test_rm8_imm8', 'Test_AL_imm8']) CMP_TEST.set(CODES[name]!, test8);
for (const name of ['Cmp_rm32_r32', 'Cmp_rm32_imm32', 'Cmp_rm32_imm8']) MEM_FIRST.set(CODES[name]!, cmp32M);
for (const name of ['Test_rm32_r32', 'Test_rm32_imm32']) MEM_FIRST.set(CODES[name]!, test32M);
for (const name of ['Cmp_rm64_r64', 'Cmp_rm64_imm32', 'Cmp_rm64_imm8']) MEM_FIRST.set(CODES[name]!, cmp64M);
for (const name of ['Test_rm64_r64', 'Test_rm64_imm32']) MEM_FIRST.set(CODES[name]!, test64M);
for (const [name, h32, h64] of [
  ['Add', addM32, addM64],
  ['Sub', subM32, subM64],
  ['And', andM32, andM64],
  ['Or', orM32, orM64],
  ['Xor', xorM32, xorM64],
] as const) {
  for (const form of ['rm32_r32', 'rm32_imm32', 'rm32_imm8']) MEM_FIRST.set(CODES[`${name}_${form}`]!, h32);
  for (const form of ['rm64_r64', 'rm64_imm32', 'rm64_imm8']) MEM_FIRST.set(CODES[`${name}_${form}`]!, h64);
}
MEM_FIRST.set(Code.Inc_rm32, incM32);
MEM_FIRST.set(Code.Dec_rm32, decM32);
MEM_FIRST.set(Code.Inc_rm64, incM64);
MEM_FIRST.set(Code.Dec_rm64, decM64);

/** JMP rel and Jcc rel in 64-bit mode. */
const JCC = new Map<number, Handler>();
for (const [cc, h] of [
  ['Jb', jb],
  ['Jae', jae],
  ['Je', je],
  ['Jne', jne],
  ['Jbe', jbe],
  ['Ja', ja],
  ['Js', js],
  ['Jns', jns],
  ['Jl', jl],
  ['Jge', jge],
  ['Jle', jle],
  ['Jg', jg],
  ['Jmp', jmp],
] as const) {
  for (const form of ['rel8_64', 'rel32_64']) {
    const code = CODES[`${cc}_${form}`];
    if (code !== undefined) JCC.set(code, h);
  }
}

/**
 * The fast handler for an instruction decoded in 64-bit mode, or null for the generic one. Memory
 * operands qualify only with 64-bit addressing (no 67h prefix); LOCK needs a memory destination, which
 * no form here has except MOV (where LOCK is #UD at decode).
 */
export function fastHandler64(ins: Instruction): Handler | null {
  const code = ins.code;
  const k0 = ins.op0Kind;
  const k1 = ins.op1Kind;
  const mem64 = ins.addressSize === 64;
  switch (code) {
    case Code.Mov_r64_rm64:
    case Code.Mov_rm64_r64:
      if (k0 === OpKind.Register && k1 === OpKind.Register) return mov64RR;
      if (k0 === OpKind.Register && k1 === OpKind.Memory && mem64) return mov64RM;
      if (k0 === OpKind.Memory && k1 === OpKind.Register && mem64) return mov64MR;
      return null;
    case Code.Mov_r64_imm64:
      return mov64RI;
    case Code.Mov_rm64_imm32:
      if (k0 === OpKind.Register) return mov64RI;
      return mem64 ? mov64MI : null;
    case Code.Mov_r32_rm32:
    case Code.Mov_rm32_r32:
      if (k0 === OpKind.Register && k1 === OpKind.Register) return mov32RR;
      if (k0 === OpKind.Register && k1 === OpKind.Memory && mem64) return mov32RM;
      if (k0 === OpKind.Memory && k1 === OpKind.Register && mem64) return mov32MR;
      return null;
    case Code.Mov_r32_imm32:
      return mov32RI;
    case Code.Mov_rm32_imm32:
      if (k0 === OpKind.Register) return mov32RI;
      return mem64 ? mov32MI : null;
    case Code.Lea_r64_m:
      return mem64 ? lea64 : null;
    case Code.Lea_r32_m:
      return mem64 ? lea32 : null;
    case Code.Movzx_r32_rm16:
    case Code.Movzx_r64_rm16:
      if (k1 === OpKind.Register) return movzx16R;
      return mem64 ? movzx16M : null;
    case Code.Movzx_r32_rm8:
    case Code.Movzx_r64_rm8:
      if (k1 === OpKind.Register) return movzx8R;
      return mem64 ? movzx8M : null;
    case Code.Movsxd_r64_rm32:
      if (k1 === OpKind.Register) return movsxdR;
      return mem64 ? movsxdM : null;
  }
  const jcc = JCC.get(code);
  if (jcc !== undefined) return jcc;
  if ((k0 === OpKind.Memory || k1 === OpKind.Memory) && !mem64) return null;
  const cmpTest = CMP_TEST.get(code);
  if (cmpTest !== undefined) return cmpTest;
  if (k0 === OpKind.Memory) return MEM_FIRST.get(code) ?? null;
  if (k0 !== OpKind.Register) return null;
  if (k1 === OpKind.Memory && !mem64) return null;
  return REG_DEST.get(code) ?? null;
}

/** The fast handlers by name, for the compiling tier (`compiler64.ts` recognises forms by handler). */
export const FAST64 = {
  mov64RR,
  mov64RI,
  mov64RM,
  mov64MR,
  mov64MI,
  mov32RR,
  mov32RI,
  mov32RM,
  mov32MR,
  mov32MI,
  add32,
  sub32,
  cmp32,
  and32,
  or32,
  xor32,
  test32,
  inc32,
  dec32,
  add64,
  sub64,
  cmp64,
  and64,
  or64,
  xor64,
  test64,
  inc64,
  dec64,
  shl64,
  shr64,
  sar64,
  movsxdR,
  movsxdM,
  lea64,
  lea32,
  movzx16R,
  movzx16M,
  movzx8R,
  movzx8M,
  pushR,
  popR,
  jmp,
  jb,
  jae,
  je,
  jne,
  jbe,
  ja,
  js,
  jns,
  jl,
  jge,
  jle,
  jg,
} as const;
