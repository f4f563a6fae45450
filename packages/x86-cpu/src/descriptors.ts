/**
 * Descriptor-table reads and segment-register loads in each mode (SDM Vol. 3 §3.4, §5.4-5.6; the
 * MOV/POP/LDS pseudo-code in Vol. 2).
 */
import { Mode } from './control.js';
import type { Cpu } from './cpu.js';
import { raise, Vector } from './exceptions.js';
import { readLinear32, writeLinear8 } from './memory-access.js';
import { Seg } from './registers.js';
import {
  Attr,
  descriptorAttr,
  descriptorBase,
  descriptorLimit,
  REAL_MODE_DATA_ATTR,
  SegType,
} from './segments.js';

/** Scratch for the last descriptor read (no allocation). */
export class DescriptorScratch {
  lo = 0;
  hi = 0;
  /** Linear address of the descriptor (to set the accessed bit). */
  address = 0;
}

export const DESC = new DescriptorScratch();

/** Attribute helpers on a raw high word. */
export const dplOf = (hi: number): number => (hi >>> 13) & 3;
export const presentOf = (hi: number): boolean => (hi & 0x8000) !== 0;
/** S bit (code/data) set. */
export const isCodeData = (hi: number): boolean => (hi & 0x1000) !== 0;
export const typeOf = (hi: number): number => (hi >>> 8) & 0xf;

/**
 * Reads the descriptor for `selector` from the GDT or LDT into {@link DESC}. Raises `vector`(selector)
 * when the selector is outside the table limit. The selector must not be null (callers check).
 */
export function readDescriptor(cpu: Cpu, selector: number, vector: number = Vector.GP): void {
  const index = selector & 0xfff8;
  let base: number;
  let limit: number;
  if (selector & 4) {
    if ((cpu.segs.access[Seg.LDTR]! & 4) === 0) raise(vector, selector & 0xfffc);
    base = cpu.segs.base[Seg.LDTR]!;
    limit = cpu.segs.limit[Seg.LDTR]!;
  } else {
    base = cpu.ctrl.gdtr.base;
    limit = cpu.ctrl.gdtr.limit;
  }
  if (index + 7 > limit) raise(vector, selector & 0xfffc);
  const addr = (base + index) >>> 0;
  DESC.address = addr;
  DESC.lo = readLinear32(cpu, addr, false);
  DESC.hi = readLinear32(cpu, (addr + 4) >>> 0, false);
}

/** Sets the accessed bit of the descriptor last read (code/data descriptors). */
export function markAccessed(cpu: Cpu): void {
  if ((DESC.hi & 0x100) === 0) {
    DESC.hi |= 0x100;
    writeLinear8(cpu, (DESC.address + 5) >>> 0, (DESC.hi >>> 8) & 0xff, false);
  }
}

/** Loads a cache row from the descriptor in {@link DESC}. */
export function loadCacheFromDescriptor(cpu: Cpu, seg: number, selector: number): void {
  cpu.segs.set(
    seg,
    selector,
    descriptorBase(DESC.lo, DESC.hi),
    descriptorLimit(DESC.lo, DESC.hi),
    descriptorAttr(DESC.hi),
  );
}

/** Real-mode and virtual-8086 load: base = selector * 16. */
export function loadSegmentReal(cpu: Cpu, seg: number, selector: number): void {
  const s = cpu.segs;
  if (cpu.ctrl.mode === Mode.V86) {
    // V86 loads the whole cache: 64 KiB, DPL 3 read/write data (SDM Vol. 3 §20.1.1).
    s.set(
      seg,
      selector,
      selector << 4,
      0xffff,
      REAL_MODE_DATA_ATTR | (3 << Attr.DPL_SHIFT) | (seg === Seg.CS ? SegType.CODE : 0),
    );
    return;
  }
  // Real mode changes only selector and base; limit and attributes stay (the "unreal mode" behaviour).
  if (seg === Seg.CS || s.access[seg] === 0) {
    // CS keeps its limit but becomes a 16-bit read/write segment (no type checks in real mode).
    s.set(seg, selector, selector << 4, s.access[seg] === 0 ? 0xffff : s.limit[seg]!, REAL_MODE_DATA_ATTR);
    return;
  }
  s.selector[seg] = selector;
  s.base[seg] = selector << 4;
  // The base changed: the cached "flat" property the memory fast path reads must follow it.
  s.derive(seg);
}

/**
 * MOV/POP/LxS to a data segment register or SS in protected mode (SDM Vol. 2B MOV, "IF SS is loaded").
 */
export function loadSegmentProtected(cpu: Cpu, seg: number, selector: number): void {
  const cpl = cpu.ctrl.cpl;
  const rpl = selector & 3;
  if ((selector & 0xfffc) === 0) {
    if (seg === Seg.SS) raise(Vector.GP, 0);
    cpu.segs.setNull(seg, selector);
    return;
  }
  readDescriptor(cpu, selector);
  const hi = DESC.hi;
  const type = typeOf(hi);
  const dpl = dplOf(hi);
  const err = selector & 0xfffc;
  if (seg === Seg.SS) {
    if (
      rpl !== cpl ||
      !isCodeData(hi) ||
      type & SegType.CODE ||
      (type & SegType.WRITABLE_OR_READABLE) === 0 ||
      dpl !== cpl
    ) {
      raise(Vector.GP, err);
    }
    if (!presentOf(hi)) raise(Vector.SS, err);
  } else {
    if (!isCodeData(hi)) raise(Vector.GP, err);
    if (type & SegType.CODE && (type & SegType.WRITABLE_OR_READABLE) === 0) raise(Vector.GP, err);
    const conformingCode =
      (type & (SegType.CODE | SegType.EXPAND_DOWN_OR_CONFORMING)) ===
      (SegType.CODE | SegType.EXPAND_DOWN_OR_CONFORMING);
    if (!conformingCode && (rpl > dpl || cpl > dpl)) raise(Vector.GP, err);
    if (!presentOf(hi)) raise(Vector.NP, err);
  }
  markAccessed(cpu);
  loadCacheFromDescriptor(cpu, seg, selector);
}

/** Loads a data segment register or SS in the current mode. */
export function loadSegment(cpu: Cpu, seg: number, selector: number): void {
  if (cpu.ctrl.mode === Mode.Protected) loadSegmentProtected(cpu, seg, selector);
  else loadSegmentReal(cpu, seg, selector);
}

const DATA_SEGS = [Seg.ES, Seg.DS, Seg.FS, Seg.GS] as const;

/**
 * After a privilege drop (RET/IRET to an outer level): data segment registers whose DPL is below the new
 * CPL (and that are not conforming code) become null (SDM Vol. 2A RET, "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
 */
export function nullifyInaccessibleSegments(cpu: Cpu): void {
  const s = cpu.segs;
  const cpl = cpu.ctrl.cpl;
  for (const seg of DATA_SEGS) {
    const attr = s.attr[seg]!;
    const conformingCode = (attr & 0xc) === 0xc && (attr & 0x8) !== 0;
    const dpl = (attr >>> Attr.DPL_SHIFT) & 3;
    if ((s.access[seg]! & 4) !== 0 && !conformingCode && dpl < cpl) s.setNull(seg, 0);
  }
}
