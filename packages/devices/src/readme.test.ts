// Runs the README's example. The code between the example markers below must equal the README's
// example block (checked by the last test), so the documentation cannot drift from working code.
import { readFileSync } from 'node:fs';
import { PioBus } from '@typevisor/memory';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Mc146818, PicPair, Pit8254, PitRegs, Uart16550, UartRegs } from './index.js';
import { ticksToNs } from './time/ticks.js';

describe('README example', () => {
  it('wires a UART, the PICs and the PIT, and runs them as a VMM would', () => {
    // example:start
    const pio = new PioBus();
    const clock = new ManualClock(); // the VMM's virtual time
    const vectors: number[] = []; // what the CPU was interrupted with
    const pic = new PicPair({ output: { set: (level) => level && cpuInterrupt() } });
    pio.insert(0x20, 2, pic.master, 'pic-master');
    pio.insert(0xa0, 2, pic.slave, 'pic-slave');

    // Three lines for a serial console: the device, its IRQ and output, its place on the bus.
    const console = new CollectingSink();
    const com1 = new Uart16550({ irq: pic.irqLine(4), output: console });
    pio.insert(0x3f8, UartRegs.UART_PORT_COUNT, com1, 'com1');

    // Timers run on virtual time only: poll them at their deadlines.
    const pit = new Pit8254({ clock, irq0: pic.irqLine(0) });
    pio.insert(0x40, 4, pit, 'pit');
    const rtc = new Mc146818({ clock, irq: pic.irqLine(8), startTime: Date.UTC(2025, 0, 1) / 1000 });
    pio.insert(0x70, 2, rtc, 'rtc');

    // What a guest does: program the PICs (vectors 0x20/0x28), the PIT at 100 Hz, print a line.
    for (const [port, v] of [
      [0x20, 0x11],
      [0x21, 0x20],
      [0x21, 0x04],
      [0x21, 0x01],
      [0xa0, 0x11],
      [0xa1, 0x28],
      [0xa1, 0x02],
      [0xa1, 0x01],
    ] as const) {
      pio.write(port, 1, v);
    }
    pio.write(0x43, 1, 0x34); // counter 0, LSB then MSB, mode 2
    pio.write(0x40, 1, 11932 & 0xff);
    pio.write(0x40, 1, 11932 >> 8);
    for (const c of 'hello\n') pio.write(0x3f8, 1, c.charCodeAt(0));

    // The VMM's loop: advance time to the next deadline, poll, deliver interrupts to the CPU.
    function cpuInterrupt(): void {
      vectors.push(pic.acknowledge());
      pio.write(0x20, 1, 0x20); // the guest's EOI
    }
    for (let i = 0; i < 3; i++) {
      clock.setNs(pit.nextDeadlineNs()!);
      pit.poll();
    }
    // example:end
    expect(console.text()).toBe('hello\n');
    expect(vectors).toEqual([0x20]); // one period: 11932 ticks at 1.193182 MHz = 10 ms
    expect(clock.nowNs()).toBe(ticksToNs(2 * 11932 - 1, PitRegs.PIT_FREQUENCY_HZ)); // OUT0 low again
    expect(PitRegs.PIT_FREQUENCY_HZ).toBe(1_193_182);
    expect(rtc.time).toBe(Date.UTC(2025, 0, 1) / 1000);
  });

  it('the README shows exactly this example', () => {
    const extract = (text: string, start: RegExp, end: RegExp): string[] => {
      const lines = text.split('\n');
      const a = lines.findIndex((l) => start.test(l));
      const b = lines.findIndex((l, i) => i > a && end.test(l));
      return lines.slice(a + 1, b).map((l) => l.trim());
    };
    const self = readFileSync(new URL(import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const mine = extract(self, /\/\/ example:start/, /\/\/ example:end/);
    const shown = extract(readme, /<!-- example:start -->/, /<!-- example:end -->/).filter(
      (l) => !l.startsWith('```') && !l.startsWith('import '),
    );
    expect(shown.filter((l) => l !== '')).toEqual(mine.filter((l) => l !== ''));
  });
});
