/**
 * Control transfer: JMP, Jcc, CALL, RET (near and far), LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, INT n, INT3,
 * INTO, INT1, IRET, BOUND (SDM Vol. 2). Far transfers in protected mode go through `far.ts`.
 */
import { type Instruction, OpKind } from '@typevisor/x86-decoder';
import { Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { CONDITIONS, HandlerList } from './table.js';
import { loadSegmentReal } from '../descriptors.js';
import { raise, Vector } from '../exceptions.js';
import {
  farReturnLong,
  farReturnProtected,
  farTransferLong,
  farTransferProtected,
  iretLong,
  iretProtected,
} from '../far.js';
import { EFLAGS, getOF, getZF, IOPL_SHIFT, readFlags, testCondition, writeFlags } from '../flags.js';
import { EventKind } from '../interrupts.js';
import { adjustSp, peek, push, read16, readSized } from '../memory-access.js';
import { getReg, locate, readOp0 } from '../operands.js';
import { GPR_HI, Seg } from '../registers.js';

/** Near jump target check: EIP must be inside the CS limit (SDM "JMP": #GP(0)). */
function jumpTo(cpu: Cpu, target: number): void {
  if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
  cpu.regs.ip = target;
}

const jmpRel: Handler = (cpu, ins) => jumpTo(cpu, ins.nearBranchTarget);

function jcc(cc: number): Handler {
  return (cpu, ins) => {
    if (testCondition(cpu.flags, cc)) jumpTo(cpu, ins.nearBranchTarget);
  };
}

function jmpRm(size: number): Handler {
  return (cpu, ins) => jumpTo(cpu, readOp0(cpu, ins, size));
}

function callRel(size: number): Handler {
  return (cpu, ins) => {
    const target = ins.nearBranchTarget;
    if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
    push(cpu, size, cpu.regs.ip);
    cpu.regs.ip = target;
  };
}

function callRm(size: number): Handler {
  return (cpu, ins) => {
    const target = readOp0(cpu, ins, size);
    if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
    push(cpu, size, cpu.regs.ip);
    cpu.regs.ip = target;
  };
}

function retNear(size: number, withImm: boolean): Handler {
  return (cpu, ins) => {
    const target = peek(cpu, size, 0);
    if (target > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
    adjustSp(cpu, (size >>> 3) + (withImm ? ins.immediate & 0xffff : 0));
    cpu.regs.ip = target;
  };
}

/** LOOP family; `kind` 0 = LOOP, 1 = LOOPE, 2 = LOOPNE. The counter width follows the address size. */
function loop(kind: number, counter32: boolean): Handler {
  return (cpu, ins) => {
    const r = cpu.regs;
    let n: number;
    if (counter32) {
      n = (r.u32[1]! - 1) >>> 0;
      r.r32[1] = n;
      r.r32[GPR_HI + 1] = 0;
    } else {
      n = (r.r16[2]! - 1) & 0xffff;
      r.r16[2] = n;
    }
    let take = n !== 0;
    if (kind === 1) take = take && getZF(cpu.flags) === 1;
    else if (kind === 2) take = take && getZF(cpu.flags) === 0;
    if (take) jumpTo(cpu, ins.nearBranchTarget);
  };
}

function jcxz(counter32: boolean): Handler {
  return (cpu, ins) => {
    const n = counter32 ? cpu.regs.u32[1]! : cpu.regs.r16[2]!;
    if (n === 0) jumpTo(cpu, ins.nearBranchTarget);
  };
}

/** Real-mode / V86 far transfer: CS = selector, base = selector * 16. */
function farReal(cpu: Cpu, selector: number, offset: number): void {
  if (offset > cpu.segs.hi[Seg.CS]!) raise(Vector.GP, 0);
  loadSegmentReal(cpu, Seg.CS, selector);
  cpu.regs.ip = offset;
}

function farTransfer(cpu: Cpu, selector: number, offset: number, size: number, call: boolean): void {
  if (cpu.ctrl.mode === Mode.Protected) {
    if (cpu.ctrl.lma) farTransferLong(cpu, selector, offset, size, call);
    else farTransferProtected(cpu, selector, offset, size, call);
  } else {
    if (call) {
      push(cpu, size, cpu.segs.selector[Seg.CS]!);
      push(cpu, size, cpu.regs.ip);
    }
    farReal(cpu, selector, size === 16 ? offset & 0xffff : offset);
  }
  cpu.stop = true;
}

function farDirect(size: number, call: boolean): Handler {
  return (cpu, ins) => farTransfer(cpu, ins.farBranchSelector, ins.farBranchOffset, size, call);
}

function farIndirect(size: number, call: boolean): Handler {
  return (cpu, ins) => {
    if (ins.op0Kind !== OpKind.Memory) raise(Vector.UD);
    locate(cpu, ins);
    const offset = readSized(cpu, cpu.eaSeg, cpu.eaOff, size);
    // 64-bit addressing: the selector follows the offset without a wrap (eaOff is in signed form).
    const at = cpu.eaOff + (size >>> 3);
    const selector = read16(
      cpu,
      cpu.eaSeg,
      ins.addressSize === 64 ? at : (at & (ins.addressSize === 16 ? 0xffff : 0xffffffff)) >>> 0,
    );
    farTransfer(cpu, selector, offset, size, call);
  };
}

function retFar(size: number, withImm: boolean): Handler {
  return (cpu, ins) => {
    const imm = withImm ? ins.immediate & 0xffff : 0;
    if (cpu.ctrl.mode === Mode.Protected) {
      if (cpu.ctrl.lma) farReturnLong(cpu, size, imm);
      else farReturnProtected(cpu, size, imm);
    } else {
      const ip = peek(cpu, size, 0);
      const cs = peek(cpu, size, size >>> 3) & 0xffff;
      farReal(cpu, cs, size === 16 ? ip & 0xffff : ip);
      adjustSp(cpu, 2 * (size >>> 3) + imm);
    }
    cpu.stop = true;
  };
}

function iret(size: number): Handler {
  return (cpu) => {
    const mode = cpu.ctrl.mode;
    if (mode === Mode.Protected) {
      if (cpu.ctrl.lma) iretLong(cpu, size);
      else iretProtected(cpu, size);
    } else {
      if (mode === Mode.V86 && ((cpu.flags.bits >>> IOPL_SHIFT) & 3) < 3) raise(Vector.GP, 0);
      const ip = peek(cpu, size, 0);
      const cs = peek(cpu, size, size >>> 3) & 0xffff;
      const fl = peek(cpu, size, 2 * (size >>> 3));
      farReal(cpu, cs, size === 16 ? ip & 0xffff : ip);
      adjustSp(cpu, 3 * (size >>> 3));
      const old = readFlags(cpu.flags);
      let mask = size === 16 ? 0xffff : 0x257fd5;
      if (size === 16) mask &= ~0x8028;
      if (mode === Mode.V86) mask &= ~EFLAGS.IOPL;
      writeFlags(cpu.flags, (old & ~mask) | (fl & mask));
      cpu.updateMode();
    }
    cpu.nmiBlocked = false;
    cpu.stop = true;
  };
}

/** INT n: in virtual-8086 mode IOPL must be 3 (no VME), else #GP(0). */
function softwareInterrupt(cpu: Cpu, vector: number): void {
  if (cpu.ctrl.mode === Mode.V86 && ((cpu.flags.bits >>> IOPL_SHIFT) & 3) < 3) raise(Vector.GP, 0);
  cpu.deliver(EventKind.Software, vector, 0);
}

const intN: Handler = (cpu, ins) => softwareInterrupt(cpu, ins.immediate & 0xff);
const int3: Handler = (cpu) => softwareInterrupt(cpu, Vector.BP);
const into: Handler = (cpu) => {
  if (getOF(cpu.flags)) softwareInterrupt(cpu, Vector.OF);
};
/** INT1 (ICEBP, F1): a #DB trap delivered like a hardware exception (no gate DPL check). */
const int1: Handler = (cpu) => cpu.deliver(EventKind.External, Vector.DB, 0);

function bound(size: number): Handler {
  return (cpu, ins: Instruction) => {
    if (ins.op1Kind !== OpKind.Memory) raise(Vector.UD);
    const shift = 32 - size;
    const idx = (getReg(cpu, ins.op0Register, size) << shift) >> shift;
    locate(cpu, ins);
    const lower = (readSized(cpu, cpu.eaSeg, cpu.eaOff, size) << shift) >> shift;
    const mask = ins.addressSize === 16 ? 0xffff : 0xffffffff;
    const upper =
      (readSized(cpu, cpu.eaSeg, ((cpu.eaOff + (size >>> 3)) & mask) >>> 0, size) << shift) >> shift;
    if (idx < lower || idx > upper) raise(Vector.BR);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  CONDITIONS.forEach((cc, i) => {
    const h = jcc(i);
    add(`J${cc}_rel8_16`, h);
    add(`J${cc}_rel8_32`, h);
    add(`J${cc}_rel16`, h);
    add(`J${cc}_rel32_32`, h);
  });
  for (const n of ['Jmp_rel8_16', 'Jmp_rel8_32', 'Jmp_rel16', 'Jmp_rel32_32']) add(n, jmpRel);
  add('Jmp_rm16', jmpRm(16));
  add('Jmp_rm32', jmpRm(32));
  add('Call_rel16', callRel(16));
  add('Call_rel32_32', callRel(32));
  add('Call_rm16', callRm(16));
  add('Call_rm32', callRm(32));
  add('Retnw', retNear(16, false));
  add('Retnd', retNear(32, false));
  add('Retnw_imm16', retNear(16, true));
  add('Retnd_imm16', retNear(32, true));
  add('Jmp_ptr1616', farDirect(16, false));
  add('Jmp_ptr1632', farDirect(32, false));
  add('Call_ptr1616', farDirect(16, true));
  add('Call_ptr1632', farDirect(32, true));
  add('Jmp_m1616', farIndirect(16, false));
  add('Jmp_m1632', farIndirect(32, false));
  add('Call_m1616', farIndirect(16, true));
  add('Call_m1632', farIndirect(32, true));
  add('Retfw', retFar(16, false));
  add('Retfd', retFar(32, false));
  add('Retfw_imm16', retFar(16, true));
  add('Retfd_imm16', retFar(32, true));
  add('Iretw', iret(16));
  add('Iretd', iret(32));
  add('Int_imm8', intN);
  add('Int3', int3);
  add('Into', into);
  add('Int1', int1);
  add('Bound_r16_m1616', bound(16));
  add('Bound_r32_m3232', bound(32));
  for (const [name, kind] of [
    ['Loop', 0],
    ['Loope', 1],
    ['Loopne', 2],
  ] as const) {
    add(`${name}_rel8_16_CX`, loop(kind, false));
    add(`${name}_rel8_32_CX`, loop(kind, false));
    add(`${name}_rel8_16_ECX`, loop(kind, true));
    add(`${name}_rel8_32_ECX`, loop(kind, true));
  }
  add('Jcxz_rel8_16', jcxz(false));
  add('Jcxz_rel8_32', jcxz(false));
  add('Jecxz_rel8_16', jcxz(true));
  add('Jecxz_rel8_32', jcxz(true));
  return list.entries;
}

export const BRANCH_HANDLERS: readonly [number, Handler][] = entries();
