/**
 * Table-driven x86 decoder (SDM Vol. 2, chapter 2 "Instruction Format"). The steps are named after
 * the spec: legacy prefixes, REX, VEX, opcode map, ModRM, SIB, displacement, immediates.
 *
 * `decodeInto` is the allocation-free hot path: it writes into a caller-owned `Instruction`.
 */
import type {
  DecodeError as DecodeErrorT,
  FlowControl as FlowControlT,
  OpKind as OpKindT,
} from './instruction.js';
import {
  type Bitness,
  Instruction,
  DecodeError as DecodeError_,
  FlowControl as FlowControl_,
  OpKind as OpKind_,
  Prefix as Prefix_,
  RepPrefix as RepPrefix_,
} from './instruction.js';
import { Register as Register_ } from './registers.js';
import { Code as Code_, OperandSpec as K_ } from './table.gen.js';
import {
  ATTR_IGNORES_MOD as ATTR_IGNORES_MOD_,
  ATTR_LOCK as ATTR_LOCK_,
  ATTR_REP as ATTR_REP_,
  ATTR_REPNE as ATTR_REPNE_,
  CAND as CAND_,
  CAND_MASK as CAND_MASK_,
  CAND_START as CAND_START_,
  CAND_VALUE as CAND_VALUE_,
  KEY_HAS_MODRM as KEY_HAS_MODRM_,
  MP_66 as MP_66_,
  MP_F2 as MP_F2_,
  MP_F3 as MP_F3_,
  T_CPUID as T_CPUID_,
  T_CPUID2 as T_CPUID2_,
  T_ENDS_BLOCK as T_ENDS_BLOCK_,
  T_FLAGS_READ as T_FLAGS_READ_,
  T_FLAGS_UNDEF as T_FLAGS_UNDEF_,
  T_FLAGS_WRITTEN as T_FLAGS_WRITTEN_,
  T_FLOW as T_FLOW_,
  T_HAS_MODRM as T_HAS_MODRM_,
  T_MEMSIZE as T_MEMSIZE_,
  T_MNEMONIC as T_MNEMONIC_,
  T_MP as T_MP_,
  T_OPCOUNT as T_OPCOUNT_,
  T_OPS as T_OPS_,
  T_OSMODE as T_OSMODE_,
  T_USES_VVVV as T_USES_VVVV_,
  T_ATTR as T_ATTR_,
  T_VSIB as T_VSIB_,
  S_ASZ_SHIFT as S_ASZ_SHIFT_,
  S_MOD3 as S_MOD3_,
  S_MODE16 as S_MODE16_,
  S_MODE32 as S_MODE32_,
  S_MODE64 as S_MODE64_,
  S_MP66 as S_MP66_,
  S_MPF2 as S_MPF2_,
  S_MPF3 as S_MPF3_,
  S_MPN as S_MPN_,
  S_OS66_SHIFT as S_OS66_SHIFT_,
  S_OSD_SHIFT as S_OSD_SHIFT_,
  S_OSF_SHIFT as S_OSF_SHIFT_,
  S_OSN_SHIFT as S_OSN_SHIFT_,
  S_REG_SHIFT as S_REG_SHIFT_,
  S_REXB as S_REXB_,
  S_RM_SHIFT as S_RM_SHIFT_,
  S_VL as S_VL_,
  S_VW as S_VW_,
  S_VWX as S_VWX_,
  S_VWY as S_VWY_,
} from './tables.js';

// Module-local aliases of the imported tables and enums: V8 loads imported bindings through their
// module cell on every access (about 3x slower in a hot loop); local consts are folded.
const ATTR_IGNORES_MOD = ATTR_IGNORES_MOD_;
const ATTR_LOCK = ATTR_LOCK_;
const ATTR_REP = ATTR_REP_;
const ATTR_REPNE = ATTR_REPNE_;
const CAND = CAND_;
const CAND_MASK = CAND_MASK_;
const CAND_START = CAND_START_;
const CAND_VALUE = CAND_VALUE_;
const KEY_HAS_MODRM = KEY_HAS_MODRM_;
const MP_66 = MP_66_;
const MP_F2 = MP_F2_;
const MP_F3 = MP_F3_;
const T_CPUID = T_CPUID_;
const T_CPUID2 = T_CPUID2_;
const T_ENDS_BLOCK = T_ENDS_BLOCK_;
const T_FLAGS_READ = T_FLAGS_READ_;
const T_FLAGS_UNDEF = T_FLAGS_UNDEF_;
const T_FLAGS_WRITTEN = T_FLAGS_WRITTEN_;
const T_FLOW = T_FLOW_;
const T_HAS_MODRM = T_HAS_MODRM_;
const T_MEMSIZE = T_MEMSIZE_;
const T_MNEMONIC = T_MNEMONIC_;
const T_MP = T_MP_;
const T_OPCOUNT = T_OPCOUNT_;
const T_OPS = T_OPS_;
const T_OSMODE = T_OSMODE_;
const T_USES_VVVV = T_USES_VVVV_;
const T_ATTR = T_ATTR_;
const T_VSIB = T_VSIB_;
const S_ASZ_SHIFT = S_ASZ_SHIFT_;
const S_MOD3 = S_MOD3_;
const S_MODE16 = S_MODE16_;
const S_MODE32 = S_MODE32_;
const S_MODE64 = S_MODE64_;
const S_MP66 = S_MP66_;
const S_MPF2 = S_MPF2_;
const S_MPF3 = S_MPF3_;
const S_MPN = S_MPN_;
const S_OS66_SHIFT = S_OS66_SHIFT_;
const S_OSD_SHIFT = S_OSD_SHIFT_;
const S_OSF_SHIFT = S_OSF_SHIFT_;
const S_OSN_SHIFT = S_OSN_SHIFT_;
const S_REG_SHIFT = S_REG_SHIFT_;
const S_REXB = S_REXB_;
const S_RM_SHIFT = S_RM_SHIFT_;
const S_VL = S_VL_;
const S_VW = S_VW_;
const S_VWX = S_VWX_;
const S_VWY = S_VWY_;
const DecodeError = DecodeError_;
const FlowControl = FlowControl_;
const OpKind = OpKind_;
const Prefix = Prefix_;
const RepPrefix = RepPrefix_;
const Register = Register_;
const XBEGIN_REL16: number = Code_.Xbegin_rel16;
const XBEGIN_REL32: number = Code_.Xbegin_rel32;
const K = K_;

/** Maximum instruction length (SDM 2.3.11): longer encodings raise #GP. */
export const MAX_INSTRUCTION_LENGTH = 15;

