// Behaviour checked against the IA-PC HPET Specification 1.0a: 2.3.4 (GCAP_ID), 2.3.5 (GEN_CONF,
// ENABLE_CNF and LEG_RT_CNF), 2.3.6 (GINTR_STA, write-1-to-clear for level-triggered timers), 2.3.7
// (main counter), 2.3.8 (Tn_CONF: INT_TYPE, INT_ENB, TYPE, VAL_SET, 32MODE, INT_ROUTE), 2.3.9
// (comparators, periodic mode); QEMU hw/timer/hpet.c for the capability defaults.
import { FakeIrqLine, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Hpet } from './device.js';
import * as R from './registers.js';

function make(options: { timers?: number } = {}) {
  const clock = new ManualClock(1000);
  const lines = new Map<number, FakeIrqLine>();
  const legacy: boolean[] = [];
  const hpet = new Hpet({
    clock,
    irq: (route) => {
      const l = new FakeIrqLine();
      lines.set(route, l);
      return l;
    },
    legacyObserver: { legacyRouteChanged: (on) => legacy.push(on) },
    ...options,
  });
  const line = (route: number) => {
    if (!lines.has(route)) lines.set(route, new FakeIrqLine());
    return lines.get(route)!;
  };
  const tn = (n: number, reg: number) => R.TIMER_BASE + n * R.TIMER_STRIDE + reg;
  const w = (off: number, v: number) => hpet.write(off, 4, v);
  const r = (off: number) => hpet.read(off, 4);
  /** Advances virtual time by `ns` and polls. */
  const run = (ns: number) => {
    clock.advanceNs(ns);
    hpet.poll();
  };
  return { hpet, clock, lines, line, legacy, tn, w, r, run };
}

