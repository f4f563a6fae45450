/**
 * The three configurations every behaviour is checked in: bare metal (no virtualization), EPT (the 2-D
 * walk) and shadow paging. Each exposes the same guest-facing surface: guest-physical memory, the
 * guest's control registers, and a translation that returns a guest-physical address (the host
 * address mapped back) or MMU_FAULT with the guest-visible fault.
 */
import { GuestMemory } from '@typevisor/memory';
import {
  type AccessKind,
  EPTE,
  EptStage,
  IdentityStage,
  MMU_FAULT,
  Mmu,
  type Privilege,
  type SecondStage,
  ShadowMmu,
  type TranslationFault,
  makeEptp,
} from '../index.js';

export interface GuestConfig {
  readonly name: string;
  /** Guest-physical memory as the guest sees it. */
  readonly guest: GuestPhys;
  readonly fault: TranslationFault;
  load(cr0: number, cr3: number, cr4: number, efer: number, pkru: number): void;
  /** Guest-physical address, or MMU_FAULT. */
  translate(la: number, kind: AccessKind, priv: Privilege): number;
  /** The guest wrote a paging structure at `gpa` (through the CPU) and then flushed its TLB. */
  guestWrote(gpa: number): void;
  flushAll(): void;
  invlpg(la: number): void;
}

/** Guest-physical accessors; `base` is where guest RAM sits in host memory. */
export class GuestPhys {
  constructor(
    readonly host: GuestMemory,
    readonly base: number,
    readonly size: number,
  ) {}
  read32(gpa: number): number {
    return this.host.read32(this.base + gpa);
  }
  write32(gpa: number, v: number): void {
    this.host.write32(this.base + gpa, v);
  }
  write64(gpa: number, lo: number, hi: number): void {
    this.host.write64(this.base + gpa, lo, hi);
  }
  bytes(): Uint8Array {
    return this.host.subarray(this.base, this.size)!;
  }
}

export function bareConfig(guestSize: number): GuestConfig {
  const mem = GuestMemory.create(guestSize);
  const mmu = new Mmu(mem);
  return {
    name: 'bare',
    guest: new GuestPhys(mem, 0, guestSize),
    fault: mmu.fault,
    load: (cr0, cr3, cr4, efer, pkru) => mmu.loadContext(cr0, cr3, cr4, efer, pkru, pdptesOf(mem, 0, cr3)),
    translate: (la, kind, priv) => mmu.translate(la, kind, priv),
    guestWrote: () => mmu.flushAll(),
    flushAll: () => mmu.flushAll(),
    invlpg: (la) => mmu.invlpg(la),
  };
}

/** EPT tables live below `EPT_AREA`; guest RAM is mapped at host `offset` (default 2 MiB pages, RWX). */
export const EPT_AREA = 0x10_0000;

export interface EptLayout {
  readonly host: GuestMemory;
  readonly offset: number;
  readonly stage: EptStage;
}

/** Host memory with guest RAM at `offset`, identity-plus-offset EPT built by `map` (default: all RWX 4K). */
export function eptLayout(
  guestSize: number,
  extra: number,
  options: { ad?: boolean; perms?: (gpa: number) => number } = {},
): EptLayout {
  const offset = EPT_AREA;
  const host = GuestMemory.create(offset + guestSize + extra);
  const b = new EptBuilder(host, 0x1000, EPT_AREA);
  const root = b.alloc();
  for (let gpa = 0; gpa < guestSize; gpa += 4096) {
    const perms = options.perms?.(gpa) ?? EPTE.R | EPTE.W | EPTE.X;
    b.map4k(root, gpa, offset + gpa, perms);
  }
  return { host, offset, stage: new EptStage(host, makeEptp(root, options.ad ?? true)) };
}

