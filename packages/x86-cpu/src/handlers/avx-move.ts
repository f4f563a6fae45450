/**
 * AVX data movement (SDM Vol. 2 for each instruction): VMOVAPS/UPS/APD/UPD/SS/SD/LPS/HPS/LPD/HPD/
 * HLPS/LHPS/SLDUP/SHDUP/DDUP/NTPS/NTPD, VMOVMSKPS/PD, VSHUFPS/PD, VBLEND(V)PS/PD, VBROADCASTSS/SD/
 * F128 (memory forms), VINSERTF128, VEXTRACTF128, VPERM2F128, VPERMILPS/PD (imm8 and variable),
 * VMASKMOVPS/PD, VTESTPS/PD, VINSERTPS, VEXTRACTPS, VLDMXCSR/VSTMXCSR, VZEROUPPER and VZEROALL.
 *
 * Every result is staged in the scratch Y and committed at the end (`commitY`: VEX.128 zeroes bits
 * 255:128), so a fault leaves the destination alone. Only VMOVAPS/APD/NTPS/NTPD need an aligned
 * memory operand (16 bytes for VEX.128, 32 for VEX.256, else #GP(0)). VMASKMOV touches only the
 * elements whose mask sign bit is set: a masked-out element never faults, and a store probes every
 * selected element before writing any.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import type { Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, setArith } from '../flags.js';
import { read32, write32 } from '../memory-access.js';
import { locate, setReg32 } from '../operands.js';
import { MXCSR_WRITABLE } from '../sse/state.js';
import {
  commitY,
  enterVex,
  loadRm,
  M,
  maskedLoad,
  maskedStore,
  readVexMem,
  readYmm,
  vreg,
  writeVexMem,
  Y,
  zeroUpper,
} from './avx-core.js';
import { storeElement } from './sse41.js';
import { HandlerList } from './table.js';

/** First source (a register's 256 bits). */
const U = new Uint32Array(8);
/** Second source (register or memory operand, 256 bits). */
const V = new Uint32Array(8);
/** A third operand (VBLENDV mask, VMASKMOV data). */
const W = new Uint32Array(8);

function dstReg(ins: Instruction): number {
  return vreg(ins.op0Register);
}

// ------------------------------------------------------------------ plain moves

/** VMOVAPS/UPS/APD/UPD and VMOVSLDUP/SHDUP/DDUP `dst, src/m` (`dup`: 0 none, 1 SLDUP, 2 SHDUP, 3 DDUP). */
function movLoad(l256: boolean, aligned: boolean, dup: number): Handler {
  const bytes = dup === 3 && !l256 ? 8 : l256 ? 32 : 16;
  const align = aligned ? (l256 ? 32 : 16) : 0;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, bytes, align, V);
    const y = Y.u32;
    for (let i = 0; i < 8; i++) {
      if (dup === 0) y[i] = V[i]!;
      else if (dup === 1) y[i] = V[i & ~1]!;
      else if (dup === 2) y[i] = V[i | 1]!;
      else y[i] = V[i & ~2]!;
    }
    commitY(sse, dstReg(ins), l256);
  };
}

/** VMOVAPS/UPS/APD/UPD/NTPS/NTPD `dst/m, src`: a register destination is a VEX move too. */
function movStore(l256: boolean, aligned: boolean): Handler {
  const bytes = l256 ? 32 : 16;
  const align = aligned ? bytes : 0;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    if (ins.op0Kind === OpKind.Register) {
      for (let i = 0; i < 8; i++) Y.u32[i] = U[i]!;
      commitY(sse, dstReg(ins), l256);
      return;
    }
    writeVexMem(cpu, ins, U, bytes, align);
  };
}

/** VMOVSS/VMOVSD `xmm1, xmm2, xmm3` (both opcodes): low element of xmm3, the rest of xmm2's low 128 bits. */
function movScalarMerge(words: number): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    readYmm(sse, vreg(ins.op2Register), V);
    for (let i = 0; i < 4; i++) Y.u32[i] = i < words ? V[i]! : U[i]!;
    commitY(sse, dstReg(ins), false);
  };
}

/** VMOVSS/VMOVSD xmm, m32/m64: the element zero-extended to 256 bits. */
function movScalarLoad(words: number): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readVexMem(cpu, ins, words * 4);
    for (let i = 0; i < 4; i++) Y.u32[i] = i < words ? M.u32[i]! : 0;
    commitY(sse, dstReg(ins), false);
  };
}

