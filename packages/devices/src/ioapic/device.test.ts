// Behaviour checked against the Intel 82093AA I/O APIC datasheet (290566): 3.1 (IOREGSEL/IOWIN),
// 3.2.1-3.2.3 (ID, version, arbitration), 3.2.4 (redirection table: mask, trigger mode, remote IRR,
// edge interrupts on masked pins), and Intel SDM Vol. 3A 11.8.5 (EOI broadcast to the I/O APIC).
import { describe, expect, it } from 'vitest';
import { IoApic } from './device.js';
import * as R from './registers.js';

interface Message {
  dest: number;
  destMode: number;
  deliveryMode: number;
  vector: number;
  trigger: number;
}

function make() {
  const sent: Message[] = [];
  const ioapic = new IoApic({
    delivery: {
      deliver: (dest, destMode, deliveryMode, vector, trigger) => {
        sent.push({ dest, destMode, deliveryMode, vector, trigger });
        return true;
      },
    },
  });
  const wr = (index: number, v: number) => {
    ioapic.write(R.IOREGSEL_OFFSET, 4, index);
    ioapic.write(R.IOWIN_OFFSET, 4, v);
  };
  const rd = (index: number) => {
    ioapic.write(R.IOREGSEL_OFFSET, 4, index);
    return ioapic.read(R.IOWIN_OFFSET, 4);
  };
  const program = (pin: number, low: number, dest = 0) => {
    wr(R.IOREDTBL_BASE + 2 * pin + 1, dest << R.RTE_DEST_SHIFT);
    wr(R.IOREDTBL_BASE + 2 * pin, low);
  };
  return { ioapic, sent, wr, rd, program };
}

