import type { GuestMemory, MemoryRegion } from '@typevisor/memory';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  MMU_FAULT,
  PagingMode,
  type Privilege,
  StageAccess,
  TWO_32,
  Watch,
} from './constants.js';
import { TranslationFault } from './fault.js';
import { DEFAULT_FEATURES, type PagingFeatures, PagingState, pagingModeOf } from './paging-state.js';
import { allowedAccessMask } from './permissions.js';
import { IdentityStage, type SecondStage } from './stage.js';
import { TLB_FAST_WRITE, Tlb, TlbFlag } from './tlb.js';
import { PageWalker } from './walker.js';

export interface MmuOptions {
  readonly features?: PagingFeatures;
  /** Second stage (default {@link IdentityStage}: no virtualization). */
  readonly stage?: SecondStage;
  /** TLB entries, a power of two (default 1024). */
  readonly tlbEntries?: number;
  /** Guest-physical address inside the region served by the fast path (default: the lowest region). */
  readonly fastRegionAddress?: number;
  /** Watch array to share between the vCPUs of one machine (default: a fresh one per MMU). */
  readonly watch?: Uint8Array;
}

/** Called with the physical page address of a watched frame about to be written. */
export type WatchedWriteHandler = (physPage: number) => void;

const CR0_PDPTE_RELOAD = CR0.PG | (1 << 29) | (1 << 30); // PG, NW, CD (SDM §4.4.1)
const CR4_PDPTE_RELOAD = CR4.PAE | CR4.PGE | CR4.PSE | CR4.SMEP;
const CR4_FLUSH_ALL = CR4.PSE | CR4.PAE | CR4.PGE | CR4.LA57 | CR4.PCIDE | CR4.SMEP | CR4.SMAP | CR4.PKE;
const FAST_LIMIT = 2 ** 31 - 4096;
/** The watch array covers at least the low 4 GiB, so regions added later below 4 GiB are covered. */
const MIN_WATCH_FRAMES = 2 ** 20;

/**
 * The MMU of one logical processor: the paging context ({@link PagingState}), the page walker over a
 * pluggable {@link SecondStage}, the TLB and the physical-frame watch used for self-modifying code
 * and shadow paging. Every call is allocation-free and never throws for guest-caused conditions.
 */
export class Mmu {
  readonly state: PagingState;
  readonly fault = new TranslationFault();
  readonly tlb: Tlb;
  readonly walker: PageWalker;
  /**
   * One byte per physical 4-KiB frame of `memory` ({@link Watch} bits). Watched frames never get fast
   * write bits in the TLB; a translated write to one calls the handlers below before returning.
   */
  readonly watch: Uint8Array;
  /** Called when a write is about to land in a frame watched with `Watch.Code`. */
  onCodeWrite: WatchedWriteHandler | null = null;
  /** Called when a write is about to land in a frame watched with `Watch.PageTable`. */
  onPageTableWrite: WatchedWriteHandler | null = null;
  /** The bytes behind the TLB fast path: `ram[tlb.host[i] + (la & 0xfff)]`. */
  readonly ram: Uint8Array;
  /** Physical address of `ram[0]`. */
  readonly ramBase: number;
  private readonly ramRegion: MemoryRegion | undefined;

  constructor(
    readonly memory: GuestMemory,
    options: MmuOptions = {},
  ) {
    this.state = new PagingState(options.features ?? DEFAULT_FEATURES);
    this.tlb = new Tlb(options.tlbEntries ?? 1024);
    this.walker = new PageWalker(memory, this.state, options.stage ?? new IdentityStage(), this.fault);
    const regions = memory.regions();
    const fast =
      options.fastRegionAddress === undefined ? regions[0] : memory.findRegion(options.fastRegionAddress);
    this.ramRegion = fast;
    this.ram = fast?.bytes ?? new Uint8Array(0);
    this.ramBase = fast?.gpa ?? 0;
    let top = 0;
    for (const r of regions) top = Math.max(top, r.gpa + r.size);
    this.watch = options.watch ?? new Uint8Array(Math.max(MIN_WATCH_FRAMES, Math.ceil(top / 4096)));
  }

  get stage(): SecondStage {
    return this.walker.stage;
  }

  /** Replaces the second stage (VM entry/exit, new EPTP) and flushes the TLB. */
  setStage(stage: SecondStage): void {
    this.walker.stage = stage;
    this.tlb.flushAll();
  }

  // ---- translation ------------------------------------------------------------------------------

