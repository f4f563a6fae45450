/**
 * IA-32e far transfers with 64-bit operands: JMP/CALL m16:64, RETF with REX.W, IRETQ (SDM Vol. 2).
 * The 16/32-bit forms stay in `branch.ts`, which sends them to the IA-32e paths of `far.ts` when
 * EFER.LMA is set.
 */
import { OpKind } from '@typevisor/x86-decoder';
import type { Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { farReturnLong, farTransferLong, iretLong } from '../far.js';
import { read16, read64 } from '../memory-access.js';
import { joinSigned, locate } from '../operands.js';
import { HandlerList } from './table.js';

/** JMP/CALL m16:64 (REX.W FF /5, FF /3): an 8-byte offset, then the selector. */
function farIndirect64(call: boolean): Handler {
  return (cpu, ins) => {
    if (ins.op0Kind !== OpKind.Memory) raise(Vector.UD);
    locate(cpu, ins);
    const lo = read64(cpu, cpu.eaSeg, cpu.eaOff);
    const offset = joinSigned(lo, cpu.hi);
    const at = cpu.eaOff + 8;
    const selector = read16(cpu, cpu.eaSeg, ins.addressSize === 64 ? at : at >>> 0);
    farTransferLong(cpu, selector, offset, 64, call);
    cpu.stop = true;
  };
}

/** RETF with REX.W: 8-byte RIP and CS slots. */
function retFar64(withImm: boolean): Handler {
  return (cpu, ins) => {
    farReturnLong(cpu, 64, withImm ? ins.immediate & 0xffff : 0);
    cpu.stop = true;
  };
}

const iretq: Handler = (cpu) => {
  iretLong(cpu, 64);
  cpu.nmiBlocked = false;
  cpu.stop = true;
};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Jmp_m1664', farIndirect64(false));
  list.add('Call_m1664', farIndirect64(true));
  list.add('Retfq', retFar64(false));
  list.add('Retfq_imm16', retFar64(true));
  list.add('Iretq', iretq);
  return list.entries;
}

export const LONG_FAR_HANDLERS: readonly (readonly [number, Handler])[] = entries();
