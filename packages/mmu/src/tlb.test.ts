import { GuestMemory } from '@typevisor/memory';
import { describe, expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  MMU_FAULT,
  Mmu,
  PTE,
  Privilege,
  Watch,
  tlbAllowBit,
  tlbFastBit,
} from './index.js';
import { TableBuilder } from './testing/tables.js';

const R = AccessKind.Read;
const W = AccessKind.Write;
const S = Privilege.Supervisor;

function long(cr4Extra = 0) {
  const mem = GuestMemory.create(8 << 20);
  const mmu = new Mmu(mem);
  const b = new TableBuilder(mem, 0x1000);
  const root = b.alloc();
  const root2 = b.alloc();
  mmu.writeCr4(CR4.PAE | cr4Extra);
  mmu.writeEfer(EFER.LME | EFER.NXE);
  mmu.writeCr3(root);
  mmu.writeCr0(CR0.PE | CR0.PG | CR0.WP);
  return { mem, mmu, b, root, root2 };
}

/** What the CPU's fast path would see for `la`. */
function fastHit(mmu: Mmu, la: number, kind: AccessKind, priv: Privilege): boolean {
  const t = mmu.tlb;
  const i = (la >>> 12) & t.mask;
  return t.tag[i] === la - (la & 0xfff) + t.ctx && (t.perm[i]! & tlbFastBit(kind, priv)) !== 0;
}

