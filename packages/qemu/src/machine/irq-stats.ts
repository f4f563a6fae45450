import type { IrqLine } from '@typevisor/memory';

/**
 * Counts how often each interrupt-controller input is raised (a low-to-high transition), for
 * `info irq`, by standing between the devices and the controller's input lines.
 */
export class IrqCounter {
  readonly counts: Float64Array;
  private readonly levels: Uint8Array;

  constructor(inputs: number) {
    this.counts = new Float64Array(inputs);
    this.levels = new Uint8Array(inputs);
  }

  /** A line for input `irq` that counts rising edges and passes every level on to `target`. */
  wrap(irq: number, target: IrqLine): IrqLine {
    const counts = this.counts;
    const levels = this.levels;
    return {
      set(level: boolean): void {
        if (level && levels[irq] === 0) counts[irq]!++;
        levels[irq] = level ? 1 : 0;
        target.set(level);
      },
    };
  }
}
