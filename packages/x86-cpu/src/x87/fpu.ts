// The x87 FPU state and the operations an interpreter calls, one method per instruction family.
//
// Register operands are ST(i) indices; memory operands arrive and leave as plain numbers (the
// interpreter does the memory access): loads take the raw bits, stores return whether to write and
// leave the bits in `out`. Exceptions never throw: they set status-word flags; an unmasked one sets
// ES/B and is reported by `checkPending()` at the next waiting instruction, as the hardware does.

import { SseState } from '../sse/state.js';
import {
  CW_INIT,
  CW_PC_MASK,
  CW_PC_SHIFT,
  CW_RC_MASK,
  CW_RC_SHIFT,
  EFLAGS_CF,
  EFLAGS_PF,
  EFLAGS_ZF,
  EX_ALL,
  EX_DE,
  EX_IE,
  EX_OE,
  EX_PE,
  EX_UE,
  EX_ZE,
  RC_NEAREST,
  RC_UP,
  SW_B,
  SW_C0,
  SW_C1,
  SW_C2,
  SW_C3,
  SW_ES,
  SW_SF,
  SW_TOP_MASK,
  SW_TOP_SHIFT,
  TAG_EMPTY,
  TAG_SPECIAL,
  TAG_VALID,
  TAG_ZERO,
} from './bits.js';
import {
  add,
  CLS_DENORMAL,
  CLS_INF,
  CLS_NORMAL,
  CLS_QNAN,
  CLS_SNAN,
  CLS_UNSUPPORTED,
  CLS_ZERO,
  CMP_EQ,
  CMP_GT,
  CMP_LT,
  classify,
  compare,
  div,
  EXP_MAX,
  F80,
  FloatEnv,
  floatOut,
  fromF32,
  fromF64,
  fromInt32,
  fromInt64,
  fromMagnitude,
  intOut,
  isNaNClass,
  mul,
  normalizedExponent,
  remainder,
  remResult,
  roundToInt,
  scaleBy,
  setIndefinite,
  sqrt,
  toFloat,
  toInt,
} from './softfloat.js';
import {
  TR_F2XM1,
  TR_FCOS,
  TR_FPATAN,
  TR_FPTAN,
  TR_FSIN,
  TR_FSINCOS,
  TR_FYL2X,
  TR_FYL2XP1,
  TRANS_OUT_OF_RANGE,
  transcendental,
} from './transcendental.js';

/** Arithmetic operations; values are the ModRM reg field of D8 (register and memory forms), DC/DA/DE
 * memory forms. DC/DE register forms encode SUB/SUBR and DIV/DIVR the other way round: pass reg ^ 1
 * for reg >= 4 there (DC E8+i is FSUB ST(i),ST(0) = ARITH_SUB with dst i). */
export const ARITH_ADD = 0;
export const ARITH_MUL = 1;
export const ARITH_SUB = 4;
/** dst = src - dst */
export const ARITH_SUBR = 5;
export const ARITH_DIV = 6;
/** dst = src / dst */
export const ARITH_DIVR = 7;

/** FLD constants, numbered as the D9 E8+k opcodes. */
export const CONST_ONE = 0;
export const CONST_L2T = 1;
export const CONST_L2E = 2;
export const CONST_PI = 3;
export const CONST_LG2 = 4;
export const CONST_LN2 = 5;
export const CONST_ZERO = 6;

/** checkPending results. */
export const PENDING_NONE = 0;
/** CR0.NE = 1: raise #MF before the instruction. */
export const PENDING_MF = 1;
/** CR0.NE = 0: assert FERR# (IRQ 13 on a PC) and go on, as the PC/AT wiring does. */
export const PENDING_FERR = 2;

/** FXAM classes (C3, C2, C0) as status-word bits. */
const FXAM_UNSUPPORTED = 0;
const FXAM_NAN = SW_C0;
const FXAM_NORMAL = SW_C2;
const FXAM_INFINITY = SW_C2 | SW_C0;
const FXAM_ZERO = SW_C3;
const FXAM_EMPTY = SW_C3 | SW_C0;
const FXAM_DENORMAL = SW_C3 | SW_C2;

/**
 * Constants as 64-bit significands with the rounding-dependent last bit (SDM Vol. 1, 8.3.8: the
 * internal 66-bit constants rounded by RC). [se, hi, lo rounded to nearest, lo when RC=down/zero,
 * lo when RC=up].
 */
const CONSTANTS: readonly (readonly [number, number, number, number, number])[] = [
  [0x3fff, 0x80000000, 0, 0, 0], // 1
  [0x4000, 0xd49a784b, 0xcd1b8afe, 0xcd1b8afe, 0xcd1b8aff], // log2(10)
  [0x3fff, 0xb8aa3b29, 0x5c17f0bc, 0x5c17f0bb, 0x5c17f0bc], // log2(e)
  [0x4000, 0xc90fdaa2, 0x2168c235, 0x2168c234, 0x2168c235], // pi
  [0x3ffd, 0x9a209a84, 0xfbcff799, 0xfbcff798, 0xfbcff799], // log10(2)
  [0x3ffe, 0xb17217f7, 0xd1cf79ac, 0xd1cf79ab, 0xd1cf79ac], // ln(2)
  [0, 0, 0, 0, 0], // +0
];

