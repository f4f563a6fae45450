import {
  I8042,
  Mc146818,
  PicPair,
  Pit8254,
  pcCmosLayout,
  SystemControlPortA,
  SystemControlPortB,
  Uart16550,
} from '@typevisor/devices';
import { EINTR, Kvm, KVM_RUN, KvmHost, kvm_run, type Vcpu, type Vm } from '@typevisor/kvm';
import {
  type ByteSink,
  type ByteSource,
  type Clock,
  GuestMemory,
  type IrqLine,
  MmioBus,
  PioBus,
} from '@typevisor/memory';
import { pcE820 } from '../loaders/e820.js';
import { describeLinuxLoadError, type GuestWriter, loadLinux } from '../loaders/linux.js';
import type { VmConfig } from '../options/config.js';
import { resolveCpu } from '../options/cpu-model.js';
import { withTscFrequency } from './cpuid-tsc.js';
import { applyEntryRegs, applyEntrySregs } from './entry-state.js';
import { type ExitAction, handleExit } from './exit-dispatch.js';
import { PcVga, vgaEnabled } from './vga.js';
import { formatRegisters } from '../monitor/registers.js';
import { GuestLog } from './guest-log.js';
import { ideDrivePositions, PcIde } from './ide.js';
import { IrqCounter } from './irq-stats.js';
import { cpuSnapshot } from './monitor-target.js';
import { attachVirtioPci, PcPciBus } from './pci-bus.js';
import { noVirtioIo, VirtioDeviceSet, type VirtioIo } from './virtio-devices.js';
import { planVirtio } from '../options/virtio-plan.js';

/** What the machine needs from its surroundings (the CLI, a browser page, a test). */
export interface MachineIo {
  /** COM1's transmit side (the serial console). */
  readonly serialOut: ByteSink;
  /** COM1's receive side. */
  readonly serialIn?: ByteSource;
  /** Virtual time for the devices: the VMM's clock (host monotonic time in the CLI). */
  readonly clock: Clock;
  /** Backends for the virtio devices (drives, netdevs, entropy, virtconsole output). */
  readonly virtio?: VirtioIo;
  /** Where `-d` log lines go (the `-D` file or stderr); without it nothing is logged. */
  readonly log?: (text: string) => void;
}

/** Where the legacy devices of the `pc` machine sit (ports, ISA IRQs), as on QEMU's i440FX board. */
export const PC_PORTS = {
  PIC_MASTER: 0x20,
  PIC_SLAVE: 0xa0,
  ELCR: 0x4d0,
  PIT: 0x40,
  I8042_DATA: 0x60,
  PORT_B: 0x61,
  I8042_CMD: 0x64,
  RTC: 0x70,
  PORT_A: 0x92,
  COM1: 0x3f8,
} as const;
export const PC_IRQ = { PIT: 0, KEYBOARD: 1, COM1: 4, RTC: 8, MOUSE: 12 } as const;

/**
 * Guest instructions per KVM_RUN before it returns -EINTR to let the VMM poll its devices: a few
 * milliseconds of guest time, so the userspace PIT's ticks arrive close to when they are due (Linux's
 * clocksource watchdog compares the TSC with the PIT and marks the TSC unstable when ticks run late).
 */
export const SLICE_INSTRUCTIONS = 50_000;

/**
 * The `pc` machine (i440FX-era PC with the legacy devices) as one composition root, in the manner of
 * Firecracker's builder: it opens the KVM facade, maps guest RAM into a memory slot, creates the vCPU,
 * and wires each device to the port bus and its IRQ line. Devices never register themselves.
 * Interrupts go through a userspace 8259 pair injected with KVM_INTERRUPT (no in-kernel irqchip).
 */
