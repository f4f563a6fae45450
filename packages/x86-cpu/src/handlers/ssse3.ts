/**
 * SSSE3 (Supplemental SSE3): PSHUFB, PHADDW/D/SW, PHSUBW/D/SW, PMADDUBSW, PMULHRSW, PSIGNB/W/D,
 * PABSB/W/D and PALIGNR, each on XMM (xmm, xmm/m128: the m128 must be 16-byte aligned, exception
 * type 4) and on MMX registers (mm, mm/m64: the MMX rules, as the SSE additions on MMX registers).
 * The operations are in `../sse/ssse3.ts`.
 */
import type { Handler } from '../cpu.js';
import { palignr, SSSE3_OPS } from '../sse/ssse3.js';
import { intMm, intXmm } from './sse-core.js';
import { HandlerList } from './table.js';

/** PALIGNR: the imm8 byte count goes to the operation before it runs. */
function withShift(h: Handler): Handler {
  return (cpu, ins, ops, at) => {
    palignr.shift = ins.immediate & 0xff;
    h(cpu, ins, ops, at);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  for (const [name, op] of Object.entries(SSSE3_OPS)) {
    if (name === 'Palignr') {
      list.add('Palignr_xmm_xmmm128_imm8', withShift(intXmm(op)));
      list.add('Palignr_mm_mmm64_imm8', withShift(intMm(op)));
      continue;
    }
    list.add(`${name}_xmm_xmmm128`, intXmm(op));
    list.add(`${name}_mm_mmm64`, intMm(op));
  }
  return list.entries;
}

export const SSSE3_HANDLERS: readonly [number, Handler][] = entries();
