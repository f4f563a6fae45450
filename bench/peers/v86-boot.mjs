#!/usr/bin/env node
// Boots a kernel + initrd in v86 (npm `v86`, with Debian's SeaBIOS) and prints, as JSON on the last
// line, the milliseconds to GUEST-READY and GUEST-DONE and the peak RSS. Run as its own process by
// bench/boot.bench.ts so that each emulator's memory is measured alone.
//   node bench/peers/v86-boot.mjs <bzImage> <initrd> "<cmdline>" [memMiB] [timeoutSec]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const [kernel, initrd, cmdline, memMiB = '256', timeoutSec = '300'] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const v86Dir = dirname(require.resolve('v86/package.json'));
const { V86 } = await import(join(v86Dir, 'build', 'libv86.mjs'));
const buf = (p) => {
  const b = readFileSync(p);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
};

const t0 = performance.now();
const emulator = new V86({
  wasm_path: join(v86Dir, 'build', 'v86.wasm'),
  memory_size: Number(memMiB) * 1024 * 1024,
  bios: buf('/usr/share/seabios/bios.bin'),
  vga_bios: buf('/usr/share/seabios/vgabios-stdvga.bin'),
  bzimage: buf(kernel),
  initrd: buf(initrd),
  cmdline,
  autostart: true,
  disable_keyboard: true,
  disable_mouse: true,
  disable_speaker: true,
});
const result = { ready: null, done: null, rssMiB: 0, serialTail: '' };
let line = '';
let serial = '';
const finish = (code) => {
  result.rssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
  result.serialTail = serial.slice(-400);
  emulator.destroy?.();
  console.log(JSON.stringify(result));
  process.exit(code);
};
emulator.add_listener('serial0-output-byte', (byte) => {
  const ch = String.fromCharCode(byte);
  serial += ch;
  if (ch !== '\n') {
    line += ch;
    return;
  }
  if (line.startsWith('GUEST-READY') && result.ready === null) result.ready = performance.now() - t0;
  if (line.startsWith('GUEST-DONE')) {
    result.done = performance.now() - t0;
    finish(0);
  }
  line = '';
});
setTimeout(() => finish(2), Number(timeoutSec) * 1000);
