import { type AccessSize, type IrqLine, NO_IRQ } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import { PciConfigSpace, type PciConfigSpaceState, type PciDevice } from './config-space.js';
import {
  CLASS_BRIDGE_OTHER,
  CLASS_ISA_BRIDGE,
  DEVICE_PIIX3_ISA,
  DEVICE_PIIX4_PM,
  HEADER_TYPE_MULTI_FUNCTION,
  INTA,
  PIIX_PIRQRC,
  PIIX4_PM_IO_MASK,
  PIIX4_PMBA,
  PIIX4_PMREGMISC,
  PIRQ_VALID_IRQS,
  PIRQRC_DISABLE,
  PIRQRC_IRQ_MASK,
  PMREGMISC_PMIOSE,
  VENDOR_INTEL,
} from './registers.js';

export interface Piix3Options {
  /** ISA IRQ lines (usually `pic.irqLine`); PIRQs routed by PIRQRC drive them. */
  readonly isaIrq: (irq: number) => IrqLine;
  /** Optional IOAPIC inputs: PIRQA-D also drive GSI 16-19, as on the QEMU PC with an IOAPIC. */
  readonly gsi?: (gsi: number) => IrqLine;
}

/**
 * PIIX3 function 0, the PCI-to-ISA bridge (8086:7000): PIRQA-D routing to ISA IRQs through PIRQRC
 * (0x60-0x63), with several PIRQs and devices sharing a line OR-ed together. It hands each PCI
 * function its INTx line with the board swizzle `PIRQ = (pin - 1 + slot - 1) mod 4` (as QEMU's
 * i440FX machine and SeaBIOS's routing table assume).
 */
export class Piix3IsaBridge implements PciDevice {
  readonly config: PciConfigSpace;
  /** Bit set of asserted sources per PIRQ (source = slot * 4 + pin - 1). */
  private readonly sources: Array<Set<number>> = [new Set(), new Set(), new Set(), new Set()];
  private readonly isaLevels = new Map<number, boolean>();
  private readonly gsiLevels = [false, false, false, false];
  private readonly isaIrq: (irq: number) => IrqLine;
  private readonly gsi: ((gsi: number) => IrqLine) | undefined;

  constructor(options: Piix3Options) {
    this.isaIrq = options.isaIrq;
    this.gsi = options.gsi;
    this.config = new PciConfigSpace({
      vendorId: VENDOR_INTEL,
      deviceId: DEVICE_PIIX3_ISA,
      classCode: CLASS_ISA_BRIDGE,
      headerType: HEADER_TYPE_MULTI_FUNCTION,
    });
    // The rest of the function's registers (0x4C-0xFF: IORT, XBCS, TOM, MBIRQ, APICBASE, ...) are kept
    // as plain read/write bytes: nothing behind them is modelled.
    this.config.setWritable(0x4c, 0xb4 - 0x4c);
    this.config.put(PIIX_PIRQRC, 4, 0x8080_8080);
  }

  configRead(offset: number, size: AccessSize): number {
    return this.config.configRead(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.config.configWrite(offset, size, value);
    if (offset < PIIX_PIRQRC + 4 && offset + size > PIIX_PIRQRC) this.reroute();
  }

  /** The ISA IRQ PIRQ `n` (0-3 for A-D) is routed to, or -1 when routing is disabled. */
  routedIrq(pirq: number): number {
    const v = this.config.bytes[PIIX_PIRQRC + (pirq & 3)]!;
    const irq = v & PIRQRC_IRQ_MASK;
    return v & PIRQRC_DISABLE || !(PIRQ_VALID_IRQS as readonly number[]).includes(irq) ? -1 : irq;
  }

  /** The INTx line for the function at `slot` (device number 0-31) using `pin` (1-4 = INTA-INTD). */
  intxLine(slot: number, pin: number): IrqLine {
    checkInt('PCI slot', slot, 0, 31);
    checkInt('interrupt pin', pin, 1, 4);
    const pirq = (pin - 1 + slot - 1 + 4) & 3;
    const source = slot * 4 + pin - 1;
    return {
      set: (level: boolean) => {
        const set = this.sources[pirq]!;
        if (level) set.add(source);
        else set.delete(source);
        this.reroute();
      },
    };
  }

  getState(): PciConfigSpaceState {
    return this.config.getState();
  }

  loadState(state: PciConfigSpaceState): void {
    this.config.loadState(state);
    this.reroute();
  }

  private reroute(): void {
    const want = new Map<number, boolean>();
    for (let p = 0; p < 4; p++) {
      const level = this.sources[p]!.size > 0;
      const irq = this.routedIrq(p);
      if (irq >= 0) want.set(irq, (want.get(irq) ?? false) || level);
      if (this.gsi !== undefined && level !== this.gsiLevels[p]) {
        this.gsiLevels[p] = level;
        this.gsi(16 + p).set(level);
      }
    }
    for (const [irq, level] of this.isaLevels) {
      if (level && !want.get(irq)) {
        this.isaLevels.set(irq, false);
        this.isaIrq(irq).set(false);
      }
    }
    for (const [irq, level] of want) {
      if (level && !this.isaLevels.get(irq)) {
        this.isaLevels.set(irq, true);
        this.isaIrq(irq).set(true);
      }
    }
  }
}

/** Told when the guest places or moves the ACPI PM I/O block (null = disabled). */
export interface PmIoObserver {
  pmIoChanged(base: number | null): void;
}

/**
 * PIIX4 function 3, power management (8086:7113): PMBA (0x40) and PMREGMISC.PMIOSE (0x80) place the
 * ACPI PM I/O block that {@link AcpiPm} implements; the VMM moves that device when told. Its SCI is
 * wired by the VMM (IRQ9 on the QEMU PC), not through INTx.
 */
export class Piix4PowerManagement implements PciDevice {
  readonly config: PciConfigSpace;
  private base: number | null = null;

  constructor(
    private readonly observer?: PmIoObserver,
    intx: IrqLine = NO_IRQ,
  ) {
    this.config = new PciConfigSpace({
      vendorId: VENDOR_INTEL,
      deviceId: DEVICE_PIIX4_PM,
      classCode: CLASS_BRIDGE_OTHER,
      revision: 0x03,
      interruptPin: INTA,
      intx,
    });
    this.config.put(PIIX4_PMBA, 4, 1); // I/O space indicator
    this.config.setWritable(PIIX4_PMBA, 4, PIIX4_PM_IO_MASK);
    this.config.setWritable(PIIX4_PMREGMISC, 1, PMREGMISC_PMIOSE);
    // SMBus base (0x90) and host configuration (0xD2) are accepted as plain registers.
    this.config.put(0x90, 4, 1);
    this.config.setWritable(0x90, 4, 0xfff0);
    this.config.setWritable(0xd2, 1, 0x0f);
  }

  configRead(offset: number, size: AccessSize): number {
    return this.config.configRead(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.config.configWrite(offset, size, value);
    this.update();
  }

  /** The PM I/O base now decoded, or null. */
  get pmIoBase(): number | null {
    return this.base;
  }

  getState(): PciConfigSpaceState {
    return this.config.getState();
  }

  loadState(state: PciConfigSpaceState): void {
    this.config.loadState(state);
    this.update();
  }

  private update(): void {
    const enabled = (this.config.bytes[PIIX4_PMREGMISC]! & PMREGMISC_PMIOSE) !== 0;
    const base = this.config.get(PIIX4_PMBA, 4) & PIIX4_PM_IO_MASK;
    const next = enabled && base !== 0 ? base : null;
    if (next !== this.base) {
      this.base = next;
      this.observer?.pmIoChanged(next);
    }
  }
}