// Prefix classes for the first-byte scan.
const PK_NONE = 0;
const PK_SEG = 1;
const PK_66 = 2;
const PK_67 = 3;
const PK_LOCK = 4;
const PK_F2 = 5;
const PK_F3 = 6;
const PREFIX_KIND = new Uint8Array(256);
PREFIX_KIND[0x26] = PK_SEG;
PREFIX_KIND[0x2e] = PK_SEG;
PREFIX_KIND[0x36] = PK_SEG;
PREFIX_KIND[0x3e] = PK_SEG;
PREFIX_KIND[0x64] = PK_SEG;
PREFIX_KIND[0x65] = PK_SEG;
PREFIX_KIND[0x66] = PK_66;
PREFIX_KIND[0x67] = PK_67;
PREFIX_KIND[0xf0] = PK_LOCK;
PREFIX_KIND[0xf2] = PK_F2;
PREFIX_KIND[0xf3] = PK_F3;
const SEG_OF_PREFIX = new Uint8Array(256);
SEG_OF_PREFIX[0x26] = Register.ES;
SEG_OF_PREFIX[0x2e] = Register.CS;
SEG_OF_PREFIX[0x36] = Register.SS;
SEG_OF_PREFIX[0x3e] = Register.DS;
SEG_OF_PREFIX[0x64] = Register.FS;
SEG_OF_PREFIX[0x65] = Register.GS;
const PREFIX_BIT_OF_SEG = new Uint16Array(Register.GS + 1);
PREFIX_BIT_OF_SEG[Register.ES] = Prefix.Es;
PREFIX_BIT_OF_SEG[Register.CS] = Prefix.Cs;
PREFIX_BIT_OF_SEG[Register.SS] = Prefix.Ss;
PREFIX_BIT_OF_SEG[Register.DS] = Prefix.Ds;
PREFIX_BIT_OF_SEG[Register.FS] = Prefix.Fs;
PREFIX_BIT_OF_SEG[Register.GS] = Prefix.Gs;

// 16-bit ModRM addressing (SDM Table 2-1): base and index per rm.
const RM16_BASE = [
  Register.BX,
  Register.BX,
  Register.BP,
  Register.BP,
  Register.SI,
  Register.DI,
  Register.BP,
  Register.BX,
];
const RM16_INDEX = [Register.SI, Register.DI, Register.SI, Register.DI, 0, 0, 0, 0];

// ---- decode cursor (module state: no per-call allocation) ----

/**
 * Decode cursor and per-instruction state. One module-local object: V8 folds the constant object and
 * loads its fields directly (module-level `let`s cost a cell load and a hole check per access).
 */
class DecodeState {
  buf: Uint8Array = new Uint8Array(0);
  pos = 0;
  limit = 0;
  overrun = false;
  bitness: Bitness = 64;
  rexW = 0;
  rexR = 0;
  rexX = 0;
  rexB = 0;
  hasRex = false;
  vexV = 0;
  vexL = 0;
  modrm = -1;
  mod = 0;
  reg = 0;
  rm = 0;
  isByte = -1;
  operandSize = 32;
  addressSize = 32;
  segOverride = 0;
}
const st = new DecodeState();

function readByte(): number {
  if (st.pos >= st.limit) {
    st.overrun = true;
    return 0;
  }
  return st.buf[st.pos++]!;
}

function readU16(): number {
  const lo = readByte();
  return lo | (readByte() << 8);
}

function readU32(): number {
  const a = readByte();
  const b = readByte();
  const c = readByte();
  return (a | (b << 8) | (c << 16) | (readByte() << 24)) >>> 0;
}

// ---- per-instruction decode state ----

function gpr8(idx: number): number {
  if (idx < 4) return Register.AL + idx;
  if (idx < 8) return st.hasRex ? Register.SPL + idx - 4 : Register.AH + idx - 4;
  return Register.R8L + idx - 8;
}

function wrapIp(v: number): number {
  if (st.bitness === 64) return v;
  return st.bitness === 32 ? v >>> 0 : (v >>> 0) & 0xffff;
}

function wrapToSize(v: number, size: number): number {
  if (size === 64) return v;
  return size === 32 ? v >>> 0 : (v >>> 0) & 0xffff;
}

/** Reads SIB/displacement of a ModRM memory operand (SDM 2.1.5) into `out`. Returns false if invalid. */
function decodeModrmMemory(out: Instruction, vsib: number): boolean {
  out.memIndex = Register.None;
  out.memScale = 1;
  out.memDisplacementHi = 0;
  out.memDisplacement = 0;
  out.memDisplSize = 0;
  let base: number = Register.None;
  let ssDefault = false;
  if (st.addressSize === 16) {
    if (vsib !== 0) return false;
    if (st.mod === 0 && st.rm === 6) {
      out.memDisplacement = readU16();
      out.memDisplSize = 2;
    } else {
      base = RM16_BASE[st.rm]!;
      out.memIndex = RM16_INDEX[st.rm]!;
      ssDefault = base === Register.BP;
      if (st.mod === 1) {
        out.memDisplacement = (readByte() << 24) >> 24;
        out.memDisplSize = 1;
      } else if (st.mod === 2) {
        out.memDisplacement = (readU16() << 16) >> 16;
        out.memDisplSize = 2;
      }
    }
  } else {
    const gprBase = st.addressSize === 64 ? Register.RAX : Register.EAX;
    if ((st.rm & 7) === 4) {
      const sib = readByte();
      const scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | (st.rexX << 3);
      const b = sib & 7;
      if (vsib !== 0) {
        out.memIndex = vsib + idx;
        out.memScale = 1 << scale;
      } else if (idx !== 4) {
        out.memIndex = gprBase + idx;
        out.memScale = 1 << scale;
      }
      if (b === 5 && st.mod === 0) {
        base = Register.None;
        out.memDisplacement = readU32() | 0;
        out.memDisplSize = 4;
      } else {
        base = gprBase + (b | (st.rexB << 3));
        ssDefault = b === 4 || b === 5;
      }
    } else if (vsib !== 0) {
      return false;
    } else if (st.mod === 0 && (st.rm & 7) === 5) {
      out.memDisplacement = readU32() | 0;
      out.memDisplSize = 4;
      base = st.bitness === 64 ? (st.addressSize === 64 ? Register.RIP : Register.EIP) : Register.None;
    } else {
      base = gprBase + (st.rm | (st.rexB << 3));
      ssDefault = (st.rm & 7) === 5 || (st.rm & 7) === 4;
    }
    if (st.mod === 1) {
      out.memDisplacement = (readByte() << 24) >> 24;
      out.memDisplSize = 1;
    } else if (st.mod === 2) {
      out.memDisplacement = readU32() | 0;
      out.memDisplSize = 4;
    }
  }
  if (out.memDisplacement < 0) out.memDisplacementHi = -1;
  out.memBase = base;
  out.memSegment = st.segOverride !== 0 ? st.segOverride : ssDefault ? Register.SS : Register.DS;
  return true;
}