  /**
   * Physical address of linear address `la` for an access, or {@link MMU_FAULT} with {@link Mmu.fault}
   * filled in. In IA-32e mode `la` is a canonical address sign-extended into a double; elsewhere an
   * unsigned 32-bit number. Consults the TLB first, walks on a miss and caches the result.
   */
  translate(la: number, kind: AccessKind, priv: Privilege): number {
    const tlb = this.tlb;
    const off = la & 0xfff;
    const i = (la >>> 12) & tlb.mask;
    if (tlb.tag[i] === la - off + tlb.ctx) {
      const perm = tlb.perm[i]!;
      if ((perm & (1 << (priv * 4 + kind))) !== 0) {
        const phys = tlb.phys[i]! + off;
        if (kind === AccessKind.Write && (perm & (1 << (16 + priv * 4 + kind))) === 0) this.noteWrite(phys);
        return phys;
      }
    }
    return this.translateSlow(la, kind, priv);
  }

  /** The TLB-miss path of {@link Mmu.translate}. */
  translateSlow(la: number, kind: AccessKind, priv: Privilege): number {
    if (this.state.mode < PagingMode.Level4) {
      la = la >>> 0;
    } else if (!this.canonical(la)) {
      this.fault.generalProtection(la);
      return MMU_FAULT;
    }
    const phys = this.walker.walk(la, kind, priv);
    if (phys === MMU_FAULT) return MMU_FAULT;
    this.fill(la, phys);
    if (kind === AccessKind.Write) this.noteWrite(phys);
    return phys;
  }

  /**
   * Translation for a debugger or KVM_TRANSLATE: the same walk and checks as {@link Mmu.translate},
   * but no accessed/dirty flag is set (guest or EPT), the TLB is neither used nor filled, and watch
   * handlers are not called. On success `walker.guestPhysical` holds the guest-physical address and
   * `walker.user`/`writable`/`noExec` the effective rights.
   */
  probe(la: number, kind: AccessKind, priv: Privilege): number {
    if (this.state.mode < PagingMode.Level4) {
      la = la >>> 0;
    } else if (!this.canonical(la)) {
      this.fault.generalProtection(la);
      return MMU_FAULT;
    }
    const w = this.walker;
    w.probe = true;
    const phys = w.walk(la, kind, priv);
    w.probe = false;
    return phys;
  }

  /** Whether `la` is canonical for the IA-32e paging mode in force (bits 63:47, or 63:56, all equal). */
  private canonical(la: number): boolean {
    const limit = this.state.mode === PagingMode.Level5 ? 2 ** 56 : 2 ** 47;
    return la >= -limit && la < limit && Number.isInteger(la);
  }

  private fill(la: number, phys: number): void {
    const w = this.walker;
    const st = this.state;
    const allow = w.stage.allow & (w.dirty ? 7 : 5);
    let perm = allow | (allow << 4) | (allow << 8);
    if (st.mode !== PagingMode.None) perm &= allowedAccessMask(st, w.user, w.writable, w.noExec, w.pkey);
    const physPage = phys - (phys % 4096);
    let host = -1;
    const r = this.ramRegion;
    // tlb.host is an Int32Array: the fast path covers the first 2 GiB of the region.
    if (
      r !== undefined &&
      physPage >= r.gpa &&
      physPage + 4096 <= r.gpa + r.size &&
      physPage - r.gpa < FAST_LIMIT
    ) {
      host = physPage - r.gpa;
      let fast = perm << 16;
      const frame = physPage / 4096;
      if (r.readonly || r.dirty !== null || (frame < this.watch.length && this.watch[frame] !== 0)) {
        fast &= ~TLB_FAST_WRITE;
      }
      perm |= fast;
    }
    const flags = (w.global ? TlbFlag.Global : 0) | (w.pageSize > 4096 ? TlbFlag.Large : 0);
    this.tlb.fill(la, physPage, perm, host, flags, Math.log2(w.pageSize));
  }

  private noteWrite(phys: number): void {
    const frame = Math.floor(phys / 4096);
    if (frame >= this.watch.length) return;
    const bits = this.watch[frame]!;
    if (bits === 0) return;
    if ((bits & Watch.Code) !== 0) this.onCodeWrite?.(frame * 4096);
    if ((bits & Watch.PageTable) !== 0) this.onPageTableWrite?.(frame * 4096);
  }

  /**
   * Reports a write to physical address `phys` that did not come through {@link Mmu.translate} (a
   * device's DMA, a write the VMM makes into guest memory), so that watchers see it.
   */
  notePhysicalWrite(phys: number): void {
    this.noteWrite(phys);
  }

