/**
 * ADX (ADCX, ADOX; CPUID.07H:EBX.ADX[bit 19]) and MOVBE (CPUID.01H:ECX.MOVBE[bit 22]), SDM Vol. 2.
 *
 * ADCX adds with CF as the carry in and out and ADOX with OF; neither touches another flag, so two
 * carry chains can interleave. MOVBE moves between a register and memory with the bytes reversed (no
 * register-to-register form); a 16-bit load keeps bits 31:16 of the register, a 32-bit one
 * zero-extends in 64-bit mode. None of them is restricted by the processor mode.
 */
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, getCF, getOF, setArith } from '../flags.js';
import {
  getReg16,
  getReg32,
  getReg64,
  readOp1,
  readOp1_64,
  setReg16,
  setReg32,
  setReg64,
  writeOp0,
  writeOp0_64,
} from '../operands.js';
import { HandlerList } from './table.js';

/** The carry flag of the chain: CF for ADCX, OF for ADOX. */
function carryIn(cpu: Cpu, overflow: boolean): number {
  return overflow ? getOF(cpu.flags) : getCF(cpu.flags);
}
function carryOut(cpu: Cpu, overflow: boolean, c: boolean): void {
  if (overflow) setArith(cpu.flags, EFLAGS.OF, c ? EFLAGS.OF : 0);
  else setArith(cpu.flags, EFLAGS.CF, c ? EFLAGS.CF : 0);
}

/** ADCX/ADOX r32, r/m32: unsigned add with carry in and out through CF/OF alone. */
function adx32(overflow: boolean): Handler {
  return (cpu, ins) => {
    const a = getReg32(cpu, ins.op0Register);
    const s = a + readOp1(cpu, ins, 32) + carryIn(cpu, overflow);
    setReg32(cpu, ins.op0Register, s >>> 0);
    carryOut(cpu, overflow, s > 0xffffffff);
  };
}
function adx64(overflow: boolean): Handler {
  return (cpu, ins) => {
    const aLo = getReg64(cpu, ins.op0Register);
    const aHi = cpu.hi;
    const bLo = readOp1_64(cpu, ins);
    const bHi = cpu.hi;
    const lo = aLo + bLo + carryIn(cpu, overflow);
    const hi = aHi + bHi + (lo > 0xffffffff ? 1 : 0);
    setReg64(cpu, ins.op0Register, lo >>> 0, hi >>> 0);
    carryOut(cpu, overflow, hi > 0xffffffff);
  };
}

/** The four bytes of `v` reversed. */
export function bswap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24)) >>> 0;
}
function bswap16(v: number): number {
  return ((v >>> 8) & 0xff) | ((v & 0xff) << 8);
}

function movbeLoad(size: number): Handler {
  return (cpu, ins) => {
    if (size === 64) {
      const lo = readOp1_64(cpu, ins);
      setReg64(cpu, ins.op0Register, bswap32(cpu.hi), bswap32(lo));
    } else if (size === 32) setReg32(cpu, ins.op0Register, bswap32(readOp1(cpu, ins, 32)));
    else setReg16(cpu, ins.op0Register, bswap16(readOp1(cpu, ins, 16)));
  };
}
function movbeStore(size: number): Handler {
  return (cpu, ins) => {
    if (size === 64) {
      const lo = getReg64(cpu, ins.op1Register);
      writeOp0_64(cpu, ins, bswap32(cpu.hi), bswap32(lo), false);
    } else if (size === 32) writeOp0(cpu, ins, 32, bswap32(getReg32(cpu, ins.op1Register)), false);
    else writeOp0(cpu, ins, 16, bswap16(getReg16(cpu, ins.op1Register)), false);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Adcx_r32_rm32', adx32(false));
  list.add('Adcx_r64_rm64', adx64(false));
  list.add('Adox_r32_rm32', adx32(true));
  list.add('Adox_r64_rm64', adx64(true));
  for (const size of [16, 32, 64]) {
    list.add(`Movbe_r${size}_m${size}`, movbeLoad(size));
    list.add(`Movbe_m${size}_r${size}`, movbeStore(size));
  }
  return list.entries;
}

/** Handlers of ADCX, ADOX and MOVBE. */
export const ADX_MOVBE_HANDLERS: readonly (readonly [number, Handler])[] = entries();