function setOperand(out: Instruction, i: number, kind: OpKindT, register: number): void {
  switch (i) {
    case 0:
      out.op0Kind = kind;
      out.op0Register = register;
      break;
    case 1:
      out.op1Kind = kind;
      out.op1Register = register;
      break;
    case 2:
      out.op2Kind = kind;
      out.op2Register = register;
      break;
    case 3:
      out.op3Kind = kind;
      out.op3Register = register;
      break;
    default:
      out.op4Kind = kind;
      out.op4Register = register;
  }
}

function readIsByte(): number {
  if (st.isByte < 0) st.isByte = readByte();
  return st.isByte;
}

/** Operand decoding classes: the hot operand kinds get a literal-valued class so the switch is a jump table. */
const enum Op {
  RmGpr8 = 0,
  Rm = 1,
  Rm3 = 2,
  RegGpr8 = 3,
  Reg = 4,
  Reg3 = 5,
  RmOnly = 6,
  Mem = 7,
  Vvvv = 8,
  OpcGpr8 = 9,
  OpcReg = 10,
  Fixed = 11,
  Imm8 = 12,
  Imm8s16 = 13,
  Imm8s32 = 14,
  Imm8s64 = 15,
  Imm16 = 16,
  Imm32 = 17,
  Imm32s64 = 18,
  Br8 = 19,
  Br32 = 20,
  Other = 21,
}

/** Per Code and operand: `Op` class and register base (`OP_CLASS[code * 5 + i]`). */
const OP_CLASS = new Uint8Array(T_OPS.length).fill(Op.Other);
const OP_BASE = new Uint16Array(T_OPS.length);
{
  const classes: [number, Op, number][] = [
    [K.r8_or_mem, Op.RmGpr8, 0],
    [K.r16_or_mem, Op.Rm, Register.AX],
    [K.r32_or_mem, Op.Rm, Register.EAX],
    [K.r64_or_mem, Op.Rm, Register.RAX],
    [K.xmm_or_mem, Op.Rm, Register.XMM0],
    [K.ymm_or_mem, Op.Rm, Register.YMM0],
    [K.mm_or_mem, Op.Rm3, Register.MM0],
    [K.k_or_mem, Op.Rm3, Register.K0],
    [K.r8_reg, Op.RegGpr8, 0],
    [K.r16_reg, Op.Reg, Register.AX],
    [K.r32_reg, Op.Reg, Register.EAX],
    [K.r64_reg, Op.Reg, Register.RAX],
    [K.xmm_reg, Op.Reg, Register.XMM0],
    [K.ymm_reg, Op.Reg, Register.YMM0],
    [K.mm_reg, Op.Reg3, Register.MM0],
    [K.r16_rm, Op.RmOnly, Register.AX],
    [K.r32_rm, Op.RmOnly, Register.EAX],
    [K.r64_rm, Op.RmOnly, Register.RAX],
    [K.xmm_rm, Op.RmOnly, Register.XMM0],
    [K.ymm_rm, Op.RmOnly, Register.YMM0],
    [K.mem, Op.Mem, 0],
    [K.xmm_vvvv, Op.Vvvv, Register.XMM0],
    [K.ymm_vvvv, Op.Vvvv, Register.YMM0],
    [K.r32_vvvv, Op.Vvvv, Register.EAX],
    [K.r64_vvvv, Op.Vvvv, Register.RAX],
    [K.r8_opcode, Op.OpcGpr8, 0],
    [K.r16_opcode, Op.OpcReg, Register.AX],
    [K.r32_opcode, Op.OpcReg, Register.EAX],
    [K.r64_opcode, Op.OpcReg, Register.RAX],
    [K.al, Op.Fixed, Register.AL],
    [K.cl, Op.Fixed, Register.CL],
    [K.ax, Op.Fixed, Register.AX],
    [K.dx, Op.Fixed, Register.DX],
    [K.eax, Op.Fixed, Register.EAX],
    [K.rax, Op.Fixed, Register.RAX],
    [K.st0, Op.Fixed, Register.ST0],
    [K.imm8, Op.Imm8, 0],
    [K.imm8sex16, Op.Imm8s16, 0],
    [K.imm8sex32, Op.Imm8s32, 0],
    [K.imm8sex64, Op.Imm8s64, 0],
    [K.imm16, Op.Imm16, 0],
    [K.imm32, Op.Imm32, 0],
    [K.imm32sex64, Op.Imm32s64, 0],
    [K.br16_1, Op.Br8, 0],
    [K.br32_1, Op.Br8, 0],
    [K.br64_1, Op.Br8, 0],
    [K.br32_4, Op.Br32, 0],
    [K.br64_4, Op.Br32, 0],
  ];
  const byspec = new Map(classes.map(([s, c, b]) => [s, [c, b] as const]));
  for (let i = 0; i < T_OPS.length; i++) {
    const e = byspec.get(T_OPS[i]!);
    if (e) {
      OP_CLASS[i] = e[0];
      OP_BASE[i] = e[1];
    }
  }
}

