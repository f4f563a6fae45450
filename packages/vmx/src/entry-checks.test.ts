import { GuestMemory } from '@typevisor/memory';
import { beforeEach, describe, expect, it } from 'vitest';
import { type VmxCapabilities, createVmxCapabilities } from './capabilities.js';

import { EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from './controls.js';
import {
  CONTROL_CHECKS,
  GUEST_CHECKS,
  HOST_CHECKS,
  type ControlCheck,
  type GuestCheck,
  type HostCheck,
  checkControls,
  checkGuestState,
  checkHostState,
} from './entry-checks.js';
import { InterruptionType, VmInstructionError, makeInterruptionInfo } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import { setupGuest64, setupGuestPae, setupRealModeGuest, setupV86Guest } from './testing/index.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();
const capsNoAd = createVmxCapabilities({ eptAccessedDirty: false });
const CURRENT_VMCS = 0xb000;
const LINK_VMCS = 0xc000;
const VAPIC = 0xa000;

type Base = 'long' | 'pae' | 'real' | 'v86';
const SETUP: Record<Base, (v: Vmcs) => void> = {
  long: (v) => setupGuest64(v, caps),
  pae: (v) => setupGuestPae(v, caps),
  real: (v) => setupRealModeGuest(v, caps),
  v86: (v) => setupV86Guest(v, caps),
};

let mem: GuestMemory;

function fresh(base: Base): Vmcs {
  const v = new Vmcs(caps);
  SETUP[base](v);
  return v;
}

const or32 = (v: Vmcs, f: number, bits: number): void => v.write32(f, v.read32(f) | bits);
const and32 = (v: Vmcs, f: number, mask: number): void => v.write32(f, v.read32(f) & mask);
const setLo = (v: Vmcs, f: number, lo: number): void => v.write64(f, lo, v.readHi(f));
const setHi = (v: Vmcs, f: number, hi: number): void => v.write64(f, v.readLo(f), hi);
const inject = (v: Vmcs, vector: number, type: InterruptionType, err = false): void =>
  v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(vector, type, err));

const run = (v: Vmcs, processorInIa32e = true) => ({
  controls: checkControls(v, caps, mem),
  host: checkHostState(v, caps, processorInIa32e),
  guest: checkGuestState(v, caps, { memory: mem, currentVmcsPointer: CURRENT_VMCS }),
});

beforeEach(() => {
  mem = GuestMemory.create(0x10_0000);
  mem.write32(LINK_VMCS, caps.revisionId);
  mem.write32(VAPIC + 0x80, 0x50); // VTPR: priority class 5
});

describe('the known-good set-ups', () => {
  for (const base of ['long', 'pae', 'real', 'v86'] as const) {
    it(`${base}: pass controls, host-state and guest-state checks`, () => {
      expect(run(fresh(base))).toEqual({ controls: null, host: null, guest: null });
    });
  }
});

interface Case<C> {
  readonly name: string;
  readonly base?: Base;
  readonly check: C;
  readonly field: number;
  readonly ia32e?: boolean;
  readonly qualification?: number;
  /** A capability model other than the default one. */
  readonly caps?: VmxCapabilities;
  readonly breakIt: (v: Vmcs) => void;
}

