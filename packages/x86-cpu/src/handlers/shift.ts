/**
 * Shifts and rotates: ROL, ROR, RCL, RCR, SHL/SAL, SHR, SAR, SHLD, SHRD (SDM Vol. 2B "RCL/RCR/ROL/ROR",
 * "SAL/SAR/SHL/SHR", "SHLD", "SHRD").
 *
 * The count is masked to 5 bits; a masked count of 0 changes nothing (flags included). Where the SDM
 * leaves OF undefined (count > 1) or CF undefined (SHL/SHR count >= width) this CPU gives the value the
 * last single-bit step would give, as Intel hardware does bit-serially (and as the 80286 vectors show).
 * AF is undefined for every shift: it is cleared.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { EFLAGS, getCF, setArith, sizeMask, szp } from '../flags.js';
import { getReg, getReg8, readOp0, setReg, writeOp0 } from '../operands.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;
const OC = EFLAGS.OF | EFLAGS.CF;

export const ShiftOp = { Rol: 0, Ror: 1, Rcl: 2, Rcr: 3, Shl: 4, Shr: 5, Sal: 6, Sar: 7 } as const;

/** Where the count comes from. */
const CountFrom = { One: 0, Cl: 1, Imm: 2 } as const;

function count(cpu: Cpu, ins: Instruction, from: number): number {
  if (from === CountFrom.One) return 1;
  if (from === CountFrom.Cl) return getReg8(cpu, 2 /* Register.CL */) & 31;
  return ins.immediate & 31;
}

/** Flags a shift produced, applied by the caller after the destination write succeeded. */
let outMask = 0;
let outValues = 0;
function setArithLater(_f: unknown, mask: number, values: number): void {
  outMask = mask;
  outValues = values;
}

/** Computes a shift/rotate of `dst` by `c` (1..31); the flags go to `outMask`/`outValues`. */
function shiftValue(cpu: Cpu, op: number, size: number, dst: number, c: number): number {
  const mask = sizeMask(size);
  const top = size - 1;
  const f = cpu.flags;
  let res: number;
  let cf: number;
  let of: number;
  switch (op) {
    case ShiftOp.Rol: {
      const r = c % size;
      res = r === 0 ? dst : (((dst << r) | (dst >>> (size - r))) & mask) >>> 0;
      cf = res & 1;
      of = ((res >>> top) & 1) ^ cf;
      setArithLater(f, OC, (of ? EFLAGS.OF : 0) | cf);
      return res;
    }
    case ShiftOp.Ror: {
      const r = c % size;
      res = r === 0 ? dst : (((dst >>> r) | (dst << (size - r))) & mask) >>> 0;
      cf = (res >>> top) & 1;
      of = cf ^ ((res >>> (top - 1)) & 1);
      setArithLater(f, OC, (of ? EFLAGS.OF : 0) | cf);
      return res;
    }
    case ShiftOp.Rcl: {
      const n = size === 32 ? c : c % (size + 1);
      cf = getCF(f);
      res = dst;
      for (let i = 0; i < n; i++) {
        const out = (res >>> top) & 1;
        res = (((res << 1) | cf) & mask) >>> 0;
        cf = out;
      }
      of = ((res >>> top) & 1) ^ cf;
      setArithLater(f, OC, (of ? EFLAGS.OF : 0) | cf);
      return res;
    }
    case ShiftOp.Rcr: {
      const n = size === 32 ? c : c % (size + 1);
      cf = getCF(f);
      res = dst;
      for (let i = 0; i < n; i++) {
        const out = res & 1;
        res = ((res >>> 1) | (cf << top)) >>> 0;
        cf = out;
      }
      of = ((res >>> top) & 1) ^ ((res >>> (top - 1)) & 1);
      setArithLater(f, OC, (of ? EFLAGS.OF : 0) | cf);
      return res;
    }
    case ShiftOp.Shl:
    case ShiftOp.Sal:
      if (c < size) {
        res = ((dst << c) & mask) >>> 0;
        cf = (dst >>> (size - c)) & 1;
      } else {
        res = 0;
        cf = c === size ? dst & 1 : 0;
      }
      of = ((res >>> top) & 1) ^ cf;
      break;
    case ShiftOp.Shr:
      if (c < size) {
        res = dst >>> c;
        cf = (dst >>> (c - 1)) & 1;
      } else {
        res = 0;
        cf = c === size ? (dst >>> top) & 1 : 0;
      }
      of = c === 1 ? (dst >>> top) & 1 : 0;
      break;
    default: {
      const sign = (dst >>> top) & 1;
      if (c < size) {
        const signed = size === 32 ? dst | 0 : size === 16 ? (dst << 16) >> 16 : (dst << 24) >> 24;
        res = ((signed >> c) & mask) >>> 0;
        cf = (signed >> (c - 1)) & 1;
      } else {
        res = sign ? mask : 0;
        cf = sign;
      }
      of = 0;
      break;
    }
  }
  setArithLater(f, OSZAPC, szp(res, size) | (of ? EFLAGS.OF : 0) | cf);
  return res;
}

