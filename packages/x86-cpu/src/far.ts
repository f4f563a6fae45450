/**
 * Far control transfers in protected mode (SDM Vol. 2A "JMP", "CALL", "RET", "IRET"): code-segment
 * privilege checks, conforming code, call gates with the stack switch and parameter copy, task gates
 * and TSS targets, returns to outer privilege levels and to virtual-8086 mode.
 */
import { Mode } from './control.js';
import type { Cpu } from './cpu.js';
import {
  DESC,
  dplOf,
  isCodeData,
  loadCacheFromDescriptor,
  loadNullSs,
  loadSegmentReal,
  markAccessed,
  nullifyInaccessibleSegments,
  presentOf,
  readDescriptor,
  readSystemDescriptor64,
  typeOf,
} from './descriptors.js';
import { raise, Vector } from './exceptions.js';
import { EFLAGS, IOPL_SHIFT, readFlags, writeFlags } from './flags.js';
import {
  getRsp,
  isCanonical,
  read16,
  read32,
  read64,
  readLinear16,
  setRsp,
  stack32,
  TWO_32,
  write16,
  write32,
  write64,
  writeLinear64,
} from './memory-access.js';
import { joinSigned } from './operands.js';
import { Seg } from './registers.js';
import { Attr, SegType, SysType } from './segments.js';
import { readTss64, readTssStack, TaskSwitchReason, TSS_STACK, taskSwitch } from './task.js';

/** Checks a code descriptor in DESC as a direct JMP/CALL target; returns nothing or raises. */
function checkDirectCode(cpu: Cpu, selector: number): void {
  const hi = DESC.hi;
  const err = selector & 0xfffc;
  const type = typeOf(hi);
  const cpl = cpu.ctrl.cpl;
  if (type & SegType.EXPAND_DOWN_OR_CONFORMING) {
    if (dplOf(hi) > cpl) raise(Vector.GP, err);
  } else if ((selector & 3) > cpl || dplOf(hi) !== cpl) raise(Vector.GP, err);
  if (!presentOf(hi)) raise(Vector.NP, err);
}

/** Loads CS from DESC at privilege `cpl` and jumps to `offset` (limit-checked). */
function enterCode(cpu: Cpu, selector: number, offset: number, cpl: number): void {
  const limit = descLimit();
  if (offset > limit) raise(Vector.GP, 0);
  markAccessed(cpu);
  loadCacheFromDescriptor(cpu, Seg.CS, (selector & 0xfffc) | cpl);
  cpu.ctrl.cpl = cpl;
  cpu.regs.ip = offset;
}

function descLimit(): number {
  const raw = (DESC.lo & 0xffff) | (DESC.hi & 0xf0000);
  return DESC.hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}

function isCode(hi: number): boolean {
  return isCodeData(hi) && (typeOf(hi) & SegType.CODE) !== 0;
}

/** Far JMP or CALL through `selector:offset` in protected mode. `size` is the operand size. */
export function farTransferProtected(
  cpu: Cpu,
  selector: number,
  offset: number,
  size: number,
  call: boolean,
): void {
  const err = selector & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  readDescriptor(cpu, selector);
  const hi = DESC.hi;
  const cpl = cpu.ctrl.cpl;
  if (isCodeData(hi)) {
    if (!isCode(hi)) raise(Vector.GP, err);
    checkDirectCode(cpu, selector);
    if (size === 16) offset &= 0xffff;
    if (offset > descLimit()) raise(Vector.GP, 0);
    if (call) pushReturn(cpu, size);
    enterCode(cpu, selector, offset, cpl);
    return;
  }
  const type = typeOf(hi);
  const dpl = dplOf(hi);
  if (dpl < cpl || dpl < (selector & 3)) raise(Vector.GP, err);
  switch (type) {
    case SysType.TSS16_AVAILABLE:
    case SysType.TSS32_AVAILABLE:
      if (!presentOf(hi)) raise(Vector.NP, err);
      taskSwitch(cpu, selector, call ? TaskSwitchReason.Call : TaskSwitchReason.Jump);
      return;
    case SysType.TASK_GATE:
      if (!presentOf(hi)) raise(Vector.NP, err);
      taskSwitch(cpu, DESC.lo >>> 16, call ? TaskSwitchReason.Call : TaskSwitchReason.Jump);
      return;
    case SysType.CALL_GATE16:
    case SysType.CALL_GATE32:
      if (!presentOf(hi)) raise(Vector.NP, err);
      callGate(cpu, DESC.lo, hi, call);
      return;
    default:
      raise(Vector.GP, err);
  }
}

