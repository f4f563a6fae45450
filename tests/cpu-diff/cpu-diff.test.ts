import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_MODEL, X86_64_MODEL } from '@typevisor/x86-cpu';
import { describe, expect, it } from 'vitest';
import { findQemu, runQemuKernel } from '../support/qemu.js';
import { isLongMode, isVector, PROGRAMS, qemuOracle } from './catalog.js';
import { runOnTypevisor } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
const golden = (name: string) => readFileSync(join(here, 'golden', `${name}.txt`), 'latin1');

/**
 * Programs on which Typevisor's CPU does not yet print QEMU's output, with the first difference.
 * Each is an expected failure (`it.fails`): when the CPU is fixed the test fails until the entry is
 * removed, so this list cannot go stale.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

/** The first line where two outputs differ, for a readable failure. */
function firstDifference(got: string, want: string): string {
  const a = got.split('\n');
  const b = want.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length
    ? 'none'
    : `line ${i + 1}: got ${JSON.stringify(a[i])}, want ${JSON.stringify(b[i])}`;
}

describe('CPU test programs', () => {
  for (const name of Object.keys(PROGRAMS)) {
    it(`${name}: the golden output is complete (every case printed, then DONE)`, () => {
      const text = golden(name);
      expect(text.endsWith('DONE\n')).toBe(true);
      expect(text).not.toContain('FATAL');
      expect(text.split('\n').length).toBeGreaterThan(5);
    });

    // The oracle: QEMU TCG still prints exactly the committed golden output, with the binary and
    // CPU model record.ts used (catalog.ts). Needs Debian's qemu-system-x86 (installed by .ci/run);
    // skipped where it is not installed.
    const oracle = qemuOracle(name);
    const qemu = findQemu(oracle.binary);
    it.skipIf(qemu === undefined)(
      `${name}: QEMU TCG (${oracle.binary} ${oracle.args.join(' ')}) prints the golden output`,
      () => {
        const r = runQemuKernel(qemu!, join(here, 'kernels', `${name}.mb`), 60_000, oracle.args);
        expect(r.serial).toBe(golden(name));
        expect(r.status).toBe(1); // isa-debug-exit with 0: (0 << 1) | 1
      },
    );

    const known = KNOWN_DIFFERENCES[name];
    const typevisorTest = known === undefined ? it : it.fails;
    typevisorTest(
      `${name}: Typevisor's CPU prints the same output as QEMU${known ? ` (known difference: ${known})` : ''}`,
      () => {
        const kernel = join(here, 'kernels', `${name}.mb`);
        const r = isVector(name)
          ? runOnTypevisor(kernel, undefined, MAX_MODEL)
          : isLongMode(name)
            ? runOnTypevisor(kernel, undefined, X86_64_MODEL)
            : runOnTypevisor(kernel);
        expect(firstDifference(r.serial, golden(name))).toBe('none');
        expect(r.status).toBe(1);
      },
    );
  }
});
