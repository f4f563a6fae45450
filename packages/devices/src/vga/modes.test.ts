// VGA graphics modes as a VGA BIOS sets them (register order of SeaBIOS's stdvga_set_mode, values from
// the standard video parameter table) and as guests draw in them: the planar write modes 0-3 of mode
// 12h with set/reset, rotate, logical functions, bit mask and latches; read modes 0 and 1; chain-4
// mode 13h; the DAC and attribute palettes. Pixels are checked in the rendered RGBA frame.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Vga } from './device.js';
import type { RenderTarget } from './render.js';
import * as R from './registers.js';

const out = (vga: Vga, port: number, v: number) => vga.ioPorts.write(port - R.VGA_IO_BASE, 1, v);
const inp = (vga: Vga, port: number) => vga.ioPorts.read(port - R.VGA_IO_BASE, 1);
const gr = (vga: Vga, i: number, v: number) => {
  out(vga, 0x3ce, i);
  out(vga, 0x3cf, v);
};
const sr = (vga: Vga, i: number, v: number) => {
  out(vga, 0x3c4, i);
  out(vga, 0x3c5, v);
};
const mem = (vga: Vga, offset: number) => vga.legacyMemory.read(offset, 1);
const poke = (vga: Vga, offset: number, v: number) => vga.legacyMemory.write(offset, 1, v);

/** INT 10h AH=00h as a VGA BIOS does it, from mode 03h (the card's state after POST). */
function biosSetMode(vga: Vga, t: R.VgaModeTable): void {
  inp(vga, 0x3da); // reset the attribute flip-flop
  for (let i = 0; i <= 0x14; i++) {
    out(vga, 0x3c0, i);
    out(vga, 0x3c0, t.ar[i]!);
  }
  for (let i = 0; i <= 4; i++) sr(vga, i, t.seq[i]!);
  for (let i = 0; i <= 8; i++) gr(vga, i, t.gr[i]!);
  const crtc = t.misc & 1 ? 0x3d4 : 0x3b4;
  out(vga, crtc, 0x11);
  out(vga, crtc + 1, 0); // unlock CR0-CR7
  for (let i = 0; i <= 0x18; i++) {
    out(vga, crtc, i);
    out(vga, crtc + 1, t.crtc[i]!);
  }
  out(vga, 0x3c2, t.misc);
  out(vga, 0x3c0, 0x20); // palette address source: display on
}

/** The BIOS's 64-entry EGA palette (rgbRGB bits, 6-bit levels 0x15/0x2A) through 0x3C8/0x3C9. */
function loadEgaPalette(vga: Vga): void {
  out(vga, 0x3c8, 0);
  for (let i = 0; i < 64; i++) {
    const level = (lo: number, hi: number) => ((i >> lo) & 1) * 0x2a + ((i >> hi) & 1) * 0x15;
    out(vga, 0x3c9, level(2, 5));
    out(vga, 0x3c9, level(1, 4));
    out(vga, 0x3c9, level(0, 3));
  }
}

function mode12(): Vga {
  const vga = new Vga({ vramSize: 256 * 1024 });
  vga.setTextMode80x25();
  biosSetMode(vga, R.MODE12);
  loadEgaPalette(vga);
  return vga;
}

const target = (): RenderTarget => ({ pixels: new Uint32Array(640 * 480), width: 0, height: 0 });

/** RGB of pixel (x, y) of a rendered frame. */
function rgb(vga: Vga, x: number, y: number): [number, number, number] {
  const t = target();
  expect(vga.renderInto(t)).toBe(true);
  const p = t.pixels[y * t.width + x]!;
  return [p & 0xff, (p >>> 8) & 0xff, (p >>> 16) & 0xff];
}

const BLACK = [0, 0, 0];
const BLUE = [0, 0, 170];
const RED = [170, 0, 0];
const BROWN = [170, 85, 0];
const LIGHT_GREEN = [85, 255, 85];
const YELLOW = [255, 255, 85];
const WHITE = [255, 255, 255];

/** Sets one mode-12h pixel with write mode 2, as a BIOS's INT 10h AH=0Ch does. */
function putPixel12(vga: Vga, x: number, y: number, colour: number): void {
  gr(vga, R.GR_MODE, 0x02);
  gr(vga, R.GR_BIT_MASK, 0x80 >> (x & 7));
  const a = y * 80 + (x >> 3);
  mem(vga, a); // load the latches: the other 7 pixels of the byte come back from them
  poke(vga, a, colour);
  gr(vga, R.GR_BIT_MASK, 0xff);
  gr(vga, R.GR_MODE, 0x00);
}

