/**
 * The in-kernel irqchip of KVM_CREATE_IRQCHIP (arch/x86/kvm/i8259.c, ioapic.c, lapic.c, irq_comm.c):
 * the devices package's 8259 pair, I/O APIC and one local APIC per vCPU, wired as KVM wires them, the
 * GSI routing table (kvm_setup_default_irq_routing by default), MSI delivery, and the conversions
 * between the device models' snapshots and the uapi structs (kvm_pic_state, kvm_ioapic_state,
 * kvm_lapic_state).
 */
import {
  IoApic,
  type IoApicState,
  type LapicIpi,
  LapicRegs,
  LocalApic,
  type LocalApicState,
  type Pic8259,
  type Pic8259State,
  PicPair,
} from '@typevisor/devices';
import type { Clock } from '@typevisor/memory';
import {
  KVM_IRQCHIP_IOAPIC,
  KVM_IRQCHIP_PIC_MASTER,
  KVM_IRQCHIP_PIC_SLAVE,
  KVM_IRQ_ROUTING_IRQCHIP,
  KVM_IRQ_ROUTING_MSI,
} from '../uapi/constants.js';
import { EINVAL } from '../uapi/errno.js';
import type { KernelPit } from './pit.js';
import { KVM_APIC_REG_SIZE, KVM_IOAPIC_NUM_PINS, kvm_ioapic_state, kvm_pic_state } from '../uapi/structs.js';

/** KVM_MAX_IRQ_ROUTES: GSIs are below this, and a routing table has at most this many entries. */
export const KVM_MAX_IRQ_ROUTES = 4096;
/** The I/O APIC's MMIO window (IOAPIC_DEFAULT_BASE_ADDRESS, IOAPIC_MEM_LENGTH). */
export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_MMIO_LENGTH = 0x100;
const PIC_NUM_PINS = 16;
/** elcr_mask of kvm_pic_init: which IRQs the ELCR may make level-triggered. */
const ELCR_MASK = [0xf8, 0xde] as const;

/** One entry of the routing table (struct kvm_kernel_irq_routing_entry, the two x86 kinds). */
export type IrqRoute =
  | { readonly gsi: number; readonly type: 'irqchip'; readonly chip: number; readonly pin: number }
  | {
      readonly gsi: number;
      readonly type: 'msi';
      readonly addressLo: number;
      readonly addressHi: number;
      readonly data: number;
    };

/** A user routing entry as KVM_SET_GSI_ROUTING reads it. */
export interface UserRoute {
  readonly gsi: number;
  readonly type: number;
  readonly flags: number;
  readonly u0: number;
  readonly u1: number;
  readonly u2: number;
}

/** kvm_setup_default_irq_routing(): GSI 0-15 to both 8259s' pins and the I/O APIC, 16-23 to the I/O APIC. */
export function defaultRouting(): IrqRoute[] {
  const routes: IrqRoute[] = [];
  for (let gsi = 0; gsi < KVM_IOAPIC_NUM_PINS; gsi++) {
    if (gsi < PIC_NUM_PINS) {
      routes.push({
        gsi,
        type: 'irqchip',
        chip: gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
        pin: gsi & 7,
      });
    }
    routes.push({ gsi, type: 'irqchip', chip: KVM_IRQCHIP_IOAPIC, pin: gsi });
  }
  return routes;
}

/**
 * kvm_set_irq_routing() with x86's kvm_set_routing_entry(): the new table, or -EINVAL for a GSI past
 * KVM_MAX_IRQ_ROUTES, flags, an unknown type or chip, a pin past the chip's pins (8259 pins count
 * 0-15 across the pair), or a GSI that maps to something besides irqchip pins of different chips.
 */
