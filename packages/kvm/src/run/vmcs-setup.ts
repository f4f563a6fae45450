/**
 * One vCPU's VMCS, programmed the way kvm_intel does it (setup_vmcs_config, init_vmcs,
 * vmx_set_constant_host_state, vmx_set_cr0/cr4, vmx_set_segment, enter_rmode), and the VM-entry
 * checks run before an entry whose guest state userspace changed.
 */
import type { GuestMemory } from '@typevisor/memory';
import {
  type EntryCheckFailure,
  EntryCtl,
  ExitCtl,
  ExitReason,
  PinBased,
  ProcBased,
  ProcBased2,
  VmInstructionError,
  Vmcs,
  VmcsField as F,
  type VmxCapabilities,
  checkControls,
  checkGuestState,
  checkHostState,
  entryFailureExitReason,
} from '@typevisor/vmx';
import { kvm_regs, kvm_segment, kvm_sregs } from '../uapi/structs.js';
import { type StateViews, segmentAr } from './state-sync.js';

/** kvm_intel's module parameters that shape the VMCS. */
export interface VmxOptions {
  /** `ept`: two-dimensional paging; false runs the shadow MMU (and forces `unrestrictedGuest` off). */
  readonly ept: boolean;
  /** `unrestricted_guest`: real mode and unpaged protected mode run natively (needs `ept`). */
  readonly unrestrictedGuest: boolean;
  /** `vpid`: tag the guest's TLB entries with a VPID. */
  readonly vpid: boolean;
}

export const DEFAULT_VMX_OPTIONS: VmxOptions = { ept: true, unrestrictedGuest: true, vpid: true };

/** Where the per-vCPU VMX structures live in the kernel's own memory (`vmxMemory`). */
export const VMX_LAYOUT = { msrBitmap: 0x1000, vmcs: 0x2000, size: 0x3000 } as const;

const CR0_PE = 1;
const CR0_NE = 1 << 5;
const CR0_TS = 1 << 3;
const CR0_WP = 1 << 16;
const CR0_PG = 1 << 31;
const CR4_VME = 1;
const CR4_VMXE = 1 << 13;
const EFLAGS_VM = 1 << 17;
const EFLAGS_IOPL = 3 << 12;
const EFER_LMA = 1 << 10;
/** CR4 bits the guest owns (KVM_POSSIBLE_CR4_GUEST_BITS without the ones this CPU lacks). */
const CR4_GUEST_OWNED = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 8) | (1 << 9) | (1 << 10);
/** RMODE_TSS_SIZE - 1: the TSS limit enter_rmode gives the real-mode guest. */
const RMODE_TSS_LIMIT = 0x2088;

/**
 * The MSRs the guest reads and writes without exits (vmx_disable_intercept_for_msr in
 * vmx_create_vcpu): the SYSENTER MSRs. Every other MSR exits and KVM emulates it.
 */
const PASSTHROUGH_MSRS = [0x174, 0x175, 0x176] as const;

