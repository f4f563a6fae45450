/**
 * The `pc` machine's PCI side: configuration mechanism #1 at 0xCF8/0xCFC with the i440FX host bridge
 * at 00:00.0 and the PIIX3 PCI-to-ISA bridge at 00:01.0, the std VGA at 00:02.0 when there is one
 * (vga.ts), virtio-pci functions in the next free slots, and
 * INTx through PIIX3's PIRQ routing into the userspace 8259 pair. With `-kernel` there is no firmware,
 * so this module does what SeaBIOS's pciinit would: route PIRQA-D, mark those IRQs level-triggered in
 * the ELCR, place each function's BARs in the 32-bit PCI hole, enable memory decoding and fill in the
 * Interrupt Line register (which Linux reads when there is no IRQ routing table).
 */
import {
  I440fxHostBridge,
  type PamObserver,
  type PciDevice,
  PciHost,
  PciRegs,
  Piix3IsaBridge,
} from '@typevisor/devices';
import type { GuestMemory, IrqLine, MmioBus, PioBus, PioDevice } from '@typevisor/memory';
import { type RingOptions, type VirtioDevice, VirtioPciDevice } from '@typevisor/virtio';
import type { VirtioDeviceSet } from './virtio-devices.js';

/** ISA IRQs PIRQA-D are routed to (the PCI interrupt lines 5/9/10/11 of QEMU's PC board). */
export const PCI_IRQS = [10, 11, 5, 9] as const;
/** Where BARs are placed: the bottom of QEMU's 32-bit PCI hole for a guest below 3.5 GiB. */
export const PCI_MMIO_BASE = 0xe000_0000;
/** Top of the BAR window (the IOAPIC and BIOS areas start at 0xFEC00000). */
export const PCI_MMIO_END = 0xfec0_0000;
/** First slot for devices: 00.0 is the host bridge, 01.0 the ISA bridge. */
export const FIRST_DEVICE_SLOT = 2;

/** The PIRQ (0-3 = A-D) that INTx `pin` (1-4) of `slot` drives: PIIX's swizzle. */
export function pirqOf(slot: number, pin: number): number {
  return (pin - 1 + slot - 1 + 4) & 3;
}

/** Thrown for a wiring request the bus cannot satisfy (slot taken, window full). */
export class PciBusError extends Error {
  override readonly name = 'PciBusError';
}

export class PcPciBus {
  readonly host: PciHost;
  readonly hostBridge: I440fxHostBridge;
  readonly isaBridge: Piix3IsaBridge;
  readonly functions: { readonly slot: number; readonly name: string; readonly device: VirtioPciDevice }[] =
    [];
  private nextMmio = PCI_MMIO_BASE;

  constructor(
    pio: PioBus,
    private readonly mmio: MmioBus,
    /** Where the ELCR is (the userspace 8259 pair's, or the in-kernel irqchip's). */
    irqchip: { readonly elcr: PioDevice },
    isaIrq: (irq: number) => IrqLine,
    requestReset: () => void,
    /** Told when the guest reprograms the PAM registers (firmware.ts maps the segments). */
    pam?: PamObserver,
  ) {
    this.hostBridge = new I440fxHostBridge(pam);
    this.host = new PciHost({ reset: { requestReset } });
    this.isaBridge = new Piix3IsaBridge({ isaIrq });
    this.host.attach(0, 0, this.hostBridge);
    this.host.attach(1, 0, this.isaBridge);
    pio.insert(0xcf8, 8, this.host, 'pci-conf');
    // Firmware's PIRQ routing (PIRQRC at 0x60-0x63) and the matching ELCR bits: PCI INTx is level-triggered.
    let elcr = 0;
    PCI_IRQS.forEach((irq, pirq) => {
      this.isaBridge.configWrite(0x60 + pirq, 1, irq);
      elcr |= 1 << irq;
    });
    irqchip.elcr.write(0, 1, elcr & 0xff);
    irqchip.elcr.write(1, 1, elcr >>> 8);
  }

