/**
 * Builds the CPU test kernels: assembly text from programs.ts -> flat binary -> multiboot image in
 * tests/cpu-diff/kernels/<name>.mb.
 *   node --conditions=source --import tsx/esm tests/cpu-diff/build.ts            # all
 *   node --conditions=source --import tsx/esm tests/cpu-diff/build.ts vec-avx    # only these
 * Assembled with NASM for now (Debian `nasm`); the project's assembler takes over once it handles
 * every program (the kernels are committed, so tests need neither).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeMultibootImage } from '@typevisor/qemu';
import { PROGRAMS } from './catalog.js';
import { TRAMPOLINE_ASM } from './trampoline.js';

const here = dirname(fileURLToPath(import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'cpu-diff-'));
mkdirSync(join(here, 'kernels'), { recursive: true });
const only = process.argv.slice(2);
for (const name of only) if (PROGRAMS[name] === undefined) throw new Error(`no program named ${name}`);
for (const [name, make] of Object.entries(PROGRAMS)) {
  if (only.length > 0 && !only.includes(name)) continue;
  const src = join(work, `${name}.asm`);
  const bin = join(work, `${name}.bin`);
  writeFileSync(src, make());
  execFileSync('nasm', ['-f', 'bin', '-o', bin, src], { stdio: 'inherit' });
  const image = makeMultibootImage(new Uint8Array(readFileSync(bin)));
  writeFileSync(join(here, 'kernels', `${name}.mb`), image);
  console.log(`${name}: ${image.length} bytes`);
}

// The reset-vector trampoline of the bare CPU harness (see trampoline.ts), with a listing so the
// harness finds the fields it patches.
{
  const src = join(work, 'trampoline.asm');
  const bin = join(work, 'trampoline.bin');
  writeFileSync(src, TRAMPOLINE_ASM);
  execFileSync('nasm', ['-f', 'bin', '-o', bin, src], { stdio: 'inherit' });
  writeFileSync(join(here, 'kernels', 'trampoline.bin'), readFileSync(bin));
  console.log(`trampoline: ${readFileSync(bin).length} bytes`);
}
