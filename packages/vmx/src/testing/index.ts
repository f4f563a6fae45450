/**
 * Known-good VMCS contents for tests of VM entry (here and in the packages that run guests):
 * each `setup*` function fills a VMCS so that all three stages of the VM-entry checks pass, and a
 * test then breaks one field. Import from `@typevisor/vmx/testing`.
 */
import type { VmxCapabilities } from '../capabilities.js';
import { EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from '../controls.js';
import { VmcsField as F } from '../fields.js';
import type { Vmcs } from '../vmcs.js';

/** Guest-physical addresses the set-ups use. */
export const TestLayout = {
  EptPml4: 0x5000,
  GuestCr3: 0x6000,
  GuestTrBase: 0x7000,
  GuestGdtrBase: 0x8000,
  GuestIdtrBase: 0x9000,
  HostCr3: 0x1000,
  HostGdtrBase: 0x2000,
  HostIdtrBase: 0x3000,
  HostTrBase: 0x4000,
  HostRip: 0x10_0000,
  HostRsp: 0x8_0000,
  GuestRip: 0x20_0000,
  GuestRsp: 0x9_0000,
} as const;

/** EPTP: write-back, 4-level walk, PML4 at {@link TestLayout.EptPml4}. */
export const TEST_EPTP = TestLayout.EptPml4 | 6 | (3 << 3);

const EFER_LME_LMA = 0x500;

/** Controls and host state for a 64-bit host: the part every set-up shares. */
export function setupHost64(vmcs: Vmcs, caps: VmxCapabilities): void {
  vmcs.write32(
    F.PinBasedControls,
    caps.pin.allowed0 | PinBased.ExternalInterruptExiting | PinBased.NmiExiting,
  );
  vmcs.write32(
    F.ProcBasedControls,
    caps.proc.allowed0 | ProcBased.HltExiting | ProcBased.ActivateSecondaryControls,
  );
  vmcs.write32(F.SecondaryProcBasedControls, ProcBased2.EnableEpt | ProcBased2.EnableVpid);
  vmcs.write32(F.VirtualProcessorId, 1);
  vmcs.write64(F.EptPointer, TEST_EPTP, 0);
  vmcs.write32(
    F.ExitControls,
    caps.exit.allowed0 |
      ExitCtl.HostAddressSpaceSize |
      ExitCtl.AcknowledgeInterruptOnExit |
      ExitCtl.LoadEfer |
      ExitCtl.SaveEfer,
  );
  vmcs.write32(F.EntryControls, caps.entry.allowed0);
  vmcs.write64(F.VmcsLinkPointer, 0xffff_ffff, 0xffff_ffff);

  vmcs.write64(F.HostCr0, 0x8001_0031, 0); // PG WP NE ET PE
  vmcs.write64(F.HostCr3, TestLayout.HostCr3, 0);
  vmcs.write64(F.HostCr4, 0x2020, 0); // VMXE PAE
  vmcs.write32(F.HostCsSelector, 0x08);
  vmcs.write32(F.HostSsSelector, 0x10);
  vmcs.write32(F.HostDsSelector, 0x10);
  vmcs.write32(F.HostEsSelector, 0x10);
  vmcs.write32(F.HostFsSelector, 0);
  vmcs.write32(F.HostGsSelector, 0);
  vmcs.write32(F.HostTrSelector, 0x18);
  vmcs.write64(F.HostTrBase, TestLayout.HostTrBase, 0);
  vmcs.write64(F.HostGdtrBase, TestLayout.HostGdtrBase, 0);
  vmcs.write64(F.HostIdtrBase, TestLayout.HostIdtrBase, 0);
  vmcs.write64(F.HostIa32Efer, EFER_LME_LMA, 0);
  vmcs.write64(F.HostRip, TestLayout.HostRip, 0);
  vmcs.write64(F.HostRsp, TestLayout.HostRsp, 0);
}

function setSegment(
  vmcs: Vmcs,
  seg: 'Es' | 'Cs' | 'Ss' | 'Ds' | 'Fs' | 'Gs' | 'Ldtr' | 'Tr',
  sel: number,
  base: number,
  limit: number,
  ar: number,
): void {
  vmcs.write32(F[`Guest${seg}Selector`], sel);
  vmcs.write64(F[`Guest${seg}Base`], base, 0);
  vmcs.write32(F[`Guest${seg}Limit`], limit);
  vmcs.write32(F[`Guest${seg}AccessRights`], ar);
}

function setTablesAndTr(vmcs: Vmcs, trAr: number): void {
  setSegment(vmcs, 'Ldtr', 0, 0, 0, 0x1_0000); // unusable
  setSegment(vmcs, 'Tr', 0x18, TestLayout.GuestTrBase, 0x67, trAr);
  vmcs.write64(F.GuestGdtrBase, TestLayout.GuestGdtrBase, 0);
  vmcs.write32(F.GuestGdtrLimit, 0x27);
  vmcs.write64(F.GuestIdtrBase, TestLayout.GuestIdtrBase, 0);
  vmcs.write32(F.GuestIdtrLimit, 0xfff);
}

/** A 64-bit host entering a 64-bit long-mode guest (CS.L = 1) with EPT and VPID. */
export function setupGuest64(vmcs: Vmcs, caps: VmxCapabilities): void {
  setupHost64(vmcs, caps);
  vmcs.write32(F.EntryControls, caps.entry.allowed0 | EntryCtl.Ia32eModeGuest | EntryCtl.LoadEfer);
  vmcs.write64(F.GuestCr0, 0x8001_0031, 0);
  vmcs.write64(F.GuestCr3, TestLayout.GuestCr3, 0);
  vmcs.write64(F.GuestCr4, 0x2020, 0);
  vmcs.write64(F.GuestDr7, 0x400, 0);
  vmcs.write64(F.GuestIa32Efer, EFER_LME_LMA, 0);
  vmcs.write64(F.GuestRflags, 0x2, 0);
  vmcs.write64(F.GuestRip, TestLayout.GuestRip, 0);
  vmcs.write64(F.GuestRsp, TestLayout.GuestRsp, 0);
  setSegment(vmcs, 'Cs', 0x08, 0, 0xffff_ffff, 0xa09b); // G L P S type 11
  for (const s of ['Ss', 'Ds', 'Es', 'Fs', 'Gs'] as const) setSegment(vmcs, s, 0x10, 0, 0xffff_ffff, 0xc093);
  setTablesAndTr(vmcs, 0x8b); // busy 64-bit TSS
}

/** A 64-bit host entering a 32-bit PAE-paged guest (not IA-32e mode). */
export function setupGuestPae(vmcs: Vmcs, caps: VmxCapabilities): void {
  setupGuest64(vmcs, caps);
  vmcs.write32(F.EntryControls, caps.entry.allowed0 | EntryCtl.LoadEfer);
  vmcs.write64(F.GuestIa32Efer, 0, 0);
  vmcs.write32(F.GuestCsAccessRights, 0xc09b); // G D P S type 11
}

/** A 64-bit host entering a real-mode guest under "unrestricted guest", at F000:FFF0. */
export function setupRealModeGuest(vmcs: Vmcs, caps: VmxCapabilities): void {
  setupHost64(vmcs, caps);
  vmcs.write32(F.SecondaryProcBasedControls, ProcBased2.EnableEpt | ProcBased2.UnrestrictedGuest);
  vmcs.write64(F.GuestCr0, 0x30, 0); // NE ET
  vmcs.write64(F.GuestCr3, 0, 0);
  vmcs.write64(F.GuestCr4, 0x2000, 0); // VMXE
  vmcs.write64(F.GuestDr7, 0x400, 0);
  vmcs.write64(F.GuestRflags, 0x2, 0);
  vmcs.write64(F.GuestRip, 0xfff0, 0);
  vmcs.write64(F.GuestRsp, 0, 0);
  setSegment(vmcs, 'Cs', 0xf000, 0xf_0000, 0xffff, 0x9b);
  for (const s of ['Ss', 'Ds', 'Es', 'Fs', 'Gs'] as const) setSegment(vmcs, s, 0, 0, 0xffff, 0x93);
  setTablesAndTr(vmcs, 0x8b);
  setSegment(vmcs, 'Ldtr', 0, 0, 0xffff, 0x82);
}

/** A 64-bit host entering a virtual-8086-mode task of a 32-bit paged guest (no EPT). */
export function setupV86Guest(vmcs: Vmcs, caps: VmxCapabilities): void {
  setupHost64(vmcs, caps);
  vmcs.write32(F.SecondaryProcBasedControls, ProcBased2.EnableVpid);
  vmcs.write64(F.GuestCr0, 0x8000_0031, 0);
  vmcs.write64(F.GuestCr3, TestLayout.GuestCr3, 0);
  vmcs.write64(F.GuestCr4, 0x2000, 0);
  vmcs.write64(F.GuestDr7, 0x400, 0);
  vmcs.write64(F.GuestRflags, 0x2_0202, 0); // VM IF
  vmcs.write64(F.GuestRip, 0x100, 0);
  vmcs.write64(F.GuestRsp, 0xfffe, 0);
  for (const s of ['Cs', 'Ss', 'Ds', 'Es', 'Fs', 'Gs'] as const)
    setSegment(vmcs, s, 0x1000, 0x1_0000, 0xffff, 0xf3);
  setTablesAndTr(vmcs, 0x8b);
}