/** Fills operand `i` of `code`. Returns false when the encoding is invalid. */
function decodeOperandFast(out: Instruction, code: number, i: number, opcode: number): boolean {
  const x = code * 5 + i;
  const base = OP_BASE[x]!;
  switch (OP_CLASS[x]! as Op) {
    case Op.RmGpr8:
      if (st.mod === 3) setOperand(out, i, OpKind.Register, gpr8(st.rm | (st.rexB << 3)));
      else setOperand(out, i, OpKind.Memory, 0);
      return true;
    case Op.Rm:
      if (st.mod === 3) setOperand(out, i, OpKind.Register, base + (st.rm | (st.rexB << 3)));
      else setOperand(out, i, OpKind.Memory, 0);
      return true;
    case Op.Rm3:
      if (st.mod === 3) setOperand(out, i, OpKind.Register, base + st.rm);
      else setOperand(out, i, OpKind.Memory, 0);
      return true;
    case Op.RegGpr8:
      setOperand(out, i, OpKind.Register, gpr8(st.reg | (st.rexR << 3)));
      return true;
    case Op.Reg:
      setOperand(out, i, OpKind.Register, base + (st.reg | (st.rexR << 3)));
      return true;
    case Op.Reg3:
      setOperand(out, i, OpKind.Register, base + st.reg);
      return true;
    case Op.RmOnly:
      setOperand(out, i, OpKind.Register, base + (st.rm | (st.rexB << 3)));
      return true;
    case Op.Mem:
      setOperand(out, i, OpKind.Memory, 0);
      return true;
    case Op.Vvvv:
      setOperand(out, i, OpKind.Register, base + st.vexV);
      return true;
    case Op.OpcGpr8:
      setOperand(out, i, OpKind.Register, gpr8((opcode & 7) | (st.rexB << 3)));
      return true;
    case Op.OpcReg:
      setOperand(out, i, OpKind.Register, base + ((opcode & 7) | (st.rexB << 3)));
      return true;
    case Op.Fixed:
      setOperand(out, i, OpKind.Register, base);
      return true;
    case Op.Imm8:
      if (out.immediateHi === -2) {
        // second immediate (ENTER imm16, imm8; EXTRQ imm8, imm8)
        out.immediate2 = readByte();
        setOperand(out, i, OpKind.Immediate8_2nd, 0);
        return true;
      }
      out.immediate = readByte();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8, 0);
      return true;
    case Op.Imm8s16:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to16, 0);
      return true;
    case Op.Imm8s32:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to32, 0);
      return true;
    case Op.Imm8s64:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to64, 0);
      return true;
    case Op.Imm16:
      out.immediate = readU16();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate16, 0);
      return true;
    case Op.Imm32:
      out.immediate = readU32();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate32, 0);
      return true;
    case Op.Imm32s64:
      out.immediate = readU32() | 0;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate32to64, 0);
      return true;
    case Op.Br8:
      out.branchDisplacement = (readByte() << 24) >> 24;
      setOperand(out, i, OpKind.NearBranch, 0);
      return true;
    case Op.Br32:
      out.branchDisplacement = readU32() | 0;
      setOperand(out, i, OpKind.NearBranch, 0);
      return true;
    default:
      return decodeOperand(out, i, T_OPS[x]!, opcode);
  }
}

