/**
 * 64-bit forms of the data-movement, stack, near-branch and string instructions (64-bit mode, REX.W or
 * default 64-bit operand size; SDM Vol. 1 §3.2, Vol. 2). 64-bit values travel as two unsigned 32-bit
 * halves (the high half of a read in `cpu.hi`); addresses and RIP as canonical addresses in signed form.
 */
import { OpKind } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { loadSegment } from '../descriptors.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, getZF, LazyOp, readFlags, setArith, setFlags64, testCondition } from '../flags.js';
import {
  getRsp,
  isCanonical,
  linearAddress,
  peek64,
  pop64,
  push64,
  read64,
  setRsp,
  TWO_32,
  write16,
  write64,
} from '../memory-access.js';
import {
  effectiveAddress64,
  getReg64,
  joinSigned,
  locate,
  readOp0_64,
  readOp1,
  readOp1_64,
  setReg64,
  writeOp0,
  writeOp0_64,
} from '../operands.js';
import { GPR_HI, GPR_OF, Seg, segOf } from '../registers.js';
import { movToSreg } from './data.js';
import { writeFlagsChecked } from './stack.js';
import { StringOp, stringOp } from './string.js';
import { CONDITIONS, HandlerList } from './table.js';

// ------------------------------------------------------------------ data movement

/** MOV r/m64, r64 / r64, r/m64 / r/m64, imm32 (sign-extended) / r64, imm64 / RAX, moffs64. */
const mov64: Handler = (cpu, ins) => {
  const lo = readOp1_64(cpu, ins);
  const hi = cpu.hi;
  writeOp0_64(cpu, ins, lo, hi, false);
};

/** MOV r64/m16, Sreg: a register gets the selector zero-extended, memory the 16-bit selector. */
const movFromSreg64: Handler = (cpu, ins) => {
  const sel = cpu.segs.selector[segOf(ins.op1Register)]!;
  if (ins.op0Kind === OpKind.Register) setReg64(cpu, ins.op0Register, sel, 0);
  else writeOp0(cpu, ins, 16, sel, false);
};

/** MOVSXD r64, r/m32. */
const movsxd64: Handler = (cpu, ins) => {
  const v = readOp1(cpu, ins, 32);
  setReg64(cpu, ins.op0Register, v, v >> 31);
};

/** MOVSXD r32, r/m32 (a plain 32-bit move, zero-extended) and r16, r/m16. */
function movsxdNarrow(size: 16 | 32): Handler {
  return (cpu, ins) => {
    const v = readOp1(cpu, ins, size);
    const n = GPR_OF[ins.op0Register]!;
    if (size === 16) cpu.regs.r16[n << 1] = v;
    else setReg64(cpu, ins.op0Register, v, 0);
  };
}

/** MOVZX/MOVSX r64, r/m8 or r/m16. */
function extend64(srcSize: 8 | 16, signed: boolean): Handler {
  const shift = 32 - srcSize;
  return (cpu, ins) => {
    let v = readOp1(cpu, ins, srcSize);
    if (signed) v = (v << shift) >> shift;
    setReg64(cpu, ins.op0Register, v, signed ? v >> 31 : 0);
  };
}

/** LEA r64: the 64-bit sum without a canonical check; with 67h the 32-bit address zero-extended. */
const lea64: Handler = (cpu, ins) => {
  const lo = effectiveAddress64(cpu, ins);
  setReg64(cpu, ins.op0Register, lo, ins.addressSize === 64 ? cpu.hi : 0);
};

/** XCHG r/m64, r64 and XCHG r64, RAX (90+r with REX.W). */
const xchg64: Handler = (cpu, ins) => {
  const aLo = readOp0_64(cpu, ins);
  const aHi = cpu.hi;
  const bLo = getReg64(cpu, ins.op1Register);
  const bHi = cpu.hi;
  writeOp0_64(cpu, ins, bLo, bHi, true);
  setReg64(cpu, ins.op1Register, aLo, aHi);
};

/** `a - b` of two 64-bit values in halves: the low half returned, the high half in `cpu.hi`. */
function sub64(cpu: Cpu, aLo: number, aHi: number, bLo: number, bHi: number): number {
  cpu.hi = (aHi - bHi - (aLo < bLo ? 1 : 0)) >>> 0;
  return (aLo - bLo) >>> 0;
}

