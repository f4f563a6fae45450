import { describe, expect, it } from 'vitest';
import { startDefaultCliGuest } from './cli-guest.js';

// `system_powerdown` through the whole stack, as with QEMU: the monitor presses the `pc` machine's ACPI
// fixed-feature power button (PM1_STS.PWRBTN_STS, SCI on IRQ 9); the default guest's kernel
// (CONFIG_ACPI_BUTTON, CONFIG_INPUT_EVDEV) turns it into KEY_POWER on /dev/input/event0, busybox acpid
// (started by /init) runs /etc/acpi/poweroff, and the S5 write to PM1a_CNT ends the VMM with status 0.
// The VMM itself never ends on system_powerdown. One boot per paging mode, one after the other.
describe.each([
  ['ept=on', false],
  ['ept=off', true],
])('system_powerdown on the default guest (%s)', (ept, pressBeforeBoot) => {
  it(`${pressBeforeBoot ? 'a press while paused by -S is dropped, the guest boots; then ' : ''}the power button powers the guest off, status 0`, {
    timeout: 1_200_000,
  }, async () => {
    const t0 = performance.now();
    // With -no-reboot (startDefaultCliGuest) a reset would end the VMM with 0 too: the S5 lines below tell.
    const g = startDefaultCliGuest(['-accel', `kvm,${ept}`, ...(pressBeforeBoot ? ['-S'] : [])]);
    try {
      if (pressBeforeBoot) {
        // Ctrl-A c: the monitor. Before the guest's ACPI button driver sets PWRBTN_EN the press is
        // dropped (QEMU's acpi_pm1_evt_power_down); the VMM must neither end nor lose the boot.
        g.type('\x01c');
        g.type('system_powerdown\r');
        await g.waitFor(/\(qemu\) system_powerdown\r\n\(qemu\) /, 60_000);
        g.type('cont\r');
        g.type('\x01c');
      }
      await g.waitFor(/GUEST-READY 6\.1\.\d+/, 1_000_000);
      const ready = (performance.now() - t0) / 1000;
      await g.waitFor(/\n[~/] # /, 120_000);
      // The kernel found the fixed-feature button (LNXPWRBN) and gave it an input device.
      expect(g.output()).toMatch(
        /input: Power Button as \/devices\/LNXSYSTM:00\/LNXPWRBN:00\/input\/input\d+/,
      );
      const r = await g.run('echo $((6*7)); ls /dev/input/; pidof acpid >/dev/null && echo ACPID-UP');
      expect(r.output).toContain('\r\n42\r\n');
      expect(r.output).toContain('event0');
      expect(r.output).toContain('ACPID-UP');
      const from = g.output().length;
      const t1 = performance.now();
      g.type('\x01c');
      g.type('system_powerdown\r');
      g.type('\x01c');
      const status = await Promise.race([
        g.exited,
        new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 120_000)),
      ]);
      const tail = g.output().slice(from);
      expect(status, `console tail:\n${tail.slice(-1500)}\nstderr:\n${g.errors().slice(-500)}`).toBe(0);
      expect(tail).toContain('acpid: power button pressed, powering off');
      expect(tail).toContain('ACPI: PM: Preparing to enter system sleep state S5');
      expect(tail).toContain('reboot: Power down');
      const off = (performance.now() - t1) / 1000;
      console.log(
        `system_powerdown (${ept}${pressBeforeBoot ? ', -S press first' : ''}): GUEST-READY after ${ready.toFixed(1)} s, powered off ${off.toFixed(1)} s after the press`,
      );
    } finally {
      g.kill();
    }
  });
});
