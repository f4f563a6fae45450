import { type PciBarMapping, PciRegs, type RenderTarget, Vga, VgaRegs } from '@typevisor/devices';
import type { Vm } from '@typevisor/kvm';
import type { AccessSize, MmioBus, MmioDevice, PioBus, PioDevice } from '@typevisor/memory';
import { LAYOUT } from '../loaders/linux.js';
import type { VmConfig } from '../options/config.js';
import type { PcPciBus } from './pci-bus.js';

/**
 * The `pc` machine's display: QEMU's `-vga std`, the VGA with the Bochs VBE extension of
 * @typevisor/devices, as the PCI function 00:02.0 (1234:1111, class 0300). Its registers sit at the
 * VGA ports (0x3B0-0x3DF), the VBE DISPI ports (0x1CE/0x1CF) and BAR2 (QEMU's std-VGA MMIO region);
 * the linear framebuffer is BAR0, placed where SeaBIOS puts it ({@link VBE_LFB_BASE}) and moved
 * wherever the guest reprograms it. The legacy window decodes 0xA0000-0xAFFFF (the graphics modes
 * 0Dh-13h draw there, through the planar write modes); the text window at 0xB8000 stays guest RAM,
 * read by the renderer (the way v86 keeps text mode cheap): a guest writing its screen makes no VM
 * exits.
 *
 * With no VGA BIOS, {@link PcVga.bootScreen} does what one leaves behind before a kernel starts:
 * mode 03h, the 8x16 font in plane 2, a cleared screen with a banner, and the kernel's screen_info
 * saying so (which is how Linux's vgacon finds the card).
 */

export const VGA_PORTS = { VGA: 0x3b0, VGA_LENGTH: 0x30, VBE: 0x1ce, VBE_LENGTH: 3 } as const;
/** Where SeaBIOS places the std VGA's framebuffer BAR on QEMU's pc machine. */
export const VBE_LFB_BASE = 0xfd00_0000;
export const VGA_VRAM_BYTES = 16 * 2 ** 20;
/** The colour text window (GR6 memory map 11b). */
export const TEXT_WINDOW = { BASE: 0xb_8000, SIZE: 0x8000 } as const;
/** The graphics window (GR6 memory map 01b) that {@link PcVga.decodeGraphicsWindow} takes from RAM. */
export const GRAPHICS_WINDOW = { BASE: 0xa_0000, SIZE: 0x1_0000 } as const;
/** QEMU's slot for the default VGA of the `pc` machine (00:02.0). */
export const VGA_PCI_SLOT = 2;
/** Memory slots of guest RAM around {@link GRAPHICS_WINDOW} once it is decoded. */
export const VGA_RAM_SLOTS = { LOW: 0, HIGH: 1 } as const;

/** Whether the machine gets a VGA: `-vga std|none`, else std unless -nographic or -nodefaults. */
export function vgaEnabled(config: Pick<VmConfig, 'vga' | 'nographic' | 'noDefaults'>): boolean {
  if (config.vga !== undefined) return config.vga === 'std';
  return !config.nographic && !config.noDefaults;
}

/** What the VGA needs from the machine it is wired into. */
export interface VgaMachine {
  readonly pio: PioBus;
  readonly mmio: MmioBus;
  /** Guest RAM, which holds the text window. */
  readonly ram: Uint8Array;
  /** The PCI bus the card is a function of. */
  readonly pci: PcPciBus;
}

/** A frame in RGBA: the buffer is the VGA's own and is reused from frame to frame. */
export interface VgaFrame {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray;
}

/** screen_info (struct screen_info at the start of boot_params) fields vgacon reads. */
const SCREEN_INFO = {
  ORIG_X: 0x00,
  ORIG_Y: 0x01,
  ORIG_VIDEO_MODE: 0x06,
  ORIG_VIDEO_COLS: 0x07,
  ORIG_VIDEO_EGA_BX: 0x0a,
  ORIG_VIDEO_LINES: 0x0e,
  ORIG_VIDEO_IS_VGA: 0x0f,
  ORIG_VIDEO_POINTS: 0x10,
} as const;