/** Plain, JSON-able FPU state for snapshots and migration. */
export interface X87State {
  cw: number;
  /** Status word including TOP. */
  sw: number;
  /** Bit i set when physical register i is not empty. */
  tags: number;
  fip: number;
  fcs: number;
  fop: number;
  fdp: number;
  fds: number;
  /** Physical registers R0..R7 as [sign/exponent, significand high, significand low]. */
  regs: [number, number, number][];
}

export class X87 {
  /** Physical registers R0..R7; ST(i) is regs[(top + i) & 7]. */
  readonly regs: readonly F80[] = [
    new F80(),
    new F80(),
    new F80(),
    new F80(),
    new F80(),
    new F80(),
    new F80(),
    new F80(),
  ];
  /** 1 when physical register i is empty (tag 11). The other tag values follow from the contents. */
  readonly empty = new Uint8Array(8);
  top = 0;
  /** Control word. */
  cw = CW_INIT;
  /** Status word without the TOP field (see `statusWord`). */
  sw = 0;
  /** Last instruction pointer, code selector, opcode (11 bits), data pointer and data selector. */
  fip = 0;
  fcs = 0;
  fop = 0;
  fdp = 0;
  fds = 0;
  /** Rounding parameters and flag accumulator for the current instruction. */
  readonly env = new FloatEnv();
  /** Store results: float32/int16/int32 in [0]; float64/int64 low, high in [0], [1]; m80 se in [2]. */
  readonly out = new Uint32Array(3);
  /** The SSE state (XMM registers, MXCSR) shares FXSAVE/FXRSTOR and CR0.TS with the x87 unit. */
  readonly sse = new SseState();
  /** FBSTP result, 10 bytes, least significant first. */
  readonly bcdOut = new Uint8Array(10);
  private readonly t0 = new F80();
  private readonly t1 = new F80();

  constructor() {
    this.fninit();
  }

  // ---- state helpers -----------------------------------------------------------------------------

  getState(): X87State {
    return {
      cw: this.cw,
      sw: this.statusWord,
      tags: this.abridgedTagWord,
      fip: this.fip,
      fcs: this.fcs,
      fop: this.fop,
      fdp: this.fdp,
      fds: this.fds,
      regs: this.regs.map((r) => [r.se, r.hi, r.lo]),
    };
  }

  setState(s: X87State): void {
    this.setControlWord(s.cw);
    this.statusWord = s.sw;
    this.abridgedTagWord = s.tags;
    this.fip = s.fip;
    this.fcs = s.fcs;
    this.fop = s.fop;
    this.fdp = s.fdp;
    this.fds = s.fds;
    s.regs.forEach((r, i) => {
      this.regs[i]?.set(r[0], r[1], r[2]);
    });
  }

  /** Power-up state (SDM Vol. 3, Table 9-1): CW 0040, tags valid (+0.0), everything else 0. */
  reset(): void {
    this.fninit();
    this.setControlWord(0x0040);
    this.empty.fill(0);
    for (const r of this.regs) r.set(0, 0, 0);
    this.sse.reset();
  }

  st(i: number): F80 {
    return this.regs[(this.top + i) & 7]!;
  }

  isEmpty(i: number): boolean {
    return this.empty[(this.top + i) & 7] === 1;
  }

  /** Status word with TOP. */
  get statusWord(): number {
    return (this.sw & ~SW_TOP_MASK) | (this.top << SW_TOP_SHIFT);
  }

  set statusWord(v: number) {
    this.top = (v >>> SW_TOP_SHIFT) & 7;
    this.sw = v & ~SW_TOP_MASK & 0xffff;
    this.updateSummary();
  }

  /** The full tag word (two bits per physical register), computed from the contents. */
  get tagWord(): number {
    let tw = 0;
    for (let i = 0; i < 8; i++) tw |= this.tagOf(i) << (2 * i);
    return tw;
  }

  set tagWord(tw: number) {
    for (let i = 0; i < 8; i++) this.empty[i] = ((tw >>> (2 * i)) & 3) === TAG_EMPTY ? 1 : 0;
  }

  /** The abridged tag of FXSAVE: bit i set when physical register i is not empty. */
  get abridgedTagWord(): number {
    let t = 0;
    for (let i = 0; i < 8; i++) if (this.empty[i] === 0) t |= 1 << i;
    return t;
  }

  set abridgedTagWord(t: number) {
    for (let i = 0; i < 8; i++) this.empty[i] = (t >>> i) & 1 ? 0 : 1;
  }

  private tagOf(phys: number): number {
    if (this.empty[phys] === 1) return TAG_EMPTY;
    const c = classify(this.regs[phys]!);
    if (c === CLS_ZERO) return TAG_ZERO;
    return c === CLS_NORMAL ? TAG_VALID : TAG_SPECIAL;
  }

