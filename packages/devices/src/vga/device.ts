import type { AccessSize, MmioDevice, PioDevice } from '@typevisor/memory';
import { DevicesError, isUint, isUintArray, stateCheck } from '../errors.js';
import { PciConfigSpace, type PciBarObserver, type PciConfigSpaceState } from '../pci/config-space.js';
import { decodeBase64Into, encodeBase64 } from './base64.js';
import {
  displayMode,
  type RenderedFrame,
  type RenderTarget,
  renderFrame,
  renderInto,
  type VgaDisplayMode,
} from './render.js';
import type { Framebuffer, TextScreen } from './types.js';
import {
  AR_DATA_READ,
  AR_INDEX,
  CRTC_CURSOR_DISABLE,
  CRTC_CURSOR_HIGH,
  CRTC_CURSOR_LOW,
  CRTC_CURSOR_START,
  CRTC_DATA_COLOR,
  CRTC_DATA_MONO,
  CRTC_HDISPLAY_END,
  CRTC_INDEX_COLOR,
  CRTC_INDEX_MONO,
  CRTC_MAX_SCANLINE,
  CRTC_OFFSET,
  CRTC_OVERFLOW,
  CRTC_REGISTER_COUNT,
  CRTC_START_HIGH,
  CRTC_START_LOW,
  CRTC_VDISPLAY_END,
  DAC_DATA,
  DAC_MASK,
  DAC_READ_INDEX,
  DAC_WRITE_INDEX,
  FEATURE_READ,
  GR_BIT_MASK,
  GR_COLOR_COMPARE,
  GR_COLOR_DONT_CARE,
  GR_DATA,
  GR_DATA_ROTATE,
  GR_ENABLE_SET_RESET,
  GR_INDEX,
  GR_MISC,
  GR_MODE,
  GR_READ_MAP,
  GR_SET_RESET,
  GRMISC_GRAPHICS,
  GRMISC_MAP_SHIFT,
  GRMODE_HOST_ODD_EVEN,
  GRMODE_READ_MODE_1,
  INPUT_STATUS_1_COLOR,
  INPUT_STATUS_1_MONO,
  MISC_COLOR,
  MISC_READ,
  MISC_WRITE,
  MMIO_BAR_SIZE,
  MMIO_DISPI,
  MMIO_DISPI_LENGTH,
  MMIO_VGA_PORTS,
  MMIO_VGA_PORTS_LENGTH,
  MODE3,
  SEQ_DATA,
  SEQ_INDEX,
  SEQ_MAP_MASK,
  SEQ_MEMORY_MODE,
  SEQMM_CHAIN4,
  SEQMM_ODD_EVEN_DISABLE,
  ST1_DISPLAY_DISABLED,
  ST1_VERTICAL_RETRACE,
  VBE_DATA_OFFSET,
  VBE_ENABLED,
  VBE_GETCAPS,
  VBE_ID0,
  VBE_ID5,
  VBE_INDEX_OFFSET,
  VBE_MAX_BPP,
  VBE_MAX_XRES,
  VBE_MAX_YRES,
  VBE_NOCLEARMEM,
  VBE_REGISTER_COUNT,
  VBE_VALID_BPP,
  VGA_PCI_CLASS,
  VGA_PCI_DEVICE,
  VGA_PCI_VENDOR,
  VbeIndex,
} from './registers.js';

export type { Framebuffer, TextScreen } from './types.js';

export interface VgaOptions {
  /** Video memory in bytes: a power of two from 256 KiB to 64 MiB (default 16 MiB). */
  readonly vramSize?: number;
  /**
   * Video memory to use instead of a new buffer (say, a view of a SharedArrayBuffer a renderer in
   * another thread reads): its length is the VRAM size, and it must start 4-byte aligned.
   */
  readonly vram?: Uint8Array;
  /**
   * Told where the guest places BAR0 (the linear framebuffer, {@link Vga.lfb}) and BAR2 (the MMIO
   * registers, {@link Vga.mmio}); {@link Vga.barDevice} gives the device to map for each.
   */
  readonly barObserver?: PciBarObserver;
}

export interface VgaState {
  readonly misc: number;
  readonly seqIndex: number;
  readonly seq: readonly number[];
  readonly grIndex: number;
  readonly gr: readonly number[];
  readonly crtcIndex: number;
  readonly crtc: readonly number[];
  readonly arIndex: number;
  readonly arFlipFlop: boolean;
  readonly ar: readonly number[];
  readonly dacMask: number;
  readonly dacReadIndex: number;
  readonly dacWriteIndex: number;
  readonly dacSub: number;
  readonly dacReading: boolean;
  readonly palette: readonly number[];
  readonly featureControl: number;
  readonly st1: number;
  readonly latch: number;
  readonly vbeIndex: number;
  readonly vbe: readonly number[];
  /** Video memory, base64. */
  readonly vram: string;
  /** The PCI configuration space (BAR placement); absent in snapshots from before the card was PCI. */
  readonly pci?: PciConfigSpaceState;
}

