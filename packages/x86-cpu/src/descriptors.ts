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
  /** Bytes 8..11 of a 16-byte IA-32e system descriptor: base (or offset) bits 63:32. */
  upper = 0;
  /** Bytes 12..15 of a 16-byte IA-32e system descriptor (its type field, bits 12:8, must be 0). */
  upper2 = 0;
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
  // In IA-32e mode the table base is a 64-bit address (signed form) and nothing wraps at 4 GiB.
  const lma = cpu.ctrl.lma;
  const addr = lma ? base + index : (base + index) >>> 0;
  DESC.address = addr;
  DESC.lo = readLinear32(cpu, addr, false);
  DESC.hi = readLinear32(cpu, lma ? addr + 4 : (addr + 4) >>> 0, false);
}

/**
 * Reads a 16-byte IA-32e system descriptor (LDT, TSS, call gate; SDM Vol. 3 §3.5.2, §5.8.3.1) for
 * `selector` into {@link DESC} (`lo`, `hi`, `upper`, `upper2`). Raises `vector`(selector) when any of
 * its 16 bytes is outside the table limit or the type field of the upper half is not 0.
 */
export function readSystemDescriptor64(cpu: Cpu, selector: number, vector: number = Vector.GP): void {
  const limit = (selector & 4) !== 0 ? cpu.segs.limit[Seg.LDTR]! : cpu.ctrl.gdtr.limit;
  if ((selector & 0xfff8) + 15 > limit) raise(vector, selector & 0xfffc);
  readDescriptor(cpu, selector, vector);
  const at = DESC.address;
  DESC.upper = readLinear32(cpu, at + 8, false);
  DESC.upper2 = readLinear32(cpu, at + 12, false);
  if ((DESC.upper2 & 0x1f00) !== 0) raise(vector, selector & 0xfffc);
}

/**
 * The base of the 16-byte system descriptor in {@link DESC} (read by {@link readSystemDescriptor64}):
 * bits 31:0 from the legacy fields, 63:32 from `DESC.upper`, as a canonical address in signed form;
 * raises #GP(selector) when it is not canonical (SDM Vol. 2A LLDT/LTR). LLDT and LTR in IA-32e mode
 * load `segs.set(seg, selector, 0, limit, attr)` and then `segs.setBase64(seg, this value)`.
 */
export function systemDescriptorBase64(selector: number): number {
  const lo = descriptorBase(DESC.lo, DESC.hi);
  const base = (DESC.upper | 0) * 4294967296 + lo;
  if (base < -0x800000000000 || base >= 0x800000000000) raise(Vector.GP, selector & 0xfffc);
  return base;
}

/** Sets the accessed bit of the descriptor last read (code/data descriptors). */
export function markAccessed(cpu: Cpu): void {
  if ((DESC.hi & 0x100) === 0) {
    DESC.hi |= 0x100;
    const at = DESC.address + 5;
    writeLinear8(cpu, cpu.ctrl.lma ? at : at >>> 0, (DESC.hi >>> 8) & 0xff, false);
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
    if (seg === Seg.SS) {
      // 64-bit mode allows a null SS below CPL 3 when RPL = CPL (SDM Vol. 2B MOV, "IF SS is loaded").
      if (!cpu.code64 || cpl === 3 || rpl !== cpl) raise(Vector.GP, 0);
      loadNullSs(cpu, selector, cpl);
      return;
    }
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

/**
 * SS loaded with a null selector in IA-32e mode (MOV/POP SS in 64-bit mode, an interrupt or far CALL
 * that changes privilege, IRETQ/RETF to CPL < 3): unusable, but its DPL stays the CPL, which the SS
 * cache always carries (SDM Vol. 3 §6.14.4; VMX guest-state checks rely on SS.DPL = CPL). Stack
 * accesses in 64-bit mode ignore the segment.
 */
export function loadNullSs(cpu: Cpu, selector: number, cpl: number): void {
  const s = cpu.segs;
  s.setNull(Seg.SS, selector);
  s.attr[Seg.SS] = cpl << Attr.DPL_SHIFT;
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
