import { GuestMemory } from '@typevisor/memory';
import { beforeEach, describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { EntryCtl, ExitCtl, PinBased, ProcBased, ProcBased2 } from './controls.js';
import {
  ExitInfo,
  INSTRUCTION_RULES,
  InstructionAction,
  advancePreemptionTimer,
  cltsExits,
  exceptionExits,
  externalInterruptExitInfo,
  guestCrRead,
  guestCrWrite,
  guestTsc,
  instructionAction,
  interruptWindowExits,
  ioExits,
  lmswExits,
  movFromCr3Exits,
  movToCr3Exits,
  movToCrExits,
  msrExits,
  nmiWindowExits,
  recordVmExit,
  saveIa32eModeGuest,
  xsavesAction,
} from './exit-conditions.js';
import { ExitReason } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import { setupGuest64 } from './testing/index.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();
const IO_A = 0x2_0000;
const IO_B = 0x2_1000;
const MSR_BITMAP = 0x2_2000;

let mem: GuestMemory;
let vmcs: Vmcs;
const or32 = (f: number, bits: number): void => vmcs.write32(f, vmcs.read32(f) | bits);

beforeEach(() => {
  mem = GuestMemory.create(0x10_0000);
  vmcs = new Vmcs(caps);
  setupGuest64(vmcs, caps);
});

describe('instructionAction', () => {
  it('exits unconditionally for CPUID, XSETBV and the VMX instructions', () => {
    for (const i of ['cpuid', 'xsetbv', 'invd', 'getsec', 'vmcall', 'vmread', 'invept'] as const) {
      expect(instructionAction(vmcs, i)).toBe(InstructionAction.Exit);
    }
  });

  it('follows the primary controls for HLT, INVLPG, RDTSC, MWAIT, MONITOR, PAUSE, RDPMC, MOV DR', () => {
    expect(instructionAction(vmcs, 'hlt')).toBe(InstructionAction.Exit); // the set-up sets HLT exiting
    for (const i of ['invlpg', 'rdtsc', 'mwait', 'monitor', 'pause', 'rdpmc', 'movDr'] as const) {
      expect(instructionAction(vmcs, i)).toBe(InstructionAction.Execute);
      or32(F.ProcBasedControls, INSTRUCTION_RULES[i].bit);
      expect(instructionAction(vmcs, i)).toBe(InstructionAction.Exit);
    }
  });

  it('follows the secondary controls for WBINVD and descriptor-table instructions', () => {
    expect(instructionAction(vmcs, 'wbinvd')).toBe(InstructionAction.Execute);
    expect(instructionAction(vmcs, 'lgdt')).toBe(InstructionAction.Execute);
    or32(F.SecondaryProcBasedControls, ProcBased2.WbinvdExiting | ProcBased2.DescriptorTableExiting);
    expect(instructionAction(vmcs, 'wbinvd')).toBe(InstructionAction.Exit);
    expect(INSTRUCTION_RULES.sidt.reason).toBe(ExitReason.GdtrIdtrAccess);
    expect(INSTRUCTION_RULES.ltr.reason).toBe(ExitReason.LdtrTrAccess);
    expect(instructionAction(vmcs, 'ltr')).toBe(InstructionAction.Exit);
    // secondary controls count only when activated
    vmcs.write32(
      F.ProcBasedControls,
      vmcs.read32(F.ProcBasedControls) & ~ProcBased.ActivateSecondaryControls,
    );
    expect(instructionAction(vmcs, 'wbinvd')).toBe(InstructionAction.Execute);
  });

  it('makes RDTSCP and INVPCID #UD unless enabled, then exit with RDTSC / INVLPG exiting', () => {
    expect(instructionAction(vmcs, 'rdtscp')).toBe(InstructionAction.InvalidOpcode);
    expect(instructionAction(vmcs, 'invpcid')).toBe(InstructionAction.InvalidOpcode);
    or32(F.SecondaryProcBasedControls, ProcBased2.EnableRdtscp | ProcBased2.EnableInvpcid);
    expect(instructionAction(vmcs, 'rdtscp')).toBe(InstructionAction.Execute);
    or32(F.ProcBasedControls, ProcBased.RdtscExiting | ProcBased.InvlpgExiting);
    expect(instructionAction(vmcs, 'rdtscp')).toBe(InstructionAction.Exit);
    expect(instructionAction(vmcs, 'invpcid')).toBe(InstructionAction.Exit);
  });

  it('makes XSAVES #UD unless enabled, then exit on XSS-exiting bitmap hits', () => {
    expect(xsavesAction(vmcs, 1, 0)).toBe(InstructionAction.InvalidOpcode);
    const c = createVmxCapabilities({ xsaves: true });
    const v = new Vmcs(c);
    setupGuest64(v, c);
    v.write32(
      F.SecondaryProcBasedControls,
      v.read32(F.SecondaryProcBasedControls) | ProcBased2.EnableXsavesXrstors,
    );
    v.write64(F.XssExitingBitmap, 0x100, 0);
    expect(xsavesAction(v, 0x1, 0)).toBe(InstructionAction.Execute);
    expect(xsavesAction(v, 0x101, 0)).toBe(InstructionAction.Exit);
  });
});

describe('I/O and MSR bitmaps', () => {
  it('exits on every port with unconditional I/O exiting and no bitmaps', () => {
    expect(ioExits(vmcs, mem, 0x3f8, 1)).toBe(false);
    or32(F.ProcBasedControls, ProcBased.UnconditionalIoExiting);
    expect(ioExits(vmcs, mem, 0x3f8, 1)).toBe(true);
  });

  it('consults bitmap A below 8000H and B above, for every byte of the access, and exits on wrap-around', () => {
    or32(F.ProcBasedControls, ProcBased.UseIoBitmaps | ProcBased.UnconditionalIoExiting);
    vmcs.write64(F.IoBitmapA, IO_A, 0);
    vmcs.write64(F.IoBitmapB, IO_B, 0);
    expect(ioExits(vmcs, mem, 0x3f8, 1)).toBe(false); // unconditional exiting is ignored with bitmaps
    mem.write8(IO_A + (0x3f9 >> 3), 1 << (0x3f9 & 7));
    expect(ioExits(vmcs, mem, 0x3f8, 1)).toBe(false);
    expect(ioExits(vmcs, mem, 0x3f8, 2)).toBe(true);
    mem.write8(IO_B + (0x0cf8 >> 3), 1); // port 0x8cf8
    expect(ioExits(vmcs, mem, 0x8cf8, 4)).toBe(true);
    expect(ioExits(vmcs, mem, 0x0cf8, 4)).toBe(false);
    expect(ioExits(vmcs, mem, 0xfffe, 4)).toBe(true);
  });

  it('exits on every MSR without MSR bitmaps; with them, per read/write quarter and range', () => {
    expect(msrExits(vmcs, mem, 0x10, false)).toBe(true);
    or32(F.ProcBasedControls, ProcBased.UseMsrBitmaps);
    vmcs.write64(F.MsrBitmap, MSR_BITMAP, 0);
    expect(msrExits(vmcs, mem, 0x10, false)).toBe(false);
    mem.write8(MSR_BITMAP + 2048 + (0x10 >> 3), 1 << (0x10 & 7)); // write-low: TSC
    expect(msrExits(vmcs, mem, 0x10, false)).toBe(false);
    expect(msrExits(vmcs, mem, 0x10, true)).toBe(true);
    mem.write8(MSR_BITMAP + 1024 + (0x80 >> 3), 1); // read-high: 0xc0000080 (EFER)
    expect(msrExits(vmcs, mem, 0xc000_0080, false)).toBe(true);
    expect(msrExits(vmcs, mem, 0xc000_0080, true)).toBe(false);
    expect(msrExits(vmcs, mem, 0x4000_0000, false)).toBe(true);
  });
});

describe('control-register accesses', () => {
  it('MOV to CR0/CR4 exits only when a host-owned bit differs from the shadow', () => {
    vmcs.write64(F.Cr0GuestHostMask, 0x8000_0001, 0); // PG, PE owned by the host
    vmcs.write64(F.Cr0ReadShadow, 0x8000_0001, 0);
    expect(movToCrExits(vmcs, 0, 0x8000_0033, 0)).toBe(false);
    expect(movToCrExits(vmcs, 0, 0x0000_0033, 0)).toBe(true);
    vmcs.write64(F.Cr4GuestHostMask, 0x2000, 0); // VMXE owned by the host, shown to the guest as 1
    vmcs.write64(F.Cr4ReadShadow, 0x2000, 0);
    expect(movToCrExits(vmcs, 4, 0x20, 0)).toBe(true);
    vmcs.write64(F.Cr4ReadShadow, 0, 0);
    expect(movToCrExits(vmcs, 4, 0x20, 0)).toBe(false);
  });

  it('reads host-owned bits from the read shadow and keeps them on a non-exiting write', () => {
    vmcs.write64(F.Cr4GuestHostMask, 0x2000, 0);
    vmcs.write64(F.Cr4ReadShadow, 0, 0);
    expect(guestCrRead(vmcs, 4, 0x2020)).toBe(0x20);
    expect(guestCrWrite(vmcs, 4, 0x0620, 0x2020)).toBe(0x2620);
  });

  it('MOV to CR3 exits unless the value is one of the first CR3-target-count targets', () => {
    expect(movToCr3Exits(vmcs, 0x1000, 0)).toBe(false);
    or32(F.ProcBasedControls, ProcBased.Cr3LoadExiting | ProcBased.Cr3StoreExiting);
    vmcs.write64(F.Cr3TargetValue0, 0x1000, 0);
    vmcs.write64(F.Cr3TargetValue1, 0x2000, 0);
    vmcs.write32(F.Cr3TargetCount, 1);
    expect(movToCr3Exits(vmcs, 0x1000, 0)).toBe(false);
    expect(movToCr3Exits(vmcs, 0x2000, 0)).toBe(true);
    vmcs.write32(F.Cr3TargetCount, 2);
    expect(movToCr3Exits(vmcs, 0x2000, 0)).toBe(false);
    expect(movFromCr3Exits(vmcs)).toBe(true);
  });

  it('CLTS exits when TS is host-owned and set in the shadow; LMSW per the PE and MP/EM/TS rules', () => {
    vmcs.write64(F.Cr0GuestHostMask, 0x9, 0); // PE, TS
    vmcs.write64(F.Cr0ReadShadow, 0x8, 0);
    expect(cltsExits(vmcs)).toBe(true);
    expect(lmswExits(vmcs, 0x8)).toBe(false);
    expect(lmswExits(vmcs, 0x9)).toBe(true); // sets PE over a shadow PE of 0
    expect(lmswExits(vmcs, 0x0)).toBe(true); // clears host-owned TS
    vmcs.write64(F.Cr0ReadShadow, 0x1, 0);
    expect(cltsExits(vmcs)).toBe(false);
    expect(lmswExits(vmcs, 0x0)).toBe(false); // LMSW cannot clear PE, so no exit for it
  });
});

describe('exceptions and events', () => {
  it('uses the exception bitmap, inverting bit 14 unless PFEC & mask == match', () => {
    vmcs.write32(F.ExceptionBitmap, (1 << 6) | (1 << 14));
    expect(exceptionExits(vmcs, 6)).toBe(true);
    expect(exceptionExits(vmcs, 13, 0)).toBe(false);
    vmcs.write32(F.PageFaultErrorCodeMask, 0x2); // only writes
    vmcs.write32(F.PageFaultErrorCodeMatch, 0x2);
    expect(exceptionExits(vmcs, 14, 0x3)).toBe(true);
    expect(exceptionExits(vmcs, 14, 0x1)).toBe(false);
    vmcs.write32(F.ExceptionBitmap, 0);
    expect(exceptionExits(vmcs, 14, 0x1)).toBe(true);
  });

  it('reports the vector of an acknowledged external interrupt', () => {
    expect(externalInterruptExitInfo(vmcs, 0x30)).toBe(0x8000_0030);
    vmcs.write32(F.ExitControls, vmcs.read32(F.ExitControls) & ~ExitCtl.AcknowledgeInterruptOnExit);
    expect(externalInterruptExitInfo(vmcs, 0x30)).toBe(0);
  });

  it('opens the interrupt window with IF=1 and no STI/MOV-SS blocking; the NMI window without NMI blocking', () => {
    expect(interruptWindowExits(vmcs, true, 0)).toBe(false);
    or32(F.ProcBasedControls, ProcBased.InterruptWindowExiting | ProcBased.NmiWindowExiting);
    expect(interruptWindowExits(vmcs, true, 0)).toBe(true);
    expect(interruptWindowExits(vmcs, false, 0)).toBe(false);
    expect(interruptWindowExits(vmcs, true, 1)).toBe(false);
    expect(nmiWindowExits(vmcs, 0)).toBe(true);
    expect(nmiWindowExits(vmcs, 8)).toBe(false);
  });
});

describe('TSC offsetting and the preemption timer', () => {
  it('adds the TSC offset with carry into bits 63:32', () => {
    const out = new Uint32Array(2);
    vmcs.write64(F.TscOffset, 0x8000_0000, 0xffff_ffff); // -2^31
    guestTsc(vmcs, 0x1000, 1, out);
    expect([...out]).toEqual([0x1000, 1]);
    or32(F.ProcBasedControls, ProcBased.UseTscOffsetting);
    guestTsc(vmcs, 0x1000, 1, out);
    expect([...out]).toEqual([0x8000_1000, 0]);
  });

  it('counts down once per 2^rate ticks and expires at 0', () => {
    vmcs.write32(F.PreemptionTimerValue, 3);
    expect(advancePreemptionTimer(vmcs, 1000, 5)).toBe(false);
    expect(vmcs.read32(F.PreemptionTimerValue)).toBe(3);
    or32(F.PinBasedControls, PinBased.ActivatePreemptionTimer);
    expect(advancePreemptionTimer(vmcs, 64, 5)).toBe(false);
    expect(vmcs.read32(F.PreemptionTimerValue)).toBe(1);
    expect(advancePreemptionTimer(vmcs, 100, 5)).toBe(true);
    expect(vmcs.read32(F.PreemptionTimerValue)).toBe(0);
  });
});

describe('recordVmExit', () => {
  it('writes the exit-information fields, and the guest-physical address only for EPT exits', () => {
    const info = new ExitInfo().reset(ExitReason.IoInstruction);
    info.qualificationLo = 0x03f8_0000;
    info.instructionLength = 1;
    info.guestPhysicalLo = 0x1234;
    recordVmExit(vmcs, info);
    expect(vmcs.read32(F.ExitReason)).toBe(30);
    expect(vmcs.readLo(F.ExitQualification)).toBe(0x03f8_0000);
    expect(vmcs.read32(F.ExitInstructionLength)).toBe(1);
    expect(vmcs.readLo(F.GuestPhysicalAddress)).toBe(0);
    info.reset(ExitReason.EptViolation).guestPhysicalLo = 0x5000;
    recordVmExit(vmcs, info);
    expect(vmcs.readLo(F.GuestPhysicalAddress)).toBe(0x5000);
  });

  it('stores the guest EFER.LMA into "IA-32e mode guest"', () => {
    saveIa32eModeGuest(vmcs, false);
    expect(vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).toBe(0);
    saveIa32eModeGuest(vmcs, true);
    expect(vmcs.read32(F.EntryControls) & EntryCtl.Ia32eModeGuest).not.toBe(0);
  });
});
