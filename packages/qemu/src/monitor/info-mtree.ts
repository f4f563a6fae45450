/**
 * `info mtree`: QEMU's memory-tree layout for the regions a machine registered. Plain data in, text
 * out; the machine describes its RAM and the ranges on its MMIO and port buses.
 */

/** One region as `info mtree` lists it. */
export interface MtreeRegion {
  readonly base: number;
  readonly length: number;
  readonly name: string;
  /** QEMU's region kind: `ram`, `rom` or `i/o` (a device). */
  readonly kind?: 'ram' | 'rom' | 'i/o';
}

export interface MtreeView {
  /** Guest RAM below 4 GiB in bytes (QEMU's `pc.ram`, aliased as `ram-below-4g`). */
  readonly ramBytes: number;
  /** Device regions on the memory bus (MMIO), in any order. */
  readonly mmio: readonly MtreeRegion[];
  /** Device regions on the port bus, in any order. */
  readonly pio: readonly MtreeRegion[];
}

const h16 = (n: number | bigint): string => BigInt(n).toString(16).padStart(16, '0');
const span = (base: number | bigint, length: number | bigint): string =>
  `${h16(base)}-${h16(BigInt(base) + BigInt(length) - 1n)}`;

function line(depth: number, r: MtreeRegion, extra = ''): string {
  return `${'  '.repeat(depth)}${span(r.base, r.length)} (prio 0, ${r.kind ?? 'i/o'}): ${extra}${r.name}`;
}

const byBase = (rs: readonly MtreeRegion[]) => [...rs].sort((a, b) => a.base - b.base);

/** The text QEMU 7.2 prints for `info mtree` (address spaces `memory` and `I/O`, then `pc.ram`). */
export function formatMtree(view: MtreeView): string {
  const ram = span(0, view.ramBytes);
  const out = [
    'address-space: memory',
    '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
    `    ${ram} (prio 0, ram): alias ram-below-4g @pc.ram ${ram}`,
    ...byBase(view.mmio).map((r) => line(2, r)),
    '',
    'address-space: I/O',
    '  0000000000000000-000000000000ffff (prio 0, i/o): io',
    ...byBase(view.pio).map((r) => line(2, r)),
    '',
    'memory-region: pc.ram',
    `  ${ram} (prio 0, ram): pc.ram`,
  ];
  return out.join('\n');
}
