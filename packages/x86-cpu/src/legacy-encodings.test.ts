import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';

describe('encodings that mean something else on older CPUs', () => {
  it('runs TZCNT (rep bsf) as BSF on a CPU without BMI1, as Linux expects', () => {
    // Linux's __ffs() is `rep; bsf`: F3 0F BC, which a BMI1 CPU reads as TZCNT.
    const m = flat32('mov edx, 0x1000\nmov ecx, 0x77\ndb 0xf3, 0x0f, 0xbc, 0xca\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(12); // ecx = index of the lowest set bit, not #UD
  });

  it('runs LZCNT (rep bsr) as BSR on a CPU without LZCNT', () => {
    const m = flat32('mov edx, 0x1000\nmov ecx, 0x77\ndb 0xf3, 0x0f, 0xbd, 0xca\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(12); // BSR gives the highest set bit's index, LZCNT would give 19
  });

  it('keeps BSF semantics for a zero source: ZF set', () => {
    const m = flat32('mov edx, 0\nmov ecx, 0x77\ndb 0xf3, 0x0f, 0xbc, 0xca\npushfd\npop eax\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[0]! & 0x40).toBe(0x40);
  });

  it('runs PREFETCH/PREFETCHW (0F 0D /0../7) as NOPs that never fault, even on unmapped addresses', () => {
    // Linux issues PREFETCHW on a CPU whose vendor is AMD and that has long mode (QEMU's qemu64).
    const bytes = [0, 1, 2, 3, 4, 5, 6, 7]
      .map((reg) => `db 0x0f, 0x0d, 0x${(0x80 | (reg << 3)).toString(16)}, 0x00, 0x00, 0xf0, 0xff`)
      .join('\n');
    const m = flat32(`mov eax, 0x00100000\n${bytes}\nmov ecx, 0x5a\nhlt`);
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(0x5a); // every prefetch ran (no #UD, no #GP/#PF), then MOV ECX
  });
});