  setControlWord(v: number): void {
    this.cw = v & 0xffff;
    const env = this.env;
    env.rc = (v & CW_RC_MASK) >>> CW_RC_SHIFT;
    const pc = (v & CW_PC_MASK) >>> CW_PC_SHIFT;
    env.precision = pc === 0 ? 24 : pc === 2 ? 53 : 64;
    env.masks = v & EX_ALL;
    this.updateSummary();
  }

  /** ES and B follow the exception flags not masked by the control word. */
  private updateSummary(): void {
    if ((this.sw & ~this.cw & EX_ALL) !== 0) this.sw |= SW_ES | SW_B;
    else this.sw &= ~(SW_ES | SW_B);
  }

  /** Records the last non-control instruction (FIP/FCS/FOP), as the CPU does before executing it. */
  recordInstruction(cs: number, ip: number, opcode: number): void {
    this.fcs = cs & 0xffff;
    this.fip = ip;
    this.fop = opcode & 0x7ff;
  }

  /** Records the memory operand of the last non-control instruction (FDP/FDS). */
  recordOperand(ds: number, address: number): void {
    this.fds = ds & 0xffff;
    this.fdp = address;
  }

  /**
   * What a waiting instruction (FWAIT or any x87 instruction without the FN prefix form) must do
   * first: PENDING_MF / PENDING_FERR when an unmasked exception is pending (ES set).
   */
  checkPending(cr0ne: boolean): number {
    if ((this.sw & SW_ES) === 0) return PENDING_NONE;
    return cr0ne ? PENDING_MF : PENDING_FERR;
  }

  private begin(): void {
    this.env.clear();
  }

  /**
   * Merge the flags raised by the current instruction. Returns false when an unmasked invalid,
   * denormal or zero-divide exception forbids writing the result (SDM Vol. 1, 8.5). C1 reports a
   * rounded-up inexact result, else 0.
   */
  private commit(): boolean {
    const f = this.env.flags;
    let sw = (this.sw | f) & ~SW_C1;
    if ((f & EX_PE) !== 0 && this.env.roundedUp) sw |= SW_C1;
    const unmasked = f & ~this.cw & EX_ALL;
    if (unmasked !== 0) sw |= SW_ES | SW_B;
    this.sw = sw;
    return (unmasked & (EX_IE | EX_DE | EX_ZE)) === 0;
  }

  /** Same for memory destinations, where unmasked overflow/underflow also suppress the store. */
  private commitStore(): boolean {
    const ok = this.commit();
    return ok && (this.env.flags & ~this.cw & (EX_OE | EX_UE)) === 0;
  }

  /** Stack underflow (IE + SF, C1 = 0). Returns true when masked: write the masked response. */
  private underflow(): boolean {
    this.sw = (this.sw | EX_IE | SW_SF) & ~SW_C1;
    if ((this.cw & EX_IE) !== 0) return true;
    this.sw |= SW_ES | SW_B;
    return false;
  }

  /** Stack overflow (IE + SF, C1 = 1). Returns true when masked. */
  private overflow(): boolean {
    this.sw |= EX_IE | SW_SF | SW_C1;
    if ((this.cw & EX_IE) !== 0) return true;
    this.sw |= SW_ES | SW_B;
    return false;
  }

  private setSt(i: number, v: F80): void {
    const p = (this.top + i) & 7;
    this.regs[p]!.copy(v);
    this.empty[p] = 0;
  }

  private setStIndefinite(i: number): void {
    const p = (this.top + i) & 7;
    setIndefinite(this.regs[p]!);
    this.empty[p] = 0;
  }

  private pop(): void {
    this.empty[this.top] = 1;
    this.top = (this.top + 1) & 7;
  }

  /** Push v, or handle stack overflow. Clears C1 on success. */
  private push(v: F80): void {
    const p = (this.top - 1) & 7;
    if (this.empty[p] === 0) {
      if (!this.overflow()) return;
      this.top = p;
      setIndefinite(this.regs[p]!);
      return;
    }
    this.top = p;
    this.regs[p]!.copy(v);
    this.empty[p] = 0;
  }

  /** True when the push target ST(-1) is free; otherwise handles the overflow (and its masked push). */
  private canPush(): boolean {
    if (this.empty[(this.top - 1) & 7] === 1) return true;
    if (this.overflow()) {
      this.top = (this.top - 1) & 7;
      setIndefinite(this.regs[this.top]!);
    }
    return false;
  }

  // ---- loads -------------------------------------------------------------------------------------

  /** FLD ST(i). */
  fldSt(i: number): void {
    this.sw &= ~SW_C1;
    if (this.isEmpty(i)) {
      if (!this.canPush()) return;
      if (this.underflow()) {
        this.top = (this.top - 1) & 7;
        this.setStIndefinite(0);
      }
      return;
    }
    this.t0.copy(this.st(i));
    this.push(this.t0);
  }

  /** FLD m32fp. */
  fldF32(bits: number): void {
    this.begin();
    this.sw &= ~SW_C1;
    if (!this.canPush()) return;
    fromF32(this.env, bits, true, this.t0);
    if (this.commit()) this.push(this.t0);
  }

