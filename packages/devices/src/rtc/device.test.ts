// Behaviour checked against the Motorola MC146818A datasheet: "Update Cycle" (UIP 244 us before the
// update, UF at its end, first update 500 ms after the divider leaves reset), "Register A-D",
// "Periodic Interrupt" (Table 5 rates), "Alarm" (don't-care codes 0xC0-0xFF), "Data Mode" (BCD/binary,
// 12/24 hour with bit 7 = PM).
import { FakeIrqLine, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { pcCmosLayout } from './cmos-layout.js';
import { Mc146818, periodicTicks } from './device.js';
import * as R from './registers.js';

const S = 1_000_000_000;
// 2024-02-29T23:59:58Z, a Thursday.
const START = Date.UTC(2024, 1, 29, 23, 59, 58) / 1000;
function make() {
  const clock = new ManualClock(0);
  const irq = new FakeIrqLine();
  const rtc = new Mc146818({ clock, irq, startTime: START });
  const get = (i: number) => {
    rtc.write(R.INDEX_OFFSET, 1, i);
    return rtc.read(R.DATA_OFFSET, 1);
  };
  const set = (i: number, v: number) => {
    rtc.write(R.INDEX_OFFSET, 1, i);
    rtc.write(R.DATA_OFFSET, 1, v);
  };
  return { rtc, clock, irq, get, set };
}

describe('MC146818 RTC', () => {
  it('reads the start time in BCD, 24-hour mode', () => {
    const { get } = make();
    expect([get(R.REG_HOURS), get(R.REG_MINUTES), get(R.REG_SECONDS)]).toEqual([0x23, 0x59, 0x58]);
    expect([get(R.REG_DAY_OF_MONTH), get(R.REG_MONTH), get(R.REG_YEAR), get(R.REG_CENTURY)]).toEqual([
      0x29, 0x02, 0x24, 0x20,
    ]);
    expect(get(R.REG_DAY_OF_WEEK)).toBe(5); // Thursday, Sunday = 1
    expect(get(R.REG_D)).toBe(R.D_VRT);
  });

  it('advances with the injected clock across a leap-day midnight', () => {
    const { clock, get } = make();
    clock.advanceNs(2 * S);
    expect([get(R.REG_HOURS), get(R.REG_MINUTES), get(R.REG_SECONDS)]).toEqual([0, 0, 0]);
    expect([get(R.REG_DAY_OF_MONTH), get(R.REG_MONTH)]).toEqual([0x01, 0x03]);
  });

  it('update-ended interrupt fires at each one-second update and is cleared by reading C', () => {
    const { rtc, clock, irq, get, set } = make();
    set(R.REG_B, R.B_24H | R.B_UIE);
    expect(rtc.nextDeadlineNs()).toBe(S);
    clock.setNs(S - 1);
    rtc.poll();
    expect(irq.level).toBe(false);
    clock.setNs(S);
    rtc.poll();
    expect(irq.level).toBe(true);
    // PF is also set: the 1024 Hz periodic flag runs whether or not PIE is set.
    expect(get(R.REG_C)).toBe(R.C_IRQF | R.C_UF | R.C_PF);
    expect(irq.level).toBe(false);
    expect(get(R.REG_C)).toBe(0);
    expect(rtc.nextDeadlineNs()).toBe(2 * S);
  });

  it('UIP is set during the 244 us before an update', () => {
    const { clock, get } = make();
    clock.setNs(S - R.UIP_LEAD_NS - 1);
    expect(get(R.REG_A) & R.A_UIP).toBe(0);
    clock.setNs(S - R.UIP_LEAD_NS);
    expect(get(R.REG_A) & R.A_UIP).toBe(R.A_UIP);
    clock.setNs(S);
    expect(get(R.REG_A) & R.A_UIP).toBe(0);
  });

  it('the first update comes 500 ms after the divider leaves reset', () => {
    const { clock, get, set } = make();
    set(R.REG_A, R.A_DV_RESET | 6);
    clock.advanceNs(5 * S);
    expect(get(R.REG_SECONDS)).toBe(0x58); // frozen
    set(R.REG_A, R.A_DV_32768 | 6);
    clock.advanceNs(S / 2 - 1);
    expect(get(R.REG_SECONDS)).toBe(0x58);
    clock.advanceNs(1);
    expect(get(R.REG_SECONDS)).toBe(0x59);
  });

  it('periodic interrupt at 1024 Hz (RS = 6) sets PF each 1/1024 s', () => {
    const { rtc, clock, irq, get, set } = make();
    expect(periodicTicks(6)).toBe(32);
    expect(periodicTicks(1)).toBe(128); // 256 Hz
    expect(periodicTicks(15)).toBe(16384); // 2 Hz
    set(R.REG_B, R.B_24H | R.B_PIE);
    const deadline = rtc.nextDeadlineNs()!;
    expect(deadline).toBe(976_563); // ceil(1e9 / 1024)
    clock.setNs(deadline - 1);
    rtc.poll();
    expect(irq.level).toBe(false);
    clock.setNs(deadline);
    rtc.poll();
    expect(irq.level).toBe(true);
    expect(get(R.REG_C)).toBe(R.C_IRQF | R.C_PF);
  });

  it('PF is set even with PIE clear, and enabling PIE then raises IRQF', () => {
    const { clock, irq, get, set } = make();
    clock.advanceNs(S / 100);
    set(R.REG_B, R.B_24H | R.B_PIE);
    expect(irq.level).toBe(true);
    expect(get(R.REG_C) & R.C_PF).toBe(R.C_PF);
  });

  it('alarm interrupt matches hours/minutes/seconds with don-t-care codes', () => {
    const { rtc, clock, irq, get, set } = make();
    set(R.REG_HOURS_ALARM, 0xff);
    set(R.REG_MINUTES_ALARM, 0x00);
    set(R.REG_SECONDS_ALARM, 0x01);
    set(R.REG_B, R.B_24H | R.B_AIE);
    clock.setNs(2 * S); // 00:00:00
    rtc.poll();
    expect(irq.level).toBe(false);
    clock.setNs(3 * S); // 00:00:01
    rtc.poll();
    expect(irq.level).toBe(true);
    expect(get(R.REG_C) & ~R.C_PF).toBe(R.C_IRQF | R.C_AF | R.C_UF);
  });

  it('binary and 12-hour modes with the PM bit', () => {
    const { clock, get, set } = make();
    set(R.REG_B, R.B_DM_BINARY);
    clock.advanceNs(S); // next update rewrites the registers in the new format
    expect(get(R.REG_HOURS)).toBe(R.HOURS_PM | 11);
    expect(get(R.REG_SECONDS)).toBe(59);
    expect(get(R.REG_YEAR)).toBe(24);
  });

  it('SET stops updates, clears UIE, and the written time starts when SET is cleared', () => {
    const { clock, get, set } = make();
    set(R.REG_B, R.B_24H | R.B_UIE);
    set(R.REG_B, R.B_24H | R.B_SET | R.B_UIE);
    expect(get(R.REG_B)).toBe(R.B_24H | R.B_SET);
    set(R.REG_HOURS, 0x12);
    set(R.REG_MINUTES, 0x34);
    set(R.REG_SECONDS, 0x56);
    clock.advanceNs(10 * S);
    expect(get(R.REG_SECONDS)).toBe(0x56);
    set(R.REG_B, R.B_24H);
    clock.advanceNs(S);
    expect([get(R.REG_HOURS), get(R.REG_MINUTES), get(R.REG_SECONDS)]).toEqual([0x12, 0x34, 0x57]);
  });

  it('port 0x70 bit 7 masks NMI and the index wraps to 7 bits', () => {
    const { rtc, get } = make();
    rtc.write(R.INDEX_OFFSET, 1, R.NMI_DISABLE | R.REG_D);
    expect(rtc.nmiMasked).toBe(true);
    expect(rtc.read(R.DATA_OFFSET, 1)).toBe(R.D_VRT);
    get(0x40);
    expect(rtc.nmiMasked).toBe(false);
  });

  it('general CMOS bytes are plain RAM; C and D are read-only', () => {
    const { get, set } = make();
    set(0x50, 0xab);
    expect(get(0x50)).toBe(0xab);
    set(R.REG_D, 0);
    expect(get(R.REG_D)).toBe(R.D_VRT);
  });

  it('lays out the CMOS bytes SeaBIOS reads', () => {
    const { rtc } = make();
    const MiB = 1024 * 1024;
    for (const [i, v] of pcCmosLayout({ ramBelow4G: 3072 * MiB, ramAbove4G: 1024 * MiB, cpus: 4 }))
      rtc.setCmos(i, v);
    expect(rtc.getCmos(R.Cmos.BaseMemoryLow) | (rtc.getCmos(R.Cmos.BaseMemoryHigh) << 8)).toBe(640);
    expect(rtc.getCmos(R.Cmos.ExtendedMemoryLow) | (rtc.getCmos(R.Cmos.ExtendedMemoryHigh) << 8)).toBe(
      0xffff,
    );
    const above16 = rtc.getCmos(R.Cmos.MemoryAbove16MLow) | (rtc.getCmos(R.Cmos.MemoryAbove16MHigh) << 8);
    expect(above16).toBe((3072 - 16) * 16);
    expect(rtc.getCmos(R.Cmos.MemoryAbove4G0) | (rtc.getCmos(R.Cmos.MemoryAbove4G1) << 8)).toBe(16384);
    expect(rtc.getCmos(R.Cmos.SmpCount)).toBe(3);
    expect(rtc.getCmos(R.Cmos.BootFlag2)).toBe((R.BootDevice.Cdrom << 4) | R.BootDevice.Disk);
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += rtc.getCmos(i);
    expect((rtc.getCmos(R.Cmos.ChecksumHigh) << 8) | rtc.getCmos(R.Cmos.ChecksumLow)).toBe(sum);
    expect(() => rtc.setCmos(128, 0)).toThrow(/InvalidArgument/);
  });

  it('state round-trips through JSON and keeps time', () => {
    const { rtc, clock } = make();
    clock.advanceNs(S / 3);
    const copy = Mc146818.fromState(JSON.parse(JSON.stringify(rtc.getState())), { clock });
    expect(copy.getState()).toEqual(rtc.getState());
    clock.advanceNs(S);
    expect(copy.time).toBe(START + 1);
  });
});
