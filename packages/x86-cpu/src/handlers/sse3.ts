/**
 * SSE3 (SDM Vol. 1 §12.8, Vol. 2 for each instruction): ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD,
 * MOVSLDUP, MOVSHDUP, MOVDDUP and LDDQU. (FISTTP, the x87 member of SSE3, is in `x87.ts`; MONITOR and
 * MWAIT have their own CPUID bit.) The arithmetic is the SSE lanes' (`sse-core.ts`): each result
 * element is `first op second` with MXCSR rounding, flags and NaN rules, where the horizontal forms
 * pair neighbouring elements, lower element first. The packed arithmetic forms and MOVSLDUP/MOVSHDUP
 * need a 16-byte aligned m128 (exception types 2 and 4); MOVDDUP reads an m64 and LDDQU an m128
 * without alignment.
 */
import type { Handler } from '../cpu.js';
import { FOp, fpBegin } from '../sse/float.js';
import { A, B, R } from '../sse/lanes.js';
import { HandlerList } from './table.js';
import { enter, fpEnd, lane32, lane64, loadA, loadB, readMemB, storeR, xmm } from './sse-core.js';

/** Scratch for rearranging A and B into the pairs a horizontal operation adds. */
const T = new Uint32Array(8);

/**
 * HADDPS/HSUBPS: R = [A0 op A1, A2 op A3, B0 op B1, B2 op B3] (as A' op B' lane by lane with
 * A' = [A0, A2, B0, B2], B' = [A1, A3, B1, B3]).
 */
export function pairsPs(): void {
  T[0] = A.u32[0]!;
  T[1] = A.u32[2]!;
  T[2] = B.u32[0]!;
  T[3] = B.u32[2]!;
  T[4] = A.u32[1]!;
  T[5] = A.u32[3]!;
  T[6] = B.u32[1]!;
  T[7] = B.u32[3]!;
  for (let i = 0; i < 4; i++) {
    A.u32[i] = T[i]!;
    B.u32[i] = T[4 + i]!;
  }
}

/** HADDPD/HSUBPD: R = [A.q0 op A.q1, B.q0 op B.q1] (A' = [A.q0, B.q0], B' = [A.q1, B.q1]). */
export function pairsPd(): void {
  T[0] = A.u32[0]!;
  T[1] = A.u32[1]!;
  T[2] = B.u32[0]!;
  T[3] = B.u32[1]!;
  T[4] = A.u32[2]!;
  T[5] = A.u32[3]!;
  T[6] = B.u32[2]!;
  T[7] = B.u32[3]!;
  for (let i = 0; i < 4; i++) {
    A.u32[i] = T[i]!;
    B.u32[i] = T[4 + i]!;
  }
}

const Form = { AddSub: 0, HAdd: 1, HSub: 2 } as const;
type Form = (typeof Form)[keyof typeof Form];

/** ADDSUBPS/PD (even elements subtract, odd ones add), HADDPS/PD, HSUBPS/PD: xmm, xmm/m128. */
function horizontal(form: Form, double: boolean): Handler {
  const lanes = double ? 2 : 4;
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, 16, true);
    loadA(sse, d);
    if (form !== Form.AddSub) {
      if (double) pairsPd();
      else pairsPs();
    }
    fpBegin(sse.mxcsr);
    for (let i = 0; i < lanes; i++) {
      const op =
        form === Form.HAdd ? FOp.Add : form === Form.HSub ? FOp.Sub : (i & 1) === 0 ? FOp.Sub : FOp.Add;
      if (double) lane64(op, i);
      else lane32(op, i);
    }
    fpEnd(cpu, sse);
    storeR(sse, d);
  };
}

/** MOVSLDUP (`odd` false: elements 0, 0, 2, 2) and MOVSHDUP (1, 1, 3, 3): xmm, xmm/m128. */
function moveDup32(odd: boolean): Handler {
  const k = odd ? 1 : 0;
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadB(cpu, ins, sse, 16, true);
    R.u32[0] = B.u32[k]!;
    R.u32[1] = B.u32[k]!;
    R.u32[2] = B.u32[2 + k]!;
    R.u32[3] = B.u32[2 + k]!;
    storeR(sse, xmm(ins.op0Register));
  };
}

/** MOVDDUP xmm, xmm/m64: the low quadword in both halves. */
const movddup: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 8, false);
  R.u32[0] = B.u32[0]!;
  R.u32[1] = B.u32[1]!;
  R.u32[2] = B.u32[0]!;
  R.u32[3] = B.u32[1]!;
  storeR(sse, xmm(ins.op0Register));
};

/** LDDQU xmm, m128: an unaligned 16-byte load (MOVDQU without the cache-line split penalty). */
const lddqu: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  readMemB(cpu, ins, 16, false);
  for (let i = 0; i < 4; i++) R.u32[i] = B.u32[i]!;
  storeR(sse, xmm(ins.op0Register));
};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  add('Addsubps_xmm_xmmm128', horizontal(Form.AddSub, false));
  add('Addsubpd_xmm_xmmm128', horizontal(Form.AddSub, true));
  add('Haddps_xmm_xmmm128', horizontal(Form.HAdd, false));
  add('Haddpd_xmm_xmmm128', horizontal(Form.HAdd, true));
  add('Hsubps_xmm_xmmm128', horizontal(Form.HSub, false));
  add('Hsubpd_xmm_xmmm128', horizontal(Form.HSub, true));
  add('Movsldup_xmm_xmmm128', moveDup32(false));
  add('Movshdup_xmm_xmmm128', moveDup32(true));
  add('Movddup_xmm_xmmm64', movddup);
  add('Lddqu_xmm_m128', lddqu);
  return list.entries;
}

export const SSE3_HANDLERS: readonly [number, Handler][] = entries();