const controlCases: Case<ControlCheck>[] = [
  {
    name: 'a default1 pin-based bit cleared',
    check: 'pin-based-reserved',
    field: F.PinBasedControls,
    breakIt: (v) => and32(v, F.PinBasedControls, ~0x16),
  },
  {
    name: 'posted interrupts (not offered)',
    check: 'pin-based-reserved',
    field: F.PinBasedControls,
    breakIt: (v) => or32(v, F.PinBasedControls, PinBased.ProcessPostedInterrupts),
  },
  {
    name: 'monitor trap flag (not offered)',
    check: 'proc-based-reserved',
    field: F.ProcBasedControls,
    breakIt: (v) => or32(v, F.ProcBasedControls, ProcBased.MonitorTrapFlag),
  },
  {
    name: 'a default1 processor-based bit cleared',
    check: 'proc-based-reserved',
    field: F.ProcBasedControls,
    breakIt: (v) => and32(v, F.ProcBasedControls, ~(1 << 1)),
  },
  {
    name: 'APIC-access virtualization (not offered)',
    check: 'secondary-reserved',
    field: F.SecondaryProcBasedControls,
    breakIt: (v) => or32(v, F.SecondaryProcBasedControls, ProcBased2.VirtualizeApicAccesses),
  },
  {
    name: 'five CR3 targets',
    check: 'cr3-target-count',
    field: F.Cr3TargetCount,
    breakIt: (v) => v.write32(F.Cr3TargetCount, 5),
  },
  {
    name: 'a misaligned I/O bitmap A',
    check: 'io-bitmap-address',
    field: F.IoBitmapA,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseIoBitmaps);
      v.write64(F.IoBitmapA, 0x1001, 0);
      v.write64(F.IoBitmapB, 0x2000, 0);
    },
  },
  {
    name: 'I/O bitmap B beyond MAXPHYADDR',
    check: 'io-bitmap-address',
    field: F.IoBitmapB,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseIoBitmaps);
      v.write64(F.IoBitmapA, 0x1000, 0);
      v.write64(F.IoBitmapB, 0x2000, 0x80); // bit 39
    },
  },
  {
    name: 'an MSR bitmap beyond MAXPHYADDR',
    check: 'msr-bitmap-address',
    field: F.MsrBitmap,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseMsrBitmaps);
      v.write64(F.MsrBitmap, 0x3000, 1 << 10);
    },
  },
  {
    name: 'a misaligned virtual-APIC page',
    check: 'virtual-apic-address',
    field: F.VirtualApicAddress,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseTprShadow);
      v.write64(F.VirtualApicAddress, VAPIC + 0x10, 0);
    },
  },
  {
    name: 'TPR threshold bits 31:4 set',
    check: 'tpr-threshold-reserved',
    field: F.TprThreshold,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseTprShadow);
      v.write64(F.VirtualApicAddress, VAPIC, 0);
      v.write32(F.TprThreshold, 0x10);
    },
  },
  {
    name: 'TPR threshold above VTPR[7:4]',
    check: 'tpr-threshold-above-vtpr',
    field: F.TprThreshold,
    breakIt: (v) => {
      or32(v, F.ProcBasedControls, ProcBased.UseTprShadow);
      v.write64(F.VirtualApicAddress, VAPIC, 0);
      v.write32(F.TprThreshold, 6);
    },
  },
  {
    name: 'virtual NMIs without NMI exiting',
    check: 'virtual-nmis-without-nmi-exiting',
    field: F.PinBasedControls,
    breakIt: (v) => v.write32(F.PinBasedControls, caps.pin.allowed0 | PinBased.VirtualNmis),
  },
  {
    name: 'NMI-window exiting without virtual NMIs',
    check: 'nmi-window-without-virtual-nmis',
    field: F.ProcBasedControls,
    breakIt: (v) => or32(v, F.ProcBasedControls, ProcBased.NmiWindowExiting),
  },
  {
    name: 'VPID 0 with VPIDs enabled',
    check: 'vpid-zero',
    field: F.VirtualProcessorId,
    breakIt: (v) => v.write32(F.VirtualProcessorId, 0),
  },
  {
    name: 'EPTP memory type WC',
    check: 'eptp-memory-type',
    field: F.EptPointer,
    breakIt: (v) => setLo(v, F.EptPointer, (v.readLo(F.EptPointer) & ~7) | 1),
  },
  {
    name: 'EPTP walk length 3',
    check: 'eptp-walk-length',
    field: F.EptPointer,
    breakIt: (v) => setLo(v, F.EptPointer, (v.readLo(F.EptPointer) & ~0x38) | (2 << 3)),
  },
  {
    name: 'EPTP A/D enable on a model without EPT A/D',
    check: 'eptp-accessed-dirty',
    field: F.EptPointer,
    caps: capsNoAd,
    breakIt: (v) => or32(v, F.EptPointer, 0x40),
  },
  {
    name: 'EPTP bit 8 set',
    check: 'eptp-reserved',
    field: F.EptPointer,
    breakIt: (v) => or32(v, F.EptPointer, 0x100),
  },
  {
    name: 'EPTP beyond MAXPHYADDR',
    check: 'eptp-reserved',
    field: F.EptPointer,
    breakIt: (v) => setHi(v, F.EptPointer, 0x100),
  },
  {
    name: 'unrestricted guest without EPT',
    check: 'unrestricted-guest-without-ept',
    field: F.SecondaryProcBasedControls,
    breakIt: (v) => v.write32(F.SecondaryProcBasedControls, ProcBased2.UnrestrictedGuest),
  },
  {
    name: 'a default1 exit-control bit cleared',
    check: 'exit-reserved',
    field: F.ExitControls,
    breakIt: (v) => and32(v, F.ExitControls, ~1),
  },
  {
    name: 'load IA32_PERF_GLOBAL_CTRL on exit (not offered)',
    check: 'exit-reserved',
    field: F.ExitControls,
    breakIt: (v) => or32(v, F.ExitControls, ExitCtl.LoadPerfGlobalCtrl),
  },
  {
    name: 'save preemption timer without the timer',
    check: 'save-preemption-timer-without-timer',
    field: F.ExitControls,
    breakIt: (v) => or32(v, F.ExitControls, ExitCtl.SavePreemptionTimer),
  },
  {
    name: 'a misaligned VM-exit MSR-store area',
    check: 'exit-msr-store-address',
    field: F.ExitMsrStoreAddress,
    breakIt: (v) => {
      v.write32(F.ExitMsrStoreCount, 1);
      v.write64(F.ExitMsrStoreAddress, 0x1008, 0);
    },
  },
  {
    name: 'a VM-exit MSR-load area whose last byte is beyond MAXPHYADDR',
    check: 'exit-msr-load-address',
    field: F.ExitMsrLoadAddress,
    breakIt: (v) => {
      v.write32(F.ExitMsrLoadCount, 2);
      v.write64(F.ExitMsrLoadAddress, 0xffff_fff0, 0x7f); // 2^39 - 16
    },
  },
  {
    name: 'entry to SMM (not offered)',
    check: 'entry-reserved',
    field: F.EntryControls,
    breakIt: (v) => or32(v, F.EntryControls, EntryCtl.EntryToSmm),
  },
  {
    name: 'a misaligned VM-entry MSR-load area',
    check: 'entry-msr-load-address',
    field: F.EntryMsrLoadAddress,
    breakIt: (v) => {
      v.write32(F.EntryMsrLoadCount, 1);
      v.write64(F.EntryMsrLoadAddress, 0x1004, 0);
    },
  },
  {
    name: 'interruption info bit 12 set',
    check: 'injection-reserved-bits',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(32, 0) | (1 << 12)),
  },
  {
    name: 'interruption type 1',
    check: 'injection-type',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(32, 0) | (1 << 8)),
  },
  {
    name: 'interruption type 7 without MTF',
    check: 'injection-type',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 0, InterruptionType.OtherEvent),
  },
  {
    name: 'an NMI with vector 3',
    check: 'injection-vector',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 3, InterruptionType.Nmi),
  },
  {
    name: 'a hardware exception with vector 32',
    check: 'injection-vector',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 32, InterruptionType.HardwareException),
  },
  {
    name: '#GP without deliver-error-code',
    check: 'injection-error-code-flag',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 13, InterruptionType.HardwareException),
  },
  {
    name: '#UD with deliver-error-code',
    check: 'injection-error-code-flag',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 6, InterruptionType.HardwareException, true),
  },
  {
    name: 'a software interrupt with deliver-error-code',
    check: 'injection-error-code-flag',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 13, InterruptionType.SoftwareInterrupt, true),
  },
  {
    name: '#GP with an error code into a real-mode guest',
    base: 'real',
    check: 'injection-error-code-flag',
    field: F.EntryInterruptionInfo,
    breakIt: (v) => inject(v, 13, InterruptionType.HardwareException, true),
  },
  {
    name: 'an error code with bits 31:16 set',
    check: 'injection-error-code-reserved',
    field: F.EntryExceptionErrorCode,
    breakIt: (v) => {
      inject(v, 13, InterruptionType.HardwareException, true);
      v.write32(F.EntryExceptionErrorCode, 0x1_0000);
    },
  },
  {
    name: 'a software interrupt with instruction length 0',
    check: 'injection-instruction-length',
    field: F.EntryInstructionLength,
    breakIt: (v) => {
      inject(v, 0x80, InterruptionType.SoftwareInterrupt);
      v.write32(F.EntryInstructionLength, 0);
    },
  },
  {
    name: 'a software exception with instruction length 16',
    check: 'injection-instruction-length',
    field: F.EntryInstructionLength,
    breakIt: (v) => {
      inject(v, 3, InterruptionType.SoftwareException);
      v.write32(F.EntryInstructionLength, 16);
    },
  },
];

