/**
 * POPCNT r16, r/m16 and r32, r/m32 (SDM Vol. 2B "POPCNT"; CPUID.01H:ECX.POPCNT[bit 23]): the number
 * of set bits of the source; ZF is set for a zero source, CF, OF, SF, AF and PF are cleared.
 */
import type { Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { readOp1, setReg } from '../operands.js';
import { HandlerList } from './table.js';

const ARITH_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/** Set bits of a 32-bit value (SWAR). */
export function popcount32(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  v = (v + (v >>> 4)) & 0x0f0f0f0f;
  return Math.imul(v, 0x01010101) >>> 24;
}

function popcnt(size: number): Handler {
  return (cpu, ins) => {
    const v = readOp1(cpu, ins, size);
    setReg(cpu, ins.op0Register, size, popcount32(v));
    setArith(cpu.flags, ARITH_MASK, v === 0 ? EFLAGS.ZF : 0);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Popcnt_r16_rm16', popcnt(16));
  list.add('Popcnt_r32_rm32', popcnt(32));
  return list.entries;
}

export const POPCNT_HANDLERS: readonly [number, Handler][] = entries();