export function buildRouting(entries: readonly UserRoute[]): IrqRoute[] | number {
  const routes: IrqRoute[] = [];
  for (const ue of entries) {
    if (ue.gsi >= KVM_MAX_IRQ_ROUTES) return -EINVAL;
    if (ue.flags !== 0) return -EINVAL;
    let route: IrqRoute;
    if (ue.type === KVM_IRQ_ROUTING_IRQCHIP) {
      const chip = ue.u0;
      let pin = ue.u1;
      let maxPin: number;
      if (chip === KVM_IRQCHIP_PIC_SLAVE || chip === KVM_IRQCHIP_PIC_MASTER) {
        if (chip === KVM_IRQCHIP_PIC_SLAVE) pin += 8;
        maxPin = PIC_NUM_PINS;
      } else if (chip === KVM_IRQCHIP_IOAPIC) {
        maxPin = KVM_IOAPIC_NUM_PINS;
      } else {
        return -EINVAL;
      }
      if (pin >= maxPin) return -EINVAL;
      // The pair's pins 0-15 are stored per chip again.
      route =
        chip === KVM_IRQCHIP_IOAPIC
          ? { gsi: ue.gsi, type: 'irqchip', chip, pin }
          : {
              gsi: ue.gsi,
              type: 'irqchip',
              chip: pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
              pin: pin & 7,
            };
    } else if (ue.type === KVM_IRQ_ROUTING_MSI) {
      route = { gsi: ue.gsi, type: 'msi', addressLo: ue.u0, addressHi: ue.u1, data: ue.u2 };
    } else {
      return -EINVAL;
    }
    // setup_routing_entry(): only irqchip entries of different chips may share a GSI.
    for (const ei of routes) {
      if (ei.gsi !== route.gsi) continue;
      if (ei.type !== 'irqchip' || route.type !== 'irqchip' || ei.chip === route.chip) return -EINVAL;
    }
    routes.push(route);
  }
  return routes;
}

/** Callbacks into the VM: the resample irqfds on a GSI whose level interrupt was acknowledged. */
export interface IrqchipHooks {
  /** kvm_notify_acked_irq(): the guest acknowledged (EOI) the interrupt of `gsi`. */
  acked(gsi: number): void;
}

/**
 * A local APIC as the VM's interrupt sources see it: what delivery (I/O APIC, MSI, IPI) and the 8259
 * pair's INT need. A vCPU whose LAPIC lives with its vCPU thread in a worker is represented in the VM
 * by one of these (a mailbox in shared memory, `worker/remote-lapic.ts`), as Linux's in-kernel
 * deliveries reach another CPU's APIC through its posted-interrupt descriptor.
 */
export interface ApicSink {
  readonly apicId: number;
  matchesDestination(dest: number, logical: boolean): boolean;
  deliver(deliveryMode: number, vector: number, trigger: number): boolean;
  readonly lint0: { set(level: boolean): void };
}

/**
 * The vCPU-fd ioctls' way to a vCPU's LAPIC that lives in another thread (a worker vCPU's, see
 * `worker/vcpu-worker.ts`): each call except {@link readApicBase} is a synchronous request to that
 * thread while it is outside KVM_RUN. Results are 0 or a negative errno.
 */
export interface RemoteLapicAccess {
  /** IA32_APIC_BASE as the LAPIC has it (kvm_get_apic_base). */
  readApicBase(): bigint;
  /** kvm_lapic_set_base(): -EINVAL for an impossible transition. */
  writeApicBase(value: bigint): number;
  /** KVM_GET_LAPIC: the register page (kvm_lapic_state) into `out`. */
  getPage(out: Uint8Array): number;
  /** KVM_SET_LAPIC: the LAPIC loads the register page `page`. */
  setPage(page: Uint8Array): number;
}

/**
 * The full in-kernel irqchip of one VM. Interrupt sources call {@link setIrq} (GSIs through the routing
 * table) or {@link deliverMsi}; vCPUs take their interrupts from their local APIC (the 8259 pair
 * reaches the BSP's LAPIC through LINT0 / ExtINT, as kvm_apic_accept_pic_intr lets it).
 */
