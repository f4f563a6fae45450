import type { Framebuffer, TextScreen } from './types.js';

/** A rendered frame: RGBA pixels, ready for `ImageData` / a PNG encoder. */
export interface RenderedFrame {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray;
}

/**
 * Where {@link renderInto} draws: the caller's buffer, reused from frame to frame. `pixels` holds one
 * RGBA pixel per element (bytes R, G, B, A in memory order, as `ImageData` wants; the hosts this runs
 * on are little-endian); `width` and `height` are set by each call.
 */
export interface RenderTarget {
  pixels: Uint32Array;
  width: number;
  height: number;
}

/** What the renderer reads from the VGA (kept narrow so it stays a pure function of the registers). */
export interface VgaView {
  readonly vram: Uint8Array;
  readonly mode: 'text' | 'graphics' | 'vbe';
  reg(kind: 'seq' | 'gr' | 'crtc' | 'ar', index: number): number;
  /** A Bochs VBE DISPI register. */
  vbeReg(index: number): number;
  paletteEntry(index: number): [number, number, number];
  /** DAC component `i` (entry i / 3, component i % 3), 6 bits. */
  paletteComponent(i: number): number;
  framebuffer(): Framebuffer | null;
  glyph(ch: number): Uint8Array;
  textScreen(): TextScreen;
}

/**
 * How the card is showing memory, decoded from the registers: VBE when DISPI is enabled; otherwise
 * text when GR6 bit 0 is clear; 256-colour packed pixels (mode 13h, mode X) when GR5 selects the
 * 256-colour shift mode or SR4 chain-4; else 16-colour planar (modes 0Dh-12h).
 */
export type VgaDisplayKind = 'text' | 'planar16' | 'packed256' | 'vbe';

export interface VgaDisplayMode {
  readonly kind: VgaDisplayKind;
  /** Visible pixels per line and lines, as the CRTC (or VBE) programs them, clamped to 2560x2048. */
  readonly width: number;
  readonly height: number;
}

/** Frames are clamped to this size whatever the guest programs into the CRTC (≤ 20 MiB of RGBA). */
const MAX_WIDTH = 2560;
const MAX_HEIGHT = 2048;
const OPAQUE = 0xff00_0000;
const dac8 = (v: number) => ((v << 2) | (v >> 4)) & 0xff;
const rgb32 = (r: number, g: number, b: number) => (OPAQUE | (b << 16) | (g << 8) | r) >>> 0;

// VBE DISPI register indexes (registers.ts VbeIndex), repeated to keep this module standalone.
const VBE_XRES = 1;
const VBE_YRES = 2;
const VBE_BPP = 3;
const VBE_ENABLE = 4;
const VBE_VIRT_WIDTH = 6;
const VBE_X_OFFSET = 8;
const VBE_Y_OFFSET = 9;

// Scratch state of one render: geometry, then colour tables. Module-level so a frame allocates nothing.
const KIND_TEXT = 0;
const KIND_PLANAR = 1;
const KIND_PACKED = 2;
const KIND_VBE = 3;
const KINDS: readonly VgaDisplayKind[] = ['text', 'planar16', 'packed256', 'vbe'];
let gKind = KIND_TEXT;
let gWidth = 1;
let gHeight = 1;
const dacTable = new Uint32Array(256);
const attrTable = new Uint32Array(16);
/** A plane byte spread to one bit per 4-bit pixel: bit 7 (the left pixel) to bit 0, bit 6 to bit 4, ... */
const SPREAD = new Uint32Array(256);
for (let b = 0; b < 256; b++)
  for (let k = 0; k < 8; k++) SPREAD[b] = (SPREAD[b]! | (((b >> (7 - k)) & 1) << (4 * k))) >>> 0;

const clampW = (w: number) => Math.max(1, Math.min(w, MAX_WIDTH));
const clampH = (h: number) => Math.max(1, Math.min(h, MAX_HEIGHT));

/** Lines the CRTC displays: vertical display end with its overflow bits 8 (CR7 bit 1) and 9 (CR7 bit 6). */
function displayLines(v: VgaView): number {
  const ov = v.reg('crtc', 0x07);
  return (v.reg('crtc', 0x12) | ((ov & 0x02) << 7) | ((ov & 0x40) << 3)) + 1;
}

