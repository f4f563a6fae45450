import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root, startDefaultCliGuest } from './cli-guest.js';

// The real-kernel boots, in one file so that they run one after the other on one worker (each keeps a
// core busy for a while; side by side on a 2-core machine they starve each other). Each guest runs in a
// child process under plain Node (see cli-guest.ts for why not in the test's own process).

/** Runs tests/boot/run-bare.ts to its end and returns what it printed. */
function runBare(
  cmdline: string,
  image: { kernel: string; initrd: string; model?: 'x86_64' } = { kernel: '', initrd: '' },
): Promise<{ readonly status: number; readonly output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx/esm',
        join(root, 'tests/boot/run-bare.ts'),
        image.kernel,
        image.initrd,
        cmdline,
      ],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: image.model === undefined ? process.env : { ...process.env, TYPEVISOR_MODEL: image.model },
      },
    );
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    child.on('exit', (code) => resolve({ status: code ?? -1, output }));
  });
}

// The CPU on its own: Linux 6.1 decompresses itself, sets up paging, probes the PIT/UART/RTC, unpacks
// the initramfs and runs busybox's init (about 0.7 G instructions).
describe('bare CPU boot (no VMX, no KVM)', () => {
  it('boots the default guest kernel and busybox init to GUEST-DONE', { timeout: 900_000 }, async () => {
    const r = await runBare('console=ttyS0 bench=boot');
    expect(r.status).toBe(0);
    expect(r.output).toContain('Linux version 6.1');
    expect(r.output).toContain('serial8250: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A');
    expect(r.output).toMatch(/GUEST-READY 6\.1\.\d+/);
    const last = /\[bare-cpu\] end=(\w+) .*/.exec(r.output);
    expect(last?.[1]).toBe('until'); // stopped at GUEST-DONE, not at the instruction limit or a shutdown
    console.log(last?.[0]);
  });

  // IA-32e mode: the x86-64 build of the same kernel enters long mode itself (startup_32 -> startup_64),
  // runs in the high canonical half, and runs a 64-bit busybox (SSE2, SYSCALL, ENDBR64) through the
  // bench=1 workload, whose answers are exact (sum of squares, harmonic sum in awk's floating point,
  // SHA-256 of 4 MiB of zeros). About 0.8 G instructions.
  it('boots the x86-64 default guest in 64-bit mode and runs the bench=1 workload', {
    timeout: 900_000,
  }, async () => {
    const r = await runBare('console=ttyS0 bench=1', {
      kernel: join(root, 'tools/images/default-x86_64/bzImage'),
      initrd: join(root, 'tools/images/default-x86_64/initrd.cpio.gz'),
      model: 'x86_64',
    });
    expect(r.status).toBe(0);
    expect(r.output).toContain('Linux version 6.1');
    expect(r.output).toMatch(/GUEST-READY 6\.1\.\d+/);
    expect(r.output).toContain('BENCH machine: x86_64');
    expect(r.output).toContain('BENCH awk: 2666866670000 10.480728');
    expect(r.output).toContain(
      'BENCH sha256: bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8  -',
    );
    const last = /\[bare-cpu\] end=(\w+) .*/.exec(r.output);
    expect(last?.[1]).toBe('until');
    console.log(last?.[0]);
  });
});

// The main job, through the whole stack: `typevisor` (the CLI), the `pc` machine, the KVM facade,
// VT-x non-root, the CPU.
describe.each([
  ['ept=on', 'EPT, the facade default as kvm_intel'],
  ['ept=off', 'shadow paging'],
])('the default guest through the KVM facade (%s: %s)', (ept) => {
  it('boots to a shell, answers echo $((6*7)) with 42, and exits when the guest resets', {
    timeout: 1_200_000,
  }, async () => {
    const t0 = performance.now();
    const g = startDefaultCliGuest(['-accel', `kvm,${ept}`]);
    try {
      await g.waitFor(/GUEST-READY 6\.1\.\d+/, 1_000_000);
      const ready = (performance.now() - t0) / 1000;
      // The guest knows its TSC rate from CPUID (no PIT calibration through port I/O exits).
      expect(g.output()).toContain('tsc: Detected 1000.000 MHz processor');
      // The shell's prompt (a late kernel line may follow it: not anchored at the end of the output).
      await g.waitFor(/\n[~/] # /, 120_000);
      const r = await g.run('echo $((6*7))');
      expect(r.output).toContain('\r\n42\r\n');
      expect(r.status).toBe(0);
      // A reset (reboot -f writes the 0xCF9 reset register): with -no-reboot the VMM then exits with
      // status 0, as QEMU does. ACPI power-off has its own test (acpi.test.ts).
      g.type('reboot -f\r');
      expect(await g.exited).toBe(0);
      console.log(`full-stack boot (${ept}): GUEST-READY after ${ready.toFixed(1)} s`);
    } finally {
      g.kill();
    }
  });
});
