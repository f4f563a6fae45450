import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectBench64Answers } from './bench-answers.js';
import { root, startCliGuest } from './cli-guest.js';

// The x86-64 default guest (tools/images/default-x86_64, built by `ARCH=x86_64 bash tools/images/build.sh`)
// through the whole stack: the CLI (its default CPU has long mode), the `pc` machine, the Linux loader's
// 64-bit entry (boot protocol 2.12+: the vCPU starts at startup_64 in 64-bit mode), the KVM facade with
// an IA-32e guest (VM entry with the IA-32e mode control), VT-x non-root, the CPU in 64-bit mode. The
// bench=1 workload's answers are exact; the guest then powers off through ACPI and the VMM exits.
const image = join(root, 'tools/images/default-x86_64');
/** The guest with 128 MiB and the bench=1 workload, after the options `first`. */
const bench1Args = (...first: string[]): string[] => [
  ...first,
  '-m',
  '128',
  '-kernel',
  join(image, 'bzImage'),
  '-initrd',
  join(image, 'initrd.cpio.gz'),
  '-append',
  'console=ttyS0 bench=1',
  '-nographic',
  '-no-reboot',
];

describe('the x86-64 default guest through the KVM facade', () => {
  // ept=on: the guest's 4-level tables are walked under EPT (two-dimensional); ept=off: KVM's shadow
  // page tables built from them (shadow.ts), with every guest CR3 load and INVLPG intercepted.
  it.each(['ept=on', 'ept=off'])(
    '%s: boots in 64-bit mode, runs the bench=1 workload and powers off (exit 0)',
    {
      timeout: 900_000,
    },
    async (ept) => {
      // The default CPU model has long mode (QEMU's default for qemu-system-x86_64, qemu64, has it too).
      const g = startCliGuest(bench1Args('-accel', `kvm,${ept}`));
      try {
        expect(await g.exited).toBe(0);
        const out = g.output();
        expect(out).toMatch(/GUEST-READY 6\.1\.\d+/);
        expectBench64Answers(out);
        expect(out).toContain('GUEST-DONE');
        expect(out).toContain('reboot: Power down');
      } finally {
        g.kill();
      }
    },
  );
});

// The same guest with `-cpu Haswell`: the guest CPUID has AVX, AVX2, FMA, BMI1/2... (leaf 1, leaf 7) and
// leaf 0DH with the YMM component, so the kernel enables XCR0 = x87|SSE|AVX (an 832-byte XSAVE area),
// and glibc's string functions in the static busybox pick their AVX2 variants (its ifuncs read CPUID
// and XCR0): the bench=1 answers must still be exact.
describe('-cpu Haswell with the x86-64 default guest', () => {
  it('boots with the AVX state component enabled, runs the bench=1 workload and powers off (exit 0)', {
    timeout: 900_000,
  }, async () => {
    const g = startCliGuest(bench1Args('-cpu', 'Haswell'));
    try {
      const status = await g.exited;
      const out = g.output();
      const context = `status ${status}\n--- console (end) ---\n${out.slice(-4000)}\n--- stderr ---\n${g.errors().slice(-2000)}`;
      expect(out, context).toContain("x86/fpu: Supporting XSAVE feature 0x004: 'AVX registers'");
      expect(out, context).toMatch(/x86\/fpu: Enabled xstate features 0x7, context size is 832 bytes/);
      expectBench64Answers(out, context);
      expect(out, context).toContain('GUEST-DONE');
      expect(status, context).toBe(0);
    } finally {
      g.kill();
    }
  });
});
