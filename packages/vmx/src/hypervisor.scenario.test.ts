/**
 * A small hypervisor run end to end over the model: root-mode code that uses only VMX instructions
 * (VMXON, VMCLEAR, VMPTRLD, VMWRITE, VMLAUNCH, VMREAD, VMRESUME, VMXOFF), and a scripted guest whose
 * sensitive operations go through the exit predicates and the VM-exit/VM-entry sequences, as the CPU
 * will drive them. The guest instructions are not executed (that is the CPU's part); everything VMX
 * does around them is.
 */
import { GuestMemory } from '@typevisor/memory';
import { expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { ProcBased } from './controls.js';
import {
  ExitInfo,
  InstructionAction,
  exceptionExits,
  instructionAction,
  ioExits,
} from './exit-conditions.js';
import { decodeIoQualification, ioQualification } from './exit-info.js';
import { ExitReason, InterruptionType, makeInterruptionInfo } from './exit-reasons.js';
import { FieldType, VMCS_FIELDS, VmcsField as F, fieldType } from './fields.js';
import {
  type VmxCpu,
  VmxOutcome,
  VmxState,
  vmclear,
  vmlaunch,
  vmptrld,
  vmread,
  vmresume,
  vmwrite,
  vmxoff,
  vmxon,
} from './instructions.js';
import { ProcessorState } from './processor-state.js';
import { setupGuest64 } from './testing/index.js';
import { EntryResult, type TransitionPort, Transitions, enterGuest, exitToHost } from './transitions.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();
const VMXON_REGION = 0x1_0000;
const VMCS = 0x1_1000;
const IO_BITMAP_A = 0x1_2000;
const IO_BITMAP_B = 0x1_3000;

class Machine implements VmxCpu, TransitionPort {
  readonly memory = GuestMemory.create(0x10_0000);
  readonly regs = new ProcessorState();
  cf = false;
  zf = false;
  cpl = () => 0;
  cr0 = () => this.regs.cr0;
  cr4 = () => this.regs.cr4;
  v86 = () => false;
  ia32e = () => true;
  mode64 = () => true;
  featureControl = () => 5;
  blockedByMovSs = () => false;
  setVmxFlags(cf: boolean, zf: boolean): void {
    this.cf = cf;
    this.zf = zf;
  }
  invalidateEpt(): void {}
  invalidateVpid(): void {}
  rdmsr(): boolean {
    return false;
  }
  wrmsr(): boolean {
    return true;
  }
  shutdown(): void {
    throw new Error('unexpected VMX abort');
  }
  exportState(s: ProcessorState): void {
    s.cr0 = this.regs.cr0;
    s.cr4 = this.regs.cr4;
    s.ripLo = this.regs.ripLo;
    s.rflags = this.regs.rflags;
    s.efer = this.regs.efer;
  }
  importState(s: ProcessorState): void {
    this.regs.cr0 = s.cr0;
    this.regs.cr4 = s.cr4;
    this.regs.ripLo = s.ripLo;
    this.regs.rflags = s.rflags;
    this.regs.efer = s.efer;
  }
}

it('runs a hypervisor that emulates CPUID and a serial port, reflects a #PF and stops at HLT', () => {
  const m = new Machine();
  m.regs.cr0 = 0x8001_0031;
  m.regs.cr4 = 0x2020;
  m.regs.efer = 0x500;
  const vmx = new VmxState(caps);
  const t = new Transitions(vmx);
  const serial: number[] = [];
  const handled: number[] = [];

  // ---- hypervisor code, root mode, VMX instructions only ----
  const vmrd = (field: number): number => {
    expect(vmread(vmx, m, field, 0)).toBe(VmxOutcome.Succeed);
    return vmx.out[0]!;
  };
  const vmwr = (field: number, lo: number, hi = 0): void => {
    expect(vmwrite(vmx, m, field, 0, lo, hi)).toBe(VmxOutcome.Succeed);
  };
  const skipInstruction = (): void => vmwr(F.GuestRip, vmrd(F.GuestRip) + vmrd(F.ExitInstructionLength));

  m.memory.write32(VMXON_REGION, caps.revisionId);
  m.memory.write32(VMCS, caps.revisionId);
  expect(vmxon(vmx, m, VMXON_REGION, 0)).toBe(VmxOutcome.Succeed);
  expect(vmclear(vmx, m, VMCS, 0)).toBe(VmxOutcome.Succeed);
  expect(vmptrld(vmx, m, VMCS, 0)).toBe(VmxOutcome.Succeed);
  const template = new Vmcs(caps);
  setupGuest64(template, caps);
  for (const f of VMCS_FIELDS) {
    if (template.isSupported(f.encoding) && fieldType(f.encoding) !== FieldType.ReadOnlyData) {
      vmwr(f.encoding, template.readLo(f.encoding), template.readHi(f.encoding));
    }
  }
  vmwr(F.ProcBasedControls, vmrd(F.ProcBasedControls) | ProcBased.UseIoBitmaps);
  vmwr(F.IoBitmapA, IO_BITMAP_A);
  vmwr(F.IoBitmapB, IO_BITMAP_B);
  m.memory.write8(IO_BITMAP_A + (0x3f8 >> 3), 1 << (0x3f8 & 7)); // trap COM1 data, not port 80h
  vmwr(F.ExceptionBitmap, 1 << 14);

  /** Handles one exit; returns false to stop running the guest. */
  function handleExit(): boolean {
    const reason = vmrd(F.ExitReason);
    handled.push(reason);
    switch (reason) {
      case ExitReason.Cpuid:
        skipInstruction();
        return true;
      case ExitReason.IoInstruction: {
        const q = decodeIoQualification(vmrd(F.ExitQualification));
        if (q.direction === 'out' && q.port === 0x3f8) serial.push(0x41);
        skipInstruction();
        return true;
      }
      case ExitReason.ExceptionOrNmi:
        // Reflect the page fault into the guest with its error code.
        vmwr(F.EntryInterruptionInfo, vmrd(F.ExitInterruptionInfo) & ~(1 << 12));
        vmwr(F.EntryExceptionErrorCode, vmrd(F.ExitInterruptionErrorCode));
        return true;
      default:
        return false;
    }
  }

  // ---- the guest, as the CPU would run it in non-root operation ----
  const script: ((info: ExitInfo) => boolean)[] = [
    (info) => {
      if (instructionAction(vmx.vmcs, 'cpuid') !== InstructionAction.Exit) return false;
      info.reset(ExitReason.Cpuid).instructionLength = 2;
      return true;
    },
    (info) => {
      expect(ioExits(vmx.vmcs, m.memory, 0x80, 1)).toBe(false); // POST code port runs unhindered
      m.regs.ripLo += 2;
      if (!ioExits(vmx.vmcs, m.memory, 0x3f8, 1)) return false;
      info.reset(ExitReason.IoInstruction).instructionLength = 1;
      info.qualificationLo = ioQualification({ port: 0x3f8, size: 1, direction: 'out' });
      return true;
    },
    (info) => {
      if (!exceptionExits(vmx.vmcs, 14, 0x2)) return false;
      info.reset(ExitReason.ExceptionOrNmi);
      info.interruptionInfo = makeInterruptionInfo(14, InterruptionType.HardwareException, true);
      info.interruptionErrorCode = 0x2;
      info.guestLinearLo = 0xdead_0000;
      return true;
    },
    (info) => {
      expect(t.injected).toBe(true); // the reflected #PF is delivered first
      expect([t.injection.vector, t.injection.errorCode]).toEqual([14, 2]);
      if (instructionAction(vmx.vmcs, 'hlt') !== InstructionAction.Exit) return false;
      info.reset(ExitReason.Hlt).instructionLength = 1;
      return true;
    },
  ];

  const info = new ExitInfo();
  let launched = false;
  for (const step of script) {
    const outcome = launched ? vmresume(vmx, m) : vmlaunch(vmx, m);
    expect(outcome).toBe(VmxOutcome.Enter);
    expect(enterGuest(t, m, !launched)).toBe(EntryResult.Entered);
    launched = true;
    expect(step(info)).toBe(true);
    const ripAtExit = m.regs.ripLo;
    expect(exitToHost(t, m, info)).toBe(true);
    expect(vmrd(F.GuestRip)).toBe(ripAtExit); // guest state saved at the exit
    expect(m.regs.ripLo).toBe(0x10_0000); // the host runs at HOST_RIP
    if (!handleExit()) break;
  }

  expect(handled).toEqual([
    ExitReason.Cpuid,
    ExitReason.IoInstruction,
    ExitReason.ExceptionOrNmi,
    ExitReason.Hlt,
  ]);
  expect(serial).toEqual([0x41]);
  // CPUID (2 bytes), the unhindered OUT 80h (2) and OUT to COM1 (1) moved RIP by 5.
  expect(vmrd(F.GuestRip)).toBe(0x20_0000 + 5);
  expect(vmclear(vmx, m, VMCS, 0)).toBe(VmxOutcome.Succeed);
  expect(vmxoff(vmx, m)).toBe(VmxOutcome.Succeed);
  expect(vmx.inVmxOperation).toBe(false);
});