/** Turns the 64-bit host into a 32-bit one (for checks that only apply there). */
function host32(v: Vmcs): void {
  and32(v, F.ExitControls, ~(ExitCtl.HostAddressSpaceSize | ExitCtl.LoadEfer));
  and32(v, F.EntryControls, ~EntryCtl.Ia32eModeGuest);
}

const hostCases: Case<HostCheck>[] = [
  { name: 'host CR0.PE clear', check: 'host-cr0', field: F.HostCr0, breakIt: (v) => and32(v, F.HostCr0, ~1) },
  {
    name: 'host CR0 bit 32 set',
    check: 'host-cr0',
    field: F.HostCr0,
    breakIt: (v) => setHi(v, F.HostCr0, 1),
  },
  {
    name: 'host CR4.VMXE clear',
    check: 'host-cr4',
    field: F.HostCr4,
    breakIt: (v) => and32(v, F.HostCr4, ~0x2000),
  },
  {
    name: 'host CR3 beyond MAXPHYADDR',
    check: 'host-cr3',
    field: F.HostCr3,
    breakIt: (v) => setHi(v, F.HostCr3, 0x100),
  },
  {
    name: 'a non-canonical host SYSENTER_ESP',
    check: 'host-sysenter-canonical',
    field: F.HostIa32SysenterEsp,
    breakIt: (v) => setHi(v, F.HostIa32SysenterEsp, 0x1_0000),
  },
  {
    name: 'a non-canonical host SYSENTER_EIP',
    check: 'host-sysenter-canonical',
    field: F.HostIa32SysenterEip,
    breakIt: (v) => setHi(v, F.HostIa32SysenterEip, 0x8000),
  },
  {
    name: 'host PAT with memory type 2',
    check: 'host-pat',
    field: F.HostIa32Pat,
    breakIt: (v) => {
      or32(v, F.ExitControls, ExitCtl.LoadPat);
      v.write64(F.HostIa32Pat, 0x0007_0406, 0x0002_0406);
    },
  },
  {
    name: 'host EFER.SVME set',
    check: 'host-efer-reserved',
    field: F.HostIa32Efer,
    breakIt: (v) => or32(v, F.HostIa32Efer, 1 << 12),
  },
  {
    name: 'host EFER.LMA clear with a 64-bit host',
    check: 'host-efer-lma-lme',
    field: F.HostIa32Efer,
    breakIt: (v) => v.write64(F.HostIa32Efer, 0x100, 0),
  },
  {
    name: 'host DS selector with RPL 3',
    check: 'host-selector-rpl-ti',
    field: F.HostDsSelector,
    breakIt: (v) => v.write32(F.HostDsSelector, 0x13),
  },
  {
    name: 'host TR selector with TI set',
    check: 'host-selector-rpl-ti',
    field: F.HostTrSelector,
    breakIt: (v) => v.write32(F.HostTrSelector, 0x1c),
  },
  {
    name: 'host CS selector 0',
    check: 'host-cs-null',
    field: F.HostCsSelector,
    breakIt: (v) => v.write32(F.HostCsSelector, 0),
  },
  {
    name: 'host TR selector 0',
    check: 'host-tr-null',
    field: F.HostTrSelector,
    breakIt: (v) => v.write32(F.HostTrSelector, 0),
  },
  {
    name: 'host SS selector 0 with a 32-bit host',
    check: 'host-ss-null',
    field: F.HostSsSelector,
    ia32e: false,
    breakIt: (v) => {
      host32(v);
      v.write32(F.HostSsSelector, 0);
    },
  },
  {
    name: 'a non-canonical host GDTR base',
    check: 'host-base-canonical',
    field: F.HostGdtrBase,
    breakIt: (v) => setHi(v, F.HostGdtrBase, 0x8000),
  },
  {
    name: 'a non-canonical host FS base',
    check: 'host-base-canonical',
    field: F.HostFsBase,
    breakIt: (v) => setHi(v, F.HostFsBase, 0x7fff_0000),
  },
  {
    name: 'a 64-bit host from outside IA-32e mode',
    check: 'host-size-outside-ia32e',
    field: F.ExitControls,
    ia32e: false,
    breakIt: () => {},
  },
  {
    name: 'an IA-32e guest from outside IA-32e mode',
    check: 'guest-ia32e-outside-ia32e',
    field: F.EntryControls,
    ia32e: false,
    breakIt: (v) => and32(v, F.ExitControls, ~(ExitCtl.HostAddressSpaceSize | ExitCtl.LoadEfer)),
  },
  {
    name: 'a 32-bit host from inside IA-32e mode',
    check: 'host-size-inside-ia32e',
    field: F.ExitControls,
    breakIt: (v) => and32(v, F.ExitControls, ~(ExitCtl.HostAddressSpaceSize | ExitCtl.LoadEfer)),
  },
  {
    name: 'host CR4.PCIDE with a 32-bit host',
    check: 'host-cr4-pcide',
    field: F.HostCr4,
    ia32e: false,
    breakIt: (v) => {
      host32(v);
      or32(v, F.HostCr4, 1 << 17);
    },
  },
  {
    name: 'host RIP above 4 GiB with a 32-bit host',
    check: 'host-rip-high',
    field: F.HostRip,
    ia32e: false,
    breakIt: (v) => {
      host32(v);
      setHi(v, F.HostRip, 1);
    },
  },
  {
    name: 'host CR4.PAE clear with a 64-bit host',
    check: 'host-cr4-pae',
    field: F.HostCr4,
    breakIt: (v) => v.write64(F.HostCr4, 0x2000, 0),
  },
  {
    name: 'a non-canonical host RIP',
    check: 'host-rip-canonical',
    field: F.HostRip,
    breakIt: (v) => setHi(v, F.HostRip, 0x8000),
  },
];

