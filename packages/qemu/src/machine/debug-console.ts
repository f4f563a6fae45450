import type { AccessSize, ByteSink, PioDevice } from '@typevisor/memory';

/** What reading the debug console port returns (isa-debugcon's `readback` default). */
export const DEBUGCON_READBACK = 0xe9;

/**
 * QEMU's isa-debugcon: bytes the guest writes go to `sink`; reads return 0xE9, which is how SeaBIOS and
 * other guests detect the port. `-debugcon` puts one at 0xE9; firmware boot puts one at 0x402 for
 * SeaBIOS's log.
 */
export class DebugConsole implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  constructor(private readonly sink?: ByteSink) {}
  read(): number {
    return DEBUGCON_READBACK;
  }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.sink?.writeByte(value & 0xff);
  }
}
