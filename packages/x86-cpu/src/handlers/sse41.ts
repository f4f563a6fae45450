/**
 * SSE4.1 (SDM Vol. 1 §12.10, Vol. 2 for each instruction), the 16/32-bit forms: blends (PBLENDW,
 * BLENDPS/PD by imm8; PBLENDVB, BLENDVPS/PD by the sign bits of the implicit XMM0), PMINS/PMAXS/
 * PMINU/PMAXU B/W/D, PMULLD, PMULDQ, PCMPEQQ, PACKUSDW, PMOVSX/PMOVZX, PEXTRB/W/D, EXTRACTPS,
 * PINSRB/D, INSERTPS, PTEST, PHMINPOSUW, ROUNDPS/PD/SS/SD, DPPS/DPPD, MPSADBW and MOVNTDQA.
 *
 * Entry rules are SSE's (`sse-core.ts`). Memory alignment follows the exception types of SDM Vol. 2A
 * §2.4: the packed m128 forms need 16-byte alignment (types 1, 2 and 4: MOVNTDQA, ROUNDPS/PD,
 * DPPS/DPPD and the integer forms); PMOVSX/ZX, INSERTPS, PEXTR*, PINSR* (type 5) and ROUNDSS/SD
 * (type 3) read or write smaller operands without alignment. DPPS/DPPD round after every multiply
 * and add in the SDM pseudo-code's order with the SSE lanes' MXCSR rules; the products of masked-out
 * elements are not computed (no flags from them), and an unmasked exception leaves the destination
 * alone.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { read8, read16, read32, write8, write16, write32 } from '../memory-access.js';
import { getReg, locate, setReg } from '../operands.js';
import { FOp, fpBegin } from '../sse/float.js';
import { A, B, R } from '../sse/lanes.js';
import { RoundImm, round32, round64, roundMode } from '../sse/round.js';
import { PMOV_FORMS, pmov, SSE41_OPS, sse41Control } from '../sse/sse41.js';
import { MXCSR, type SseState } from '../sse/state.js';
import { enter, fpEnd, intXmm, lane32, lane64, loadA, loadB, readMemB, storeR, xmm } from './sse-core.js';
import { HandlerList } from './table.js';

/** DPPS's products, before the additions reuse the lanes. */
const T = new Uint32Array(4);

const ARITH_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/** Source operand 1 into B: an XMM register, or `bytes` (2, 4, 8) of unaligned memory. */
function loadSmall(cpu: Cpu, ins: Instruction, sse: SseState, bytes: number): void {
  if (ins.op1Kind === OpKind.Register || bytes !== 2) {
    loadB(cpu, ins, sse, bytes, false);
    return;
  }
  locate(cpu, ins);
  B.u32[0] = read16(cpu, cpu.eaSeg, cpu.eaOff);
  B.u32[1] = 0;
  B.u32[2] = 0;
  B.u32[3] = 0;
}

/** An integer operation that reads the imm8 (PBLENDW, MPSADBW). */
function withImm(h: Handler): Handler {
  return (cpu, ins, ops, at) => {
    sse41Control.imm = ins.immediate & 0xff;
    h(cpu, ins, ops, at);
  };
}

const pblendvbOp = intXmm(SSE41_OPS.Pblendvb!);

/** PBLENDVB: XMM0 is copied before the operation (it may also be an operand). */
const pblendvb: Handler = (cpu, ins, ops, at) => {
  const x0 = enter(cpu).u8;
  const m = sse41Control.xmm0;
  for (let i = 0; i < 16; i++) m[i] = x0[i]!;
  pblendvbOp(cpu, ins, ops, at);
};

const Blend = { PsImm: 0, PdImm: 1, PsXmm0: 2, PdXmm0: 3 } as const;
type Blend = (typeof Blend)[keyof typeof Blend];

