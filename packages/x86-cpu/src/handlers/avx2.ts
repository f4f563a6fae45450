/**
 * The VEX-encoded integer moves and AVX2's cross-lane additions (SDM Vol. 2, each instruction's page):
 * VMOVD/VMOVQ, VMOVDQA/VMOVDQU, VMOVNTDQ, VMOVNTDQA, VLDDQU, VMASKMOVDQU, VPEXTRB/W/D/Q,
 * VPINSRB/W/D/Q, VPMOVMSKB, VPTEST, VPHMINPOSUW, VPMOVSX/VPMOVZX, the VEX.128 string compares
 * (VPCMPESTRI/M, VPCMPISTRI/M), VAES* and VPCLMULQDQ, and the AVX2 broadcasts (VPBROADCASTB/W/D/Q,
 * VBROADCASTSS/SD from a register, VBROADCASTI128), VINSERTI128/VEXTRACTI128, VPERM2I128, VPERMD/PS,
 * VPERMQ/PD, VPBLENDD, the per-element shifts VPSLLV/VPSRLV/VPSRAV and the masked moves VPMASKMOVD/Q.
 * The gathers are in `avx2-gather.ts`.
 *
 * Entry checks are the VEX ones (`avx-core.ts`); the SSE engines (`../sse/sse41.ts` PMOVSX/ZX and
 * PHMINPOSUW, `../sse/strings.ts` through `sse42.ts`, the AES rounds and carry-less multiply of
 * `aes.ts`) run on the scratch lanes per 128-bit lane. VEX memory operands need no alignment
 * (SDM Vol. 2A §2.4, exception types 4/5) except VMOVDQA, VMOVNTDQ and VMOVNTDQA (type 1: 16/32-byte
 * aligned, else #GP(0)). Results are staged in `Y` and committed last, so a fault leaves the
 * destination alone; VEX.128 destinations get bits 255:128 zeroed.
 */
import { type Instruction, OpKind, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { EFLAGS, setArith } from '../flags.js';
import { read8, read16, read32, read64 } from '../memory-access.js';
import {
  getReg32,
  getReg64,
  locate,
  readOp1,
  readOp1_64,
  setReg32,
  writeOp0,
  writeOp0_64,
} from '../operands.js';
import { A, B, views } from '../sse/lanes.js';
import { pmov, SSE41_OPS } from '../sse/sse41.js';
import type { SseState } from '../sse/state.js';
import { clmul, DEC, ENC, INV_SBOX, invMixColumns, keygenAssist, lastRound, mixRound, SBOX } from './aes.js';
import { AVX2_GATHER_HANDLERS } from './avx2-gather.js';
import {
  commitY,
  enterVex,
  laneWord,
  M,
  readVexMem,
  readYmm,
  stageLane,
  vreg,
  writeVexMem,
  Y,
  loadRm,
  maskedLoad,
  maskedStore,
} from './avx-core.js';
import { stringCompare } from './sse42.js';
import { maskMovStore } from './sse.js';
import { storeElement } from './sse41.js';
import { HandlerList } from './table.js';

/** First and second 256-bit sources, as read before the computation. */
const S = views(new ArrayBuffer(32));
const T = views(new ArrayBuffer(32));

const ARITH_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

const isYmm = (reg: number): boolean => reg >= Register.YMM0;

/** A 1- or 2-byte memory source (VPBROADCASTB/W, VPMOVSX/ZXBQ): into dst word 0, the rest 0. */
function loadSmallMem(cpu: Cpu, ins: Instruction, bytes: number, dst: Uint32Array): void {
  locate(cpu, ins);
  dst.fill(0);
  dst[0] = bytes === 1 ? read8(cpu, cpu.eaSeg, cpu.eaOff) : read16(cpu, cpu.eaSeg, cpu.eaOff);
}

/** The op1 source (register or `bytes` of memory, any size) into S. */
function loadOp1Any(cpu: Cpu, ins: Instruction, sse: SseState, bytes: number): void {
  if (ins.op1Kind !== OpKind.Register && bytes < 4) loadSmallMem(cpu, ins, bytes, S.u32);
  else loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, bytes, 0, S.u32);
}

// ------------------------------------------------------------------ moves