const MASK8 = 0xff;

/** Expands the low 4 bits to one byte per plane (bit p -> byte p all ones). */
const expand4 = (v: number): number =>
  ((v & 1 ? 0xff : 0) | (v & 2 ? 0xff00 : 0) | (v & 4 ? 0xff0000 : 0) | (v & 8 ? 0xff000000 : 0)) >>> 0;

/**
 * A VGA with the Bochs VBE extension, as QEMU's `-vga std`: the VGA register file (sequencer, CRTC,
 * graphics and attribute controllers, DAC), planar video memory behind the 0xA0000 window with write
 * modes 0-3 and read modes 0-1, odd/even and chain-4 addressing, text-mode readout, and a linear
 * framebuffer programmed through the VBE DISPI registers and exposed as PCI BAR0.
 *
 * As a PCI function it is QEMU's `VGA` device: 1234:1111, class 0300, BAR0 the framebuffer
 * (prefetchable, the size of video memory) and BAR2 QEMU's 4 KiB "stdvga" MMIO region (the VGA ports
 * at 0x400-0x41F, the DISPI registers at 0x500-0x515).
 *
 * Insert `ioPorts` at 0x3B0 (length 0x30), `vbePorts` at 0x1CE (length 3), `legacyMemory` on the MMIO
 * bus at 0xA0000 (length 0x20000), {@link Vga.barDevice} of each BAR wherever the BAR observer reports
 * it, and attach `config` to the PCI host. {@link Vga.renderInto} draws the screen into the caller's
 * buffer; {@link Vga.textScreen} and {@link Vga.framebuffer} give the raw frame.
 */
export class Vga {
  readonly vram: Uint8Array;
  private readonly vram32: Uint32Array;
  readonly ioPorts: PioDevice;
  readonly vbePorts: PioDevice;
  readonly legacyMemory: MmioDevice;
  readonly lfb: MmioDevice;
  /** BAR2: QEMU's std-VGA MMIO registers (registers.ts MMIO_*). */
  readonly mmio: MmioDevice;
  readonly config: PciConfigSpace;
  private misc = 0;
  private seqIndex = 0;
  private seq = new Array<number>(8).fill(0);
  private grIndex = 0;
  private gr = new Array<number>(16).fill(0);
  private crtcIndex = 0;
  private crtc = new Array<number>(CRTC_REGISTER_COUNT).fill(0);
  private arIndex = 0;
  private arFlipFlop = false;
  private ar = new Array<number>(0x15).fill(0);
  private dacMask = 0xff;
  private dacReadIndex = 0;
  private dacWriteIndex = 0;
  private dacSub = 0;
  private dacReading = false;
  private palette = new Array<number>(768).fill(0);
  private featureControl = 0;
  private st1 = 0;
  private latch = 0;
  private vbeIndex = 0;
  private vbe = new Array<number>(VBE_REGISTER_COUNT).fill(0);

  constructor(options: VgaOptions = {}) {
    const size = options.vram?.length ?? options.vramSize ?? 16 * 1024 * 1024;
    if (!Number.isInteger(Math.log2(size)) || size < 256 * 1024 || size > 64 * 1024 * 1024) {
      throw new DevicesError(
        'InvalidArgument',
        `VGA memory size ${size} is not a power of two in [256 KiB, 64 MiB]`,
      );
    }
    if (options.vram !== undefined && options.vram.byteOffset % 4 !== 0)
      throw new DevicesError('InvalidArgument', 'VGA memory must start 4-byte aligned');
    this.vram = options.vram ?? new Uint8Array(size);
    this.vram32 = new Uint32Array(this.vram.buffer, this.vram.byteOffset, size >>> 2);
    this.vbe[VbeIndex.Id] = VBE_ID5;
    this.vbe[VbeIndex.VideoMemory64k] = size >>> 16;
    this.config = new PciConfigSpace({
      vendorId: VGA_PCI_VENDOR,
      deviceId: VGA_PCI_DEVICE,
      classCode: VGA_PCI_CLASS,
      revision: 2,
      bars: [{ kind: 'mem32', size, prefetchable: true }, undefined, { kind: 'mem32', size: MMIO_BAR_SIZE }],
      ...(options.barObserver ? { barObserver: options.barObserver } : {}),
    });
    this.ioPorts = {
      maxAccessSize: 1,
      read: (offset: number) => this.readPort(offset),
      write: (offset: number, _size: AccessSize, value: number) => this.writePort(offset, value & MASK8),
    };
    this.vbePorts = {
      maxAccessSize: 2,
      // A byte access sees the low half of the 16-bit register.
      read: (offset: number, size: AccessSize) => this.readVbePort(offset) & (size === 1 ? 0xff : 0xffff),
      write: (offset: number, size: AccessSize, value: number) =>
        this.writeVbePort(offset, value & (size === 1 ? 0xff : 0xffff)),
    };
    this.legacyMemory = {
      maxAccessSize: 1,
      read: (offset: number) => this.readLegacy(offset),
      write: (offset: number, _size: AccessSize, value: number) => this.writeLegacy(offset, value & MASK8),
    };
    this.lfb = {
      maxAccessSize: 4,
      read: (offset: number, size: AccessSize) => {
        if (offset < 0 || offset + size > this.vram.length)
          return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1;
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = v * 256 + this.vram[offset + i]!;
        return v;
      },
      write: (offset: number, size: AccessSize, value: number) => {
        if (offset < 0 || offset + size > this.vram.length) return;
        for (let i = 0; i < size; i++) this.vram[offset + i] = Math.floor((value >>> 0) / 256 ** i) & 0xff;
      },
    };
    this.mmio = {
      maxAccessSize: 2,
      read: (offset: number, size: AccessSize) => this.readMmio(offset, size),
      write: (offset: number, size: AccessSize, value: number) => this.writeMmio(offset, size, value),
    };
  }

