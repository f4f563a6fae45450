/**
 * Property-test runner on the 64-bit machine of `long-machine.ts`: one instruction sequence, run many
 * times with different registers, flags and memory, reusing the machine until a run faults (a fault
 * without an IDT ends in a shutdown, so the next run gets a new machine).
 */
import { expect } from 'vitest';
import { CpuExit, type CpuModel, EFLAGS } from '../src/index.js';
import { CODE64, long64, STACK64, setReg64 } from './long-machine.js';
import type { Machine } from './machine.js';

/** GPR numbers of `reg64`/`setReg64` and the runner's `regs`. */
export const RAX = 0;
export const RCX = 1;
export const RDX = 2;
export const RBX = 3;
export const RBP = 5;
export const RDI = 7;
/** The six status flags. */
export const STATUS = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

export interface LongRun {
  /** Exception vector and error code if the instruction faulted. */
  vector?: number;
  error?: number;
  cpu: Machine['cpu'];
  m: Machine;
}

/** Writes the 64-bit `v` (taken modulo 2^64) at `a`. */
export function writeQ(m: Machine, a: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  m.memory.write32(a, Number(u & 0xffff_ffffn));
  m.memory.write32(a + 4, Number(u >> 32n));
}

/**
 * Runs `source` then HLT in 64-bit mode (on `model`, else long64's default) with RSP = STACK64,
 * RFLAGS = `flags`, the GPRs `regs` and the quadwords `mem` set; a run that does not fault must end
 * at the HLT.
 */
export function longRunner(source: string, model?: CpuModel) {
  let m: Machine | undefined;
  const vectors: [number, number][] = [];
  return (regs: [number, bigint][], flags = 0, mem: [number, bigint][] = []): LongRun => {
    if (!m) {
      const events = { delivered: (_k: unknown, v: number, e: number) => vectors.push([v, e]) };
      m = long64(`${source}\nhlt`, model ? { model, events } : { events });
    }
    vectors.length = 0;
    const { cpu } = m;
    cpu.halted = false;
    cpu.regs.ip = CODE64;
    setReg64(cpu, 4, BigInt(STACK64));
    cpu.eflags = EFLAGS.FIXED1 | flags;
    for (const [n, v] of regs) setReg64(cpu, n, v);
    for (const [a, v] of mem) writeQ(m, a, v);
    const exit = m.run(10);
    const out: LongRun = { cpu, m };
    if (vectors.length > 0) {
      out.vector = vectors[0]![0];
      out.error = vectors[0]![1];
      m = undefined;
    } else expect(exit).toBe(CpuExit.Hlt);
    return out;
  };
}
