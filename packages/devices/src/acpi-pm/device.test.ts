// Behaviour checked against ACPI 6.5 section 4.8.3 (PM1_STS write-1-to-clear, PM1_EN, PM1_CNT
// SLP_TYP/SLP_EN, PM timer at 3.579545 MHz with TMR_STS on bit 23 changes) and PIIX4 datasheet 7.2.
import { FakeIrqLine, ManualClock } from '@typevisor/memory/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ticksToNs } from '../time/ticks.js';
import { AcpiPm, ApmControl } from './device.js';
import * as R from './registers.js';

function make() {
  const clock = new ManualClock(0);
  const sci = new FakeIrqLine();
  let offs = 0;
  const pm = new AcpiPm({ clock, sci, power: { powerOff: () => offs++ } });
  return { pm, clock, sci, offs: () => offs };
}

describe('ACPI PM', () => {
  it('powers off when SLP_EN is written with the S5 sleep type', () => {
    const { pm, offs } = make();
    pm.write(R.PM1_CNT_OFFSET, 2, (R.SLP_TYP_S3 << R.SLP_TYP_SHIFT) | R.SLP_EN);
    expect(offs()).toBe(0);
    pm.write(R.PM1_CNT_OFFSET, 2, (R.SLP_TYP_S5 << R.SLP_TYP_SHIFT) | R.SLP_EN);
    expect(offs()).toBe(1);
    expect(pm.read(R.PM1_CNT_OFFSET, 2) & R.SLP_EN).toBe(0); // write-only bit
  });

  it('the PM timer counts at 3.579545 MHz in 24 bits', () => {
    const { pm, clock } = make();
    clock.setNs(1_000_000_000);
    expect(pm.read(R.PM_TMR_OFFSET, 4)).toBe(R.PM_TIMER_HZ);
    clock.setNs(ticksToNs(0x100_0005, R.PM_TIMER_HZ));
    expect(pm.read(R.PM_TMR_OFFSET, 4)).toBe(5);
    expect(pm.read(R.PM_TMR_OFFSET + 3, 1)).toBe(0);
  });

  it('sets TMR_STS when timer bit 23 changes and raises SCI if TMR_EN', () => {
    const { pm, clock, sci } = make();
    pm.write(R.PM1_EN_OFFSET, 2, R.TMR_EN);
    const deadline = pm.nextDeadlineNs()!;
    expect(deadline).toBe(ticksToNs(R.PM_TIMER_STATUS_PERIOD, R.PM_TIMER_HZ));
    clock.setNs(deadline - 1);
    pm.poll();
    expect(sci.level).toBe(false);
    clock.setNs(deadline);
    pm.poll();
    expect(sci.level).toBe(true);
    expect(pm.read(R.PM1_STS_OFFSET, 2) & R.TMR_STS).toBe(R.TMR_STS);
    pm.write(R.PM1_STS_OFFSET, 2, R.TMR_STS); // write 1 to clear
    expect(sci.level).toBe(false);
    expect(pm.read(R.PM1_STS_OFFSET, 2)).toBe(0);
  });

  it('a power-button press while PWRBTN_EN is clear is dropped, as in QEMU', () => {
    const { pm, sci } = make();
    expect(pm.pressPowerButton()).toBe(false);
    expect(pm.read(R.PM1_STS_OFFSET, 2)).toBe(0);
    // Enabling the button afterwards does not surface the old press.
    pm.write(R.PM1_EN_OFFSET + 1, 1, R.PWRBTN_EN >> 8);
    expect(sci.level).toBe(false);
    expect(sci.risingEdges).toBe(0);
  });

  it('a press with PWRBTN_EN set latches PWRBTN_STS and holds SCI until the guest writes 1 to it', () => {
    const { pm, sci } = make();
    pm.write(R.PM1_EN_OFFSET, 2, R.PWRBTN_EN);
    expect(pm.pressPowerButton()).toBe(true);
    expect(pm.read(R.PM1_STS_OFFSET + 1, 1)).toBe(R.PWRBTN_STS >> 8);
    expect(sci.level).toBe(true);
    pm.pressPowerButton(); // a second press while pending: still one level, no new edge
    expect(sci.risingEdges).toBe(1);
    pm.write(R.PM1_STS_OFFSET, 2, 0); // writing 0 clears nothing
    expect(sci.level).toBe(true);
    pm.write(R.PM1_STS_OFFSET + 1, 1, R.PWRBTN_STS >> 8);
    expect(pm.read(R.PM1_STS_OFFSET, 2)).toBe(0);
    expect(sci.level).toBe(false);
  });

  it('PM1_STS writes clear exactly the status bits written as 1', () => {
    const { clock } = make();
    const all = R.TMR_STS | R.PWRBTN_STS | R.RTC_STS | R.WAK_STS;
    const p = AcpiPm.fromState({ sts: all, en: 0, cnt: 0, lastPollTick: 0 }, { clock });
    p.write(R.PM1_STS_OFFSET, 2, R.RTC_STS | R.TMR_STS | 0x0200); // 0x0200 is not a status bit here
    expect(p.read(R.PM1_STS_OFFSET, 2)).toBe(R.PWRBTN_STS | R.WAK_STS);
    p.write(R.PM1_STS_OFFSET, 4, 0xffff_ffff); // a dword write also reaches PM1_EN (offset 2)
    expect(p.read(R.PM1_STS_OFFSET, 2)).toBe(0);
    expect(p.read(R.PM1_EN_OFFSET, 2)).toBe(R.PM1_EN_MASK);
  });

  it('PM1_EN stores only TMR_EN, GBL_EN, PWRBTN_EN and RTC_EN', () => {
    const { pm } = make();
    pm.write(R.PM1_EN_OFFSET, 2, 0xffff);
    expect(pm.read(R.PM1_EN_OFFSET, 2)).toBe(R.TMR_EN | R.GBL_EN | R.PWRBTN_EN | R.RTC_EN);
    pm.write(R.PM1_EN_OFFSET + 1, 1, 0);
    expect(pm.read(R.PM1_EN_OFFSET, 2)).toBe(R.TMR_EN | R.GBL_EN);
  });

  it('SCI follows PWRBTN_STS & PWRBTN_EN: masking the enable bit drops it, unmasking raises it again', () => {
    const { pm, sci } = make();
    pm.write(R.PM1_EN_OFFSET, 2, R.PWRBTN_EN);
    pm.pressPowerButton();
    expect(sci.level).toBe(true);
    pm.write(R.PM1_EN_OFFSET, 2, 0);
    expect(sci.level).toBe(false);
    expect(pm.read(R.PM1_STS_OFFSET, 2)).toBe(R.PWRBTN_STS); // status stays latched while masked
    pm.write(R.PM1_EN_OFFSET, 2, R.PWRBTN_EN);
    expect(sci.level).toBe(true);
    expect(sci.risingEdges).toBe(2);
  });

  it('SCI equals (PM1_STS & PM1_EN) != 0 after every step of random guest writes, presses and time', () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('write' as const),
        offset: fc.integer({ min: 0, max: R.PM_IO_LENGTH - 4 }),
        size: fc.constantFrom(1 as const, 2 as const, 4 as const),
        value: fc.integer({ min: 0, max: 0xffff_ffff }),
      }),
      fc.record({ kind: fc.constant('press' as const) }),
      fc.record({ kind: fc.constant('time' as const), ns: fc.integer({ min: 0, max: 5_000_000_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { pm, clock, sci } = make();
        let now = 0;
        for (const s of steps) {
          if (s.kind === 'write') pm.write(s.offset, s.size, s.value);
          else if (s.kind === 'press') pm.pressPowerButton();
          else {
            now += s.ns;
            clock.setNs(now);
            pm.poll();
          }
          const sts = pm.read(R.PM1_STS_OFFSET, 2);
          const en = pm.read(R.PM1_EN_OFFSET, 2);
          expect(sci.level).toBe((sts & en) !== 0);
          expect(sts & ~R.PM1_STS_MASK).toBe(0);
          expect(en & ~R.PM1_EN_MASK).toBe(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ACPI enable through the SMI command port sets SCI_EN', () => {
    const { pm } = make();
    const apm = new ApmControl(pm);
    apm.write(R.APM_CNT_OFFSET, 1, R.ACPI_ENABLE_CMD);
    expect(pm.read(R.PM1_CNT_OFFSET, 2) & R.SCI_EN).toBe(R.SCI_EN);
    apm.write(R.APM_CNT_OFFSET, 1, R.ACPI_DISABLE_CMD);
    expect(pm.read(R.PM1_CNT_OFFSET, 2) & R.SCI_EN).toBe(0);
    apm.write(R.APM_STS_OFFSET, 1, 0x5a);
    expect(apm.read(R.APM_STS_OFFSET, 1)).toBe(0x5a);
  });

  it('state round-trips through JSON', () => {
    const { pm, clock } = make();
    pm.write(R.PM1_EN_OFFSET, 2, R.PWRBTN_EN | R.TMR_EN);
    pm.pressPowerButton();
    const sci = new FakeIrqLine();
    const copy = AcpiPm.fromState(JSON.parse(JSON.stringify(pm.getState())), { clock, sci });
    expect(copy.getState()).toEqual(pm.getState());
    expect(sci.level).toBe(true);
  });

  it('one inl of the timer is one sample: it never tears across a carry while host time moves', () => {
    // Linux's acpi_pm probe read 0x4355f2 then 0x435500 (bytes sampled at different instants) and
    // rejected the timer ("PM-Timer had inconsistent results").
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff_ffff }),
        fc.array(fc.integer({ min: 0, max: 700 }), { minLength: 1, maxLength: 40 }),
        (start, steps) => {
          let ns = ticksToNs(start, R.PM_TIMER_HZ);
          let step = 0;
          // Host time that moves on between any two reads of it, as a preempted VMM thread sees it.
          const clock = { nowNs: () => (ns += step) };
          const pm = new AcpiPm({ clock });
          let last = -1;
          for (const s of steps) {
            step = s;
            const before = Math.floor((ns * R.PM_TIMER_HZ) / 1e9);
            const v = pm.read(R.PM_TMR_OFFSET, 4);
            const after = Math.floor((ns * R.PM_TIMER_HZ) / 1e9);
            // The value is the timer at one instant within the read, and time never runs backwards.
            const unwrapped = v + Math.floor(before / 0x100_0000) * 0x100_0000;
            const sample = unwrapped < before - 1 ? unwrapped + 0x100_0000 : unwrapped;
            expect(sample).toBeGreaterThanOrEqual(before - 1);
            expect(sample).toBeLessThanOrEqual(after + 1);
            if (last >= 0) expect(sample).toBeGreaterThanOrEqual(last);
            last = sample;
          }
        },
      ),
    );
  });
});
