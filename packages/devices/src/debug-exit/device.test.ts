// QEMU hw/misc/debugexit.c semantics (docs: "isa-debug-exit"): exit status = (value << 1) | 1.
import { describe, expect, it } from 'vitest';
import { IsaDebugExit } from './device.js';

describe('isa-debug-exit', () => {
  it('exits with (value << 1) | 1', () => {
    const codes: number[] = [];
    const dev = new IsaDebugExit({ exit: (c) => codes.push(c) });
    dev.write(0, 1, 0);
    dev.write(0, 1, 0x10);
    dev.write(0, 2, 0x1ff);
    dev.write(0, 1, 0x1ff); // byte access keeps the low byte
    expect(codes).toEqual([1, 0x21, 0x3ff, 0x1ff]);
    expect(dev.read(0, 1)).toBe(0xff);
  });
});