export class KernelIrqchip {
  readonly pic: PicPair;
  readonly ioapic: IoApic;
  private readonly lapics = new Map<number, LocalApic>();
  /** LAPICs living in another thread (a worker vCPU's), by vCPU id. */
  private readonly remotes = new Map<number, ApicSink>();
  private routes: IrqRoute[] = defaultRouting();
  /** The in-kernel 8254 (KVM_CREATE_PIT2), or null. */
  pit: KernelPit | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly hooks: IrqchipHooks,
  ) {
    this.pic = new PicPair({ output: { set: (level: boolean) => this.picOutput(level) } });
    this.ioapic = new IoApic({
      delivery: {
        deliver: (dest, destMode, deliveryMode, vector, trigger) =>
          this.deliverToApics(dest, destMode === 1, deliveryMode, vector, trigger, -1) > 0,
      },
    });
  }

  // ---- local APICs ----

  /** kvm_create_lapic(): the vCPU's LAPIC (APIC ID = vCPU id; the BSP's LINT0 in ExtINT mode). */
  addVcpu(id: number, bsp: boolean): LocalApic {
    const lapic = new LocalApic({
      clock: this.clock,
      id,
      bsp,
      ipi: { sendIpi: (ipi) => this.sendIpi(ipi) },
      eoiBroadcast: { eoi: (vector) => this.eoiBroadcast(vector) },
      extInt: this.pic,
    });
    this.lapics.set(id, lapic);
    // The pair's INT output may already be high.
    if (bsp && this.pic.hasInterrupt()) lapic.lint0.set(true);
    return lapic;
  }

  lapic(id: number): LocalApic | undefined {
    return this.lapics.get(id);
  }

  /** The local APIC whose MMIO window (xAPIC mode) holds `gpa`, for vCPU `id`. */
  lapicMmio(id: number, gpa: number): LocalApic | null {
    const l = this.lapics.get(id);
    if (l === undefined || !l.enabled || l.x2apicMode) return null;
    const base = l.mmioBase;
    return gpa >= base && gpa < base + LapicRegs.LAPIC_MMIO_SIZE ? l : null;
  }

  /**
   * Hands vCPU `id`'s LAPIC over to another thread: from now on `sink` stands for it in deliveries
   * (its LINT0 gets the 8259 pair's INT level now). Returns the LAPIC that was here, whose state the
   * other thread takes over, or undefined when vCPU `id` had none.
   */
  attachRemoteLapic(id: number, sink: ApicSink): LocalApic | undefined {
    const l = this.lapics.get(id);
    if (l === undefined) return undefined;
    this.lapics.delete(id);
    this.remotes.set(id, sink);
    sink.lint0.set(this.pic.hasInterrupt());
    return l;
  }

  /** Makes `lapic` (built elsewhere, e.g. a vCPU thread's own) the LAPIC of vCPU `id`. */
  adoptLapic(id: number, lapic: LocalApic): void {
    this.lapics.set(id, lapic);
  }

  /** The LAPIC of vCPU `id` is back in this thread (`lapic`, with the state the other thread left). */
  detachRemoteLapic(id: number, lapic: LocalApic): void {
    this.remotes.delete(id);
    this.lapics.set(id, lapic);
    lapic.lint0.set(this.pic.hasInterrupt());
  }

  private picOutput(level: boolean): void {
    // The 8259 pair's INT goes to LINT0 of every LAPIC; only one in ExtINT mode (the BSP's) takes it.
    for (const l of this.lapics.values()) l.lint0.set(level);
    for (const r of this.remotes.values()) r.lint0.set(level);
  }

  /**
   * kvm_irq_delivery_to_apic(): the LAPICs matching the destination get the message; lowest priority
   * goes to the first match (no arbitration). `exclude` is an APIC id left out (a sender's own, for
   * the "all excluding self" shorthand). Returns how many accepted it, or -1 when none matched.
   */
  deliverToApics(
    dest: number,
    logical: boolean,
    deliveryMode: number,
    vector: number,
    trigger: number,
    exclude: number,
    all = false,
  ): number {
    let n = -1;
    for (const l of this.lapics.values()) {
      if (l.apicId === exclude) continue;
      if (!all && !l.matchesDestination(dest, logical)) continue;
      if (n < 0) n = 0;
      if (l.deliver(deliveryMode, vector, trigger)) n++;
      if (deliveryMode === LapicRegs.DeliveryMode.LowestPriority) return n;
    }
    for (const l of this.remotes.values()) {
      if (l.apicId === exclude) continue;
      if (!all && !l.matchesDestination(dest, logical)) continue;
      if (n < 0) n = 0;
      if (l.deliver(deliveryMode, vector, trigger)) n++;
      if (deliveryMode === LapicRegs.DeliveryMode.LowestPriority) return n;
    }
    return n;
  }

  /**
   * kvm_set_msi(): an MSI write (address 0xFEExxxxx: destination in bits 19:12, destination mode bit
   * 2; data: vector, delivery mode bits 10:8, trigger bit 15). Returns the deliveries, as
   * KVM_SIGNAL_MSI does (0 when none took it), or -1 when no APIC matched.
   */
  deliverMsi(addressLo: number, _addressHi: number, data: number): number {
    const dest = (addressLo >>> 12) & 0xff;
    const logical = ((addressLo >>> 2) & 1) === 1;
    return this.deliverToApics(dest, logical, (data >>> 8) & 7, data & 0xff, (data >>> 15) & 1, -1);
  }

  /** An IPI from a LAPIC (here or in another thread) to the LAPICs it addresses (kvm_apic_send_ipi). */
  sendIpi(ipi: LapicIpi): void {
    // The INIT level de-assert is ignored (kvm_apic_send_ipi drops it too).
    if (!ipi.assert && ipi.deliveryMode === LapicRegs.DeliveryMode.Init) return;
    const S = LapicRegs.Shorthand;
    const exclude = ipi.shorthand === S.AllExcludingSelf ? ipi.source : -1;
    const all = ipi.shorthand === S.AllIncludingSelf || ipi.shorthand === S.AllExcludingSelf;
    this.deliverToApics(
      ipi.destination,
      ipi.destMode === 1,
      ipi.deliveryMode,
      ipi.vector,
      ipi.trigger,
      exclude,
      all,
    );
  }

  /**
   * A level-triggered EOI from a LAPIC (here or in another thread): ack notifiers of the I/O APIC pins
   * with that vector, then the I/O APIC's EOI (its remote IRR).
   */
  eoiBroadcast(vector: number): void {
    for (let pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
      const [lo] = this.ioapic.entry(pin);
      if ((lo & 0xff) === vector && lo & (1 << 14)) this.ackPin(KVM_IRQCHIP_IOAPIC, pin);
    }
    this.ioapic.eoi(vector);
  }

  private ackPin(chip: number, pin: number): void {
    for (const r of this.routes)
      if (r.type === 'irqchip' && r.chip === chip && r.pin === pin) this.hooks.acked(r.gsi);
  }

  /** Runs the timers up to now (the LAPIC of vCPU `id`, the PIT): due interrupts are raised. */
  poll(id: number): void {
    this.pit?.poll();
    this.lapics.get(id)?.poll();
  }

  /** The earliest timer deadline that can wake vCPU `id` (its LAPIC timer, the PIT for the BSP), or null. */
  nextDeadlineNs(id: number): number | null {
    const l = this.lapics.get(id)?.nextDeadlineNs() ?? null;
    const p = id === 0 && this.pit !== null ? this.pit.nextDeadlineNs() : null;
    if (l === null) return p;
    return p === null ? l : Math.min(l, p);
  }

  // ---- GSIs ----

  get routing(): readonly IrqRoute[] {
    return this.routes;
  }

  setRouting(routes: IrqRoute[]): void {
    this.routes = routes;
  }

  /**
   * kvm_set_irq(): drives every route of `gsi` to `level` (MSI routes fire on level 1). The status of
   * KVM_IRQ_LINE_STATUS: -1 when no route took it (none, or all masked), 0 when coalesced (an edge
   * on an 8259 input whose IRR bit was still set), else the sum of the routes' results.
   */
  setIrq(gsi: number, level: boolean): number {
    let ret = -1;
    for (const r of this.routes) {
      if (r.gsi !== gsi) continue;
      let res: number;
      if (r.type === 'msi') {
        res = level ? this.deliverMsi(r.addressLo, r.addressHi, r.data) : -1;
      } else if (r.chip === KVM_IRQCHIP_IOAPIC) {
        const [lo] = this.ioapic.entry(r.pin);
        const masked = (lo & (1 << 16)) !== 0 || ((lo & (1 << 15)) !== 0 && (lo & (1 << 14)) !== 0);
        this.ioapic.setIrq(r.pin, level);
        res = !level ? 1 : masked ? -1 : 1;
      } else {
        const pic: Pic8259 = r.chip === KVM_IRQCHIP_PIC_MASTER ? this.pic.master : this.pic.slave;
        const s = pic.getState();
        const bit = 1 << r.pin;
        // pic_set_irq1(): a new edge on a still-requested input coalesces.
        res = level && !(s.lines & bit) ? (s.irr & bit ? 0 : 1) : 1;
        if (s.imr & bit) res = -1;
        pic.setIrq(r.pin, level);
      }
      if (res < 0) continue;
      ret = res + Math.max(ret, 0);
    }
    return ret;
  }

  // ---- port and MMIO access ----

  /** The 8259 ports (0x20-0x21, 0xA0-0xA1) and the ELCR (0x4D0-0x4D1); null: not an irqchip port. */
  pioRead(port: number, size: number): number | null {
    if (this.pit !== null && port >= 0x40 && port <= 0x43) return this.pit.pioRead(port, size);
    const dev = this.pioDevice(port);
    if (dev === null) return null;
    // picdev_read: only byte accesses; wider ones read 0.
    return size === 1 ? dev.read(port & 1, 1) & 0xff : 0;
  }

  pioWrite(port: number, size: number, value: number): boolean {
    if (this.pit !== null && port >= 0x40 && port <= 0x43) return this.pit.pioWrite(port, size, value);
    const dev = this.pioDevice(port);
    if (dev === null) return false;
    if (size === 1) dev.write(port & 1, 1, value & 0xff);
    return true;
  }

  private pioDevice(
    port: number,
  ): { read(o: number, s: 1): number; write(o: number, s: 1, v: number): void } | null {
    if (port === 0x20 || port === 0x21) return this.pic.master;
    if (port === 0xa0 || port === 0xa1) return this.pic.slave;
    if (port === 0x4d0 || port === 0x4d1) return this.pic.elcr;
    return null;
  }

  /** Whether `gpa` is in the I/O APIC's window. */
  static isIoapic(gpa: number): boolean {
    return gpa >= IOAPIC_BASE && gpa < IOAPIC_BASE + IOAPIC_MMIO_LENGTH;
  }

  // ---- KVM_GET/SET_IRQCHIP ----

  /** kvm_vm_ioctl_get_irqchip(): the chip's state into the 512-byte union; -EINVAL for an unknown chip. */
  getChip(chipId: number, out: DataView): number {
    if (chipId === KVM_IRQCHIP_PIC_MASTER || chipId === KVM_IRQCHIP_PIC_SLAVE) {
      writePicState(
        chipId === KVM_IRQCHIP_PIC_MASTER ? this.pic.master.getState() : this.pic.slave.getState(),
        chipId,
        out,
      );
      return 0;
    }
    if (chipId === KVM_IRQCHIP_IOAPIC) {
      writeIoapicState(this.ioapic.getState(), out);
      return 0;
    }
    return -EINVAL;
  }

  /** kvm_vm_ioctl_set_irqchip(): the state from the union, then the outputs re-evaluated. */
  setChip(chipId: number, src: DataView): number {
    if (chipId === KVM_IRQCHIP_PIC_MASTER || chipId === KVM_IRQCHIP_PIC_SLAVE) {
      const pic = chipId === KVM_IRQCHIP_PIC_MASTER ? this.pic.master : this.pic.slave;
      pic.loadState(readPicState(chipId, src));
      return 0;
    }
    if (chipId === KVM_IRQCHIP_IOAPIC) {
      const s = readIoapicState(src);
      this.ioapic.loadState({ ...s, lines: 0 });
      // kvm_set_ioapic(): the pins in irr are asserted again.
      for (let pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
        if (s.lines & (1 << pin)) this.ioapic.setIrq(pin, true);
      return 0;
    }
    return -EINVAL;
  }
}

