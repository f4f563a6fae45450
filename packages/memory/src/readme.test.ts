import { expect, it } from 'vitest';
import { GuestMemory, type PioDevice, PioBus } from './index.js';

it('runs the README example', () => {
  const ram = GuestMemory.create(1 << 20);
  ram.write32(0x7c00, 0x12345678);
  expect(ram.read8(0x7c00)).toBe(0x78);
  expect(ram.read32(0x200000)).toBe(0xffffffff);

  let last = 0;
  const debugPort: PioDevice = {
    read: () => last,
    write: (_offset, _size, value) => {
      last = value;
    },
  };
  const pio = new PioBus();
  pio.insert(0x402, 1, debugPort, 'debugcon');
  pio.write(0x402, 1, 0x41);
  expect(pio.read(0x402, 1)).toBe(0x41);
  expect(pio.read(0x403, 1)).toBe(0xff);
});
