import { GuestMemory } from '@typevisor/memory';
import { beforeEach, describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { ExitInfo } from './exit-conditions.js';
import { ExitReason, InterruptionType, makeInterruptionInfo } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import { VmxOutcome, type VmxCpu, VmxState, vmclear, vmlaunch, vmptrld, vmxon } from './instructions.js';
import { ProcessorState } from './processor-state.js';
import { TestLayout, setupGuest64 } from './testing/index.js';
import {
  EntryResult,
  type TransitionPort,
  Transitions,
  enterGuest,
  exitToHost,
  failEntry,
} from './transitions.js';
import { VmcsRegion, readAbortIndicator } from './vmcs.js';

const caps = createVmxCapabilities();
const VMXON_REGION = 0x1_0000;
const VMCS = 0x1_1000;
const MSR_AREA = 0x1_2000;

/** A CPU reduced to a register image and an MSR map. */
class FakeCpu implements TransitionPort, VmxCpu {
  readonly memory = GuestMemory.create(0x10_0000);
  readonly regs = new ProcessorState();
  readonly msrs = new Map<number, [number, number]>();
  halted = false;
  cpl = () => 0;
  cr0 = () => this.regs.cr0;
  cr4 = () => this.regs.cr4;
  v86 = () => false;
  ia32e = () => true;
  mode64 = () => true;
  featureControl = () => 5;
  blockedByMovSs = () => false;
  setVmxFlags(): void {}
  invalidateEpt(): void {}
  invalidateVpid(): void {}
  exportState(s: ProcessorState): void {
    copyState(this.regs, s);
  }
  importState(s: ProcessorState): void {
    copyState(s, this.regs);
  }
  shutdown(): void {
    this.halted = true;
  }
  rdmsr(index: number, out: Uint32Array): boolean {
    const v = this.msrs.get(index);
    if (v === undefined) return false;
    out[0] = v[0];
    out[1] = v[1];
    return true;
  }
  wrmsr(index: number, lo: number, hi: number): boolean {
    if (index === 0x1234) return false;
    this.msrs.set(index, [lo, hi]);
    return true;
  }
}

function copyState(from: ProcessorState, to: ProcessorState): void {
  for (const key of Object.keys(from) as (keyof ProcessorState)[]) {
    const v = from[key];
    if (typeof v === 'number' || typeof v === 'boolean') (to as unknown as Record<string, unknown>)[key] = v;
    else if (v instanceof Uint32Array) (to[key] as Uint32Array).set(v);
    else Object.assign(to[key] as object, v);
  }
}

let cpu: FakeCpu;
let vmx: VmxState;
let t: Transitions;

beforeEach(() => {
  cpu = new FakeCpu();
  cpu.regs.cr0 = 0x8001_0031;
  cpu.regs.cr4 = 0x2020;
  cpu.regs.ripLo = 0x5555;
  cpu.memory.write32(VMXON_REGION, caps.revisionId);
  cpu.memory.write32(VMCS, caps.revisionId);
  vmx = new VmxState(caps);
  t = new Transitions(vmx);
  expect(vmxon(vmx, cpu, VMXON_REGION, 0)).toBe(VmxOutcome.Succeed);
  vmclear(vmx, cpu, VMCS, 0);
  vmptrld(vmx, cpu, VMCS, 0);
  setupGuest64(vmx.vmcs, caps);
});

describe('enterGuest', () => {
  it('loads guest state into the CPU, marks the VMCS launched and enters non-root operation', () => {
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    expect(enterGuest(t, cpu, true)).toBe(EntryResult.Entered);
    expect([cpu.regs.ripLo, cpu.regs.rspLo, cpu.regs.cs.ar, cpu.regs.efer]).toEqual([
      TestLayout.GuestRip,
      TestLayout.GuestRsp,
      0xa09b,
      0x500,
    ]);
    expect(vmx.nonRoot).toBe(true);
    expect(vmx.vmcs.launchState).toBe(1);
    expect(t.injected).toBe(false);
  });

  it('hands the CPU the event to inject and consumes the valid bit', () => {
    vmx.vmcs.write64(F.GuestRflags, 0x202, 0);
    vmx.vmcs.write32(F.EntryInterruptionInfo, makeInterruptionInfo(0x30, InterruptionType.ExternalInterrupt));
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    enterGuest(t, cpu, true);
    expect([t.injected, t.injection.vector, t.injection.type]).toEqual([
      true,
      0x30,
      InterruptionType.ExternalInterrupt,
    ]);
    expect(vmx.vmcs.read32(F.EntryInterruptionInfo) >>> 31).toBe(0);
  });

  it('fails with exit reason 34 and the failing entry number when an entry MSR cannot be loaded', () => {
    cpu.memory.write32(MSR_AREA, 0x10);
    cpu.memory.write32(MSR_AREA + 16, 0x1234);
    vmx.vmcs.write64(F.EntryMsrLoadAddress, MSR_AREA, 0);
    vmx.vmcs.write32(F.EntryMsrLoadCount, 2);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    expect(enterGuest(t, cpu, true)).toBe(EntryResult.FailedMsrLoading);
    expect(vmx.vmcs.read32(F.ExitReason)).toBe(0x8000_0022);
    expect(vmx.vmcs.readLo(F.ExitQualification)).toBe(2);
    expect(cpu.regs.ripLo).toBe(TestLayout.HostRip);
    expect(vmx.nonRoot).toBe(false);
    expect(vmx.vmcs.launchState).toBe(0);
  });
});

describe('failEntry', () => {
  it('returns to the host without saving guest state after a guest-state check failed', () => {
    vmx.vmcs.write64(F.GuestRflags, 0, 0);
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.EntryFailed);
    failEntry(t, cpu);
    expect([cpu.regs.ripLo, cpu.regs.rflags, cpu.regs.cs.selector]).toEqual([TestLayout.HostRip, 2, 0x08]);
    expect(vmx.vmcs.readLo(F.GuestRflags)).toBe(0);
  });
});

