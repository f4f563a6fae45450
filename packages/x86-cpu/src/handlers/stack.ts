/**
 * Stack instructions: PUSH/POP (registers, r/m, immediates, segment registers), PUSHA/POPA, PUSHF/POPF,
 * ENTER, LEAVE (SDM Vol. 2B). The stack address size comes from SS.B; the operand size from the
 * instruction.
 */
import { OpKind } from '@typevisor/x86-decoder';
import { Mode } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { loadSegment } from '../descriptors.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, IOPL_SHIFT, readFlags, writeFlags } from '../flags.js';
import type { Instruction } from '@typevisor/x86-decoder';
import {
  adjustSp as adjustLegacy,
  getRsp,
  isCanonical,
  peek as peekLegacy,
  push as pushLegacy,
  push16In64,
  read16,
  read32,
  setRsp,
  stack32,
  write16,
} from '../memory-access.js';
import { readOp0, setReg, writeOp0 } from '../operands.js';
import { GPR_HI, Seg } from '../registers.js';

// In 64-bit mode only the 16-bit forms (66h) come here: they move all of RSP (SS.B does not apply,
// SDM Vol. 1 §6.2.5); the 64-bit forms are in long-data.ts.

/** A stack address in 64-bit mode: #SS(0) unless canonical. */
function stackAt(a: number): number {
  if (!isCanonical(a)) raise(Vector.SS, 0);
  return a;
}

function push(cpu: Cpu, ins: Instruction, size: number, value: number): void {
  if (ins.bitness === 64) push16In64(cpu, value);
  else pushLegacy(cpu, size, value);
}

function peek(cpu: Cpu, ins: Instruction, size: number, depth: number): number {
  if (ins.bitness === 64) return read16(cpu, Seg.SS, stackAt(getRsp(cpu) + depth));
  return peekLegacy(cpu, size, depth);
}

function adjustSp(cpu: Cpu, ins: Instruction, bytes: number): void {
  if (ins.bitness === 64) setRsp(cpu, getRsp(cpu) + bytes);
  else adjustLegacy(cpu, bytes);
}

function pop(cpu: Cpu, ins: Instruction, size: number): number {
  const v = peek(cpu, ins, size, 0);
  adjustSp(cpu, ins, size >>> 3);
  return v;
}

function pushOp0(size: number): Handler {
  return (cpu, ins) => push(cpu, ins, size, readOp0(cpu, ins, size));
}

function pushImm(size: number): Handler {
  return (cpu, ins) => push(cpu, ins, size, size === 16 ? ins.immediate & 0xffff : ins.immediate >>> 0);
}

/** POP r16/r32: the register is written after SP moves, so POP SP loads the popped value. */
function popReg(size: number): Handler {
  return (cpu, ins) => {
    const v = pop(cpu, ins, size);
    setReg(cpu, ins.op0Register, size, v);
  };
}

/** POP r/m: an ESP-based destination address is computed with the incremented ESP (SDM "POP"). */
function popRm(size: number): Handler {
  return (cpu, ins) => {
    if (ins.op0Kind === OpKind.Register) {
      const v = pop(cpu, ins, size);
      setReg(cpu, ins.op0Register, size, v);
      return;
    }
    const v = peek(cpu, ins, size, 0);
    adjustSp(cpu, ins, size >>> 3);
    writeOp0(cpu, ins, size, v, false);
  };
}

function pushSeg(seg: number, size: number): Handler {
  return (cpu, ins) => {
    const sel = cpu.segs.selector[seg]!;
    if (size === 16) {
      push(cpu, ins, 16, sel);
      return;
    }
    // 32-bit push of a segment register: P6-family CPUs write only the low word of the slot.
    const r = cpu.regs;
    if (stack32(cpu)) {
      const sp = (r.u32[4]! - 4) >>> 0;
      write16(cpu, Seg.SS, sp, sel);
      r.r32[4] = sp;
      r.r32[GPR_HI + 4] = 0;
    } else {
      const sp = (r.r16[8]! - 4) & 0xffff;
      write16(cpu, Seg.SS, sp, sel);
      r.r16[8] = sp;
    }
  };
}