/** Programs the controls, host state and the MSR bitmap (init_vmcs + vmx_set_constant_host_state). */
export function initVmcs(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  options: VmxOptions,
  vmxMemory: GuestMemory,
  vpid: number,
  eptp: number,
): void {
  vmcs.write32(
    F.PinBasedControls,
    caps.pin.allowed0 | PinBased.ExternalInterruptExiting | PinBased.NmiExiting | PinBased.VirtualNmis,
  );
  let proc =
    caps.proc.allowed0 |
    ProcBased.HltExiting |
    ProcBased.UnconditionalIoExiting |
    ProcBased.MovDrExiting |
    ProcBased.UseMsrBitmaps |
    ProcBased.MwaitExiting |
    ProcBased.MonitorExiting |
    ProcBased.UseTscOffsetting |
    ProcBased.ActivateSecondaryControls;
  // Without EPT the shadow MMU must see CR3 loads and INVLPG.
  if (!options.ept) proc |= ProcBased.InvlpgExiting | ProcBased.Cr3LoadExiting | ProcBased.Cr3StoreExiting;
  else proc &= ~(ProcBased.Cr3LoadExiting | ProcBased.Cr3StoreExiting);
  vmcs.write32(F.ProcBasedControls, proc >>> 0);
  let proc2 = ProcBased2.WbinvdExiting;
  if (options.ept) proc2 |= ProcBased2.EnableEpt;
  if (options.vpid) proc2 |= ProcBased2.EnableVpid;
  if (options.ept && options.unrestrictedGuest) proc2 |= ProcBased2.UnrestrictedGuest;
  vmcs.write32(F.SecondaryProcBasedControls, proc2);
  if (options.vpid) vmcs.write32(F.VirtualProcessorId, vpid);
  if (options.ept) vmcs.write64(F.EptPointer, eptp, 0);
  vmcs.write32(
    F.ExitControls,
    caps.exit.allowed0 |
      ExitCtl.HostAddressSpaceSize |
      ExitCtl.AcknowledgeInterruptOnExit |
      ExitCtl.SaveEfer |
      ExitCtl.LoadEfer |
      ExitCtl.SavePat |
      ExitCtl.LoadPat,
  );
  vmcs.write32(F.EntryControls, caps.entry.allowed0 | EntryCtl.LoadEfer | EntryCtl.LoadPat);
  // #PF exits only with shadow paging (update_exception_bitmap); #UD and #MC always.
  vmcs.write32(F.ExceptionBitmap, (1 << 6) | (1 << 18) | (options.ept ? 0 : 1 << 14));
  vmcs.write64(F.VmcsLinkPointer, 0xffff_ffff, 0xffff_ffff);
  vmcs.write64(F.GuestIa32Pat, 0x0007_0406, 0x0007_0406);
  // CR0: the guest owns TS (and WP with EPT); CR4: KVM_POSSIBLE_CR4_GUEST_BITS.
  vmcs.write64(F.Cr0GuestHostMask, ~(CR0_TS | (options.ept ? CR0_WP : 0)) >>> 0, 0xffff_ffff);
  vmcs.write64(F.Cr4GuestHostMask, ~CR4_GUEST_OWNED >>> 0, 0xffff_ffff);
  // vmx_set_constant_host_state: a 64-bit Linux host.
  vmcs.write64(F.HostCr0, 0x8005_0033, 0);
  vmcs.write64(F.HostCr3, 0x1000, 0);
  vmcs.write64(F.HostCr4, 0x2020, 0);
  vmcs.write32(F.HostCsSelector, 0x10);
  vmcs.write32(F.HostSsSelector, 0x18);
  vmcs.write32(F.HostDsSelector, 0);
  vmcs.write32(F.HostEsSelector, 0);
  vmcs.write32(F.HostFsSelector, 0);
  vmcs.write32(F.HostGsSelector, 0);
  vmcs.write32(F.HostTrSelector, 0x40);
  vmcs.write64(F.HostTrBase, 0x3000, 0);
  vmcs.write64(F.HostGdtrBase, 0x4000, 0);
  vmcs.write64(F.HostIdtrBase, 0x5000, 0);
  vmcs.write64(F.HostIa32Efer, 0xd01, 0);
  vmcs.write64(F.HostIa32Pat, 0x0007_0406, 0x0007_0406);
  vmcs.write64(F.HostRip, 0x10_0000, 0);
  vmcs.write64(F.HostRsp, 0x8_0000, 0);
  // The MSR bitmap: every bit set (exit) except the pass-through MSRs.
  vmcs.write64(F.MsrBitmap, VMX_LAYOUT.msrBitmap, 0);
  vmxMemory.fill(VMX_LAYOUT.msrBitmap, 4096, 0xff);
  for (const msr of PASSTHROUGH_MSRS) {
    for (const quarter of [0, 2048]) {
      const at = VMX_LAYOUT.msrBitmap + quarter + (msr >>> 3);
      vmxMemory.write8(at, vmxMemory.read8(at) & ~(1 << (msr & 7)));
    }
  }
}