function pushReturn(cpu: Cpu, size: number): void {
  const r = cpu.regs;
  const big = stack32(cpu);
  const bytes = size >>> 3;
  const sp0 = big ? r.u32[4]! : r.r16[8]!;
  const sp1 = big ? (sp0 - bytes) >>> 0 : (sp0 - bytes) & 0xffff;
  const sp2 = big ? (sp1 - bytes) >>> 0 : (sp1 - bytes) & 0xffff;
  const cs = cpu.segs.selector[Seg.CS]!;
  if (size === 32) {
    write32(cpu, Seg.SS, sp1, cs);
    write32(cpu, Seg.SS, sp2, r.ip);
  } else {
    write16(cpu, Seg.SS, sp1, cs);
    write16(cpu, Seg.SS, sp2, r.ip);
  }
  if (big) r.r32[4] = sp2;
  else r.r16[8] = sp2;
}

const params = new Uint32Array(32);

function callGate(cpu: Cpu, glo: number, ghi: number, call: boolean): void {
  const gate32 = typeOf(ghi) === SysType.CALL_GATE32;
  const size = gate32 ? 32 : 16;
  const target = glo >>> 16;
  const offset = gate32 ? ((glo & 0xffff) | (ghi & 0xffff0000)) >>> 0 : glo & 0xffff;
  const count = ghi & 31;
  const terr = target & 0xfffc;
  if (terr === 0) raise(Vector.GP, 0);
  readDescriptor(cpu, target);
  const hi = DESC.hi;
  const cpl = cpu.ctrl.cpl;
  if (!isCode(hi) || dplOf(hi) > cpl) raise(Vector.GP, terr);
  if (!presentOf(hi)) raise(Vector.NP, terr);
  const conforming = (typeOf(hi) & SegType.EXPAND_DOWN_OR_CONFORMING) !== 0;
  if (!call) {
    if (!conforming && dplOf(hi) !== cpl) raise(Vector.GP, terr);
    enterCode(cpu, target, offset, cpl);
    return;
  }
  const dpl = dplOf(hi);
  if (conforming || dpl === cpl) {
    if (offset > descLimit()) raise(Vector.GP, 0);
    pushReturn(cpu, size);
    enterCode(cpu, target, offset, cpl);
    return;
  }
  // More privileged: stack switch (SDM Vol. 3 §5.8.5).
  const codeLo = DESC.lo;
  const codeHi = DESC.hi;
  const codeAddr = DESC.address;
  readTssStack(cpu, dpl, 0);
  const ss = TSS_STACK.ss;
  const sp = TSS_STACK.sp;
  const serr = ss & 0xfffc;
  if (serr === 0) raise(Vector.TS, 0);
  if ((ss & 3) !== dpl) raise(Vector.TS, serr);
  readDescriptor(cpu, ss, Vector.TS);
  const shi = DESC.hi;
  const stype = typeOf(shi);
  if (
    !isCodeData(shi) ||
    stype & SegType.CODE ||
    (stype & SegType.WRITABLE_OR_READABLE) === 0 ||
    dplOf(shi) !== dpl
  ) {
    raise(Vector.TS, serr);
  }
  if (!presentOf(shi)) raise(Vector.SS, serr);
  const s = cpu.segs;
  const r = cpu.regs;
  const oldSs = s.selector[Seg.SS]!;
  const oldSp = r.u32[4]!;
  const oldCs = s.selector[Seg.CS]!;
  const oldBig = stack32(cpu);
  const pbytes = size >>> 3;
  for (let i = 0; i < count; i++) {
    const off = oldBig ? (oldSp + i * pbytes) >>> 0 : (oldSp + i * pbytes) & 0xffff;
    params[i] = size === 32 ? read32(cpu, Seg.SS, off) : read16(cpu, Seg.SS, off);
  }
  loadCacheFromDescriptor(cpu, Seg.SS, ss);
  cpu.ctrl.cpl = dpl;
  r.r32[4] = s.attr[Seg.SS]! & Attr.DB ? sp : sp & 0xffff;
  pushValue(cpu, size, oldSs);
  pushValue(cpu, size, oldSp);
  for (let i = count - 1; i >= 0; i--) pushValue(cpu, size, params[i]!);
  pushValue(cpu, size, oldCs);
  pushValue(cpu, size, r.ip);
  DESC.lo = codeLo;
  DESC.hi = codeHi;
  DESC.address = codeAddr;
  enterCode(cpu, target, offset, dpl);
}

