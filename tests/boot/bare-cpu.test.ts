import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bootBare } from './bare-cpu.js';

const images = join(dirname(fileURLToPath(import.meta.url)), '../../tools/images/default-i386');

// The real-kernel check of the CPU on its own: Linux 6.1 decompresses itself, sets up paging, probes
// the PIT/UART/RTC, unpacks the initramfs and runs busybox's init (about 0.7 G instructions).
describe('bare CPU boot (no VMX, no KVM)', () => {
  it('boots the default guest kernel and busybox init to GUEST-DONE', { timeout: 900_000 }, () => {
    const r = bootBare({
      kernel: new Uint8Array(readFileSync(join(images, 'bzImage'))),
      initrd: new Uint8Array(readFileSync(join(images, 'initrd.cpio.gz'))),
      cmdline: 'console=ttyS0 bench=boot',
      until: 'GUEST-DONE',
      maxInstructions: 3e9,
    });
    expect(r.serial).toContain('Linux version 6.1');
    expect(r.serial).toContain('serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A');
    expect(r.serial).toMatch(/GUEST-READY 6\.1\.\d+/);
    expect(r.end).toBe('until');
    console.log(
      `bare CPU boot: ${(r.instructions / 1e6).toFixed(0)}M instructions in ${r.seconds.toFixed(1)} s`,
    );
  });
});
