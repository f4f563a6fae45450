import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { Monitor } from '../monitor/hmp.js';
import { parseCommandLine } from '../options/parse.js';
import { pcMonitorTarget } from './monitor-target.js';
import { PC_IRQ, PcMachine } from './pc.js';
import { VcpuLoop } from './vcpu-loop.js';

function setup() {
  const cmd = parseCommandLine(['-m', '16', '-S']);
  if (cmd.action !== 'run') throw new Error('not a run');
  const clock = new ManualClock();
  const m = new PcMachine(cmd.config, { serialOut: new CollectingSink(), clock }, new KvmHost());
  const loop = new VcpuLoop(() => m.runOnce(), { noReboot: false, noShutdown: false, reset: () => {} });
  const mon = new Monitor(
    pcMonitorTarget(m, loop, { version: '0.1.0', threadId: 7, quit: () => {}, powerdown: () => {} }),
  );
  return { m, mon, clock };
}

describe('info commands on the pc machine', () => {
  it('info mtree lists guest RAM and every region the machine put on its buses', () => {
    const { m, mon } = setup();
    const text = mon.execute('info mtree');
    expect(text).toContain(
      '    0000000000000000-0000000000ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000000ffffff',
    );
    for (const r of m.pio.list()) {
      const first = r.base.toString(16).padStart(16, '0');
      const last = (r.base + r.length - 1).toString(16).padStart(16, '0');
      expect(text).toContain(`    ${first}-${last} (prio 0, i/o): ${r.name}\n`);
    }
    expect(text).toContain('00000000000003f8-00000000000003ff (prio 0, i/o): serial0');
  });

  it('info irq counts each raising of an ISA IRQ line; info pic shows the request', () => {
    const { m, mon, clock } = setup();
    expect(mon.execute('info irq')).toBe('IRQ statistics for isa-i8259:');
    // The PIT's counter 0 (mode 3, count 65536 at reset) raises IRQ0 every 54.9 ms.
    for (let ms = 0; ms < 550; ms += 5) {
      clock.advanceNs(5e6);
      m.pit!.poll();
    }
    expect(mon.execute('info irq').split('\n')[1]).toBe(' 0: 10');
    m.isaIrq(PC_IRQ.COM1).set(true);
    m.isaIrq(PC_IRQ.COM1).set(true); // still high: not a new interrupt
    expect(mon.execute('info irq').split('\n')[2]).toBe(' 4: 1');
    expect(mon.execute('info pic').split('\n')[1]).toMatch(/^pic0: irr=1[01] imr=00 isr=00 /);
  });

  it('info exits starts at zero and info pci shows whatever PCI host the machine has', () => {
    const { mon } = setup();
    expect(mon.execute('info exits')).toBe(
      [
        'exits handled by the VMM: 0',
        'KVM_RUN calls: 0, guest instructions: 0',
        'VM exits: 0 (in the kernel: 0, to userspace: 0)',
      ].join('\n'),
    );
    const pci = mon.execute('info pci');
    expect(pci === '' || pci.startsWith('  Bus  0, device   0, function 0:')).toBe(true);
    expect(mon.execute('info')).toContain('info mtree  -- show memory tree');
  });
});