/** VMOVDQA/VMOVDQU/VLDDQU/VMOVNTDQA xmm|ymm, xmm|ymm/m: `aligned` for VMOVDQA and VMOVNTDQA. */
function movLoad(aligned: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    const bytes = l ? 32 : 16;
    loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, bytes, aligned ? bytes : 0, Y.u32);
    commitY(sse, vreg(ins.op0Register), l);
  };
}

/** VMOVDQA/VMOVDQU/VMOVNTDQ xmm|ymm/m, xmm|ymm (store forms; the register form is a move). */
function movStore(aligned: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op1Register);
    readYmm(sse, vreg(ins.op1Register), Y.u32);
    if (ins.op0Kind === OpKind.Register) {
      commitY(sse, vreg(ins.op0Register), l);
      return;
    }
    const bytes = l ? 32 : 16;
    writeVexMem(cpu, ins, Y.u32, bytes, aligned ? bytes : 0);
  };
}

/** VMOVD xmm, r/m32 and VMOVQ xmm, r/m64 (`q`): zero-extended to 256 bits. */
function movToXmm(q: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    Y.u32.fill(0);
    if (q) {
      Y.u32[0] = readOp1_64(cpu, ins);
      Y.u32[1] = cpu.hi;
    } else Y.u32[0] = readOp1(cpu, ins, 32);
    commitY(sse, vreg(ins.op0Register), false);
  };
}

/** VMOVD r/m32, xmm and VMOVQ r/m64, xmm (`q`). */
function movFromXmm(q: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const o = vreg(ins.op1Register) * 4;
    if (q) writeOp0_64(cpu, ins, sse.u32[o]!, sse.u32[o + 1]!, false);
    else writeOp0(cpu, ins, 32, sse.u32[o]!, false);
  };
}

/** VMOVQ xmm, xmm/m64 (F3 0F 7E): the low quadword, bits 255:64 zeroed. */
const movqLoad: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, 8, 0, Y.u32);
  Y.u32.fill(0, 2);
  commitY(sse, vreg(ins.op0Register), false);
};

/** VMOVQ xmm/m64, xmm (66 0F D6): the low quadword to m64, or to a register with bits 255:64 zeroed. */
const movqStore: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const o = vreg(ins.op1Register) * 4;
  if (ins.op0Kind !== OpKind.Register) {
    writeOp0_64(cpu, ins, sse.u32[o]!, sse.u32[o + 1]!, false);
    return;
  }
  Y.u32.fill(0);
  Y.u32[0] = sse.u32[o]!;
  Y.u32[1] = sse.u32[o + 1]!;
  commitY(sse, vreg(ins.op0Register), false);
};

/**
 * VMASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose byte in xmm2 has bit 7 set go to DS:rDI (segment
 * overridable); every selected byte is probed before any is written.
 */
const vmaskmovdqu: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const s = vreg(ins.op1Register) * 4;
  const m = vreg(ins.op2Register) * 4;
  for (let i = 0; i < 4; i++) {
    A.u32[i] = sse.u32[s + i]!;
    B.u32[i] = sse.u32[m + i]!;
  }
  maskMovStore(cpu, ins, 16);
};

// ------------------------------------------------------------------ extract and insert

/**
 * VPEXTRB/VPEXTRW/VPEXTRD r32/m, xmm, imm8 (`bytes` 1, 2, 4) and VPEXTRQ r64/m64 (8): element imm8
 * mod count; a register destination is zero-extended to 64 bits.
 */
function extract(bytes: number): Handler {
  const count = 16 / bytes;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const i = vreg(ins.op1Register) * count + (ins.immediate & (count - 1));
    if (bytes === 8) {
      writeOp0_64(cpu, ins, sse.u32[2 * i]!, sse.u32[2 * i + 1]!, false);
      return;
    }
    storeElement(cpu, ins, bytes, bytes === 1 ? sse.u8[i]! : bytes === 2 ? sse.u16[i]! : sse.u32[i]!);
  };
}

/**
 * VPINSRB/VPINSRW/VPINSRD/VPINSRQ xmm1, xmm2, r/m, imm8: xmm2 with element imm8 mod count replaced by
 * the register's low bits or the memory element; bits 255:128 zeroed.
 */
