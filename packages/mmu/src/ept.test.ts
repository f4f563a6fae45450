import { GuestMemory } from '@typevisor/memory';
import { describe, expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  DEFAULT_EPT_CAPABILITIES,
  EFER,
  EPTE,
  EptQual,
  EptStage,
  FaultKind,
  MMU_FAULT,
  Mmu,
  PTE,
  Privilege,
  StageAccess,
  TranslationFault,
  checkEptp,
  makeEptp,
} from './index.js';
import { EptBuilder } from './testing/configs.js';
import { TableBuilder } from './testing/tables.js';

const R = AccessKind.Read;
const W = AccessKind.Write;
const X = AccessKind.Fetch;
const S = Privilege.Supervisor;
const RWX = EPTE.R | EPTE.W | EPTE.X;
const GUEST = 0x10_0000; // guest RAM is host 0x10_0000.. (guest-physical 0..)

/** Host memory with EPT tables below 0x10_0000 and 1 MiB of guest RAM mapped 4 KiB by 4 KiB. */
function world(perms: (gpa: number) => number = () => RWX, ad = true) {
  const host = GuestMemory.create(4 << 20);
  const eb = new EptBuilder(host, 0x1000, GUEST);
  const root = eb.alloc();
  for (let gpa = 0; gpa < 1 << 20; gpa += 4096) eb.map4k(root, gpa, GUEST + gpa, perms(gpa));
  const stage = new EptStage(host, makeEptp(root, ad));
  const guest = {
    read32: (a: number) => host.read32(GUEST + a),
    write32: (a: number, v: number) => host.write32(GUEST + a, v),
    write64: (a: number, lo: number, hi: number) => host.write64(GUEST + a, lo, hi),
  };
  const tb = new TableBuilder(guest, 0x1000);
  const mmu = new Mmu(host, { stage });
  return { host, eb, root, stage, guest, tb, mmu };
}

function longMode(mmu: Mmu, cr3: number) {
  mmu.writeCr4(CR4.PAE);
  mmu.writeEfer(EFER.LME | EFER.NXE);
  mmu.writeCr3(cr3);
  mmu.writeCr0(CR0.PE | CR0.PG | CR0.WP);
}

/** The EPT leaf entry address for `gpa` (4-KiB mapping). */
function leafOf(host: GuestMemory, root: number, gpa: number): number {
  let t = root;
  for (let level = 4; level > 1; level--) {
    t = (host.read32(t + (Math.floor(gpa / 2 ** (12 + 9 * (level - 1))) & 511) * 8) & 0xffff_f000) >>> 0;
  }
  return t + ((gpa >>> 12) & 511) * 8;
}

