/**
 * Firmware boot on `pc` through the CLI: Debian's SeaBIOS (`/usr/share/seabios/bios-256k.bin`) boots
 * a hard-disk MBR and an El Torito CD built here, each a boot sector that prints a line on COM1 and
 * halts. SeaBIOS itself needs PAM shadowing, fw_cfg, PCI, the PIT and IDE/ATAPI from the machine.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBootIso } from '../../tools/images/iso9660.js';
import { bootSector, bootSectorWith } from '../support/boot-sector.js';
import { startCliGuest } from './cli-guest.js';

const BIOS = '/usr/share/seabios/bios-256k.bin';
const dir = mkdtempSync(join(tmpdir(), 'typevisor-firmware-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** True when SeaBIOS is installed; otherwise fails under CI and warns elsewhere. */
function haveSeabios(): boolean {
  if (existsSync(BIOS)) return true;
  const why = `cannot run: ${BIOS} is missing (apt-get install seabios)`;
  if (process.env.CI) throw new Error(why);
  console.warn(why);
  return false;
}

async function bootAndExpect(args: readonly string[], line: RegExp): Promise<void> {
  const g = startCliGuest(['-m', '32', '-nographic', '-no-reboot', ...args]);
  try {
    await g.waitFor(line, 240_000);
    expect(g.output()).toMatch(/SeaBIOS \(version /);
  } finally {
    g.kill();
    await g.exited;
  }
}

describe('firmware boot (SeaBIOS) on pc', () => {
  it('boots an MBR from -hda and the boot sector prints on COM1', { timeout: 300_000 }, async () => {
    if (!haveSeabios()) return;
    const disk = new Uint8Array(1024 * 1024);
    disk.set(bootSector('TYPEVISOR-MBR-BOOTED'));
    const file = join(dir, 'disk.img');
    writeFileSync(file, disk);
    await bootAndExpect(['-bios', BIOS, '-hda', file], /TYPEVISOR-MBR-BOOTED\r?\n/);
  });

  it('boots an El Torito no-emulation CD with -cdrom -boot d', { timeout: 300_000 }, async () => {
    if (!haveSeabios()) return;
    const file = join(dir, 'boot.iso');
    writeFileSync(file, makeBootIso({ bootImage: bootSector('TYPEVISOR-CD-BOOTED') }));
    // No -bios: the default firmware file is used, as QEMU does.
    await bootAndExpect(['-cdrom', file, '-boot', 'd'], /TYPEVISOR-CD-BOOTED\r?\n/);
  });

  it('runs the VGA BIOS with -vga std: INT 10h sets text mode 3 and writes to the screen', {
    timeout: 300_000,
  }, async () => {
    if (!haveSeabios()) return;
    // Mode 3 (which clears the screen), teletype output, then the mode INT 10h reports and the first
    // characters of text memory at B800:0000 are sent to COM1: without a VGA BIOS, SeaBIOS's INT 10h
    // does nothing and the screen stays empty.
    const sector = bootSectorWith(
      `
        mov ax, 0x0003
        int 0x10
        mov si, text
      tty:
        lodsb
        test al, al
        jz shown
        mov ah, 0x0e
        xor bx, bx
        int 0x10
        jmp tty
      shown:
        mov ah, 0x0f
        int 0x10
        add al, '0'
        mov [report + 5], al
        mov ax, 0xb800
        mov es, ax
        xor di, di
        mov bx, report + 7
      copy:
        mov al, es:[di]
        mov [bx], al
        add di, 2
        inc bx
        cmp di, 12
        jb copy`,
      `text: db 'VGA-OK', 0
      report: db 'MODE=? ______', 13, 10, 0`,
    );
    const file = join(dir, 'vga.iso');
    writeFileSync(file, makeBootIso({ bootImage: sector }));
    const g = startCliGuest(['-m', '32', '-display', 'none', '-no-reboot', '-cdrom', file, '-boot', 'd']);
    try {
      await g.waitFor(/MODE=\d [^\r\n]*\r?\n/, 240_000);
      expect(g.output()).toMatch(/MODE=3 VGA-OK\r?\n/);
    } finally {
      g.kill();
      await g.exited;
    }
  });

  it('rejects a missing -bios file and a BIOS image of a bad size with one line', async () => {
    const missing = startCliGuest(['-bios', join(dir, 'missing.bin'), '-nographic']);
    expect(await missing.exited).toBe(1);
    expect(missing.errors()).toMatch(/^typevisor: -bios .*missing\.bin: No such file or directory\n$/);
    const odd = join(dir, 'odd.bin');
    writeFileSync(odd, new Uint8Array(65536 + 512));
    const bad = startCliGuest(['-bios', odd, '-nographic']);
    expect(await bad.exited).toBe(1);
    expect(bad.errors()).toMatch(
      /^typevisor: -bios .*odd\.bin: the image is 66048 bytes, not a whole number of 64 KiB blocks\n$/,
    );
  });
});
