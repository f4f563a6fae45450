import { GuestMemory } from '@typevisor/memory';
import { beforeEach, describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { ProcBased2 } from './controls.js';
import { ExitReason, InterruptionType, VmInstructionError, makeInterruptionInfo } from './exit-reasons.js';
import { VMCS_FIELDS, VmcsField as F, FieldType, fieldType } from './fields.js';
import {
  INVALID_POINTER,
  type VmxCpu,
  VmxOutcome,
  VmxState,
  completeVmEntry,
  completeVmExit,
  invept,
  invvpid,
  vmcall,
  vmclear,
  vmlaunch,
  vmptrld,
  vmptrst,
  vmread,
  vmresume,
  vmwrite,
  vmxoff,
  vmxon,
} from './instructions.js';
import { TEST_EPTP, setupGuest64 } from './testing/index.js';
import { LaunchState, Vmcs, VmcsRegion, describeVmcs } from './vmcs.js';

const caps = createVmxCapabilities();
const VMXON_REGION = 0x1_0000;
const VMCS_A = 0x1_1000;
const VMCS_B = 0x1_2000;

/** A CPU in 64-bit mode, ring 0, with VMX enabled in CR4 and IA32_FEATURE_CONTROL. */
class FakeCpu implements VmxCpu {
  cplValue = 0;
  cr0Value = 0x8001_0031;
  cr4Value = 0x2020;
  v86Value = false;
  ia32eValue = true;
  mode64Value = true;
  featureControlValue = 0x5;
  movSs = false;
  cf = false;
  zf = false;
  flagWrites = 0;
  readonly memory = GuestMemory.create(0x10_0000);
  readonly eptInvalidations: [number, number, number][] = [];
  readonly vpidInvalidations: [number, number, number, number][] = [];
  cpl(): number {
    return this.cplValue;
  }
  cr0(): number {
    return this.cr0Value;
  }
  cr4(): number {
    return this.cr4Value;
  }
  v86(): boolean {
    return this.v86Value;
  }
  ia32e(): boolean {
    return this.ia32eValue;
  }
  mode64(): boolean {
    return this.mode64Value;
  }
  featureControl(): number {
    return this.featureControlValue;
  }
  blockedByMovSs(): boolean {
    return this.movSs;
  }
  setVmxFlags(cf: boolean, zf: boolean): void {
    this.cf = cf;
    this.zf = zf;
    this.flagWrites++;
  }
  invalidateEpt(type: 1 | 2, lo: number, hi: number): void {
    this.eptInvalidations.push([type, lo, hi]);
  }
  invalidateVpid(type: 0 | 1 | 2 | 3, vpid: number, lo: number, hi: number): void {
    this.vpidInvalidations.push([type, vpid, lo, hi]);
  }
}

let cpu: FakeCpu;
let vmx: VmxState;

const flags = () => ({ cf: cpu.cf, zf: cpu.zf });
const SUCCEED = { cf: false, zf: false };
const FAIL_INVALID = { cf: true, zf: false };
const FAIL_VALID = { cf: false, zf: true };

function instructionError(): number {
  expect(vmread(vmx, cpu, F.VmInstructionError, 0)).toBe(VmxOutcome.Succeed);
  return vmx.out[0]!;
}

/** Enters VMX operation and makes VMCS_A current (VMCLEAR + VMPTRLD), as a hypervisor does. */
function rootWithVmcs(): void {
  expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.Succeed);
  expect(vmclear(vmx, cpu, VMCS_A, 0)).toBe(VmxOutcome.Succeed);
  expect(vmptrld(vmx, cpu, VMCS_A, 0)).toBe(VmxOutcome.Succeed);
}

/** Fills the current VMCS with VMWRITEs from a known-good set-up, the way guest code would. */
function vmwriteGoodGuest(): void {
  const model = new Vmcs(caps);
  setupGuest64(model, caps);
  for (const f of VMCS_FIELDS) {
    if (!model.isSupported(f.encoding) || fieldType(f.encoding) === FieldType.ReadOnlyData) continue;
    expect(vmwrite(vmx, cpu, f.encoding, 0, model.readLo(f.encoding), model.readHi(f.encoding))).toBe(
      VmxOutcome.Succeed,
    );
  }
}

beforeEach(() => {
  cpu = new FakeCpu();
  vmx = new VmxState(caps);
  for (const r of [VMXON_REGION, VMCS_A, VMCS_B]) cpu.memory.write32(r, caps.revisionId);
});