/** VMOVSS/VMOVSD m32/m64, xmm; VMOVLPS/LPD m64, xmm (`from` 0); VMOVHPS/HPD m64, xmm (`from` 2). */
function movPartStore(words: number, from: number): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    W[0] = U[from]!;
    W[1] = U[from + 1]!;
    writeVexMem(cpu, ins, W, words * 4);
  };
}

/**
 * VMOVLPS/LPD xmm1, xmm2, m64 (`high` false: m64 low, xmm2's high quadword kept) and VMOVHPS/HPD
 * (xmm2's low quadword, m64 high).
 */
function movHalfLoad(high: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    readVexMem(cpu, ins, 8);
    const y = Y.u32;
    y[0] = high ? U[0]! : M.u32[0]!;
    y[1] = high ? U[1]! : M.u32[1]!;
    y[2] = high ? M.u32[0]! : U[2]!;
    y[3] = high ? M.u32[1]! : U[3]!;
    commitY(sse, dstReg(ins), false);
  };
}

/** VMOVHLPS xmm1, xmm2, xmm3 (xmm3 high, xmm2 high) and VMOVLHPS (xmm2 low, xmm3 low). */
function movHalfReg(lh: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    readYmm(sse, vreg(ins.op2Register), V);
    const y = Y.u32;
    if (lh) {
      y[0] = U[0]!;
      y[1] = U[1]!;
      y[2] = V[0]!;
      y[3] = V[1]!;
    } else {
      y[0] = V[2]!;
      y[1] = V[3]!;
      y[2] = U[2]!;
      y[3] = U[3]!;
    }
    commitY(sse, dstReg(ins), false);
  };
}

/** VMOVMSKPS/PD r32/r64, xmm/ymm: the elements' sign bits, zero-extended. */
function movmsk(double: boolean, l256: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    const n = (l256 ? 8 : 4) / (double ? 2 : 1);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const w = double ? U[2 * i + 1]! : U[i]!;
      m |= (w >>> 31) << i;
    }
    setReg32(cpu, ins.op0Register, m);
  };
}

// ------------------------------------------------------------------ shuffles, blends, permutes

const Sh = {
  ShufPs: 0,
  ShufPd: 1,
  BlendPs: 2,
  BlendPd: 3,
  BlendvPs: 4,
  BlendvPd: 5,
  PermilPsV: 6,
  PermilPdV: 7,
} as const;

/** The three-operand `dst, src1, src2/m[, imm8 | mask]` element selections. */
function select(kind: number, l256: boolean): Handler {
  const n = l256 ? 8 : 4;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), U);
    loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, l256 ? 32 : 16, 0, V);
    const imm = ins.immediate & 0xff;
    const y = Y.u32;
    switch (kind) {
      case Sh.ShufPs:
        for (let h = 0; h < n; h += 4) {
          y[h] = U[h + (imm & 3)]!;
          y[h + 1] = U[h + ((imm >>> 2) & 3)]!;
          y[h + 2] = V[h + ((imm >>> 4) & 3)]!;
          y[h + 3] = V[h + ((imm >>> 6) & 3)]!;
        }
        break;
      case Sh.ShufPd:
        for (let h = 0; h < n; h += 4) {
          const s0 = h + ((imm >>> (h >>> 1)) & 1) * 2;
          const s1 = h + ((imm >>> ((h >>> 1) + 1)) & 1) * 2;
          y[h] = U[s0]!;
          y[h + 1] = U[s0 + 1]!;
          y[h + 2] = V[s1]!;
          y[h + 3] = V[s1 + 1]!;
        }
        break;
      case Sh.BlendPs:
        for (let i = 0; i < n; i++) y[i] = (imm >>> i) & 1 ? V[i]! : U[i]!;
        break;
      case Sh.BlendPd:
        for (let i = 0; i < n; i++) y[i] = (imm >>> (i >>> 1)) & 1 ? V[i]! : U[i]!;
        break;
      case Sh.BlendvPs:
      case Sh.BlendvPd:
        readYmm(sse, vreg(ins.op3Register), W);
        for (let i = 0; i < n; i++) {
          const m = kind === Sh.BlendvPs ? W[i]! : W[i | 1]!;
          y[i] = m >>> 31 ? V[i]! : U[i]!;
        }
        break;
      case Sh.PermilPsV:
        for (let i = 0; i < n; i++) y[i] = U[(i & 4) + (V[i]! & 3)]!;
        break;
      default:
        for (let i = 0; i < n; i++) y[i] = U[(i & 4) + ((V[i & ~1]! >>> 1) & 1) * 2 + (i & 1)]!;
        break;
    }
    commitY(sse, dstReg(ins), l256);
  };
}