  /** The device behind BAR `index` (0: framebuffer, 2: MMIO registers), for the VMM to map. */
  barDevice(index: number): MmioDevice | undefined {
    return index === 0 ? this.lfb : index === 2 ? this.mmio : undefined;
  }

  /** Programs standard mode 03h (80x25 colour text), as a VGA BIOS leaves the card before boot. */
  setTextMode80x25(): void {
    this.misc = MODE3.misc;
    MODE3.seq.forEach((v, i) => {
      this.seq[i] = v;
    });
    MODE3.crtc.forEach((v, i) => {
      this.crtc[i] = v;
    });
    MODE3.gr.forEach((v, i) => {
      this.gr[i] = v;
    });
    MODE3.ar.forEach((v, i) => {
      this.ar[i] = v;
    });
    this.arIndex = 0x20;
    // The EGA-compatible DAC entries 0-63 a VGA BIOS loads with a text mode (rgbRGB bit layout).
    for (let i = 0; i < 64; i++) {
      const level = (lo: number, hi: number) => ((i >> lo) & 1) * 0x2a + ((i >> hi) & 1) * 0x15;
      this.palette[i * 3] = level(2, 5);
      this.palette[i * 3 + 1] = level(1, 4);
      this.palette[i * 3 + 2] = level(0, 3);
    }
  }

  /** A register as the guest last wrote it, for renderers and debuggers. */
  reg(kind: 'seq' | 'gr' | 'crtc' | 'ar', index: number): number {
    const file = kind === 'seq' ? this.seq : kind === 'gr' ? this.gr : kind === 'crtc' ? this.crtc : this.ar;
    return file[index] ?? 0;
  }

  /** The frame as the monitor would show it, in a new buffer (see {@link renderFrame}). */
  render(): RenderedFrame {
    return renderFrame(this);
  }

  /**
   * Draws the frame into `target`'s buffer with no allocation; false (nothing drawn, `target.width`
   * and `target.height` set) when the buffer is too small (see {@link renderInto}).
   */
  renderInto(target: RenderTarget): boolean {
    return renderInto(this, target);
  }

  /** The display mode the registers select, with its size in pixels. */
  displayMode(): VgaDisplayMode {
    return displayMode(this);
  }

  /** A Bochs VBE DISPI register as the guest reads it through the data port. */
  vbeReg(index: number): number {
    if (index === VbeIndex.FbBaseHi) return this.fbBaseHi();
    return this.vbe[index] ?? 0;
  }

  /** DAC palette component `i` (entry i / 3: red, green, blue), 6 bits. */
  paletteComponent(i: number): number {
    return this.palette[i] ?? 0;
  }

  /** High 16 bits of the framebuffer address: where BAR0 decodes, 0 while it does not. */
  private fbBaseHi(): number {
    return ((this.config.bar(0)?.address ?? 0) / 0x1_0000) & 0xffff;
  }

  /** 'vbe' when the DISPI interface is enabled, else 'text' or 'graphics' from GR6 bit 0. */
  get mode(): 'text' | 'graphics' | 'vbe' {
    if (this.vbe[VbeIndex.Enable]! & VBE_ENABLED) return 'vbe';
    return this.gr[GR_MISC]! & GRMISC_GRAPHICS ? 'graphics' : 'text';
  }

