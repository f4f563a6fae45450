/**
 * Interrupt and exception delivery (SDM Vol. 3 §6.12, §20.1.4; the INT n pseudo-code in Vol. 2A):
 * real mode through the IVT, protected and virtual-8086 mode through IDT interrupt, trap and task gates,
 * with the stack switch to the handler's privilege level from the TSS.
 */
import { Mode } from './control.js';
import type { Cpu } from './cpu.js';
import {
  DESC,
  dplOf,
  isCodeData,
  loadCacheFromDescriptor,
  loadNullSs,
  markAccessed,
  presentOf,
  readDescriptor,
  typeOf,
} from './descriptors.js';
import { hasErrorCode, raise, Vector } from './exceptions.js';
import { EFLAGS, readFlags, writeFlags } from './flags.js';
import {
  isCanonical,
  readLinear16,
  readLinear32,
  TWO_32,
  write16,
  write32,
  writeLinear64,
} from './memory-access.js';
import { Seg } from './registers.js';
import { Attr, SegType, SysType } from './segments.js';
import { readTss64, readTssStack, TaskSwitchReason, TSS_STACK, taskSwitch } from './task.js';

export const EventKind = {
  /** A CPU exception (fault or trap); pushes an error code when the vector has one. */
  Exception: 0,
  /** INTR or NMI. */
  External: 1,
  /** INT n, INT3, INTO: the gate DPL is checked against CPL. */
  Software: 2,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Delivers an event; raises a nested fault (caller applies the double-fault rules). */
export function deliverEvent(cpu: Cpu, kind: EventKind, vector: number, errorCode: number): void {
  cpu.halted = false;
  if (cpu.ctrl.mode === Mode.Real) deliverReal(cpu, vector);
  else if (cpu.ctrl.lma) deliverLong(cpu, kind, vector, errorCode);
  else deliverProtected(cpu, kind, vector, errorCode);
}

function deliverReal(cpu: Cpu, vector: number): void {
  const idtr = cpu.ctrl.idtr;
  if (vector * 4 + 3 > idtr.limit) raise(Vector.GP, 0);
  const entry = (idtr.base + vector * 4) >>> 0;
  const ip = readLinear16(cpu, entry, false);
  const cs = readLinear16(cpu, (entry + 2) >>> 0, false);
  const flags = readFlags(cpu.flags);
  const r = cpu.regs;
  const sp = r.r16[8]!;
  // Push FLAGS, CS, IP; writes are checked against SS like any stack push.
  write16(cpu, Seg.SS, (sp - 2) & 0xffff, flags);
  write16(cpu, Seg.SS, (sp - 4) & 0xffff, cpu.segs.selector[Seg.CS]!);
  write16(cpu, Seg.SS, (sp - 6) & 0xffff, r.ip);
  r.r16[8] = (sp - 6) & 0xffff;
  writeFlags(cpu.flags, flags & ~(EFLAGS.IF | EFLAGS.TF | EFLAGS.AC));
  const s = cpu.segs;
  s.selector[Seg.CS] = cs;
  s.base[Seg.CS] = cs << 4;
  r.ip = ip;
}

function deliverProtected(cpu: Cpu, kind: EventKind, vector: number, errorCode: number): void {
  const c = cpu.ctrl;
  const ext = kind === EventKind.Software ? 0 : 1;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > c.idtr.limit) raise(Vector.GP, gateErr);
  const addr = (c.idtr.base + vector * 8) >>> 0;
  const lo = readLinear32(cpu, addr, false);
  const hi = readLinear32(cpu, (addr + 4) >>> 0, false);
  const type = typeOf(hi);
  if (
    isCodeData(hi) ||
    (type !== SysType.INT_GATE16 &&
      type !== SysType.INT_GATE32 &&
      type !== SysType.TRAP_GATE16 &&
      type !== SysType.TRAP_GATE32 &&
      type !== SysType.TASK_GATE)
  ) {
    raise(Vector.GP, gateErr);
  }
  if (kind === EventKind.Software && dplOf(hi) < c.cpl) raise(Vector.GP, gateErr);
  if (!presentOf(hi)) raise(Vector.NP, gateErr);
  const pushError = kind === EventKind.Exception && hasErrorCode(vector);

  if (type === SysType.TASK_GATE) {
    taskSwitch(cpu, lo >>> 16, TaskSwitchReason.Interrupt);
    if (pushError) {
      // The error code goes on the new task's stack (SDM Vol. 3 §6.12.2).
      const big = (cpu.segs.attr[Seg.TR]! & 0xf) >= 9;
      pushRaw(cpu, big ? 32 : 16, errorCode);
    }
    return;
  }

  const gate32 = type === SysType.INT_GATE32 || type === SysType.TRAP_GATE32;
  const size = gate32 ? 32 : 16;
  const selector = lo >>> 16;
  const offset = gate32 ? ((lo & 0xffff) | (hi & 0xffff0000)) >>> 0 : lo & 0xffff;
  if ((selector & 0xfffc) === 0) raise(Vector.GP, ext);
  readDescriptor(cpu, selector, Vector.GP);
  const chi = DESC.hi;
  const clo = DESC.lo;
  const caddr = DESC.address;
  const selErr = (selector & 0xfffc) + ext;
  const ctype = typeOf(chi);
  if (!isCodeData(chi) || (ctype & SegType.CODE) === 0 || dplOf(chi) > c.cpl) raise(Vector.GP, selErr);
  if (!presentOf(chi)) raise(Vector.NP, selErr);
  const conforming = (ctype & SegType.EXPAND_DOWN_OR_CONFORMING) !== 0;
  const dpl = conforming ? c.cpl : dplOf(chi);
  const r = cpu.regs;
  const s = cpu.segs;
  const flags = readFlags(cpu.flags);
  const fromV86 = c.mode === Mode.V86;

  if (dpl < c.cpl || fromV86) {
    if (fromV86 && dpl !== 0) raise(Vector.GP, selErr);
    // Inter-privilege: switch to the stack for `dpl` from the TSS.
    readTssStack(cpu, dpl, ext);
    const newSs = TSS_STACK.ss;
    const newSp = TSS_STACK.sp;
    if ((newSs & 0xfffc) === 0) raise(Vector.TS, ext);
    if ((newSs & 3) !== dpl) raise(Vector.TS, (newSs & 0xfffc) + ext);
    readDescriptor(cpu, newSs, Vector.TS);
    const shi = DESC.hi;
    const stype = typeOf(shi);
    if (
      !isCodeData(shi) ||
      stype & SegType.CODE ||
      (stype & SegType.WRITABLE_OR_READABLE) === 0 ||
      dplOf(shi) !== dpl
    ) {
      raise(Vector.TS, (newSs & 0xfffc) + ext);
    }
    if (!presentOf(shi)) raise(Vector.SS, (newSs & 0xfffc) + ext);
    const ssLo = DESC.lo;
    const ssHi = DESC.hi;
    const oldSs = s.selector[Seg.SS]!;
    const oldSp = r.u32[4]!;
    const oldCs = s.selector[Seg.CS]!;
    // Build the frame on the new stack; on a fault put SS:ESP and CPL back and let it propagate.
    const savedCpl = c.cpl;
    const savedSs = s.selector[Seg.SS]!;
    const savedBase = s.base[Seg.SS]!;
    const savedLimit = s.limit[Seg.SS]!;
    const savedAttr = s.attr[Seg.SS]!;
    DESC.lo = ssLo;
    DESC.hi = ssHi;
    loadCacheFromDescriptor(cpu, Seg.SS, newSs);
    c.cpl = dpl;
    r.r32[4] = s.attr[Seg.SS]! & Attr.DB ? newSp : newSp & 0xffff;
    try {
      if (fromV86) {
        pushRaw(cpu, size, s.selector[Seg.GS]!);
        pushRaw(cpu, size, s.selector[Seg.FS]!);
        pushRaw(cpu, size, s.selector[Seg.DS]!);
        pushRaw(cpu, size, s.selector[Seg.ES]!);
      }
      pushRaw(cpu, size, oldSs);
      pushRaw(cpu, size, oldSp);
      pushRaw(cpu, size, flags);
      pushRaw(cpu, size, oldCs);
      pushRaw(cpu, size, r.ip);
      if (pushError) pushRaw(cpu, size, errorCode);
    } catch (e) {
      c.cpl = savedCpl;
      s.set(Seg.SS, savedSs, savedBase, savedLimit, savedAttr);
      r.r32[4] = oldSp;
      throw e;
    }
    if (fromV86) {
      for (const seg of V86_DATA_SEGS) s.setNull(seg, 0);
    }
  } else {
    const oldSp = r.u32[4]!;
    try {
      pushRaw(cpu, size, flags);
      pushRaw(cpu, size, s.selector[Seg.CS]!);
      pushRaw(cpu, size, r.ip);
      if (pushError) pushRaw(cpu, size, errorCode);
    } catch (e) {
      r.r32[4] = oldSp;
      throw e;
    }
  }
  DESC.lo = clo;
  DESC.hi = chi;
  DESC.address = caddr;
  markAccessed(cpu);
  loadCacheFromDescriptor(cpu, Seg.CS, (selector & 0xfffc) | dpl);
  c.cpl = dpl;
  r.ip = offset;
  let nf = flags & ~(EFLAGS.TF | EFLAGS.NT | EFLAGS.VM | EFLAGS.RF);
  if (type === SysType.INT_GATE16 || type === SysType.INT_GATE32) nf &= ~EFLAGS.IF;
  writeFlags(cpu.flags, nf);
  cpu.updateMode();
}