/** Fills operand `i` from its spec. Returns false when the encoding is invalid. */
function decodeOperand(out: Instruction, i: number, spec: number, opcode: number): boolean {
  const regIdx = st.reg | (st.rexR << 3);
  const rmIdx = st.rm | (st.rexB << 3);
  const R = OpKind.Register;
  switch (spec) {
    case K.r8_or_mem:
      if (st.mod === 3) setOperand(out, i, R, gpr8(rmIdx));
      else setOperand(out, i, OpKind.Memory, 0);
      return true;
    case K.r16_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.AX + rmIdx : 0);
      return true;
    case K.r32_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.EAX + rmIdx : 0);
      return true;
    case K.r64_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.RAX + rmIdx : 0);
      return true;
    case K.mm_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.MM0 + st.rm : 0);
      return true;
    case K.xmm_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.XMM0 + rmIdx : 0);
      return true;
    case K.ymm_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.YMM0 + rmIdx : 0);
      return true;
    case K.k_or_mem:
      setOperand(out, i, st.mod === 3 ? R : OpKind.Memory, st.mod === 3 ? Register.K0 + st.rm : 0);
      return true;
    case K.r8_reg:
      setOperand(out, i, R, gpr8(regIdx));
      return true;
    case K.r16_reg:
      setOperand(out, i, R, Register.AX + regIdx);
      return true;
    case K.r32_reg:
      setOperand(out, i, R, Register.EAX + regIdx);
      return true;
    case K.r64_reg:
      setOperand(out, i, R, Register.RAX + regIdx);
      return true;
    case K.r16_reg_mem:
    case K.r32_reg_mem:
    case K.r64_reg_mem:
      setOperand(
        out,
        i,
        R,
        (st.addressSize === 16 ? Register.AX : st.addressSize === 32 ? Register.EAX : Register.RAX) + regIdx,
      );
      return true;
    case K.mm_reg:
      setOperand(out, i, R, Register.MM0 + st.reg);
      return true;
    case K.xmm_reg:
      setOperand(out, i, R, Register.XMM0 + regIdx);
      return true;
    case K.ymm_reg:
      setOperand(out, i, R, Register.YMM0 + regIdx);
      return true;
    case K.k_reg:
      if (st.rexR) return false;
      setOperand(out, i, R, Register.K0 + st.reg);
      return true;
    case K.tmm_reg:
      if (st.rexR) return false;
      setOperand(out, i, R, Register.TMM0 + st.reg);
      return true;
    case K.cr_reg:
      // Only CR0, CR2, CR3, CR4 and CR8 exist (SDM 2.5 "Control registers").
      if (regIdx === 1 || (regIdx >= 5 && regIdx !== 8)) return false;
      setOperand(out, i, R, Register.CR0 + regIdx);
      return true;
    case K.dr_reg:
      if (regIdx > 7) return false;
      setOperand(out, i, R, Register.DR0 + regIdx);
      return true;
    case K.seg_reg:
      // MOV Sreg, r/m cannot load CS (SDM MOV: "#UD if attempt is made to load the CS register").
      if (st.reg > 5 || (st.reg === 1 && i === 0)) return false;
      setOperand(out, i, R, Register.ES + st.reg);
      return true;
    case K.r16_rm:
      setOperand(out, i, R, Register.AX + rmIdx);
      return true;
    case K.r32_rm:
      setOperand(out, i, R, Register.EAX + rmIdx);
      return true;
    case K.r64_rm:
      setOperand(out, i, R, Register.RAX + rmIdx);
      return true;
    case K.mm_rm:
      setOperand(out, i, R, Register.MM0 + st.rm);
      return true;
    case K.xmm_rm:
      setOperand(out, i, R, Register.XMM0 + rmIdx);
      return true;
    case K.ymm_rm:
      setOperand(out, i, R, Register.YMM0 + rmIdx);
      return true;
    case K.k_rm:
      setOperand(out, i, R, Register.K0 + st.rm);
      return true;
    case K.tmm_rm:
      if (st.rexB) return false;
      setOperand(out, i, R, Register.TMM0 + st.rm);
      return true;
    case K.mem:
    case K.sibmem:
    case K.mem_vsib32x:
    case K.mem_vsib32y:
    case K.mem_vsib64x:
    case K.mem_vsib64y:
      setOperand(out, i, OpKind.Memory, 0);
      return true;
    case K.xmm_vvvv:
      setOperand(out, i, R, Register.XMM0 + st.vexV);
      return true;
    case K.ymm_vvvv:
      setOperand(out, i, R, Register.YMM0 + st.vexV);
      return true;
    case K.r32_vvvv:
      setOperand(out, i, R, Register.EAX + st.vexV);
      return true;
    case K.r64_vvvv:
      setOperand(out, i, R, Register.RAX + st.vexV);
      return true;
    case K.k_vvvv:
      if (st.vexV > 7) return false;
      setOperand(out, i, R, Register.K0 + st.vexV);
      return true;
    case K.tmm_vvvv:
      if (st.vexV > 7) return false;
      setOperand(out, i, R, Register.TMM0 + st.vexV);
      return true;
    case K.r8_opcode:
      setOperand(out, i, R, gpr8((opcode & 7) | (st.rexB << 3)));
      return true;
    case K.r16_opcode:
      setOperand(out, i, R, Register.AX + ((opcode & 7) | (st.rexB << 3)));
      return true;
    case K.r32_opcode:
      setOperand(out, i, R, Register.EAX + ((opcode & 7) | (st.rexB << 3)));
      return true;
    case K.r64_opcode:
      setOperand(out, i, R, Register.RAX + ((opcode & 7) | (st.rexB << 3)));
      return true;
    case K.sti_opcode:
      setOperand(out, i, R, Register.ST0 + st.rm);
      return true;
    case K.al:
      setOperand(out, i, R, Register.AL);
      return true;
    case K.cl:
      setOperand(out, i, R, Register.CL);
      return true;
    case K.ax:
      setOperand(out, i, R, Register.AX);
      return true;
    case K.dx:
      setOperand(out, i, R, Register.DX);
      return true;
    case K.eax:
      setOperand(out, i, R, Register.EAX);
      return true;
    case K.rax:
      setOperand(out, i, R, Register.RAX);
      return true;
    case K.st0:
      setOperand(out, i, R, Register.ST0);
      return true;
    case K.es:
      setOperand(out, i, R, Register.ES);
      return true;
    case K.cs:
      setOperand(out, i, R, Register.CS);
      return true;
    case K.ss:
      setOperand(out, i, R, Register.SS);
      return true;
    case K.ds:
      setOperand(out, i, R, Register.DS);
      return true;
    case K.fs:
      setOperand(out, i, R, Register.FS);
      return true;
    case K.gs:
      setOperand(out, i, R, Register.GS);
      return true;
    case K.imm8:
      if (out.immediateHi === -2) {
        // second immediate (ENTER imm16, imm8; EXTRQ imm8, imm8)
        out.immediate2 = readByte();
        setOperand(out, i, OpKind.Immediate8_2nd, 0);
        return true;
      }
      out.immediate = readByte();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8, 0);
      return true;
    case K.imm8_const_1:
      out.immediate = 1;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8, 0);
      return true;
    case K.imm16:
      out.immediate = readU16();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate16, 0);
      return true;
    case K.imm32:
      out.immediate = readU32();
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate32, 0);
      return true;
    case K.imm64:
      out.immediate = readU32();
      out.immediateHi = readU32();
      setOperand(out, i, OpKind.Immediate64, 0);
      return true;
    case K.imm8sex16:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to16, 0);
      return true;
    case K.imm8sex32:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to32, 0);
      return true;
    case K.imm8sex64:
      out.immediate = (readByte() << 24) >> 24;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8to64, 0);
      return true;
    case K.imm32sex64:
      out.immediate = readU32() | 0;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate32to64, 0);
      return true;
    case K.xmm_is4:
    case K.xmm_is5:
      setOperand(out, i, R, Register.XMM0 + ((readIsByte() >> 4) & (st.bitness === 64 ? 15 : 7)));
      return true;
    case K.ymm_is4:
    case K.ymm_is5:
      setOperand(out, i, R, Register.YMM0 + ((readIsByte() >> 4) & (st.bitness === 64 ? 15 : 7)));
      return true;
    case K.imm4_m2z:
      out.immediate = readIsByte() & 15;
      out.immediateHi = -2;
      setOperand(out, i, OpKind.Immediate8, 0);
      return true;
    case K.br16_1:
    case K.br32_1:
    case K.br64_1:
      out.branchDisplacement = (readByte() << 24) >> 24;
      setOperand(out, i, OpKind.NearBranch, 0);
      return true;
    case K.br16_2:
    case K.xbegin_2:
      out.branchDisplacement = (readU16() << 16) >> 16;
      setOperand(out, i, OpKind.NearBranch, 0);
      return true;
    case K.br32_4:
    case K.br64_4:
    case K.xbegin_4:
      out.branchDisplacement = readU32() | 0;
      setOperand(out, i, OpKind.NearBranch, 0);
      return true;
    case K.farbr2_2:
      out.farBranchOffset = readU16();
      out.farBranchSelector = readU16();
      setOperand(out, i, OpKind.FarBranch, 0);
      return true;
    case K.farbr4_2:
      out.farBranchOffset = readU32();
      out.farBranchSelector = readU16();
      setOperand(out, i, OpKind.FarBranch, 0);
      return true;
    case K.mem_offs:
      out.memBase = Register.None;
      out.memIndex = Register.None;
      out.memScale = 1;
      if (st.addressSize === 64) {
        out.memDisplacement = readU32();
        out.memDisplacementHi = readU32() | 0;
        out.memDisplSize = 8;
      } else if (st.addressSize === 32) {
        out.memDisplacement = readU32();
        out.memDisplacementHi = 0;
        out.memDisplSize = 4;
      } else {
        out.memDisplacement = readU16();
        out.memDisplacementHi = 0;
        out.memDisplSize = 2;
      }
      out.memSegment = st.segOverride !== 0 ? st.segOverride : Register.DS;
      setOperand(out, i, OpKind.Memory, 0);
      return true;
    case K.seg_rSI:
      out.memSegment = st.segOverride !== 0 ? st.segOverride : Register.DS;
      setOperand(out, i, OpKind.MemorySegRSI, 0);
      return true;
    case K.es_rDI:
      setOperand(out, i, OpKind.MemoryESRDI, 0);
      return true;
    case K.seg_rDI:
      out.memSegment = st.segOverride !== 0 ? st.segOverride : Register.DS;
      setOperand(out, i, OpKind.MemorySegRDI, 0);
      return true;
    case K.seg_rBX_al:
      out.memBase = st.addressSize === 16 ? Register.BX : st.addressSize === 32 ? Register.EBX : Register.RBX;
      out.memIndex = Register.AL;
      out.memScale = 1;
      out.memDisplacement = 0;
      out.memDisplacementHi = 0;
      out.memDisplSize = 0;
      out.memSegment = st.segOverride !== 0 ? st.segOverride : Register.DS;
      setOperand(out, i, OpKind.Memory, 0);
      return true;
    default:
      return false;
  }
}

