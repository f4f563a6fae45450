import { GuestMemory } from '@typevisor/memory';
import { describe, expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  FaultKind,
  MMU_FAULT,
  Mmu,
  PTE,
  PfError,
  PagingMode,
  Privilege,
  linearFromHalves,
  privilegeOf,
} from './index.js';
import { TABLE, TableBuilder } from './testing/tables.js';

const R = AccessKind.Read;
const W = AccessKind.Write;
const X = AccessKind.Fetch;
const S = Privilege.Supervisor;
const U = Privilege.User;

function setup(size = 8 << 20, maxPhysAddr = 46, pages1G = true) {
  const mem = GuestMemory.create(size);
  const mmu = new Mmu(mem, { features: { maxPhysAddr, pages1G } });
  const b = new TableBuilder(mem, 0x1000);
  return { mem, mmu, b };
}

describe('32-bit paging', () => {
  test('4-KiB pages translate through PDE and PTE and set A on both', () => {
    const { mem, mmu, b } = setup();
    const pd = b.alloc();
    const pte = b.map32(pd, 0x8040_3000, 0x5000, PTE.P | PTE.RW);
    mmu.writeCr3(pd);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.state.mode).toBe(PagingMode.Bits32);
    expect(mmu.translate(0x8040_3abc, W, S)).toBe(0x5abc);
    expect(mem.read32(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
    expect(mem.read32(pd + (0x8040_3000 >>> 22) * 4) & (PTE.A | PTE.D)).toBe(PTE.A); // D is not set in a PDE
  });

  test('4-MiB pages need CR4.PSE; without it PS is ignored and the PDE names a page table', () => {
    const { mmu, b } = setup();
    const pd = b.alloc();
    b.map32(pd, 0x0040_0000, 0x0040_0000, PTE.P | PTE.RW, 4 << 20);
    mmu.writeCr4(CR4.PSE);
    mmu.writeCr3(pd);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.translate(0x0041_2345, R, S)).toBe(0x0041_2345);
    mmu.writeCr4(0);
    // The PDE now points at 0x400000 as a page table (all zero there): not present.
    expect(mmu.translate(0x0041_2345, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(0);
  });

  test('PSE-36 puts PDE bits 20:13 above bit 32 and treats bits beyond MAXPHYADDR as reserved', () => {
    const { mmu, b } = setup(8 << 20, 36);
    const pd = b.alloc();
    b.map32(pd, 0x0040_0000, 0x8_0040_0000, PTE.P, 4 << 20); // physical bit 35
    mmu.writeCr4(CR4.PSE);
    mmu.writeCr3(pd);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.translate(0x0040_0010, R, S)).toBe(0x8_0040_0010);
    b.map32(pd, 0x0080_0000, 0x10_0080_0000, PTE.P, 4 << 20); // physical bit 36 >= MAXPHYADDR
    expect(mmu.translate(0x0080_0010, R, U)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.RSVD | PfError.U);
    b.map32(pd, 0x00c0_0000, 0x00c0_0000, PTE.P | (1 << 21), 4 << 20); // bit 21 is always reserved
    expect(mmu.translate(0x00c0_0010, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.RSVD);
  });

  test('a fetch fault reports I/D only with SMEP (no NX in 32-bit paging)', () => {
    const { mmu, b } = setup();
    const pd = b.alloc();
    b.map32(pd, 0x1000_0000, 0x5000, PTE.P);
    mmu.writeCr3(pd);
    mmu.writeCr0(CR0.PE | CR0.PG);
    mmu.writeEfer(EFER.NXE);
    expect(mmu.translate(0x1000_0000, X, U)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.U);
    mmu.writeCr4(CR4.SMEP);
    expect(mmu.translate(0x1000_0000, X, U)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.U | PfError.I);
  });

  test('linear addresses are normalized to unsigned 32 bits', () => {
    const { mmu, b } = setup();
    const pd = b.alloc();
    b.map32(pd, 0xffff_f000, 0x7000, PTE.P);
    mmu.writeCr3(pd);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.translate(-4096 + 0x10, R, S)).toBe(0x7010);
    expect(mmu.translate(0xffff_f010, R, S)).toBe(0x7010);
  });
});

describe('PAE paging', () => {
  function pae() {
    const s = setup();
    const pdpt = 0x1000;
    s.b.alloc(); // the PDPT page
    return { ...s, pdpt };
  }

  test('PDPTEs are registers: loaded on MOV CR3, not re-read from memory on a walk', () => {
    const { mem, mmu, b, pdpt } = pae();
    b.mapPae(pdpt, 0x4000_1000, 0x9000, PTE.P | PTE.RW);
    mmu.writeCr4(CR4.PAE);
    mmu.writeCr3(pdpt);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.state.mode).toBe(PagingMode.Pae);
    expect(mmu.translate(0x4000_1234, R, S)).toBe(0x9234);
    mem.write64(pdpt + 8, 0, 0); // clear PDPTE 1 in memory
    mmu.flushAll();
    expect(mmu.translate(0x4000_1234, R, S)).toBe(0x9234); // the register still holds it
    expect(mmu.writeCr3(pdpt)).toBe(0);
    expect(mmu.translate(0x4000_1234, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(0);
  });

  test('MOV CR3 with a reserved PDPTE bit is #GP and changes nothing', () => {
    const { mem, mmu, b, pdpt } = pae();
    b.mapPae(pdpt, 0x1000, 0x9000, PTE.P);
    mmu.writeCr4(CR4.PAE);
    mmu.writeCr3(pdpt);
    mmu.writeCr0(CR0.PE | CR0.PG);
    const other = b.alloc();
    mem.write64(other, 0x5000 | PTE.P | PTE.RW, 0); // R/W is reserved in a PDPTE
    expect(mmu.writeCr3(other)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.GeneralProtection);
    expect(mmu.state.cr3).toBe(pdpt);
    mem.write64(other, 0x5000 | PTE.P, 0x8000_0000); // so is XD
    expect(mmu.writeCr3(other)).toBe(MMU_FAULT);
    expect(mmu.writeCr0(0)).toBe(0);
    // Enabling paging loads them too.
    mmu.writeCr3(other);
    expect(mmu.writeCr0(CR0.PE | CR0.PG)).toBe(MMU_FAULT);
    expect(mmu.state.mode).toBe(PagingMode.None);
  });

  test('bits 62:M are reserved in PAE entries (ignored bits of 4-level paging are not)', () => {
    const { mmu, b, pdpt } = pae();
    b.mapPae(pdpt, 0x1000, 0x9000, PTE.P, 1 << 30); // bit 62
    mmu.writeCr4(CR4.PAE);
    mmu.writeCr3(pdpt);
    mmu.writeCr0(CR0.PE | CR0.PG);
    expect(mmu.translate(0x1000, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.RSVD);
  });
});

describe('4-level and 5-level paging', () => {
  function long(opts: { la57?: boolean; pages1G?: boolean } = {}) {
    const s = setup(8 << 20, 46, opts.pages1G ?? true);
    const root = s.b.alloc();
    s.mmu.writeCr4(CR4.PAE | (opts.la57 ? CR4.LA57 : 0));
    s.mmu.writeEfer(EFER.LME | EFER.NXE);
    s.mmu.writeCr3(root);
    s.mmu.writeCr0(CR0.PE | CR0.PG | CR0.WP);
    return { ...s, root };
  }

  test('1-GiB and 2-MiB pages translate; D is set on the large leaf', () => {
    const { mem, mmu, b, root } = long();
    const g = b.map64(root, 0x40_0000_0000, 0x4000_0000, PTE.P | PTE.RW, 0, 1 << 30);
    const m = b.map64(root, -(2 ** 40) + 0x20_0000, 0x60_0000, PTE.P | PTE.RW, 0, 2 << 20);
    expect(mmu.translate(0x40_1234_5678, W, S)).toBe(0x4000_0000 + 0x1234_5678);
    expect(mem.read32(g) & PTE.D).toBe(PTE.D);
    expect(mmu.translate(-(2 ** 40) + 0x21_2345, R, S)).toBe(0x61_2345);
    expect(mem.read32(m) & (PTE.A | PTE.D)).toBe(PTE.A);
  });

  test('a 1-GiB page without the CPUID feature, and PS in a PML4E, are reserved', () => {
    const { mmu, b, root } = long({ pages1G: false });
    b.map64(root, 0x40_0000_0000, 0x4000_0000, PTE.P, 0, 1 << 30);
    expect(mmu.translate(0x40_0000_0000, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.RSVD);
    const pml4e = b.map64(root, 0x80_0000_0000, 0x5000, PTE.P);
    void pml4e;
    const mem = b.mem;
    mem.write64(root + 1 * 8, (mem.read32(root + 8) | PTE.PS) >>> 0, 0);
    expect(mmu.translate(0x80_0000_0000, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.RSVD);
  });

  test('protection keys live in bits 62:59 of the leaf', () => {
    const { mmu, b, root } = long();
    b.map64(root, 0x1000, 0x5000, PTE.P | PTE.RW | PTE.US, 7 << 27);
    mmu.writeCr4(CR4.PAE | CR4.PKE);
    mmu.writePkru(2 << 14); // WD for key 7
    expect(mmu.translate(0x1000, R, U)).toBe(0x5000);
    expect(mmu.translate(0x1000, W, U)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.W | PfError.U | PfError.PK);
    mmu.writePkru(0);
    expect(mmu.translate(0x1000, W, U)).toBe(0x5000);
  });

  test('non-canonical addresses are #GP, not #PF', () => {
    const { mmu } = long();
    expect(mmu.translate(2 ** 47, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.GeneralProtection);
    expect(mmu.translate(-(2 ** 47) - 4096, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.GeneralProtection);
  });

  test('5-level paging (LA57) walks a PML5 and accepts 57-bit canonical addresses', () => {
    const { mmu, b, root } = long({ la57: true });
    expect(mmu.state.mode).toBe(PagingMode.Level5);
    const la = -(2 ** 56) + 0x1234_5000;
    b.map64(root, la, 0x6000, PTE.P, 0, 4096, 5);
    expect(mmu.translate(la + 0x10, R, S)).toBe(0x6010);
    expect(mmu.translate(2 ** 47, R, S)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.PageFault); // canonical under LA57, just not mapped
  });

  test('linearFromHalves sign-extends bit 47', () => {
    expect(linearFromHalves(0x1000, 0xffff_8000)).toBe(-(2 ** 47) + 0x1000);
    expect(linearFromHalves(0x1000, 0x7fff)).toBe(0x7fff * 2 ** 32 + 0x1000);
    expect(linearFromHalves(0, 0xff80_0000, true)).toBe(-(2 ** 55));
  });

  test('the table entries for upper levels get A even when only read', () => {
    const { mem, mmu, b, root } = long();
    b.map64(root, 0x1000, 0x5000, PTE.P);
    mmu.translate(0x1000, R, S);
    expect(mem.read32(root) & (PTE.A | PTE.D)).toBe(PTE.A);
    expect(TABLE & PTE.A).toBe(0);
  });
});

describe('probe', () => {
  test('walks and checks like translate but sets no A/D flag and fills no TLB entry', () => {
    const { mem, mmu, b } = setup();
    const root = b.alloc();
    const pte = b.map64(root, 0x1000, 0x5000, PTE.P | PTE.RW);
    mmu.writeCr4(CR4.PAE);
    mmu.writeEfer(EFER.LME);
    mmu.writeCr3(root);
    mmu.writeCr0(CR0.PE | CR0.PG | CR0.WP);
    expect(mmu.probe(0x1234, W, S)).toBe(0x5234);
    expect(mmu.walker.guestPhysical).toBe(0x5234);
    expect(mem.read32(pte) & (PTE.A | PTE.D)).toBe(0);
    expect(mem.read32(root) & PTE.A).toBe(0);
    expect(mmu.tlb.tag[1]).not.toBe(0x1000 + mmu.tlb.ctx);
    expect(mmu.probe(0x1234, W, U)).toBe(MMU_FAULT);
    expect(mmu.fault.errorCode).toBe(PfError.P | PfError.W | PfError.U);
    expect(mmu.translate(0x1234, W, S)).toBe(0x5234);
    expect(mem.read32(pte) & (PTE.A | PTE.D)).toBe(PTE.A | PTE.D);
  });
});

test('privilegeOf maps CPL, EFLAGS.AC and implicit accesses', () => {
  expect(privilegeOf(3, true)).toBe(Privilege.User);
  expect(privilegeOf(3, false, true)).toBe(Privilege.Supervisor);
  expect(privilegeOf(0, true)).toBe(Privilege.SupervisorAc);
  expect(privilegeOf(0, true, true)).toBe(Privilege.Supervisor);
  expect(privilegeOf(1, false)).toBe(Privilege.Supervisor);
});
