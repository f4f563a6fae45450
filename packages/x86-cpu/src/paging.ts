/**
 * Linear-to-physical translation for the interpreter: a small direct-mapped TLB in typed arrays in front
 * of the `@typevisor/mmu` page walker (32-bit, PSE, PAE paging; A/D updates; permission checks; EPT when
 * a VMX layer installs a second stage). With CR0.PG clear and no second stage the translation is the
 * identity and costs one compare.
 */
import { FaultKind, IdentityStage, MMU_FAULT, type Mmu, Privilege } from '@typevisor/mmu';
import { CR0 } from './control.js';
import { raise, raiseIntercept, raisePageFault, Vector } from './exceptions.js';

/** Access kinds (the MMU's numbering). */
export const AccessKind = { Read: 0, Write: 1, Fetch: 2 } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/** The parts of the CPU the pager reads. */
interface PagerHost {
  readonly ctrl: { cr0: number };
}

const TLB_SIZE = 1024;
export const TLB_MASK = TLB_SIZE - 1;
/** Tag bit marking a filled entry (offset bits are free in a page-aligned tag). */
const VALID = 0x800;
const USER = 0x1;

/**
 * The TLB tag of `linear` for a supervisor (`user` false) or user access: the page's address with the
 * VALID and USER bits in the offset bits. Linear addresses are unsigned 32-bit numbers outside 64-bit
 * mode and canonical addresses in signed form in it (-0x7f00_0000 for 0xFFFF_FFFF_8100_0000), so the
 * tag is a double and tells apart pages whose low 32 bits are equal.
 */
export function tlbTag(linear: number, user: boolean): number {
  return linear - (linear & 0xfff) + (user ? VALID | USER : VALID);
}

export class Pager {
  private readonly rTag = new Float64Array(TLB_SIZE);
  private readonly rPage = new Float64Array(TLB_SIZE);
  private readonly wTag = new Float64Array(TLB_SIZE);
  private readonly wPage = new Float64Array(TLB_SIZE);
  /**
   * Fetch entries, apart from the read ones: a page may be readable but not executable for the same
   * privilege (XD with EFER.NXE; a user page for a supervisor fetch with CR4.SMEP), so a cached read
   * must not let a fetch through.
   */
  private readonly fTag = new Float64Array(TLB_SIZE);
  private readonly fPage = new Float64Array(TLB_SIZE);
  /**
   * The RAM-direct TLB (see `memory-access.ts`): entries for linear pages that translate to guest RAM,
   * holding the page's offset in the RAM array, so that a hit reads or writes the array directly. Tags
   * as in the TLB above; separate read and write entries. A write entry is only made for a page that
   * holds no decoded code and while dirty logging is off, and {@link dropRamWrites} clears them all when
   * a page starts holding code, so writes to code still go through `PhysicalMemory` (which drops the
   * blocks). Everything that flushes or invalidates the TLB clears these entries too.
   */
  readonly ramRTag = new Float64Array(TLB_SIZE);
  readonly ramRBase = new Int32Array(TLB_SIZE);
  readonly ramWTag = new Float64Array(TLB_SIZE);
  readonly ramWBase = new Int32Array(TLB_SIZE);
  /** True when the MMU's second stage is the identity (no EPT): paging-off accesses skip the MMU. */
  private identity: boolean;
  /** Bumped whenever cached translations may change (flush, INVLPG, A20): block links check it. */
  generation = 0;
  /** AND mask of the A20 gate: all ones, or bit 20 clear when the platform holds A20 low. */
  private a20 = 0xffffffff;

  constructor(
    private readonly host: PagerHost,
    readonly mmu: Mmu,
  ) {
    this.identity = mmu.stage instanceof IdentityStage;
  }

