/**
 * Segmented and linear memory access: segment limit/type checks (SDM Vol. 3 §5.3), then the pager, then
 * physical memory. Accesses that cross a page boundary are split byte by byte so that each page is
 * translated (and can fault) on its own.
 *
 * The fast path: a flat segment (base 0, no limit, see `Access.FLAT`) skips the limit checks, and an
 * access that stays on a page found in the pager's RAM-direct TLB reads or writes the RAM array at once.
 * Every translation made here on the way fills that TLB (see `Pager.fillRam` for what it may hold).
 *
 * Data breakpoints (DR7 R/W=01 or 11) are checked on the slow path only: while any is armed the
 * RAM-direct TLB is emptied (`Cpu.syncBreakpoints`) and not filled, so every access comes here and meets
 * the one `bp.data` test; with none armed nothing on either path changes.
 */
import type { Cpu } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { AccessKind, TLB_MASK, tlbTag } from './paging.js';
import { Seg } from './registers.js';
import { Access, Attr } from './segments.js';

/** #SS(0) for stack-segment references, #GP(0) for the others (SDM Vol. 3 §6.15). */
export function segmentFault(seg: number): never {
  raise(seg === Seg.SS ? Vector.SS : Vector.GP, 0);
}

function check(cpu: Cpu, seg: number, off: number, last: number, need: number): number {
  const s = cpu.segs;
  if (off < s.lo[seg]! || off + last > s.hi[seg]! || (s.access[seg]! & need) === 0) segmentFault(seg);
  return (s.base[seg]! + off) >>> 0;
}

const FLAT_READ = Access.FLAT | Access.READ;
const FLAT_WRITE = Access.FLAT | Access.WRITE;

/** The linear address of `last + 1` bytes at seg:off for a read, checked against the segment. */
function readAddress(cpu: Cpu, seg: number, off: number, last: number): number {
  if ((cpu.segs.access[seg]! & FLAT_READ) === FLAT_READ && off <= 0xffffffff - last) return off;
  return check(cpu, seg, off, last, Access.READ);
}

function writeAddress(cpu: Cpu, seg: number, off: number, last: number): number {
  if ((cpu.segs.access[seg]! & FLAT_WRITE) === FLAT_WRITE && off <= 0xffffffff - last) return off;
  return check(cpu, seg, off, last, Access.WRITE);
}

/** RAM offset of `last + 1` bytes at `lin` when they are on one page with a RAM-direct read entry, else -1. */
function ramReadOffset(cpu: Cpu, lin: number, last: number): number {
  const pager = cpu.pager;
  const idx = (lin >>> 12) & TLB_MASK;
  if ((lin & 0xfff) > 0xfff - last || pager.ramRTag[idx] !== tlbTag(lin, cpu.ctrl.cpl === 3)) return -1;
  return pager.ramRBase[idx]! + (lin & 0xfff);
}

/** As {@link ramReadOffset}, for a write entry (the page is RAM and holds no decoded code). */
function ramWriteOffset(cpu: Cpu, lin: number, last: number): number {
  const pager = cpu.pager;
  const idx = (lin >>> 12) & TLB_MASK;
  if ((lin & 0xfff) > 0xfff - last || pager.ramWTag[idx] !== tlbTag(lin, cpu.ctrl.cpl === 3)) return -1;
  return pager.ramWBase[idx]! + (lin & 0xfff);
}

/**
 * Translates `size` bytes at `lin` and records the page in the RAM-direct TLB when it may go there;
 * with data breakpoints armed, checks them instead (after the translation: an access that faults
 * does not happen).
 */
function translate(cpu: Cpu, lin: number, kind: AccessKind, user: boolean, size: number): number {
  const phys = cpu.pager.translate(lin, kind, user);
  if (cpu.bp.data) {
    cpu.bp.access(lin, size, kind === AccessKind.Write);
    return phys;
  }
  const page = phys - (lin & 0xfff);
  const memory = cpu.phys;
  cpu.pager.fillRam(lin, kind, user, memory.ramPage(page), memory.directlyWritable(page));
  return phys;
}