describe('TLB', () => {
  test('keeps a stale translation until it is invalidated, as hardware may', () => {
    const { mmu, b, root } = long();
    const pte = b.map64(root, 0x1000, 0x5000, PTE.P | PTE.RW);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    b.mem.write64(pte, 0x6000 | PTE.P, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    mmu.invlpg(0x1000);
    expect(mmu.translate(0x1000, R, S)).toBe(0x6000);
  });

  test('MOV CR3 drops non-global translations and keeps global ones when CR4.PGE = 1', () => {
    const { mmu, b, root } = long(CR4.PGE);
    const g = b.map64(root, 0x1000, 0x5000, PTE.P | PTE.G);
    const n = b.map64(root, 0x2000, 0x6000, PTE.P);
    mmu.translate(0x1000, R, S);
    mmu.translate(0x2000, R, S);
    b.mem.write64(g, 0x7000 | PTE.P | PTE.G, 0);
    b.mem.write64(n, 0x8000 | PTE.P, 0);
    mmu.writeCr3(root);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000); // global: survived
    expect(mmu.translate(0x2000, R, S)).toBe(0x8000);
    mmu.invlpg(0x1000); // INVLPG drops global translations too
    expect(mmu.translate(0x1000, R, S)).toBe(0x7000);
    b.mem.write64(g, 0x9000 | PTE.P | PTE.G, 0);
    mmu.writeCr4(CR4.PAE); // clearing PGE flushes everything
    expect(mmu.translate(0x1000, R, S)).toBe(0x9000);
  });

  test('PCIDs tag translations: MOV CR3 with bit 63 keeps them, without it flushes that PCID', () => {
    const { mmu, b, root, root2 } = long(CR4.PCIDE);
    const pte = b.map64(root, 0x1000, 0x5000, PTE.P);
    b.map64(root2, 0x1000, 0x6000, PTE.P);
    b.map64(root2, 0x2000, 0x9000, PTE.P);
    mmu.writeCr3(root + 1, true);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    b.mem.write64(pte, 0x7000 | PTE.P, 0);
    mmu.writeCr3(root2 + 2, true);
    expect(mmu.translate(0x2000, R, S)).toBe(0x9000);
    mmu.writeCr3(root + 1, true);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000); // PCID 1's (stale) entry was kept
    mmu.writeCr3(root2 + 2, true);
    expect(mmu.translate(0x1000, R, S)).toBe(0x6000); // PCID 2 does not see PCID 1's entry
    mmu.writeCr3(root + 1, true);
    expect(mmu.translate(0x1000, R, S)).toBe(0x7000);
    b.mem.write64(pte, 0x8000 | PTE.P, 0);
    mmu.invpcid(1, 2, 0); // single-context for PCID 2 only
    expect(mmu.translate(0x1000, R, S)).toBe(0x7000);
    mmu.invpcid(1, 1, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x8000);
    b.mem.write64(pte, 0xa000 | PTE.P, 0);
    mmu.writeCr3(root + 1, false); // flushes PCID 1
    expect(mmu.translate(0x1000, R, S)).toBe(0xa000);
  });

  test('INVLPG of any address inside a 2-MiB page drops every 4-KiB fragment of it', () => {
    const { mmu, b, root } = long();
    const pde = b.map64(root, 0x20_0000, 0x40_0000, PTE.P, 0, 2 << 20);
    mmu.translate(0x20_0000, R, S);
    mmu.translate(0x3f_f000, R, S);
    b.mem.write64(pde, 0x60_0000 | PTE.P | PTE.PS, 0);
    mmu.invlpg(0x30_0000);
    expect(mmu.translate(0x20_0000, R, S)).toBe(0x60_0000);
    expect(mmu.translate(0x3f_f000, R, S)).toBe(0x7f_f000);
  });

  test('VPIDs tag translations; INVVPID drops one VPID only', () => {
    const { mmu, b, root } = long();
    const pte = b.map64(root, 0x1000, 0x5000, PTE.P);
    mmu.setVpid(1);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    b.mem.write64(pte, 0x6000 | PTE.P, 0);
    mmu.setVpid(2);
    expect(mmu.tlb.tag[1]).not.toBe(0x1000 + mmu.tlb.ctx); // another tag
    mmu.setVpid(1);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    mmu.invvpid(1, 2, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    mmu.invvpid(1, 1, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x6000);
    b.mem.write64(pte, 0x7000 | PTE.P, 0);
    mmu.invvpid(0, 1, 0x1000);
    expect(mmu.translate(0x1000, R, S)).toBe(0x7000);
  });

  test('the fast path gets write only after D is set, and never for a watched code frame', () => {
    const { mem, mmu, b, root } = long();
    const pte = b.map64(root, 0x1000, 0x5000, PTE.P | PTE.RW);
    mmu.translate(0x1000, R, S);
    expect(fastHit(mmu, 0x1000, R, S)).toBe(true);
    expect(fastHit(mmu, 0x1000, W, S)).toBe(false);
    expect(mem.read32(pte) & PTE.D).toBe(0);
    mmu.translate(0x1000, W, S);
    expect(mem.read32(pte) & PTE.D).toBe(PTE.D);
    expect(fastHit(mmu, 0x1000, W, S)).toBe(true);

    const writes: number[] = [];
    mmu.onCodeWrite = (page) => writes.push(page);
    expect(mmu.watchFrame(0x5000, Watch.Code)).toBe(true);
    expect(fastHit(mmu, 0x1000, W, S)).toBe(false); // revoked at once
    expect(fastHit(mmu, 0x1000, R, S)).toBe(true);
    expect(mmu.translate(0x1abc, W, S)).toBe(0x5abc);
    expect(writes).toEqual([0x5000]);
    mmu.translate(0x1abc, R, S);
    expect(writes).toEqual([0x5000]); // reads are not reported
    mmu.unwatchFrame(0x5000, Watch.Code);
    mmu.invlpg(0x1000);
    mmu.translate(0x1abc, W, S);
    expect(writes).toEqual([0x5000]);
    expect(fastHit(mmu, 0x1000, W, S)).toBe(true);
  });

  test('the TLB caches the rights of every privilege from one walk', () => {
    const { mmu, b, root } = long(CR4.SMAP);
    b.map64(root, 0x1000, 0x5000, PTE.P | PTE.RW | PTE.US | PTE.D);
    mmu.translate(0x1000, R, Privilege.User);
    const i = (0x1000 >>> 12) & mmu.tlb.mask;
    const perm = mmu.tlb.perm[i]!;
    expect(perm & tlbAllowBit(W, Privilege.User)).not.toBe(0);
    expect(perm & tlbAllowBit(R, Privilege.Supervisor)).toBe(0); // SMAP
    expect(perm & tlbAllowBit(R, Privilege.SupervisorAc)).not.toBe(0);
    expect(mmu.translate(0x1000, R, Privilege.Supervisor)).toBe(MMU_FAULT);
  });

  test('pages outside the fast region are translated but never fast', () => {
    const mem = GuestMemory.create(1 << 20);
    mem.addRegion(0x1000_0000, new Uint8Array(new SharedArrayBuffer(4096)));
    const mmu = new Mmu(mem);
    expect(mmu.translate(0x1000_0010, R, S)).toBe(0x1000_0010);
    expect(fastHit(mmu, 0x1000_0010, R, S)).toBe(false);
    expect(mmu.translate(0x2000, R, S)).toBe(0x2000);
    expect(fastHit(mmu, 0x2000, W, S)).toBe(true); // paging off: no dirty flag to wait for
  });

  test('PKRU and CR0.WP changes drop rights cached under the old values', () => {
    const { mmu, b, root } = long(CR4.PKE);
    b.map64(root, 0x1000, 0x5000, PTE.P | PTE.US | PTE.D, 1 << 27);
    expect(mmu.translate(0x1000, R, Privilege.User)).toBe(0x5000);
    mmu.writePkru(1 << 2); // AD for key 1
    expect(mmu.translate(0x1000, R, Privilege.User)).toBe(MMU_FAULT);
    mmu.writePkru(0);
    expect(mmu.translate(0x1000, W, S)).toBe(MMU_FAULT); // read-only with WP = 1
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.translate(0x1000, W, S)).toBe(0x5000);
  });
});

