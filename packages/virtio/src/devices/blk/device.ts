import type { GuestMemory } from '@typevisor/memory';
import { DeviceId } from '../../constants.js';
import type { DeviceContext } from '../../device.js';
import { queueError } from '../../errors.js';
import { features as featureSet } from '../../features.js';
import {
  chainViews,
  type DescriptorChain,
  markChainDirty,
  readFromChain,
  writeToChain,
} from '../../queue/chain.js';
import { QueueDevice } from '../base.js';
import type { BlockBackend } from './backend.js';

/** virtio-blk feature bits (5.2.3). */
export const BlkFeature = {
  SIZE_MAX: 1,
  SEG_MAX: 2,
  GEOMETRY: 4,
  RO: 5,
  BLK_SIZE: 6,
  FLUSH: 9,
  TOPOLOGY: 10,
  CONFIG_WCE: 11,
  MQ: 12,
  DISCARD: 13,
  WRITE_ZEROES: 14,
} as const;

/** struct virtio_blk_config field offsets (5.2.4). */
export const BlkConfig = {
  CAPACITY: 0,
  SIZE_MAX: 8,
  SEG_MAX: 12,
  GEOMETRY: 16,
  BLK_SIZE: 20,
  TOPOLOGY: 24,
  WRITEBACK: 32,
  NUM_QUEUES: 34,
  MAX_DISCARD_SECTORS: 36,
  MAX_DISCARD_SEG: 40,
  DISCARD_SECTOR_ALIGNMENT: 44,
  MAX_WRITE_ZEROES_SECTORS: 48,
  MAX_WRITE_ZEROES_SEG: 52,
  WRITE_ZEROES_MAY_UNMAP: 56,
  SIZE: 60,
} as const;

/** Request types (5.2.6). */
export const BlkRequest = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  DISCARD: 11,
  WRITE_ZEROES: 13,
} as const;

/** Request status byte values (5.2.6). */
export const BlkStatus = {
  OK: 0,
  IOERR: 1,
  UNSUPP: 2,
} as const;

/** Sector size of the virtio-blk interface, whatever the image's block size. */
export const SECTOR_SIZE = 512;
/** struct virtio_blk_outhdr { le32 type; le32 reserved; le64 sector; } */
const HEADER_SIZE = 16;
/** struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags; } */
const SEGMENT_SIZE = 16;
const SEGMENT_FLAG_UNMAP = 1;
/** GET_ID returns a 20-byte serial, NUL-padded (5.2.6). */
const ID_BYTES = 20;
/** Largest discard / write-zeroes request, in sectors (QEMU uses the same 32 MiB-ish order). */
const MAX_DISCARD_SECTORS = 0x3fffff;

export interface BlkOptions {
  /** `-drive readonly=on`: offer VIRTIO_BLK_F_RO and fail writes. Also implied by a read-only backend. */
  readonly readOnly?: boolean;
  /** Serial number returned by GET_ID (`-drive serial=`), at most 20 bytes. */
  readonly serial?: string;
  /** Queue size (QEMU `queue-size`, default 256). */
  readonly queueSize?: number;
  /** Advertise discard (QEMU `discard=unmap`); default true. */
  readonly discard?: boolean;
}

/**
 * virtio-blk (5.2) over a {@link BlockBackend}: read, write, flush, get-id, discard and
 * write-zeroes, with one request queue. Requests the device can parse but not serve get an error
 * status; chains that do not even hold a header and a status byte set DEVICE_NEEDS_RESET.
 */
export class BlkDevice extends QueueDevice {
  readonly deviceId = DeviceId.BLOCK;
  readonly features: number;
  readonly queueMaxSizes: readonly number[];
  readonly readOnly: boolean;
  private readonly configBytes: Uint8Array;
  private readonly serial: Uint8Array;
  private readonly capacity: number;
  private readonly header = new Uint8Array(HEADER_SIZE);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly segment = new Uint8Array(SEGMENT_SIZE);
  private readonly segmentView = new DataView(this.segment.buffer);
  private readonly status = new Uint8Array(1);

  constructor(
    readonly backend: BlockBackend,
    options: BlkOptions = {},
  ) {
    super();
    const queueSize = options.queueSize ?? 256;
    this.queueMaxSizes = [queueSize];
    this.readOnly = (options.readOnly ?? false) || backend.readOnly;
    const discard = options.discard ?? true;
    const bits: number[] = [BlkFeature.SEG_MAX, BlkFeature.BLK_SIZE, BlkFeature.FLUSH];
    if (this.readOnly) bits.push(BlkFeature.RO);
    else {
      bits.push(BlkFeature.WRITE_ZEROES);
      if (discard) bits.push(BlkFeature.DISCARD);
    }
    this.features = featureSet(...bits);
    this.capacity = Math.floor(backend.size / SECTOR_SIZE);
    this.serial = new TextEncoder().encode(options.serial ?? '').subarray(0, ID_BYTES);

    this.configBytes = new Uint8Array(BlkConfig.SIZE);
    const c = new DataView(this.configBytes.buffer);
    c.setUint32(BlkConfig.CAPACITY, this.capacity % 0x1_0000_0000, true);
    c.setUint32(BlkConfig.CAPACITY + 4, Math.floor(this.capacity / 0x1_0000_0000), true);
    // Two descriptors of every chain carry the header and the status byte.
    c.setUint32(BlkConfig.SEG_MAX, Math.max(queueSize - 2, 1), true);
    c.setUint32(BlkConfig.BLK_SIZE, SECTOR_SIZE, true);
    c.setUint16(BlkConfig.NUM_QUEUES, 1, true);
    c.setUint32(BlkConfig.MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS, true);
    c.setUint32(BlkConfig.MAX_DISCARD_SEG, 1, true);
    c.setUint32(BlkConfig.DISCARD_SECTOR_ALIGNMENT, 1, true);
    c.setUint32(BlkConfig.MAX_WRITE_ZEROES_SECTORS, MAX_DISCARD_SECTORS, true);
    c.setUint32(BlkConfig.MAX_WRITE_ZEROES_SEG, 1, true);
  }

