import {
  AcpiPm,
  AcpiPmRegs,
  ApmControl,
  I8042,
  type Mc146818,
  type PicPair,
  type Pit8254,
  Piix4PowerManagement,
  PciRegs,
  SystemControlPortA,
  type Uart16550,
} from '@typevisor/devices';
import type { Kvm, KvmHost, Vcpu, Vm } from '@typevisor/kvm';
import {
  type ByteSink,
  type ByteSource,
  type Clock,
  type GuestMemory,
  type IrqLine,
  MmioBus,
  PioBus,
} from '@typevisor/memory';
import { buildPcAcpi, PC_ACPI } from '../acpi/pc.js';
import { pcE820 } from '../loaders/e820.js';
import { describeLinuxLoadError, type GuestWriter, loadLinux } from '../loaders/linux.js';
import type { VmConfig } from '../options/config.js';
import { applyEntryRegs, applyEntrySregs, cpuidHasLongMode } from './entry-state.js';
import type { ExitAction } from './exit-dispatch.js';
import { PcVga, vgaEnabled } from './vga.js';
import { PcFirmware } from './firmware.js';
import type { RtcRegs } from '@typevisor/devices';
import { formatRegisters } from '../monitor/registers.js';
import type { GuestLog } from './guest-log.js';
import { ideDrivePositions, PcIde } from './ide.js';
import { IrqCounter } from './irq-stats.js';
import { cpuSnapshot } from './monitor-target.js';
import { attachVirtioPci, PCI_MMIO_BASE, PCI_MMIO_END, PcPciBus } from './pci-bus.js';
import { noVirtioIo, VirtioDeviceSet, type VirtioIo } from './virtio-devices.js';
import type { VcpuThread } from './vcpu-thread.js';
import { planVirtio } from '../options/virtio-plan.js';

/** What the machine needs from its surroundings (the CLI, a browser page, a test). */
export interface MachineIo {
  /** COM1's transmit side (the serial console). */
  readonly serialOut: ByteSink;
  /** COM1's receive side. */
  readonly serialIn?: ByteSource;
  /** COM2..COM4 (one per further `-serial`). */
  readonly moreSerial?: readonly SerialPortIo[];
  /** `-debugcon`: bytes written to port 0xE9. */
  readonly debugConsole?: ByteSink;
  /** Virtual time for the devices: the VMM's clock (host monotonic time in the CLI). */
  readonly clock: Clock;
  /** Backends for the virtio devices (drives, netdevs, entropy, virtconsole output). */
  readonly virtio?: VirtioIo;
  /** Where `-d` log lines go (the `-D` file or stderr); without it nothing is logged. */
  readonly log?: (text: string) => void;
  /** A BIOS image: boot through firmware (firmware.ts) instead of loading Linux. */
  readonly bios?: Uint8Array;
  /** CMOS boot order for the firmware (`-boot order=`; QEMU's default "cad": disk, then CD-ROM). */
  readonly bootOrder?: readonly RtcRegs.BootDevice[];
  /** The debug console port 0x402 (SeaBIOS's log). */
  readonly debugcon?: ByteSink;
  /** The VGA BIOS SeaBIOS runs when the machine has the `std` VGA (see `DEFAULT_VGA_ROM_PATH`). */
  readonly vgaRom?: Uint8Array;
}

export { PC_IRQ, PC_PORTS, SLICE_INSTRUCTIONS } from './machine-core.js';
import {
  injectIsaInterrupts,
  type IsaDevices,
  type SerialPortIo,
  openGuestLog,
  openVmCore,
  PC_IRQ,
  PC_PORTS,
  runVcpuOnce,
  wireIsaDevices,
} from './machine-core.js';

/**
 * The `pc` machine (i440FX-era PC with the legacy devices) as one composition root, in the manner of
 * Firecracker's builder: it opens the KVM facade, maps guest RAM into a memory slot, creates the vCPU,
 * and wires each device to the port bus and its IRQ line. Devices never register themselves.
 * Interrupts go through a userspace 8259 pair injected with KVM_INTERRUPT, or with
 * `-machine kernel_irqchip=on` through the facade's in-kernel irqchip (KVM_IRQ_LINE; machine-core.ts).
 */