describe('VGA mode 12h (640x480, 16 colours, planar)', () => {
  it('the BIOS register table selects a 640x480 planar mode', () => {
    const vga = mode12();
    expect(vga.mode).toBe('graphics');
    expect(vga.displayMode()).toEqual({ kind: 'planar16', width: 640, height: 480 });
    expect(rgb(vga, 639, 479)).toEqual(BLACK);
  });

  it('write mode 2 sets single pixels through the bit mask, the latches keep their neighbours', () => {
    const vga = mode12();
    putPixel12(vga, 100, 50, 14);
    putPixel12(vga, 101, 50, 1);
    putPixel12(vga, 639, 479, 15);
    expect(rgb(vga, 100, 50)).toEqual(YELLOW);
    expect(rgb(vga, 101, 50)).toEqual(BLUE);
    expect(rgb(vga, 102, 50)).toEqual(BLACK);
    expect(rgb(vga, 100, 51)).toEqual(BLACK);
    expect(rgb(vga, 639, 479)).toEqual(WHITE);
  });

  it('write mode 0: set/reset fills planes, the map mask limits planes, the bit mask limits pixels', () => {
    const vga = mode12();
    gr(vga, R.GR_ENABLE_SET_RESET, 0x0f);
    gr(vga, R.GR_SET_RESET, 4);
    poke(vga, 0, 0x00); // the CPU byte is ignored where set/reset is enabled
    for (let x = 0; x < 8; x++) expect(rgb(vga, x, 0)).toEqual(RED);
    gr(vga, R.GR_ENABLE_SET_RESET, 0);
    sr(vga, R.SEQ_MAP_MASK, 0x02); // plane 1 only
    gr(vga, R.GR_BIT_MASK, 0x0f);
    mem(vga, 0);
    poke(vga, 0, 0xff);
    expect(rgb(vga, 3, 0)).toEqual(RED);
    expect(rgb(vga, 4, 0)).toEqual(BROWN); // 4 | 2 = 6, AR6 = 0x14
  });

  it('write mode 0: data rotate and the XOR function combine with the latches', () => {
    const vga = mode12();
    gr(vga, R.GR_DATA_ROTATE, 0x01); // rotate right by 1, replace
    sr(vga, R.SEQ_MAP_MASK, 0x01);
    poke(vga, 80, 0x01); // rotated to 0x80: pixel 0 of line 1 in plane 0
    expect(rgb(vga, 0, 1)).toEqual(BLUE);
    expect(rgb(vga, 7, 1)).toEqual(BLACK);

    sr(vga, R.SEQ_MAP_MASK, 0x0f);
    gr(vga, R.GR_DATA_ROTATE, 0);
    gr(vga, R.GR_ENABLE_SET_RESET, 0x0f);
    gr(vga, R.GR_SET_RESET, 15);
    poke(vga, 160, 0);
    gr(vga, R.GR_DATA_ROTATE, 0x18); // XOR
    gr(vga, R.GR_SET_RESET, 5);
    mem(vga, 160);
    poke(vga, 160, 0);
    expect(rgb(vga, 0, 2)).toEqual(LIGHT_GREEN); // 15 ^ 5 = 10
    gr(vga, R.GR_DATA_ROTATE, 0x08); // AND
    gr(vga, R.GR_SET_RESET, 4);
    mem(vga, 160);
    poke(vga, 160, 0);
    expect(rgb(vga, 0, 2)).toEqual(BLACK); // 10 & 4 = 0
  });

  it('write mode 3: the rotated CPU byte ANDed with the bit mask selects pixels of the set/reset colour', () => {
    const vga = mode12();
    putPixel12(vga, 0, 0, 1);
    gr(vga, R.GR_MODE, 0x03);
    gr(vga, R.GR_SET_RESET, 14);
    gr(vga, R.GR_BIT_MASK, 0xff);
    mem(vga, 0);
    poke(vga, 0, 0x3c);
    expect(rgb(vga, 0, 0)).toEqual(BLUE); // from the latches
    expect(rgb(vga, 1, 0)).toEqual(BLACK);
    for (let x = 2; x < 6; x++) expect(rgb(vga, x, 0)).toEqual(YELLOW);
    expect(rgb(vga, 6, 0)).toEqual(BLACK);
  });

  it('write mode 1 copies all four planes through the latches (a screen-to-screen blit)', () => {
    const vga = mode12();
    for (let x = 0; x < 8; x++) putPixel12(vga, x, 0, x + 8);
    gr(vga, R.GR_MODE, 0x01);
    mem(vga, 0);
    poke(vga, 80 * 10 + 5, 0xaa); // the CPU byte does not matter
    for (let x = 0; x < 8; x++) expect(rgb(vga, 40 + x, 10)).toEqual(rgb(vga, x, 0));
  });

  it('read mode 0 returns the plane the read map select names', () => {
    const vga = mode12();
    putPixel12(vga, 0, 0, 0b0101);
    putPixel12(vga, 7, 0, 0b0110);
    const planes = [0, 1, 2, 3].map((p) => {
      gr(vga, R.GR_READ_MAP, p);
      return mem(vga, 0);
    });
    expect(planes).toEqual([0x80, 0x01, 0x81, 0x00]);
  });

  it('read mode 1 compares each pixel with the colour compare register, ignoring "don\'t care" planes', () => {
    const vga = mode12();
    const colours = [0, 1, 2, 3, 1, 9, 1, 15];
    colours.forEach((c, x) => {
      putPixel12(vga, x, 0, c);
    });
    gr(vga, R.GR_MODE, 0x08);
    gr(vga, R.GR_COLOR_COMPARE, 1);
    gr(vga, R.GR_COLOR_DONT_CARE, 0x0f);
    expect(mem(vga, 0)).toBe(0b0100_1010); // pixels 1, 4 and 6 are colour 1
    gr(vga, R.GR_COLOR_DONT_CARE, 0x01); // plane 0 only: every odd colour matches
    expect(mem(vga, 0)).toBe(0b0101_1111);
    gr(vga, R.GR_COLOR_DONT_CARE, 0x00);
    expect(mem(vga, 0)).toBe(0xff);
  });

  it('the attribute controller remaps colours before the DAC (AR0-ARF, AR10 bit 7 with AR14)', () => {
    const vga = mode12();
    putPixel12(vga, 0, 0, 1);
    inp(vga, 0x3da);
    out(vga, 0x3c0, 0x01);
    out(vga, 0x3c0, 0x3f); // colour 1 -> DAC 0x3F (white)
    out(vga, 0x3c0, 0x20);
    expect(rgb(vga, 0, 0)).toEqual(WHITE);
    // AR10 bit 7: AR14 bits 1-0 supply DAC index bits 5-4 instead of the palette register's.
    out(vga, 0x3c8, 0x2f);
    for (const c of [0x3f, 0, 0]) out(vga, 0x3c9, c);
    inp(vga, 0x3da);
    out(vga, 0x3c0, 0x10);
    out(vga, 0x3c0, 0x81);
    out(vga, 0x3c0, 0x14);
    out(vga, 0x3c0, 0x02);
    out(vga, 0x3c0, 0x20);
    expect(rgb(vga, 0, 0)).toEqual([255, 0, 0]); // (0x3F & 0x0F) | 2 << 4 = 0x2F
  });

  it('AR12 colour plane enable masks planes out of the pixel', () => {
    const vga = mode12();
    putPixel12(vga, 0, 0, 5);
    inp(vga, 0x3da);
    out(vga, 0x3c0, 0x12);
    out(vga, 0x3c0, 0x0e);
    out(vga, 0x3c0, 0x20);
    expect(rgb(vga, 0, 0)).toEqual(RED); // 5 & 0xE = 4
  });
});

