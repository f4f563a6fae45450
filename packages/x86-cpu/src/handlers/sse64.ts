import type { Handler } from '../cpu.js';
import { readOp1_64, setReg64, writeOp0_64 } from '../operands.js';
import {
  f32ToBits,
  fpBegin,
  in32,
  in64,
  int64Hi,
  int64ToFloat,
  isNaN32,
  isNaN64,
  toInt64,
} from '../sse/float.js';
import { A, B, R } from '../sse/lanes.js';
import { enter, fpEnd, loadA, loadB, storeR, xmm } from './sse-core.js';
import { HandlerList } from './table.js';

// ------------------------------------------------------------------ moves

/** MOVQ xmm, r/m64 (66 REX.W 0F 6E): the quadword into the low half, the high half zeroed. */
const movqToXmm: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const lo = readOp1_64(cpu, ins);
  const o = xmm(ins.op0Register) * 4;
  const x = sse.u32;
  x[o] = lo;
  x[o + 1] = cpu.hi;
  x[o + 2] = 0;
  x[o + 3] = 0;
};

/** MOVQ r/m64, xmm (66 REX.W 0F 7E). */
const movqFromXmm: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const o = xmm(ins.op1Register) * 4;
  writeOp0_64(cpu, ins, sse.u32[o]!, sse.u32[o + 1]!, false);
};

/** PEXTRQ r/m64, xmm, imm8 (66 REX.W 0F 3A 16): quadword imm8[0]. */
const pextrq: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const o = xmm(ins.op1Register) * 4 + (ins.immediate & 1) * 2;
  writeOp0_64(cpu, ins, sse.u32[o]!, sse.u32[o + 1]!, false);
};

/** PINSRQ xmm, r/m64, imm8 (66 REX.W 0F 3A 22): quadword imm8[0] replaced. */
const pinsrq: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const lo = readOp1_64(cpu, ins);
  const o = xmm(ins.op0Register) * 4 + (ins.immediate & 1) * 2;
  sse.u32[o] = lo;
  sse.u32[o + 1] = cpu.hi;
};

// ------------------------------------------------------------------ conversions

/** CVTSI2SS/CVTSI2SD xmm, r/m64: the low element becomes the rounded integer, the rest kept. */
function cvtsi2(double: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const lo = readOp1_64(cpu, ins);
    const hi = cpu.hi;
    const d = xmm(ins.op0Register);
    loadA(sse, d);
    for (let i = 0; i < 4; i++) R.u32[i] = A.u32[i]!;
    fpBegin(sse.mxcsr);
    const v = int64ToFloat(lo, hi, double);
    if (double) R.f64[0] = v;
    else R.u32[0] = f32ToBits(v);
    fpEnd(cpu, sse);
    storeR(sse, d);
  };
}

/** CVTSS2SI/CVTTSS2SI/CVTSD2SI/CVTTSD2SI r64, xmm/m32|m64 (`truncate`: the CVTT forms). */
function cvt2si64(double: boolean, truncate: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadB(cpu, ins, sse, double ? 8 : 4, false);
    fpBegin(sse.mxcsr);
    let x: number;
    if (double) x = isNaN64(B.u32[1]!, B.u32[0]!) ? Number.NaN : in64(B.u32[1]!, B.u32[0]!);
    else x = isNaN32(B.u32[0]!) ? Number.NaN : in32(B.u32[0]!);
    const lo = toInt64(x, truncate);
    const hi = int64Hi;
    fpEnd(cpu, sse);
    setReg64(cpu, ins.op0Register, lo, hi);
  };
}

// ------------------------------------------------------------------ XSAVE64 / XRSTOR64 / XSAVEOPT64

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  add('Movq_xmm_rm64', movqToXmm);
  add('Movq_rm64_xmm', movqFromXmm);
  add('Pextrq_rm64_xmm_imm8', pextrq);
  add('Pinsrq_xmm_rm64_imm8', pinsrq);
  add('Cvtsi2ss_xmm_rm64', cvtsi2(false));
  add('Cvtsi2sd_xmm_rm64', cvtsi2(true));
  add('Cvtss2si_r64_xmmm32', cvt2si64(false, false));
  add('Cvttss2si_r64_xmmm32', cvt2si64(false, true));
  add('Cvtsd2si_r64_xmmm64', cvt2si64(true, false));
  add('Cvttsd2si_r64_xmmm64', cvt2si64(true, true));
  return list.entries;
}

/** The 64-bit-mode SIMD forms above (registered through `SSE_HANDLERS`). */
export const SSE64_HANDLERS: readonly [number, Handler][] = entries();
