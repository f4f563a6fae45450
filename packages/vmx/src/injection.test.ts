import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { PinBased } from './controls.js';
import { InterruptionType, makeInterruptionInfo } from './exit-reasons.js';
import { VmcsField as F } from './fields.js';
import { Injection, applyInjectionEffects, nmiBlockingIsVirtual, pendingInjection } from './injection.js';
import { ProcessorState } from './processor-state.js';
import { setupGuest64 } from './testing/index.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();

function vmcs(): Vmcs {
  const v = new Vmcs(caps);
  setupGuest64(v, caps);
  return v;
}

describe('pendingInjection', () => {
  it('is false when the valid bit is clear', () => {
    expect(pendingInjection(vmcs(), new Injection())).toBe(false);
  });

  it('decodes a #PF with its error code as an external event', () => {
    const v = vmcs();
    v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(14, InterruptionType.HardwareException, true));
    v.write32(F.EntryExceptionErrorCode, 0x6);
    v.write32(F.EntryInstructionLength, 3);
    const e = new Injection();
    expect(pendingInjection(v, e)).toBe(true);
    expect({ ...e }).toEqual({
      vector: 14,
      type: InterruptionType.HardwareException,
      hasErrorCode: true,
      errorCode: 6,
      instructionLength: 0,
      external: true,
    });
  });

  it('gives software interrupts and exceptions their instruction length and no EXT', () => {
    const v = vmcs();
    v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(0x80, InterruptionType.SoftwareInterrupt));
    v.write32(F.EntryInstructionLength, 2);
    const e = new Injection();
    pendingInjection(v, e);
    expect([e.vector, e.instructionLength, e.external, e.errorCode]).toEqual([0x80, 2, false, 0]);
    v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(1, InterruptionType.PrivilegedSoftwareException));
    v.write32(F.EntryInstructionLength, 1);
    pendingInjection(v, e);
    expect([e.instructionLength, e.external]).toEqual([1, true]);
  });
});

describe('applyInjectionEffects', () => {
  it('activates the guest, drops STI/MOV-SS blocking, and blocks NMIs after an injected NMI', () => {
    const v = vmcs();
    const s = new ProcessorState();
    s.activityState = 1;
    s.interruptibility = 1;
    const e = new Injection();
    v.write32(F.EntryInterruptionInfo, makeInterruptionInfo(2, InterruptionType.Nmi));
    pendingInjection(v, e);
    applyInjectionEffects(e, s);
    expect([s.activityState, s.interruptibility]).toEqual([0, 8]);
    expect(nmiBlockingIsVirtual(v)).toBe(false);
    v.write32(F.PinBasedControls, v.read32(F.PinBasedControls) | PinBased.VirtualNmis);
    expect(nmiBlockingIsVirtual(v)).toBe(true);
  });
});
