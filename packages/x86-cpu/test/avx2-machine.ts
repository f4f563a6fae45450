/**
 * The harness of the AVX2 handler tests (`src/handlers/avx2*.test.ts`): the 64-bit machine of
 * `long-machine.ts` with `MAX_MODEL`, CR4.OSXSAVE and XCR0 = x87 | SSE | AVX, and a 64-bit IDT whose
 * exception handlers HLT, so a fault ends the run with the state it left. Code is placed at CODE64 and
 * run to its HLT as often as a property needs; registers are read and written as 32-bit words.
 */
import { assemble } from '@typevisor/x86-decoder';
import { MAX_MODEL } from '../src/cpu-model.js';
import { CR4_OSXSAVE, setXcr0 } from '../src/handlers/xsave.js';
import { YMM_HI_WORD } from '../src/sse/state.js';
import { CODE64, long64, PML4, Sel64 } from './long-machine.js';
import { runToHlt } from './machine.js';

const IDT64 = 0x3000;
const FAULT_STUB = 0x2f00;
/** Page-directory entries of the machine: PD[k] maps 2 MiB page k (0 and 1 present). */
const PD = PML4 + 0x2000;

export function avx2Machine() {
  const vectors: number[] = [];
  const m = long64('hlt', { model: MAX_MODEL, events: { delivered: (_k, v) => vectors.push(v) } });
  const cpu = m.cpu;
  cpu.ctrl.cr4 |= CR4_OSXSAVE;
  setXcr0(cpu, 7);
  // 64-bit interrupt gates for vectors 0..31, all to a HLT.
  for (let v = 0; v < 32; v++) {
    const at = IDT64 + v * 16;
    m.memory.write32(at, (Sel64.Code64 << 16) | (FAULT_STUB & 0xffff));
    m.memory.write32(at + 4, (FAULT_STUB & 0xffff0000) | 0x8e00);
    m.memory.write32(at + 8, 0);
    m.memory.write32(at + 12, 0);
  }
  cpu.ctrl.idtr.base = IDT64;
  cpu.ctrl.idtr.limit = 32 * 16 - 1;
  m.ram[FAULT_STUB] = 0xf4;
  const sse = cpu.fpu.sse;
  return {
    m,
    memory: m.memory,
    ram: m.ram,
    cpu,
    sse,
    vectors,
    /** Assembles `text` (64-bit) at CODE64, then HLT; runs it. Returns the first vector delivered. */
    exec(text: string): number | undefined {
      const code = assemble(`${text}\nhlt`, { bitness: 64, origin: CODE64 });
      m.ram.set(code, CODE64);
      cpu.blocks.flush();
      cpu.halted = false;
      cpu.regs.ip = CODE64;
      cpu.regs.r32[4] = 0x9000;
      cpu.regs.r32[4 + 16] = 0;
      vectors.length = 0;
      runToHlt(m);
      return vectors[0];
    },
    /** YMM register `r` as 8 words, low first. */
    ymm(r: number): number[] {
      const u = sse.u32;
      return [...u.slice(4 * r, 4 * r + 4), ...u.slice(YMM_HI_WORD + 4 * r, YMM_HI_WORD + 4 * r + 4)];
    },
    setYmm(r: number, w: readonly number[]): void {
      const u = sse.u32;
      for (let i = 0; i < 4; i++) {
        u[4 * r + i] = w[i]! >>> 0;
        u[YMM_HI_WORD + 4 * r + i] = w[4 + i]! >>> 0;
      }
    },
    /** Maps (or unmaps) the 2 MiB page at `k` * 2 MiB, identity, user RW. */
    map2m(k: number, present: boolean): void {
      m.memory.write32(PD + k * 8, present ? ((k << 21) | 0x87) >>> 0 : 0);
      m.memory.write32(PD + k * 8 + 4, 0);
      cpu.pager.invalidate(k * 0x200000);
      cpu.pager.flush();
    },
  };
}
export type Avx2Machine = ReturnType<typeof avx2Machine>;
