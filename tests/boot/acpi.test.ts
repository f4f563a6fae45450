import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultImages, startCliGuest } from './cli-guest.js';

// ACPI power-off through the whole stack: the `pc` machine gives a `-kernel` boot QEMU-style tables
// (packages/qemu/src/acpi: RSDP at 0xE0000, FADT over the PIIX4 PM block at 0x600, DSDT with \_S5),
// the default guest's kernel has CONFIG_ACPI, and busybox's `poweroff` writes SLP_TYP=S5 | SLP_EN to
// PM1a_CNT. The VMM ends with status 0, as QEMU does on a guest power-off. No -no-reboot here: a
// reset instead of a power-off would reboot the guest and the test would time out.
describe('ACPI power-off of the default guest', () => {
  it('finds the tables, and `poweroff` at the shell ends the VM with status 0', {
    timeout: 1_200_000,
  }, async () => {
    const t0 = performance.now();
    const g = startCliGuest([
      '-m',
      '128',
      '-nographic',
      '-kernel',
      join(defaultImages, 'bzImage'),
      '-initrd',
      join(defaultImages, 'initrd.cpio.gz'),
      '-append',
      'console=ttyS0',
    ]);
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+/, 1_000_000);
      const ready = (performance.now() - t0) / 1000;
      // Linux's table scan: the RSDP at 0xE0000 (boot_params.acpi_rsdp_addr), its FADT and DSDT.
      expect(g.output()).toMatch(/ACPI: RSDP 0x00000000000E0000 000024 \(v02 TVISOR\)/);
      expect(g.output()).toMatch(/ACPI: FACP 0x[0-9A-F]+ 0000F4 \(v03 TVISOR TVPCFACP/);
      expect(g.output()).toMatch(/ACPI: DSDT 0x[0-9A-F]+ /);
      // PCI still found, now through \_SB.PCI0 (PNP0A03) and its _CRS.
      expect(g.output()).toContain('ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00-ff])');
      await g.waitFor(/\n[~/] # /, 120_000);
      // `poweroff` is the login profile's `poweroff -f` (tools/images/build.sh): /init is not an init daemon.
      g.type('poweroff\r');
      const status = await Promise.race([
        g.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 120_000)),
      ]);
      expect(status, `console tail:\n${g.output().slice(-1500)}`).toBe(0);
      expect(g.output()).toContain('ACPI: PM: Preparing to enter system sleep state S5');
      expect(g.output()).toContain('reboot: Power down');
      console.log(`ACPI boot: GUEST-READY after ${ready.toFixed(1)} s, then power-off`);
    } finally {
      g.kill();
    }
  });
});
