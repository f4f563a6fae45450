/**
 * Operand access from a decoded `Instruction`: effective addresses (SDM Vol. 1 §3.7.5), register,
 * memory and immediate operands by kind. Memory operands remember their segment and offset in
 * `cpu.eaSeg` / `cpu.eaOff` so a read-modify-write stores to the address it read.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu } from './cpu.js';
import { readSized, writeSized } from './memory-access.js';
import { BYTE_OFFSET_OF, GPR_OF } from './registers.js';

/** Effective address of the instruction's memory operand (masked to the address size). */
export function effectiveAddress(cpu: Cpu, ins: Instruction): number {
  const u32 = cpu.regs.u32;
  let a = ins.memDisplacement;
  const base = ins.memBase;
  if (base !== Register.None) a += u32[GPR_OF[base]!]!;
  const index = ins.memIndex;
  if (index !== Register.None) a += u32[GPR_OF[index]!]! * ins.memScale;
  return ins.addressSize === 16 ? a & 0xffff : a >>> 0;
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
export function setReg32(cpu: Cpu, reg: number, v: number): void {
  cpu.regs.r32[GPR_OF[reg]!] = v;
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