/** Clears the fields the valid path does not always write (the rest are written exactly once). */
function resetOut(out: Instruction, ip: number, bits: Bitness): void {
  out.error = DecodeError.None;
  out.bitness = bits;
  out.ip = ip;
  out.prefixes = 0;
  out.segmentPrefix = Register.None;
  out.repPrefix = RepPrefix.None;
  out.lock = false;
  out.memBase = 0;
  out.memIndex = 0;
  out.memScale = 1;
  out.memDisplacement = 0;
  out.memDisplacementHi = 0;
  out.memDisplSize = 0;
  out.memSegment = 0;
  out.memSize = 0;
  out.immediate = 0;
  out.immediateHi = 0;
  out.immediate2 = 0;
  out.branchDisplacement = 0;
  out.nearBranchTarget = 0;
  out.farBranchSelector = 0;
  out.farBranchOffset = 0;
  out.modrm = -1;
}

/**
 * Decodes one instruction at `bytes[offset]` into `out` without allocating. Never throws for any input.
 * Returns `out.length` (valid) or 0 when `out.error !== DecodeError.None` (then `out.length` still
 * holds how many bytes the malformed instruction spans, at least 1).
 *
 * @param end exclusive end of the readable bytes (default `bytes.length`).
 */
export function decodeInto(
  out: Instruction,
  bytes: Uint8Array,
  offset: number,
  bits: Bitness,
  ip: number,
  end: number = bytes.length,
): number {
  resetOut(out, ip, bits);
  st.buf = bytes;
  st.pos = offset;
  const hardEnd = Math.min(end, bytes.length);
  st.limit = Math.min(offset + MAX_INSTRUCTION_LENGTH, hardEnd);
  st.overrun = false;
  st.bitness = bits;
  const mode64 = bits === 64;
  let invalid = false;

  // ---- legacy prefixes and REX (SDM 2.1.1, 2.2.1) ----
  let p66 = false;
  let p67 = false;
  let lock = false;
  let lastRep = 0; // MP_F3 / MP_F2 of the last F3/F2
  let prefixes = 0;
  let seg = 0;
  let rex = 0;
  // Prefix scan with the cursor in locals (the hot loop); module `pos` is written back after it.
  let p = st.pos;
  const lim = st.limit;
  let b = p < lim ? bytes[p++]! : -1;
  if (b < 0) {
    st.overrun = true;
    b = 0;
  } else
    for (;;) {
      const k = PREFIX_KIND[b]!;
      if (k === PK_NONE) {
        if (mode64 && (b & 0xf0) === 0x40) {
          rex = b;
          b = p < lim ? bytes[p++]! : -1;
          if (b < 0) {
            st.overrun = true;
            b = 0;
            break;
          }
          continue;
        }
        break;
      }
      rex = 0; // a REX prefix followed by a legacy prefix is ignored
      if (k === PK_SEG) {
        const s = SEG_OF_PREFIX[b]!;
        prefixes =
          (prefixes & ~(Prefix.LastSegCs | Prefix.LastSegDs)) |
          PREFIX_BIT_OF_SEG[s]! |
          (b === 0x2e ? Prefix.LastSegCs : b === 0x3e ? Prefix.LastSegDs : 0);
        // In 64-bit mode ES/CS/SS/DS overrides are ignored (SDM 3.3.7.1).
        if (!mode64 || s === Register.FS || s === Register.GS) seg = s;
      } else if (k === PK_66) {
        p66 = true;
        prefixes |= Prefix.OperandSize;
      } else if (k === PK_67) {
        p67 = true;
        prefixes |= Prefix.AddressSize;
      } else if (k === PK_LOCK) {
        lock = true;
        prefixes |= Prefix.Lock;
      } else if (k === PK_F2) {
        lastRep = MP_F2;
        prefixes |= Prefix.Repne;
      } else if (k === PK_F3) {
        lastRep = MP_F3;
        prefixes |= Prefix.Rep;
      }
      b = p < lim ? bytes[p++]! : -1;
      if (b < 0) {
        st.overrun = true;
        b = 0;
        break;
      }
    }
  st.pos = p;
  if (rex !== 0) {
    prefixes |= Prefix.Rex;
    st.hasRex = true;
    st.rexW = (rex >> 3) & 1;
    st.rexR = (rex >> 2) & 1;
    st.rexX = (rex >> 1) & 1;
    st.rexB = rex & 1;
  } else {
    st.hasRex = false;
    st.rexW = 0;
    st.rexR = 0;
    st.rexX = 0;
    st.rexB = 0;
  }
  st.segOverride = seg;
  st.vexV = 0;
  st.vexL = 0;
  st.modrm = -1;
  st.mod = 0;
  st.reg = 0;
  st.rm = 0;
  st.isByte = -1;

  // ---- opcode map / VEX (SDM 2.3.5) ----
  let vex = 0;
  let map = 0;
  let opcode = b;
  let mpSeen = lastRep !== 0 ? lastRep : p66 ? MP_66 : 0;
  let vexW = 0;
  let badMap = false;
  let badMapModrm = false;
  if (b === 0x0f) {
    const b2 = readByte();
    if (b2 === 0x0f) {
      // 3DNow! (AMD, 0F 0F /r ib): not decoded; the length covers ModRM, SIB, displacement and suffix.
      st.modrm = readByte();
      st.mod = st.modrm >> 6;
      st.rm = st.modrm & 7;
      st.reg = (st.modrm >> 3) & 7;
      st.addressSize = mode64 ? (p67 ? 32 : 64) : (bits === 32) !== p67 ? 32 : 16;
      if (st.mod !== 3) decodeModrmMemory(out, 0);
      readByte();
      return finishInvalid(
        out,
        offset,
        st.overrun ? DecodeError.NoMoreBytes : DecodeError.InvalidInstruction,
      );
    }
    if (b2 === 0x38) {
      map = 2;
      opcode = readByte();
    } else if (b2 === 0x3a) {
      map = 3;
      opcode = readByte();
    } else {
      map = 1;
      opcode = b2;
    }
  } else if (
    (b === 0xc4 || b === 0xc5 || b === 0x62) &&
    st.pos < st.limit &&
    (mode64 || st.buf[st.pos]! >= 0xc0)
  ) {
    if (p66 || lastRep !== 0 || lock || rex !== 0) invalid = true;
    if (b === 0x62) return decodeEvexLength(out, offset);
    vex = 1;
    const v1 = readByte();
    let pp: number;
    if (b === 0xc5) {
      if (mode64) st.rexR = (~v1 >> 7) & 1;
      st.vexV = (~v1 >> 3) & 15;
      st.vexL = (v1 >> 2) & 1;
      pp = v1 & 3;
      map = 1;
    } else {
      const v2 = readByte();
      if (mode64) {
        st.rexR = (~v1 >> 7) & 1;
        st.rexX = (~v1 >> 6) & 1;
        st.rexB = (~v1 >> 5) & 1;
      }
      const mmmmm = v1 & 0x1f;
      if (mmmmm >= 1 && mmmmm <= 3) map = mmmmm;
      else badMap = true;
      // iced-x86 reads a ModRM byte for the undefined map 0 (not for maps 4-31).
      if (mmmmm === 0) badMapModrm = true;
      vexW = v2 >> 7;
      st.rexW = vexW;
      st.vexV = (~v2 >> 3) & 15;
      st.vexL = (v2 >> 2) & 1;
      pp = v2 & 3;
    }
    st.hasRex = rex !== 0;
    mpSeen = pp === 0 ? 0 : pp === 1 ? MP_66 : pp === 2 ? MP_F3 : MP_F2;
    opcode = readByte();
    prefixes |= b === 0xc5 ? Prefix.Vex2 : Prefix.Vex3;
    if (badMapModrm) readByte();
    if (badMap)
      return finishInvalid(
        out,
        offset,
        st.overrun ? DecodeError.NoMoreBytes : DecodeError.InvalidInstruction,
      );
  } else if (b === 0x8f && st.pos < st.limit && (st.buf[st.pos]! & 0x1f) >= 8) {
    // XOP (AMD): not decoded. The length covers XOP, opcode and (valid maps 8-10) the ModRM byte.
    const xmap = readByte() & 0x1f;
    readByte();
    readByte();
    if (xmap <= 10) readByte();
    return finishInvalid(out, offset, st.overrun ? DecodeError.NoMoreBytes : DecodeError.InvalidInstruction);
  }

  // ---- operand and address size (SDM 1.2.x, 2.2.1.2) ----
  let osNormal: number;
  let osD64: number;
  let osF64: number;
  if (mode64) {
    osNormal = st.rexW ? 64 : p66 ? 16 : 32;
    osD64 = st.rexW ? 64 : p66 ? 16 : 64;
    osF64 = 64;
    st.addressSize = p67 ? 32 : 64;
  } else if (bits === 32) {
    osNormal = p66 ? 16 : 32;
    osD64 = osNormal;
    osF64 = osNormal;
    st.addressSize = p67 ? 16 : 32;
  } else {
    osNormal = p66 ? 32 : 16;
    osD64 = osNormal;
    osF64 = osNormal;
    st.addressSize = p67 ? 32 : 16;
  }

  const key = vex * 1024 + map * 256 + opcode;
  if (KEY_HAS_MODRM[key]) {
    st.modrm = readByte();
    st.mod = st.modrm >> 6;
    st.reg = (st.modrm >> 3) & 7;
    st.rm = st.modrm & 7;
  }
  const modeBit = mode64 ? S_MODE64 : bits === 32 ? S_MODE32 : S_MODE16;

  // ---- table lookup: first candidate whose constraints match ----
  const osNo66 = mode64 ? (st.rexW ? 64 : 32) : bits === 16 ? 16 : 32;
  // State word: everything a candidate row may constrain (tables.ts S_*).
  let s =
    modeBit |
    (mpSeen === 0 ? S_MPN : mpSeen === MP_66 ? S_MP66 : mpSeen === MP_F3 ? S_MPF3 : S_MPF2) |
    (st.reg << S_REG_SHIFT) |
    (st.rm << S_RM_SHIFT) |
    (st.mod === 3 ? S_MOD3 : 0) |
    ((osD64 >> 5) << S_OSD_SHIFT) |
    ((osNo66 >> 5) << S_OS66_SHIFT) |
    ((osF64 >> 5) << S_OSF_SHIFT) |
    ((st.addressSize >> 5) << S_ASZ_SHIFT) |
    (vexW ? S_VW : 0) |
    (vexW || !mode64 ? S_VWX : 0) |
    (vexW && mode64 ? S_VWY : 0) |
    (st.vexL ? S_VL : 0) |
    (st.rexB ? S_REXB : 0);
  let code = matchCandidate(key, s | ((osNormal >> 5) << S_OSN_SHIFT));
  if (code === 0 && st.rexW && vex === 0) {
    // Opcodes with only 16/32-bit forms ignore REX.W (IN/OUT, FNSTENV...): retry as 32-bit.
    osNormal = 32;
    s |= 1 << S_OSN_SHIFT;
    code = matchCandidate(key, s);
  }

  if (code === 0) {
    // Undefined opcode: like iced-x86, the length covers the opcode and one ModRM-position byte
    // (and one more for the undefined x87 forms DE DC-DE, D9 E2, DF E1-E2, as iced-x86 does).
    if (st.modrm < 0) {
      // ...except VEX opcodes that exist without ModRM (VZEROUPPER with a wrong pp).
      if (vex === 0 || CAND_START[key] === CAND_START[key + 1]) readByte();
    } else if (
      vex === 0 &&
      map === 0 &&
      st.mod === 3 &&
      ((opcode === 0xde && st.reg === 3 && st.rm >= 4 && st.rm <= 6) ||
        (opcode === 0xd9 && st.reg === 4 && st.rm === 2) ||
        (opcode === 0xdf && st.reg === 4 && (st.rm === 1 || st.rm === 2)))
    )
      readByte();
    if (st.overrun)
      return finishInvalid(out, offset, st.pos >= hardEnd ? DecodeError.NoMoreBytes : DecodeError.TooLong);
    return finishInvalid(out, offset, DecodeError.InvalidInstruction);
  }

  // ---- operand size reported, ModRM memory, operands ----
  const om = T_OSMODE[code]!;
  st.operandSize = om === 0 ? osNormal : om === 1 ? osD64 : osF64;
  if (T_MP[code] === MP_66 && !mode64) st.operandSize = bits === 16 ? 16 : 32;
  else if (T_MP[code] === MP_66) st.operandSize = st.rexW ? 64 : 32;
  const attrs = T_ATTR[code]!;
  if (T_HAS_MODRM[code]) {
    if (attrs & ATTR_IGNORES_MOD) st.mod = 3;
    if (st.mod !== 3) {
      if (!decodeModrmMemory(out, T_VSIB[code]!)) invalid = true;
      out.memSize = T_MEMSIZE[code]!;
    }
  }
  out.modrm = st.modrm;
  if (vex !== 0) {
    // Unused VEX.vvvv must be 1111b; outside 64-bit mode only registers 0-7 exist.
    if (!T_USES_VVVV[code] && st.vexV !== 0) invalid = true;
    if (!mode64) st.vexV &= 7;
  }
  const n = T_OPCOUNT[code]!;
  out.opCount = n;
  for (let i = 0; i < n; i++) {
    if (!decodeOperandFast(out, code, i, opcode)) invalid = true;
  }
  for (let i = n; i < 5; i++) setOperand(out, i, OpKind.None, 0);
  if (out.immediateHi === -2) out.immediateHi = out.immediate < 0 ? -1 : 0;

  // ---- prefix validity (SDM 2.1.1: LOCK only with a memory destination of lockable instructions) ----
  if (lock) {
    if ((attrs & ATTR_LOCK) === 0 || st.mod === 3) invalid = true;
    out.lock = true;
  }
  if (lastRep !== 0 && T_MP[code] !== lastRep) {
    out.repPrefix = lastRep === MP_F3 ? RepPrefix.Rep : RepPrefix.Repne;
    void ATTR_REP;
    void ATTR_REPNE;
  }

  if (st.overrun) {
    return finishInvalid(out, offset, st.pos >= hardEnd ? DecodeError.NoMoreBytes : DecodeError.TooLong);
  }
  if (invalid) return finishInvalid(out, offset, DecodeError.InvalidInstruction);

  const len = st.pos - offset;
  out.code = code;
  out.mnemonic = T_MNEMONIC[code]!;
  out.length = len;
  out.operandSize = st.operandSize;
  out.addressSize = st.addressSize;
  out.prefixes = prefixes;
  out.segmentPrefix = seg;
  out.cpuidFeature = T_CPUID[code]!;
  out.cpuidFeature2 = T_CPUID2[code]!;
  out.flagsRead = T_FLAGS_READ[code]!;
  out.flagsWritten = T_FLAGS_WRITTEN[code]!;
  out.flagsUndefined = T_FLAGS_UNDEF[code]!;
  out.flowControl = T_FLOW[code]! as FlowControlT;
  out.endsBlock = T_ENDS_BLOCK[code] === 1;
  const next = wrapIp(ip + len);
  out.nextIp = next;
  if (out.op0Kind === OpKind.NearBranch || out.op1Kind === OpKind.NearBranch) {
    // XBEGIN's target follows the code size, not the operand size (as iced-x86 computes it).
    const sz = code === XBEGIN_REL16 || code === XBEGIN_REL32 ? (bits === 16 ? 32 : bits) : st.operandSize;
    out.nearBranchTarget = wrapToSize(ip + len + out.branchDisplacement, sz);
  }
  return len;
}

