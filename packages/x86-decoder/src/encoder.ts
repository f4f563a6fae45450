/**
 * Encoder derived from the same opcode table as the decoder: Instruction value -> bytes.
 * Prefix order: segment, 66, 67, LOCK, REP/REPNE (or the mandatory prefix), REX/VEX, map escape,
 * opcode, ModRM, SIB, displacement, immediates (SDM 2.1).
 */
import { type Instruction, OpKind, Prefix, RepPrefix } from './instruction.js';
import { REGISTER_CLASS, REGISTER_INDEX, Register, RegisterClass } from './registers.js';
import { OperandSpec as K } from './table.gen.js';
import {
  MP_66,
  MP_F2,
  MP_F3,
  MP_NP,
  T_ASZ,
  T_HAS_MODRM,
  T_L,
  T_MAP,
  T_MP,
  T_OPCODE,
  T_OPCODE_REG,
  T_OPCOUNT,
  T_OPS,
  T_OSMODE,
  T_OSZ,
  T_REG,
  T_RM,
  T_VEX,
  T_W,
} from './tables.js';

/** Why an instruction cannot be encoded. */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

const SEG_PREFIX: Record<number, number> = {
  [Register.ES]: 0x26,
  [Register.CS]: 0x2e,
  [Register.SS]: 0x36,
  [Register.DS]: 0x3e,
  [Register.FS]: 0x64,
  [Register.GS]: 0x65,
};

function regNum(r: number): number {
  return REGISTER_INDEX[r]!;
}

function needsRexByte(r: number): boolean {
  return r >= Register.SPL && r <= Register.DIL;
}

function isHighByte(r: number): boolean {
  return r >= Register.AH && r <= Register.BH;
}

function pushLE(out: number[], v: number, n: number): void {
  for (let i = 0; i < n; i++) out.push((v >>> (8 * i)) & 0xff);
}

interface ModrmParts {
  mod: number;
  rm: number;
  sib: number;
  disp: number;
  dispSize: number;
  x: number;
  b: number;
}

const RM16: Record<string, number> = {
  '3,7': 0,
  '3,8': 1,
  '6,7': 2,
  '6,8': 3,
  '7,0': 4,
  '8,0': 5,
  '6,0': 6,
  '3,0': 7,
};

function encodeMemory(insn: Instruction, ripRel: number): ModrmParts {
  const base = insn.memBase;
  const index = insn.memIndex;
  let disp = insn.memDisplacement | 0;
  let dispSize = insn.memDisplSize;
  if (insn.addressSize === 16) {
    const key = `${base ? base - Register.AX + 1 - 1 + (base === Register.BX ? 0 : 0) : 0}`;
    void key;
    const bi =
      base === Register.BX
        ? 3
        : base === Register.BP
          ? 6
          : base === Register.SI
            ? 7
            : base === Register.DI
              ? 8
              : 0;
    const ii = index === Register.SI ? 7 : index === Register.DI ? 8 : 0;
    let k = `${bi},${ii}`;
    if (bi === 7 || bi === 8) k = `${bi},0`;
    if (bi === 0 && ii !== 0) k = `${ii},0`;
    const rm = bi === 0 && ii === 0 ? 6 : RM16[k];
    if (rm === undefined) throw new EncodeError('invalid 16-bit addressing form');
    if (bi === 0 && ii === 0) return { mod: 0, rm: 6, sib: -1, disp: disp & 0xffff, dispSize: 2, x: 0, b: 0 };
    if (dispSize === 0 && disp !== 0) dispSize = disp >= -128 && disp <= 127 ? 1 : 2;
    if (rm === 6 && dispSize === 0) dispSize = 1;
    const mod = dispSize === 0 ? 0 : dispSize === 1 ? 1 : 2;
    return { mod, rm, sib: -1, disp, dispSize: dispSize === 0 ? 0 : dispSize, x: 0, b: 0 };
  }
  if (base === Register.RIP || base === Register.EIP) {
    return { mod: 0, rm: 5, sib: -1, disp: disp - ripRel, dispSize: 4, x: 0, b: 0 };
  }
  const hasIndex = index !== Register.None;
  const bnum = base !== Register.None ? regNum(base) : -1;
  const inum = hasIndex ? regNum(index) : 4;
  const scaleBits = insn.memScale === 8 ? 3 : insn.memScale === 4 ? 2 : insn.memScale === 2 ? 1 : 0;
  if (dispSize === 0 && disp !== 0) dispSize = disp >= -128 && disp <= 127 ? 1 : 4;
  if (dispSize === 2) dispSize = 4;
  if (base === Register.None) {
    disp = insn.memDisplacement | 0;
    // no base: SIB with base=101 (64-bit mode would read mod=00 rm=101 as RIP-relative)
    if (!hasIndex && insn.bitness !== 64) return { mod: 0, rm: 5, sib: -1, disp, dispSize: 4, x: 0, b: 0 };
    return {
      mod: 0,
      rm: 4,
      sib: (scaleBits << 6) | ((inum & 7) << 3) | 5,
      disp,
      dispSize: 4,
      x: inum >> 3,
      b: 0,
    };
  }
  if ((bnum & 7) === 5 && dispSize === 0) dispSize = 1;
  const mod = dispSize === 0 ? 0 : dispSize === 1 ? 1 : 2;
  if (hasIndex || (bnum & 7) === 4) {
    return {
      mod,
      rm: 4,
      sib: (scaleBits << 6) | ((inum & 7) << 3) | (bnum & 7),
      disp,
      dispSize,
      x: inum >> 3,
      b: bnum >> 3,
    };
  }
  return { mod, rm: bnum & 7, sib: -1, disp, dispSize, x: 0, b: bnum >> 3 };
}

