/**
 * Data movement: MOV (incl. moffs and segment registers), MOVZX/MOVSX, LEA, XCHG, XADD, CMPXCHG,
 * CMPXCHG8B, CMOVcc, SETcc, BSWAP, CBW/CWDE/CWD/CDQ, XLAT, LAHF/SAHF, LDS/LES/LFS/LGS/LSS, NOP.
 */
import { OpKind, Register } from '@typevisor/x86-decoder';
import type { Handler } from '../cpu.js';
import { CONDITIONS, HandlerList } from './table.js';
import { loadSegment } from '../descriptors.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, LazyOp, readFlags, setArith, setLazy, sizeMask, testCondition } from '../flags.js';
import {
  isCanonical,
  read16,
  read32,
  read64,
  read8,
  readSized,
  segmentFault,
  write32,
} from '../memory-access.js';
import {
  effectiveAddress,
  effectiveAddress64,
  getReg,
  joinSigned,
  locate,
  readOp0,
  readOp1,
  setReg,
  setReg64,
  writeOp0,
} from '../operands.js';
import { GPR_HI, GPR_OF, Seg, segOf } from '../registers.js';

function mov(size: number): Handler {
  return (cpu, ins) => writeOp0(cpu, ins, size, readOp1(cpu, ins, size), false);
}

/** MOV r/m16, Sreg and MOV r32/m16, Sreg (a register destination gets the selector zero-extended). */
function movFromSreg(size: number): Handler {
  return (cpu, ins) => {
    const sel = cpu.segs.selector[segOf(ins.op1Register)]!;
    if (ins.op0Kind === OpKind.Register) setReg(cpu, ins.op0Register, size, sel);
    else writeOp0(cpu, ins, 16, sel, false);
  };
}

/** MOV Sreg, r/m16: loading SS inhibits interrupts for one instruction. */
export const movToSreg: Handler = (cpu, ins) => {
  const seg = segOf(ins.op0Register);
  if (seg === Seg.CS || seg < 0) raise(Vector.UD);
  const sel = readOp1(cpu, ins, 16);
  loadSegment(cpu, seg, sel);
  if (seg === Seg.SS) {
    cpu.shadow = true;
    cpu.stop = true;
  }
};

function extend(dstSize: number, srcSize: number, signed: boolean): Handler {
  const shift = 32 - srcSize;
  return (cpu, ins) => {
    let v = readOp1(cpu, ins, srcSize);
    if (signed) v = (v << shift) >> shift;
    setReg(cpu, ins.op0Register, dstSize, v & sizeMask(dstSize));
  };
}

/**
 * LEA r16/r32: the effective address truncated to the operand size. In 64-bit mode it is the raw 64-bit
 * sum (no canonical check: LEA does not access memory).
 */
function lea(size: number): Handler {
  return (cpu, ins) => {
    const a = ins.bitness === 64 ? effectiveAddress64(cpu, ins) : effectiveAddress(cpu, ins);
    setReg(cpu, ins.op0Register, size, a & sizeMask(size));
  };
}

function xchg(size: number): Handler {
  return (cpu, ins) => {
    const a = readOp0(cpu, ins, size);
    const b = getReg(cpu, ins.op1Register, size);
    writeOp0(cpu, ins, size, b, true);
    setReg(cpu, ins.op1Register, size, a);
  };
}

function xadd(size: number): Handler {
  const mask = sizeMask(size);
  return (cpu, ins) => {
    const dst = readOp0(cpu, ins, size);
    const src = getReg(cpu, ins.op1Register, size);
    const sum = ((dst + src) & mask) >>> 0;
    // SRC <- DEST, then DEST <- sum (XADD r, r with one register keeps the sum); memory is written first.
    if (ins.op0Kind === OpKind.Register) {
      setReg(cpu, ins.op1Register, size, dst);
      setReg(cpu, ins.op0Register, size, sum);
    } else {
      writeOp0(cpu, ins, size, sum, true);
      setReg(cpu, ins.op1Register, size, dst);
    }
    setLazy(cpu.flags, LazyOp.Add, size, dst, src, sum);
  };
}

/**
 * CMPXCHG: compare the accumulator with r/m. A memory destination is always written (SDM: "the processor
 * never produces a locked read without also producing a locked write"); a register destination is left
 * alone when the comparison fails (in 64-bit mode a 32-bit one is not zero-extended then), and the
 * accumulator is written only then.
 */
