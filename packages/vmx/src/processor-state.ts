/**
 * The register state VM entry and VM exit move between the VMCS and the processor, as a plain image
 * the CPU copies from and into its register file, with the SDM's loading and saving rules applied:
 *
 * - {@link loadGuestState}: VM entry, SDM Vol. 3C 27.3.2 (control, debug registers and MSRs;
 *   segment and descriptor-table registers; RIP, RSP, RFLAGS; PDPTEs with EPT; non-register state).
 * - {@link saveGuestState}: VM exit, 28.3.
 * - {@link loadHostState}: VM exit, 28.5 (the host segment registers get the fixed attributes the
 *   SDM prescribes, RFLAGS becomes 2, DR7 400H, the LDTR unusable).
 *
 * The CPU fills a {@link ProcessorState} from its registers, calls one of these, and copies the image
 * back; bits the SDM says VM entry/exit leave unmodified are taken from the image itself. Segment
 * access rights use the VMCS format (SDM 25.4.1): type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14,
 * G 15, unusable 16.
 */
import { EntryCtl, ExitCtl, ProcBased, ProcBased2 } from './controls.js';
import { VmcsField as F } from './fields.js';
import type { Vmcs } from './vmcs.js';

/** One segment register in VMCS form. */
export class SegmentState {
  selector = 0;
  baseLo = 0;
  baseHi = 0;
  limit = 0;
  /** Access rights in the VMCS format; bit 16 = unusable. */
  ar = 0x1_0000;
}

/** The processor state VM entry loads and VM exit saves and loads. 64-bit values as lo/hi halves. */
export class ProcessorState {
  /** CR0.ET is hardwired to 1 on every processor with VMX. */
  cr0 = 0x10;
  cr3Lo = 0;
  cr3Hi = 0;
  cr4 = 0;
  dr7 = 0x400;
  debugctlLo = 0;
  debugctlHi = 0;
  rspLo = 0;
  rspHi = 0;
  ripLo = 0;
  ripHi = 0;
  rflags = 2;
  readonly es = new SegmentState();
  readonly cs = new SegmentState();
  readonly ss = new SegmentState();
  readonly ds = new SegmentState();
  readonly fs = new SegmentState();
  readonly gs = new SegmentState();
  readonly ldtr = new SegmentState();
  readonly tr = new SegmentState();
  gdtrBaseLo = 0;
  gdtrBaseHi = 0;
  gdtrLimit = 0;
  idtrBaseLo = 0;
  idtrBaseHi = 0;
  idtrLimit = 0;
  sysenterCs = 0;
  sysenterEspLo = 0;
  sysenterEspHi = 0;
  sysenterEipLo = 0;
  sysenterEipHi = 0;
  efer = 0;
  patLo = 0x0007_0406;
  patHi = 0x0007_0406;
  /** PDPTE0..3 as lo/hi pairs; meaningful with PAE paging outside IA-32e mode. */
  readonly pdptes = new Uint32Array(8);
  /** True when {@link pdptes} was loaded from the VMCS (EPT): the CPU must not reload it from CR3. */
  pdptesLoaded = false;
  activityState = 0;
  interruptibility = 0;
  pendingDebugExceptions = 0;
}

/** CR0 bits VM entry and VM exit leave unmodified: ET, 15:6, 17, 28:19, NW, CD (27.3.2.1, 28.5.1). */
export const CR0_KEEP_BITS = 0x7ffa_ffd0;
const CR4_PAE = 1 << 5;
const CR4_PCIDE = 1 << 17;
const EFER_LME = 1 << 8;
const EFER_LMA = 1 << 10;
const CR0_PG = 1 << 31;

