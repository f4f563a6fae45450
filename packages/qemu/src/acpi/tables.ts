/**
 * ACPI system description tables as bytes: the common header and checksum, RSDP, RSDT, XSDT, FADT
 * (revision 3, the ACPI 2.0 layout with the 64-bit X_ fields and the reset register), FACS, DSDT and
 * MADT. Layouts from the ACPI 6.5 specification, chapter 5.2 "ACPI System Description Tables":
 * 5.2.5 RSDP, 5.2.6 header, 5.2.7 RSDT, 5.2.8 XSDT, 5.2.9 FADT (Table 5.9), 5.2.10 FACS,
 * 5.2.12 MADT, 5.2.3.2 Generic Address Structure.
 */
import { concat } from './aml.js';

/** Who made the tables (header OEM fields). */
export const OEM = {
  ID: 'TVISOR',
  TABLE_ID: 'TVPC',
  CREATOR_ID: 'TVSR',
  REVISION: 1,
  CREATOR_REVISION: 1,
} as const;

export const HEADER_LENGTH = 36;

/** The 8-bit sum of `bytes` (a table is valid when its sum is 0). */
export function checksum8(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

function ascii(out: Uint8Array, offset: number, text: string, width: number): void {
  for (let k = 0; k < width; k++) out[offset + k] = k < text.length ? text.charCodeAt(k) : 0x20;
}

/** Writes a table's checksum byte at `offset` so the 8-bit sum of `table` (or its first `length` bytes) is 0. */
export function fixChecksum(table: Uint8Array, offset: number, length = table.length): void {
  table[offset] = 0;
  table[offset] = (256 - checksum8(table.subarray(0, length))) & 0xff;
}

/** A table with the standard header (5.2.6) around `body`, checksummed. */
export function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const t = new Uint8Array(HEADER_LENGTH + body.length);
  const dv = new DataView(t.buffer);
  ascii(t, 0, signature, 4);
  dv.setUint32(4, t.length, true);
  t[8] = revision;
  ascii(t, 10, OEM.ID, 6);
  ascii(t, 16, OEM.TABLE_ID + signature, 8);
  dv.setUint32(24, OEM.REVISION, true);
  ascii(t, 28, OEM.CREATOR_ID, 4);
  dv.setUint32(32, OEM.CREATOR_REVISION, true);
  t.set(body, HEADER_LENGTH);
  fixChecksum(t, 9);
  return t;
}

/** RSDP (5.2.5.3), revision 2: 36 bytes, the first 20 with the ACPI 1.0 checksum, all 36 with the extended one. */
export const RSDP_LENGTH = 36;
export function rsdp(rsdtAddr: number, xsdtAddr: number): Uint8Array {
  const t = new Uint8Array(RSDP_LENGTH);
  const dv = new DataView(t.buffer);
  ascii(t, 0, 'RSD PTR ', 8);
  ascii(t, 9, OEM.ID, 6);
  t[15] = 2;
  dv.setUint32(16, rsdtAddr, true);
  dv.setUint32(20, RSDP_LENGTH, true);
  setU64(dv, 24, xsdtAddr);
  fixChecksum(t, 8, 20);
  fixChecksum(t, 32, RSDP_LENGTH);
  return t;
}

function setU64(dv: DataView, offset: number, value: number): void {
  dv.setUint32(offset, value >>> 0, true);
  dv.setUint32(offset + 4, Math.floor(value / 2 ** 32), true);
}

/** RSDT (5.2.7): 32-bit pointers to the other tables (not the FACS or DSDT). */
export function rsdt(entries: readonly number[]): Uint8Array {
  const body = new Uint8Array(entries.length * 4);
  const dv = new DataView(body.buffer);
  for (const [i, a] of entries.entries()) dv.setUint32(i * 4, a, true);
  return sdt('RSDT', 1, body);
}

/** XSDT (5.2.8): the same pointers, 64-bit. */
export function xsdt(entries: readonly number[]): Uint8Array {
  const body = new Uint8Array(entries.length * 8);
  const dv = new DataView(body.buffer);
  for (const [i, a] of entries.entries()) setU64(dv, i * 8, a);
  return sdt('XSDT', 1, body);
}

/** Generic Address Structure (5.2.3.2) address space IDs and access sizes. */
export const GAS = {
  SYSTEM_MEMORY: 0,
  SYSTEM_IO: 1,
  ACCESS_BYTE: 1,
  ACCESS_WORD: 2,
  ACCESS_DWORD: 3,
} as const;
export interface GenericAddress {
  readonly space: number;
  readonly bitWidth: number;
  readonly accessSize: number;
  readonly address: number;
}
const NO_ADDRESS: GenericAddress = { space: 0, bitWidth: 0, accessSize: 0, address: 0 };

