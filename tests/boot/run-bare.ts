/**
 * Boots a kernel on the bare CPU harness and prints the serial console as it goes.
 *   node --conditions=source --import tsx/esm tests/boot/run-bare.ts [bzImage] [initrd] [cmdline] [maxInstructions]
 * With TYPEVISOR_MODEL=x86_64 the CPU is `X86_64_MODEL` (long mode), for 64-bit kernels.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X86_64_MODEL } from '@typevisor/x86-cpu';
import { bootBare } from './bare-cpu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const [
  kernel = join(root, 'tools/images/default-i386/bzImage'),
  initrd = join(root, 'tools/images/default-i386/initrd.cpio.gz'),
  cmdline = 'console=ttyS0 bench=boot',
  max = '3e9',
] = process.argv.slice(2).map((a) => (a === '' ? undefined : a)) as (string | undefined)[];
const r = bootBare({
  kernel: new Uint8Array(readFileSync(kernel)),
  initrd: new Uint8Array(readFileSync(initrd)),
  cmdline,
  until: 'GUEST-DONE',
  maxInstructions: Number(max),
  onSerial: (ch) => process.stdout.write(ch),
  ...(process.env.TYPEVISOR_MODEL === 'x86_64' ? { model: X86_64_MODEL } : {}),
});
console.log(
  `\n[bare-cpu] end=${r.end} eip=0x${r.eip.toString(16)} ${(r.instructions / 1e6).toFixed(0)}M instructions in ${r.seconds.toFixed(1)} s (${(r.instructions / r.seconds / 1e6).toFixed(1)} MIPS)`,
);
