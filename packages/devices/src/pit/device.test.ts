// Behaviour checked against the Intel 82C54 datasheet (231244): "Mode Definitions" (modes 0-5 and
// their waveforms, Figures 13-18), "Counter Latch Command", "Read-Back Command" and "Status Byte".
import { FakeIrqLine, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { ticksToNs } from '../time/ticks.js';
import { Pit8254 } from './device.js';
import * as R from './registers.js';

const F = R.PIT_FREQUENCY_HZ;
function make() {
  const clock = new ManualClock(0);
  const irq = new FakeIrqLine();
  const pit = new Pit8254({ clock, irq0: irq });
  /** Moves virtual time to absolute tick `t` and polls, as a VMM would. */
  const at = (t: number) => {
    clock.setNs(ticksToNs(t, F));
    pit.poll();
  };
  return { pit, clock, irq, at };
}
const cw = (sc: number, rw: number, mode: number, bcd = 0) =>
  (sc << R.CW_SC_SHIFT) | (rw << R.CW_RW_SHIFT) | (mode << R.CW_MODE_SHIFT) | bcd;
function program(pit: Pit8254, ch: number, mode: number, count: number): void {
  pit.write(R.CONTROL_OFFSET, 1, cw(ch, R.RW_LSB_MSB, mode));
  pit.write(ch, 1, count & 0xff);
  pit.write(ch, 1, count >> 8);
}
function readCount(pit: Pit8254, ch: number): number {
  pit.write(R.CONTROL_OFFSET, 1, cw(ch, R.RW_LATCH, 0));
  const lo = pit.read(ch, 1);
  return lo | (pit.read(ch, 1) << 8);
}

describe('8254 PIT', () => {
  it('starts as reset leaves it: mode 3 with count 65536 on every counter', () => {
    const { pit, irq, at } = make();
    expect(pit.output(0)).toBe(true);
    at(32768);
    expect(irq.level).toBe(false);
    at(65536);
    expect(irq.risingEdges).toBe(1); // 18.2 Hz
    pit.write(R.CONTROL_OFFSET, 1, 0xc0 | R.RB_COUNTER2 | R.RB_COUNT_N);
    expect(pit.read(2, 1)).toBe((3 << 4) | (3 << 1) | R.STATUS_OUTPUT);
  });

  it('mode 2 reloads every N clocks and pulses IRQ0 once per period', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.RateGenerator, 100);
    expect(pit.output(0)).toBe(true); // OUT high after the count is written
    expect(pit.nextDeadlineNs()).toBe(ticksToNs(99, F)); // count reaches 1: OUT low for one clock
    at(99);
    expect(irq.level).toBe(false);
    expect(readCount(pit, 0)).toBe(1);
    at(100);
    expect(irq.level).toBe(true);
    expect(irq.risingEdges).toBe(1);
    expect(readCount(pit, 0)).toBe(100); // reloaded
    at(150);
    expect(readCount(pit, 0)).toBe(50);
    at(199);
    at(200);
    expect(irq.risingEdges).toBe(2);
  });

  it('mode 2: a late poll still delivers one edge for the missed periods', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.RateGenerator, 100);
    const before = irq.risingEdges;
    at(1050); // ten periods missed, OUT high now
    expect(irq.risingEdges).toBe(before + 1);
    expect(irq.level).toBe(true);
  });

  it('mode 2: a count written mid-period takes effect when the period ends', () => {
    const { pit, at } = make();
    program(pit, 0, R.Mode.RateGenerator, 100);
    at(30);
    pit.write(0, 1, 10);
    pit.write(0, 1, 0);
    at(40);
    expect(readCount(pit, 0)).toBe(60); // old period continues
    at(100);
    expect(readCount(pit, 0)).toBe(10);
    at(105);
    expect(readCount(pit, 0)).toBe(5);
  });

  it('mode 0: OUT low until terminal count, then high; the counter keeps wrapping', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.InterruptOnTerminalCount, 1000);
    expect(irq.level).toBe(false);
    expect(pit.nextDeadlineNs()).toBe(ticksToNs(1000, F));
    at(999);
    expect(irq.level).toBe(false);
    at(1000);
    expect(irq.level).toBe(true);
    at(1001);
    expect(readCount(pit, 0)).toBe(0xffff);
    expect(pit.nextDeadlineNs()).toBeNull();
  });

  it('mode 0: writing the first byte of a new count stops counting and drops OUT', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.InterruptOnTerminalCount, 10);
    at(20);
    expect(irq.level).toBe(true);
    pit.write(0, 1, 50);
    expect(irq.level).toBe(false);
    at(100);
    expect(irq.level).toBe(false);
    pit.write(0, 1, 0);
    at(150);
    expect(irq.level).toBe(true);
  });

  it('mode 0 on counter 2: gate low suspends counting (TSC calibration path)', () => {
    const { pit, at } = make();
    program(pit, 2, R.Mode.InterruptOnTerminalCount, 100);
    at(50);
    expect(readCount(pit, 2)).toBe(100); // gate 2 is low after reset: not counting
    pit.setGate(2, true);
    at(90);
    expect(readCount(pit, 2)).toBe(60);
    pit.setGate(2, false);
    at(500);
    expect(readCount(pit, 2)).toBe(60);
    expect(pit.output(2)).toBe(false);
    pit.setGate(2, true);
    at(560);
    expect(pit.output(2)).toBe(true);
  });

  it('mode 3 square wave: high for ceil(N/2), low for floor(N/2)', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.SquareWave, 5);
    at(2);
    expect(pit.output(0)).toBe(true);
    at(3);
    expect(irq.level).toBe(false);
    at(4);
    expect(irq.level).toBe(false);
    at(5);
    expect(irq.level).toBe(true);
    program(pit, 0, R.Mode.SquareWave, 8);
    at(9);
    expect(readCount(pit, 0)).toBe(8 - 2 * 4 + 8); // start of low half reloads to N
  });

  it('mode 1: waits for a gate trigger, then OUT low for N clocks; retriggerable', () => {
    const { pit, at } = make();
    program(pit, 2, R.Mode.HardwareRetriggerableOneShot, 10);
    at(100);
    expect(pit.output(2)).toBe(true);
    pit.setGate(2, true);
    expect(pit.output(2)).toBe(false);
    at(105);
    pit.setGate(2, false);
    pit.setGate(2, true); // retrigger restarts the count
    at(114);
    expect(pit.output(2)).toBe(false);
    at(115);
    expect(pit.output(2)).toBe(true);
  });

  it('mode 4: OUT strobes low for one clock at terminal count', () => {
    const { pit, irq, at } = make();
    program(pit, 0, R.Mode.SoftwareTriggeredStrobe, 10);
    expect(pit.output(0)).toBe(true);
    at(10);
    expect(irq.level).toBe(false);
    at(11);
    expect(irq.level).toBe(true);
    expect(pit.nextDeadlineNs()).toBeNull();
  });

  it('mode 5: strobe after a gate trigger', () => {
    const { pit, at } = make();
    program(pit, 2, R.Mode.HardwareTriggeredStrobe, 4);
    at(10);
    expect(pit.output(2)).toBe(true);
    pit.setGate(2, true);
    at(14);
    expect(pit.output(2)).toBe(false);
    at(15);
    expect(pit.output(2)).toBe(true);
  });

  it('counter latch holds the value until both bytes are read', () => {
    const { pit, at } = make();
    program(pit, 0, R.Mode.RateGenerator, 1000);
    at(100);
    pit.write(R.CONTROL_OFFSET, 1, cw(0, R.RW_LATCH, 0));
    at(300);
    pit.write(R.CONTROL_OFFSET, 1, cw(0, R.RW_LATCH, 0)); // ignored: already latched
    expect(pit.read(0, 1) | (pit.read(0, 1) << 8)).toBe(900);
  });

  it('read-back latches status (OUT, null count, mode) then count', () => {
    const { pit, at } = make();
    pit.write(R.CONTROL_OFFSET, 1, cw(1, R.RW_LSB_MSB, R.Mode.RateGenerator));
    pit.write(R.CONTROL_OFFSET, 1, 0xc0 | R.RB_COUNTER1 | R.RB_COUNT_N); // status only
    expect(pit.read(1, 1)).toBe(R.STATUS_OUTPUT | R.STATUS_NULL_COUNT | (3 << 4) | (2 << 1));
    pit.write(1, 1, 0x00);
    pit.write(1, 1, 0x10);
    at(0x10);
    pit.write(R.CONTROL_OFFSET, 1, 0xc0 | R.RB_COUNTER1); // status and count
    expect(pit.read(1, 1)).toBe(R.STATUS_OUTPUT | (3 << 4) | (2 << 1));
    expect(pit.read(1, 1) | (pit.read(1, 1) << 8)).toBe(0x1000 - 0x10);
  });

  it('BCD counting reads and writes decimal digits', () => {
    const { pit, at } = make();
    pit.write(R.CONTROL_OFFSET, 1, cw(0, R.RW_LSB_MSB, R.Mode.RateGenerator, R.CW_BCD));
    pit.write(0, 1, 0x00);
    pit.write(0, 1, 0x10); // 1000 decimal
    at(1);
    expect(readCount(pit, 0)).toBe(0x0999);
    at(1001);
    expect(readCount(pit, 0)).toBe(0x0999);
  });

  it('LSB-only and MSB-only access modes', () => {
    const { pit } = make();
    pit.write(R.CONTROL_OFFSET, 1, cw(0, R.RW_MSB, R.Mode.RateGenerator));
    pit.write(0, 1, 0x12);
    expect(pit.read(0, 1)).toBe(0x12);
    pit.write(R.CONTROL_OFFSET, 1, cw(0, R.RW_LSB, R.Mode.RateGenerator));
    pit.write(0, 1, 0x34);
    expect(pit.read(0, 1)).toBe(0x34);
  });

  it('state round-trips through JSON and keeps counting', () => {
    const { pit, clock, at } = make();
    program(pit, 0, R.Mode.RateGenerator, 100);
    at(30);
    const irq = new FakeIrqLine();
    const copy = Pit8254.fromState(JSON.parse(JSON.stringify(pit.getState())), { clock, irq0: irq });
    expect(copy.getState()).toEqual(pit.getState());
    clock.setNs(ticksToNs(100, F));
    copy.poll();
    expect(irq.risingEdges).toBe(1);
  });
});
