/**
 * The parts every machine builder (`pc`, `microvm`) starts from: the facade opened with guest RAM in
 * slot 0 and vCPU 0 with its CPUID, the ISA devices both have (8259 pair, 8254 with port 0x61,
 * MC146818 with the PC CMOS layout, COM1; with `kernel_irqchip=on` the 8259s and the 8254 are the
 * facade's), the run step (inject, KVM_RUN, dispatch the exit) and the `-d` log around it. Each
 * builder stays the one composition root that decides what else is wired and where.
 */
import { Mc146818, PicPair, Pit8254, pcCmosLayout, SystemControlPortB, Uart16550 } from '@typevisor/devices';
import type { VcpuThread } from './vcpu-thread.js';
import { type CpuidEntry, EINTR, Kvm, KVM_RUN, KvmHost, kvm_run, type Vcpu, type Vm } from '@typevisor/kvm';
import {
  type ByteSink,
  type ByteSource,
  type Clock,
  GuestMemory,
  type IrqLine,
  type MmioBus,
  type PioBus,
  type PioDevice,
} from '@typevisor/memory';
import type { PicView } from '../monitor/info-pic.js';
import { formatRegisters } from '../monitor/registers.js';
import type { VmConfig } from '../options/config.js';
import { isTableModel, resolveCpu } from '../options/cpu-model.js';
import { withTscFrequency } from './cpuid-tsc.js';
import { type ExitAction, handleExit } from './exit-dispatch.js';
import { GuestLog } from './guest-log.js';
import type { IrqCounter } from './irq-stats.js';
import { KernelPitSpeaker, kernelElcr, kernelIrqLine, kernelPicViews } from './kernel-irqchip.js';
import { DebugConsole } from './debug-console.js';
import { cpuSnapshot } from './monitor-target.js';

/**
 * Guest instructions per KVM_RUN before it returns -EINTR to let the VMM poll its devices: a few
 * milliseconds of guest time, so the userspace PIT's ticks arrive close to when they are due (Linux's
 * clocksource watchdog compares the TSC with the PIT and marks the TSC unstable when ticks run late).
 */
export const SLICE_INSTRUCTIONS = 50_000;

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
  /** QEMU's isa-debugcon for `-debugcon` (its default iobase). */
  DEBUGCON: 0xe9,
} as const;
export const PC_IRQ = { PIT: 0, KEYBOARD: 1, COM1: 4, RTC: 8, MOUSE: 12 } as const;

/** COM1..COM4: I/O base and ISA IRQ of each, as QEMU's isa-serial places them (serial_isa.c). */
export const SERIAL_PORTS: readonly { readonly base: number; readonly irq: number }[] = [
  { base: 0x3f8, irq: 4 },
  { base: 0x2f8, irq: 3 },
  { base: 0x3e8, irq: 4 },
  { base: 0x2e8, irq: 3 },
];

/** The facade, guest RAM and vCPU 0 of a machine. */
export interface VmCore {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  /** Guest RAM (slot 0, from guest physical address 0). */
  readonly ram: Uint8Array;
  /** The host address of {@link VmCore.ram} (its mmap), for further memory slots over it. */
  readonly ramAddr: number;
  /** The same RAM as bounds-checked guest memory (what DMA-capable devices see). */
  readonly memory: GuestMemory;
  /** QEMU's warnings for `-cpu` features the facade does not support (dropped from CPUID). */
  readonly cpuWarnings: readonly string[];
}

/**
 * Opens the facade (a fresh host with `-accel kvm,ept=` as kvm_intel's module parameter, and KVM_RUN
 * returning -EINTR after {@link SLICE_INSTRUCTIONS}, as a VMM's timer signal would), maps guest RAM and
 * creates vCPU 0 with the CPUID of `-cpu`: a named model filtered against KVM_GET_SUPPORTED_CPUID with
 * QEMU's warnings; host/max the supported CPUID, the default the facade's x86-64 model, both plus the TSC rate in leaves 15H/16H
 * (cpuid-tsc.ts), so the guest need not calibrate its TSC against the PIT. With `kernel_irqchip=on`
 * the in-kernel irqchip and PIT2 are created first (KVM_CREATE_IRQCHIP must come before any vCPU).
 */
