/**
 * IA-32e far transfers: far JMP/CALL/RET with 64-bit operands, IRETQ, call gates.
 */
import type { Handler } from '../cpu.js';
import { HandlerList } from './table.js';

function entries(): [number, Handler][] {
  const list = new HandlerList();
  return list.entries;
}

export const LONG_FAR_HANDLERS: readonly (readonly [number, Handler])[] = entries();