describe('VMXON', () => {
  it('#UD without CR4.VMXE, in virtual-8086 mode and in compatibility mode', () => {
    cpu.cr4Value = 0x20;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.InvalidOpcode);
    cpu.cr4Value = 0x2020;
    cpu.mode64Value = false;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.InvalidOpcode);
    cpu.mode64Value = true;
    cpu.v86Value = true;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.InvalidOpcode);
    expect(cpu.flagWrites).toBe(0);
  });

  it('#GP(0) at CPL 3, with IA32_FEATURE_CONTROL unlocked or VMX disabled, and with CR0.NE clear', () => {
    cpu.cplValue = 3;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.GeneralProtection);
    cpu.cplValue = 0;
    cpu.featureControlValue = 0x4;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.GeneralProtection);
    cpu.featureControlValue = 0x1;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.GeneralProtection);
    cpu.featureControlValue = 0x5;
    cpu.cr0Value = 0x8001_0011;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.GeneralProtection);
    expect(vmx.inVmxOperation).toBe(false);
  });

  it('VMfailInvalid for a misaligned pointer, one beyond MAXPHYADDR, or a wrong revision id', () => {
    expect(vmxon(vmx, cpu, VMXON_REGION + 0x10, 0)).toBe(VmxOutcome.FailInvalid);
    expect(flags()).toEqual(FAIL_INVALID);
    expect(vmxon(vmx, cpu, VMXON_REGION, 0x80)).toBe(VmxOutcome.FailInvalid);
    cpu.memory.write32(VMXON_REGION, caps.revisionId | 0x8000_0000);
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.FailInvalid);
    expect(vmx.inVmxOperation).toBe(false);
  });

  it('enters VMX root operation with no current VMCS (VMsucceed)', () => {
    cpu.cf = true;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.Succeed);
    expect(flags()).toEqual(SUCCEED);
    expect(vmx.inVmxOperation).toBe(true);
    expect(vmx.vmxonPointer).toBe(VMXON_REGION);
    expect(vmx.currentVmcsPointer).toBe(INVALID_POINTER);
  });

  it('in root operation: VMfailInvalid without a current VMCS, VMfailValid(15) with one, #GP at CPL>0', () => {
    vmxon(vmx, cpu, VMXON_REGION, 0);
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.FailInvalid);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.FailValid);
    expect(flags()).toEqual(FAIL_VALID);
    expect(instructionError()).toBe(VmInstructionError.VmxonInRoot);
    cpu.cplValue = 3;
    expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.GeneralProtection);
  });
});

describe('VMXOFF', () => {
  it('#UD outside VMX operation, #GP at CPL>0, leaves VMX operation otherwise', () => {
    expect(vmxoff(vmx, cpu)).toBe(VmxOutcome.InvalidOpcode);
    vmxon(vmx, cpu, VMXON_REGION, 0);
    cpu.cplValue = 1;
    expect(vmxoff(vmx, cpu)).toBe(VmxOutcome.GeneralProtection);
    cpu.cplValue = 0;
    expect(vmxoff(vmx, cpu)).toBe(VmxOutcome.Succeed);
    expect(vmx.inVmxOperation).toBe(false);
    expect(vmread(vmx, cpu, F.GuestRip, 0)).toBe(VmxOutcome.InvalidOpcode);
  });
});