/** First candidate of `key` whose constraint word matches the state word `s` (see `S_*` in tables.ts). */
function matchCandidate(key: number, s: number): number {
  const candEnd = CAND_START[key + 1]!;
  for (let ci = CAND_START[key]!; ci < candEnd; ci++) {
    if ((s & CAND_MASK[ci]!) === CAND_VALUE[ci]) return CAND[ci]!;
  }
  return 0;
}

function finishInvalid(out: Instruction, offset: number, error: DecodeErrorT): number {
  out.code = 0;
  out.mnemonic = 0;
  out.error = error;
  // The mode's defaults, not what the object held from its previous decode.
  out.operandSize = out.bitness === 16 ? 16 : 32;
  out.addressSize = out.bitness;
  let len = st.pos - offset;
  if (len > MAX_INSTRUCTION_LENGTH) len = MAX_INSTRUCTION_LENGTH;
  out.length = Math.max(len, 1);
  out.opCount = 0;
  for (let i = 0; i < 5; i++) setOperand(out, i, OpKind.None, 0);
  out.cpuidFeature = 0;
  out.cpuidFeature2 = 0;
  out.flagsRead = 0;
  out.flagsWritten = 0;
  out.flagsUndefined = 0;
  out.flowControl = FlowControl.Next;
  out.endsBlock = false;
  out.nextIp = wrapIp(out.ip + out.length);
  return 0;
}

