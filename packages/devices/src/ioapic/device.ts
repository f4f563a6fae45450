import type { AccessSize, IrqLine, MmioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import {
  DeliveryMode,
  EOI_OFFSET,
  ID_MASK,
  ID_SHIFT,
  IOAPICARB,
  IOAPICID,
  IOAPICVER,
  IOREDTBL_BASE,
  IOREGSEL_OFFSET,
  IOWIN_OFFSET,
  NUM_PINS,
  RTE_DELIVERY_MODE_MASK,
  RTE_DELIVERY_MODE_SHIFT,
  RTE_DEST_MODE,
  RTE_DEST_SHIFT,
  RTE_HIGH_WRITABLE,
  RTE_LOW_WRITABLE,
  RTE_MASK,
  RTE_REMOTE_IRR,
  RTE_TRIGGER_LEVEL,
  RTE_VECTOR_MASK,
  VER_MAX_REDIR_SHIFT,
  VERSION,
} from './registers.js';
import { type IoApicState, validateIoApicState } from './state.js';

/**
 * Where the I/O APIC sends an interrupt message: the VMM routes it to the local APICs whose
 * destination matches (physical: APIC ID, 0xFF broadcast; logical: LDR match).
 *
 * @param dest destination field (bits 63:56 of the entry)
 * @param destMode 0 physical, 1 logical ({@link DestMode})
 * @param deliveryMode {@link DeliveryMode} (bits 10:8)
 * @param vector bits 7:0
 * @param trigger 0 edge, 1 level ({@link Trigger}); level-triggered messages expect an EOI
 * @returns whether any local APIC accepted the message; when none did, remote IRR stays clear (as in
 *   KVM), so a level interrupt is not stuck behind an EOI that will never come
 */
export interface IoApicDelivery {
  deliver(dest: number, destMode: number, deliveryMode: number, vector: number, trigger: number): boolean;
}

export interface IoApicOptions {
  readonly delivery: IoApicDelivery;
  /** IOAPICID bits 27:24 after reset (QEMU and the MADT it builds use 0). */
  readonly id?: number;
}

/**
 * An Intel 82093AA-style I/O APIC with 24 inputs and the version-0x20 EOI register, as QEMU's pc
 * machine has. Devices drive pins with {@link IoApic.setIrq} (or {@link IoApic.irqLine}); unmasked
 * entries become interrupt messages through the injected {@link IoApicDelivery}. Level-triggered
 * entries set remote IRR on delivery and wait for {@link IoApic.eoi} (the LAPIC's EOI broadcast, or a
 * write to the EOI register) before the next message.
 *
 * A pin's level is its asserted state: polarity (bit 13) is stored and read back but not applied,
 * as in QEMU and KVM, whose devices signal "asserted" whatever the wire polarity.
 */
export class IoApic implements MmioDevice {
  readonly maxAccessSize: AccessSize = 4;
  private id: number;
  private ioregsel = 0;
  private readonly low = new Array<number>(NUM_PINS).fill(RTE_MASK);
  private readonly high = new Array<number>(NUM_PINS).fill(0);
  private lines = 0;
  private readonly delivery: IoApicDelivery;
  private readonly irqLines: IrqLine[] = [];

  constructor(options: IoApicOptions) {
    this.delivery = options.delivery;
    this.id = checkInt('I/O APIC id', options.id ?? 0, 0, ID_MASK);
    for (let pin = 0; pin < NUM_PINS; pin++) {
      this.irqLines.push({ set: (level: boolean) => this.setIrq(pin, level) });
    }
  }

  read(offset: number, size: AccessSize): number {
    let v: number;
    const reg = offset & ~3;
    if (reg === IOREGSEL_OFFSET) v = this.ioregsel;
    else if (reg === IOWIN_OFFSET) v = this.readIndirect(this.ioregsel);
    else return 0;
    // Narrow accesses see the addressed bytes of the 32-bit register.
    const shifted = v >>> ((offset & 3) * 8);
    return size === 4 ? shifted >>> 0 : shifted & (size === 1 ? 0xff : 0xffff);
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === IOREGSEL_OFFSET) {
      this.ioregsel = value & 0xff;
    } else if (offset === IOWIN_OFFSET && size === 4) {
      this.writeIndirect(this.ioregsel, value >>> 0);
    } else if (offset === EOI_OFFSET) {
      this.eoi(value & 0xff);
    }
  }

  /** Drives input `pin` (0-23): `level` true = asserted. Out-of-range pins are a wiring error. */
  setIrq(pin: number, level: boolean): void {
    checkInt('I/O APIC pin', pin, 0, NUM_PINS - 1);
    const bit = 1 << pin;
    const was = (this.lines & bit) !== 0;
    this.lines = level ? this.lines | bit : this.lines & ~bit;
    if (!level) return;
    if (this.low[pin]! & RTE_TRIGGER_LEVEL) this.service(pin);
    // Datasheet 3.2.4: edge-sensitive interrupts on a masked pin are ignored, not held pending.
    else if (!was) this.service(pin);
  }

  /** The `IrqLine` for input `pin`, to hand to a device. */
  irqLine(pin: number): IrqLine {
    return this.irqLines[checkInt('I/O APIC pin', pin, 0, NUM_PINS - 1)]!;
  }

  /**
   * End of interrupt for `vector` (a LAPIC's EOI broadcast for a level-triggered vector): clears remote
   * IRR of every level-triggered entry with that vector and delivers again if its pin is still asserted.
   */
  eoi(vector: number): void {
    vector &= 0xff;
    for (let pin = 0; pin < NUM_PINS; pin++) {
      const low = this.low[pin]!;
      if ((low & RTE_VECTOR_MASK) !== vector || !(low & RTE_REMOTE_IRR)) continue;
      this.low[pin] = low & ~RTE_REMOTE_IRR;
      if (low & RTE_TRIGGER_LEVEL && this.lines & (1 << pin)) this.service(pin);
    }
  }

  /** Redirection entry `pin` as [low, high] dwords (for inspection and the KVM facade's GET_IRQCHIP). */
  entry(pin: number): [number, number] {
    checkInt('I/O APIC pin', pin, 0, NUM_PINS - 1);
    return [this.low[pin]!, this.high[pin]!];
  }

  getState(): IoApicState {
    return {
      id: this.id,
      ioregsel: this.ioregsel,
      redirection: this.low.map((l, i) => [l, this.high[i]!] as const),
      lines: this.lines,
    };
  }

  static fromState(state: IoApicState, options: IoApicOptions): IoApic {
    const a = new IoApic(options);
    a.loadState(state);
    return a;
  }

  /** Restores a snapshot in place (no interrupt is delivered by restoring). */
  loadState(s: IoApicState): void {
    validateIoApicState(s);
    this.id = s.id;
    this.ioregsel = s.ioregsel;
    for (let i = 0; i < NUM_PINS; i++) {
      const [l, h] = s.redirection[i]!;
      this.low[i] = l & (RTE_LOW_WRITABLE | RTE_REMOTE_IRR);
      this.high[i] = (h & RTE_HIGH_WRITABLE) >>> 0;
    }
    this.lines = s.lines;
  }

  private readIndirect(index: number): number {
    switch (index) {
      case IOAPICID:
        return (this.id << ID_SHIFT) >>> 0;
      case IOAPICVER:
        return ((NUM_PINS - 1) << VER_MAX_REDIR_SHIFT) | VERSION;
      case IOAPICARB:
        return 0; // QEMU reads the arbitration ID as 0 (it has no APIC bus)
      default: {
        const pin = (index - IOREDTBL_BASE) >> 1;
        if (index < IOREDTBL_BASE || pin >= NUM_PINS) return 0;
        return (index & 1 ? this.high[pin]! : this.low[pin]!) >>> 0;
      }
    }
  }

  private writeIndirect(index: number, value: number): void {
    if (index === IOAPICID) {
      this.id = (value >>> ID_SHIFT) & ID_MASK;
      return;
    }
    const pin = (index - IOREDTBL_BASE) >> 1;
    if (index < IOREDTBL_BASE || pin >= NUM_PINS) return; // version, arbitration: read-only
    if (index & 1) {
      this.high[pin] = (value & RTE_HIGH_WRITABLE) >>> 0;
      return;
    }
    const old = this.low[pin]!;
    let low = (value & RTE_LOW_WRITABLE) | (old & RTE_REMOTE_IRR);
    // Remote IRR is undefined for edge-triggered entries; switching to edge clears it (as QEMU).
    if (!(low & RTE_TRIGGER_LEVEL)) low &= ~RTE_REMOTE_IRR;
    this.low[pin] = low;
    // Unmasking a level-triggered entry whose pin is asserted delivers it now.
    if (low & RTE_TRIGGER_LEVEL && this.lines & (1 << pin)) this.service(pin);
  }

  private service(pin: number): void {
    const low = this.low[pin]!;
    if (low & RTE_MASK) return;
    const level = (low & RTE_TRIGGER_LEVEL) !== 0;
    if (level && low & RTE_REMOTE_IRR) return;
    const deliveryMode = (low & RTE_DELIVERY_MODE_MASK) >>> RTE_DELIVERY_MODE_SHIFT;
    const accepted = this.delivery.deliver(
      this.high[pin]! >>> RTE_DEST_SHIFT,
      low & RTE_DEST_MODE ? 1 : 0,
      deliveryMode,
      // ExtINT takes its vector from the 8259's INTA cycle; the field is ignored (datasheet 3.2.4).
      deliveryMode === DeliveryMode.ExtInt ? 0 : low & RTE_VECTOR_MASK,
      level ? 1 : 0,
    );
    if (level && accepted) this.low[pin] = this.low[pin]! | RTE_REMOTE_IRR;
  }
}
