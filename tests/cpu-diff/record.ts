/**
 * Re-records golden/<name>.txt: each kernel's serial output under QEMU TCG (the oracle).
 *   node --conditions=source --import tsx/esm tests/cpu-diff/record.ts [name...]
 * Needs Debian's qemu-system-x86. The QEMU binary and CPU model of each program come from
 * catalog.ts (`qemuOracle`): qemu-system-i386 -cpu pentium3 for the 32-bit programs (a P6-class CPU,
 * the class Typevisor's default 32-bit model claims), qemu-system-x86_64 with a qemu64-based model
 * for the long-* programs. With names, only those programs are recorded.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findQemu, runQemuKernel } from '../support/qemu.js';
import { PROGRAMS, qemuOracle } from './catalog.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
for (const name of Object.keys(PROGRAMS).filter((n) => only.length === 0 || only.includes(n))) {
  const oracle = qemuOracle(name);
  const qemu = findQemu(oracle.binary);
  if (qemu === undefined) {
    console.error(`record.ts: ${oracle.binary} is not installed (apt-get install qemu-system-x86)`);
    process.exit(1);
  }
  const r = runQemuKernel(qemu, join(here, 'kernels', `${name}.mb`), 60_000, oracle.args);
  writeFileSync(join(here, 'golden', `${name}.txt`), r.serial);
  console.log(`${name}: ${r.serial.split('\n').length - 1} lines, exit ${r.status}`);
}