  /** FLD m64fp. */
  fldF64(lo: number, hi: number): void {
    this.begin();
    this.sw &= ~SW_C1;
    if (!this.canPush()) return;
    fromF64(this.env, lo, hi, true, this.t0);
    if (this.commit()) this.push(this.t0);
  }

  /** FLD m80fp: bytes 0-7 significand (lo, hi), bytes 8-9 sign and exponent. No exceptions. */
  fldF80(lo: number, hi: number, se: number): void {
    this.sw &= ~SW_C1;
    this.t0.set(se & 0xffff, hi, lo);
    this.push(this.t0);
  }

  /** FILD m16int / m32int (v is the sign-extended integer). */
  fildI32(v: number): void {
    this.sw &= ~SW_C1;
    fromInt32(v, this.t0);
    this.push(this.t0);
  }

  /** FILD m64int. */
  fildI64(lo: number, hi: number): void {
    this.sw &= ~SW_C1;
    fromInt64(lo, hi, this.t0);
    this.push(this.t0);
  }

  /** FBLD m80bcd: 18 packed BCD digits, bytes[off] least significant, byte 9 bit 7 the sign. */
  fbld(bytes: Uint8Array, off: number): void {
    this.sw &= ~SW_C1;
    // Two 9-digit halves, each exact in a double; combined exactly through 16-bit pieces.
    let high = 0;
    let low = 0;
    for (let i = 8; i >= 0; i--) {
      const b = bytes[off + i]!;
      const d = (b >>> 4) * 10 + (b & 15); // invalid digits are undefined; they are used as is
      // Bytes 8..5 and the high nibble of byte 4 are the upper 9 digits, the rest the lower 9.
      if (i > 4) high = high * 100 + d;
      else if (i === 4) {
        high = high * 10 + (b >>> 4);
        low = b & 15;
      } else low = low * 100 + d;
    }
    // value = high * 1e9 + low, below 1e18 < 2^60.
    const hHi = Math.floor(high / 65536);
    const hLo = high % 65536;
    // high * 1e9 = hHi * 65536e9 + hLo * 1e9; split 1e9 = 15258 * 65536 + 51712.
    const lo0 = hLo * 51712 + low; // < 2^32 + 1e9
    const mid = hLo * 15258 + hHi * 51712 + Math.floor(lo0 / 65536);
    const top = hHi * 15258 + Math.floor(mid / 65536);
    const w0 = lo0 % 65536;
    const w1 = mid % 65536;
    const lo = (w1 * 65536 + w0) >>> 0;
    const hi = top >>> 0;
    fromMagnitude(bytes[off + 9]! >>> 7, hi, lo, this.t0);
    this.push(this.t0);
  }

  /** FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ (k = CONST_*). */
  fldConst(k: number): void {
    this.sw &= ~SW_C1;
    const c = CONSTANTS[k]!;
    const rc = this.env.rc;
    const lo = rc === RC_NEAREST ? c[2] : rc === RC_UP ? c[4] : c[3];
    this.t0.set(c[0], c[1], lo);
    this.push(this.t0);
  }

  // ---- stores ------------------------------------------------------------------------------------

  /** FST/FSTP ST(i). */
  fstSt(i: number, pop: boolean): void {
    this.sw &= ~SW_C1;
    if (this.isEmpty(0)) {
      if (!this.underflow()) return;
      this.setStIndefinite(i);
    } else {
      this.t0.copy(this.st(0));
      this.setSt(i, this.t0);
    }
    if (pop) this.pop();
  }

  /** FST/FSTP m32fp (bits in out[0]) or m64fp (out[0] low, out[1] high). Returns true to write. */
  fstFloat(bits: 32 | 64, pop: boolean): boolean {
    this.begin();
    if (this.isEmpty(0)) {
      if (!this.underflow()) return false;
      if (bits === 64) {
        this.out[0] = 0;
        this.out[1] = 0xfff80000;
      } else this.out[0] = 0xffc00000;
    } else {
      toFloat(this.env, this.st(0), bits);
      if (!this.commitStore()) return false;
      this.out[0] = floatOut[0]!;
      this.out[1] = floatOut[1]!;
    }
    if (pop) this.pop();
    return true;
  }

  /** FSTP m80fp: out[0] = significand low, out[1] = high, out[2] = sign/exponent. */
  fstF80(): boolean {
    this.sw &= ~SW_C1;
    if (this.isEmpty(0)) {
      if (!this.underflow()) return false;
      setIndefinite(this.t0);
    } else this.t0.copy(this.st(0));
    this.out[0] = this.t0.lo;
    this.out[1] = this.t0.hi;
    this.out[2] = this.t0.se;
    this.pop();
    return true;
  }

  /**
   * FIST/FISTP m16int/m32int/m64int (rounding by RC) and FISTTP (`truncate`, always pops). The
   * integer is in out[0] (low) and out[1] (high). Returns true to write.
   */
  fistInt(bits: 16 | 32 | 64, pop: boolean, truncate: boolean): boolean {
    this.begin();
    if (this.isEmpty(0)) {
      if (!this.underflow()) return false;
      this.out[0] = bits === 16 ? 0x8000 : bits === 32 ? 0x80000000 : 0;
      this.out[1] = bits === 64 ? 0x80000000 : 0;
    } else {
      toInt(this.env, this.st(0), bits, truncate);
      if (!this.commitStore()) return false;
      this.out[0] = intOut[0]!;
      this.out[1] = intOut[1]!;
    }
    if (pop) this.pop();
    return true;
  }

