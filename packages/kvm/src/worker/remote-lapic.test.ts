import { LapicRegs } from '@typevisor/devices';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTROL_CELLS } from './protocol.js';
import { RemoteLapic } from './remote-lapic.js';
import { WorkerIrqchip, WorkerLapic } from './worker-irqchip.js';

const R = LapicRegs.Reg;
const clock = { nowNs: () => 0 };
const APIC_BASE = 0xfee0_0000n;
const EN = 1n << 11n;
const EXTD = 1n << 10n;

/** A LAPIC publishing into a fresh control buffer, seen from the VMM thread through `RemoteLapic`. */
function pair(id: number) {
  const cells = new Int32Array(new SharedArrayBuffer(CONTROL_CELLS * 4));
  const local = new WorkerLapic({ clock, id });
  local.publishTo(cells);
  return { cells, local, remote: new RemoteLapic(cells) };
}

describe('the VMM-thread view of a worker LAPIC (RemoteLapic)', () => {
  it('matches destinations exactly as the LAPIC itself does, whatever the guest programmed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('off', 'xapic', 'x2apic'),
        fc.integer({ min: 0, max: 0xff }),
        fc.constantFrom(0xffff_ffff, 0x0fff_ffff),
        fc.boolean(),
        fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0xffff_ffff })),
        fc.boolean(),
        (id, mode, ldr, dfr, swEnable, dest, logical) => {
          const { local, remote } = pair(id);
          if (mode === 'off') local.writeApicBase(APIC_BASE);
          if (mode === 'x2apic') local.writeApicBase(APIC_BASE | EN | EXTD);
          if (mode === 'xapic') {
            local.write(R.LDR, 4, ldr << 24);
            local.write(R.DFR, 4, dfr);
          }
          if (swEnable && mode === 'xapic') local.write(R.SVR, 4, 0x1ff);
          expect(remote.apicId).toBe(local.apicId);
          expect(remote.matchesDestination(dest, logical)).toBe(local.matchesDestination(dest, logical));
        },
      ),
    );
  });

  it('accepts what the LAPIC accepts, and the LAPIC gets it from the mailbox', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 1 }),
        fc.boolean(),
        (mode, vector, trigger, swEnable) => {
          const reference = new WorkerLapic({ clock, id: 0 });
          if (swEnable) reference.write(R.SVR, 4, 0x1ff);
          const expected = reference.deliver(mode, vector, trigger);
          const cells = new Int32Array(new SharedArrayBuffer(CONTROL_CELLS * 4));
          const chip = new WorkerIrqchip(clock, cells, 0, { state: reference.getState(), bsp: true });
          // The reference took the message already; a clean copy of its state before that:
          const fresh = new WorkerLapic({ clock, id: 0 });
          if (swEnable) fresh.write(R.SVR, 4, 0x1ff);
          chip.lapicOfVcpu.loadState(fresh.getState());
          const remote = new RemoteLapic(cells);
          expect(remote.deliver(mode, vector, trigger)).toBe(expected);
          chip.poll(0);
          const got = chip.lapicOfVcpu.getState();
          const want = reference.getState();
          expect([got.irr, got.tmr, got.esrPending, got.nmiPending, got.initPending, got.sipiVector]).toEqual(
            [want.irr, want.tmr, want.esrPending, want.nmiPending, want.initPending, want.sipiVector],
          );
        },
      ),
    );
  });
});
