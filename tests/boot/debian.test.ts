import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, startCliGuest } from './cli-guest.js';

// Debian 12's stock i386 kernel (linux-image-686) with a busybox-static initramfs: a kernel nobody on the
// project built, fetched with `apt-get download` by tools/images/fetch-debian.sh (not committed: about
// 10 MB). It runs with `pnpm test:debian` (vitest.debian.config.ts), not inside the README's test command,
// which must pass on a machine with only Node.js; `.ci/run` fetches the image and runs it after that.
// The command line adds the kernel's own `cryptomgr.notests`: the crypto self-tests are 3.1 of the 6.5
// billion instructions of this boot (../shared/guests/README.md) and would double its time at
// interpreter speed; the boot is otherwise the stock one (xz decompression, module loading with
// signature checks). `pnpm bench:boot` runs the whole boot, self-tests included, against v86 and QEMU.
// Asked for and missing, the image is a failure that says how to fetch it. The time is printed.
describe("Debian 12's stock i386 kernel through the full stack", () => {
  const images = join(root, 'tools/images/debian-i386');
  it('boots to GUEST-READY and GUEST-DONE and exits with the guest', { timeout: 3_600_000 }, async () => {
    if (!existsSync(join(images, 'vmlinuz'))) {
      throw new Error(`${images} is missing: \`bash tools/images/fetch-debian.sh i386\` fetches it`);
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
      'console=ttyS0 bench=boot cryptomgr.notests',
    ]);
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+-\d+-686/, 3_300_000);
      const ready = (performance.now() - t0) / 1000;
      expect(g.output()).toContain('tsc: Detected 1000.000 MHz processor');
      // The loader's SETUP_RNG_SEED reached the kernel, which trusts its boot loader (Debian's config).
      expect(g.output()).toMatch(/\[\s+0\.000000\] random: crng init done/);
      await g.waitFor(/GUEST-DONE/, 120_000);
      expect(await g.exited).toBe(0);
      console.log(`Debian 686 kernel: GUEST-READY after ${ready.toFixed(1)} s`);
    } finally {
      g.kill();
    }
  });
});
