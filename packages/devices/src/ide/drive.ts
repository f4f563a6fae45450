import type { BlockBackend } from './backend.js';
import {
  ASC_INVALID_FIELD_IN_CDB,
  ASC_INVALID_OPCODE,
  ASC_LBA_OUT_OF_RANGE,
  ASC_MEDIUM_NOT_PRESENT,
  ATA_SECTOR_SIZE,
  CD_SECTOR_SIZE,
  HEADS,
  MAX_MULTIPLE_SECTORS,
  SECTORS_PER_TRACK,
  SENSE_ILLEGAL_REQUEST,
  SENSE_NONE,
  SENSE_NOT_READY,
  ScsiCommand,
} from './registers.js';

export type DriveKind = 'disk' | 'cdrom';

export interface IdeDriveOptions {
  readonly kind: DriveKind;
  /** The medium; a CD-ROM may start empty (null). */
  readonly backend: BlockBackend | null;
  readonly serial?: string;
  readonly model?: string;
  readonly firmware?: string;
}

/** Where an ATAPI command's data-in phase takes its bytes from. */
export type AtapiData = { readonly bytes: Uint8Array } | { readonly offset: number; readonly length: number };

/** Outcome of an ATAPI packet: data to send (possibly empty) or a CHECK CONDITION. */
export type AtapiResult =
  | { readonly ok: true; readonly data: AtapiData | null }
  | { readonly ok: false; readonly senseKey: number; readonly asc: number };

/** Sense data a CHECK CONDITION left for REQUEST SENSE. */
export interface SenseState {
  readonly key: number;
  readonly asc: number;
}

/**
 * One device on an IDE channel: an ATA hard disk (512-byte sectors, LBA28/LBA48) or an ATAPI CD-ROM
 * (2048-byte sectors, MMC packet commands). It owns the identity data and the SCSI command set; the
 * channel owns the task file and data transfer.
 */
export class IdeDrive {
  readonly kind: DriveKind;
  backend: BlockBackend | null;
  readonly serial: string;
  readonly model: string;
  readonly firmware: string;
  multipleSectors = MAX_MULTIPLE_SECTORS;
  sense: SenseState = { key: SENSE_NONE, asc: 0 };

  constructor(options: IdeDriveOptions) {
    this.kind = options.kind;
    this.backend = options.backend;
    this.serial = options.serial ?? 'TV00000001';
    this.model = options.model ?? (options.kind === 'disk' ? 'Typevisor HARDDISK' : 'Typevisor DVD-ROM');
    this.firmware = options.firmware ?? '1.0';
  }

  get sectorSize(): number {
    return this.kind === 'disk' ? ATA_SECTOR_SIZE : CD_SECTOR_SIZE;
  }

  /** Whole sectors on the medium (0 without one). */
  get sectors(): number {
    return this.backend === null ? 0 : Math.floor(this.backend.size / this.sectorSize);
  }

