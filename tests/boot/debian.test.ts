import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectBench64Answers } from './bench-answers.js';
import { exitWithin, monitorDump, root, startCliGuest } from './cli-guest.js';

// Debian 12's stock i386 kernel (linux-image-686) with a busybox-static initramfs: a kernel nobody on the
// project built, fetched with `apt-get download` by tools/images/fetch-debian.sh (not committed: about
// 10 MB). It runs with `pnpm test:debian` (vitest.debian.config.ts), not inside the README's test command,
// which must pass on a machine with only Node.js; `.ci/run` fetches the image and runs it after that.
// The command line adds the kernel's own `cryptomgr.notests`: the crypto self-tests are 3.1 of the 6.5
// billion instructions of this boot (../shared/guests/README.md) and would double its time at
// interpreter speed; the boot is otherwise the stock one (xz decompression, module loading with
// signature checks). `pnpm bench:boot` runs the whole boot, self-tests included, against v86 and QEMU.
// The time is printed.

/** Asked for and missing, the image is a failure that says how to fetch it. */
function requireImages(images: string, arch: 'i386' | 'amd64'): void {
  if (!existsSync(join(images, 'vmlinuz'))) {
    throw new Error(`${images} is missing: \`bash tools/images/fetch-debian.sh ${arch}\` fetches it`);
  }
}
/** A Debian kernel with 256 MiB and the `bench` workload (crypto self-tests off), after the options `first`. */
const debianArgs = (images: string, bench: string, ...first: string[]): string[] => [
  ...first,
  '-m',
  '256',
  '-nographic',
  '-no-reboot',
  '-kernel',
  join(images, 'vmlinuz'),
  '-initrd',
  join(images, 'initrd.cpio.gz'),
  '-append',
  `console=ttyS0 ${bench} cryptomgr.notests`,
];

describe("Debian 12's stock i386 kernel through the full stack", () => {
  const images = join(root, 'tools/images/debian-i386');
  it('boots to GUEST-READY and GUEST-DONE and exits with the guest', { timeout: 3_600_000 }, async () => {
    requireImages(images, 'i386');
    const t0 = performance.now();
    const g = startCliGuest(debianArgs(images, 'bench=boot'));
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+-\d+-686/, 3_300_000);
      const ready = (performance.now() - t0) / 1000;
      expect(g.output()).toContain('tsc: Detected 1000.000 MHz processor');
      // The facade's kvmclock: the kernel finds KVM, times with kvm-clock, and its clocksource
      // watchdog no longer marks the TSC unstable against the PIT's jiffies.
      expect(g.output()).toContain('kvm-clock: Using msrs 4b564d01 and 4b564d00');
      expect(g.output()).toContain('clocksource: Switched to clocksource kvm-clock');
      expect(g.output()).not.toContain('Marking TSC unstable');
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

// Debian 12's stock amd64 kernel (linux-image-amd64, `bash tools/images/fetch-debian.sh amd64`) with the
// same busybox-static initramfs recipe: the 64-bit entry of the Linux boot protocol, IA-32e mode under
// VMX, 4-level paging walked under EPT (ept=on) or shadowed by the facade (ept=off). The bench=1
// workload's answers are exact, then the guest powers off through ACPI. The two run side by side. Each
// has a monitor on a socket for the vCPU's state (`info registers`, `info pic`...) when the VMM outlives
// GUEST-DONE by 300 s, and the test fails with that state. (An ept=off boot that idled after GUEST-DONE
// was a PIT one-shot whose IRQ0 edge the VMM lost when its thread stalled inside the count's write:
// packages/devices/src/pit/one-shot.test.ts.)
/** The monitor commands that show where a guest that stopped making progress is. */
const VCPU_STATE = ['info status', 'info registers', 'info pic', 'info irq', 'info exits'];

describe.concurrent("Debian 12's stock amd64 kernel through the full stack", () => {
  const images = join(root, 'tools/images/debian-amd64');
  it.each(['ept=on', 'ept=off'])(
    '%s: boots to GUEST-READY, runs the bench=1 workload and exits with the guest',
    { timeout: 3_600_000 },
    async (ept) => {
      requireImages(images, 'amd64');
      const t0 = performance.now();
      const monitor = join(tmpdir(), `typevisor-debian-amd64-${ept}-${process.pid}.sock`);
      const g = startCliGuest(
        debianArgs(images, 'bench=1', '-accel', `kvm,${ept}`, '-monitor', `unix:${monitor},server,nowait`),
      );
      try {
        await g.waitFor(/GUEST-READY 6\.1\.\d+-\d+-amd64/, 3_300_000);
        const ready = (performance.now() - t0) / 1000;
        await g.waitFor(/GUEST-DONE/, 900_000);
        const done = (performance.now() - t0) / 1000;
        const status = await exitWithin(g, 300_000);
        const out = g.output();
        expect(out).toMatch(/Linux version 6\.1\.\d+-\d+-amd64/);
        expect(out).toContain('clocksource: Switched to clocksource kvm-clock');
        expect(out).not.toContain('Marking TSC unstable');
        expectBench64Answers(out);
        const state = status === 0 ? '' : await monitorDump(monitor, VCPU_STATE);
        expect(status, `console tail:\n${out.slice(-2000)}\nmonitor:\n${state}`).toBe(0);
        expect(out).toContain('reboot: Power down');
        console.log(
          `Debian amd64 kernel, ${ept}: GUEST-READY after ${ready.toFixed(1)} s, GUEST-DONE after ${done.toFixed(1)} s`,
        );
      } finally {
        g.kill();
      }
    },
  );
});
