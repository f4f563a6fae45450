// Behaviour checked against the Intel 8259A datasheet (231468): ICW1-4 (Figure 7), OCW1-3 (Figure 8),
// "Fully Nested Mode", "Automatic Rotation", "Special Mask Mode", "Poll Command", and the PIIX3
// datasheet (290550) section 2.2.2 for the ELCR registers.
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { type Pic8259, PicPair } from './device.js';
import * as R from './registers.js';

/** The initialization Linux and SeaBIOS perform: edge, cascade, 8086 mode. */
function initPair(pair: PicPair, icw4 = R.ICW4_UPM): void {
  pair.master.write(0, 1, R.ICW1_SELECT | R.ICW1_IC4);
  pair.master.write(1, 1, 0x20);
  pair.master.write(1, 1, 1 << R.CASCADE_IRQ);
  pair.master.write(1, 1, icw4);
  pair.slave.write(0, 1, R.ICW1_SELECT | R.ICW1_IC4);
  pair.slave.write(1, 1, 0x28);
  pair.slave.write(1, 1, R.CASCADE_IRQ);
  pair.slave.write(1, 1, icw4);
}

function make(icw4?: number) {
  const intr = new FakeIrqLine();
  const pair = new PicPair({ output: intr });
  initPair(pair, icw4);
  return { pair, intr };
}
const eoi = (pic: Pic8259) => pic.write(0, 1, R.OCW2_NONSPECIFIC_EOI);
const pulse = (pair: PicPair, irq: number) => {
  pair.setIrq(irq, true);
  pair.setIrq(irq, false);
};

