// Encodings checked against ACPI 6.5 chapter 20 (AML grammar: PkgLength 20.2.4, NameString 20.2.2,
// integer constants 20.2.3) and section 6.4 (resource descriptors); the \_S5 bytes are those iasl
// compiles `Name (\_S5, Package (0x04) { Zero, Zero, Zero, Zero })` to.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as aml from './aml.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Decodes a PkgLength: [total length it encodes, bytes it occupies]. */
function decodePkgLength(b: Uint8Array): [number, number] {
  const lead = b[0]!;
  const extra = lead >> 6;
  if (extra === 0) return [lead & 0x3f, 1];
  let v = lead & 0x0f;
  for (let k = 1; k <= extra; k++) v += b[k]! * 2 ** (4 + 8 * (k - 1));
  return [v, 1 + extra];
}

describe('AML encoder', () => {
  it('encodes \\_S5 as the package of four zero SLP_TYP values iasl produces', () => {
    const s5 = aml.name('\\_S5', aml.pkg([0, 0, 0, 0].map(aml.integer)));
    // NameOp, RootChar, "_S5_", PackageOp, PkgLength 6, NumElements 4, ZeroOp x4.
    expect([...s5]).toEqual([0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0, 0, 0, 0]);
  });

  it('encodes integers in the smallest constant form, Zero and One as opcodes', () => {
    expect([...aml.integer(0)]).toEqual([0x00]);
    expect([...aml.integer(1)]).toEqual([0x01]);
    expect([...aml.integer(0xff)]).toEqual([0x0a, 0xff]);
    expect([...aml.integer(0x100)]).toEqual([0x0b, 0x00, 0x01]);
    expect([...aml.integer(0x10000)]).toEqual([0x0c, 0x00, 0x00, 0x01, 0x00]);
    expect([...aml.integer(2 ** 32)]).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(() => aml.integer(-1)).toThrow(aml.AmlError);
  });

  it('encodes name strings: padded segments, root and parent prefixes, dual and multi names', () => {
    expect(hex(aml.nameString('PCI0'))).toBe('50434930');
    expect(hex(aml.nameString('_SB'))).toBe('5f53425f');
    expect(hex(aml.nameString('\\_SB.PCI0'))).toBe('5c2e5f53425f50434930');
    expect(hex(aml.nameString('^^A.B.C'))).toBe('5e5e2f03415f5f5f425f5f5f435f5f5f');
    expect(hex(aml.nameString('\\'))).toBe('5c00');
    for (const bad of ['pci0', '0ABC', 'TOOLONG', 'A-B', ''])
      expect(() => aml.nameSeg(bad), bad).toThrow(aml.AmlError);
  });

  it('PkgLength counts its own bytes and switches to 2-4 byte forms at 63, 4095 and 1 MiB', () => {
    expect([...aml.pkgLength(0)]).toEqual([1]);
    expect([...aml.pkgLength(62)]).toEqual([63]);
    expect([...aml.pkgLength(63)]).toEqual([0x41, 0x04]); // 65 = 0x41: lead 0x40 | 1, then 4
    expect(aml.pkgLength(4093).length).toBe(2);
    expect(aml.pkgLength(4094).length).toBe(3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x0fff_fff0 }), (n) => {
        const enc = aml.pkgLength(n);
        const [total, used] = decodePkgLength(enc);
        expect(used).toBe(enc.length);
        expect(total).toBe(n + enc.length);
      }),
    );
  });

  it('packs EISA IDs as ASL EISAID does (PNP0A03 = 0x030AD041)', () => {
    expect(aml.eisaId('PNP0A03')).toBe(0x030ad041);
    expect(aml.eisaId('PNP0501')).toBe(0x0105d041);
    expect(() => aml.eisaId('pnp0a03')).toThrow(aml.AmlError);
  });

  it('builds buffers, devices and resource descriptors with their spec lengths', () => {
    expect([...aml.buffer(Uint8Array.of(0xaa, 0xbb))]).toEqual([0x11, 0x05, 0x0a, 0x02, 0xaa, 0xbb]);
    expect([...aml.ioPort(0xcf8, 0xcf8, 1, 8)]).toEqual([0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08]);
    const w = aml.wordAddressSpace({ type: 2, flags: 0x0c, typeFlags: 0, min: 0, max: 0xff });
    expect(w.length).toBe(3 + 0x0d);
    expect([...w.subarray(-2)]).toEqual([0x00, 0x01]); // length 0x100
    const d = aml.dwordAddressSpace({
      type: 0,
      flags: 0x0c,
      typeFlags: 1,
      min: 0xe000_0000,
      max: 0xfebf_ffff,
    });
    expect(d.length).toBe(3 + 0x17);
    expect(new DataView(d.buffer).getUint32(d.length - 4, true)).toBe(0x1ec0_0000);
    const dev = aml.device('PCI0', [aml.name('_ADR', aml.integer(0))]);
    expect([...dev.subarray(0, 3)]).toEqual([0x5b, 0x82, dev.length - 2]);
    expect(() => aml.string('caf\u00e9')).toThrow(aml.AmlError);
  });
});
