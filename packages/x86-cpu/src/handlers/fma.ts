/**
 * FMA3 (VFMADD/VFMSUB/VFNMADD/VFNMSUB/VFMADDSUB/VFMSUBADD 132/213/231, PS/PD/SS/SD, VEX.128/256) and
 * F16C (VCVTPH2PS, VCVTPS2PH): SDM Vol. 1 §14.5, Vol. 2 instruction pages.
 *
 * Operands: op0 = destination and first source, op1 = VEX.vvvv (second source), op2 = r/m (third).
 * The digits name which source is the multiplicand, the multiplier and the addend (132: op0*op2 + op1,
 * 213: op1*op0 + op2, 231: op1*op2 + op0); the order decides which NaN wins (Table 14-17). Scalar
 * forms keep bits 127:32 (SS) or 127:64 (SD) of the first source and zero bits 255:128; VEX.128
 * packed forms zero bits 255:128. The result is computed into `Y` and committed after `fpEnd`, so an
 * unmasked exception (#XM) or a fault leaves the destination alone.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { probeWrite } from '../memory-access.js';
import { locate } from '../operands.js';
import { commitY, enterVex, isL256, M, readVexMem, readYmm, vreg, writeVexMem, Y } from './avx-core.js';
import { fma32, fma64, fmaBegin, halfToSingle, resultHi, setRounding, singleToHalf } from './fma-arith.js';
import { fpEnd } from './sse-core.js';
import { HandlerList } from './table.js';

/** The three sources, 8 words each (register 256 bits, or the memory operand). */
const S0 = new Uint32Array(8);
const S1 = new Uint32Array(8);
const S2 = new Uint32Array(8);
const SRC = [S0, S1, S2] as const;

function gather(cpu: Cpu, ins: Instruction, memBytes: number): void {
  const sse = cpu.fpu.sse;
  readYmm(sse, vreg(ins.op0Register), S0);
  readYmm(sse, vreg(ins.op1Register), S1);
  if (ins.op2Kind === OpKind.Register) readYmm(sse, vreg(ins.op2Register), S2);
  else {
    readVexMem(cpu, ins, memBytes);
    S2.set(M.u32);
  }
}

/** Operation: which of product and addend are negated, per even/odd element. */
const Op = { Add: 0, Sub: 1, NAdd: 2, NSub: 3, AddSub: 4, SubAdd: 5 } as const;
type Op = (typeof Op)[keyof typeof Op];

/** Whether the addend of element `i` is negated. */
function negAddend(op: Op, i: number): boolean {
  switch (op) {
    case Op.Sub:
    case Op.NSub:
      return true;
    case Op.AddSub:
      return (i & 1) === 0;
    case Op.SubAdd:
      return (i & 1) === 1;
    default:
      return false;
  }
}

/** Source indexes (multiplicand, multiplier, addend) of the 132/213/231 orders. */
const ORDERS: Record<string, readonly [number, number, number]> = {
  '132': [0, 2, 1],
  '213': [1, 0, 2],
  '231': [1, 2, 0],
};

type Shape = 'ps' | 'pd' | 'ss' | 'sd';

