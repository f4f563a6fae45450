import { GuestMemory } from '@typevisor/memory';
import { describe, expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  FaultKind,
  IdentityStage,
  MMU_FAULT,
  Mmu,
  PTE,
  PfError,
  Privilege,
  ShadowMmu,
  ShadowOutcome,
} from './index.js';
import { TableBuilder } from './testing/tables.js';

const R = AccessKind.Read;
const W = AccessKind.Write;
const S = Privilege.Supervisor;
const U = Privilege.User;
const GUEST = 4 << 20;

function world(poolPages = 256) {
  const host = GuestMemory.create(GUEST + poolPages * 4096);
  const hw = new Mmu(host);
  const shadow = new ShadowMmu({
    hw,
    stage: new IdentityStage(),
    pool: { base: GUEST, size: poolPages * 4096 },
  });
  const b = new TableBuilder(host, 0x1000);
  return { host, hw, shadow, b };
}

function longMode(shadow: ShadowMmu, root: number, wp = true) {
  shadow.writeCr4(CR4.PAE);
  shadow.writeEfer(EFER.LME | EFER.NXE);
  shadow.writeCr3(root);
  shadow.writeCr0(CR0.PE | CR0.PG | (wp ? CR0.WP : 0));
}

describe('shadow paging', () => {
  test('the hardware walks shadow tables that map guest-linear straight to host-physical', () => {
    const { hw, shadow, b } = world();
    const root = b.alloc();
    b.map64(root, 0x7000_0000, 0x30_0000, PTE.P | PTE.RW);
    longMode(shadow, root);
    expect(shadow.translate(0x7000_0010, R, S)).toBe(0x30_0010);
    expect(shadow.stats.fixed).toBe(1);
    // The hardware MMU now resolves it alone, through its own CR3 (the shadow root).
    expect(hw.state.cr3).not.toBe(root);
    expect(hw.translate(0x7000_0020, R, S)).toBe(0x30_0020);
    expect(shadow.translate(0x7000_0030, R, S)).toBe(0x30_0030);
    expect(shadow.stats.faults).toBe(1);
  });

  test('a guest write to its own page table through a linear mapping zaps the shadow at once', () => {
    const { host, shadow, b } = world();
    const root = b.alloc();
    const pte = b.map64(root, 0x7000_0000, 0x30_0000, PTE.P | PTE.RW);
    const ptPage = pte - (pte % 4096);
    b.map64(root, 0x6000_0000, ptPage, PTE.P | PTE.RW); // the guest maps its page table
    longMode(shadow, root);
    expect(shadow.translate(0x7000_0000, R, S)).toBe(0x30_0000);
    // The guest rewrites the PTE with a CPU store: translate for write, then the store.
    const at = shadow.translate(0x6000_0000 + (pte % 4096), W, S);
    expect(at).toBe(pte);
    host.write64(at, 0x31_0000 | PTE.P | PTE.RW, 0);
    expect(shadow.stats.zapped).toBeGreaterThan(0);
    expect(shadow.translate(0x7000_0000, R, S)).toBe(0x31_0000); // no INVLPG needed
  });

  test('CR3 switches keep the shadow roots of recent address spaces', () => {
    const { shadow, b } = world();
    const a = b.alloc();
    const c = b.alloc();
    b.map64(a, 0x1000, 0x30_0000, PTE.P);
    b.map64(c, 0x1000, 0x31_0000, PTE.P);
    longMode(shadow, a);
    expect(shadow.translate(0x1000, R, S)).toBe(0x30_0000);
    shadow.writeCr3(c);
    expect(shadow.translate(0x1000, R, S)).toBe(0x31_0000);
    const pages = shadow.pagesInUse;
    const faults = shadow.stats.faults;
    shadow.writeCr3(a);
    expect(shadow.translate(0x1000, R, S)).toBe(0x30_0000);
    expect(shadow.pagesInUse).toBe(pages);
    expect(shadow.stats.faults).toBe(faults); // the old shadow tables were reused
  });

  test('CR0.WP = 0: a supervisor write to a read-only page is emulated and sets D; a user write faults', () => {
    const { host, shadow, b } = world();
    const root = b.alloc();
    const pte = b.map64(root, 0x1000, 0x30_0000, PTE.P | PTE.US);
    longMode(shadow, root, false);
    expect(shadow.translate(0x1000, W, S)).toBe(0x30_0000);
    expect(host.read32(pte) & PTE.D).toBe(PTE.D);
    expect(shadow.stats.emulated).toBe(1);
    expect(shadow.translate(0x1000, W, U)).toBe(MMU_FAULT);
    expect(shadow.fault.errorCode).toBe(PfError.P | PfError.W | PfError.U);
    expect(shadow.fault.address).toBe(0x1000);
    expect(shadow.translate(0x1000, R, U)).toBe(0x30_0000);
  });

  test('an emulated CR0.WP = 0 write into a guest page table still zaps the shadow built from it', () => {
    const { host, shadow, b } = world();
    const root = b.alloc();
    const pte = b.map64(root, 0x7000_0000, 0x30_0000, PTE.P | PTE.RW);
    const ptPage = pte - (pte % 4096);
    b.map64(root, 0x6000_0000, ptPage, PTE.P); // read-only mapping of the page table
    longMode(shadow, root, false);
    expect(shadow.translate(0x7000_0000, R, S)).toBe(0x30_0000);
    const at = shadow.translate(0x6000_0000 + (pte % 4096), W, S);
    expect(at).toBe(pte);
    expect(shadow.stats.emulated).toBe(1);
    host.write64(at, 0x31_0000 | PTE.P | PTE.RW, 0);
    expect(shadow.translate(0x7000_0000, R, S)).toBe(0x31_0000);
  });

  test('running out of pool pages drops the shadow tables and carries on', () => {
    const { shadow, b } = world(12);
    const root = b.alloc();
    for (let i = 0; i < 64; i++) b.map64(root, i * 2 ** 30, 0x30_0000 + i * 4096, PTE.P);
    longMode(shadow, root);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 64; i++) expect(shadow.translate(i * 2 ** 30 + 8, R, S)).toBe(0x30_0008 + i * 4096);
    }
    expect(shadow.stats.resets).toBeGreaterThan(0);
  });

  test('a 32-bit guest with 4-MiB pages and paging off', () => {
    const { host, shadow, b } = world();
    const pd = b.alloc();
    const pde = b.map32(pd, 0x0040_0000, 0x0080_0000, PTE.P | PTE.RW, 4 << 20);
    expect(shadow.translate(0x1234, R, S)).toBe(0x1234); // paging off: identity
    shadow.writeCr4(CR4.PSE);
    shadow.writeCr3(pd);
    shadow.writeCr0(CR0.PE | CR0.PG);
    expect(shadow.translate(0x0041_2345, R, U)).toBe(MMU_FAULT);
    expect(shadow.fault.errorCode).toBe(PfError.P | PfError.U);
    expect(shadow.translate(0x0041_2345, W, S)).toBe(0x0081_2345);
    expect(host.read32(pde) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    expect(shadow.translate(0xffff_f000 - 2 ** 32, R, S)).toBe(MMU_FAULT); // normalized to 0xfffff000
    expect(shadow.fault.kind).toBe(FaultKind.PageFault);
    expect(shadow.fault.address).toBe(0xffff_f000);
  });

  test('handleFault reports what the guest must see', () => {
    const { shadow, b } = world();
    const root = b.alloc();
    b.map64(root, 0x1000, 0x30_0000, PTE.P);
    longMode(shadow, root);
    expect(shadow.hw.translate(0x2000, R, S)).toBe(MMU_FAULT);
    expect(shadow.handleFault(0x2000, R, S)).toBe(ShadowOutcome.GuestFault);
    expect(shadow.fault.errorCode).toBe(0);
    expect(shadow.hw.translate(2 ** 47, R, S)).toBe(MMU_FAULT);
    expect(shadow.handleFault(2 ** 47, R, S)).toBe(ShadowOutcome.GuestFault);
    expect(shadow.fault.kind).toBe(FaultKind.GeneralProtection);
    expect(shadow.hw.translate(0x1000, R, S)).toBe(MMU_FAULT);
    expect(shadow.handleFault(0x1000, R, S)).toBe(ShadowOutcome.Fixed);
    expect(shadow.hw.translate(0x1000, R, S)).toBe(0x30_0000);
  });
});

test('a 5-level (LA57) guest runs on 5-level shadow tables', () => {
  const { shadow, b } = world();
  const root = b.alloc();
  const la = -(2 ** 56) + 0x1234_5000;
  b.map64(root, la, 0x30_0000, PTE.P, 0, 4096, 5);
  shadow.writeCr4(CR4.PAE | CR4.LA57);
  shadow.writeEfer(EFER.LME | EFER.NXE);
  shadow.writeCr3(root);
  shadow.writeCr0(CR0.PE | CR0.PG | CR0.WP);
  expect(shadow.translate(la + 0x10, R, S)).toBe(0x30_0010);
  expect(shadow.hw.state.cr4 & CR4.LA57).toBe(CR4.LA57);
  expect(shadow.translate(2 ** 47, R, S)).toBe(MMU_FAULT); // canonical under LA57, not mapped
  expect(shadow.fault.kind).toBe(FaultKind.PageFault);
});
