/**
 * The SIMD forms that exist only in 64-bit mode (REX.W): MOVQ between XMM/MMX registers and r/m64
 * (the MMX ones are in `mmx.ts`), CVTSI2SS/CVTSI2SD from r/m64, CVT(T)SS2SI/CVT(T)SD2SI to r64,
 * PEXTRQ/PINSRQ, and XSAVE64/XRSTOR64/XSAVEOPT64. The REX.W forms whose result is the
 * 32-bit one zero-extended (PMOVMSKB r64, PEXTRW r64 ...) reuse the 32-bit handlers in their files.
 *
 * A 64-bit integer travels as two unsigned halves (`cpu.hi` for the high one); no BigInt. The
 * integer-to-float conversions round the exact 64-bit integer once under MXCSR.RC (`int64ToFloat`),
 * the float-to-integer ones give the integer indefinite 8000_0000_0000_0000H with IE on NaN or
 * overflow (`toInt64`), as the 32-bit forms do with 8000_0000H.
 */
import type { Instruction } from '@typevisor/x86-decoder';
import { CR0 } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { linearAddress, probeWrite, read8, write8 } from '../memory-access.js';
import { locate, readOp1_64, setReg64, writeOp0_64 } from '../operands.js';
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
import { MXCSR_WRITABLE, XMM_COUNT } from '../sse/state.js';
import { FXSAVE_MXCSR, FXSAVE_MXCSR_MASK, FXSAVE_XMM0, fxrstor, fxsave, high32 } from '../x87/index.js';
import { enter, fpEnd, loadA, loadB, storeR, xmm } from './sse-core.js';
import { HandlerList } from './table.js';
import { CR4_OSXSAVE, XFeature, XsaveArea, xcr0Of } from './xsave.js';

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

/** Scratch XSAVE area. */
const area = new Uint8Array(XsaveArea.SIZE);

/** The x87 initial configuration as a legacy region: FCW 037FH, all else 0 (SDM Vol. 1 §13.6). */
const X87_INIT_IMAGE = new Uint8Array(512);
X87_INIT_IMAGE[0] = 0x7f;
X87_INIT_IMAGE[1] = 0x03;

/** Bytes of XMM state in the legacy region in 64-bit mode: XMM0-XMM15. */
const XMM_BYTES_64 = XMM_COUNT * 16;

function get32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** XSAVE's entry checks (as `xsave.ts`): #UD without CR4.OSXSAVE, #NM with CR0.TS, 64-byte alignment. */
function enterXsave64(cpu: Cpu, ins: Instruction): void {
  if ((cpu.ctrl.cr4 & CR4_OSXSAVE) === 0) raise(Vector.UD);
  if (cpu.ctrl.cr0 & CR0.TS) raise(Vector.NM);
  locate(cpu, ins);
  if (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & 63) raise(Vector.GP, 0);
}

/** XSAVE64 and XSAVEOPT64 (saving everything is a valid XSAVEOPT): the FXSAVE64 legacy layout, XMM0-15. */
const xsave64: Handler = (cpu, ins) => {
  enterXsave64(cpu, ins);
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  const rfbm = xcr0Of(cpu) & cpu.regs.u32[0]!;
  probeWrite(cpu, seg, off, 1);
  probeWrite(cpu, seg, off + XsaveArea.SIZE - 1, 1);
  for (let i = 0; i < XsaveArea.SIZE; i++) area[i] = read8(cpu, seg, off + i);
  const fpu = cpu.fpu;
  if (rfbm & XFeature.X87) fxsave(fpu, area, 0, true, high32(fpu.fip), high32(fpu.fdp));
  if (rfbm & (XFeature.SSE | XFeature.AVX)) {
    put32(area, FXSAVE_MXCSR, fpu.sse.mxcsr);
    put32(area, FXSAVE_MXCSR_MASK, MXCSR_WRITABLE);
  }
  if (rfbm & XFeature.SSE) area.set(fpu.sse.u8.subarray(0, XMM_BYTES_64), FXSAVE_XMM0);
  area[XsaveArea.XSTATE_BV] = (area[XsaveArea.XSTATE_BV]! | rfbm) & 0xff;
  for (let i = 0; i < XsaveArea.SIZE; i++) write8(cpu, seg, off + i, area[i]!);
};

/** XRSTOR64, standard format, with the checks of `xsave.ts`'s XRSTOR, before any state changes. */
const xrstor64: Handler = (cpu, ins) => {
  enterXsave64(cpu, ins);
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  for (let i = 0; i < XsaveArea.SIZE; i++) area[i] = read8(cpu, seg, off + i);
  const xcr0 = xcr0Of(cpu);
  const bvLo = get32(area, XsaveArea.XSTATE_BV);
  const bvHi = get32(area, XsaveArea.XSTATE_BV + 4);
  if ((bvLo & ~xcr0) !== 0 || bvHi !== 0) raise(Vector.GP, 0);
  for (let i = XsaveArea.XCOMP_BV; i < XsaveArea.RESERVED + 8; i++) if (area[i] !== 0) raise(Vector.GP, 0);
  const rfbm = xcr0 & cpu.regs.u32[0]!;
  const loadMxcsr = (rfbm & (XFeature.SSE | XFeature.AVX)) !== 0;
  const mxcsr = get32(area, FXSAVE_MXCSR);
  if (loadMxcsr && (mxcsr & ~MXCSR_WRITABLE) !== 0) raise(Vector.GP, 0);
  const fpu = cpu.fpu;
  if (rfbm & XFeature.X87) fxrstor(fpu, bvLo & XFeature.X87 ? area : X87_INIT_IMAGE, 0, true);
  if (loadMxcsr) fpu.sse.mxcsr = mxcsr;
  if (rfbm & XFeature.SSE) {
    if (bvLo & XFeature.SSE) fpu.sse.u8.set(area.subarray(FXSAVE_XMM0, FXSAVE_XMM0 + XMM_BYTES_64));
    else fpu.sse.u8.fill(0, 0, XMM_BYTES_64);
  }
};

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
  add('Xsave64_mem', xsave64);
  add('Xsaveopt64_mem', xsave64);
  add('Xrstor64_mem', xrstor64);
  return list.entries;
}

/** The 64-bit-mode SIMD forms above (registered through `SSE_HANDLERS`). */
export const SSE64_HANDLERS: readonly [number, Handler][] = entries();