describe('TLB edge cases', () => {
  test('INVPCID type 2 drops global translations, type 3 keeps them', () => {
    const { mmu, b, root } = long(CR4.PGE | CR4.PCIDE);
    const g = b.map64(root, 0x1000, 0x5000, PTE.P | PTE.G);
    mmu.writeCr3(root + 1, true);
    mmu.translate(0x1000, R, S);
    b.mem.write64(g, 0x6000 | PTE.P | PTE.G, 0);
    mmu.invpcid(3, 0, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x5000);
    mmu.invpcid(2, 0, 0);
    expect(mmu.translate(0x1000, R, S)).toBe(0x6000);
  });

  test('more address spaces than context slots: a reused slot is flushed, never confused', () => {
    const { mmu, b, root } = long(CR4.PCIDE);
    const ptes: number[] = [];
    for (let k = 1; k <= 64; k++) ptes.push(b.map64(root, k * 0x1000, 0x10_0000, PTE.P));
    // PCID p uses linear page 1 + (p - 1) % 64, so PCIDs 1 and 65 share a page and, with 64 LRU slots,
    // PCID 65 gets the slot PCID 1 had while PCID 1's translation is still in the TLB.
    for (let pcid = 1; pcid <= 130; pcid++) {
      const k = 1 + ((pcid - 1) % 64);
      const page = 0x10_0000 + pcid * 0x1000;
      b.mem.write64(ptes[k - 1]!, page | PTE.P, 0);
      mmu.writeCr3(root + pcid, true);
      expect(mmu.translate(k * 0x1000, R, S)).toBe(page);
    }
  });

  test('no fast write bits for read-only regions and regions being dirty-logged', () => {
    const mem = GuestMemory.create(1 << 20);
    const mmu = new Mmu(mem);
    mmu.translate(0x2000, W, S);
    expect(fastHit(mmu, 0x2000, W, S)).toBe(true);
    mem.enableDirtyLog(0, true);
    mmu.flushAll();
    mmu.translate(0x2000, W, S);
    expect(fastHit(mmu, 0x2000, R, S)).toBe(true);
    expect(fastHit(mmu, 0x2000, W, S)).toBe(false);

    const rom = GuestMemory.create(1 << 20);
    rom.removeRegion(0);
    rom.addRegion(0, new Uint8Array(1 << 20), { readonly: true });
    const m2 = new Mmu(rom);
    expect(m2.translate(0x2000, W, S)).toBe(0x2000);
    expect(fastHit(m2, 0x2000, R, S)).toBe(true);
    expect(fastHit(m2, 0x2000, W, S)).toBe(false);
  });
});
