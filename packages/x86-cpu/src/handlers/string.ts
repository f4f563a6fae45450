/**
 * String instructions: MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE (SDM Vol. 2B "REP").
 *
 * A repeated instruction runs at most {@link REP_CHUNK} iterations per execution, then rewinds EIP to
 * itself and ends the block, so pending interrupts are taken between chunks exactly as a real CPU takes
 * them between iterations. Every iteration commits rSI/rDI/rCX before the next one, so a fault in the
 * middle leaves the registers describing the completed iterations and the instruction restarts cleanly.
 */
import { type Instruction, RepPrefix, Register } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { HandlerList } from './table.js';
import { EFLAGS, getZF, LazyOp, setFlags64, setLazy, sizeMask } from '../flags.js';
import {
  isCanonical,
  linearAddress,
  probeWrite,
  read64,
  readSized,
  segmentFault,
  TWO_32,
  write64,
  writeSized,
} from '../memory-access.js';
import { joinSigned } from '../operands.js';
import { AccessKind } from '../paging.js';
import { GPR_HI, Seg } from '../registers.js';
import { Access } from '../segments.js';
import { checkIo, portIn, portOut } from './io.js';

export const REP_CHUNK = 4096;

export const StringOp = { Movs: 0, Cmps: 1, Stos: 2, Lods: 3, Scas: 4, Ins: 5, Outs: 6 } as const;

/**
 * The handler of string instruction `op` with `size`-bit elements (8, 16, 32; 64 only in 64-bit mode,
 * where every form goes through {@link string64}).
 */
