/**
 * SSE4.2 (SDM Vol. 1 §12.12, Vol. 2 for each instruction), the 16/32-bit forms: PCMPGTQ, CRC32
 * (r32, r/m8/16/32: CRC-32C, polynomial 11EDC6F41H, bit-reflected, no pre/post inversion) and the
 * string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (`../sse/strings.ts`). The string compares
 * take an unaligned m128 (SDM Vol. 2A §2.4: they are exempt from the 16-byte alignment rule); PCMPGTQ
 * needs an aligned one. CRC32 is a general-purpose instruction: no SSE entry checks.
 */
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { getReg, readOp1, readOp1_64, setReg } from '../operands.js';
import { GPR_HI } from '../registers.js';
import type { IntOp } from '../sse/integer.js';
import { A, B, R } from '../sse/lanes.js';
import type { SseState } from '../sse/state.js';
import { compareStrings, implicitLength, StrImm } from '../sse/strings.js';
import { enter, intXmm, loadA, loadB, xmm } from './sse-core.js';
import { HandlerList } from './table.js';

const EAX = 0;
const ECX = 1;
const EDX = 2;

const ARITH_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/** PCMPGTQ on the lanes A, B into R: each signed quadword of A greater than B's: all ones, else zero. */
export const pcmpgtqOp: IntOp = () => {
  for (let q = 0; q < 4; q += 2) {
    const ah = A.i32[q + 1]!;
    const bh = B.i32[q + 1]!;
    const gt = ah > bh || (ah === bh && A.u32[q]! > B.u32[q]!) ? 0xffffffff : 0;
    R.u32[q] = gt;
    R.u32[q + 1] = gt;
  }
};

const pcmpgtq = intXmm(pcmpgtqOp);

// ------------------------------------------------------------------ CRC32

/** The reflected CRC-32C polynomial (11EDC6F41H without its x^32 term, bits reversed). */
const CRC32C_REFLECTED = 0x82f63b78;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_REFLECTED : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** The CRC32 instruction's update of `crc` with the low `bits` (8, 16, 32) of `data`, low byte first. */
export function crc32c(crc: number, data: number, bits: number): number {
  for (let k = 0; k < bits; k += 8) crc = CRC_TABLE[(crc ^ (data >>> k)) & 0xff]! ^ (crc >>> 8);
  return crc >>> 0;
}

/** CRC32 r32/r64, r/m8/16/32: the accumulator is the low 32 bits; the result zero-extends (r64 too). */
function crc32(bits: number): Handler {
  return (cpu, ins) => {
    const v = readOp1(cpu, ins, bits);
    setReg(cpu, ins.op0Register, 32, crc32c(getReg(cpu, ins.op0Register, 32), v, bits));
  };
}

/** CRC32 r64, r/m64 (REX.W F2 0F 38 F1): the eight bytes, low first; RAX[63:32] = 0. */
const crc32q: Handler = (cpu, ins) => {
  const lo = readOp1_64(cpu, ins);
  const hi = cpu.hi;
  const c = crc32c(crc32c(getReg(cpu, ins.op0Register, 32), lo, 32), hi, 32);
  setReg(cpu, ins.op0Register, 32, c);
};

// ------------------------------------------------------------------ string compares

/** Absolute value of a signed length register, saturated to the element count. */
function explicitLength(v: number, n: number): number {
  const a = Math.abs(v | 0);
  return Math.min(a, n);
}

/** As {@link explicitLength} for RAX/RDX (REX.W forms): the 64-bit signed value `hi`:`lo`. */
function explicitLength64(lo: number, hi: number, n: number): number {
  if (hi === 0) return Math.min(lo >>> 0, n);
  if (hi === -1 && lo !== 0) return Math.min(2 ** 32 - (lo >>> 0), n);
  return n;
}

/** PCMPESTRI/PCMPESTRM (explicit: lengths in EAX and EDX) or PCMPISTRI/PCMPISTRM (null-terminated). */
function pcmpstr(explicit: boolean, index: boolean, wide = false): Handler {
  return (cpu, ins) => {
    const sse = enter(cpu);
    loadB(cpu, ins, sse, 16, false);
    loadA(sse, xmm(ins.op0Register));
    stringCompare(cpu, sse, ins.immediate & 0xff, explicit, index, wide);
  };
}

/**
 * The string compare on A (first operand) and B (second) with its results: ECX (the index forms) or
 * XMM0's low 128 bits (the mask forms), and the flags. Shared with the VEX forms (`avx2.ts`).
 */
export function stringCompare(
  cpu: Cpu,
  sse: SseState,
  imm: number,
  explicit: boolean,
  index: boolean,
  wide: boolean,
): void {
  const words = (imm & StrImm.WORDS) !== 0;
  const n = words ? 8 : 16;
  const r = cpu.regs.r32;
  const la = !explicit
    ? implicitLength(A, words)
    : wide
      ? explicitLength64(r[EAX]!, r[EAX + GPR_HI]!, n)
      : explicitLength(r[EAX]!, n);
  const lb = !explicit
    ? implicitLength(B, words)
    : wide
      ? explicitLength64(r[EDX]!, r[EDX + GPR_HI]!, n)
      : explicitLength(r[EDX]!, n);
  const res = compareStrings(imm, la, lb);
  if (index) {
    const msb = (imm & StrImm.MSB_OR_EXPAND) !== 0;
    // ECX is written as a 32-bit register: RCX[63:32] = 0 in 64-bit mode.
    r[ECX] = res === 0 ? n : msb ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    r[ECX + GPR_HI] = 0;
  } else if (imm & StrImm.MSB_OR_EXPAND) {
    for (let i = 0; i < n; i++) {
      const on = (res >>> i) & 1 ? 0xffff : 0;
      if (words) sse.u16[i] = on;
      else sse.u8[i] = on;
    }
  } else {
    sse.u32[0] = res;
    sse.u32[1] = 0;
    sse.u32[2] = 0;
    sse.u32[3] = 0;
  }
  setArith(
    cpu.flags,
    ARITH_MASK,
    (res !== 0 ? EFLAGS.CF : 0) |
      (lb < n ? EFLAGS.ZF : 0) |
      (la < n ? EFLAGS.SF : 0) |
      (res & 1 ? EFLAGS.OF : 0),
  );
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Pcmpgtq_xmm_xmmm128', pcmpgtq);
  list.add('Crc32_r32_rm8', crc32(8));
  list.add('Crc32_r32_rm16', crc32(16));
  list.add('Crc32_r32_rm32', crc32(32));
  list.add('Crc32_r64_rm8', crc32(8));
  list.add('Crc32_r64_rm64', crc32q);
  list.add('Pcmpestri64_xmm_xmmm128_imm8', pcmpstr(true, true, true));
  list.add('Pcmpestrm64_xmm_xmmm128_imm8', pcmpstr(true, false, true));
  list.add('Pcmpestri_xmm_xmmm128_imm8', pcmpstr(true, true));
  list.add('Pcmpestrm_xmm_xmmm128_imm8', pcmpstr(true, false));
  list.add('Pcmpistri_xmm_xmmm128_imm8', pcmpstr(false, true));
  list.add('Pcmpistrm_xmm_xmmm128_imm8', pcmpstr(false, false));
  return list.entries;
}

export const SSE42_HANDLERS: readonly [number, Handler][] = entries();