export function openVmCore(config: VmConfig, host?: KvmHost): VmCore {
  const kvm = Kvm.open(
    host ?? new KvmHost({ vmx: { ept: config.ept }, sliceInstructions: SLICE_INSTRUCTIONS }),
  );
  const vm = kvm.createVm();
  const mapping = kvm.host.mmap(config.memoryBytes);
  if (mapping.addr < 0) throw new Error(`cannot allocate ${config.memoryBytes} bytes of guest RAM`);
  vm.setUserMemoryRegion({
    slot: 0,
    guestPhysAddr: 0,
    memorySize: config.memoryBytes,
    userspaceAddr: mapping.addr,
  });
  const memory = new GuestMemory();
  // Writes by devices and loaders go to the mapping's write log: the vCPUs drop code they overwrite.
  memory.addRegion(0, mapping.bytes, { writes: mapping.writes });
  if (config.kernelIrqchip) {
    vm.createIrqChip();
    vm.createPit2();
  }
  const vcpu = vm.createVcpu(0);
  // Without KVM_SET_CPUID2 a vCPU reports no features at all (no FPU, family 4).
  const tscKhz = vcpu.getTscKhz();
  const cpu = resolveCpu(config.cpu, kvm.getSupportedCpuid());
  const named = !isTableModel(config.cpu.model);
  const cpuid = tscKhz === null || named ? cpu.cpuid : withTscFrequency(cpu.cpuid, tscKhz);
  vcpu.setCpuid2(config.kernelIrqchip ? cpuid : withoutLocalApic(cpuid));
  return { kvm, vm, vcpu, ram: mapping.bytes, ramAddr: mapping.addr, memory, cpuWarnings: cpu.warnings };
}

/**
 * The guest CPUID without a local APIC (CPUID.01H:EDX.APIC, ECX.x2APIC): with `kernel_irqchip=off` this
 * VMM has no LAPIC (QEMU would emulate one in userspace), and a guest told there is one programs
 * registers nobody backs: Debian's x86-64 kernel then never completed its ACPI power-off.
 */
export function withoutLocalApic(entries: readonly CpuidEntry[]): CpuidEntry[] {
  return entries.map((e) =>
    e.function === 1 ? { ...e, edx: (e.edx & ~(1 << 9)) >>> 0, ecx: (e.ecx & ~(1 << 21)) >>> 0 } : e,
  );
}

/** The ISA devices `pc` and `microvm` share. */
export interface IsaDevices {
  /** The VMM's 8259 pair, or null with `kernel_irqchip=on` (the facade's then). */
  readonly pic: PicPair | null;
  /** The VMM's 8254, or null with `kernel_irqchip=on` (KVM_CREATE_PIT2's then). */
  readonly pit: Pit8254 | null;
  readonly rtc: Mc146818;
  readonly com1: Uart16550;
  /** Every serial port, COM1 first (COM2..COM4 when `-serial` named more backends). */
  readonly serialPorts: readonly Uart16550[];
  /** ISA IRQ `irq` (GSI `irq` with the in-kernel irqchip), counted for `info irq`. */
  isaIrq(irq: number): IrqLine;
  /** The ELCR pair (ports 0x4D0/0x4D1) where the VMM marks level-triggered IRQs, as firmware would. */
  readonly elcr: PioDevice;
  /** The 8259s' registers for `info pic` (KVM_GET_IRQCHIP with the in-kernel irqchip). */
  picViews(): { readonly master: PicView; readonly slave: PicView };
  /** `info irq`'s controller name: QEMU's isa-i8259, or kvm-i8259 for the in-kernel pair. */
  readonly controllerName: string;
}

/** Marks the ISA IRQs of `mask` level-triggered in the ELCR (PCI INTx, virtio-mmio). */
export function setLevelTriggered(isa: Pick<IsaDevices, 'elcr'>, mask: number): void {
  isa.elcr.write(0, 1, mask & 0xff);
  isa.elcr.write(1, 1, (mask >>> 8) & 0xff);
}

