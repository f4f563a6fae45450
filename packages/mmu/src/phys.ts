import type { GuestMemory, MemoryRegion } from '@typevisor/memory';

/**
 * Locked read-modify-write of a paging-structure entry's low dword, as the processor does when it sets
 * an accessed or dirty flag (SDM §4.8: "the processor uses a locked operation"). Other vCPU workers may
 * write the same entry through the shared buffer, so a lost update would resurrect a cleared entry.
 * Returns false when the dword no longer holds `expected` (the caller restarts its walk).
 */
export class PhysicalAtomics {
  private readonly views = new WeakMap<ArrayBufferLike, Int32Array>();

  constructor(private readonly memory: GuestMemory) {}

  compareExchange32(addr: number, expected: number, value: number): boolean {
    const r = this.memory.findRegion(addr, 4);
    // No RAM or ROM there: the write is dropped, as a bus would drop it.
    if (r === undefined || r.readonly) return true;
    const off = addr - r.gpa;
    const abs = r.bytes.byteOffset + off;
    let ok: boolean;
    if (abs % 4 === 0 && isShared(r.bytes.buffer)) {
      const view = this.view(r);
      ok = Atomics.compareExchange(view, abs >>> 2, expected | 0, value | 0) === (expected | 0);
    } else {
      ok = r.view.getUint32(off, true) === expected >>> 0;
      if (ok) r.view.setUint32(off, value >>> 0, true);
    }
    if (ok && r.dirty !== null) r.dirty.mark(Math.floor(off / 4096));
    return ok;
  }

  private view(r: MemoryRegion): Int32Array {
    let v = this.views.get(r.bytes.buffer);
    if (v === undefined) {
      v = new Int32Array(r.bytes.buffer, 0, r.bytes.buffer.byteLength >>> 2);
      this.views.set(r.bytes.buffer, v);
    }
    return v;
  }
}

const isShared = (b: ArrayBufferLike): boolean =>
  typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