// ---- struct conversions ----

const PF = kvm_pic_state.fields;
const ICW1_IC4 = 0x01;
const ICW1_SELECT = 0x10;
const ICW4_8086 = 0x01;
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;

/** Pic8259State -> kvm_pic_state (init_state counts ICW2..4 as 1..3; LTIM and single mode do not exist in KVM). */
export function writePicState(s: Pic8259State, chipId: number, out: DataView): void {
  for (let i = 0; i < kvm_pic_state.size; i++) out.setUint8(i, 0);
  out.setUint8(PF.last_irr.offset, s.lines);
  out.setUint8(PF.irr.offset, s.irr);
  out.setUint8(PF.imr.offset, s.imr);
  out.setUint8(PF.isr.offset, s.isr);
  out.setUint8(PF.priority_add.offset, s.priorityBase);
  out.setUint8(PF.irq_base.offset, s.vectorBase);
  out.setUint8(PF.read_reg_select.offset, s.readIsr ? 1 : 0);
  out.setUint8(PF.poll.offset, s.poll ? 1 : 0);
  out.setUint8(PF.special_mask.offset, s.specialMask ? 1 : 0);
  out.setUint8(PF.init_state.offset, s.initStep === 0 ? 0 : s.initStep - 1);
  out.setUint8(PF.auto_eoi.offset, s.icw4 & ICW4_AEOI ? 1 : 0);
  out.setUint8(PF.rotate_on_auto_eoi.offset, s.rotateOnAutoEoi ? 1 : 0);
  out.setUint8(PF.special_fully_nested_mode.offset, s.icw4 & ICW4_SFNM ? 1 : 0);
  out.setUint8(PF.init4.offset, s.icw1 & ICW1_IC4 ? 1 : 0);
  out.setUint8(PF.elcr.offset, s.elcr);
  out.setUint8(PF.elcr_mask.offset, ELCR_MASK[chipId === KVM_IRQCHIP_PIC_MASTER ? 0 : 1]);
}

