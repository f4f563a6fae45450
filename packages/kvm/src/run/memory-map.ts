/**
 * The guest-physical address space of one vCPU as the software CPU and MMU see it, built from the VM's
 * memslots (kvm_mmu's role):
 *
 * - `cpuMemory`: the writable RAM slots only. Everything else — READONLY slots and addresses no slot
 *   covers — reaches the CPU's MMIO hooks, so a write there can become a KVM_EXIT_MMIO.
 * - `mmuMemory`: every slot at its guest-physical address (identity host-physical map), where the
 *   page walker reads guest page tables, plus, in shadow mode, the pool of shadow page tables.
 * - With `ept`: an identity EPT built lazily, page by page, on EPT violations (`IdentityEpt`).
 * - Without: `@typevisor/mmu`'s `ShadowMmu`, whose guest walks go through `SlotStage`, a second stage
 *   that faults (as an EPT violation would) on addresses no slot maps and on writes to READONLY slots.
 */
import { GuestMemory } from '@typevisor/memory';
import {
  type AccessKind,
  EPTE,
  EptQual,
  EptStage,
  FaultKind,
  MMU_FAULT,
  Mmu,
  type Privilege,
  type SecondStage,
  ShadowMmu,
  StageAccess,
  type TranslationFault,
  makeEptp,
} from '@typevisor/mmu';
import type { Memslot } from '../memslots.js';
import { KVM_MEM_READONLY } from '../uapi/constants.js';

const PAGE = 4096;

/** One slot as the run loop looks it up: a flat, sorted array of these. */
export interface SlotRange {
  readonly start: number;
  readonly end: number;
  readonly readonly: boolean;
  readonly bytes: Uint8Array;
}

/** The slots with mapped memory, sorted by address. */
export function slotRanges(slots: readonly Memslot[]): SlotRange[] {
  const out: SlotRange[] = [];
  for (const s of slots) {
    if (s.region === null) continue;
    out.push({
      start: s.gpa,
      end: s.gpa + s.size,
      readonly: (s.flags & KVM_MEM_READONLY) !== 0,
      bytes: s.region.bytes,
    });
  }
  return out;
}

/** The slot containing `gpa`, or undefined (binary search; slots never overlap). */
export function findSlot(ranges: readonly SlotRange[], gpa: number): SlotRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = ranges[mid]!;
    if (gpa < r.start) hi = mid - 1;
    else if (gpa >= r.end) lo = mid + 1;
    else return r;
  }
  return undefined;
}

/** Pages of EPT paging structures per vCPU; when they run out the EPT is zapped and rebuilt. */
const EPT_TABLE_PAGES = 512;
const EPT_WB = 6 << EPTE.MEMTYPE_SHIFT;

/**
 * An identity EPT (guest-physical = host-physical) in its own table memory, filled in one 4-KiB leaf
 * per EPT violation, as KVM's TDP MMU fills in its EPT on demand. RAM slots are mapped RWX, READONLY
 * slots R-X; addresses without a slot are never mapped (each access is an EPT violation: MMIO).
 */
export class IdentityEpt {
  readonly tables = GuestMemory.create(EPT_TABLE_PAGES * PAGE);
  readonly eptp = makeEptp(0, true);
  private next = 1;
  /** Leaves installed since the last zap (KVM's pf_fixed). */
  mapped = 0;

  /** Maps the page of `gpa` with `rights` (EPTE R/W/X); false when the table pages ran out. */
  map(gpa: number, rights: number): boolean {
    let table = 0;
    for (let level = 3; level > 0; level--) {
      const index = Math.floor(gpa / 2 ** (12 + 9 * level)) % 512;
      const addr = table + index * 8;
      const e = this.tables.read32(addr);
      if ((e & 7) === 0) {
        if (this.next >= EPT_TABLE_PAGES) return false;
        const page = this.next++ * PAGE;
        this.tables.write32(addr, page | 7);
        this.tables.write32(addr + 4, 0);
        table = page;
      } else {
        table = e & ~0xfff;
      }
    }
    const leaf = table + (Math.floor(gpa / PAGE) % 512) * 8;
    const frame = gpa - (gpa % PAGE);
    this.tables.write32(leaf, ((frame % 2 ** 32) | rights | EPT_WB) >>> 0);
    this.tables.write32(leaf + 4, Math.floor(frame / 2 ** 32));
    this.mapped++;
    return true;
  }

