import type { E820Entry } from './e820.js';
import { BOOT_GDT, type Entry32, type GuestWriter } from './linux.js';

/**
 * Multiboot v1 (the Multiboot Specification 0.6.96), as QEMU's `-kernel` implements it for test
 * kernels (kvm-unit-tests, the project's CPU test programs): the header in the first 8 KiB, either the
 * a.out kludge addresses (flag 16) or an ELF32 image, the multiboot information structure with memory
 * sizes, command line, modules and the memory map, and entry in flat 32-bit protected mode with
 * EAX = 0x2BADB002 and EBX = the information structure.
 */
export const MULTIBOOT = {
  HEADER_MAGIC: 0x1badb002,
  BOOTLOADER_MAGIC: 0x2badb002,
  SEARCH: 8192,
  FLAG_PAGE_ALIGN: 1 << 0,
  FLAG_MEMORY_INFO: 1 << 1,
  FLAG_VIDEO_MODE: 1 << 2,
  FLAG_AOUT_KLUDGE: 1 << 16,
  /** Bits of the multiboot_info flags word. */
  INFO_MEMORY: 1 << 0,
  INFO_BOOTDEV: 1 << 1,
  INFO_CMDLINE: 1 << 2,
  INFO_MODS: 1 << 3,
  INFO_MEM_MAP: 1 << 6,
  INFO_LOADER_NAME: 1 << 9,
} as const;

/** Where the loader puts the information structure and what it points to (below 640 KiB). */
export const MB_LAYOUT = {
  GDT: 0x500,
  INFO: 0x9000,
  CMDLINE: 0x9400,
  MMAP: 0x9800,
  MODS: 0x9c00,
  STRINGS: 0xa000,
} as const;

export type MultibootError =
  | { readonly kind: 'NotMultiboot'; readonly detail: string }
  | { readonly kind: 'Unsupported'; readonly detail: string }
  | { readonly kind: 'DoesNotFit'; readonly detail: string };

export interface MultibootSegment {
  readonly addr: number;
  readonly fileOffset: number;
  readonly fileSize: number;
  readonly memSize: number;
}

export interface MultibootImage {
  readonly headerOffset: number;
  readonly flags: number;
  readonly entry: number;
  readonly segments: readonly MultibootSegment[];
  readonly format: 'aout-kludge' | 'elf32';
}

/** Finds and checks the multiboot header and works out what to load where. */
export function parseMultiboot(file: Uint8Array): MultibootImage | MultibootError {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let off = -1;
  for (let o = 0; o + 12 <= Math.min(file.length, MULTIBOOT.SEARCH); o += 4) {
    if (dv.getUint32(o, true) !== MULTIBOOT.HEADER_MAGIC) continue;
    const flags = dv.getUint32(o + 4, true);
    if ((MULTIBOOT.HEADER_MAGIC + flags + dv.getUint32(o + 8, true)) >>> 0 === 0) {
      off = o;
      break;
    }
  }
  if (off < 0)
    return { kind: 'NotMultiboot', detail: 'no multiboot header with a valid checksum in the first 8 KiB' };
  const flags = dv.getUint32(off + 4, true);
  if (flags & 0x0000fffc & ~MULTIBOOT.FLAG_VIDEO_MODE) {
    return {
      kind: 'Unsupported',
      detail: `required header flags 0x${(flags & 0xfffc).toString(16)} not supported`,
    };
  }
  if (flags & MULTIBOOT.FLAG_AOUT_KLUDGE) {
    if (off + 32 > file.length) return { kind: 'NotMultiboot', detail: 'header truncated' };
    const headerAddr = dv.getUint32(off + 12, true);
    const loadAddr = dv.getUint32(off + 16, true);
    const loadEnd = dv.getUint32(off + 20, true);
    const bssEnd = dv.getUint32(off + 24, true);
    const entry = dv.getUint32(off + 28, true);
    if (loadAddr > headerAddr) return { kind: 'NotMultiboot', detail: 'load_addr above header_addr' };
    const fileOffset = off - (headerAddr - loadAddr);
    if (fileOffset < 0)
      return { kind: 'NotMultiboot', detail: 'header_addr - load_addr past the start of the file' };
    const fileSize = loadEnd === 0 ? file.length - fileOffset : loadEnd - loadAddr;
    if (fileSize < 0 || fileOffset + fileSize > file.length)
      return { kind: 'NotMultiboot', detail: 'load_end_addr past the end of the file' };
    const memSize = bssEnd === 0 ? fileSize : bssEnd - loadAddr;
    if (memSize < fileSize) return { kind: 'NotMultiboot', detail: 'bss_end_addr below load_end_addr' };
    return {
      headerOffset: off,
      flags,
      entry,
      format: 'aout-kludge',
      segments: [{ addr: loadAddr, fileOffset, fileSize, memSize }],
    };
  }
  return parseElf32(file, dv, off, flags);
}

