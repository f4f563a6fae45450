/**
 * Segment descriptor caches (the hidden part of each segment register, SDM Vol. 3 §3.4.3) and the
 * descriptor fields they are filled from (SDM Vol. 3 §3.4.5).
 *
 * Each cache is a row in a set of typed arrays indexed by {@link Seg}. Besides the architectural
 * base/limit/attributes the cache keeps the precomputed valid offset range (`lo..hi`, which folds the
 * expand-down rule in) and a small access mask, so that a memory access checks its segment with two
 * compares.
 */
import { Seg } from './registers.js';

/** Attribute bits as held in a cache: descriptor bits 40..55 shifted down by 8 (access byte + flags). */
export const Attr = {
  /** Type field (4 bits). */
  TYPE_MASK: 0xf,
  /** Code/data (1) vs system (0). */
  S: 0x10,
  DPL_MASK: 0x60,
  DPL_SHIFT: 5,
  P: 0x80,
  AVL: 0x1000,
  /** 64-bit code segment. */
  L: 0x2000,
  /** D/B: 32-bit default size. */
  DB: 0x4000,
  /** Granularity: limit in 4 KiB units. */
  G: 0x8000,
} as const;

/** Code/data type bits (with S=1). */
export const SegType = {
  ACCESSED: 0x1,
  /** Data: writable. Code: readable. */
  WRITABLE_OR_READABLE: 0x2,
  /** Data: expand-down. Code: conforming. */
  EXPAND_DOWN_OR_CONFORMING: 0x4,
  CODE: 0x8,
} as const;

/** System descriptor types (S=0), SDM Vol. 3 Table 3-2. */
export const SysType = {
  TSS16_AVAILABLE: 1,
  LDT: 2,
  TSS16_BUSY: 3,
  CALL_GATE16: 4,
  TASK_GATE: 5,
  INT_GATE16: 6,
  TRAP_GATE16: 7,
  TSS32_AVAILABLE: 9,
  TSS32_BUSY: 11,
  CALL_GATE32: 12,
  INT_GATE32: 14,
  TRAP_GATE32: 15,
} as const;

/** Bits of `SegmentCaches.access`. */
export const Access = {
  READ: 1,
  WRITE: 2,
  /** Usable (not loaded with a null selector). */
  VALID: 4,
  /** Flat: base 0 and every offset 0..0xFFFFFFFF valid, so the linear address is the offset. */
  FLAT: 8,
} as const;

/** Real-mode style attributes: present, DPL 0, read/write accessed data. */
export const REAL_MODE_DATA_ATTR = Attr.P | Attr.S | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED;
/**
 * What CS holds after reset and after real-mode loads: "Present, R/W, Accessed" (SDM Vol. 3 Table 9-1).
 * Real mode performs no type checks, so CS is readable and writable like a data segment.
 */
export const REAL_MODE_CODE_ATTR = REAL_MODE_DATA_ATTR;

export class SegmentCaches {
  readonly selector = new Uint16Array(8);
  /**
   * Base address: unsigned 32-bit, except FS and GS bases written as 64-bit values (WRMSR FS_BASE/
   * GS_BASE, SWAPGS, WRFSBASE), which hold a canonical address in signed form (see {@link setBase64}).
   */
  readonly base = new Float64Array(8);
  /** Byte-granular limit. */
  readonly limit = new Uint32Array(8);
  readonly attr = new Uint32Array(8);
  /** Lowest valid offset. */
  readonly lo = new Uint32Array(8);
  /** Highest valid offset (inclusive). */
  readonly hi = new Uint32Array(8);
  readonly access = new Uint8Array(8);

  /** Loads a cache row and recomputes the derived fields. */
  set(seg: number, selector: number, base: number, limit: number, attr: number): void {
    this.selector[seg] = selector;
    this.base[seg] = base >>> 0;
    this.limit[seg] = limit >>> 0;
    this.attr[seg] = attr;
    this.derive(seg);
  }

  /**
   * Sets a 64-bit base (FS/GS in IA-32e mode) given as a canonical address in signed form
   * (0xFFFF_8000_0000_0000 is -2^47): the caller checks canonicality. Other fields are kept.
   */
  setBase64(seg: number, base: number): void {
    this.base[seg] = base;
    if ((this.access[seg]! & Access.VALID) !== 0) this.derive(seg);
  }

  /** Marks a data segment register unusable (loaded with a null selector in protected mode). */
  setNull(seg: number, selector: number): void {
    this.selector[seg] = selector;
    this.base[seg] = 0;
    this.limit[seg] = 0;
    this.attr[seg] = 0;
    this.lo[seg] = 1;
    this.hi[seg] = 0;
    this.access[seg] = 0;
  }

  derive(seg: number): void {
    const attr = this.attr[seg]!;
    const limit = this.limit[seg]!;
    const type = attr & Attr.TYPE_MASK;
    let access: number = Access.VALID;
    if (seg === Seg.LDTR || seg === Seg.TR || (attr & Attr.S) === 0) {
      access |= Access.READ | Access.WRITE;
      this.lo[seg] = 0;
      this.hi[seg] = limit;
    } else if (type & SegType.CODE) {
      if (type & SegType.WRITABLE_OR_READABLE) access |= Access.READ;
      this.lo[seg] = 0;
      this.hi[seg] = limit;
    } else {
      access |= Access.READ;
      if (type & SegType.WRITABLE_OR_READABLE) access |= Access.WRITE;
      if (type & SegType.EXPAND_DOWN_OR_CONFORMING) {
        // Expand-down: valid offsets are limit+1 .. 0xFFFF (B=0) or 0xFFFFFFFF (B=1), SDM Vol. 3 §3.4.5.1.
        this.lo[seg] = (limit + 1) >>> 0;
        this.hi[seg] = attr & Attr.DB ? 0xffffffff : 0xffff;
        if (limit === 0xffffffff) {
          this.lo[seg] = 1;
          this.hi[seg] = 0;
        }
      } else {
        this.lo[seg] = 0;
        this.hi[seg] = limit;
      }
    }
    if ((attr & Attr.P) === 0) access = 0;
    else if (this.base[seg] === 0 && this.lo[seg] === 0 && this.hi[seg] === 0xffffffff) access |= Access.FLAT;
    this.access[seg] = access;
  }

  dpl(seg: number): number {
    return (this.attr[seg]! & Attr.DPL_MASK) >>> Attr.DPL_SHIFT;
  }
}

/** The eight bytes of a segment descriptor, as two 32-bit words. */
export function descriptorBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0;
}

/** Byte-granular limit of a descriptor (G applied). */
export function descriptorLimit(lo: number, hi: number): number {
  const raw = (lo & 0xffff) | (hi & 0xf0000);
  return hi & 0x800000 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}

/** Cache attributes of a descriptor (bits 40..55 of the descriptor, shifted down by 8). */
export function descriptorAttr(hi: number): number {
  return (hi >>> 8) & 0xf0ff;
}

/** Descriptor table pseudo-register (GDTR / IDTR). */
export class TableRegister {
  base = 0;
  limit = 0;
}
