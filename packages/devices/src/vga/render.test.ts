// Rendering checked against the IBM VGA Technical Reference: 9-dot text cells with fonts in plane 2,
// attribute palette -> DAC lookup, mode 13h (chain-4, 256-colour shift, double scan), 16-colour
// planar pixels; and the VBE 5:6:5 and 8:8:8 pixel layouts.
import { describe, expect, it } from 'vitest';
import { Vga } from './device.js';
import * as R from './registers.js';

const pixel = (f: { width: number; rgba: Uint8ClampedArray }, x: number, y: number) => {
  const o = (y * f.width + x) * 4;
  return [f.rgba[o], f.rgba[o + 1], f.rgba[o + 2]];
};

describe('VGA rendering', () => {
  it('text mode draws the guest font with attribute colours in 9x16 cells', () => {
    const vga = new Vga({ vramSize: 256 * 1024 });
    vga.setTextMode80x25();
    vga.vram[(0x41 * 32 + 0) * 4 + 2] = 0x80; // glyph 'A', scan line 0: leftmost dot
    vga.legacyMemory.write(0x18000, 1, 0x41);
    vga.legacyMemory.write(0x18001, 1, 0x1e); // yellow on blue
    const f = vga.render();
    expect([f.width, f.height]).toEqual([720, 400]);
    expect(pixel(f, 0, 0)).toEqual([255, 255, 85]);
    expect(pixel(f, 1, 0)).toEqual([0, 0, 170]);
    expect(pixel(f, 0, 1)).toEqual([0, 0, 170]);
  });

  it('mode 13h: chain-4 bytes are DAC indices, scan lines doubled to 320x200', () => {
    const vga = new Vga({ vramSize: 256 * 1024 });
    const out = (port: number, v: number) => vga.ioPorts.write(port - R.VGA_IO_BASE, 1, v);
    const regs: Array<[number, number, number]> = [
      [0x3c4, 4, 0x0e],
      [0x3c4, 2, 0x0f],
      [0x3ce, 5, 0x40],
      [0x3ce, 6, 0x05],
      [0x3d4, 0x01, 0x4f],
      [0x3d4, 0x07, 0x1f],
      [0x3d4, 0x09, 0x41],
      [0x3d4, 0x12, 0x8f],
      [0x3d4, 0x13, 0x28],
    ];
    out(0x3c2, 0x63);
    for (const [port, index, value] of regs) {
      out(port, index);
      out(port + 1, value);
    }
    out(0x3c8, 4);
    for (const c of [63, 0, 0]) out(0x3c9, c);
    vga.legacyMemory.write(320 * 10 + 5, 1, 4);
    const f = vga.render();
    expect([f.width, f.height]).toEqual([320, 200]);
    expect(pixel(f, 5, 10)).toEqual([255, 0, 0]);
    expect(pixel(f, 6, 10)).toEqual([0, 0, 0]);
  });

  it('16-colour planar graphics combine one bit from each plane', () => {
    const vga = new Vga({ vramSize: 256 * 1024 });
    vga.setTextMode80x25();
    const out = (port: number, v: number) => vga.ioPorts.write(port - R.VGA_IO_BASE, 1, v);
    out(0x3ce, 6);
    out(0x3cf, 0x05); // graphics, A0000 64 KiB
    vga.vram[0] = 0x80; // plane 0, pixel 0
    vga.vram[2] = 0x80; // plane 2, pixel 0: colour 5 (magenta)
    const f = vga.render();
    expect(pixel(f, 0, 0)).toEqual([170, 0, 170]);
    expect(pixel(f, 1, 0)).toEqual([0, 0, 0]);
  });

  it('VBE 16 and 32 bpp pixels', () => {
    const vga = new Vga({ vramSize: 1024 * 1024 });
    const vbe = (i: number, v: number) => {
      vga.vbePorts.write(R.VBE_INDEX_OFFSET, 2, i);
      vga.vbePorts.write(R.VBE_DATA_OFFSET, 2, v);
    };
    vbe(R.VbeIndex.XRes, 64);
    vbe(R.VbeIndex.YRes, 48);
    vbe(R.VbeIndex.Bpp, 16);
    vbe(R.VbeIndex.Enable, R.VBE_ENABLED | R.VBE_LFB_ENABLED);
    vga.lfb.write(2, 2, 0xf800);
    expect(pixel(vga.render(), 1, 0)).toEqual([248, 0, 0]);
    vbe(R.VbeIndex.Enable, 0);
    vbe(R.VbeIndex.Bpp, 32);
    vbe(R.VbeIndex.Enable, R.VBE_ENABLED | R.VBE_LFB_ENABLED);
    vga.lfb.write(64 * 4, 4, 0x0000_ff00);
    expect(pixel(vga.render(), 0, 1)).toEqual([0, 255, 0]);
  });
});
