/**
 * MMX instructions (Pentium MMX set): the interpreter side of the `x87/` MMX unit. MMX registers alias
 * the x87 significands; entry checks follow SDM Vol. 3 Table 12-1 (#UD with CR0.EM, #NM with CR0.TS,
 * #MF for a pending x87 exception). Forms added by SSE/SSSE3 are tagged with those features by the
 * decoder and raise #UD on this model before they get here.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { CR0 } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { raise, Vector } from '../exceptions.js';
import { read32, read64, write64 } from '../memory-access.js';
import { getReg, locate, readOp1_64, writeOp0, writeOp0_64 } from '../operands.js';
import {
  emms,
  isMmxOp,
  mmxOp,
  mmxReadHi,
  mmxReadLo,
  mmxShiftImm,
  mmxWrite,
  PENDING_MF,
  type X87,
} from '../x87/index.js';

/** 0F xx opcode of each MMX arithmetic/pack/compare mnemonic (SDM Vol. 2, Appendix A). */
const OPCODES: Record<string, number> = {
  Punpcklbw: 0x60,
  Punpcklwd: 0x61,
  Punpckldq: 0x62,
  Packsswb: 0x63,
  Pcmpgtb: 0x64,
  Pcmpgtw: 0x65,
  Pcmpgtd: 0x66,
  Packuswb: 0x67,
  Punpckhbw: 0x68,
  Punpckhwd: 0x69,
  Punpckhdq: 0x6a,
  Packssdw: 0x6b,
  Pcmpeqb: 0x74,
  Pcmpeqw: 0x75,
  Pcmpeqd: 0x76,
  Psrlw: 0xd1,
  Psrld: 0xd2,
  Psrlq: 0xd3,
  Pmullw: 0xd5,
  Psubusb: 0xd8,
  Psubusw: 0xd9,
  Pand: 0xdb,
  Paddusb: 0xdc,
  Paddusw: 0xdd,
  Pandn: 0xdf,
  Psraw: 0xe1,
  Psrad: 0xe2,
  Pmulhw: 0xe5,
  Psubsb: 0xe8,
  Psubsw: 0xe9,
  Por: 0xeb,
  Paddsb: 0xec,
  Paddsw: 0xed,
  Pxor: 0xef,
  Psllw: 0xf1,
  Pslld: 0xf2,
  Psllq: 0xf3,
  Pmaddwd: 0xf5,
  Psubb: 0xf8,
  Psubw: 0xf9,
  Psubd: 0xfa,
  Paddb: 0xfc,
  Paddw: 0xfd,
  Paddd: 0xfe,
};

/** Shift-by-immediate forms: [group opcode, ModRM reg]. */
const SHIFT_IMM: Record<string, [number, number]> = {
  Psrlw: [0x71, 2],
  Psraw: [0x71, 4],
  Psllw: [0x71, 6],
  Psrld: [0x72, 2],
  Psrad: [0x72, 4],
  Pslld: [0x72, 6],
  Psrlq: [0x73, 2],
  Psllq: [0x73, 6],
};

function enter(cpu: Cpu): X87 {
  const cr0 = cpu.ctrl.cr0;
  if (cr0 & CR0.EM) raise(Vector.UD);
  if (cr0 & CR0.TS) raise(Vector.NM);
  const fpu = cpu.fpu;
  if (fpu.checkPending((cr0 & CR0.NE) !== 0) === PENDING_MF) raise(Vector.MF);
  return fpu;
}

const mm = (reg: number): number => reg - Register.MM0;

/** Source operand halves (register or memory; `narrow` reads only 32 bits of memory). */
let srcLo = 0;
let srcHi = 0;
function readSource(cpu: Cpu, ins: Instruction, fpu: X87, narrow: boolean): void {
  if (ins.op1Kind === OpKind.Register) {
    srcLo = mmxReadLo(fpu, mm(ins.op1Register));
    srcHi = mmxReadHi(fpu, mm(ins.op1Register));
    return;
  }
  locate(cpu, ins);
  if (narrow) {
    srcLo = read32(cpu, cpu.eaSeg, cpu.eaOff);
    srcHi = 0;
    return;
  }
  srcLo = read64(cpu, cpu.eaSeg, cpu.eaOff);
  srcHi = cpu.hi;
}

function arith(opcode: number, narrow: boolean): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu);
    readSource(cpu, ins, fpu, narrow);
    mmxOp(fpu, opcode, mm(ins.op0Register), srcLo, srcHi);
  };
}

function shiftImm(group: number, reg: number): Handler {
  return (cpu, ins) => {
    const fpu = enter(cpu);
    mmxShiftImm(fpu, group, reg, mm(ins.op0Register), ins.immediate & 0xff);
  };
}

const movdToMm: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  let v: number;
  if (ins.op1Kind === OpKind.Register) v = getReg(cpu, ins.op1Register, 32);
  else {
    locate(cpu, ins);
    v = read32(cpu, cpu.eaSeg, cpu.eaOff);
  }
  mmxWrite(fpu, mm(ins.op0Register), v, 0);
};

const movdFromMm: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  const v = mmxReadLo(fpu, mm(ins.op1Register));
  writeOp0(cpu, ins, 32, v, false);
};

const movqToMm: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  readSource(cpu, ins, fpu, false);
  mmxWrite(fpu, mm(ins.op0Register), srcLo, srcHi);
};

const movqFromMm: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  const lo = mmxReadLo(fpu, mm(ins.op1Register));
  const hi = mmxReadHi(fpu, mm(ins.op1Register));
  if (ins.op0Kind === OpKind.Register) {
    mmxWrite(fpu, mm(ins.op0Register), lo, hi);
    return;
  }
  locate(cpu, ins);
  // Both pages are translated before either half is written.
  write64(cpu, cpu.eaSeg, cpu.eaOff, lo, hi);
};

/** MOVQ mm, r/m64 (REX.W 0F 6E): the 64-bit source is read before the MMX state changes. */
const movqToMmFromRm64: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  const lo = readOp1_64(cpu, ins);
  mmxWrite(fpu, mm(ins.op0Register), lo, cpu.hi);
};

/** MOVQ r/m64, mm (REX.W 0F 7E). */
const movqToRm64: Handler = (cpu, ins) => {
  const fpu = enter(cpu);
  const r = mm(ins.op1Register);
  const lo = mmxReadLo(fpu, r);
  const hi = mmxReadHi(fpu, r);
  writeOp0_64(cpu, ins, lo, hi, false);
};

const emmsHandler: Handler = (cpu) => {
  const cr0 = cpu.ctrl.cr0;
  if (cr0 & CR0.EM) raise(Vector.UD);
  if (cr0 & CR0.TS) raise(Vector.NM);
  emms(cpu.fpu);
};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  for (const [name, opcode] of Object.entries(OPCODES)) {
    if (!isMmxOp(opcode)) continue;
    const narrow = name.startsWith('Punpckl');
    add(`${name}_mm_mmm${narrow ? 32 : 64}`, arith(opcode, narrow));
  }
  for (const [name, [group, reg]] of Object.entries(SHIFT_IMM)) add(`${name}_mm_imm8`, shiftImm(group, reg));
  add('Movd_mm_rm32', movdToMm);
  add('Movd_rm32_mm', movdFromMm);
  add('Movq_mm_mmm64', movqToMm);
  add('Movq_mmm64_mm', movqFromMm);
  add('Movq_mm_rm64', movqToMmFromRm64);
  add('Movq_rm64_mm', movqToRm64);
  add('Emms', emmsHandler);
  return list.entries;
}

export const MMX_HANDLERS: readonly [number, Handler][] = entries();