export function eptConfig(
  guestSize: number,
  options: { ad?: boolean; perms?: (gpa: number) => number } = {},
): GuestConfig {
  const { host, offset, stage } = eptLayout(guestSize, 0, options);
  const mmu = new Mmu(host, { stage });
  const guest = new GuestPhys(host, offset, guestSize);
  return {
    name: 'ept',
    guest,
    fault: mmu.fault,
    load: (cr0, cr3, cr4, efer, pkru) =>
      mmu.loadContext(cr0, cr3, cr4, efer, pkru, pdptesOf(host, offset, cr3)),
    translate: (la, kind, priv) => {
      const r = mmu.translate(la, kind, priv);
      return r === MMU_FAULT ? r : r - offset;
    },
    guestWrote: () => mmu.flushAll(),
    flushAll: () => mmu.flushAll(),
    invlpg: (la) => mmu.invlpg(la),
  };
}

const POOL = 0x20_0000;

export function shadowConfig(
  guestSize: number,
  options: { ept?: boolean; ad?: boolean; perms?: (gpa: number) => number } = {},
): GuestConfig & { shadow: ShadowMmu } {
  let host: GuestMemory;
  let offset = 0;
  let stage: SecondStage;
  if (options.ept === true) {
    const l = eptLayout(guestSize, POOL, options);
    host = l.host;
    offset = l.offset;
    stage = l.stage;
  } else {
    host = GuestMemory.create(guestSize + POOL);
    stage = new IdentityStage();
  }
  const hw = new Mmu(host);
  const shadow = new ShadowMmu({ hw, stage, pool: { base: offset + guestSize, size: POOL } });
  const guest = new GuestPhys(host, offset, guestSize);
  return {
    name: options.ept === true ? 'shadow-on-ept' : 'shadow',
    shadow,
    guest,
    fault: shadow.fault,
    load: (cr0, cr3, cr4, efer, pkru) =>
      shadow.loadContext(cr0, cr3, cr4, efer, pkru, pdptesOf(host, offset, cr3)),
    translate: (la, kind, priv) => {
      const r = shadow.translate(la, kind, priv);
      return r === MMU_FAULT ? r : r - offset;
    },
    // A guest write through the CPU reaches the hardware MMU's watch; this is the same notification.
    guestWrote: (gpa) => hw.notePhysicalWrite(offset + gpa),
    flushAll: () => shadow.flushAll(),
    invlpg: (la) => shadow.invlpg(la),
  };
}

/** PDPTE register values a PAE guest would have loaded from CR3 (ignored outside PAE mode). */
function pdptesOf(host: GuestMemory, offset: number, cr3: number): number[] {
  const base = offset + ((cr3 & 0xffff_ffe0) >>> 0);
  const out: number[] = [];
  for (let i = 0; i < 8; i++) out.push(host.read32(base + i * 4));
  return out;
}

/** Writes EPT paging structures (4-KiB leaves) into host memory. */
export class EptBuilder {
  constructor(
    private readonly host: GuestMemory,
    private next: number,
    private readonly limit: number,
  ) {}

  alloc(): number {
    const p = this.next;
    if (p + 4096 > this.limit) throw new RangeError('EPT builder out of pages');
    this.next += 4096;
    this.host.fill(p, 4096, 0);
    return p;
  }

  map4k(root: number, gpa: number, hpa: number, perms: number, memType = 6): void {
    let table = root;
    for (let level = 4; level > 1; level--) {
      const slot = table + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
      const lo = this.host.read32(slot);
      if ((lo & 7) === 0) {
        const t = this.alloc();
        this.host.write64(slot, t | 7, 0);
        table = t;
      } else {
        table = (lo & 0xffff_f000) >>> 0;
      }
    }
    const slot = table + ((gpa >>> 12) & 511) * 8;
    this.host.write64(
      slot,
      ((hpa & 0xffff_f000) | perms | (perms !== 0 ? memType << 3 : 0)) >>> 0,
      Math.floor(hpa / 2 ** 32),
    );
  }
}