/** CMPXCHG r/m64, r64: RAX against the destination (memory is always written, as for the 32-bit form). */
const cmpxchg64: Handler = (cpu, ins) => {
  const dLo = readOp0_64(cpu, ins);
  const dHi = cpu.hi;
  const r = cpu.regs;
  const aLo = r.u32[0]!;
  const aHi = r.u32[GPR_HI]!;
  if (aLo === dLo && aHi === dHi) {
    const sLo = getReg64(cpu, ins.op1Register);
    writeOp0_64(cpu, ins, sLo, cpu.hi, true);
  } else {
    if (ins.op0Kind !== OpKind.Register) writeOp0_64(cpu, ins, dLo, dHi, true);
    r.r32[0] = dLo;
    r.r32[GPR_HI] = dHi;
  }
  const rLo = sub64(cpu, aLo, aHi, dLo, dHi);
  setFlags64(cpu.flags, LazyOp.Sub, aLo, aHi, dLo, dHi, rLo, cpu.hi);
};

/**
 * CMPXCHG16B m128: RDX:RAX against the 16 bytes; equal: RCX:RBX stored, ZF=1; else RDX:RAX loaded (and
 * the old value written back), ZF=0. #GP(0) unless the operand is 16-byte aligned (SDM "CMPXCHG16B").
 * Both halves are read before anything is written; an aligned 16 bytes never cross a page.
 */
const cmpxchg16b: Handler = (cpu, ins) => {
  if (ins.op0Kind !== OpKind.Memory) raise(Vector.UD);
  locate(cpu, ins);
  const seg = cpu.eaSeg;
  const off = cpu.eaOff;
  if ((linearAddress(cpu, seg, off) & 15) !== 0) raise(Vector.GP, 0);
  const lo0 = read64(cpu, seg, off);
  const hi0 = cpu.hi;
  const lo1 = read64(cpu, seg, off + 8);
  const hi1 = cpu.hi;
  const r = cpu.regs;
  const u = r.u32;
  if (lo0 === u[0] && hi0 === u[GPR_HI] && lo1 === u[2] && hi1 === u[GPR_HI + 2]) {
    write64(cpu, seg, off, u[3]!, u[GPR_HI + 3]!);
    write64(cpu, seg, off + 8, u[1]!, u[GPR_HI + 1]!);
    setArith(cpu.flags, EFLAGS.ZF, EFLAGS.ZF);
  } else {
    write64(cpu, seg, off, lo0, hi0);
    write64(cpu, seg, off + 8, lo1, hi1);
    r.r32[0] = lo0;
    r.r32[GPR_HI] = hi0;
    r.r32[2] = lo1;
    r.r32[GPR_HI + 2] = hi1;
    setArith(cpu.flags, EFLAGS.ZF, 0);
  }
};

/** XADD r/m64, r64: SRC <- DEST, DEST <- DEST + SRC (the sum wins when both are one register). */
const xadd64: Handler = (cpu, ins) => {
  const dLo = readOp0_64(cpu, ins);
  const dHi = cpu.hi;
  const sLo = getReg64(cpu, ins.op1Register);
  const sHi = cpu.hi;
  const sum = dLo + sLo;
  const rLo = sum >>> 0;
  const rHi = (dHi + sHi + (sum > 0xffffffff ? 1 : 0)) >>> 0;
  if (ins.op0Kind === OpKind.Register) {
    setReg64(cpu, ins.op1Register, dLo, dHi);
    setReg64(cpu, ins.op0Register, rLo, rHi);
  } else {
    writeOp0_64(cpu, ins, rLo, rHi, true);
    setReg64(cpu, ins.op1Register, dLo, dHi);
  }
  setFlags64(cpu.flags, LazyOp.Add, dLo, dHi, sLo, sHi, rLo, rHi);
};

function swap32(v: number): number {
  return ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24)) >>> 0;
}

/** BSWAP r64. */
const bswap64: Handler = (cpu, ins) => {
  const n = GPR_OF[ins.op0Register]!;
  const r = cpu.regs;
  const lo = r.u32[n]!;
  r.r32[n] = swap32(r.u32[n + GPR_HI]!);
  r.r32[n + GPR_HI] = swap32(lo);
};