function pushValue(cpu: Cpu, size: number, v: number): void {
  const r = cpu.regs;
  const big = stack32(cpu);
  const sp = big ? (r.u32[4]! - (size >>> 3)) >>> 0 : (r.r16[8]! - (size >>> 3)) & 0xffff;
  if (size === 32) write32(cpu, Seg.SS, sp, v);
  else write16(cpu, Seg.SS, sp, v);
  if (big) r.r32[4] = sp;
  else r.r16[8] = sp;
}

function stackRead(cpu: Cpu, size: number, depth: number): number {
  const r = cpu.regs;
  const sp = stack32(cpu) ? (r.u32[4]! + depth) >>> 0 : (r.r16[8]! + depth) & 0xffff;
  return size === 32 ? read32(cpu, Seg.SS, sp) : read16(cpu, Seg.SS, sp);
}

function addSp(cpu: Cpu, n: number): void {
  const r = cpu.regs;
  if (stack32(cpu)) r.r32[4] = (r.u32[4]! + n) | 0;
  else r.r16[8] = (r.r16[8]! + n) & 0xffff;
}

/** Checks the return CS in DESC for RET/IRET to privilege `rpl`. */
function checkReturnCode(selector: number): void {
  const err = selector & 0xfffc;
  const hi = DESC.hi;
  const rpl = selector & 3;
  if (!isCode(hi)) raise(Vector.GP, err);
  if (typeOf(hi) & SegType.EXPAND_DOWN_OR_CONFORMING) {
    if (dplOf(hi) > rpl) raise(Vector.GP, err);
  } else if (dplOf(hi) !== rpl) raise(Vector.GP, err);
  if (!presentOf(hi)) raise(Vector.NP, err);
}

/** Loads SS:ESP for a return to an outer level from the stack at `depth`. */
function returnOuterStack(cpu: Cpu, size: number, depth: number, rpl: number, imm: number): void {
  const newSp = stackRead(cpu, size, depth);
  const newSs = stackRead(cpu, size, depth + (size >>> 3)) & 0xffff;
  const err = newSs & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  if ((newSs & 3) !== rpl) raise(Vector.GP, err);
  readDescriptor(cpu, newSs);
  const hi = DESC.hi;
  const t = typeOf(hi);
  if (!isCodeData(hi) || t & SegType.CODE || (t & SegType.WRITABLE_OR_READABLE) === 0 || dplOf(hi) !== rpl) {
    raise(Vector.GP, err);
  }
  if (!presentOf(hi)) raise(Vector.SS, err);
  markAccessed(cpu);
  loadCacheFromDescriptor(cpu, Seg.SS, newSs);
  const r = cpu.regs;
  if (cpu.segs.attr[Seg.SS]! & Attr.DB) r.r32[4] = (newSp + imm) >>> 0;
  else r.r16[8] = (newSp + imm) & 0xffff;
}

