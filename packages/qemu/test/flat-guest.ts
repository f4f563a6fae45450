/** Test support: runs a few bytes of 32-bit flat code on a `pc` machine's vCPU. */
import { flatSegment } from '../src/machine/entry-state.js';
import type { PcMachine } from '../src/machine/pc.js';

/** Runs 32-bit flat code at 0x1000 until it halts (throws if it stops otherwise or never halts). */
export function runFlatGuest(m: PcMachine, code: number[]): void {
  m.ram.set(code, 0x1000);
  const s = m.vcpu.getSregs();
  const data = flatSegment(0x18, false);
  m.vcpu.setSregs({ ...s, cs: flatSegment(0x10, true), ds: data, es: data, ss: data, cr0: s.cr0 | 1n });
  m.vcpu.setRegs({ ...m.vcpu.getRegs(), rip: 0x1000n, rflags: 2n });
  for (let i = 0; i < 20; i++) {
    const a = m.runOnce();
    if (a.kind === 'wait-for-interrupt') return;
    if (a.kind !== 'continue') throw new Error(`guest stopped: ${JSON.stringify(a)}`);
  }
  throw new Error('the guest did not halt');
}