const COLS = 80;
const ROWS = 25;
const CELL_H = 16;
/** Light grey on black, the BIOS's attribute. */
const ATTR_NORMAL = 0x07;

/** The VGA machine's display adapter: the device, its wiring, the boot screen and a text renderer. */
export class PcVga {
  readonly device: Vga;
  /** The card's PCI slot (device number on bus 0). */
  readonly slot: number;
  private readonly mmio: MmioBus;
  /** Where each BAR is on the MMIO bus now. */
  private readonly barAt = new Map<number, number>();
  private readonly target: RenderTarget = { pixels: new Uint32Array(0), width: 0, height: 0 };
  private writes = 0;
  private readonly ram: Uint8Array;
  /** The text window as last rendered, to notice the guest's screen writes (they make no exits). */
  private readonly shownText = new Uint8Array(TEXT_WINDOW.SIZE);
  private shownWrites = -1;
  private frames = 0;
  private rgba = new Uint8ClampedArray(0);
  private frameWidth = 0;
  private frameHeight = 0;
  private readonly colours = new Uint32Array(16);

  constructor(machine: VgaMachine) {
    if (machine.ram.length < TEXT_WINDOW.BASE + TEXT_WINDOW.SIZE)
      throw new RangeError('the VGA text window needs at least 1 MiB of RAM');
    this.ram = machine.ram;
    this.mmio = machine.mmio;
    this.device = new Vga({
      vramSize: VGA_VRAM_BYTES,
      barObserver: { barChanged: (m) => this.barChanged(m) },
    });
    const d = this.device;
    machine.pio.insert(VGA_PORTS.VGA, VGA_PORTS.VGA_LENGTH, this.counted(d.ioPorts), 'vga');
    machine.pio.insert(VGA_PORTS.VBE, VGA_PORTS.VBE_LENGTH, this.counted(d.vbePorts), 'vbe');
    machine.mmio.insert(
      VgaRegs.LEGACY_BASE,
      VgaRegs.LEGACY_LENGTH,
      this.counted(d.legacyMemory),
      'vga-lowmem',
    );
    this.slot = machine.pci.attachFunction(d.config, VGA_PCI_SLOT, '-vga std');
    // As firmware leaves the card: BAR0 where SeaBIOS puts it, BAR2 in the PCI window, decoding on.
    d.config.configWrite(PciRegs.BAR0, 4, VBE_LFB_BASE);
    d.config.configWrite(PciRegs.BAR0 + 8, 4, machine.pci.allocateMmio(VgaRegs.MMIO_BAR_SIZE, '-vga std'));
    d.config.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_IO | PciRegs.COMMAND_MEMORY);
  }

  /** Follows the guest moving a BAR: the framebuffer (BAR0) or the MMIO registers (BAR2). */
  private barChanged(m: PciBarMapping): void {
    const old = this.barAt.get(m.index);
    if (old !== undefined) {
      this.mmio.remove(old);
      this.barAt.delete(m.index);
    }
    const dev = this.device.barDevice(m.index);
    if (m.address === null || dev === undefined) return;
    try {
      this.mmio.insert(m.address, m.size, this.counted(dev), m.index === 0 ? 'vga.vram' : 'vga.mmio');
      this.barAt.set(m.index, m.address);
    } catch {
      // Placed over another device: the BAR does not decode until moved, as a conflicting BAR loses.
    }
  }

  /**
   * Takes {@link GRAPHICS_WINDOW} out of guest RAM so the guest's accesses there reach the card
   * (QEMU's "vga-lowmem"): memory slot 0, all of RAM, becomes RAM below 0xA0000 and RAM from 0xB0000,
   * at the same host pages. For a machine whose RAM is still the one slot (no firmware memory map).
   */
  decodeGraphicsWindow(vm: Pick<Vm, 'setUserMemoryRegion'>, ram: { addr: number; size: number }): void {
    const high = GRAPHICS_WINDOW.BASE + GRAPHICS_WINDOW.SIZE;
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0, memorySize: 0, userspaceAddr: 0 });
    vm.setUserMemoryRegion({
      slot: VGA_RAM_SLOTS.LOW,
      guestPhysAddr: 0,
      memorySize: GRAPHICS_WINDOW.BASE,
      userspaceAddr: ram.addr,
    });
    vm.setUserMemoryRegion({
      slot: VGA_RAM_SLOTS.HIGH,
      guestPhysAddr: high,
      memorySize: ram.size - high,
      userspaceAddr: ram.addr + high,
    });
  }

  /**
   * Changes whenever what the card shows may have changed (a register or framebuffer write, or new
   * bytes in the text window): a frontend redraws only then. Reading it compares the text window
   * with the last rendered one (32 KiB, no allocation).
   */
  get generation(): number {
    if (this.writes !== this.shownWrites) return this.frames + 1;
    if (this.device.mode === 'text') {
      const w = this.ram.subarray(TEXT_WINDOW.BASE, TEXT_WINDOW.BASE + TEXT_WINDOW.SIZE);
      const shown = this.shownText;
      for (let i = 0; i < w.length; i++) if (w[i] !== shown[i]) return this.frames + 1;
    }
    return this.frames;
  }

  /** `dev` with its writes counted, for {@link PcVga.generation}. */
  private counted<T extends PioDevice | MmioDevice>(dev: T): T {
    return {
      ...(dev.maxAccessSize === undefined ? {} : { maxAccessSize: dev.maxAccessSize }),
      read: (offset: number, size: AccessSize) => dev.read(offset, size),
      write: (offset: number, size: AccessSize, value: number) => {
        this.writes++;
        dev.write(offset, size, value);
      },
    } as T;
  }

  /**
   * What a VGA BIOS leaves before the kernel runs: mode 03h, the font, a cleared screen with
   * `banner` on its first line, the cursor below it, and the kernel's screen_info (in the boot
   * parameters at {@link LAYOUT.BOOT_PARAMS} of `ram`) describing that screen.
   */
  bootScreen(ram: Uint8Array, banner: string): void {
    const d = this.device;
    d.vram.fill(0);
    d.setTextMode80x25();
    const font = vgaFont8x16();
    // Plane 2 holds the font: 32 bytes per character, map A at 0 (SR3 = 0), byte i*4+2 in VRAM.
    for (let ch = 0; ch < 256; ch++)
      for (let y = 0; y < CELL_H; y++) d.vram[(ch * 32 + y) * 4 + 2] = font[ch * CELL_H + y]!;
    const text = ram.subarray(TEXT_WINDOW.BASE, TEXT_WINDOW.BASE + TEXT_WINDOW.SIZE);
    text.fill(0);
    for (let cell = 0; cell < COLS * ROWS; cell++) {
      text[cell * 2] = cell < banner.length ? banner.charCodeAt(cell) & 0xff : 0x20;
      text[cell * 2 + 1] = ATTR_NORMAL;
    }
    const cursorRow = Math.min(ROWS - 1, Math.ceil(banner.length / COLS));
    this.setCursor(cursorRow * COLS);
    const si = LAYOUT.BOOT_PARAMS;
    ram[si + SCREEN_INFO.ORIG_X] = 0;
    ram[si + SCREEN_INFO.ORIG_Y] = cursorRow;
    ram[si + SCREEN_INFO.ORIG_VIDEO_MODE] = 3;
    ram[si + SCREEN_INFO.ORIG_VIDEO_COLS] = COLS;
    ram[si + SCREEN_INFO.ORIG_VIDEO_EGA_BX] = 0;
    ram[si + SCREEN_INFO.ORIG_VIDEO_EGA_BX + 1] = 0;
    ram[si + SCREEN_INFO.ORIG_VIDEO_LINES] = ROWS;
    ram[si + SCREEN_INFO.ORIG_VIDEO_IS_VGA] = 1;
    ram[si + SCREEN_INFO.ORIG_VIDEO_POINTS] = CELL_H;
    ram[si + SCREEN_INFO.ORIG_VIDEO_POINTS + 1] = 0;
    this.writes++;
  }

  /** Cursor location through the CRTC, as the BIOS's INT 10h sets it. */
  private setCursor(cell: number): void {
    const ports = this.device.ioPorts;
    const CRTC_INDEX = 0x3d4 - VGA_PORTS.VGA;
    ports.write(CRTC_INDEX, 1, 0x0e);
    ports.write(CRTC_INDEX + 1, 1, cell >> 8);
    ports.write(CRTC_INDEX, 1, 0x0f);
    ports.write(CRTC_INDEX + 1, 1, cell & 0xff);
  }

  /** The text screen as lines of printable ASCII, for logs and tests. */
  textContent(): string[] {
    const d = this.device;
    const cols = Math.min(d.reg('crtc', 0x01) + 1, 256);
    const start = (d.reg('crtc', 0x0c) << 8) | d.reg('crtc', 0x0d);
    const stride = d.reg('crtc', 0x13) * 2 || cols;
    const out: string[] = [];
    for (let r = 0; r < ROWS; r++) {
      let line = '';
      for (let c = 0; c < cols; c++) {
        const at = ((start + r * stride + c) * 2) & (TEXT_WINDOW.SIZE - 1);
        const ch = this.ram[TEXT_WINDOW.BASE + at]!;
        line += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : ' ';
      }
      out.push(line.trimEnd());
    }
    return out;
  }

  /**
   * The frame as the monitor would show it, in a buffer reused from frame to frame. Text modes are
   * drawn here: characters and attributes from the text window, glyphs from plane 2, colours through
   * the attribute controller and the DAC. Graphics modes (planar 16-colour, 256-colour, VBE) are the
   * device's {@link Vga.renderInto}.
   */
  render(): VgaFrame {
    const d = this.device;
    this.shownWrites = this.writes;
    this.frames++;
    if (d.mode !== 'text') {
      const t = this.target;
      if (!d.renderInto(t)) {
        this.ensureFrame(t.width, t.height);
        t.pixels = new Uint32Array(this.rgba.buffer);
        d.renderInto(t);
      }
      return { width: t.width, height: t.height, rgba: this.rgba.subarray(0, t.width * t.height * 4) };
    }
    this.shownText.set(this.ram.subarray(TEXT_WINDOW.BASE, TEXT_WINDOW.BASE + TEXT_WINDOW.SIZE));
    const reg = (kind: 'seq' | 'gr' | 'crtc' | 'ar', i: number) => d.reg(kind, i);
    const cols = Math.min(reg('crtc', 0x01) + 1, 256);
    const lines =
      (reg('crtc', 0x12) | ((reg('crtc', 0x07) & 0x02) << 7) | ((reg('crtc', 0x07) & 0x40) << 3)) + 1;
    const cellH = (reg('crtc', 0x09) & 0x1f) + 1;
    const rows = Math.min(Math.floor(lines / cellH), 256);
    const cellW = reg('seq', 1) & 1 ? 8 : 9;
    const width = cols * cellW;
    const height = rows * cellH;
    this.ensureFrame(width, height);
    const stride = reg('crtc', 0x13) * 2 || cols;
    const start = (reg('crtc', 0x0c) << 8) | reg('crtc', 0x0d);
    const cursorAt = ((reg('crtc', 0x0e) << 8) | reg('crtc', 0x0f)) - start;
    const cursorOn = (reg('crtc', 0x0a) & 0x20) === 0;
    const curStart = reg('crtc', 0x0a) & 0x1f;
    const curEnd = reg('crtc', 0x0b) & 0x1f;
    const blink = (reg('ar', 0x10) & 0x08) !== 0;
    const sr3 = reg('seq', 3);
    const fontBase = (((sr3 >> 5) & 1) | ((sr3 & 3) << 1)) * 0x4000 * 4;
    this.loadColours();
    const vram = d.vram;
    const text = this.shownText;
    const px = new Uint32Array(this.rgba.buffer, 0, width * height);
    const colours = this.colours;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const offset = r * stride + c;
        const at = ((start + offset) * 2) & (TEXT_WINDOW.SIZE - 1);
        const ch = text[at]!;
        const attr = text[at + 1]!;
        const fg = colours[attr & 0x0f]!;
        const bg = colours[blink ? (attr >> 4) & 0x07 : attr >> 4]!;
        const isCursor = cursorOn && offset === cursorAt;
        const glyph = fontBase + ch * 32 * 4 + 2;
        // Line-graphics characters (0xC0-0xDF) repeat their 8th column into the 9th (AR10 bit 2).
        const lineGraphics = cellW === 9 && (reg('ar', 0x10) & 0x04) !== 0 && ch >= 0xc0 && ch <= 0xdf;
        let o = r * cellH * width + c * cellW;
        for (let y = 0; y < cellH; y++, o += width) {
          const bits = vram[glyph + y * 4]!;
          const solid = isCursor && y >= curStart && y <= curEnd;
          for (let x = 0; x < 8; x++) px[o + x] = solid || bits & (0x80 >> x) ? fg : bg;
          if (cellW === 9) px[o + 8] = solid || (lineGraphics && bits & 1) ? fg : bg;
        }
      }
    }
    return { width, height, rgba: this.rgba.subarray(0, width * height * 4) };
  }

  private ensureFrame(width: number, height: number): void {
    if (width === this.frameWidth && height === this.frameHeight) return;
    this.frameWidth = width;
    this.frameHeight = height;
    if (this.rgba.length < width * height * 4) {
      this.rgba = new Uint8ClampedArray(width * height * 4);
      this.target.pixels = new Uint32Array(this.rgba.buffer);
    }
  }

  /** The 16 text colours through the attribute palette (AR0-AR15, AR10, AR14) and the DAC, as ABGR words. */
  private loadColours(): void {
    const d = this.device;
    const mode = d.reg('ar', 0x10);
    const sel = d.reg('ar', 0x14);
    const dac8 = (v: number) => ((v << 2) | (v >> 4)) & 0xff;
    for (let c = 0; c < 16; c++) {
      const p = d.reg('ar', c);
      const idx = mode & 0x80 ? (p & 0x0f) | ((sel & 0x0f) << 4) : (p & 0x3f) | ((sel & 0x0c) << 4);
      const [r, g, b] = d.paletteEntry(idx);
      // Little-endian Uint32 over RGBA bytes.
      this.colours[c] = ((0xff << 24) | (dac8(b) << 16) | (dac8(g) << 8) | dac8(r)) >>> 0;
    }
  }
}