/** Far RET (with `imm` bytes of parameters to release) in protected mode. */
export function farReturnProtected(cpu: Cpu, size: number, imm: number): void {
  const bytes = size >>> 3;
  const ip = stackRead(cpu, size, 0);
  const cs = stackRead(cpu, size, bytes) & 0xffff;
  const err = cs & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  const rpl = cs & 3;
  const cpl = cpu.ctrl.cpl;
  if (rpl < cpl) raise(Vector.GP, err);
  readDescriptor(cpu, cs);
  checkReturnCode(cs);
  const codeLo = DESC.lo;
  const codeHi = DESC.hi;
  const codeAddr = DESC.address;
  const offset = size === 16 ? ip & 0xffff : ip;
  if (offset > descLimit()) raise(Vector.GP, 0);
  if (rpl === cpl) {
    enterCode(cpu, cs, offset, cpl);
    addSp(cpu, 2 * bytes + imm);
    return;
  }
  returnOuterStack(cpu, size, 2 * bytes + imm, rpl, imm);
  DESC.lo = codeLo;
  DESC.hi = codeHi;
  DESC.address = codeAddr;
  enterCode(cpu, cs, offset, rpl);
  nullifyInaccessibleSegments(cpu);
}

/** IRET in protected mode (including task return and return to virtual-8086 mode). */
export function iretProtected(cpu: Cpu, size: number): void {
  const r = cpu.regs;
  if (cpu.flags.bits & EFLAGS.NT) {
    const link = readDescriptorLink(cpu);
    taskSwitch(cpu, link, TaskSwitchReason.Iret);
    return;
  }
  const bytes = size >>> 3;
  const ip = stackRead(cpu, size, 0);
  const cs = stackRead(cpu, size, bytes) & 0xffff;
  const flags = stackRead(cpu, size, 2 * bytes);
  const cpl = cpu.ctrl.cpl;
  if (size === 32 && flags & EFLAGS.VM && cpl === 0) {
    // Return to virtual-8086 mode (SDM "IRET": RETURN-TO-VIRTUAL-8086-MODE).
    const esp = stackRead(cpu, 32, 12);
    const ss = stackRead(cpu, 32, 16);
    const es = stackRead(cpu, 32, 20);
    const ds = stackRead(cpu, 32, 24);
    const fs = stackRead(cpu, 32, 28);
    const gs = stackRead(cpu, 32, 32);
    writeFlags(cpu.flags, flags);
    cpu.updateMode();
    cpu.ctrl.cpl = 3;
    loadSegmentReal(cpu, Seg.CS, cs);
    loadSegmentReal(cpu, Seg.SS, ss & 0xffff);
    loadSegmentReal(cpu, Seg.ES, es & 0xffff);
    loadSegmentReal(cpu, Seg.DS, ds & 0xffff);
    loadSegmentReal(cpu, Seg.FS, fs & 0xffff);
    loadSegmentReal(cpu, Seg.GS, gs & 0xffff);
    r.ip = ip & 0xffff;
    r.r32[4] = esp;
    return;
  }
  const err = cs & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  const rpl = cs & 3;
  if (rpl < cpl) raise(Vector.GP, err);
  readDescriptor(cpu, cs);
  checkReturnCode(cs);
  const codeLo = DESC.lo;
  const codeHi = DESC.hi;
  const codeAddr = DESC.address;
  const offset = size === 16 ? ip & 0xffff : ip;
  if (offset > descLimit()) raise(Vector.GP, 0);
  if (rpl > cpl) {
    returnOuterStack(cpu, size, 3 * bytes, rpl, 0);
    DESC.lo = codeLo;
    DESC.hi = codeHi;
    DESC.address = codeAddr;
  } else {
    addSp(cpu, 3 * bytes);
  }
  applyIretFlags(cpu, flags, size, cpl);
  enterCode(cpu, cs, offset, rpl);
  if (rpl > cpl) nullifyInaccessibleSegments(cpu);
}

