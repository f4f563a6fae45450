import type { Framebuffer, TextScreen } from './types.js';

/** A rendered frame: RGBA pixels, ready for `ImageData` / a PNG encoder. */
export interface RenderedFrame {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray;
}

/** What the renderer reads from the VGA (kept narrow so it stays a pure function of the registers). */
export interface VgaView {
  readonly vram: Uint8Array;
  readonly mode: 'text' | 'graphics' | 'vbe';
  reg(kind: 'seq' | 'gr' | 'crtc' | 'ar', index: number): number;
  paletteEntry(index: number): [number, number, number];
  framebuffer(): Framebuffer | null;
  glyph(ch: number): Uint8Array;
  textScreen(): TextScreen;
}

/** Frames are clamped to this size whatever the guest programs into the CRTC (≤ 20 MiB of RGBA). */
const MAX_WIDTH = 2560;
const MAX_HEIGHT = 2048;
const dac8 = (v: number) => ((v << 2) | (v >> 4)) & 0xff;

/**
 * Renders the current frame as the CRT would show it: text modes with the guest's font (plane 2) and
 * attribute/DAC palettes, 16-colour planar graphics (e.g. mode 12h), 256-colour chain-4 (mode 13h),
 * and VBE linear modes at 8/15/16/24/32 bpp. Cursor blink and character blink are not animated.
 */
export function renderFrame(v: VgaView): RenderedFrame {
  if (v.mode === 'vbe') return renderVbe(v);
  if (v.mode === 'text') return renderText(v);
  return renderGraphics(v);
}

function dacColor(v: VgaView, index: number): [number, number, number] {
  const [r, g, b] = v.paletteEntry(index);
  return [dac8(r), dac8(g), dac8(b)];
}

/** Attribute-controller palette lookup for a 4-bit colour, then the DAC (VGA reference, AR10/AR14). */
function attrColor(v: VgaView, c: number): [number, number, number] {
  const p = v.reg('ar', c & 0x0f);
  const mode = v.reg('ar', 0x10);
  const sel = v.reg('ar', 0x14);
  const idx = mode & 0x80 ? (p & 0x0f) | ((sel & 0x0f) << 4) : (p & 0x3f) | ((sel & 0x0c) << 4);
  return dacColor(v, idx);
}

function frame(width: number, height: number): RenderedFrame {
  const w = Math.max(1, Math.min(width, MAX_WIDTH));
  const h = Math.max(1, Math.min(height, MAX_HEIGHT));
  return { width: w, height: h, rgba: new Uint8ClampedArray(w * h * 4) };
}

function put(f: RenderedFrame, x: number, y: number, [r, g, b]: [number, number, number]): void {
  if (x >= f.width || y >= f.height) return;
  const o = (y * f.width + x) * 4;
  f.rgba[o] = r;
  f.rgba[o + 1] = g;
  f.rgba[o + 2] = b;
  f.rgba[o + 3] = 255;
}

function renderText(v: VgaView): RenderedFrame {
  const t = v.textScreen();
  const cellH = (v.reg('crtc', 0x09) & 0x1f) + 1;
  const cellW = v.reg('seq', 1) & 1 ? 8 : 9;
  const f = frame(t.cols * cellW, t.rows * cellH);
  const blink = (v.reg('ar', 0x10) & 0x08) !== 0;
  const curStart = v.reg('crtc', 0x0a) & 0x1f;
  const curEnd = v.reg('crtc', 0x0b) & 0x1f;
  for (let cell = 0; cell < t.cols * t.rows; cell++) {
    const attr = t.attrs[cell]!;
    const fg = attrColor(v, attr & 0x0f);
    const bg = attrColor(v, blink ? (attr >> 4) & 0x07 : attr >> 4);
    const glyph = v.glyph(t.chars[cell]!);
    const x0 = (cell % t.cols) * cellW;
    const y0 = Math.floor(cell / t.cols) * cellH;
    for (let y = 0; y < cellH; y++) {
      const bits = glyph[y] ?? 0;
      const cursorRow = cell === t.cursor && y >= curStart && y <= curEnd;
      for (let x = 0; x < cellW; x++) {
        const on = cursorRow || (x < 8 && (bits & (0x80 >> x)) !== 0);
        put(f, x0 + x, y0 + y, on ? fg : bg);
      }
    }
  }
  return f;
}

function renderGraphics(v: VgaView): RenderedFrame {
  const crtc = (i: number) => v.reg('crtc', i);
  const lines = (crtc(0x12) | ((crtc(0x07) & 0x02) << 7) | ((crtc(0x07) & 0x40) << 3)) + 1;
  const scan = crtc(0x09);
  const repeat = ((scan & 0x1f) + 1) * (scan & 0x80 ? 2 : 1);
  const height = Math.floor(lines / repeat);
  const chars = crtc(0x01) + 1;
  const offset = crtc(0x13) * 8; // bytes of interleaved VRAM per scan line
  const start = ((crtc(0x0c) << 8) | crtc(0x0d)) * 4;
  const vram = v.vram;
  if (v.reg('gr', 0x05) & 0x40) {
    // 256-colour shift mode (mode 13h): one byte per pixel, each character clock gives 4 pixels.
    const width = chars * 4;
    const f = frame(width, height);
    const chain4 = (v.reg('seq', 4) & 0x08) !== 0;
    for (let y = 0; y < f.height; y++) {
      for (let x = 0; x < f.width; x++) {
        const a = chain4 ? start + y * offset + x : start + y * offset + ((x >> 2) << 2) + (x & 3);
        put(f, x, y, dacColor(v, vram[a % vram.length]!));
      }
    }
    return f;
  }
  // 16-colour planar: bit (7 - x%8) of each plane's byte forms the pixel's 4-bit colour.
  const f = frame(chars * 8, height);
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      const a = (start + y * offset + (x >> 3) * 4) % vram.length;
      const bit = 0x80 >> (x & 7);
      let c = 0;
      for (let p = 0; p < 4; p++) if (vram[a + p]! & bit) c |= 1 << p;
      put(f, x, y, attrColor(v, c & v.reg('ar', 0x12)));
    }
  }
  return f;
}

function renderVbe(v: VgaView): RenderedFrame {
  const fb = v.framebuffer();
  if (fb === null) return frame(1, 1);
  const f = frame(fb.width, fb.height);
  const b = fb.bytes;
  for (let y = 0; y < f.height; y++) {
    for (let x = 0; x < f.width; x++) {
      let rgb: [number, number, number];
      switch (fb.bpp) {
        case 8:
          rgb = dacColor(v, b[y * fb.stride + x]!);
          break;
        case 15:
        case 16: {
          const o = y * fb.stride + x * 2;
          const p = b[o]! | (b[o + 1]! << 8);
          rgb =
            fb.bpp === 16
              ? [((p >> 11) & 31) << 3, ((p >> 5) & 63) << 2, (p & 31) << 3]
              : [((p >> 10) & 31) << 3, ((p >> 5) & 31) << 3, (p & 31) << 3];
          break;
        }
        default: {
          const o = y * fb.stride + x * (fb.bpp === 24 ? 3 : 4);
          rgb = [b[o + 2]!, b[o + 1]!, b[o]!]; // stored B, G, R(, X)
        }
      }
      put(f, x, y, rgb);
    }
  }
  return f;
}
