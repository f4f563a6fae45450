/**
 * The harness of the SIMD handler tests: `source` (then HLT) in flat 32-bit protected mode with
 * CR4.OSFXSR | OSXMMEXCPT, recording every vector the CPU delivers.
 */
import type { CpuModel } from '../src/cpu-model.js';
import { CR0, CR4 } from '../src/index.js';
import { flat32, runToHlt } from './machine.js';

export function sseMachine(source: string, model: CpuModel) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR | CR4.OSXMMEXCPT);
  return { m, vectors, sse: m.cpu.fpu.sse };
}
export type SseMachine = ReturnType<typeof sseMachine>;

/** Runs `source` to its HLT after `setup`; budget in instructions. */
export function sseRun(source: string, model: CpuModel, setup: (x: SseMachine) => void, budget?: number) {
  const x = sseMachine(source, model);
  setup(x);
  runToHlt(x.m, budget);
  return x;
}

/** The vector the first instruction raises (undefined when it completes). */
export function firstVector(source: string, model: CpuModel, setup: (x: SseMachine) => void = () => {}) {
  const x = sseMachine(source, model);
  setup(x);
  x.m.run(1);
  return x.vectors[0];
}
