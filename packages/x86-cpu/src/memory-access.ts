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
  if (cpu.code64) return linear64(cpu, seg, off, last);
  const s = cpu.segs;
  if (off < s.lo[seg]! || off + last > s.hi[seg]! || (s.access[seg]! & need) === 0) segmentFault(seg);
  return (s.base[seg]! + off) >>> 0;
}

/** 2^32, to split and join 64-bit values held as two 32-bit halves. */
export const TWO_32 = 4294967296;

/** Whether `a` (a 64-bit address in signed form) is canonical: bits 63:47 all equal (SDM Vol. 1 §3.3.7.1). */
export function isCanonical(a: number): boolean {
  return a >= -0x800000000000 && a < 0x800000000000;
}

/**
 * The linear address of `last + 1` bytes at seg:off in 64-bit mode (SDM Vol. 3 §5.3.1): no limit or
 * type checks; CS, DS, ES and SS have base 0, FS and GS their 64-bit base. `off` is a canonical
 * address in signed form (operands.ts raises for a non-canonical effective address first). An access
 * whose first or last byte is not canonical raises #SS(0) through SS, else #GP(0).
 */
function linear64(cpu: Cpu, seg: number, off: number, last: number): number {
  const lin = seg === Seg.FS || seg === Seg.GS ? cpu.segs.base[seg]! + off : off;
  if (!isCanonical(lin) || !isCanonical(lin + last)) segmentFault(seg);
  return lin;
}

/**
 * The linear address of seg:off for an instruction that computes it itself (string instructions,
 * FXSAVE, INVLPG): segment base plus offset, wrapped to 32 bits outside 64-bit mode; in 64-bit mode
 * as {@link linear64} without the canonical check.
 */
export function linearAddress(cpu: Cpu, seg: number, off: number): number {
  if (cpu.code64) return seg === Seg.FS || seg === Seg.GS ? cpu.segs.base[seg]! + off : off;
  return (cpu.segs.base[seg]! + off) >>> 0;
}

/** `lin + k` for the next bytes of an access: wraps at 4 GiB outside 64-bit mode. */
function linAdd(cpu: Cpu, lin: number, k: number): number {
  const r = lin + k;
  return r > 0xffffffff && !cpu.code64 ? r - TWO_32 : r;
}

const FLAT_READ = Access.FLAT | Access.READ;
const FLAT_WRITE = Access.FLAT | Access.WRITE;

/*
 * The `+` and `>>> 0` on the slow paths' results below (and in `read8`...) are not no-ops for V8: they
 * type a call's result as a number, so the phi with the fast path's value stays unboxed; without them
 * every address or value above 2^31 on the fast path became a heap allocation (x86-cpu README, "Sixth
 * round").
 */

/** The linear address of `last + 1` bytes at seg:off for a read, checked against the segment. */
function readAddress(cpu: Cpu, seg: number, off: number, last: number): number {
  if ((cpu.segs.access[seg]! & FLAT_READ) === FLAT_READ && off <= 0xffffffff - last) return off;
  return +check(cpu, seg, off, last, Access.READ);
}

function writeAddress(cpu: Cpu, seg: number, off: number, last: number): number {
  if ((cpu.segs.access[seg]! & FLAT_WRITE) === FLAT_WRITE && off <= 0xffffffff - last) return off;
  return +check(cpu, seg, off, last, Access.WRITE);
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
    return readLinear8(cpu, lin, user) | (readLinear8(cpu, linAdd(cpu, lin, 1), user) << 8);
  return cpu.phys.read16(translate(cpu, lin, AccessKind.Read, user, 2));
}

