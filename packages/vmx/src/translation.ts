/**
 * EPT and VPIDs through `@typevisor/mmu`: on VM entry the MMU's second stage becomes the guest's EPT
 * (when "enable EPT" is 1) and its TLB tag the guest's VPID (when "enable VPID" is 1, else 0); on
 * VM exit it returns to the identity stage and VPID 0 (SDM Vol. 3C 29.1, 29.3). The paging context
 * (CR0, CR3, CR4, EFER, PDPTEs) is loaded from the register image the transitions produced.
 */
import type { GuestMemory } from '@typevisor/memory';
import { type EptCapabilities, EptStage, IdentityStage, type Mmu, linearFromHalves } from '@typevisor/mmu';
import { EptVpidCap, type VmxCapabilities } from './capabilities.js';
import { EntryCtl, ProcBased, ProcBased2 } from './controls.js';
import { VmcsField as F } from './fields.js';
import type { ProcessorState } from './processor-state.js';
import type { Vmcs } from './vmcs.js';

/** The MMU's EPT capabilities that match IA32_VMX_EPT_VPID_CAP and MAXPHYADDR of `caps`. */
export function eptCapabilitiesOf(caps: VmxCapabilities): EptCapabilities {
  const lo = caps.eptVpidCapLo;
  return {
    executeOnly: (lo & EptVpidCap.ExecuteOnly) !== 0,
    walkLength5: (lo & EptVpidCap.PageWalk5) !== 0,
    pages1G: (lo & EptVpidCap.Pdpte1GbPages) !== 0,
    accessedDirty: (lo & EptVpidCap.AccessedDirty) !== 0,
    maxPhysAddr: caps.physicalAddressWidth,
  };
}

const CR0_PG = 1 << 31;
const CR4_PAE = 1 << 5;

/** Switches one logical processor's MMU between host and guest translation. */
export class TranslationSwitch {
  private readonly identity = new IdentityStage();
  private ept: EptStage | null = null;
  private readonly eptCaps: EptCapabilities;

  constructor(
    private readonly mmu: Mmu,
    /** The memory EPT paging structures live in (the host's guest-physical memory). */
    private readonly hostMemory: GuestMemory,
    caps: VmxCapabilities,
  ) {
    this.eptCaps = eptCapabilitiesOf(caps);
  }

  /** The EPT stage of the last entry with EPT, if any (for `mmu.fault` inspection and INVEPT). */
  get eptStage(): EptStage | null {
    return this.ept;
  }

  /**
   * VM entry, after {@link loadGuestState}: EPT stage and VPID from the VMCS, then the guest's paging
   * context. Without EPT, a PAE guest's PDPTEs are read from CR3 as the guest-state checks did.
   */
  enterGuest(vmcs: Vmcs, s: ProcessorState): void {
    const proc2 =
      (vmcs.read32(F.ProcBasedControls) & ProcBased.ActivateSecondaryControls) !== 0
        ? vmcs.read32(F.SecondaryProcBasedControls)
        : 0;
    if ((proc2 & ProcBased2.EnableEpt) !== 0) {
      const eptp = vmcs.readNumber(F.EptPointer);
      if (this.ept === null) this.ept = new EptStage(this.hostMemory, eptp, this.eptCaps);
      else this.ept.setEptp(eptp);
      this.mmu.setStage(this.ept);
    } else {
      this.mmu.setStage(this.identity);
    }
    this.mmu.setVpid((proc2 & ProcBased2.EnableVpid) !== 0 ? vmcs.read32(F.VirtualProcessorId) : 0);
    const cr3 = s.cr3Hi * 0x1_0000_0000 + s.cr3Lo;
    const pae = (s.cr0 & CR0_PG) !== 0 && (s.cr4 & CR4_PAE) !== 0;
    const ia32e = (vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest) !== 0;
    this.mmu.loadContext(
      s.cr0,
      cr3,
      s.cr4,
      s.efer,
      this.mmu.state.pkru,
      s.pdptesLoaded ? s.pdptes : undefined,
    );
    if (pae && !ia32e && !s.pdptesLoaded) this.mmu.loadPdptes(cr3);
  }

  /** VM exit, after {@link loadHostState}: identity stage, VPID 0, the host's paging context. */
  exitToHost(s: ProcessorState): void {
    this.mmu.setStage(this.identity);
    this.mmu.setVpid(0);
    const cr3 = s.cr3Hi * 0x1_0000_0000 + s.cr3Lo;
    this.mmu.loadContext(s.cr0, cr3, s.cr4, s.efer, this.mmu.state.pkru);
    if ((s.cr0 & CR0_PG) !== 0 && (s.cr4 & CR4_PAE) !== 0 && (s.efer & (1 << 10)) === 0)
      this.mmu.loadPdptes(cr3);
  }

  /**
   * INVEPT (either type), for `VmxCpu.invalidateEpt`: the MMU caches combined guest-linear to
   * host-physical translations, so every cached translation goes.
   */
  invept(): void {
    this.mmu.flushAll();
  }

  /** INVVPID, for `VmxCpu.invalidateVpid`: individual address, single context, all contexts, single context keeping globals. */
  invvpid(type: 0 | 1 | 2 | 3, vpid: number, linearLo: number, linearHi: number): void {
    this.mmu.invvpid(type, vpid, linearFromHalves(linearLo, linearHi));
  }
}
