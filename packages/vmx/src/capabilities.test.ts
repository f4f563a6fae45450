import { describe, expect, it } from 'vitest';
import {
  type AllowedSettings,
  DEFAULT_CR4_FIXED1,
  VMCS_REVISION_ID,
  VmxMsr,
  controlsValid,
  createVmxCapabilities,
  readVmxMsr,
} from './capabilities.js';
import { DEFAULT1, EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from './controls.js';

const caps = createVmxCapabilities();
const out = new Uint32Array(2);
const msr = (index: number, c = caps): [number, number] => {
  expect(readVmxMsr(c, index, out)).toBe(true);
  return [out[0]!, out[1]!];
};

describe('IA32_VMX_BASIC', () => {
  it('reports the revision id, a 4-KByte region, write-back memory, INS/OUTS info and TRUE controls', () => {
    const [lo, hi] = msr(VmxMsr.Basic);
    expect(lo).toBe(VMCS_REVISION_ID);
    expect(lo & 0x8000_0000).toBe(0);
    expect(hi & 0x1fff).toBe(4096);
    expect((hi >>> 16) & 1).toBe(0); // bit 48: addresses are not limited to 32 bits
    expect((hi >>> 18) & 0xf).toBe(6);
    expect((hi >>> 22) & 1).toBe(1);
    expect((hi >>> 23) & 1).toBe(1);
  });
});

describe('control capability MSRs', () => {
  const pairs: [string, number, number, AllowedSettings][] = [
    ['pin', VmxMsr.PinBasedCtls, VmxMsr.TruePinBasedCtls, caps.pin],
    ['proc', VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls, caps.proc],
    ['exit', VmxMsr.ExitCtls, VmxMsr.TrueExitCtls, caps.exit],
    ['entry', VmxMsr.EntryCtls, VmxMsr.TrueEntryCtls, caps.entry],
  ];
  for (const [name, legacy, truer, allowed] of pairs) {
    it(`${name}: the TRUE MSR relaxes only default1 bits, and allowed-0 is a subset of allowed-1`, () => {
      const [lo, hi] = msr(legacy);
      const [tlo, thi] = msr(truer);
      expect(lo).toBe(DEFAULT1[name as keyof typeof DEFAULT1]);
      expect(thi).toBe(hi);
      expect((tlo & ~lo) >>> 0).toBe(0);
      expect((lo & ~hi) >>> 0).toBe(0);
      expect([tlo, thi]).toEqual([allowed.allowed0, allowed.allowed1]);
    });
  }

  it('offers exactly the controls the package models', () => {
    const [, pin1] = msr(VmxMsr.PinBasedCtls);
    expect(pin1 & PinBased.ActivatePreemptionTimer).not.toBe(0);
    expect(pin1 & PinBased.VirtualNmis).not.toBe(0);
    expect(pin1 & PinBased.ProcessPostedInterrupts).toBe(0);
    const [, proc1] = msr(VmxMsr.ProcBasedCtls);
    for (const c of [
      ProcBased.HltExiting,
      ProcBased.UseTprShadow,
      ProcBased.UseMsrBitmaps,
      ProcBased.ActivateSecondaryControls,
    ]) {
      expect(proc1 & c).not.toBe(0);
    }
    expect(proc1 & ProcBased.MonitorTrapFlag).toBe(0);
    expect(proc1 & ProcBased.ActivateTertiaryControls).toBe(0);
    const [proc2lo, proc2hi] = msr(VmxMsr.ProcBasedCtls2);
    expect(proc2lo).toBe(0);
    expect(proc2hi >>> 0).toBe(
      (ProcBased2.EnableEpt |
        ProcBased2.DescriptorTableExiting |
        ProcBased2.EnableRdtscp |
        ProcBased2.EnableVpid |
        ProcBased2.WbinvdExiting |
        ProcBased2.UnrestrictedGuest) >>>
        0,
    );
    const [, exit1] = msr(VmxMsr.ExitCtls);
    expect(exit1 & ExitCtl.AcknowledgeInterruptOnExit).not.toBe(0);
    expect(exit1 & ExitCtl.LoadPerfGlobalCtrl).toBe(0);
    const [, entry1] = msr(VmxMsr.EntryCtls);
    expect(entry1 & EntryCtl.Ia32eModeGuest).not.toBe(0);
    expect(entry1 & EntryCtl.EntryToSmm).toBe(0);
  });

  it('offers INVPCID and XSAVES controls only when the CPU has them', () => {
    const c = createVmxCapabilities({ invpcid: true, xsaves: true, rdtscp: false });
    const [, hi] = msr(VmxMsr.ProcBasedCtls2, c);
    expect(hi & ProcBased2.EnableInvpcid).not.toBe(0);
    expect(hi & ProcBased2.EnableXsavesXrstors).not.toBe(0);
    expect(hi & ProcBased2.EnableRdtscp).toBe(0);
  });
});

describe('IA32_VMX_MISC, fixed bits, VMCS_ENUM and EPT/VPID', () => {
  it('reports timer rate 5, LMA store, HLT only, 4 CR3 targets, 512 MSRs, no VMWRITE to exit info', () => {
    const [lo, hi] = msr(VmxMsr.Misc);
    expect(lo & 0x1f).toBe(5);
    expect((lo >>> 5) & 1).toBe(1);
    expect((lo >>> 6) & 7).toBe(1);
    expect((lo >>> 16) & 0x1ff).toBe(4);
    expect((lo >>> 25) & 7).toBe(0);
    expect((lo >>> 29) & 3).toBe(0);
    expect(hi).toBe(0);
    expect((msr(VmxMsr.Misc, createVmxCapabilities({ writableExitInfo: true }))[0] >>> 29) & 1).toBe(1);
  });

  it('fixes CR0.PE, NE, PG and CR4.VMXE to 1', () => {
    expect(msr(VmxMsr.Cr0Fixed0)).toEqual([0x8000_0021, 0]);
    expect(msr(VmxMsr.Cr0Fixed1)).toEqual([0xffff_ffff, 0]);
    expect(msr(VmxMsr.Cr4Fixed0)).toEqual([0x2000, 0]);
    expect(msr(VmxMsr.Cr4Fixed1)).toEqual([DEFAULT_CR4_FIXED1, 0]);
  });

  it('reports the highest supported field index in VMCS_ENUM bits 9:1', () => {
    expect(msr(VmxMsr.VmcsEnum)).toEqual([0x17 << 1, 0]); // the preemption-timer value, 0x482e
  });

  it('reports EPT 4-level walks with UC/WB, large pages, A/D flags, INVEPT and all INVVPID types', () => {
    const [lo, hi] = msr(VmxMsr.EptVpidCap);
    for (const bit of [0, 6, 8, 14, 16, 17, 20, 21, 25, 26]) expect((lo >>> bit) & 1).toBe(1);
    for (const bit of [7, 22, 23]) expect((lo >>> bit) & 1).toBe(0);
    for (const bit of [32, 40, 41, 42, 43]) expect((hi >>> (bit - 32)) & 1).toBe(1);
  });

  it('has no VMFUNC, tertiary or secondary-exit capability MSR (RDMSR #GPs)', () => {
    expect(readVmxMsr(caps, VmxMsr.VmFunc, out)).toBe(false);
    expect(readVmxMsr(caps, VmxMsr.ProcBasedCtls3, out)).toBe(false);
    expect(readVmxMsr(caps, VmxMsr.ExitCtls2, out)).toBe(false);
    expect(readVmxMsr(caps, 0x10, out)).toBe(false);
  });
});

describe('controlsValid', () => {
  it('requires allowed-0 bits and forbids bits outside allowed-1', () => {
    const a = { allowed0: 0x16, allowed1: 0x7f };
    expect(controlsValid(0x16, a)).toBe(true);
    expect(controlsValid(0x17, a)).toBe(true);
    expect(controlsValid(0x06, a)).toBe(false);
    expect(controlsValid(0x96, a)).toBe(false);
    expect(controlsValid(0x8000_0016 | 0, { allowed0: 0x16, allowed1: 0x8000_007f })).toBe(true);
  });
});

describe('the instruction-exiting controls the unit performs', () => {
  it('RDPMC, MWAIT, MONITOR, PAUSE exiting (primary) and WBINVD exiting (secondary) are allowed-1, not default-1', () => {
    const primary =
      ProcBased.RdpmcExiting | ProcBased.MwaitExiting | ProcBased.MonitorExiting | ProcBased.PauseExiting;
    for (const index of [VmxMsr.ProcBasedCtls, VmxMsr.TrueProcBasedCtls]) {
      const [allowed0, allowed1] = msr(index);
      expect((allowed1 & primary) >>> 0).toBe(primary >>> 0);
      expect(allowed0 & primary).toBe(0);
    }
    const [allowed0, allowed1] = msr(VmxMsr.ProcBasedCtls2);
    expect(allowed1 & ProcBased2.WbinvdExiting).toBe(ProcBased2.WbinvdExiting);
    expect(allowed0 & ProcBased2.WbinvdExiting).toBe(0);
  });
});