function insert(bytes: number): Handler {
  const count = 16 / bytes;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    let v: number;
    let hi = 0;
    if (ins.op2Kind === OpKind.Register) {
      if (bytes === 8) {
        v = getReg64(cpu, ins.op2Register);
        hi = cpu.hi;
      } else v = getReg32(cpu, ins.op2Register);
    } else {
      locate(cpu, ins);
      if (bytes === 1) v = read8(cpu, cpu.eaSeg, cpu.eaOff);
      else if (bytes === 2) v = read16(cpu, cpu.eaSeg, cpu.eaOff);
      else if (bytes === 4) v = read32(cpu, cpu.eaSeg, cpu.eaOff);
      else {
        v = read64(cpu, cpu.eaSeg, cpu.eaOff);
        hi = cpu.hi;
      }
    }
    readYmm(sse, vreg(ins.op1Register), Y.u32);
    const i = ins.immediate & (count - 1);
    if (bytes === 1) Y.u8[i] = v;
    else if (bytes === 2) Y.u16[i] = v;
    else if (bytes === 4) Y.u32[i] = v;
    else {
      Y.u32[2 * i] = v;
      Y.u32[2 * i + 1] = hi;
    }
    commitY(sse, vreg(ins.op0Register), false);
  };
}

/** VPMOVMSKB r32/r64, xmm|ymm: the top bit of each byte, zero-extended. */
const vpmovmskb: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const n = isYmm(ins.op1Register) ? 32 : 16;
  readYmm(sse, vreg(ins.op1Register), S.u32);
  let m = 0;
  for (let i = 0; i < n; i++) m |= (S.u8[i]! >>> 7) << i;
  setReg32(cpu, ins.op0Register, m >>> 0);
};

/** VPTEST xmm|ymm, xmm|ymm/m: ZF = (a AND b) = 0, CF = (b AND NOT a) = 0; AF, OF, PF, SF cleared. */
const vptest: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const l = isYmm(ins.op0Register);
  loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, l ? 32 : 16, 0, T.u32);
  readYmm(sse, vreg(ins.op0Register), S.u32);
  let and = 0;
  let andn = 0;
  for (let i = 0; i < (l ? 8 : 4); i++) {
    and |= S.u32[i]! & T.u32[i]!;
    andn |= ~S.u32[i]! & T.u32[i]!;
  }
  setArith(cpu.flags, ARITH_MASK, (and === 0 ? EFLAGS.ZF : 0) | (andn === 0 ? EFLAGS.CF : 0));
};

/** Copies 16 bytes of S from byte `from` into B. */
function sToB(from: number): void {
  for (let i = 0; i < 16; i++) B.u8[i] = from + i < 32 ? S.u8[from + i]! : 0;
}

/** VPHMINPOSUW xmm, xmm/m128 (the SSE4.1 engine). */
const vphminposuw: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, 16, 0, S.u32);
  sToB(0);
  SSE41_OPS.Phminposuw!(16);
  stageLane(0);
  commitY(sse, vreg(ins.op0Register), false);
};

/**
 * VPMOVSX/VPMOVZX xmm|ymm, xmm/m: the low (16 or 32) / `to` elements of `from` bytes extended; the
 * VEX.256 forms widen a 128-bit-or-smaller source across both lanes (the SSE4.1 engine per lane).
 */
function pmovx(from: number, to: number, signed: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    const half = (16 / to) * from;
    loadOp1Any(cpu, ins, sse, l ? 2 * half : half);
    sToB(0);
    pmov(from, to, signed);
    stageLane(0);
    if (l) {
      sToB(half);
      pmov(from, to, signed);
      stageLane(1);
    }
    commitY(sse, vreg(ins.op0Register), l);
  };
}

// ------------------------------------------------------------------ SSE4.2 strings, AES, PCLMULQDQ (VEX.128)

/** Loads the VEX.128 second source (op `k`: 1 or 2, register or unaligned m128) into B. */
function srcB(cpu: Cpu, ins: Instruction, sse: SseState, k: 1 | 2): void {
  if (k === 1) loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, 16, 0, S.u32);
  else loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 16, 0, S.u32);
  sToB(0);
}

/** Register `reg`'s low 128 bits into A. */
function regA(sse: SseState, reg: number): void {
  const o = vreg(reg) * 4;
  for (let i = 0; i < 4; i++) A.u32[i] = sse.u32[o + i]!;
}

