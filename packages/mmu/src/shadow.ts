import {
  type AccessKind,
  AccessKind as Kind,
  CR0,
  CR4,
  EFER,
  FaultKind,
  MMU_FAULT,
  PTE,
  PTE_HI,
  PagingMode,
  type Privilege,
  TWO_32,
  Watch,
} from './constants.js';
import type { TranslationFault } from './fault.js';
import { Mmu } from './mmu.js';
import type { PagingFeatures } from './paging-state.js';
import { accessRightsFault } from './permissions.js';
import type { SecondStage } from './stage.js';

/** What {@link ShadowMmu.handleFault} did about a fault of the hardware walk. */
export const ShadowOutcome = {
  /** A shadow entry was installed: retry the access. */
  Fixed: 0,
  /** The access is allowed but the shadow entry cannot express it: use `emulatedAddress` once. */
  Emulated: 1,
  /** The guest must see a fault: `fault` holds the #PF (error code, CR2), #GP or second-stage exit. */
  GuestFault: 2,
} as const;
export type ShadowOutcome = (typeof ShadowOutcome)[keyof typeof ShadowOutcome];

export interface ShadowMmuOptions {
  /** The hardware MMU (identity stage) that walks the shadow tables; `ShadowMmu` owns its registers. */
  readonly hw: Mmu;
  /** Guest-physical to host-physical map (memory slots; an `IdentityStage` when they coincide). */
  readonly stage: SecondStage;
  /** Host-physical range, inside RAM of `hw.memory` and outside what the guest reaches, for shadow tables. */
  readonly pool: { readonly base: number; readonly size: number };
  /** Paging features of the guest's CPU model. */
  readonly features?: PagingFeatures;
  /** Shadow roots kept for recently used guest CR3 values (default 4). */
  readonly maxRoots?: number;
}

interface ShadowTree {
  readonly key: number;
  readonly root: number;
  readonly pages: number[];
  lastUse: number;
}

/** Guest control bits that change what a guest walk produces: the shadow tables are rebuilt. */
const CR0_REBUILD = CR0.PG;
const CR4_REBUILD = CR4.PAE | CR4.PSE | CR4.LA57 | CR4.PKE;
const EFER_REBUILD = EFER.NXE | EFER.LMA;
const NON_PAGING_KEY = -1;

/**
 * Shadow paging for guests run without EPT, after KVM's shadow MMU. The guest's own page tables are
 * walked in software (a {@link PageWalker} over the guest's registers and the guest-physical map), and
 * the result is written as a 4-KiB leaf into shadow tables in host memory that map guest-linear
 * addresses straight to host-physical ones; the hardware MMU walks those.
 *
 * - Built on demand: a hardware fault comes to {@link ShadowMmu.handleFault}, which walks the guest
 *   tables (setting the guest's A/D flags exactly where the hardware would), then either installs a
 *   leaf with the guest's effective rights, or reports the guest's #PF.
 * - A leaf is writable only when the guest's dirty flag is already set, so the first write faults and
 *   sets D in the guest table.
 * - Every guest paging-structure frame a leaf was built from is watched (`Watch.PageTable`): a guest
 *   write to it zaps those leaves before the write lands, so shadow tables never go stale.
 * - Guest CR0.WP = 0 (supervisor writes to read-only pages) and second stages that forbid reads are
 *   not expressible in a leaf: those accesses are `Emulated` (translated once, not cached).
 */
export class ShadowMmu {
  /** The guest's view: its registers, its walker and the fault record the guest must see. */
  readonly guest: Mmu;
  readonly hw: Mmu;
  /** Host-physical address of the last `Emulated` access. */
  emulatedAddress = 0;
  /** Counters for statistics (KVM's `pf_fixed`, `pf_guest`, `pf_emulate`, `mmu_shadow_zapped`). */
  readonly stats = { faults: 0, fixed: 0, guestFaults: 0, emulated: 0, zapped: 0, resets: 0 };

