/**
 * 64-bit forms of the data-movement, stack, near-branch and string instructions.
 */
import type { Handler } from '../cpu.js';
import { HandlerList } from './table.js';

function entries(): [number, Handler][] {
  const list = new HandlerList();
  return list.entries;
}

export const LONG_DATA_HANDLERS: readonly (readonly [number, Handler])[] = entries();
