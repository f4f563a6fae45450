/**
 * VM entry after its checks passed, a failed VM entry, and VM exit, as sequences over a small port to
 * the CPU: copy the registers out into a {@link ProcessorState}, apply the SDM's rules, copy them
 * back. With these the CPU's part of a transition is `exportState`/`importState`, its MSRs, and
 * delivering the injected event.
 *
 * - {@link enterGuest}: 27.3.2 load guest state, 27.4 load MSRs (failure: exit reason 34), 27.6
 *   event injection bookkeeping, launch state.
 * - {@link failEntry}: 27.8, a VM entry that failed after the VMLAUNCH/VMRESUME checks: host state
 *   and host MSRs are loaded, guest state is not saved.
 * - {@link exitToHost}: 28.2 record exit information, 28.3 save guest state, 28.4 store guest MSRs,
 *   28.5 load host state, 28.6 load host MSRs, 28.7 VMX abort.
 */
import { ExitReason, VmxAbort, entryFailureExitReason } from './exit-reasons.js';
import { type ExitInfo, recordVmExit } from './exit-conditions.js';
import { Injection, applyInjectionEffects, pendingInjection } from './injection.js';
import { type VmxState, completeVmEntry, completeVmExit, recordEntryFailure } from './instructions.js';
import { type MsrPort, loadEntryMsrs, loadExitMsrs, storeExitMsrs } from './msr-areas.js';
import { ProcessorState, loadGuestState, loadHostState, saveGuestState } from './processor-state.js';
import { type PhysicalMemory, writeAbortIndicator } from './vmcs.js';

/** The CPU side of a VM transition. */
export interface TransitionPort extends MsrPort {
  readonly memory: PhysicalMemory;
  /** Copies the CPU's registers into `s`. */
  exportState(s: ProcessorState): void;
  /** Loads `s` into the CPU's registers (and drops whatever was derived from the old ones). */
  importState(s: ProcessorState): void;
  /** VMX abort: the logical processor shuts down (28.7). */
  shutdown(): void;
}

/** How {@link enterGuest} ended. */
export const EntryResult = {
  /** In non-root operation; if an event is to be injected, it is in `injection` and `injected` is true. */
  Entered: 0,
  /** VM-entry failure due to MSR loading (exit reason 34): the host runs again. */
  FailedMsrLoading: 1,
} as const;
export type EntryResult = (typeof EntryResult)[keyof typeof EntryResult];

/** Scratch state for one logical processor's transitions; no allocation per transition. */
export class Transitions {
  readonly cpuState = new ProcessorState();
  readonly injection = new Injection();
  /** Set by {@link enterGuest}: the entry injects `injection`. */
  injected = false;

  constructor(readonly vmx: VmxState) {}
}

/**
 * Completes a VM entry whose checks passed (`vmentry` returned `Enter`). On `Entered` the CPU runs
 * the guest, first delivering `t.injection` when `t.injected` is true.
 */
export function enterGuest(t: Transitions, port: TransitionPort, launch: boolean): EntryResult {
  const vmcs = t.vmx.vmcs;
  const s = t.cpuState;
  port.exportState(s);
  loadGuestState(vmcs, s);
  const failedEntry = loadEntryMsrs(vmcs, port.memory, port);
  if (failedEntry !== 0) {
    recordEntryFailure(vmcs, entryFailureExitReason(ExitReason.EntryFailureMsrLoading), failedEntry);
    // The guest state loaded so far is discarded: the host state replaces it.
    port.exportState(s);
    hostAfterFailedEntry(t, port);
    return EntryResult.FailedMsrLoading;
  }
  t.injected = pendingInjection(vmcs, t.injection);
  if (t.injected) applyInjectionEffects(t.injection, s);
  port.importState(s);
  completeVmEntry(t.vmx, launch);
  return EntryResult.Entered;
}

/** A VM entry that failed on guest state (`vmentry` returned `EntryFailed`): back to the host (27.8). */
export function failEntry(t: Transitions, port: TransitionPort): void {
  port.exportState(t.cpuState);
  hostAfterFailedEntry(t, port);
}

function hostAfterFailedEntry(t: Transitions, port: TransitionPort): void {
  const vmcs = t.vmx.vmcs;
  loadHostState(vmcs, t.cpuState);
  port.importState(t.cpuState);
  if (loadExitMsrs(vmcs, port.memory, port) !== 0) abort(t, port, VmxAbort.LoadingHostMsrs);
}

/**
 * Performs a VM exit described by `info` (reason, qualification, ...). `preemptionTimer` is the
 * timer value to save when "save VMX-preemption timer value" is 1. Returns false when the exit ended
 * in a VMX abort (the port's `shutdown` was called).
 */
export function exitToHost(
  t: Transitions,
  port: TransitionPort,
  info: ExitInfo,
  preemptionTimer = 0,
): boolean {
  const vmcs = t.vmx.vmcs;
  const s = t.cpuState;
  port.exportState(s);
  recordVmExit(vmcs, info);
  saveGuestState(vmcs, s, preemptionTimer);
  completeVmExit(t.vmx);
  // The guest's MSRs are stored while they are still loaded, before host state replaces them.
  if (storeExitMsrs(vmcs, port.memory, port) !== 0) {
    abort(t, port, VmxAbort.SavingGuestMsrs);
    return false;
  }
  loadHostState(vmcs, s);
  port.importState(s);
  if (loadExitMsrs(vmcs, port.memory, port) !== 0) {
    abort(t, port, VmxAbort.LoadingHostMsrs);
    return false;
  }
  return true;
}

function abort(t: Transitions, port: TransitionPort, code: number): void {
  if (t.vmx.hasCurrentVmcs) writeAbortIndicator(port.memory, t.vmx.currentVmcsPointer, code);
  port.shutdown();
}