/** VPERMILPS/PD `dst, src/m, imm8`. */
function permilImm(double: boolean, l256: boolean): Handler {
  const n = l256 ? 8 : 4;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, l256 ? 32 : 16, 0, V);
    const imm = ins.immediate & 0xff;
    const y = Y.u32;
    for (let i = 0; i < n; i++) {
      if (double) y[i] = V[(i & 4) + ((imm >>> (i >>> 1)) & 1) * 2 + (i & 1)]!;
      else y[i] = V[(i & 4) + ((imm >>> ((i & 3) * 2)) & 3)]!;
    }
    commitY(sse, dstReg(ins), l256);
  };
}

/** VPERM2F128 ymm1, ymm2, ymm3/m256, imm8: each lane one of src1.lo/hi, src2.lo/hi, or zero. */
const perm2f128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readYmm(sse, vreg(ins.op1Register), U);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 32, 0, V);
  const imm = ins.immediate & 0xff;
  const y = Y.u32;
  for (let h = 0; h < 2; h++) {
    const c = (imm >>> (4 * h)) & 0xf;
    const src = c & 2 ? V : U;
    const o = (c & 1) * 4;
    for (let i = 0; i < 4; i++) y[4 * h + i] = c & 8 ? 0 : src[o + i]!;
  }
  commitY(sse, dstReg(ins), true);
};

/** VINSERTF128 ymm1, ymm2, xmm3/m128, imm8: ymm2 with lane imm8[0] replaced. */
const insertf128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readYmm(sse, vreg(ins.op1Register), U);
  loadRm(cpu, ins, sse, ins.op2Kind, ins.op2Register, 16, 0, V);
  const o = (ins.immediate & 1) * 4;
  for (let i = 0; i < 8; i++) Y.u32[i] = U[i]!;
  for (let i = 0; i < 4; i++) Y.u32[o + i] = V[i]!;
  commitY(sse, dstReg(ins), true);
};

/** VEXTRACTF128 xmm1/m128, ymm2, imm8: lane imm8[0] (a register destination's bits 255:128 zeroed). */
const extractf128: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readYmm(sse, vreg(ins.op1Register), U);
  const o = (ins.immediate & 1) * 4;
  for (let i = 0; i < 4; i++) W[i] = U[o + i]!;
  if (ins.op0Kind === OpKind.Register) {
    for (let i = 0; i < 4; i++) Y.u32[i] = W[i]!;
    commitY(sse, dstReg(ins), false);
    return;
  }
  writeVexMem(cpu, ins, W, 16);
};

/** VBROADCASTSS xmm/ymm, m32; VBROADCASTSD ymm, m64; VBROADCASTF128 ymm, m128. */
function broadcast(words: number, l256: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readVexMem(cpu, ins, words * 4);
    for (let i = 0; i < 8; i++) Y.u32[i] = M.u32[i % words]!;
    commitY(sse, dstReg(ins), l256);
  };
}

/** VINSERTPS xmm1, xmm2, xmm3/m32, imm8. */
const insertps: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  readYmm(sse, vreg(ins.op1Register), U);
  const imm = ins.immediate & 0xff;
  let v: number;
  if (ins.op2Kind === OpKind.Register) v = sse.u32[vreg(ins.op2Register) * 4 + (imm >>> 6)]!;
  else {
    readVexMem(cpu, ins, 4);
    v = M.u32[0]!;
  }
  for (let i = 0; i < 4; i++) Y.u32[i] = U[i]!;
  Y.u32[(imm >>> 4) & 3] = v;
  for (let i = 0; i < 4; i++) if ((imm >>> i) & 1) Y.u32[i] = 0;
  commitY(sse, dstReg(ins), false);
};

/** VEXTRACTPS r32/r64/m32, xmm, imm8: element imm8[1:0] (zero-extended in a register). */
const extractps: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  storeElement(cpu, ins, 4, sse.u32[vreg(ins.op1Register) * 4 + (ins.immediate & 3)]!);
};

// ------------------------------------------------------------------ masked moves and tests