/** CMOVcc r64, r/m64: the source is read (and may fault) whatever the condition. */
function cmov64(cc: number): Handler {
  return (cpu, ins) => {
    const lo = readOp1_64(cpu, ins);
    const hi = cpu.hi;
    if (testCondition(cpu.flags, cc)) setReg64(cpu, ins.op0Register, lo, hi);
  };
}

/** CDQE: RAX = sign-extended EAX. */
const cdqe: Handler = (cpu) => {
  cpu.regs.r32[GPR_HI] = cpu.regs.r32[0]! >> 31;
};

/** CQO: RDX:RAX = sign-extended RAX. */
const cqo: Handler = (cpu) => {
  const s = cpu.regs.r32[GPR_HI]! >> 31;
  cpu.regs.r32[2] = s;
  cpu.regs.r32[GPR_HI + 2] = s;
};

const nop: Handler = () => {};

// ------------------------------------------------------------------ stack

/** PUSH r64 / r/m64 (an RSP-based address uses RSP before the push). */
const push64Op0: Handler = (cpu, ins) => {
  const lo = readOp0_64(cpu, ins);
  push64(cpu, lo, cpu.hi);
};

/** PUSH imm8/imm32, sign-extended to 64 bits. */
const push64Imm: Handler = (cpu, ins) => push64(cpu, ins.immediate >>> 0, ins.immediateHi >>> 0);

/** POP r64 / r/m64: the register is written after RSP moves (POP RSP loads the popped value); a memory
 * destination's RSP-based address is computed with the incremented RSP (SDM "POP"). */
const pop64Op0: Handler = (cpu, ins) => {
  if (ins.op0Kind === OpKind.Register) {
    const lo = pop64(cpu);
    setReg64(cpu, ins.op0Register, lo, cpu.hi);
    return;
  }
  const lo = peek64(cpu, 0);
  const hi = cpu.hi;
  setRsp(cpu, getRsp(cpu) + 8);
  writeOp0_64(cpu, ins, lo, hi, false);
};

/**
 * PUSH FS/GS with a 64-bit operand: RSP moves by 8 and the selector goes to the low word of the slot
 * (a 16-bit move, as the 32-bit form here and recent Intel processors do; SDM "PUSH").
 */
function pushSeg64(seg: number): Handler {
  return (cpu) => {
    const sp = getRsp(cpu) - 8;
    if (!isCanonical(sp)) raise(Vector.SS, 0);
    write16(cpu, Seg.SS, sp, cpu.segs.selector[seg]!);
    setRsp(cpu, sp);
  };
}

/** POP FS/GS with a 64-bit operand: the selector is the low word of the slot; RSP moves after the load. */
function popSeg64(seg: number): Handler {
  return (cpu) => {
    const sel = peek64(cpu, 0) & 0xffff;
    loadSegment(cpu, seg, sel);
    setRsp(cpu, getRsp(cpu) + 8);
  };
}

/** PUSHFQ: RFLAGS with VM and RF read as 0. */
const pushfq: Handler = (cpu) => push64(cpu, readFlags(cpu.flags) & ~(EFLAGS.VM | EFLAGS.RF), 0);

/** POPFQ: as POPFD at the current privilege (IOPL at CPL 0, IF at CPL <= IOPL; RF cleared, VM/VIF/VIP kept). */
const popfq: Handler = (cpu) => {
  const v = peek64(cpu, 0);
  writeFlagsChecked(cpu, v, 32);
  setRsp(cpu, getRsp(cpu) + 8);
};

/** A stack address in 64-bit mode: #SS(0) unless canonical. */
function stackAt(a: number): number {
  if (!isCanonical(a)) raise(Vector.SS, 0);
  return a;
}

/** ENTER imm16, imm8 with a 64-bit operand size (SDM "ENTER", 64-bit mode). */
const enterq: Handler = (cpu, ins) => {
  const alloc = ins.immediate & 0xffff;
  const level = ins.immediate2 & 31;
  const r = cpu.regs;
  const bpLo = r.u32[5]!;
  const bpHi = r.u32[GPR_HI + 5]!;
  push64(cpu, bpLo, bpHi);
  const frame = getRsp(cpu);
  if (level > 0) {
    let bp = joinSigned(bpLo, bpHi);
    for (let i = 1; i < level; i++) {
      bp -= 8;
      const lo = read64(cpu, Seg.SS, stackAt(bp));
      push64(cpu, lo, cpu.hi);
    }
    push64(cpu, frame >>> 0, Math.floor(frame / TWO_32) >>> 0);
  }
  const sp = stackAt(getRsp(cpu) - alloc);
  r.r32[5] = (frame % TWO_32) | 0;
  r.r32[GPR_HI + 5] = Math.floor(frame / TWO_32);
  setRsp(cpu, sp);
};

