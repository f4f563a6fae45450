// Linux's i8253 clockevent in one-shot mode programs counter 0 in mode 4 and writes each event's count
// (LSB then MSB, 0xF to 0x7FFF ticks) and waits for the IRQ0 edge at terminal count. Each count must
// give exactly one edge, however the VMM's polls and the host's stalls fall around the writes.
import type { Clock } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ticksToNs } from '../time/ticks.js';
import { Pit8254 } from './device.js';
import * as R from './registers.js';

const F = R.PIT_FREQUENCY_HZ;

/** Host time that also moves on by `stallNs` every time it is read, as a preempted VMM thread sees it. */
class StallingClock implements Clock {
  ns = 0;
  stallNs = 0;
  nowNs(): number {
    const t = this.ns;
    this.ns += this.stallNs;
    return t;
  }
}

function oneShotPit() {
  const clock = new StallingClock();
  const irq = new FakeIrqLine();
  const pit = new Pit8254({ clock, irq0: irq });
  pit.write(
    R.CONTROL_OFFSET,
    1,
    (R.RW_LSB_MSB << R.CW_RW_SHIFT) | (R.Mode.SoftwareTriggeredStrobe << R.CW_MODE_SHIFT),
  );
  return { clock, irq, pit };
}

describe('8254 PIT one-shot (mode 4) as Linux drives it', () => {
  it('delivers the edge of a count written while the host thread stalls between clock reads', () => {
    // The hung Debian amd64 boot: 2473 ticks (2.07 ms) written, and the VMM thread lost 3 ms inside the
    // write. The count's start and the poll that precedes it must be the same instant.
    const { clock, irq, pit } = oneShotPit();
    clock.ns = 172_704_210_000;
    clock.stallNs = 3_000_000;
    const before = irq.risingEdges;
    pit.write(0, 1, 0xa9);
    pit.write(0, 1, 0x09);
    clock.stallNs = 0;
    for (let i = 0; i < 100; i++) {
      clock.ns += 1_000_000;
      pit.poll();
    }
    expect(irq.risingEdges - before).toBe(1);
  });

  it('delivers one edge per count for every interleaving of polls, stalls and counts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            count: fc.integer({ min: 0xf, max: 0x7fff }),
            stallTicks: fc.integer({ min: 0, max: 40_000 }),
            gapTicks: fc.integer({ min: 0, max: 3_000 }),
            polls: fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 8 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (events) => {
          const { clock, irq, pit } = oneShotPit();
          let now = ticksToNs(1_000, F);
          for (const e of events) {
            clock.ns = now + ticksToNs(e.gapTicks, F);
            const before = irq.risingEdges;
            clock.stallNs = ticksToNs(e.stallTicks, F) / 3; // spread over the reads of the two writes
            pit.write(0, 1, e.count & 0xff);
            pit.write(0, 1, e.count >> 8);
            clock.stallNs = 0;
            // Polls at random points, then the wake-up at the deadline the PIT asks for, then later.
            for (const p of e.polls) {
              clock.ns += ticksToNs(p, F);
              pit.poll();
            }
            const deadline = pit.nextDeadlineNs();
            if (deadline !== null && deadline > clock.ns) clock.ns = deadline;
            pit.poll();
            const next = pit.nextDeadlineNs();
            if (next !== null && next > clock.ns) clock.ns = next;
            pit.poll();
            clock.ns += ticksToNs(e.count + 2, F);
            pit.poll();
            expect(irq.risingEdges - before).toBe(1);
            expect(irq.level).toBe(true);
            expect(pit.nextDeadlineNs()).toBeNull();
            now = clock.ns;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