  /** The 512-byte IDENTIFY DEVICE (disk) or IDENTIFY PACKET DEVICE (CD-ROM) block. */
  identify(): Uint8Array {
    const w = new Uint16Array(256);
    const text = (first: number, words: number, s: string) => {
      const padded = s.padEnd(words * 2, ' ').slice(0, words * 2);
      // ATA strings: two characters per word, the first in the high byte (ATA-6 7.x "strings").
      for (let i = 0; i < words; i++)
        w[first + i] = (padded.charCodeAt(2 * i) << 8) | padded.charCodeAt(2 * i + 1);
    };
    text(10, 10, this.serial);
    text(23, 4, this.firmware);
    text(27, 20, this.model);
    if (this.kind === 'cdrom') {
      w[0] = 0x85c0; // ATAPI, CD-ROM (type 5), removable, DRQ within 50 us, 12-byte packets
      w[49] = 0x0300; // LBA and DMA
      w[53] = 0x0006; // words 64-70 and 88 valid
      w[63] = 0x0007;
      w[64] = 0x0003;
      w[65] = 120;
      w[66] = 120;
      w[67] = 120;
      w[68] = 120;
      w[80] = 0x007e; // ATA/ATAPI-1..6
      w[88] = 0x003f;
    } else {
      const total = this.sectors;
      const cylinders = Math.min(Math.floor(total / (HEADS * SECTORS_PER_TRACK)), 16383);
      const chs = cylinders * HEADS * SECTORS_PER_TRACK;
      const lba28 = Math.min(total, 0x0fff_ffff);
      w[0] = 0x0040; // fixed, non-removable ATA device
      w[1] = cylinders;
      w[3] = HEADS;
      w[6] = SECTORS_PER_TRACK;
      w[47] = 0x8000 | MAX_MULTIPLE_SECTORS;
      w[49] = 0x0300; // LBA and DMA supported
      w[50] = 0x4000;
      w[53] = 0x0007; // words 54-58, 64-70 and 88 valid
      w[54] = cylinders;
      w[55] = HEADS;
      w[56] = SECTORS_PER_TRACK;
      w[57] = chs & 0xffff;
      w[58] = Math.floor(chs / 0x10000);
      w[59] = this.multipleSectors > 0 ? 0x0100 | this.multipleSectors : 0;
      w[60] = lba28 & 0xffff;
      w[61] = Math.floor(lba28 / 0x10000);
      w[63] = 0x0007; // multiword DMA 0-2 supported
      w[64] = 0x0003; // PIO 3-4
      w[65] = 120;
      w[66] = 120;
      w[67] = 120;
      w[68] = 120;
      w[80] = 0x007e;
      w[82] = 0x4000; // NOP
      w[83] = 0x7400; // bit 14 set, FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses
      w[84] = 0x4000;
      w[85] = 0x4000;
      w[86] = 0x3400;
      w[87] = 0x4000;
      w[88] = 0x003f; // UDMA 0-5 supported
      for (let i = 0; i < 4; i++) w[100 + i] = Math.floor(total / 0x10000 ** i) & 0xffff;
    }
    const out = new Uint8Array(512);
    for (let i = 0; i < 256; i++) {
      out[2 * i] = w[i]! & 0xff;
      out[2 * i + 1] = w[i]! >> 8;
    }
    return out;
  }

