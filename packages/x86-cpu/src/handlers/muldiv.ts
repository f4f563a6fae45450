import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, setArith, szp } from '../flags.js';
import { getReg, readOp0, readOp1, readOp2, setReg } from '../operands.js';
import { GPR_HI } from '../registers.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

/** Result halves of the last 32x32 multiply. */
let prodLo = 0;
let prodHi = 0;

/** Unsigned 32x32 -> 64 multiply into prodLo/prodHi. */
function mulU32(a: number, b: number): void {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const mid = a1 * b0 + a0 * b1; // < 2^33
  const lo = p00 + (mid % 65536) * 65536;
  prodLo = lo >>> 0;
  prodHi = (a1 * b1 + Math.floor(mid / 65536) + Math.floor(lo / 4294967296)) >>> 0;
}

/** Signed 32x32 -> 64 multiply into prodLo/prodHi. */
function mulS32(a: number, b: number): void {
  mulU32(a >>> 0, b >>> 0);
  let hi = prodHi;
  if ((a | 0) < 0) hi -= b >>> 0;
  if ((b | 0) < 0) hi -= a >>> 0;
  prodHi = hi >>> 0;
}

/** EAX and EDX of a 32-bit MUL/IMUL/DIV/IDIV: like every 32-bit write, they zero RAX/RDX 63:32. */
function setEdxEax(cpu: Cpu, eax: number, edx: number): void {
  const r = cpu.regs.r32;
  r[0] = eax;
  r[GPR_HI] = 0;
  r[2] = edx;
  r[2 + GPR_HI] = 0;
}

function mulFlags(cpu: Cpu, overflow: boolean, lo: number, size: number): void {
  setArith(cpu.flags, OSZAPC, szp(lo, size) | (overflow ? EFLAGS.OF | EFLAGS.CF : 0));
}

/** MUL r/m: AX = AL*src, DX:AX = AX*src, EDX:EAX = EAX*src. */
function mul(size: number): Handler {
  return (cpu, ins) => {
    const src = readOp0(cpu, ins, size);
    const r = cpu.regs;
    if (size === 8) {
      const p = r.r8[0]! * src;
      r.r16[0] = p;
      mulFlags(cpu, p > 0xff, p & 0xff, 8);
    } else if (size === 16) {
      const p = r.r16[0]! * src;
      r.r16[0] = p;
      r.r16[4] = p >>> 16;
      mulFlags(cpu, p > 0xffff, p & 0xffff, 16);
    } else {
      mulU32(r.u32[0]!, src);
      setEdxEax(cpu, prodLo, prodHi);
      mulFlags(cpu, prodHi !== 0, prodLo, 32);
    }
  };
}

/** IMUL r/m (one operand). */
function imul1(size: number): Handler {
  return (cpu, ins) => {
    const src = readOp0(cpu, ins, size);
    const r = cpu.regs;
    if (size === 8) {
      const p = ((r.r8[0]! << 24) >> 24) * ((src << 24) >> 24);
      r.r16[0] = p;
      mulFlags(cpu, p !== (p << 24) >> 24, p & 0xff, 8);
    } else if (size === 16) {
      const p = ((r.r16[0]! << 16) >> 16) * ((src << 16) >> 16);
      r.r16[0] = p;
      r.r16[4] = p >>> 16;
      mulFlags(cpu, p !== (p << 16) >> 16, p & 0xffff, 16);
    } else {
      mulS32(r.r32[0]!, src | 0);
      setEdxEax(cpu, prodLo, prodHi);
      mulFlags(cpu, prodHi !== ((prodLo | 0) < 0 ? 0xffffffff : 0), prodLo, 32);
    }
  };
}