/** BLENDPS/BLENDPD (imm8 selects elements of the source) and BLENDVPS/BLENDVPD (XMM0's sign bits). */
function blend(kind: Blend): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, 16, true);
    loadA(sse, d);
    const imm = ins.immediate;
    const x0 = sse.u32;
    for (let i = 0; i < 4; i++) {
      let pick: number;
      if (kind === Blend.PsImm) pick = (imm >>> i) & 1;
      else if (kind === Blend.PdImm) pick = (imm >>> (i >>> 1)) & 1;
      else if (kind === Blend.PsXmm0) pick = x0[i]! >>> 31;
      else pick = x0[i | 1]! >>> 31;
      R.u32[i] = pick ? B.u32[i]! : A.u32[i]!;
    }
    storeR(sse, d);
  };
}

/** PMOVSX/PMOVZX xmm, xmm/mN: the low 16/(to/from) elements extended. */
function pmovx(from: number, to: number, signed: boolean): Handler {
  const bytes = (16 / to) * from;
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadSmall(cpu, ins, sse, bytes);
    pmov(from, to, signed);
    storeR(sse, xmm(ins.op0Register));
  };
}

/** MOVNTDQA xmm, m128: an aligned 16-byte load (the streaming hint has no effect here). */
const movntdqa: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  readMemB(cpu, ins, 16, true);
  for (let i = 0; i < 4; i++) R.u32[i] = B.u32[i]!;
  storeR(sse, xmm(ins.op0Register));
};

/** PTEST: ZF = (dest AND src) = 0, CF = (src AND NOT dest) = 0; AF, OF, PF, SF cleared. */
const ptest: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  loadB(cpu, ins, sse, 16, true);
  loadA(sse, xmm(ins.op0Register));
  let and = 0;
  let andn = 0;
  for (let i = 0; i < 4; i++) {
    and |= A.u32[i]! & B.u32[i]!;
    andn |= ~A.u32[i]! & B.u32[i]!;
  }
  setArith(cpu.flags, ARITH_MASK, (and === 0 ? EFLAGS.ZF : 0) | (andn === 0 ? EFLAGS.CF : 0));
};

// ------------------------------------------------------------------ extract and insert

/**
 * The destination of (V)PEXTRB/W/D and (V)EXTRACTPS: element `v` (`bytes` 1, 2 or 4) zero-extended into
 * the op0 register, or stored to the memory operand.
 */
export function storeElement(cpu: Cpu, ins: Instruction, bytes: number, v: number): void {
  if (ins.op0Kind === OpKind.Register) {
    setReg(cpu, ins.op0Register, 32, v);
    return;
  }
  locate(cpu, ins);
  if (bytes === 1) write8(cpu, cpu.eaSeg, cpu.eaOff, v);
  else if (bytes === 2) write16(cpu, cpu.eaSeg, cpu.eaOff, v);
  else write32(cpu, cpu.eaSeg, cpu.eaOff, v);
}

/** PEXTRB/PEXTRW/PEXTRD/EXTRACTPS r32/m, xmm, imm8: element imm8 mod count, zero-extended in a register. */
function extract(bytes: number): Handler {
  const count = 16 / bytes;
  return (cpu, ins) => {
    const sse = enter(cpu);
    const i = xmm(ins.op1Register) * count + (ins.immediate & (count - 1));
    storeElement(cpu, ins, bytes, bytes === 1 ? sse.u8[i]! : bytes === 2 ? sse.u16[i]! : sse.u32[i]!);
  };
}

/** PINSRB/PINSRD xmm, r32/m, imm8: element imm8 mod count replaced by the low byte/dword. */
function insert(bytes: number): Handler {
  const count = 16 / bytes;
  return (cpu, ins) => {
    const sse = enter(cpu);
    let v: number;
    if (ins.op1Kind === OpKind.Register) v = getReg(cpu, ins.op1Register, 32);
    else {
      locate(cpu, ins);
      v = bytes === 1 ? read8(cpu, cpu.eaSeg, cpu.eaOff) : read32(cpu, cpu.eaSeg, cpu.eaOff);
    }
    const i = xmm(ins.op0Register) * count + (ins.immediate & (count - 1));
    if (bytes === 1) sse.u8[i] = v & 0xff;
    else sse.u32[i] = v;
  };
}

