// Structure checked against ACPI 6.5 section 5.2: RSDP (5.2.5.3, both checksums), the table header
// (5.2.6), RSDT/XSDT pointers, FADT Table 5.9 offsets, FACS alignment (5.2.10), MADT (5.2.12).
import { AcpiPmRegs } from '@typevisor/devices';
import { describe, expect, it } from 'vitest';
import { buildPcAcpi, PC_ACPI } from './pc.js';
import { checksum8, FADT, FADT_FLAG, MADT } from './tables.js';

const PCI = { base: 0xe000_0000, end: 0xfec0_0000 };

function build(apic: boolean, cpus = 1) {
  const b = buildPcAcpi({ cpus, apic, pciMmio: PCI });
  /** The bytes at guest-physical `addr`, as the guest sees the blob. */
  const at = (addr: number, length: number) => b.bytes.subarray(addr - b.addr, addr - b.addr + length);
  const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset);
  const u32 = (addr: number) => dv.getUint32(addr - b.addr, true);
  const u64 = (addr: number) => u32(addr) + u32(addr + 4) * 2 ** 32;
  const sig = (addr: number) => String.fromCharCode(...at(addr, 4));
  const table = (addr: number) => at(addr, u32(addr + 4));
  return { b, at, u32, u64, sig, table };
}