const SEGMENT_FIELDS = [
  ['es', F.GuestEsSelector, F.GuestEsBase, F.GuestEsLimit, F.GuestEsAccessRights],
  ['cs', F.GuestCsSelector, F.GuestCsBase, F.GuestCsLimit, F.GuestCsAccessRights],
  ['ss', F.GuestSsSelector, F.GuestSsBase, F.GuestSsLimit, F.GuestSsAccessRights],
  ['ds', F.GuestDsSelector, F.GuestDsBase, F.GuestDsLimit, F.GuestDsAccessRights],
  ['fs', F.GuestFsSelector, F.GuestFsBase, F.GuestFsLimit, F.GuestFsAccessRights],
  ['gs', F.GuestGsSelector, F.GuestGsBase, F.GuestGsLimit, F.GuestGsAccessRights],
  ['ldtr', F.GuestLdtrSelector, F.GuestLdtrBase, F.GuestLdtrLimit, F.GuestLdtrAccessRights],
  ['tr', F.GuestTrSelector, F.GuestTrBase, F.GuestTrLimit, F.GuestTrAccessRights],
] as const;

const PDPTE_FIELDS = [F.GuestPdpte0, F.GuestPdpte1, F.GuestPdpte2, F.GuestPdpte3] as const;

const secondary = (vmcs: Vmcs): number =>
  (vmcs.read32(F.ProcBasedControls) & ProcBased.ActivateSecondaryControls) !== 0
    ? vmcs.read32(F.SecondaryProcBasedControls)
    : 0;

/** Whether the guest uses PAE paging outside IA-32e mode with EPT: the PDPTEs travel in the VMCS. */
function pdptesInVmcs(vmcs: Vmcs, cr0: number, cr4: number): boolean {
  return (
    (secondary(vmcs) & ProcBased2.EnableEpt) !== 0 &&
    (vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest) === 0 &&
    (cr0 & CR0_PG) !== 0 &&
    (cr4 & CR4_PAE) !== 0
  );
}

/**
 * VM entry, loading guest state (27.3.2) into `s`, which holds the processor's current state on
 * input. Call only after {@link checkGuestState} passed.
 */