  /** The text frame (characters in plane 0, attributes in plane 1), per the CRTC geometry. */
  textScreen(): TextScreen {
    const c = this.crtc;
    const cols = Math.min(c[CRTC_HDISPLAY_END]! + 1, 256);
    const lines =
      (c[CRTC_VDISPLAY_END]! | ((c[CRTC_OVERFLOW]! & 0x02) << 7) | ((c[CRTC_OVERFLOW]! & 0x40) << 3)) + 1;
    const rows = Math.min(Math.floor(lines / ((c[CRTC_MAX_SCANLINE]! & 0x1f) + 1)), 256);
    const stride = c[CRTC_OFFSET]! * 2 || cols;
    const start = (c[CRTC_START_HIGH]! << 8) | c[CRTC_START_LOW]!;
    const chars = new Uint8Array(cols * rows);
    const attrs = new Uint8Array(cols * rows);
    const cells = this.vram.length >>> 2;
    for (let r = 0; r < rows; r++) {
      for (let col = 0; col < cols; col++) {
        const cell = (start + r * stride + col) % cells;
        chars[r * cols + col] = this.vram[cell * 4]!;
        attrs[r * cols + col] = this.vram[cell * 4 + 1]!;
      }
    }
    const cur = ((c[CRTC_CURSOR_HIGH]! << 8) | c[CRTC_CURSOR_LOW]!) - start;
    const visible = !(c[CRTC_CURSOR_START]! & CRTC_CURSOR_DISABLE) && cur >= 0 && cur < rows * stride;
    const cursor = visible && cur % stride < cols ? Math.floor(cur / stride) * cols + (cur % stride) : -1;
    return { cols, rows, chars, attrs, cursor };
  }

  /** The text frame as lines of printable ASCII (other code points become spaces), for logs and tests. */
  textContent(): string[] {
    const t = this.textScreen();
    const out: string[] = [];
    for (let r = 0; r < t.rows; r++) {
      let line = '';
      for (let c = 0; c < t.cols; c++) {
        const ch = t.chars[r * t.cols + c]!;
        line += ch >= 0x20 && ch < 0x7f ? String.fromCharCode(ch) : ' ';
      }
      out.push(line.trimEnd());
    }
    return out;
  }

  /**
   * The glyph bitmap of character `ch` from font plane 2 (32 bytes, one per scan line, bit 7 = left
   * pixel), using character map A of the sequencer's character map select register (SR3).
   */
  glyph(ch: number): Uint8Array {
    const sr3 = this.seq[3]!;
    const map = ((sr3 >> 5) & 1) | ((sr3 & 3) << 1); // map A: bits 5, 1-0
    const base = map * 0x4000 * 4 + (ch & 0xff) * 32 * 4;
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = this.vram[base + i * 4 + 2] ?? 0;
    return out;
  }

  /** The VBE linear framebuffer, or null when VBE is disabled. */
  framebuffer(): Framebuffer | null {
    const v = this.vbe;
    if (!(v[VbeIndex.Enable]! & VBE_ENABLED)) return null;
    const bpp = v[VbeIndex.Bpp]!;
    const bytesPp = Math.ceil(bpp / 8);
    const stride = v[VbeIndex.VirtWidth]! * bytesPp;
    const start = v[VbeIndex.YOffset]! * stride + v[VbeIndex.XOffset]! * bytesPp;
    const length = stride * v[VbeIndex.YRes]!;
    if (start + length > this.vram.length) return null;
    return {
      width: v[VbeIndex.XRes]!,
      height: v[VbeIndex.YRes]!,
      bpp,
      stride,
      bytes: this.vram.subarray(start, start + length),
    };
  }

  /** DAC palette entry as 6-bit components [r, g, b]. */
  paletteEntry(index: number): [number, number, number] {
    const i = (index & 0xff) * 3;
    return [this.palette[i]!, this.palette[i + 1]!, this.palette[i + 2]!];
  }

  getState(): VgaState {
    return {
      misc: this.misc,
      seqIndex: this.seqIndex,
      seq: [...this.seq],
      grIndex: this.grIndex,
      gr: [...this.gr],
      crtcIndex: this.crtcIndex,
      crtc: [...this.crtc],
      arIndex: this.arIndex,
      arFlipFlop: this.arFlipFlop,
      ar: [...this.ar],
      dacMask: this.dacMask,
      dacReadIndex: this.dacReadIndex,
      dacWriteIndex: this.dacWriteIndex,
      dacSub: this.dacSub,
      dacReading: this.dacReading,
      palette: [...this.palette],
      featureControl: this.featureControl,
      st1: this.st1,
      latch: this.latch,
      vbeIndex: this.vbeIndex,
      vbe: [...this.vbe],
      vram: encodeBase64(this.vram),
      pci: this.config.getState(),
    };
  }