export function readPicState(chipId: number, v: DataView): Pic8259State {
  const u8 = (o: number): number => v.getUint8(o);
  const initState = u8(PF.init_state.offset) & 3;
  return {
    irr: u8(PF.irr.offset),
    isr: u8(PF.isr.offset),
    imr: u8(PF.imr.offset),
    elcr: u8(PF.elcr.offset) & ELCR_MASK[chipId === KVM_IRQCHIP_PIC_MASTER ? 0 : 1],
    lines: u8(PF.last_irr.offset),
    priorityBase: u8(PF.priority_add.offset) & 7,
    vectorBase: u8(PF.irq_base.offset) & 0xf8,
    initStep: initState === 0 ? 0 : initState + 1,
    icw1: ICW1_SELECT | (u8(PF.init4.offset) ? ICW1_IC4 : 0),
    icw3: chipId === KVM_IRQCHIP_PIC_MASTER ? 0x04 : 0x02,
    icw4:
      ICW4_8086 |
      (u8(PF.auto_eoi.offset) ? ICW4_AEOI : 0) |
      (u8(PF.special_fully_nested_mode.offset) ? ICW4_SFNM : 0),
    readIsr: u8(PF.read_reg_select.offset) !== 0,
    poll: u8(PF.poll.offset) !== 0,
    specialMask: u8(PF.special_mask.offset) !== 0,
    rotateOnAutoEoi: u8(PF.rotate_on_auto_eoi.offset) !== 0,
  };
}

