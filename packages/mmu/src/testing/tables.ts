/** Writes guest paging structures for tests: 4-level/5-level, PAE and 32-bit layouts. */
import { PTE } from '../index.js';

export interface PhysWriter {
  read32(gpa: number): number;
  write32(gpa: number, v: number): void;
  write64(gpa: number, lo: number, hi: number): void;
}

export const TABLE = PTE.P | PTE.RW | PTE.US;

export class TableBuilder {
  constructor(
    readonly mem: PhysWriter,
    private next: number,
  ) {}

  alloc(): number {
    const p = this.next;
    this.next += 4096;
    for (let o = 0; o < 4096; o += 4) this.mem.write32(p + o, 0);
    return p;
  }

  /** Maps `la` -> `pa` in a 4-level (or 5-level) tree; `size` 4K, 2M or 1G; `hi` holds XD/PK bits. */
  map64(root: number, la: number, pa: number, lo: number, hi = 0, size = 4096, levels = 4): number {
    let table = root;
    const leafLevel = size === 4096 ? 1 : size === 2 << 20 ? 2 : 3;
    for (let level = levels; level > leafLevel; level--) {
      const slot = table + (Math.floor(la / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
      const e = this.mem.read32(slot);
      if ((e & PTE.P) === 0) {
        const t = this.alloc();
        this.mem.write64(slot, t | TABLE, 0);
        table = t;
      } else {
        table = (e & 0xffff_f000) >>> 0;
      }
    }
    const slot = table + (Math.floor(la / 2 ** (12 + 9 * (leafLevel - 1))) & 511) * 8;
    const ps = leafLevel > 1 ? PTE.PS : 0;
    this.mem.write64(slot, ((pa % 2 ** 32) | lo | ps) >>> 0, (Math.floor(pa / 2 ** 32) | hi) >>> 0);
    return slot;
  }

  /** Maps `la` -> `pa` in a PAE tree (PDPT at `pdpt`); `size` 4K or 2M. */
  mapPae(pdpt: number, la: number, pa: number, lo: number, hi = 0, size = 4096): number {
    const pdpteSlot = pdpt + ((la >>> 30) & 3) * 8;
    let pd = this.mem.read32(pdpteSlot);
    if ((pd & PTE.P) === 0) {
      const t = this.alloc();
      this.mem.write64(pdpteSlot, t | PTE.P, 0);
      pd = t;
    }
    pd = (pd & 0xffff_f000) >>> 0;
    const pdeSlot = pd + ((la >>> 21) & 511) * 8;
    if (size !== 4096) {
      this.mem.write64(pdeSlot, (pa | lo | PTE.PS) >>> 0, hi);
      return pdeSlot;
    }
    let pt = this.mem.read32(pdeSlot);
    if ((pt & PTE.P) === 0) {
      const t = this.alloc();
      this.mem.write64(pdeSlot, t | TABLE, 0);
      pt = t;
    }
    const pteSlot = ((pt & 0xffff_f000) >>> 0) + ((la >>> 12) & 511) * 8;
    this.mem.write64(pteSlot, (pa | lo) >>> 0, hi);
    return pteSlot;
  }

  /** Maps `la` -> `pa` in a 32-bit tree (PD at `pd`); `size` 4K or 4M (PSE, PSE-36 `pa` up to 2^40). */
  map32(pd: number, la: number, pa: number, lo: number, size = 4096): number {
    const pdeSlot = pd + (la >>> 22) * 4;
    if (size !== 4096) {
      const high = Math.floor(pa / 2 ** 32) << 13;
      this.mem.write32(pdeSlot, ((pa & 0xffc0_0000) | high | lo | PTE.PS) >>> 0);
      return pdeSlot;
    }
    let pt = this.mem.read32(pdeSlot);
    if ((pt & PTE.P) === 0) {
      const t = this.alloc();
      this.mem.write32(pdeSlot, t | TABLE);
      pt = t;
    }
    const pteSlot = ((pt & 0xffff_f000) >>> 0) + ((la >>> 12) & 0x3ff) * 4;
    this.mem.write32(pteSlot, (pa | lo) >>> 0);
    return pteSlot;
  }
}