/** VPCMPESTRI/VPCMPESTRM/VPCMPISTRI/VPCMPISTRM: the mask forms write XMM0 and zero YMM0[255:128]. */
function vpcmpstr(explicit: boolean, index: boolean, wide = false): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    srcB(cpu, ins, sse, 1);
    regA(sse, ins.op0Register);
    stringCompare(cpu, sse, ins.immediate & 0xff, explicit, index, wide);
    if (!index) sse.u32.fill(0, laneWord(0, 1), laneWord(0, 1) + 4);
  };
}

/** R to the VEX.128 destination op0 (bits 255:128 zeroed). */
function commitR(sse: SseState, ins: Instruction): void {
  stageLane(0);
  commitY(sse, vreg(ins.op0Register), false);
}

/** VAESENC/VAESENCLAST/VAESDEC/VAESDECLAST xmm1, xmm2 (state), xmm3/m128 (round key). */
function vaesRound(mix: Uint32Array | null, box: Uint8Array, k: number): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    srcB(cpu, ins, sse, 2);
    regA(sse, ins.op1Register);
    if (mix !== null) mixRound(mix, k);
    else lastRound(box, k);
    commitR(sse, ins);
  };
}

const vaesimc: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  srcB(cpu, ins, sse, 1);
  invMixColumns();
  commitR(sse, ins);
};

const vaeskeygenassist: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  srcB(cpu, ins, sse, 1);
  keygenAssist(ins.immediate & 0xff);
  commitR(sse, ins);
};

/** VPCLMULQDQ xmm1, xmm2, xmm3/m128, imm8. */
const vpclmulqdq: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  srcB(cpu, ins, sse, 2);
  regA(sse, ins.op1Register);
  clmul(ins.immediate);
  commitR(sse, ins);
};

// ------------------------------------------------------------------ broadcasts and lane moves

/**
 * VPBROADCASTB/W/D/Q xmm|ymm, xmm/m8..64 and VBROADCASTSS/SD from a register: the low element of
 * `bytes` repeated over 16 or 32 bytes.
 */
function broadcast(bytes: number): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    loadOp1Any(cpu, ins, sse, bytes);
    const n = l ? 32 : 16;
    for (let i = bytes; i < n; i++) S.u8[i] = S.u8[i % bytes]!;
    for (let i = 0; i < 8; i++) Y.u32[i] = S.u32[i]!;
    commitY(sse, vreg(ins.op0Register), l);
  };
}

/** VBROADCASTI128 ymm, m128: the 16 bytes in both lanes. */
const vbroadcasti128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readVexMem(cpu, ins, 16);
  for (let i = 0; i < 4; i++) {
    Y.u32[i] = M.u32[i]!;
    Y.u32[4 + i] = M.u32[i]!;
  }
  commitY(sse, vreg(ins.op0Register), true);
};

/** VINSERTI128 ymm1, ymm2, xmm3/m128, imm8: ymm2 with lane imm8[0] replaced. */
const vinserti128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 16, 0, S.u32);
  readYmm(sse, vreg(ins.op1Register), Y.u32);
  const o = (ins.immediate & 1) * 4;
  for (let i = 0; i < 4; i++) Y.u32[o + i] = S.u32[i]!;
  commitY(sse, vreg(ins.op0Register), true);
};

/** VEXTRACTI128 xmm1/m128, ymm2, imm8: lane imm8[0] of ymm2 (a register destination's bits 255:128 zeroed). */
const vextracti128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readYmm(sse, vreg(ins.op1Register), S.u32);
  const o = (ins.immediate & 1) * 4;
  for (let i = 0; i < 4; i++) Y.u32[i] = S.u32[o + i]!;
  if (ins.op0Kind !== OpKind.Register) {
    writeVexMem(cpu, ins, Y.u32, 16);
    return;
  }
  commitY(sse, vreg(ins.op0Register), false);
};

/**
 * VPERM2I128 ymm1, ymm2, ymm3/m256, imm8: each destination lane from imm8[1:0] / imm8[5:4] (0, 1: the
 * lanes of ymm2; 2, 3: of ymm3/m256), zeroed by imm8[3] / imm8[7].
 */
const vperm2i128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 32, 0, T.u32);
  readYmm(sse, vreg(ins.op1Register), S.u32);
  const imm = ins.immediate;
  for (let h = 0; h < 2; h++) {
    const sel = (imm >>> (4 * h)) & 0xf;
    const src = sel & 2 ? T.u32 : S.u32;
    const o = (sel & 1) * 4;
    for (let i = 0; i < 4; i++) Y.u32[4 * h + i] = sel & 8 ? 0 : src[o + i]!;
  }
  commitY(sse, vreg(ins.op0Register), true);
};

