/**
 * Hardware task switching (SDM Vol. 3 §7.3) and TSS stack lookup for privilege changes (§7.2.1).
 */
import { MMU_FAULT } from '@typevisor/mmu';
import { CR0, Mode } from './control.js';
import type { Cpu } from './cpu.js';
import {
  DESC,
  dplOf,
  isCodeData,
  loadCacheFromDescriptor,
  loadSegmentReal,
  presentOf,
  readDescriptor,
  typeOf,
} from './descriptors.js';
import { raise, Vector } from './exceptions.js';
import { EFLAGS, readFlags, writeFlags } from './flags.js';
import {
  readLinear16,
  readLinear32,
  readLinear64,
  writeLinear16,
  writeLinear32,
  writeLinear8,
} from './memory-access.js';
import { Seg } from './registers.js';
import { SegType, SysType } from './segments.js';

export const TaskSwitchReason = { Jump: 0, Call: 1, Iret: 2, Interrupt: 3 } as const;
export type TaskSwitchReason = (typeof TaskSwitchReason)[keyof typeof TaskSwitchReason];

/** True when TR holds a 32-bit TSS. */
function tss32(cpu: Cpu): boolean {
  return (cpu.segs.attr[Seg.TR]! & 0xf) >= SysType.TSS32_AVAILABLE;
}

/** Where `readTssStack` leaves SS:ESP for a privilege level. */
export const TSS_STACK = { ss: 0, sp: 0 };

/** Reads SS:ESP for privilege level `dpl` from the current TSS into TSS_STACK; raises #TS. */
export function readTssStack(cpu: Cpu, dpl: number, ext: number): void {
  const s = cpu.segs;
  const base = s.base[Seg.TR]!;
  const limit = s.limit[Seg.TR]!;
  const tr = s.selector[Seg.TR]! & 0xfffc;
  if (tss32(cpu)) {
    const off = 4 + dpl * 8;
    if (off + 7 > limit) raise(Vector.TS, tr + ext);
    TSS_STACK.sp = readLinear32(cpu, (base + off) >>> 0, false);
    TSS_STACK.ss = readLinear16(cpu, (base + off + 4) >>> 0, false);
  } else {
    const off = 2 + dpl * 4;
    if (off + 3 > limit) raise(Vector.TS, tr + ext);
    TSS_STACK.sp = readLinear16(cpu, (base + off) >>> 0, false);
    TSS_STACK.ss = readLinear16(cpu, (base + off + 2) >>> 0, false);
  }
}

/**
 * Reads the 8-byte stack pointer at `offset` of the 64-bit TSS (RSP0..2 at 4/12/20, IST1..7 at 36 +
 * 8 * (n - 1); SDM Vol. 3 §8.7): returns the low half and leaves the high half in `cpu.hi`. Raises
 * #TS(TR + EXT) when the field is beyond the TSS limit. The TSS base may be a 64-bit address.
 */
export function readTss64(cpu: Cpu, offset: number, ext: number): number {
  const s = cpu.segs;
  if (offset + 7 > s.limit[Seg.TR]!) raise(Vector.TS, (s.selector[Seg.TR]! & 0xfffc) + ext);
  return readLinear64(cpu, s.base[Seg.TR]! + offset, false);
}

const SEG_ORDER = [Seg.ES, Seg.CS, Seg.SS, Seg.DS, Seg.FS, Seg.GS];
const newSelectors = new Uint16Array(6);
const newGprs = new Uint32Array(8);

