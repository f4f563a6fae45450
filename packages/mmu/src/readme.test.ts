import { GuestMemory } from '@typevisor/memory';
import { expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  EPTE,
  EptQual,
  EptStage,
  FaultKind,
  IdentityStage,
  MMU_FAULT,
  Mmu,
  PTE,
  Privilege,
  ShadowMmu,
  makeEptp,
  tlbFastBit,
} from './index.js';

test('the README example translates, faults with the SDM error code and hits the fast path', () => {
  const mem = GuestMemory.create(4 << 20);
  // 4-level tables: PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000.
  const table = PTE.P | PTE.RW | PTE.US;
  mem.write64(0x1000, 0x2000 | table, 0);
  mem.write64(0x2000, 0x3000 | table, 0);
  mem.write64(0x3000 + 2 * 8, 0x4000 | table, 0); // PD entry 2 covers 0x40_0000..0x5f_ffff
  mem.write64(0x4000, 0x20_0000 | PTE.P, 0); // 0x40_0000 -> 0x20_0000, read-only, supervisor

  const mmu = new Mmu(mem);
  mmu.writeCr4(CR4.PAE);
  mmu.writeEfer(EFER.LME | EFER.NXE);
  mmu.writeCr3(0x1000);
  mmu.writeCr0(CR0.PE | CR0.PG | CR0.WP); // sets EFER.LMA: 4-level paging

  expect(mmu.translate(0x40_0123, AccessKind.Read, Privilege.Supervisor)).toBe(0x20_0123);
  expect(mem.read32(0x4000) & PTE.A).toBe(PTE.A);
  expect(mmu.translate(0x40_0123, AccessKind.Write, Privilege.Supervisor)).toBe(MMU_FAULT);
  expect(mmu.fault.kind === FaultKind.PageFault).toBe(true);
  expect(mmu.fault.errorCode).toBe(0b11);
  expect(mmu.fault.address).toBe(0x40_0123);

  mem.write8(0x20_0456, 0x5a);
  const la = 0x40_0456;
  const tlb = mmu.tlb;
  const i = (la >>> 12) & tlb.mask;
  let byte = -1;
  if (
    tlb.tag[i] === la - (la & 0xfff) + tlb.ctx &&
    (tlb.perm[i]! & tlbFastBit(AccessKind.Read, Privilege.Supervisor)) !== 0
  ) {
    byte = mmu.ram[tlb.host[i]! + (la & 0xfff)]!;
  } else {
    const phys = mmu.translate(la, AccessKind.Read, Privilege.Supervisor);
    if (phys === MMU_FAULT) throw new Error('the CPU would raise #PF here');
  }
  expect(byte).toBe(0x5a);

  // EPT: tables at host 0x1000..; guest-physical 0..2 MiB -> host 4 MiB (RWX), 2..4 MiB -> 6 MiB (read-only).
  const host = GuestMemory.create(8 << 20);
  host.write64(0x1000, 0x2000 | 7, 0); // EPT PML4E -> EPT PDPT
  host.write64(0x2000, 0x3000 | 7, 0); // EPT PDPTE -> EPT PD
  host.write64(0x3000, 0x40_0000 | EPTE.PS | (6 << 3) | 7, 0); // 2-MiB page, write-back, RWX
  host.write64(0x3008, 0x60_0000 | EPTE.PS | (6 << 3) | EPTE.R, 0);
  const vm = new Mmu(host, { stage: new EptStage(host, makeEptp(0x1000)) });
  expect(vm.translate(0x1234, AccessKind.Write, Privilege.User)).toBe(0x40_1234);
  expect(vm.translate(0x20_0000, AccessKind.Write, Privilege.User)).toBe(MMU_FAULT);
  expect(vm.fault.kind === FaultKind.EptViolation).toBe(true);
  expect(vm.fault.qualification).toBe(
    EptQual.WRITE | EptQual.READABLE | EptQual.GLA_VALID | EptQual.TRANSLATED,
  );

  // Shadow paging: guest RAM at host 0..4 MiB holding the tables of the first example, pool at 4..6 MiB.
  const hostS = GuestMemory.create(6 << 20);
  hostS.writeBytes(0, mem.subarray(0, 4 << 20)!);
  const shadow = new ShadowMmu({
    hw: new Mmu(hostS),
    stage: new IdentityStage(),
    pool: { base: 4 << 20, size: 2 << 20 },
  });
  shadow.writeCr4(CR4.PAE);
  shadow.writeEfer(EFER.LME | EFER.NXE);
  shadow.writeCr3(0x1000);
  shadow.writeCr0(CR0.PE | CR0.PG | CR0.WP);
  expect(shadow.translate(0x40_0123, AccessKind.Read, Privilege.Supervisor)).toBe(0x20_0123);
  expect(shadow.translate(0x40_0123, AccessKind.Write, Privilege.Supervisor)).toBe(MMU_FAULT);
  expect(shadow.fault.errorCode).toBe(0b11);
  expect(shadow.fault.address).toBe(0x40_0123);
});