  private readonly trees = new Map<number, ShadowTree>();
  private current: ShadowTree | null = null;
  private clock = 0;
  private readonly maxRoots: number;
  private readonly free: number[] = [];
  /**
   * Guest paging-structure frame (host-physical) -> shadow leaf entry address -> linear address. A
   * record can outlive its tree (dropped LRU); zapping a slot that now belongs to another tree only
   * costs that tree a refault.
   */
  private readonly rmap = new Map<number, Map<number, number>>();

  constructor(options: ShadowMmuOptions) {
    this.hw = options.hw;
    this.guest = new Mmu(options.hw.memory, {
      stage: options.stage,
      tlbEntries: 16,
      ...(options.features ? { features: options.features } : {}),
      watch: new Uint8Array(0),
    });
    this.maxRoots = options.maxRoots ?? 4;
    const { base, size } = options.pool;
    if (base % 4096 !== 0 || size < 4096 * 8 || !this.hw.memory.contains(base, size)) {
      throw new RangeError(
        `shadow pool 0x${base.toString(16)}+0x${size.toString(16)} must be page-aligned RAM`,
      );
    }
    for (let p = base + size - 4096; p >= base; p -= 4096) this.free.push(p);
    this.hw.onPageTableWrite = (physPage) => this.zapFrame(physPage);
    this.switchRoot();
  }

  get fault(): TranslationFault {
    return this.guest.fault;
  }

  // ---- the access path ------------------------------------------------------------------------

  /**
   * Translation as the guest sees it: the hardware walk of the shadow tables, and on a fault the
   * shadow-fault handler and a retry (what a #PF VM exit, KVM's handler and VM resume amount to).
   */
  translate(la: number, kind: AccessKind, priv: Privilege): number {
    if (this.guest.state.mode < PagingMode.Level4) la = la >>> 0;
    const phys = this.hw.translate(la, kind, priv);
    if (phys !== MMU_FAULT) return phys;
    const outcome = this.handleFault(la, kind, priv);
    if (outcome === ShadowOutcome.Emulated) return this.emulatedAddress;
    if (outcome === ShadowOutcome.GuestFault) return MMU_FAULT;
    const retry = this.hw.translate(la, kind, priv);
    if (retry !== MMU_FAULT) return retry;
    // The installed leaf was zapped at once (the access wrote one of the frames it was built from).
    return this.handleFault(la, kind, priv) === ShadowOutcome.GuestFault ? MMU_FAULT : this.emulatedAddress;
  }

  /** The shadow page-fault handler for a fault of the hardware walk at `la`. */
  handleFault(la: number, kind: AccessKind, priv: Privilege): ShadowOutcome {
    this.stats.faults++;
    const hwFault = this.hw.fault;
    if (hwFault.kind === FaultKind.GeneralProtection) {
      this.guest.fault.copyFrom(hwFault);
      this.stats.guestFaults++;
      return ShadowOutcome.GuestFault;
    }
    const g = this.guest;
    if (g.state.mode < PagingMode.Level4) la = la >>> 0;
    const phys = g.walker.walk(la, kind, priv);
    if (phys === MMU_FAULT) {
      this.stats.guestFaults++;
      return ShadowOutcome.GuestFault;
    }
    this.emulatedAddress = phys;
    const w = g.walker;
    const allow = g.stage.allow;
    if ((allow & 1) === 0) {
      this.stats.emulated++;
      return ShadowOutcome.Emulated;
    }
    const writable = w.writable && w.dirty && (allow & 2) !== 0;
    const noExec = w.noExec || (allow & 4) === 0;
    const pkey = g.state.mode >= PagingMode.Level4 ? w.pkey : 0;
    let leaf = this.leafSlot(la);
    if (leaf < 0) {
      this.resetAll();
      leaf = this.leafSlot(la);
      if (leaf < 0) {
        this.stats.emulated++;
        if (kind === Kind.Write) this.hw.notePhysicalWrite(phys);
        return ShadowOutcome.Emulated;
      }
    }
    const page = phys - (phys % 4096);
    const lo =
      ((page % TWO_32) | PTE.P | PTE.A | (w.user ? PTE.US : 0) | (writable ? PTE.RW | PTE.D : 0)) >>> 0;
    const hi = (Math.floor(page / TWO_32) | (noExec ? PTE_HI.XD : 0) | (pkey << PTE_HI.PK_SHIFT)) >>> 0;
    const mem = this.hw.memory;
    mem.write32(leaf + 4, hi);
    mem.write32(leaf, lo);
    this.hw.tlb.flushAddress(la);
    this.track(leaf, la);
    // Would the hardware now allow it? Not when the guest relies on CR0.WP = 0, or PKRU with WP = 0.
    const hwDenied =
      (kind === Kind.Write && !writable) ||
      accessRightsFault(this.hw.state, kind, priv, w.user, writable, noExec, pkey) !== 0;
    if (hwDenied) {
      this.stats.emulated++;
      // The store bypasses the hardware walk: let the watchers (shadow tables, code cache) see it.
      if (kind === Kind.Write) this.hw.notePhysicalWrite(phys);
      return ShadowOutcome.Emulated;
    }
    this.stats.fixed++;
    return ShadowOutcome.Fixed;
  }