export function stringOp(op: number, size: number): Handler {
  const bytes = size >>> 3;
  const mask = sizeMask(size);
  return (cpu: Cpu, ins: Instruction) => {
    if (ins.bitness === 64) {
      string64(cpu, ins, op, size);
      return;
    }
    const r = cpu.regs;
    const a32 = ins.addressSize === 32;
    const amask = a32 ? 0xffffffff : 0xffff;
    const rep = ins.repPrefix;
    const step = cpu.flags.bits & EFLAGS.DF ? -bytes : bytes;
    const srcSeg =
      ins.memSegment >= Register.ES && ins.memSegment <= Register.GS ? ins.memSegment - Register.ES : Seg.DS;
    const port = r.r16[4]!;
    if (op === StringOp.Ins || op === StringOp.Outs) checkIo(cpu, port, bytes);
    let count = rep === RepPrefix.None ? 1 : a32 ? r.u32[1]! : r.r16[2]!;
    if (count === 0) return;
    let n = 0;
    while (count !== 0 && n < REP_CHUNK) {
      const si = a32 ? r.u32[6]! : r.r16[12]!;
      const di = a32 ? r.u32[7]! : r.r16[14]!;
      // The bulk copy bypasses the data-breakpoint checks: element by element while any is armed.
      if (
        rep !== RepPrefix.None &&
        step > 0 &&
        !cpu.bp.data &&
        (op === StringOp.Movs || op === StringOp.Stos)
      ) {
        const done = bulk(cpu, op, size, srcSeg, si, di, count, a32);
        if (done > 0) {
          const adv = done * bytes;
          if (op === StringOp.Movs) {
            if (a32) setLow(r.r32, 6, si + adv);
            else r.r16[12] = (si + adv) & amask;
          }
          if (a32) setLow(r.r32, 7, di + adv);
          else r.r16[14] = (di + adv) & amask;
          count = (count - done) >>> 0;
          if (a32) setLow(r.r32, 1, count);
          else r.r16[2] = count;
          n += done;
          continue;
        }
      }
      let updateSi = false;
      let updateDi = false;
      switch (op) {
        case StringOp.Movs:
          writeSized(cpu, Seg.ES, di, size, readSized(cpu, srcSeg, si, size));
          updateSi = updateDi = true;
          break;
        case StringOp.Cmps: {
          const a = readSized(cpu, srcSeg, si, size);
          const b = readSized(cpu, Seg.ES, di, size);
          setLazy(cpu.flags, LazyOp.Sub, size, a, b, ((a - b) & mask) >>> 0);
          updateSi = updateDi = true;
          break;
        }
        case StringOp.Stos:
          writeSized(cpu, Seg.ES, di, size, size === 8 ? r.r8[0]! : size === 16 ? r.r16[0]! : r.u32[0]!);
          updateDi = true;
          break;
        case StringOp.Lods: {
          const v = readSized(cpu, srcSeg, si, size);
          if (size === 8) r.r8[0] = v;
          else if (size === 16) r.r16[0] = v;
          else setLow(r.r32, 0, v);
          updateSi = true;
          break;
        }
        case StringOp.Scas: {
          const a = size === 8 ? r.r8[0]! : size === 16 ? r.r16[0]! : r.u32[0]!;
          const b = readSized(cpu, Seg.ES, di, size);
          setLazy(cpu.flags, LazyOp.Sub, size, a, b, ((a - b) & mask) >>> 0);
          updateDi = true;
          break;
        }
        case StringOp.Ins: {
          // The destination is checked before the port is read (SDM "INS": the read has side effects).
          probeWrite(cpu, Seg.ES, di, bytes);
          writeSized(cpu, Seg.ES, di, size, portIn(cpu, port, bytes as 1 | 2 | 4));
          updateDi = true;
          break;
        }
        default:
          portOut(cpu, port, bytes as 1 | 2 | 4, readSized(cpu, srcSeg, si, size));
          updateSi = true;
          break;
      }
      if (updateSi) {
        if (a32) setLow(r.r32, 6, si + step);
        else r.r16[12] = (si + step) & amask;
      }
      if (updateDi) {
        if (a32) setLow(r.r32, 7, di + step);
        else r.r16[14] = (di + step) & amask;
      }
      n++;
      if (rep === RepPrefix.None) return;
      count = (count - 1) >>> 0;
      if (a32) setLow(r.r32, 1, count);
      else r.r16[2] = count;
      if (op === StringOp.Cmps || op === StringOp.Scas) {
        const zf = getZF(cpu.flags);
        if (rep === RepPrefix.Rep ? zf === 0 : zf === 1) return;
      }
      // A data or I/O breakpoint met: the #DB trap comes after this iteration (SDM Vol. 3 §18.3.1.2),
      // with EIP at the instruction while iterations remain.
      if (cpu.bp.hits !== 0) break;
    }
    if (count !== 0) r.ip = cpu.startIp;
  };
}

/** A 32-bit register write (ESI/EDI/ECX/EAX): the upper half becomes 0, as in 64-bit mode. */
function setLow(r32: Int32Array, n: number, v: number): void {
  r32[n] = v | 0;
  r32[n + GPR_HI] = 0;
}

/** Sets GPR `n` to a 64-bit value given in signed form (exact below 2^53 in magnitude). */
function setGpr64(r32: Int32Array, n: number, v: number): void {
  r32[n] = (v % TWO_32) | 0;
  r32[n + GPR_HI] = Math.floor(v / TWO_32);
}

/**
 * A string instruction in 64-bit mode (SDM Vol. 1 §3.7.6): RSI/RDI/RCX with 64-bit addressing, ESI/EDI/
 * ECX with 67h (their writes zero-extend). ES:rDI is fixed (ES base 0); the source segment may be
 * overridden (FS/GS add their base). An offset that is not canonical raises #GP(0) (#SS(0) through SS).
 * REP runs at most {@link REP_CHUNK} iterations per execution as in the legacy path.
 */
