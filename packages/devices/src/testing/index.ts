/**
 * Fakes and drivers for tests in other packages (virtio-pci, the machine builder). Import from
 * `@typevisor/devices/testing`.
 */
import type { AccessSize } from '@typevisor/memory';
import type { PciBarMapping, PciBarObserver } from '../pci/config-space.js';
import type { PciHost } from '../pci/device.js';
import type { A20Line, ExitHandler, PowerControl, ResetLine } from '../signals.js';

export { buildIsoImage, type IsoFile } from './iso.js';

/** Records every A20 change, reset request, power-off and debug exit it is wired to. */
export class RecordingBoard implements A20Line, ResetLine, PowerControl, ExitHandler {
  a20 = true;
  resets = 0;
  powerOffs = 0;
  readonly exitCodes: number[] = [];
  setA20(enabled: boolean): void {
    this.a20 = enabled;
  }
  requestReset(): void {
    this.resets++;
  }
  powerOff(): void {
    this.powerOffs++;
  }
  exit(code: number): void {
    this.exitCodes.push(code);
  }
}

/** Keeps the latest mapping of each BAR, as a VMM's bus remapper would. */
export class RecordingBarObserver implements PciBarObserver {
  readonly history: PciBarMapping[] = [];
  readonly current = new Map<number, PciBarMapping>();
  barChanged(mapping: PciBarMapping): void {
    this.history.push(mapping);
    this.current.set(mapping.index, mapping);
  }
}

/**
 * Drives a {@link PciHost} through its 0xCF8/0xCFC ports the way a guest does, for tests of PCI
 * functions (the host's port offsets are relative to 0xCF8).
 */
export class PciConfigDriver {
  constructor(private readonly host: PciHost) {}
  read(device: number, fn: number, offset: number, size: AccessSize = 4): number {
    this.host.write(0, 4, this.address(device, fn, offset));
    return this.host.read(4 + (offset & 3), size);
  }
  write(device: number, fn: number, offset: number, value: number, size: AccessSize = 4): void {
    this.host.write(0, 4, this.address(device, fn, offset));
    this.host.write(4 + (offset & 3), size, value);
  }
  /** Sizes a 32-bit BAR the way firmware does; returns its size (0 if unimplemented). */
  sizeBar(device: number, fn: number, index: number): number {
    const off = 0x10 + 4 * index;
    const old = this.read(device, fn, off);
    this.write(device, fn, off, 0xffff_ffff);
    const v = this.read(device, fn, off);
    this.write(device, fn, off, old);
    // I/O BARs may hard-wire bits 31-16 to 0 (PCI 3.0, 6.2.5.1): treat them as set.
    const mask = v & 1 ? ((v & 0xfffc) | 0xffff_0000) >>> 0 : (v & 0xffff_fff0) >>> 0;
    return mask === 0 ? 0 : (~mask + 1) >>> 0 || 2 ** 32;
  }
  private address(device: number, fn: number, offset: number): number {
    return (0x8000_0000 | ((device & 31) << 11) | ((fn & 7) << 8) | (offset & 0xfc)) >>> 0;
  }
}