const IF_ = kvm_ioapic_state.fields;

export function writeIoapicState(s: IoApicState, out: DataView): void {
  for (let i = 0; i < kvm_ioapic_state.size; i++) out.setUint8(i, 0);
  out.setUint32(IF_.base_address.offset, IOAPIC_BASE, true);
  out.setUint32(IF_.ioregsel.offset, s.ioregsel, true);
  out.setUint32(IF_.id.offset, s.id, true);
  out.setUint32(IF_.irr.offset, s.lines, true);
  for (let pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
    const [lo, hi] = s.redirection[pin]!;
    out.setUint32(IF_.redirtbl.offset + pin * 8, lo, true);
    out.setUint32(IF_.redirtbl.offset + pin * 8 + 4, hi, true);
  }
}

export function readIoapicState(v: DataView): IoApicState {
  const redirection: (readonly [number, number])[] = [];
  for (let pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
    redirection.push([
      v.getUint32(IF_.redirtbl.offset + pin * 8, true),
      v.getUint32(IF_.redirtbl.offset + pin * 8 + 4, true),
    ]);
  }
  return {
    id: v.getUint32(IF_.id.offset, true) & 0xf,
    ioregsel: v.getUint32(IF_.ioregsel.offset, true) & 0xff,
    redirection,
    lines: v.getUint32(IF_.irr.offset, true) & 0xff_ffff,
  };
}

