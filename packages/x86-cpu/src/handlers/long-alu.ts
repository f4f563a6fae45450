/**
 * 64-bit forms of the ALU, shift, rotate, multiply/divide and bit instructions (REX.W).
 */
import type { Handler } from '../cpu.js';
import { HandlerList } from './table.js';

function entries(): [number, Handler][] {
  const list = new HandlerList();
  return list.entries;
}

export const LONG_ALU_HANDLERS: readonly (readonly [number, Handler])[] = entries();