  /** Restores a snapshot into a VGA with the same VRAM size. */
  loadState(s: VgaState): void {
    const bytes = (a: unknown, n: number) => isUintArray(a, 0xff, n) && (a as number[]).length === n;
    stateCheck(
      isUint(s.misc, 0xff) &&
        isUint(s.seqIndex, 7) &&
        bytes(s.seq, 8) &&
        isUint(s.grIndex, 15) &&
        bytes(s.gr, 16) &&
        isUint(s.crtcIndex, 0xff) &&
        bytes(s.crtc, CRTC_REGISTER_COUNT) &&
        isUint(s.arIndex, 0x3f) &&
        typeof s.arFlipFlop === 'boolean' &&
        bytes(s.ar, 0x15) &&
        isUint(s.dacMask, 0xff) &&
        isUint(s.dacReadIndex, 0xff) &&
        isUint(s.dacWriteIndex, 0xff) &&
        isUint(s.dacSub, 2) &&
        typeof s.dacReading === 'boolean' &&
        isUintArray(s.palette, 0x3f, 768) &&
        s.palette.length === 768 &&
        isUint(s.featureControl, 0xff) &&
        isUint(s.st1, 0xff) &&
        isUint(s.latch, 0xffff_ffff) &&
        isUint(s.vbeIndex, 0xffff) &&
        isUintArray(s.vbe, 0xffff, VBE_REGISTER_COUNT) &&
        s.vbe.length === VBE_REGISTER_COUNT &&
        typeof s.vram === 'string',
      'malformed VGA state',
    );
    const vram = new Uint8Array(this.vram.length);
    stateCheck(decodeBase64Into(s.vram, vram), 'VGA state: VRAM size differs');
    this.vram.set(vram);
    this.misc = s.misc;
    this.seqIndex = s.seqIndex;
    this.seq = [...s.seq];
    this.grIndex = s.grIndex;
    this.gr = [...s.gr];
    this.crtcIndex = s.crtcIndex;
    this.crtc = [...s.crtc];
    this.arIndex = s.arIndex;
    this.arFlipFlop = s.arFlipFlop;
    this.ar = [...s.ar];
    this.dacMask = s.dacMask;
    this.dacReadIndex = s.dacReadIndex;
    this.dacWriteIndex = s.dacWriteIndex;
    this.dacSub = s.dacSub;
    this.dacReading = s.dacReading;
    this.palette = [...s.palette];
    this.featureControl = s.featureControl;
    this.st1 = s.st1;
    this.latch = s.latch;
    this.vbeIndex = s.vbeIndex;
    this.vbe = [...s.vbe];
    if (s.pci !== undefined) this.config.loadState(s.pci);
  }

  // ---- I/O ports --------------------------------------------------------------------------------

  private crtcPortsActive(offset: number): boolean {
    const color = (this.misc & MISC_COLOR) !== 0;
    return color ? offset >= 0x20 : offset < 0x10;
  }

  private readPort(offset: number): number {
    switch (offset) {
      case CRTC_INDEX_MONO:
      case CRTC_INDEX_COLOR:
        return this.crtcPortsActive(offset) ? this.crtcIndex : 0xff;
      case CRTC_DATA_MONO:
      case CRTC_DATA_COLOR:
        if (!this.crtcPortsActive(offset)) return 0xff;
        return this.crtc[this.crtcIndex] ?? 0xff;
      case INPUT_STATUS_1_MONO:
      case INPUT_STATUS_1_COLOR:
        if (!this.crtcPortsActive(offset)) return 0xff;
        // Reading status 1 resets the attribute flip-flop. Retrace toggles on each read, so polling
        // loops that wait for it terminate without a clock.
        this.arFlipFlop = false;
        this.st1 ^= ST1_VERTICAL_RETRACE | ST1_DISPLAY_DISABLED;
        return this.st1;
      case AR_INDEX:
        return this.arIndex;
      case AR_DATA_READ:
        return this.ar[this.arIndex & 0x1f] ?? 0;
      case MISC_WRITE:
        return 0; // input status 0
      case SEQ_INDEX:
        return this.seqIndex;
      case SEQ_DATA:
        return this.seq[this.seqIndex]!;
      case DAC_MASK:
        return this.dacMask;
      case DAC_READ_INDEX:
        return this.dacReading ? 3 : 0;
      case DAC_WRITE_INDEX:
        return this.dacWriteIndex;
      case DAC_DATA: {
        const v = this.palette[this.dacReadIndex * 3 + this.dacSub]!;
        if (++this.dacSub === 3) {
          this.dacSub = 0;
          this.dacReadIndex = (this.dacReadIndex + 1) & 0xff;
        }
        return v;
      }
      case FEATURE_READ:
        return this.featureControl;
      case MISC_READ:
        return this.misc;
      case GR_INDEX:
        return this.grIndex;
      case GR_DATA:
        return this.gr[this.grIndex]!;
      default:
        return 0xff;
    }
  }

