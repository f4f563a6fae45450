import { describe, expect, it } from 'vitest';
import type { ExitAction } from './exit-dispatch.js';
import { nextState, VcpuLoop } from './vcpu-loop.js';

function loop(actions: ExitAction[], policy: { noReboot?: boolean; noShutdown?: boolean } = {}) {
  let resets = 0;
  const l = new VcpuLoop(() => actions.shift() ?? { kind: 'continue' }, {
    noReboot: policy.noReboot ?? false,
    noShutdown: policy.noShutdown ?? false,
    reset: () => {
      resets++;
    },
  });
  return { l, resets: () => resets };
}

describe('vCPU loop state machine', () => {
  it('does nothing until started (QEMU -S: prelaunch)', () => {
    const { l } = loop([]);
    expect(l.runSlice(10)).toBe('prelaunch');
    expect(l.exits).toBe(0);
  });

  it('runs exits until the slice is used up', () => {
    const { l } = loop([]);
    l.start();
    expect(l.runSlice(5)).toBe('running');
    expect(l.exits).toBe(5);
  });

  it('waits on HLT and runs again when woken', () => {
    const { l } = loop([{ kind: 'continue' }, { kind: 'wait-for-interrupt' }]);
    l.start();
    expect(l.runSlice(10)).toBe('waiting');
    expect(l.exits).toBe(2);
    l.wake();
    expect(l.state).toBe('running');
  });

  it('resets the machine on a triple fault and keeps running', () => {
    const { l, resets } = loop([{ kind: 'reset', reason: 'triple fault' }]);
    l.start();
    expect(l.runSlice(3)).toBe('running');
    expect(resets()).toBe(1);
    expect(l.lastReason).toBe('triple fault');
  });

  it('ends instead of resetting with -no-reboot', () => {
    const { l, resets } = loop([{ kind: 'reset', reason: 'guest reset request' }], { noReboot: true });
    l.start();
    expect(l.runSlice(3)).toBe('shutdown');
    expect(resets()).toBe(0);
  });

  it('ends on power-off, or pauses with -no-shutdown', () => {
    const a = loop([{ kind: 'shutdown', reason: 'guest power-off' }]);
    a.l.start();
    expect(a.l.runSlice(3)).toBe('shutdown');
    const b = loop([{ kind: 'shutdown', reason: 'guest power-off' }], { noShutdown: true });
    b.l.start();
    expect(b.l.runSlice(3)).toBe('paused-shutdown');
  });

  it('stops on an error with its message', () => {
    const { l } = loop([{ kind: 'error', message: 'KVM_EXIT_INTERNAL_ERROR: suberror 1' }]);
    l.start();
    expect(l.runSlice(3)).toBe('error');
    expect(l.lastReason).toBe('KVM_EXIT_INTERNAL_ERROR: suberror 1');
  });

  it('pauses from running or waiting, and cont resumes', () => {
    const { l } = loop([{ kind: 'wait-for-interrupt' }]);
    l.start();
    l.runSlice(1);
    l.pause();
    expect(l.state).toBe('paused');
    l.start();
    expect(l.state).toBe('running');
  });

  it('maps every exit action to a next state', () => {
    const p = { noReboot: false, noShutdown: false };
    expect(nextState({ kind: 'inject' }, p)).toBe('running');
    expect(nextState({ kind: 'reset', reason: '' }, p)).toBe('reset');
    expect(nextState({ kind: 'error', message: '' }, p)).toBe('error');
  });
});