describe('EPT', () => {
  test('the 2-D walk translates linear -> guest-physical -> host-physical', () => {
    const { mmu, tb } = world();
    const root = tb.alloc();
    tb.map64(root, 0x7000_0000, 0x8_0000, PTE.P | PTE.RW);
    longMode(mmu, root);
    expect(mmu.translate(0x7000_0123, W, S)).toBe(GUEST + 0x8_0123);
  });

  test('an EPT violation on the final access reports access, rights, GLA valid and "translated"', () => {
    const { mmu, tb } = world((gpa) => (gpa === 0x8_0000 ? EPTE.R | EPTE.X : RWX));
    const root = tb.alloc();
    tb.map64(root, 0x7000_0000, 0x8_0000, PTE.P | PTE.RW | PTE.D);
    longMode(mmu, root);
    expect(mmu.translate(0x7000_0123, R, S)).toBe(GUEST + 0x8_0123);
    expect(mmu.translate(0x7000_0123, W, S)).toBe(MMU_FAULT);
    const f = mmu.fault;
    expect(f.kind).toBe(FaultKind.EptViolation);
    expect(f.qualification).toBe(
      EptQual.WRITE | EptQual.READABLE | EptQual.EXECUTABLE | EptQual.GLA_VALID | EptQual.TRANSLATED,
    );
    expect(f.guestPhysical).toBe(0x8_0123);
    expect(f.address).toBe(0x7000_0123);
  });

  test('a violation on a guest paging-structure read clears bit 8; with EPT A/D it is a write (bits 0 and 1)', () => {
    for (const ad of [false, true]) {
      // The builder puts the guest PML4 at 0x1000 and the PDPT at 0x2000; make the PDPT read-only in EPT.
      const pdpt = 0x2000;
      const w2 = world((gpa) => (gpa === pdpt ? EPTE.R : RWX), ad);
      const root2 = w2.tb.alloc();
      w2.tb.map64(root2, 0x7000_0000, 0x8_0000, PTE.P);
      expect((w2.guest.read32(root2) & 0xffff_f000) >>> 0).toBe(pdpt);
      longMode(w2.mmu, root2);
      const r = w2.mmu.translate(0x7000_0000, R, S);
      if (!ad) {
        // Reads of the PDPTE pass; setting its accessed flag is a write that faults.
        expect(r).toBe(MMU_FAULT);
        expect(w2.mmu.fault.qualification).toBe(EptQual.WRITE | EptQual.READABLE | EptQual.GLA_VALID);
      } else {
        expect(r).toBe(MMU_FAULT);
        expect(w2.mmu.fault.qualification).toBe(
          EptQual.READ | EptQual.WRITE | EptQual.READABLE | EptQual.GLA_VALID,
        );
      }
      expect(w2.mmu.fault.guestPhysical).toBe(pdpt + 1 * 8); // the PDPTE for bits 38:30 = 1
      expect(w2.mmu.fault.kind).toBe(FaultKind.EptViolation);
    }
  });

  test('execute-only pages: fetch allowed, read is a violation; without the capability a misconfiguration', () => {
    const { mmu, tb } = world((gpa) => (gpa === 0x8_0000 ? EPTE.X : RWX));
    const root = tb.alloc();
    tb.map64(root, 0x7000_0000, 0x8_0000, PTE.P);
    longMode(mmu, root);
    expect(mmu.translate(0x7000_0000, X, S)).toBe(GUEST + 0x8_0000);
    expect(mmu.translate(0x7000_0000, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.qualification).toBe(
      EptQual.READ | EptQual.EXECUTABLE | EptQual.GLA_VALID | EptQual.TRANSLATED,
    );

    const w = world((gpa) => (gpa === 0x8_0000 ? EPTE.X : RWX));
    const strict = new EptStage(w.host, w.stage.eptp, { ...DEFAULT_EPT_CAPABILITIES, executeOnly: false });
    const f = new TranslationFault();
    expect(strict.translate(0x8_0000, StageAccess.Fetch, 0, f)).toBe(MMU_FAULT);
    expect(f.kind).toBe(FaultKind.EptMisconfig);
    expect(f.guestPhysical).toBe(0x8_0000);
  });

  test('misconfigurations: write without read, reserved bits, reserved memory types', () => {
    const { host, root, stage } = world();
    const f = new TranslationFault();
    const leaf = leafOf(host, root, 0x9000);
    const good = host.read32(leaf);
    for (const [lo, hi] of [
      [((good & ~7) | EPTE.W) >>> 0, 0],
      [good, 1 << 16], // bit 48 >= MAXPHYADDR 46
      [((good & ~0x38) | (2 << 3)) >>> 0, 0], // memory type 2
      [((good & ~0x38) | (7 << 3)) >>> 0, 0],
    ] as const) {
      host.write64(leaf, lo, hi);
      expect(stage.translate(0x9000, StageAccess.Read, 0, f)).toBe(MMU_FAULT);
      expect(f.kind).toBe(FaultKind.EptMisconfig);
    }
    // A reserved bit in a non-leaf entry (bits 6:3 of a PML4E).
    host.write64(leaf, good, 0);
    const pml4e = host.read32(root);
    host.write32(root, pml4e | (1 << 3));
    expect(stage.translate(0x9000, StageAccess.Read, 0, f)).toBe(MMU_FAULT);
    expect(f.kind).toBe(FaultKind.EptMisconfig);
    host.write32(root, pml4e);
    expect(stage.translate(0x9000, StageAccess.Read, 0, f)).toBe(GUEST + 0x9000);
    expect(stage.memoryType).toBe(6);
  });

  test('EPT accessed and dirty flags: A on every entry used, D on the leaf of writes and of guest table pages', () => {
    const { host, root, mmu, tb } = world();
    const groot = tb.alloc();
    const pte = tb.map64(groot, 0x7000_0000, 0x8_0000, PTE.P | PTE.RW);
    longMode(mmu, groot);
    mmu.translate(0x7000_0000, R, S);
    const dataLeaf = leafOf(host, root, 0x8_0000);
    expect(host.read32(dataLeaf) & (EPTE.A | EPTE.D)).toBe(EPTE.A);
    expect(host.read32(root) & EPTE.A).toBe(EPTE.A);
    // The guest page holding the PTE was accessed as a paging structure: a write for EPT.
    const ptLeaf = leafOf(host, root, pte - (pte % 4096));
    expect(host.read32(ptLeaf) & (EPTE.A | EPTE.D)).toBe(EPTE.A | EPTE.D);
    mmu.translate(0x7000_0000, W, S);
    expect(host.read32(dataLeaf) & (EPTE.A | EPTE.D)).toBe(EPTE.A | EPTE.D);
  });

  test('a probe through EPT sets no EPT accessed or dirty flag', () => {
    const { host, root, mmu, tb } = world();
    const groot = tb.alloc();
    tb.map64(groot, 0x7000_0000, 0x8_0000, PTE.P | PTE.RW);
    longMode(mmu, groot);
    expect(mmu.probe(0x7000_0000, W, S)).toBe(GUEST + 0x8_0000);
    expect(host.read32(leafOf(host, root, 0x8_0000)) & (EPTE.A | EPTE.D)).toBe(0);
    expect(host.read32(root) & EPTE.A).toBe(0);
  });

  test('2-MiB and 1-GiB EPT pages', () => {
    const host = GuestMemory.create(4 << 20);
    const eb = new EptBuilder(host, 0x1000, 0x10_0000);
    const root = eb.alloc();
    const pdpt = eb.alloc();
    const pd = eb.alloc();
    host.write64(root, pdpt | 7, 0);
    host.write64(pdpt, pd | 7, 0); // GPA 0..1G through a PD
    host.write64(pdpt + 8, (0x4000_0000 | 7 | (6 << 3) | EPTE.PS) >>> 0, 0); // GPA 1G..2G -> HPA 1G (1-GiB page)
    host.write64(pd + 8, 0x20_0000 | 7 | (6 << 3) | EPTE.PS, 0); // GPA 2M..4M -> HPA 2M
    const stage = new EptStage(host, makeEptp(root));
    const f = new TranslationFault();
    expect(stage.translate(0x23_4567, StageAccess.Read, 0, f)).toBe(0x23_4567);
    expect(stage.translate(0x4123_4567, StageAccess.Read, 0, f)).toBe(0x4123_4567);
    host.write64(pd + 8, (0x20_0000 | 7 | (6 << 3) | EPTE.PS | (1 << 12)) >>> 0, 0); // bit 12 reserved in a 2-MiB leaf
    expect(stage.translate(0x23_4567, StageAccess.Read, 0, f)).toBe(MMU_FAULT);
    expect(f.kind).toBe(FaultKind.EptMisconfig);
  });

  test('PAE PDPTE loads go through EPT with no guest-linear address', () => {
    const { mmu, tb } = world((gpa) => (gpa === 0x5000 ? 0 : RWX), false);
    tb.alloc(); // 0x1000
    mmu.writeCr4(CR4.PAE);
    expect(mmu.writeCr3(0x5000)).toBe(0);
    expect(mmu.writeCr0(CR0.PE | CR0.PG)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.EptViolation);
    expect(mmu.fault.qualification).toBe(EptQual.READ);
    expect(mmu.fault.guestPhysical).toBe(0x5000);
  });

  test('EPTP checks of VM entry', () => {
    expect(checkEptp(makeEptp(0x1000))).toBeUndefined();
    expect(checkEptp(0x1000 + 6 + (3 << 3) + (1 << 6))).toBeUndefined();
    expect(checkEptp(0x1000 + 1 + (3 << 3))).toBe('MemoryType');
    expect(checkEptp(0x1000 + 6 + (2 << 3))).toBe('WalkLength');
    expect(checkEptp(0x1000 + 6 + (4 << 3))).toBe('WalkLength');
    expect(checkEptp(0x1000 + 6 + (3 << 3) + (1 << 8))).toBe('ReservedBits');
    expect(checkEptp(2 ** 47 + 6 + (3 << 3))).toBe('ReservedBits');
    expect(
      checkEptp(0x1000 + 6 + (3 << 3) + (1 << 6), { ...DEFAULT_EPT_CAPABILITIES, accessedDirty: false }),
    ).toBe('AccessedDirty');
    expect(() => new EptStage(GuestMemory.create(4096), 0x1001)).toThrow(RangeError);
  });
});

test('5-level EPT walks a PML5 when the capability and the EPTP say so', () => {
  const host = GuestMemory.create(4 << 20);
  const caps = { ...DEFAULT_EPT_CAPABILITIES, walkLength5: true };
  const pml5 = 0x1000;
  const pml4 = 0x2000;
  const pdpt = 0x3000;
  const pd = 0x4000;
  const pt = 0x5000;
  const gpa = 2 ** 48 + 0x1000; // needs PML5 index 1
  host.write64(pml5 + 8, pml4 | 7, 0);
  host.write64(pml4, pdpt | 7, 0);
  host.write64(pdpt, pd | 7, 0);
  host.write64(pd, pt | 7, 0);
  host.write64(pt + 8, 0x30_0000 | 7 | (6 << 3), 0);
  expect(checkEptp(makeEptp(pml5, false, 5))).toBe('WalkLength');
  const stage = new EptStage(host, makeEptp(pml5, false, 5), caps);
  const f = new TranslationFault();
  expect(stage.translate(gpa + 0x10, StageAccess.Read, 0, f)).toBe(0x30_0010);
  expect(stage.translate(0x1000, StageAccess.Read, 0, f)).toBe(MMU_FAULT); // PML5 index 0 not present
  expect(f.kind).toBe(FaultKind.EptViolation);
});