function parseElf32(
  file: Uint8Array,
  dv: DataView,
  headerOffset: number,
  flags: number,
): MultibootImage | MultibootError {
  if (file.length < 52 || dv.getUint32(0, false) !== 0x7f454c46) {
    return { kind: 'NotMultiboot', detail: 'neither the a.out kludge flag nor an ELF image' };
  }
  if (file[4] !== 1) return { kind: 'Unsupported', detail: 'only 32-bit ELF kernels (ELFCLASS32)' };
  if (file[5] !== 1) return { kind: 'Unsupported', detail: 'only little-endian ELF' };
  if (dv.getUint16(18, true) !== 3) return { kind: 'Unsupported', detail: 'ELF machine is not i386' };
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  const segments: MultibootSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + 32 > file.length)
      return { kind: 'NotMultiboot', detail: 'program headers past the end of the file' };
    if (dv.getUint32(p, true) !== 1) continue; // PT_LOAD only
    const fileOffset = dv.getUint32(p + 4, true);
    const addr = dv.getUint32(p + 12, true); // p_paddr, as QEMU loads it
    const fileSize = dv.getUint32(p + 16, true);
    const memSize = dv.getUint32(p + 20, true);
    if (fileOffset + fileSize > file.length)
      return { kind: 'NotMultiboot', detail: `segment ${i} past the end of the file` };
    if (memSize < fileSize) return { kind: 'NotMultiboot', detail: `segment ${i} p_memsz below p_filesz` };
    segments.push({ addr, fileOffset, fileSize, memSize });
  }
  if (segments.length === 0) return { kind: 'NotMultiboot', detail: 'no PT_LOAD segment' };
  return { headerOffset, flags, entry, format: 'elf32', segments };
}

export interface MultibootModule {
  readonly data: Uint8Array;
  readonly cmdline: string;
}

export interface MultibootLoadOptions {
  readonly kernel: Uint8Array;
  readonly cmdline: string;
  readonly modules?: readonly MultibootModule[];
  readonly ramBytes: number;
  readonly e820: readonly E820Entry[];
}

export interface MultibootLoadResult {
  readonly image: MultibootImage;
  readonly entry: Entry32 & { readonly eax: number; readonly ebx: number };
}

