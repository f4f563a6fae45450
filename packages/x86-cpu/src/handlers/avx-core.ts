/**
 * What the VEX-encoded handler families share (`avx*.ts`, `fma.ts`, `bmi.ts`): the entry checks of
 * SDM Vol. 2A §2.4 and §2.5, the YMM register file's upper halves, and operand movement between the
 * YMM registers, memory and the 32-byte scratch buffers.
 *
 * VEX-encoded vector instructions #UD in real-address and virtual-8086 mode, without CR4.OSXSAVE and
 * unless XCR0 enables both SSE and AVX state (XCR0[2:1] = 11b); CR0.TS gives #NM. CR0.EM and
 * CR4.OSFXSR do not matter to them. The decoder has already rejected a VEX prefix after 66/F2/F3/REX
 * or LOCK, and the block builder the instruction whose CPUID feature the model lacks.
 *
 * A VEX.128 instruction writing an XMM register zeroes bits 255:128 of the YMM register; a VEX.256
 * instruction writes all 256 bits (SDM Vol. 1 §14.1.3). Handlers compute into the scratch buffer
 * {@link Y} and commit with {@link commitY}, so a fault or an unmasked SIMD exception leaves the
 * destination as it was; SSE's 16-byte operations (`../sse/`) run per 128-bit lane through the
 * scratch lanes A/B/R (`loadLaneA`, `loadLaneB`, `stageLane`).
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import { CR0, Mode } from '../control.js';
import type { Cpu } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { linearAddress, probeWrite, read32, read64, write32, write64 } from '../memory-access.js';
import { locate } from '../operands.js';
import { A, B, R, views } from '../sse/lanes.js';
import { type SseState, YMM_HI_WORD } from '../sse/state.js';
import { offsetPlus } from './sse-core.js';
import { CR4_OSXSAVE, XFeature } from './xsave.js';

/** A 256-bit memory operand as read ({@link readVexMem}); bytes past the operand's size are 0. */
export const M = views(new ArrayBuffer(32));
/** A 256-bit result, staged before {@link commitY} writes it to the destination. */
export const Y = views(new ArrayBuffer(32));

const XCR0_SSE_AVX = XFeature.SSE | XFeature.AVX;

/**
 * Entry checks of a VEX-encoded vector instruction (SDM Vol. 2A §2.4, exception types 1-12): #UD in
 * real and virtual-8086 mode, without CR4.OSXSAVE, or unless XCR0[2:1] = 11b; #NM with CR0.TS.
 */
export function enterVex(cpu: Cpu): SseState {
  const c = cpu.ctrl;
  if (c.mode !== Mode.Protected) raise(Vector.UD);
  if ((c.cr4 & CR4_OSXSAVE) === 0 || (c.xcr0 & XCR0_SSE_AVX) !== XCR0_SSE_AVX) raise(Vector.UD);
  if (c.cr0 & CR0.TS) raise(Vector.NM);
  return cpu.fpu.sse;
}

/** Entry check of a VEX-encoded GPR instruction (BMI1/BMI2, SDM Vol. 2A §2.5.1): #UD in real and virtual-8086 mode. */
export function enterVexGpr(cpu: Cpu): void {
  if (cpu.ctrl.mode !== Mode.Protected) raise(Vector.UD);
}

/** Index 0-15 of an XMM or YMM register operand. */
export function vreg(reg: number): number {
  return reg >= Register.YMM0 ? reg - Register.YMM0 : reg - Register.XMM0;
}

/** Whether the instruction is VEX.256 (its vector operands are YMM registers / m256). */
export function isL256(ins: Instruction): boolean {
  return ins.op0Register >= Register.YMM0 || ins.op1Register >= Register.YMM0;
}

/** Word offset of register `r`'s 128-bit lane `half` (0: bits 127:0, 1: bits 255:128) in the file. */
export function laneWord(r: number, half: number): number {
  return half === 0 ? r * 4 : YMM_HI_WORD + r * 4;
}

/**
 * Reads the memory operand's `bytes` (4, 8, 16 or 32) into {@link M} (the rest of M zeroed). With
 * `align` 16 or 32, a linear address not aligned to it is #GP(0) (VMOVAPS/VMOVDQA/VMOVNTDQA...);
 * other VEX memory operands need no alignment.
 */
export function readVexMem(cpu: Cpu, ins: Instruction, bytes: number, align = 0): void {
  locate(cpu, ins);
  if (align !== 0 && (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & (align - 1)) !== 0) raise(Vector.GP, 0);
  const m = M.u32;
  if (bytes < 4) {
    m.fill(0);
    return;
  }
  for (let i = 0; i < 8; i++)
    m[i] = i * 4 < bytes ? read32(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, i * 4)) : 0;
}

/**
 * Writes the low `bytes` (4, 8, 16 or 32) of `src` to the memory operand, probed first so a fault
 * writes nothing; `align` as for {@link readVexMem}.
 */
export function writeVexMem(cpu: Cpu, ins: Instruction, src: Uint32Array, bytes: number, align = 0): void {
  locate(cpu, ins);
  if (align !== 0 && (linearAddress(cpu, cpu.eaSeg, cpu.eaOff) & (align - 1)) !== 0) raise(Vector.GP, 0);
  probeWrite(cpu, cpu.eaSeg, cpu.eaOff, bytes);
  for (let i = 0; i < bytes / 4; i++) write32(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, i * 4), src[i]!);
}

