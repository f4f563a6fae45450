/**
 * IA-32e system instructions: SYSCALL/SYSRET, SWAPGS, RDTSCP, MOV CR/DR with 64-bit registers, descriptor tables.
 */
import type { Handler } from '../cpu.js';
import { HandlerList } from './table.js';

function entries(): [number, Handler][] {
  const list = new HandlerList();
  return list.entries;
}

export const LONG_SYSTEM_HANDLERS: readonly (readonly [number, Handler])[] = entries();