const V86_DATA_SEGS = [Seg.ES, Seg.DS, Seg.FS, Seg.GS];

/** Pushes on the current stack without a limit-check shortcut (used after a task switch). */
function pushRaw(cpu: Cpu, size: number, value: number): void {
  const r = cpu.regs;
  const big = (cpu.segs.attr[Seg.SS]! & Attr.DB) !== 0;
  const sp = big ? (r.u32[4]! - (size >>> 3)) >>> 0 : (r.r16[8]! - (size >>> 3)) & 0xffff;
  if (size === 32) write32(cpu, Seg.SS, sp, value);
  else write16(cpu, Seg.SS, sp, value);
  if (big) r.r32[4] = sp;
  else r.r16[8] = sp;
}

/**
 * Delivery in IA-32e mode, from 64-bit or compatibility mode (SDM Vol. 3 §6.14): a 16-byte interrupt
 * or trap gate to a 64-bit code segment; the stack from the TSS (RSPn on a privilege change, ISTn when
 * the gate names one) or the current one, aligned down to 16 bytes; SS, RSP, RFLAGS, CS, RIP and the
 * error code pushed as 8-byte slots. Nothing changes but memory until every check has passed.
 */
function deliverLong(cpu: Cpu, kind: EventKind, vector: number, errorCode: number): void {
  const c = cpu.ctrl;
  const ext = kind === EventKind.Software ? 0 : 1;
  const gateErr = vector * 8 + 2 + ext;
  if (vector * 16 + 15 > c.idtr.limit) raise(Vector.GP, gateErr);
  const addr = c.idtr.base + vector * 16;
  const lo = readLinear32(cpu, addr, false);
  const hi = readLinear32(cpu, addr + 4, false);
  const offHi = readLinear32(cpu, addr + 8, false);
  const type = typeOf(hi);
  // Only 64-bit interrupt and trap gates (types 14, 15); task gates do not exist in IA-32e mode.
  if (isCodeData(hi) || (type !== SysType.INT_GATE32 && type !== SysType.TRAP_GATE32))
    raise(Vector.GP, gateErr);
  if (kind === EventKind.Software && dplOf(hi) < c.cpl) raise(Vector.GP, gateErr);
  if (!presentOf(hi)) raise(Vector.NP, gateErr);
  const pushError = kind === EventKind.Exception && hasErrorCode(vector);

  const selector = lo >>> 16;
  if ((selector & 0xfffc) === 0) raise(Vector.GP, ext);
  readDescriptor(cpu, selector, Vector.GP);
  const chi = DESC.hi;
  const clo = DESC.lo;
  const caddr = DESC.address;
  const selErr = (selector & 0xfffc) + ext;
  const ctype = typeOf(chi);
  if (!isCodeData(chi) || (ctype & SegType.CODE) === 0 || dplOf(chi) > c.cpl) raise(Vector.GP, selErr);
  // The handler runs in 64-bit mode: L = 1, D = 0.
  if ((chi & (DESC_L | DESC_D)) !== DESC_L) raise(Vector.GP, selErr);
  if (!presentOf(chi)) raise(Vector.NP, selErr);
  const target = (offHi | 0) * TWO_32 + (((lo & 0xffff) | (hi & 0xffff0000)) >>> 0);
  if (!isCanonical(target)) raise(Vector.GP, ext);
  const conforming = (ctype & SegType.EXPAND_DOWN_OR_CONFORMING) !== 0;
  const dpl = conforming ? c.cpl : dplOf(chi);
  const r = cpu.regs;
  const s = cpu.segs;
  const inner = dpl < c.cpl;

  // The new stack pointer, as halves.
  const ist = hi & 7;
  let spLo: number;
  let spHi: number;
  if (ist !== 0) {
    spLo = readTss64(cpu, 36 + 8 * (ist - 1), ext);
    spHi = cpu.hi;
  } else if (inner) {
    spLo = readTss64(cpu, 4 + 8 * dpl, ext);
    spHi = cpu.hi;
  } else {
    spLo = r.u32[4]!;
    spHi = r.u32[16 + 4]!;
  }
  const top = (spHi | 0) * TWO_32 + ((spLo & ~15) >>> 0);
  const frame = pushError ? 48 : 40;
  if (!isCanonical(top - 1) || !isCanonical(top - frame)) raise(Vector.SS, ext);

  // The frame, written as the handler's privilege level would (supervisor unless it is 3).
  const flags = readFlags(cpu.flags);
  const user = dpl === 3;
  const ip = r.ip;
  writeLinear64(cpu, top - 8, s.selector[Seg.SS]!, 0, user);
  writeLinear64(cpu, top - 16, r.u32[4]!, r.u32[16 + 4]!, user);
  writeLinear64(cpu, top - 24, flags, 0, user);
  writeLinear64(cpu, top - 32, s.selector[Seg.CS]!, 0, user);
  writeLinear64(cpu, top - 40, ip >>> 0, Math.floor(ip / TWO_32) >>> 0, user);
  if (pushError) writeLinear64(cpu, top - 48, errorCode, 0, user);

  // Commit.
  DESC.lo = clo;
  DESC.hi = chi;
  DESC.address = caddr;
  markAccessed(cpu);
  if (inner) loadNullSs(cpu, dpl, dpl);
  loadCacheFromDescriptor(cpu, Seg.CS, (selector & 0xfffc) | dpl);
  c.cpl = dpl;
  const sp = top - frame;
  r.r32[4] = sp >>> 0;
  r.r32[16 + 4] = Math.floor(sp / TWO_32);
  r.ip = target;
  let nf = flags & ~(EFLAGS.TF | EFLAGS.NT | EFLAGS.VM | EFLAGS.RF);
  if (type === SysType.INT_GATE32) nf &= ~EFLAGS.IF;
  writeFlags(cpu.flags, nf);
  cpu.updateMode();
}

/** Descriptor high-word bits: L (64-bit code) and D/B. */
const DESC_L = 0x200000;
const DESC_D = 0x400000;