function applyIretFlags(cpu: Cpu, value: number, size: number, cpl: number): void {
  const old = readFlags(cpu.flags);
  let mask =
    EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.TF | EFLAGS.DF | EFLAGS.OF | EFLAGS.NT;
  if (size === 32) mask |= EFLAGS.RF | EFLAGS.AC | EFLAGS.ID;
  if (cpl === 0) {
    mask |= EFLAGS.IOPL | EFLAGS.IF;
    if (size === 32) mask |= EFLAGS.VIF | EFLAGS.VIP;
  } else if (cpl <= ((old >>> IOPL_SHIFT) & 3)) mask |= EFLAGS.IF;
  writeFlags(cpu.flags, (old & ~mask) | (value & mask));
  cpu.updateMode();
}

/** The back link of the current TSS (for a nested-task IRET). */
function readDescriptorLink(cpu: Cpu): number {
  const base = cpu.segs.base[Seg.TR]!;
  return readLinear16(cpu, base, false);
}

/** True in modes where far transfers use descriptors. */
export function usesDescriptors(cpu: Cpu): boolean {
  return cpu.ctrl.mode === Mode.Protected;
}

// ------------------------------------------------------------------ IA-32e mode (EFER.LMA = 1)

/** Descriptor high-word bits: L (64-bit code segment) and D/B. */
const DESC_L = 0x200000;
const DESC_D = 0x400000;

/**
 * The `size`-bit stack slot `depth` bytes above the top, in IA-32e mode: RSP in 64-bit mode (a
 * non-canonical slot raises #SS(0)), SS:ESP in compatibility mode. Returns the low half, the high
 * half (size 64 only, else 0) in `cpu.hi`.
 */
function readStackSlot(cpu: Cpu, size: number, depth: number): number {
  if (!cpu.code64) {
    const v = stackRead(cpu, size === 64 ? 32 : size, depth);
    cpu.hi = size === 64 ? stackRead(cpu, 32, depth + 4) : 0;
    return v;
  }
  const a = getRsp(cpu) + depth;
  if (!isCanonical(a) || !isCanonical(a + (size >>> 3) - 1)) raise(Vector.SS, 0);
  if (size === 64) return read64(cpu, Seg.SS, a);
  cpu.hi = 0;
  return size === 32 ? read32(cpu, Seg.SS, a) : read16(cpu, Seg.SS, a);
}

/** Raises #GP(selector) for a code descriptor in DESC with both L and D set (reserved in IA-32e mode). */
function checkLongCode(selector: number): boolean {
  const hi = DESC.hi;
  if ((hi & DESC_L) !== 0 && (hi & DESC_D) !== 0) raise(Vector.GP, selector & 0xfffc);
  return (hi & DESC_L) !== 0;
}

/** The new RIP: canonical for a 64-bit target, else within the limit of the code descriptor in DESC. */
function checkTargetIp(ip: number, target64: boolean): void {
  if (target64 ? !isCanonical(ip) : ip < 0 || ip > descLimit()) raise(Vector.GP, 0);
}

/** Loads CS from the descriptor in DESC at privilege `cpl` and jumps to `ip` (checked by the caller). */
function commitCode(cpu: Cpu, selector: number, cpl: number, ip: number): void {
  markAccessed(cpu);
  loadCacheFromDescriptor(cpu, Seg.CS, (selector & 0xfffc) | cpl);
  cpu.ctrl.cpl = cpl;
  cpu.regs.ip = ip;
}

function setRspHalves(cpu: Cpu, lo: number, hi: number): void {
  cpu.regs.r32[4] = lo;
  cpu.regs.r32[16 + 4] = hi;
}

/**
 * Pushes the return CS and RIP of a far CALL with `size`-bit slots (64: through a 64-bit call gate
 * or CALL m16:64); RSP changes only after both writes.
 */