/** LEAVE with a 64-bit operand: RSP = RBP, then RBP = pop. */
const leaveq: Handler = (cpu) => {
  const r = cpu.regs;
  const bp = stackAt(joinSigned(r.u32[5]!, r.u32[GPR_HI + 5]!));
  const lo = read64(cpu, Seg.SS, bp);
  const hi = cpu.hi;
  setRsp(cpu, bp + 8);
  r.r32[5] = lo;
  r.r32[GPR_HI + 5] = hi;
};

// ------------------------------------------------------------------ near branches

/** A near branch in 64-bit mode: #GP(0) (RIP still at the branch) unless the target is canonical. */
function jumpTo64(cpu: Cpu, target: number): void {
  if (!isCanonical(target)) raise(Vector.GP, 0);
  cpu.regs.ip = target;
}

const jmpRel64: Handler = (cpu, ins) => jumpTo64(cpu, ins.nearBranchTarget);

function jcc64(cc: number): Handler {
  return (cpu, ins) => {
    if (testCondition(cpu.flags, cc)) jumpTo64(cpu, ins.nearBranchTarget);
  };
}

/** JMP r/m64. */
const jmpRm64: Handler = (cpu, ins) => {
  const lo = readOp0_64(cpu, ins);
  jumpTo64(cpu, joinSigned(lo, cpu.hi));
};

/** Pushes the return address (RIP already at the next instruction) and jumps to `target`. */
function call64(cpu: Cpu, target: number): void {
  if (!isCanonical(target)) raise(Vector.GP, 0);
  const ip = cpu.regs.ip;
  push64(cpu, ip >>> 0, Math.floor(ip / TWO_32) >>> 0);
  cpu.regs.ip = target;
}

const callRel64: Handler = (cpu, ins) => call64(cpu, ins.nearBranchTarget);

/** CALL r/m64: the target is read first (an RSP-based operand uses RSP before the push). */
const callRm64: Handler = (cpu, ins) => {
  const lo = readOp0_64(cpu, ins);
  call64(cpu, joinSigned(lo, cpu.hi));
};

/** RET / RET imm16 (near, 64-bit): a non-canonical return address raises #GP(0) with RSP unchanged. */
function retNear64(withImm: boolean): Handler {
  return (cpu, ins) => {
    const lo = peek64(cpu, 0);
    const target = joinSigned(lo, cpu.hi);
    if (!isCanonical(target)) raise(Vector.GP, 0);
    setRsp(cpu, getRsp(cpu) + 8 + (withImm ? ins.immediate & 0xffff : 0));
    cpu.regs.ip = target;
  };
}

/**
 * LOOP/LOOPE/LOOPNE (`kind` 0/1/2) with RCX (64-bit addressing) or ECX (67h: the decremented ECX is
 * zero-extended). A taken branch to a non-canonical target faults before RCX changes.
 */
function loop64(kind: number, rcx: boolean): Handler {
  return (cpu, ins) => {
    const r = cpu.regs;
    const lo = (r.u32[1]! - 1) >>> 0;
    let hi = 0;
    if (rcx) {
      hi = r.u32[GPR_HI + 1]!;
      if (lo === 0xffffffff) hi = (hi - 1) >>> 0;
    }
    let take = (lo | hi) !== 0;
    if (kind === 1) take = take && getZF(cpu.flags) === 1;
    else if (kind === 2) take = take && getZF(cpu.flags) === 0;
    const target = ins.nearBranchTarget;
    if (take && !isCanonical(target)) raise(Vector.GP, 0);
    r.r32[1] = lo;
    r.r32[GPR_HI + 1] = hi;
    if (take) r.ip = target;
  };
}

