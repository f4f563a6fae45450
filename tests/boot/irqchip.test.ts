import { describe, expect, it } from 'vitest';
import { startDefaultCliGuest } from './cli-guest.js';

// `-machine kernel_irqchip=on`: the 8259s, the LAPIC and the PIT are the KVM facade's
// (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2), the VMM raises COM1's and the RTC's lines with KVM_IRQ_LINE,
// and HLT waits in the facade. The guest runs in a child process (see cli-guest.ts).
describe('the default guest with the in-kernel irqchip (-machine kernel_irqchip=on)', () => {
  it('boots to a shell, answers echo $((6*7)) with 42, info irq counts COM1 in kvm-i8259, exits on reset', {
    timeout: 1_200_000,
  }, async () => {
    const t0 = performance.now();
    const g = startDefaultCliGuest(['-machine', 'pc,accel=kvm,kernel_irqchip=on']);
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+/, 1_000_000);
      const ready = (performance.now() - t0) / 1000;
      // The in-kernel PIT drives the clock events: Linux registers it and keeps the TSC from CPUID.
      expect(g.output()).toContain('tsc: Detected 1000.000 MHz processor');
      await g.waitFor(/\n[~/] # /, 120_000);
      const r = await g.run('echo $((6*7))');
      expect(r.output).toContain('\r\n42\r\n');
      expect(r.status).toBe(0);
      // Ctrl-A c: the monitor. COM1's interrupts went to the in-kernel 8259 through KVM_IRQ_LINE.
      const from = g.output().length;
      g.type('\x01c');
      g.type('info irq\r');
      const irq = await g.waitFor(/IRQ statistics for kvm-i8259:\r\n(?: ?\d+: \d+\r\n)+/, 60_000, from);
      expect(irq).toMatch(/\r\n 4: [1-9]\d*\r\n/);
      g.type('info pic\r');
      await g.waitFor(
        /pic0: irr=[0-9a-f]{2} imr=[0-9a-f]{2} isr=[0-9a-f]{2} hprio=\d irq_base=[0-9a-f]{2} /,
        60_000,
        from,
      );
      g.type('\x01c');
      g.type('reboot -f\r');
      expect(await g.exited).toBe(0);
      console.log(`full-stack boot (kernel_irqchip=on): GUEST-READY after ${ready.toFixed(1)} s`);
    } finally {
      g.kill();
    }
  });
});
