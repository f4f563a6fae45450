/**
 * The `pc` machine's ACPI tables, like QEMU's hw/i386/acpi-build.c for the i440FX board: a FADT over
 * the PIIX4 PM I/O block (PM1a event/control, PM timer) with SCI on IRQ 9, ACPI enable/disable through
 * the APM command port 0xB2, the PIIX reset register 0xCF9; a DSDT with \_S5 (the sleep type the PM
 * device treats as soft-off) and the PCI host bridge PCI0 (PNP0A03, _BBN, _CRS with bus 0, the
 * configuration ports, the I/O and memory windows), so Linux keeps finding PCI through ACPI; a MADT
 * only when the machine has a local APIC and I/O APIC (`kernel_irqchip=on`).
 *
 * The tables are one blob at {@link PC_ACPI.TABLES_ADDR} in the BIOS area, which the e820 map marks as
 * ACPI; the RSDP starts it, 16-byte aligned, where Linux scans (0xE0000-0xFFFFF).
 */
import { AcpiPmRegs } from '@typevisor/devices';
import * as aml from './aml.js';
import {
  BOOT_ARCH,
  dsdt,
  FACS_LENGTH,
  FADT_FLAG,
  facs,
  fadt,
  MADT,
  madt,
  RSDP_LENGTH,
  rsdp,
  rsdt,
  xsdt,
} from './tables.js';

/** Where the pc machine's ACPI hardware and tables are. */
export const PC_ACPI = {
  /** PMBA: the PIIX4 PM I/O block, at SeaBIOS's and QEMU's 0x600. */
  PM_BASE: 0x600,
  /** APM control (SMI command) and status ports. */
  SMI_CMD: 0xb2,
  SCI_IRQ: 9,
  /** PIIX reset control register and the value that resets the system (SYS_RST | RST_CPU). */
  RESET_PORT: 0xcf9,
  RESET_VALUE: 0x06,
  /** CMOS index of the century byte (the PC CMOS layout's 0x32). */
  RTC_CENTURY: 0x32,
  /** The blob: RSDP first, then the tables; e820 marks [TABLES_ADDR, TABLES_ADDR + TABLES_AREA) ACPI. */
  TABLES_ADDR: 0xe0000,
  TABLES_AREA: 0x10000,
  LOCAL_APIC_ADDR: 0xfee0_0000,
  IO_APIC_ADDR: 0xfec0_0000,
  /** ISA IRQs the PCI INTx lines are routed to (level-triggered, active high on this board). */
  PCI_IRQ_MASK: (1 << 5) | (1 << 9) | (1 << 10) | (1 << 11),
} as const;

export interface PcAcpiOptions {
  readonly cpus: number;
  /** `kernel_irqchip=on`: LAPIC + IOAPIC, so a MADT; else only the 8259 pair and no MADT. */
  readonly apic: boolean;
  /** The PCI memory window below 4 GiB the board decodes for BARs. */
  readonly pciMmio: { readonly base: number; readonly end: number };
}

export interface AcpiBlob {
  /** Guest-physical address of {@link AcpiBlob.bytes}; the RSDP is at its start. */
  readonly addr: number;
  readonly bytes: Uint8Array;
  readonly rsdpAddr: number;
  /** Where each table is (by signature), for tests and `iasl`. */
  readonly tables: ReadonlyMap<string, { readonly addr: number; readonly bytes: Uint8Array }>;
}

/** The DSDT's AML: \_SB.PCI0 and \_S5. */
export function pcDsdtAml(o: Pick<PcAcpiOptions, 'pciMmio'>): Uint8Array {
  const producer = aml.RES.MIN_FIXED | aml.RES.MAX_FIXED;
  const crs = aml.resourceTemplate([
    aml.wordAddressSpace({ type: aml.RES.TYPE_BUS, flags: producer, typeFlags: 0, min: 0, max: 0xff }),
    aml.ioPort(0xcf8, 0xcf8, 1, 8),
    aml.wordAddressSpace({
      type: aml.RES.TYPE_IO,
      flags: producer,
      typeFlags: aml.RES.IO_ENTIRE_RANGE,
      min: 0x0000,
      max: 0x0cf7,
    }),
    aml.wordAddressSpace({
      type: aml.RES.TYPE_IO,
      flags: producer,
      typeFlags: aml.RES.IO_ENTIRE_RANGE,
      min: 0x0d00,
      max: 0xffff,
    }),
    // The legacy VGA window, then the 32-bit PCI hole.
    aml.dwordAddressSpace({
      type: aml.RES.TYPE_MEMORY,
      flags: producer,
      typeFlags: aml.RES.MEM_READ_WRITE | aml.RES.MEM_CACHEABLE,
      min: 0x000a_0000,
      max: 0x000b_ffff,
    }),
    aml.dwordAddressSpace({
      type: aml.RES.TYPE_MEMORY,
      flags: producer,
      typeFlags: aml.RES.MEM_READ_WRITE,
      min: o.pciMmio.base,
      max: o.pciMmio.end - 1,
    }),
  ]);
  const s5 = AcpiPmRegs.SLP_TYP_S5;
  return aml.concat(
    aml.scope('\\_SB', [
      aml.device('PCI0', [
        aml.name('_HID', aml.integer(aml.eisaId('PNP0A03'))),
        aml.name('_ADR', aml.integer(0)),
        aml.name('_UID', aml.integer(0)),
        aml.name('_BBN', aml.integer(0)),
        aml.name('_CRS', crs),
      ]),
    ]),
    // \_S5: SLP_TYPa, SLP_TYPb and two reserved values, as QEMU's Package (0x04) { Zero, Zero, Zero, Zero }.
    aml.name('\\_S5', aml.pkg([aml.integer(s5), aml.integer(s5), aml.integer(0), aml.integer(0)])),
  );
}

