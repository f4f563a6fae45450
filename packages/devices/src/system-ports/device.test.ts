// Port 61h per the IBM PC/AT Technical Reference and PIIX4 datasheet (290562) 4.1 "NMI Status and
// Control"; port 92h per PIIX4 datasheet 4.1 "PORT92".
import { ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Pit8254 } from '../pit/device.js';
import { PIT_FREQUENCY_HZ } from '../pit/registers.js';
import { ticksToNs } from '../time/ticks.js';
import { SystemControlPortA, SystemControlPortB } from './device.js';
import * as R from './registers.js';

describe('port 0x61', () => {
  it('gates counter 2 and reports its OUT in bit 5 (the Linux PIT/TSC calibration loop)', () => {
    const clock = new ManualClock(0);
    const pit = new Pit8254({ clock });
    const speaker = {
      on: false,
      setSpeaker(v: boolean) {
        this.on = v;
      },
    };
    const port = new SystemControlPortB({ timer: pit, clock, speaker });
    // outb((inb(0x61) & ~0x02) | 0x01, 0x61); outb(0xb0, 0x43); outb(lo, 0x42); outb(hi, 0x42)
    port.write(0, 1, (port.read(0, 1) & ~R.PORTB_SPEAKER_DATA) | R.PORTB_TIMER2_GATE);
    pit.write(3, 1, 0xb0);
    pit.write(2, 1, 0xe8);
    pit.write(2, 1, 0x03); // 1000
    expect(port.read(0, 1) & R.PORTB_TIMER2_OUT).toBe(0);
    clock.setNs(ticksToNs(1000, PIT_FREQUENCY_HZ));
    expect(port.read(0, 1) & R.PORTB_TIMER2_OUT).toBe(R.PORTB_TIMER2_OUT);
    expect(speaker.on).toBe(false);
    port.write(0, 1, R.PORTB_TIMER2_GATE | R.PORTB_SPEAKER_DATA);
    expect(speaker.on).toBe(true);
  });

  it('toggles the refresh bit every 15.085 us and keeps only the writable bits', () => {
    const clock = new ManualClock(0);
    const port = new SystemControlPortB({ timer: new Pit8254({ clock }), clock });
    port.write(0, 1, 0xff);
    const a = port.read(0, 1) & R.PORTB_REFRESH_TOGGLE;
    clock.advanceNs(R.REFRESH_PERIOD_NS);
    expect(port.read(0, 1) & R.PORTB_REFRESH_TOGGLE).not.toBe(a);
    expect(port.read(0, 1) & R.PORTB_WRITABLE).toBe(R.PORTB_WRITABLE);
  });
});

describe('port 0x92', () => {
  it('drives A20 from bit 1 and resets on bit 0', () => {
    const events: string[] = [];
    const port = new SystemControlPortA({
      a20: { setA20: (on) => events.push(`a20=${on}`) },
      reset: { requestReset: () => events.push('reset') },
    });
    port.write(0, 1, R.PORTA_A20);
    expect(port.read(0, 1)).toBe(R.PORTA_A20);
    port.write(0, 1, R.PORTA_A20 | R.PORTA_FAST_RESET);
    port.write(0, 1, 0);
    expect(events).toEqual(['a20=true', 'reset', 'a20=false']);
  });

  it('state round-trips through JSON', () => {
    const port = new SystemControlPortA();
    port.write(0, 1, R.PORTA_A20);
    const copy = SystemControlPortA.fromState(JSON.parse(JSON.stringify(port.getState())));
    expect(copy.a20Enabled).toBe(true);
  });
});