  // ---- physical-frame watch ---------------------------------------------------------------------

  /** Adds `bits` ({@link Watch}) to the frame holding `phys`. False when the frame is outside the array. */
  watchFrame(phys: number, bits: number): boolean {
    const frame = Math.floor(phys / 4096);
    if (frame < 0 || frame >= this.watch.length) return false;
    if ((this.watch[frame]! & bits) === bits) return true;
    this.watch[frame]! |= bits;
    this.tlb.revokeFastWrite(frame * 4096);
    return true;
  }

  /** Removes `bits` from the frame holding `phys`. Writes become fast again on the next TLB fill. */
  unwatchFrame(phys: number, bits: number): void {
    const frame = Math.floor(phys / 4096);
    if (frame < 0 || frame >= this.watch.length) return;
    this.watch[frame]! &= ~bits;
  }

  // ---- control registers (the CPU calls these on MOV CR, WRMSR, XRSTOR/WRPKRU, VM entry/exit) ----

  /**
   * MOV to CR0. Loads the PDPTEs when the result is PAE paging and PG/CD/NW changed (SDM §4.4.1);
   * updates EFER.LMA (= LME and PG). Returns 0, or {@link MMU_FAULT} (nothing changed) when a PDPTE has
   * reserved bits set (`fault.kind` GeneralProtection) or its load faulted in the second stage.
   * The CPU does the other MOV CR0 checks (PG without PE, ...).
   */
  writeCr0(value: number): number {
    const st = this.state;
    const old = st.cr0;
    const lma = (value & CR0.PG) !== 0 && (st.efer & EFER.LME) !== 0;
    const efer = lma ? st.efer | EFER.LMA : st.efer & ~EFER.LMA;
    const mode = pagingModeOf(value, st.cr4, efer);
    if (mode === PagingMode.Pae && ((old ^ value) & CR0_PDPTE_RELOAD) !== 0) {
      if (this.loadPdptes(st.cr3) !== 0) return MMU_FAULT;
    }
    st.cr0 = value >>> 0;
    st.efer = efer >>> 0;
    st.recompute();
    if (((old ^ value) & (CR0.PG | CR0.WP)) !== 0) this.tlb.flushAll();
    return 0;
  }

  /**
   * MOV to CR3. `noFlush` is bit 63 of the source operand when CR4.PCIDE = 1. In PAE mode the PDPTEs
   * are loaded first (failure as for {@link Mmu.writeCr0}). Flushes the non-global translations of the
   * new PCID unless `noFlush` (SDM §4.10.4.1).
   */
  writeCr3(value: number, noFlush = false): number {
    const st = this.state;
    if (st.mode === PagingMode.Pae && this.loadPdptes(value) !== 0) return MMU_FAULT;
    st.cr3 = value;
    const pcidOn = (st.cr4 & CR4.PCIDE) !== 0;
    const pcid = st.pcid;
    this.tlb.selectContext(st.vpid, pcid);
    if (!(pcidOn && noFlush)) this.tlb.flushContext(st.vpid, pcid, true);
    return 0;
  }

  /** MOV to CR4. PDPTE reload as the SDM says; flushes everything when a paging bit changes. */
  writeCr4(value: number): number {
    const st = this.state;
    const old = st.cr4;
    const mode = pagingModeOf(st.cr0, value, st.efer);
    if (mode === PagingMode.Pae && ((old ^ value) & CR4_PDPTE_RELOAD) !== 0) {
      if (this.loadPdptes(st.cr3) !== 0) return MMU_FAULT;
    }
    st.cr4 = value >>> 0;
    st.recompute();
    if (((old ^ value) & CR4_FLUSH_ALL) !== 0) {
      this.tlb.flushAll();
      this.tlb.selectContext(st.vpid, st.pcid);
    }
    return 0;
  }

  /** WRMSR IA32_EFER. LMA is read-only (SDM §2.2.1): the MMU keeps it equal to LME and CR0.PG. */
  writeEfer(value: number): void {
    const st = this.state;
    const old = st.efer;
    const lma = (value & EFER.LME) !== 0 && (st.cr0 & CR0.PG) !== 0;
    st.efer = (lma ? value | EFER.LMA : value & ~EFER.LMA) >>> 0;
    st.recompute();
    if (((old ^ st.efer) & (EFER.NXE | EFER.LMA)) !== 0) this.tlb.flushAll();
  }

