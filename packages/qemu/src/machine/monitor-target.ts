import { PciHost } from '@typevisor/devices';
import type { Sregs, Segment } from '@typevisor/kvm';
import type { MonitorTarget, VmStatus } from '../monitor/hmp.js';
import { formatExits } from '../monitor/info-exits.js';
import { formatMtree } from '../monitor/info-mtree.js';
import { formatPciInfo } from '../monitor/info-pci.js';
import { formatIrqInfo, formatPicInfo } from '../monitor/info-pic.js';
import type { CpuSnapshot, SegmentSnapshot } from '../monitor/snapshot.js';
import type { PcMachine } from './pc.js';
import type { LoopState, VcpuLoop } from './vcpu-loop.js';

/** QEMU's descriptor-cache `flags` word from a kvm_segment (target/i386/kvm/kvm.c get_seg()). */
export function segmentFlags(s: Segment): number {
  return (
    (s.type << 8) |
    (s.s << 12) |
    (s.dpl << 13) |
    (s.present << 15) |
    (s.avl << 20) |
    (s.l << 21) |
    (s.db << 22) |
    (s.g << 23)
  );
}

const seg = (s: Segment): SegmentSnapshot => ({
  selector: s.selector,
  base: Number(s.base),
  limit: s.limit,
  flags: segmentFlags(s),
});

const EFER_LMA = 1n << 10n;
const CR0_PG = 1n << 31n;

/** A CpuSnapshot for the monitor from KVM_GET_REGS / KVM_GET_SREGS. */
export function cpuSnapshot(
  index: number,
  regs: Record<string, bigint>,
  s: Sregs,
  halted: boolean,
): CpuSnapshot {
  const order = [
    'rax',
    'rcx',
    'rdx',
    'rbx',
    'rsp',
    'rbp',
    'rsi',
    'rdi',
    'r8',
    'r9',
    'r10',
    'r11',
    'r12',
    'r13',
    'r14',
    'r15',
  ];
  return {
    index,
    gprs: order.map((r) => Number(regs[r] ?? 0n)),
    rip: Number(regs.rip ?? 0n),
    rflags: Number(regs.rflags ?? 2n),
    cpl: s.cs.dpl,
    halted,
    a20: true,
    longMode: (s.efer & EFER_LMA) !== 0n,
    seg: {
      es: seg(s.es),
      cs: seg(s.cs),
      ss: seg(s.ss),
      ds: seg(s.ds),
      fs: seg(s.fs),
      gs: seg(s.gs),
      ldt: seg(s.ldt),
      tr: seg(s.tr),
    },
    gdt: { base: Number(s.gdt.base), limit: s.gdt.limit },
    idt: { base: Number(s.idt.base), limit: s.idt.limit },
    cr: { cr0: Number(s.cr0), cr2: Number(s.cr2), cr3: Number(s.cr3), cr4: Number(s.cr4) },
    dr: [0, 0, 0, 0, 0, 0, 0xffff0ff0, 0x400],
    efer: Number(s.efer),
    fpu: { fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 },
    fpr: [],
    xmm: [],
  };
}

const STATUS: Record<LoopState, VmStatus> = {
  prelaunch: 'prelaunch',
  running: 'running',
  waiting: 'running',
  paused: 'paused',
  shutdown: 'shutdown',
  'paused-shutdown': 'shutdown',
  error: 'internal-error',
};

export interface MonitorHooks {
  readonly version: string;
  /** The host thread the vCPU runs on, for `info cpus` (a process id in Node, 0 in a page). */
  readonly threadId: number;
  quit(): void;
  powerdown(): void;
}

/** What the monitor reads of a machine (`pc` or `microvm`). */
export type MonitoredMachine = Pick<
  PcMachine,
  'vcpu' | 'ram' | 'mmio' | 'pio' | 'isa' | 'irqCounts' | 'exitCounts' | 'kvm'
>;

/** The HMP monitor's view of a running `pc` (or `microvm`) machine. */
export function pcMonitorTarget(
  machine: MonitoredMachine,
  loop: VcpuLoop,
  hooks: MonitorHooks,
): MonitorTarget {
  return {
    version: hooks.version,
    kvmEnabled: true,
    status: () => STATUS[loop.state],
    stop: () => loop.pause(),
    cont: () => loop.start(),
    reset: () => loop.reset(),
    powerdown: () => hooks.powerdown(),
    quit: () => hooks.quit(),
    cpus: () => [cpuSnapshot(0, machine.vcpu.getRegs(), machine.vcpu.getSregs(), loop.state === 'waiting')],
    cpuThreadId: () => hooks.threadId,
    readPhysical: (gpa, length) => {
      const out = new Uint8Array(length).fill(0xff);
      const end = Math.min(gpa + length, machine.ram.length);
      if (gpa < end) out.set(machine.ram.subarray(gpa, end));
      return out;
    },
    readVirtual: (_cpu, gva, length) => {
      // With paging off a linear address is physical. With paging on, the monitor needs
      // KVM_TRANSLATE, which the facade does not have yet: say "Cannot access memory" as QEMU does.
      if ((machine.vcpu.getSregs().cr0 & CR0_PG) !== 0n) return undefined;
      const out = new Uint8Array(length).fill(0xff);
      const end = Math.min(gva + length, machine.ram.length);
      if (gva < end) out.set(machine.ram.subarray(gva, end));
      return out;
    },
    info: {
      mtree: {
        help: 'show memory tree',
        run: () =>
          formatMtree({
            ramBytes: machine.ram.length,
            mmio: machine.mmio.list(),
            pio: machine.pio.list(),
          }),
      },
      pci: { help: 'show PCI info', run: () => formatPciInfo(findPciHost(machine)) },
      pic: {
        help: 'show PIC state',
        // With kernel_irqchip=on the registers come from KVM_GET_IRQCHIP, as QEMU's kvm_pic_get.
        run: () => {
          const { master, slave } = machine.isa.picViews();
          return formatPicInfo(master, slave);
        },
      },
      irq: {
        help: 'show the interrupts statistics (if available)',
        run: () => formatIrqInfo(machine.isa.controllerName, machine.irqCounts.counts),
      },
      exits: {
        help: 'show VM exits by kind (VMM) and by VMX exit reason (KVM facade)',
        run: () => formatExits(machine.exitCounts, machine.kvm.host.vcpuStats(machine.vcpu.fd)),
      },
    },
  };
}

/**
 * The machine's PCI host bridge, wherever the machine keeps it (a field, or a field of its PCI bus
 * object); undefined on a machine without PCI.
 */
function findPciHost(machine: object): PciHost | undefined {
  for (const v of Object.values(machine)) {
    if (v instanceof PciHost) return v;
  }
  for (const v of Object.values(machine)) {
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v)) continue;
    for (const w of Object.values(v)) if (w instanceof PciHost) return w;
  }
  return undefined;
}
