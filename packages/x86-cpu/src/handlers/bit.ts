/**
 * Bit test and scan: BT, BTS, BTR, BTC (register and immediate bit offsets, with the bit-string
 * addressing of memory operands, SDM Vol. 2A "BT"), BSF, BSR. OF/SF/AF/PF (and ZF for BT*) are left
 * unchanged; BSF/BSR leave the destination unchanged for a zero source, as P6-family CPUs do.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { EFLAGS, setArith, setCF } from '../flags.js';
import { readSized, writeSized } from '../memory-access.js';
import { getReg, locate, readOp1, setReg } from '../operands.js';

export const BitOp = { Test: 0, Set: 1, Reset: 2, Complement: 3 } as const;

function apply(op: number, v: number, bit: number): number {
  const m = 1 << bit;
  return op === BitOp.Set ? (v | m) >>> 0 : op === BitOp.Reset ? (v & ~m) >>> 0 : (v ^ m) >>> 0;
}

function bitOp(op: number, size: number, immediate: boolean): Handler {
  return (cpu, ins) => {
    let offset: number;
    if (immediate) offset = ins.immediate & (size - 1);
    else {
      const raw = getReg(cpu, ins.op1Register, size);
      offset = size === 16 ? (raw << 16) >> 16 : raw | 0;
    }
    if (ins.op0Kind === OpKind.Register) {
      const bit = offset & (size - 1);
      const v = getReg(cpu, ins.op0Register, size);
      if (op !== BitOp.Test) setReg(cpu, ins.op0Register, size, apply(op, v, bit));
      setCF(cpu.flags, (v >>> bit) & 1);
      return;
    }
    locate(cpu, ins);
    // Bit-string addressing: the register offset selects a word/dword relative to the operand.
    const bytes = size >>> 3;
    const unit = Math.floor(offset / size);
    const bit = offset - unit * size;
    const mask = ins.addressSize === 16 ? 0xffff : 0xffffffff;
    // 64-bit addressing: the offset is a canonical address in signed form (no wrap; the access checks it).
    const off = immediate
      ? cpu.eaOff
      : ins.addressSize === 64
        ? cpu.eaOff + unit * bytes
        : ((cpu.eaOff + unit * bytes) & mask) >>> 0;
    const v = readSized(cpu, cpu.eaSeg, off, size);
    if (op !== BitOp.Test) writeSized(cpu, cpu.eaSeg, off, size, apply(op, v, bit));
    setCF(cpu.flags, (v >>> bit) & 1);
  };
}

function scan(reverse: boolean, size: number): Handler {
  return (cpu: Cpu, ins: Instruction) => {
    const v = readOp1(cpu, ins, size);
    if (v === 0) {
      setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
      return;
    }
    const index = reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
    setReg(cpu, ins.op0Register, size, index);
    setArith(cpu.flags, EFLAGS.ZF, 0);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  const names = ['Bt', 'Bts', 'Btr', 'Btc'];
  names.forEach((n, op) => {
    for (const size of [16, 32] as const) {
      add(`${n}_rm${size}_r${size}`, bitOp(op, size, false));
      add(`${n}_rm${size}_imm8`, bitOp(op, size, true));
    }
  });
  for (const size of [16, 32] as const) {
    add(`Bsf_r${size}_rm${size}`, scan(false, size));
    add(`Bsr_r${size}_rm${size}`, scan(true, size));
  }
  return list.entries;
}

export const BIT_HANDLERS: readonly [number, Handler][] = entries();