function string64(cpu: Cpu, ins: Instruction, op: number, size: number): void {
  const r = cpu.regs;
  const u = r.u32;
  const r32 = r.r32;
  const a64 = ins.addressSize === 64;
  const bytes = size >>> 3;
  const rep = ins.repPrefix;
  const step = cpu.flags.bits & EFLAGS.DF ? -bytes : bytes;
  const srcSeg =
    ins.memSegment >= Register.ES && ins.memSegment <= Register.GS ? ins.memSegment - Register.ES : Seg.DS;
  const port = r.r16[4]!;
  if (op === StringOp.Ins || op === StringOp.Outs) checkIo(cpu, port, bytes);
  const usesSi = op === StringOp.Movs || op === StringOp.Cmps || op === StringOp.Lods || op === StringOp.Outs;
  const usesDi = op !== StringOp.Lods && op !== StringOp.Outs;
  let cLo = 1;
  let cHi = 0;
  if (rep !== RepPrefix.None) {
    cLo = u[1]!;
    cHi = a64 ? u[GPR_HI + 1]! : 0;
  }
  if ((cLo | cHi) === 0) return;
  const mask = sizeMask(size);
  let n = 0;
  while ((cLo | cHi) !== 0 && n < REP_CHUNK) {
    const si = a64 ? joinSigned(u[6]!, u[GPR_HI + 6]!) : u[6]!;
    const di = a64 ? joinSigned(u[7]!, u[GPR_HI + 7]!) : u[7]!;
    if (
      rep !== RepPrefix.None &&
      step > 0 &&
      !cpu.bp.data &&
      (op === StringOp.Movs || op === StringOp.Stos)
    ) {
      const done = bulk64(cpu, op, size, srcSeg, si, di, cHi !== 0 ? REP_CHUNK : cLo, a64);
      if (done > 0) {
        const adv = done * bytes;
        if (a64) {
          if (op === StringOp.Movs) setGpr64(r32, 6, si + adv);
          setGpr64(r32, 7, di + adv);
          if (cLo < done) cHi = (cHi - 1) >>> 0;
          cLo = (cLo - done) >>> 0;
          r32[1] = cLo;
          r32[GPR_HI + 1] = cHi;
        } else {
          if (op === StringOp.Movs) setLow(r32, 6, si + adv);
          setLow(r32, 7, di + adv);
          cLo = (cLo - done) >>> 0;
          setLow(r32, 1, cLo);
        }
        n += done;
        continue;
      }
    }
    if (a64) {
      if (usesSi && !isCanonical(si)) segmentFault(srcSeg);
      if (usesDi && !isCanonical(di)) segmentFault(Seg.ES);
    }
    switch (op) {
      case StringOp.Movs:
        if (size === 64) {
          const lo = read64(cpu, srcSeg, si);
          write64(cpu, Seg.ES, di, lo, cpu.hi);
        } else writeSized(cpu, Seg.ES, di, size, readSized(cpu, srcSeg, si, size));
        break;
      case StringOp.Cmps:
        if (size === 64) {
          const aLo = read64(cpu, srcSeg, si);
          const aHi = cpu.hi;
          const bLo = read64(cpu, Seg.ES, di);
          compare64(cpu, aLo, aHi, bLo, cpu.hi);
        } else {
          const a = readSized(cpu, srcSeg, si, size);
          const b = readSized(cpu, Seg.ES, di, size);
          setLazy(cpu.flags, LazyOp.Sub, size, a, b, ((a - b) & mask) >>> 0);
        }
        break;
      case StringOp.Stos:
        if (size === 64) write64(cpu, Seg.ES, di, u[0]!, u[GPR_HI]!);
        else writeSized(cpu, Seg.ES, di, size, size === 8 ? r.r8[0]! : size === 16 ? r.r16[0]! : u[0]!);
        break;
      case StringOp.Lods:
        if (size === 64) {
          const lo = read64(cpu, srcSeg, si);
          r32[0] = lo;
          r32[GPR_HI] = cpu.hi;
        } else {
          const v = readSized(cpu, srcSeg, si, size);
          if (size === 8) r.r8[0] = v;
          else if (size === 16) r.r16[0] = v;
          else setLow(r32, 0, v);
        }
        break;
      case StringOp.Scas:
        if (size === 64) {
          const bLo = read64(cpu, Seg.ES, di);
          compare64(cpu, u[0]!, u[GPR_HI]!, bLo, cpu.hi);
        } else {
          const a = size === 8 ? r.r8[0]! : size === 16 ? r.r16[0]! : u[0]!;
          const b = readSized(cpu, Seg.ES, di, size);
          setLazy(cpu.flags, LazyOp.Sub, size, a, b, ((a - b) & mask) >>> 0);
        }
        break;
      case StringOp.Ins:
        probeWrite(cpu, Seg.ES, di, bytes);
        writeSized(cpu, Seg.ES, di, size, portIn(cpu, port, bytes as 1 | 2 | 4));
        break;
      default:
        portOut(cpu, port, bytes as 1 | 2 | 4, readSized(cpu, srcSeg, si, size));
        break;
    }
    if (a64) {
      if (usesSi) setGpr64(r32, 6, si + step);
      if (usesDi) setGpr64(r32, 7, di + step);
    } else {
      if (usesSi) setLow(r32, 6, si + step);
      if (usesDi) setLow(r32, 7, di + step);
    }
    n++;
    if (rep === RepPrefix.None) return;
    if (a64) {
      if (cLo === 0) cHi = (cHi - 1) >>> 0;
      cLo = (cLo - 1) >>> 0;
      r32[1] = cLo;
      r32[GPR_HI + 1] = cHi;
    } else {
      cLo = (cLo - 1) >>> 0;
      setLow(r32, 1, cLo);
    }
    if (op === StringOp.Cmps || op === StringOp.Scas) {
      const zf = getZF(cpu.flags);
      if (rep === RepPrefix.Rep ? zf === 0 : zf === 1) return;
    }
    if (cpu.bp.hits !== 0) break;
  }
  if ((cLo | cHi) !== 0) r.ip = cpu.startIp;
}

