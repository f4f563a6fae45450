import { type AccessSize, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import { checkInt } from '../errors.js';
import {
  CASCADE_IRQ,
  ELCR_MASTER_MASK,
  ELCR_SLAVE_MASK,
  ICW1_IC4,
  ICW1_LTIM,
  ICW1_SELECT,
  ICW1_SNGL,
  ICW4_AEOI,
  ICW4_SFNM,
  OCW2_COMMAND_MASK,
  OCW2_LEVEL_MASK,
  OCW2_NONSPECIFIC_EOI,
  OCW2_ROTATE_AEOI_CLEAR,
  OCW2_ROTATE_AEOI_SET,
  OCW2_ROTATE_NONSPECIFIC_EOI,
  OCW2_ROTATE_SPECIFIC_EOI,
  OCW2_SET_PRIORITY,
  OCW2_SPECIFIC_EOI,
  OCW3_ESMM,
  OCW3_POLL,
  OCW3_RIS,
  OCW3_RR,
  OCW3_SELECT,
  OCW3_SMM,
  PIC_COMMAND_OFFSET,
  PIC_DATA_OFFSET,
  POLL_INTERRUPT,
} from './registers.js';
import { type Pic8259State, type PicPairState, validatePicState } from './state.js';

export interface Pic8259Options {
  /** The INT output (to the CPU's INTR for a master, to the master's IR2 for a slave). */
  readonly output?: IrqLine;
  /** A master honours special fully nested mode for its cascade input. */
  readonly master?: boolean;
}

/**
 * One Intel 8259A in 8086 mode: IRR/ISR/IMR, edge or level inputs (ICW1.LTIM or a PIIX ELCR),
 * fully nested and rotating priority, specific and non-specific EOI, automatic EOI, special mask,
 * special fully nested mode and poll. Usable alone; {@link PicPair} wires the PC's cascade.
 */
export class Pic8259 implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  private irr = 0;
  private isr = 0;
  private imr = 0;
  private elcr = 0;
  private lines = 0;
  private priorityBase = 0;
  private vectorBase = 0;
  private initStep = 0;
  private icw1 = 0;
  private icw3 = 0;
  private icw4 = 0;
  private readIsr = false;
  private poll = false;
  private specialMask = false;
  private rotateOnAutoEoi = false;
  private outputLevel = false;
  private readonly output: IrqLine;
  readonly isMaster: boolean;

  constructor(options: Pic8259Options = {}) {
    this.output = options.output ?? NO_IRQ;
    this.isMaster = options.master ?? true;
  }

  /** Drives IR input `irq` (0-7) to `level`. */
  setIrq(irq: number, level: boolean): void {
    const bit = 1 << (irq & 7);
    if (this.levelMask & bit) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      // Edge mode latches a rising edge in IRR until it is acknowledged.
      this.irr |= bit;
    }
    this.lines = level ? this.lines | bit : this.lines & ~bit;
    this.update();
  }

  /** The IR level that would be delivered on INTA now, or -1. */
  pendingIrq(): number {
    const request = this.irr & ~this.imr;
    const p = this.priorityOf(request);
    if (p === 8) return -1;
    let inService = this.isr;
    // Special mask mode: a masked in-service level no longer blocks the others (datasheet, OCW3).
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: the master lets a slave interrupt nest on the in-service cascade IR.
    if (this.isMaster && this.icw4 & ICW4_SFNM) inService &= ~(1 << CASCADE_IRQ);
    return p < this.priorityOf(inService) ? (p + this.priorityBase) & 7 : -1;
  }

  /** First INTA pulse for `irq` (as returned by {@link pendingIrq}): IRR -> ISR. */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (this.icw4 & ICW4_AEOI) {
      if (this.rotateOnAutoEoi) this.priorityBase = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if (!(this.levelMask & bit)) this.irr &= ~bit;
    this.update();
  }

  /** Vector for an acknowledged level (8086 mode: T7-T3 from ICW2, level in bits 2-0). */
  vectorFor(irq: number): number {
    return (this.vectorBase & 0xf8) | (irq & 7);
  }

  get interruptOutput(): boolean {
    return this.outputLevel;
  }

  /** Edge/level control as a PIIX ELCR sets it (bit n = 1: IR n is level-triggered). */
  setElcr(value: number): void {
    this.elcr = value & 0xff;
    this.update();
  }

  get elcrValue(): number {
    return this.elcr;
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === PIC_DATA_OFFSET) return this.imr;
    if (offset !== PIC_COMMAND_OFFSET) return 0xff;
    if (this.poll) {
      this.poll = false;
      const irq = this.pendingIrq();
      if (irq < 0) return 0;
      this.acknowledge(irq);
      return POLL_INTERRUPT | irq;
    }
    return this.readIsr ? this.isr : this.irr;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === PIC_COMMAND_OFFSET) {
      if (value & ICW1_SELECT) this.writeIcw1(value);
      else if (value & OCW3_SELECT) this.writeOcw3(value);
      else this.writeOcw2(value);
    } else if (offset === PIC_DATA_OFFSET) {
      this.writeData(value);
    }
    this.update();
  }

  getState(): Pic8259State {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      elcr: this.elcr,
      lines: this.lines,
      priorityBase: this.priorityBase,
      vectorBase: this.vectorBase,
      initStep: this.initStep,
      icw1: this.icw1,
      icw3: this.icw3,
      icw4: this.icw4,
      readIsr: this.readIsr,
      poll: this.poll,
      specialMask: this.specialMask,
      rotateOnAutoEoi: this.rotateOnAutoEoi,
    };
  }

  static fromState(state: Pic8259State, options: Pic8259Options = {}): Pic8259 {
    const p = new Pic8259(options);
    p.loadState(state);
    return p;
  }

  /** @internal Restores a snapshot in place (used by {@link PicPair.fromState}). */
  loadState(s: Pic8259State): void {
    validatePicState(s);
    this.irr = s.irr;
    this.isr = s.isr;
    this.imr = s.imr;
    this.elcr = s.elcr;
    this.lines = s.lines;
    this.priorityBase = s.priorityBase;
    this.vectorBase = s.vectorBase;
    this.initStep = s.initStep;
    this.icw1 = s.icw1;
    this.icw3 = s.icw3;
    this.icw4 = s.icw4;
    this.readIsr = s.readIsr;
    this.poll = s.poll;
    this.specialMask = s.specialMask;
    this.rotateOnAutoEoi = s.rotateOnAutoEoi;
    this.update();
  }

  private get levelMask(): number {
    return this.icw1 & ICW1_LTIM ? 0xff : this.elcr;
  }

  /** Relative priority (0 = highest) of the highest-priority bit set in `mask`; 8 when none. */
  private priorityOf(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    for (let p = 0; p < 8; p++) if (mask & (1 << ((p + this.priorityBase) & 7))) return p;
    return 8;
  }

  private writeIcw1(value: number): void {
    // Datasheet, ICW1: edge sense reset, IMR cleared, IR7 lowest priority, special mask cleared,
    // status read set to IRR, and ICW4 functions cleared when IC4 = 0.
    this.icw1 = value;
    this.imr = 0;
    this.isr = 0;
    this.irr &= this.levelMask & this.lines;
    this.priorityBase = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.rotateOnAutoEoi = false;
    if (!(value & ICW1_IC4)) this.icw4 = 0;
    this.initStep = 2;
  }

  private writeData(value: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = value & 0xf8;
        this.initStep = this.icw1 & ICW1_SNGL ? this.afterIcw3() : 3;
        return;
      case 3:
        this.icw3 = value;
        this.initStep = this.afterIcw3();
        return;
      case 4:
        this.icw4 = value & 0x1f;
        this.initStep = 0;
        return;
      default:
        this.imr = value; // OCW1
    }
  }

  private afterIcw3(): number {
    return this.icw1 & ICW1_IC4 ? 4 : 0;
  }

  private writeOcw2(value: number): void {
    const level = value & OCW2_LEVEL_MASK;
    switch (value & OCW2_COMMAND_MASK) {
      case OCW2_NONSPECIFIC_EOI:
      case OCW2_ROTATE_NONSPECIFIC_EOI: {
        const p = this.priorityOf(this.isr);
        if (p === 8) return;
        const irq = (p + this.priorityBase) & 7;
        this.isr &= ~(1 << irq);
        if ((value & OCW2_COMMAND_MASK) === OCW2_ROTATE_NONSPECIFIC_EOI) this.priorityBase = (irq + 1) & 7;
        return;
      }
      case OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        return;
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << level);
        this.priorityBase = (level + 1) & 7;
        return;
      case OCW2_SET_PRIORITY:
        // The named level becomes the lowest priority.
        this.priorityBase = (level + 1) & 7;
        return;
      case OCW2_ROTATE_AEOI_SET:
        this.rotateOnAutoEoi = true;
        return;
      case OCW2_ROTATE_AEOI_CLEAR:
        this.rotateOnAutoEoi = false;
        return;
      default:
        return; // OCW2_NOP
    }
  }

  private writeOcw3(value: number): void {
    if (value & OCW3_POLL) this.poll = true;
    if (value & OCW3_RR) this.readIsr = (value & OCW3_RIS) !== 0;
    if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
  }

  private update(): void {
    const level = this.pendingIrq() >= 0;
    if (level !== this.outputLevel) {
      this.outputLevel = level;
      this.output.set(level);
    }
  }
}

