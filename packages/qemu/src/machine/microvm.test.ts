import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { MMIO_MAGIC, MmioReg } from '@typevisor/virtio';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../options/parse.js';
import { MICROVM_MMIO_BASE, MICROVM_VIRTIO_IRQS, MicrovmMachine } from './microvm.js';
import type { VirtioIo } from './virtio-devices.js';

function machine(args: string[]) {
  const cmd = parseCommandLine(['-M', 'microvm', '-m', '32', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  const virtio: VirtioIo = {
    backends: {},
    readFile: () => new Uint8Array(8192),
    consoleOut: { write() {} },
    fail() {},
  };
  return new MicrovmMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock: new ManualClock(), virtio },
    new KvmHost(),
  );
}

describe('microvm machine', () => {
  it('has the reduced legacy set: 8259, PIT, RTC, COM1, no PCI and no keyboard controller', () => {
    const m = machine([]);
    const names = m.pio.list().map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining(['pic-master', 'pic-slave', 'elcr', 'pit', 'rtc', 'serial0']),
    );
    expect(names).not.toContain('pci-conf');
    expect(names).not.toContain('i8042-cmd');
    expect(m.pio.read(0xcfc, 4)).toBe(0xffff_ffff);
  });

  it('puts virtio-mmio windows at 0xfeb00000 and describes them on the kernel command line', () => {
    const m = machine([
      '-drive',
      'file=d.img,if=none,id=d0',
      '-device',
      'virtio-blk-device,drive=d0',
      '-device',
      'virtio-rng-device',
    ]);
    expect(m.kernelCmdline).toBe(
      `virtio_mmio.device=4K@0xfeb00000:${MICROVM_VIRTIO_IRQS[0]} virtio_mmio.device=4K@0xfeb01000:${MICROVM_VIRTIO_IRQS[1]}`,
    );
    expect(m.mmio.read(MICROVM_MMIO_BASE + MmioReg.MAGIC_VALUE, 4)).toBe(MMIO_MAGIC);
    expect(m.mmio.read(MICROVM_MMIO_BASE + MmioReg.DEVICE_ID, 4)).toBe(2); // block
    expect(m.mmio.read(MICROVM_MMIO_BASE + 0x1000 + MmioReg.DEVICE_ID, 4)).toBe(4); // entropy
    const elcr = m.pio.read(0x4d0, 1) | (m.pio.read(0x4d1, 1) << 8);
    expect((elcr >> MICROVM_VIRTIO_IRQS[0]) & 1).toBe(1);
  });
});