/** What the shared ISA devices need from the machine's surroundings. */
export interface IsaIo {
  readonly clock: Clock;
  readonly serialOut: ByteSink;
  readonly serialIn?: ByteSource;
  /** COM2, COM3, COM4 in order: their transmit and receive sides (one per further `-serial`). */
  readonly moreSerial?: readonly SerialPortIo[];
  /** `-debugcon`: where bytes written to port 0xE9 go. */
  readonly debugConsole?: ByteSink;
}

/** One serial port's two sides. */
export interface SerialPortIo {
  readonly output: ByteSink;
  readonly input?: ByteSource;
}

/**
 * Builds the 8259 pair (polled by the VMM before each KVM_RUN, so its output goes nowhere), the 8254
 * and port 0x61, the RTC with the PC CMOS layout and COM1, and wires them on `pio` at the PC ports.
 * With `kernel_irqchip=on` (`core.vm` has the in-kernel irqchip and PIT) there is no userspace 8259
 * or 8254: the lines are KVM_IRQ_LINE, and port 0x61 reads counter 2 with KVM_GET_PIT2.
 */
export function wireIsaDevices(
  config: VmConfig,
  io: IsaIo,
  pio: PioBus,
  irqCounts: IrqCounter,
  core: Pick<VmCore, 'kvm' | 'vm'>,
): IsaDevices {
  const clock = io.clock;
  const pic = config.kernelIrqchip ? null : new PicPair({ output: { set: () => {} } });
  const isaIrq = (irq: number): IrqLine =>
    irqCounts.wrap(irq, pic === null ? kernelIrqLine(core.vm, irq) : pic.irqLine(irq));
  const pit = pic === null ? null : new Pit8254({ clock, irq0: isaIrq(PC_IRQ.PIT) });
  const rtc = new Mc146818({ clock, irq: isaIrq(PC_IRQ.RTC) });
  for (const [index, value] of pcCmosLayout({ ramBelow4G: config.memoryBytes, cpus: config.smp })) {
    rtc.setCmos(index, value);
  }
  const ports: SerialPortIo[] = [
    { output: io.serialOut, ...(io.serialIn ? { input: io.serialIn } : {}) },
    ...(io.moreSerial ?? []).slice(0, SERIAL_PORTS.length - 1),
  ];
  const serialPorts = ports.map(
    (p, i) =>
      new Uart16550({
        irq: isaIrq(SERIAL_PORTS[i]!.irq),
        output: p.output,
        ...(p.input ? { input: p.input } : {}),
      }),
  );
  const com1 = serialPorts[0]!;
  if (pic !== null && pit !== null) {
    pio.insert(PC_PORTS.PIC_MASTER, 2, pic.master, 'pic-master');
    pio.insert(PC_PORTS.PIC_SLAVE, 2, pic.slave, 'pic-slave');
    pio.insert(PC_PORTS.ELCR, 2, pic.elcr, 'elcr');
    pio.insert(PC_PORTS.PIT, 4, pit, 'pit');
  }
  // Port 0x61 stays in userspace with the in-kernel PIT too (QEMU's pcspk over kvm-pit).
  const timer = pit ?? new KernelPitSpeaker(core.kvm, core.vm);
  pio.insert(PC_PORTS.PORT_B, 1, new SystemControlPortB({ timer, clock }), 'port61');
  pio.insert(PC_PORTS.RTC, 2, rtc, 'rtc');
  for (const [i, uart] of serialPorts.entries()) pio.insert(SERIAL_PORTS[i]!.base, 8, uart, `serial${i}`);
  if (io.debugConsole) pio.insert(PC_PORTS.DEBUGCON, 1, new DebugConsole(io.debugConsole), 'isa-debugcon');
  if (pic === null) {
    return {
      pic,
      pit,
      rtc,
      com1,
      serialPorts,
      isaIrq,
      elcr: kernelElcr(core.kvm, core.vm),
      picViews: () => kernelPicViews(core.kvm, core.vm),
      controllerName: 'kvm-i8259',
    };
  }
  return {
    pic,
    pit,
    rtc,
    com1,
    serialPorts,
    isaIrq,
    elcr: pic.elcr,
    picViews: () => ({ master: pic.master.getState(), slave: pic.slave.getState() }),
    controllerName: 'isa-i8259',
  };
}

