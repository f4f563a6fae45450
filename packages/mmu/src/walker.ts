import type { GuestMemory } from '@typevisor/memory';
import {
  type AccessKind,
  AccessKind as Kind,
  CR4,
  EFER,
  LEVEL_SPAN,
  MMU_FAULT,
  PTE,
  PTE_HI,
  PagingMode,
  PfError,
  type Privilege,
  StageAccess,
  TWO_32,
} from './constants.js';
import type { TranslationFault } from './fault.js';
import type { PagingState } from './paging-state.js';
import { accessErrorBits, accessRightsFault } from './permissions.js';
import { PhysicalAtomics } from './phys.js';
import type { SecondStage } from './stage.js';

const RESTART = -2;
const STAGE_KIND = [StageAccess.Read, StageAccess.Write, StageAccess.Fetch] as const;

/**
 * The guest page walk of SDM Chapter 4 for 32-bit, PAE, 4-level and 5-level paging, with every
 * paging-structure access and the final access sent through a {@link SecondStage} (the 2-D walk of
 * SDM §29.3.1 when that stage is EPT). On success it sets accessed flags on every entry used and the
 * dirty flag of the leaf for a write, with locked compare-exchange (restarting the walk if an entry
 * changed under it), and leaves the effective rights of the translation in its fields; on failure it
 * fills the fault record. It allocates nothing.
 */
export class PageWalker {
  /** Guest-physical address of the last successful walk. */
  guestPhysical = 0;
  /** Page size of the translation (4 KiB, 2 MiB, 4 MiB or 1 GiB). */
  pageSize = 4096;
  user = true;
  writable = true;
  noExec = false;
  pkey = 0;
  /** The leaf's dirty flag after the walk (true when paging is off). */
  dirty = true;
  global = false;
  /** Number of paging-structure entries used, and their guest- and host-physical addresses. */
  entryCount = 0;
  readonly entryGpa = new Float64Array(5);
  readonly entryHpa = new Float64Array(5);
  private readonly entryLo = new Uint32Array(5);
  /** When set, walks set no accessed/dirty flags anywhere (see {@link Mmu.probe}). */
  probe = false;
  private readonly atomics: PhysicalAtomics;

  constructor(
    private readonly memory: GuestMemory,
    private readonly state: PagingState,
    public stage: SecondStage,
    private readonly fault: TranslationFault,
  ) {
    this.atomics = new PhysicalAtomics(memory);
  }

  /**
   * Translates linear address `la` (already normalized: unsigned 32-bit outside IA-32e mode) for an
   * access, returning the host-physical address or {@link MMU_FAULT}.
   */
  walk(la: number, kind: AccessKind, priv: Privilege): number {
    for (;;) {
      const r = this.walkOnce(la, kind, priv);
      if (r !== RESTART) return r;
    }
  }

  private walkOnce(la: number, kind: AccessKind, priv: Privilege): number {
    const st = this.state;
    this.entryCount = 0;
    this.user = true;
    this.writable = true;
    this.noExec = false;
    this.pkey = 0;
    this.global = false;
    this.dirty = true;
    let gpa: number;
    switch (st.mode) {
      case PagingMode.None:
        this.pageSize = 4096;
        gpa = la;
        break;
      case PagingMode.Bits32:
        gpa = this.walk32(la, kind, priv);
        break;
      case PagingMode.Pae: {
        const i = (la >>> 30) & 3;
        const lo = st.pdpte[2 * i]!;
        if ((lo & PTE.P) === 0) return this.pageFault(la, kind, priv, 0);
        const table = (st.pdpte[2 * i + 1]! & st.addressHi) * TWO_32 + ((lo & 0xffff_f000) >>> 0);
        gpa = this.walk64(la, kind, priv, table, 2);
        break;
      }
      default:
        gpa = this.walk64(la, kind, priv, st.rootAddress, st.mode === PagingMode.Level5 ? 5 : 4);
    }
    if (gpa < 0) return gpa;
    if (st.mode !== PagingMode.None) {
      const denied = accessRightsFault(st, kind, priv, this.user, this.writable, this.noExec, this.pkey);
      if (denied !== 0) return this.pageFault(la, kind, priv, denied);
      if (!this.probe) {
        const r = this.setAccessedDirty(la, kind);
        if (r !== 0) return r;
      }
    }
    this.guestPhysical = gpa;
    const probe = this.probe ? StageAccess.Probe : 0;
    return this.stage.translate(gpa, STAGE_KIND[kind] | StageAccess.GlaValid | probe, la, this.fault);
  }

  private walk32(la: number, kind: AccessKind, priv: Privilege): number {
    const st = this.state;
    const pdeGpa = ((st.cr3 & 0xffff_f000) >>> 0) + ((la >>> 22) << 2);
    const pde = this.readEntry(pdeGpa, la, false);
    if (pde === MMU_FAULT) return MMU_FAULT;
    if ((pde & PTE.P) === 0) return this.pageFault(la, kind, priv, 0);
    this.take(pde, 0);
    if ((pde & PTE.PS) !== 0 && (st.cr4 & CR4.PSE) !== 0) {
      // 4-MiB page: bit 21 reserved, bits 20:13 are physical bits 39:32 (PSE-36).
      if ((pde & ((1 << 21) | st.pse36Reserved)) !== 0)
        return this.pageFault(la, kind, priv, PfError.P | PfError.RSVD);
      this.leaf(pde, 0, 4 << 20);
      return ((pde >>> 13) & 0xff) * TWO_32 + ((pde & 0xffc0_0000) >>> 0) + (la & 0x3f_ffff);
    }
    const pteGpa = ((pde & 0xffff_f000) >>> 0) + (((la >>> 12) & 0x3ff) << 2);
    const pte = this.readEntry(pteGpa, la, false);
    if (pte === MMU_FAULT) return MMU_FAULT;
    if ((pte & PTE.P) === 0) return this.pageFault(la, kind, priv, 0);
    this.take(pte, 0);
    this.leaf(pte, 0, 4096);
    return ((pte & 0xffff_f000) >>> 0) + (la & 0xfff);
  }

