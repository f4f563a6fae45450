/**
 * The VMX-preemption timer (SDM Vol. 3C 26.5.1, 28.3): with the pin-based control "activate
 * VMX-preemption timer" (bit 6) VM entry loads the timer from the VMCS field; in non-root operation it
 * counts down by 1 each time bit X of the TSC changes, X = IA32_VMX_MISC bits 4:0
 * (`caps.preemptionTimerRate`); when it reaches 0 a VM exit with reason 52 happens (a value of 0 at
 * VM entry exits before the guest's first instruction). The exit control "save VMX-preemption timer
 * value" (bit 22) stores the current count on every VM exit.
 *
 * Rather than counting every tick, the timer remembers the TSC step of VM entry, so a CPU can ask how
 * many TSC ticks remain and run exactly that far.
 */
import { PinBased } from './controls.js';
import { VmcsField as F } from './fields.js';
import type { Vmcs } from './vmcs.js';

export class PreemptionTimer {
  /** The timer runs: in non-root operation, entered with the control set. */
  armed = false;
  /** The count loaded at VM entry. */
  private loaded = 0;
  /** floor(TSC / 2^rate) at VM entry. */
  private entryStep = 0;
  private readonly period: number;

  /** `rate`: IA32_VMX_MISC bits 4:0, the timer counts once per 2^rate TSC ticks. */
  constructor(readonly rate: number) {
    this.period = 2 ** rate;
  }

  /** VM entry at TSC `tsc`: loads the count from the VMCS when the pin-based control is 1. */
  arm(vmcs: Vmcs, tsc: number): void {
    this.armed = (vmcs.read32(F.PinBasedControls) & PinBased.ActivatePreemptionTimer) !== 0;
    this.loaded = this.armed ? vmcs.read32(F.PreemptionTimerValue) : 0;
    this.entryStep = Math.floor(tsc / this.period);
  }

  /** VM exit: the timer stops. */
  disarm(): void {
    this.armed = false;
  }

  /** The count at TSC `tsc` (0 once expired; 0 when not armed). */
  valueAt(tsc: number): number {
    if (!this.armed) return 0;
    const steps = Math.floor(tsc / this.period) - this.entryStep;
    return steps >= this.loaded ? 0 : this.loaded - steps;
  }

  /** The timer has counted down to 0 at TSC `tsc`: the next instruction boundary is a VM exit (reason 52). */
  expired(tsc: number): boolean {
    return this.armed && this.valueAt(tsc) === 0;
  }

  /** TSC ticks from `tsc` until the count reaches 0 (0 when expired, Infinity when not armed). */
  ticksUntilExpiry(tsc: number): number {
    if (!this.armed) return Number.POSITIVE_INFINITY;
    const expiry = (this.entryStep + this.loaded) * this.period;
    return expiry > tsc ? expiry - tsc : 0;
  }
}