/** The PIIX edge/level control registers at 0x4D0/0x4D1. */
class ElcrPorts implements PioDevice {
  readonly maxAccessSize: AccessSize = 1;
  constructor(
    private readonly master: Pic8259,
    private readonly slave: Pic8259,
  ) {}
  read(offset: number): number {
    if (offset === 0) return this.master.elcrValue;
    if (offset === 1) return this.slave.elcrValue;
    return 0xff;
  }
  write(offset: number, _size: AccessSize, value: number): void {
    if (offset === 0) this.master.setElcr(value & ELCR_MASTER_MASK);
    else if (offset === 1) this.slave.setElcr(value & ELCR_SLAVE_MASK);
  }
}

export interface PicPairOptions {
  /** The master's INT output, to the CPU's INTR input (or a LAPIC's LINT0). */
  readonly output?: IrqLine;
}

/**
 * The PC/AT pair of 8259As: a slave cascaded on the master's IR2, ISA IRQs 0-15, and the PIIX ELCR.
 * Insert `master` at 0x20, `slave` at 0xA0 (2 ports each) and `elcr` at 0x4D0 (2 ports).
 * The CPU side is {@link PicPair.hasInterrupt} / {@link PicPair.acknowledge}.
 */
export class PicPair {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: PioDevice;
  private readonly lines: IrqLine[] = [];

