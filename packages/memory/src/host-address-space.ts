import { type Hva, PAGE_SIZE, hva } from './address.js';
import { WriteLog } from './write-log.js';

/** One mapping made by {@link HostAddressSpace.mmap}. */
export interface HostMapping {
  readonly addr: Hva;
  readonly length: number;
  readonly bytes: Uint8Array;
  /**
   * For anonymous memory: the log of the pages the host writes through a `GuestMemory` region
   * given it (`addRegion(gpa, bytes, { writes })`), which the vCPUs read (see {@link WriteLog}).
   */
  readonly writes: WriteLog | null;
}

/** Where the first mapping is placed; like Linux's mmap base. Below 2^53, so exact in a double. */
export const MMAP_BASE = 0x7f00_0000_0000;

/**
 * The VMM process's address space as far as guest memory is concerned: `mmap(length)` returns a
 * page-aligned host address backed by a fresh SharedArrayBuffer, which a memory slot
 * (`userspace_addr`) can point into. Mappings are separated by an unmapped guard page.
 */
export class HostAddressSpace {
  private readonly maps: HostMapping[] = [];
  private next = MMAP_BASE;

  /** Anonymous shared mapping of `length` bytes (rounded up to pages), zero-filled; undefined for a bad length. */
  mmap(length: number): HostMapping | undefined {
    if (!Number.isSafeInteger(length) || length <= 0) return undefined;
    const size = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
    let buffer: SharedArrayBuffer;
    try {
      buffer = new SharedArrayBuffer(size);
    } catch {
      return undefined; // host out of memory: ENOMEM for the caller
    }
    const m: HostMapping = {
      addr: hva(this.next),
      length: size,
      bytes: new Uint8Array(buffer),
      writes: new WriteLog(size / PAGE_SIZE),
    };
    this.next += size + PAGE_SIZE;
    this.maps.push(m);
    return m;
  }

  /** Registers existing bytes (e.g. a file read into memory) as a mapping. */
  mapBytes(bytes: Uint8Array): HostMapping {
    const size = Math.ceil(Math.max(bytes.byteLength, 1) / PAGE_SIZE) * PAGE_SIZE;
    const m: HostMapping = { addr: hva(this.next), length: bytes.byteLength, bytes, writes: null };
    this.next += size + PAGE_SIZE;
    this.maps.push(m);
    return m;
  }

  /** Removes the mapping that starts at `addr`; false if there is none. */
  munmap(addr: Hva | number): boolean {
    const i = this.maps.findIndex((m) => m.addr === addr);
    if (i < 0) return false;
    this.maps.splice(i, 1);
    return true;
  }

  /** The mapping holding [addr, addr+length), if one does. */
  find(addr: Hva | number, length = 1): HostMapping | undefined {
    for (const m of this.maps) {
      if (addr >= m.addr && addr + length <= m.addr + m.length) return m;
    }
    return undefined;
  }

  /** A view of `length` host bytes at `addr`, or undefined if they are not wholly inside one mapping (EFAULT). */
  view(addr: Hva | number, length: number): Uint8Array | undefined {
    if (length < 0) return undefined;
    const m = this.find(addr, Math.max(length, 1));
    if (m === undefined) return undefined;
    const o = addr - m.addr;
    return m.bytes.subarray(o, o + length);
  }
}