// ------------------------------------------------------------------ linear (paged) access

export function readLinear8(cpu: Cpu, lin: number, user = cpu.ctrl.cpl === 3): number {
  return cpu.phys.read8(translate(cpu, lin, AccessKind.Read, user, 1));
}

export function readLinear16(cpu: Cpu, lin: number, user = cpu.ctrl.cpl === 3): number {
  if ((lin & 0xfff) === 0xfff)
    return readLinear8(cpu, lin, user) | (readLinear8(cpu, (lin + 1) >>> 0, user) << 8);
  return cpu.phys.read16(translate(cpu, lin, AccessKind.Read, user, 2));
}

export function readLinear32(cpu: Cpu, lin: number, user = cpu.ctrl.cpl === 3): number {
  if ((lin & 0xfff) > 0xffc) {
    return (
      (readLinear8(cpu, lin, user) |
        (readLinear8(cpu, (lin + 1) >>> 0, user) << 8) |
        (readLinear8(cpu, (lin + 2) >>> 0, user) << 16) |
        (readLinear8(cpu, (lin + 3) >>> 0, user) << 24)) >>>
      0
    );
  }
  return cpu.phys.read32(translate(cpu, lin, AccessKind.Read, user, 4));
}

export function writeLinear8(cpu: Cpu, lin: number, value: number, user = cpu.ctrl.cpl === 3): void {
  cpu.phys.write8(translate(cpu, lin, AccessKind.Write, user, 1), value & 0xff);
}

export function writeLinear16(cpu: Cpu, lin: number, value: number, user = cpu.ctrl.cpl === 3): void {
  if ((lin & 0xfff) === 0xfff) {
    // Translate both pages before writing either byte, so a fault leaves memory unchanged.
    const p0 = cpu.pager.translate(lin, AccessKind.Write, user);
    const p1 = cpu.pager.translate((lin + 1) >>> 0, AccessKind.Write, user);
    if (cpu.bp.data) cpu.bp.access(lin, 2, true);
    cpu.phys.write8(p0, value & 0xff);
    cpu.phys.write8(p1, (value >>> 8) & 0xff);
    return;
  }
  cpu.phys.write16(translate(cpu, lin, AccessKind.Write, user, 2), value & 0xffff);
}

export function writeLinear32(cpu: Cpu, lin: number, value: number, user = cpu.ctrl.cpl === 3): void {
  if ((lin & 0xfff) > 0xffc) {
    const p0 = cpu.pager.translate(lin, AccessKind.Write, user);
    const p3 = cpu.pager.translate((lin + 3) >>> 0, AccessKind.Write, user);
    if (cpu.bp.data) cpu.bp.access(lin, 4, true);
    const split = 0x1000 - (lin & 0xfff);
    for (let i = 0; i < 4; i++) {
      const p = i < split ? p0 + i : p3 - 3 + i;
      cpu.phys.write8(p, (value >>> (i * 8)) & 0xff);
    }
    return;
  }
  cpu.phys.write32(translate(cpu, lin, AccessKind.Write, user, 4), value >>> 0);
}

// ------------------------------------------------------------------ segmented access

export function read8(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 0);
  const at = ramReadOffset(cpu, lin, 0);
  return at >= 0 ? cpu.phys.ram[at]! : readLinear8(cpu, lin);
}

export function read16(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 1);
  const at = ramReadOffset(cpu, lin, 1);
  return at >= 0 ? cpu.phys.view.getUint16(at, true) : readLinear16(cpu, lin);
}

export function read32(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 3);
  const at = ramReadOffset(cpu, lin, 3);
  return at >= 0 ? cpu.phys.view.getUint32(at, true) : readLinear32(cpu, lin);
}

