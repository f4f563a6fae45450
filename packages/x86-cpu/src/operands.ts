/**
 * Operand access from a decoded `Instruction`: effective addresses (SDM Vol. 1 §3.7.5), register,
 * memory and immediate operands by kind. Memory operands remember their segment and offset in
 * `cpu.eaSeg` / `cpu.eaOff` so a read-modify-write stores to the address it read.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { read64, readSized, TWO_32, write64, writeSized } from './memory-access.js';
import { BYTE_OFFSET_OF, GPR_HI, GPR_OF } from './registers.js';

/**
 * Effective address of the instruction's memory operand (masked to the address size). With 64-bit
 * addressing it is a canonical address in signed form, and a non-canonical one raises #GP(0) (#SS(0)
 * for an SS reference) as the access would (SDM Vol. 1 §3.3.7.1); LEA uses {@link effectiveAddress64}.
 */
export function effectiveAddress(cpu: Cpu, ins: Instruction): number {
  if (ins.bitness === 64) return canonicalAddress(cpu, ins);
  const u32 = cpu.regs.u32;
  let a = ins.memDisplacement;
  const base = ins.memBase;
  if (base !== Register.None) a += u32[GPR_OF[base]!]!;
  const index = ins.memIndex;
  if (index !== Register.None) a += u32[GPR_OF[index]!]! * ins.memScale;
  return ins.addressSize === 16 ? a & 0xffff : a >>> 0;
}

/**
 * The 64-bit effective address (SDM Vol. 1 §3.7.5.1): base + index * scale + displacement modulo
 * 2^64, RIP-relative from the next instruction. Returns the low half (unsigned) and leaves the high
 * half in `cpu.hi` (unsigned); no canonical check (LEA computes any value).
 */
