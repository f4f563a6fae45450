import { describe, expect, it } from 'vitest';
import { harness, TRANSPORT_MATRIX } from '../../testing/index.js';
import { type EntropySource, RngDevice, webCryptoEntropy } from './device.js';

/** A counting source, so the test can see exactly which bytes landed where. */
class CountingSource implements EntropySource {
  next = 1;
  fill(dst: Uint8Array): void {
    for (let i = 0; i < dst.length; i++) dst[i] = this.next++ & 0xff;
  }
}

for (const { kind, packed, name } of TRANSPORT_MATRIX) {
  describe(`virtio-rng (${name})`, () => {
    it('fills every writable buffer of a request from the entropy source', () => {
      const h = harness(kind, new RngDevice(new CountingSource()), { packed });
      h.driver.queue(0).add([{ write: 3 }, { write: 2 }]);
      h.driver.kick(0);
      const used = h.driver.queue(0).popUsed();
      expect(used?.len).toBe(5);
      expect([...(used?.data ?? [])]).toEqual([1, 2, 3, 4, 5]);
    });

    it('caps one request at maxBytesPerRequest', () => {
      const h = harness(kind, new RngDevice(new CountingSource(), { maxBytesPerRequest: 8 }), { packed });
      h.driver.queue(0).add([{ write: 64 }]);
      h.driver.kick(0);
      expect(h.driver.queue(0).popUsed()?.len).toBe(8);
    });
  });
}

describe('web crypto entropy', () => {
  it('fills more than the 64 KiB getRandomValues limit', () => {
    const b = new Uint8Array(200_000);
    webCryptoEntropy.fill(b);
    expect(b.subarray(150_000).some((x) => x !== 0)).toBe(true);
  });
});