export class PcMachine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly ram: Uint8Array;
  readonly pio = new PioBus();
  readonly mmio = new MmioBus();
  /** The userspace 8259 pair, or null with `kernel_irqchip=on` (the facade's then). */
  readonly pic: PicPair | null;
  /** The userspace 8254, or null with `kernel_irqchip=on` (KVM_CREATE_PIT2's then). */
  readonly pit: Pit8254 | null;
  readonly rtc: Mc146818;
  readonly com1: Uart16550;
  readonly i8042: I8042;
  /** Guest RAM as the virtio devices see it (bounds-checked views of {@link PcMachine.ram}). */
  readonly memory: GuestMemory;
  /** The PCI host (0xCF8/0xCFC), i440FX, PIIX3 and the virtio-pci functions (pci-bus.ts). */
  readonly pci: PcPciBus;
  /** The virtio devices of `-device virtio-*-pci` and `-drive if=virtio` (virtio-devices.ts). */
  readonly virtio: VirtioDeviceSet;
  /** The PIIX3 IDE controller and its drives, when the command line has IDE drives (ide.ts). */
  readonly ide: PcIde | undefined;
  /** Set when the guest asked for a reset (keyboard controller, port 0x92) since the last run. */
  resetRequested = false;
  /** Set when the guest powered off (ACPI S5 through PM1a_CNT) since the last run. */
  powerOffRequested = false;
  /**
   * The ACPI PM registers (PIIX4 function 00:01.3's I/O block at PMBA, 0x600) behind the FADT the
   * `-kernel` boot gets; undefined with firmware, whose boot keeps SeaBIOS's board (see wireAcpi).
   */
  readonly acpiPm: AcpiPm | undefined;
  /** Exits handled by this VMM, by `VcpuExit` kind (like kvm_stat's userspace column). */
  readonly exitCounts = new Map<string, number>();
  /** vCPU 0's own thread (set by the VM before the first run), or null: KVM_RUN in this thread. */
  vcpuThread: VcpuThread | null = null;
  /** Rising edges on each ISA IRQ line, for `info irq`. */
  readonly irqCounts = new IrqCounter(16);
  /** The display of `-vga std` (vga.ts), or null with -nographic, -nodefaults or -vga none. */
  readonly vga: PcVga | null;
  /** QEMU's warnings for `-cpu` features the facade does not support (dropped from CPUID). */
  readonly cpuWarnings: readonly string[];
  /** `-d int,cpu_reset,guest_errors,unimp` (guest-log.ts). */
  readonly guestLog: GuestLog;
  /** Firmware boot's memory map, fw_cfg and reset state (firmware.ts), when `io.bios` is given. */
  readonly firmware: PcFirmware | undefined;
  /** The ISA devices and interrupt controller (machine-core.ts), for `info pic` and `info irq`. */
  readonly isa: IsaDevices;

  constructor(
    readonly config: VmConfig,
    readonly io: MachineIo,
    host?: KvmHost,
  ) {
    const core = openVmCore(config, host);
    this.kvm = core.kvm;
    this.vm = core.vm;
    this.vcpu = core.vcpu;
    this.ram = core.ram;
    this.memory = core.memory;
    this.cpuWarnings = core.cpuWarnings;
    this.guestLog = openGuestLog(config, io.log, this.pio, this.mmio);
    const isa = wireIsaDevices(config, io, this.pio, this.irqCounts, core);
    this.isa = isa;
    this.pic = isa.pic;
    this.pit = isa.pit;
    this.rtc = isa.rtc;
    this.com1 = isa.com1;
    const reset = { requestReset: () => (this.resetRequested = true) };
    this.i8042 = new I8042({
      irq1: this.isaIrq(PC_IRQ.KEYBOARD),
      irq12: this.isaIrq(PC_IRQ.MOUSE),
      reset,
    });

    const p = this.pio;
    p.insert(PC_PORTS.PORT_A, 1, new SystemControlPortA({ reset }), 'port92');
    p.insert(PC_PORTS.I8042_DATA, 1, this.i8042.dataPort, 'i8042-data');
    p.insert(PC_PORTS.I8042_CMD, 1, this.i8042.commandPort, 'i8042-cmd');

    const pam = { pamChanged: (i: number, v: number) => this.firmware?.memory.pamChanged(i, v) };
    this.pci = new PcPciBus(
      this.pio,
      this.mmio,
      this.isa,
      (irq) => this.isaIrq(irq),
      reset.requestReset,
      pam,
    );
    this.acpiPm = io.bios === undefined ? this.wireAcpi() : undefined;
    // `-vga std`: the card is PCI function 00:02.0, before any -device (vga.ts).
    this.vga = vgaEnabled(config) ? new PcVga(this) : null;
    this.firmware =
      io.bios === undefined
        ? undefined
        : new PcFirmware(
            {
              vm: this.vm,
              vcpu: this.vcpu,
              mmap: (n) => this.kvm.host.mmap(n),
              ram: { addr: core.ramAddr, size: config.memoryBytes },
              memory: this.memory,
              pio: this.pio,
              rtc: this.rtc,
              hostBridge: this.pci.hostBridge,
              cpus: config.smp,
              nographic: config.nographic,
              bootOrder: io.bootOrder ?? [],
              ...(io.debugcon ? { debugcon: io.debugcon } : {}),
              ...(io.vgaRom && this.vga !== null ? { vgaRom: io.vgaRom } : {}),
              graphicsWindow: this.vga !== null,
            },
            io.bios,
          );
    // Without firmware RAM is one memory slot: cut the VGA's graphics window at 0xA0000 out of it.
    if (this.firmware === undefined)
      this.vga?.decodeGraphicsWindow(this.vm, { addr: core.ramAddr, size: config.memoryBytes });
    this.virtio = new VirtioDeviceSet(planVirtio(config), io.virtio ?? noVirtioIo());
    attachVirtioPci(this.pci, this.virtio, this.memory);
    // `-drive if=ide`, `-hda`, `-hdb`, `-cdrom` (ide.ts): the controller exists when a drive asks for it.
    const ideDrives = ideDrivePositions(config.drives);
    this.ide =
      ideDrives.size === 0
        ? undefined
        : new PcIde(ideDrives, {
            pio: this.pio,
            isaIrq: (irq) => this.isaIrq(irq),
            memory: this.memory,
            pciHost: this.pci.host,
            io: io.virtio ?? noVirtioIo(),
            snapshot: config.snapshot,
          });
  }

  /**
   * QEMU's PIIX4 ACPI: function 00:01.3 with PMBA at {@link PC_ACPI.PM_BASE} and decoding on (as
   * SeaBIOS leaves it; the VMM follows the guest if it moves the block), the PM1 registers and PM timer
   * there with the SCI on IRQ 9, and the APM ports 0xB2/0xB3 whose ACPI enable/disable commands set
   * SCI_EN. Writing SLP_TYP = S5 with SLP_EN powers the machine off. Only for `-kernel` boots: with
   * PIIX4 PM present SeaBIOS would set up SMM (an SMI through 0xB2 the facade cannot deliver) and build
   * its own legacy tables, so the firmware boot keeps the board it was verified with.
   */
  private wireAcpi(): AcpiPm {
    const pm = new AcpiPm({
      clock: this.io.clock,
      sci: this.isaIrq(PC_ACPI.SCI_IRQ),
      power: { powerOff: () => (this.powerOffRequested = true) },
    });
    let base: number | null = null;
    const pio = this.pio;
    const fn = new Piix4PowerManagement({
      pmIoChanged(next) {
        if (base !== null) pio.remove(base);
        base = null;
        if (next === null) return;
        try {
          pio.insert(next, AcpiPmRegs.PM_IO_LENGTH, pm, 'acpi-pm');
          base = next;
        } catch {
          // Placed over another device: it does not decode until moved, as a conflicting BAR loses.
        }
      },
    });
    this.pci.host.attach(1, 3, fn);
    fn.configWrite(PciRegs.PIIX4_PMBA, 4, PC_ACPI.PM_BASE | 1);
    fn.configWrite(PciRegs.PIIX4_PMREGMISC, 1, PciRegs.PMREGMISC_PMIOSE);
    fn.configWrite(PciRegs.INTERRUPT_LINE, 1, PC_ACPI.SCI_IRQ);
    pio.insert(PC_ACPI.SMI_CMD, 2, new ApmControl(pm), 'apm');
    return pm;
  }

  /** ISA IRQ `irq` of the 8259 pair, counted for `info irq`. */
  isaIrq(irq: number): IrqLine {
    return this.isa.isaIrq(irq);
  }

  /** Guest memory as the loaders write it. */
  get guest(): GuestWriter {
    const ram = this.ram;
    return {
      writeBytes(gpa: number, bytes: Uint8Array): boolean {
        if (gpa < 0 || gpa + bytes.length > ram.length) return false;
        ram.set(bytes, gpa);
        return true;
      },
    };
  }

  /** Loads a Linux bzImage and points the vCPU at its 32-bit entry. Returns an error message or undefined. */
  loadLinux(kernel: Uint8Array, initrd: Uint8Array | undefined, cmdline: string): string | undefined {
    const acpi = buildPcAcpi({
      cpus: this.config.smp,
      apic: this.config.kernelIrqchip,
      pciMmio: { base: PCI_MMIO_BASE, end: PCI_MMIO_END },
    });
    const r = loadLinux(this.guest, {
      kernel,
      initrd,
      cmdline,
      ramBytes: this.config.memoryBytes,
      e820: pcE820(this.config.memoryBytes, { addr: PC_ACPI.TABLES_ADDR, size: PC_ACPI.TABLES_AREA }),
      acpi,
      // A 64-bit kernel on a vCPU with long mode enters at its 64-bit entry (boot protocol 2.12+).
      longMode: cpuidHasLongMode(this.vcpu.getCpuid2()),
    });
    if ('kind' in r) return describeLinuxLoadError(r);
    this.vga?.bootScreen(this.ram, 'Typevisor VGA: booting Linux (-kernel)');
    this.guestLog.reset(0, () =>
      formatRegisters(cpuSnapshot(0, this.vcpu.getRegs(), this.vcpu.getSregs(), false)),
    );
    this.vcpu.setSregs(applyEntrySregs(this.vcpu.getSregs(), r.entry));
    this.vcpu.setRegs(applyEntryRegs(this.vcpu.getRegs(), r.entry));
    return undefined;
  }

  /** Starts (or restarts) the firmware: PAM cleared, the vCPU at the reset vector F000:FFF0. */
  bootFirmware(): void {
    this.guestLog.reset(0, () =>
      formatRegisters(cpuSnapshot(0, this.vcpu.getRegs(), this.vcpu.getSregs(), false)),
    );
    this.firmware?.reset();
  }

  /** Before each KVM_RUN: timers, typed input, the 8259's interrupt (machine-core.ts). */
  injectInterrupts(): void {
    const vector = injectIsaInterrupts(this.isa, this.vcpu);
    if (vector >= 0) this.guestLog.hardwareInterrupt(vector);
  }

  /** One KVM_RUN and the handling of its exit (machine-core.ts), then a reset the guest asked for. */
  runOnce(): ExitAction {
    const action = runVcpuOnce(this, this.isa);
    if (this.resetRequested) {
      this.resetRequested = false;
      return { kind: 'reset', reason: 'guest reset request' };
    }
    if (this.powerOffRequested) {
      this.powerOffRequested = false;
      return { kind: 'shutdown', reason: 'guest power-off' };
    }
    return action;
  }
}