describe('VGA mode 13h (320x200, 256 colours, chain-4)', () => {
  function mode13(): Vga {
    const vga = new Vga({ vramSize: 256 * 1024 });
    vga.setTextMode80x25();
    biosSetMode(vga, R.MODE13);
    return vga;
  }

  it('the BIOS register table selects a 320x200 packed-pixel mode', () => {
    const vga = mode13();
    expect(vga.displayMode()).toEqual({ kind: 'packed256', width: 320, height: 200 });
  });

  it('each byte at 0xA0000 + y * 320 + x is a DAC index, read back from the same address', () => {
    const vga = mode13();
    out(vga, 0x3c8, 0x2c);
    for (const c of [10, 20, 63]) out(vga, 0x3c9, c);
    poke(vga, 199 * 320 + 319, 0x2c);
    poke(vga, 7, 0x2c);
    expect(mem(vga, 199 * 320 + 319)).toBe(0x2c);
    expect(rgb(vga, 319, 199)).toEqual([40, 81, 255]); // 6-bit levels widened: v << 2 | v >> 4
    expect(rgb(vga, 7, 0)).toEqual([40, 81, 255]);
    expect(rgb(vga, 8, 0)).toEqual(BLACK);
    // Chain-4: byte n sits in plane n & 3.
    expect(vga.vram[7]).toBe(0x2c);
  });

  it('the DAC: 0x3C8 sets the write index, 0x3C7 the read index, 0x3C9 steps r, g, b, then the index', () => {
    const vga = mode13();
    out(vga, 0x3c8, 0xff);
    for (const c of [1, 2, 0xff, 4, 5, 6]) out(vga, 0x3c9, c); // entry 0xFF, then wraps to entry 0
    expect(inp(vga, 0x3c8)).toBe(1);
    expect(inp(vga, 0x3c7) & 3).toBe(0); // DAC state: write mode
    out(vga, 0x3c7, 0xff);
    expect(inp(vga, 0x3c7) & 3).toBe(3); // read mode
    expect([0, 1, 2, 3, 4, 5].map(() => inp(vga, 0x3c9))).toEqual([1, 2, 0x3f, 4, 5, 6]);
    expect(vga.paletteEntry(0)).toEqual([4, 5, 6]);
  });
});

