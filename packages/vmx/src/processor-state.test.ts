import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { EntryCtl, ExitCtl, ProcBased2 } from './controls.js';
import { VMCS_FIELDS, VmcsField as F, FieldType, fieldType } from './fields.js';
import {
  HostSegmentAr,
  ProcessorState,
  loadGuestState,
  loadHostState,
  saveGuestState,
} from './processor-state.js';
import { TestLayout, setupGuest64, setupGuestPae, setupRealModeGuest } from './testing/index.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();

function vmcsWith(setup: (v: Vmcs, c: typeof caps) => void): Vmcs {
  const v = new Vmcs(caps);
  setup(v, caps);
  return v;
}

describe('loadGuestState (SDM 27.3.2)', () => {
  it('loads CR0 except ET, NW, CD and the reserved bits, which keep their current values', () => {
    const v = vmcsWith(setupGuest64);
    const s = new ProcessorState();
    s.cr0 = 0x6000_0010; // CD NW ET
    loadGuestState(v, s);
    expect(s.cr0).toBe(0xe001_0031); // PG WP NE PE from the field, CD NW ET kept
    expect([s.cr3Lo, s.cr4]).toEqual([TestLayout.GuestCr3, 0x2020]);
  });

  it('loads DR7 and IA32_DEBUGCTL only with "load debug controls", forcing bit 10 and clearing 12, 15:14', () => {
    const v = vmcsWith(setupGuest64);
    v.write64(F.GuestDr7, 0xf0ff, 0);
    v.write64(F.GuestIa32Debugctl, 1, 0);
    const s = new ProcessorState();
    s.dr7 = 0x455;
    loadGuestState(v, s);
    expect(s.dr7).toBe(0x455);
    v.write32(F.EntryControls, v.read32(F.EntryControls) | EntryCtl.LoadDebugControls);
    loadGuestState(v, s);
    expect(s.dr7).toBe(0x24ff);
    expect(s.debugctlLo).toBe(1);
  });

  it('without "load IA32_EFER": LMA follows IA-32e mode guest, LME too only when CR0.PG is being set', () => {
    const real = vmcsWith(setupRealModeGuest);
    const s = new ProcessorState();
    s.efer = 0xd01; // a 64-bit host's EFER
    loadGuestState(real, s);
    expect(s.efer).toBe(0x901); // LMA cleared, LME unmodified (paging off)

    const long = vmcsWith(setupGuest64);
    long.write32(F.EntryControls, long.read32(F.EntryControls) & ~EntryCtl.LoadEfer);
    s.efer = 0x1;
    loadGuestState(long, s);
    expect(s.efer).toBe(0x501);

    const pae = vmcsWith(setupGuestPae);
    pae.write32(F.EntryControls, pae.read32(F.EntryControls) & ~EntryCtl.LoadEfer);
    s.efer = 0xd01;
    loadGuestState(pae, s);
    expect(s.efer).toBe(0x801);
  });

  it('loads segments, descriptor tables, RIP, RSP, RFLAGS and non-register state as they are', () => {
    const v = vmcsWith(setupGuest64);
    v.write32(F.GuestInterruptibilityState, 1);
    v.write64(F.GuestRflags, 0x202, 0);
    const s = new ProcessorState();
    loadGuestState(v, s);
    expect([s.cs.selector, s.cs.limit, s.cs.ar]).toEqual([0x08, 0xffff_ffff, 0xa09b]);
    expect([s.tr.selector, s.tr.baseLo, s.tr.limit, s.tr.ar]).toEqual([
      0x18,
      TestLayout.GuestTrBase,
      0x67,
      0x8b,
    ]);
    expect(s.ldtr.ar).toBe(0x1_0000);
    expect([s.gdtrBaseLo, s.gdtrLimit, s.idtrBaseLo, s.idtrLimit]).toEqual([
      TestLayout.GuestGdtrBase,
      0x27,
      TestLayout.GuestIdtrBase,
      0xfff,
    ]);
    expect([s.ripLo, s.rspLo, s.rflags, s.interruptibility]).toEqual([
      TestLayout.GuestRip,
      TestLayout.GuestRsp,
      0x202,
      1,
    ]);
  });

  it('takes the PDPTEs from the VMCS for a PAE guest with EPT, not without EPT', () => {
    const v = vmcsWith(setupGuestPae);
    v.write64(F.GuestPdpte1, 0x3001, 0x2);
    const s = new ProcessorState();
    loadGuestState(v, s);
    expect(s.pdptesLoaded).toBe(true);
    expect([s.pdptes[2], s.pdptes[3]]).toEqual([0x3001, 0x2]);
    v.write32(F.SecondaryProcBasedControls, ProcBased2.EnableVpid);
    loadGuestState(v, s);
    expect(s.pdptesLoaded).toBe(false);
  });
});

