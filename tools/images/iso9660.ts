/**
 * A minimal bootable CD image: ISO 9660 (ECMA-119) with an empty root directory and an El Torito
 * "no emulation" boot entry, for firmware boot tests. Layout, in 2048-byte sectors:
 *
 *   0-15  system area (zeros)       16  primary volume descriptor
 *   17    boot record (El Torito)    18  volume descriptor set terminator
 *   19    boot catalog               20  root directory ("." and "..")
 *   21    L path table               22  M path table
 *   23..  the boot image, loaded by the BIOS at 0000:7C00 and entered there with DL = the drive
 *
 * Sources: ECMA-119 8.4 (primary volume descriptor), 9.1 (directory record), 9.4 (path table);
 * "El Torito" Bootable CD-ROM Format Specification 1.0, sections 2.0 (boot record volume
 * descriptor) and 2.1-2.2 (validation and initial/default entries).
 */

export const SECTOR = 2048;
const PVD = 16;
const BOOT_RECORD = 17;
const TERMINATOR = 18;
const CATALOG = 19;
const ROOT_DIR = 20;
const PATH_L = 21;
const PATH_M = 22;
const BOOT_IMAGE = 23;
/** El Torito counts the boot image in 512-byte "virtual sectors". */
const VIRTUAL_SECTOR = 512;

export interface BootIsoOptions {
  /** The no-emulation boot image (at most 32 MiB - 512 bytes: its sector count is 16-bit). */
  readonly bootImage: Uint8Array;
  /** Volume identifier (d-characters: A-Z, 0-9, _), at most 32. */
  readonly volumeId?: string;
}

/** Builds the image; throws RangeError for a boot image that does not fit an entry. */
export function makeBootIso(options: BootIsoOptions): Uint8Array {
  const boot = options.bootImage;
  const virtualSectors = Math.ceil(boot.length / VIRTUAL_SECTOR);
  if (boot.length === 0 || virtualSectors > 0xffff)
    throw new RangeError(`boot image of ${boot.length} bytes (1 to ${0xffff * VIRTUAL_SECTOR})`);
  const bootSectors = Math.ceil(boot.length / SECTOR);
  const total = BOOT_IMAGE + bootSectors;
  const iso = new Uint8Array(total * SECTOR);
  const view = new DataView(iso.buffer);
  const at = (sector: number) => sector * SECTOR;
  const ascii = (offset: number, text: string, length: number, pad = 0x20) => {
    for (let i = 0; i < length; i++) iso[offset + i] = i < text.length ? text.charCodeAt(i) & 0x7f : pad;
  };
  // "Both-byte orders" fields: little-endian then big-endian (ECMA-119 7.2.3, 7.3.3).
  const both32 = (offset: number, v: number) => {
    view.setUint32(offset, v, true);
    view.setUint32(offset + 4, v, false);
  };
  const both16 = (offset: number, v: number) => {
    view.setUint16(offset, v, true);
    view.setUint16(offset + 2, v, false);
  };
  const descriptor = (sector: number, type: number) => {
    iso[at(sector)] = type;
    ascii(at(sector) + 1, 'CD001', 5);
    iso[at(sector) + 6] = 1; // version
  };
  /** A directory record for the root directory ("." or ".."), 34 bytes (ECMA-119 9.1). */
  const rootRecord = (offset: number, name: number) => {
    iso[offset] = 34;
    both32(offset + 2, ROOT_DIR);
    both32(offset + 10, SECTOR);
    // Recording date (9.1.5): 2000-01-01 00:00:00 GMT.
    iso.set([100, 1, 1, 0, 0, 0, 0], offset + 18);
    iso[offset + 25] = 0x02; // directory
    both16(offset + 28, 1); // volume sequence number
    iso[offset + 32] = 1;
    iso[offset + 33] = name;
  };

  // Primary volume descriptor (ECMA-119 8.4).
  const p = at(PVD);
  descriptor(PVD, 1);
  ascii(p + 8, '', 32);
  ascii(p + 40, (options.volumeId ?? 'TYPEVISOR_BOOT').toUpperCase(), 32);
  both32(p + 80, total);
  both16(p + 120, 1); // volume set size
  both16(p + 124, 1); // volume sequence number
  both16(p + 128, SECTOR); // logical block size
  both32(p + 132, 10); // path table size: one 10-byte record
  view.setUint32(p + 140, PATH_L, true);
  view.setUint32(p + 148, PATH_M, false);
  rootRecord(p + 156, 0);
  ascii(p + 190, '', 128 * 4 + 37 * 3); // volume set, publisher, preparer, application; file ids
  for (const field of [813, 830, 847, 864]) {
    // Dates as digits, "not specified": sixteen '0' and a zero GMT offset (8.4.26.1).
    ascii(p + field, '0000000000000000', 16);
    iso[p + field + 16] = 0;
  }
  iso[p + 881] = 1; // file structure version

  // Boot record volume descriptor (El Torito 2.0): the catalog's sector at byte 0x47.
  descriptor(BOOT_RECORD, 0);
  ascii(at(BOOT_RECORD) + 7, 'EL TORITO SPECIFICATION', 32, 0);
  view.setUint32(at(BOOT_RECORD) + 0x47, CATALOG, true);

  descriptor(TERMINATOR, 255);

  // Boot catalog: validation entry (2.1) then the initial/default entry (2.2).
  const c = at(CATALOG);
  iso[c] = 1; // header ID
  iso[c + 1] = 0; // platform: 80x86
  ascii(c + 4, 'TYPEVISOR', 24, 0);
  iso[c + 0x1e] = 0x55;
  iso[c + 0x1f] = 0xaa;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum += view.getUint16(c + i, true);
  // The checksum word makes the sixteen words of the entry sum to zero.
  view.setUint16(c + 0x1c, (0x10000 - (sum & 0xffff)) & 0xffff, true);
  iso[c + 0x20] = 0x88; // bootable
  iso[c + 0x21] = 0; // no emulation
  view.setUint16(c + 0x22, 0, true); // load segment 0: the traditional 0x07C0
  iso[c + 0x24] = 0; // system type
  view.setUint16(c + 0x26, virtualSectors, true);
  view.setUint32(c + 0x28, BOOT_IMAGE, true);

  // The root directory and its path tables (ECMA-119 9.4).
  rootRecord(at(ROOT_DIR), 0);
  rootRecord(at(ROOT_DIR) + 34, 1);
  for (const [sector, le] of [
    [PATH_L, true],
    [PATH_M, false],
  ] as const) {
    const o = at(sector);
    iso[o] = 1; // name length
    view.setUint32(o + 2, ROOT_DIR, le);
    view.setUint16(o + 6, 1, le); // parent: itself
  }

  iso.set(boot, at(BOOT_IMAGE));
  return iso;
}