  /**
   * WRPKRU / XRSTOR. PKRU is checked on every access architecturally; the TLB caches rights computed
   * with it, so a change drops them.
   */
  writePkru(value: number): void {
    if (this.state.pkru === value >>> 0) return;
    this.state.pkru = value >>> 0;
    this.tlb.flushAll();
  }

  /** Sets the VPID that tags TLB entries (VM entry/exit). */
  setVpid(vpid: number): void {
    const st = this.state;
    st.vpid = vpid;
    this.tlb.selectContext(vpid, st.pcid);
  }

  /**
   * Loads a whole paging context at once without architectural side effects (VM entry/exit, reset,
   * snapshot restore): no PDPTE load (pass `pdptes` = 8 halves for PAE guests) and a full flush.
   */
  loadContext(
    cr0: number,
    cr3: number,
    cr4: number,
    efer: number,
    pkru: number,
    pdptes?: ArrayLike<number>,
  ): void {
    const st = this.state;
    st.cr0 = cr0 >>> 0;
    st.cr3 = cr3;
    st.cr4 = cr4 >>> 0;
    st.efer = efer >>> 0;
    st.pkru = pkru >>> 0;
    if (pdptes !== undefined) for (let i = 0; i < 8; i++) st.pdpte[i] = pdptes[i] ?? 0;
    st.recompute();
    this.tlb.flushAll();
    this.tlb.selectContext(st.vpid, st.pcid);
  }

  /**
   * Loads the four PDPTE registers from the 32-byte table at CR3[31:5] (through the second stage, with
   * no linear address). Returns 0, or {@link MMU_FAULT} leaving the registers unchanged.
   */
  loadPdptes(cr3: number): number {
    const base = (cr3 & 0xffff_ffe0) >>> 0;
    const st = this.state;
    const reservedHi = ~st.addressHi | 0;
    const tmp = this.pdpteScratch;
    for (let i = 0; i < 4; i++) {
      const hpa = this.walker.stage.translate(
        base + i * 8,
        StageAccess.Read | StageAccess.PagingStructure,
        0,
        this.fault,
      );
      if (hpa === MMU_FAULT) return MMU_FAULT;
      const lo = this.memory.read32(hpa);
      const hi = this.memory.read32(hpa + 4);
      // Bits 2:1, 8:5 and 63:M are reserved in a present PDPTE (SDM Table 4-8).
      if ((lo & 1) !== 0 && ((lo & 0x1e6) !== 0 || (hi & reservedHi) !== 0)) {
        this.fault.generalProtection(0);
        return MMU_FAULT;
      }
      tmp[2 * i] = lo;
      tmp[2 * i + 1] = hi;
    }
    st.pdpte.set(tmp);
    return 0;
  }

  private readonly pdpteScratch = new Uint32Array(8);

  // ---- TLB maintenance ----------------------------------------------------------------------------

  /** INVLPG: drops the translations of `la` (also global ones, also those cached from larger pages). */
  invlpg(la: number): void {
    this.tlb.flushAddress(this.state.mode < PagingMode.Level4 ? la >>> 0 : la);
  }

  /**
   * INVPCID (SDM Vol. 2): type 0 individual address, 1 single context, 2 all contexts including
   * globals, 3 all contexts except globals. The CPU checks the operand (#GP) beforehand.
   */
  invpcid(type: 0 | 1 | 2 | 3, pcid: number, la: number): void {
    const st = this.state;
    if (type === 0) this.tlb.flushAddress(st.mode < PagingMode.Level4 ? la >>> 0 : la);
    else if (type === 1) this.tlb.flushContext(st.vpid, pcid, true);
    else this.tlb.flushVpid(st.vpid, type === 3);
  }

  /**
   * INVVPID: type 0 individual address, 1 single context, 2 all contexts, 3 single context retaining
   * globals.
   */
  invvpid(type: 0 | 1 | 2 | 3, vpid: number, la: number): void {
    if (type === 0) this.tlb.flushAddress(la);
    else if (type === 2) this.tlb.flushAll();
    else this.tlb.flushVpid(vpid, type === 3);
  }

  /** INVEPT (either type), a new EPTP, dirty logging switched on: drops every cached translation. */
  flushAll(): void {
    this.tlb.flushAll();
  }
}

/** Sign-extends bit 47 (or 56) of a 64-bit linear address given as two 32-bit halves. */
export function linearFromHalves(lo: number, hi: number, la57 = false): number {
  const h = la57 ? (hi << 7) >> 7 : (hi << 16) >> 16;
  return h * TWO_32 + (lo >>> 0);
}
