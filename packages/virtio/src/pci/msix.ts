import type { AccessSize, MmioDevice } from '@typevisor/memory';
import { MsixBar, MsixEntry } from './registers.js';

/** Where MSI messages go: the interrupt controller's message address space (a one-method contract). */
export interface MsiSink {
  /** A write of `data` to `address` (0xFEExxxxx on x86), as a PCI function's MSI. */
  sendMsi(address: number, data: number): void;
}

/** Plain state of an MSI-X table. */
export interface MsixState {
  readonly entries: readonly number[];
  readonly pending: readonly number[];
}

/**
 * An MSI-X table and pending-bit array (PCI Local Bus 3.0, 6.8.2), mapped as one BAR. Vectors are
 * masked at reset; a message for a masked vector (or with the function masked) sets its pending bit
 * and is sent once unmasked.
 */
export class MsixTable implements MmioDevice {
  private readonly entries: Uint32Array;
  private readonly pending: Uint8Array;

  constructor(
    readonly vectors: number,
    private readonly sink: MsiSink,
    /** Current Message Control: enable and function-mask bits. */
    private readonly control: () => { enabled: boolean; masked: boolean },
  ) {
    this.entries = new Uint32Array(vectors * 4);
    this.pending = new Uint8Array(vectors);
    this.reset();
  }

  get enabled(): boolean {
    return this.control().enabled;
  }

  reset(): void {
    this.entries.fill(0);
    for (let v = 0; v < this.vectors; v++) this.entries[v * 4 + 3] = MsixEntry.CONTROL_MASKED;
    this.pending.fill(0);
  }

  read(offset: number, size: AccessSize): number {
    if (size !== 4 || offset % 4 !== 0) return 0;
    if (offset >= MsixBar.TABLE && offset < MsixBar.TABLE + this.vectors * MsixEntry.SIZE) {
      return this.entries[(offset - MsixBar.TABLE) / 4]!;
    }
    if (offset >= MsixBar.PBA && offset < MsixBar.PBA + Math.ceil(this.vectors / 32) * 4) {
      let bits = 0;
      const first = ((offset - MsixBar.PBA) / 4) * 32;
      for (let i = 0; i < 32 && first + i < this.vectors; i++) if (this.pending[first + i]) bits |= 1 << i;
      return bits >>> 0;
    }
    return 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || offset % 4 !== 0) return;
    if (offset < MsixBar.TABLE || offset >= MsixBar.TABLE + this.vectors * MsixEntry.SIZE) return;
    const i = (offset - MsixBar.TABLE) / 4;
    this.entries[i] = i % 4 === 3 ? value & MsixEntry.CONTROL_MASKED : value >>> 0;
    if (i % 4 === 3) this.update();
  }

  /** Sends vector `v`, or marks it pending while masked. */
  signal(v: number): void {
    if (v >= this.vectors) return;
    const c = this.control();
    if (!c.enabled) return;
    if (c.masked || (this.entries[v * 4 + 3]! & MsixEntry.CONTROL_MASKED) !== 0) {
      this.pending[v] = 1;
      return;
    }
    this.send(v);
  }

  /** Sends what became deliverable after an unmask (entry or function). */
  update(): void {
    const c = this.control();
    if (!c.enabled || c.masked) return;
    for (let v = 0; v < this.vectors; v++) {
      if (this.pending[v] && (this.entries[v * 4 + 3]! & MsixEntry.CONTROL_MASKED) === 0) {
        this.pending[v] = 0;
        this.send(v);
      }
    }
  }

  private send(v: number): void {
    const lo = this.entries[v * 4]!;
    const hi = this.entries[v * 4 + 1]!;
    this.sink.sendMsi(hi * 0x1_0000_0000 + lo, this.entries[v * 4 + 2]!);
  }

  getState(): MsixState {
    return { entries: [...this.entries], pending: [...this.pending] };
  }

  setState(state: MsixState): void {
    if (state.entries.length === this.entries.length) this.entries.set(state.entries);
    if (state.pending.length === this.pending.length) this.pending.set(state.pending);
  }
}
