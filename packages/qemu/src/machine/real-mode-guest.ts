/** Test support: runs a small real-mode program on a `pc` machine (used by the -d and IDE tests). */
import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { parseCommandLine } from '../options/parse.js';
import type { ExitAction } from './exit-dispatch.js';
import { PcMachine } from './pc.js';
import type { VirtioIo } from './virtio-devices.js';

export interface RealModeGuest {
  readonly m: PcMachine;
  readonly clock: ManualClock;
  readonly log: string[];
  /** Runs until `done()` or `maxExits` exits; a HLT advances the clock by 10 ms. Returns the last action. */
  run(done: () => boolean, maxExits?: number): ExitAction;
}

/** A pc machine (`args` on the command line) with `code` at 0000:1000 and the vCPU there, in real mode. */
export function realModeGuest(
  args: readonly string[],
  code: readonly number[],
  extra: readonly (readonly [number, readonly number[]])[] = [],
  virtio?: VirtioIo,
): RealModeGuest {
  const cmd = parseCommandLine(['-m', '16', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  const clock = new ManualClock();
  const log: string[] = [];
  const m = new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock, log: (t) => log.push(t), ...(virtio ? { virtio } : {}) },
    new KvmHost(),
  );
  m.ram.set(code, 0x1000);
  for (const [at, bytes] of extra) m.ram.set(bytes, at);
  const s = m.vcpu.getSregs();
  m.vcpu.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  m.vcpu.setRegs({ ...m.vcpu.getRegs(), rip: 0x1000n, rsp: 0x8000n });
  return {
    m,
    clock,
    log,
    run(done, maxExits = 10_000) {
      let action: ExitAction = { kind: 'continue' };
      for (let i = 0; i < maxExits && !done(); i++) {
        action = m.runOnce();
        if (action.kind === 'wait-for-interrupt') clock.advanceNs(10e6);
        else if (action.kind !== 'continue' && action.kind !== 'inject') return action;
      }
      return action;
    },
  };
}
