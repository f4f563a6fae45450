import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { pcE820 } from './e820.js';
import { MB_LAYOUT, MULTIBOOT, loadMultiboot, makeMultibootImage, parseMultiboot } from './multiboot.js';

/** `mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; hlt` in 32-bit code. */
const HELLO = Uint8Array.from([0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0xf4]);

function elf32(
  entry: number,
  segments: { paddr: number; data: Uint8Array; memsz: number }[],
  header: Uint8Array,
): Uint8Array {
  const phoff = 52;
  const dataStart = phoff + 32 * segments.length;
  const total = dataStart + header.length + segments.reduce((n, s) => n + s.data.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x7f454c46, false);
  out[4] = 1; // ELFCLASS32
  out[5] = 1; // little-endian
  out[6] = 1;
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, 3, true); // EM_386
  dv.setUint32(24, entry, true);
  dv.setUint32(28, phoff, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, segments.length, true);
  out.set(header, dataStart);
  let off = dataStart + header.length;
  segments.forEach((s, i) => {
    const p = phoff + i * 32;
    dv.setUint32(p, 1, true); // PT_LOAD
    dv.setUint32(p + 4, off, true);
    dv.setUint32(p + 8, s.paddr, true);
    dv.setUint32(p + 12, s.paddr, true);
    dv.setUint32(p + 16, s.data.length, true);
    dv.setUint32(p + 20, s.memsz, true);
    out.set(s.data, off);
    off += s.data.length;
  });
  return out;
}

describe('multiboot v1 loader', () => {
  it('finds the a.out-kludge header of an image made by makeMultibootImage', () => {
    const img = parseMultiboot(makeMultibootImage(HELLO, 0x100000, 4096));
    expect(img).toMatchObject({
      format: 'aout-kludge',
      entry: 0x100020,
      segments: [
        { addr: 0x100000, fileOffset: 0, fileSize: 32 + HELLO.length, memSize: 32 + HELLO.length + 4096 },
      ],
    });
  });

  it('loads the image, clears its bss and enters with EAX = 0x2BADB002 and EBX = the info structure', () => {
    const ram = 16 * 2 ** 20;
    const mem = GuestMemory.create(ram);
    mem.fill(0x100000 + 32 + HELLO.length, 16, 0xcc); // garbage where the bss goes
    const r = loadMultiboot(mem, {
      kernel: makeMultibootImage(HELLO, 0x100000, 16),
      cmdline: 'test=1',
      ramBytes: ram,
      e820: pcE820(ram),
      modules: [{ data: new Uint8Array([1, 2, 3]), cmdline: 'mod0 arg' }],
    });
    if ('kind' in r) throw new Error(r.detail);
    expect(r.entry).toMatchObject({
      eip: 0x100020,
      eax: MULTIBOOT.BOOTLOADER_MAGIC,
      ebx: MB_LAYOUT.INFO,
      codeSelector: 0x10,
    });
    expect(mem.read8(0x100020)).toBe(0x66);
    expect(mem.read8(0x100000 + 32 + HELLO.length)).toBe(0); // bss zeroed
    const info = MB_LAYOUT.INFO;
    const flags = mem.read32(info);
    expect(flags & MULTIBOOT.INFO_MEMORY).not.toBe(0);
    expect(mem.read32(info + 4)).toBe(640);
    expect(mem.read32(info + 8)).toBe((ram - 0x100000) / 1024);
    const cmd = mem.read32(info + 16);
    expect(String.fromCharCode(...Array.from({ length: 6 }, (_, i) => mem.read8(cmd + i)))).toBe('test=1');
    // one module, page aligned after the kernel
    expect(mem.read32(info + 20)).toBe(1);
    const mod = mem.read32(info + 24);
    const start = mem.read32(mod);
    expect(start % 4096).toBe(0);
    expect(mem.read32(mod + 4) - start).toBe(3);
    expect(mem.read8(start + 2)).toBe(3);
    // memory map: 24-byte entries whose size field says 20
    expect(mem.read32(info + 44)).toBe(5 * 24);
    const mmap = mem.read32(info + 48);
    expect([mem.read32(mmap), mem.read32(mmap + 4 + 24), mem.read32(mmap + 20 + 24)]).toEqual([
      20, 0x9fc00, 2,
    ]);
  });

  it('loads the PT_LOAD segments of an ELF32 kernel at their physical addresses', () => {
    const header = makeMultibootImage(new Uint8Array(0)).subarray(0, 12); // magic, flags, checksum only
    const flags = MULTIBOOT.FLAG_PAGE_ALIGN | MULTIBOOT.FLAG_MEMORY_INFO;
    const dv = new DataView(header.buffer, header.byteOffset);
    dv.setUint32(4, flags, true);
    dv.setUint32(8, -(MULTIBOOT.HEADER_MAGIC + flags) >>> 0, true);
    const file = elf32(0x200000, [{ paddr: 0x200000, data: HELLO, memsz: 64 }], header);
    const mem = GuestMemory.create(8 * 2 ** 20);
    const r = loadMultiboot(mem, {
      kernel: file,
      cmdline: '',
      ramBytes: 8 * 2 ** 20,
      e820: pcE820(8 * 2 ** 20),
    });
    if ('kind' in r) throw new Error(r.detail);
    expect(r.image.format).toBe('elf32');
    expect(r.entry.eip).toBe(0x200000);
    expect(mem.read8(0x200000 + 4)).toBe(0xb0);
  });

  it('rejects a file without a valid header, naming why', () => {
    expect(parseMultiboot(new Uint8Array(9000))).toEqual({
      kind: 'NotMultiboot',
      detail: 'no multiboot header with a valid checksum in the first 8 KiB',
    });
    const bad = makeMultibootImage(HELLO);
    bad[8] = bad[8]! ^ 1; // checksum
    expect(parseMultiboot(bad)).toMatchObject({ kind: 'NotMultiboot' });
  });

  it('refuses an image that does not fit in RAM', () => {
    const mem = GuestMemory.create(2 * 2 ** 20);
    const r = loadMultiboot(mem, {
      kernel: makeMultibootImage(HELLO, 0x100000, 4 * 2 ** 20),
      cmdline: '',
      ramBytes: 2 * 2 ** 20,
      e820: pcE820(2 * 2 ** 20),
    });
    expect(r).toMatchObject({ kind: 'DoesNotFit' });
  });
});
