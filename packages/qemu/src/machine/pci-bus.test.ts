import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../options/parse.js';
import { PcMachine } from './pc.js';
import { PCI_IRQS, PCI_MMIO_BASE, pirqOf } from './pci-bus.js';
import type { VirtioIo } from './virtio-devices.js';

function machine(args: string[]) {
  // No VGA: it would be 00:02.0 (vga-pci.test.ts); these tests place virtio functions from slot 2.
  const cmd = parseCommandLine(['-m', '32', '-vga', 'none', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  const image = new Uint8Array(64 * 1024).fill(0x5a);
  const virtio: VirtioIo = {
    backends: {},
    readFile: () => image,
    consoleOut: { write() {} },
    fail() {},
  };
  return new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock: new ManualClock(), virtio },
    new KvmHost(),
  );
}

/** Configuration mechanism #1, as the guest uses it. */
function cfg(m: PcMachine, slot: number, reg: number, size: 1 | 2 | 4 = 4): number {
  m.pio.write(0xcf8, 4, (0x8000_0000 | (slot << 11) | (reg & 0xfc)) >>> 0);
  return m.pio.read(0xcfc + (reg & 3), size);
}

describe('pc machine PCI bus', () => {
  it('answers at 0xCF8/0xCFC with the i440FX, PIIX3 and virtio functions from slot 2', () => {
    const m = machine([
      '-drive',
      'file=x.img,if=virtio',
      '-device',
      'virtio-rng-pci',
      '-device',
      'virtio-rng-pci,addr=7',
    ]);
    expect(cfg(m, 0, 0)).toBe(0x1237_8086);
    expect(cfg(m, 1, 0)).toBe(0x7000_8086);
    expect(cfg(m, 2, 0)).toBe(0x1042_1af4); // virtio-blk (modern)
    expect(cfg(m, 3, 0)).toBe(0x1044_1af4); // virtio-rng
    expect(cfg(m, 7, 0)).toBe(0x1044_1af4); // addr=7
    expect(cfg(m, 4, 0)).toBe(0xffff_ffff);
  });

  it('leaves each function as firmware would: BARs placed and decoded, Interrupt Line = routed PIRQ', () => {
    const m = machine(['-device', 'virtio-rng-pci', '-device', 'virtio-rng-pci']);
    for (const slot of [2, 3]) {
      expect(cfg(m, slot, 0x3c, 1)).toBe(PCI_IRQS[pirqOf(slot, 1)]);
      expect(cfg(m, slot, 0x04, 2) & 2).toBe(2);
      expect(m.pci.isaBridge.routedIrq(pirqOf(slot, 1))).toBe(PCI_IRQS[pirqOf(slot, 1)]);
    }
    const bar4 = cfg(m, 2, 0x20) & ~0xf;
    expect(bar4 >>> 0).toBeGreaterThanOrEqual(PCI_MMIO_BASE);
    expect(m.mmio.lookup(bar4 >>> 0)?.name).toBe('virtio-rng-bar4');
    // The guest moves BAR 4: the window follows.
    m.pio.write(0xcf8, 4, (0x8000_0000 | (2 << 11) | 0x20) >>> 0);
    m.pio.write(0xcfc, 4, 0xe800_0000 | 0xc);
    expect(m.mmio.lookup(bar4 >>> 0)).toBeUndefined();
    expect(m.mmio.lookup(0xe800_0000)?.name).toBe('virtio-rng-bar4');
    // PCI interrupt lines are level-triggered in the ELCR.
    const elcr = m.pio.read(0x4d0, 1) | (m.pio.read(0x4d1, 1) << 8);
    for (const irq of PCI_IRQS) expect((elcr >> irq) & 1).toBe(1);
  });

  it('raises the routed ISA IRQ on the 8259 when a function asserts INTx', () => {
    const m = machine(['-device', 'virtio-rng-pci']);
    const fn = m.pci.functions[0]!.device;
    const irq = PCI_IRQS[pirqOf(2, 1)]!;
    // Unmask everything, then let the function raise INTx through its config space.
    m.pio.write(0x21, 1, 0);
    m.pio.write(0xa1, 1, 0);
    fn.config.setIntx(true);
    expect(m.irqCounts.counts[irq]).toBe(1);
    expect(m.pic!.hasInterrupt()).toBe(true);
    fn.config.setIntx(false);
  });

  it('reports a taken slot as a start error naming the option', () => {
    expect(() => machine(['-device', 'virtio-rng-pci,addr=2', '-device', 'virtio-rng-pci,addr=2'])).toThrow(
      '-device virtio-rng-pci,addr=2: PCI slot 2 is already in use',
    );
  });
});
