import { type AccessSize, type IrqLine, NO_IRQ } from '@typevisor/memory';
import { DevicesError, checkInt, isUint, isUintArray, stateCheck } from '../errors.js';
import {
  BAR_COUNT,
  BAR_IO,
  BAR_MEM_PREFETCH,
  BAR_MEM_TYPE_64,
  BAR0,
  CACHE_LINE_SIZE,
  CAPABILITIES_POINTER,
  CLASS_PROG_IF,
  COMMAND,
  COMMAND_INTX_DISABLE,
  COMMAND_IO,
  COMMAND_MEMORY,
  COMMAND_WRITABLE,
  CONFIG_SPACE_SIZE,
  DEVICE_ID,
  DEVICE_SPECIFIC,
  EXTENDED_CONFIG_SPACE_SIZE,
  HEADER_TYPE,
  INTERRUPT_LINE,
  INTERRUPT_PIN,
  LATENCY_TIMER,
  REVISION_ID,
  STATUS,
  STATUS_CAP_LIST,
  STATUS_ERROR_BITS,
  STATUS_INTERRUPT,
  SUBSYSTEM_ID,
  SUBSYSTEM_VENDOR_ID,
  VENDOR_ID,
} from './registers.js';

/**
 * What a PCI function offers the host bridge: its configuration space. `offset` is within the
 * function's space (0-255, or 0-4095 for PCIe extended space) and naturally aligned for `size`;
 * the host bridge splits anything else into byte accesses. Reads of unimplemented registers
 * return 0, never throw.
 */
export interface PciDevice {
  configRead(offset: number, size: AccessSize): number;
  configWrite(offset: number, size: AccessSize, value: number): void;
}

export type PciBarKind = 'io' | 'mem32' | 'mem64';

export interface PciBarDefinition {
  readonly kind: PciBarKind;
  /** Power of two; at least 4 for I/O and 16 for memory BARs. */
  readonly size: number;
  readonly prefetchable?: boolean;
}

/** A BAR's current decoding: `address` is null while the guest has not placed it or decoding is off. */
export interface PciBarMapping {
  readonly index: number;
  readonly kind: PciBarKind;
  readonly size: number;
  readonly address: number | null;
}

/** Told whenever a BAR starts, stops or moves decoding, so the VMM can move the range on its bus. */
export interface PciBarObserver {
  barChanged(mapping: PciBarMapping): void;
}

export interface PciConfigSpaceOptions {
  readonly vendorId: number;
  readonly deviceId: number;
  /** base class << 16 | subclass << 8 | programming interface. */
  readonly classCode: number;
  readonly revision?: number;
  readonly subsystemVendorId?: number;
  readonly subsystemId?: number;
  readonly headerType?: number;
  /** 0 = none, 1-4 = INTA#-INTD#. */
  readonly interruptPin?: number;
  /** BAR 0-5; a 64-bit BAR also occupies the next slot, which must be left undefined. */
  readonly bars?: ReadonlyArray<PciBarDefinition | undefined>;
  /** 4096-byte (PCIe) space instead of 256. */
  readonly extended?: boolean;
  /** The function's INTx line, after the board's swizzle (see Piix3IsaBridge.intxLine). */
  readonly intx?: IrqLine;
  readonly barObserver?: PciBarObserver;
}

export interface PciConfigSpaceState {
  readonly bytes: readonly number[];
  readonly intxLevel: boolean;
}

/**
 * A type 0 configuration header with the standard semantics: read-only IDs, Command/Status with
 * write-1-to-clear error bits, BAR sizing (write all-ones, read back the size mask), capability list,
 * interrupt line/pin, and INTx gated by Command.INTX_DISABLE with Status.INTERRUPT. Devices
 * (virtio-pci included) compose one and expose it as a {@link PciDevice}; device-specific registers
 * are made writable with {@link PciConfigSpace.setWritable}.
 */
export class PciConfigSpace implements PciDevice {
  readonly bytes: Uint8Array;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly bars: Array<PciBarDefinition | undefined> = [];
  private readonly mapped: Array<number | null> = [];
  private nextCapability = DEVICE_SPECIFIC;
  private lastCapability = 0;
  private intxLevel = false;
  private intxOut = false;
  private readonly intx: IrqLine;
  private readonly observer: PciBarObserver | undefined;

