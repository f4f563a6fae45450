import type { E820Entry } from './e820.js';

/**
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry: the VMM loads the
 * protected-mode kernel at 1 MiB, fills a `boot_params` ("zero page") with the kernel's setup header,
 * the command line, the initrd and the e820 map, and starts the vCPU in flat 32-bit protected mode at
 * `code32_start` with ESI pointing at `boot_params`, as QEMU, Firecracker and kvmtool do.
 *
 * The 64-bit entry ("64-bit BOOT PROTOCOL"), for a kernel that has one (XLF_KERNEL_64, protocol 2.12+)
 * on a vCPU with long mode: the vCPU starts in 64-bit mode at `code32_start + 0x200` with identity-mapped
 * page tables for the first 4 GiB, a GDT with a 64-bit __BOOT_CS, and RSI pointing at `boot_params`, as
 * Firecracker and kvmtool do.
 */

/** Offsets in the bzImage / boot_params (boot.rst, "The real-mode kernel header"). */
export const SETUP = {
  SETUP_SECTS: 0x1f1,
  BOOT_FLAG: 0x1fe, // 0xaa55
  JUMP: 0x200, // its second byte + 0x202 ends the header
  HEADER: 0x202, // "HdrS"
  VERSION: 0x206,
  TYPE_OF_LOADER: 0x210,
  LOADFLAGS: 0x211,
  CODE32_START: 0x214,
  RAMDISK_IMAGE: 0x218,
  RAMDISK_SIZE: 0x21c,
  HEAP_END_PTR: 0x224,
  CMD_LINE_PTR: 0x228,
  INITRD_ADDR_MAX: 0x22c,
  KERNEL_ALIGNMENT: 0x230,
  RELOCATABLE_KERNEL: 0x234,
  XLOADFLAGS: 0x236,
  CMDLINE_SIZE: 0x238,
  /** u64 (protocol 2.09+): guest-physical address of the first `struct setup_data`, 0 for none. */
  SETUP_DATA: 0x250,
  PREF_ADDRESS: 0x258,
  INIT_SIZE: 0x260,
} as const;

/** Offsets of boot_params fields outside the setup header (arch/x86/include/uapi/asm/bootparam.h). */
export const BOOT_PARAMS = {
  /** u64, read by the kernel since Linux 5.0 (boot protocol 2.14 era): where the ACPI RSDP is. */
  ACPI_RSDP_ADDR: 0x070,
  EXT_RAMDISK_IMAGE: 0x0c0,
  EXT_RAMDISK_SIZE: 0x0c4,
  EXT_CMD_LINE_PTR: 0x0c8,
  E820_ENTRIES: 0x1e8,
  E820_TABLE: 0x2d0,
  E820_MAX: 128,
  SIZE: 4096,
} as const;

/** xloadflags bits (boot.rst, protocol 2.12+). */
export const XLF = {
  /** The kernel has the legacy 64-bit entry point at 0x200. */
  KERNEL_64: 0x01,
  CAN_BE_LOADED_ABOVE_4G: 0x02,
} as const;
/** The first boot protocol with xloadflags (and so the 64-bit entry's flag). */
export const PROTOCOL_XLOADFLAGS = 0x20c;
/** The 64-bit entry point's offset from the start of the protected-mode kernel. */
export const ENTRY64_OFFSET = 0x200;

export const LOADFLAG = {
  LOADED_HIGH: 0x01,
  KASLR: 0x02,
  QUIET: 0x20,
  KEEP_SEGMENTS: 0x40,
  CAN_USE_HEAP: 0x80,
} as const;
/** type_of_loader 0xff: "undefined" boot loader, as QEMU and Firecracker report. */
export const LOADER_TYPE_UNDEFINED = 0xff;

/** Where things go in guest-physical memory (Firecracker's layout). */
export const LAYOUT = {
  GDT: 0x500,
  BOOT_PARAMS: 0x7000,
  CMDLINE: 0x20000,
  /** The `setup_data` list (the RNG seed), past the longest command line a kernel takes. */
  SETUP_DATA: 0x30000,
  /**
   * The 64-bit entry's page tables, below the kernel and clear of the other boot structures: PML4,
   * PDPT, then four page directories of 2 MiB pages (24 KiB, to 0xF000).
   */
  PAGE_TABLES: 0x9000,
  KERNEL: 0x100000,
} as const;

