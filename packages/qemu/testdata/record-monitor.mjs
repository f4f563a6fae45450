#!/usr/bin/env node
// Re-records monitor-golden.json: what QEMU's own HMP monitor prints for a set of commands, so that
// monitor tests compare Typevisor's formatting against the real thing without needing QEMU installed.
//   node packages/qemu/testdata/record-monitor.mjs     (needs Debian's qemu-system-x86)
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const COMMANDS = [
  'xp /64xb 0xfffc0',
  'xp /4xw 0xffff0',
  'xp /3xg 0xfffc0',
  'x /2xh 0xffff0',
  'xp /5dw 0xfffc0',
  'xp /5uh 0xfffc0',
  'xp /3ow 0xfffc0',
  'xp /2dg 0xfffc0',
  'xp /2ug 0xfffc0',
  'xp /2og 0xfffc0',
  'xp /20xb 0xfffc0',
  'xp /10cb 0xfffc0',
  'xp /3c 0xfffc0',
  'xp /q 0',
  'foo',
  'info bogus',
  'info status',
  'info kvm',
  'info registers',
  // Machine-provided (the -S prelaunch state, so deterministic): compared in monitor/info.test.ts.
  'info pic',
  'info irq',
  'info pci',
  'info mtree',
  'xp',
  'xp /4xw',
  'xp /4xw nonsense',
  'xp /2xw 0x10 + 0x20',
  'help cont',
  'help xp',
  'info',
  'stop',
  'info status',
  'cont',
  'info status',
];

const qemu = spawn('qemu-system-x86_64', ['-accel', 'tcg', '-display', 'none', '-S', '-nodefaults', '-monitor', 'stdio'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
let buf = '';
qemu.stdout.setEncoding('latin1');
qemu.stdout.on('data', (d) => {
  buf += d;
});
const waitPrompt = async () => {
  for (let i = 0; i < 200 && !buf.includes('(qemu) '); i++) await new Promise((r) => setTimeout(r, 25));
  const text = buf.slice(0, buf.indexOf('(qemu) '));
  buf = buf.slice(buf.indexOf('(qemu) ') + 7);
  return text;
};
await waitPrompt();
const out = [];
for (const cmd of COMMANDS) {
  qemu.stdin.write(`${cmd}\n`);
  const raw = await waitPrompt();
  // Drop the readline echo (ends with ESC[K and a newline), keep what the command printed.
  const body = raw.slice(raw.lastIndexOf('\x1b[K') + 3).replace(/^\r?\n/, '').replace(/\r/g, '');
  out.push([cmd, body.replace(/\n$/, '')]);
}
qemu.stdin.write('quit\n');
const file = join(dirname(fileURLToPath(import.meta.url)), 'monitor-golden.json');
writeFileSync(file, `${JSON.stringify({ recordedWith: 'qemu-system-x86_64 -accel tcg -S -nodefaults (QEMU 7.2, Debian 12)', session: out }, null, 2)}\n`);
console.log(`wrote ${file}`);