describe('VGA renderInto', () => {
  it('draws into the caller buffer, or reports the size it needs', () => {
    const vga = mode12();
    putPixel12(vga, 3, 2, 4);
    const small: RenderTarget = { pixels: new Uint32Array(10), width: 0, height: 0 };
    expect(vga.renderInto(small)).toBe(false);
    expect([small.width, small.height]).toEqual([640, 480]);
    expect(small.pixels.every((p) => p === 0)).toBe(true);
    const t = target();
    const buffer = t.pixels;
    expect(vga.renderInto(t)).toBe(true);
    expect(t.pixels).toBe(buffer);
    const frame = vga.render();
    expect(Buffer.from(frame.rgba).equals(Buffer.from(buffer.buffer, 0, 640 * 480 * 4))).toBe(true);
    expect(Array.from(frame.rgba.subarray((2 * 640 + 3) * 4, (2 * 640 + 4) * 4))).toEqual([170, 0, 0, 255]);
  });
});

describe('VGA under random guest input', () => {
  const GUARD = 4096;
  const CANARY = 0xa5;
  const op = fc.oneof(
    fc.record({ k: fc.constant('port' as const), a: fc.integer({ min: 0, max: 0x2f }), v: fc.nat(0xff) }),
    fc.record({
      k: fc.constant('mem' as const),
      a: fc.oneof(fc.integer({ min: 0, max: 0x3ff }), fc.integer({ min: 0, max: 0x1ffff })),
      v: fc.nat(0xff),
    }),
    fc.record({ k: fc.constant('mmio' as const), a: fc.integer({ min: 0, max: 0xfff }), v: fc.nat(0xffff) }),
    fc.record({ k: fc.constant('vbe' as const), a: fc.integer({ min: 0, max: 15 }), v: fc.nat(0xffff) }),
    fc.record({ k: fc.constant('lfb' as const), a: fc.integer({ min: 0, max: 0x4_0000 }), v: fc.nat() }),
  );
  // Registers that make modes: biased so the planar/chained paths and VBE enable are reached often.
  const setup = fc.constantFrom(R.MODE12, R.MODE13, R.MODE3);

  it('never throws and never writes outside its video memory or the render target', () => {
    fc.assert(
      fc.property(setup, fc.array(op, { minLength: 20, maxLength: 200, size: 'max' }), (table, ops) => {
        const size = 256 * 1024;
        const backing = new Uint8Array(size + 2 * GUARD).fill(CANARY);
        const vga = new Vga({ vram: backing.subarray(GUARD, GUARD + size) });
        vga.setTextMode80x25();
        biosSetMode(vga, table as R.VgaModeTable);
        for (const o of ops) {
          switch (o.k) {
            case 'port':
              vga.ioPorts.write(o.a, 1, o.v);
              vga.ioPorts.read(o.a ^ 1, 1);
              break;
            case 'mem':
              vga.legacyMemory.write(o.a, 1, o.v);
              vga.legacyMemory.read((o.a * 7) & 0x1ffff, 1);
              break;
            case 'mmio':
              vga.mmio.write(o.a & ~1, 2, o.v);
              vga.mmio.read(o.a, 1);
              break;
            case 'vbe':
              vga.vbePorts.write(R.VBE_INDEX_OFFSET, 2, o.a);
              vga.vbePorts.write(R.VBE_DATA_OFFSET, 2, o.v);
              break;
            default:
              vga.lfb.write(o.a, 4, o.v);
              vga.lfb.read(o.a, 2);
          }
        }
        const pixels = new Uint32Array(2560 * 2048 + 2 * GUARD).fill(0xa5a5_a5a5);
        const t: RenderTarget = {
          pixels: pixels.subarray(GUARD, pixels.length - GUARD),
          width: 0,
          height: 0,
        };
        vga.renderInto(t);
        expect(t.width * t.height).toBeLessThanOrEqual(t.pixels.length);
        for (let i = 0; i < GUARD; i++) {
          if (backing[i] !== CANARY || backing[GUARD + size + i] !== CANARY) return false;
          if (pixels[i] !== 0xa5a5_a5a5 || pixels[pixels.length - 1 - i] !== 0xa5a5_a5a5) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  });
});
