/**
 * The i440FX's Programmable Attribute Map (PAM0-6, host-bridge config 0x59-0x5F; 82441FX datasheet
 * 3.2.18) as memory layout: thirteen segments of 0xC0000-0xFFFFF, each sent to DRAM for reads and/or
 * writes or left to the PCI side, where the BIOS ROM's ISA alias answers for 0xE0000-0xFFFFF.
 * Pure data and functions; firmware.ts turns the layout into memory slots.
 */

/** The two attribute bits of one segment: bit 0 read enable (RE), bit 1 write enable (WE). */
export const PAM_RE = 0x1;
export const PAM_WE = 0x2;

/** Where a segment's accesses go. */
export type PamMode = 'pci' | 'read-only' | 'write-only' | 'ram';

export interface PamSegment {
  /** First guest-physical address. */
  readonly start: number;
  readonly size: number;
  /** PAM register 0-6 (config 0x59 + index). */
  readonly register: number;
  /** Bit position of the segment's RE/WE pair in the register (0 or 4). */
  readonly shift: 0 | 4;
}

const KiB = 1024;

/**
 * The segments: PAM0 bits 5:4 hold 0xF0000-0xFFFFF (64 KiB; bits 1:0 are reserved), PAM1-6 two
 * 16-KiB segments each, low nibble first, from 0xC0000 up.
 */
export const PAM_SEGMENTS: readonly PamSegment[] = [
  { start: 0xf0000, size: 64 * KiB, register: 0, shift: 4 },
  ...Array.from(
    { length: 12 },
    (_, i): PamSegment => ({
      start: 0xc0000 + i * 16 * KiB,
      size: 16 * KiB,
      register: 1 + (i >> 1),
      shift: (i & 1) === 0 ? 0 : 4,
    }),
  ),
];

/** The mode of `segment` when its PAM register holds `value`. */
export function pamMode(segment: PamSegment, value: number): PamMode {
  const bits = (value >> segment.shift) & 3;
  return bits === 3 ? 'ram' : bits === PAM_RE ? 'read-only' : bits === PAM_WE ? 'write-only' : 'pci';
}

/** The start of the ISA BIOS window: the last 128 KiB below 1 MiB. */
export const ISA_BIOS_END = 0x100000;
export const ISA_BIOS_MAX = 128 * KiB;

/** What backs a segment: RAM (maybe read-only), a window of the BIOS image, or nothing. */
export type SegmentBacking =
  | { readonly kind: 'ram'; readonly readonly: boolean }
  | { readonly kind: 'bios'; readonly offset: number }
  | { readonly kind: 'none' };

/**
 * What backs `segment` in `mode` with a BIOS image of `biosSize` bytes. Read-only RAM drops writes
 * (QEMU's "pam-ro"). Write-only is treated like PCI, as QEMU does ("XXX: should distinguish read/write
 * cases" in hw/pci-host/pam.c): reads and writes both go to the PCI side, where the last
 * min(size, 128 KiB) of the image is aliased below 1 MiB (pc_isa_bios_init) and nothing else decodes.
 */
export function segmentBacking(segment: PamSegment, mode: PamMode, biosSize: number): SegmentBacking {
  if (mode === 'ram') return { kind: 'ram', readonly: false };
  if (mode === 'read-only') return { kind: 'ram', readonly: true };
  const isaSize = Math.min(biosSize, ISA_BIOS_MAX);
  const isaStart = ISA_BIOS_END - isaSize;
  if (segment.start < isaStart) return { kind: 'none' };
  return { kind: 'bios', offset: biosSize - isaSize + (segment.start - isaStart) };
}