describe('saveGuestState (SDM 28.3)', () => {
  it('round-trips every guest-state field of a 64-bit guest through the processor', () => {
    const a = vmcsWith(setupGuest64);
    const s = new ProcessorState();
    loadGuestState(a, s);
    const b = vmcsWith(setupGuest64);
    b.write32(F.ExitControls, b.read32(F.ExitControls) | ExitCtl.SaveDebugControls);
    for (const f of VMCS_FIELDS) {
      // The VMCS link pointer is not processor state; everything else must come back from `s`.
      if (f.encoding === F.VmcsLinkPointer) continue;
      if (fieldType(f.encoding) === FieldType.GuestState && b.isSupported(f.encoding))
        b.write64(f.encoding, 0, 0);
    }
    saveGuestState(b, s);
    for (const f of VMCS_FIELDS) {
      if (fieldType(f.encoding) !== FieldType.GuestState || !a.isSupported(f.encoding)) continue;
      expect([f.name, b.readLo(f.encoding), b.readHi(f.encoding)]).toEqual([
        f.name,
        a.readLo(f.encoding),
        a.readHi(f.encoding),
      ]);
    }
  });

  it('stores EFER.LMA into "IA-32e mode guest" and saves DR7, EFER, PAT, the timer only when asked', () => {
    const v = vmcsWith(setupGuest64);
    const s = new ProcessorState();
    loadGuestState(v, s);
    s.efer = 0x100;
    s.dr7 = 0x401;
    s.patLo = 0x0606_0606;
    v.write32(F.ExitControls, v.read32(F.ExitControls) & ~(ExitCtl.SaveDebugControls | ExitCtl.SaveEfer));
    saveGuestState(v, s, 77);
    expect(v.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).toBe(0);
    expect(v.readLo(F.GuestDr7)).toBe(0x400);
    expect(v.readLo(F.GuestIa32Efer)).toBe(0x500);
    expect(v.readLo(F.GuestIa32Pat)).toBe(0);
    expect(v.read32(F.PreemptionTimerValue)).toBe(0);
    v.write32(
      F.ExitControls,
      v.read32(F.ExitControls) |
        ExitCtl.SaveDebugControls |
        ExitCtl.SaveEfer |
        ExitCtl.SavePat |
        ExitCtl.SavePreemptionTimer,
    );
    saveGuestState(v, s, 77);
    expect([
      v.readLo(F.GuestDr7),
      v.readLo(F.GuestIa32Efer),
      v.readLo(F.GuestIa32Pat),
      v.read32(F.PreemptionTimerValue),
    ]).toEqual([0x401, 0x100, 0x0606_0606, 77]);
  });
});

describe('loadHostState (SDM 28.5)', () => {
  it('loads a 64-bit host with the fixed segment attributes, RFLAGS 2, DR7 400H and an unusable LDTR', () => {
    const v = vmcsWith(setupGuest64);
    v.write64(F.HostFsBase, 0x7000_0000, 0x7fff);
    const s = new ProcessorState();
    loadGuestState(v, s);
    s.cr0 |= 0x4000_0000; // CD, kept across the exit
    s.dr7 = 0x4ff;
    s.interruptibility = 3;
    loadHostState(v, s);
    expect(s.cr0).toBe(0xc001_0031);
    expect([s.cr3Lo, s.cr4, s.efer]).toEqual([TestLayout.HostCr3, 0x2020, 0x500]);
    expect([s.cs.selector, s.cs.baseLo, s.cs.limit, s.cs.ar]).toEqual([
      0x08,
      0,
      0xffff_ffff,
      HostSegmentAr.cs64,
    ]);
    expect([s.ss.selector, s.ss.ar]).toEqual([0x10, HostSegmentAr.data]);
    expect([s.fs.selector, s.fs.ar, s.fs.baseLo, s.fs.baseHi]).toEqual([
      0,
      HostSegmentAr.unusable,
      0x7000_0000,
      0x7fff,
    ]);
    expect([s.tr.selector, s.tr.baseLo, s.tr.limit, s.tr.ar]).toEqual([
      0x18,
      TestLayout.HostTrBase,
      0x67,
      0x8b,
    ]);
    expect([s.ldtr.selector, s.ldtr.ar]).toEqual([0, HostSegmentAr.unusable]);
    expect([s.gdtrBaseLo, s.gdtrLimit, s.idtrBaseLo, s.idtrLimit]).toEqual([
      TestLayout.HostGdtrBase,
      0xffff,
      TestLayout.HostIdtrBase,
      0xffff,
    ]);
    expect([s.ripLo, s.rspLo, s.rflags, s.dr7, s.interruptibility]).toEqual([
      TestLayout.HostRip,
      TestLayout.HostRsp,
      2,
      0x400,
      0,
    ]);
  });

  it('without "load IA32_EFER" sets LMA/LME from the host address-space size; a 32-bit host gets CS.D and no PCIDE', () => {
    const v = vmcsWith(setupGuestPae);
    v.write32(F.ExitControls, v.read32(F.ExitControls) & ~(ExitCtl.HostAddressSpaceSize | ExitCtl.LoadEfer));
    v.write64(F.HostCr4, 0x2_2000, 0);
    const s = new ProcessorState();
    s.efer = 0xd01;
    loadHostState(v, s);
    expect(s.efer).toBe(0x801);
    expect(s.cs.ar).toBe(HostSegmentAr.cs32);
    expect(s.cr4).toBe(0x2000);
    v.write32(F.ExitControls, v.read32(F.ExitControls) | ExitCtl.HostAddressSpaceSize);
    v.write64(F.HostCr4, 0x2000, 0);
    loadHostState(v, s);
    expect(s.efer).toBe(0xd01);
    expect(s.cr4).toBe(0x2020);
  });
});