function cmpxchg(size: number): Handler {
  const mask = sizeMask(size);
  const acc = size === 8 ? Register.AL : size === 16 ? Register.AX : Register.EAX;
  return (cpu, ins) => {
    const dst = readOp0(cpu, ins, size);
    const a = getReg(cpu, acc, size);
    if (a === dst) writeOp0(cpu, ins, size, getReg(cpu, ins.op1Register, size), true);
    else {
      if (ins.op0Kind !== OpKind.Register) writeOp0(cpu, ins, size, dst, true);
      setReg(cpu, acc, size, dst);
    }
    setLazy(cpu.flags, LazyOp.Sub, size, a, dst, ((a - dst) & mask) >>> 0);
  };
}

const cmpxchg8b: Handler = (cpu, ins) => {
  if (ins.op0Kind === OpKind.Register) raise(Vector.UD);
  locate(cpu, ins);
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  const lo = read32(cpu, seg, off);
  const hi = read32(cpu, seg, (off + 4) >>> 0);
  const r = cpu.regs;
  if (lo === r.u32[0] && hi === r.u32[2]) {
    write32(cpu, seg, off, r.u32[3]!);
    write32(cpu, seg, (off + 4) >>> 0, r.u32[1]!);
    setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
  } else {
    write32(cpu, seg, off, lo);
    write32(cpu, seg, (off + 4) >>> 0, hi);
    // EDX:EAX are 32-bit register writes: in 64-bit mode the upper halves become 0.
    r.r32[0] = lo;
    r.r32[GPR_HI] = 0;
    r.r32[2] = hi;
    r.r32[GPR_HI + 2] = 0;
    setArith(cpu.flags, EFLAGS.ZF, 0);
  }
};

/** CMOVcc: the source is read either way; in 64-bit mode CMOVcc r32 zero-extends even when false. */
function cmov(cc: number, size: number): Handler {
  return (cpu, ins) => {
    const v = readOp1(cpu, ins, size);
    if (testCondition(cpu.flags, cc)) setReg(cpu, ins.op0Register, size, v);
    else if (size === 32) cpu.regs.r32[GPR_OF[ins.op0Register]! + GPR_HI] = 0;
  };
}

function setcc(cc: number): Handler {
  return (cpu, ins) => writeOp0(cpu, ins, 8, testCondition(cpu.flags, cc) ? 1 : 0, false);
}

const bswap32: Handler = (cpu, ins) => {
  const v = getReg(cpu, ins.op0Register, 32);
  setReg(
    cpu,
    ins.op0Register,
    32,
    ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0,
  );
};

/** BSWAP r16 is undefined; P6-family CPUs clear the register's low word. */
const bswap16: Handler = (cpu, ins) => setReg(cpu, ins.op0Register, 16, 0);

const cbw: Handler = (cpu) => {
  cpu.regs.r16[0] = (cpu.regs.r8[0]! << 24) >> 24;
};
const cwde: Handler = (cpu) => {
  cpu.regs.r32[0] = (cpu.regs.r16[0]! << 16) >> 16;
  cpu.regs.r32[GPR_HI] = 0;
};
const cwd: Handler = (cpu) => {
  cpu.regs.r16[4] = cpu.regs.r16[0]! & 0x8000 ? 0xffff : 0;
};
const cdq: Handler = (cpu) => {
  cpu.regs.r32[2] = cpu.regs.r32[0]! >> 31;
  cpu.regs.r32[GPR_HI + 2] = 0;
};

/** XLAT: AL = [seg:(E/R)BX + AL]; with 64-bit addressing the address must be canonical. */
const xlat: Handler = (cpu, ins) => {
  const r = cpu.regs;
  const seg = ins.memSegment - Register.ES;
  const as = ins.addressSize;
  let base: number;
  if (as === 64) {
    base = joinSigned(r.u32[3]!, r.u32[GPR_HI + 3]!) + r.r8[0]!;
    if (!isCanonical(base)) segmentFault(seg);
  } else base = as === 16 ? (r.r16[6]! + r.r8[0]!) & 0xffff : (r.u32[3]! + r.r8[0]!) >>> 0;
  r.r8[0] = read8(cpu, seg, base);
};

const LAHF_MASK = EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;
const lahf: Handler = (cpu) => {
  cpu.regs.r8[1] = readFlags(cpu.flags) & 0xff;
};
const sahf: Handler = (cpu) => {
  setArith(cpu.flags, LAHF_MASK, cpu.regs.r8[1]!);
};

