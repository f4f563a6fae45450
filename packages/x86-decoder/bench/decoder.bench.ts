/**
 * Decode-only throughput, Typevisor vs iced-x86, over the same blobs in one run:
 *   pnpm --filter @typevisor/x86-decoder run bench
 * Blobs: the first 4 MiB of the running Node.js binary's .text (64-bit) and the committed SeaBIOS
 * blobs (32/16-bit). Each decoder walks each blob linearly; after a warm-up,
 * 8 interleaved slices of >= 150 ms per decoder are averaged.
 */
import { readFileSync } from 'node:fs';
import { decodeInto } from '../src/decoder.js';
import { type Bitness, Instruction } from '../src/instruction.js';
import { readElfSection } from '../src/tools/elf.js';
import { iced } from '../src/tools/iced.js';

const here = new URL('../testdata/', import.meta.url);
const blobs: { name: string; bitness: Bitness; bytes: Uint8Array }[] = [
  {
    name: 'node .text (4 MiB)',
    bitness: 64,
    bytes: readElfSection(process.execPath).bytes.slice(0, 4 << 20),
  },
  {
    name: 'seabios bios.bin 0-64K',
    bitness: 32,
    bytes: new Uint8Array(readFileSync(new URL('seabios-bios-0-64k-32bit.bin', here))),
  },
  {
    name: 'seabios vgabios-stdvga',
    bitness: 16,
    bytes: new Uint8Array(readFileSync(new URL('seabios-vgabios-stdvga-16bit.bin', here))),
  },
];

function ours(bytes: Uint8Array, bitness: Bitness): number {
  const insn = new Instruction();
  let off = 0;
  let n = 0;
  let ip = 0x1000;
  const end = bytes.length;
  while (off < end) {
    decodeInto(insn, bytes, off, bitness, ip, end);
    off += insn.length;
    ip += insn.length;
    n++;
  }
  return n;
}

function theirs(bytes: Uint8Array, bitness: Bitness): number {
  const d = new iced.Decoder(bitness, bytes, iced.DecoderOptions.None);
  d.ip = 0x1000n;
  const ins = new iced.Instruction();
  let n = 0;
  while (d.canDecode) {
    d.decodeOut(ins);
    n++;
  }
  ins.free();
  d.free();
  return n;
}

/** Runs `fn` (one pass over a blob) repeatedly for at least `minMs`; returns instructions per ms. */
function rate(fn: () => number, minMs: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    n += fn();
    t = performance.now();
  } while (t - t0 < minMs);
  return n / (t - t0);
}

let totOurs = 0;
let totIced = 0;
let totN = 0;
let totBytes = 0;
for (const b of blobs) {
  const n = theirs(b.bytes, b.bitness);
  // Warm-up (JIT for Typevisor, wasm tier-up for iced-x86), then 8 interleaved slices of >= 150 ms
  // each, so that load changes on a shared machine hit both decoders alike.
  rate(() => ours(b.bytes, b.bitness), 500);
  rate(() => theirs(b.bytes, b.bitness), 500);
  let o = 0;
  let i = 0;
  for (let k = 0; k < 8; k++) {
    o += rate(() => ours(b.bytes, b.bitness), 150) / 8;
    i += rate(() => theirs(b.bytes, b.bitness), 150) / 8;
  }
  const perInsn = b.bytes.length / n;
  console.log(
    `${b.name} [${b.bitness}-bit]: typevisor ${(o / 1e3).toFixed(2)} M insn/s ${((o * perInsn) / 1e3).toFixed(1)} MB/s | ` +
      `iced-x86 ${(i / 1e3).toFixed(2)} M insn/s ${((i * perInsn) / 1e3).toFixed(1)} MB/s | ratio ${(o / i).toFixed(2)}x`,
  );
  totOurs += n / o;
  totIced += n / i;
  totN += n;
  totBytes += b.bytes.length;
}
console.log(
  `total: typevisor ${(totN / totOurs / 1e3).toFixed(2)} M insn/s ${(totBytes / 1e6 / (totOurs / 1e3)).toFixed(1)} MB/s, ` +
    `iced-x86 ${(totN / totIced / 1e3).toFixed(2)} M insn/s ${(totBytes / 1e6 / (totIced / 1e3)).toFixed(1)} MB/s, ratio ${(totIced / totOurs).toFixed(2)}x`,
);
