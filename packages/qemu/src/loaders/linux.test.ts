import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { E820, pcE820 } from './e820.js';
import {
  BOOT_PARAMS,
  LAYOUT,
  LOADER_TYPE_UNDEFINED,
  RNG_SEED_BYTES,
  SETUP,
  SETUP_RNG_SEED,
  XLF,
  describeLinuxLoadError,
  loadLinux,
  parseBzImage,
} from './linux.js';

/** A minimal bzImage: setup sectors with a 2.15 header, then `payload` as the protected-mode kernel. */
function fakeBzImage(
  payload: Uint8Array,
  opts: { version?: number; setupSects?: number; xloadflags?: number | undefined } = {},
): Uint8Array {
  const setupSects = opts.setupSects ?? 4;
  const sects = setupSects === 0 ? 4 : setupSects; // 0 means 4
  const img = new Uint8Array((sects + 1) * 512 + payload.length);
  const dv = new DataView(img.buffer);
  img[SETUP.SETUP_SECTS] = setupSects;
  dv.setUint16(SETUP.BOOT_FLAG, 0xaa55, true);
  img[SETUP.JUMP] = 0xeb;
  img[SETUP.JUMP + 1] = 0x66; // header ends at 0x268
  dv.setUint32(SETUP.HEADER, 0x53726448, true);
  dv.setUint16(SETUP.VERSION, opts.version ?? 0x20f, true);
  img[SETUP.LOADFLAGS] = 0x01;
  dv.setUint32(SETUP.CODE32_START, 0x100000, true);
  dv.setUint32(SETUP.INITRD_ADDR_MAX, 0x7fffffff, true);
  dv.setUint32(SETUP.CMDLINE_SIZE, 2047, true);
  dv.setUint32(SETUP.INIT_SIZE, 0x10000, true);
  dv.setUint16(SETUP.XLOADFLAGS, opts.xloadflags ?? 0, true);
  img.set(payload, (sects + 1) * 512);
  return img;
}