export function effectiveAddress64(cpu: Cpu, ins: Instruction): number {
  const u32 = cpu.regs.u32;
  const base = ins.memBase;
  let lo = ins.memDisplacement >>> 0;
  let hi = ins.memDisplSize === 8 ? ins.memDisplacementHi : ins.memDisplacement < 0 ? -1 : 0;
  if (base === Register.RIP || base === Register.EIP) {
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
  const carry = Math.floor(lo / TWO_32);
  cpu.hi = (hi + carry) >>> 0;
  return lo >>> 0;
}

/**
 * An effective address in 64-bit mode: {@link effectiveAddress64} as a canonical address in signed
 * form, or #GP(0)/#SS(0); with the 67h prefix a 32-bit address zero-extended (EIP-relative too).
 */
function canonicalAddress(cpu: Cpu, ins: Instruction): number {
  const lo = effectiveAddress64(cpu, ins);
  if (ins.addressSize === 32) return lo;
  const hi = cpu.hi | 0;
  if ((hi << 16) >> 16 !== hi) raise(ins.memSegment === Register.SS ? Vector.SS : Vector.GP, 0);
  return hi * TWO_32 + lo;
}

/** A 64-bit value given as halves, as a signed double (exact when canonical: |value| < 2^47). */
export function joinSigned(lo: number, hi: number): number {
  return (hi | 0) * TWO_32 + (lo >>> 0);
}

/** Computes and records the memory operand's segment and offset. */
export function locate(cpu: Cpu, ins: Instruction): void {
  cpu.eaSeg = ins.memSegment - Register.ES;
  cpu.eaOff = effectiveAddress(cpu, ins);
}

// ------------------------------------------------------------------ registers by decoder Register

export function getReg8(cpu: Cpu, reg: number): number {
  return cpu.regs.r8[BYTE_OFFSET_OF[reg]!]!;
}
export function setReg8(cpu: Cpu, reg: number, v: number): void {
  cpu.regs.r8[BYTE_OFFSET_OF[reg]!] = v;
}
export function getReg16(cpu: Cpu, reg: number): number {
  return cpu.regs.r16[GPR_OF[reg]! << 1]!;
}
export function setReg16(cpu: Cpu, reg: number, v: number): void {
  cpu.regs.r16[GPR_OF[reg]! << 1] = v;
}
export function getReg32(cpu: Cpu, reg: number): number {
  return cpu.regs.u32[GPR_OF[reg]!]!;
}
/** Writes a 32-bit register: the upper half of the 64-bit register becomes 0 (SDM Vol. 1 §3.4.1.1). */
export function setReg32(cpu: Cpu, reg: number, v: number): void {
  const n = GPR_OF[reg]!;
  const r = cpu.regs.r32;
  r[n] = v;
  r[n + GPR_HI] = 0;
}

/** Low half of a 64-bit register; the high half goes to `cpu.hi`. */
export function getReg64(cpu: Cpu, reg: number): number {
  const n = GPR_OF[reg]!;
  const u = cpu.regs.u32;
  cpu.hi = u[n + GPR_HI]!;
  return u[n]!;
}
export function setReg64(cpu: Cpu, reg: number, lo: number, hi: number): void {
  const n = GPR_OF[reg]!;
  const r = cpu.regs.r32;
  r[n] = lo;
  r[n + GPR_HI] = hi;
}

export function getReg(cpu: Cpu, reg: number, size: number): number {
  return size === 8 ? getReg8(cpu, reg) : size === 16 ? getReg16(cpu, reg) : getReg32(cpu, reg);
}
export function setReg(cpu: Cpu, reg: number, size: number, v: number): void {
  if (size === 8) setReg8(cpu, reg, v);
  else if (size === 16) setReg16(cpu, reg, v);
  else setReg32(cpu, reg, v);
}

// ------------------------------------------------------------------ operands by slot

/** Unsigned value of an immediate operand kind, masked to `size`. */
function immediate(ins: Instruction, size: number): number {
  const v = ins.immediate;
  return size === 32 ? v >>> 0 : size === 16 ? v & 0xffff : v & 0xff;
}

/** Reads operand 0 (register or memory; memory is located first). */
export function readOp0(cpu: Cpu, ins: Instruction, size: number): number {
  if (ins.op0Kind === OpKind.Register) return getReg(cpu, ins.op0Register, size);
  locate(cpu, ins);
  return readSized(cpu, cpu.eaSeg, cpu.eaOff, size);
}

/** Writes operand 0; for memory it uses the location of the preceding `readOp0` (or locates it). */
export function writeOp0(cpu: Cpu, ins: Instruction, size: number, v: number, located: boolean): void {
  if (ins.op0Kind === OpKind.Register) {
    setReg(cpu, ins.op0Register, size, v);
    return;
  }
  if (!located) locate(cpu, ins);
  writeSized(cpu, cpu.eaSeg, cpu.eaOff, size, v);
}

/** Reads operand 1: register, memory or immediate. */
export function readOp1(cpu: Cpu, ins: Instruction, size: number): number {
  const k = ins.op1Kind;
  if (k === OpKind.Register) return getReg(cpu, ins.op1Register, size);
  if (k === OpKind.Memory) {
    locate(cpu, ins);
    return readSized(cpu, cpu.eaSeg, cpu.eaOff, size);
  }
  return immediate(ins, size);
}

/** Reads operand 2 (register or immediate: SHLD/SHRD count, IMUL imm). */
export function readOp2(cpu: Cpu, ins: Instruction, size: number): number {
  if (ins.op2Kind === OpKind.Register) return getReg(cpu, ins.op2Register, size);
  return immediate(ins, size);
}

// ------------------------------------------------------------------ 64-bit operands (two halves)

/**
 * The value of an immediate operand as 64 bits: the low half returned, the high half in `cpu.hi`
 * (imm8/imm32 sign-extended, imm64 as encoded; `Instruction.immediateHi` holds either).
 */
function immediate64(cpu: Cpu, ins: Instruction): number {
  cpu.hi = ins.immediateHi >>> 0;
  return ins.immediate >>> 0;
}

/** Reads operand 0 as 64 bits (register or memory, located first): low half, high half in `cpu.hi`. */
export function readOp0_64(cpu: Cpu, ins: Instruction): number {
  if (ins.op0Kind === OpKind.Register) return getReg64(cpu, ins.op0Register);
  locate(cpu, ins);
  return read64(cpu, cpu.eaSeg, cpu.eaOff);
}

/** Writes operand 0 as 64 bits; memory uses the location of the preceding read unless `located` is false. */
export function writeOp0_64(cpu: Cpu, ins: Instruction, lo: number, hi: number, located: boolean): void {
  if (ins.op0Kind === OpKind.Register) {
    setReg64(cpu, ins.op0Register, lo, hi);
    return;
  }
  if (!located) locate(cpu, ins);
  write64(cpu, cpu.eaSeg, cpu.eaOff, lo, hi);
}

/** Reads operand 1 as 64 bits: register, memory or (sign-extended) immediate. */
export function readOp1_64(cpu: Cpu, ins: Instruction): number {
  const k = ins.op1Kind;
  if (k === OpKind.Register) return getReg64(cpu, ins.op1Register);
  if (k === OpKind.Memory) {
    locate(cpu, ins);
    return read64(cpu, cpu.eaSeg, cpu.eaOff);
  }
  return immediate64(cpu, ins);
}

/** Reads operand 2 as 64 bits (register or immediate). */
export function readOp2_64(cpu: Cpu, ins: Instruction): number {
  if (ins.op2Kind === OpKind.Register) return getReg64(cpu, ins.op2Register);
  return immediate64(cpu, ins);
}
