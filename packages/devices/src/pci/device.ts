import type { AccessSize, PioDevice } from '@typevisor/memory';
import { DevicesError, checkInt, isUint, stateCheck } from '../errors.js';
import { NO_RESET, type ResetLine } from '../signals.js';
import type { PciDevice } from './config-space.js';
import {
  CONFIG_ADDRESS_ENABLE,
  CONFIG_ADDRESS_OFFSET,
  CONFIG_DATA_OFFSET,
  RCR_RST_CPU,
  RCR_SYS_RST,
  RESET_CONTROL_OFFSET,
} from './registers.js';

export interface PciHostState {
  readonly configAddress: number;
  readonly resetControl: number;
}

export interface PciHostOptions {
  /** PIIX reset control register (0xCF9): RST_CPU 0 -> 1 requests a reset. */
  readonly reset?: ResetLine;
}

/** `device << 3 | function`, the devfn byte of bus 0. */
export const devfn = (device: number, fn: number): number => (device << 3) | fn;

/**
 * PCI configuration mechanism #1 for bus 0 (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at 0xCFC-0xCFF) plus
 * the PIIX reset control register at 0xCF9. Insert at 0xCF8 with length {@link PCI_HOST_PORT_COUNT}.
 * Functions are attached by device/function number; absent ones read all-ones, so the guest's
 * vendor-ID probe finds nothing. There are no PCI-to-PCI bridges: other bus numbers are empty.
 */
export class PciHost implements PioDevice {
  readonly maxAccessSize: AccessSize = 4;
  private configAddress = 0;
  private resetControl = 0;
  private readonly functions: Array<PciDevice | undefined> = new Array(256).fill(undefined);
  private readonly reset: ResetLine;

  constructor(options: PciHostOptions = {}) {
    this.reset = options.reset ?? NO_RESET;
  }

  /** Attaches `dev` at 00:device.fn. Throws DevicesError if taken or out of range. */
  attach(device: number, fn: number, dev: PciDevice): void {
    const slot = devfn(checkInt('PCI device', device, 0, 31), checkInt('PCI function', fn, 0, 7));
    if (this.functions[slot] !== undefined) {
      throw new DevicesError('SlotInUse', `PCI 00:${device.toString(16).padStart(2, '0')}.${fn} is taken`);
    }
    this.functions[slot] = dev;
  }

  /** The function at 00:device.fn, if any. */
  function(device: number, fn: number): PciDevice | undefined {
    return this.functions[devfn(device & 31, fn & 7)];
  }

  /** Configuration read as the guest would see it (all-ones where nothing answers). */
  configRead(bus: number, dfn: number, offset: number, size: AccessSize): number {
    const dev = bus === 0 ? this.functions[dfn & 0xff] : undefined;
    if (dev === undefined) return allOnes(size);
    if (offset % size === 0) return dev.configRead(offset, size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (dev.configRead(offset + i, 1) & 0xff);
    return v;
  }

  configWrite(bus: number, dfn: number, offset: number, size: AccessSize, value: number): void {
    const dev = bus === 0 ? this.functions[dfn & 0xff] : undefined;
    if (dev === undefined) return;
    if (offset % size === 0) {
      dev.configWrite(offset, size, value);
      return;
    }
    for (let i = 0; i < size; i++)
      dev.configWrite(offset + i, 1, Math.floor((value >>> 0) / 256 ** i) & 0xff);
  }

  read(offset: number, size: AccessSize): number {
    if (offset === CONFIG_ADDRESS_OFFSET && size === 4) return this.configAddress;
    if (offset === RESET_CONTROL_OFFSET && size === 1) return this.resetControl;
    if (offset >= CONFIG_DATA_OFFSET) {
      const a = this.configAddress;
      if (!(a & CONFIG_ADDRESS_ENABLE)) return allOnes(size);
      const reg = (a & 0xfc) + (offset - CONFIG_DATA_OFFSET);
      return this.configRead((a >>> 16) & 0xff, (a >>> 8) & 0xff, reg, size);
    }
    // Byte and word accesses to 0xCF8-0xCFB other than 0xCF9 are ordinary I/O that nothing claims.
    return allOnes(size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === CONFIG_ADDRESS_OFFSET && size === 4) {
      this.configAddress = (value & 0x80ff_fffc) >>> 0;
      return;
    }
    if (offset === RESET_CONTROL_OFFSET && size === 1) {
      const old = this.resetControl;
      this.resetControl = value & RCR_SYS_RST;
      if (value & RCR_RST_CPU && !(old & RCR_RST_CPU)) this.reset.requestReset();
      return;
    }
    if (offset >= CONFIG_DATA_OFFSET) {
      const a = this.configAddress;
      if (!(a & CONFIG_ADDRESS_ENABLE)) return;
      const reg = (a & 0xfc) + (offset - CONFIG_DATA_OFFSET);
      this.configWrite((a >>> 16) & 0xff, (a >>> 8) & 0xff, reg, size, value);
    }
  }

  getState(): PciHostState {
    return { configAddress: this.configAddress, resetControl: this.resetControl };
  }

  /** Restores the host's own registers; the attached functions keep their own state. */
  loadState(state: PciHostState): void {
    stateCheck(
      isUint(state.configAddress, 0xffff_ffff) && isUint(state.resetControl, RCR_SYS_RST),
      'malformed PCI host state',
    );
    this.configAddress = (state.configAddress & 0x80ff_fffc) >>> 0;
    this.resetControl = state.resetControl;
  }
}

const allOnes = (size: AccessSize): number => (size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff);
