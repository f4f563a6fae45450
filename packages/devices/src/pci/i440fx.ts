import type { AccessSize } from '@typevisor/memory';
import { PciConfigSpace, type PciConfigSpaceState, type PciDevice } from './config-space.js';
import {
  CLASS_HOST_BRIDGE,
  DEVICE_I440FX,
  I440FX_PAM_COUNT,
  I440FX_PAM0,
  I440FX_SMRAM,
  VENDOR_INTEL,
} from './registers.js';

/** Told when the guest reprograms a PAM register (BIOS shadow RAM attributes for 0xC0000-0xFFFFF). */
export interface PamObserver {
  pamChanged(index: number, value: number): void;
}

/**
 * The i440FX host bridge, function 00:00.0 (8086:1237): identity, and the PAM0-6 and SMRAM registers
 * SeaBIOS programs to shadow itself into RAM. Effects on memory belong to the VMM, told through
 * {@link PamObserver}.
 */
export class I440fxHostBridge implements PciDevice {
  readonly config: PciConfigSpace;
  constructor(private readonly pamObserver?: PamObserver) {
    this.config = new PciConfigSpace({
      vendorId: VENDOR_INTEL,
      deviceId: DEVICE_I440FX,
      classCode: CLASS_HOST_BRIDGE,
      revision: 0x02,
    });
    // PAM0 holds only the 0xF0000 segment (bits 5:4); PAM1-6 two segments each (bits 5:4, 1:0).
    for (let i = 0; i < I440FX_PAM_COUNT; i++)
      this.config.setWritable(I440FX_PAM0 + i, 1, i === 0 ? 0x30 : 0x33);
    this.config.setWritable(I440FX_SMRAM, 1, 0x78);
    this.config.put(I440FX_SMRAM, 1, 0x02);
  }
  configRead(offset: number, size: AccessSize): number {
    return this.config.configRead(offset, size);
  }
  configWrite(offset: number, size: AccessSize, value: number): void {
    const before = Array.from({ length: I440FX_PAM_COUNT }, (_, i) => this.config.bytes[I440FX_PAM0 + i]!);
    this.config.configWrite(offset, size, value);
    for (let i = 0; i < I440FX_PAM_COUNT; i++) {
      const v = this.config.bytes[I440FX_PAM0 + i]!;
      if (v !== before[i]) this.pamObserver?.pamChanged(i, v);
    }
  }
  /** PAM register `index` (0-6). */
  pam(index: number): number {
    return this.config.bytes[I440FX_PAM0 + (index % I440FX_PAM_COUNT)]!;
  }
  getState(): PciConfigSpaceState {
    return this.config.getState();
  }
  loadState(state: PciConfigSpaceState): void {
    this.config.loadState(state);
  }
}