  constructor(options: PciConfigSpaceOptions) {
    const size = options.extended ? EXTENDED_CONFIG_SPACE_SIZE : CONFIG_SPACE_SIZE;
    this.bytes = new Uint8Array(size);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
    this.intx = options.intx ?? NO_IRQ;
    this.observer = options.barObserver;
    this.put(VENDOR_ID, 2, checkInt('vendorId', options.vendorId, 0, 0xffff));
    this.put(DEVICE_ID, 2, checkInt('deviceId', options.deviceId, 0, 0xffff));
    this.put(REVISION_ID, 1, checkInt('revision', options.revision ?? 0, 0, 0xff));
    this.put(CLASS_PROG_IF, 3, checkInt('classCode', options.classCode, 0, 0xff_ffff));
    this.put(HEADER_TYPE, 1, checkInt('headerType', options.headerType ?? 0, 0, 0xff));
    this.put(
      SUBSYSTEM_VENDOR_ID,
      2,
      checkInt('subsystemVendorId', options.subsystemVendorId ?? 0, 0, 0xffff),
    );
    this.put(SUBSYSTEM_ID, 2, checkInt('subsystemId', options.subsystemId ?? 0, 0, 0xffff));
    this.put(INTERRUPT_PIN, 1, checkInt('interruptPin', options.interruptPin ?? 0, 0, 4));
    this.setWritable(COMMAND, 2, COMMAND_WRITABLE);
    this.w1cmask[STATUS] = STATUS_ERROR_BITS & 0xff;
    this.w1cmask[STATUS + 1] = STATUS_ERROR_BITS >> 8;
    this.setWritable(CACHE_LINE_SIZE, 1);
    this.setWritable(LATENCY_TIMER, 1);
    this.setWritable(INTERRUPT_LINE, 1);
    const bars = options.bars ?? [];
    for (let i = 0; i < BAR_COUNT; i++) {
      const bar = bars[i];
      this.bars.push(bar);
      this.mapped.push(null);
      if (bar !== undefined) this.defineBar(i, bar, bars[i + 1]);
    }
  }

  get size(): number {
    return this.bytes.length;
  }