describe('exitToHost', () => {
  beforeEach(() => {
    expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
    enterGuest(t, cpu, true);
  });

  it('records the exit, saves guest state, loads host state and leaves non-root operation', () => {
    cpu.regs.ripLo = TestLayout.GuestRip + 7;
    const info = new ExitInfo().reset(ExitReason.Hlt);
    info.instructionLength = 1;
    expect(exitToHost(t, cpu, info)).toBe(true);
    expect(vmx.vmcs.read32(F.ExitReason)).toBe(ExitReason.Hlt);
    expect(vmx.vmcs.read32(F.ExitInstructionLength)).toBe(1);
    expect(vmx.vmcs.readLo(F.GuestRip)).toBe(TestLayout.GuestRip + 7);
    expect([cpu.regs.ripLo, cpu.regs.rflags, cpu.regs.ldtr.ar]).toEqual([TestLayout.HostRip, 2, 0x1_0000]);
    expect(vmx.nonRoot).toBe(false);
  });

  it('stores guest MSRs before the host state replaces them, then loads host MSRs', () => {
    cpu.msrs.set(0x174, [0x23, 0]);
    cpu.memory.write32(MSR_AREA, 0x174);
    cpu.memory.write32(MSR_AREA + 16, 0x174);
    cpu.memory.write32(MSR_AREA + 24, 0x10);
    vmx.vmcs.write64(F.ExitMsrStoreAddress, MSR_AREA, 0);
    vmx.vmcs.write32(F.ExitMsrStoreCount, 1);
    vmx.vmcs.write64(F.ExitMsrLoadAddress, MSR_AREA + 16, 0);
    vmx.vmcs.write32(F.ExitMsrLoadCount, 1);
    expect(exitToHost(t, cpu, new ExitInfo().reset(ExitReason.Cpuid))).toBe(true);
    expect(cpu.memory.read32(MSR_AREA + 8)).toBe(0x23);
    expect(cpu.msrs.get(0x174)).toEqual([0x10, 0]);
  });

  it('ends in a VMX abort (indicator 1, shutdown) when a guest MSR cannot be stored', () => {
    cpu.memory.write32(MSR_AREA, 0x9e); // IA32_SMBASE
    vmx.vmcs.write64(F.ExitMsrStoreAddress, MSR_AREA, 0);
    vmx.vmcs.write32(F.ExitMsrStoreCount, 1);
    expect(exitToHost(t, cpu, new ExitInfo().reset(ExitReason.Cpuid))).toBe(false);
    expect(cpu.halted).toBe(true);
    expect(readAbortIndicator(cpu.memory, VMCS)).toBe(1);
    expect(cpu.memory.read32(VMCS + VmcsRegion.RevisionId)).toBe(caps.revisionId);
  });
});