/** Bytes of the 64-bit entry's page tables: PML4, PDPT and 4 PDs. */
export const PAGE_TABLES_SIZE = 6 * 4096;

/** The first boot protocol with `setup_data` (Linux 2.6.26). */
export const PROTOCOL_SETUP_DATA = 0x209;
/** `setup_data.type` of a random seed for the kernel's RNG (bootparam.h SETUP_RNG_SEED, Linux 5.20/6.0). */
export const SETUP_RNG_SEED = 9;
/** Bytes of seed QEMU passes (hw/i386/x86.c: 32). */
export const RNG_SEED_BYTES = 32;

export type LinuxLoadError =
  | { readonly kind: 'NotBzImage'; readonly detail: string }
  | { readonly kind: 'ProtocolTooOld'; readonly version: number }
  | { readonly kind: 'CmdlineTooLong'; readonly max: number }
  | { readonly kind: 'DoesNotFit'; readonly detail: string };

export interface BzImageInfo {
  readonly protocol: number;
  readonly setupBytes: number;
  readonly kernelOffset: number;
  readonly kernelSize: number;
  readonly code32Start: number;
  readonly initrdAddrMax: number;
  readonly cmdlineMax: number;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly initSize: number;
  /** The setup header's bytes, from 0x1f1 to its end. */
  readonly headerEnd: number;
}

/** Reads and checks a bzImage's setup header. */
export function parseBzImage(image: Uint8Array): BzImageInfo | LinuxLoadError {
  if (image.length < 0x300) return { kind: 'NotBzImage', detail: `only ${image.length} bytes` };
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (dv.getUint16(SETUP.BOOT_FLAG, true) !== 0xaa55)
    return { kind: 'NotBzImage', detail: 'no 0xAA55 boot flag at 0x1fe' };
  if (dv.getUint32(SETUP.HEADER, true) !== 0x53726448)
    return { kind: 'NotBzImage', detail: "no 'HdrS' signature at 0x202" };
  const protocol = dv.getUint16(SETUP.VERSION, true);
  if (protocol < 0x206) return { kind: 'ProtocolTooOld', version: protocol };
  const loadflags = image[SETUP.LOADFLAGS]!;
  if ((loadflags & LOADFLAG.LOADED_HIGH) === 0)
    return { kind: 'NotBzImage', detail: 'a zImage (not loaded high)' };
  let setupSects = image[SETUP.SETUP_SECTS]!;
  if (setupSects === 0) setupSects = 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) return { kind: 'NotBzImage', detail: 'setup larger than the file' };
  return {
    protocol,
    setupBytes: kernelOffset,
    kernelOffset,
    kernelSize: image.length - kernelOffset,
    code32Start: dv.getUint32(SETUP.CODE32_START, true),
    initrdAddrMax: dv.getUint32(SETUP.INITRD_ADDR_MAX, true),
    cmdlineMax: dv.getUint32(SETUP.CMDLINE_SIZE, true),
    loadflags,
    xloadflags: dv.getUint16(SETUP.XLOADFLAGS, true),
    initSize: dv.getUint32(SETUP.INIT_SIZE, true),
    headerEnd: 0x202 + image[SETUP.JUMP + 1]!,
  };
}

/** Anything guest memory can be written through (a GuestMemory, or a memslot's host bytes). */
export interface GuestWriter {
  writeBytes(gpa: number, bytes: Uint8Array): boolean;
}

/** IA-32e paging state of the 64-bit entry (KVM_SET_SREGS's cr3/cr4/efer; CR0 gets PG). */
export interface LongModeEntry {
  /** The PML4's guest-physical address. */
  readonly cr3: number;
  /** CR4.PAE. */
  readonly cr4: number;
  /** EFER.LME | EFER.LMA. */
  readonly efer: number;
}

/**
 * The vCPU state at the kernel's entry, as plain data for KVM_SET_REGS / KVM_SET_SREGS: the 32-bit
 * entry, or with `long` the 64-bit one (`eip` is then RIP, `esi` RSI, CS a 64-bit code segment).
 */