const ring3 = (v: Vmcs): void => {
  v.write32(F.GuestCsSelector, 0x0b);
  v.write32(F.GuestCsAccessRights, 0xa0fb);
  v.write32(F.GuestSsSelector, 0x13);
  v.write32(F.GuestSsAccessRights, 0xc0f3);
};

const guestCases: Case<GuestCheck>[] = [
  {
    name: 'guest CR0.NE clear',
    check: 'guest-cr0',
    field: F.GuestCr0,
    breakIt: (v) => and32(v, F.GuestCr0, ~0x20),
  },
  {
    name: 'guest CR0.PE clear without unrestricted guest',
    check: 'guest-cr0',
    field: F.GuestCr0,
    base: 'pae',
    breakIt: (v) => and32(v, F.GuestCr0, ~1),
  },
  {
    name: 'guest CR0.PG without PE (unrestricted)',
    check: 'guest-cr0-pg-without-pe',
    field: F.GuestCr0,
    base: 'real',
    breakIt: (v) => or32(v, F.GuestCr0, 1 << 31),
  },
  {
    name: 'guest CR4.VMXE clear',
    check: 'guest-cr4',
    field: F.GuestCr4,
    breakIt: (v) => and32(v, F.GuestCr4, ~0x2000),
  },
  {
    name: 'guest CR4.LA57 (not implemented)',
    check: 'guest-cr4',
    field: F.GuestCr4,
    breakIt: (v) => or32(v, F.GuestCr4, 1 << 12),
  },
  {
    name: 'an IA-32e guest without CR4.PAE',
    check: 'guest-ia32e-paging',
    field: F.GuestCr0,
    breakIt: (v) => v.write64(F.GuestCr4, 0x2000, 0),
  },
  {
    name: 'guest CR4.PCIDE outside IA-32e mode',
    check: 'guest-cr4-pcide',
    field: F.GuestCr4,
    base: 'real',
    breakIt: (v) => or32(v, F.GuestCr4, 1 << 17),
  },
  {
    name: 'guest CR3 beyond MAXPHYADDR',
    check: 'guest-cr3',
    field: F.GuestCr3,
    breakIt: (v) => setHi(v, F.GuestCr3, 0x80),
  },
  {
    name: 'guest IA32_DEBUGCTL bit 6 (not implemented)',
    check: 'guest-debugctl',
    field: F.GuestIa32Debugctl,
    breakIt: (v) => {
      or32(v, F.EntryControls, EntryCtl.LoadDebugControls);
      v.write64(F.GuestIa32Debugctl, 0x40, 0);
    },
  },
  {
    name: 'guest DR7 bit 32 set',
    check: 'guest-dr7',
    field: F.GuestDr7,
    breakIt: (v) => {
      or32(v, F.EntryControls, EntryCtl.LoadDebugControls);
      setHi(v, F.GuestDr7, 1);
    },
  },
  {
    name: 'a non-canonical guest SYSENTER_EIP',
    check: 'guest-sysenter-canonical',
    field: F.GuestIa32SysenterEip,
    breakIt: (v) => setHi(v, F.GuestIa32SysenterEip, 0x1_0000),
  },
  {
    name: 'guest PAT with memory type 3',
    check: 'guest-pat',
    field: F.GuestIa32Pat,
    breakIt: (v) => {
      or32(v, F.EntryControls, EntryCtl.LoadPat);
      v.write64(F.GuestIa32Pat, 0x0007_0403, 0x0007_0406);
    },
  },
  {
    name: 'guest EFER.SVME set',
    check: 'guest-efer-reserved',
    field: F.GuestIa32Efer,
    breakIt: (v) => or32(v, F.GuestIa32Efer, 1 << 12),
  },
  {
    name: 'guest EFER.LMA clear in an IA-32e guest',
    check: 'guest-efer-lma',
    field: F.GuestIa32Efer,
    breakIt: (v) => v.write64(F.GuestIa32Efer, 0x100, 0),
  },
  {
    name: 'guest EFER.LME clear with paging in an IA-32e guest',
    check: 'guest-efer-lme',
    field: F.GuestIa32Efer,
    breakIt: (v) => v.write64(F.GuestIa32Efer, 0x400, 0),
  },
  {
    name: 'guest TR selector with TI set',
    check: 'selector-ti',
    field: F.GuestTrSelector,
    breakIt: (v) => v.write32(F.GuestTrSelector, 0x1c),
  },
  {
    name: 'a usable LDTR selector with TI set',
    check: 'selector-ti',
    field: F.GuestLdtrSelector,
    base: 'real',
    breakIt: (v) => v.write32(F.GuestLdtrSelector, 0x4),
  },
  {
    name: 'SS.RPL different from CS.RPL',
    check: 'ss-rpl',
    field: F.GuestSsSelector,
    breakIt: (v) => v.write32(F.GuestSsSelector, 0x13),
  },
  {
    name: 'a v86 DS base not selector*16',
    check: 'v86-base',
    field: F.GuestDsBase,
    base: 'v86',
    breakIt: (v) => v.write64(F.GuestDsBase, 0x1_0010, 0),
  },
  {
    name: 'a v86 SS limit not 0xffff',
    check: 'v86-limit',
    field: F.GuestSsLimit,
    base: 'v86',
    breakIt: (v) => v.write32(F.GuestSsLimit, 0xfffff),
  },
  {
    name: 'v86 GS access rights not 0xf3',
    check: 'v86-access-rights',
    field: F.GuestGsAccessRights,
    base: 'v86',
    breakIt: (v) => v.write32(F.GuestGsAccessRights, 0x93),
  },
  {
    name: 'a non-canonical guest FS base',
    check: 'base-canonical',
    field: F.GuestFsBase,
    breakIt: (v) => setHi(v, F.GuestFsBase, 0x8000),
  },
  {
    name: 'a non-canonical guest TR base',
    check: 'base-canonical',
    field: F.GuestTrBase,
    breakIt: (v) => setHi(v, F.GuestTrBase, 0x1_0000),
  },
  {
    name: 'a non-canonical usable LDTR base',
    check: 'base-canonical',
    field: F.GuestLdtrBase,
    base: 'real',
    breakIt: (v) => setHi(v, F.GuestLdtrBase, 0x1_0000),
  },
  {
    name: 'a non-canonical guest IDTR base',
    check: 'base-canonical',
    field: F.GuestIdtrBase,
    breakIt: (v) => setHi(v, F.GuestIdtrBase, 0x1_0000),
  },
  {
    name: 'guest CS base above 4 GiB',
    check: 'base-high',
    field: F.GuestCsBase,
    breakIt: (v) => setHi(v, F.GuestCsBase, 1),
  },
  {
    name: 'a usable guest ES base above 4 GiB',
    check: 'base-high',
    field: F.GuestEsBase,
    breakIt: (v) => setHi(v, F.GuestEsBase, 1),
  },
  {
    name: 'CS type 3 without unrestricted guest',
    check: 'cs-type',
    field: F.GuestCsAccessRights,
    breakIt: (v) => v.write32(F.GuestCsAccessRights, 0xa093),
  },
  {
    name: 'CS type 8 (not accessed)',
    check: 'cs-type',
    field: F.GuestCsAccessRights,
    breakIt: (v) => v.write32(F.GuestCsAccessRights, 0xa098),
  },
  {
    name: 'SS a code segment',
    check: 'ss-type',
    field: F.GuestSsAccessRights,
    breakIt: (v) => v.write32(F.GuestSsAccessRights, 0xc09b),
  },
  {
    name: 'DS not accessed',
    check: 'data-segment-type',
    field: F.GuestDsAccessRights,
    breakIt: (v) => v.write32(F.GuestDsAccessRights, 0xc092),
  },
  {
    name: 'FS an execute-only code segment',
    check: 'data-segment-type',
    field: F.GuestFsAccessRights,
    breakIt: (v) => v.write32(F.GuestFsAccessRights, 0xc099),
  },
  {
    name: 'ES a system descriptor',
    check: 'descriptor-type',
    field: F.GuestEsAccessRights,
    breakIt: (v) => v.write32(F.GuestEsAccessRights, 0xc083),
  },
  {
    name: 'TR a code/data descriptor',
    check: 'descriptor-type',
    field: F.GuestTrAccessRights,
    breakIt: (v) => v.write32(F.GuestTrAccessRights, 0x9b),
  },
  {
    name: 'non-conforming CS.DPL different from SS.DPL',
    check: 'cs-dpl',
    field: F.GuestCsAccessRights,
    breakIt: (v) => v.write32(F.GuestCsAccessRights, 0xa0bb),
  },
  {
    name: 'conforming CS.DPL above SS.DPL',
    check: 'cs-dpl',
    field: F.GuestCsAccessRights,
    breakIt: (v) => v.write32(F.GuestCsAccessRights, 0xa0bf),
  },
  {
    name: 'unrestricted-guest CS of type 3 with DPL 3',
    check: 'cs-dpl',
    field: F.GuestCsAccessRights,
    base: 'real',
    breakIt: (v) => v.write32(F.GuestCsAccessRights, 0xf3),
  },
  {
    name: 'SS.DPL different from SS.RPL (conforming CS)',
    check: 'ss-dpl',
    field: F.GuestSsAccessRights,
    breakIt: (v) => {
      v.write32(F.GuestCsAccessRights, 0xa09f);
      v.write32(F.GuestSsAccessRights, 0xc0f3);
    },
  },
  {
    name: 'SS.DPL 3 in a real-mode guest (conforming CS)',
    check: 'ss-dpl',
    field: F.GuestSsAccessRights,
    base: 'real',
    breakIt: (v) => {
      v.write32(F.GuestCsAccessRights, 0x9f);
      v.write32(F.GuestSsAccessRights, 0xf3);
    },
  },
  {
    name: 'DS.DPL below DS.RPL',
    check: 'data-segment-dpl',
    field: F.GuestDsAccessRights,
    breakIt: (v) => v.write32(F.GuestDsSelector, 0x13),
  },
  {
    name: 'GS not present',
    check: 'segment-present',
    field: F.GuestGsAccessRights,
    breakIt: (v) => v.write32(F.GuestGsAccessRights, 0xc013),
  },
  {
    name: 'TR not present',
    check: 'segment-present',
    field: F.GuestTrAccessRights,
    breakIt: (v) => v.write32(F.GuestTrAccessRights, 0x0b),
  },
  {
    name: 'ES access-rights bit 8 set',
    check: 'access-rights-reserved',
    field: F.GuestEsAccessRights,
    breakIt: (v) => or32(v, F.GuestEsAccessRights, 0x100),
  },
  {
    name: 'CS access-rights bit 17 set',
    check: 'access-rights-reserved',
    field: F.GuestCsAccessRights,
    breakIt: (v) => or32(v, F.GuestCsAccessRights, 0x2_0000),
  },
  {
    name: 'CS with both L and D in an IA-32e guest',
    check: 'cs-long-and-default',
    field: F.GuestCsAccessRights,
    breakIt: (v) => or32(v, F.GuestCsAccessRights, 0x4000),
  },
  {
    name: 'SS G=1 with limit bits 11:0 clear',
    check: 'granularity',
    field: F.GuestSsAccessRights,
    breakIt: (v) => v.write32(F.GuestSsLimit, 0xffff_f000),
  },
  {
    name: 'TR G=0 with a limit above 1 MiB',
    check: 'granularity',
    field: F.GuestTrAccessRights,
    breakIt: (v) => v.write32(F.GuestTrLimit, 0x10_0000),
  },
  {
    name: 'a 16-bit busy TSS in an IA-32e guest',
    check: 'tr-type',
    field: F.GuestTrAccessRights,
    breakIt: (v) => v.write32(F.GuestTrAccessRights, 0x83),
  },
  {
    name: 'TR an available TSS',
    check: 'tr-type',
    field: F.GuestTrAccessRights,
    base: 'pae',
    breakIt: (v) => v.write32(F.GuestTrAccessRights, 0x89),
  },
  {
    name: 'TR unusable',
    check: 'tr-unusable',
    field: F.GuestTrAccessRights,
    breakIt: (v) => or32(v, F.GuestTrAccessRights, 0x1_0000),
  },
  {
    name: 'a usable LDTR of type 3',
    check: 'ldtr-type',
    field: F.GuestLdtrAccessRights,
    base: 'real',
    breakIt: (v) => v.write32(F.GuestLdtrAccessRights, 0x83),
  },
  {
    name: 'GDTR limit above 0xffff',
    check: 'descriptor-table-limit',
    field: F.GuestGdtrLimit,
    breakIt: (v) => v.write32(F.GuestGdtrLimit, 0x1_0000),
  },
  {
    name: 'a non-canonical RIP in 64-bit mode',
    check: 'guest-rip',
    field: F.GuestRip,
    breakIt: (v) => setHi(v, F.GuestRip, 0x8000),
  },
  {
    name: 'RIP above 4 GiB outside 64-bit mode',
    check: 'guest-rip',
    field: F.GuestRip,
    base: 'real',
    breakIt: (v) => setHi(v, F.GuestRip, 1),
  },
  {
    name: 'RFLAGS bit 3 set',
    check: 'rflags-reserved',
    field: F.GuestRflags,
    breakIt: (v) => or32(v, F.GuestRflags, 8),
  },
  {
    name: 'RFLAGS bit 1 clear',
    check: 'rflags-reserved',
    field: F.GuestRflags,
    breakIt: (v) => v.write64(F.GuestRflags, 0, 0),
  },
  {
    name: 'RFLAGS.VM with CR0.PE clear',
    check: 'rflags-vm',
    field: F.GuestRflags,
    base: 'real',
    breakIt: (v) => {
      for (const f of [
        F.GuestCsAccessRights,
        F.GuestSsAccessRights,
        F.GuestDsAccessRights,
        F.GuestEsAccessRights,
        F.GuestFsAccessRights,
        F.GuestGsAccessRights,
      ]) {
        v.write32(f, 0xf3);
      }
      or32(v, F.GuestRflags, 1 << 17);
    },
  },
  {
    name: 'an external interrupt injected with IF clear',
    check: 'rflags-if',
    field: F.GuestRflags,
    breakIt: (v) => inject(v, 0x20, InterruptionType.ExternalInterrupt),
  },
  {
    name: 'activity state shutdown (not offered)',
    check: 'activity-state',
    field: F.GuestActivityState,
    breakIt: (v) => v.write32(F.GuestActivityState, 2),
  },
  {
    name: 'activity state 4',
    check: 'activity-state',
    field: F.GuestActivityState,
    breakIt: (v) => v.write32(F.GuestActivityState, 4),
  },
  {
    name: 'HLT with SS.DPL 3',
    check: 'activity-hlt-dpl',
    field: F.GuestActivityState,
    breakIt: (v) => {
      ring3(v);
      v.write32(F.GuestActivityState, 1);
    },
  },
  {
    name: 'HLT with blocking by STI',
    check: 'activity-blocking',
    field: F.GuestActivityState,
    breakIt: (v) => {
      v.write64(F.GuestRflags, 0x202, 0);
      v.write32(F.GuestInterruptibilityState, 1);
      v.write32(F.GuestActivityState, 1);
    },
  },
  {
    name: 'HLT with a #GP injected',
    check: 'activity-event',
    field: F.GuestActivityState,
    breakIt: (v) => {
      v.write32(F.GuestActivityState, 1);
      inject(v, 13, InterruptionType.HardwareException, true);
    },
  },
  {
    name: 'interruptibility bit 4 set',
    check: 'interruptibility-reserved',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => v.write32(F.GuestInterruptibilityState, 0x10),
  },
  {
    name: 'blocking by STI and by MOV SS',
    check: 'interruptibility-sti-and-mov-ss',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => {
      v.write64(F.GuestRflags, 0x202, 0);
      v.write32(F.GuestInterruptibilityState, 3);
    },
  },
  {
    name: 'blocking by STI with IF clear',
    check: 'interruptibility-sti-if',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => v.write32(F.GuestInterruptibilityState, 1),
  },
  {
    name: 'an external interrupt injected under MOV-SS blocking',
    check: 'interruptibility-external-interrupt',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => {
      v.write64(F.GuestRflags, 0x202, 0);
      v.write32(F.GuestInterruptibilityState, 2);
      inject(v, 0x20, InterruptionType.ExternalInterrupt);
    },
  },
  {
    name: 'an NMI injected under MOV-SS blocking',
    check: 'interruptibility-nmi-mov-ss',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => {
      v.write32(F.GuestInterruptibilityState, 2);
      inject(v, 2, InterruptionType.Nmi);
    },
  },
  {
    name: 'an NMI injected under STI blocking',
    check: 'interruptibility-nmi-sti',
    field: F.GuestInterruptibilityState,
    qualification: 3,
    breakIt: (v) => {
      v.write64(F.GuestRflags, 0x202, 0);
      v.write32(F.GuestInterruptibilityState, 1);
      inject(v, 2, InterruptionType.Nmi);
    },
  },
  {
    name: 'a virtual NMI injected while virtual NMIs are blocked',
    check: 'interruptibility-virtual-nmi',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => {
      or32(v, F.PinBasedControls, PinBased.VirtualNmis);
      v.write32(F.GuestInterruptibilityState, 8);
      inject(v, 2, InterruptionType.Nmi);
    },
  },
  {
    name: 'blocking by SMI outside SMM',
    check: 'interruptibility-smi',
    field: F.GuestInterruptibilityState,
    breakIt: (v) => v.write32(F.GuestInterruptibilityState, 4),
  },
  {
    name: 'pending debug exceptions bit 4 set',
    check: 'pending-debug-reserved',
    field: F.GuestPendingDebugExceptions,
    breakIt: (v) => v.write64(F.GuestPendingDebugExceptions, 0x10, 0),
  },
  {
    name: 'TF set under STI blocking without a pending BS',
    check: 'pending-debug-bs',
    field: F.GuestPendingDebugExceptions,
    breakIt: (v) => {
      v.write64(F.GuestRflags, 0x302, 0);
      v.write32(F.GuestInterruptibilityState, 1);
    },
  },
  {
    name: 'a misaligned VMCS link pointer',
    check: 'vmcs-link-pointer',
    field: F.VmcsLinkPointer,
    qualification: 4,
    breakIt: (v) => v.write64(F.VmcsLinkPointer, LINK_VMCS + 8, 0),
  },
  {
    name: 'a VMCS link pointer to a region with another revision',
    check: 'vmcs-link-pointer',
    field: F.VmcsLinkPointer,
    qualification: 4,
    breakIt: (v) => v.write64(F.VmcsLinkPointer, LINK_VMCS + 0x1000, 0),
  },
  {
    name: 'a VMCS link pointer equal to the current VMCS',
    check: 'vmcs-link-pointer',
    field: F.VmcsLinkPointer,
    qualification: 4,
    breakIt: (v) => v.write64(F.VmcsLinkPointer, CURRENT_VMCS, 0),
  },
  {
    name: 'a present PDPTE with reserved bit 1 (EPT)',
    check: 'pdpte',
    field: F.GuestPdpte2,
    base: 'pae',
    qualification: 2,
    breakIt: (v) => v.write64(F.GuestPdpte2, 0x1003, 0),
  },
  {
    name: 'a present PDPTE in memory beyond MAXPHYADDR (no EPT)',
    check: 'pdpte',
    field: F.GuestCr3,
    base: 'pae',
    qualification: 2,
    breakIt: (v) => {
      and32(v, F.SecondaryProcBasedControls, ~ProcBased2.EnableEpt);
      mem.write64(0x6000 + 8, 0x2001, 0x100);
    },
  },
];