describe('VMCLEAR, VMPTRLD, VMPTRST', () => {
  beforeEach(() => {
    vmxon(vmx, cpu, VMXON_REGION, 0);
  });

  it('VMCLEAR fails with error 2 for a bad address and 3 for the VMXON pointer', () => {
    expect(vmclear(vmx, cpu, VMCS_A + 4, 0)).toBe(VmxOutcome.FailInvalid);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmclear(vmx, cpu, VMCS_B, 0x100)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmclearInvalidAddress);
    expect(vmclear(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmclearVmxonPointer);
  });

  it('VMCLEAR of the current VMCS writes it back, clears its launch state and leaves no current VMCS', () => {
    vmptrld(vmx, cpu, VMCS_A, 0);
    vmwrite(vmx, cpu, F.GuestRip, 0, 0x1234, 0);
    vmx.vmcs.launchState = LaunchState.Launched;
    expect(vmclear(vmx, cpu, VMCS_A, 0)).toBe(VmxOutcome.Succeed);
    expect(vmx.currentVmcsPointer).toBe(INVALID_POINTER);
    expect(cpu.memory.read32(VMCS_A + VmcsRegion.LaunchState)).toBe(0);
    expect(cpu.memory.read32(VMCS_A)).toBe(caps.revisionId);
    vmptrld(vmx, cpu, VMCS_A, 0);
    vmread(vmx, cpu, F.GuestRip, 0);
    expect(vmx.out[0]).toBe(0x1234);
  });

  it('VMCLEAR of another VMCS clears the launch state in its region', () => {
    cpu.memory.write32(VMCS_B + VmcsRegion.LaunchState, 1);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmclear(vmx, cpu, VMCS_B, 0)).toBe(VmxOutcome.Succeed);
    expect(cpu.memory.read32(VMCS_B + VmcsRegion.LaunchState)).toBe(0);
    expect(vmx.currentVmcsPointer).toBe(VMCS_A);
  });

  it('VMPTRLD fails with errors 9, 10 and 11', () => {
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmptrld(vmx, cpu, VMCS_B + 0x800, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmptrldInvalidAddress);
    expect(vmptrld(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmptrldVmxonPointer);
    cpu.memory.write32(VMCS_B, caps.revisionId + 1);
    expect(vmptrld(vmx, cpu, VMCS_B, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmptrldIncorrectRevisionId);
    cpu.memory.write32(VMCS_B, caps.revisionId | 0x8000_0000); // a shadow VMCS: shadowing not offered
    expect(vmptrld(vmx, cpu, VMCS_B, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmptrldIncorrectRevisionId);
    expect(vmx.currentVmcsPointer).toBe(VMCS_A);
  });

  it('VMPTRLD switches VMCSs, writing the old one back and loading the new one', () => {
    vmptrld(vmx, cpu, VMCS_A, 0);
    vmwrite(vmx, cpu, F.GuestRsp, 0, 0xaaaa, 0);
    vmptrld(vmx, cpu, VMCS_B, 0);
    vmwrite(vmx, cpu, F.GuestRsp, 0, 0xbbbb, 0);
    vmptrld(vmx, cpu, VMCS_A, 0);
    vmread(vmx, cpu, F.GuestRsp, 0);
    expect(vmx.out[0]).toBe(0xaaaa);
    vmptrld(vmx, cpu, VMCS_B, 0);
    vmread(vmx, cpu, F.GuestRsp, 0);
    expect(vmx.out[0]).toBe(0xbbbb);
  });

  it('VMPTRST stores the current-VMCS pointer, all ones when there is none', () => {
    expect(vmptrst(vmx, cpu)).toBe(VmxOutcome.Succeed);
    expect([...vmx.out]).toEqual([0xffff_ffff, 0xffff_ffff]);
    vmptrld(vmx, cpu, VMCS_B, 0);
    vmptrst(vmx, cpu);
    expect([...vmx.out]).toEqual([VMCS_B, 0]);
  });
});

describe('VMREAD and VMWRITE', () => {
  it('VMfailInvalid without a current VMCS', () => {
    vmxon(vmx, cpu, VMXON_REGION, 0);
    expect(vmread(vmx, cpu, F.GuestRip, 0)).toBe(VmxOutcome.FailInvalid);
    expect(vmwrite(vmx, cpu, F.GuestRip, 0, 0, 0)).toBe(VmxOutcome.FailInvalid);
  });

  it('VMfailValid(12) for unsupported components, VMfailValid(13) for read-only ones', () => {
    rootWithVmcs();
    expect(vmwrite(vmx, cpu, F.ApicAccessAddress, 0, 0, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.UnsupportedVmcsComponent);
    expect(vmread(vmx, cpu, F.GuestCr0, 1)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.UnsupportedVmcsComponent);
    expect(vmwrite(vmx, cpu, F.ExitQualification, 0, 0, 0)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmwriteReadOnlyComponent);
  });

  it('uses 32-bit operands outside 64-bit mode', () => {
    rootWithVmcs();
    expect(vmwrite(vmx, cpu, F.GuestRip, 0, 0x1000, 0xffff)).toBe(VmxOutcome.Succeed);
    vmread(vmx, cpu, F.GuestRip, 0);
    expect([...vmx.out]).toEqual([0x1000, 0xffff]);
    cpu.mode64Value = false;
    cpu.ia32eValue = false;
    vmwrite(vmx, cpu, F.GuestRip, 0, 0x2000, 0xffff);
    cpu.mode64Value = true;
    cpu.ia32eValue = true;
    vmread(vmx, cpu, F.GuestRip, 0);
    expect([...vmx.out]).toEqual([0x2000, 0]);
  });

  it('in non-root operation exit instead (VMCS shadowing is not offered)', () => {
    rootWithVmcs();
    vmx.nonRoot = true;
    expect(vmread(vmx, cpu, F.GuestRip, 0)).toBe(VmxOutcome.VmExit);
    expect(vmwrite(vmx, cpu, F.GuestRip, 0, 0, 0)).toBe(VmxOutcome.VmExit);
  });
});

describe('VMLAUNCH and VMRESUME', () => {
  it('VMfailInvalid without a current VMCS', () => {
    vmxon(vmx, cpu, VMXON_REGION, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailInvalid);
    expect(vmresume(vmx, cpu)).toBe(VmxOutcome.FailInvalid);
  });

  it('VMfailValid(26) right after MOV SS', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    cpu.movSs = true;
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.EntryEventsBlockedByMovSs);
  });

  it('VMfailValid(5) for VMRESUME of a clear VMCS, (4) for VMLAUNCH of a launched one', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    expect(vmresume(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmresumeNonLaunchedVmcs);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    completeVmEntry(vmx, true);
    completeVmExit(vmx);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmlaunchNonClearVmcs);
  });

  it('VMfailValid(7) for a bad control and (8) for bad host state', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    vmwrite(vmx, cpu, F.VirtualProcessorId, 0, 0, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.EntryInvalidControlFields);
    expect(vmx.lastEntryFailure).toMatchObject({ stage: 'controls', check: 'vpid-zero' });
    vmwrite(vmx, cpu, F.VirtualProcessorId, 0, 1, 0);
    vmwrite(vmx, cpu, F.HostCsSelector, 0, 0, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.EntryInvalidHostStateFields);
    expect(vmx.vmcs.launchState).toBe(LaunchState.Clear);
  });

  it('a bad guest state is a VM-entry failure: exit reason 33 with bit 31, and no flags written', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    vmwrite(vmx, cpu, F.GuestRflags, 0, 0, 0);
    const writes = cpu.flagWrites;
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.EntryFailed);
    expect(cpu.flagWrites).toBe(writes);
    vmread(vmx, cpu, F.ExitReason, 0);
    expect(vmx.out[0]).toBe(0x8000_0021);
    vmread(vmx, cpu, F.ExitQualification, 0);
    expect(vmx.out[0]).toBe(0);
    expect(vmx.vmcs.launchState).toBe(LaunchState.Clear);
  });

  it('launches, runs non-root, and resumes after the exit; the injected event is consumed', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    vmwrite(
      vmx,
      cpu,
      F.EntryInterruptionInfo,
      0,
      makeInterruptionInfo(3, InterruptionType.SoftwareException),
      0,
    );
    vmwrite(vmx, cpu, F.EntryInstructionLength, 0, 1, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    completeVmEntry(vmx, true);
    expect(vmx.nonRoot).toBe(true);
    expect(vmx.vmcs.launchState).toBe(LaunchState.Launched);
    expect(vmx.vmcs.read32(F.EntryInterruptionInfo) >>> 31).toBe(0);
    for (const op of [
      () => vmlaunch(vmx, cpu),
      () => vmresume(vmx, cpu),
      () => vmcall(vmx, cpu),
      () => vmptrst(vmx, cpu),
      () => vmxoff(vmx, cpu),
    ]) {
      expect(op()).toBe(VmxOutcome.VmExit);
    }
    completeVmExit(vmx);
    expect(vmresume(vmx, cpu)).toBe(VmxOutcome.Enter);
  });

  it('VMfailValid(6) for VMRESUME of a VMCS launched before VMXOFF', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    completeVmEntry(vmx, true);
    completeVmExit(vmx);
    expect(vmxoff(vmx, cpu)).toBe(VmxOutcome.Succeed);
    vmxon(vmx, cpu, VMXON_REGION, 0);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmresume(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmresumeAfterVmxoff);
    vmclear(vmx, cpu, VMCS_A, 0);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
  });
});

