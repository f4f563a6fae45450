import type { AccessSize, GuestMemory, PioDevice } from '@typevisor/memory';
import { DevicesError, checkInt, isUint, stateCheck } from '../errors.js';
import {
  DMA_ACCESS_SIZE,
  DMA_CTL_ERROR,
  DMA_CTL_READ,
  DMA_CTL_SELECT,
  DMA_CTL_SKIP,
  DMA_CTL_WRITE,
  DMA_LENGTH,
  DMA_OFFSET,
  DMA_SIGNATURE,
  DATA_OFFSET,
  FILE_DIR_ENTRY_SIZE,
  FILE_NAME_LENGTH,
  FwCfgKey,
  ID_DMA,
  ID_TRADITIONAL,
  MAX_FILES,
  SELECTOR_OFFSET,
  SELECTOR_WRITE_CHANNEL,
} from './registers.js';

interface Item {
  data: Uint8Array;
  readonly writable: boolean;
}

/** Guest-visible registers only: the items are configuration the VMM supplies again on restore. */
export interface FwCfgState {
  readonly selector: number;
  readonly offset: number;
  readonly dmaAddress: readonly number[];
}

export interface FwCfgOptions {
  /** Guest RAM for the DMA interface; without it the DMA feature bit is clear and 0x514 is inert. */
  readonly memory?: GuestMemory;
}

const enc = new TextEncoder();

/**
 * QEMU's fw_cfg device in its x86 I/O form: a selector, a byte-wide data port and the DMA interface,
 * over items the VMM adds (numbers, blobs, named files listed in the file directory). Insert at 0x510
 * with length {@link FW_CFG_IO_LENGTH}. Every DMA request is bounds-checked against guest RAM; a request
 * that does not fit sets the error bit in its control word.
 */
export class FwCfg implements PioDevice {
  readonly maxAccessSize: AccessSize = 4;
  private readonly items = new Map<number, Item>();
  private readonly files: Array<{ name: string; key: number }> = [];
  private selector = 0;
  private offset = 0;
  private readonly dmaAddress = new Uint8Array(DMA_LENGTH);
  private readonly memory: GuestMemory | undefined;

  constructor(options: FwCfgOptions = {}) {
    this.memory = options.memory;
    this.addBytes(FwCfgKey.Signature, enc.encode('QEMU'));
    this.addU32(FwCfgKey.Id, ID_TRADITIONAL | (this.memory ? ID_DMA : 0));
    this.rebuildDirectory();
  }

  /** Adds (or replaces) the item at `key`. */
  addBytes(key: number, data: Uint8Array, writable = false): void {
    checkInt('fw_cfg key', key, 0, 0xffff);
    this.items.set(key & ~SELECTOR_WRITE_CHANNEL, { data: data.slice(), writable });
  }

  addU16(key: number, value: number): void {
    this.addBytes(key, le(checkInt('value', value, 0, 0xffff), 2));
  }

  addU32(key: number, value: number): void {
    this.addBytes(key, le(checkInt('value', value, 0, 0xffff_ffff), 4));
  }

  addU64(key: number, value: number): void {
    this.addBytes(key, le(checkInt('value', value, 0, Number.MAX_SAFE_INTEGER), 8));
  }

  /** A NUL-terminated string item (like QEMU's fw_cfg_add_string). */
  addString(key: number, s: string): void {
    const bytes = enc.encode(s);
    const out = new Uint8Array(bytes.length + 1);
    out.set(bytes);
    this.addBytes(key, out);
  }

  /**
   * Adds a named file (e.g. "etc/e820", "bootorder", "etc/acpi/tables") and returns its key.
   * Re-adding a name replaces its contents. Throws DevicesError on a bad name or too many files.
   */
  addFile(name: string, data: Uint8Array, writable = false): number {
    if (enc.encode(name).length >= FILE_NAME_LENGTH || name.length === 0) {
      throw new DevicesError('InvalidArgument', `fw_cfg file name "${name}" must be 1-55 bytes`);
    }
    let entry = this.files.find((f) => f.name === name);
    if (entry === undefined) {
      if (this.files.length >= MAX_FILES) throw new DevicesError('InvalidArgument', 'too many fw_cfg files');
      entry = { name, key: FwCfgKey.FileFirst + this.files.length };
      this.files.push(entry);
    }
    this.items.set(entry.key, { data: data.slice(), writable });
    this.rebuildDirectory();
    return entry.key;
  }

  /** Current contents of an item (files the guest may write through DMA included). */
  item(key: number): Uint8Array | undefined {
    return this.items.get(key)?.data;
  }