/** The flags of the 64-bit comparison `a - b` (CMPSQ/SCASQ). */
function compare64(cpu: Cpu, aLo: number, aHi: number, bLo: number, bHi: number): void {
  const rHi = (aHi - bHi - (aLo < bLo ? 1 : 0)) >>> 0;
  setFlags64(cpu.flags, LazyOp.Sub, aLo, aHi, bLo, bHi, (aLo - bLo) >>> 0, rHi);
}

/**
 * {@link bulk} for 64-bit mode: forward REP MOVS/STOS over whole elements that stay on one page on each
 * side (a canonical page: the canonical boundary is page-aligned); with 67h not past the 4 GiB wrap of
 * the 32-bit offsets. STOSQ fills in bulk only when both halves of RAX are equal (a zero fill, say).
 */
function bulk64(
  cpu: Cpu,
  op: number,
  size: number,
  srcSeg: number,
  si: number,
  di: number,
  count: number,
  a64: boolean,
): number {
  const bytes = size >>> 3;
  const dstLin = linearAddress(cpu, Seg.ES, di);
  if (!isCanonical(dstLin)) return 0;
  let n = Math.min(count, REP_CHUNK, Math.floor((0x1000 - (dstLin & 0xfff)) / bytes));
  if (!a64) n = Math.min(n, Math.floor((TWO_32 - di) / bytes));
  let srcLin = 0;
  if (op === StringOp.Movs) {
    srcLin = linearAddress(cpu, srcSeg, si);
    if (!isCanonical(srcLin)) return 0;
    n = Math.min(n, Math.floor((0x1000 - (srcLin & 0xfff)) / bytes));
    if (!a64) n = Math.min(n, Math.floor((TWO_32 - si) / bytes));
  }
  if (n <= 1) return 0;
  const len = n * bytes;
  const user = cpu.ctrl.cpl === 3;
  if (op === StringOp.Movs) {
    const src = cpu.pager.translate(srcLin, AccessKind.Read, user);
    const dst = cpu.pager.translate(dstLin, AccessKind.Write, user);
    if (dst > src && dst < src + len) return 0;
    return cpu.phys.copy(dst, src, len) ? n : 0;
  }
  const u = cpu.regs.u32;
  if (size === 64 && u[0] !== u[GPR_HI]) return 0;
  const value = size === 8 ? cpu.regs.r8[0]! : size === 16 ? cpu.regs.r16[0]! : u[0]!;
  const dst = cpu.pager.translate(dstLin, AccessKind.Write, user);
  return cpu.phys.fill(dst, size === 64 ? 4 : bytes, size === 64 ? n * 2 : n, value) ? n : 0;
}