function setGas(dv: DataView, offset: number, g: GenericAddress): void {
  dv.setUint8(offset, g.space);
  dv.setUint8(offset + 1, g.bitWidth);
  dv.setUint8(offset + 2, 0);
  dv.setUint8(offset + 3, g.accessSize);
  setU64(dv, offset + 4, g.address);
}

/** FADT field offsets (Table 5.9) used by the builder and the tests. */
export const FADT = {
  FIRMWARE_CTRL: 36,
  DSDT: 40,
  INT_MODEL: 44,
  SCI_INT: 46,
  SMI_CMD: 48,
  ACPI_ENABLE: 52,
  ACPI_DISABLE: 53,
  PM1A_EVT_BLK: 56,
  PM1A_CNT_BLK: 64,
  PM_TMR_BLK: 76,
  GPE0_BLK: 80,
  PM1_EVT_LEN: 88,
  PM1_CNT_LEN: 89,
  PM_TMR_LEN: 91,
  P_LVL2_LAT: 96,
  P_LVL3_LAT: 98,
  CENTURY: 108,
  IAPC_BOOT_ARCH: 109,
  FLAGS: 112,
  RESET_REG: 116,
  RESET_VALUE: 128,
  X_FIRMWARE_CTRL: 132,
  X_DSDT: 140,
  X_PM1A_EVT_BLK: 148,
  X_PM1B_EVT_BLK: 160,
  X_PM1A_CNT_BLK: 172,
  X_PM1B_CNT_BLK: 184,
  X_PM2_CNT_BLK: 196,
  X_PM_TMR_BLK: 208,
  X_GPE0_BLK: 220,
  X_GPE1_BLK: 232,
  LENGTH: 244,
  REVISION: 3,
} as const;

/** FADT Flags (Table 5.10) and IA-PC boot architecture flags (Table 5.11). */
export const FADT_FLAG = {
  WBINVD: 1 << 0,
  PROC_C1: 1 << 2,
  SLP_BUTTON: 1 << 5,
  RTC_S4: 1 << 7,
  TMR_VAL_EXT: 1 << 8,
  RESET_REG_SUP: 1 << 10,
} as const;
export const BOOT_ARCH = { LEGACY_DEVICES: 1 << 0, I8042: 1 << 1 } as const;

export interface FadtOptions {
  readonly facs: number;
  readonly dsdt: number;
  readonly sciIrq: number;
  /** SMI command port (0: ACPI is always enabled, no SCI_EN handshake). */
  readonly smiCmd: number;
  readonly acpiEnable: number;
  readonly acpiDisable: number;
  /** PM1a event block (PM1_STS + PM1_EN, 4 bytes), control block (2 bytes), PM timer (4 bytes). */
  readonly pm1aEvt: number;
  readonly pm1aCnt: number;
  readonly pmTmr: number;
  /** CMOS index of the century byte (0: none). */
  readonly century: number;
  readonly bootArch: number;
  readonly flags: number;
  readonly reset: { readonly port: number; readonly value: number } | undefined;
}

/** FADT revision 3 (ACPI 2.0 layout, 244 bytes): legacy 32-bit fields and their X_ twins agree. */
export function fadt(o: FadtOptions): Uint8Array {
  const body = new Uint8Array(FADT.LENGTH - HEADER_LENGTH);
  const dv = new DataView(body.buffer);
  const at = (offset: number) => offset - HEADER_LENGTH;
  dv.setUint32(at(FADT.FIRMWARE_CTRL), o.facs, true);
  dv.setUint32(at(FADT.DSDT), o.dsdt, true);
  dv.setUint8(at(FADT.INT_MODEL), 1); // ACPI 1.0 compatibility ("dual PIC"), ignored since 2.0
  dv.setUint16(at(FADT.SCI_INT), o.sciIrq, true);
  dv.setUint32(at(FADT.SMI_CMD), o.smiCmd, true);
  dv.setUint8(at(FADT.ACPI_ENABLE), o.acpiEnable);
  dv.setUint8(at(FADT.ACPI_DISABLE), o.acpiDisable);
  dv.setUint32(at(FADT.PM1A_EVT_BLK), o.pm1aEvt, true);
  dv.setUint32(at(FADT.PM1A_CNT_BLK), o.pm1aCnt, true);
  dv.setUint32(at(FADT.PM_TMR_BLK), o.pmTmr, true);
  dv.setUint8(at(FADT.PM1_EVT_LEN), 4);
  dv.setUint8(at(FADT.PM1_CNT_LEN), 2);
  dv.setUint8(at(FADT.PM_TMR_LEN), 4);
  // C2/C3 latencies above 100/1000 us: those states are not supported.
  dv.setUint16(at(FADT.P_LVL2_LAT), 0x0fff, true);
  dv.setUint16(at(FADT.P_LVL3_LAT), 0x0fff, true);
  dv.setUint8(at(FADT.CENTURY), o.century);
  dv.setUint16(at(FADT.IAPC_BOOT_ARCH), o.bootArch, true);
  dv.setUint32(at(FADT.FLAGS), o.flags, true);
  if (o.reset !== undefined) {
    setGas(dv, at(FADT.RESET_REG), {
      space: GAS.SYSTEM_IO,
      bitWidth: 8,
      accessSize: GAS.ACCESS_BYTE,
      address: o.reset.port,
    });
    dv.setUint8(at(FADT.RESET_VALUE), o.reset.value);
  }
  setU64(dv, at(FADT.X_FIRMWARE_CTRL), o.facs);
  setU64(dv, at(FADT.X_DSDT), o.dsdt);
  const io = (address: number, bytes: number): GenericAddress =>
    address === 0 ? NO_ADDRESS : { space: GAS.SYSTEM_IO, bitWidth: bytes * 8, accessSize: 0, address };
  setGas(dv, at(FADT.X_PM1A_EVT_BLK), io(o.pm1aEvt, 4));
  setGas(dv, at(FADT.X_PM1A_CNT_BLK), io(o.pm1aCnt, 2));
  setGas(dv, at(FADT.X_PM_TMR_BLK), io(o.pmTmr, 4));
  return sdt('FACP', FADT.REVISION, body);
}