/** Sets gKind/gWidth/gHeight from the registers. */
function decodeGeometry(v: VgaView): void {
  if (v.vbeReg(VBE_ENABLE) & 1) {
    gKind = KIND_VBE;
    gWidth = clampW(v.vbeReg(VBE_XRES));
    gHeight = clampH(v.vbeReg(VBE_YRES));
    return;
  }
  const chars = v.reg('crtc', 0x01) + 1;
  const scan = v.reg('crtc', 0x09);
  if (!(v.reg('gr', 0x06) & 1)) {
    gKind = KIND_TEXT;
    const cellH = (scan & 0x1f) + 1;
    const rows = Math.min(Math.floor(displayLines(v) / cellH), 256);
    gWidth = clampW(chars * (v.reg('seq', 1) & 1 ? 8 : 9));
    gHeight = clampH(rows * cellH);
    return;
  }
  const repeat = ((scan & 0x1f) + 1) * (scan & 0x80 ? 2 : 1);
  gHeight = clampH(Math.floor(displayLines(v) / repeat));
  if (v.reg('gr', 0x05) & 0x40 || v.reg('seq', 4) & 0x08) {
    gKind = KIND_PACKED;
    gWidth = clampW(chars * 4); // a character clock shifts out 4 bytes, one pixel each
  } else {
    gKind = KIND_PLANAR;
    gWidth = clampW(chars * 8); // one bit of each plane per pixel, 8 per character clock
  }
}

/** The display mode the registers select (see {@link VgaDisplayKind}). */
export function displayMode(v: VgaView): VgaDisplayMode {
  decodeGeometry(v);
  return { kind: KINDS[gKind]!, width: gWidth, height: gHeight };
}

function loadDac(v: VgaView): void {
  for (let i = 0; i < 256; i++)
    dacTable[i] = rgb32(
      dac8(v.paletteComponent(i * 3)),
      dac8(v.paletteComponent(i * 3 + 1)),
      dac8(v.paletteComponent(i * 3 + 2)),
    );
}

/** The 16 colours through the attribute palette (AR0-ARF, mode control AR10, colour select AR14), then the DAC. */
function loadAttr(v: VgaView): void {
  const mode = v.reg('ar', 0x10);
  const sel = v.reg('ar', 0x14);
  for (let c = 0; c < 16; c++) {
    const p = v.reg('ar', c);
    const idx = mode & 0x80 ? (p & 0x0f) | ((sel & 0x0f) << 4) : (p & 0x3f) | ((sel & 0x0c) << 4);
    attrTable[c] = dacTable[idx]!;
  }
}

/**
 * Renders the current frame into `target` with no allocation: text modes with the guest's font
 * (plane 2) and attribute/DAC palettes, 16-colour planar graphics (modes 0Dh-12h), 256-colour packed
 * pixels (mode 13h, chain-4 or not), and VBE linear modes at 8/15/16/24/32 bpp. Sets `target.width`
 * and `target.height`; returns false, drawing nothing, when `target.pixels` is too small for them (the
 * caller grows it and calls again). Cursor blink and character blink are not animated.
 */
export function renderInto(v: VgaView, target: RenderTarget): boolean {
  decodeGeometry(v);
  target.width = gWidth;
  target.height = gHeight;
  if (target.pixels.length < gWidth * gHeight) return false;
  loadDac(v);
  switch (gKind) {
    case KIND_VBE:
      renderVbe(v, target.pixels);
      break;
    case KIND_TEXT:
      loadAttr(v);
      renderText(v, target.pixels);
      break;
    case KIND_PACKED:
      renderPacked(v, target.pixels);
      break;
    default:
      loadAttr(v);
      renderPlanar(v, target.pixels);
  }
  return true;
}

/** Renders the current frame into a new buffer (see {@link renderInto} for a reusable one). */
export function renderFrame(v: VgaView): RenderedFrame {
  decodeGeometry(v);
  const target: RenderTarget = { pixels: new Uint32Array(gWidth * gHeight), width: 0, height: 0 };
  renderInto(v, target);
  return {
    width: target.width,
    height: target.height,
    rgba: new Uint8ClampedArray(target.pixels.buffer, 0, target.width * target.height * 4),
  };
}

/** Characters in plane 0, attributes in plane 1 (one cell per 4 VRAM bytes), glyphs in plane 2. */
function renderText(v: VgaView, px: Uint32Array): void {
  const vram = v.vram;
  const cells = vram.length >>> 2;
  const width = gWidth;
  const cols = v.reg('crtc', 0x01) + 1;
  const cellH = (v.reg('crtc', 0x09) & 0x1f) + 1;
  const cellW = v.reg('seq', 1) & 1 ? 8 : 9;
  const rows = Math.floor(gHeight / cellH);
  const stride = v.reg('crtc', 0x13) * 2 || cols;
  const start = (v.reg('crtc', 0x0c) << 8) | v.reg('crtc', 0x0d);
  const cursorAt = ((v.reg('crtc', 0x0e) << 8) | v.reg('crtc', 0x0f)) - start;
  const cursorOn = (v.reg('crtc', 0x0a) & 0x20) === 0;
  const curStart = v.reg('crtc', 0x0a) & 0x1f;
  const curEnd = v.reg('crtc', 0x0b) & 0x1f;
  const ar10 = v.reg('ar', 0x10);
  const blink = (ar10 & 0x08) !== 0;
  const lineGraphicsOn = cellW === 9 && (ar10 & 0x04) !== 0;
  const sr3 = v.reg('seq', 3);
  const fontBase = (((sr3 >> 5) & 1) | ((sr3 & 3) << 1)) * 0x4000 * 4 + 2;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const offset = r * stride + c;
      const cell = ((start + offset) % cells) * 4;
      const ch = vram[cell]!;
      const attr = vram[cell + 1]!;
      const fg = attrTable[attr & 0x0f]!;
      const bg = attrTable[blink ? (attr >> 4) & 0x07 : attr >> 4]!;
      const isCursor = cursorOn && offset === cursorAt;
      const glyph = (fontBase + ch * 32 * 4) % vram.length;
      // Line-graphics characters (0xC0-0xDF) repeat their 8th column into the 9th (AR10 bit 2).
      const lineGraphics = lineGraphicsOn && ch >= 0xc0 && ch <= 0xdf;
      let o = r * cellH * width + c * cellW;
      for (let y = 0; y < cellH; y++, o += width) {
        const bits = y < 32 ? vram[glyph + y * 4]! : 0;
        const solid = isCursor && y >= curStart && y <= curEnd;
        for (let x = 0; x < 8; x++) px[o + x] = solid || bits & (0x80 >> x) ? fg : bg;
        if (cellW === 9) px[o + 8] = solid || (lineGraphics && bits & 1) ? fg : bg;
      }
    }
  }
}

