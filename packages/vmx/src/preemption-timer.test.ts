import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { PinBased } from './controls.js';
import { VmcsField as F } from './fields.js';
import { PreemptionTimer } from './preemption-timer.js';
import { Vmcs } from './vmcs.js';

function vmcsWithTimer(value: number, active = true): Vmcs {
  const vmcs = new Vmcs(createVmxCapabilities());
  vmcs.write32(F.PinBasedControls, active ? PinBased.ActivatePreemptionTimer : 0);
  vmcs.write32(F.PreemptionTimerValue, value);
  return vmcs;
}

describe('PreemptionTimer', () => {
  it('counts down once each time TSC bit `rate` changes, from the TSC of VM entry', () => {
    const t = new PreemptionTimer(5);
    t.arm(vmcsWithTimer(3), 100); // step 3 at entry (96..127)
    expect(t.valueAt(100)).toBe(3);
    expect(t.valueAt(127)).toBe(3);
    expect(t.valueAt(128)).toBe(2);
    expect(t.valueAt(191)).toBe(1);
    expect(t.expired(191)).toBe(false);
    expect(t.valueAt(192)).toBe(0);
    expect(t.expired(192)).toBe(true);
    expect(t.valueAt(10_000)).toBe(0);
  });

  it('tells how many TSC ticks remain until it expires', () => {
    const t = new PreemptionTimer(5);
    t.arm(vmcsWithTimer(3), 100);
    expect(t.ticksUntilExpiry(100)).toBe(92);
    expect(t.ticksUntilExpiry(191)).toBe(1);
    expect(t.ticksUntilExpiry(192)).toBe(0);
    expect(t.ticksUntilExpiry(500)).toBe(0);
  });

  it('a count of 0 at VM entry has already expired', () => {
    const t = new PreemptionTimer(5);
    t.arm(vmcsWithTimer(0), 12345);
    expect(t.expired(12345)).toBe(true);
    expect(t.ticksUntilExpiry(12345)).toBe(0);
  });

  it('does not run without "activate VMX-preemption timer" or after VM exit', () => {
    const t = new PreemptionTimer(0);
    t.arm(vmcsWithTimer(5, false), 0);
    expect(t.armed).toBe(false);
    expect(t.expired(1000)).toBe(false);
    expect(t.ticksUntilExpiry(0)).toBe(Number.POSITIVE_INFINITY);
    t.arm(vmcsWithTimer(5), 0);
    expect(t.ticksUntilExpiry(0)).toBe(5);
    t.disarm();
    expect(t.expired(1000)).toBe(false);
  });

  it('counts the full 32-bit range without overflow', () => {
    const t = new PreemptionTimer(31);
    t.arm(vmcsWithTimer(0xffff_ffff), 2 ** 40);
    expect(t.valueAt(2 ** 40)).toBe(0xffff_ffff);
    expect(t.ticksUntilExpiry(2 ** 40)).toBe(0xffff_ffff * 2 ** 31);
  });
});
