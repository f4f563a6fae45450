import type { Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { getCF, LazyOp, setLazy, sizeMask } from '../flags.js';
import { readOp0, readOp1, writeOp0 } from '../operands.js';

/** ALU operation in the order of the `reg` field of opcodes 80-83. */
export const AluOp = { Add: 0, Or: 1, Adc: 2, Sbb: 3, And: 4, Sub: 5, Xor: 6, Cmp: 7 } as const;

function binary(op: number, size: number): Handler {
  const mask = sizeMask(size);
  return (cpu, ins) => {
    const dst = readOp0(cpu, ins, size);
    const src = readOp1(cpu, ins, size);
    const f = cpu.flags;
    let res: number;
    let kind: LazyOp;
    switch (op) {
      case AluOp.Add:
        res = ((dst + src) & mask) >>> 0;
        kind = LazyOp.Add;
        break;
      case AluOp.Or:
        res = ((dst | src) & mask) >>> 0;
        kind = LazyOp.Logic;
        break;
      case AluOp.Adc: {
        const c = getCF(f);
        res = ((dst + src + c) & mask) >>> 0;
        kind = c ? LazyOp.Adc : LazyOp.Add;
        break;
      }
      case AluOp.Sbb: {
        const c = getCF(f);
        res = ((dst - src - c) & mask) >>> 0;
        kind = c ? LazyOp.Sbb : LazyOp.Sub;
        break;
      }
      case AluOp.And:
        res = (dst & src & mask) >>> 0;
        kind = LazyOp.Logic;
        break;
      case AluOp.Xor:
        res = ((dst ^ src) & mask) >>> 0;
        kind = LazyOp.Logic;
        break;
      default:
        res = ((dst - src) & mask) >>> 0;
        kind = LazyOp.Sub;
        break;
    }
    if (op !== AluOp.Cmp) writeOp0(cpu, ins, size, res, true);
    setLazy(f, kind, size, dst, src, res);
  };
}

function test(size: number): Handler {
  return (cpu, ins) => {
    const dst = readOp0(cpu, ins, size);
    const src = readOp1(cpu, ins, size);
    setLazy(cpu.flags, LazyOp.Logic, size, dst, src, (dst & src) >>> 0);
  };
}

function incDec(dec: boolean, size: number): Handler {
  const mask = sizeMask(size);
  return (cpu, ins) => {
    const dst = readOp0(cpu, ins, size);
    const res = ((dec ? dst - 1 : dst + 1) & mask) >>> 0;
    writeOp0(cpu, ins, size, res, true);
    setLazy(cpu.flags, dec ? LazyOp.Dec : LazyOp.Inc, size, dst, 1, res);
  };
}

function neg(size: number): Handler {
  const mask = sizeMask(size);
  return (cpu, ins) => {
    const src = readOp0(cpu, ins, size);
    const res = (-src & mask) >>> 0;
    writeOp0(cpu, ins, size, res, true);
    setLazy(cpu.flags, LazyOp.Neg, size, 0, src, res);
  };
}

function not(size: number): Handler {
  const mask = sizeMask(size);
  return (cpu, ins) => {
    const v = readOp0(cpu, ins, size);
    writeOp0(cpu, ins, size, (~v & mask) >>> 0, true);
  };
}

const OPS = ['Add', 'Or', 'Adc', 'Sbb', 'And', 'Sub', 'Xor', 'Cmp'] as const;

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  OPS.forEach((name, op) => {
    for (const size of [8, 16, 32] as const) {
      const h = binary(op, size);
      add(`${name}_rm${size}_r${size}`, h);
      add(`${name}_r${size}_rm${size}`, h);
      add(`${name}_rm${size}_imm${size}`, h);
      if (size !== 8) add(`${name}_rm${size}_imm8`, h);
    }
    add(`${name}_rm8_imm8_82`, binary(op, 8));
    add(`${name}_AL_imm8`, binary(op, 8));
    add(`${name}_AX_imm16`, binary(op, 16));
    add(`${name}_EAX_imm32`, binary(op, 32));
  });
  for (const size of [8, 16, 32] as const) {
    add(`Test_rm${size}_r${size}`, test(size));
    add(`Test_rm${size}_imm${size}`, test(size));
    add(`Test_rm${size}_imm${size}_F${size === 8 ? 6 : 7}r1`, test(size));
    add(`Inc_rm${size}`, incDec(false, size));
    add(`Dec_rm${size}`, incDec(true, size));
    add(`Neg_rm${size}`, neg(size));
    add(`Not_rm${size}`, not(size));
  }
  add('Test_AL_imm8', test(8));
  add('Test_AX_imm16', test(16));
  add('Test_EAX_imm32', test(32));
  add('Inc_r16', incDec(false, 16));
  add('Inc_r32', incDec(false, 32));
  add('Dec_r16', incDec(true, 16));
  add('Dec_r32', incDec(true, 32));
  return list.entries;
}

export const ALU_HANDLERS: readonly [number, Handler][] = entries();
