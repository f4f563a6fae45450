import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GuestMemory } from '@typevisor/memory';
import { expect, it } from 'vitest';
import { loadLinux, parseCommandLine, pcE820 } from './index.js';

const bzImage = join(dirname(fileURLToPath(import.meta.url)), '../../../tools/images/default-i386/bzImage');

it('runs the README example on the default guest kernel', () => {
  const cmd = parseCommandLine(['-m', '64', '-kernel', 'bzImage', '-append', 'console=ttyS0']);
  if (cmd.action !== 'run') throw new Error('not a run');
  const { memoryBytes, append } = cmd.config;
  const ram = GuestMemory.create(memoryBytes);
  const loaded = loadLinux(ram, {
    kernel: new Uint8Array(readFileSync(bzImage)),
    cmdline: append,
    ramBytes: memoryBytes,
    e820: pcE820(memoryBytes),
  });
  if ('kind' in loaded) throw new Error(loaded.kind);
  expect(loaded.entry).toMatchObject({ eip: 0x100000, esi: 0x7000, codeSelector: 0x10, dataSelector: 0x18 });
  expect(loaded.info.protocol).toBeGreaterThanOrEqual(0x20f);
  // The kernel's own setup header lands in boot_params, signature and all.
  expect(ram.read32(0x7000 + 0x202)).toBe(0x53726448);
});
