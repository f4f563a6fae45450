import { Bus } from './bus.js';
import type { MmioDevice, PioDevice } from './contracts.js';

/** The x86 port-I/O bus: ports 0..0xffff. */
export class PioBus extends Bus<PioDevice> {
  constructor() {
    super(0x1_0000);
  }
}

/** The memory-mapped I/O bus: guest physical addresses below 2^52. */
export class MmioBus extends Bus<MmioDevice> {
  constructor() {
    super(2 ** 52);
  }
}