/** VPERMD/VPERMPS ymm1, ymm2, ymm3/m256: dword i = ymm3/m256[ymm2[i] & 7]. */
const vpermd: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 32, 0, T.u32);
  readYmm(sse, vreg(ins.op1Register), S.u32);
  for (let i = 0; i < 8; i++) Y.u32[i] = T.u32[S.u32[i]! & 7]!;
  commitY(sse, vreg(ins.op0Register), true);
};

/** VPERMQ/VPERMPD ymm1, ymm2/m256, imm8: quadword i = source quadword imm8[2i+1:2i]. */
const vpermq: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, 32, 0, S.u32);
  const imm = ins.immediate;
  for (let i = 0; i < 4; i++) {
    const q = (imm >>> (2 * i)) & 3;
    Y.u32[2 * i] = S.u32[2 * q]!;
    Y.u32[2 * i + 1] = S.u32[2 * q + 1]!;
  }
  commitY(sse, vreg(ins.op0Register), true);
};

/** VPBLENDD xmm|ymm1, xmm|ymm2, xmm|ymm3/m, imm8: dword i from the third operand where imm8[i] is set. */
const vpblendd: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  const l = isYmm(ins.op0Register);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, l ? 32 : 16, 0, T.u32);
  readYmm(sse, vreg(ins.op1Register), S.u32);
  const imm = ins.immediate;
  for (let i = 0; i < 8; i++) Y.u32[i] = (imm >>> i) & 1 ? T.u32[i]! : S.u32[i]!;
  commitY(sse, vreg(ins.op0Register), l);
};

// ------------------------------------------------------------------ per-element shifts

const Shift = { Sll: 0, Srl: 1, Sra: 2 } as const;
type Shift = (typeof Shift)[keyof typeof Shift];

/**
 * VPSLLVD/VPSRLVD/VPSRAVD: each dword of the second operand shifted by the unsigned count in the
 * third's; a count above 31 gives 0 (logical) or the sign fill (arithmetic).
 */
function shiftVd(kind: Shift): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, l ? 32 : 16, 0, T.u32);
    readYmm(sse, vreg(ins.op1Register), S.u32);
    for (let i = 0; i < 8; i++) {
      const c = T.u32[i]!;
      const a = S.u32[i]!;
      if (kind === Shift.Sra) Y.i32[i] = (a | 0) >> Math.min(c, 31);
      else if (c > 31) Y.u32[i] = 0;
      else Y.u32[i] = kind === Shift.Sll ? a << c : a >>> c;
    }
    commitY(sse, vreg(ins.op0Register), l);
  };
}

/** VPSLLVQ/VPSRLVQ: each quadword shifted by the unsigned 64-bit count; a count above 63 gives 0. */
function shiftVq(left: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, l ? 32 : 16, 0, T.u32);
    readYmm(sse, vreg(ins.op1Register), S.u32);
    const y = Y.u32;
    for (let q = 0; q < 8; q += 2) {
      const c = T.u32[q + 1] !== 0 || T.u32[q]! > 63 ? 64 : T.u32[q]!;
      const lo = S.u32[q]!;
      const hi = S.u32[q + 1]!;
      if (c >= 64) {
        y[q] = 0;
        y[q + 1] = 0;
      } else if (c === 0) {
        y[q] = lo;
        y[q + 1] = hi;
      } else if (c < 32) {
        if (left) {
          y[q] = lo << c;
          y[q + 1] = (hi << c) | (lo >>> (32 - c));
        } else {
          y[q] = (lo >>> c) | (hi << (32 - c));
          y[q + 1] = hi >>> c;
        }
      } else if (left) {
        y[q] = 0;
        y[q + 1] = lo << (c - 32);
      } else {
        y[q] = hi >>> (c - 32);
        y[q + 1] = 0;
      }
    }
    commitY(sse, vreg(ins.op0Register), l);
  };
}

// ------------------------------------------------------------------ masked moves

/**
 * VPMASKMOVD/VPMASKMOVQ xmm|ymm1, xmm|ymm2 (mask), m: the elements whose mask element has its top bit
 * set are loaded, the others zeroed; masked-out elements are never accessed (no fault from them).
 */