/** FACS (5.2.10): 64 bytes, 64-byte aligned, no checksum; hardware signature 0, no wake vector. */
export const FACS_LENGTH = 64;
export function facs(): Uint8Array {
  const t = new Uint8Array(FACS_LENGTH);
  ascii(t, 0, 'FACS', 4);
  new DataView(t.buffer).setUint32(4, FACS_LENGTH, true);
  t[32] = 2; // version (ACPI 2.0 layout with X_Firmware_Waking_Vector)
  return t;
}

/** DSDT (5.2.11.1) around an AML TermList. Revision 1: integers are 32-bit, as QEMU's pc DSDT. */
export function dsdt(aml: Uint8Array): Uint8Array {
  return sdt('DSDT', 1, aml);
}

/** MADT (5.2.12) entry types and flags. */
export const MADT = {
  LOCAL_APIC: 0,
  IO_APIC: 1,
  INTERRUPT_OVERRIDE: 2,
  LOCAL_APIC_NMI: 4,
  PCAT_COMPAT: 1,
  LAPIC_ENABLED: 1,
  /** MPS INTI flags: polarity active high (01), trigger level (11 << 2). */
  ACTIVE_HIGH_LEVEL: 0x000d,
  REVISION: 1,
} as const;

export interface MadtOptions {
  readonly localApicAddress: number;
  readonly cpus: number;
  readonly ioApic: { readonly id: number; readonly address: number; readonly gsiBase: number };
  readonly overrides: readonly { readonly irq: number; readonly gsi: number; readonly flags: number }[];
  /** LINT pin of every processor's LAPIC the NMI is wired to (QEMU: LINT1). */
  readonly nmiLint: number;
}

/** MADT with one Processor Local APIC per vCPU, the I/O APIC, ISA overrides and the LAPIC NMI. */
export function madt(o: MadtOptions): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(8);
  new DataView(head.buffer).setUint32(0, o.localApicAddress, true);
  new DataView(head.buffer).setUint32(4, MADT.PCAT_COMPAT, true);
  parts.push(head);
  for (let i = 0; i < o.cpus; i++) {
    const e = Uint8Array.of(MADT.LOCAL_APIC, 8, i, i, 0, 0, 0, 0);
    new DataView(e.buffer).setUint32(4, MADT.LAPIC_ENABLED, true);
    parts.push(e);
  }
  const io = new Uint8Array(12);
  const iv = new DataView(io.buffer);
  io.set([MADT.IO_APIC, 12, o.ioApic.id, 0]);
  iv.setUint32(4, o.ioApic.address, true);
  iv.setUint32(8, o.ioApic.gsiBase, true);
  parts.push(io);
  for (const ov of o.overrides) {
    const e = new Uint8Array(10);
    const ev = new DataView(e.buffer);
    e.set([MADT.INTERRUPT_OVERRIDE, 10, 0 /* ISA */, ov.irq]);
    ev.setUint32(4, ov.gsi, true);
    ev.setUint16(8, ov.flags, true);
    parts.push(e);
  }
  // All processors (UID 0xFF), flags 0 (conforms to the bus), LINT#.
  parts.push(Uint8Array.of(MADT.LOCAL_APIC_NMI, 6, 0xff, 0, 0, o.nmiLint));
  return sdt('APIC', MADT.REVISION, concat(...parts));
}
