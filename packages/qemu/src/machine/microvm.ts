import type { Mc146818, PicPair, Pit8254, Uart16550 } from '@typevisor/devices';
import type { Kvm, KvmHost, Vcpu, Vm } from '@typevisor/kvm';
import { type GuestMemory, type IrqLine, MmioBus, PioBus } from '@typevisor/memory';
import { MMIO_WINDOW_SIZE, MmioTransport, virtioMmioCmdlines } from '@typevisor/virtio';
import { pcE820 } from '../loaders/e820.js';
import { describeLinuxLoadError, type GuestWriter, loadLinux } from '../loaders/linux.js';
import type { VmConfig } from '../options/config.js';
import { planVirtio } from '../options/virtio-plan.js';
import { applyEntryRegs, applyEntrySregs, cpuidHasLongMode } from './entry-state.js';
import type { ExitAction } from './exit-dispatch.js';
import type { GuestLog } from './guest-log.js';
import { IrqCounter } from './irq-stats.js';
import {
  injectIsaInterrupts,
  type IsaDevices,
  logCpuReset,
  openGuestLog,
  openVmCore,
  runVcpuOnce,
  setLevelTriggered,
  wireIsaDevices,
} from './machine-core.js';
import type { MachineIo } from './pc.js';
import { noVirtioIo, VirtioDeviceSet } from './virtio-devices.js';
import type { VcpuThread } from './vcpu-thread.js';

/** Where virtio-mmio windows start (QEMU's microvm uses the same base), one 4 KiB window each. */
export const MICROVM_MMIO_BASE = 0xfeb0_0000;
/**
 * ISA IRQs given to virtio-mmio devices in order. Without an IOAPIC only the 8259's free lines are
 * there: not 0-2, 4 (COM1) or 8 (RTC). They are marked level-triggered in the ELCR.
 */
export const MICROVM_VIRTIO_IRQS = [5, 9, 10, 11, 12, 14, 15, 3, 6, 7] as const;

/** A virtio-mmio device of the machine and where it sits. */
export interface MicrovmVirtioSlot {
  readonly name: string;
  readonly base: number;
  readonly irq: number;
  readonly transport: MmioTransport;
}

/**
 * QEMU's `microvm` machine as one composition root: no PCI, no firmware tables, no keyboard
 * controller; the 8259 pair, the PIT, the RTC and COM1 stay (as on `pc`: in userspace, or in the
 * facade with `kernel_irqchip=on`), `-cpu` and `-d` work as on `pc` (machine-core.ts), and the
 * virtio devices are virtio-mmio windows at {@link MICROVM_MMIO_BASE} described to Linux on its
 * command line (`virtio_mmio.device=4K@0xfeb00000:5`), as QEMU's `auto-kernel-cmdline` does.
 * A reset (Linux falls back to a triple fault without a keyboard controller) ends or restarts the VM.
 */
export class MicrovmMachine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly ram: Uint8Array;
  readonly memory: GuestMemory;
  readonly pio = new PioBus();
  readonly mmio = new MmioBus();
  /** The userspace 8259 pair, or null with `kernel_irqchip=on`. */
  readonly pic: PicPair | null;
  /** The userspace 8254, or null with `kernel_irqchip=on`. */
  readonly pit: Pit8254 | null;
  readonly rtc: Mc146818;
  readonly com1: Uart16550;
  readonly virtio: VirtioDeviceSet;
  readonly virtioSlots: MicrovmVirtioSlot[] = [];
  readonly exitCounts = new Map<string, number>();
  /** vCPU 0's own thread (set by the VM before the first run), or null: KVM_RUN in this thread. */
  vcpuThread: VcpuThread | null = null;
  readonly irqCounts = new IrqCounter(16);
  /** QEMU's warnings for `-cpu` features the facade cannot give. */
  readonly cpuWarnings: readonly string[];
  /** `-d int,cpu_reset,guest_errors,unimp` (guest-log.ts). */
  readonly guestLog: GuestLog;
  /** ISA IRQ `irq` of the 8259 pair, counted for `info irq`. */
  readonly isaIrq: (irq: number) => IrqLine;
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
    this.isaIrq = isa.isaIrq;

    this.virtio = new VirtioDeviceSet(planVirtio(config), io.virtio ?? noVirtioIo());
    if (this.virtio.devices.length > MICROVM_VIRTIO_IRQS.length) {
      this.virtio.close();
      throw new RangeError(
        `microvm: at most ${MICROVM_VIRTIO_IRQS.length} virtio devices (one free IRQ each)`,
      );
    }
    let elcr = 0;
    this.virtio.devices.forEach((d, i) => {
      const base = MICROVM_MMIO_BASE + i * MMIO_WINDOW_SIZE;
      const irq = MICROVM_VIRTIO_IRQS[i]!;
      const transport = new MmioTransport(d.device, this.memory, this.isaIrq(irq), d.spec.ring);
      this.mmio.insert(base, MMIO_WINDOW_SIZE, transport, d.name);
      this.virtioSlots.push({ name: d.name, base, irq, transport });
      elcr |= 1 << irq;
    });
    // virtio-mmio's interrupt is a level (high while InterruptStatus is non-zero).
    setLevelTriggered(isa, elcr);
  }

  /** The `virtio_mmio.device=` words Linux needs to find the devices. */
  get kernelCmdline(): string {
    return virtioMmioCmdlines(this.virtioSlots.map((s) => ({ base: s.base, irq: s.irq })));
  }

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

  /** Loads a Linux bzImage with the virtio-mmio devices appended to `cmdline`. */
  loadLinux(kernel: Uint8Array, initrd: Uint8Array | undefined, cmdline: string): string | undefined {
    for (const s of this.virtioSlots) s.transport.reset();
    const extra = this.kernelCmdline;
    const r = loadLinux(this.guest, {
      kernel,
      initrd,
      cmdline: extra === '' ? cmdline : `${cmdline} ${extra}`.trim(),
      ramBytes: this.config.memoryBytes,
      e820: pcE820(this.config.memoryBytes),
      // A 64-bit kernel on a vCPU with long mode enters at its 64-bit entry (boot protocol 2.12+).
      longMode: cpuidHasLongMode(this.vcpu.getCpuid2()),
    });
    if ('kind' in r) return describeLinuxLoadError(r);
    logCpuReset(this.guestLog, this.vcpu);
    this.vcpu.setSregs(applyEntrySregs(this.vcpu.getSregs(), r.entry));
    this.vcpu.setRegs(applyEntryRegs(this.vcpu.getRegs(), r.entry));
    return undefined;
  }

  /** As on `pc`: timers, typed input, the 8259's interrupt (machine-core.ts). */
  injectInterrupts(): void {
    const vector = injectIsaInterrupts(this.isa, this.vcpu);
    if (vector >= 0) this.guestLog.hardwareInterrupt(vector);
  }

  /** One KVM_RUN and the handling of its exit, as on `pc` (machine-core.ts). */
  runOnce(): ExitAction {
    return runVcpuOnce(this, this.isa);
  }
}
