import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of a QEMU binary if Debian's qemu-system-x86 is installed (`.ci/run` installs it). */
export function findQemu(name: 'qemu-system-i386' | 'qemu-system-x86_64'): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

export interface QemuRun {
  readonly serial: string;
  readonly status: number | null;
}

/**
 * Runs a multiboot test kernel under QEMU TCG with the serial port on stdout and isa-debug-exit at
 * port 0xf4 (exit status = (value << 1) | 1), as the CPU differential tests do.
 */
export function runQemuKernel(
  qemu: string,
  kernel: string,
  timeoutMs = 20_000,
  extra: readonly string[] = [],
): QemuRun {
  // The serial port goes to a file: through a pipe, QEMU drops what is still buffered when the
  // guest exits through isa-debug-exit.
  const dir = mkdtempSync(join(tmpdir(), 'qemu-serial-'));
  const out = join(dir, 'serial.txt');
  const r = spawnSync(
    qemu,
    [
      '-accel',
      'tcg',
      '-display',
      'none',
      '-nodefaults',
      '-serial',
      `file:${out}`,
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=4',
      ...extra,
      '-kernel',
      kernel,
    ],
    { encoding: 'latin1', timeout: timeoutMs },
  );
  let serial = '';
  try {
    serial = readFileSync(out, 'latin1');
  } catch {}
  rmSync(dir, { recursive: true, force: true });
  return { serial, status: r.status };
}
