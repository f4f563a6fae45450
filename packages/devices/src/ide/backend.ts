import { DevicesError } from '../errors.js';

/**
 * Storage behind an IDE drive: a synchronous byte interface, so it can wrap a Uint8Array, a
 * SharedArrayBuffer filled by a worker, or a Node file descriptor through `fs.readSync` (the VMM's
 * choice: this package never imports `node:fs`, so it runs in a browser too). Offsets and lengths
 * are always inside [0, size): the drive checks them before calling.
 */
export interface BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  read(offset: number, dst: Uint8Array): void;
  write(offset: number, src: Uint8Array): void;
  /**
   * FLUSH CACHE (EXT): make written data durable (fsync for a file). `false` reports a host error,
   * which the guest sees as an aborted command. Without it, flushing is a no-op.
   */
  flush?(): boolean;
}

/** A backend over bytes in memory (a disk image or an ISO loaded by the VMM). */
export class MemoryBlockBackend implements BlockBackend {
  constructor(
    readonly bytes: Uint8Array,
    readonly readOnly = false,
  ) {}
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, dst: Uint8Array): void {
    dst.set(this.bytes.subarray(offset, offset + dst.length));
  }
  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new DevicesError('InvalidState', 'write to a read-only backend');
    this.bytes.set(src, offset);
  }
}