  /**
   * Physical address of `linear` (unsigned 32-bit, or a canonical address in signed form in 64-bit
   * mode) for an access of `kind`; raises #PF (or #GP for a bad address).
   */
  translate(linear: number, kind: AccessKind, user: boolean): number {
    if ((this.host.ctrl.cr0 & CR0.PG) === 0 && this.identity) return (linear & this.a20) >>> 0;
    const idx = (linear >>> 12) & TLB_MASK;
    const key = tlbTag(linear, user);
    if (kind === AccessKind.Write) {
      if (this.wTag[idx] === key) return this.wPage[idx]! + (linear & 0xfff);
    } else if (kind === AccessKind.Fetch) {
      if (this.fTag[idx] === key) return this.fPage[idx]! + (linear & 0xfff);
    } else if (this.rTag[idx] === key) {
      return this.rPage[idx]! + (linear & 0xfff);
    }
    return this.miss(linear, kind, user, idx, key);
  }

  private miss(linear: number, kind: AccessKind, user: boolean, idx: number, key: number): number {
    const mmu = this.mmu;
    let phys = mmu.translate(linear, kind, user ? Privilege.User : Privilege.Supervisor);
    if (phys === MMU_FAULT) {
      const f = mmu.fault;
      if (f.kind === FaultKind.PageFault) raisePageFault(f.address, f.errorCode);
      if (f.kind === FaultKind.GeneralProtection) raise(Vector.GP, 0);
      // EPT violation or misconfiguration: the VMX layer reads `mmu.fault` and makes the VM exit.
      raiseIntercept();
    }
    if (this.a20 !== 0xffffffff && phys & 0x100000) phys -= 0x100000;
    const page = phys - (linear & 0xfff);
    this.rTag[idx] = key;
    this.rPage[idx] = page;
    if (kind === AccessKind.Write) {
      this.wTag[idx] = key;
      this.wPage[idx] = page;
    } else if (kind === AccessKind.Fetch) {
      this.fTag[idx] = key;
      this.fPage[idx] = page;
    }
    return phys;
  }

  /** The A20 gate (port 92h / keyboard controller on a PC): when disabled, physical bit 20 reads as 0. */
  setA20(enabled: boolean): void {
    const mask = enabled ? 0xffffffff : 0xffefffff;
    if (mask !== this.a20) {
      this.a20 = mask;
      this.flush();
    }
  }

  /**
   * Makes a RAM-direct entry for `linear` after a successful translation to `phys` (a page-aligned
   * `ramPage` of RAM, or -1 when the page is not RAM): a read entry, and for a write a write entry when
   * `writable` (no code on the page, no dirty logging).
   */
  fillRam(linear: number, kind: AccessKind, user: boolean, ramPage: number, writable: boolean): void {
    const idx = (linear >>> 12) & TLB_MASK;
    if (ramPage < 0) return;
    const tag = tlbTag(linear, user);
    this.ramRTag[idx] = tag;
    this.ramRBase[idx] = ramPage;
    if (kind === AccessKind.Write && writable) {
      this.ramWTag[idx] = tag;
      this.ramWBase[idx] = ramPage;
    }
  }

  /** Drops every RAM-direct write entry (a page started holding decoded code). */
  dropRamWrites(): void {
    this.ramWTag.fill(0);
  }

  /** The RAM array or dirty logging changed: drop every RAM-direct entry. */
  ramRemapped(): void {
    this.dropRam();
  }

  /** Drops every RAM-direct entry. */
  dropRam(): void {
    this.ramRTag.fill(0);
    this.ramWTag.fill(0);
  }

  /** Drops every cached translation (CR3/CR0/CR4 writes, task switch, second-stage change). */
  flush(): void {
    this.generation++;
    this.rTag.fill(0);
    this.wTag.fill(0);
    this.fTag.fill(0);
    this.dropRam();
    this.identity = this.mmu.stage instanceof IdentityStage;
  }

  /** Drops the translation of one page (INVLPG). */
  invalidate(linear: number): void {
    this.generation++;
    const idx = (linear >>> 12) & TLB_MASK;
    this.rTag[idx] = 0;
    this.wTag[idx] = 0;
    this.fTag[idx] = 0;
    this.ramRTag[idx] = 0;
    this.ramWTag[idx] = 0;
    this.mmu.invlpg(linear);
  }
}