export function loadGuestState(vmcs: Vmcs, s: ProcessorState): void {
  const entry = vmcs.read32(F.EntryControls);
  const ia32e = (entry & EntryCtl.Ia32eModeGuest) !== 0;

  // 27.3.2.1 control registers, debug registers, MSRs
  s.cr0 = ((s.cr0 & CR0_KEEP_BITS) | (vmcs.readLo(F.GuestCr0) & ~CR0_KEEP_BITS)) >>> 0;
  s.cr3Lo = vmcs.readLo(F.GuestCr3);
  s.cr3Hi = vmcs.readHi(F.GuestCr3);
  s.cr4 = vmcs.readLo(F.GuestCr4);
  if ((entry & EntryCtl.LoadDebugControls) !== 0) {
    // Bits 12, 15:14 always 0 and bit 10 always 1, whatever the field says.
    s.dr7 = ((vmcs.readLo(F.GuestDr7) & ~0xd000) | 0x400) >>> 0;
    s.debugctlLo = vmcs.readLo(F.GuestIa32Debugctl);
    s.debugctlHi = vmcs.readHi(F.GuestIa32Debugctl);
  }
  s.sysenterCs = vmcs.read32(F.GuestIa32SysenterCs);
  s.sysenterEspLo = vmcs.readLo(F.GuestIa32SysenterEsp);
  s.sysenterEspHi = vmcs.readHi(F.GuestIa32SysenterEsp);
  s.sysenterEipLo = vmcs.readLo(F.GuestIa32SysenterEip);
  s.sysenterEipHi = vmcs.readHi(F.GuestIa32SysenterEip);
  if ((entry & EntryCtl.LoadEfer) !== 0) {
    s.efer = vmcs.readLo(F.GuestIa32Efer);
  } else {
    // LMA follows "IA-32e mode guest"; LME too when paging is being enabled, else it is unmodified.
    s.efer = ia32e ? s.efer | EFER_LMA : s.efer & ~EFER_LMA;
    if ((s.cr0 & CR0_PG) !== 0) s.efer = ia32e ? s.efer | EFER_LME : s.efer & ~EFER_LME;
  }
  if ((entry & EntryCtl.LoadPat) !== 0) {
    s.patLo = vmcs.readLo(F.GuestIa32Pat);
    s.patHi = vmcs.readHi(F.GuestIa32Pat);
  }

  // 27.3.2.2 segment and descriptor-table registers: every field as it is; bit 16 of the access
  // rights tells the CPU a register is unusable.
  for (const [name, sel, base, limit, ar] of SEGMENT_FIELDS) {
    const seg = s[name];
    seg.selector = vmcs.read32(sel);
    seg.baseLo = vmcs.readLo(base);
    seg.baseHi = vmcs.readHi(base);
    seg.limit = vmcs.read32(limit);
    seg.ar = vmcs.read32(ar);
  }
  s.gdtrBaseLo = vmcs.readLo(F.GuestGdtrBase);
  s.gdtrBaseHi = vmcs.readHi(F.GuestGdtrBase);
  s.gdtrLimit = vmcs.read32(F.GuestGdtrLimit);
  s.idtrBaseLo = vmcs.readLo(F.GuestIdtrBase);
  s.idtrBaseHi = vmcs.readHi(F.GuestIdtrBase);
  s.idtrLimit = vmcs.read32(F.GuestIdtrLimit);

  // 27.3.2.3 RIP, RSP, RFLAGS
  s.ripLo = vmcs.readLo(F.GuestRip);
  s.ripHi = vmcs.readHi(F.GuestRip);
  s.rspLo = vmcs.readLo(F.GuestRsp);
  s.rspHi = vmcs.readHi(F.GuestRsp);
  s.rflags = vmcs.readLo(F.GuestRflags);

  // 27.3.2.4 PDPTEs: from the VMCS with EPT; otherwise the CPU loads them from CR3 (27.3.1.6).
  s.pdptesLoaded = pdptesInVmcs(vmcs, s.cr0, s.cr4);
  if (s.pdptesLoaded) {
    for (let i = 0; i < 4; i++) {
      s.pdptes[i * 2] = vmcs.readLo(PDPTE_FIELDS[i]!);
      s.pdptes[i * 2 + 1] = vmcs.readHi(PDPTE_FIELDS[i]!);
    }
  }

  // 27.3.2.5 non-register state
  s.activityState = vmcs.read32(F.GuestActivityState);
  s.interruptibility = vmcs.read32(F.GuestInterruptibilityState);
  s.pendingDebugExceptions = vmcs.readLo(F.GuestPendingDebugExceptions);
}

/**
 * VM exit, saving guest state (28.3) from `s`, the processor's state at the exit. The
 * "IA-32e mode guest" entry control is set to the guest's IA32_EFER.LMA (IA32_VMX_MISC[5]).
 * `preemptionTimer` is the timer value to save when "save VMX-preemption timer value" is 1.
 */