function isRegSpec(s: number): boolean {
  return (
    s === K.r8_reg ||
    s === K.r16_reg ||
    s === K.r32_reg ||
    s === K.r64_reg ||
    s === K.mm_reg ||
    s === K.xmm_reg ||
    s === K.ymm_reg ||
    s === K.k_reg ||
    s === K.tmm_reg ||
    s === K.cr_reg ||
    s === K.dr_reg ||
    s === K.seg_reg ||
    s === K.r16_reg_mem ||
    s === K.r32_reg_mem ||
    s === K.r64_reg_mem
  );
}

function isRmSpec(s: number): boolean {
  return (
    s === K.r8_or_mem ||
    s === K.r16_or_mem ||
    s === K.r32_or_mem ||
    s === K.r64_or_mem ||
    s === K.mm_or_mem ||
    s === K.xmm_or_mem ||
    s === K.ymm_or_mem ||
    s === K.k_or_mem ||
    s === K.r16_rm ||
    s === K.r32_rm ||
    s === K.r64_rm ||
    s === K.mm_rm ||
    s === K.xmm_rm ||
    s === K.ymm_rm ||
    s === K.k_rm ||
    s === K.tmm_rm ||
    s === K.sti_opcode ||
    s === K.mem ||
    s === K.sibmem ||
    s === K.mem_vsib32x ||
    s === K.mem_vsib32y ||
    s === K.mem_vsib64x ||
    s === K.mem_vsib64y
  );
}

function isVvvvSpec(s: number): boolean {
  return (
    s === K.xmm_vvvv ||
    s === K.ymm_vvvv ||
    s === K.r32_vvvv ||
    s === K.r64_vvvv ||
    s === K.k_vvvv ||
    s === K.tmm_vvvv
  );
}

/**
 * Encodes `insn` (as produced by the decoder or the assembler) at `insn.ip`. Branch operands use
 * `nearBranchTarget`. Throws `EncodeError` for values that have no encoding.
 */