describe('Linux boot protocol loader', () => {
  it('reads the setup header of a bzImage', () => {
    const info = parseBzImage(fakeBzImage(new Uint8Array(1000)));
    expect(info).toMatchObject({
      protocol: 0x20f,
      kernelOffset: 2560,
      kernelSize: 1000,
      code32Start: 0x100000,
      headerEnd: 0x268,
    });
  });

  it('treats setup_sects = 0 as 4, as the protocol says', () => {
    const info = parseBzImage(fakeBzImage(new Uint8Array(10), { setupSects: 0 }));
    expect(info).toMatchObject({ kernelOffset: 2560 });
  });

  it('rejects files that are not bzImages, naming why', () => {
    const e = parseBzImage(new Uint8Array(4096));
    expect(e).toEqual({ kind: 'NotBzImage', detail: 'no 0xAA55 boot flag at 0x1fe' });
    expect(describeLinuxLoadError(e as never)).toBe('not a Linux bzImage: no 0xAA55 boot flag at 0x1fe');
    const old = parseBzImage(fakeBzImage(new Uint8Array(10), { version: 0x204 }));
    expect(describeLinuxLoadError(old as never)).toBe('boot protocol 2.04 is older than 2.06');
  });

  it('loads kernel, command line, initrd and e820 map and returns the 32-bit entry state', () => {
    const mem = GuestMemory.create(64 * 2 ** 20);
    const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const initrd = new Uint8Array(10000).fill(0x5a);
    const r = loadLinux(mem, {
      kernel: fakeBzImage(payload),
      initrd,
      cmdline: 'console=ttyS0',
      ramBytes: 64 * 2 ** 20,
      e820: pcE820(64 * 2 ** 20),
    });
    if ('kind' in r) throw new Error(r.kind);
    expect(r.entry).toMatchObject({
      eip: 0x100000,
      esi: LAYOUT.BOOT_PARAMS,
      codeSelector: 0x10,
      dataSelector: 0x18,
    });
    expect(mem.read8(LAYOUT.KERNEL + 1234)).toBe(1234 & 0xff);
    const zp = LAYOUT.BOOT_PARAMS;
    expect(mem.read8(zp + SETUP.TYPE_OF_LOADER)).toBe(LOADER_TYPE_UNDEFINED);
    expect(mem.read32(zp + SETUP.HEADER)).toBe(0x53726448);
    expect(mem.read32(zp + SETUP.CMD_LINE_PTR)).toBe(LAYOUT.CMDLINE);
    expect(String.fromCharCode(...Array.from({ length: 14 }, (_, i) => mem.read8(LAYOUT.CMDLINE + i)))).toBe(
      'console=ttyS0\0',
    );
    // initrd: page-aligned, as high as possible, wholly below the top of RAM
    expect(r.initrd!.addr % 4096).toBe(0);
    expect(r.initrd!.addr + initrd.length).toBeLessThanOrEqual(64 * 2 ** 20);
    expect(64 * 2 ** 20 - (r.initrd!.addr + initrd.length)).toBeLessThan(4096);
    expect(mem.read32(zp + SETUP.RAMDISK_IMAGE)).toBe(r.initrd!.addr);
    expect(mem.read32(zp + SETUP.RAMDISK_SIZE)).toBe(10000);
    expect(mem.read8(r.initrd!.addr)).toBe(0x5a);
    // e820
    expect(mem.read8(zp + BOOT_PARAMS.E820_ENTRIES)).toBe(5);
    const e3 = zp + BOOT_PARAMS.E820_TABLE + 3 * 20;
    expect([mem.read32(e3), mem.read32(e3 + 8), mem.read32(e3 + 16)]).toEqual([
      0x100000,
      63 * 2 ** 20,
      E820.RAM,
    ]);
    // GDT: flat code at 0x10, flat data at 0x18
    expect([mem.read32(LAYOUT.GDT + 0x10), mem.read32(LAYOUT.GDT + 0x14)]).toEqual([0x0000ffff, 0x00cf9b00]);
    expect([mem.read32(LAYOUT.GDT + 0x18), mem.read32(LAYOUT.GDT + 0x1c)]).toEqual([0x0000ffff, 0x00cf9300]);
  });

  it('refuses a command line longer than the kernel accepts', () => {
    const mem = GuestMemory.create(16 * 2 ** 20);
    const r = loadLinux(mem, {
      kernel: fakeBzImage(new Uint8Array(10)),
      cmdline: 'x'.repeat(3000),
      ramBytes: 16 * 2 ** 20,
      e820: [],
    });
    expect(r).toEqual({ kind: 'CmdlineTooLong', max: 2047 });
  });

  it('refuses an initrd that would overlap the kernel', () => {
    const ram = 4 * 2 ** 20;
    const mem = GuestMemory.create(ram);
    const r = loadLinux(mem, {
      kernel: fakeBzImage(new Uint8Array(10)),
      initrd: new Uint8Array(3 * 2 ** 20),
      cmdline: '',
      ramBytes: ram,
      e820: pcE820(ram),
    });
    expect(r).toMatchObject({ kind: 'DoesNotFit' });
  });

  const defaultKernel = join(
    dirname(fileURLToPath(import.meta.url)),
    '../../../../tools/images/default-i386/bzImage',
  );
  it('parses the default guest kernel', () => {
    const info = parseBzImage(new Uint8Array(readFileSync(defaultKernel)));
    if ('kind' in info) throw new Error(info.kind);
    expect(info.protocol).toBeGreaterThanOrEqual(0x20f);
    expect(info.code32Start).toBe(0x100000);
  });

  describe('RNG seed in setup_data (SETUP_RNG_SEED, as QEMU passes since 7.1)', () => {
    function load(version: number, rngSeed?: Uint8Array) {
      const mem = GuestMemory.create(64 * 2 ** 20);
      const r = loadLinux(mem, {
        kernel: fakeBzImage(new Uint8Array(100), { version }),
        cmdline: 'console=ttyS0',
        ramBytes: 64 * 2 ** 20,
        e820: pcE820(64 * 2 ** 20),
        rngSeed,
      });
      if ('kind' in r) throw new Error(r.kind);
      const ptr = mem.read32(LAYOUT.BOOT_PARAMS + SETUP.SETUP_DATA);
      const ptrHi = mem.read32(LAYOUT.BOOT_PARAMS + SETUP.SETUP_DATA + 4);
      const bytes = (a: number, n: number) => Array.from({ length: n }, (_, i) => mem.read8(a + i));
      return { ptr, ptrHi, bytes };
    }

    it('links one entry of type 9 with 32 random bytes from boot_params.hdr.setup_data', () => {
      const a = load(0x20f);
      expect(a.ptr).toBe(LAYOUT.SETUP_DATA);
      expect(a.ptrHi).toBe(0);
      const [next0, next1, type, len] = [0, 4, 8, 12].map((o) => a.bytes(a.ptr + o, 4));
      expect(next0).toEqual([0, 0, 0, 0]);
      expect(next1).toEqual([0, 0, 0, 0]);
      expect(type).toEqual([SETUP_RNG_SEED, 0, 0, 0]);
      expect(len).toEqual([RNG_SEED_BYTES, 0, 0, 0]);
      // Two boots get different seeds (2^-256 odds of a false failure).
      const b = load(0x20f);
      expect(a.bytes(a.ptr + 16, 32)).not.toEqual(b.bytes(b.ptr + 16, 32));
    });

    it('passes the bytes it is given, and none when given an empty seed', () => {
      const seed = Uint8Array.from({ length: 8 }, (_, i) => i + 1);
      const a = load(0x20f, seed);
      expect(a.bytes(a.ptr + 12, 4)).toEqual([8, 0, 0, 0]);
      expect(a.bytes(a.ptr + 16, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(load(0x20f, new Uint8Array(0)).ptr).toBe(0);
    });

    it('leaves kernels older than boot protocol 2.09 (no setup_data) without one', () => {
      expect(load(0x208).ptr).toBe(0);
      expect(load(0x209).ptr).toBe(LAYOUT.SETUP_DATA);
    });
  });

  describe('64-bit boot protocol (XLF_KERNEL_64, protocol 2.12+, a vCPU with long mode)', () => {
    const RAM = 64 * 2 ** 20;
    function load(o: { version?: number; xloadflags?: number; longMode?: boolean; entry64?: boolean }) {
      const mem = GuestMemory.create(RAM);
      const r = loadLinux(mem, {
        kernel: fakeBzImage(new Uint8Array(4096), { version: o.version ?? 0x20f, xloadflags: o.xloadflags }),
        cmdline: 'console=ttyS0',
        ramBytes: RAM,
        e820: pcE820(RAM),
        rngSeed: new Uint8Array(0),
        longMode: o.longMode,
        entry64: o.entry64,
      });
      if ('kind' in r) throw new Error(r.kind);
      return { mem, r };
    }
    const k64 = { xloadflags: XLF.KERNEL_64 | XLF.CAN_BE_LOADED_ABOVE_4G, longMode: true };

    it('enters at code32_start + 0x200 in IA-32e mode: PG, PAE, LME|LMA, CR3 at the page tables, RSI = boot_params, IF=0', () => {
      const { r } = load(k64);
      expect(r.entry).toEqual({
        eip: 0x100200,
        esi: LAYOUT.BOOT_PARAMS,
        eflags: 0x2,
        cr0: 0x8000_0011,
        gdt: { base: LAYOUT.GDT, limit: 31 },
        codeSelector: 0x10,
        dataSelector: 0x18,
        long: { cr3: LAYOUT.PAGE_TABLES, cr4: 0x20, efer: 0x500 },
      });
    });

    it('writes a GDT with a 64-bit __BOOT_CS (L=1, D=0) and a flat __BOOT_DS', () => {
      const { mem } = load(k64);
      expect([mem.read32(LAYOUT.GDT + 0x10), mem.read32(LAYOUT.GDT + 0x14)]).toEqual([
        0x0000ffff, 0x00af9b00,
      ]);
      expect([mem.read32(LAYOUT.GDT + 0x18), mem.read32(LAYOUT.GDT + 0x1c)]).toEqual([
        0x0000ffff, 0x00cf9300,
      ]);
    });

    it('identity-maps the first 4 GiB with 2 MiB pages, below the kernel and clear of the boot structures', () => {
      const { mem } = load(k64);
      const pt = LAYOUT.PAGE_TABLES;
      // Walk a few linear addresses the way the CPU does (4-level paging, PS in the PDE).
      const walk = (la: number): number => {
        const pml4e = mem.read32(pt + Math.floor(la / 2 ** 39) * 8);
        expect(pml4e & 1).toBe(1);
        const pdpt = pml4e & ~0xfff;
        const pdpte = mem.read32(pdpt + (Math.floor(la / 2 ** 30) % 512) * 8);
        expect(pdpte & 0x81).toBe(1); // present, not a 1 GiB page
        const pd = pdpte & ~0xfff;
        const o = pd + (Math.floor(la / 2 ** 21) % 512) * 8;
        const pde = mem.read32(o);
        expect(pde & 0x83).toBe(0x83); // present, writable, 2 MiB page
        return mem.read32(o + 4) * 2 ** 32 + ((pde & 0xffe0_0000) >>> 0) + (la % 2 ** 21);
      };
      for (const la of [0, 0x100200, LAYOUT.BOOT_PARAMS, 0x3fff_ffff, 0x4000_0000, 0xfee0_0000, 0xffff_ffff])
        expect(walk(la)).toBe(la);
      // The 4th GiB's PDPT entry exists, the 5th does not.
      expect(mem.read32(pt + 0x1000 + 3 * 8) & 1).toBe(1);
      expect(mem.read32(pt + 0x1000 + 4 * 8)).toBe(0);
      // Below the kernel, after boot_params, before the command line.
      expect(pt).toBeGreaterThanOrEqual(LAYOUT.BOOT_PARAMS + BOOT_PARAMS.SIZE);
      expect(pt + 6 * 4096).toBeLessThanOrEqual(LAYOUT.CMDLINE);
    });

    it('keeps the 32-bit entry without XLF_KERNEL_64, below protocol 2.12, without long mode, or when asked', () => {
      for (const o of [
        { longMode: true },
        { ...k64, version: 0x20b },
        { ...k64, longMode: false },
        { xloadflags: XLF.KERNEL_64 },
        { ...k64, entry64: false },
      ]) {
        const { r, mem } = load(o);
        expect(r.entry.eip).toBe(0x100000);
        expect(r.entry.cr0).toBe(0x11);
        expect(r.entry.long).toBeUndefined();
        expect(mem.read32(LAYOUT.GDT + 0x14)).toBe(0x00cf9b00);
        expect(mem.read32(LAYOUT.PAGE_TABLES)).toBe(0); // no page tables written
      }
      expect(load({ ...k64, version: 0x20c }).r.entry.long).toBeDefined();
      expect(load({ ...k64, entry64: true }).r.entry.long).toBeDefined();
    });
  });
});