  constructor(options: PicPairOptions = {}) {
    this.master = new Pic8259({ output: options.output ?? NO_IRQ, master: true });
    const master = this.master;
    this.slave = new Pic8259({
      output: { set: (level: boolean) => master.setIrq(CASCADE_IRQ, level) },
      master: false,
    });
    this.elcr = new ElcrPorts(this.master, this.slave);
    for (let i = 0; i < 16; i++) this.lines.push({ set: (level: boolean) => this.setIrq(i, level) });
  }

  /**
   * Drives ISA IRQ `irq` (0-15). IRQ2 is the cascade on the master; as on the ISA bus, a device on
   * IRQ2 actually reaches IRQ9.
   */
  setIrq(irq: number, level: boolean): void {
    if (irq === CASCADE_IRQ) irq = 9;
    if (irq < 8) this.master.setIrq(irq, level);
    else this.slave.setIrq(irq - 8, level);
  }

  /** The line for ISA IRQ `irq`, to hand to a device. Throws DevicesError unless 0 <= irq <= 15. */
  irqLine(irq: number): IrqLine {
    return this.lines[checkInt('ISA IRQ', irq, 0, 15)]!;
  }

  /** Level of the master's INT output. */
  hasInterrupt(): boolean {
    return this.master.interruptOutput;
  }

  /**
   * The CPU's INTA cycle: returns the vector and moves the request into service. With nothing pending
   * (the request went away) this is the spurious IRQ7 (or IRQ15) vector, as on real hardware.
   */
  acknowledge(): number {
    const irq = this.master.pendingIrq();
    if (irq < 0) return this.master.vectorFor(7);
    if (irq !== CASCADE_IRQ) {
      this.master.acknowledge(irq);
      return this.master.vectorFor(irq);
    }
    const slaveIrq = this.slave.pendingIrq();
    const vector = this.slave.vectorFor(slaveIrq < 0 ? 7 : slaveIrq);
    this.master.acknowledge(CASCADE_IRQ);
    if (slaveIrq >= 0) this.slave.acknowledge(slaveIrq);
    return vector;
  }

  getState(): PicPairState {
    return { master: this.master.getState(), slave: this.slave.getState() };
  }

  static fromState(state: PicPairState, options: PicPairOptions = {}): PicPair {
    const pair = new PicPair(options);
    pair.slave.loadState(state.slave);
    pair.master.loadState(state.master);
    return pair;
  }
}
