/**
 * `pnpm bench:virtio`: sequential write and read throughput of a raw virtio-blk disk measured from
 * inside the default guest with busybox `dd` (16 MiB, bs=64k; the write ends with an fsync, the read
 * starts from a dropped page cache), in Typevisor and, when `qemu-system-i386` is installed, in QEMU
 * TCG with the same kernel, initrd, disk and commands. Prints MB/s (host wall time of each command)
 * and Typevisor's ratio to QEMU. Options: --mib 16, --timeout 900.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? def) : def;
};
const mib = Number(opt('mib', '16'));
const timeoutMs = Number(opt('timeout', '900')) * 1000;
const kernel = join(root, 'tools/images/default-i386/bzImage');
const initrd = join(root, 'tools/images/default-i386/initrd.cpio.gz');
const qemu = '/usr/bin/qemu-system-i386';

interface Result {
  readonly writeMBs: number;
  readonly readMBs: number;
}

/** Boots a VMM whose console is its stdio, runs the two dd commands at the shell and times them. */
async function measure(cmd: string, argv: string[]): Promise<Result> {
  const child: ChildProcessWithoutNullStreams = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    out += s;
  });
  let ended = false;
  child.on('exit', () => {
    ended = true;
  });
  const waitFor = (pattern: RegExp, from: number) =>
    new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const poll = () => {
        if (pattern.test(out.slice(from))) resolve();
        else if (ended || Date.now() - t0 > timeoutMs)
          reject(new Error(`${cmd}: no ${pattern}; console tail:\n${out.slice(-800)}`));
        else setTimeout(poll, 20);
      };
      poll();
    });
  let runs = 0;
  /** Seconds from typing `command` to its end marker. */
  const timed = async (command: string) => {
    const tag = `END${++runs}`;
    const from = out.length;
    const t0 = performance.now();
    child.stdin.write(`${command}; echo ${tag.slice(0, 2)}''${tag.slice(2)}\r`);
    await waitFor(new RegExp(`\\n${tag}\\r\\n`), from);
    return (performance.now() - t0) / 1000;
  };
  try {
    await waitFor(/GUEST-READY/, 0);
    await waitFor(/[~/] # /, 0);
    const count = (mib * 1024) / 64;
    const mb = (mib * 1024 * 1024) / 1e6;
    const w = await timed(`dd if=/dev/zero of=/dev/vda bs=64k count=${count} conv=fsync 2>/dev/null`);
    await timed('sync; echo 3 > /proc/sys/vm/drop_caches');
    const r = await timed(`dd if=/dev/vda of=/dev/null bs=64k count=${count} 2>/dev/null`);
    return { writeMBs: mb / w, readMBs: mb / r };
  } finally {
    child.kill('SIGKILL');
  }
}

const dir = mkdtempSync(join(tmpdir(), 'typevisor-bench-virtio-'));
try {
  const disk = join(dir, 'disk.img');
  const common = (vmm: string[]) => {
    writeFileSync(disk, new Uint8Array(mib * 1024 * 1024));
    return [
      ...vmm,
      '-m',
      '128',
      '-nographic',
      '-no-reboot',
      '-kernel',
      kernel,
      '-initrd',
      initrd,
      '-append',
      'console=ttyS0',
      '-drive',
      `file=${disk},if=virtio,format=raw`,
    ];
  };
  console.log(`virtio-blk, ${mib} MiB with dd bs=64k in the default guest (MB/s, host wall time)`);
  const tv = await measure(
    process.execPath,
    common(['--conditions=source', '--import', 'tsx/esm', join(root, 'apps/cli/src/main.ts')]),
  );
  console.log(`typevisor   write ${tv.writeMBs.toFixed(2)}  read ${tv.readMBs.toFixed(2)}`);
  if (existsSync(qemu)) {
    const q = await measure(qemu, common(['-accel', 'tcg']));
    console.log(`qemu tcg    write ${q.writeMBs.toFixed(2)}  read ${q.readMBs.toFixed(2)}`);
    console.log(
      `ratio (typevisor / qemu tcg)  write ${(tv.writeMBs / q.writeMBs).toFixed(3)}  read ${(tv.readMBs / q.readMBs).toFixed(3)}`,
    );
  } else {
    console.log('qemu tcg    qemu-system-i386 not installed');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