/** IMUL r, r/m and IMUL r, r/m, imm. */
function imulN(size: number, three: boolean): Handler {
  return (cpu, ins) => {
    const a = readOp1(cpu, ins, size);
    const b = three ? readOp2(cpu, ins, size) : getReg(cpu, ins.op0Register, size);
    let lo: number;
    let overflow: boolean;
    if (size === 16) {
      const p = ((a << 16) >> 16) * ((b << 16) >> 16);
      lo = p & 0xffff;
      overflow = p !== (p << 16) >> 16;
    } else {
      mulS32(a | 0, b | 0);
      lo = prodLo;
      overflow = prodHi !== ((prodLo | 0) < 0 ? 0xffffffff : 0);
    }
    setReg(cpu, ins.op0Register, size, lo);
    mulFlags(cpu, overflow, lo, size);
  };
}

/** Quotient and remainder of the last 64/32 division. */
let quot = 0;
let rem = 0;

/** Unsigned (hi:lo) / d with hi < d (no overflow), in 16-bit digits so every step is exact. */
function divU64(hi: number, lo: number, d: number): void {
  let r = hi;
  const t1 = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(t1 / d);
  r = t1 - q1 * d;
  const t2 = r * 65536 + (lo & 0xffff);
  const q2 = Math.floor(t2 / d);
  rem = t2 - q2 * d;
  quot = (q1 * 65536 + q2) >>> 0;
}

function div(size: number): Handler {
  return (cpu, ins) => {
    const d = readOp0(cpu, ins, size);
    if (d === 0) raise(Vector.DE);
    const r = cpu.regs;
    if (size === 8) {
      const n = r.r16[0]!;
      const q = Math.floor(n / d);
      if (q > 0xff) raise(Vector.DE);
      r.r8[0] = q;
      r.r8[1] = n % d;
    } else if (size === 16) {
      const n = (r.r16[4]! * 65536 + r.r16[0]!) >>> 0;
      const q = Math.floor(n / d);
      if (q > 0xffff) raise(Vector.DE);
      r.r16[0] = q;
      r.r16[4] = n % d;
    } else {
      const hi = r.u32[2]!;
      if (hi >= d) raise(Vector.DE);
      divU64(hi, r.u32[0]!, d);
      setEdxEax(cpu, quot, rem);
    }
  };
}

function idiv(size: number): Handler {
  return (cpu, ins) => {
    const raw = readOp0(cpu, ins, size);
    if (raw === 0) raise(Vector.DE);
    const r = cpu.regs;
    if (size === 8) {
      const n = (r.r16[0]! << 16) >> 16;
      const d = (raw << 24) >> 24;
      const q = Math.trunc(n / d);
      if (q > 127 || q < -128) raise(Vector.DE);
      r.r8[0] = q;
      r.r8[1] = n - q * d;
    } else if (size === 16) {
      const n = (r.r16[4]! << 16) | r.r16[0]!;
      const d = (raw << 16) >> 16;
      const q = Math.trunc(n / d);
      if (q > 32767 || q < -32768) raise(Vector.DE);
      r.r16[0] = q;
      r.r16[4] = n - q * d;
    } else {
      let hi = r.u32[2]!;
      let lo = r.u32[0]!;
      const negN = (hi | 0) < 0;
      if (negN) {
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
      const d = raw | 0;
      const absD = Math.abs(d);
      if (hi >= absD) raise(Vector.DE);
      divU64(hi, lo, absD);
      const negQ = negN !== d < 0;
      if (negQ ? quot > 0x80000000 : quot > 0x7fffffff) raise(Vector.DE);
      setEdxEax(cpu, negQ ? -quot : quot, negN ? -rem : rem);
    }
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  for (const size of [8, 16, 32] as const) {
    add(`Mul_rm${size}`, mul(size));
    add(`Imul_rm${size}`, imul1(size));
    add(`Div_rm${size}`, div(size));
    add(`Idiv_rm${size}`, idiv(size));
  }
  for (const size of [16, 32] as const) {
    add(`Imul_r${size}_rm${size}`, imulN(size, false));
    add(`Imul_r${size}_rm${size}_imm${size}`, imulN(size, true));
    add(`Imul_r${size}_rm${size}_imm8`, imulN(size, true));
  }
  return list.entries;
}

export const MULDIV_HANDLERS: readonly [number, Handler][] = entries();