  private writePort(offset: number, v: number): void {
    switch (offset) {
      case CRTC_INDEX_MONO:
      case CRTC_INDEX_COLOR:
        if (this.crtcPortsActive(offset)) this.crtcIndex = v;
        return;
      case CRTC_DATA_MONO:
      case CRTC_DATA_COLOR:
        if (this.crtcPortsActive(offset) && this.crtcIndex < CRTC_REGISTER_COUNT) {
          // CR0-CR7 are write-protected while CR11 bit 7 is set (except CR7 bit 4, the line compare bit 8).
          const idx = this.crtcIndex;
          if (this.crtc[0x11]! & 0x80 && idx <= 7) {
            if (idx === 7) this.crtc[7] = (this.crtc[7]! & ~0x10) | (v & 0x10);
            return;
          }
          this.crtc[idx] = v;
        }
        return;
      case INPUT_STATUS_1_MONO:
      case INPUT_STATUS_1_COLOR:
        if (this.crtcPortsActive(offset)) this.featureControl = v & 0x03;
        return;
      case AR_INDEX:
        if (!this.arFlipFlop) this.arIndex = v & 0x3f;
        else if ((this.arIndex & 0x1f) < 0x15) this.ar[this.arIndex & 0x1f] = v;
        this.arFlipFlop = !this.arFlipFlop;
        return;
      case MISC_WRITE:
        this.misc = v & 0xef;
        return;
      case SEQ_INDEX:
        this.seqIndex = v & 7;
        return;
      case SEQ_DATA:
        this.seq[this.seqIndex] = v;
        return;
      case DAC_MASK:
        this.dacMask = v;
        return;
      case DAC_READ_INDEX:
        this.dacReadIndex = v;
        this.dacSub = 0;
        this.dacReading = true;
        return;
      case DAC_WRITE_INDEX:
        this.dacWriteIndex = v;
        this.dacSub = 0;
        this.dacReading = false;
        return;
      case DAC_DATA:
        this.palette[this.dacWriteIndex * 3 + this.dacSub] = v & 0x3f;
        if (++this.dacSub === 3) {
          this.dacSub = 0;
          this.dacWriteIndex = (this.dacWriteIndex + 1) & 0xff;
        }
        return;
      case GR_INDEX:
        this.grIndex = v & 0x0f;
        return;
      case GR_DATA:
        this.gr[this.grIndex] = v;
        return;
      default:
        return;
    }
  }

  private readVbePort(offset: number): number {
    if (offset === VBE_INDEX_OFFSET) return this.vbeIndex;
    if (offset !== VBE_DATA_OFFSET) return 0xffff;
    const i = this.vbeIndex;
    if (i === VbeIndex.FbBaseHi) return this.fbBaseHi();
    if (i >= VBE_REGISTER_COUNT) return 0;
    if (this.vbe[VbeIndex.Enable]! & VBE_GETCAPS) {
      if (i === VbeIndex.XRes) return VBE_MAX_XRES;
      if (i === VbeIndex.YRes) return VBE_MAX_YRES;
      if (i === VbeIndex.Bpp) return VBE_MAX_BPP;
    }
    return this.vbe[i]!;
  }

  private writeVbePort(offset: number, v: number): void {
    if (offset === VBE_INDEX_OFFSET) {
      this.vbeIndex = v;
      return;
    }
    if (offset !== VBE_DATA_OFFSET) return;
    const vbe = this.vbe;
    const enabled = (vbe[VbeIndex.Enable]! & VBE_ENABLED) !== 0;
    switch (this.vbeIndex) {
      case VbeIndex.Id:
        if (v >= VBE_ID0 && v <= VBE_ID5) vbe[VbeIndex.Id] = v;
        return;
      case VbeIndex.XRes:
      case VbeIndex.YRes:
      case VbeIndex.Bpp:
        // Geometry changes only while disabled (as QEMU's vbe_ioport_write_data).
        if (!enabled) vbe[this.vbeIndex] = v;
        return;
      case VbeIndex.Bank:
        vbe[VbeIndex.Bank] = v & ((this.vram.length >>> 16) - 1);
        return;
      case VbeIndex.Enable:
        this.writeVbeEnable(v);
        return;
      case VbeIndex.VirtWidth:
      case VbeIndex.XOffset:
      case VbeIndex.YOffset:
        vbe[this.vbeIndex] = v;
        this.fixVirtual();
        return;
      default:
        return; // VirtHeight and VideoMemory64k are derived, read-only
    }
  }