/**
 * Forward REP MOVS/STOS over whole elements that stay inside one page on each side and inside the
 * segment limits: one translation per page and a bulk copy or fill. Returns the number of elements
 * done, or 0 when the general path must take the next element (page or limit crossing, MMIO,
 * overlapping forward copy).
 */
function bulk(
  cpu: Cpu,
  op: number,
  size: number,
  srcSeg: number,
  si: number,
  di: number,
  count: number,
  a32: boolean,
): number {
  const bytes = size >>> 3;
  const s = cpu.segs;
  const dstLin = (s.base[Seg.ES]! + di) >>> 0;
  let n = Math.min(count, REP_CHUNK, Math.floor((0x1000 - (dstLin & 0xfff)) / bytes));
  if (!a32) n = Math.min(n, Math.floor((0x10000 - di) / bytes));
  let srcLin = 0;
  if (op === StringOp.Movs) {
    srcLin = (s.base[srcSeg]! + si) >>> 0;
    n = Math.min(n, Math.floor((0x1000 - (srcLin & 0xfff)) / bytes));
    if (!a32) n = Math.min(n, Math.floor((0x10000 - si) / bytes));
    if (si < s.lo[srcSeg]! || si + n * bytes - 1 > s.hi[srcSeg]! || (s.access[srcSeg]! & Access.READ) === 0)
      return 0;
  }
  if (n <= 1) return 0;
  const len = n * bytes;
  if (di < s.lo[Seg.ES]! || di + len - 1 > s.hi[Seg.ES]! || (s.access[Seg.ES]! & Access.WRITE) === 0)
    return 0;
  const user = cpu.ctrl.cpl === 3;
  if (op === StringOp.Movs) {
    const src = cpu.pager.translate(srcLin, AccessKind.Read, user);
    const dst = cpu.pager.translate(dstLin, AccessKind.Write, user);
    if (dst > src && dst < src + len) return 0;
    return cpu.phys.copy(dst, src, len) ? n : 0;
  }
  const r = cpu.regs;
  const value = size === 8 ? r.r8[0]! : size === 16 ? r.r16[0]! : r.u32[0]!;
  const dst = cpu.pager.translate(dstLin, AccessKind.Write, user);
  return cpu.phys.fill(dst, bytes, n, value) ? n : 0;
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  const add = (name: string, h: Handler): void => list.add(name, h);
  const forms: [number, string, string, string][] = [
    [StringOp.Movs, 'Movsb_m8_m8', 'Movsw_m16_m16', 'Movsd_m32_m32'],
    [StringOp.Cmps, 'Cmpsb_m8_m8', 'Cmpsw_m16_m16', 'Cmpsd_m32_m32'],
    [StringOp.Stos, 'Stosb_m8_AL', 'Stosw_m16_AX', 'Stosd_m32_EAX'],
    [StringOp.Lods, 'Lodsb_AL_m8', 'Lodsw_AX_m16', 'Lodsd_EAX_m32'],
    [StringOp.Scas, 'Scasb_AL_m8', 'Scasw_AX_m16', 'Scasd_EAX_m32'],
    [StringOp.Ins, 'Insb_m8_DX', 'Insw_m16_DX', 'Insd_m32_DX'],
    [StringOp.Outs, 'Outsb_DX_m8', 'Outsw_DX_m16', 'Outsd_DX_m32'],
  ];
  for (const [op, b, w, d] of forms) {
    add(b, stringOp(op, 8));
    add(w, stringOp(op, 16));
    add(d, stringOp(op, 32));
  }
  return list.entries;
}

export const STRING_HANDLERS: readonly [number, Handler][] = entries();