function popSeg(seg: number, size: number): Handler {
  return (cpu, ins) => {
    const sel = peek(cpu, ins, 16, 0);
    loadSegment(cpu, seg, sel);
    adjustSp(cpu, ins, size >>> 3);
    if (seg === Seg.SS) {
      cpu.shadow = true;
      cpu.stop = true;
    }
  };
}

function pusha(size: number): Handler {
  return (cpu, ins) => {
    const r = cpu.regs;
    const sp = r.u32[4]!;
    for (let i = 0; i < 8; i++) {
      const v = i === 4 ? sp : r.u32[i]!;
      push(cpu, ins, size, size === 16 ? v & 0xffff : v);
    }
  };
}

const popaValues = new Uint32Array(8);
function popa(size: number): Handler {
  return (cpu, ins) => {
    const bytes = size >>> 3;
    for (let i = 7; i >= 0; i--) popaValues[i] = peek(cpu, ins, size, (7 - i) * bytes);
    adjustSp(cpu, ins, bytes * 8);
    for (let i = 0; i < 8; i++) {
      if (i === 4) continue;
      if (size === 16) cpu.regs.r16[i * 2] = popaValues[i]!;
      else {
        cpu.regs.r32[i] = popaValues[i]!;
        cpu.regs.r32[GPR_HI + i] = 0;
      }
    }
  };
}

function iopl(cpu: Cpu): number {
  return (cpu.flags.bits >>> IOPL_SHIFT) & 3;
}

function pushf(size: number): Handler {
  return (cpu, ins) => {
    if (cpu.ctrl.mode === Mode.V86 && iopl(cpu) < 3) raise(Vector.GP, 0);
    const f = readFlags(cpu.flags) & ~(EFLAGS.VM | EFLAGS.RF);
    push(cpu, ins, size, size === 16 ? f & 0xffff : f);
  };
}

/** Flags POPF may change at CPL 0 (VM, RF, VIF, VIP never). */
const POPF_MASK =
  EFLAGS.CF |
  EFLAGS.PF |
  EFLAGS.AF |
  EFLAGS.ZF |
  EFLAGS.SF |
  EFLAGS.TF |
  EFLAGS.IF |
  EFLAGS.DF |
  EFLAGS.OF |
  EFLAGS.IOPL |
  EFLAGS.NT |
  EFLAGS.AC |
  EFLAGS.ID;

/** Writes EFLAGS as POPF/IRET do at the current privilege (SDM "POPF" operation table). */
export function writeFlagsChecked(cpu: Cpu, value: number, size: number): void {
  const old = readFlags(cpu.flags);
  let mask = POPF_MASK;
  if (size === 16) mask &= 0xffff;
  const mode = cpu.ctrl.mode;
  if (mode === Mode.V86) {
    if (iopl(cpu) < 3) raise(Vector.GP, 0);
    mask &= ~EFLAGS.IOPL;
  } else if (mode === Mode.Protected) {
    if (cpu.ctrl.cpl > 0) mask &= ~EFLAGS.IOPL;
    if (cpu.ctrl.cpl > iopl(cpu)) mask &= ~EFLAGS.IF;
  }
  writeFlags(cpu.flags, ((old & ~mask) | (value & mask)) & ~EFLAGS.RF);
  if ((old ^ value) & (EFLAGS.IF | EFLAGS.TF) & mask) cpu.stop = true;
}

function popf(size: number): Handler {
  return (cpu, ins) => {
    if (cpu.ctrl.mode === Mode.V86 && iopl(cpu) < 3) raise(Vector.GP, 0);
    const v = peek(cpu, ins, size, 0);
    writeFlagsChecked(cpu, v, size);
    adjustSp(cpu, ins, size >>> 3);
  };
}

function enter(size: number): Handler {
  return (cpu, ins) => {
    if (ins.bitness === 64) {
      enter16In64(cpu, ins);
      return;
    }
    const alloc = ins.immediate & 0xffff;
    const level = ins.immediate2 & 31;
    const r = cpu.regs;
    const big = stack32(cpu);
    const bytes = size >>> 3;
    push(cpu, ins, size, size === 16 ? r.r16[10]! : r.u32[5]!);
    const frame = big ? r.u32[4]! : r.r16[8]!;
    if (level > 0) {
      let bp = big ? r.u32[5]! : r.r16[10]!;
      for (let i = 1; i < level; i++) {
        bp = big ? (bp - bytes) >>> 0 : (bp - bytes) & 0xffff;
        const v = size === 16 ? read16(cpu, Seg.SS, bp) : read32(cpu, Seg.SS, bp);
        push(cpu, ins, size, v);
      }
      push(cpu, ins, size, frame);
    }
    const sp = big ? (r.u32[4]! - alloc) >>> 0 : (r.r16[8]! - alloc) & 0xffff;
    if (size === 16) r.r16[10] = frame;
    else set32(r.r32, 5, frame);
    if (big) set32(r.r32, 4, sp);
    else r.r16[8] = sp;
  };
}

