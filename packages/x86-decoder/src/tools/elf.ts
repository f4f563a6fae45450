/** Minimal ELF reader: finds a section's bytes (for the `.text` of the Node.js binary and committed blobs). */
import { readFileSync } from 'node:fs';

export interface Section {
  bytes: Uint8Array;
  /** Virtual address of the first byte. */
  addr: bigint;
}

export function readElfSection(path: string, name = '.text'): Section {
  const f = readFileSync(path);
  const dv = new DataView(f.buffer, f.byteOffset, f.byteLength);
  if (dv.getUint32(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
  const is64 = f[4] === 2;
  const le = f[5] === 1;
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const uN = (o: number) => (is64 ? dv.getBigUint64(o, le) : BigInt(u32(o)));
  const shoff = Number(is64 ? dv.getBigUint64(0x28, le) : BigInt(u32(0x20)));
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      name: u32(o),
      addr: uN(o + (is64 ? 0x10 : 0x0c)),
      offset: Number(uN(o + (is64 ? 0x18 : 0x10))),
      size: Number(uN(o + (is64 ? 0x20 : 0x14))),
    };
  };
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    let end = strtab.offset + s.name;
    while (f[end] !== 0) end++;
    if (f.subarray(strtab.offset + s.name, end).toString('latin1') === name) {
      return { bytes: new Uint8Array(f.buffer, f.byteOffset + s.offset, s.size), addr: s.addr };
    }
  }
  throw new Error(`${path}: no ${name} section`);
}