  protected config(): Uint8Array {
    return this.configBytes;
  }

  /** Capacity in 512-byte sectors. */
  get sectors(): number {
    return this.capacity;
  }

  queueNotify(index: number): void {
    if (index === 0) this.drain(0, (chain, ctx) => this.handle(chain, ctx));
  }

  private handle(chain: DescriptorChain, ctx: DeviceContext): number {
    const memory = ctx.memory;
    if (chain.readableLength < HEADER_SIZE || chain.writableLength < 1) {
      ctx.needsReset(
        queueError('MalformedRequest', chain.id, 'virtio-blk request without header or status byte'),
      );
      return 0;
    }
    readFromChain(memory, chain, 0, this.header);
    const type = this.headerView.getUint32(0, true);
    const sectorLo = this.headerView.getUint32(8, true);
    const sectorHi = this.headerView.getUint32(12, true);
    // Sector numbers beyond 2^53 / 512 cannot be in any image this device serves.
    const sector = sectorHi >= 0x20_0000 ? Number.MAX_SAFE_INTEGER : sectorHi * 0x1_0000_0000 + sectorLo;
    // The status byte is the last device-writable byte; data is everything between.
    const inData = chain.writableLength - 1;
    const outData = chain.readableLength - HEADER_SIZE;
    let status: number;
    let written = 0;
    switch (type) {
      case BlkRequest.IN:
        status = this.read(memory, chain, sector, inData);
        if (status === BlkStatus.OK) written = inData;
        break;
      case BlkRequest.OUT:
        status = this.write(memory, chain, sector, outData);
        break;
      case BlkRequest.FLUSH:
        status = this.backend.flush() ? BlkStatus.OK : BlkStatus.IOERR;
        break;
      case BlkRequest.GET_ID: {
        const id = new Uint8Array(Math.min(ID_BYTES, inData));
        id.set(this.serial.subarray(0, id.length));
        written = writeToChain(memory, chain, 0, id);
        status = BlkStatus.OK;
        break;
      }
      case BlkRequest.DISCARD:
      case BlkRequest.WRITE_ZEROES:
        status = this.discardOrZero(memory, chain, type === BlkRequest.WRITE_ZEROES, outData);
        break;
      default:
        status = BlkStatus.UNSUPP;
    }
    this.status[0] = status;
    writeToChain(memory, chain, inData, this.status);
    return written + 1;
  }

  private inRange(sector: number, bytes: number): boolean {
    return (
      bytes % SECTOR_SIZE === 0 && sector <= this.capacity && bytes / SECTOR_SIZE <= this.capacity - sector
    );
  }

  private read(memory: GuestMemory, chain: DescriptorChain, sector: number, length: number): number {
    if (!this.inRange(sector, length)) return BlkStatus.IOERR;
    let offset = sector * SECTOR_SIZE;
    for (const view of chainViews(memory, chain, true, 0, length)) {
      if (!this.backend.read(offset, view)) return BlkStatus.IOERR;
      offset += view.length;
    }
    markChainDirty(memory, chain, 0, length);
    return offset === sector * SECTOR_SIZE + length ? BlkStatus.OK : BlkStatus.IOERR;
  }

  private write(memory: GuestMemory, chain: DescriptorChain, sector: number, length: number): number {
    if (this.readOnly || !this.inRange(sector, length)) return BlkStatus.IOERR;
    let offset = sector * SECTOR_SIZE;
    for (const view of chainViews(memory, chain, false, HEADER_SIZE, length)) {
      if (!this.backend.write(offset, view)) return BlkStatus.IOERR;
      offset += view.length;
    }
    return offset === sector * SECTOR_SIZE + length ? BlkStatus.OK : BlkStatus.IOERR;
  }

  /** 5.2.6.2: one segment (max_*_seg is 1), in range; UNMAP is not allowed on discard. */
  private discardOrZero(memory: GuestMemory, chain: DescriptorChain, zero: boolean, length: number): number {
    if (this.readOnly) return BlkStatus.IOERR;
    if (length !== SEGMENT_SIZE) return BlkStatus.UNSUPP;
    readFromChain(memory, chain, HEADER_SIZE, this.segment);
    const lo = this.segmentView.getUint32(0, true);
    const hi = this.segmentView.getUint32(4, true);
    const count = this.segmentView.getUint32(8, true);
    const flags = this.segmentView.getUint32(12, true);
    if ((flags & ~SEGMENT_FLAG_UNMAP) !== 0 || (!zero && flags !== 0)) return BlkStatus.UNSUPP;
    if (count > MAX_DISCARD_SECTORS) return BlkStatus.IOERR;
    const sector = hi >= 0x20_0000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + lo;
    if (!this.inRange(sector, count * SECTOR_SIZE)) return BlkStatus.IOERR;
    const ok = zero
      ? this.backend.writeZeroes(sector * SECTOR_SIZE, count * SECTOR_SIZE)
      : this.backend.discard(sector * SECTOR_SIZE, count * SECTOR_SIZE);
    return ok ? BlkStatus.OK : BlkStatus.IOERR;
  }
}
