/**
 * The in-kernel irqchip as a vCPU thread sees it, laid out as in Linux: the vCPU's LAPIC is here, with
 * its vCPU (a real `LocalApic`: its registers, timer, IRR/ISR and the interrupt acknowledge never leave
 * this thread); the 8259 pair, the I/O APIC and the PIT stay with the VM on the VMM thread. Accesses to
 * those, and the LAPIC's EOI broadcasts, IPIs and ExtINT acknowledges, are synchronous calls through the
 * control buffer (`IrqchipCall`); deliveries to this LAPIC arrive in the mailbox (`MAILBOX_*`), taken in
 * whenever the run loop polls the irqchip, after each call, and when a halted vCPU wakes up.
 *
 * `WorkerIrqchip` is a `KernelIrqchip` (the run loop takes one) whose only LAPIC is this vCPU's.
 */
import { IoApic, type LapicIpi, LapicRegs, LocalApic, type LocalApicOptions } from '@typevisor/devices';
import type { AccessSize, Clock } from '@typevisor/memory';
import { KernelIrqchip } from '../kernel/irqchip.js';
import {
  APIC_BASE_HI,
  APIC_BASE_LO,
  APIC_DFR,
  APIC_FLAGS,
  APIC_ID,
  APIC_LDR,
  ApicFlag,
  CONTROL_CALL,
  CONTROL_CALL_ARGS,
  CONTROL_CALL_HANDLED,
  CONTROL_CALL_RESULT,
  CONTROL_DOORBELL,
  Doorbell,
  IrqchipCall,
  type LapicImage,
  MAILBOX_EVENTS,
  MAILBOX_IRR,
  MAILBOX_LEVEL,
  MAILBOX_LINT0,
  MAILBOX_SIPI,
  MAILBOX_WAKE,
  MailboxEvent,
} from './protocol.js';

const DM = LapicRegs.DeliveryMode;
const R = LapicRegs.Reg;

/** The irqchip calls of this thread: each blocks until the VMM thread did it. */
class IrqchipCalls {
  /** Run after each call: deliveries the call caused are in the mailbox by then. */
  afterCall: () => void = () => {};

  constructor(private readonly c: Int32Array) {}

  call(op: number, a0 = 0, a1 = 0, a2 = 0): number {
    const c = this.c;
    Atomics.store(c, CONTROL_CALL, op);
    Atomics.store(c, CONTROL_CALL_ARGS, a0);
    Atomics.store(c, CONTROL_CALL_ARGS + 1, a1);
    Atomics.store(c, CONTROL_CALL_ARGS + 2, a2);
    return this.ring();
  }

  ipi(ipi: LapicIpi): void {
    const c = this.c;
    const a = CONTROL_CALL_ARGS;
    Atomics.store(c, CONTROL_CALL, IrqchipCall.IPI);
    Atomics.store(c, a, ipi.vector);
    Atomics.store(c, a + 1, ipi.deliveryMode);
    Atomics.store(c, a + 2, ipi.destMode);
    Atomics.store(c, a + 3, ipi.assert ? 1 : 0);
    Atomics.store(c, a + 4, ipi.trigger);
    Atomics.store(c, a + 5, ipi.shorthand);
    Atomics.store(c, a + 6, ipi.destination | 0);
    Atomics.store(c, a + 7, ipi.source | 0);
    this.ring();
  }

  /** Whether the last call was handled (a port of the irqchip or PIT). */
  get handled(): boolean {
    return Atomics.load(this.c, CONTROL_CALL_HANDLED) !== 0;
  }

  private ring(): number {
    const c = this.c;
    Atomics.store(c, CONTROL_DOORBELL, Doorbell.SERVICE);
    Atomics.notify(c, CONTROL_DOORBELL);
    while (Atomics.load(c, CONTROL_DOORBELL) === Doorbell.SERVICE)
      Atomics.wait(c, CONTROL_DOORBELL, Doorbell.SERVICE);
    const r = Atomics.load(c, CONTROL_CALL_RESULT);
    this.afterCall();
    return r;
  }
}

/** The vCPU's LAPIC, publishing what delivery on the VMM thread needs (ID, LDR, DFR, enables) on change. */
export class WorkerLapic extends LocalApic {
  private cells: Int32Array | null = null;

  /** Starts publishing into `cells` (the control buffer). */
  publishTo(cells: Int32Array): void {
    this.cells = cells;
    this.publish();
  }

  override write(offset: number, size: AccessSize, value: number): void {
    super.write(offset, size, value);
    if (offset === R.ID || offset === R.LDR || offset === R.DFR || offset === R.SVR) this.publish();
  }

  override writeMsr(index: number, value: bigint): boolean {
    const r = super.writeMsr(index, value);
    this.publish();
    return r;
  }

  override writeApicBase(value: bigint): boolean {
    const r = super.writeApicBase(value);
    this.publish();
    return r;
  }

  override initReset(): void {
    super.initReset();
    this.publish();
  }

  override loadState(s: Parameters<LocalApic['loadState']>[0]): void {
    super.loadState(s);
    this.publish();
  }

