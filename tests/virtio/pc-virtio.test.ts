import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGuest } from './guest.js';

/** The e2fsprogs tools, or undefined when the host has none (the ext2 part is then skipped plainly). */
function tool(name: string): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    try {
      execFileSync(join(dir, name), ['-V'], { stdio: 'ignore' });
      return join(dir, name);
    } catch (e) {
      // `-V` exits 0 for mke2fs and debugfs; ENOENT means absent.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return join(dir, name);
    }
  }
  return undefined;
}

const dir = mkdtempSync(join(tmpdir(), 'typevisor-virtio-pc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A raw disk with known bytes in sectors 0 and 300.
const raw = join(dir, 'raw.img');
const rawBytes = new Uint8Array(1024 * 1024);
rawBytes.set(new TextEncoder().encode('TYPEVISOR-SECTOR-0'), 0);
rawBytes.set(new TextEncoder().encode('sector-300-pattern'), 300 * 512);
writeFileSync(raw, rawBytes);

const mke2fs = tool('mke2fs');
const debugfs = tool('debugfs');
const ext2 = join(dir, 'ext2.img');
if (mke2fs !== undefined) {
  writeFileSync(ext2, new Uint8Array(4 * 1024 * 1024));
  execFileSync(mke2fs, ['-q', '-F', '-t', 'ext2', '-b', '1024', ext2]);
} else {
  console.warn('mke2fs (e2fsprogs) is not installed: the ext2 part of the pc virtio test is skipped');
  writeFileSync(ext2, new Uint8Array(4 * 1024 * 1024));
}

describe('virtio-pci devices on the pc machine, driven by the Linux guest', () => {
  it('reads a raw virtio-blk disk, writes a file on ext2 that the host sees, reads /dev/hwrng', {
    timeout: 1_500_000,
  }, async () => {
    const g = startGuest(
      [
        '-drive',
        `file=${raw},if=virtio,format=raw,readonly=on`,
        '-drive',
        `file=${ext2},if=none,id=d1,format=raw`,
        '-device',
        'virtio-blk-pci,drive=d1,serial=tv-ext2',
        '-device',
        'virtio-rng-pci',
      ],
      'console=ttyS0',
    );
    await g.waitFor(/GUEST-READY/, 1_200_000);
    await g.waitFor(/[~/] # /, 120_000);

    // Three virtio-pci functions (1af4:1042, 1af4:1042, 1af4:1044) on bus 0, INTx on the 8259.
    const ids = await g.run('cat /sys/bus/pci/devices/*/device | sort | tr "\\n" " "');
    expect(ids).toContain('0x1042 0x1042 0x1044');
    expect(await g.run('cat /sys/block/vda/ro /sys/block/vda/size')).toMatch(/\r\n1\r\n2048\r\n/);

    // (a) a known pattern from the raw disk.
    expect(await g.run('dd if=/dev/vda bs=512 skip=300 count=1 2>/dev/null | head -c 18; echo')).toContain(
      'sector-300-pattern',
    );
    expect(await g.run('dd if=/dev/vda bs=512 count=1 2>/dev/null | od -A d -c | head -2')).toMatch(
      /T {3}Y {3}P {3}E {3}V {3}I {3}S {3}O {3}R/,
    );
    expect(await g.run('cat /sys/block/vdb/serial')).toContain('tv-ext2');

    // (c) bytes from the virtio entropy device.
    expect(await g.run('cat /sys/class/misc/hw_random/rng_current')).toContain('virtio_rng');
    const hex = await g.run(
      'dd if=/dev/hwrng bs=32 count=1 2>/dev/null | od -A n -t x1 | tr -d " \\n"; echo',
    );
    const bytes = /\r\n([0-9a-f]{64})\r\n/.exec(hex);
    expect(bytes).not.toBeNull();
    expect(bytes![1]).not.toBe('0'.repeat(64));

    // (b) ext2 on the second disk: write, sync, unmount.
    const write = await g.run(
      'mkdir -p /mnt && mount -t ext2 /dev/vdb /mnt && echo hello-from-the-guest > /mnt/file && sync && umount /mnt',
    );
    expect(write).not.toMatch(/mount:|can't|error/i);
    // Interrupts were delivered through the PIIX routing (XT-PIC lines named virtio).
    expect(await g.run('grep -c virtio /proc/interrupts')).toMatch(/\r\n[1-9]\r\n/);
    g.type('reboot -f\r'); // no ACPI: the reset ends the VM (-no-reboot)
    expect(await g.exited).toBe(0);

    if (debugfs !== undefined && mke2fs !== undefined) {
      const text = execFileSync(debugfs, ['-R', 'cat /file', ext2], { stdio: ['ignore', 'pipe', 'ignore'] });
      expect(text.toString()).toBe('hello-from-the-guest\n');
    } else {
      console.warn('debugfs (e2fsprogs) is not installed: the file written by the guest is not checked');
    }
  });
});