describe('pc ACPI tables', () => {
  it('puts a revision 2 RSDP, 16-byte aligned in the BIOS area, with valid 20- and 36-byte checksums', () => {
    const { b, at, u32 } = build(false);
    expect(b.rsdpAddr % 16).toBe(0);
    expect(b.rsdpAddr).toBeGreaterThanOrEqual(0xe0000);
    expect(b.rsdpAddr + 36).toBeLessThanOrEqual(0x100000);
    const r = at(b.rsdpAddr, 36);
    expect(String.fromCharCode(...r.subarray(0, 8))).toBe('RSD PTR ');
    expect(r[15]).toBe(2);
    expect(checksum8(r.subarray(0, 20))).toBe(0);
    expect(checksum8(r)).toBe(0);
    expect(u32(b.rsdpAddr + 20)).toBe(36);
    expect(b.bytes.length).toBeLessThanOrEqual(PC_ACPI.TABLES_AREA);
  });

  it('every table checksums to zero and RSDT and XSDT list the same tables', () => {
    for (const apic of [false, true]) {
      const { b, u32, u64, sig, table } = build(apic);
      const rsdt = u32(b.rsdpAddr + 16);
      const xsdt = u64(b.rsdpAddr + 24);
      expect([sig(rsdt), sig(xsdt)]).toEqual(['RSDT', 'XSDT']);
      const rEntries = (u32(rsdt + 4) - 36) / 4;
      const xEntries = (u32(xsdt + 4) - 36) / 8;
      expect(rEntries).toBe(xEntries);
      const listed: string[] = [];
      for (let i = 0; i < rEntries; i++) {
        expect(u64(xsdt + 36 + 8 * i)).toBe(u32(rsdt + 36 + 4 * i));
        listed.push(sig(u32(rsdt + 36 + 4 * i)));
      }
      expect(listed).toEqual(apic ? ['FACP', 'APIC'] : ['FACP']);
      for (const [name, t] of b.tables) {
        if (name === 'RSDP' || name === 'FACS') continue; // own checksums / none
        expect(checksum8(table(t.addr)), name).toBe(0);
        expect(table(t.addr).length, name).toBe(t.bytes.length);
      }
    }
  });

  it('FADT describes the PIIX4 PM block at 0x600, SCI 9, APM enable, the 0xCF9 reset and the DSDT', () => {
    const { b, at, u32, u64, sig } = build(false);
    const f = b.tables.get('FACP')!.addr;
    const byte = (o: number) => at(f + o, 1)[0]!;
    const u16 = (o: number) => byte(o) | (byte(o + 1) << 8);
    expect(byte(8)).toBe(FADT.REVISION);
    expect(u32(f + 4)).toBe(FADT.LENGTH);
    expect(u16(FADT.SCI_INT)).toBe(9);
    expect(u32(f + FADT.SMI_CMD)).toBe(0xb2);
    expect([byte(FADT.ACPI_ENABLE), byte(FADT.ACPI_DISABLE)]).toEqual([
      AcpiPmRegs.ACPI_ENABLE_CMD,
      AcpiPmRegs.ACPI_DISABLE_CMD,
    ]);
    expect(u32(f + FADT.PM1A_EVT_BLK)).toBe(0x600);
    expect(u32(f + FADT.PM1A_CNT_BLK)).toBe(0x600 + AcpiPmRegs.PM1_CNT_OFFSET);
    expect(u32(f + FADT.PM_TMR_BLK)).toBe(0x600 + AcpiPmRegs.PM_TMR_OFFSET);
    expect([byte(FADT.PM1_EVT_LEN), byte(FADT.PM1_CNT_LEN), byte(FADT.PM_TMR_LEN)]).toEqual([4, 2, 4]);
    const flags = u32(f + FADT.FLAGS);
    expect(flags & FADT_FLAG.RESET_REG_SUP).toBeTruthy();
    expect(flags & FADT_FLAG.TMR_VAL_EXT).toBe(0); // the device's timer is 24-bit
    // Reset register: SystemIO, 8 bits, byte access, port 0xCF9, value 6 (SYS_RST | RST_CPU).
    expect([...at(f + FADT.RESET_REG, 4)]).toEqual([1, 8, 0, 1]);
    expect(u64(f + FADT.RESET_REG + 4)).toBe(0xcf9);
    expect(byte(FADT.RESET_VALUE)).toBe(6);
    // The DSDT and FACS pointers, 32- and 64-bit, agree.
    const dsdt = u32(f + FADT.DSDT);
    expect(u64(f + FADT.X_DSDT)).toBe(dsdt);
    expect(sig(dsdt)).toBe('DSDT');
    const facs = u32(f + FADT.FIRMWARE_CTRL);
    expect(u64(f + FADT.X_FIRMWARE_CTRL)).toBe(facs);
    expect(sig(facs)).toBe('FACS');
    expect(facs % 64).toBe(0);
    // X_PM1a_CNT_BLK: SystemIO, 16 bits wide, at the same port.
    expect([...at(f + FADT.X_PM1A_CNT_BLK, 2)]).toEqual([1, 16]);
    expect(u64(f + FADT.X_PM1A_CNT_BLK + 4)).toBe(0x604);
  });

  it('the DSDT holds \\_S5 with the sleep type the PM device treats as soft-off, and PCI0', () => {
    const { b, table } = build(false);
    const d = table(b.tables.get('DSDT')!.addr);
    const s5 = [0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04];
    const i = Buffer.from(d).indexOf(Buffer.from(s5));
    expect(i).toBeGreaterThan(36);
    expect(d[i + s5.length]).toBe(AcpiPmRegs.SLP_TYP_S5); // ZeroOp: SLP_TYPa = 0
    expect(Buffer.from(d).indexOf(Buffer.from('PCI0'))).toBeGreaterThan(36);
    expect(Buffer.from(d).indexOf(Buffer.from([0x0c, 0x41, 0xd0, 0x0a, 0x03]))).toBeGreaterThan(36); // PNP0A03
  });

  it('a MADT only with the in-kernel irqchip: a LAPIC per vCPU, the IOAPIC, level overrides for PCI IRQs', () => {
    expect(build(false).b.tables.has('APIC')).toBe(false);
    const { b, at, u32 } = build(true, 2);
    const m = b.tables.get('APIC')!.addr;
    expect(u32(m + 36)).toBe(0xfee0_0000);
    expect(u32(m + 40)).toBe(MADT.PCAT_COMPAT);
    const entries: number[][] = [];
    for (let o = m + 44; o < m + u32(m + 4); ) {
      const len = at(o + 1, 1)[0]!;
      entries.push([...at(o, len)]);
      o += len;
    }
    expect(entries.map((e) => e[0])).toEqual([0, 0, 1, 2, 2, 2, 2, 4]);
    expect(entries[1]).toEqual([0, 8, 1, 1, 1, 0, 0, 0]); // CPU 1: UID 1, APIC ID 1, enabled
    expect(entries[2]).toEqual([1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0]); // IOAPIC 0 at 0xFEC00000, GSI 0
    expect(entries.filter((e) => e[0] === 2).map((e) => [e[3], e[4], e[8]])).toEqual([
      [5, 5, 0x0d],
      [9, 9, 0x0d],
      [10, 10, 0x0d],
      [11, 11, 0x0d],
    ]);
    expect(entries[7]).toEqual([4, 6, 0xff, 0, 0, 1]); // NMI on LINT1 of every LAPIC
  });
});
