/**
 * A worker vCPU's LAPIC as the VM (VMM thread) delivers to it: the mailbox of the control buffer, like
 * the posted-interrupt descriptor through which Linux's in-kernel deliveries reach a LAPIC of another
 * CPU. Deliveries set bits and WAKE, and Atomics.notify wakes the vCPU thread if it sleeps halted; the
 * vCPU thread takes them into its LAPIC (`WorkerIrqchip.takeMailbox`). Destination matching reads the
 * registers the vCPU thread publishes (ID, LDR, DFR, enables) when they change.
 */
import { LapicRegs } from '@typevisor/devices';
import type { ApicSink } from '../kernel/irqchip.js';
import {
  APIC_DFR,
  APIC_FLAGS,
  APIC_ID,
  APIC_LDR,
  ApicFlag,
  MAILBOX_EVENTS,
  MAILBOX_IRR,
  MAILBOX_LEVEL,
  MAILBOX_LINT0,
  MAILBOX_SIPI,
  MAILBOX_WAKE,
  MailboxEvent,
} from './protocol.js';

const DM = LapicRegs.DeliveryMode;
/** Vectors 0-15 are illegal for fixed delivery (SDM Vol. 3A 11.5.2): refused, an ESR error there. */
const FIRST_VALID_VECTOR = 16;

export class RemoteLapic implements ApicSink {
  readonly lint0 = {
    set: (level: boolean): void => {
      Atomics.store(this.c, MAILBOX_LINT0, level ? 1 : 0);
      this.wake();
    },
  };

  constructor(private readonly c: Int32Array) {}

  get apicId(): number {
    return Atomics.load(this.c, APIC_ID) >>> 0;
  }

  /** LocalApic.matchesDestination (SDM Vol. 3A 11.6.2, 11.12.10) over the published registers. */
  matchesDestination(dest: number, logical: boolean): boolean {
    const c = this.c;
    const flags = Atomics.load(c, APIC_FLAGS);
    if (!(flags & ApicFlag.ENABLED)) return false;
    const id = Atomics.load(c, APIC_ID) >>> 0;
    const ldr = Atomics.load(c, APIC_LDR) >>> 0;
    if (flags & ApicFlag.X2APIC) {
      if (dest >>> 0 === 0xffff_ffff) return true;
      if (!logical) return dest >>> 0 === id;
      return dest >>> 16 === ldr >>> 16 && (dest & ldr & 0xffff) !== 0;
    }
    dest &= 0xff;
    if (dest === 0xff) return true;
    if (!logical) return dest === (id & 0xff);
    const l = ldr >>> LapicRegs.XAPIC_ID_SHIFT;
    const dfr = Atomics.load(c, APIC_DFR) >>> 0;
    if (dfr >>> LapicRegs.DFR_MODEL_SHIFT === LapicRegs.DFR_CLUSTER)
      return dest >>> 4 === l >>> 4 && (dest & l & 0xf) !== 0;
    return (dest & l) !== 0;
  }

  /** LocalApic.deliver into the mailbox; true when the LAPIC accepts the message. */
  deliver(deliveryMode: number, vector: number, trigger: number): boolean {
    const c = this.c;
    const flags = Atomics.load(c, APIC_FLAGS);
    if (!(flags & ApicFlag.ENABLED)) return false;
    let accepted = true;
    switch (deliveryMode) {
      case DM.Fixed:
      case DM.LowestPriority: {
        vector &= 0xff;
        // An illegal vector still goes to the LAPIC, which records the ESR error and drops it.
        if (vector < FIRST_VALID_VECTOR) accepted = false;
        else if (!(flags & ApicFlag.SOFTWARE_ENABLED)) return false;
        const word = vector >>> 5;
        const bit = 1 << (vector & 31);
        if (trigger === 1) Atomics.or(c, MAILBOX_LEVEL + word, bit);
        else Atomics.and(c, MAILBOX_LEVEL + word, ~bit);
        Atomics.or(c, MAILBOX_IRR + word, bit);
        break;
      }
      case DM.Nmi:
        Atomics.or(c, MAILBOX_EVENTS, MailboxEvent.NMI);
        break;
      case DM.Init:
        Atomics.or(c, MAILBOX_EVENTS, MailboxEvent.INIT);
        break;
      case DM.ExtInt:
        Atomics.or(c, MAILBOX_EVENTS, MailboxEvent.EXTINT);
        break;
      case DM.StartUp:
        Atomics.store(c, MAILBOX_SIPI, (vector & 0xff) + 1);
        break;
      default:
        return false;
    }
    this.wake();
    return accepted;
  }

  /** Something is in the mailbox: a halted vCPU thread (sleeping on WAKE) gets up. */
  wake(): void {
    Atomics.store(this.c, MAILBOX_WAKE, 1);
    Atomics.notify(this.c, MAILBOX_WAKE);
  }
}