describe('checkControls: one broken field each fails with VM-instruction error 7', () => {
  for (const c of controlCases) {
    it(`${c.check}: ${c.name}`, () => {
      const v = fresh(c.base ?? 'long');
      c.breakIt(v);
      expect(checkControls(v, c.caps ?? caps, mem)).toEqual({
        stage: 'controls',
        error: VmInstructionError.EntryInvalidControlFields,
        check: c.check,
        field: c.field,
      });
    });
  }
  it('accepts EPT A/D when the model offers it', () => {
    const v = fresh('long');
    or32(v, F.EptPointer, 0x40);
    expect(checkControls(v, caps, mem)).toBeNull();
  });
  it('accepts a TPR threshold equal to VTPR[7:4] and ignores secondary controls when not activated', () => {
    const v = fresh('long');
    or32(v, F.ProcBasedControls, ProcBased.UseTprShadow);
    v.write64(F.VirtualApicAddress, VAPIC, 0);
    v.write32(F.TprThreshold, 5);
    expect(checkControls(v, caps, mem)).toBeNull();
    v.write32(F.SecondaryProcBasedControls, 0xffff_ffff);
    and32(v, F.ProcBasedControls, ~ProcBased.ActivateSecondaryControls);
    expect(checkControls(v, caps, mem)).toBeNull();
  });
  it('accepts every valid injection: #PF with error code, NMI, INT3 with length 1', () => {
    const v = fresh('long');
    inject(v, 14, InterruptionType.HardwareException, true);
    v.write32(F.EntryExceptionErrorCode, 0xffff);
    expect(checkControls(v, caps, mem)).toBeNull();
    inject(v, 2, InterruptionType.Nmi);
    expect(checkControls(v, caps, mem)).toBeNull();
    inject(v, 3, InterruptionType.SoftwareException);
    v.write32(F.EntryInstructionLength, 1);
    expect(checkControls(v, caps, mem)).toBeNull();
  });
});

