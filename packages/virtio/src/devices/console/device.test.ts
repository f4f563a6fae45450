import { describe, expect, it } from 'vitest';
import { hasFeature } from '../../features.js';
import { harness, mmioHarness, TRANSPORT_MATRIX } from '../../testing/index.js';
import { ConsoleConfig, ConsoleDevice, ConsoleFeature, ConsoleQueue, type ConsoleSink } from './device.js';

class TextSink implements ConsoleSink {
  text = '';
  write(bytes: Uint8Array): void {
    this.text += new TextDecoder().decode(bytes);
  }
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

for (const { kind, packed, name } of TRANSPORT_MATRIX) {
  describe(`virtio-console (${name})`, () => {
    it('prints what the guest transmits', () => {
      const sink = new TextSink();
      const h = harness(kind, new ConsoleDevice(sink), { packed });
      h.driver.queue(ConsoleQueue.TRANSMIT).add([{ read: enc('hello ') }, { read: enc('hvc0\n') }]);
      h.driver.kick(ConsoleQueue.TRANSMIT);
      expect(sink.text).toBe('hello hvc0\n');
      expect(h.driver.queue(ConsoleQueue.TRANSMIT).popUsed()?.len).toBe(0);
    });

    it('delivers input into receive buffers, holding it until buffers are posted', () => {
      const dev = new ConsoleDevice(new TextSink());
      const h = harness(kind, dev, { packed });
      dev.input(enc('abcdef'));
      const rx = h.driver.queue(ConsoleQueue.RECEIVE);
      rx.add([{ write: 4 }]);
      rx.add([{ write: 4 }]);
      h.driver.kick(ConsoleQueue.RECEIVE);
      const used = rx.drainUsed();
      expect(used.map((u) => dec(u.data))).toEqual(['abcd', 'ef']);
      // A buffer posted with nothing to say stays with the device.
      rx.add([{ write: 4 }]);
      h.driver.kick(ConsoleQueue.RECEIVE);
      expect(rx.popUsed()).toBeNull();
      dev.input(enc('z'));
      expect(dec(rx.popUsed()?.data ?? new Uint8Array())).toBe('z');
    });

    it('drops input beyond its limit', () => {
      const dev = new ConsoleDevice(new TextSink(), { inputLimit: 4 });
      harness(kind, dev, { packed });
      dev.input(enc('123456'));
      expect(dev.dropped).toBe(2);
    });
  });
}

describe('virtio-console configuration', () => {
  it('reports the size when given and prints emergency writes', () => {
    const sink = new TextSink();
    const h = mmioHarness(new ConsoleDevice(sink, { size: { cols: 80, rows: 25 } }));
    expect(hasFeature(h.driver.features, ConsoleFeature.SIZE)).toBe(true);
    expect(h.driver.readConfig(ConsoleConfig.COLS, 2)).toBe(80);
    expect(h.driver.readConfig(ConsoleConfig.ROWS, 2)).toBe(25);
    h.driver.writeConfig(ConsoleConfig.EMERG_WR, 4, 0x21);
    expect(sink.text).toBe('!');
  });
});