describe('82093AA I/O APIC', () => {
  it('reports version 0x20 with 24 entries and keeps ID bits 27:24', () => {
    const { rd, wr } = make();
    expect(rd(R.IOAPICVER)).toBe(0x0017_0020);
    wr(R.IOAPICID, 0xffff_ffff);
    expect(rd(R.IOAPICID)).toBe(0x0f00_0000);
    wr(R.IOAPICVER, 0);
    expect(rd(R.IOAPICVER)).toBe(0x0017_0020); // read-only
  });

  it('comes out of reset with every entry masked', () => {
    const { ioapic, rd, sent } = make();
    for (let pin = 0; pin < R.NUM_PINS; pin++) expect(rd(R.IOREDTBL_BASE + 2 * pin)).toBe(R.RTE_MASK);
    ioapic.setIrq(4, true);
    expect(sent).toEqual([]);
  });

  it('redirection of pin 4 delivers vector 0x24 to APIC 0', () => {
    const { ioapic, sent, program } = make();
    program(4, 0x24);
    ioapic.setIrq(4, true);
    expect(sent).toEqual([
      { dest: 0, destMode: 0, deliveryMode: R.DeliveryMode.Fixed, vector: 0x24, trigger: 0 },
    ]);
  });

  it('edge-triggered: one message per rising edge, none while the pin stays high', () => {
    const { ioapic, sent, program } = make();
    program(1, 0x31 | R.RTE_DEST_MODE | (R.DeliveryMode.LowestPriority << 8), 0x03);
    ioapic.setIrq(1, true);
    ioapic.setIrq(1, true);
    ioapic.setIrq(1, false);
    ioapic.setIrq(1, true);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual({ dest: 3, destMode: 1, deliveryMode: 1, vector: 0x31, trigger: 0 });
  });

  it('an edge on a masked pin is ignored, not held pending (datasheet 3.2.4)', () => {
    const { ioapic, sent, program } = make();
    program(3, 0x33 | R.RTE_MASK);
    ioapic.setIrq(3, true);
    ioapic.setIrq(3, false);
    program(3, 0x33);
    expect(sent).toEqual([]);
  });

  it('level-triggered: remote IRR holds further messages until the EOI', () => {
    const { ioapic, sent, program, rd } = make();
    program(10, 0x3a | R.RTE_TRIGGER_LEVEL);
    ioapic.setIrq(10, true);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.trigger).toBe(1);
    expect(rd(R.IOREDTBL_BASE + 20) & R.RTE_REMOTE_IRR).toBe(R.RTE_REMOTE_IRR);
    ioapic.setIrq(10, true);
    expect(sent).toHaveLength(1);
    ioapic.eoi(0x3a); // still asserted: delivered again
    expect(sent).toHaveLength(2);
    ioapic.setIrq(10, false);
    ioapic.eoi(0x3a);
    expect(sent).toHaveLength(2);
    expect(rd(R.IOREDTBL_BASE + 20) & R.RTE_REMOTE_IRR).toBe(0);
  });

  it('remote IRR is read-only and an EOI for another vector leaves it set', () => {
    const { ioapic, program, rd, wr } = make();
    program(9, 0x39 | R.RTE_TRIGGER_LEVEL);
    ioapic.setIrq(9, true);
    wr(R.IOREDTBL_BASE + 18, 0x39 | R.RTE_TRIGGER_LEVEL); // software write does not clear it
    ioapic.eoi(0x40);
    expect(rd(R.IOREDTBL_BASE + 18) & R.RTE_REMOTE_IRR).toBe(R.RTE_REMOTE_IRR);
  });

  it('a level message no local APIC accepted leaves remote IRR clear and is retried (KVM)', () => {
    let accept = false;
    const sent: number[] = [];
    const ioapic = new IoApic({
      delivery: {
        deliver: (_d, _m, _dm, vector) => {
          sent.push(vector);
          return accept;
        },
      },
    });
    ioapic.write(R.IOREGSEL_OFFSET, 4, R.IOREDTBL_BASE + 2 * 7);
    ioapic.write(R.IOWIN_OFFSET, 4, 0x37 | R.RTE_TRIGGER_LEVEL);
    ioapic.setIrq(7, true);
    expect(ioapic.entry(7)[0] & R.RTE_REMOTE_IRR).toBe(0);
    accept = true;
    ioapic.setIrq(7, true);
    expect(ioapic.entry(7)[0] & R.RTE_REMOTE_IRR).toBe(R.RTE_REMOTE_IRR);
    expect(sent).toEqual([0x37, 0x37]);
  });

  it('the EOI register at 0x40 acts like an EOI broadcast', () => {
    const { ioapic, sent, program } = make();
    program(11, 0x3b | R.RTE_TRIGGER_LEVEL);
    ioapic.setIrq(11, true);
    ioapic.write(R.EOI_OFFSET, 4, 0x3b);
    expect(sent).toHaveLength(2);
  });

  it('unmasking a level-triggered entry with its pin asserted delivers at once', () => {
    const { ioapic, sent, program } = make();
    program(16, 0x50 | R.RTE_TRIGGER_LEVEL | R.RTE_MASK);
    ioapic.setIrq(16, true);
    expect(sent).toHaveLength(0);
    program(16, 0x50 | R.RTE_TRIGGER_LEVEL);
    expect(sent).toHaveLength(1);
  });

  it('ExtINT entries carry no vector (the 8259 supplies it)', () => {
    const { ioapic, sent, program } = make();
    program(0, 0x99 | (R.DeliveryMode.ExtInt << 8));
    ioapic.setIrq(0, true);
    expect(sent[0]).toMatchObject({ deliveryMode: R.DeliveryMode.ExtInt, vector: 0 });
  });

  it('ignores registers past entry 23 and narrow window writes; reads bytes of IOREGSEL', () => {
    const { ioapic, rd, wr } = make();
    wr(R.IOREDTBL_BASE + 2 * 24, 0x1234);
    expect(rd(R.IOREDTBL_BASE + 2 * 24)).toBe(0);
    ioapic.write(R.IOREGSEL_OFFSET, 4, R.IOREDTBL_BASE);
    ioapic.write(R.IOWIN_OFFSET, 1, 0x20);
    expect(ioapic.read(R.IOWIN_OFFSET, 4)).toBe(R.RTE_MASK);
    expect(ioapic.read(R.IOWIN_OFFSET + 2, 1)).toBe(1);
    expect(() => ioapic.setIrq(24, true)).toThrow(/pin/);
  });

  it('state round-trips through JSON without delivering', () => {
    const { ioapic, sent, program } = make();
    program(5, 0x25 | R.RTE_TRIGGER_LEVEL, 1);
    ioapic.setIrq(5, true);
    const s = JSON.parse(JSON.stringify(ioapic.getState()));
    const other: Message[] = [];
    const copy = IoApic.fromState(s, {
      delivery: {
        deliver: (dest, destMode, deliveryMode, vector, trigger) => {
          other.push({ dest, destMode, deliveryMode, vector, trigger });
          return true;
        },
      },
    });
    expect(copy.getState()).toEqual(ioapic.getState());
    expect(other).toEqual([]);
    copy.eoi(0x25);
    expect(other).toEqual([sent[0]]);
  });
});