  /** Removes the leaf of `gpa`'s page, if any (the caller flushes the TLBs). */
  unmap(gpa: number): void {
    let table = 0;
    for (let level = 3; level > 0; level--) {
      const index = Math.floor(gpa / 2 ** (12 + 9 * level)) % 512;
      const e = this.tables.read32(table + index * 8);
      if ((e & 7) === 0) return;
      table = e & ~0xfff;
    }
    const leaf = table + (Math.floor(gpa / PAGE) % 512) * 8;
    this.tables.write32(leaf, 0);
    this.tables.write32(leaf + 4, 0);
  }

  /** Drops every mapping (kvm_mmu_zap_all). */
  zap(): void {
    this.tables.fill(0, this.next * PAGE, 0);
    this.next = 1;
    this.mapped = 0;
  }
}

/**
 * Adapter (kvm-side, because `@typevisor/mmu` has no slot-aware stage): the second stage of the shadow
 * MMU's guest walks. Identity for addresses in a slot, except writes to READONLY slots; anything else
 * fails as an EPT violation, which the CPU turns into an intercept and KVM into MMIO emulation.
 */
export class SlotStage implements SecondStage {
  allow = 7;
  readonly memoryType = -1;
  /** A page made accessible for the one instruction being emulated (MMIO replay), or -1. */
  openPage = -1;

  constructor(private readonly ranges: readonly SlotRange[]) {}

  translate(gpa: number, access: number, gla: number, fault: TranslationFault): number {
    const r = findSlot(this.ranges, gpa);
    const page = gpa - (gpa % PAGE);
    if (page === this.openPage) {
      this.allow = 0;
      return gpa;
    }
    if (r !== undefined && !(r.readonly && access & StageAccess.Write)) {
      this.allow = r.readonly ? 5 : 7;
      return gpa;
    }
    fault.kind = FaultKind.EptViolation;
    fault.guestPhysical = gpa;
    fault.address = gla;
    fault.errorCode = 0;
    fault.qualification =
      (access & StageAccess.Write
        ? EptQual.WRITE
        : access & StageAccess.Fetch
          ? EptQual.FETCH
          : EptQual.READ) |
      (r !== undefined ? EptQual.READABLE | EptQual.EXECUTABLE : 0) |
      (access & StageAccess.GlaValid ? EptQual.GLA_VALID : 0) |
      (access & StageAccess.PagingStructure ? 0 : EptQual.TRANSLATED);
    return MMU_FAULT;
  }
}

/**
 * Adapter (kvm-side, because `Cpu` takes an `Mmu` and `ShadowMmu` is not one): an `Mmu` whose
 * translation and control-register writes go to a `ShadowMmu`, what KVM's shadow MMU does with
 * the #PF and CR exits it takes. The fault the guest must see is copied into `fault`.
 */
export class ShadowPagedMmu extends Mmu {
  constructor(
    memory: GuestMemory,
    stage: SlotStage,
    readonly shadow: ShadowMmu,
  ) {
    super(memory, { stage, tlbEntries: 16 });
  }

