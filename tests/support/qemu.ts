import { spawnSync } from 'node:child_process';

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
export function runQemuKernel(qemu: string, kernel: string, timeoutMs = 20_000): QemuRun {
  const r = spawnSync(
    qemu,
    [
      '-accel',
      'tcg',
      '-display',
      'none',
      '-nodefaults',
      '-serial',
      'stdio',
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=4',
      '-kernel',
      kernel,
    ],
    { encoding: 'latin1', timeout: timeoutMs },
  );
  return { serial: r.stdout, status: r.status };
}