/**
 * EVEX (AVX-512, SDM 2.7): computes the length so a disassembler stays in sync, and reports
 * `DecodeError.EvexNotSupported`.
 */
function decodeEvexLength(out: Instruction, offset: number): number {
  const p0 = readByte();
  const p1 = readByte();
  readByte(); // P2
  const mmm = p0 & 7;
  const op = readByte();
  const m = readByte();
  if (mmm === 0 || mmm === 4 || mmm === 7 || (p0 & 8) !== 0 || (p1 & 4) === 0) {
    return finishInvalid(out, offset, st.overrun ? DecodeError.NoMoreBytes : DecodeError.InvalidInstruction);
  }
  st.modrm = m;
  st.mod = m >> 6;
  st.rm = m & 7;
  st.reg = (m >> 3) & 7;
  if (st.mod !== 3) decodeModrmMemory(out, 0);
  if (
    mmm === 3 ||
    (mmm === 1 &&
      (op === 0x70 ||
        op === 0x71 ||
        op === 0x72 ||
        op === 0x73 ||
        op === 0xc2 ||
        op === 0xc4 ||
        op === 0xc5 ||
        op === 0xc6))
  ) {
    readByte();
  }
  const e = st.overrun ? DecodeError.NoMoreBytes : DecodeError.EvexNotSupported;
  finishInvalid(out, offset, e);
  out.prefixes |= Prefix.Evex;
  return 0;
}

/** Options of the friendly API. */
export interface DecodeOptions {
  bitness: Bitness;
  /** Address of `bytes[offset]` (default 0). */
  ip?: number;
}

/** Decodes one instruction into a new `Instruction`. Never throws; check `error`. */
export function decode(bytes: Uint8Array, offset: number, options: DecodeOptions): Instruction {
  const out = new Instruction();
  decodeInto(out, bytes, offset, options.bitness, options.ip ?? 0);
  return out;
}

/** Iterates over consecutive instructions (a fresh object each). Invalid bytes yield an invalid instruction and advance by its length. */
export function* decodeAll(
  bytes: Uint8Array,
  options: DecodeOptions & { offset?: number; end?: number },
): IterableIterator<Instruction> {
  let offset = options.offset ?? 0;
  const end = options.end ?? bytes.length;
  let ip = options.ip ?? 0;
  while (offset < end) {
    const out = new Instruction();
    decodeInto(out, bytes, offset, options.bitness, ip, end);
    yield out;
    offset += out.length;
    ip = out.nextIp;
  }
}