/** The pc machine's tables at {@link PC_ACPI.TABLES_ADDR}: RSDP, FACS, DSDT, FADT, [MADT], RSDT, XSDT. */
export function buildPcAcpi(o: PcAcpiOptions): AcpiBlob {
  const base = PC_ACPI.TABLES_ADDR;
  const parts: Uint8Array[] = [];
  const tables = new Map<string, { addr: number; bytes: Uint8Array }>();
  let cursor = base + RSDP_LENGTH;
  const place = (signature: string, bytes: Uint8Array, align: number): number => {
    const addr = Math.ceil(cursor / align) * align;
    if (addr > cursor) parts.push(new Uint8Array(addr - cursor));
    parts.push(bytes);
    tables.set(signature, { addr, bytes });
    cursor = addr + bytes.length;
    return addr;
  };
  const facsAddr = place('FACS', facs(), FACS_LENGTH);
  const dsdtAddr = place('DSDT', dsdt(pcDsdtAml(o)), 16);
  const pm = PC_ACPI.PM_BASE;
  const fadtAddr = place(
    'FACP',
    fadt({
      facs: facsAddr,
      dsdt: dsdtAddr,
      sciIrq: PC_ACPI.SCI_IRQ,
      smiCmd: PC_ACPI.SMI_CMD + AcpiPmRegs.APM_CNT_OFFSET,
      acpiEnable: AcpiPmRegs.ACPI_ENABLE_CMD,
      acpiDisable: AcpiPmRegs.ACPI_DISABLE_CMD,
      pm1aEvt: pm + AcpiPmRegs.PM1_STS_OFFSET,
      pm1aCnt: pm + AcpiPmRegs.PM1_CNT_OFFSET,
      pmTmr: pm + AcpiPmRegs.PM_TMR_OFFSET,
      century: PC_ACPI.RTC_CENTURY,
      bootArch: BOOT_ARCH.LEGACY_DEVICES | BOOT_ARCH.I8042,
      flags:
        FADT_FLAG.WBINVD |
        FADT_FLAG.PROC_C1 |
        FADT_FLAG.SLP_BUTTON |
        FADT_FLAG.RTC_S4 |
        FADT_FLAG.RESET_REG_SUP,
      reset: { port: PC_ACPI.RESET_PORT, value: PC_ACPI.RESET_VALUE },
    }),
    16,
  );
  const entries = [fadtAddr];
  if (o.apic) {
    // No IRQ0 -> GSI2 override: the VMM keeps KVM's default GSI routing (kvm_setup_default_irq_routing),
    // where the PIT's GSI 0 is I/O APIC pin 0 (QEMU gives the override only after rerouting GSI 0 to pin 2).
    const overrides: { irq: number; gsi: number; flags: number }[] = [];
    for (let irq = 1; irq < 16; irq++)
      if (PC_ACPI.PCI_IRQ_MASK & (1 << irq)) overrides.push({ irq, gsi: irq, flags: MADT.ACTIVE_HIGH_LEVEL });
    entries.push(
      place(
        'APIC',
        madt({
          localApicAddress: PC_ACPI.LOCAL_APIC_ADDR,
          cpus: o.cpus,
          ioApic: { id: 0, address: PC_ACPI.IO_APIC_ADDR, gsiBase: 0 },
          overrides,
          nmiLint: 1,
        }),
        16,
      ),
    );
  }
  const rsdtAddr = place('RSDT', rsdt(entries), 16);
  const xsdtAddr = place('XSDT', xsdt(entries), 16);
  const head = rsdp(rsdtAddr, xsdtAddr);
  tables.set('RSDP', { addr: base, bytes: head });
  const bytes = aml.concat(head, ...parts);
  if (bytes.length > PC_ACPI.TABLES_AREA) throw new Error('ACPI tables exceed their area');
  return { addr: base, bytes, rsdpAddr: base, tables };
}
