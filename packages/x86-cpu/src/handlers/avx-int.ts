/**
 * AVX/AVX2 packed-integer instructions that work per 128-bit lane (SDM Vol. 2, each instruction's
 * VEX.128 and VEX.256 forms): PADD/PSUB (wrapping and saturating), PAND/PANDN/POR/PXOR, PCMPEQ/PCMPGT,
 * PMIN/PMAX, PMULLW/PMULLD/PMULHW/PMULHUW/PMULHRSW/PMULUDQ/PMULDQ, PMADDWD/PMADDUBSW, PSADBW,
 * MPSADBW, PAVG, PABS, PSIGN, PHADD/PHSUB, PACK, PUNPCK, PSHUFB/PSHUFD/PSHUFHW/PSHUFLW, PALIGNR,
 * PBLENDW, PBLENDVB and the shifts (by an xmm/m128 count, by imm8, PSLLDQ/PSRLDQ).
 *
 * Each is its SSE operation (`../sse/integer.ts`, `ssse3.ts`, `sse41.ts`) run on each 128-bit lane:
 * A = the lane of the VEX.vvvv source, B = the lane of the r/m source (a register, or memory read
 * once, without alignment checks), the result staged in `Y` and committed at the end, so a fault
 * leaves the destination alone; VEX.128 zeroes bits 255:128 of the destination. What differs:
 * - the shift count of PSLL/PSRL/PSRA by register is the low 64 bits of an xmm/m128 in both forms;
 * - the shifts by imm8 are `VPSLLW ymm1 (VEX.vvvv, destination), ymm2 (r/m), imm8`;
 * - PSHUFD/PSHUFHW/PSHUFLW and PABS have one source, the r/m operand (B);
 * - VMPSADBW ymm takes imm8[2:0] for the low lane and imm8[5:3] for the high lane;
 * - VPBLENDVB's mask is the register in imm8[7:4] (op3), lane by lane.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { byteShift, INT_OPS, type IntOp, shuffle } from '../sse/integer.js';
import { B } from '../sse/lanes.js';
import { SSE41_OPS, sse41Control } from '../sse/sse41.js';
import { palignr, SSSE3_OPS } from '../sse/ssse3.js';
import type { SseState } from '../sse/state.js';
import {
  enterVex,
  isL256,
  laneWord,
  loadLaneA,
  loadLaneB,
  commitY,
  readVexMem,
  stageLane,
  vreg,
} from './avx-core.js';
import { SSE41_LANE_OPS } from './sse41.js';
import { pcmpgtqOp } from './sse42.js';
import { HandlerList } from './table.js';

/** How a lane's operation gets its imm8 (the handler sets it before each lane). */
const Imm = { None: 0, Palignr: 1, Pblendw: 2, Mpsadbw: 3 } as const;
type Imm = (typeof Imm)[keyof typeof Imm];

/** Sets the per-lane control of the operation from the instruction's imm8. */
function setImm(kind: Imm, imm: number, half: number): void {
  if (kind === Imm.Palignr) palignr.shift = imm;
  else if (kind === Imm.Pblendw) sse41Control.imm = imm;
  else if (kind === Imm.Mpsadbw) sse41Control.imm = half === 0 ? imm & 7 : (imm >>> 3) & 7;
}

/** Reads the r/m source when it is memory: 16 bytes for VEX.128, 32 for VEX.256 (no alignment check). */
function readSource(cpu: Cpu, ins: Instruction, kind: OpKind, bytes: number): void {
  if (kind !== OpKind.Register) readVexMem(cpu, ins, bytes);
}

/** VPBLENDVB's mask: lane `half` of register `r`, as bytes, into PBLENDVB's XMM0 copy. */
function loadMask(sse: SseState, r: number, half: number): void {
  const m = sse41Control.xmm0;
  const o = laneWord(r, half) * 4;
  const x = sse.u8;
  for (let i = 0; i < 16; i++) m[i] = x[o + i]!;
}

/**
 * `V<op> dst, src1 (vvvv), src2 (r/m)[, imm8]`: `op` on each lane of src1 (A) and src2 (B). With
 * `blendv`, the lane of the register in imm8[7:4] is the PBLENDVB mask.
 */
function vex3(op: IntOp, imm: Imm = Imm.None, blendv = false): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = isL256(ins);
    readSource(cpu, ins, ins.op2Kind, l256 ? 32 : 16);
    const a = vreg(ins.op1Register);
    const lanes = l256 ? 2 : 1;
    const ib = ins.immediate & 0xff;
    for (let half = 0; half < lanes; half++) {
      loadLaneA(sse, a, half);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, half);
      setImm(imm, ib, half);
      if (blendv) loadMask(sse, vreg(ins.op3Register), half);
      op(16);
      stageLane(half);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/**
 * `VPSLL/VPSRL/VPSRA dst, src (vvvv), count (xmm/m128)`: the count is the low 64 bits of the xmm or
 * m128 operand, the same for both lanes of a VEX.256 form.
 */
