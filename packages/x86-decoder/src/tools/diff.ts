/**
 * Differential check against iced-x86:
 *   pnpm --filter @typevisor/x86-decoder run diff -- --bitness <16|32|64> --input <file> [--ip <hex>]
 *   pnpm --filter @typevisor/x86-decoder run diff -- --bitness 64 --random <count> [--seed <n>]
 * Prints the disagreements by field with samples, and as its last line `agree <A>/<N> instructions`
 * (N counted by iced-x86).
 */
import { readFileSync } from 'node:fs';
import type { Bitness } from '../instruction.js';
import { type CompareResult, compareBuffer, compareRandom, report } from './compare.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const bitness = Number(arg('bitness') ?? '64') as Bitness;
if (bitness !== 16 && bitness !== 32 && bitness !== 64) {
  console.error('--bitness must be 16, 32 or 64');
  process.exit(2);
}
const input = arg('input');
const random = arg('random');
let res: CompareResult;
if (input) {
  const bytes = new Uint8Array(readFileSync(input));
  const ip = BigInt(`0x${(arg('ip') ?? '0').replace(/^0x/, '')}`);
  res = compareBuffer(bytes, { bitness, ip });
} else if (random) {
  res = compareRandom(bitness, Number(arg('seed') ?? '1'), Number(random));
} else {
  console.error('usage: diff --bitness <16|32|64> (--input <file> | --random <count>)');
  process.exit(2);
}
console.log(report(res));
