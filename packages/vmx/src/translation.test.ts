import { GuestMemory } from '@typevisor/memory';
import {
  AccessKind,
  EPTE,
  EptStage,
  FaultKind,
  IdentityStage,
  MMU_FAULT,
  Mmu,
  Privilege,
} from '@typevisor/mmu';
import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { ProcBased2 } from './controls.js';
import { VmcsField as F } from './fields.js';
import { ProcessorState, loadGuestState, loadHostState } from './processor-state.js';
import { TEST_EPTP, TestLayout, setupGuest64, setupRealModeGuest } from './testing/index.js';
import { TranslationSwitch, eptCapabilitiesOf } from './translation.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();

describe('eptCapabilitiesOf', () => {
  it('mirrors IA32_VMX_EPT_VPID_CAP and MAXPHYADDR', () => {
    expect(eptCapabilitiesOf(caps)).toEqual({
      executeOnly: true,
      walkLength5: false,
      pages1G: true,
      accessedDirty: true,
      maxPhysAddr: 39,
    });
    expect(eptCapabilitiesOf(createVmxCapabilities({ eptAccessedDirty: false })).accessedDirty).toBe(false);
  });
});

describe('TranslationSwitch', () => {
  it('installs the guest EPT and VPID on entry and returns to identity and VPID 0 on exit', () => {
    const mem = GuestMemory.create(0x10_0000);
    const mmu = new Mmu(mem);
    const sw = new TranslationSwitch(mmu, mem, caps);
    const vmcs = new Vmcs(caps);
    setupGuest64(vmcs, caps);
    vmcs.write32(F.VirtualProcessorId, 7);
    const s = new ProcessorState();
    loadGuestState(vmcs, s);
    sw.enterGuest(vmcs, s);
    expect(mmu.walker.stage).toBeInstanceOf(EptStage);
    expect((mmu.walker.stage as EptStage).eptp).toBe(TEST_EPTP);
    expect(mmu.state.vpid).toBe(7);
    expect(mmu.state.cr3).toBe(TestLayout.GuestCr3);
    loadHostState(vmcs, s);
    sw.exitToHost(s);
    expect(mmu.walker.stage).toBeInstanceOf(IdentityStage);
    expect(mmu.state.vpid).toBe(0);
    expect(mmu.state.cr3).toBe(TestLayout.HostCr3);
  });

  it('translates a real-mode unrestricted guest through EPT: an unmapped page is an EPT violation', () => {
    const mem = GuestMemory.create(0x10_0000);
    const mmu = new Mmu(mem);
    const sw = new TranslationSwitch(mmu, mem, caps);
    const vmcs = new Vmcs(caps);
    setupRealModeGuest(vmcs, caps);
    // EPT: guest-physical 0..2 MiB -> host-physical 0x80000.. for the first 4 KiB only (PML4 at 0x5000).
    mem.write32(0x5000, 0x6000 | EPTE.R | EPTE.W | EPTE.X); // PML4E -> PDPT
    mem.write32(0x6000, 0x7000 | EPTE.R | EPTE.W | EPTE.X); // PDPTE -> PD
    mem.write32(0x7000, 0x8000 | EPTE.R | EPTE.W | EPTE.X); // PDE -> PT
    mem.write32(0x8000, 0x8_0000 | EPTE.R | EPTE.W | EPTE.X | (6 << 3)); // PTE: page 0 -> 0x80000, WB
    const s = new ProcessorState();
    loadGuestState(vmcs, s);
    sw.enterGuest(vmcs, s);
    expect(mmu.state.vpid).toBe(0); // the real-mode set-up does not enable VPIDs
    expect(mmu.translate(0x123, AccessKind.Read, Privilege.Supervisor)).toBe(0x8_0123);
    expect(mmu.translate(0x1000, AccessKind.Read, Privilege.Supervisor)).toBe(MMU_FAULT);
    expect(mmu.fault.kind).toBe(FaultKind.EptViolation);
    vmcs.write32(F.SecondaryProcBasedControls, ProcBased2.EnableVpid);
    vmcs.write32(F.VirtualProcessorId, 3);
    sw.enterGuest(vmcs, s);
    expect(mmu.walker.stage).toBeInstanceOf(IdentityStage);
    expect(mmu.translate(0x1000, AccessKind.Read, Privilege.Supervisor)).toBe(0x1000);
  });

  it('serves INVVPID and INVEPT through the MMU TLB', () => {
    const mem = GuestMemory.create(0x10_0000);
    const mmu = new Mmu(mem);
    const sw = new TranslationSwitch(mmu, mem, caps);
    const vmcs = new Vmcs(caps);
    setupRealModeGuest(vmcs, caps);
    vmcs.write32(F.SecondaryProcBasedControls, ProcBased2.EnableVpid);
    vmcs.write32(F.VirtualProcessorId, 3);
    const s = new ProcessorState();
    loadGuestState(vmcs, s);
    sw.enterGuest(vmcs, s);
    expect(mmu.translate(0x2000, AccessKind.Read, Privilege.Supervisor)).toBe(0x2000);
    const cached = (): boolean => mmu.tlb.tag[(0x2000 >>> 12) & mmu.tlb.mask] === 0x2000 + mmu.tlb.ctx;
    expect(cached()).toBe(true);
    sw.invvpid(1, 3, 0, 0);
    expect(cached()).toBe(false);
    mmu.translate(0x2000, AccessKind.Read, Privilege.Supervisor);
    sw.invvpid(0, 3, 0x2000, 0);
    expect(cached()).toBe(false);
    mmu.translate(0x2000, AccessKind.Read, Privilege.Supervisor);
    sw.invept();
    expect(cached()).toBe(false);
  });
});
