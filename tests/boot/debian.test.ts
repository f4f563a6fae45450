import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, startCliGuest } from './cli-guest.js';

// In a file of its own so that it starts first, on a worker of its own (vitest.sequencer.ts): it is
// the longest test of the suite by far (12 min on a quiet 2-core machine, about twice that on a loaded
// CI machine: the kernel decompresses 25 MB with xz, runs its crypto self-tests and checks every
// ftrace record against kallsyms, all at interpreter speed), and the rest of the suite fits beside it
// on the other core. The limits leave room for a slow machine; the time is printed.
// A kernel nobody on the project built: Debian 12's stock i386 kernel (linux-image-686) with a
// busybox-static initramfs, fetched with `apt-get download` by tools/images/fetch-debian.sh (not
// committed: about 10 MB). .ci/run fetches it and sets TYPEVISOR_DEBIAN_I386=1, which makes a missing
// image a failure; elsewhere the test says plainly that it cannot run.
describe("Debian 12's stock i386 kernel through the full stack", () => {
  const images = join(root, 'tools/images/debian-i386');
  it('boots to GUEST-READY and GUEST-DONE and exits with the guest', { timeout: 3_600_000 }, async () => {
    if (!existsSync(join(images, 'vmlinuz'))) {
      const why = `cannot run: ${images} is missing (bash tools/images/fetch-debian.sh i386 fetches it)`;
      if (process.env.TYPEVISOR_DEBIAN_I386 === '1') throw new Error(why);
      console.warn(why);
      return;
    }
    const t0 = performance.now();
    const g = startCliGuest([
      '-m',
      '256',
      '-nographic',
      '-no-reboot',
      '-kernel',
      join(images, 'vmlinuz'),
      '-initrd',
      join(images, 'initrd.cpio.gz'),
      '-append',
      'console=ttyS0 bench=boot',
    ]);
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+-\d+-686/, 3_300_000);
      const ready = (performance.now() - t0) / 1000;
      expect(g.output()).toContain('tsc: Detected 1000.000 MHz processor');
      await g.waitFor(/GUEST-DONE/, 120_000);
      expect(await g.exited).toBe(0);
      console.log(`Debian 686 kernel: GUEST-READY after ${ready.toFixed(1)} s`);
    } finally {
      g.kill();
    }
  });
});
