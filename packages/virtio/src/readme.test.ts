/**
 * Runs the example of README.md. The code between the markers below must equal the README's
 * example block (checked by the first test), so the documentation cannot drift from what runs.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
// README-EXAMPLE-START
import { GuestMemory, type MmioDevice, MmioBus } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import { BlkDevice, MemoryBlockBackend, MmioTransport, virtioMmioCmdline } from '@typevisor/virtio';
import { GuestAllocator, MmioDriver } from '@typevisor/virtio/testing';

// The VMM side: guest RAM, an MMIO bus, a 1 MiB disk on virtio-mmio at 0xd0000000 using GSI 5.
const BASE = 0xd000_0000;
const memory = GuestMemory.create(16 * 1024 * 1024);
const bus = new MmioBus();
const irq = new FakeIrqLine(); // stands in for the interrupt controller's GSI 5 input
const image = new Uint8Array(1024 * 1024).fill(0xab);
const disk = new BlkDevice(new MemoryBlockBackend(image), { serial: 'disk0' });
bus.insert(BASE, 0x1000, new MmioTransport(disk, memory, irq), 'virtio-blk');
const append = `console=hvc0 root=/dev/vda ${virtioMmioCmdline({ base: BASE, irq: 5 })}`;

// The guest side, doing what Linux's virtio_mmio and virtio_blk do, through the bus.
const window: MmioDevice = {
  read: (offset, size) => bus.read(BASE + offset, size),
  write: (offset, size, value) => bus.write(BASE + offset, size, value),
};
const driver = new MmioDriver(window, memory, new GuestAllocator(memory, 0x10_0000, 0x20_0000));
driver.init();
const readSector0 = new Uint8Array(16); // struct virtio_blk_outhdr { type: IN (0), sector: 0 }
driver.queue(0).add([{ read: readSector0 }, { write: 512 }, { write: 1 }]);
driver.kick(0);
const used = driver.queue(0).popUsed(); // 512 data bytes, then the status byte
// README-EXAMPLE-END

it('README example is the code this test runs', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /<!-- example -->\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  const source = readFileSync(new URL(import.meta.url), 'utf8');
  const snippet = /\/\/ README-EXAMPLE-START\n([\s\S]*?)\/\/ README-EXAMPLE-END/.exec(source)?.[1];
  expect(block).toBeDefined();
  expect(block).toBe(snippet);
});

it('README example reads sector 0 over virtio-mmio and interrupts', () => {
  expect(append).toBe('console=hvc0 root=/dev/vda virtio_mmio.device=4K@0xd0000000:5');
  expect(used?.len).toBe(513);
  expect(used?.data.subarray(0, 512).every((b) => b === 0xab)).toBe(true);
  expect(used?.data[512]).toBe(0);
  expect(irq.level).toBe(true);
});