  override translate(la: number, kind: AccessKind, priv: Privilege): number {
    const r = this.shadow.translate(la, kind, priv);
    if (r === MMU_FAULT) {
      const f = this.shadow.fault;
      const o = this.fault;
      o.kind = f.kind;
      o.errorCode = f.errorCode;
      o.address = f.address;
      o.qualification = f.qualification;
      o.guestPhysical = f.guestPhysical;
    }
    return r;
  }
  override writeCr0(value: number): number {
    const r = this.shadow.writeCr0(value);
    this.mirror();
    return r;
  }
  override writeCr3(value: number, noFlush = false): number {
    const r = this.shadow.writeCr3(value, noFlush);
    this.mirror();
    return r;
  }
  override writeCr4(value: number): number {
    const r = this.shadow.writeCr4(value);
    this.mirror();
    return r;
  }
  override writeEfer(value: number): void {
    this.shadow.writeEfer(value);
    this.mirror();
  }
  override invlpg(la: number): void {
    this.shadow.invlpg(la);
  }
  override flushAll(): void {
    this.shadow.flushAll();
  }
  override loadContext(
    cr0: number,
    cr3: number,
    cr4: number,
    efer: number,
    pkru: number,
    pdptes?: ArrayLike<number>,
  ): void {
    this.shadow.loadContext(cr0, cr3, cr4, efer, pkru, pdptes);
    this.mirror();
  }

  /**
   * Keeps this MMU's own paging state equal to the guest's (the shadow MMU's guest context): the CPU
   * reads `state` for EFER (LMA: IA-32e mode, SCE), the paging mode and the physical-address width.
   */
  private mirror(): void {
    const g = this.shadow.guest.state;
    const s = this.state;
    s.cr0 = g.cr0;
    s.cr3 = g.cr3;
    s.cr4 = g.cr4;
    s.efer = g.efer;
    s.pkru = g.pkru;
    s.recompute();
  }
}

/** Size of the shadow page-table pool (host memory the guest cannot reach). */
const SHADOW_POOL = 2 << 20;

/** A 2-MiB-aligned hole below 4 GiB that no slot covers, for the shadow pool; -1 if none. */
export function findHole(ranges: readonly SlotRange[], size: number): number {
  for (let base = 0xff00_0000 - size; base >= 0x10_0000; base -= size) {
    if (!ranges.some((r) => base < r.end && r.start < base + size)) return base;
  }
  return -1;
}

/** The memories and MMU of one vCPU for one memslot generation. */
export interface AddressSpace {
  readonly ranges: readonly SlotRange[];
  readonly cpuMemory: GuestMemory;
  readonly mmu: Mmu;
  readonly ept: IdentityEpt | null;
  readonly slotStage: SlotStage | null;
}

export function buildAddressSpace(slots: readonly Memslot[], ept: boolean): AddressSpace {
  const ranges = slotRanges(slots);
  const cpuMemory = new GuestMemory();
  const mmuMemory = new GuestMemory();
  for (const s of slots) {
    if (s.region === null) continue;
    const m = mmuMemory.addRegion(s.gpa, s.region.bytes);
    m.dirty = s.dirty;
    if ((s.flags & KVM_MEM_READONLY) === 0) {
      const r = cpuMemory.addRegion(s.gpa, s.region.bytes);
      r.dirty = s.dirty;
    }
  }
  if (ept) {
    const table = new IdentityEpt();
    // The EPT lives in its own memory: the stage reads its tables there, the final address is RAM.
    return { ranges, cpuMemory, mmu: eptMmu(mmuMemory, table), ept: table, slotStage: null };
  }
  const stage = new SlotStage(ranges);
  const pool = findHole(ranges, SHADOW_POOL);
  mmuMemory.addRegion(pool, new Uint8Array(SHADOW_POOL));
  const hw = new Mmu(mmuMemory);
  const shadow = new ShadowMmu({ hw, stage, pool: { base: pool, size: SHADOW_POOL } });
  return {
    ranges,
    cpuMemory,
    mmu: new ShadowPagedMmu(mmuMemory, stage, shadow),
    ept: null,
    slotStage: stage,
  };
}

function eptMmu(memory: GuestMemory, table: IdentityEpt): Mmu {
  return new Mmu(memory, { stage: new EptStage(table.tables, table.eptp) });
}