describe('8259A pair', () => {
  it('delivers ICW2 base + level as the vector and raises INTR', () => {
    const { pair, intr } = make();
    pulse(pair, 1);
    expect(intr.level).toBe(true);
    expect(pair.hasInterrupt()).toBe(true);
    expect(pair.acknowledge()).toBe(0x21);
    expect(intr.level).toBe(false);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    expect(pair.master.read(0, 1)).toBe(0x02);
  });

  it('delivers slave IRQs through the cascade with the slave vector', () => {
    const { pair } = make();
    pulse(pair, 14);
    expect(pair.acknowledge()).toBe(0x2e);
    pair.slave.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    expect(pair.slave.read(0, 1)).toBe(1 << 6);
    expect(pair.master.read(0, 1)).toBe(1 << 2);
  });

  it('fully nested: a lower-priority request waits until EOI of the higher one', () => {
    const { pair } = make();
    pulse(pair, 3);
    expect(pair.acknowledge()).toBe(0x23);
    pulse(pair, 5);
    expect(pair.hasInterrupt()).toBe(false);
    pulse(pair, 1);
    expect(pair.hasInterrupt()).toBe(true); // higher priority nests
    expect(pair.acknowledge()).toBe(0x21);
    eoi(pair.master); // clears IR1, the highest in service
    expect(pair.hasInterrupt()).toBe(false);
    eoi(pair.master); // clears IR3
    expect(pair.acknowledge()).toBe(0x25);
  });

  it('IMR masks a request without losing it', () => {
    const { pair } = make();
    pair.master.write(1, 1, 0x01);
    pulse(pair, 0);
    expect(pair.hasInterrupt()).toBe(false);
    expect(pair.master.read(1, 1)).toBe(0x01);
    pair.master.write(1, 1, 0x00);
    expect(pair.acknowledge()).toBe(0x20);
  });

  it('rotate on non-specific EOI makes the serviced level the lowest priority', () => {
    const { pair } = make();
    pulse(pair, 0);
    expect(pair.acknowledge()).toBe(0x20);
    pair.master.write(0, 1, R.OCW2_ROTATE_NONSPECIFIC_EOI);
    // IR1 is now the highest priority and IR0 the lowest.
    pulse(pair, 0);
    pulse(pair, 7);
    expect(pair.acknowledge()).toBe(0x27);
    eoi(pair.master);
    expect(pair.acknowledge()).toBe(0x20);
  });

  it('set-priority command makes the named level the lowest', () => {
    const { pair } = make();
    pair.master.write(0, 1, R.OCW2_SET_PRIORITY | 4);
    pulse(pair, 4);
    pulse(pair, 6);
    expect(pair.acknowledge()).toBe(0x26);
  });

  it('specific EOI clears the named in-service bit only', () => {
    const { pair } = make();
    pulse(pair, 4);
    pair.acknowledge();
    pulse(pair, 3);
    pair.acknowledge();
    pair.master.write(0, 1, R.OCW2_SPECIFIC_EOI | 4);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    expect(pair.master.read(0, 1)).toBe(1 << 3);
  });

  it('automatic EOI leaves ISR clear and allows rotation in AEOI mode', () => {
    const { pair } = make(R.ICW4_UPM | R.ICW4_AEOI);
    pair.master.write(0, 1, R.OCW2_ROTATE_AEOI_SET);
    pulse(pair, 2 + 1);
    expect(pair.acknowledge()).toBe(0x23);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    expect(pair.master.read(0, 1)).toBe(0);
    pulse(pair, 3);
    pulse(pair, 4);
    expect(pair.acknowledge()).toBe(0x24); // IR3 rotated to lowest
  });

  it('special mask mode lets lower levels interrupt a masked in-service level', () => {
    const { pair } = make();
    pulse(pair, 1);
    pair.acknowledge();
    pulse(pair, 5);
    expect(pair.hasInterrupt()).toBe(false);
    pair.master.write(1, 1, 0x02);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_ESMM | R.OCW3_SMM);
    expect(pair.acknowledge()).toBe(0x25);
  });

  it('special fully nested mode lets a higher slave request nest on the in-service cascade', () => {
    const { pair } = make(R.ICW4_UPM | R.ICW4_SFNM);
    pulse(pair, 12);
    expect(pair.acknowledge()).toBe(0x2c); // master IR2 and slave IR4 now in service
    pulse(pair, 9); // slave IR1: higher priority than IR4
    expect(pair.hasInterrupt()).toBe(true);
    expect(pair.acknowledge()).toBe(0x29);
    // Without SFNM the master's in-service IR2 would have blocked it:
    const plain = make();
    pulse(plain.pair, 12);
    plain.pair.acknowledge();
    pulse(plain.pair, 9);
    expect(plain.pair.hasInterrupt()).toBe(false);
  });

  it('poll command returns 0x80|level and acknowledges it', () => {
    const { pair } = make();
    pair.master.write(1, 1, 0xff); // poll works with INTR unused
    pair.master.write(1, 1, 0x00);
    pulse(pair, 6);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_POLL);
    expect(pair.master.read(0, 1)).toBe(R.POLL_INTERRUPT | 6);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_POLL);
    expect(pair.master.read(0, 1)).toBe(0);
  });

  it('edge mode needs a new rising edge; level mode (ELCR) follows the line', () => {
    const { pair } = make();
    pair.setIrq(10, true);
    expect(pair.acknowledge()).toBe(0x2a);
    eoi(pair.slave);
    eoi(pair.master);
    expect(pair.hasInterrupt()).toBe(false); // line still high, no new edge
    pair.elcr.write(1, 1, 1 << 2); // IRQ10 level-triggered
    pair.setIrq(10, false);
    pair.setIrq(10, true);
    expect(pair.acknowledge()).toBe(0x2a);
    eoi(pair.slave);
    eoi(pair.master);
    expect(pair.hasInterrupt()).toBe(true); // still asserted: interrupts again
    pair.setIrq(10, false);
    expect(pair.slave.interruptOutput).toBe(false);
    // The master latched the cascade edge; with the slave request gone, INTA gets the slave's
    // default IR7 vector (the "spurious IRQ15" of a PC).
    expect(pair.acknowledge()).toBe(0x2f);
  });

  it('ELCR bits for IRQ0-2, 8 and 13 are hard-wired to edge', () => {
    const { pair } = make();
    pair.elcr.write(0, 1, 0xff);
    pair.elcr.write(1, 1, 0xff);
    expect(pair.elcr.read(0, 1)).toBe(R.ELCR_MASTER_MASK);
    expect(pair.elcr.read(1, 1)).toBe(R.ELCR_SLAVE_MASK);
  });

  it('a request that vanishes before INTA yields the spurious IRQ7 vector', () => {
    const { pair } = make();
    pair.elcr.write(0, 1, 1 << 5);
    pair.setIrq(5, true);
    pair.setIrq(5, false);
    expect(pair.acknowledge()).toBe(0x27);
    pair.master.write(0, 1, R.OCW3_SELECT | R.OCW3_RR | R.OCW3_RIS);
    expect(pair.master.read(0, 1)).toBe(0);
  });

  it('ISA IRQ2 reaches IRQ9, and irqLine rejects numbers past 15', () => {
    const { pair } = make();
    pair.irqLine(2).set(true);
    expect(pair.acknowledge()).toBe(0x29);
    expect(() => pair.irqLine(16)).toThrow(/InvalidArgument/);
  });

  it('ICW1 clears IMR and ISR and restarts the ICW sequence', () => {
    const { pair } = make();
    pair.master.write(1, 1, 0xaa);
    pair.master.write(0, 1, R.ICW1_SELECT | R.ICW1_SNGL);
    pair.master.write(1, 1, 0x40);
    pulse(pair, 0);
    expect(pair.acknowledge()).toBe(0x40);
    expect(pair.master.read(1, 1)).toBe(0);
  });

  it('state round-trips through JSON with a request in flight', () => {
    const { pair } = make();
    pulse(pair, 12);
    const copy = PicPair.fromState(JSON.parse(JSON.stringify(pair.getState())));
    expect(copy.getState()).toEqual(pair.getState());
    expect(copy.acknowledge()).toBe(0x2c);
  });
});