/** Switches to the task whose TSS selector (or task-gate target) is `selector`. */
export function taskSwitch(cpu: Cpu, selector: number, reason: TaskSwitchReason): void {
  const s = cpu.segs;
  const c = cpu.ctrl;
  const r = cpu.regs;
  // IA-32e mode has no hardware task switching (SDM Vol. 3 §8.7); callers reject it before this.
  if (c.lma) raise(Vector.GP, 0);
  if (selector & 4) raise(Vector.GP, selector & 0xfffc);
  readDescriptor(cpu, selector, Vector.GP);
  const lo = DESC.lo;
  const hi = DESC.hi;
  const descAddr = DESC.address;
  const type = typeOf(hi);
  const busyWanted = reason === TaskSwitchReason.Iret;
  const is32 = type === SysType.TSS32_AVAILABLE || type === SysType.TSS32_BUSY;
  const isTss =
    !isCodeData(hi) &&
    (type === SysType.TSS16_AVAILABLE ||
      type === SysType.TSS16_BUSY ||
      type === SysType.TSS32_AVAILABLE ||
      type === SysType.TSS32_BUSY);
  if (!isTss) raise(Vector.GP, selector & 0xfffc);
  const busy = (type & 2) !== 0;
  if (busy !== busyWanted) raise(busyWanted ? Vector.TS : Vector.GP, selector & 0xfffc);
  if (!presentOf(hi)) raise(Vector.NP, selector & 0xfffc);
  const newBase = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
  const rawLimit = (lo & 0xffff) | (hi & 0xf0000);
  const newLimit = hi & 0x800000 ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit;
  if (newLimit < (is32 ? 0x67 : 0x2b)) raise(Vector.TS, selector & 0xfffc);

  // Save the outgoing task's dynamic state.
  const oldBase = s.base[Seg.TR]!;
  let flags = readFlags(cpu.flags);
  if (reason === TaskSwitchReason.Iret) flags &= ~EFLAGS.NT;
  if (tss32(cpu)) {
    writeLinear32(cpu, (oldBase + 0x20) >>> 0, r.ip, false);
    writeLinear32(cpu, (oldBase + 0x24) >>> 0, flags, false);
    for (let i = 0; i < 8; i++) writeLinear32(cpu, (oldBase + 0x28 + i * 4) >>> 0, r.u32[i]!, false);
    for (let i = 0; i < 6; i++)
      writeLinear16(cpu, (oldBase + 0x48 + i * 4) >>> 0, s.selector[SEG_ORDER[i]!]!, false);
  } else {
    writeLinear16(cpu, (oldBase + 0x0e) >>> 0, r.ip, false);
    writeLinear16(cpu, (oldBase + 0x10) >>> 0, flags, false);
    for (let i = 0; i < 8; i++) writeLinear16(cpu, (oldBase + 0x12 + i * 2) >>> 0, r.r16[i * 2]!, false);
    for (let i = 0; i < 4; i++)
      writeLinear16(cpu, (oldBase + 0x22 + i * 2) >>> 0, s.selector[SEG_ORDER[i]!]!, false);
  }
  // Old task's busy bit.
  const oldSel = s.selector[Seg.TR]!;
  if (reason === TaskSwitchReason.Jump || reason === TaskSwitchReason.Iret) {
    readDescriptor(cpu, oldSel, Vector.GP);
    writeLinear8(cpu, (DESC.address + 5) >>> 0, (DESC.hi >>> 8) & ~2 & 0xff, false);
  }

  // Read the incoming task's state.
  let newIp: number;
  let newFlags: number;
  let newLdt: number;
  let newCr3 = c.cr3;
  if (is32) {
    newCr3 = readLinear32(cpu, (newBase + 0x1c) >>> 0, false);
    newIp = readLinear32(cpu, (newBase + 0x20) >>> 0, false);
    newFlags = readLinear32(cpu, (newBase + 0x24) >>> 0, false);
    for (let i = 0; i < 8; i++) newGprs[i] = readLinear32(cpu, (newBase + 0x28 + i * 4) >>> 0, false);
    for (let i = 0; i < 6; i++) newSelectors[i] = readLinear16(cpu, (newBase + 0x48 + i * 4) >>> 0, false);
    newLdt = readLinear16(cpu, (newBase + 0x60) >>> 0, false);
  } else {
    newIp = readLinear16(cpu, (newBase + 0x0e) >>> 0, false);
    newFlags = readLinear16(cpu, (newBase + 0x10) >>> 0, false);
    for (let i = 0; i < 8; i++)
      newGprs[i] = readLinear16(cpu, (newBase + 0x12 + i * 2) >>> 0, false) | (r.u32[i]! & 0xffff0000);
    for (let i = 0; i < 4; i++) newSelectors[i] = readLinear16(cpu, (newBase + 0x22 + i * 2) >>> 0, false);
    newSelectors[4] = 0;
    newSelectors[5] = 0;
    newLdt = readLinear16(cpu, (newBase + 0x2a) >>> 0, false);
  }
  if (reason === TaskSwitchReason.Call || reason === TaskSwitchReason.Interrupt) {
    writeLinear16(cpu, newBase, oldSel, false);
    newFlags |= EFLAGS.NT;
  }
  if (reason !== TaskSwitchReason.Iret) {
    writeLinear8(cpu, (descAddr + 5) >>> 0, ((hi >>> 8) | 2) & 0xff, false);
  }

  // Commit: TR, CR0.TS, CR3, registers, flags.
  s.set(Seg.TR, selector, newBase, newLimit, ((hi >>> 8) & 0xf0ff) | 2);
  c.cr0 = (c.cr0 | CR0.TS) >>> 0;
  if (is32 && c.cr0 & CR0.PG && newCr3 !== c.cr3) {
    if (cpu.pager.mmu.writeCr3(newCr3) === MMU_FAULT) raise(Vector.GP, 0);
    c.cr3 = newCr3;
    cpu.pager.flush();
  }
  for (let i = 0; i < 8; i++) r.r32[i] = newGprs[i]!;
  r.ip = newIp;
  writeFlags(cpu.flags, newFlags);
  cpu.updateMode();

  // Selectors first (so a fault below is reported in the new task), then descriptor checks.
  for (let i = 0; i < 6; i++) s.selector[SEG_ORDER[i]!] = newSelectors[i]!;
  s.selector[Seg.LDTR] = newLdt;
  if (c.mode === Mode.V86) {
    c.cpl = 3;
    for (let i = 0; i < 6; i++) loadSegmentReal(cpu, SEG_ORDER[i]!, newSelectors[i]!);
    return;
  }
  loadLdt(cpu, newLdt);
  const cs = newSelectors[1]!;
  c.cpl = cs & 3;
  loadTaskSegment(cpu, Seg.CS, cs);
  loadTaskSegment(cpu, Seg.SS, newSelectors[2]!);
  loadTaskSegment(cpu, Seg.ES, newSelectors[0]!);
  loadTaskSegment(cpu, Seg.DS, newSelectors[3]!);
  loadTaskSegment(cpu, Seg.FS, newSelectors[4]!);
  loadTaskSegment(cpu, Seg.GS, newSelectors[5]!);
}