function pushFarReturn(cpu: Cpu, size: number): void {
  const r = cpu.regs;
  const ip = r.ip;
  const cs = cpu.segs.selector[Seg.CS]!;
  const bytes = size >>> 3;
  if (cpu.code64) {
    const rsp = getRsp(cpu);
    const a1 = rsp - bytes;
    const a2 = rsp - 2 * bytes;
    if (!isCanonical(rsp - 1) || !isCanonical(a2)) raise(Vector.SS, 0);
    if (size === 64) {
      write64(cpu, Seg.SS, a1, cs, 0);
      write64(cpu, Seg.SS, a2, ip >>> 0, Math.floor(ip / TWO_32) >>> 0);
    } else if (size === 32) {
      write32(cpu, Seg.SS, a1, cs);
      write32(cpu, Seg.SS, a2, ip >>> 0);
    } else {
      write16(cpu, Seg.SS, a1, cs);
      write16(cpu, Seg.SS, a2, ip);
    }
    setRsp(cpu, a2);
    return;
  }
  if (size !== 64) {
    pushReturn(cpu, size);
    return;
  }
  // Compatibility mode through a 64-bit call gate: two 8-byte slots on SS:(E)SP.
  const big = stack32(cpu);
  const sp0 = big ? r.u32[4]! : r.r16[8]!;
  const mask = big ? 0xffffffff : 0xffff;
  const sp1 = ((sp0 - 8) & mask) >>> 0;
  const sp2 = ((sp0 - 16) & mask) >>> 0;
  write32(cpu, Seg.SS, sp1, cs);
  write32(cpu, Seg.SS, sp1 + 4, 0);
  write32(cpu, Seg.SS, sp2, ip);
  write32(cpu, Seg.SS, sp2 + 4, 0);
  if (big) r.r32[4] = sp2;
  else r.r16[8] = sp2;
}

/**
 * Far JMP or CALL in IA-32e mode (SDM Vol. 2A JMP/CALL, EFER.LMA = 1): to a code segment (64-bit or
 * compatibility mode) or through a 16-byte 64-bit call gate. `offset` is the target RIP (signed form
 * for 64-bit operands, zero-extended otherwise); `size` the operand size 16/32/64. Task gates and TSS
 * descriptors raise #GP(selector): IA-32e mode has no hardware task switch.
 */
export function farTransferLong(
  cpu: Cpu,
  selector: number,
  offset: number,
  size: number,
  call: boolean,
): void {
  const err = selector & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  readDescriptor(cpu, selector);
  const hi = DESC.hi;
  const cpl = cpu.ctrl.cpl;
  if (isCodeData(hi)) {
    if (!isCode(hi)) raise(Vector.GP, err);
    const target64 = checkLongCode(selector);
    checkDirectCode(cpu, selector);
    const ip = size === 16 ? offset & 0xffff : offset;
    checkTargetIp(ip, target64);
    markAccessed(cpu);
    if (call) pushFarReturn(cpu, size);
    commitCode(cpu, selector, cpl, ip);
    return;
  }
  const dpl = dplOf(hi);
  // In IA-32e mode type 12 is the 64-bit call gate; nothing else but code segments is a target.
  if (typeOf(hi) !== SysType.CALL_GATE32) raise(Vector.GP, err);
  if (dpl < cpl || dpl < (selector & 3)) raise(Vector.GP, err);
  readSystemDescriptor64(cpu, selector);
  if (!presentOf(DESC.hi)) raise(Vector.NP, err);
  callGate64(cpu, DESC.lo, DESC.hi, DESC.upper, call);
}