const R = LapicRegs.Reg;
const LVT_OFFSETS = [R.LVT_TIMER, R.LVT_THERMAL, R.LVT_PERF, R.LVT_LINT0, R.LVT_LINT1, R.LVT_ERROR];

/** kvm_apic_get_state(): the xAPIC register page (1024 bytes), TMCCT as the guest would read it now. */
export function writeLapicPage(l: LocalApic, out: DataView): void {
  for (let i = 0; i < KVM_APIC_REG_SIZE; i += 4) out.setUint32(i, 0, true);
  const s = l.getState();
  const set = (reg: number, v: number): void => out.setUint32(reg, v >>> 0, true);
  set(R.ID, l.x2apicMode ? s.id : s.id << 24);
  set(R.VERSION, LapicRegs.VERSION);
  set(R.TPR, s.tpr);
  set(R.PPR, l.processorPriority);
  const xapic = l.enabled && !l.x2apicMode;
  if (xapic) set(R.APR, l.read(R.APR, 4));
  set(R.LDR, s.ldr);
  set(R.DFR, s.dfr);
  set(R.SVR, s.svr);
  for (let i = 0; i < 8; i++) {
    set(R.ISR0 + i * 0x10, s.isr[i]!);
    set(R.TMR0 + i * 0x10, s.tmr[i]!);
    set(R.IRR0 + i * 0x10, s.irr[i]!);
  }
  set(R.ESR, s.esr);
  set(R.ICR_LOW, s.icrLow);
  set(R.ICR_HIGH, s.icrHigh);
  for (let i = 0; i < 6; i++) set(LVT_OFFSETS[i]!, s.lvt[i]!);
  set(R.TIMER_INITIAL, s.timerInitial);
  set(R.TIMER_CURRENT, xapic ? l.read(R.TIMER_CURRENT, 4) : 0);
  set(R.TIMER_DIVIDE, s.timerDivide);
}

/**
 * kvm_apic_set_state(): the registers of the page replace the LAPIC's (the APIC ID from bits 31:24 in
 * xAPIC mode); the timer restarts from the page's TMCCT, as __start_apic_timer(apic, APIC_TMCCT) does.
 * IA32_APIC_BASE is not in the page (KVM_SET_SREGS / the MSR set it).
 */
export function readLapicPage(l: LocalApic, v: DataView, nowNs: number): LocalApicState {
  const old = l.getState();
  const get = (reg: number): number => v.getUint32(reg, true);
  const words = (base: number): number[] => Array.from({ length: 8 }, (_, i) => get(base + i * 0x10));
  const divide = get(R.TIMER_DIVIDE) & 0xb;
  const dv = (divide & 3) | ((divide >>> 1) & 4);
  const tickNs = dv === 7 ? 1 : 2 << dv;
  const initial = get(R.TIMER_INITIAL);
  const current = initial === 0 ? 0 : get(R.TIMER_CURRENT);
  return {
    ...old,
    id: l.x2apicMode ? get(R.ID) : get(R.ID) >>> 24,
    tpr: get(R.TPR) & 0xff,
    ldr: get(R.LDR),
    dfr: get(R.DFR),
    svr: get(R.SVR),
    isr: words(R.ISR0),
    tmr: words(R.TMR0),
    irr: words(R.IRR0),
    esr: get(R.ESR) & 0xff,
    esrPending: 0,
    icrLow: get(R.ICR_LOW),
    icrHigh: get(R.ICR_HIGH),
    lvt: LVT_OFFSETS.map((o) => get(o)),
    timerInitial: initial,
    timerDivide: divide,
    timerStartNs: nowNs,
    timerCountAtStart: current,
    timerNextNs: current > 0 ? nowNs + current * tickNs : -1,
    tscDeadline: '0',
  };
}
