import type { AccessSize, PioDevice } from '@typevisor/memory';
import type { ExitHandler } from '../signals.js';

/** QEMU's default isa-debug-exit placement: `-device isa-debug-exit,iobase=0x501,iosize=2`. */
export const DEBUG_EXIT_BASE = 0x501;
export const DEBUG_EXIT_LENGTH = 2;

/**
 * QEMU's isa-debug-exit: a write of `v` makes the VMM exit with status `(v << 1) | 1`, so a test
 * kernel can report success or failure (kvm-unit-tests, many hobby-OS test harnesses). Stateless.
 */
export class IsaDebugExit implements PioDevice {
  readonly maxAccessSize: AccessSize = 4;
  constructor(private readonly handler: ExitHandler) {}
  read(_offset: number, size: AccessSize): number {
    return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
  }
  write(_offset: number, size: AccessSize, value: number): void {
    const v = (value >>> 0) % 2 ** (size * 8);
    this.handler.exit(v * 2 + 1);
  }
}