export interface Entry32 {
  readonly eip: number;
  readonly esi: number;
  readonly eflags: number;
  /** CR0 bits to set (PE, ET; PG too for the 64-bit entry). */
  readonly cr0: number;
  readonly gdt: { readonly base: number; readonly limit: number };
  /** Flat 4 GiB segments: CS = 0x10 (code, execute/read), DS/ES/FS/GS/SS = 0x18 (data, read/write). */
  readonly codeSelector: number;
  readonly dataSelector: number;
  /** Present for the 64-bit entry: paging and EFER (CS then has L=1, D=0). */
  readonly long?: LongModeEntry | undefined;
}

/** The entry state of either protocol (the name says what it is; `Entry32` stays for callers). */
export type LinuxEntry = Entry32;

export interface LinuxLoadResult {
  readonly info: BzImageInfo;
  readonly entry: Entry32;
  readonly initrd: { readonly addr: number; readonly size: number } | undefined;
}

export interface LinuxLoadOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array | undefined;
  readonly cmdline: string;
  readonly ramBytes: number;
  readonly e820: readonly E820Entry[];
  /**
   * ACPI tables to place (`bytes` at `addr`, in RAM the e820 map marks as ACPI) and the RSDP's address,
   * told to kernels of boot protocol 2.14 and later in boot_params.acpi_rsdp_addr; older kernels find
   * the RSDP by scanning 0xE0000-0xFFFFF, where the pc machine puts it.
   */
  readonly acpi?:
    | { readonly addr: number; readonly bytes: Uint8Array; readonly rsdpAddr: number }
    | undefined;
  /**
   * Random bytes for the kernel's RNG, passed as a SETUP_RNG_SEED `setup_data` entry to kernels of
   * boot protocol 2.09 and later, as QEMU does since 7.1: a kernel that trusts its boot loader
   * (CONFIG_RANDOM_TRUST_BOOTLOADER or `random.trust_bootloader=on`, as Debian's does) has its
   * random pool ready at time 0 instead of after enough interrupt entropy (Debian's 686 kernel here:
   * "crng init done" at 0.000000 instead of 88-113 s into the boot). Default: {@link RNG_SEED_BYTES} bytes from `crypto.getRandomValues`; an empty array: none.
   */
  readonly rngSeed?: Uint8Array | undefined;
  /**
   * Whether the vCPU's CPUID has long mode (CPUID.80000001H:EDX.LM): the 64-bit entry needs it.
   * Default false (32-bit entry).
   */
  readonly longMode?: boolean | undefined;
  /**
   * The 64-bit entry (true) or the 32-bit one (false). Default: the 64-bit entry when supported, i.e.
   * the kernel has XLF_KERNEL_64 (protocol 2.12+) and `longMode`. true where it is not supported falls
   * back to the 32-bit entry.
   */
  readonly entry64?: boolean | undefined;
}

/** The first boot protocol whose kernels read boot_params.acpi_rsdp_addr (Linux 5.0). */
export const PROTOCOL_ACPI_RSDP = 0x20e;

/** GDT for the 32-bit entry: null, null, flat code (0x10), flat data (0x18), as boot.rst requires. */
export const BOOT_GDT: readonly (readonly [number, number])[] = [
  [0, 0],
  [0, 0],
  [0x0000ffff, 0x00cf9b00],
  [0x0000ffff, 0x00cf9300],
];

/**
 * GDT for the 64-bit entry: null, null, __BOOT_CS (0x10) 64-bit code (L=1, D=0, execute/read),
 * __BOOT_DS (0x18) flat data, as boot.rst's 64-bit protocol requires.
 */
export const BOOT_GDT64: readonly (readonly [number, number])[] = [
  [0, 0],
  [0, 0],
  [0x0000ffff, 0x00af9b00],
  [0x0000ffff, 0x00cf9300],
];

/** Whether a kernel has the 64-bit entry: XLF_KERNEL_64 in xloadflags, which protocol 2.12 added. */
export function hasEntry64(info: BzImageInfo): boolean {
  return info.protocol >= PROTOCOL_XLOADFLAGS && (info.xloadflags & XLF.KERNEL_64) !== 0;
}

/**
 * Identity-mapping page tables for the first 4 GiB at `base` (4-level paging, 2 MiB pages): the PML4,
 * one PDPT with four entries, four page directories of 512 large pages each. Supervisor, writable.
 */