  // ---- guest control registers ------------------------------------------------------------------

  /** Guest MOV to CR0 (as {@link Mmu.writeCr0}). */
  writeCr0(value: number): number {
    const old = this.guest.state.cr0;
    if (this.guest.writeCr0(value) !== 0) return MMU_FAULT;
    this.afterControlWrite(((old ^ value) & CR0_REBUILD) !== 0);
    return 0;
  }

  /** Guest MOV to CR3: switches to (or builds) the shadow root for the new guest root. */
  writeCr3(value: number, noFlush = false): number {
    if (this.guest.writeCr3(value, noFlush) !== 0) return MMU_FAULT;
    // PAE roots depend on the PDPTE registers just loaded: rebuild.
    if (this.guest.state.mode === PagingMode.Pae) this.dropTree(this.treeKey());
    this.switchRoot();
    return 0;
  }

  writeCr4(value: number): number {
    const old = this.guest.state.cr4;
    if (this.guest.writeCr4(value) !== 0) return MMU_FAULT;
    this.afterControlWrite(((old ^ value) & CR4_REBUILD) !== 0);
    return 0;
  }

  writeEfer(value: number): void {
    const old = this.guest.state.efer;
    this.guest.writeEfer(value);
    this.afterControlWrite(((old ^ this.guest.state.efer) & EFER_REBUILD) !== 0);
  }

  writePkru(value: number): void {
    this.guest.writePkru(value);
    this.hw.writePkru(value);
  }

  /** Guest INVLPG. Shadow leaves are never stale, so only the hardware TLB needs it. */
  invlpg(la: number): void {
    this.hw.invlpg(la);
  }

  /** Guest INVPCID / a full guest TLB flush. */
  flushAll(): void {
    this.hw.flushAll();
  }

  /**
   * Loads the guest's whole paging context without architectural side effects (VM entry, reset,
   * snapshot restore) and rebuilds the shadow tables.
   */
  loadContext(
    cr0: number,
    cr3: number,
    cr4: number,
    efer: number,
    pkru: number,
    pdptes?: ArrayLike<number>,
  ): void {
    this.guest.loadContext(cr0, cr3, cr4, efer, pkru, pdptes);
    this.resetAll();
  }

  /** Drops every shadow table (out of pool pages, or the guest-physical map changed). */
  resetAll(): void {
    this.stats.resets++;
    for (const t of [...this.trees.values()]) this.dropTree(t.key);
    for (const frame of this.rmap.keys()) this.hw.unwatchFrame(frame, Watch.PageTable);
    this.rmap.clear();
    this.switchRoot();
  }