describe('VMCALL, INVEPT, INVVPID', () => {
  it('VMCALL in root operation fails with error 1 (no dual-monitor SMM treatment)', () => {
    expect(vmcall(vmx, cpu)).toBe(VmxOutcome.InvalidOpcode);
    vmxon(vmx, cpu, VMXON_REGION, 0);
    expect(vmcall(vmx, cpu)).toBe(VmxOutcome.FailInvalid);
    vmptrld(vmx, cpu, VMCS_A, 0);
    expect(vmcall(vmx, cpu)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.VmcallInRoot);
  });

  it('INVEPT: unsupported types and invalid EPTPs fail with error 28; supported ones invalidate', () => {
    rootWithVmcs();
    const desc = new Uint32Array([TEST_EPTP, 0, 0, 0]);
    expect(invept(vmx, cpu, 0, 0, desc)).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.InvalidInveptInvvpidOperand);
    expect(invept(vmx, cpu, 1, 1, desc)).toBe(VmxOutcome.FailValid);
    expect(invept(vmx, cpu, 1, 0, new Uint32Array([0x5010, 0, 0, 0]))).toBe(VmxOutcome.FailValid);
    expect(invept(vmx, cpu, 1, 0, desc)).toBe(VmxOutcome.Succeed);
    expect(invept(vmx, cpu, 2, 0, new Uint32Array(4))).toBe(VmxOutcome.Succeed);
    expect(cpu.eptInvalidations).toEqual([
      [1, TEST_EPTP, 0],
      [2, 0, 0],
    ]);
    cpu.cplValue = 3;
    expect(invept(vmx, cpu, 2, 0, desc)).toBe(VmxOutcome.GeneralProtection);
  });

  it('INVVPID: VPID 0, reserved descriptor bits and non-canonical addresses fail with error 28', () => {
    rootWithVmcs();
    const d = (vpid: number, lo = 0, hi = 0) => new Uint32Array([vpid, 0, lo, hi]);
    expect(invvpid(vmx, cpu, 0, 0, d(0, 0x1000))).toBe(VmxOutcome.FailValid);
    expect(instructionError()).toBe(VmInstructionError.InvalidInveptInvvpidOperand);
    expect(invvpid(vmx, cpu, 1, 0, d(0x1_0001))).toBe(VmxOutcome.FailValid);
    expect(invvpid(vmx, cpu, 0, 0, d(1, 0, 0x8000))).toBe(VmxOutcome.FailValid);
    expect(invvpid(vmx, cpu, 4, 0, d(1))).toBe(VmxOutcome.FailValid);
    expect(invvpid(vmx, cpu, 3, 0, d(0))).toBe(VmxOutcome.FailValid);
    expect(invvpid(vmx, cpu, 0, 0, d(5, 0x1000, 0xffff_8000))).toBe(VmxOutcome.Succeed);
    expect(invvpid(vmx, cpu, 2, 0, d(0))).toBe(VmxOutcome.Succeed);
    expect(invvpid(vmx, cpu, 3, 0, d(7))).toBe(VmxOutcome.Succeed);
    expect(cpu.vpidInvalidations).toEqual([
      [0, 5, 0x1000, 0xffff_8000],
      [2, 0, 0, 0],
      [3, 7, 0, 0],
    ]);
  });

  it('INVVPID is #UD when the capability model does not offer VPIDs', () => {
    const noVpid = {
      ...caps,
      proc2: { allowed0: 0, allowed1: caps.proc2.allowed1 & ~ProcBased2.EnableVpid },
    };
    const state = new VmxState(noVpid);
    vmxon(state, cpu, VMXON_REGION, 0);
    expect(invvpid(state, cpu, 2, 0, new Uint32Array(4))).toBe(VmxOutcome.InvalidOpcode);
  });

  it('report their exit reasons from non-root operation', () => {
    rootWithVmcs();
    vmx.nonRoot = true;
    expect(invept(vmx, cpu, 2, 0, new Uint32Array(4))).toBe(VmxOutcome.VmExit);
    expect(invvpid(vmx, cpu, 2, 0, new Uint32Array(4))).toBe(VmxOutcome.VmExit);
    expect(ExitReason.Invept).toBe(50);
  });
});

describe('VmxState snapshots', () => {
  it('round-trip through JSON, keeping pointers, launch state and every VMCS field', () => {
    rootWithVmcs();
    vmwriteGoodGuest();
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    completeVmEntry(vmx, true);
    const copy = VmxState.fromState(caps, JSON.parse(JSON.stringify(vmx.getState())));
    expect(copy.getState()).toEqual(vmx.getState());
    expect([copy.nonRoot, copy.currentVmcsPointer, copy.vmcs.launchState]).toEqual([
      true,
      VMCS_A,
      LaunchState.Launched,
    ]);
    completeVmExit(copy);
    expect(vmresume(copy, cpu)).toBe(VmxOutcome.Enter);
    expect(() => VmxState.fromState(caps, { ...vmx.getState(), vmcs: [1, 2] })).toThrow(RangeError);
  });

  it('describe the nonzero fields of a VMCS by name', () => {
    rootWithVmcs();
    vmwrite(vmx, cpu, F.GuestRip, 0, 0x1000, 0x1);
    vmwrite(vmx, cpu, F.GuestCsSelector, 0, 0x8, 0);
    expect(describeVmcs(vmx.vmcs)).toEqual(['GuestCsSelector = 0x8', 'GuestRip = 0x100001000']);
  });
});
