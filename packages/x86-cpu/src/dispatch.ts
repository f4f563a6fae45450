/**
 * The dispatch table: one handler per decoder `Code`, built from the per-family handler lists. A Code
 * with no handler decodes to #UD when executed (see `block-cache.ts`).
 */
import { CODE_COUNT } from '@typevisor/x86-decoder';
import type { Handler } from './cpu.js';
import { CpuError } from './errors.js';
import { ADX_MOVBE_HANDLERS } from './handlers/adx-movbe.js';
import { AES_HANDLERS } from './handlers/aes.js';
import { AVX2_HANDLERS } from './handlers/avx2.js';
import { ALU_HANDLERS } from './handlers/alu.js';
import { AVX_INT_HANDLERS } from './handlers/avx-int.js';
import { AVX_HANDLERS } from './handlers/avx.js';
import { BCD_HANDLERS } from './handlers/bcd.js';
import { BIT_HANDLERS } from './handlers/bit.js';
import { BMI_HANDLERS } from './handlers/bmi.js';
import { BRANCH_HANDLERS } from './handlers/branch.js';
import { DATA_HANDLERS } from './handlers/data.js';
import { FMA_HANDLERS } from './handlers/fma.js';
import { INVPCID_HANDLERS } from './handlers/invpcid.js';
import { IO_HANDLERS } from './handlers/io.js';
import { LONG_ALU_HANDLERS } from './handlers/long-alu.js';
import { LONG_DATA_HANDLERS } from './handlers/long-data.js';
import { LONG_FAR_HANDLERS } from './handlers/long-far.js';
import { LONG_SYSTEM_HANDLERS } from './handlers/long-system.js';
import { MMX_HANDLERS } from './handlers/mmx.js';
import { MULDIV_HANDLERS } from './handlers/muldiv.js';
import { RANDOM_HANDLERS } from './handlers/random.js';
import { SHIFT_HANDLERS } from './handlers/shift.js';
import { POPCNT_HANDLERS } from './handlers/popcnt.js';
import { SSE_HANDLERS } from './handlers/sse.js';
import { SSE41_HANDLERS } from './handlers/sse41.js';
import { SSE42_HANDLERS } from './handlers/sse42.js';
import { STACK_HANDLERS } from './handlers/stack.js';
import { STRING_HANDLERS } from './handlers/string.js';
import { SYSTEM_HANDLERS } from './handlers/system.js';
import { VMX_HANDLERS, VMX_OVERRIDES } from './handlers/vmx.js';
import { X87_HANDLERS } from './handlers/x87.js';
import { XSAVE_HANDLERS } from './handlers/xsave.js';

/** Every family's handler list, in one place. */
export const HANDLER_FAMILIES: readonly (readonly (readonly [number, Handler])[])[] = [
  ALU_HANDLERS,
  SHIFT_HANDLERS,
  MULDIV_HANDLERS,
  BCD_HANDLERS,
  BIT_HANDLERS,
  DATA_HANDLERS,
  STACK_HANDLERS,
  BRANCH_HANDLERS,
  STRING_HANDLERS,
  IO_HANDLERS,
  SYSTEM_HANDLERS,
  X87_HANDLERS,
  MMX_HANDLERS,
  SSE_HANDLERS,
  SSE41_HANDLERS,
  SSE42_HANDLERS,
  FMA_HANDLERS,
  AVX_INT_HANDLERS,
  AVX_HANDLERS,
  POPCNT_HANDLERS,
  AES_HANDLERS,
  AVX2_HANDLERS,
  VMX_HANDLERS,
  XSAVE_HANDLERS,
  LONG_ALU_HANDLERS,
  LONG_DATA_HANDLERS,
  LONG_FAR_HANDLERS,
  LONG_SYSTEM_HANDLERS,
  BMI_HANDLERS,
  ADX_MOVBE_HANDLERS,
  RANDOM_HANDLERS,
  INVPCID_HANDLERS,
];

function build(): (Handler | undefined)[] {
  const table: (Handler | undefined)[] = new Array(CODE_COUNT).fill(undefined);
  for (const family of HANDLER_FAMILIES) {
    for (const [code, handler] of family) {
      if (table[code] !== undefined) throw new CpuError('DuplicateHandler', `Code ${code} has two handlers`);
      table[code] = handler;
    }
  }
  for (const [code, wrap] of VMX_OVERRIDES) {
    const original = table[code];
    if (original !== undefined) table[code] = wrap(original);
  }
  return table;
}

/** Handler per Code (undefined: not implemented, #UD). */
export const HANDLERS: readonly (Handler | undefined)[] = build();