const S = kvm_sregs.fields;
const G = kvm_segment.fields;
const SEGMENTS = [
  [S.es.offset, F.GuestEsSelector, F.GuestEsBase, F.GuestEsLimit, F.GuestEsAccessRights],
  [S.cs.offset, F.GuestCsSelector, F.GuestCsBase, F.GuestCsLimit, F.GuestCsAccessRights],
  [S.ss.offset, F.GuestSsSelector, F.GuestSsBase, F.GuestSsLimit, F.GuestSsAccessRights],
  [S.ds.offset, F.GuestDsSelector, F.GuestDsBase, F.GuestDsLimit, F.GuestDsAccessRights],
  [S.fs.offset, F.GuestFsSelector, F.GuestFsBase, F.GuestFsLimit, F.GuestFsAccessRights],
  [S.gs.offset, F.GuestGsSelector, F.GuestGsBase, F.GuestGsLimit, F.GuestGsAccessRights],
] as const;

/**
 * Writes the guest-state area from KVM's view of the vCPU (vmx_set_cr0/cr4/segment/rflags). The
 * guest's own CR0/CR4 go to the read shadows; the fields get the bits VMX requires
 * (KVM_VM_CR0_ALWAYS_ON, CR4.VMXE). A real-mode guest without unrestricted guest runs as KVM's
 * enter_rmode() disguises it: virtual-8086 mode with paging on and the KVM_SET_TSS_ADDR TSS.
 */
