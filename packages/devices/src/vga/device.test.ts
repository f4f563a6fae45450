// Behaviour checked against the IBM VGA Technical Reference (register files, odd/even text layout,
// write modes 0-3, read modes 0-1, attribute flip-flop reset by reading input status 1, DAC index
// auto-increment) and the Bochs VBE DISPI interface (ID 0xB0C5, GETCAPS, enable, LFB).
import { describe, expect, it } from 'vitest';
import { Vga } from './device.js';
import * as R from './registers.js';

const KiB = 1024;
function make() {
  const vga = new Vga({ vramSize: 1024 * KiB });
  const out = (port: number, v: number) => vga.ioPorts.write(port - R.VGA_IO_BASE, 1, v);
  const inp = (port: number) => vga.ioPorts.read(port - R.VGA_IO_BASE, 1);
  const mem = (addr: number, v?: number) =>
    v === undefined
      ? vga.legacyMemory.read(addr - R.LEGACY_BASE, 1)
      : vga.legacyMemory.write(addr - R.LEGACY_BASE, 1, v);
  const vbe = (index: number, v?: number) => {
    vga.vbePorts.write(R.VBE_INDEX_OFFSET, 2, index);
    if (v === undefined) return vga.vbePorts.read(R.VBE_DATA_OFFSET, 2);
    vga.vbePorts.write(R.VBE_DATA_OFFSET, 2, v);
    return v;
  };
  return { vga, out, inp, mem, vbe };
}