/** JRCXZ / JECXZ (67h). */
function jrcxz(rcx: boolean): Handler {
  return (cpu, ins) => {
    const u = cpu.regs.u32;
    if ((u[1]! | (rcx ? u[GPR_HI + 1]! : 0)) === 0) jumpTo64(cpu, ins.nearBranchTarget);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  // Data movement.
  for (const name of [
    'Mov_rm64_r64',
    'Mov_r64_rm64',
    'Mov_rm64_imm32',
    'Mov_r64_imm64',
    'Mov_RAX_moffs64',
    'Mov_moffs64_RAX',
  ])
    add(name, mov64);
  // MOVNTI m64, r64: a non-temporal hint on a plain store (no cache model here).
  add('Movnti_m64_r64', mov64);
  add('Mov_r64m16_Sreg', movFromSreg64);
  add('Mov_Sreg_r64m16', movToSreg);
  add('Movsxd_r64_rm32', movsxd64);
  add('Movsxd_r32_rm32', movsxdNarrow(32));
  add('Movsxd_r16_rm16', movsxdNarrow(16));
  add('Movzx_r64_rm8', extend64(8, false));
  add('Movzx_r64_rm16', extend64(16, false));
  add('Movsx_r64_rm8', extend64(8, true));
  add('Movsx_r64_rm16', extend64(16, true));
  add('Lea_r64_m', lea64);
  add('Xchg_rm64_r64', xchg64);
  add('Xchg_r64_RAX', xchg64);
  add('Cmpxchg_rm64_r64', cmpxchg64);
  add('Cmpxchg16b_m128', cmpxchg16b);
  add('Xadd_rm64_r64', xadd64);
  add('Bswap_r64', bswap64);
  CONDITIONS.forEach((cc, i) => {
    add(`Cmov${cc}_r64_rm64`, cmov64(i));
    add(`J${cc}_rel8_64`, jcc64(i));
    add(`J${cc}_rel32_64`, jcc64(i));
  });
  add('Cdqe', cdqe);
  add('Cqo', cqo);
  add('Nopq', nop);
  add('Nop_rm64', nop);
  for (let r = 0x18; r <= 0x1f; r++) {
    const name = `Reservednop_rm64_r64_0F${r.toString(16).toUpperCase()}`;
    if (HandlerList.has(name)) add(name, nop);
  }
  add('Reservednop_rm64_r64_0F0D', nop);
  // Stack.
  add('Push_r64', push64Op0);
  add('Push_rm64', push64Op0);
  add('Pop_r64', pop64Op0);
  add('Pop_rm64', pop64Op0);
  add('Pushq_imm8', push64Imm);
  add('Pushq_imm32', push64Imm);
  add('Pushq_FS', pushSeg64(Seg.FS));
  add('Pushq_GS', pushSeg64(Seg.GS));
  add('Popq_FS', popSeg64(Seg.FS));
  add('Popq_GS', popSeg64(Seg.GS));
  add('Pushfq', pushfq);
  add('Popfq', popfq);
  add('Enterq_imm16_imm8', enterq);
  add('Leaveq', leaveq);
  // Near branches.
  add('Jmp_rel8_64', jmpRel64);
  add('Jmp_rel32_64', jmpRel64);
  add('Jmp_rm64', jmpRm64);
  add('Call_rel32_64', callRel64);
  add('Call_rm64', callRm64);
  add('Retnq', retNear64(false));
  add('Retnq_imm16', retNear64(true));
  for (const [name, kind] of [
    ['Loop', 0],
    ['Loope', 1],
    ['Loopne', 2],
  ] as const) {
    add(`${name}_rel8_64_RCX`, loop64(kind, true));
    add(`${name}_rel8_64_ECX`, loop64(kind, false));
  }
  add('Jrcxz_rel8_64', jrcxz(true));
  add('Jecxz_rel8_64', jrcxz(false));
  // Strings (quadword forms; 64-bit addressing of the other forms is in string.ts).
  add('Movsq_m64_m64', stringOp(StringOp.Movs, 64));
  add('Cmpsq_m64_m64', stringOp(StringOp.Cmps, 64));
  add('Stosq_m64_RAX', stringOp(StringOp.Stos, 64));
  add('Lodsq_RAX_m64', stringOp(StringOp.Lods, 64));
  add('Scasq_RAX_m64', stringOp(StringOp.Scas, 64));
  return list.entries;
}

export const LONG_DATA_HANDLERS: readonly (readonly [number, Handler])[] = entries();
