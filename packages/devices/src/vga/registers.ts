/**
 * VGA and Bochs VBE registers. Sources: IBM VGA Technical Reference (registers: Miscellaneous Output,
 * Sequencer, CRT Controller, Graphics Controller, Attribute Controller, DAC; write modes 0-3 and read
 * modes 0-1; standard mode 03h register values); Bochs/QEMU "VBE DISPI" interface
 * (vbe_display_api, QEMU include/hw/display/bochs-vbe.h).
 */

/** The VGA I/O ports 0x3B0-0x3DF as one range (mono and colour CRTC aliases included). */
export const VGA_IO_BASE = 0x3b0;
export const VGA_IO_LENGTH = 0x30;
// Port offsets from 0x3B0
export const CRTC_INDEX_MONO = 0x04; // 0x3B4
export const CRTC_DATA_MONO = 0x05;
export const INPUT_STATUS_1_MONO = 0x0a; // 0x3BA read; feature control write
export const AR_INDEX = 0x10; // 0x3C0: index/data flip-flop
export const AR_DATA_READ = 0x11; // 0x3C1
export const MISC_WRITE = 0x12; // 0x3C2 write; input status 0 read
export const SEQ_INDEX = 0x14; // 0x3C4
export const SEQ_DATA = 0x15;
export const DAC_MASK = 0x16; // 0x3C6
export const DAC_READ_INDEX = 0x17; // 0x3C7 write; DAC state read
export const DAC_WRITE_INDEX = 0x18; // 0x3C8
export const DAC_DATA = 0x19; // 0x3C9
export const FEATURE_READ = 0x1a; // 0x3CA
export const MISC_READ = 0x1c; // 0x3CC
export const GR_INDEX = 0x1e; // 0x3CE
export const GR_DATA = 0x1f;
export const CRTC_INDEX_COLOR = 0x24; // 0x3D4
export const CRTC_DATA_COLOR = 0x25;
export const INPUT_STATUS_1_COLOR = 0x2a; // 0x3DA read; feature control write

export const MISC_COLOR = 0x01; // I/O address select: CRTC at 0x3D4
export const ST1_DISPLAY_DISABLED = 0x01;
export const ST1_VERTICAL_RETRACE = 0x08;
export const AR_PAS = 0x20; // palette address source: display enabled

// Sequencer
export const SEQ_MAP_MASK = 2;
export const SEQ_MEMORY_MODE = 4;
export const SEQMM_ODD_EVEN_DISABLE = 0x04;
export const SEQMM_CHAIN4 = 0x08;

// Graphics controller
export const GR_SET_RESET = 0;
export const GR_ENABLE_SET_RESET = 1;
export const GR_COLOR_COMPARE = 2;
export const GR_DATA_ROTATE = 3;
export const GR_READ_MAP = 4;
export const GR_MODE = 5;
export const GR_MISC = 6;
export const GR_COLOR_DONT_CARE = 7;
export const GR_BIT_MASK = 8;
export const GRMODE_READ_MODE_1 = 0x08;
export const GRMODE_HOST_ODD_EVEN = 0x10;
/** Shift register interleave (CGA 4-colour modes 04h/05h). */
export const GRMODE_SHIFT_INTERLEAVE = 0x20;
/** 256-colour shift mode (mode 13h): each character clock yields 4 bytes, one pixel per byte. */
export const GRMODE_SHIFT_256 = 0x40;
export const GRMISC_GRAPHICS = 0x01;
export const GRMISC_MAP_SHIFT = 2;

// CRTC
export const CRTC_HDISPLAY_END = 0x01;
export const CRTC_OVERFLOW = 0x07;
export const CRTC_MAX_SCANLINE = 0x09;
export const CRTC_CURSOR_START = 0x0a;
export const CRTC_CURSOR_DISABLE = 0x20;
export const CRTC_START_HIGH = 0x0c;
export const CRTC_START_LOW = 0x0d;
export const CRTC_CURSOR_HIGH = 0x0e;
export const CRTC_CURSOR_LOW = 0x0f;
export const CRTC_VDISPLAY_END = 0x12;
export const CRTC_OFFSET = 0x13;
export const CRTC_REGISTER_COUNT = 0x19;