  private writeVbeEnable(v: number): void {
    const vbe = this.vbe;
    if (v & VBE_ENABLED && !(vbe[VbeIndex.Enable]! & VBE_ENABLED)) {
      const x = vbe[VbeIndex.XRes]!;
      const y = vbe[VbeIndex.YRes]!;
      let bpp = vbe[VbeIndex.Bpp]!;
      if (bpp === 0) bpp = 8;
      const valid =
        x > 0 &&
        y > 0 &&
        x <= VBE_MAX_XRES &&
        y <= VBE_MAX_YRES &&
        x % 8 === 0 &&
        (VBE_VALID_BPP as readonly number[]).includes(bpp) &&
        x * y * Math.ceil(bpp / 8) <= this.vram.length;
      if (!valid) return; // the guest asked for a mode this card cannot show: stay disabled
      vbe[VbeIndex.Bpp] = bpp;
      vbe[VbeIndex.VirtWidth] = x;
      vbe[VbeIndex.XOffset] = 0;
      vbe[VbeIndex.YOffset] = 0;
      vbe[VbeIndex.Bank] = 0;
      if (!(v & VBE_NOCLEARMEM)) this.vram.fill(0);
      vbe[VbeIndex.Enable] = v & 0xff;
      this.fixVirtual();
      // A VBE mode is a packed-pixel graphics mode: chain-4 addressing through the legacy window.
      this.gr[GR_MISC] = (this.gr[GR_MISC]! & ~0x0c) | 0x05;
      this.seq[SEQ_MEMORY_MODE] = this.seq[SEQ_MEMORY_MODE]! | SEQMM_CHAIN4;
    } else {
      vbe[VbeIndex.Enable] = v & 0xff;
    }
  }

  /** Keeps the virtual width/height and offsets within video memory. */
  private fixVirtual(): void {
    const vbe = this.vbe;
    const bytesPp = Math.ceil((vbe[VbeIndex.Bpp]! || 8) / 8);
    let width = Math.max(vbe[VbeIndex.VirtWidth]!, vbe[VbeIndex.XRes]!);
    if (width * bytesPp * Math.max(vbe[VbeIndex.YRes]!, 1) > this.vram.length) width = vbe[VbeIndex.XRes]!;
    vbe[VbeIndex.VirtWidth] = width;
    const stride = Math.max(width * bytesPp, 1);
    vbe[VbeIndex.VirtHeight] = Math.min(Math.floor(this.vram.length / stride), 0xffff);
    const maxY = Math.max(vbe[VbeIndex.VirtHeight]! - vbe[VbeIndex.YRes]!, 0);
    if (vbe[VbeIndex.YOffset]! > maxY) vbe[VbeIndex.YOffset] = maxY;
    if (vbe[VbeIndex.XOffset]! > width - vbe[VbeIndex.XRes]!) vbe[VbeIndex.XOffset] = 0;
  }

  // ---- BAR2: QEMU's std-VGA MMIO region ---------------------------------------------------------

  private readMmio(offset: number, size: AccessSize): number {
    if (offset >= MMIO_VGA_PORTS && offset + size <= MMIO_VGA_PORTS + MMIO_VGA_PORTS_LENGTH) {
      // 0x400 + n is port 0x3C0 + n; a word reads the two ports, low address first.
      const port = offset - MMIO_VGA_PORTS + AR_INDEX;
      return size === 1 ? this.readPort(port) : this.readPort(port) | (this.readPort(port + 1) << 8);
    }
    if (offset >= MMIO_DISPI && offset + size <= MMIO_DISPI + MMIO_DISPI_LENGTH) {
      const rel = offset - MMIO_DISPI;
      this.vbeIndex = rel >> 1;
      const v = this.readVbePort(VBE_DATA_OFFSET);
      return size === 2 ? v : (v >> ((rel & 1) * 8)) & 0xff;
    }
    return size === 1 ? 0xff : 0xffff;
  }

  private writeMmio(offset: number, size: AccessSize, value: number): void {
    if (offset >= MMIO_VGA_PORTS && offset + size <= MMIO_VGA_PORTS + MMIO_VGA_PORTS_LENGTH) {
      // A word writes the index port then the data port: one access programs an indexed register.
      const port = offset - MMIO_VGA_PORTS + AR_INDEX;
      this.writePort(port, value & MASK8);
      if (size === 2) this.writePort(port + 1, (value >> 8) & MASK8);
      return;
    }
    if (offset >= MMIO_DISPI && offset + size <= MMIO_DISPI + MMIO_DISPI_LENGTH) {
      const rel = offset - MMIO_DISPI;
      this.vbeIndex = rel >> 1;
      let v = value & 0xffff;
      if (size === 1) {
        // A byte replaces its half of the 16-bit register.
        const shift = (rel & 1) * 8;
        v = (this.readVbePort(VBE_DATA_OFFSET) & ~(0xff << shift)) | ((value & 0xff) << shift);
      }
      this.writeVbePort(VBE_DATA_OFFSET, v & 0xffff);
    }
  }

  // ---- legacy memory window ---------------------------------------------------------------------

  /** Offset within the window GR6 selects, or -1 if `offset` (from 0xA0000) lies outside it. */
  private windowOffset(offset: number): number {
    switch ((this.gr[GR_MISC]! >> GRMISC_MAP_SHIFT) & 3) {
      case 0:
        return offset;
      case 1:
        return offset < 0x10000 ? offset : -1;
      case 2:
        return offset >= 0x10000 && offset < 0x18000 ? offset - 0x10000 : -1;
      default:
        return offset >= 0x18000 ? offset - 0x18000 : -1;
    }
  }