/** 16-colour planar: bit (7 - x % 8) of each plane's byte forms the pixel's 4-bit colour (AR12 masks planes). */
function renderPlanar(v: VgaView, px: Uint32Array): void {
  const vram = v.vram;
  const mask = vram.length - 1; // VRAM sizes are powers of two
  // Start address (CRCh/CRDh) counts 4-byte character clocks; a line is CR13 * 8 bytes.
  const start = ((v.reg('crtc', 0x0c) << 8) | v.reg('crtc', 0x0d)) * 4;
  const offset = v.reg('crtc', 0x13) * 8;
  const planes = v.reg('ar', 0x12) & 0x0f;
  const width = gWidth;
  for (let y = 0, o = 0; y < gHeight; y++) {
    const row = start + y * offset;
    for (let x = 0; x < width; x += 8) {
      const a = (row + (x >> 1)) & mask & ~3; // 4 bytes (one per plane) per 8 pixels
      // Eight 4-bit pixels, left pixel in the low nibble.
      const c =
        SPREAD[vram[a]!]! |
        (SPREAD[vram[a + 1]!]! << 1) |
        (SPREAD[vram[a + 2]!]! << 2) |
        (SPREAD[vram[a + 3]!]! << 3);
      const n = Math.min(8, width - x);
      for (let i = 0; i < n; i++) px[o++] = attrTable[(c >>> (4 * i)) & planes]!;
    }
  }
}

/** 256 colours: one byte per pixel, a DAC index (chain-4 and mode X lay bytes out the same way in VRAM). */
function renderPacked(v: VgaView, px: Uint32Array): void {
  const vram = v.vram;
  const mask = vram.length - 1;
  const start = ((v.reg('crtc', 0x0c) << 8) | v.reg('crtc', 0x0d)) * 4;
  const offset = v.reg('crtc', 0x13) * 8;
  for (let y = 0, o = 0; y < gHeight; y++) {
    const row = start + y * offset;
    for (let x = 0; x < gWidth; x++) px[o++] = dacTable[vram[(row + x) & mask]!]!;
  }
}

function renderVbe(v: VgaView, px: Uint32Array): void {
  const b = v.vram;
  const bpp = v.vbeReg(VBE_BPP) || 8;
  const bytesPp = Math.ceil(bpp / 8);
  const stride = v.vbeReg(VBE_VIRT_WIDTH) * bytesPp;
  const base = v.vbeReg(VBE_Y_OFFSET) * stride + v.vbeReg(VBE_X_OFFSET) * bytesPp;
  const w = gWidth;
  const h = gHeight;
  if (base + stride * (h - 1) + w * bytesPp > b.length) {
    px.fill(OPAQUE, 0, w * h); // a mode the card cannot show: black
    return;
  }
  for (let y = 0, o = 0; y < h; y++) {
    const row = base + y * stride;
    switch (bpp) {
      case 8:
        for (let x = 0; x < w; x++) px[o++] = dacTable[b[row + x]!]!;
        break;
      case 15:
      case 16:
        for (let x = 0; x < w; x++) {
          const p = b[row + x * 2]! | (b[row + x * 2 + 1]! << 8);
          px[o++] =
            bpp === 16
              ? rgb32(((p >> 11) & 31) << 3, ((p >> 5) & 63) << 2, (p & 31) << 3)
              : rgb32(((p >> 10) & 31) << 3, ((p >> 5) & 31) << 3, (p & 31) << 3);
        }
        break;
      default: // 24 and 32: stored B, G, R(, X)
        for (let x = 0; x < w; x++) {
          const q = row + x * bytesPp;
          px[o++] = rgb32(b[q + 2]!, b[q + 1]!, b[q]!);
        }
    }
  }
}
