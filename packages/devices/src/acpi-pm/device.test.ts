// Behaviour checked against ACPI 6.5 section 4.8.3 (PM1_STS write-1-to-clear, PM1_EN, PM1_CNT
// SLP_TYP/SLP_EN, PM timer at 3.579545 MHz with TMR_STS on bit 23 changes) and PIIX4 datasheet 7.2.
import { FakeIrqLine, ManualClock } from '@typevisor/memory/testing';
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

  it('power button sets PWRBTN_STS; SCI only when enabled', () => {
    const { pm, sci } = make();
    pm.pressPowerButton();
    expect(sci.level).toBe(false);
    pm.write(R.PM1_EN_OFFSET + 1, 1, R.PWRBTN_EN >> 8);
    expect(sci.level).toBe(true);
    expect(pm.read(R.PM1_STS_OFFSET + 1, 1)).toBe(R.PWRBTN_STS >> 8);
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
});