/** Lane `half` of register `r` into A. */
export function loadLaneA(sse: SseState, r: number, half: number): void {
  const x = sse.u32;
  const o = laneWord(r, half);
  A.u32[0] = x[o]!;
  A.u32[1] = x[o + 1]!;
  A.u32[2] = x[o + 2]!;
  A.u32[3] = x[o + 3]!;
}

/**
 * Lane `half` of a register-or-memory source into B: of register `reg` when `kind` is a register,
 * else of {@link M} (read before with {@link readVexMem}).
 */
export function loadLaneB(sse: SseState, kind: OpKind, reg: number, half: number): void {
  if (kind === OpKind.Register) {
    const x = sse.u32;
    const o = laneWord(vreg(reg), half);
    B.u32[0] = x[o]!;
    B.u32[1] = x[o + 1]!;
    B.u32[2] = x[o + 2]!;
    B.u32[3] = x[o + 3]!;
    return;
  }
  const o = half * 4;
  B.u32[0] = M.u32[o]!;
  B.u32[1] = M.u32[o + 1]!;
  B.u32[2] = M.u32[o + 2]!;
  B.u32[3] = M.u32[o + 3]!;
}

/** R into lane `half` of {@link Y}. */
export function stageLane(half: number): void {
  const o = half * 4;
  Y.u32[o] = R.u32[0]!;
  Y.u32[o + 1] = R.u32[1]!;
  Y.u32[o + 2] = R.u32[2]!;
  Y.u32[o + 3] = R.u32[3]!;
}

/**
 * Writes {@link Y} to YMM register `r`: all 256 bits when `l256`, else the low 128 bits with bits
 * 255:128 zeroed (the VEX.128 rule).
 */
export function commitY(sse: SseState, r: number, l256: boolean): void {
  const x = sse.u32;
  const lo = r * 4;
  const hi = YMM_HI_WORD + r * 4;
  const y = Y.u32;
  x[lo] = y[0]!;
  x[lo + 1] = y[1]!;
  x[lo + 2] = y[2]!;
  x[lo + 3] = y[3]!;
  x[hi] = l256 ? y[4]! : 0;
  x[hi + 1] = l256 ? y[5]! : 0;
  x[hi + 2] = l256 ? y[6]! : 0;
  x[hi + 3] = l256 ? y[7]! : 0;
}

/** Register `r`'s 256 bits into `dst` (8 words). */
export function readYmm(sse: SseState, r: number, dst: Uint32Array): void {
  const x = sse.u32;
  const lo = r * 4;
  const hi = YMM_HI_WORD + r * 4;
  for (let i = 0; i < 4; i++) {
    dst[i] = x[lo + i]!;
    dst[4 + i] = x[hi + i]!;
  }
}

/** Zeroes bits 255:128 of register `r` (VEX.128 destinations, VZEROUPPER). */
export function zeroUpper(sse: SseState, r: number): void {
  sse.u32.fill(0, YMM_HI_WORD + r * 4, YMM_HI_WORD + r * 4 + 4);
}

/**
 * A register-or-memory source into `dst` (8 words): all 256 bits of a register, or `bytes` (4..32)
 * of memory (the rest 0) with the alignment `align` (0: none).
 */
export function loadRm(
  cpu: Cpu,
  ins: Instruction,
  sse: SseState,
  kind: OpKind,
  reg: number,
  bytes: number,
  align: number,
  dst: Uint32Array,
): void {
  if (kind === OpKind.Register) {
    readYmm(sse, vreg(reg), dst);
    return;
  }
  readVexMem(cpu, ins, bytes, align);
  const m = M.u32;
  for (let i = 0; i < 8; i++) dst[i] = m[i]!;
}

/**
 * The memory side of VMASKMOVPS/PD and VPMASKMOVD/Q loads, at the located operand (`locate` first):
 * of `words` 32-bit words, each element (`q`: quadword, else doubleword) whose mask sign bit (the top
 * bit of its last word in `mask`) is set is read into Y, the others are zero; a masked-out element is
 * not accessed, so it cannot fault.
 */
export function maskedLoad(cpu: Cpu, ins: Instruction, mask: Uint32Array, words: number, q: boolean): void {
  const step = q ? 2 : 1;
  Y.u32.fill(0);
  for (let w = 0; w < words; w += step) {
    if ((mask[w + step - 1]! & 0x80000000) === 0) continue;
    const off = offsetPlus(ins, cpu.eaOff, w * 4);
    if (q) {
      Y.u32[w] = read64(cpu, cpu.eaSeg, off);
      Y.u32[w + 1] = cpu.hi;
    } else Y.u32[w] = read32(cpu, cpu.eaSeg, off);
  }
}

/**
 * The masked stores of VMASKMOVPS/PD and VPMASKMOVD/Q: the elements of `src` selected as in
 * {@link maskedLoad} go to the located operand; every selected element is probed first, so a fault
 * stores nothing, and masked-out elements never fault.
 */
export function maskedStore(
  cpu: Cpu,
  ins: Instruction,
  mask: Uint32Array,
  src: Uint32Array,
  words: number,
  q: boolean,
): void {
  const step = q ? 2 : 1;
  for (let w = 0; w < words; w += step) {
    if (mask[w + step - 1]! & 0x80000000)
      probeWrite(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, w * 4), step * 4);
  }
  for (let w = 0; w < words; w += step) {
    if ((mask[w + step - 1]! & 0x80000000) === 0) continue;
    const off = offsetPlus(ins, cpu.eaOff, w * 4);
    if (q) write64(cpu, cpu.eaSeg, off, src[w]!, src[w + 1]!);
    else write32(cpu, cpu.eaSeg, off, src[w]!);
  }
}
