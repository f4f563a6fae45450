import { GuestMemory } from '@typevisor/memory';
import { expect, it } from 'vitest';
import {
  VmcsField,
  VmxOutcome,
  VmxState,
  type VmxCpu,
  checkGuestState,
  createVmxCapabilities,
  vmclear,
  vmlaunch,
  vmptrld,
  vmread,
  vmwrite,
  vmxon,
} from './index.js';
import { setupGuest64 } from './testing/index.js';

it('runs the README example', () => {
  const caps = createVmxCapabilities({ physicalAddressWidth: 39 });
  const memory = GuestMemory.create(1 << 20);

  // The few CPU facts the VMX instructions need: here, 64-bit mode at CPL 0 with VMX enabled.
  let cf = false;
  let zf = false;
  const cpu: VmxCpu = {
    cpl: () => 0,
    cr0: () => 0x8001_0031,
    cr4: () => 0x2020,
    v86: () => false,
    ia32e: () => true,
    mode64: () => true,
    featureControl: () => 0x5, // locked, VMX outside SMX enabled
    blockedByMovSs: () => false,
    setVmxFlags: (c, z) => {
      cf = c;
      zf = z;
    },
    memory,
    invalidateEpt: () => {},
    invalidateVpid: () => {},
  };

  // Guest code would do this with VMXON, VMCLEAR, VMPTRLD: regions start with the revision id.
  memory.write32(0x1000, caps.revisionId);
  memory.write32(0x2000, caps.revisionId);
  const vmx = new VmxState(caps);
  expect(vmxon(vmx, cpu, 0x1000, 0)).toBe(VmxOutcome.Succeed); // CF = ZF = 0
  vmclear(vmx, cpu, 0x2000, 0);
  vmptrld(vmx, cpu, 0x2000, 0);

  // VMWRITE to a read-only field: VMfailValid, error 13 in the VM-instruction error field.
  expect(vmwrite(vmx, cpu, VmcsField.ExitReason, 0, 1, 0)).toBe(VmxOutcome.FailValid);
  expect(zf).toBe(true);
  vmread(vmx, cpu, VmcsField.VmInstructionError, 0);
  expect(vmx.out[0]).toBe(13);

  // VMLAUNCH with all-zero controls: error 7, and the failed check is named.
  expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.FailValid);
  expect(vmx.lastEntryFailure).toMatchObject({ stage: 'controls', check: 'pin-based-reserved' });

  // A known-good 64-bit guest passes; one broken field is a VM-entry failure (exit reason 33).
  setupGuest64(vmx.vmcs, caps);
  expect(vmlaunch(vmx, cpu)).toBe(VmxOutcome.Enter);
  vmx.vmcs.write64(VmcsField.GuestRflags, 0, 0); // bit 1 must be 1
  expect(checkGuestState(vmx.vmcs, caps, { memory, currentVmcsPointer: 0x2000 })?.check).toBe(
    'rflags-reserved',
  );
  expect(cf).toBe(false);
});
