/**
 * The parts every machine builder (`pc`, `microvm`) starts from: the facade opened with guest RAM in
 * slot 0 and vCPU 0 with its CPUID, and the ISA devices both keep in userspace (8259 pair, 8254 with
 * port 0x61, MC146818 with the PC CMOS layout, COM1). Each builder stays the one composition root
 * that decides what else is wired and where.
 */
import { Mc146818, PicPair, Pit8254, pcCmosLayout, SystemControlPortB, Uart16550 } from '@typevisor/devices';
import { Kvm, KvmHost, kvm_run, type Vcpu, type Vm } from '@typevisor/kvm';
import {
  type ByteSink,
  type ByteSource,
  type Clock,
  GuestMemory,
  type IrqLine,
  type PioBus,
} from '@typevisor/memory';
import type { VmConfig } from '../options/config.js';
import { resolveCpu } from '../options/cpu-model.js';
import { withTscFrequency } from './cpuid-tsc.js';
import type { IrqCounter } from './irq-stats.js';

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
} as const;
export const PC_IRQ = { PIT: 0, KEYBOARD: 1, COM1: 4, RTC: 8, MOUSE: 12 } as const;

/** The facade, guest RAM and vCPU 0 of a machine. */
export interface VmCore {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  /** Guest RAM (slot 0, from guest physical address 0). */
  readonly ram: Uint8Array;
  /** The same RAM as bounds-checked guest memory (what DMA-capable devices see). */
  readonly memory: GuestMemory;
  /** QEMU's warnings for `-cpu` features the facade does not support (dropped from CPUID). */
  readonly cpuWarnings: readonly string[];
}

/**
 * Opens the facade (a fresh host with `-accel kvm,ept=` as kvm_intel's module parameter, and KVM_RUN
 * returning -EINTR after {@link SLICE_INSTRUCTIONS}, as a VMM's timer signal would), maps guest RAM and
 * creates vCPU 0 with the CPUID of `-cpu`: a named model filtered against KVM_GET_SUPPORTED_CPUID with
 * QEMU's warnings; host/max (the default) the supported CPUID plus the TSC rate in leaves 15H/16H
 * (cpuid-tsc.ts), so the guest need not calibrate its TSC against the PIT.
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
  memory.addRegion(0, mapping.bytes);
  const vcpu = vm.createVcpu(0);
  // Without KVM_SET_CPUID2 a vCPU reports no features at all (no FPU, family 4).
  const tscKhz = vcpu.getTscKhz();
  const cpu = resolveCpu(config.cpu, kvm.getSupportedCpuid());
  const named = config.cpu.model !== 'host' && config.cpu.model !== 'max';
  vcpu.setCpuid2(tscKhz === null || named ? cpu.cpuid : withTscFrequency(cpu.cpuid, tscKhz));
  return { kvm, vm, vcpu, ram: mapping.bytes, memory, cpuWarnings: cpu.warnings };
}

/** The ISA devices `pc` and `microvm` share. */
export interface IsaDevices {
  readonly pic: PicPair;
  readonly pit: Pit8254;
  readonly rtc: Mc146818;
  readonly com1: Uart16550;
  /** ISA IRQ `irq` of the 8259 pair, counted for `info irq`. */
  isaIrq(irq: number): IrqLine;
}

/** What the shared ISA devices need from the machine's surroundings. */
export interface IsaIo {
  readonly clock: Clock;
  readonly serialOut: ByteSink;
  readonly serialIn?: ByteSource;
}

/**
 * Builds the 8259 pair (polled by the VMM before each KVM_RUN, so its output goes nowhere), the 8254
 * and port 0x61, the RTC with the PC CMOS layout and COM1, and wires them on `pio` at the PC ports.
 */
export function wireIsaDevices(config: VmConfig, io: IsaIo, pio: PioBus, irqCounts: IrqCounter): IsaDevices {
  const pic = new PicPair({ output: { set: () => {} } });
  const isaIrq = (irq: number): IrqLine => irqCounts.wrap(irq, pic.irqLine(irq));
  const clock = io.clock;
  const pit = new Pit8254({ clock, irq0: isaIrq(PC_IRQ.PIT) });
  const rtc = new Mc146818({ clock, irq: isaIrq(PC_IRQ.RTC) });
  for (const [index, value] of pcCmosLayout({ ramBelow4G: config.memoryBytes, cpus: config.smp })) {
    rtc.setCmos(index, value);
  }
  const com1 = new Uart16550({
    irq: isaIrq(PC_IRQ.COM1),
    output: io.serialOut,
    ...(io.serialIn ? { input: io.serialIn } : {}),
  });
  pio.insert(PC_PORTS.PIC_MASTER, 2, pic.master, 'pic-master');
  pio.insert(PC_PORTS.PIC_SLAVE, 2, pic.slave, 'pic-slave');
  pio.insert(PC_PORTS.ELCR, 2, pic.elcr, 'elcr');
  pio.insert(PC_PORTS.PIT, 4, pit, 'pit');
  pio.insert(PC_PORTS.PORT_B, 1, new SystemControlPortB({ timer: pit, clock }), 'port61');
  pio.insert(PC_PORTS.RTC, 2, rtc, 'rtc');
  pio.insert(PC_PORTS.COM1, 8, com1, 'serial0');
  return { pic, pit, rtc, com1, isaIrq };
}

/**
 * Before each KVM_RUN without an in-kernel irqchip: advance the timers, hand COM1 what was typed, then
 * inject the 8259's interrupt with KVM_INTERRUPT if the guest can take it now, else ask KVM for an
 * interrupt-window exit (as QEMU does with kernel_irqchip=off). Returns the vector injected, or -1.
 */
export function injectIsaInterrupts(isa: IsaDevices, vcpu: Vcpu): number {
  isa.pit.poll();
  isa.rtc.poll();
  isa.com1.pollInput();
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