  /** Executes an ATAPI packet. `limit` is never exceeded by buffered responses. */
  packet(cdb: Uint8Array): AtapiResult {
    const op = cdb[0]!;
    const be16 = (o: number) => (cdb[o]! << 8) | cdb[o + 1]!;
    const be32 = (o: number) =>
      ((cdb[o]! << 24) | (cdb[o + 1]! << 16) | (cdb[o + 2]! << 8) | cdb[o + 3]!) >>> 0;
    const reply = (bytes: Uint8Array, alloc: number): AtapiResult => ({
      ok: true,
      data: { bytes: bytes.subarray(0, Math.min(bytes.length, alloc)) },
    });
    const noMedium = this.backend === null;
    switch (op) {
      case ScsiCommand.TestUnitReady:
        return noMedium ? this.check(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT) : this.good(null);
      case ScsiCommand.RequestSense: {
        const s = new Uint8Array(18);
        s[0] = 0x70; // current error, fixed format
        s[2] = this.sense.key;
        s[7] = 10;
        s[12] = this.sense.asc;
        this.sense = { key: SENSE_NONE, asc: 0 };
        return reply(s, cdb[4]!);
      }
      case ScsiCommand.Inquiry: {
        const s = new Uint8Array(36);
        s[0] = 0x05; // CD/DVD device
        s[1] = 0x80; // removable
        s[3] = 0x21; // ATAPI, response format 1
        s[4] = 31;
        const ascii = (o: number, n: number, t: string) => {
          for (let i = 0; i < n; i++) s[o + i] = t.padEnd(n, ' ').charCodeAt(i) & 0x7f || 0x20;
        };
        ascii(8, 8, 'TYPEVSR');
        ascii(16, 16, this.model);
        ascii(32, 4, this.firmware);
        return reply(s, be16(3));
      }
      case ScsiCommand.StartStopUnit:
      case ScsiCommand.PreventAllowMediumRemoval:
      case ScsiCommand.Seek10:
        return this.good(null);
      case ScsiCommand.ReadCapacity: {
        if (noMedium) return this.check(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        const s = new Uint8Array(8);
        const last = this.sectors - 1;
        new DataView(s.buffer).setUint32(0, Math.max(last, 0));
        new DataView(s.buffer).setUint32(4, CD_SECTOR_SIZE);
        return reply(s, 8);
      }
      case ScsiCommand.Read10:
      case ScsiCommand.Read12: {
        if (noMedium) return this.check(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT);
        const lba = be32(2);
        const count = op === ScsiCommand.Read10 ? be16(7) : be32(6);
        if (lba + count > this.sectors) return this.check(SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
        return this.good(
          count === 0 ? null : { offset: lba * CD_SECTOR_SIZE, length: count * CD_SECTOR_SIZE },
        );
      }
      case ScsiCommand.ReadToc:
        return noMedium ? this.check(SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT) : this.readToc(cdb, be16(7));
      case ScsiCommand.GetConfiguration: {
        const s = new Uint8Array(8);
        s[3] = 4; // data length after this field
        s[7] = noMedium ? 0x00 : 0x08; // current profile: CD-ROM
        return reply(s, be16(7));
      }
      case ScsiCommand.GetEventStatusNotification:
        // Only polled mode exists over ATAPI; report "no event" with the media class supported.
        if (!(cdb[1]! & 1)) return this.check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
        return reply(Uint8Array.of(0, 2, 0x80, 0x10), be16(7));
      case ScsiCommand.ModeSense10:
        return this.modeSense(cdb[2]! & 0x3f, be16(7));
      default:
        return this.check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
    }
  }

  private good(data: AtapiData | null): AtapiResult {
    this.sense = { key: SENSE_NONE, asc: 0 };
    return { ok: true, data };
  }

  private check(senseKey: number, asc: number): AtapiResult {
    this.sense = { key: senseKey, asc };
    return { ok: false, senseKey, asc };
  }

  private readToc(cdb: Uint8Array, alloc: number): AtapiResult {
    const msf = (cdb[1]! & 2) !== 0;
    const format = cdb[2]! & 0x0f || cdb[9]! >> 6;
    const addr = (lba: number, out: Uint8Array, o: number) => {
      if (msf) {
        const f = lba + 150; // MSF addresses start at 00:02:00
        out[o + 1] = Math.floor(f / (75 * 60));
        out[o + 2] = Math.floor(f / 75) % 60;
        out[o + 3] = f % 75;
      } else {
        new DataView(out.buffer, out.byteOffset).setUint32(o, lba);
      }
    };
    if (format === 0) {
      const s = new Uint8Array(20);
      s[1] = 18; // TOC data length
      s[2] = 1; // first track
      s[3] = 1; // last track
      s[5] = 0x14; // ADR 1, data track
      s[6] = 1;
      addr(0, s, 8);
      s[13] = 0x14;
      s[14] = 0xaa; // lead-out
      addr(this.sectors, s, 16);
      return { ok: true, data: { bytes: s.subarray(0, Math.min(20, alloc)) } };
    }
    if (format === 1) {
      const s = new Uint8Array(12);
      s[1] = 10;
      s[2] = 1;
      s[3] = 1;
      s[5] = 0x14;
      s[6] = 1;
      addr(0, s, 8);
      return { ok: true, data: { bytes: s.subarray(0, Math.min(12, alloc)) } };
    }
    return this.check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
  }

  private modeSense(page: number, alloc: number): AtapiResult {
    const pages: number[] = [];
    if (page === 0x01 || page === 0x3f) pages.push(0x01, 6, 0, 5, 0, 0, 0, 0);
    if (page === 0x2a || page === 0x3f) {
      // CD capabilities and mechanical status: reads CD-R/RW, tray loading, 706 KB/s.
      pages.push(0x2a, 0x12, 0x3b, 0, 0x71, 0x60, 0x29, 0, 0x02, 0xc2, 0, 2, 0x02, 0, 0x02, 0xc2, 0, 0, 0, 0);
    }
    if (pages.length === 0) return this.check(SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
    const s = new Uint8Array(8 + pages.length);
    const len = s.length - 2;
    s[0] = len >> 8;
    s[1] = len & 0xff;
    s[2] = this.backend === null ? 0x70 : 0x01; // medium type: none / 120 mm data CD
    s.set(pages, 8);
    return { ok: true, data: { bytes: s.subarray(0, Math.min(s.length, alloc)) } };
  }
}