  /** The lowest free slot from {@link FIRST_DEVICE_SLOT}, or the one asked for. */
  private takeSlot(wanted: number | undefined, option: string): number {
    if (wanted !== undefined) {
      if (this.host.function(wanted, 0) !== undefined)
        throw new PciBusError(`${option}: PCI slot ${wanted} is already in use`);
      return wanted;
    }
    for (let s = FIRST_DEVICE_SLOT; s < 32; s++) if (this.host.function(s, 0) === undefined) return s;
    throw new PciBusError(`${option}: no free PCI slot (bus 0 has 32)`);
  }

  /** Puts a function other than virtio (the VGA) on the bus at `slot` or the lowest free one; returns the slot. */
  attachFunction(device: PciDevice, slot: number | undefined, option: string): number {
    const s = this.takeSlot(slot, option);
    this.host.attach(s, 0, device);
    return s;
  }

  /** A naturally aligned address for a memory BAR of `size` bytes in the PCI window, as firmware picks one. */
  allocateMmio(size: number, option: string): number {
    const addr = Math.ceil(this.nextMmio / size) * size;
    if (addr + size > PCI_MMIO_END) throw new PciBusError(`${option}: the PCI memory window is full`);
    this.nextMmio = addr + size;
    return addr;
  }

  /**
   * Puts `device` on the bus as a modern virtio-pci function, with its BARs placed and decoded and
   * its INTx routed, as firmware leaves a device for the OS.
   */
  addVirtio(
    device: VirtioDevice,
    memory: GuestMemory,
    options: { ring: RingOptions; slot: number | undefined; name: string; option: string },
  ): VirtioPciDevice {
    const slot = this.takeSlot(options.slot, options.option);
    const mapped = new Map<number, number>();
    let fn: VirtioPciDevice | undefined;
    const mmio = this.mmio;
    fn = new VirtioPciDevice(device, memory, {
      ...options.ring,
      intx: this.isaBridge.intxLine(slot, PciRegs.INTA),
      barObserver: {
        barChanged(m) {
          const old = mapped.get(m.index);
          if (old !== undefined) {
            mmio.remove(old);
            mapped.delete(m.index);
          }
          const target = fn?.barDevice(m.index);
          if (m.address === null || target === undefined) return;
          try {
            mmio.insert(m.address, m.size, target, `${options.name}-bar${m.index}`);
            mapped.set(m.index, m.address);
          } catch {
            // The guest placed the BAR over another device: it does not decode until moved, as a
            // conflicting BAR loses on real hardware.
          }
        },
      },
    });
    this.host.attach(slot, 0, fn);
    // Firmware placement: BAR 1 (MSI-X, 32-bit) and BAR 4 (virtio structures, 64-bit), naturally aligned.
    for (const bar of [1, 4]) {
      const size = fn.config.bar(bar)?.size ?? 0;
      if (size === 0) continue;
      const addr = this.allocateMmio(size, options.option);
      fn.configWrite(PciRegs.BAR0 + 4 * bar, 4, addr);
      if (bar === 4) fn.configWrite(PciRegs.BAR0 + 4 * bar + 4, 4, 0);
    }
    fn.configWrite(PciRegs.INTERRUPT_LINE, 1, PCI_IRQS[pirqOf(slot, PciRegs.INTA)]!);
    fn.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_MEMORY);
    this.functions.push({ slot, name: options.name, device: fn });
    return fn;
  }
}

/** Puts each planned virtio device on `bus` as a virtio-pci function. */
export function attachVirtioPci(bus: PcPciBus, set: VirtioDeviceSet, memory: GuestMemory): void {
  for (const d of set.devices) {
    bus.addVirtio(d.device, memory, {
      ring: d.spec.ring,
      slot: d.spec.slot,
      name: d.name,
      option: d.spec.option,
    });
  }
}
