/**
 * Re-records golden/<name>.txt: each kernel's serial output under QEMU TCG (the oracle).
 *   node --conditions=source --import tsx/esm tests/cpu-diff/record.ts
 * Needs Debian's qemu-system-x86. The model is `-cpu pentium3`: a P6-class CPU, the class
 * Typevisor's default 32-bit model claims.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findQemu, runQemuKernel } from '../support/qemu.js';

const here = dirname(fileURLToPath(import.meta.url));
const qemu = findQemu('qemu-system-i386');
if (qemu === undefined) {
  console.error('record.ts: qemu-system-i386 is not installed (apt-get install qemu-system-x86)');
  process.exit(1);
}
for (const file of readdirSync(join(here, 'kernels')).filter((f) => f.endsWith('.mb'))) {
  const r = runQemuKernel(qemu, join(here, 'kernels', file), 60_000, ['-cpu', 'pentium3']);
  const name = file.replace(/\.mb$/, '');
  writeFileSync(join(here, 'golden', `${name}.txt`), r.serial);
  console.log(`${name}: ${r.serial.split('\n').length - 1} lines, exit ${r.status}`);
}
