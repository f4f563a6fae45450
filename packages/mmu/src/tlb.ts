import { AccessKind, type Privilege } from './constants.js';

/** A tag no linear address produces (linear pages are below 2^57 in magnitude). */
export const TLB_EMPTY = 2 ** 60;

/** Bit of {@link Tlb.perm} that allows an access of `kind` at `priv` through the slow path. */
export const tlbAllowBit = (kind: AccessKind, priv: Privilege): number => 1 << (priv * 4 + kind);
/** Bit of {@link Tlb.perm} that allows it straight into {@link Mmu.ram} (the CPU's fast path). */
export const tlbFastBit = (kind: AccessKind, priv: Privilege): number => 1 << (16 + priv * 4 + kind);
/** All fast-path write bits. */
export const TLB_FAST_WRITE =
  (1 << (16 + AccessKind.Write)) | (1 << (20 + AccessKind.Write)) | (1 << (24 + AccessKind.Write));

/** Flag bits of {@link Tlb.flags}. */
export const TlbFlag = { Global: 1, Large: 2 } as const;

/** Number of (VPID, PCID) address-space tags held at once; older ones are evicted LRU. */
const CONTEXT_SLOTS = 64;

/**
 * A direct-mapped TLB of 4-KiB translations in parallel typed arrays, tagged with an address-space
 * context (a slot standing for one VPID/PCID pair). Entry `i = (la >>> 12) & mask` holds:
 *
 * - `tag[i]`: the linear page address (`la - (la & 0xfff)`) plus the context slot `ctx` (< 4096, so
 *   it lives in the page offset bits); {@link TLB_EMPTY} when invalid.
 * - `perm[i]`: bit `priv*4+kind` = allowed; bit `16+priv*4+kind` = allowed and backed by `Mmu.ram`.
 *   A write bit is only set when the dirty flags are already set, so the first write walks again.
 * - `host[i]`: byte offset of the page in `Mmu.ram` (meaningful with a fast bit).
 * - `phys[i]`: physical page address (the final, host-physical one).
 *
 * Larger guest pages are cached as 4-KiB fragments; INVLPG of any address in them drops them all.
 */
export class Tlb {
  readonly size: number;
  readonly mask: number;
  readonly tag: Float64Array;
  readonly perm: Int32Array;
  readonly host: Int32Array;
  readonly phys: Float64Array;
  readonly flags: Uint8Array;
  /** log2 of the guest page size the fragment came from. */
  readonly sizeShift: Uint8Array;
  /** Context slot of the current VPID/PCID; add it to the page address to form a tag. */
  ctx = 0;
  private largeEntries = 0;
  private readonly slotKey = new Float64Array(CONTEXT_SLOTS).fill(-1);
  private readonly slotUse = new Float64Array(CONTEXT_SLOTS);
  private clock = 0;

  constructor(entries = 1024) {
    if (!Number.isInteger(Math.log2(entries)) || entries < 16 || entries > 1 << 20) {
      throw new RangeError(`TLB size ${entries} must be a power of two in 16..2^20`);
    }
    this.size = entries;
    this.mask = entries - 1;
    this.tag = new Float64Array(entries).fill(TLB_EMPTY);
    this.perm = new Int32Array(entries);
    this.host = new Int32Array(entries);
    this.phys = new Float64Array(entries);
    this.flags = new Uint8Array(entries);
    this.sizeShift = new Uint8Array(entries);
    this.selectContext(0, 0);
  }

  /** Makes (vpid, pcid) current, allocating a slot for it (and flushing the slot's old owner). */
  selectContext(vpid: number, pcid: number): number {
    const key = vpid * 4096 + pcid;
    let victim = 0;
    for (let s = 0; s < CONTEXT_SLOTS; s++) {
      if (this.slotKey[s] === key) {
        this.slotUse[s] = ++this.clock;
        this.ctx = s;
        return s;
      }
      if (this.slotUse[s]! < this.slotUse[victim]!) victim = s;
    }
    if (this.slotKey[victim] !== -1) this.flushSlot(victim, false);
    this.slotKey[victim] = key;
    this.slotUse[victim] = ++this.clock;
    this.ctx = victim;
    return victim;
  }

  fill(la: number, physPage: number, perm: number, host: number, flags: number, sizeShift: number): void {
    const i = (la >>> 12) & this.mask;
    this.tag[i] = la - (la & 0xfff) + this.ctx;
    this.perm[i] = perm;
    this.host[i] = host;
    this.phys[i] = physPage;
    this.flags[i] = flags;
    this.sizeShift[i] = sizeShift;
    if ((flags & TlbFlag.Large) !== 0) this.largeEntries++;
  }

  flushAll(): void {
    this.tag.fill(TLB_EMPTY);
    this.largeEntries = 0;
  }

  /** Drops every translation of linear address `la`, in every context (INVLPG may do more than asked). */
  flushAddress(la: number): void {
    const page = la - (la & 0xfff);
    const i = (la >>> 12) & this.mask;
    const t = this.tag[i]!;
    if (t !== TLB_EMPTY && t - (t & 0xfff) === page) this.tag[i] = TLB_EMPTY;
    if (this.largeEntries === 0) return;
    for (let j = 0; j < this.size; j++) {
      const tj = this.tag[j]!;
      if (tj === TLB_EMPTY || (this.flags[j]! & TlbFlag.Large) === 0) continue;
      const size = 2 ** this.sizeShift[j]!;
      if (Math.floor((tj - (tj & 0xfff)) / size) === Math.floor(la / size)) this.tag[j] = TLB_EMPTY;
    }
  }

  /** Drops the translations of (vpid, pcid); global ones too unless `keepGlobal`. */
  flushContext(vpid: number, pcid: number, keepGlobal: boolean): void {
    const key = vpid * 4096 + pcid;
    for (let s = 0; s < CONTEXT_SLOTS; s++) if (this.slotKey[s] === key) this.flushSlot(s, keepGlobal);
  }

  /** Drops the translations of every PCID of `vpid`; global ones too unless `keepGlobal`. */
  flushVpid(vpid: number, keepGlobal: boolean): void {
    for (let s = 0; s < CONTEXT_SLOTS; s++) {
      if (this.slotKey[s]! >= 0 && Math.floor(this.slotKey[s]! / 4096) === vpid)
        this.flushSlot(s, keepGlobal);
    }
  }

  /** Removes the fast-path write bits of every entry mapping physical page `physPage`. */
  revokeFastWrite(physPage: number): void {
    for (let i = 0; i < this.size; i++) {
      if (this.phys[i] === physPage && this.tag[i] !== TLB_EMPTY) this.perm[i]! &= ~TLB_FAST_WRITE;
    }
  }

  private flushSlot(slot: number, keepGlobal: boolean): void {
    for (let i = 0; i < this.size; i++) {
      const t = this.tag[i]!;
      if (t === TLB_EMPTY || (t & 0xfff) !== slot) continue;
      if (keepGlobal && (this.flags[i]! & TlbFlag.Global) !== 0) continue;
      this.tag[i] = TLB_EMPTY;
    }
  }
}
