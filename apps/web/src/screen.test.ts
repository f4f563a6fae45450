import { PcMachine, parseCommandLine } from '@typevisor/qemu';
import { describe, expect, it } from 'vitest';
import { Screen, type ScreenCanvas } from './screen.js';

/** A canvas that records what is put on it; ImageData is a plain record in Node. */
function fakeCanvas() {
  const puts: ImageData[] = [];
  const canvas: ScreenCanvas = {
    width: 300,
    height: 150,
    getContext: () => ({ putImageData: (image) => puts.push(image) }),
  };
  const images: ImageData[] = [];
  const newImage = (rgba: Uint8ClampedArray, width: number, height: number) => {
    const image = { data: rgba, width, height, colorSpace: 'srgb' } as unknown as ImageData;
    images.push(image);
    return image;
  };
  return { canvas, puts, images, newImage };
}

describe('the VGA screen', () => {
  it('draws only frames the guest changed, into one ImageData while the mode stays', () => {
    const { canvas, puts, images, newImage } = fakeCanvas();
    const buffer = new Uint8ClampedArray(720 * 400 * 4);
    const source = { generation: 1, render: () => ({ width: 720, height: 400, rgba: buffer.subarray(0) }) };
    const screen = new Screen(canvas, newImage);
    expect(screen.draw(source)).toBe(true);
    expect([canvas.width, canvas.height]).toEqual([720, 400]);
    expect(screen.draw(source)).toBe(false); // nothing changed
    source.generation = 2;
    expect(screen.draw(source)).toBe(true);
    expect(puts).toHaveLength(2);
    expect(images).toHaveLength(1);
    expect(puts[1]).toBe(puts[0]);
  });

  it('resizes the canvas for a new mode', () => {
    const { canvas, images, newImage } = fakeCanvas();
    const source = {
      generation: 1,
      render: () => ({ width: 640, height: 480, rgba: new Uint8ClampedArray(640 * 480 * 4) }),
    };
    const screen = new Screen(canvas, newImage);
    screen.draw(source);
    expect([canvas.width, canvas.height, images[0]?.width, images[0]?.height]).toEqual([640, 480, 640, 480]);
  });

  it('draws the pc machine VGA in planar mode 12h, then 256-colour mode 13h', () => {
    const cmd = parseCommandLine(['-m', '16']);
    if (cmd.action !== 'run') throw new Error('not a run');
    const m = new PcMachine(cmd.config, { serialOut: { writeByte() {} }, clock: { nowNs: () => 0 } });
    const vga = m.vga!;
    const out = (port: number, v: number) => m.pio.write(port, 1, v);
    const indexed = (port: number, i: number, v: number) => {
      out(port, i);
      out(port + 1, v);
    };
    const set = (port: number, table: readonly number[]) => {
      table.forEach((v, i) => {
        indexed(port, i, v);
      });
    };
    // Mode 12h as a VGA BIOS programs it (the standard parameter table), from mode 03h.
    vga.bootScreen(m.ram, '');
    set(0x3c4, [0x03, 0x01, 0x0f, 0x00, 0x06]);
    set(0x3ce, [0, 0, 0, 0, 0, 0, 0x05, 0x0f, 0xff]);
    indexed(0x3d4, 0x11, 0);
    const crtc12 = [
      0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0, 0x40, 0, 0, 0, 0, 0, 0, 0xea, 0x8c, 0xdf,
    ];
    set(0x3d4, [...crtc12, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff]);
    out(0x3c2, 0xe3);
    // Write mode 2, one pixel: colour 4 (red) at (9, 1) through the window at 0xA0000.
    indexed(0x3ce, 5, 2);
    indexed(0x3ce, 8, 0x80 >> 1);
    m.mmio.read(0xa0000 + 80 + 1, 1);
    m.mmio.write(0xa0000 + 80 + 1, 1, 4);
    const { canvas, puts, newImage } = fakeCanvas();
    const screen = new Screen(canvas, newImage);
    expect(screen.draw(vga)).toBe(true);
    expect([canvas.width, canvas.height]).toEqual([640, 480]);
    const pixel = (image: ImageData, x: number, y: number) =>
      Array.from(image.data.subarray((y * image.width + x) * 4, (y * image.width + x + 1) * 4));
    expect(pixel(puts[0]!, 9, 1)).toEqual([170, 0, 0, 255]);
    expect(pixel(puts[0]!, 8, 1)).toEqual([0, 0, 0, 255]);
    expect(screen.draw(vga)).toBe(false); // unchanged

    // Mode 13h: chain-4, one byte per pixel.
    set(0x3c4, [0x03, 0x01, 0x0f, 0x00, 0x0e]);
    set(0x3ce, [0, 0, 0, 0, 0, 0x40, 0x05, 0x0f, 0xff]);
    const crtc13 = [
      0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0, 0x41, 0, 0, 0, 0, 0, 0, 0x9c, 0x8e, 0x8f,
    ];
    set(0x3d4, [...crtc13, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff]);
    out(0x3c2, 0x63);
    m.mmio.write(0xa0000 + 320 * 199 + 319, 1, 0x3f); // DAC entry 0x3F: white in the BIOS's rgbRGB palette
    expect(screen.draw(vga)).toBe(true);
    expect([canvas.width, canvas.height]).toEqual([320, 200]);
    expect(pixel(puts[1]!, 319, 199)).toEqual([255, 255, 255, 255]);
  });
});