function vexShiftReg(op: IntOp): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = isL256(ins);
    readSource(cpu, ins, ins.op2Kind, 16);
    const a = vreg(ins.op1Register);
    const lanes = l256 ? 2 : 1;
    for (let half = 0; half < lanes; half++) {
      loadLaneA(sse, a, half);
      loadLaneB(sse, ins.op2Kind, ins.op2Register, 0);
      op(16);
      stageLane(half);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** `VPSLL/VPSRL/VPSRA dst (vvvv), src (r/m register), imm8`: the count is imm8. */
function vexShiftImm(op: IntOp): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = isL256(ins);
    const s = vreg(ins.op1Register);
    const count = ins.immediate & 0xff;
    const lanes = l256 ? 2 : 1;
    for (let half = 0; half < lanes; half++) {
      loadLaneA(sse, s, half);
      B.u32[0] = count;
      B.u32[1] = 0;
      op(16);
      stageLane(half);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** `VPSLLDQ/VPSRLDQ dst (vvvv), src (r/m register), imm8`: a byte shift of each lane (> 15 clears it). */
function vexByteShift(left: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = isL256(ins);
    const s = vreg(ins.op1Register);
    const count = Math.min(ins.immediate & 0xff, 16);
    const lanes = l256 ? 2 : 1;
    for (let half = 0; half < lanes; half++) {
      loadLaneA(sse, s, half);
      byteShift(count, left);
      stageLane(half);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** `VPSHUFD/VPSHUFHW/VPSHUFLW dst, src (r/m), imm8` and `VPABS* dst, src (r/m)`: one source, in B. */
function vexUnary(op: IntOp | null, kind: 'd' | 'lw' | 'hw' = 'd'): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l256 = isL256(ins);
    readSource(cpu, ins, ins.op1Kind, l256 ? 32 : 16);
    const imm = ins.immediate & 0xff;
    const lanes = l256 ? 2 : 1;
    for (let half = 0; half < lanes; half++) {
      loadLaneB(sse, ins.op1Kind, ins.op1Register, half);
      if (op === null) shuffle(kind, imm);
      else op(16);
      stageLane(half);
    }
    commitY(sse, vreg(ins.op0Register), l256);
  };
}

/** PSLL/PSRL/PSRA W/D/Q: a count operand (xmm/m128 or imm8) instead of a second vector. */
const SHIFT_NAMES: ReadonlySet<string> = new Set([
  'Psllw',
  'Pslld',
  'Psllq',
  'Psrlw',
  'Psrld',
  'Psrlq',
  'Psraw',
  'Psrad',
]);

/** The three-operand forms whose operation needs nothing but A and B, by mnemonic prefix. */
const PLAIN_OPS: readonly (readonly [string, IntOp])[] = [
  ...Object.entries(INT_OPS).filter(([name]) => !SHIFT_NAMES.has(name)),
  ...Object.entries(SSSE3_OPS).filter(([name]) => !name.startsWith('Pabs') && name !== 'Palignr'),
  ...SSE41_LANE_OPS.map((name) => [name, SSE41_OPS[name]!] as const),
  ['Pcmpgtq', pcmpgtqOp],
];

/** `Paddb` -> `VEX_Vpaddb` (the decoder's Code name stem of the VEX form). */
const vexName = (name: string): string => `VEX_V${name.toLowerCase()}`;

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const both = (stem: string, xmm: string, ymm: string, h: Handler): void => {
    list.add(`${stem}_${xmm}`, h);
    list.add(`${stem}_${ymm}`, h);
  };
  for (const [name, op] of PLAIN_OPS) both(vexName(name), 'xmm_xmm_xmmm128', 'ymm_ymm_ymmm256', vex3(op));
  for (const name of SHIFT_NAMES) {
    const op = INT_OPS[name]!;
    both(vexName(name), 'xmm_xmm_xmmm128', 'ymm_ymm_xmmm128', vexShiftReg(op));
    if (HandlerList.has(`${vexName(name)}_xmm_xmm_imm8`))
      both(vexName(name), 'xmm_xmm_imm8', 'ymm_ymm_imm8', vexShiftImm(op));
  }
  both('VEX_Vpslldq', 'xmm_xmm_imm8', 'ymm_ymm_imm8', vexByteShift(true));
  both('VEX_Vpsrldq', 'xmm_xmm_imm8', 'ymm_ymm_imm8', vexByteShift(false));
  both('VEX_Vpshufd', 'xmm_xmmm128_imm8', 'ymm_ymmm256_imm8', vexUnary(null, 'd'));
  both('VEX_Vpshufhw', 'xmm_xmmm128_imm8', 'ymm_ymmm256_imm8', vexUnary(null, 'hw'));
  both('VEX_Vpshuflw', 'xmm_xmmm128_imm8', 'ymm_ymmm256_imm8', vexUnary(null, 'lw'));
  for (const name of ['Pabsb', 'Pabsw', 'Pabsd'])
    both(vexName(name), 'xmm_xmmm128', 'ymm_ymmm256', vexUnary(SSSE3_OPS[name]!));
  const withImm = 'xmm_xmm_xmmm128_imm8';
  const withImm256 = 'ymm_ymm_ymmm256_imm8';
  both('VEX_Vpalignr', withImm, withImm256, vex3(SSSE3_OPS.Palignr!, Imm.Palignr));
  both('VEX_Vpblendw', withImm, withImm256, vex3(SSE41_OPS.Pblendw!, Imm.Pblendw));
  both('VEX_Vmpsadbw', withImm, withImm256, vex3(SSE41_OPS.Mpsadbw!, Imm.Mpsadbw));
  both(
    'VEX_Vpblendvb',
    'xmm_xmm_xmmm128_xmm',
    'ymm_ymm_ymmm256_ymm',
    vex3(SSE41_OPS.Pblendvb!, Imm.None, true),
  );
  return list.entries;
}

export const AVX_INT_HANDLERS: readonly [number, Handler][] = entries();