export function write8(cpu: Cpu, seg: number, off: number, value: number): void {
  const lin = writeAddress(cpu, seg, off, 0);
  const at = ramWriteOffset(cpu, lin, 0);
  if (at >= 0) cpu.phys.ram[at] = value;
  else writeLinear8(cpu, lin, value);
}

export function write16(cpu: Cpu, seg: number, off: number, value: number): void {
  const lin = writeAddress(cpu, seg, off, 1);
  const at = ramWriteOffset(cpu, lin, 1);
  if (at >= 0) cpu.phys.view.setUint16(at, value, true);
  else writeLinear16(cpu, lin, value);
}

export function write32(cpu: Cpu, seg: number, off: number, value: number): void {
  const lin = writeAddress(cpu, seg, off, 3);
  const at = ramWriteOffset(cpu, lin, 3);
  if (at >= 0) cpu.phys.view.setUint32(at, value, true);
  else writeLinear32(cpu, lin, value);
}

/** Reads `size` (8/16/32) bits. */
export function readSized(cpu: Cpu, seg: number, off: number, size: number): number {
  return size === 8 ? read8(cpu, seg, off) : size === 16 ? read16(cpu, seg, off) : read32(cpu, seg, off);
}

export function writeSized(cpu: Cpu, seg: number, off: number, size: number, value: number): void {
  if (size === 8) write8(cpu, seg, off, value);
  else if (size === 16) write16(cpu, seg, off, value);
  else write32(cpu, seg, off, value);
}

/** Checks that `size` bytes at seg:off are writable without writing (for instructions that must not fault half-way). */
export function probeWrite(cpu: Cpu, seg: number, off: number, size: number): void {
  const lin = check(cpu, seg, off, size - 1, Access.WRITE);
  cpu.pager.translate(lin, AccessKind.Write, cpu.ctrl.cpl === 3);
  if ((lin & 0xfff) + size > 0x1000)
    cpu.pager.translate((lin + size - 1) >>> 0, AccessKind.Write, cpu.ctrl.cpl === 3);
}

// ------------------------------------------------------------------ stack

/** True when SS is a 32-bit stack (B bit). */
export function stack32(cpu: Cpu): boolean {
  return (cpu.segs.attr[Seg.SS]! & Attr.DB) !== 0;
}

/** Pushes a `size`-bit value (16 or 32). */
export function push(cpu: Cpu, size: number, value: number): void {
  const r = cpu.regs;
  if (stack32(cpu)) {
    const sp = (r.u32[4]! - (size >>> 3)) >>> 0;
    if (size === 16) write16(cpu, Seg.SS, sp, value);
    else write32(cpu, Seg.SS, sp, value);
    r.r32[4] = sp;
  } else {
    const sp = (r.r16[8]! - (size >>> 3)) & 0xffff;
    if (size === 16) write16(cpu, Seg.SS, sp, value);
    else write32(cpu, Seg.SS, sp, value);
    r.r16[8] = sp;
  }
}

/** Reads the stack slot `depth` bytes above the top without popping. */
export function peek(cpu: Cpu, size: number, depth: number): number {
  const r = cpu.regs;
  const sp = stack32(cpu) ? (r.u32[4]! + depth) >>> 0 : (r.r16[8]! + depth) & 0xffff;
  return size === 16 ? read16(cpu, Seg.SS, sp) : read32(cpu, Seg.SS, sp);
}

/** Adds `bytes` to the stack pointer (16 or 32 bits of it, by SS.B). */
export function adjustSp(cpu: Cpu, bytes: number): void {
  const r = cpu.regs;
  if (stack32(cpu)) r.r32[4] = (r.u32[4]! + bytes) | 0;
  else r.r16[8] = (r.r16[8]! + bytes) & 0xffff;
}

/** Pops a `size`-bit value. */
export function pop(cpu: Cpu, size: number): number {
  const v = peek(cpu, size, 0);
  adjustSp(cpu, size >>> 3);
  return v;
}
