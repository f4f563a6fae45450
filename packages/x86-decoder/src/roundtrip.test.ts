import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeInto } from './decoder.js';
import { encode } from './encoder.js';
import { Instruction } from './instruction.js';
import { codeName } from './names.js';
import { semanticDiff } from './roundtrip.js';

describe('round trip: decode(encode(x)) equals x', () => {
  for (const bitness of [16, 32, 64] as const) {
    it(`holds for every valid instruction decoded from random bytes (${bitness}-bit)`, () => {
      const a = new Instruction();
      const b = new Instruction();
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 15, maxLength: 15 }), (bytes) => {
          if (decodeInto(a, bytes, 0, bitness, 0x1000) === 0) return true;
          const out = encode(a);
          expect(decodeInto(b, out, 0, bitness, 0x1000), codeName(a.code)).toBe(out.length);
          expect(semanticDiff(a, b), codeName(a.code)).toEqual([]);
          return true;
        }),
        { numRuns: 5000, seed: bitness },
      );
    });
  }
});