let font: Uint8Array | undefined;

/**
 * The 8x16 VGA font in code page 437 order (256 glyphs, 16 bytes each, bit 7 the left pixel), built
 * from the VGA fonts of Debian's console-setup (public domain) through their Unicode tables.
 */
export function vgaFont8x16(): Uint8Array {
  if (font === undefined) {
    const text = atob(FONT_8X16_BASE64);
    font = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) font[i] = text.charCodeAt(i);
  }
  return font;
}

const FONT_8X16_BASE64 =
  'AAAAAAAAAAAAAAAAAAAAAAAAfoGlgYGlmYGBfgAAAAAAAH7/2///2+f//34AAAAAAAAAAGz+/v7+fDgQAAAAAAAAAAAQOHz+fDgQAAAAAAAAAAAYPDzn5+cYGDwAAAAAAAAAGDx+//9+GBg8AAAAAAAAAAAAABg8PBgAAAAAAAD////////nw8Pn////////AAA8QoGBgYGBgUI8AAAAAP//w71+fn5+fn69w/////8AAB4GDhp4zMzMzHgAAAAAAAA8ZmZmZjwYfhgYAAAAAAAAMDw+MjAwMHDw4AAAAAAAAHB/b2NjY2Pj58cGAAAAAAAAEBBUKMYoVBAQAAAAAAAAAAAADAb/BgwAAAAAAAAAAAAAADBg/2AwAAAAAAAAAAAYPH4YGBh+PBgAAAAAAAAAZmZmZmZmZgBmZgAAAAAAAH/b29t7GxsbGxsAAAAAAHzGYDhsxsZsOAzGfAAAAAAAAAAAAAD+/v7+/gAAAAAAABg8fhgYGH48GH4AAAAAAAAYPH4YGBgYGBgYAAAAAAAAGBgYGBgYGH48GAAAAAAAAAAAAAwG/wYMAAAAAAAAAAAAAAAwYP9gMAAAAAAAAAAAAAAAAMDAwMDA/gAAAAAAAAAAACRm/2YkAAAAAAAAAAAYPH4YGBgYGBgYAAAAAAAAGBgYGBgYGH48GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAYPDw8GBgYABgYAAAAAABmZmYkAAAAAAAAAAAAAAAAAABsbP5sbGz+bGwAAAAAGBh8xsLAfAYGhsZ8GBgAAAAAAADCxgwYMGDGhgAAAAAAADhsbDh23MzMzHYAAAAAADAwMCAAAAAAAAAAAAAAAAAADBgwMDAwMDAYDAAAAAAAADAYDAwMDAwMGDAAAAAAAAAAAABmPP88ZgAAAAAAAAAAAAAAGBh+GBgAAAAAAAAAAAAAAAAAAAAYGBgwAAAAAAAAAAAAAP4AAAAAAAAAAAAAAAAAAAAAAAAYGAAAAAAAAAAAAgYMGDBgwIAAAAAAAAA4bMbG1tbGxmw4AAAAAAAAGDh4GBgYGBgYfgAAAAAAAHzGBgwYMGDAxv4AAAAAAAB8xgYGPAYGBsZ8AAAAAAAADBw8bMz+DAwMHgAAAAAAAP7AwMD8BgYGxnwAAAAAAAA4YMDA/MbGxsZ8AAAAAAAA/sYGBgwYMDAwMAAAAAAAAHzGxsZ8xsbGxnwAAAAAAAB8xsbGfgYGBgx4AAAAAAAAAAAYGAAAABgYAAAAAAAAAAAAGBgAAAAYGDAAAAAAAAAABgwYMGAwGAwGAAAAAAAAAAAAfgAAfgAAAAAAAAAAAABgMBgMBgwYMGAAAAAAAAB8xsYMGBgYABgYAAAAAAAAAHzGxt7e3tzAfAAAAAAAABA4bMbG/sbGxsYAAAAAAAD8ZmZmfGZmZmb8AAAAAAAAPGbCwMDAwMJmPAAAAAAAAPhsZmZmZmZmbPgAAAAAAAD+ZmJoeGhgYmb+AAAAAAAA/mZiaHhoYGBg8AAAAAAAADxmwsDA3sbGZjoAAAAAAADGxsbG/sbGxsbGAAAAAAAAPBgYGBgYGBgYPAAAAAAAAB4MDAwMDMzMzHgAAAAAAADmZmZseHhsZmbmAAAAAAAA8GBgYGBgYGJm/gAAAAAAAMbu/v7WxsbGxsYAAAAAAADG5vb+3s7GxsbGAAAAAAAAfMbGxsbGxsbGfAAAAAAAAPxmZmZ8YGBgYPAAAAAAAAB8xsbGxsbG1t58DA4AAAAA/GZmZnxsZmZm5gAAAAAAAHzGxmA4DAbGxnwAAAAAAAB+floYGBgYGBg8AAAAAAAAxsbGxsbGxsbGfAAAAAAAAMbGxsbGxsZsOBAAAAAAAADGxsbG1tbW/u5sAAAAAAAAxsZsfDg4fGzGxgAAAAAAAGZmZmY8GBgYGDwAAAAAAAD+xoYMGDBgwsb+AAAAAAAAPDAwMDAwMDAwPAAAAAAAAACAwOBwOBwOBgIAAAAAAAA8DAwMDAwMDAw8AAAAABA4bMYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/wAAMDAYAAAAAAAAAAAAAAAAAAAAAAAAeAx8zMzMdgAAAAAAAOBgYHhsZmZmZnwAAAAAAAAAAAB8xsDAwMZ8AAAAAAAAHAwMPGzMzMzMdgAAAAAAAAAAAHzG/sDAxnwAAAAAAAA4bGRg8GBgYGDwAAAAAAAAAAAAdszMzMzMfAzMeAAAAOBgYGx2ZmZmZuYAAAAAAAAYGAA4GBgYGBg8AAAAAAAABgYADgYGBgYGBmZmPAAAAOBgYGZseHhsZuYAAAAAAAA4GBgYGBgYGBg8AAAAAAAAAAAA7P7W1tbWxgAAAAAAAAAAANxmZmZmZmYAAAAAAAAAAAB8xsbGxsZ8AAAAAAAAAAAA3GZmZmZmfGBg8AAAAAAAAHbMzMzMzHwMDB4AAAAAAADcdmZgYGDwAAAAAAAAAAAAfMZgOAzGfAAAAAAAABAwMPwwMDAwNhwAAAAAAAAAAADMzMzMzMx2AAAAAAAAAAAAZmZmZmY8GAAAAAAAAAAAAMbG1tbW/mwAAAAAAAAAAADGbDg4OGzGAAAAAAAAAAAAxsbGxsbGfgYM+AAAAAAAAP7MGDBgxv4AAAAAAAAOGBgYcBgYGBgOAAAAAAAAGBgYGBgYGBgYGAAAAAAAAHAYGBgOGBgYGHAAAAAAAAB23AAAAAAAAAAAAAAAAAAAAAAQOGzGxsb+AAAAAAAAADxmwsDAwMDCZjwYDDgAAADMzADMzMzMzMx2AAAAAAAADBgAfMb+wMDGfAAAAAAAEDhsAHgMfMzMzHYAAAAAAABsbAB4DHzMzMx2AAAAAAAAYDAAeAx8zMzMdgAAAAAAOGw4AHgMfMzMzHYAAAAAAAAAAAB8xsDAwMZ8GAw4AAAQOGwAfMb+wMDGfAAAAAAAAGxsAHzG/sDAxnwAAAAAAABgMAB8xv7AwMZ8AAAAAAAAZmYAOBgYGBgYPAAAAAAAEDhsADgYGBgYGDwAAAAAAAAwGAA4GBgYGBg8AAAAAGxsABA4bMbG/sbGxgAAAAA4bDgQOGzGxv7GxsYAAAAADBgA/mZiaHhoYmb+AAAAAAAAAAAAzHY2ftjYbgAAAAAAAD5szMz+zMzMzM4AAAAAABA4bAB8xsbGxsZ8AAAAAAAAbGwAfMbGxsbGfAAAAAAAAGAwAHzGxsbGxnwAAAAAABA4bADMzMzMzMx2AAAAAAAAYDAAzMzMzMzMdgAAAAAAAGxsAMbGxsbGxn4GDPgAbGwAfMbGxsbGxsZ8AAAAAGxsAMbGxsbGxsbGfAAAAAAAGBg8ZmBgYGY8GBgAAAAAADhsZGDwYGBgYOb8AAAAAAAAZmY8GH4YfhgYGAAAAAAAAPxmZnxiZm9mZvMAAAAAAAAcNjIweDAwMDAwMDDgAAAAGDAAeAx8zMzMdgAAAAAAAAwYADgYGBgYGDwAAAAAAAAMGAB8xsbGxsZ8AAAAAAAAGDAAzMzMzMzMdgAAAAAAAHbcANxmZmZmZmYAAAAAdtwAxub2/t7OxsbGAAAAAAA8bGw+AH4AAAAAAAAAAAAAOGxsOAB8AAAAAAAAAAAAAAAwMAAwMGDAxsZ8AAAAAAAAAAAAAP7AwMDAAAAAAAAAAAAAAAD+BgYGBgAAAAAAAMDAwsbMGDBg3IYMGD4AAADAwMLGzBgwZs6ePgYGAAAAABgYABgYGDw8PBgAAAAAAAAAAAA2bNhsNgAAAAAAAAAAAAAA2Gw2bNgAAAAAAAARRBFEEUQRRBFEEUQRRBFEVapVqlWqVapVqlWqVapVqt133Xfdd9133Xfdd9133XcYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGPgYGBgYGBgYGBgYGBgYGBj4GBgYGBgYGBgYGBgYGBgY+BgYGBgYGBgYAAAAAAAAAPgYGBgYGBgYGAAAAAAAAAD4GBgYGBgYGBgYGBgYGBgY+BgYGBgYGBgYGBgYGBgYGBgYGBgYGBgYGAAAAAAAAAD4GBgYGBgYGBgYGBgYGBgY+AAAAAAAAAAAGBgYGBgYGPgAAAAAAAAAABgYGBgYGBj4AAAAAAAAAAAAAAAAAAAA+BgYGBgYGBgYGBgYGBgYGB8AAAAAAAAAABgYGBgYGBj/AAAAAAAAAAAAAAAAAAAA/xgYGBgYGBgYGBgYGBgYGB8YGBgYGBgYGAAAAAAAAAD/AAAAAAAAAAAYGBgYGBgY/xgYGBgYGBgYGBgYGBgYGB8YGBgYGBgYGBgYGBgYGBgfGBgYGBgYGBgYGBgYGBgYHwAAAAAAAAAAAAAAAAAAAB8YGBgYGBgYGBgYGBgYGBj/AAAAAAAAAAAAAAAAAAAA/xgYGBgYGBgYGBgYGBgYGB8YGBgYGBgYGAAAAAAAAAD/AAAAAAAAAAAYGBgYGBgY/xgYGBgYGBgYGBgYGBgYGP8AAAAAAAAAABgYGBgYGBj/AAAAAAAAAAAAAAAAAAAA/xgYGBgYGBgYAAAAAAAAAP8YGBgYGBgYGBgYGBgYGBgfAAAAAAAAAAAYGBgYGBgYHwAAAAAAAAAAAAAAAAAAAB8YGBgYGBgYGAAAAAAAAAAfGBgYGBgYGBgYGBgYGBgY/xgYGBgYGBgYGBgYGBgYGP8YGBgYGBgYGBgYGBgYGBj4AAAAAAAAAAAAAAAAAAAAHxgYGBgYGBgY/////////////////////wAAAAAAAAAA///////////w8PDw8PDw8PDw8PDw8PDwDw8PDw8PDw8PDw8PDw8PD/////////8AAAAAAAAAAAAAAAAAAHbMzMzMzHYAAAAAAAA8ZmZmbGZmZmbsAAAAAAAA/mZiYGBgYGBg8AAAAAAAAAAAAP5sbGxsbGYAAAAAAAD+xmIwGBgwYsb+AAAAAAAAAAAAfszMzMzMeAAAAAAAAAAAAMzMzMzMzPbAwMAAAAAAAAB+GBgYGBgOAAAAAAAAEHzW1tbW1nwQEAAAAAAAAHzGxsb+xsbGxnwAAAAAAAB8xsbGxsZsbGzuAAAAAAAAPGYwGHzGxsbGfAAAAAAAAAAAAHbb224AAAAAAAAAAAAAAABs1tbW1tZ8EBAQAAAAAAAAfMbAeMDGfAAAAAAAAAAAfMbGxsbGxsYAAAAAAAAAAP4AAP4AAP4AAAAAAAAAAAAYGH4YGAB+AAAAAAAAAAAA4DgOOOAA/gAAAAAAAAAAAA444DgOAP4AAAAAAAAADhsbGBgYGBgYGBgYGBgYGBgYGBgYGNjY2HAAAAAAAAAAABgYAH4AGBgAAAAAAAAAAAAAdtwAdtwAAAAAAAAAOGxsOAAAAAAAAAAAAAAAAAAAAAAYPDwYAAAAAAAAAAAAAAAAAAAAGAAAAAAAAAAAAAMDBgYGDMxsOBgAAAAAAACw2NjY2AAAAAAAAAAAAABw2DBgyPgAAAAAAAAAAAAAAAD+/v7+/v7+/v4AAAAAAAAAAAAAAAAAAAAAAAAAAA==';