/**
 * Before each KVM_RUN without an in-kernel irqchip: advance the timers, hand COM1 what was typed, then
 * inject the 8259's interrupt with KVM_INTERRUPT if the guest can take it now, else ask KVM for an
 * interrupt-window exit (as QEMU does with kernel_irqchip=off). Returns the vector injected, or -1.
 */
export function injectIsaInterrupts(isa: IsaDevices, vcpu: Vcpu): number {
  isa.pit?.poll();
  isa.rtc.poll();
  for (const uart of isa.serialPorts) uart.pollInput();
  // With the in-kernel irqchip the facade injects (and raises the interrupt window) itself.
  if (isa.pic === null) return -1;
  const run = vcpu.run;
  const f = kvm_run.fields;
  const pending = isa.pic.hasInterrupt();
  if (pending && run[f.ready_for_interrupt_injection.offset] === 1 && run[f.if_flag.offset] === 1) {
    const vector = isa.pic.acknowledge();
    vcpu.interrupt(vector);
    run[f.request_interrupt_window.offset] = 0;
    return vector;
  }
  run[f.request_interrupt_window.offset] = pending ? 1 : 0;
  return -1;
}

/** `-d` for a machine: the log, and `guest_errors` on both buses' unassigned accesses. */
export function openGuestLog(
  config: VmConfig,
  log: ((text: string) => void) | undefined,
  pio: PioBus,
  mmio: MmioBus,
): GuestLog {
  const guestLog = new GuestLog(config.logItems, log);
  if (guestLog.guestErrors) {
    pio.onUnassigned = (a, size, w, v) => guestLog.unassigned('I/O', a, size, w, v);
    mmio.onUnassigned = (a, size, w, v) => guestLog.unassigned('memory', a, size, w, v);
  }
  return guestLog;
}

/** `-d cpu_reset`: the register dump of vCPU 0 before it is given its (new) entry state. */
export function logCpuReset(guestLog: GuestLog, vcpu: Vcpu): void {
  guestLog.reset(0, () => formatRegisters(cpuSnapshot(0, vcpu.getRegs(), vcpu.getSregs(), false)));
}

/** What one run step of a machine touches. */
export interface RunnableMachine {
  readonly kvm: Kvm;
  readonly vcpu: Vcpu;
  readonly pio: PioBus;
  readonly mmio: MmioBus;
  readonly exitCounts: Map<string, number>;
  readonly guestLog: GuestLog;
  /** vCPU 0's own thread, or null when its KVM_RUN runs in this thread. */
  readonly vcpuThread: VcpuThread | null;
}

/**
 * One run step, the same on every machine: the ISA interrupt (machine-core's injection, logged by
 * `-d int`), one KVM_RUN (here or on the vCPU's thread), the exit counted and dispatched to the buses, and `-d` told of triple
 * faults, exceptions and unhandled exits.
 */
export function runVcpuOnce(m: RunnableMachine, isa: IsaDevices): ExitAction {
  const vector = injectIsaInterrupts(isa, m.vcpu);
  if (vector >= 0) m.guestLog.hardwareInterrupt(vector);
  const rc = m.vcpuThread !== null ? m.vcpuThread.runSync() : m.kvm.host.ioctl(m.vcpu.fd, KVM_RUN);
  if (rc === -EINTR) return { kind: 'continue' }; // the slice ended (KVM_EXIT_INTR)
  if (rc < 0) return { kind: 'error', message: `KVM_RUN failed with errno ${-rc}` };
  const exit = m.vcpu.exit();
  m.exitCounts.set(exit.kind, (m.exitCounts.get(exit.kind) ?? 0) + 1);
  const action = handleExit(exit, { pio: m.pio, mmio: m.mmio });
  if (exit.kind === 'Shutdown') m.guestLog.tripleFault();
  else if (exit.kind === 'Exception') m.guestLog.exception(exit.exception);
  if (action.kind === 'error') m.guestLog.unimplemented(action.message);
  return action;
}