/** Through a 64-bit call gate (SDM Vol. 3 §5.8.6): a 64-bit target, RSPn from the TSS, null SS. */
function callGate64(cpu: Cpu, glo: number, ghi: number, upper: number, call: boolean): void {
  const target = glo >>> 16;
  const offset = (upper | 0) * TWO_32 + (((glo & 0xffff) | (ghi & 0xffff0000)) >>> 0);
  const terr = target & 0xfffc;
  if (terr === 0) raise(Vector.GP, 0);
  readDescriptor(cpu, target);
  const hi = DESC.hi;
  const cpl = cpu.ctrl.cpl;
  if (!isCode(hi) || dplOf(hi) > cpl) raise(Vector.GP, terr);
  const conforming = (typeOf(hi) & SegType.EXPAND_DOWN_OR_CONFORMING) !== 0;
  if (!call && !conforming && dplOf(hi) !== cpl) raise(Vector.GP, terr);
  // The target must be a 64-bit code segment.
  if ((hi & (DESC_L | DESC_D)) !== DESC_L) raise(Vector.GP, terr);
  if (!presentOf(hi)) raise(Vector.NP, terr);
  if (!isCanonical(offset)) raise(Vector.GP, 0);
  const dpl = dplOf(hi);
  if (!call || conforming || dpl === cpl) {
    markAccessed(cpu);
    if (call) pushFarReturn(cpu, 64);
    commitCode(cpu, target, cpl, offset);
    return;
  }
  // More privileged: the stack for `dpl` from the 64-bit TSS; old SS:RSP, CS, RIP in 8-byte slots.
  const spLo = readTss64(cpu, 4 + 8 * dpl, 0);
  const top = (cpu.hi | 0) * TWO_32 + spLo;
  if (!isCanonical(top - 1) || !isCanonical(top - 32)) raise(Vector.SS, 0);
  const r = cpu.regs;
  const s = cpu.segs;
  const ip = r.ip;
  // DESC still holds the target descriptor (the TSS read does not touch it).
  markAccessed(cpu);
  writeLinear64(cpu, top - 8, s.selector[Seg.SS]!, 0, false);
  writeLinear64(cpu, top - 16, r.u32[4]!, r.u32[16 + 4]!, false);
  writeLinear64(cpu, top - 24, s.selector[Seg.CS]!, 0, false);
  writeLinear64(cpu, top - 32, ip >>> 0, Math.floor(ip / TWO_32) >>> 0, false);
  loadNullSs(cpu, dpl, dpl);
  setRsp(cpu, top - 32);
  commitCode(cpu, target, dpl, offset);
}

/**
 * Checks the SS selector popped by IRET/RETF to privilege `rpl` in IA-32e mode. A null SS is allowed
 * only for a 64-bit target below CPL 3 with RPL = `rpl` (returns true); otherwise the SS descriptor is
 * left in DESC, checked as a writable data segment at `rpl`.
 */
function checkReturnSs(cpu: Cpu, ss: number, rpl: number, target64: boolean): boolean {
  const err = ss & 0xfffc;
  if (err === 0) {
    if (!target64 || rpl === 3 || (ss & 3) !== rpl) raise(Vector.GP, 0);
    return true;
  }
  if ((ss & 3) !== rpl) raise(Vector.GP, err);
  readDescriptor(cpu, ss);
  const hi = DESC.hi;
  const t = typeOf(hi);
  if (!isCodeData(hi) || t & SegType.CODE || (t & SegType.WRITABLE_OR_READABLE) === 0 || dplOf(hi) !== rpl) {
    raise(Vector.GP, err);
  }
  if (!presentOf(hi)) raise(Vector.SS, err);
  return false;
}

/**
 * Far RET in IA-32e mode (SDM Vol. 2B RET): to a 64-bit or compatibility-mode code segment, at the
 * same privilege or an outer one (then SS:RSP are popped too; null SS as for IRET). `size` 16/32/64.
 */
