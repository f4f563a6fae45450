/**
 * RDRAND and RDSEED r16/r32/r64 (SDM Vol. 2; CPUID.01H:ECX.RDRAND[bit 30], CPUID.07H:EBX.RDSEED
 * [bit 18]): a random value into the register, CF = 1 (always successful here), OF, SF, ZF, AF and PF
 * cleared. The values come from `crypto.getRandomValues` through a preallocated pool refilled when
 * used up, so an instruction allocates nothing. Both are allowed in every mode and at every CPL.
 *
 * VMX: "RDRAND exiting" / "RDSEED exiting" (secondary controls 11 and 16) are not offered to the VMX
 * port: `VmxSensitive` (vmx-port.ts) has no such operation yet, so these never cause a VM exit.
 */
import type { Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { setReg16, setReg32, setReg64 } from '../operands.js';
import { HandlerList } from './table.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

const POOL = new Uint32Array(256);
let next = POOL.length;

/** The next random 32-bit value (as int32) from the pool. */
export function random32(): number {
  if (next === POOL.length) {
    globalThis.crypto.getRandomValues(POOL);
    next = 0;
  }
  return POOL[next++]! | 0;
}

function rdrand(size: number): Handler {
  return (cpu, ins) => {
    const reg = ins.op0Register;
    if (size === 64) {
      const lo = random32();
      setReg64(cpu, reg, lo, random32());
    } else if (size === 32) setReg32(cpu, reg, random32());
    else setReg16(cpu, reg, random32() & 0xffff);
    setArith(cpu.flags, OSZAPC, EFLAGS.CF);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  for (const size of [16, 32, 64]) {
    list.add(`Rdrand_r${size}`, rdrand(size));
    list.add(`Rdseed_r${size}`, rdrand(size));
  }
  return list.entries;
}

/** Handlers of RDRAND and RDSEED. */
export const RANDOM_HANDLERS: readonly (readonly [number, Handler])[] = entries();