/** The legacy memory window: 0xA0000-0xBFFFF. */
export const LEGACY_BASE = 0xa0000;
export const LEGACY_LENGTH = 0x20000;

/** Standard mode 03h (80x25 text, 16 colours) register values (IBM VGA Technical Reference). */
export const MODE3 = {
  misc: 0x67,
  seq: [0x03, 0x00, 0x03, 0x00, 0x02],
  crtc: [
    0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c,
    0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
  ],
  gr: [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff],
  ar: [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c,
    0x00, 0x0f, 0x08, 0x00,
  ],
} as const;

// Bochs VBE ("DISPI") interface: index at 0x1CE, data at 0x1CF, both 16-bit.
export const VBE_IO_BASE = 0x1ce;
/** Length 3 so a 16-bit access at 0x1CF stays inside the range. */
export const VBE_IO_LENGTH = 3;
export const VBE_INDEX_OFFSET = 0;
export const VBE_DATA_OFFSET = 1;
export const VbeIndex = {
  Id: 0,
  XRes: 1,
  YRes: 2,
  Bpp: 3,
  Enable: 4,
  Bank: 5,
  VirtWidth: 6,
  VirtHeight: 7,
  XOffset: 8,
  YOffset: 9,
  VideoMemory64k: 10,
  /** Read-only: high 16 bits of the framebuffer address (BAR0), as VirtualBox and Bochs report it. */
  FbBaseHi: 11,
} as const;
export const VBE_REGISTER_COUNT = 11;
export const VBE_ID0 = 0xb0c0;
export const VBE_ID5 = 0xb0c5;
export const VBE_ENABLED = 0x01;
export const VBE_GETCAPS = 0x02;
export const VBE_8BIT_DAC = 0x20;
export const VBE_LFB_ENABLED = 0x40;
export const VBE_NOCLEARMEM = 0x80;
export const VBE_MAX_XRES = 2560;
export const VBE_MAX_YRES = 1600;
export const VBE_MAX_BPP = 32;
export const VBE_VALID_BPP = [8, 15, 16, 24, 32] as const;

/**
 * QEMU's std-VGA MMIO BAR (BAR2, docs/specs/standard-vga.txt): the VGA ports 0x3C0-0x3DF at
 * 0x400-0x41F (a word access writes the index byte then the data byte), and the DISPI registers at
 * 0x500 + index * 2, 16 bits each, with no index/data pair.
 */
export const MMIO_BAR_SIZE = 0x1000;
export const MMIO_VGA_PORTS = 0x400;
export const MMIO_VGA_PORTS_LENGTH = 0x20;
export const MMIO_DISPI = 0x500;
export const MMIO_DISPI_LENGTH = 0x16;

/**
 * The register values a VGA BIOS loads for a standard mode (the video parameter table of the IBM VGA
 * BIOS, as SeaBIOS's vgasrc and the VGA Technical Reference list them): misc output, SR1-SR4, CR0-CR18,
 * GR0-GR8 and AR0-AR14.
 */
export interface VgaModeTable {
  readonly misc: number;
  readonly seq: readonly number[];
  readonly crtc: readonly number[];
  readonly gr: readonly number[];
  readonly ar: readonly number[];
}

/** Mode 12h: 640x480, 16 colours, 4 planes at 0xA0000. */
export const MODE12: VgaModeTable = {
  misc: 0xe3,
  seq: [0x03, 0x01, 0x0f, 0x00, 0x06],
  crtc: [
    0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xea,
    0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff,
  ],
  gr: [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff],
  ar: [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x01,
    0x00, 0x0f, 0x00, 0x00,
  ],
};

/** Mode 13h: 320x200, 256 colours, chain-4 at 0xA0000, scan lines doubled. */
export const MODE13: VgaModeTable = {
  misc: 0x63,
  seq: [0x03, 0x01, 0x0f, 0x00, 0x0e],
  crtc: [
    0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c,
    0x8e, 0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff,
  ],
  gr: [0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff],
  ar: [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x41,
    0x00, 0x0f, 0x00, 0x00,
  ],
};

/** QEMU's standard VGA PCI identity (1234:1111, VGA-compatible display controller). */
export const VGA_PCI_VENDOR = 0x1234;
export const VGA_PCI_DEVICE = 0x1111;
export const VGA_PCI_CLASS = 0x030000;
