import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeMultibootImage } from '@typevisor/qemu';
import { describe, expect, it } from 'vitest';
import { findQemu, runQemuKernel } from '../support/qemu.js';

const qemu = findQemu('qemu-system-i386');

// The oracle: the multiboot images the project makes for its CPU test programs boot under QEMU's own
// multiboot loader. Needs Debian's qemu-system-x86 (installed by .ci/run); without it this is skipped.
describe('multiboot images under QEMU (oracle: qemu-system-i386)', () => {
  it.skipIf(qemu === undefined)('boot, print on the serial port and exit through isa-debug-exit', () => {
    // mov dx,0x3f8; mov al,'O'; out; mov al,'K'; out; mov dx,0xf4; mov al,0x10; out; hlt
    const code = Uint8Array.from([
      0x66, 0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee, 0x66, 0xba, 0xf4, 0x00, 0xb0, 0x10, 0xee,
      0xf4,
    ]);
    const file = join(mkdtempSync(join(tmpdir(), 'mb-')), 'hello.mb');
    writeFileSync(file, makeMultibootImage(code));
    const r = runQemuKernel(qemu!, file);
    expect(r.serial).toBe('OK');
    expect(r.status).toBe((0x10 << 1) | 1);
  });
});
