import { checkInt } from '../errors.js';
import { BootDevice, Cmos, EQUIPMENT_FPU, EQUIPMENT_PS2_MOUSE } from './registers.js';

export interface PcCmosOptions {
  /** Guest RAM below the 32-bit PCI hole, bytes. */
  readonly ramBelow4G: number;
  /** Guest RAM mapped above 4 GiB, bytes (default 0). */
  readonly ramAbove4G?: number;
  readonly cpus?: number;
  /** Up to three boot devices in order (default disk, CD-ROM). */
  readonly bootOrder?: readonly BootDevice[];
  /** Skip the boot-sector signature check on floppies (SeaBIOS reads bit 0 of 0x38). */
  readonly skipFloppySignatureCheck?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The CMOS bytes a PC BIOS (SeaBIOS) reads at boot, as [index, value] pairs: memory sizes, CPU count,
 * boot order, equipment byte and the 0x10-0x2D checksum. Apply them with `rtc.setCmos(i, v)`.
 * Layout: IBM PC/AT Technical Reference "CMOS RAM address map" and SeaBIOS src/hw/rtc.h.
 */
export function pcCmosLayout(options: PcCmosOptions): Array<[number, number]> {
  const below = checkInt('ramBelow4G', options.ramBelow4G, MiB, 4 * 1024 * MiB);
  const above = checkInt('ramAbove4G', options.ramAbove4G ?? 0, 0, Number.MAX_SAFE_INTEGER);
  const cpus = checkInt('cpus', options.cpus ?? 1, 1, 256);
  const boot = options.bootOrder ?? [BootDevice.Disk, BootDevice.Cdrom];
  const bytes = new Map<number, number>();
  const put16 = (lo: number, v: number) => {
    bytes.set(lo, v & 0xff);
    bytes.set(lo + 1, (v >> 8) & 0xff);
  };
  bytes.set(Cmos.ShutdownStatus, 0);
  bytes.set(Cmos.FloppyTypes, 0);
  bytes.set(Cmos.Equipment, EQUIPMENT_FPU | EQUIPMENT_PS2_MOUSE); // VGA: bits 5-4 = 00
  put16(Cmos.BaseMemoryLow, 640);
  const extKb = Math.min(Math.floor((below - MiB) / KiB), 0xffff);
  put16(Cmos.ExtendedMemoryLow, extKb);
  put16(Cmos.ExtendedMemory2Low, extKb);
  const above16m = below > 16 * MiB ? Math.min(Math.floor((below - 16 * MiB) / (64 * KiB)), 0xffff) : 0;
  put16(Cmos.MemoryAbove16MLow, above16m);
  const high = Math.min(Math.floor(above / (64 * KiB)), 0xff_ffff);
  bytes.set(Cmos.MemoryAbove4G0, high & 0xff);
  bytes.set(Cmos.MemoryAbove4G1, (high >> 8) & 0xff);
  bytes.set(Cmos.MemoryAbove4G2, (high >> 16) & 0xff);
  bytes.set(Cmos.SmpCount, cpus - 1);
  const dev = (i: number) => (boot[i] ?? BootDevice.None) & 0x0f;
  bytes.set(Cmos.BootFlag2, (dev(1) << 4) | dev(0));
  bytes.set(Cmos.BootFlag1, (dev(2) << 4) | (options.skipFloppySignatureCheck ? 1 : 0));
  let sum = 0;
  for (let i = 0x10; i <= 0x2d; i++) sum += bytes.get(i) ?? 0;
  bytes.set(Cmos.ChecksumHigh, (sum >> 8) & 0xff);
  bytes.set(Cmos.ChecksumLow, sum & 0xff);
  return [...bytes.entries()].sort((a, b) => a[0] - b[0]);
}