/** ENTER with a 16-bit operand (66h) in 64-bit mode: 16-bit values pushed, RSP/RBP as 64-bit pointers. */
function enter16In64(cpu: Cpu, ins: Instruction): void {
  const alloc = ins.immediate & 0xffff;
  const level = ins.immediate2 & 31;
  const r = cpu.regs;
  push16In64(cpu, r.r16[10]!);
  const frame = getRsp(cpu);
  if (level > 0) {
    let bp = r.r32[GPR_HI + 5]! * 2 ** 32 + r.u32[5]!;
    for (let i = 1; i < level; i++) {
      bp -= 2;
      push16In64(cpu, read16(cpu, Seg.SS, stackAt(bp)));
    }
    push16In64(cpu, frame & 0xffff);
  }
  const sp = stackAt(getRsp(cpu) - alloc);
  r.r16[10] = frame & 0xffff;
  setRsp(cpu, sp);
}

function set32(r32: Int32Array, n: number, v: number): void {
  r32[n] = v;
  r32[GPR_HI + n] = 0;
}

function leave(size: number): Handler {
  return (cpu, ins) => {
    const r = cpu.regs;
    if (ins.bitness === 64) {
      // LEAVE with 66h in 64-bit mode: RSP = RBP, then BP = a 16-bit pop.
      const bp = stackAt(r.r32[GPR_HI + 5]! * 2 ** 32 + r.u32[5]!);
      const v = read16(cpu, Seg.SS, bp);
      setRsp(cpu, bp + 2);
      r.r16[10] = v;
      return;
    }
    const big = stack32(cpu);
    const bp = big ? r.u32[5]! : r.r16[10]!;
    const v = size === 16 ? read16(cpu, Seg.SS, bp) : read32(cpu, Seg.SS, bp);
    const sp = big ? (bp + (size >>> 3)) >>> 0 : (bp + (size >>> 3)) & 0xffff;
    if (big) set32(r.r32, 4, sp);
    else r.r16[8] = sp;
    if (size === 16) r.r16[10] = v;
    else set32(r.r32, 5, v);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  add('Push_r16', pushOp0(16));
  add('Push_r32', pushOp0(32));
  add('Push_rm16', pushOp0(16));
  add('Push_rm32', pushOp0(32));
  add('Pop_r16', popReg(16));
  add('Pop_r32', popReg(32));
  add('Pop_rm16', popRm(16));
  add('Pop_rm32', popRm(32));
  add('Push_imm16', pushImm(16));
  add('Pushd_imm32', pushImm(32));
  add('Pushw_imm8', pushImm(16));
  add('Pushd_imm8', pushImm(32));
  for (const [name, seg] of [
    ['ES', Seg.ES],
    ['CS', Seg.CS],
    ['SS', Seg.SS],
    ['DS', Seg.DS],
    ['FS', Seg.FS],
    ['GS', Seg.GS],
  ] as const) {
    add(`Pushw_${name}`, pushSeg(seg, 16));
    add(`Pushd_${name}`, pushSeg(seg, 32));
    if (seg !== Seg.CS) {
      add(`Popw_${name}`, popSeg(seg, 16));
      add(`Popd_${name}`, popSeg(seg, 32));
    }
  }
  add('Pushaw', pusha(16));
  add('Pushad', pusha(32));
  add('Popaw', popa(16));
  add('Popad', popa(32));
  add('Pushfw', pushf(16));
  add('Pushfd', pushf(32));
  add('Popfw', popf(16));
  add('Popfd', popf(32));
  add('Enterw_imm16_imm8', enter(16));
  add('Enterd_imm16_imm8', enter(32));
  add('Leavew', leave(16));
  add('Leaved', leave(32));
  return list.entries;
}

export const STACK_HANDLERS: readonly [number, Handler][] = entries();