export class PcMachine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly ram: Uint8Array;
  readonly pio = new PioBus();
  readonly mmio = new MmioBus();
  readonly pic: PicPair;
  readonly pit: Pit8254;
  readonly rtc: Mc146818;
  readonly com1: Uart16550;
  readonly i8042: I8042;
  /** Guest RAM as the virtio devices see it (bounds-checked views of {@link PcMachine.ram}). */
  readonly memory = new GuestMemory();
  /** The PCI host (0xCF8/0xCFC), i440FX, PIIX3 and the virtio-pci functions (pci-bus.ts). */
  readonly pci: PcPciBus;
  /** The virtio devices of `-device virtio-*-pci` and `-drive if=virtio` (virtio-devices.ts). */
  readonly virtio: VirtioDeviceSet;
  /** The PIIX3 IDE controller and its drives, when the command line has IDE drives (ide.ts). */
  readonly ide: PcIde | undefined;
  /** Set when the guest asked for a reset (keyboard controller, port 0x92) since the last run. */
  resetRequested = false;
  /** Exits handled by this VMM, by `VcpuExit` kind (like kvm_stat's userspace column). */
  readonly exitCounts = new Map<string, number>();
  /** Rising edges on each ISA IRQ line, for `info irq`. */
  readonly irqCounts = new IrqCounter(16);
  /** The display of `-vga std` (vga.ts), or null with -nographic, -nodefaults or -vga none. */
  readonly vga: PcVga | null;
  /** QEMU's warnings for `-cpu` features the facade does not support (dropped from CPUID). */
  readonly cpuWarnings: readonly string[];
  /** `-d int,cpu_reset,guest_errors,unimp` (guest-log.ts). */
  readonly guestLog: GuestLog;

  constructor(
    readonly config: VmConfig,
    readonly io: MachineIo,
    host?: KvmHost,
  ) {
    // Like kvm_intel's module parameters: `-accel kvm,ept=off` runs the shadow-paging MMU. KVM_RUN
    // returns -EINTR after a slice of guest instructions (as a signal would), so the VMM's own work
    // (timers, console input, the monitor) gets its turn.
    this.kvm = Kvm.open(
      host ?? new KvmHost({ vmx: { ept: config.ept }, sliceInstructions: SLICE_INSTRUCTIONS }),
    );
    this.vm = this.kvm.createVm();
    const mapping = this.kvm.host.mmap(config.memoryBytes);
    if (mapping.addr < 0) throw new Error(`cannot allocate ${config.memoryBytes} bytes of guest RAM`);
    this.ram = mapping.bytes;
    this.vm.setUserMemoryRegion({
      slot: 0,
      guestPhysAddr: 0,
      memorySize: config.memoryBytes,
      userspaceAddr: mapping.addr,
    });
    this.vcpu = this.vm.createVcpu(0);
    // As QEMU does with -enable-kvm: the guest's CPUID is what the facade supports (-cpu host-like);
    // without KVM_SET_CPUID2 a vCPU reports no features at all (no FPU, family 4).
    // The TSC rate goes into CPUID leaves 15H/16H (see cpuid-tsc.ts), so the guest need not calibrate it.
    const tscKhz = this.vcpu.getTscKhz();
    // `-cpu` (options/cpu-model.ts): a named model is filtered against what the facade supports, with
    // QEMU's warnings; host/max (the default) are the supported CPUID, plus the TSC leaves.
    const cpu = resolveCpu(config.cpu, this.kvm.getSupportedCpuid());
    this.cpuWarnings = cpu.warnings;
    this.guestLog = new GuestLog(config.logItems, io.log);
    if (this.guestLog.guestErrors) {
      this.pio.onUnassigned = (a, size, w, v) => this.guestLog.unassigned('I/O', a, size, w, v);
      this.mmio.onUnassigned = (a, size, w, v) => this.guestLog.unassigned('memory', a, size, w, v);
    }
    const named = config.cpu.model !== 'host' && config.cpu.model !== 'max';
    this.vcpu.setCpuid2(tscKhz === null || named ? cpu.cpuid : withTscFrequency(cpu.cpuid, tscKhz));

    const clock = io.clock;
    this.pic = new PicPair({ output: { set: () => {} } }); // polled before each KVM_RUN: see injectInterrupts
    this.pit = new Pit8254({ clock, irq0: this.isaIrq(PC_IRQ.PIT) });
    this.rtc = new Mc146818({ clock, irq: this.isaIrq(PC_IRQ.RTC) });
    for (const [index, value] of pcCmosLayout({ ramBelow4G: config.memoryBytes, cpus: config.smp })) {
      this.rtc.setCmos(index, value);
    }
    this.com1 = new Uart16550({
      irq: this.isaIrq(PC_IRQ.COM1),
      output: io.serialOut,
      ...(io.serialIn ? { input: io.serialIn } : {}),
    });
    const reset = { requestReset: () => (this.resetRequested = true) };
    this.i8042 = new I8042({
      irq1: this.isaIrq(PC_IRQ.KEYBOARD),
      irq12: this.isaIrq(PC_IRQ.MOUSE),
      reset,
    });

    const p = this.pio;
    p.insert(PC_PORTS.PIC_MASTER, 2, this.pic.master, 'pic-master');
    p.insert(PC_PORTS.PIC_SLAVE, 2, this.pic.slave, 'pic-slave');
    p.insert(PC_PORTS.ELCR, 2, this.pic.elcr, 'elcr');
    p.insert(PC_PORTS.PIT, 4, this.pit, 'pit');
    p.insert(PC_PORTS.PORT_B, 1, new SystemControlPortB({ timer: this.pit, clock }), 'port61');
    p.insert(PC_PORTS.PORT_A, 1, new SystemControlPortA({ reset }), 'port92');
    p.insert(PC_PORTS.RTC, 2, this.rtc, 'rtc');
    p.insert(PC_PORTS.COM1, 8, this.com1, 'serial0');
    p.insert(PC_PORTS.I8042_DATA, 1, this.i8042.dataPort, 'i8042-data');
    p.insert(PC_PORTS.I8042_CMD, 1, this.i8042.commandPort, 'i8042-cmd');
    this.vga = vgaEnabled(config) ? new PcVga(this) : null;

    this.memory.addRegion(0, this.ram);
    this.pci = new PcPciBus(this.pio, this.mmio, this.pic, (irq) => this.isaIrq(irq), reset.requestReset);
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

  /** ISA IRQ `irq` of the 8259 pair, counted for `info irq`. */
  isaIrq(irq: number): IrqLine {
    return this.irqCounts.wrap(irq, this.pic.irqLine(irq));
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
    const r = loadLinux(this.guest, {
      kernel,
      initrd,
      cmdline,
      ramBytes: this.config.memoryBytes,
      e820: pcE820(this.config.memoryBytes),
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

  /**
   * Before each KVM_RUN: advance the timers, then inject the 8259's interrupt with KVM_INTERRUPT if
   * the guest can take it now, else ask KVM for an interrupt-window exit (as QEMU does without an
   * in-kernel irqchip).
   */
  injectInterrupts(): void {
    this.pit.poll();
    this.rtc.poll();
    this.com1.pollInput();
    const run = this.vcpu.run;
    const f = kvm_run.fields;
    const ready = run[f.ready_for_interrupt_injection.offset] === 1;
    const ifFlag = run[f.if_flag.offset] === 1;
    if (this.pic.hasInterrupt() && ready && ifFlag) {
      const vector = this.pic.acknowledge();
      this.guestLog.hardwareInterrupt(vector);
      this.vcpu.interrupt(vector);
      run[f.request_interrupt_window.offset] = 0;
    } else {
      run[f.request_interrupt_window.offset] = this.pic.hasInterrupt() ? 1 : 0;
    }
  }

  /** One KVM_RUN and the handling of its exit. */
  runOnce(): ExitAction {
    this.injectInterrupts();
    const rc = this.kvm.host.ioctl(this.vcpu.fd, KVM_RUN);
    if (rc === -EINTR) return { kind: 'continue' }; // the slice ended (KVM_EXIT_INTR)
    if (rc < 0) return { kind: 'error', message: `KVM_RUN failed with errno ${-rc}` };
    const exit = this.vcpu.exit();
    this.exitCounts.set(exit.kind, (this.exitCounts.get(exit.kind) ?? 0) + 1);
    const action = handleExit(exit, { pio: this.pio, mmio: this.mmio });
    if (exit.kind === 'Shutdown') this.guestLog.tripleFault();
    else if (exit.kind === 'Exception') this.guestLog.exception(exit.exception);
    if (action.kind === 'error') this.guestLog.unimplemented(action.message);
    if (this.resetRequested) {
      this.resetRequested = false;
      return { kind: 'reset', reason: 'guest reset request' };
    }
    return action;
  }
}