describe('checkHostState: one broken field each fails with VM-instruction error 8', () => {
  for (const c of hostCases) {
    it(`${c.check}: ${c.name}`, () => {
      const v = fresh(c.base ?? 'long');
      c.breakIt(v);
      expect(checkControls(v, caps, mem)).toBeNull();
      expect(checkHostState(v, caps, c.ia32e ?? true)).toEqual({
        stage: 'host',
        error: VmInstructionError.EntryInvalidHostStateFields,
        check: c.check,
        field: c.field,
      });
    });
  }
  it('accepts a 32-bit host entered from outside IA-32e mode', () => {
    const v = fresh('pae');
    host32(v);
    expect(checkHostState(v, caps, false)).toBeNull();
  });
});

describe('checkGuestState: one broken field each is a VM-entry failure (exit reason 33)', () => {
  for (const c of guestCases) {
    it(`${c.check}: ${c.name}`, () => {
      const v = fresh(c.base ?? 'long');
      c.breakIt(v);
      expect(checkControls(v, caps, mem)).toBeNull();
      expect(checkHostState(v, caps, true)).toBeNull();
      expect(checkGuestState(v, caps, { memory: mem, currentVmcsPointer: CURRENT_VMCS })).toEqual({
        stage: 'guest',
        exitReason: 0x8000_0021,
        qualification: c.qualification ?? 0,
        check: c.check,
        field: c.field,
      });
    });
  }
  it('accepts a valid VMCS link pointer, HLT with an injected external interrupt, and a pending BS', () => {
    const v = fresh('long');
    v.write64(F.VmcsLinkPointer, LINK_VMCS, 0);
    v.write64(F.GuestRflags, 0x202, 0);
    v.write32(F.GuestActivityState, 1);
    inject(v, 0x20, InterruptionType.ExternalInterrupt);
    expect(run(v).guest).toBeNull();
    const w = fresh('long');
    w.write64(F.GuestRflags, 0x302, 0);
    w.write32(F.GuestInterruptibilityState, 1);
    w.write64(F.GuestPendingDebugExceptions, 1 << 14, 0);
    expect(run(w).guest).toBeNull();
  });
  it('exempts CR0.PE/PG under unrestricted guest and never checks CR0.NW/CD', () => {
    const v = fresh('real');
    or32(v, F.GuestCr0, 0x6000_0000);
    expect(run(v).guest).toBeNull();
  });
});

describe('test coverage of the check lists', () => {
  it('has at least one broken-field case for every declared check', () => {
    expect(new Set(controlCases.map((c) => c.check))).toEqual(new Set(CONTROL_CHECKS));
    expect(new Set(hostCases.map((c) => c.check))).toEqual(new Set(HOST_CHECKS));
    expect(new Set(guestCases.map((c) => c.check))).toEqual(new Set(GUEST_CHECKS));
  });
});