/**
 * A masked count of 0 changes neither the value nor the flags, but a 32-bit register destination is
 * still written: in 64-bit mode its upper half becomes 0, as for any 32-bit result (hardware does:
 * FEX-Emu's hardware-checked unittests, e.g. ASM/TwoByte/0F_AD_2.asm `shrd r11d, r15d, cl` with
 * CL = 0; QEMU stores the result unconditionally too).
 */
function keepZeroExtended(cpu: Cpu, ins: Instruction, size: number, dst: number): void {
  if (size === 32 && ins.op0Kind === OpKind.Register) setReg(cpu, ins.op0Register, 32, dst);
}

function shift(op: number, size: number, from: number): Handler {
  return (cpu, ins) => {
    const c = count(cpu, ins, from);
    const dst = readOp0(cpu, ins, size);
    if (c === 0) {
      keepZeroExtended(cpu, ins, size, dst);
      return;
    }
    const res = shiftValue(cpu, op, size, dst, c);
    writeOp0(cpu, ins, size, res, true);
    setArith(cpu.flags, outMask, outValues);
  };
}

/** SHLD/SHRD r/m, r, imm8/CL. */
function doubleShift(left: boolean, size: number, fromCl: boolean): Handler {
  const mask = sizeMask(size);
  const top = size - 1;
  return (cpu, ins) => {
    const c = fromCl ? getReg8(cpu, 2) & 31 : ins.immediate & 31;
    const dst = readOp0(cpu, ins, size);
    if (c === 0) {
      keepZeroExtended(cpu, ins, size, dst);
      return;
    }
    const src = getReg(cpu, ins.op1Register, size);
    let res: number;
    let cf: number;
    if (size === 16 && c > 16) {
      // Count above the width (16-bit form): the result is undefined; use the 48-bit dst:src:dst chain.
      const cc = c - 16;
      const hi = left ? src : dst;
      const lo = left ? dst : src;
      res = left
        ? (((hi << cc) | (lo >>> (16 - cc))) & mask) >>> 0
        : (((lo >>> cc) | (hi << (16 - cc))) & mask) >>> 0;
      cf = left ? (hi >>> (16 - cc)) & 1 : (lo >>> (cc - 1)) & 1;
    } else if (left) {
      res = c === size ? src : (((dst << c) | (src >>> (size - c))) & mask) >>> 0;
      cf = (dst >>> (size - c)) & 1;
    } else {
      res = c === size ? src : (((dst >>> c) | (src << (size - c))) & mask) >>> 0;
      cf = (dst >>> (c - 1)) & 1;
    }
    const of = ((res ^ dst) >>> top) & 1;
    writeOp0(cpu, ins, size, res, true);
    setArith(cpu.flags, OSZAPC, szp(res, size) | (of ? EFLAGS.OF : 0) | cf);
  };
}

const NAMES = ['Rol', 'Ror', 'Rcl', 'Rcr', 'Shl', 'Shr', 'Sal', 'Sar'] as const;

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  NAMES.forEach((name, op) => {
    for (const size of [8, 16, 32] as const) {
      add(`${name}_rm${size}_1`, shift(op, size, CountFrom.One));
      add(`${name}_rm${size}_CL`, shift(op, size, CountFrom.Cl));
      add(`${name}_rm${size}_imm8`, shift(op, size, CountFrom.Imm));
    }
  });
  for (const size of [16, 32] as const) {
    add(`Shld_rm${size}_r${size}_imm8`, doubleShift(true, size, false));
    add(`Shld_rm${size}_r${size}_CL`, doubleShift(true, size, true));
    add(`Shrd_rm${size}_r${size}_imm8`, doubleShift(false, size, false));
    add(`Shrd_rm${size}_r${size}_CL`, doubleShift(false, size, true));
  }
  return list.entries;
}

export const SHIFT_HANDLERS: readonly [number, Handler][] = entries();