  private walk64(la: number, kind: AccessKind, priv: Privilege, table: number, top: number): number {
    const st = this.state;
    const nxe = (st.efer & EFER.NXE) !== 0;
    for (let level = top; level >= 1; level--) {
      const span = LEVEL_SPAN[level]!;
      const index = level >= 3 ? Math.floor(la / span) & 511 : (la >>> (3 + 9 * level)) & 511;
      const lo = this.readEntry(table + index * 8, la, true);
      if (lo === MMU_FAULT) return MMU_FAULT;
      const hi = this.hi;
      if ((lo & PTE.P) === 0) return this.pageFault(la, kind, priv, 0);
      const ps = (lo & PTE.PS) !== 0;
      let reserved = (hi & st.reservedHi) !== 0 || (!nxe && (hi & PTE_HI.XD) !== 0);
      if (level >= 4) reserved ||= ps;
      else if (level === 3 && ps) reserved ||= !st.features.pages1G || (lo & 0x3fff_e000) !== 0;
      else if (level === 2 && ps) reserved ||= (lo & 0x001f_e000) !== 0;
      if (reserved) return this.pageFault(la, kind, priv, PfError.P | PfError.RSVD);
      this.take(lo, nxe ? hi : 0);
      const base = (hi & st.addressHi) * TWO_32;
      if (level === 1 || (ps && level <= 3)) {
        this.leaf(lo, hi, span);
        const lowMask = level === 1 ? 0xffff_f000 : level === 2 ? 0xffe0_0000 : 0xc000_0000;
        const offset = level === 1 ? la & 0xfff : level === 2 ? la & 0x1f_ffff : la & 0x3fff_ffff;
        return base + ((lo & lowMask) >>> 0) + offset;
      }
      table = base + ((lo & 0xffff_f000) >>> 0);
    }
    return MMU_FAULT; // unreachable: level 1 is a leaf
  }

  private hi = 0;

  /** Reads the entry at guest-physical `gpa` through the second stage; its high dword goes to `this.hi`. */
  private readEntry(gpa: number, la: number, wide: boolean): number {
    const hpa = this.stage.translate(
      gpa,
      StageAccess.Read |
        StageAccess.PagingStructure |
        StageAccess.GlaValid |
        (this.probe ? StageAccess.Probe : 0),
      la,
      this.fault,
    );
    if (hpa === MMU_FAULT) return MMU_FAULT;
    const n = this.entryCount;
    this.entryGpa[n] = gpa;
    this.entryHpa[n] = hpa;
    const lo = this.memory.read32(hpa);
    this.entryLo[n] = lo;
    this.entryCount = n + 1;
    this.hi = wide ? this.memory.read32(hpa + 4) : 0;
    return lo;
  }

  /** Folds an entry's rights into the effective rights (SDM §4.6: U/S and R/W ANDed, XD ORed). */
  private take(lo: number, hi: number): void {
    if ((lo & PTE.US) === 0) this.user = false;
    if ((lo & PTE.RW) === 0) this.writable = false;
    if ((hi & PTE_HI.XD) !== 0) this.noExec = true;
  }

  private leaf(lo: number, hi: number, size: number): void {
    this.pageSize = size;
    this.dirty = (lo & PTE.D) !== 0;
    this.global = (lo & PTE.G) !== 0 && (this.state.cr4 & CR4.PGE) !== 0;
    this.pkey = (hi >>> PTE_HI.PK_SHIFT) & 15;
  }

  /** Sets A on every entry used and D on the leaf for a write (SDM §4.8), top level first. */
  private setAccessedDirty(la: number, kind: AccessKind): number {
    const n = this.entryCount;
    for (let i = 0; i < n; i++) {
      const old = this.entryLo[i]!;
      const isLeaf = i === n - 1;
      const want = old | PTE.A | (isLeaf && kind === Kind.Write ? PTE.D : 0);
      if (want === old) continue;
      const hpa = this.stage.translate(
        this.entryGpa[i]!,
        StageAccess.Write | StageAccess.PagingStructure | StageAccess.GlaValid,
        la,
        this.fault,
      );
      if (hpa === MMU_FAULT) return MMU_FAULT;
      if (!this.atomics.compareExchange32(hpa, old, want)) return RESTART;
      this.entryLo[i] = want;
    }
    if (kind === Kind.Write) this.dirty = true;
    return 0;
  }

  private pageFault(la: number, kind: AccessKind, priv: Privilege, bits: number): number {
    this.fault.pageFault(la, bits | accessErrorBits(this.state, kind, priv));
    return MMU_FAULT;
  }
}
