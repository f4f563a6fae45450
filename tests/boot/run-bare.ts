/**
 * Boots a kernel on the bare CPU harness and prints the serial console as it goes.
 *   node --conditions=source --import tsx/esm tests/boot/run-bare.ts [bzImage] [initrd] [cmdline] [maxInstructions]
 * With TYPEVISOR_MODEL=x86_64 the CPU is `X86_64_MODEL` (long mode), for 64-bit kernels; with
 * TYPEVISOR_TRACE=1 the exceptions the CPU delivered (vector, error code, RIP) are printed at the end.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Cpu, EventKind, X86_64_MODEL } from '@typevisor/x86-cpu';
import { bootBare } from './bare-cpu.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const [
  kernel = join(root, 'tools/images/default-i386/bzImage'),
  initrd = join(root, 'tools/images/default-i386/initrd.cpio.gz'),
  cmdline = 'console=ttyS0 bench=boot',
  max = '3e9',
] = process.argv.slice(2).map((a) => (a === '' ? undefined : a)) as (string | undefined)[];
const exceptions: string[] = [];
let theCpu: Cpu | undefined;
const hex = (a: number): string => (a < 0 ? (2n ** 64n + BigInt(a)).toString(16) : a.toString(16));
const r = bootBare({
  kernel: new Uint8Array(readFileSync(kernel)),
  initrd: new Uint8Array(readFileSync(initrd)),
  cmdline,
  until: 'GUEST-DONE',
  maxInstructions: Number(max),
  onSerial: (ch) => process.stdout.write(ch),
  ...(process.env.TYPEVISOR_MODEL === 'x86_64' ? { model: X86_64_MODEL } : {}),
  ...(process.env.TYPEVISOR_TRACE === '1'
    ? {
        onCpu: (c: Cpu) => {
          theCpu = c;
        },
        events: {
          delivered: (kind, vector, code) => {
            if (kind === EventKind.Exception && theCpu !== undefined)
              exceptions.push(
                `vector ${vector} error ${code.toString(16)} at ${hex(theCpu.startIp)} cr2 ${hex(theCpu.ctrl.cr2)} tr ${hex(theCpu.segs.base[7]!)}`,
              );
            if (exceptions.length > 50) exceptions.shift();
          },
        },
      }
    : {}),
});
if (exceptions.length > 0) console.log(`\n[bare-cpu] last exceptions:\n${exceptions.join('\n')}`);
console.log(
  `\n[bare-cpu] end=${r.end} eip=0x${r.eip.toString(16)} ${(r.instructions / 1e6).toFixed(0)}M instructions in ${r.seconds.toFixed(1)} s (${(r.instructions / r.seconds / 1e6).toFixed(1)} MIPS)`,
);