  private readLegacy(offset: number): number {
    if (this.vbe[VbeIndex.Enable]! & VBE_ENABLED) {
      const a = this.vbe[VbeIndex.Bank]! * 0x10000 + (offset & 0xffff);
      return offset < 0x10000 && a < this.vram.length ? this.vram[a]! : 0xff;
    }
    const addr = this.windowOffset(offset);
    if (addr < 0) return 0xff;
    const seq4 = this.seq[SEQ_MEMORY_MODE]!;
    if (seq4 & SEQMM_CHAIN4) return this.vram[addr]!;
    if (this.gr[GR_MODE]! & GRMODE_HOST_ODD_EVEN) {
      const plane = (this.gr[GR_READ_MAP]! & 2) | (addr & 1);
      return this.vram[((addr & ~1) << 1) | plane]!;
    }
    // Planar: load the latches, then read mode 0 (one plane) or 1 (colour compare).
    if (addr >= this.vram32.length) return 0xff;
    this.latch = this.vram32[addr]!;
    if (!(this.gr[GR_MODE]! & GRMODE_READ_MODE_1))
      return (this.latch >>> ((this.gr[GR_READ_MAP]! & 3) * 8)) & 0xff;
    const compare = expand4(this.gr[GR_COLOR_COMPARE]!);
    const care = expand4(this.gr[GR_COLOR_DONT_CARE]!);
    let r = ~((this.latch ^ compare) & care) >>> 0;
    r &= r >>> 16;
    r &= r >>> 8;
    return r & 0xff;
  }

  private writeLegacy(offset: number, value: number): void {
    if (this.vbe[VbeIndex.Enable]! & VBE_ENABLED) {
      const a = this.vbe[VbeIndex.Bank]! * 0x10000 + (offset & 0xffff);
      if (offset < 0x10000 && a < this.vram.length) this.vram[a] = value;
      return;
    }
    const addr = this.windowOffset(offset);
    if (addr < 0) return;
    const seq4 = this.seq[SEQ_MEMORY_MODE]!;
    const mapMask = this.seq[SEQ_MAP_MASK]! & 0x0f;
    if (seq4 & SEQMM_CHAIN4) {
      if (mapMask & (1 << (addr & 3))) this.vram[addr] = value;
      return;
    }
    // Odd/even addressing for writes follows SR4 bit 2 (clear = odd/even), as on the VGA.
    if (!(seq4 & SEQMM_ODD_EVEN_DISABLE)) {
      const plane = (this.gr[GR_READ_MAP]! & 2) | (addr & 1);
      if (mapMask & (1 << plane)) this.vram[((addr & ~1) << 1) | plane] = value;
      return;
    }
    if (addr >= this.vram32.length) return;
    this.writePlanar(addr, value, mapMask);
  }

  /** Write modes 0-3 through the latches, set/reset, rotate, logical function and bit mask. */
  private writePlanar(addr: number, value: number, mapMask: number): void {
    const gr = this.gr;
    const mode = gr[GR_MODE]! & 3;
    let v: number;
    let bitMask = gr[GR_BIT_MASK]!;
    const rotate = gr[GR_DATA_ROTATE]! & 7;
    switch (mode) {
      case 0: {
        const r = ((value >> rotate) | (value << (8 - rotate))) & 0xff;
        v = (r * 0x0101_0101) >>> 0;
        const esr = expand4(gr[GR_ENABLE_SET_RESET]!);
        v = ((v & ~esr) | (expand4(gr[GR_SET_RESET]!) & esr)) >>> 0;
        break;
      }
      case 1:
        v = this.latch;
        this.store(addr, v, mapMask);
        return;
      case 2:
        v = expand4(value);
        break;
      default: {
        const r = ((value >> rotate) | (value << (8 - rotate))) & 0xff;
        bitMask &= r;
        v = expand4(gr[GR_SET_RESET]!);
        break;
      }
    }
    switch ((gr[GR_DATA_ROTATE]! >> 3) & 3) {
      case 1:
        v &= this.latch;
        break;
      case 2:
        v |= this.latch;
        break;
      case 3:
        v ^= this.latch;
        break;
      default:
        break;
    }
    const bm = (bitMask * 0x0101_0101) >>> 0;
    v = ((v & bm) | (this.latch & ~bm)) >>> 0;
    this.store(addr, v, mapMask);
  }

  private store(addr: number, v: number, mapMask: number): void {
    const planes = expand4(mapMask);
    const old = this.vram32[addr]!;
    this.vram32[addr] = ((old & ~planes) | (v & planes)) >>> 0;
  }
}
