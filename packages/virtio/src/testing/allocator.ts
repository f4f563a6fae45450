import type { GuestMemory } from '@typevisor/memory';

/** A bump allocator over a range of guest RAM, for laying out rings and buffers in tests. */
export class GuestAllocator {
  private next: number;
  constructor(
    readonly memory: GuestMemory,
    readonly base: number,
    readonly end: number,
  ) {
    this.next = base;
  }

  alloc(size: number, align = 16): number {
    const addr = Math.ceil(this.next / align) * align;
    if (addr + size > this.end) throw new Error(`GuestAllocator: out of space for ${size} bytes`);
    this.next = addr + size;
    this.memory.fill(addr, Math.max(size, 1), 0);
    return addr;
  }

  /** Allocates and fills a buffer with `data`. */
  allocBytes(data: Uint8Array, align = 8): number {
    const addr = this.alloc(Math.max(data.length, 1), align);
    this.memory.writeBytes(addr, data);
    return addr;
  }

  /** Forgets everything allocated after `mark` (from {@link GuestAllocator.mark}). */
  release(mark: number): void {
    this.next = mark;
  }

  mark(): number {
    return this.next;
  }
}