  private publish(): void {
    const c = this.cells;
    if (c === null) return;
    const s = this.getState();
    Atomics.store(c, APIC_ID, this.apicId | 0);
    Atomics.store(c, APIC_LDR, s.ldr | 0);
    Atomics.store(c, APIC_DFR, s.dfr | 0);
    Atomics.store(
      c,
      APIC_FLAGS,
      (this.enabled ? ApicFlag.ENABLED : 0) |
        (this.x2apicMode ? ApicFlag.X2APIC : 0) |
        (this.softwareEnabled ? ApicFlag.SOFTWARE_ENABLED : 0),
    );
    // For KVM_GET_SREGS on the VMM thread (the vCPU thread is idle when it reads them).
    const base = this.readApicBase();
    Atomics.store(c, APIC_BASE_LO, Number(base & 0xffff_ffffn) | 0);
    Atomics.store(c, APIC_BASE_HI, Number(base >> 32n) | 0);
  }
}

/** The I/O APIC's registers, read and written on the VMM thread. */
class RemoteIoApic extends IoApic {
  constructor(private readonly calls: IrqchipCalls) {
    super({ delivery: { deliver: () => false } });
  }

  override read(offset: number, size: AccessSize): number {
    return this.calls.call(IrqchipCall.IOAPIC_READ, offset, size) >>> 0;
  }

  override write(offset: number, size: AccessSize, value: number): void {
    this.calls.call(IrqchipCall.IOAPIC_WRITE, offset, size, value | 0);
  }
}

/** Ports of the in-kernel devices on the VMM thread: the 8259s, the ELCR, the PIT (if it exists). */
function isChipPort(port: number): boolean {
  return (
    port === 0x20 ||
    port === 0x21 ||
    port === 0xa0 ||
    port === 0xa1 ||
    port === 0x4d0 ||
    port === 0x4d1 ||
    (port >= 0x40 && port <= 0x43)
  );
}

export class WorkerIrqchip extends KernelIrqchip {
  override readonly ioapic: IoApic;
  readonly lapicOfVcpu: WorkerLapic;
  private readonly calls: IrqchipCalls;
  private lint0 = 0;

  constructor(
    clock: Clock,
    private readonly control: Int32Array,
    id: number,
    image: LapicImage,
  ) {
    super(clock, { acked: () => {} });
    const calls = new IrqchipCalls(control);
    this.calls = calls;
    this.ioapic = new RemoteIoApic(calls);
    const options: LocalApicOptions = {
      clock,
      id,
      bsp: image.bsp,
      ipi: { sendIpi: (ipi) => calls.ipi(ipi) },
      eoiBroadcast: { eoi: (vector) => calls.call(IrqchipCall.EOI, vector) },
      extInt: { acknowledge: () => calls.call(IrqchipCall.EXTINT_ACK) },
    };
    const lapic = new WorkerLapic(options);
    lapic.loadState(image.state);
    lapic.publishTo(control);
    this.lapicOfVcpu = lapic;
    this.adoptLapic(id, lapic);
    // Whatever the call caused for this LAPIC (an IPI to itself, the 8259's INT after INTA, a level
    // line still asserted at EOI) is taken in before the LAPIC goes on, as in-thread.
    calls.afterCall = () => this.takeMailbox();
    Atomics.store(control, MAILBOX_WAKE, 1);
    this.takeMailbox();
  }

  /** Takes the mailbox in, then runs the LAPIC timer (the PIT runs on the VMM thread). */
  override poll(id: number): void {
    this.takeMailbox();
    super.poll(id);
  }

  override pioRead(port: number, size: number): number | null {
    if (!isChipPort(port)) return null;
    const v = this.calls.call(IrqchipCall.PIO_READ, port, size);
    return this.calls.handled ? v >>> 0 : null;
  }

  override pioWrite(port: number, size: number, value: number): boolean {
    if (!isChipPort(port)) return false;
    this.calls.call(IrqchipCall.PIO_WRITE, port, size, value | 0);
    return this.calls.handled;
  }

  /** The deliveries posted since the last look, into the LAPIC (WAKE first: nothing is missed). */
  takeMailbox(): void {
    const c = this.control;
    if (Atomics.exchange(c, MAILBOX_WAKE, 0) === 0) return;
    const l = this.lapicOfVcpu;
    for (let w = 0; w < 8; w++) {
      let bits = Atomics.exchange(c, MAILBOX_IRR + w, 0);
      if (bits === 0) continue;
      const level = Atomics.load(c, MAILBOX_LEVEL + w);
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits);
        bits &= ~(1 << b);
        l.accept(w * 32 + b, ((level >>> b) & 1) === 1);
      }
    }
    const ev = Atomics.exchange(c, MAILBOX_EVENTS, 0);
    if (ev & MailboxEvent.NMI) l.deliver(DM.Nmi, 0, 0);
    if (ev & MailboxEvent.INIT) l.deliver(DM.Init, 0, 0);
    if (ev & MailboxEvent.EXTINT) l.deliver(DM.ExtInt, 0, 0);
    const sipi = Atomics.exchange(c, MAILBOX_SIPI, 0);
    if (sipi !== 0) l.deliver(DM.StartUp, sipi - 1, 0);
    const lint0 = Atomics.load(c, MAILBOX_LINT0);
    if (lint0 !== this.lint0) {
      this.lint0 = lint0;
      l.lint0.set(lint0 !== 0);
    }
  }
}
