import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findQemu, runQemuKernel } from '../support/qemu.js';
import { PROGRAMS } from './catalog.js';

const here = dirname(fileURLToPath(import.meta.url));
const qemu = findQemu('qemu-system-i386');
const golden = (name: string) => readFileSync(join(here, 'golden', `${name}.txt`), 'latin1');

describe('CPU test programs', () => {
  for (const name of Object.keys(PROGRAMS)) {
    it(`${name}: the golden output is complete (every case printed, then DONE)`, () => {
      const text = golden(name);
      expect(text.endsWith('DONE\n')).toBe(true);
      expect(text).not.toContain('FATAL');
      expect(text.split('\n').length).toBeGreaterThan(5);
    });

    // The oracle: QEMU TCG still prints exactly the committed golden output. Needs Debian's
    // qemu-system-x86 (installed by .ci/run); skipped where it is not installed.
    it.skipIf(qemu === undefined)(`${name}: QEMU TCG (-cpu pentium3) prints the golden output`, () => {
      const r = runQemuKernel(qemu!, join(here, 'kernels', `${name}.mb`), 60_000, ['-cpu', 'pentium3']);
      expect(r.serial).toBe(golden(name));
      expect(r.status).toBe(1); // isa-debug-exit with 0: (0 << 1) | 1
    });
  }
});