  /** FBSTP m80bcd into bcdOut. Returns true to write. */
  fbstp(): boolean {
    this.begin();
    const o = this.bcdOut;
    let ok: boolean;
    if (this.isEmpty(0)) {
      ok = this.underflow();
    } else {
      toInt(this.env, this.st(0), 64, false);
      let hi = intOut[1]!;
      let lo = intOut[0]!;
      const neg = (this.st(0).se & 0x8000) !== 0;
      if ((this.env.flags & EX_IE) === 0 && neg) {
        lo = (~lo + 1) >>> 0;
        hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
      }
      // Range: |value| <= 10^18 - 1 = 0x0DE0B6B3_A763FFFF.
      if ((this.env.flags & EX_IE) === 0 && (hi > 0x0de0b6b3 || (hi === 0x0de0b6b3 && lo > 0xa763ffff))) {
        this.env.flags |= EX_IE;
        this.env.flags &= ~EX_PE;
      }
      if ((this.env.flags & EX_IE) !== 0) {
        if (!this.commitStore()) return false;
        ok = true;
      } else {
        if (!this.commitStore()) return false;
        // 16-bit limbs divided by 100 repeatedly: two digits per byte.
        let l3 = hi >>> 16;
        let l2 = hi & 0xffff;
        let l1 = lo >>> 16;
        let l0 = lo & 0xffff;
        for (let i = 0; i < 9; i++) {
          let r = l3 % 100;
          l3 = Math.floor(l3 / 100);
          let t = r * 65536 + l2;
          l2 = Math.floor(t / 100);
          r = t % 100;
          t = r * 65536 + l1;
          l1 = Math.floor(t / 100);
          r = t % 100;
          t = r * 65536 + l0;
          l0 = Math.floor(t / 100);
          r = t % 100;
          o[i] = ((Math.floor(r / 10) << 4) | (r % 10)) & 0xff;
        }
        o[9] = neg ? 0x80 : 0;
        this.pop();
        return true;
      }
    }
    if (!ok) return false;
    // Masked invalid: the packed BCD indefinite FFFF C000 0000 0000 0000.
    o.fill(0);
    o[7] = 0xc0;
    o[8] = 0xff;
    o[9] = 0xff;
    this.pop();
    return true;
  }

  // ---- arithmetic --------------------------------------------------------------------------------

  private compute(op: number, x: F80, y: F80, out: F80): void {
    const env = this.env;
    switch (op) {
      case ARITH_ADD:
        add(env, x, y, false, out);
        break;
      case ARITH_MUL:
        mul(env, x, y, out);
        break;
      case ARITH_SUB:
        add(env, x, y, true, out);
        break;
      case ARITH_SUBR:
        add(env, y, x, true, out);
        break;
      case ARITH_DIV:
        div(env, x, y, out);
        break;
      default:
        div(env, y, x, out);
        break;
    }
  }

  /** FADD/FMUL/FSUB/FSUBR/FDIV/FDIVR ST(dst), ST(src) (and the P forms with `pop`). */
  arithSt(op: number, dst: number, src: number, pop: boolean): void {
    this.begin();
    if (this.isEmpty(dst) || this.isEmpty(src)) {
      if (!this.underflow()) return;
      this.setStIndefinite(dst);
    } else {
      this.compute(op, this.st(dst), this.st(src), this.t0);
      if (!this.commit()) return;
      this.setSt(dst, this.t0);
    }
    if (pop) this.pop();
  }

  /** ST(0) = ST(0) op operand, for an operand already converted into t1. */
  private arithOperand(op: number): void {
    if (this.isEmpty(0)) {
      if (this.underflow()) this.setStIndefinite(0);
      return;
    }
    this.compute(op, this.st(0), this.t1, this.t0);
    if (this.commit()) this.setSt(0, this.t0);
  }

  /** FADD..FDIVR m32fp. */
  arithF32(op: number, bits: number): void {
    this.begin();
    fromF32(this.env, bits, false, this.t1);
    this.arithOperand(op);
  }

  /** FADD..FDIVR m64fp. */
  arithF64(op: number, lo: number, hi: number): void {
    this.begin();
    fromF64(this.env, lo, hi, false, this.t1);
    this.arithOperand(op);
  }

  /** FIADD..FIDIVR m16int/m32int (v sign-extended). */
  arithInt(op: number, v: number): void {
    this.begin();
    fromInt32(v, this.t1);
    this.arithOperand(op);
  }

  // ---- comparisons -------------------------------------------------------------------------------

  private setCompareCodes(r: number): void {
    let cc = 0;
    if (r === CMP_LT) cc = SW_C0;
    else if (r === CMP_EQ) cc = SW_C3;
    else if (r !== CMP_GT) cc = SW_C0 | SW_C2 | SW_C3;
    this.sw = (this.sw & ~(SW_C0 | SW_C1 | SW_C2 | SW_C3)) | cc;
  }