/** LDS/LES/LFS/LGS/LSS r, m16:16/m16:32 (LFS/LGS/LSS also r64, m16:64 with REX.W). */
function loadFar(seg: number, size: number): Handler {
  return (cpu, ins) => {
    if (ins.op1Kind !== OpKind.Memory) raise(Vector.UD);
    locate(cpu, ins);
    const ea = cpu.eaOff;
    const as = ins.addressSize;
    const next = ea + (size >>> 3);
    // 64-bit addressing: a canonical offset in signed form, no wrap (the access checks canonicality).
    const selOff = as === 64 ? next : as === 16 ? next & 0xffff : next >>> 0;
    const off = size === 64 ? read64(cpu, cpu.eaSeg, ea) : readSized(cpu, cpu.eaSeg, ea, size);
    const offHi = cpu.hi;
    const sel = read16(cpu, cpu.eaSeg, selOff);
    loadSegment(cpu, seg, sel);
    if (size === 64) setReg64(cpu, ins.op0Register, off, offHi);
    else setReg(cpu, ins.op0Register, size, off);
    if (seg === Seg.SS) {
      cpu.shadow = true;
      cpu.stop = true;
    }
  };
}

const nop: Handler = () => {};

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  for (const size of [8, 16, 32] as const) {
    const m = mov(size);
    add(`Mov_rm${size}_r${size}`, m);
    add(`Mov_r${size}_rm${size}`, m);
    add(`Mov_rm${size}_imm${size}`, m);
    add(`Mov_r${size}_imm${size}`, m);
    add(`Xchg_rm${size}_r${size}`, xchg(size));
    add(`Xadd_rm${size}_r${size}`, xadd(size));
    add(`Cmpxchg_rm${size}_r${size}`, cmpxchg(size));
  }
  add('Mov_AL_moffs8', mov(8));
  add('Mov_AX_moffs16', mov(16));
  add('Mov_EAX_moffs32', mov(32));
  add('Mov_moffs8_AL', mov(8));
  add('Mov_moffs16_AX', mov(16));
  add('Mov_moffs32_EAX', mov(32));
  add('Mov_rm16_Sreg', movFromSreg(16));
  add('Mov_r32m16_Sreg', movFromSreg(32));
  add('Mov_Sreg_rm16', movToSreg);
  add('Mov_Sreg_r32m16', movToSreg);
  add('Movzx_r16_rm8', extend(16, 8, false));
  add('Movzx_r32_rm8', extend(32, 8, false));
  add('Movzx_r16_rm16', extend(16, 16, false));
  add('Movzx_r32_rm16', extend(32, 16, false));
  add('Movsx_r16_rm8', extend(16, 8, true));
  add('Movsx_r32_rm8', extend(32, 8, true));
  add('Movsx_r16_rm16', extend(16, 16, true));
  add('Movsx_r32_rm16', extend(32, 16, true));
  add('Lea_r16_m', lea(16));
  add('Lea_r32_m', lea(32));
  add('Xchg_r16_AX', xchg(16));
  add('Xchg_r32_EAX', xchg(32));
  add('Nopw', nop);
  add('Nopd', nop);
  add('Nop_rm16', nop);
  add('Nop_rm32', nop);
  for (const size of [16, 32]) {
    for (let r = 0x18; r <= 0x1f; r++) {
      const name = `Reservednop_rm${size}_r${size}_0F${r.toString(16).toUpperCase()}`;
      if (HandlerList.has(name)) add(name, nop);
    }
    add(`Reservednop_rm${size}_r${size}_0F0D`, nop);
  }
  add('Cmpxchg8b_m64', cmpxchg8b);
  CONDITIONS.forEach((cc, i) => {
    add(`Cmov${cc}_r16_rm16`, cmov(i, 16));
    add(`Cmov${cc}_r32_rm32`, cmov(i, 32));
    add(`Set${cc}_rm8`, setcc(i));
  });
  add('Bswap_r32', bswap32);
  add('Bswap_r16', bswap16);
  add('Cbw', cbw);
  add('Cwde', cwde);
  add('Cwd', cwd);
  add('Cdq', cdq);
  add('Xlat_m8', xlat);
  add('Lahf', lahf);
  add('Sahf', sahf);
  add('Les_r16_m1616', loadFar(Seg.ES, 16));
  add('Les_r32_m1632', loadFar(Seg.ES, 32));
  add('Lds_r16_m1616', loadFar(Seg.DS, 16));
  add('Lds_r32_m1632', loadFar(Seg.DS, 32));
  add('Lss_r16_m1616', loadFar(Seg.SS, 16));
  add('Lss_r32_m1632', loadFar(Seg.SS, 32));
  add('Lfs_r16_m1616', loadFar(Seg.FS, 16));
  add('Lfs_r32_m1632', loadFar(Seg.FS, 32));
  add('Lgs_r16_m1616', loadFar(Seg.GS, 16));
  add('Lgs_r32_m1632', loadFar(Seg.GS, 32));
  add('Lss_r64_m1664', loadFar(Seg.SS, 64));
  add('Lfs_r64_m1664', loadFar(Seg.FS, 64));
  add('Lgs_r64_m1664', loadFar(Seg.GS, 64));
  return list.entries;
}

export const DATA_HANDLERS: readonly [number, Handler][] = entries();