export function readLinear32(cpu: Cpu, lin: number, user = cpu.ctrl.cpl === 3): number {
  if ((lin & 0xfff) > 0xffc) {
    return (
      (readLinear8(cpu, lin, user) |
        (readLinear8(cpu, linAdd(cpu, lin, 1), user) << 8) |
        (readLinear8(cpu, linAdd(cpu, lin, 2), user) << 16) |
        (readLinear8(cpu, linAdd(cpu, lin, 3), user) << 24)) >>>
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
    const p1 = cpu.pager.translate(linAdd(cpu, lin, 1), AccessKind.Write, user);
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
    const p3 = cpu.pager.translate(linAdd(cpu, lin, 3), AccessKind.Write, user);
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
  return at >= 0 ? cpu.phys.ram[at]! : readLinear8(cpu, lin) >>> 0;
}

export function read16(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 1);
  const at = ramReadOffset(cpu, lin, 1);
  return at >= 0 ? cpu.phys.view.getUint16(at, true) : readLinear16(cpu, lin) >>> 0;
}

export function read32(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 3);
  const at = ramReadOffset(cpu, lin, 3);
  return at >= 0 ? cpu.phys.view.getUint32(at, true) : readLinear32(cpu, lin) >>> 0;
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
    cpu.pager.translate(linAdd(cpu, lin, size - 1), AccessKind.Write, cpu.ctrl.cpl === 3);
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

// ------------------------------------------------------------------ 64-bit values (two 32-bit halves)

/**
 * Reads 8 bytes at seg:off: returns the low half and leaves the high half in `cpu.hi` (both
 * unsigned). Both halves are read before anything changes, so a fault on the second page is clean.
 */
export function read64(cpu: Cpu, seg: number, off: number): number {
  const lin = readAddress(cpu, seg, off, 7);
  const at = ramReadOffset(cpu, lin, 7);
  if (at >= 0) {
    const view = cpu.phys.view;
    cpu.hi = view.getUint32(at + 4, true);
    return view.getUint32(at, true);
  }
  const lo = readLinear32(cpu, lin) >>> 0;
  cpu.hi = readLinear32(cpu, linAdd(cpu, lin, 4));
  return lo;
}

/** Writes 8 bytes (`lo`, `hi` halves) at seg:off; a page-crossing write translates both pages first. */
export function write64(cpu: Cpu, seg: number, off: number, lo: number, hi: number): void {
  const lin = writeAddress(cpu, seg, off, 7);
  const at = ramWriteOffset(cpu, lin, 7);
  if (at >= 0) {
    const view = cpu.phys.view;
    view.setUint32(at, lo >>> 0, true);
    view.setUint32(at + 4, hi >>> 0, true);
    return;
  }
  writeLinear64(cpu, lin, lo, hi);
}

export function writeLinear64(
  cpu: Cpu,
  lin: number,
  lo: number,
  hi: number,
  user = cpu.ctrl.cpl === 3,
): void {
  if ((lin & 0xfff) <= 0xff8) {
    const p = translate(cpu, lin, AccessKind.Write, user, 8);
    cpu.phys.write32(p, lo >>> 0);
    cpu.phys.write32(p + 4, hi >>> 0);
    return;
  }
  const p0 = cpu.pager.translate(lin, AccessKind.Write, user);
  const p7 = cpu.pager.translate(linAdd(cpu, lin, 7), AccessKind.Write, user);
  if (cpu.bp.data) cpu.bp.access(lin, 8, true);
  const split = 0x1000 - (lin & 0xfff);
  for (let i = 0; i < 8; i++) {
    const p = i < split ? p0 + i : p7 - 7 + i;
    const v = i < 4 ? lo >>> (i * 8) : hi >>> ((i - 4) * 8);
    cpu.phys.write8(p, v & 0xff);
  }
}

export function readLinear64(cpu: Cpu, lin: number, user = cpu.ctrl.cpl === 3): number {
  const lo = readLinear32(cpu, lin, user);
  cpu.hi = readLinear32(cpu, linAdd(cpu, lin, 4), user);
  return lo;
}

// ------------------------------------------------------------------ 64-bit stack (64-bit mode)

/** RSP as a 64-bit address in signed form (exact for canonical values). */
export function getRsp(cpu: Cpu): number {
  return cpu.regs.r32[16 + 4]! * TWO_32 + cpu.regs.u32[4]!;
}

/** Sets RSP from a 64-bit value in signed form. */
export function setRsp(cpu: Cpu, a: number): void {
  cpu.regs.r32[4] = (a % TWO_32) | 0;
  cpu.regs.r32[16 + 4] = Math.floor(a / TWO_32);
}

/** The stack address `rsp`, which must be canonical (#SS(0) otherwise, SDM Vol. 1 §3.3.7.1). */
function stackAddress(rsp: number): number {
  if (!isCanonical(rsp)) raise(Vector.SS, 0);
  return rsp;
}

/** PUSH of a 64-bit value in 64-bit mode; RSP changes only after the write succeeded. */
export function push64(cpu: Cpu, lo: number, hi: number): void {
  const sp = stackAddress(getRsp(cpu) - 8);
  write64(cpu, Seg.SS, sp, lo, hi);
  setRsp(cpu, sp);
}

/** PUSH of a 16-bit value in 64-bit mode (66h prefix). */
export function push16In64(cpu: Cpu, value: number): void {
  const sp = stackAddress(getRsp(cpu) - 2);
  write16(cpu, Seg.SS, sp, value);
  setRsp(cpu, sp);
}

/** POP of a 64-bit value in 64-bit mode: returns the low half, the high half in `cpu.hi`. */
export function pop64(cpu: Cpu): number {
  const sp = stackAddress(getRsp(cpu));
  const lo = read64(cpu, Seg.SS, sp);
  setRsp(cpu, sp + 8);
  return lo;
}

/** The 64-bit stack slot `depth` bytes above RSP, without popping (low half; high half in `cpu.hi`). */
export function peek64(cpu: Cpu, depth: number): number {
  return read64(cpu, Seg.SS, stackAddress(getRsp(cpu) + depth));
}