  private compareWith(y: F80, quiet: boolean, pops: number): void {
    if (this.isEmpty(0)) {
      if (!this.underflow()) return;
      this.setCompareCodes(-1);
    } else {
      const r = compare(this.env, this.st(0), y, quiet);
      if (!this.commit()) return;
      this.setCompareCodes(r);
    }
    for (let k = 0; k < pops; k++) this.pop();
  }

  /** FCOM/FCOMP/FCOMPP (quiet false) and FUCOM/FUCOMP/FUCOMPP (quiet true) with ST(i). */
  comSt(i: number, quiet: boolean, pops: number): void {
    this.begin();
    if (this.isEmpty(i)) {
      if (!this.underflow()) return;
      this.setCompareCodes(-1);
      for (let k = 0; k < pops; k++) this.pop();
      return;
    }
    this.t1.copy(this.st(i));
    this.compareWith(this.t1, quiet, pops);
  }

  /** FCOM/FCOMP m32fp. */
  comF32(bits: number, pop: boolean): void {
    this.begin();
    fromF32(this.env, bits, false, this.t1);
    this.compareWith(this.t1, false, pop ? 1 : 0);
  }

  /** FCOM/FCOMP m64fp. */
  comF64(lo: number, hi: number, pop: boolean): void {
    this.begin();
    fromF64(this.env, lo, hi, false, this.t1);
    this.compareWith(this.t1, false, pop ? 1 : 0);
  }

  /** FICOM/FICOMP m16int/m32int. */
  comInt(v: number, pop: boolean): void {
    this.begin();
    fromInt32(v, this.t1);
    this.compareWith(this.t1, false, pop ? 1 : 0);
  }

  /** FTST: compare ST(0) with +0.0. */
  ftst(): void {
    this.begin();
    this.t1.set(0, 0, 0);
    this.compareWith(this.t1, false, 0);
  }

