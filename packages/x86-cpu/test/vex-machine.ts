/**
 * The harness of the 32-bit VEX handler tests (`src/handlers/avx.test.ts`, `avx-int.test.ts`,
 * `fma.test.ts`): a flat 32-bit machine with `MAX_MODEL`, AVX enabled (CR4.OSXSAVE, XCR0 = 7) and an
 * IDT whose handlers HLT, so a fault ends the run (its vector lands in `vectors`). Code is placed in
 * 64-byte slots and run to its HLT; YMM registers are read and written as 8 words, low first.
 */
import { assemble } from '@typevisor/x86-decoder';
import { MAX_MODEL } from '../src/cpu-model.js';
import { CR4_OSXSAVE, setXcr0 } from '../src/handlers/xsave.js';
import { CR0, CR4 } from '../src/index.js';
import { YMM_HI_WORD } from '../src/sse/state.js';
import { CODE, flat32, runToHlt, Sel, writeGate } from './machine.js';

const IDT = 0x2000;
const FAULT_STUB = CODE + 0xf00;
/** Where the tests' code goes, 64 bytes per slot. */
const SLOTS = 0x10000;
/** CR4 of the machine: OSFXSR, OSXMMEXCPT and OSXSAVE. */
export const VEX_CR4 = CR4.OSFXSR | CR4.OSXMMEXCPT | CR4_OSXSAVE;

export interface Slot {
  readonly at: number;
  /** Address of the imm8 (the instruction's last byte). */
  readonly immAt: number;
}

export function vexMachine(cr4 = VEX_CR4) {
  const vectors: number[] = [];
  const m = flat32('hlt', { model: MAX_MODEL, events: { delivered: (_k, v) => vectors.push(v) } });
  const cpu = m.cpu;
  cpu.setControlRegisters(CR0.PE | CR0.ET, 0, cr4);
  setXcr0(cpu, 7);
  for (let v = 0; v < 32; v++) writeGate(m.memory, IDT + v * 8, Sel.Code32, FAULT_STUB, 0xe, 0);
  cpu.ctrl.idtr.base = IDT;
  cpu.ctrl.idtr.limit = 32 * 8 - 1;
  m.ram[FAULT_STUB] = 0xf4;
  const sse = cpu.fpu.sse;
  let next = SLOTS;
  /** Assembles `text` (32-bit) into the next slot, followed by a HLT. */
  const place = (text: string): Slot => {
    const at = next;
    const code = assemble(text, { bitness: 32, origin: at });
    m.ram.set(code, at);
    m.ram[at + code.length] = 0xf4;
    next += 0x40;
    return { at, immAt: at + code.length - 1 };
  };
  /** Runs the slot to its HLT (or a fault's handler); imm8 patched in first when given. */
  const exec = (slot: Slot, imm?: number): void => {
    if (imm !== undefined) m.ram[slot.immAt] = imm;
    cpu.blocks.flush();
    cpu.halted = false;
    cpu.regs.ip = slot.at;
    cpu.regs.r32[4] = 0x9000;
    runToHlt(m);
  };
  /** YMM register `r`'s 8 words. */
  const ymm = (r: number): number[] => {
    const u = sse.u32;
    return [...u.slice(4 * r, 4 * r + 4), ...u.slice(YMM_HI_WORD + 4 * r, YMM_HI_WORD + 4 * r + 4)];
  };
  const setYmm = (r: number, w: readonly number[]): void => {
    const u = sse.u32;
    for (let i = 0; i < 4; i++) {
      u[4 * r + i] = w[i]! >>> 0;
      u[YMM_HI_WORD + 4 * r + i] = w[4 + i]! >>> 0;
    }
  };
  return { m, cpu, sse, vectors, place, exec, ymm, setYmm };
}
export type VexMachine = ReturnType<typeof vexMachine>;
