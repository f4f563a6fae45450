import { describe, expect, it } from 'vitest';
import { makeBootIso, SECTOR } from './iso9660.js';

const text = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

describe('makeBootIso', () => {
  const boot = new Uint8Array(512).fill(0xcc);
  const iso = makeBootIso({ bootImage: boot });
  const view = new DataView(iso.buffer);

  it('has the primary volume descriptor, the El Torito boot record and the terminator at sectors 16-18', () => {
    expect([iso[16 * SECTOR], text(iso, 16 * SECTOR + 1, 5)]).toEqual([1, 'CD001']);
    expect(text(iso, 17 * SECTOR + 7, 23)).toBe('EL TORITO SPECIFICATION');
    expect(view.getUint32(17 * SECTOR + 0x47, true)).toBe(19); // boot catalog sector
    expect(iso[18 * SECTOR]).toBe(255);
    // Volume space size in both byte orders, and the logical block size.
    expect(view.getUint32(16 * SECTOR + 80, true)).toBe(iso.length / SECTOR);
    expect(view.getUint32(16 * SECTOR + 84, false)).toBe(iso.length / SECTOR);
    expect(view.getUint16(16 * SECTOR + 128, true)).toBe(SECTOR);
  });

  it('writes a validation entry whose words sum to zero and a bootable no-emulation entry', () => {
    const c = 19 * SECTOR;
    let sum = 0;
    for (let i = 0; i < 32; i += 2) sum += view.getUint16(c + i, true);
    expect(sum & 0xffff).toBe(0);
    expect([iso[c], iso[c + 0x1e], iso[c + 0x1f]]).toEqual([1, 0x55, 0xaa]);
    expect([iso[c + 0x20], iso[c + 0x21]]).toEqual([0x88, 0]);
    expect(view.getUint16(c + 0x26, true)).toBe(1); // one 512-byte virtual sector
    const rba = view.getUint32(c + 0x28, true);
    expect(Array.from(iso.subarray(rba * SECTOR, rba * SECTOR + 512))).toEqual(Array.from(boot));
  });

  it('refuses an empty boot image', () => {
    expect(() => makeBootIso({ bootImage: new Uint8Array(0) })).toThrow(RangeError);
  });
});