  read(offset: number, size: AccessSize): number {
    if (offset === DATA_OFFSET && size === 1) return this.readDataByte();
    if (offset >= DMA_OFFSET && offset + size <= DMA_OFFSET + DMA_LENGTH && this.memory !== undefined) {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) v = v * 256 + DMA_SIGNATURE.charCodeAt(offset - DMA_OFFSET + i);
      return v;
    }
    return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === SELECTOR_OFFSET && size === 2) {
      this.select(value & 0xffff);
      return;
    }
    // Port writes to the data register are ignored since QEMU 2.4.
    if (offset >= DMA_OFFSET && offset + size <= DMA_OFFSET + DMA_LENGTH && this.memory !== undefined) {
      // The register is big-endian: the byte at the lowest port is the address's most significant.
      for (let i = 0; i < size; i++)
        this.dmaAddress[offset - DMA_OFFSET + i] = Math.floor((value >>> 0) / 256 ** i) & 0xff;
      // Writing the low half (0x518) starts the transfer.
      if (offset + size === DMA_OFFSET + DMA_LENGTH) this.runDma();
    }
  }

  getState(): FwCfgState {
    return { selector: this.selector, offset: this.offset, dmaAddress: [...this.dmaAddress] };
  }

  /** Restores the registers into a device the VMM has filled with the same items. */
  loadState(state: FwCfgState): void {
    stateCheck(
      isUint(state.selector, 0xffff) &&
        isUint(state.offset, 0xffff_ffff) &&
        Array.isArray(state.dmaAddress) &&
        state.dmaAddress.length === DMA_LENGTH &&
        state.dmaAddress.every((b) => isUint(b, 0xff)),
      'malformed fw_cfg state',
    );
    this.selector = state.selector;
    this.offset = state.offset;
    this.dmaAddress.set(state.dmaAddress);
  }

  private select(key: number): void {
    this.selector = key & ~SELECTOR_WRITE_CHANNEL;
    this.offset = 0;
  }

  private readDataByte(): number {
    const item = this.items.get(this.selector);
    if (item === undefined || this.offset >= item.data.length) return 0;
    return item.data[this.offset++]!;
  }

  private runDma(): void {
    const mem = this.memory!;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 4; i++) {
      hi = hi * 256 + this.dmaAddress[i]!;
      lo = lo * 256 + this.dmaAddress[4 + i]!;
    }
    this.dmaAddress.fill(0);
    const at = hi * 2 ** 32 + lo;
    if (!Number.isSafeInteger(at)) return;
    const req = new Uint8Array(DMA_ACCESS_SIZE);
    if (!mem.readBytes(at, req)) return; // nowhere to report the error
    const view = new DataView(req.buffer);
    const control = view.getUint32(0);
    const length = view.getUint32(4);
    const address = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
    const ok = this.dmaTransfer(mem, control, length, address);
    const status = new Uint8Array(4);
    new DataView(status.buffer).setUint32(0, ok ? 0 : DMA_CTL_ERROR);
    mem.writeBytes(at, status);
  }

  private dmaTransfer(mem: GuestMemory, control: number, length: number, address: number): boolean {
    if (control & DMA_CTL_SELECT) this.select(control >>> 16);
    const item = this.items.get(this.selector);
    const avail = item === undefined ? 0 : Math.max(0, item.data.length - this.offset);
    const n = Math.min(length, avail);
    if (control & DMA_CTL_READ) {
      if (length > 0 && (!Number.isSafeInteger(address + length) || !mem.contains(address, length)))
        return false;
      if (n > 0 && !mem.writeBytes(address, item!.data.subarray(this.offset, this.offset + n))) return false;
      // Past the end of the item the transfer is filled with zeros (fw_cfg.rst, DMA interface).
      if (length > n && !mem.fill(address + n, length - n, 0)) return false;
      this.offset += n;
      return true;
    }
    if (control & DMA_CTL_WRITE) {
      if (item === undefined || !item.writable || length > avail) return false;
      const dst = item.data.subarray(this.offset, this.offset + length);
      if (length > 0 && !mem.readBytes(address, dst)) return false;
      this.offset += length;
      return true;
    }
    if (control & DMA_CTL_SKIP) {
      this.offset += n;
      return true;
    }
    return true;
  }

  private rebuildDirectory(): void {
    const dir = new Uint8Array(4 + this.files.length * FILE_DIR_ENTRY_SIZE);
    const view = new DataView(dir.buffer);
    view.setUint32(0, this.files.length);
    this.files.forEach((f, i) => {
      const o = 4 + i * FILE_DIR_ENTRY_SIZE;
      view.setUint32(o, this.items.get(f.key)?.data.length ?? 0);
      view.setUint16(o + 4, f.key);
      dir.set(enc.encode(f.name), o + 8);
    });
    this.items.set(FwCfgKey.FileDir, { data: dir, writable: false });
  }
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(value / 256 ** i) & 0xff;
  return out;
}

/** One e820 map entry for the "etc/e820" file. */
export interface E820Entry {
  readonly address: number;
  readonly length: number;
  readonly type: number;
}

/** The "etc/e820" file: packed little-endian {u64 address, u64 length, u32 type} records. */
export function e820File(entries: readonly E820Entry[]): Uint8Array {
  const out = new Uint8Array(entries.length * 20);
  entries.forEach((e, i) => {
    out.set(le(checkInt('e820 address', e.address, 0, Number.MAX_SAFE_INTEGER), 8), i * 20);
    out.set(le(checkInt('e820 length', e.length, 0, Number.MAX_SAFE_INTEGER), 8), i * 20 + 8);
    out.set(le(checkInt('e820 type', e.type, 0, 0xffff_ffff), 4), i * 20 + 16);
  });
  return out;
}

/** The "bootorder" file SeaBIOS reads: newline-separated firmware device paths. */
export function bootOrderFile(paths: readonly string[]): Uint8Array {
  const bytes = enc.encode(paths.join('\n'));
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}