/**
 * VMASKMOVPS/PD xmm1/ymm1, mask (VEX.vvvv), m: the elements whose mask sign bit is set are read, the
 * others are zero; a masked-out element is not accessed, so it cannot fault.
 */
function maskLoad(double: boolean, l256: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), W);
    locate(cpu, ins);
    maskedLoad(cpu, ins, W, l256 ? 8 : 4, double);
    commitY(sse, dstReg(ins), l256);
  };
}

/** VMASKMOVPS/PD m, mask (VEX.vvvv), src: only selected elements written, all probed first. */
function maskStore(double: boolean, l256: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op1Register), W);
    readYmm(sse, vreg(ins.op2Register), V);
    locate(cpu, ins);
    maskedStore(cpu, ins, W, V, l256 ? 8 : 4, double);
  };
}

const TEST_MASK = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

/** VTESTPS/PD: ZF = no sign bit in (dst AND src), CF = none in (src AND NOT dst); AF OF PF SF cleared. */
function vtest(double: boolean, l256: boolean): Handler {
  const n = l256 ? 8 : 4;
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    readYmm(sse, vreg(ins.op0Register), U);
    loadRm(cpu, ins, sse, ins.op1Kind, ins.op1Register, l256 ? 32 : 16, 0, V);
    let and = 0;
    let andn = 0;
    for (let i = double ? 1 : 0; i < n; i += double ? 2 : 1) {
      and |= U[i]! & V[i]!;
      andn |= ~U[i]! & V[i]!;
    }
    const zf = and >>> 31 === 0 ? EFLAGS.ZF : 0;
    const cf = andn >>> 31 === 0 ? EFLAGS.CF : 0;
    setArith(cpu.flags, TEST_MASK, zf | cf);
  };
}

// ------------------------------------------------------------------ MXCSR and zeroing

const vldmxcsr: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  locate(cpu, ins);
  const v = read32(cpu, cpu.eaSeg, cpu.eaOff);
  if (v & ~MXCSR_WRITABLE) raise(Vector.GP, 0);
  sse.mxcsr = v;
};

const vstmxcsr: Handler = (cpu, ins) => {
  const sse = enterVex(cpu);
  locate(cpu, ins);
  write32(cpu, cpu.eaSeg, cpu.eaOff, sse.mxcsr);
};

/** VZEROUPPER / VZEROALL: YMM0-15 in 64-bit mode, YMM0-7 otherwise (8-15 unmodified). */
function vzero(all: boolean): Handler {
  return (cpu, ins) => {
    const sse = enterVex(cpu);
    const n = ins.bitness === 64 ? 16 : 8;
    for (let r = 0; r < n; r++) {
      zeroUpper(sse, r);
      if (all) sse.u32.fill(0, r * 4, r * 4 + 4);
    }
  };
}