export function encode(insn: Instruction): Uint8Array {
  const code = insn.code;
  if (code === 0) throw new EncodeError('cannot encode an invalid instruction');
  const bits = insn.bitness;
  const mode64 = bits === 64;
  const vex = T_VEX[code] === 1;
  const ops = T_OPCOUNT[code]!;
  const out: number[] = [];
  // ---- operands -> fields ----
  let regField = Math.max(T_REG[code]!, 0);
  let rmReg = -1;
  let vvvv = 0;
  let opcodeReg = 0;
  let is4 = -1;
  let rexR = 0;
  let rexB = 0;
  let needRex = false;
  let memOp = false;
  for (let i = 0; i < ops; i++) {
    const s = T_OPS[code * 5 + i]!;
    const kind = insn.opKind(i);
    const r = insn.opRegister(i);
    if (kind === OpKind.Register) {
      if (needsRexByte(r) || (r >= Register.R8L && r <= Register.R15L)) needRex = true;
      if (isHighByte(r)) needRex = needRex || false;
      const n = regNum(r);
      if (isRegSpec(s)) {
        regField = n & 7;
        rexR = n >> 3;
      } else if (isRmSpec(s)) {
        rmReg = n;
        rexB = n >> 3;
      } else if (isVvvvSpec(s)) {
        vvvv = n;
      } else if (s === K.r8_opcode || s === K.r16_opcode || s === K.r32_opcode || s === K.r64_opcode) {
        opcodeReg = n & 7;
        rexB = n >> 3;
      } else if (s === K.xmm_is4 || s === K.ymm_is4 || s === K.xmm_is5 || s === K.ymm_is5) {
        is4 = n << 4;
      }
    } else if (kind === OpKind.Memory && (isRmSpec(s) || s === K.mem)) {
      memOp = true;
    }
  }
  // ---- sizes ----
  const osz = T_OSZ[code]!;
  const osMode = T_OSMODE[code]!;
  let p66 = T_MP[code] === MP_66 && !vex;
  let rexW = 0;
  if (osz === 16 && bits !== 16) p66 = true;
  if (osz === 32 && bits === 16) p66 = true;
  if (osz === 64 && osMode === 0 && !vex) rexW = 1;
  if (vex && T_W[code] === 1) rexW = 1;
  const asz = T_ASZ[code] || (memOp || insn.memSize ? insn.addressSize : 0) || insn.addressSize;
  const defaultAsz = mode64 ? 64 : bits;
  const p67 = asz !== defaultAsz;
  // ---- ModRM memory ----
  let parts: ModrmParts | null = null;
  if (T_HAS_MODRM[code]) {
    if (memOp) {
      parts = encodeMemory(insn, 0);
    } else {
      const rmv = T_RM[code]! >= 0 ? T_RM[code]! : rmReg & 7;
      parts = { mod: 3, rm: rmv, sib: -1, disp: 0, dispSize: 0, x: 0, b: rexB };
    }
  }
  const x = parts ? parts.x : 0;
  const b = parts ? (memOp ? parts.b : rexB) : rexB;
  // ---- prefixes ----
  const seg = insn.segmentPrefix;
  if (seg !== Register.None) out.push(SEG_PREFIX[seg]!);
  // Branch hints / NOTRACK: 2E / 3E kept from the decoded prefixes.
  if (insn.prefixes & Prefix.LastSegCs && seg !== Register.CS) out.push(0x2e);
  else if (insn.prefixes & Prefix.LastSegDs && seg !== Register.DS) out.push(0x3e);
  if (p66) out.push(0x66);
  if (p67) out.push(0x67);
  if (insn.lock) out.push(0xf0);
  const mp = T_MP[code]!;
  if (!vex) {
    if (mp === MP_F3) out.push(0xf3);
    else if (mp === MP_F2) out.push(0xf2);
    else if (insn.repPrefix === RepPrefix.Rep) out.push(0xf3);
    else if (insn.repPrefix === RepPrefix.Repne) out.push(0xf2);
  }
  void MP_NP;
  const map = T_MAP[code]!;
  let opcode = T_OPCODE[code]!;
  if (T_OPCODE_REG[code]) opcode += opcodeReg;
  if (vex) {
    const pp = mp === MP_66 ? 1 : mp === MP_F3 ? 2 : mp === MP_F2 ? 3 : 0;
    const L = T_L[code]! > 0 ? 1 : 0;
    const vInv = (~vvvv & 15) << 3;
    if (map === 1 && rexW === 0 && x === 0 && b === 0) {
      out.push(0xc5, ((rexR ^ 1) << 7) | vInv | (L << 2) | pp);
    } else {
      out.push(
        0xc4,
        ((rexR ^ 1) << 7) | ((x ^ 1) << 6) | ((b ^ 1) << 5) | map,
        (rexW << 7) | vInv | (L << 2) | pp,
      );
    }
  } else {
    const rex = (rexW << 3) | (rexR << 2) | (x << 1) | b;
    if (rex !== 0 || needRex) {
      if (!mode64) throw new EncodeError('REX-only register or operand outside 64-bit mode');
      out.push(0x40 | rex);
    }
    if (map === 1) out.push(0x0f);
    else if (map === 2) out.push(0x0f, 0x38);
    else if (map === 3) out.push(0x0f, 0x3a);
  }
  out.push(opcode);
  let ripFix = -1;
  if (parts) {
    out.push((parts.mod << 6) | ((regField & 7) << 3) | (parts.rm & 7));
    if (parts.sib >= 0) out.push(parts.sib);
    if (parts.dispSize > 0) {
      if (memOp && (insn.memBase === Register.RIP || insn.memBase === Register.EIP)) ripFix = out.length;
      pushLE(out, parts.disp, parts.dispSize === 8 ? 4 : parts.dispSize);
    }
  }
  // ---- immediates / branches ----
  let branchAt = -1;
  let branchSize = 0;
  let imm8Count = 0;
  for (let i = 0; i < ops; i++) {
    const s = T_OPS[code * 5 + i]!;
    switch (s) {
      case K.imm8:
        out.push((imm8Count++ === 0 ? insn.immediate : insn.immediate2) & 0xff);
        break;
      case K.imm8sex16:
      case K.imm8sex32:
      case K.imm8sex64:
        out.push(insn.immediate & 0xff);
        break;
      case K.imm16:
        imm8Count++;
        pushLE(out, insn.immediate, 2);
        break;
      case K.imm32:
      case K.imm32sex64:
        pushLE(out, insn.immediate, 4);
        break;
      case K.imm64:
        pushLE(out, insn.immediate, 4);
        pushLE(out, insn.immediateHi, 4);
        break;
      case K.imm4_m2z:
        is4 = Math.max(is4, 0) | (insn.immediate & 15);
        break;
      case K.br16_1:
      case K.br32_1:
      case K.br64_1:
        branchAt = out.length;
        branchSize = 1;
        out.push(0);
        break;
      case K.br16_2:
      case K.xbegin_2:
        branchAt = out.length;
        branchSize = 2;
        out.push(0, 0);
        break;
      case K.br32_4:
      case K.br64_4:
      case K.xbegin_4:
        branchAt = out.length;
        branchSize = 4;
        out.push(0, 0, 0, 0);
        break;
      case K.farbr2_2:
        pushLE(out, insn.farBranchOffset, 2);
        pushLE(out, insn.farBranchSelector, 2);
        break;
      case K.farbr4_2:
        pushLE(out, insn.farBranchOffset, 4);
        pushLE(out, insn.farBranchSelector, 2);
        break;
      case K.mem_offs: {
        const n = insn.addressSize / 8;
        pushLE(out, insn.memDisplacement, Math.min(n, 4));
        if (n === 8) pushLE(out, insn.memDisplacementHi, 4);
        break;
      }
      default:
        break;
    }
  }
  if (is4 >= 0) out.push(is4 & 0xff);
  const len = out.length;
  if (len > 15) throw new EncodeError('instruction longer than 15 bytes');
  if (ripFix >= 0) {
    // RIP-relative displacement is relative to the end of the instruction: keep the decoded raw value.
    pushAt(out, ripFix, insn.memDisplacement, 4);
  }
  if (branchAt >= 0) {
    const rel = insn.nearBranchTarget - (insn.ip + len);
    const limit = branchSize === 1 ? 0x80 : branchSize === 2 ? 0x8000 : 0x80000000;
    let r = rel;
    if (bits !== 64 || branchSize === 2) {
      // 16/32-bit IPs wrap: reduce the displacement modulo the operand size.
      const m = insn.operandSize === 16 ? 0x10000 : 0x100000000;
      r = (((rel % m) + m + limit) % m) - limit;
    }
    if (r < -limit || r >= limit)
      throw new EncodeError(`branch target out of range for a ${branchSize}-byte displacement`);
    pushAt(out, branchAt, r, branchSize);
  }
  return Uint8Array.from(out);
}

function pushAt(out: number[], at: number, v: number, n: number): void {
  for (let i = 0; i < n; i++) out[at + i] = (v >>> (8 * i)) & 0xff;
}

/** Register class checks used by the assembler. */
export function isGpr(r: number): boolean {
  const c = REGISTER_CLASS[r];
  return (
    c === RegisterClass.Gpr8 ||
    c === RegisterClass.Gpr16 ||
    c === RegisterClass.Gpr32 ||
    c === RegisterClass.Gpr64
  );
}
