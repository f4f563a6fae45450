import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Into, encodeBase64 } from './base64.js';

describe('base64 (VRAM snapshots)', () => {
  it('matches the standard encoding and round-trips any bytes', () => {
    expect(encodeBase64(new TextEncoder().encode('any carnal pleas'))).toBe('YW55IGNhcm5hbCBwbGVhcw==');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        const out = new Uint8Array(bytes.length);
        expect(decodeBase64Into(text, out)).toBe(true);
        expect(out).toEqual(bytes);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('rejects malformed text and size mismatches', () => {
    expect(decodeBase64Into('abc', new Uint8Array(2))).toBe(false);
    expect(decodeBase64Into('ab!d', new Uint8Array(3))).toBe(false);
    expect(decodeBase64Into('YWJj', new Uint8Array(2))).toBe(false);
    expect(decodeBase64Into('YWJj', new Uint8Array(4))).toBe(false);
  });
});