// ------------------------------------------------------------------ registration

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(`VEX_V${name}`, h);
  for (const [n, aligned] of [
    ['movaps', true],
    ['movapd', true],
    ['movups', false],
    ['movupd', false],
  ] as const) {
    add(`${n}_xmm_xmmm128`, movLoad(false, aligned, 0));
    add(`${n}_ymm_ymmm256`, movLoad(true, aligned, 0));
    add(`${n}_xmmm128_xmm`, movStore(false, aligned));
    add(`${n}_ymmm256_ymm`, movStore(true, aligned));
  }
  add('movntps_m128_xmm', movStore(false, true));
  add('movntps_m256_ymm', movStore(true, true));
  add('movntpd_m128_xmm', movStore(false, true));
  add('movntpd_m256_ymm', movStore(true, true));
  add('movsldup_xmm_xmmm128', movLoad(false, false, 1));
  add('movsldup_ymm_ymmm256', movLoad(true, false, 1));
  add('movshdup_xmm_xmmm128', movLoad(false, false, 2));
  add('movshdup_ymm_ymmm256', movLoad(true, false, 2));
  add('movddup_xmm_xmmm64', movLoad(false, false, 3));
  add('movddup_ymm_ymmm256', movLoad(true, false, 3));
  add('movss_xmm_xmm_xmm', movScalarMerge(1));
  add('movss_xmm_xmm_xmm_0F11', movScalarMerge(1));
  add('movsd_xmm_xmm_xmm', movScalarMerge(2));
  add('movsd_xmm_xmm_xmm_0F11', movScalarMerge(2));
  add('movss_xmm_m32', movScalarLoad(1));
  add('movsd_xmm_m64', movScalarLoad(2));
  add('movss_m32_xmm', movPartStore(1, 0));
  add('movsd_m64_xmm', movPartStore(2, 0));
  add('movlps_m64_xmm', movPartStore(2, 0));
  add('movlpd_m64_xmm', movPartStore(2, 0));
  add('movhps_m64_xmm', movPartStore(2, 2));
  add('movhpd_m64_xmm', movPartStore(2, 2));
  add('movlps_xmm_xmm_m64', movHalfLoad(false));
  add('movlpd_xmm_xmm_m64', movHalfLoad(false));
  add('movhps_xmm_xmm_m64', movHalfLoad(true));
  add('movhpd_xmm_xmm_m64', movHalfLoad(true));
  add('movhlps_xmm_xmm_xmm', movHalfReg(false));
  add('movlhps_xmm_xmm_xmm', movHalfReg(true));
  for (const w of ['r32', 'r64']) {
    add(`movmskps_${w}_xmm`, movmsk(false, false));
    add(`movmskps_${w}_ymm`, movmsk(false, true));
    add(`movmskpd_${w}_xmm`, movmsk(true, false));
    add(`movmskpd_${w}_ymm`, movmsk(true, true));
  }
  const three = (stem: string, kind: number, tail: string): void => {
    add(`${stem}_xmm_xmm_xmmm128${tail}`, select(kind, false));
    add(`${stem}_ymm_ymm_ymmm256${tail}`, select(kind, true));
  };
  three('shufps', Sh.ShufPs, '_imm8');
  three('shufpd', Sh.ShufPd, '_imm8');
  three('blendps', Sh.BlendPs, '_imm8');
  three('blendpd', Sh.BlendPd, '_imm8');
  add('blendvps_xmm_xmm_xmmm128_xmm', select(Sh.BlendvPs, false));
  add('blendvpd_xmm_xmm_xmmm128_xmm', select(Sh.BlendvPd, false));
  add('blendvps_ymm_ymm_ymmm256_ymm', select(Sh.BlendvPs, true));
  add('blendvpd_ymm_ymm_ymmm256_ymm', select(Sh.BlendvPd, true));
  three('permilps', Sh.PermilPsV, '');
  three('permilpd', Sh.PermilPdV, '');
  add('permilps_xmm_xmmm128_imm8', permilImm(false, false));
  add('permilps_ymm_ymmm256_imm8', permilImm(false, true));
  add('permilpd_xmm_xmmm128_imm8', permilImm(true, false));
  add('permilpd_ymm_ymmm256_imm8', permilImm(true, true));
  add('perm2f128_ymm_ymm_ymmm256_imm8', perm2f128);
  add('insertf128_ymm_ymm_xmmm128_imm8', insertf128);
  add('extractf128_xmmm128_ymm_imm8', extractf128);
  add('broadcastss_xmm_m32', broadcast(1, false));
  add('broadcastss_ymm_m32', broadcast(1, true));
  add('broadcastsd_ymm_m64', broadcast(2, true));
  add('broadcastf128_ymm_m128', broadcast(4, true));
  add('insertps_xmm_xmm_xmmm32_imm8', insertps);
  add('extractps_rm32_xmm_imm8', extractps);
  add('extractps_r64m32_xmm_imm8', extractps);
  add('maskmovps_xmm_xmm_m128', maskLoad(false, false));
  add('maskmovps_ymm_ymm_m256', maskLoad(false, true));
  add('maskmovpd_xmm_xmm_m128', maskLoad(true, false));
  add('maskmovpd_ymm_ymm_m256', maskLoad(true, true));
  add('maskmovps_m128_xmm_xmm', maskStore(false, false));
  add('maskmovps_m256_ymm_ymm', maskStore(false, true));
  add('maskmovpd_m128_xmm_xmm', maskStore(true, false));
  add('maskmovpd_m256_ymm_ymm', maskStore(true, true));
  add('testps_xmm_xmmm128', vtest(false, false));
  add('testps_ymm_ymmm256', vtest(false, true));
  add('testpd_xmm_xmmm128', vtest(true, false));
  add('testpd_ymm_ymmm256', vtest(true, true));
  add('ldmxcsr_m32', vldmxcsr);
  add('stmxcsr_m32', vstmxcsr);
  add('zeroupper', vzero(false));
  add('zeroall', vzero(true));
  return list.entries;
}

export const AVX_MOVE_HANDLERS: readonly [number, Handler][] = entries();