describe('VGA', () => {
  it('mode 03h text: characters and attributes written at 0xB8000 show up in the text frame', () => {
    const { vga, mem, out } = make();
    vga.setTextMode80x25();
    const msg = 'Linux version';
    for (let i = 0; i < msg.length; i++) {
      mem(0xb8000 + 160 + 2 * i, msg.charCodeAt(i));
      mem(0xb8000 + 160 + 2 * i + 1, 0x07);
    }
    const screen = vga.textScreen();
    expect([screen.cols, screen.rows]).toEqual([80, 25]);
    expect(vga.textContent()[1]).toBe('Linux version');
    expect(screen.attrs[80]).toBe(0x07);
    expect(mem(0xb8000 + 160)).toBe('L'.charCodeAt(0)); // odd/even read-back
    // Cursor at row 1, column 5 (CRTC 0x0E/0x0F in character cells).
    out(0x3d4, R.CRTC_CURSOR_HIGH);
    out(0x3d5, 0);
    out(0x3d4, R.CRTC_CURSOR_LOW);
    out(0x3d5, 85);
    expect(vga.textScreen().cursor).toBe(85);
    expect(vga.mode).toBe('text');
  });

  it('the CRTC start address scrolls the text frame', () => {
    const { vga, mem, out } = make();
    vga.setTextMode80x25();
    mem(0xb8000 + 160, 'X'.charCodeAt(0));
    out(0x3d4, R.CRTC_START_LOW);
    out(0x3d5, 80);
    expect(vga.textContent()[0]).toBe('X');
  });

  it('planar write mode 0 with the map mask loads a font into plane 2 (how a VGA BIOS does it)', () => {
    const { vga, out, mem } = make();
    out(0x3c4, R.SEQ_MAP_MASK);
    out(0x3c5, 0x04);
    out(0x3c4, R.SEQ_MEMORY_MODE);
    out(0x3c5, 0x06); // odd/even off, chain-4 off
    out(0x3ce, R.GR_MODE);
    out(0x3cf, 0x00);
    out(0x3ce, R.GR_MISC);
    out(0x3cf, 0x04); // A0000, 64 KiB
    out(0x3ce, R.GR_BIT_MASK);
    out(0x3cf, 0xff);
    mem(0xa0000 + 0x20, 0x7e);
    expect(vga.vram[0x20 * 4 + 2]).toBe(0x7e);
    expect(vga.vram[0x20 * 4]).toBe(0);
    out(0x3ce, R.GR_READ_MAP);
    out(0x3cf, 2);
    expect(mem(0xa0000 + 0x20)).toBe(0x7e);
    // Byte 0x20 of plane 2 is scan line 0 of character 1's glyph (32 bytes per character).
    expect(vga.glyph(1)[0]).toBe(0x7e);
  });

  it('write mode 1 copies the latches; read mode 1 compares colours', () => {
    const { vga, out, mem } = make();
    out(0x3c4, R.SEQ_MEMORY_MODE);
    out(0x3c5, 0x06);
    out(0x3ce, R.GR_MISC);
    out(0x3cf, 0x05);
    out(0x3c4, R.SEQ_MAP_MASK);
    out(0x3c5, 0x0f);
    out(0x3ce, R.GR_BIT_MASK);
    out(0x3cf, 0xff);
    // Write mode 2: each plane gets the colour's bit expanded: colour 5 = planes 0 and 2.
    out(0x3ce, R.GR_MODE);
    out(0x3cf, 0x02);
    mem(0xa0010, 0x05);
    expect([0, 1, 2, 3].map((p) => vga.vram[0x10 * 4 + p])).toEqual([0xff, 0, 0xff, 0]);
    // Write mode 1: read loads the latches, the write stores them elsewhere.
    out(0x3ce, R.GR_MODE);
    out(0x3cf, 0x01);
    mem(0xa0010);
    mem(0xa0020, 0);
    expect([0, 1, 2, 3].map((p) => vga.vram[0x20 * 4 + p])).toEqual([0xff, 0, 0xff, 0]);
    // Read mode 1: pixels equal to colour 5 read as 1s.
    out(0x3ce, R.GR_MODE);
    out(0x3cf, R.GRMODE_READ_MODE_1);
    out(0x3ce, R.GR_COLOR_COMPARE);
    out(0x3cf, 0x05);
    out(0x3ce, R.GR_COLOR_DONT_CARE);
    out(0x3cf, 0x0f);
    expect(mem(0xa0010)).toBe(0xff);
    out(0x3ce, R.GR_COLOR_COMPARE);
    out(0x3cf, 0x04);
    expect(mem(0xa0010)).toBe(0x00);
  });

  it('DAC indexes auto-increment every three components', () => {
    const { vga, out, inp } = make();
    out(0x3c8, 10);
    for (const c of [1, 2, 3, 4, 5, 6]) out(0x3c9, c);
    expect(vga.paletteEntry(10)).toEqual([1, 2, 3]);
    expect(vga.paletteEntry(11)).toEqual([4, 5, 6]);
    out(0x3c7, 11);
    expect(inp(0x3c7)).toBe(3);
    expect([inp(0x3c9), inp(0x3c9), inp(0x3c9)]).toEqual([4, 5, 6]);
    out(0x3c9, 0xff);
    expect(vga.paletteEntry(12)[0]).toBe(0x3f); // 6-bit DAC
  });

  it('reading input status 1 resets the attribute controller flip-flop and toggles retrace', () => {
    const { vga, out, inp } = make();
    vga.setTextMode80x25();
    out(0x3c0, 0x01); // index 1
    const a = inp(0x3da);
    const b = inp(0x3da);
    expect((a ^ b) & R.ST1_VERTICAL_RETRACE).toBe(R.ST1_VERTICAL_RETRACE);
    out(0x3c0, 0x12); // index again, because the flip-flop was reset
    out(0x3c0, 0x0e); // data
    expect(inp(0x3c1)).toBe(0x0e);
  });

  it('CRTC ports follow the colour/mono select bit of the misc output register', () => {
    const { out, inp } = make();
    out(0x3c2, 0x67);
    out(0x3d4, 0x0a);
    expect(inp(0x3d4)).toBe(0x0a);
    expect(inp(0x3b4)).toBe(0xff);
    expect(inp(0x3cc)).toBe(0x67);
  });

  it('Bochs VBE: ID, capabilities and a 640x400x32 linear framebuffer', () => {
    const { vga, vbe } = make();
    expect(vbe(R.VbeIndex.Id)).toBe(R.VBE_ID5);
    vbe(R.VbeIndex.Enable, R.VBE_GETCAPS);
    expect(vbe(R.VbeIndex.XRes)).toBe(R.VBE_MAX_XRES);
    vbe(R.VbeIndex.Enable, 0);
    vbe(R.VbeIndex.XRes, 640);
    vbe(R.VbeIndex.YRes, 400);
    vbe(R.VbeIndex.Bpp, 32);
    vbe(R.VbeIndex.Enable, R.VBE_ENABLED | R.VBE_LFB_ENABLED);
    expect(vga.mode).toBe('vbe');
    vga.lfb.write(640 * 4 + 4, 4, 0x00ff_8040);
    const fb = vga.framebuffer()!;
    expect([fb.width, fb.height, fb.bpp, fb.stride]).toEqual([640, 400, 32, 2560]);
    expect([...fb.bytes.subarray(2564, 2568)]).toEqual([0x40, 0x80, 0xff, 0]);
    expect(vbe(R.VbeIndex.VirtHeight)).toBe(Math.floor((1024 * KiB) / 2560));
    vbe(R.VbeIndex.YOffset, 5);
    expect(vga.framebuffer()!.bytes.byteOffset).toBe(5 * 2560);
    vbe(R.VbeIndex.YOffset, 100); // past the end of video memory: clamped
    expect(vbe(R.VbeIndex.YOffset)).toBe(409 - 400);
  });

  it('a VBE mode larger than video memory is refused', () => {
    const { vga, vbe } = make();
    vbe(R.VbeIndex.XRes, 1600);
    vbe(R.VbeIndex.YRes, 1200);
    vbe(R.VbeIndex.Bpp, 32);
    vbe(R.VbeIndex.Enable, R.VBE_ENABLED);
    expect(vga.mode).not.toBe('vbe');
    expect(vga.framebuffer()).toBeNull();
  });

  it('banked VBE access through the 0xA0000 window', () => {
    const { vga, vbe, mem } = make();
    vbe(R.VbeIndex.XRes, 640);
    vbe(R.VbeIndex.YRes, 480);
    vbe(R.VbeIndex.Bpp, 8);
    vbe(R.VbeIndex.Enable, R.VBE_ENABLED);
    vbe(R.VbeIndex.Bank, 2);
    mem(0xa0005, 0x99);
    expect(vga.vram[2 * 0x10000 + 5]).toBe(0x99);
  });

  it('exposes a 1234:1111 display controller with the framebuffer as BAR0', () => {
    const { vga } = make();
    expect(vga.config.configRead(0, 4)).toBe(0x1111_1234);
    vga.config.configWrite(0x10, 4, 0xffff_ffff);
    expect(vga.config.configRead(0x10, 4)).toBe((0xfff0_0000 | 0x08) >>> 0);
  });

  it('state round-trips through JSON including video memory', () => {
    const { vga, mem } = make();
    vga.setTextMode80x25();
    mem(0xb8000, 0x41);
    const copy = new Vga({ vramSize: 1024 * KiB });
    copy.loadState(JSON.parse(JSON.stringify(vga.getState())));
    expect(copy.getState()).toEqual(vga.getState());
    expect(copy.textContent()[0]).toBe('A');
    expect(() => new Vga({ vramSize: 512 * KiB }).loadState(vga.getState())).toThrow(/InvalidState/);
  });
});
