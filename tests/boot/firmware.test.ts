/**
 * Firmware boot on `pc` through the CLI: Debian's SeaBIOS (`/usr/share/seabios/bios-256k.bin`) boots
 * a hard-disk MBR and an El Torito CD built here, each a boot sector that prints a line on COM1 and
 * halts. SeaBIOS itself needs PAM shadowing, fw_cfg, PCI, the PIT and IDE/ATAPI from the machine.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble } from '@typevisor/x86-decoder';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBootIso } from '../../tools/images/iso9660.js';
import { startCliGuest } from './cli-guest.js';

const BIOS = '/usr/share/seabios/bios-256k.bin';
const dir = mkdtempSync(join(tmpdir(), 'typevisor-firmware-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real-mode boot sector at 0000:7C00 that writes `message` to COM1 (polling LSR.THRE), then `cli; hlt`. */
function bootSector(message: string): Uint8Array {
  const code = assemble(
    `
      cli
      xor ax, ax
      mov ds, ax
      mov si, msg
    next:
      mov dx, 0x3fd
    poll:
      in al, dx
      test al, 0x20
      jz poll
      lodsb
      test al, al
      jz done
      mov dx, 0x3f8
      out dx, al
      jmp next
    done:
      cli
      hlt
      jmp done
    msg: db '${message}', 13, 10, 0
    `,
    { bitness: 16, origin: 0x7c00 },
  );
  const sector = new Uint8Array(512);
  sector.set(code);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

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