  configRead(offset: number, size: AccessSize): number {
    if (offset < 0 || offset + size > this.bytes.length) return 0;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.bytes[offset + i]!;
    return v;
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    if (offset < 0 || offset + size > this.bytes.length) return;
    let v = value >>> 0;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const b = v & 0xff;
      const w = this.wmask[o]!;
      this.bytes[o] = ((this.bytes[o]! & ~w) | (b & w)) & ~(b & this.w1cmask[o]!);
      v >>>= 8;
    }
    if (offset < BAR0 + 4 * BAR_COUNT && offset + size > COMMAND) {
      this.updateIntx();
      this.updateMappings();
    }
  }

  /**
   * Makes `length` bytes at `offset` guest-writable: through `mask` (little-endian, up to 4 bytes), or
   * wholly when `mask` is omitted.
   */
  setWritable(offset: number, length: number, mask?: number): void {
    for (let i = 0; i < length; i++) {
      this.wmask[offset + i] = mask === undefined ? 0xff : Math.floor(mask / 256 ** i) & 0xff;
    }
  }

  /** Sets bytes as the device (not the guest) sees fit, ignoring write masks. */
  put(offset: number, length: number, value: number): void {
    for (let i = 0; i < length; i++) this.bytes[offset + i] = Math.floor(value / 256 ** i) & 0xff;
  }

  get(offset: number, length: number): number {
    let v = 0;
    for (let i = length - 1; i >= 0; i--) v = v * 256 + this.bytes[offset + i]!;
    return v;
  }

  /**
   * Appends a capability of `length` bytes (including the ID and next-pointer bytes) to the list
   * and returns its offset. Fill and unmask the body with {@link put} / {@link setWritable}.
   */
  addCapability(id: number, length: number): number {
    const offset = (this.nextCapability + 3) & ~3;
    if (length < 2 || offset + length > CONFIG_SPACE_SIZE) {
      throw new DevicesError(
        'InvalidArgument',
        `capability 0x${id.toString(16)} of ${length} bytes does not fit`,
      );
    }
    this.bytes[offset] = id & 0xff;
    this.bytes[offset + 1] = 0;
    if (this.lastCapability === 0) this.bytes[CAPABILITIES_POINTER] = offset;
    else this.bytes[this.lastCapability + 1] = offset;
    this.lastCapability = offset;
    this.nextCapability = offset + length;
    this.bytes[STATUS] = this.bytes[STATUS]! | STATUS_CAP_LIST;
    return offset;
  }

  get command(): number {
    return this.get(COMMAND, 2);
  }

  get busMasterEnabled(): boolean {
    return (this.command & 0x4) !== 0;
  }

  /** The function drives its INTx pin; delivered unless Command.INTX_DISABLE is set. */
  setIntx(level: boolean): void {
    this.intxLevel = level;
    this.updateIntx();
  }

  /** The BAR's current decode, or undefined for an unimplemented BAR. */
  bar(index: number): PciBarMapping | undefined {
    const def = this.bars[index];
    if (def === undefined) return undefined;
    return { index, kind: def.kind, size: def.size, address: this.mapped[index] ?? null };
  }

  getState(): PciConfigSpaceState {
    return { bytes: [...this.bytes], intxLevel: this.intxLevel };
  }

  /** Restores a snapshot taken from a space built with the same options. */
  loadState(state: PciConfigSpaceState): void {
    stateCheck(
      isUintArray(state.bytes, 0xff, this.bytes.length) &&
        state.bytes.length === this.bytes.length &&
        typeof state.intxLevel === 'boolean' &&
        isUint(state.bytes.length, EXTENDED_CONFIG_SPACE_SIZE),
      'malformed PCI config space state',
    );
    this.bytes.set(state.bytes);
    this.intxLevel = state.intxLevel;
    this.updateIntx();
    this.updateMappings();
  }

  private defineBar(i: number, bar: PciBarDefinition, next: PciBarDefinition | undefined): void {
    const min = bar.kind === 'io' ? 4 : 16;
    const max = bar.kind === 'io' ? 0x1_0000 : bar.kind === 'mem32' ? 2 ** 31 : 2 ** 52;
    if (!Number.isInteger(Math.log2(bar.size)) || bar.size < min || bar.size > max) {
      throw new DevicesError(
        'InvalidArgument',
        `BAR${i}: size ${bar.size} is not a power of two in [${min}, ${max}]`,
      );
    }
    const off = BAR0 + 4 * i;
    if (bar.kind === 'io') {
      this.put(off, 4, BAR_IO);
      // All 32 address bits are writable, as in QEMU (pci_register_bar): sizing reads back
      // 0xFFFFFFFx, which SeaBIOS's BAR sizing expects (a 16-bit mask reads as a 4-GiB I/O BAR).
      this.setWritable(off, 4, (2 ** 32 - bar.size) & 0xffff_fffc);
      return;
    }
    const flags = (bar.kind === 'mem64' ? BAR_MEM_TYPE_64 : 0) | (bar.prefetchable ? BAR_MEM_PREFETCH : 0);
    this.put(off, 4, flags);
    const lowMask = bar.size >= 2 ** 32 ? 0 : (2 ** 32 - bar.size) & 0xffff_fff0;
    this.setWritable(off, 4, lowMask);
    if (bar.kind === 'mem64') {
      if (i === BAR_COUNT - 1 || next !== undefined) {
        throw new DevicesError('InvalidArgument', `BAR${i}: a 64-bit BAR needs BAR${i + 1} free`);
      }
      const highMask = bar.size >= 2 ** 32 ? (2 ** 32 - bar.size / 2 ** 32) >>> 0 : 0xffff_ffff;
      this.setWritable(off + 4, 4, highMask);
    }
  }

  private barAddress(i: number, def: PciBarDefinition): number | null {
    const cmd = this.command;
    const off = BAR0 + 4 * i;
    const low = this.get(off, 4);
    if (def.kind === 'io') {
      if (!(cmd & COMMAND_IO)) return null;
      const a = (low & 0xffff_fffc) >>> 0;
      // Unplaced (0), mid-sizing (all ones in the writable bits) or beyond 64 KiB: no decoding.
      return a === 0 || a + def.size > 0x1_0000 ? null : a;
    }
    if (!(cmd & COMMAND_MEMORY)) return null;
    let a = (low & 0xffff_fff0) >>> 0;
    let allOnes = a === ((2 ** 32 - Math.min(def.size, 2 ** 32)) & 0xffff_fff0) >>> 0;
    if (def.kind === 'mem64') {
      const high = this.get(off + 4, 4);
      a += high * 2 ** 32;
      allOnes = allOnes && high === 0xffff_ffff;
    }
    return a === 0 || allOnes || a + def.size > 2 ** 52 ? null : a;
  }

  private updateMappings(): void {
    for (let i = 0; i < BAR_COUNT; i++) {
      const def = this.bars[i];
      if (def === undefined) continue;
      const a = this.barAddress(i, def);
      if (a !== this.mapped[i]) {
        this.mapped[i] = a;
        this.observer?.barChanged({ index: i, kind: def.kind, size: def.size, address: a });
      }
    }
  }

  private updateIntx(): void {
    const status = this.bytes[STATUS]!;
    this.bytes[STATUS] = this.intxLevel ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT;
    const out = this.intxLevel && (this.command & COMMAND_INTX_DISABLE) === 0;
    if (out !== this.intxOut) {
      this.intxOut = out;
      this.intx.set(out);
    }
  }
}