/** Loads a multiboot kernel and its modules and builds the information structure. */
export function loadMultiboot(
  mem: GuestWriter,
  opts: MultibootLoadOptions,
): MultibootLoadResult | MultibootError {
  const image = parseMultiboot(opts.kernel);
  if ('kind' in image) return image;
  let kernelEnd = 0;
  for (const s of image.segments) {
    if (s.addr < 0x100000 && s.addr + s.memSize > MB_LAYOUT.GDT) {
      // Low memory holds our structures; real kernels load at 1 MiB and up.
      return {
        kind: 'DoesNotFit',
        detail: `segment at 0x${s.addr.toString(16)} overlaps the boot structures below 1 MiB`,
      };
    }
    if (s.addr + s.memSize > opts.ramBytes)
      return { kind: 'DoesNotFit', detail: `segment at 0x${s.addr.toString(16)} past the end of RAM` };
    const bytes = new Uint8Array(s.memSize);
    bytes.set(opts.kernel.subarray(s.fileOffset, s.fileOffset + s.fileSize));
    if (!mem.writeBytes(s.addr, bytes)) return { kind: 'DoesNotFit', detail: 'segment outside RAM' };
    kernelEnd = Math.max(kernelEnd, s.addr + s.memSize);
  }

  const enc = new TextEncoder();
  const strings: Uint8Array[] = [];
  let strAddr: number = MB_LAYOUT.STRINGS;
  const putString = (s: string): number => {
    const b = enc.encode(`${s}\0`);
    const at = strAddr;
    strings.push(b);
    if (!mem.writeBytes(at, b)) return 0;
    strAddr += b.length;
    return at;
  };

  // Modules: page-aligned, after the kernel, as QEMU places them.
  const modules = opts.modules ?? [];
  const modTable = new Uint8Array(16 * modules.length);
  const modDv = new DataView(modTable.buffer);
  let modAddr = Math.ceil(kernelEnd / 4096) * 4096;
  for (const [i, m] of modules.entries()) {
    if (modAddr + m.data.length > opts.ramBytes)
      return { kind: 'DoesNotFit', detail: `module ${i} past the end of RAM` };
    if (!mem.writeBytes(modAddr, m.data)) return { kind: 'DoesNotFit', detail: `module ${i} outside RAM` };
    modDv.setUint32(i * 16, modAddr, true);
    modDv.setUint32(i * 16 + 4, modAddr + m.data.length, true);
    modDv.setUint32(i * 16 + 8, putString(m.cmdline), true);
    modAddr = Math.ceil((modAddr + m.data.length) / 4096) * 4096;
  }

  const mmap = new Uint8Array(24 * opts.e820.length);
  const mmDv = new DataView(mmap.buffer);
  for (const [i, e] of opts.e820.entries()) {
    const o = i * 24;
    mmDv.setUint32(o, 20, true); // size of the entry, not counting this field
    mmDv.setUint32(o + 4, e.addr >>> 0, true);
    mmDv.setUint32(o + 8, Math.floor(e.addr / 2 ** 32), true);
    mmDv.setUint32(o + 12, e.size >>> 0, true);
    mmDv.setUint32(o + 16, Math.floor(e.size / 2 ** 32), true);
    mmDv.setUint32(o + 20, e.type, true);
  }

  const info = new Uint8Array(88);
  const iv = new DataView(info.buffer);
  const flags =
    MULTIBOOT.INFO_MEMORY |
    MULTIBOOT.INFO_CMDLINE |
    MULTIBOOT.INFO_MODS |
    MULTIBOOT.INFO_MEM_MAP |
    MULTIBOOT.INFO_LOADER_NAME;
  iv.setUint32(0, flags, true);
  iv.setUint32(4, 640, true); // mem_lower in KiB
  iv.setUint32(8, Math.floor((Math.min(opts.ramBytes, 0xffffffff) - 0x100000) / 1024), true); // mem_upper
  const cmdlineZ = enc.encode(`${opts.cmdline}\0`);
  if (!mem.writeBytes(MB_LAYOUT.CMDLINE, cmdlineZ)) return { kind: 'DoesNotFit', detail: 'command line' };
  iv.setUint32(16, MB_LAYOUT.CMDLINE, true);
  iv.setUint32(20, modules.length, true);
  iv.setUint32(24, MB_LAYOUT.MODS, true);
  iv.setUint32(44, mmap.length, true);
  iv.setUint32(48, MB_LAYOUT.MMAP, true);
  iv.setUint32(64, putString('typevisor'), true);

  const gdt = new Uint8Array(BOOT_GDT.length * 8);
  const gdv = new DataView(gdt.buffer);
  for (const [i, [lo, hi]] of BOOT_GDT.entries()) {
    gdv.setUint32(i * 8, lo, true);
    gdv.setUint32(i * 8 + 4, hi, true);
  }
  if (
    !mem.writeBytes(MB_LAYOUT.INFO, info) ||
    !mem.writeBytes(MB_LAYOUT.MMAP, mmap) ||
    (modTable.length > 0 && !mem.writeBytes(MB_LAYOUT.MODS, modTable)) ||
    !mem.writeBytes(MB_LAYOUT.GDT, gdt)
  ) {
    return { kind: 'DoesNotFit', detail: 'boot structures outside RAM' };
  }
  return {
    image,
    entry: {
      eip: image.entry,
      esi: 0,
      eax: MULTIBOOT.BOOTLOADER_MAGIC,
      ebx: MB_LAYOUT.INFO,
      eflags: 0x2,
      cr0: 0x11,
      gdt: { base: MB_LAYOUT.GDT, limit: gdt.length - 1 },
      codeSelector: 0x10,
      dataSelector: 0x18,
    },
  };
}

/**
 * Wraps flat code assembled for `loadAddr` into a multiboot image with the a.out kludge: the
 * 32-byte header first, the code right after it, entry at the first code byte. This is how the
 * project's CPU test programs become kernels that QEMU's `-kernel` and Typevisor both boot.
 */
export function makeMultibootImage(code: Uint8Array, loadAddr = 0x100000, bssBytes = 0): Uint8Array {
  const out = new Uint8Array(32 + code.length);
  const dv = new DataView(out.buffer);
  const flags = MULTIBOOT.FLAG_PAGE_ALIGN | MULTIBOOT.FLAG_MEMORY_INFO | MULTIBOOT.FLAG_AOUT_KLUDGE;
  dv.setUint32(0, MULTIBOOT.HEADER_MAGIC, true);
  dv.setUint32(4, flags, true);
  dv.setUint32(8, (-(MULTIBOOT.HEADER_MAGIC + flags) >>> 0) >>> 0, true);
  dv.setUint32(12, loadAddr, true); // header_addr
  dv.setUint32(16, loadAddr, true); // load_addr
  dv.setUint32(20, loadAddr + out.length, true); // load_end_addr
  dv.setUint32(24, loadAddr + out.length + bssBytes, true); // bss_end_addr
  dv.setUint32(28, loadAddr + 32, true); // entry_addr
  out.set(code, 32);
  return out;
}