export function saveGuestState(vmcs: Vmcs, s: ProcessorState, preemptionTimer = 0): void {
  const exit = vmcs.read32(F.ExitControls);
  vmcs.write64(F.GuestCr0, s.cr0, 0);
  vmcs.write64(F.GuestCr3, s.cr3Lo, s.cr3Hi);
  vmcs.write64(F.GuestCr4, s.cr4, 0);
  if ((exit & ExitCtl.SaveDebugControls) !== 0) {
    vmcs.write64(F.GuestDr7, s.dr7, 0);
    vmcs.write64(F.GuestIa32Debugctl, s.debugctlLo, s.debugctlHi);
  }
  vmcs.write32(F.GuestIa32SysenterCs, s.sysenterCs);
  vmcs.write64(F.GuestIa32SysenterEsp, s.sysenterEspLo, s.sysenterEspHi);
  vmcs.write64(F.GuestIa32SysenterEip, s.sysenterEipLo, s.sysenterEipHi);
  if ((exit & ExitCtl.SavePat) !== 0) vmcs.write64(F.GuestIa32Pat, s.patLo, s.patHi);
  if ((exit & ExitCtl.SaveEfer) !== 0) vmcs.write64(F.GuestIa32Efer, s.efer, 0);
  const entry = vmcs.read32(F.EntryControls);
  vmcs.write32(
    F.EntryControls,
    (s.efer & EFER_LMA) !== 0 ? entry | EntryCtl.Ia32eModeGuest : entry & ~EntryCtl.Ia32eModeGuest,
  );

  for (const [name, sel, base, limit, ar] of SEGMENT_FIELDS) {
    const seg = s[name];
    vmcs.write32(sel, seg.selector);
    vmcs.write64(base, seg.baseLo, seg.baseHi);
    vmcs.write32(limit, seg.limit);
    vmcs.write32(ar, seg.ar & 0x1_f0ff);
  }
  vmcs.write64(F.GuestGdtrBase, s.gdtrBaseLo, s.gdtrBaseHi);
  vmcs.write32(F.GuestGdtrLimit, s.gdtrLimit & 0xffff);
  vmcs.write64(F.GuestIdtrBase, s.idtrBaseLo, s.idtrBaseHi);
  vmcs.write32(F.GuestIdtrLimit, s.idtrLimit & 0xffff);

  vmcs.write64(F.GuestRip, s.ripLo, s.ripHi);
  vmcs.write64(F.GuestRsp, s.rspLo, s.rspHi);
  vmcs.write64(F.GuestRflags, s.rflags, 0);

  vmcs.write32(F.GuestActivityState, s.activityState);
  vmcs.write32(F.GuestInterruptibilityState, s.interruptibility);
  vmcs.write64(F.GuestPendingDebugExceptions, s.pendingDebugExceptions, 0);
  if ((exit & ExitCtl.SavePreemptionTimer) !== 0) vmcs.write32(F.PreemptionTimerValue, preemptionTimer);

  // 28.3.4: with EPT and PAE paging outside IA-32e mode, the PDPTEs are saved.
  if (pdptesInVmcs(vmcs, s.cr0, s.cr4)) {
    for (let i = 0; i < 4; i++) vmcs.write64(PDPTE_FIELDS[i]!, s.pdptes[i * 2]!, s.pdptes[i * 2 + 1]!);
  }
}

/** Access rights of the host segments after a VM exit (28.5.2). */
export const HostSegmentAr = {
  /** CS: execute/read accessed code, S, P, G; L or D/B per "host address-space size". */
  cs64: 0xa09b,
  cs32: 0xc09b,
  /** SS, DS, ES, FS, GS with a non-null selector: read/write accessed data, S, P, D/B, G. */
  data: 0xc093,
  /** TR: busy 32/64-bit TSS, P. */
  tr: 0x8b,
  unusable: 0x1_0000,
} as const;

/**
 * VM exit, loading host state (28.5) into `s`, which holds the processor's state at the exit
 * (already saved as guest state).
 */