/**
 * INSERTPS xmm, xmm/m32, imm8: element imm8[7:6] of a register source (or the m32) into element
 * imm8[5:4] of the destination, then the elements set in imm8[3:0] zeroed.
 */
const insertps: Handler = (cpu, ins) => {
  const sse = enter(cpu);
  const d = xmm(ins.op0Register);
  const imm = ins.immediate & 0xff;
  let v: number;
  if (ins.op1Kind === OpKind.Register) v = sse.u32[xmm(ins.op1Register) * 4 + (imm >>> 6)]!;
  else {
    locate(cpu, ins);
    v = read32(cpu, cpu.eaSeg, cpu.eaOff);
  }
  loadA(sse, d);
  for (let i = 0; i < 4; i++) R.u32[i] = A.u32[i]!;
  R.u32[(imm >>> 4) & 3] = v;
  for (let i = 0; i < 4; i++) if ((imm >>> i) & 1) R.u32[i] = 0;
  storeR(sse, d);
};

// ------------------------------------------------------------------ rounding

/** ROUNDPS/ROUNDPD (all elements of an aligned m128 or register), ROUNDSS/ROUNDSD (the low one). */
function round(double: boolean, scalar: boolean): Handler {
  const bytes = scalar ? (double ? 8 : 4) : 16;
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, bytes, !scalar);
    loadA(sse, d);
    const imm = ins.immediate;
    const mode = roundMode(imm, sse.mxcsr);
    const noPe = (imm & RoundImm.SUPPRESS_PE) !== 0;
    const daz = (sse.mxcsr & MXCSR.DAZ) !== 0;
    fpBegin(sse.mxcsr);
    for (let i = 0; i < 4; i++) R.u32[i] = A.u32[i]!;
    if (double) {
      const lanes = scalar ? 1 : 2;
      for (let q = 0; q < lanes; q++)
        round64(B.u32[2 * q + 1]!, B.u32[2 * q]!, mode, noPe, daz, R.u32, 2 * q);
    } else {
      const lanes = scalar ? 1 : 4;
      for (let i = 0; i < lanes; i++) R.u32[i] = round32(B.u32[i]!, mode, noPe, daz);
    }
    fpEnd(cpu, sse);
    storeR(sse, d);
  };
}

// ------------------------------------------------------------------ dot products

/**
 * DPPS xmm, xmm/m128, imm8 (SDM "DPPS" pseudo-code): products of the elements set in imm8[7:4]
 * (+0.0 for the others), summed as (p0 + p1) + (p2 + p3), each step rounded; the sum goes to the
 * elements set in imm8[3:0], +0.0 to the others.
 *
 * On the lanes A, B into R (DPPS, and VDPPS per 128-bit lane); MXCSR flags accumulate.
 */
export function dppsLane(imm: number): void {
  for (let i = 0; i < 4; i++) {
    if ((imm >>> (4 + i)) & 1) lane32(FOp.Mul, i);
    else R.u32[i] = 0;
  }
  for (let i = 0; i < 4; i++) T[i] = R.u32[i]!;
  A.u32[0] = T[0]!;
  B.u32[0] = T[1]!;
  A.u32[1] = T[2]!;
  B.u32[1] = T[3]!;
  lane32(FOp.Add, 0);
  lane32(FOp.Add, 1);
  A.u32[0] = R.u32[0]!;
  B.u32[0] = R.u32[1]!;
  lane32(FOp.Add, 0);
  const sum = R.u32[0]!;
  for (let i = 0; i < 4; i++) R.u32[i] = (imm >>> i) & 1 ? sum : 0;
}

/** DPPD on the lanes A, B into R (`dppd` below, VDPPD). */
export function dppdLane(imm: number): void {
  for (let q = 0; q < 2; q++) {
    if ((imm >>> (4 + q)) & 1) lane64(FOp.Mul, q);
    else {
      R.u32[2 * q] = 0;
      R.u32[2 * q + 1] = 0;
    }
  }
  A.u32[0] = R.u32[0]!;
  A.u32[1] = R.u32[1]!;
  B.u32[0] = R.u32[2]!;
  B.u32[1] = R.u32[3]!;
  lane64(FOp.Add, 0);
  const lo = R.u32[0]!;
  const hi = R.u32[1]!;
  for (let q = 0; q < 2; q++) {
    const on = (imm >>> q) & 1;
    R.u32[2 * q] = on ? lo : 0;
    R.u32[2 * q + 1] = on ? hi : 0;
  }
}