export function farReturnLong(cpu: Cpu, size: number, imm: number): void {
  const bytes = size >>> 3;
  const from64 = cpu.code64;
  const ipLo = readStackSlot(cpu, size, 0);
  const ipHi = cpu.hi;
  const cs = readStackSlot(cpu, size, bytes) & 0xffff;
  const err = cs & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  const rpl = cs & 3;
  const cpl = cpu.ctrl.cpl;
  if (rpl < cpl) raise(Vector.GP, err);
  readDescriptor(cpu, cs);
  checkReturnCode(cs);
  const target64 = checkLongCode(cs);
  const ip = size === 64 ? joinSigned(ipLo, ipHi) : size === 32 ? ipLo : ipLo & 0xffff;
  checkTargetIp(ip, target64);
  // The accessed bit first: after SS and RSP change nothing may fault.
  markAccessed(cpu);
  if (rpl === cpl) {
    commitCode(cpu, cs, cpl, ip);
    if (from64) setRsp(cpu, getRsp(cpu) + 2 * bytes + imm);
    else addSp(cpu, 2 * bytes + imm);
    return;
  }
  const codeLo = DESC.lo;
  const codeHi = DESC.hi;
  const codeAddr = DESC.address;
  let spLo = readStackSlot(cpu, size, 2 * bytes + imm);
  let spHi = cpu.hi;
  const ss = readStackSlot(cpu, size, 3 * bytes + imm) & 0xffff;
  const nullSs = checkReturnSs(cpu, ss, rpl, target64);
  if (size === 16) spLo &= 0xffff;
  if (target64) {
    const sp = joinSigned(spLo, spHi) + imm;
    spLo = sp >>> 0;
    spHi = Math.floor(sp / TWO_32) | 0;
  } else {
    spLo = (spLo + imm) >>> 0;
    spHi = 0;
  }
  commitReturnSs(cpu, ss, rpl, nullSs);
  setRspHalves(cpu, spLo, spHi);
  DESC.lo = codeLo;
  DESC.hi = codeHi;
  DESC.address = codeAddr;
  commitCode(cpu, cs, rpl, ip);
  nullifyInaccessibleSegments(cpu);
}

function commitReturnSs(cpu: Cpu, ss: number, rpl: number, nullSs: boolean): void {
  if (nullSs) loadNullSs(cpu, ss, rpl);
  else {
    markAccessed(cpu);
    loadCacheFromDescriptor(cpu, Seg.SS, ss);
  }
}

/**
 * IRET/IRETD/IRETQ in IA-32e mode (SDM Vol. 2A IRET, IA-32e-MODE): NT = 1 is #GP(0); from 64-bit mode
 * SS:RSP are always popped, from compatibility mode only on a return to an outer level. The return
 * goes to 64-bit or compatibility mode by the new CS.L.
 */
export function iretLong(cpu: Cpu, size: number): void {
  if (cpu.flags.bits & EFLAGS.NT) raise(Vector.GP, 0);
  const bytes = size >>> 3;
  const from64 = cpu.code64;
  const ipLo = readStackSlot(cpu, size, 0);
  const ipHi = cpu.hi;
  const cs = readStackSlot(cpu, size, bytes) & 0xffff;
  let flags = readStackSlot(cpu, size, 2 * bytes);
  if (size === 16) flags &= 0xffff;
  const err = cs & 0xfffc;
  if (err === 0) raise(Vector.GP, 0);
  const rpl = cs & 3;
  const cpl = cpu.ctrl.cpl;
  if (rpl < cpl) raise(Vector.GP, err);
  readDescriptor(cpu, cs);
  checkReturnCode(cs);
  const target64 = checkLongCode(cs);
  const ip = size === 64 ? joinSigned(ipLo, ipHi) : size === 32 ? ipLo : ipLo & 0xffff;
  checkTargetIp(ip, target64);
  markAccessed(cpu);
  const codeLo = DESC.lo;
  const codeHi = DESC.hi;
  const codeAddr = DESC.address;
  const popStack = from64 || rpl > cpl;
  if (popStack) {
    let spLo = readStackSlot(cpu, size, 3 * bytes);
    const spHi = cpu.hi;
    if (size === 16) spLo &= 0xffff;
    const ss = readStackSlot(cpu, size, 4 * bytes) & 0xffff;
    const nullSs = checkReturnSs(cpu, ss, rpl, target64);
    commitReturnSs(cpu, ss, rpl, nullSs);
    setRspHalves(cpu, spLo, spHi);
    DESC.lo = codeLo;
    DESC.hi = codeHi;
    DESC.address = codeAddr;
  } else {
    addSp(cpu, 3 * bytes);
  }
  // VM is 0 in the image (no virtual-8086 mode in IA-32e mode): applyIretFlags never takes it.
  applyIretFlags(cpu, flags & ~EFLAGS.VM, size === 16 ? 16 : 32, cpl);
  commitCode(cpu, cs, rpl, ip);
  if (rpl > cpl) nullifyInaccessibleSegments(cpu);
}