/** LLDT-style load of LDTR (null allowed). Faults are #TS. */
function loadLdt(cpu: Cpu, selector: number): void {
  if ((selector & 0xfffc) === 0) {
    cpu.segs.setNull(Seg.LDTR, selector);
    return;
  }
  if (selector & 4) raise(Vector.TS, selector & 0xfffc);
  readDescriptor(cpu, selector, Vector.TS);
  if (isCodeData(DESC.hi) || typeOf(DESC.hi) !== SysType.LDT) raise(Vector.TS, selector & 0xfffc);
  if (!presentOf(DESC.hi)) raise(Vector.TS, selector & 0xfffc);
  loadCacheFromDescriptor(cpu, Seg.LDTR, selector);
}

/** Segment loads during a task switch: #TS for bad descriptors (SDM Vol. 3 §7.3 step 13). */
function loadTaskSegment(cpu: Cpu, seg: number, selector: number): void {
  const err = selector & 0xfffc;
  if (err === 0) {
    if (seg === Seg.CS || seg === Seg.SS) raise(Vector.TS, 0);
    cpu.segs.setNull(seg, selector);
    return;
  }
  readDescriptor(cpu, selector, Vector.TS);
  const hi = DESC.hi;
  const type = typeOf(hi);
  if (!isCodeData(hi)) raise(Vector.TS, err);
  const cpl = cpu.ctrl.cpl;
  if (seg === Seg.CS) {
    if ((type & SegType.CODE) === 0) raise(Vector.TS, err);
    const conforming = (type & SegType.EXPAND_DOWN_OR_CONFORMING) !== 0;
    if (conforming ? dplOf(hi) > cpl : dplOf(hi) !== cpl) raise(Vector.TS, err);
  } else if (seg === Seg.SS) {
    if (
      type & SegType.CODE ||
      (type & SegType.WRITABLE_OR_READABLE) === 0 ||
      dplOf(hi) !== cpl ||
      (selector & 3) !== cpl
    ) {
      raise(Vector.TS, err);
    }
    if (!presentOf(hi)) raise(Vector.SS, err);
  } else if (type & SegType.CODE && (type & SegType.WRITABLE_OR_READABLE) === 0) {
    raise(Vector.TS, err);
  }
  if (!presentOf(hi)) raise(Vector.NP, err);
  loadCacheFromDescriptor(cpu, seg, selector);
}