export function loadHostState(vmcs: Vmcs, s: ProcessorState): void {
  const exit = vmcs.read32(F.ExitControls);
  const host64 = (exit & ExitCtl.HostAddressSpaceSize) !== 0;

  // 28.5.1 control registers, debug registers, MSRs
  s.cr0 = ((s.cr0 & CR0_KEEP_BITS) | (vmcs.readLo(F.HostCr0) & ~CR0_KEEP_BITS)) >>> 0;
  s.cr3Lo = vmcs.readLo(F.HostCr3);
  s.cr3Hi = vmcs.readHi(F.HostCr3);
  let cr4 = vmcs.readLo(F.HostCr4);
  cr4 = host64 ? cr4 | CR4_PAE : cr4 & ~CR4_PCIDE;
  s.cr4 = cr4 >>> 0;
  s.dr7 = 0x400;
  s.debugctlLo = 0;
  s.debugctlHi = 0;
  s.sysenterCs = vmcs.read32(F.HostIa32SysenterCs);
  s.sysenterEspLo = vmcs.readLo(F.HostIa32SysenterEsp);
  s.sysenterEspHi = vmcs.readHi(F.HostIa32SysenterEsp);
  s.sysenterEipLo = vmcs.readLo(F.HostIa32SysenterEip);
  s.sysenterEipHi = vmcs.readHi(F.HostIa32SysenterEip);
  if ((exit & ExitCtl.LoadPat) !== 0) {
    s.patLo = vmcs.readLo(F.HostIa32Pat);
    s.patHi = vmcs.readHi(F.HostIa32Pat);
  }
  if ((exit & ExitCtl.LoadEfer) !== 0) {
    s.efer = vmcs.readLo(F.HostIa32Efer);
  } else {
    s.efer = host64 ? s.efer | EFER_LMA | EFER_LME : s.efer & ~(EFER_LMA | EFER_LME);
  }

  // 28.5.2 segment and descriptor-table registers
  const cs = s.cs;
  cs.selector = vmcs.read32(F.HostCsSelector);
  cs.baseLo = 0;
  cs.baseHi = 0;
  cs.limit = 0xffff_ffff;
  cs.ar = host64 ? HostSegmentAr.cs64 : HostSegmentAr.cs32;
  hostDataSegment(vmcs, s.ss, F.HostSsSelector, -1);
  hostDataSegment(vmcs, s.ds, F.HostDsSelector, -1);
  hostDataSegment(vmcs, s.es, F.HostEsSelector, -1);
  hostDataSegment(vmcs, s.fs, F.HostFsSelector, F.HostFsBase);
  hostDataSegment(vmcs, s.gs, F.HostGsSelector, F.HostGsBase);
  const tr = s.tr;
  tr.selector = vmcs.read32(F.HostTrSelector);
  tr.baseLo = vmcs.readLo(F.HostTrBase);
  tr.baseHi = vmcs.readHi(F.HostTrBase);
  tr.limit = 0x67;
  tr.ar = HostSegmentAr.tr;
  const ldtr = s.ldtr;
  ldtr.selector = 0;
  ldtr.baseLo = 0;
  ldtr.baseHi = 0;
  ldtr.limit = 0;
  ldtr.ar = HostSegmentAr.unusable;
  s.gdtrBaseLo = vmcs.readLo(F.HostGdtrBase);
  s.gdtrBaseHi = vmcs.readHi(F.HostGdtrBase);
  s.gdtrLimit = 0xffff;
  s.idtrBaseLo = vmcs.readLo(F.HostIdtrBase);
  s.idtrBaseHi = vmcs.readHi(F.HostIdtrBase);
  s.idtrLimit = 0xffff;

  // 28.5.3 RIP, RSP, RFLAGS; the host runs active, with no STI/MOV-SS blocking.
  s.ripLo = vmcs.readLo(F.HostRip);
  s.ripHi = vmcs.readHi(F.HostRip);
  s.rspLo = vmcs.readLo(F.HostRsp);
  s.rspHi = vmcs.readHi(F.HostRsp);
  s.rflags = 2;
  s.pdptesLoaded = false;
  s.activityState = 0;
  s.interruptibility &= ~3;
  s.pendingDebugExceptions = 0;
}

/** SS, DS, ES, FS, GS after a VM exit: base 0 (FS and GS from their fields), flat, unusable if null. */
function hostDataSegment(vmcs: Vmcs, seg: SegmentState, selField: number, baseField: number): void {
  seg.selector = vmcs.read32(selField);
  seg.baseLo = baseField < 0 ? 0 : vmcs.readLo(baseField);
  seg.baseHi = baseField < 0 ? 0 : vmcs.readHi(baseField);
  seg.limit = 0xffff_ffff;
  // A null selector leaves the register unusable (SS too: its DPL is 0 either way).
  seg.ar = seg.selector === 0 ? HostSegmentAr.unusable : HostSegmentAr.data;
}