function fmaHandler(op: Op, order: readonly [number, number, number], shape: Shape): Handler {
  const X = SRC[order[0]]!;
  const Yv = SRC[order[1]]!;
  const Z = SRC[order[2]]!;
  const negP = op === Op.NAdd || op === Op.NSub;
  const scalar = shape === 'ss' || shape === 'sd';
  const single = shape === 'ps' || shape === 'ss';
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = !scalar && isL256(ins);
    gather(cpu, ins, scalar ? (single ? 4 : 8) : l256 ? 32 : 16);
    fmaBegin(sse.mxcsr);
    const y = Y.u32;
    if (scalar) {
      y.set(S0);
      if (single) y[0] = fma32(X[0]!, Yv[0]!, Z[0]!, negP, negAddend(op, 0));
      else {
        y[0] = fma64(X[0]!, X[1]!, Yv[0]!, Yv[1]!, Z[0]!, Z[1]!, negP, negAddend(op, 0));
        y[1] = resultHi;
      }
    } else if (single) {
      const n = l256 ? 8 : 4;
      for (let i = 0; i < n; i++) y[i] = fma32(X[i]!, Yv[i]!, Z[i]!, negP, negAddend(op, i));
    } else {
      const n = l256 ? 4 : 2;
      for (let q = 0; q < n; q++) {
        const w = 2 * q;
        y[w] = fma64(X[w]!, X[w + 1]!, Yv[w]!, Yv[w + 1]!, Z[w]!, Z[w + 1]!, negP, negAddend(op, q));
        y[w + 1] = resultHi;
      }
    }
    fpEnd(cpu, sse);
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** VCVTPH2PS xmm/ymm, xmm/m64/m128. */
const cvtph2ps: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const l256 = isL256(ins);
  const n = l256 ? 8 : 4;
  if (ins.op1Kind === OpKind.Register) readYmm(sse, vreg(ins.op1Register), S1);
  else {
    readVexMem(cpu, ins, n * 2);
    S1.set(M.u32);
  }
  fmaBegin(sse.mxcsr);
  const y = Y.u32;
  for (let i = 0; i < n; i++) {
    const w = S1[i >>> 1]!;
    y[i] = halfToSingle(i & 1 ? w >>> 16 : w & 0xffff);
  }
  fpEnd(cpu, sse);
  commitY(sse, vreg(ins.op0Register), l256);
};

/** VCVTPS2PH xmm/m64/m128, xmm/ymm, imm8: imm8[2] selects MXCSR.RC, else imm8[1:0] rounds. */
const cvtps2ph: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const l256 = isL256(ins);
  const n = l256 ? 8 : 4;
  readYmm(sse, vreg(ins.op1Register), S1);
  if (ins.op0Kind !== OpKind.Register) {
    // A fault on the store comes before any MXCSR update.
    locate(cpu, ins);
    probeWrite(cpu, cpu.eaSeg, cpu.eaOff, n * 2);
  }
  fmaBegin(sse.mxcsr);
  const imm = ins.immediate & 0xff;
  if ((imm & 4) === 0) setRounding(imm & 3);
  const y = Y.u32;
  y.fill(0);
  for (let i = 0; i < n; i += 2) y[i >>> 1] = (singleToHalf(S1[i]!) | (singleToHalf(S1[i + 1]!) << 16)) >>> 0;
  fpEnd(cpu, sse);
  if (ins.op0Kind === OpKind.Register) commitY(sse, vreg(ins.op0Register), false);
  else writeVexMem(cpu, ins, y, n * 2);
};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const ops: [string, Op][] = [
    ['fmadd', Op.Add],
    ['fmsub', Op.Sub],
    ['fnmadd', Op.NAdd],
    ['fnmsub', Op.NSub],
    ['fmaddsub', Op.AddSub],
    ['fmsubadd', Op.SubAdd],
  ];
  for (const [name, op] of ops) {
    for (const order of ['132', '213', '231']) {
      const ord = ORDERS[order]!;
      const base = `VEX_V${name}${order}`;
      list.add(`${base}ps_xmm_xmm_xmmm128`, fmaHandler(op, ord, 'ps'));
      list.add(`${base}ps_ymm_ymm_ymmm256`, fmaHandler(op, ord, 'ps'));
      list.add(`${base}pd_xmm_xmm_xmmm128`, fmaHandler(op, ord, 'pd'));
      list.add(`${base}pd_ymm_ymm_ymmm256`, fmaHandler(op, ord, 'pd'));
      if (op === Op.AddSub || op === Op.SubAdd) continue;
      list.add(`${base}ss_xmm_xmm_xmmm32`, fmaHandler(op, ord, 'ss'));
      list.add(`${base}sd_xmm_xmm_xmmm64`, fmaHandler(op, ord, 'sd'));
    }
  }
  list.add('VEX_Vcvtph2ps_xmm_xmmm64', cvtph2ps);
  list.add('VEX_Vcvtph2ps_ymm_xmmm128', cvtph2ps);
  list.add('VEX_Vcvtps2ph_xmmm64_xmm_imm8', cvtps2ph);
  list.add('VEX_Vcvtps2ph_xmmm128_ymm_imm8', cvtps2ph);
  return list.entries;
}

/** FMA3 and F16C handlers by decoder Code. */
export const FMA_HANDLERS: readonly [number, Handler][] = entries();