  /** Number of pool pages in use. */
  get pagesInUse(): number {
    let n = 0;
    for (const t of this.trees.values()) n += t.pages.length;
    return n;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private afterControlWrite(rebuild: boolean): void {
    if (rebuild) for (const t of [...this.trees.values()]) this.dropTree(t.key);
    this.switchRoot();
  }

  private treeKey(): number {
    const st = this.guest.state;
    return st.mode === PagingMode.None ? NON_PAGING_KEY : st.rootAddress;
  }

  /** Makes the shadow root for the guest's current root the hardware's CR3, with matching controls. */
  private switchRoot(): void {
    const key = this.treeKey();
    let t = this.trees.get(key);
    if (t === undefined) {
      if (this.trees.size >= this.maxRoots) {
        let lru: ShadowTree | undefined;
        for (const x of this.trees.values()) if (lru === undefined || x.lastUse < lru.lastUse) lru = x;
        if (lru !== undefined) this.dropTree(lru.key);
      }
      let root = this.alloc();
      if (root < 0) {
        for (const x of [...this.trees.values()]) this.dropTree(x.key);
        root = this.alloc();
      }
      t = { key, root, pages: [root], lastUse: 0 };
      this.trees.set(key, t);
    }
    t.lastUse = ++this.clock;
    this.current = t;
    const g = this.guest.state;
    const five = g.mode === PagingMode.Level5;
    // The hardware runs 4-level (5-level for LA57 guests) paging with WP forced on (KVM does the same);
    // SMEP, SMAP and PKRU are the guest's, protection keys only when the guest has IA-32e paging.
    let cr4 = CR4.PAE | (g.cr4 & (CR4.SMEP | CR4.SMAP)) | (five ? CR4.LA57 : 0);
    if (g.mode >= PagingMode.Level4) cr4 |= g.cr4 & CR4.PKE;
    this.hw.loadContext(CR0.PE | CR0.PG | CR0.WP, t.root, cr4, EFER.LME | EFER.LMA | EFER.NXE, g.pkru);
  }

  /** Address of the shadow leaf entry for `la` in the current tree, creating tables; -1 if out of pages. */
  private leafSlot(la: number): number {
    const t = this.current;
    if (t === null) return -1;
    const mem = this.hw.memory;
    const top = this.hw.state.mode === PagingMode.Level5 ? 5 : 4;
    let table = t.root;
    for (let level = top; level > 1; level--) {
      const shift = 12 + 9 * (level - 1);
      const slot = table + (Math.floor(la / 2 ** shift) & 511) * 8;
      const lo = mem.read32(slot);
      if ((lo & PTE.P) !== 0) {
        table = (mem.read32(slot + 4) & 0xfffff) * TWO_32 + ((lo & 0xffff_f000) >>> 0);
        continue;
      }
      const page = this.alloc();
      if (page < 0) return -1;
      t.pages.push(page);
      mem.write32(slot + 4, Math.floor(page / TWO_32));
      mem.write32(slot, ((page % TWO_32) | PTE.P | PTE.RW | PTE.US) >>> 0);
      table = page;
    }
    return table + ((la >>> 12) & 511) * 8;
  }

  /** Watches the guest paging-structure frames the last guest walk used, remembering the leaf. */
  private track(leaf: number, la: number): void {
    const w = this.guest.walker;
    for (let i = 0; i < w.entryCount; i++) {
      const hpa = w.entryHpa[i]!;
      const frame = hpa - (hpa % 4096);
      let leaves = this.rmap.get(frame);
      if (leaves === undefined) {
        leaves = new Map();
        this.rmap.set(frame, leaves);
        this.hw.watchFrame(frame, Watch.PageTable);
      }
      leaves.set(leaf, la);
    }
  }

  /** A guest write is about to land in paging-structure frame `frame`: zap every leaf built from it. */
  private zapFrame(frame: number): void {
    const leaves = this.rmap.get(frame);
    this.rmap.delete(frame);
    this.hw.unwatchFrame(frame, Watch.PageTable);
    if (leaves === undefined) return;
    const mem = this.hw.memory;
    for (const [leaf, la] of leaves) {
      mem.write64(leaf, 0, 0);
      this.hw.tlb.flushAddress(la);
      this.stats.zapped++;
    }
  }

  private dropTree(key: number): void {
    const t = this.trees.get(key);
    if (t === undefined) return;
    this.trees.delete(key);
    for (const p of t.pages) this.free.push(p);
    if (this.current === t) this.current = null;
  }

  private alloc(): number {
    const p = this.free.pop();
    if (p === undefined) return -1;
    this.hw.memory.fill(p, 4096, 0);
    return p;
  }
}
