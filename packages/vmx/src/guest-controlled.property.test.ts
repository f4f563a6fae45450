import { GuestMemory } from '@typevisor/memory';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createVmxCapabilities } from './capabilities.js';
import { checkControls, checkGuestState, checkHostState } from './entry-checks.js';
import { FieldType, FieldWidth, VMCS_FIELDS, fieldType, fieldWidth, slotOf } from './fields.js';
import { setupGuest64 } from './testing/index.js';
import { Vmcs } from './vmcs.js';

const caps = createVmxCapabilities();
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const out = new Uint32Array(2);

describe('VMREAD/VMWRITE with guest-chosen encodings and values', () => {
  it('never throw, fail only with errors 12 or 13, and read back what the field width keeps', () => {
    const v = new Vmcs(caps);
    fc.assert(
      fc.property(
        fc.oneof(
          u32,
          fc.constantFrom(...VMCS_FIELDS.map((f) => f.encoding)),
          fc.constantFrom(...VMCS_FIELDS.map((f) => f.encoding | 1)),
        ),
        u32,
        u32,
        fc.boolean(),
        (enc, lo, hi, long) => {
          const err = v.vmwrite(enc, 0, lo, hi, long);
          const supported = v.isSupported(enc);
          if (!supported) {
            expect(err).toBe(12);
            expect(v.vmread(enc, 0, long, out)).toBe(12);
            return;
          }
          if (fieldType(enc) === FieldType.ReadOnlyData) {
            expect(err).toBe(13);
            return;
          }
          expect(err).toBe(0);
          expect(v.vmread(enc, 0, long, out)).toBe(0);
          if ((enc & 1) === 1) {
            expect([out[0], out[1]]).toEqual([lo, 0]);
            return;
          }
          const w = fieldWidth(enc);
          const wantLo = w === FieldWidth.Bits16 ? lo & 0xffff : lo;
          const wantHi = long && (w === FieldWidth.Bits64 || w === FieldWidth.Natural) ? hi : 0;
          expect([out[0], out[1]]).toEqual([wantLo, wantHi]);
          expect(slotOf(enc)).toBeGreaterThanOrEqual(0);
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('VM-entry checks on guest-chosen VMCS contents', () => {
  it('never throw and report a check of the stage they belong to', () => {
    const mem = GuestMemory.create(0x1_0000);
    const writable = VMCS_FIELDS.filter((f) => fieldType(f.encoding) !== FieldType.ReadOnlyData);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...writable), u32, u32), { maxLength: 6 }),
        fc.boolean(),
        (edits, ia32e) => {
          const v = new Vmcs(caps);
          setupGuest64(v, caps);
          for (const [f, lo, hi] of edits) v.write64(f.encoding, lo, hi);
          const c = checkControls(v, caps, mem);
          const h = checkHostState(v, caps, ia32e);
          const g = checkGuestState(v, caps, { memory: mem, currentVmcsPointer: 0x8000 });
          if (c !== null) expect(c.error).toBe(7);
          if (h !== null) expect(h.error).toBe(8);
          if (g !== null) expect(g.exitReason).toBe(0x8000_0021);
          if (edits.length === 0 && ia32e) expect([c, h, g]).toEqual([null, null, null]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