describe('HPET', () => {
  it('reports QEMU capabilities: Intel, 64-bit, legacy route, 3 timers, 10 ns period', () => {
    const { r, tn } = make();
    expect(r(R.GCAP_ID_OFFSET)).toBe(0x8086_a201);
    expect(r(R.PERIOD_OFFSET)).toBe(0x0098_9680);
    expect(r(tn(0, R.TN_CONF_OFFSET))).toBe(R.TN_PER_INT_CAP | R.TN_SIZE_CAP);
    expect(r(tn(2, R.TN_CONF_OFFSET + 4))).toBe(1 << 2);
    expect(r(tn(0, R.TN_COMPARATOR_OFFSET + 4))).toBe(0xffff_ffff);
    expect(r(tn(3, R.TN_CONF_OFFSET))).toBe(0); // no fourth timer
  });

  it('main counter halts until ENABLE_CNF, then counts at 100 MHz', () => {
    const { r, w, run } = make();
    run(5000);
    expect(r(R.MAIN_CNT_OFFSET)).toBe(0);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(1_000_000);
    expect(r(R.MAIN_CNT_OFFSET)).toBe(100_000);
    w(R.GEN_CONF_OFFSET, 0);
    run(1_000_000);
    expect(r(R.MAIN_CNT_OFFSET)).toBe(100_000);
  });

  it('main counter is 64-bit: written while halted, it carries into the high dword', () => {
    const { r, w, run } = make();
    w(R.MAIN_CNT_OFFSET, 0xffff_fff0);
    w(R.MAIN_CNT_OFFSET + 4, 7);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(200);
    expect(r(R.MAIN_CNT_OFFSET)).toBe(4);
    expect(r(R.MAIN_CNT_OFFSET + 4)).toBe(8);
  });

  it('one-shot edge timer pulses its route once when the counter reaches the comparator', () => {
    const { w, tn, line, hpet, run } = make();
    w(tn(2, R.TN_CONF_OFFSET), R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(2, R.TN_COMPARATOR_OFFSET), 500);
    w(tn(2, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    expect(hpet.nextDeadlineNs()).toBe(1000 + 5000);
    run(4990);
    expect(line(2).risingEdges).toBe(0);
    run(10);
    expect(line(2).risingEdges).toBe(1);
    expect(line(2).level).toBe(false);
    expect(hpet.nextDeadlineNs()).toBeNull();
    run(1_000_000);
    expect(line(2).risingEdges).toBe(1);
  });

  it('legacy replacement routes timer 0 to IRQ0 and timer 1 to IRQ8', () => {
    const { w, tn, line, legacy, hpet, run } = make();
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE | R.CONF_LEG_RT);
    expect(hpet.legacyReplacement).toBe(true);
    expect(legacy).toEqual([true]);
    w(tn(0, R.TN_CONF_OFFSET), R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(0, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(tn(0, R.TN_COMPARATOR_OFFSET), 100);
    w(tn(1, R.TN_CONF_OFFSET), R.TN_INT_ENB);
    w(tn(1, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(tn(1, R.TN_COMPARATOR_OFFSET), 200);
    run(3000);
    expect(line(R.LEGACY_TIMER0_IRQ).risingEdges).toBe(1);
    expect(line(R.LEGACY_TIMER1_IRQ).risingEdges).toBe(1);
    expect(line(2).risingEdges).toBe(0);
  });

  it('periodic timer fires every period and the comparator accumulates', () => {
    const { w, r, tn, line, hpet, run } = make();
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE | R.CONF_LEG_RT);
    // Linux's hpet_set_periodic: TYPE|VAL_SET|32MODE, comparator = now + delta, then comparator = delta.
    w(tn(0, R.TN_CONF_OFFSET), R.TN_INT_ENB | R.TN_TYPE_PERIODIC | R.TN_VAL_SET | R.TN_32MODE);
    w(tn(0, R.TN_COMPARATOR_OFFSET), 1000);
    w(tn(0, R.TN_COMPARATOR_OFFSET), 1000);
    expect(r(tn(0, R.TN_CONF_OFFSET)) & R.TN_VAL_SET).toBe(0);
    expect(hpet.nextDeadlineNs()).toBe(1000 + 10_000);
    for (let i = 1; i <= 5; i++) {
      run(10_000);
      expect(line(0).risingEdges).toBe(i);
      expect(r(tn(0, R.TN_COMPARATOR_OFFSET))).toBe(1000 * (i + 1));
    }
    run(35_000); // three periods and a half late: one interrupt, accumulator past the counter
    expect(line(0).risingEdges).toBe(6);
    expect(r(tn(0, R.TN_COMPARATOR_OFFSET))).toBe(9000);
    expect(hpet.nextDeadlineNs()).toBe(1000 + 90_000);
  });

  it('level-triggered status bit is write-1-to-clear and drops the line', () => {
    const { w, r, tn, line, run } = make();
    w(tn(1, R.TN_CONF_OFFSET), R.TN_INT_ENB | R.TN_INT_TYPE_LEVEL | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(1, R.TN_COMPARATOR_OFFSET), 10);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(100);
    expect(r(R.GINTR_STA_OFFSET)).toBe(0b10);
    expect(line(2).level).toBe(true);
    w(R.GINTR_STA_OFFSET, 0b01); // writing other bits (or 0) has no effect
    expect(r(R.GINTR_STA_OFFSET)).toBe(0b10);
    expect(line(2).level).toBe(true);
    w(R.GINTR_STA_OFFSET, 0b10);
    expect(r(R.GINTR_STA_OFFSET)).toBe(0);
    expect(line(2).level).toBe(false);
  });

  it('level-triggered timer with interrupts disabled sets status but not the line', () => {
    const { w, r, tn, line, run } = make();
    w(tn(0, R.TN_CONF_OFFSET), R.TN_INT_TYPE_LEVEL | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(0, R.TN_COMPARATOR_OFFSET), 10);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(200);
    expect(r(R.GINTR_STA_OFFSET)).toBe(1);
    expect(line(2).risingEdges).toBe(0);
    w(tn(0, R.TN_CONF_OFFSET), R.TN_INT_TYPE_LEVEL | R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    expect(line(2).level).toBe(true);
  });

  it('32-bit mode truncates the comparator and matches on the low 32 bits of the counter', () => {
    const { w, r, tn, line, run } = make();
    w(R.MAIN_CNT_OFFSET + 4, 5);
    w(R.MAIN_CNT_OFFSET, 0);
    w(tn(2, R.TN_COMPARATOR_OFFSET + 4), 0x1234);
    w(tn(2, R.TN_CONF_OFFSET), R.TN_INT_ENB | R.TN_32MODE | (2 << R.TN_INT_ROUTE_SHIFT));
    expect(r(tn(2, R.TN_COMPARATOR_OFFSET + 4))).toBe(0);
    w(tn(2, R.TN_COMPARATOR_OFFSET), 50);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(490);
    expect(line(2).risingEdges).toBe(0);
    run(10);
    expect(line(2).risingEdges).toBe(1);
  });

  it('a route outside Tn_INT_ROUTE_CAP is not taken', () => {
    const { w, r, tn } = make();
    w(tn(0, R.TN_CONF_OFFSET), 2 << R.TN_INT_ROUTE_SHIFT);
    w(tn(0, R.TN_CONF_OFFSET), 9 << R.TN_INT_ROUTE_SHIFT);
    expect((r(tn(0, R.TN_CONF_OFFSET)) & R.TN_INT_ROUTE_MASK) >>> R.TN_INT_ROUTE_SHIFT).toBe(2);
  });

  it('a comparator already passed fires on the next tick (QEMU), not after a wrap', () => {
    const { w, tn, line, run, hpet, clock } = make();
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(10_000); // counter 1000
    w(tn(2, R.TN_CONF_OFFSET), R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(2, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(tn(2, R.TN_COMPARATOR_OFFSET), 10);
    expect(hpet.nextDeadlineNs()).toBe(clock.nowNs() + 10);
    run(10);
    expect(line(2).risingEdges).toBe(1);
  });

  it('a counter write while running takes effect and re-arms the comparators', () => {
    const { w, r, tn, line, hpet, run, clock } = make();
    w(tn(2, R.TN_CONF_OFFSET), R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(2, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(tn(2, R.TN_COMPARATOR_OFFSET), 10_000);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(1000);
    w(R.MAIN_CNT_OFFSET, 9_000);
    expect(r(R.MAIN_CNT_OFFSET)).toBe(9_000);
    expect(hpet.nextDeadlineNs()).toBe(clock.nowNs() + 10_000);
    run(10_000);
    expect(line(2).risingEdges).toBe(1);
  });

  it('halting the counter stops interrupt generation', () => {
    const { w, tn, line, hpet, run } = make();
    w(tn(2, R.TN_CONF_OFFSET), R.TN_INT_ENB | (2 << R.TN_INT_ROUTE_SHIFT));
    w(tn(2, R.TN_COMPARATOR_OFFSET + 4), 0);
    w(tn(2, R.TN_COMPARATOR_OFFSET), 1000);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(5000);
    w(R.GEN_CONF_OFFSET, 0);
    expect(hpet.nextDeadlineNs()).toBeNull();
    run(100_000);
    expect(line(2).risingEdges).toBe(0);
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE);
    run(5000);
    expect(line(2).risingEdges).toBe(1);
  });

  it('state round-trips through JSON and keeps the periodic schedule', () => {
    const { w, tn, hpet, clock, run } = make();
    w(R.GEN_CONF_OFFSET, R.CONF_ENABLE | R.CONF_LEG_RT);
    w(tn(0, R.TN_CONF_OFFSET), R.TN_INT_ENB | R.TN_TYPE_PERIODIC | R.TN_VAL_SET | R.TN_32MODE);
    w(tn(0, R.TN_COMPARATOR_OFFSET), 100);
    w(tn(0, R.TN_COMPARATOR_OFFSET), 100);
    run(1500);
    const irq0 = new FakeIrqLine();
    const copy = Hpet.fromState(JSON.parse(JSON.stringify(hpet.getState())), {
      clock,
      irq: (n) => (n === 0 ? irq0 : new FakeIrqLine()),
    });
    expect(copy.getState()).toEqual(hpet.getState());
    expect(copy.nextDeadlineNs()).toBe(hpet.nextDeadlineNs());
    clock.setNs(copy.nextDeadlineNs()!);
    copy.poll();
    expect(irq0.risingEdges).toBe(1);
    expect(() => Hpet.fromState({ ...hpet.getState(), counter: '-1' }, { clock, irq: () => irq0 })).toThrow(
      /InvalidState/,
    );
  });
});