export function identityPageTables(base: number): Uint8Array {
  const t = new Uint8Array(PAGE_TABLES_SIZE);
  const dv = new DataView(t.buffer);
  const P_RW = 0x3;
  const PS = 0x80;
  dv.setUint32(0, (base + 0x1000) | P_RW, true);
  for (let i = 0; i < 4; i++) dv.setUint32(0x1000 + i * 8, (base + 0x2000 + i * 0x1000) | P_RW, true);
  for (let i = 0; i < 4 * 512; i++) {
    const addr = i * 0x20_0000; // 2 MiB pages: 4 GiB
    dv.setUint32(0x2000 + i * 8, (addr | PS | P_RW) >>> 0, true);
    dv.setUint32(0x2000 + i * 8 + 4, Math.floor(addr / 2 ** 32), true);
  }
  return t;
}

const CR0_PE_ET = 0x11;
const CR0_PG = 0x8000_0000;
const CR4_PAE = 0x20;
const EFER_LME_LMA = 0x500;

/** Loads a bzImage, its initrd and command line into guest memory and returns the entry state. */
export function loadLinux(mem: GuestWriter, opts: LinuxLoadOptions): LinuxLoadResult | LinuxLoadError {
  const info = parseBzImage(opts.kernel);
  if ('kind' in info) return info;
  const cmdline = new TextEncoder().encode(opts.cmdline);
  // The setup_data list follows the command line's area.
  const cmdlineMax = Math.min(
    info.protocol >= 0x206 ? info.cmdlineMax : 255,
    LAYOUT.SETUP_DATA - LAYOUT.CMDLINE - 1,
  );
  if (cmdline.length > cmdlineMax) return { kind: 'CmdlineTooLong', max: cmdlineMax };
  if (LAYOUT.KERNEL + Math.max(info.kernelSize, info.initSize) > opts.ramBytes)
    return {
      kind: 'DoesNotFit',
      detail: `kernel needs ${Math.max(info.kernelSize, info.initSize)} bytes above 1 MiB`,
    };

  const zero = new Uint8Array(BOOT_PARAMS.SIZE);
  const dv = new DataView(zero.buffer);
  zero.set(opts.kernel.subarray(SETUP.SETUP_SECTS, info.headerEnd), SETUP.SETUP_SECTS);
  zero[SETUP.TYPE_OF_LOADER] = LOADER_TYPE_UNDEFINED;
  // Not quiet (we want the boot log); the kernel reloads segments itself (no KEEP_SEGMENTS).
  zero[SETUP.LOADFLAGS] =
    (info.loadflags & ~(LOADFLAG.QUIET | LOADFLAG.KEEP_SEGMENTS)) | LOADFLAG.CAN_USE_HEAP;
  dv.setUint16(SETUP.HEAP_END_PTR, 0xfe00, true);
  dv.setUint32(SETUP.CMD_LINE_PTR, LAYOUT.CMDLINE, true);

  let initrd: LinuxLoadResult['initrd'];
  if (opts.initrd !== undefined && opts.initrd.length > 0) {
    // Highest page-aligned place below the kernel's limit and the top of RAM, as QEMU does.
    const top = Math.min(info.initrdAddrMax + 1, opts.ramBytes);
    const addr = Math.floor((top - opts.initrd.length) / 4096) * 4096;
    const kernelEnd = LAYOUT.KERNEL + Math.max(info.kernelSize, info.initSize);
    if (addr < kernelEnd)
      return { kind: 'DoesNotFit', detail: `initrd of ${opts.initrd.length} bytes overlaps the kernel` };
    if (!mem.writeBytes(addr, opts.initrd)) return { kind: 'DoesNotFit', detail: 'initrd outside RAM' };
    dv.setUint32(SETUP.RAMDISK_IMAGE, addr, true);
    dv.setUint32(SETUP.RAMDISK_SIZE, opts.initrd.length, true);
    initrd = { addr, size: opts.initrd.length };
  }

  const entries = opts.e820.slice(0, BOOT_PARAMS.E820_MAX);
  zero[BOOT_PARAMS.E820_ENTRIES] = entries.length;
  entries.forEach((e, i) => {
    const o = BOOT_PARAMS.E820_TABLE + i * 20;
    dv.setUint32(o, e.addr >>> 0, true);
    dv.setUint32(o + 4, Math.floor(e.addr / 2 ** 32), true);
    dv.setUint32(o + 8, e.size >>> 0, true);
    dv.setUint32(o + 12, Math.floor(e.size / 2 ** 32), true);
    dv.setUint32(o + 16, e.type, true);
  });

  if (opts.acpi !== undefined) {
    if (!mem.writeBytes(opts.acpi.addr, opts.acpi.bytes))
      return { kind: 'DoesNotFit', detail: 'ACPI tables outside RAM' };
    if (info.protocol >= PROTOCOL_ACPI_RSDP) {
      dv.setUint32(BOOT_PARAMS.ACPI_RSDP_ADDR, opts.acpi.rsdpAddr >>> 0, true);
      dv.setUint32(BOOT_PARAMS.ACPI_RSDP_ADDR + 4, Math.floor(opts.acpi.rsdpAddr / 2 ** 32), true);
    }
  }

  let setupData: Uint8Array | null = null;
  const seed = opts.rngSeed ?? crypto.getRandomValues(new Uint8Array(RNG_SEED_BYTES));
  if (info.protocol >= PROTOCOL_SETUP_DATA && seed.length > 0) {
    // struct setup_data { u64 next; u32 type; u32 len; u8 data[]; }, the only entry of the list.
    setupData = new Uint8Array(16 + seed.length);
    const sv = new DataView(setupData.buffer);
    sv.setUint32(8, SETUP_RNG_SEED, true);
    sv.setUint32(12, seed.length, true);
    setupData.set(seed, 16);
    dv.setUint32(SETUP.SETUP_DATA, LAYOUT.SETUP_DATA, true);
  }

  const long = opts.entry64 !== false && opts.longMode === true && hasEntry64(info);
  const gdtTable = long ? BOOT_GDT64 : BOOT_GDT;
  const gdt = new Uint8Array(gdtTable.length * 8);
  const gdv = new DataView(gdt.buffer);
  gdtTable.forEach(([lo, hi], i) => {
    gdv.setUint32(i * 8, lo, true);
    gdv.setUint32(i * 8 + 4, hi, true);
  });
  const cmdlineZ = new Uint8Array(cmdline.length + 1);
  cmdlineZ.set(cmdline);
  const ok =
    mem.writeBytes(LAYOUT.GDT, gdt) &&
    mem.writeBytes(LAYOUT.BOOT_PARAMS, zero) &&
    mem.writeBytes(LAYOUT.CMDLINE, cmdlineZ) &&
    (setupData === null || mem.writeBytes(LAYOUT.SETUP_DATA, setupData)) &&
    mem.writeBytes(LAYOUT.KERNEL, opts.kernel.subarray(info.kernelOffset)) &&
    (!long || mem.writeBytes(LAYOUT.PAGE_TABLES, identityPageTables(LAYOUT.PAGE_TABLES)));
  if (!ok) return { kind: 'DoesNotFit', detail: 'boot structures outside RAM' };

  return {
    info,
    initrd,
    entry: {
      // 64-bit: startup_64, 0x200 past the 32-bit entry (the kernel is loaded at code32_start).
      eip: long ? info.code32Start + ENTRY64_OFFSET : info.code32Start,
      esi: LAYOUT.BOOT_PARAMS,
      eflags: 0x2, // interrupts off
      cr0: long ? (CR0_PE_ET | CR0_PG) >>> 0 : CR0_PE_ET,
      gdt: { base: LAYOUT.GDT, limit: gdt.length - 1 },
      codeSelector: 0x10,
      dataSelector: 0x18,
      long: long ? { cr3: LAYOUT.PAGE_TABLES, cr4: CR4_PAE, efer: EFER_LME_LMA } : undefined,
    },
  };
}

/** A one-line message for a load error, for the CLI. */
export function describeLinuxLoadError(e: LinuxLoadError): string {
  switch (e.kind) {
    case 'NotBzImage':
      return `not a Linux bzImage: ${e.detail}`;
    case 'ProtocolTooOld':
      return `boot protocol ${(e.version >> 8).toString(16)}.${(e.version & 0xff).toString(16).padStart(2, '0')} is older than 2.06`;
    case 'CmdlineTooLong':
      return `kernel command line longer than the kernel's limit of ${e.max} bytes`;
    case 'DoesNotFit':
      return `does not fit in guest RAM: ${e.detail}`;
  }
}