function maskLoad(q: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const l = isYmm(ins.op0Register);
    readYmm(sse, vreg(ins.op1Register), S.u32);
    locate(cpu, ins);
    maskedLoad(cpu, ins, S.u32, l ? 8 : 4, q);
    commitY(sse, vreg(ins.op0Register), l);
  };
}

/**
 * VPMASKMOVD/VPMASKMOVQ m, xmm|ymm1 (mask), xmm|ymm2: the selected elements stored; every selected
 * element is probed first, so a fault stores nothing, and masked-out elements never fault.
 */
function maskStore(q: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), S.u32);
    readYmm(sse, vreg(ins.op2Register), T.u32);
    locate(cpu, ins);
    maskedStore(cpu, ins, S.u32, T.u32, isYmm(ins.op1Register) ? 8 : 4, q);
  };
}

// ------------------------------------------------------------------ table

const PMOV: readonly (readonly [string, number, number])[] = [
  ['bw', 1, 2],
  ['bd', 1, 4],
  ['bq', 1, 8],
  ['wd', 2, 4],
  ['wq', 2, 8],
  ['dq', 4, 8],
];

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(`VEX_${name}`, h);
  add('Vmovd_xmm_rm32', movToXmm(false));
  add('Vmovq_xmm_rm64', movToXmm(true));
  add('Vmovd_rm32_xmm', movFromXmm(false));
  add('Vmovq_rm64_xmm', movFromXmm(true));
  add('Vmovq_xmm_xmmm64', movqLoad);
  add('Vmovq_xmmm64_xmm', movqStore);
  for (const l of ['xmm_xmmm128', 'ymm_ymmm256']) {
    add(`Vmovdqa_${l}`, movLoad(true));
    add(`Vmovdqu_${l}`, movLoad(false));
  }
  for (const l of ['xmmm128_xmm', 'ymmm256_ymm']) {
    add(`Vmovdqa_${l}`, movStore(true));
    add(`Vmovdqu_${l}`, movStore(false));
  }
  add('Vmovntdq_m128_xmm', movStore(true));
  add('Vmovntdq_m256_ymm', movStore(true));
  add('Vmovntdqa_xmm_m128', movLoad(true));
  add('Vmovntdqa_ymm_m256', movLoad(true));
  add('Vlddqu_xmm_m128', movLoad(false));
  add('Vlddqu_ymm_m256', movLoad(false));
  add('Vmaskmovdqu_rDI_xmm_xmm', vmaskmovdqu);
  add('Vpextrb_r32m8_xmm_imm8', extract(1));
  add('Vpextrb_r64m8_xmm_imm8', extract(1));
  add('Vpextrw_r32_xmm_imm8', extract(2));
  add('Vpextrw_r64_xmm_imm8', extract(2));
  add('Vpextrw_r32m16_xmm_imm8', extract(2));
  add('Vpextrw_r64m16_xmm_imm8', extract(2));
  add('Vpextrd_rm32_xmm_imm8', extract(4));
  add('Vpextrq_rm64_xmm_imm8', extract(8));
  add('Vpinsrb_xmm_xmm_r32m8_imm8', insert(1));
  add('Vpinsrb_xmm_xmm_r64m8_imm8', insert(1));
  add('Vpinsrw_xmm_xmm_r32m16_imm8', insert(2));
  add('Vpinsrw_xmm_xmm_r64m16_imm8', insert(2));
  add('Vpinsrd_xmm_xmm_rm32_imm8', insert(4));
  add('Vpinsrq_xmm_xmm_rm64_imm8', insert(8));
  for (const r of ['r32', 'r64']) for (const x of ['xmm', 'ymm']) add(`Vpmovmskb_${r}_${x}`, vpmovmskb);
  add('Vptest_xmm_xmmm128', vptest);
  add('Vptest_ymm_ymmm256', vptest);
  add('Vphminposuw_xmm_xmmm128', vphminposuw);
  for (const [suffix, from, to] of PMOV) {
    const small = (16 / to) * from * 8;
    for (const [s, signed] of [
      ['sx', true],
      ['zx', false],
    ] as const) {
      add(`Vpmov${s}${suffix}_xmm_xmmm${small}`, pmovx(from, to, signed));
      add(`Vpmov${s}${suffix}_ymm_xmmm${small * 2}`, pmovx(from, to, signed));
    }
  }
  add('Vpcmpestri_xmm_xmmm128_imm8', vpcmpstr(true, true));
  add('Vpcmpestrm_xmm_xmmm128_imm8', vpcmpstr(true, false));
  add('Vpcmpestri64_xmm_xmmm128_imm8', vpcmpstr(true, true, true));
  add('Vpcmpestrm64_xmm_xmmm128_imm8', vpcmpstr(true, false, true));
  add('Vpcmpistri_xmm_xmmm128_imm8', vpcmpstr(false, true));
  add('Vpcmpistrm_xmm_xmmm128_imm8', vpcmpstr(false, false));
  add('Vaesenc_xmm_xmm_xmmm128', vaesRound(ENC, SBOX, 1));
  add('Vaesenclast_xmm_xmm_xmmm128', vaesRound(null, SBOX, 1));
  add('Vaesdec_xmm_xmm_xmmm128', vaesRound(DEC, INV_SBOX, 3));
  add('Vaesdeclast_xmm_xmm_xmmm128', vaesRound(null, INV_SBOX, 3));
  add('Vaesimc_xmm_xmmm128', vaesimc);
  add('Vaeskeygenassist_xmm_xmmm128_imm8', vaeskeygenassist);
  add('Vpclmulqdq_xmm_xmm_xmmm128_imm8', vpclmulqdq);
  add('Vpbroadcastb_xmm_xmmm8', broadcast(1));
  add('Vpbroadcastb_ymm_xmmm8', broadcast(1));
  add('Vpbroadcastw_xmm_xmmm16', broadcast(2));
  add('Vpbroadcastw_ymm_xmmm16', broadcast(2));
  add('Vpbroadcastd_xmm_xmmm32', broadcast(4));
  add('Vpbroadcastd_ymm_xmmm32', broadcast(4));
  add('Vpbroadcastq_xmm_xmmm64', broadcast(8));
  add('Vpbroadcastq_ymm_xmmm64', broadcast(8));
  add('Vbroadcastss_xmm_xmm', broadcast(4));
  add('Vbroadcastss_ymm_xmm', broadcast(4));
  add('Vbroadcastsd_ymm_xmm', broadcast(8));
  add('Vbroadcasti128_ymm_m128', vbroadcasti128);
  add('Vinserti128_ymm_ymm_xmmm128_imm8', vinserti128);
  add('Vextracti128_xmmm128_ymm_imm8', vextracti128);
  add('Vperm2i128_ymm_ymm_ymmm256_imm8', vperm2i128);
  add('Vpermd_ymm_ymm_ymmm256', vpermd);
  add('Vpermps_ymm_ymm_ymmm256', vpermd);
  add('Vpermq_ymm_ymmm256_imm8', vpermq);
  add('Vpermpd_ymm_ymmm256_imm8', vpermq);
  add('Vpblendd_xmm_xmm_xmmm128_imm8', vpblendd);
  add('Vpblendd_ymm_ymm_ymmm256_imm8', vpblendd);
  for (const l of ['xmm_xmm_xmmm128', 'ymm_ymm_ymmm256']) {
    add(`Vpsllvd_${l}`, shiftVd(Shift.Sll));
    add(`Vpsrlvd_${l}`, shiftVd(Shift.Srl));
    add(`Vpsravd_${l}`, shiftVd(Shift.Sra));
    add(`Vpsllvq_${l}`, shiftVq(true));
    add(`Vpsrlvq_${l}`, shiftVq(false));
  }
  add('Vpmaskmovd_xmm_xmm_m128', maskLoad(false));
  add('Vpmaskmovd_ymm_ymm_m256', maskLoad(false));
  add('Vpmaskmovq_xmm_xmm_m128', maskLoad(true));
  add('Vpmaskmovq_ymm_ymm_m256', maskLoad(true));
  add('Vpmaskmovd_m128_xmm_xmm', maskStore(false));
  add('Vpmaskmovd_m256_ymm_ymm', maskStore(false));
  add('Vpmaskmovq_m128_xmm_xmm', maskStore(true));
  add('Vpmaskmovq_m256_ymm_ymm', maskStore(true));
  return [...list.entries, ...AVX2_GATHER_HANDLERS];
}

/** The VEX integer moves, AVX2 cross-lane operations, masked moves and gathers. */
export const AVX2_HANDLERS: readonly [number, Handler][] = entries();
