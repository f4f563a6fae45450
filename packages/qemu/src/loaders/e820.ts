/** E820 memory-map entry types (ACPI spec, "Address Range Types"). */
export const E820 = { RAM: 1, RESERVED: 2, ACPI: 3, NVS: 4, UNUSABLE: 5 } as const;

export interface E820Entry {
  readonly addr: number;
  readonly size: number;
  readonly type: number;
}

/** End of conventional memory below the EBDA, as QEMU's pc machine reports it. */
export const LOW_RAM_END = 0x9fc00;
/** Start of the BIOS area at the top of the first megabyte. */
export const BIOS_AREA = 0xf0000;
export const HIGH_RAM_START = 0x100000;

/**
 * The e820 map of the `pc` machine for `ramBytes` of RAM (at most 3.5 GiB, below the PCI hole):
 * conventional memory, the EBDA and BIOS area reserved, RAM from 1 MiB up, and the BIOS flash at the
 * top of 4 GiB reserved. `acpi`, when given, is the RAM holding the ACPI tables (type 3, "ACPI
 * reclaimable"), below the BIOS area.
 */
export function pcE820(
  ramBytes: number,
  acpi?: { readonly addr: number; readonly size: number },
): E820Entry[] {
  return [
    { addr: 0, size: LOW_RAM_END, type: E820.RAM },
    { addr: LOW_RAM_END, size: 0xa0000 - LOW_RAM_END, type: E820.RESERVED },
    ...(acpi === undefined ? [] : [{ addr: acpi.addr, size: acpi.size, type: E820.ACPI }]),
    { addr: BIOS_AREA, size: HIGH_RAM_START - BIOS_AREA, type: E820.RESERVED },
    { addr: HIGH_RAM_START, size: ramBytes - HIGH_RAM_START, type: E820.RAM },
    { addr: 0xfffc0000, size: 0x40000, type: E820.RESERVED },
  ];
}