  /**
   * FCOMI/FCOMIP (quiet false) and FUCOMI/FUCOMIP (quiet true): returns the new ZF|PF|CF bits (the
   * caller also clears OF, SF and AF, see EFLAGS_FCOMI_MASK), or -1 when an unmasked exception
   * leaves EFLAGS unchanged.
   */
  comi(i: number, quiet: boolean, pop: boolean): number {
    this.begin();
    let r: number;
    this.sw &= ~SW_C1;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (!this.underflow()) return -1;
      r = -1;
    } else {
      r = compare(this.env, this.st(0), this.st(i), quiet);
      if (!this.commit()) return -1;
    }
    if (pop) this.pop();
    if (r === CMP_GT) return 0;
    if (r === CMP_LT) return EFLAGS_CF;
    if (r === CMP_EQ) return EFLAGS_ZF;
    return EFLAGS_ZF | EFLAGS_PF | EFLAGS_CF;
  }

  /** FXAM: class of ST(0) in C3, C2, C0 and its sign in C1 (also for an empty register). */
  fxam(): void {
    const p = this.top;
    const v = this.regs[p]!;
    let cc: number;
    if (this.empty[p] === 1) cc = FXAM_EMPTY;
    else {
      const c = classify(v);
      if (c === CLS_ZERO) cc = FXAM_ZERO;
      else if (c === CLS_NORMAL) cc = FXAM_NORMAL;
      else if (c === CLS_DENORMAL) cc = FXAM_DENORMAL;
      else if (c === CLS_INF) cc = FXAM_INFINITY;
      else if (c === CLS_QNAN || c === CLS_SNAN) cc = FXAM_NAN;
      else cc = FXAM_UNSUPPORTED;
    }
    if ((v.se & 0x8000) !== 0) cc |= SW_C1;
    this.sw = (this.sw & ~(SW_C0 | SW_C1 | SW_C2 | SW_C3)) | cc;
  }

  // ---- one-operand operations --------------------------------------------------------------------

  /** ST(0) present? Otherwise handle the underflow (masked: ST(0) = indefinite) and return false. */
  private needSt0(): boolean {
    if (!this.isEmpty(0)) return true;
    if (this.underflow()) this.setStIndefinite(0);
    return false;
  }

  /** FCHS. */
  fchs(): void {
    this.sw &= ~SW_C1;
    if (!this.needSt0()) return;
    this.st(0).se ^= 0x8000;
  }

  /** FABS. */
  fabs(): void {
    this.sw &= ~SW_C1;
    if (!this.needSt0()) return;
    this.st(0).se &= 0x7fff;
  }

  /** FSQRT (precision control applies). */
  fsqrt(): void {
    this.begin();
    if (!this.needSt0()) return;
    sqrt(this.env, this.st(0), this.t0);
    if (this.commit()) this.setSt(0, this.t0);
  }

  /** FRNDINT. */
  frndint(): void {
    this.begin();
    if (!this.needSt0()) return;
    roundToInt(this.env, this.st(0), this.t0);
    if (this.commit()) this.setSt(0, this.t0);
  }

  /** FSCALE: ST(0) = ST(0) * 2^trunc(ST(1)). */
  fscale(): void {
    this.begin();
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (this.underflow()) this.setStIndefinite(0);
      return;
    }
    const a = this.st(0);
    const b = this.st(1);
    const env = this.env;
    const ca = classify(a);
    const cb = classify(b);
    const out = this.t0;
    if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else if (isNaNClass(ca) || isNaNClass(cb)) {
      add(env, a, b, false, out); // NaN propagation only
    } else {
      if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) env.flags |= EX_DE;
      const bNeg = (b.se & 0x8000) !== 0;
      if (cb === CLS_INF) {
        if ((ca === CLS_ZERO && !bNeg) || (ca === CLS_INF && bNeg)) {
          env.flags |= EX_IE;
          setIndefinite(out);
        } else if (ca === CLS_ZERO || ca === CLS_INF) out.copy(a);
        else if (bNeg) out.set(a.se & 0x8000, 0, 0);
        else out.set((a.se & 0x8000) | EXP_MAX, 0x80000000, 0);
      } else if (ca === CLS_ZERO || ca === CLS_INF) {
        out.copy(a);
      } else {
        let n = 0;
        if (cb !== CLS_ZERO) {
          const e = normalizedExponent(b);
          if (e >= 17) n = 0x20000;
          else if (e >= 0) n = b.hi >>> (31 - e);
          if (bNeg) n = -n;
        }
        scaleBy(env, a, n, out);
      }
    }
    if (this.commit()) this.setSt(0, out);
  }

  /** FXTRACT: ST(0) = exponent, then push the significand (exponent 3FFF). */
  fxtract(): void {
    this.begin();
    if (this.isEmpty(0)) {
      if (!this.underflow()) return;
      this.setStIndefinite(0);
      if (this.canPush()) {
        setIndefinite(this.t0);
        this.push(this.t0);
      }
      return;
    }
    if (!this.canPush()) return;
    const a = this.st(0);
    const env = this.env;
    const c = classify(a);
    const expOut = this.t0;
    const sigOut = this.t1;
    if (c === CLS_UNSUPPORTED) {
      env.flags |= EX_IE;
      setIndefinite(expOut);
      setIndefinite(sigOut);
    } else if (isNaNClass(c)) {
      if (c === CLS_SNAN) env.flags |= EX_IE;
      expOut.set(a.se, a.hi | 0x40000000, a.lo);
      sigOut.copy(expOut);
    } else if (c === CLS_ZERO) {
      env.flags |= EX_ZE;
      expOut.set(0x8000 | EXP_MAX, 0x80000000, 0);
      sigOut.copy(a);
    } else if (c === CLS_INF) {
      expOut.set(EXP_MAX, 0x80000000, 0);
      sigOut.copy(a);
    } else {
      if (c === CLS_DENORMAL) env.flags |= EX_DE;
      const e = normalizedExponent(a);
      fromInt32(e, expOut);
      // Normalized significand: scale by -e keeps it exact.
      scaleBy(env, a, -e, sigOut);
    }
    if (!this.commit()) return;
    this.setSt(0, expOut);
    this.push(sigOut);
  }

  /** FPREM (`ieee` false) and FPREM1 (`ieee` true): partial remainder, quotient bits in C0/C3/C1. */
  fprem(ieee: boolean): void {
    this.begin();
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (this.underflow()) this.setStIndefinite(0);
      return;
    }
    const a = this.st(0);
    const b = this.st(1);
    const env = this.env;
    const ca = classify(a);
    const cb = classify(b);
    const out = this.t0;
    let q = 0;
    let partial = false;
    if (ca === CLS_UNSUPPORTED || cb === CLS_UNSUPPORTED) {
      env.flags |= EX_IE;
      setIndefinite(out);
    } else if (isNaNClass(ca) || isNaNClass(cb)) {
      add(env, a, b, false, out);
    } else if (ca === CLS_INF || cb === CLS_ZERO) {
      if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) env.flags |= EX_DE;
      env.flags |= EX_IE;
      setIndefinite(out);
    } else {
      if (ca === CLS_DENORMAL || cb === CLS_DENORMAL) env.flags |= EX_DE;
      if (ca === CLS_ZERO || cb === CLS_INF) out.copy(a);
      else {
        remainder(env, a, b, ieee, out);
        q = remResult.q;
        partial = remResult.partial;
      }
    }
    if (!this.commit()) return;
    this.setSt(0, out);
    let cc = 0;
    if (partial) cc = SW_C2;
    else {
      if ((q & 4) !== 0) cc |= SW_C0;
      if ((q & 2) !== 0) cc |= SW_C3;
      if ((q & 1) !== 0) cc |= SW_C1;
    }
    this.sw = (this.sw & ~(SW_C0 | SW_C1 | SW_C2 | SW_C3)) | cc;
  }

  // ---- transcendental ----------------------------------------------------------------------------

  /** F2XM1: ST(0) = 2^ST(0) - 1 (defined for -1 <= ST(0) <= 1). */
  f2xm1(): void {
    this.unaryTranscendental(TR_F2XM1);
  }

  /** FSIN: ST(0) = sin(ST(0)); |ST(0)| >= 2^63 leaves it unchanged and sets C2. */
  fsin(): void {
    this.unaryTranscendental(TR_FSIN);
  }

  /** FCOS: ST(0) = cos(ST(0)); C2 as FSIN. */
  fcos(): void {
    this.unaryTranscendental(TR_FCOS);
  }

  private unaryTranscendental(op: number): void {
    this.begin();
    if (!this.needSt0()) return;
    const r = transcendental(this.env, op, this.st(0), this.st(0), this.t0, this.t1);
    if (r === TRANS_OUT_OF_RANGE) {
      this.sw = (this.sw & ~SW_C1) | SW_C2;
      return;
    }
    if (!this.commit()) return;
    this.sw &= ~SW_C2;
    this.setSt(0, this.t0);
  }

  /** FYL2X (`plusOne` false) and FYL2XP1 (true): ST(1) = ST(1) * log2(ST(0) [+ 1]), pop. */
  fyl2x(plusOne: boolean): void {
    this.binaryTranscendental(plusOne ? TR_FYL2XP1 : TR_FYL2X);
  }

  /** FPATAN: ST(1) = atan(ST(1) / ST(0)) with the quadrant of (ST(0), ST(1)), pop. */
  fpatan(): void {
    this.binaryTranscendental(TR_FPATAN);
  }

  private binaryTranscendental(op: number): void {
    this.begin();
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (!this.underflow()) return;
      this.setStIndefinite(1);
      this.pop();
      return;
    }
    transcendental(this.env, op, this.st(0), this.st(1), this.t0, this.t1);
    if (!this.commit()) return;
    this.setSt(1, this.t0);
    this.pop();
  }

  /** FPTAN: ST(0) = tan(ST(0)), then push 1.0; out of range sets C2 and changes nothing. */
  fptan(): void {
    this.pushingTranscendental(TR_FPTAN);
  }

  /** FSINCOS: ST(0) = sin, then push cos; out of range as FPTAN. */
  fsincos(): void {
    this.pushingTranscendental(TR_FSINCOS);
  }

  private pushingTranscendental(op: number): void {
    this.begin();
    if (this.isEmpty(0)) {
      if (!this.underflow()) return;
      this.setStIndefinite(0);
      if (this.canPush()) {
        setIndefinite(this.t0);
        this.push(this.t0);
      }
      return;
    }
    if (!this.canPush()) return;
    const r = transcendental(this.env, op, this.st(0), this.st(0), this.t0, this.t1);
    if (r === TRANS_OUT_OF_RANGE) {
      this.sw = (this.sw & ~SW_C1) | SW_C2;
      return;
    }
    if (!this.commit()) return;
    this.sw &= ~SW_C2;
    this.setSt(0, this.t0);
    this.push(this.t1);
  }

  // ---- stack and register management -------------------------------------------------------------

  /** FXCH ST(i). */
  fxch(i: number): void {
    this.sw &= ~SW_C1;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (!this.underflow()) return;
      if (this.isEmpty(0)) this.setStIndefinite(0);
      if (this.isEmpty(i)) this.setStIndefinite(i);
    }
    this.t0.copy(this.st(0));
    this.st(0).copy(this.st(i));
    this.st(i).copy(this.t0);
  }

  /** FFREE ST(i); FFREEP (DF C0+i) pops afterwards. */
  ffree(i: number, pop: boolean): void {
    this.empty[(this.top + i) & 7] = 1;
    if (pop) this.pop();
  }

  /** FINCSTP. */
  fincstp(): void {
    this.sw &= ~SW_C1;
    this.top = (this.top + 1) & 7;
  }

  /** FDECSTP. */
  fdecstp(): void {
    this.sw &= ~SW_C1;
    this.top = (this.top - 1) & 7;
  }

  /** FCMOVcc ST(0), ST(i): the caller evaluates the EFLAGS condition. */
  fcmov(i: number, condition: boolean): void {
    this.sw &= ~SW_C1;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (this.underflow() && condition) this.setStIndefinite(0);
      return;
    }
    if (condition) {
      this.t0.copy(this.st(i));
      this.setSt(0, this.t0);
    }
  }

  // ---- control -----------------------------------------------------------------------------------

  /** FNINIT/FINIT. */
  fninit(): void {
    this.setControlWord(CW_INIT);
    this.sw = 0;
    this.top = 0;
    this.empty.fill(1);
    this.fip = 0;
    this.fcs = 0;
    this.fop = 0;
    this.fdp = 0;
    this.fds = 0;
  }

  /** FNCLEX/FCLEX: clears the exception flags, SF, ES and B. */
  fnclex(): void {
    this.sw &= ~(EX_ALL | SW_SF | SW_ES | SW_B);
  }

  /** FLDCW. An unmasked pending flag makes ES (and the next waiting instruction) fault. */
  fldcw(v: number): void {
    this.setControlWord(v);
  }

  /** FNSTCW. */
  fstcw(): number {
    return this.cw;
  }

  /** FNSTSW (m16 or AX). */
  fstsw(): number {
    return this.statusWord;
  }
}
