import { DevicesError } from '../errors.js';

export interface IsoFile {
  /** ISO 9660 level-1 style name, e.g. "HELLO.TXT" (";1" is appended). */
  readonly name: string;
  readonly data: Uint8Array;
}

const SECTOR = 2048;
const FIRST_FILE_LBA = 20;

/**
 * Builds a small ISO 9660 (ECMA-119) image in memory: system area, primary volume descriptor at LBA 16,
 * terminator at 17, a root directory at 18 listing `files`, whose extents start at LBA 20 in order.
 * No path tables, Joliet or El Torito: enough for tests that read the disc through ATAPI commands.
 */
export function buildIsoImage(files: readonly IsoFile[], volumeId = 'TYPEVISOR'): Uint8Array {
  const enc = new TextEncoder();
  let lba = FIRST_FILE_LBA;
  const placed = files.map((f) => {
    const at = lba;
    lba += Math.max(1, Math.ceil(f.data.length / SECTOR));
    return { ...f, lba: at };
  });
  const img = new Uint8Array(lba * SECTOR);
  const view = new DataView(img.buffer);
  const both32 = (o: number, v: number) => {
    view.setUint32(o, v, true);
    view.setUint32(o + 4, v, false);
  };
  const record = (o: number, extent: number, size: number, dir: boolean, name: Uint8Array): number => {
    const len = 33 + name.length + ((33 + name.length) % 2);
    img[o] = len;
    both32(o + 2, extent);
    both32(o + 10, size);
    img[o + 25] = dir ? 2 : 0;
    img[o + 28] = 1; // volume sequence number (both-endian 16-bit)
    img[o + 31] = 1;
    img[o + 32] = name.length;
    img.set(name, o + 33);
    return len;
  };
  const pvd = 16 * SECTOR;
  img[pvd] = 1;
  img.set(enc.encode('CD001'), pvd + 1);
  img[pvd + 6] = 1;
  img.set(enc.encode(volumeId.toUpperCase().padEnd(32, ' ').slice(0, 32)), pvd + 40);
  both32(pvd + 80, lba); // volume space size
  view.setUint16(pvd + 128, SECTOR, true); // logical block size (both-endian)
  view.setUint16(pvd + 130, SECTOR, false);
  record(pvd + 156, 18, SECTOR, true, Uint8Array.of(0));
  img[pvd + 881] = 1; // file structure version
  img[17 * SECTOR] = 255;
  img.set(enc.encode('CD001'), 17 * SECTOR + 1);
  img[17 * SECTOR + 6] = 1;
  let o = 18 * SECTOR;
  o += record(o, 18, SECTOR, true, Uint8Array.of(0));
  o += record(o, 18, SECTOR, true, Uint8Array.of(1));
  for (const f of placed) {
    const name = enc.encode(`${f.name.toUpperCase()};1`);
    if (o + 34 + name.length > 19 * SECTOR)
      throw new DevicesError('InvalidArgument', 'too many files for one directory sector');
    o += record(o, f.lba, f.data.length, false, name);
    img.set(f.data, f.lba * SECTOR);
  }
  return img;
}