/** DPPS/DPPD xmm, xmm/m128, imm8. */
function dp(double: boolean): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    const d = xmm(ins.op0Register);
    loadB(cpu, ins, sse, 16, true);
    loadA(sse, d);
    fpBegin(sse.mxcsr);
    if (double) dppdLane(ins.immediate & 0xff);
    else dppsLane(ins.immediate & 0xff);
    fpEnd(cpu, sse);
    storeR(sse, d);
  };
}

/**
 * The SSE4.1 integer operations of `SSE41_OPS` that work per 128-bit lane (their VEX.256 forms in
 * `avx-int.ts` apply them to each half); PHMINPOSUW, 128-bit only, is not among them.
 */
export const SSE41_LANE_OPS: readonly string[] = [
  'Pminsb',
  'Pmaxsb',
  'Pminuw',
  'Pmaxuw',
  'Pminsd',
  'Pmaxsd',
  'Pminud',
  'Pmaxud',
  'Pmulld',
  'Pmuldq',
  'Pcmpeqq',
  'Packusdw',
];

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  for (const name of [...SSE41_LANE_OPS, 'Phminposuw']) {
    add(`${name}_xmm_xmmm128`, intXmm(SSE41_OPS[name]!));
  }
  add('Pblendw_xmm_xmmm128_imm8', withImm(intXmm(SSE41_OPS.Pblendw!)));
  add('Mpsadbw_xmm_xmmm128_imm8', withImm(intXmm(SSE41_OPS.Mpsadbw!)));
  add('Pblendvb_xmm_xmmm128', pblendvb);
  add('Blendps_xmm_xmmm128_imm8', blend(Blend.PsImm));
  add('Blendpd_xmm_xmmm128_imm8', blend(Blend.PdImm));
  add('Blendvps_xmm_xmmm128', blend(Blend.PsXmm0));
  add('Blendvpd_xmm_xmmm128', blend(Blend.PdXmm0));
  for (const [name, f] of Object.entries(PMOV_FORMS)) {
    add(`${name}_xmm_xmmm${(16 / f.to) * f.from * 8}`, pmovx(f.from, f.to, f.signed));
  }
  add('Movntdqa_xmm_m128', movntdqa);
  add('Ptest_xmm_xmmm128', ptest);
  add('Pextrb_r32m8_xmm_imm8', extract(1));
  add('Pextrw_r32m16_xmm_imm8', extract(2));
  add('Pextrd_rm32_xmm_imm8', extract(4));
  add('Extractps_rm32_xmm_imm8', extract(4));
  add('Pinsrb_xmm_r32m8_imm8', insert(1));
  add('Pinsrd_xmm_rm32_imm8', insert(4));
  // REX.W forms: a 64-bit register destination is zero-extended; the register source's low byte.
  add('Pextrb_r64m8_xmm_imm8', extract(1));
  add('Pextrw_r64m16_xmm_imm8', extract(2));
  add('Extractps_r64m32_xmm_imm8', extract(4));
  add('Pinsrb_xmm_r64m8_imm8', insert(1));
  add('Insertps_xmm_xmmm32_imm8', insertps);
  add('Roundps_xmm_xmmm128_imm8', round(false, false));
  add('Roundpd_xmm_xmmm128_imm8', round(true, false));
  add('Roundss_xmm_xmmm32_imm8', round(false, true));
  add('Roundsd_xmm_xmmm64_imm8', round(true, true));
  add('Dpps_xmm_xmmm128_imm8', dp(false));
  add('Dppd_xmm_xmmm128_imm8', dp(true));
  return list.entries;
}

export const SSE41_HANDLERS: readonly [number, Handler][] = entries();