export function writeGuestState(
  vmcs: Vmcs,
  v: StateViews,
  options: VmxOptions,
  tssAddr: number,
  shadowCr3: number,
): void {
  const s = v.sregs;
  const unrestricted = options.ept && options.unrestrictedGuest;
  const cr0 = v.cr0;
  const cr4 = s.getUint32(S.cr4.offset, true);
  const rmode = !unrestricted && (cr0 & CR0_PE) === 0;
  vmcs.write64(F.Cr0ReadShadow, cr0, 0);
  vmcs.write64(F.Cr4ReadShadow, cr4, 0);
  const alwaysOn = unrestricted ? CR0_NE : CR0_NE | CR0_PE | CR0_PG;
  vmcs.write64(F.GuestCr0, (cr0 | alwaysOn) >>> 0, 0);
  vmcs.write64(F.GuestCr4, (cr4 | CR4_VMXE | (rmode ? CR4_VME : 0)) >>> 0, 0);
  if (options.ept)
    vmcs.write64(F.GuestCr3, s.getUint32(S.cr3.offset, true), s.getUint32(S.cr3.offset + 4, true));
  else vmcs.write64(F.GuestCr3, shadowCr3, 0);
  vmcs.write64(F.GuestDr7, 0x400, 0);
  const efer = v.efer;
  vmcs.write64(F.GuestIa32Efer, efer, 0);
  // vmx_set_efer -> vm_entry_controls_setbit/clearbit(VM_ENTRY_IA32E_MODE): IA-32e mode guest = LMA.
  const entry = vmcs.read32(F.EntryControls);
  vmcs.write32(
    F.EntryControls,
    efer & EFER_LMA ? entry | EntryCtl.Ia32eModeGuest : entry & ~EntryCtl.Ia32eModeGuest,
  );
  vmcs.write64(F.GuestRip, v.rip, v.regs.getUint32(kvmRip + 4, true));
  vmcs.write64(F.GuestRsp, v.regs.getUint32(kvmRsp, true), v.regs.getUint32(kvmRsp + 4, true));
  vmcs.write64(F.GuestRflags, (v.rflags | 2 | (rmode ? EFLAGS_VM | EFLAGS_IOPL : 0)) >>> 0, 0);
  for (const [o, sel, base, limit, ar] of SEGMENTS) {
    const selector = s.getUint16(o + G.selector.offset, true);
    if (rmode) {
      // fix_rmode_seg: base = selector * 16, 64 KiB, DPL 3 read/write accessed data.
      vmcs.write32(sel, selector);
      vmcs.write64(base, selector * 16, 0);
      vmcs.write32(limit, 0xffff);
      vmcs.write32(ar, 0xf3);
      continue;
    }
    vmcs.write32(sel, selector);
    vmcs.write64(base, s.getUint32(o + G.base.offset, true), s.getUint32(o + G.base.offset + 4, true));
    vmcs.write32(limit, s.getUint32(o + G.limit.offset, true));
    vmcs.write32(ar, segmentAr(s, o));
  }
  const tr = S.tr.offset;
  if (rmode) {
    vmcs.write32(F.GuestTrSelector, 0);
    vmcs.write64(F.GuestTrBase, tssAddr, 0);
    vmcs.write32(F.GuestTrLimit, RMODE_TSS_LIMIT);
    vmcs.write32(F.GuestTrAccessRights, 0x8b);
  } else {
    vmcs.write32(F.GuestTrSelector, s.getUint16(tr + G.selector.offset, true));
    vmcs.write64(
      F.GuestTrBase,
      s.getUint32(tr + G.base.offset, true),
      s.getUint32(tr + G.base.offset + 4, true),
    );
    vmcs.write32(F.GuestTrLimit, s.getUint32(tr + G.limit.offset, true));
    vmcs.write32(F.GuestTrAccessRights, segmentAr(s, tr));
  }
  const ldt = S.ldt.offset;
  vmcs.write32(F.GuestLdtrSelector, s.getUint16(ldt + G.selector.offset, true));
  vmcs.write64(
    F.GuestLdtrBase,
    s.getUint32(ldt + G.base.offset, true),
    s.getUint32(ldt + G.base.offset + 4, true),
  );
  vmcs.write32(F.GuestLdtrLimit, s.getUint32(ldt + G.limit.offset, true));
  vmcs.write32(F.GuestLdtrAccessRights, segmentAr(s, ldt));
  vmcs.write64(F.GuestGdtrBase, s.getUint32(S.gdt.offset, true), s.getUint32(S.gdt.offset + 4, true));
  vmcs.write32(F.GuestGdtrLimit, s.getUint16(S.gdt.offset + 8, true));
  vmcs.write64(F.GuestIdtrBase, s.getUint32(S.idt.offset, true), s.getUint32(S.idt.offset + 4, true));
  vmcs.write32(F.GuestIdtrLimit, s.getUint16(S.idt.offset + 8, true));
}

const kvmRsp = kvm_regs.fields.rsp.offset;
const kvmRip = kvm_regs.fields.rip.offset;

/**
 * The checks of VMLAUNCH/VMRESUME (SDM 27.2, 27.3.1) and what KVM reports when they fail
 * (`fail_entry.hardware_entry_failure_reason`): the VM-instruction error for controls and host state
 * (VMfailValid), the exit reason "VM-entry failure due to invalid guest state" for guest state.
 */
export function entryFailure(
  vmcs: Vmcs,
  caps: VmxCapabilities,
  vmxMemory: GuestMemory,
): { readonly reason: number; readonly failure: EntryCheckFailure } | null {
  const controls = checkControls(vmcs, caps, vmxMemory);
  if (controls !== null) return { reason: VmInstructionError.EntryInvalidControlFields, failure: controls };
  const host = checkHostState(vmcs, caps, true);
  if (host !== null) return { reason: VmInstructionError.EntryInvalidHostStateFields, failure: host };
  const guest = checkGuestState(vmcs, caps, { memory: vmxMemory, currentVmcsPointer: VMX_LAYOUT.vmcs });
  if (guest !== null)
    return { reason: entryFailureExitReason(ExitReason.EntryFailureGuestState), failure: guest };
  return null;
}

export { Vmcs };
