import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { runFlatGuest } from '../../test/flat-guest.js';
import { LAYOUT } from '../loaders/linux.js';
import { parseCommandLine } from '../options/parse.js';
import { PcMachine } from './pc.js';
import { VBE_LFB_BASE, vgaEnabled, vgaFont8x16 } from './vga.js';

function machine(args: string[]) {
  const cmd = parseCommandLine(['-m', '16', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  return new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock: new ManualClock() },
    new KvmHost(),
  );
}

const runGuest = runFlatGuest;

const pixel = (f: { width: number; rgba: Uint8ClampedArray }, x: number, y: number) =>
  Array.from(f.rgba.subarray((y * f.width + x) * 4, (y * f.width + x) * 4 + 4));

describe('pc machine VGA (-vga std)', () => {
  it('is there with a display and not with -nographic, -nodefaults or -vga none', () => {
    expect(vgaEnabled({ vga: undefined, nographic: false, noDefaults: false })).toBe(true);
    expect(machine(['-nographic']).vga).toBeNull();
    expect(machine(['-nodefaults']).vga).toBeNull();
    expect(machine(['-vga', 'none']).vga).toBeNull();
    expect(machine(['-nographic', '-vga', 'std']).vga).not.toBeNull();
    expect(() => parseCommandLine(['-vga', 'cirrus'])).toThrow(/VGA type 'cirrus' is not available/);
  });

  it('shows what the guest writes at 0xB8000 in the VGA font and attribute colours, without VM exits', () => {
    const m = machine([]);
    const vga = m.vga!;
    vga.bootScreen(m.ram, 'Hi');
    // The kernel's screen_info: 80x25 VGA colour text, 16-line font, cursor on row 1.
    const si = m.ram.subarray(LAYOUT.BOOT_PARAMS, LAYOUT.BOOT_PARAMS + 0x12);
    expect([si[1], si[6], si[7], si[0x0e], si[0x0f], si[0x10]]).toEqual([1, 3, 80, 25, 1, 16]);
    vga.render();
    const shown = vga.generation;
    expect(vga.generation).toBe(shown); // nothing new to draw
    // mov word [0xB80A2], 0x1f41 ('A', bright white on blue, row 1 col 1); hlt
    runGuest(m, [0x66, 0xc7, 0x05, 0xa2, 0x80, 0x0b, 0x00, 0x41, 0x1f, 0xf4]);
    expect([...m.exitCounts.keys()]).toEqual(['Hlt']); // the text window is RAM: no MMIO exit
    expect(vga.generation).not.toBe(shown);
    expect(vga.textContent().slice(0, 3)).toEqual(['Hi', ' A', '']);

    const f = vga.render();
    expect([f.width, f.height]).toEqual([720, 400]);
    // Cell (1, 1) is 9x16 pixels at (9, 16); the glyph's set bits are white, the rest blue.
    const glyph = vgaFont8x16().subarray(0x41 * 16, 0x42 * 16);
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 9; x++) {
        const on = x < 8 && (glyph[y]! & (0x80 >> x)) !== 0;
        expect(pixel(f, 9 + x, 16 + y)).toEqual(on ? [255, 255, 255, 255] : [0, 0, 170, 255]);
      }
    // The same frame as the device's reference renderer (which reads the planes), pixel for pixel.
    for (let i = 0; i < 0x8000 / 2; i++) {
      vga.device.vram[i * 4] = m.ram[0xb8000 + i * 2]!;
      vga.device.vram[i * 4 + 1] = m.ram[0xb8000 + i * 2 + 1]!;
    }
    const ref = vga.device.render();
    expect([ref.width, ref.height]).toEqual([f.width, f.height]);
    expect(Buffer.from(f.rgba).equals(Buffer.from(ref.rgba))).toBe(true);
    const drawn = vga.generation;
    m.ram[0xb8000 + 2 * 80 * 24] = 0x5a; // 'Z' on the last row: a new frame to draw
    expect(vga.generation).not.toBe(drawn);
    // Rendering again reuses the frame's buffer.
    expect(vga.render().rgba.buffer).toBe(f.rgba.buffer);
  });

  it('maps the Bochs VBE framebuffer at its BAR address', () => {
    const m = machine([]);
    m.mmio.write(VBE_LFB_BASE + 8, 4, 0x11223344);
    expect(Array.from(m.vga!.device.vram.subarray(8, 12))).toEqual([0x44, 0x33, 0x22, 0x11]);
  });
});
