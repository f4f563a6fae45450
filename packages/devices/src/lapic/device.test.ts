// Behaviour checked against the Intel SDM Vol. 3A chapter 11 "Advanced Programmable Interrupt
// Controller (APIC)": 11.4.3-11.4.4 (IA32_APIC_BASE, enabling), 11.4.7 (reset, software disable),
// 11.5.1 (LVT), 11.5.3 (ESR), 11.5.4 (timer: divide configuration, one-shot, periodic, TSC-deadline),
// 11.6.1 (ICR, self IPI), 11.6.2 (logical destinations), 11.8.3-11.8.5 (TPR/PPR, IRR/ISR/TMR, EOI),
// 11.9 (spurious vector), 11.12 (x2APIC MSRs, 64-bit ICR, SELF IPI).
import { ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { IoApic } from '../ioapic/device.js';
import { IoApicRegs } from '../ioapic/index.js';
import { PicPair } from '../pic/device.js';
import { type LapicIpi, LocalApic, type LocalApicOptions } from './device.js';
import { DeliveryMode, Reg, Shorthand, SVR_ENABLE, TimerMode } from './registers.js';
import * as R from './registers.js';

function make(extra: Partial<LocalApicOptions> = {}) {
  const clock = new ManualClock(0);
  const ipis: LapicIpi[] = [];
  const eois: number[] = [];
  let kicks = 0;
  const apic = new LocalApic({
    clock,
    id: 0,
    bsp: true,
    ipi: { sendIpi: (i) => ipis.push(i) },
    eoiBroadcast: { eoi: (v) => eois.push(v) },
    kick: { kick: () => kicks++ },
    ...extra,
  });
  const w = (reg: number, v: number) => apic.write(reg, 4, v);
  const r = (reg: number) => apic.read(reg, 4);
  w(Reg.SVR, SVR_ENABLE | 0xff);
  return { apic, clock, ipis, eois, w, r, kicks: () => kicks };
}
const bit = (words: (reg: number) => number, base: number, v: number) =>
  (words(base + (v >>> 5) * 0x10) >>> (v & 31)) & 1;

describe('local APIC', () => {
  it('reset values: ID in bits 31:24, QEMU version 0x50014, LVTs masked, BSP LINT0 ExtINT', () => {
    const clock = new ManualClock(0);
    const apic = new LocalApic({ clock, id: 3 });
    expect(apic.read(Reg.ID, 4)).toBe(0x0300_0000);
    expect(apic.read(Reg.VERSION, 4)).toBe(0x0005_0014);
    expect(apic.read(Reg.SVR, 4)).toBe(0xff);
    expect(apic.read(Reg.DFR, 4)).toBe(0xffff_ffff);
    for (const reg of [Reg.LVT_TIMER, Reg.LVT_LINT0, Reg.LVT_LINT1, Reg.LVT_ERROR]) {
      expect(apic.read(reg, 4)).toBe(R.LVT_MASKED);
    }
    expect(apic.readApicBase()).toBe(0xfee0_0800n);
    const bsp = new LocalApic({ clock, id: 0, bsp: true });
    expect(bsp.read(Reg.LVT_LINT0, 4)).toBe(0x700);
    expect(bsp.readApicBase()).toBe(0xfee0_0900n);
  });

  it('accept sets IRR; INTA moves the vector to ISR; EOI clears it', () => {
    const { apic, r, w, kicks } = make();
    apic.accept(0x41, false);
    expect(kicks()).toBe(1);
    expect(bit(r, Reg.IRR0, 0x41)).toBe(1);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x41);
    expect(bit(r, Reg.IRR0, 0x41)).toBe(0);
    expect(bit(r, Reg.ISR0, 0x41)).toBe(1);
    expect(r(Reg.PPR)).toBe(0x40);
    w(Reg.EOI, 0);
    expect(bit(r, Reg.ISR0, 0x41)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('the highest vector is delivered first and an in-service class holds equal or lower classes', () => {
    const { apic, w } = make();
    apic.accept(0x31, false);
    apic.accept(0x52, false);
    expect(apic.acknowledge()).toBe(0x52);
    apic.accept(0x55, false); // same class as the one in service: held
    expect(apic.hasInterrupt()).toBe(false);
    w(Reg.EOI, 0);
    expect(apic.acknowledge()).toBe(0x55);
    w(Reg.EOI, 0);
    expect(apic.acknowledge()).toBe(0x31);
  });

  it("TPR above a pending vector's class holds it", () => {
    const { apic, w, r } = make();
    w(Reg.TPR, 0x50);
    apic.accept(0x45, false);
    expect(apic.hasInterrupt()).toBe(false);
    expect(r(Reg.PPR)).toBe(0x50);
    expect(apic.acknowledge()).toBe(0xff); // spurious vector (11.9)
    w(Reg.TPR, 0x3f);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x45);
  });

  it('APR follows TPR, ISR and IRR classes (11.8.3)', () => {
    const { apic, w, r } = make();
    w(Reg.TPR, 0x25);
    expect(r(Reg.APR)).toBe(0x25);
    apic.accept(0x61, false);
    expect(r(Reg.APR)).toBe(0x60);
  });

  it("EOI of a level-triggered vector clears the IOAPIC's remote IRR", () => {
    const sent: number[] = [];
    let apicRef: LocalApic | undefined;
    const ioapic = new IoApic({
      delivery: {
        deliver: (_d, _dm, mode, vector, trigger) => {
          sent.push(vector);
          return apicRef!.deliver(mode, vector, trigger);
        },
      },
    });
    const { apic, w, r, eois } = make({ eoiBroadcast: { eoi: (v) => ioapic.eoi(v) } });
    apicRef = apic;
    ioapic.write(IoApicRegs.IOREGSEL_OFFSET, 4, IoApicRegs.IOREDTBL_BASE + 2 * 9);
    ioapic.write(IoApicRegs.IOWIN_OFFSET, 4, 0x39 | IoApicRegs.RTE_TRIGGER_LEVEL);
    ioapic.setIrq(9, true);
    expect(bit(r, Reg.TMR0, 0x39)).toBe(1);
    expect(apic.acknowledge()).toBe(0x39);
    expect(ioapic.entry(9)[0] & IoApicRegs.RTE_REMOTE_IRR).toBe(IoApicRegs.RTE_REMOTE_IRR);
    ioapic.setIrq(9, false);
    w(Reg.EOI, 0);
    expect(eois).toEqual([]); // the broadcast went to the IOAPIC, not the default recorder
    expect(ioapic.entry(9)[0] & IoApicRegs.RTE_REMOTE_IRR).toBe(0);
    expect(sent).toEqual([0x39]);
  });

  it('EOI of an edge-triggered vector is not broadcast', () => {
    const { apic, w, eois } = make();
    apic.accept(0x40, false);
    apic.acknowledge();
    w(Reg.EOI, 0);
    expect(eois).toEqual([]);
    apic.deliver(DeliveryMode.Fixed, 0x41, 1);
    apic.acknowledge();
    w(Reg.EOI, 0);
    expect(eois).toEqual([0x41]);
  });

  it('periodic LAPIC timer with divide 16 fires every N ns', () => {
    const { apic, clock, w, r } = make();
    w(Reg.TIMER_DIVIDE, 0b0011); // divide by 16
    w(Reg.LVT_TIMER, 0x30 | (TimerMode.Periodic << R.LVT_TIMER_MODE_SHIFT));
    w(Reg.TIMER_INITIAL, 1000); // 16000 ns per period on the 1 GHz bus clock
    expect(apic.nextDeadlineNs()).toBe(16_000);
    clock.setNs(8_000);
    expect(r(Reg.TIMER_CURRENT)).toBe(500);
    for (let i = 1; i <= 3; i++) {
      clock.setNs(16_000 * i - 1);
      apic.poll();
      expect(apic.hasInterrupt()).toBe(false);
      clock.setNs(16_000 * i);
      apic.poll();
      expect(apic.acknowledge()).toBe(0x30);
      w(Reg.EOI, 0);
      expect(r(Reg.TIMER_CURRENT)).toBe(1000); // reloaded
    }
    expect(apic.nextDeadlineNs()).toBe(64_000);
  });

  it('one-shot timer fires once and the current count stops at 0', () => {
    const { apic, clock, w, r } = make();
    w(Reg.TIMER_DIVIDE, 0b1011); // divide by 1
    w(Reg.LVT_TIMER, 0x31);
    w(Reg.TIMER_INITIAL, 500);
    clock.setNs(500);
    apic.poll();
    expect(apic.acknowledge()).toBe(0x31);
    expect(r(Reg.TIMER_CURRENT)).toBe(0);
    expect(apic.nextDeadlineNs()).toBeNull();
    w(Reg.TIMER_INITIAL, 0); // writing 0 stops the timer
    expect(apic.nextDeadlineNs()).toBeNull();
  });

  it('masked LVT timer sets no IRR', () => {
    const { apic, clock, w, r } = make();
    w(Reg.LVT_TIMER, 0x32 | R.LVT_MASKED | (TimerMode.Periodic << R.LVT_TIMER_MODE_SHIFT));
    w(Reg.TIMER_INITIAL, 100);
    clock.setNs(10_000);
    apic.poll();
    expect(bit(r, Reg.IRR0, 0x32)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.nextDeadlineNs()).toBeGreaterThan(10_000); // still counting
  });

  it('changing the divider mid-count keeps the remaining count', () => {
    const { apic, clock, w, r } = make();
    w(Reg.TIMER_DIVIDE, 0b1011);
    w(Reg.LVT_TIMER, 0x33);
    w(Reg.TIMER_INITIAL, 1000);
    clock.setNs(400);
    w(Reg.TIMER_DIVIDE, 0b0000); // divide by 2
    expect(r(Reg.TIMER_CURRENT)).toBe(600);
    expect(apic.nextDeadlineNs()).toBe(400 + 1200);
  });

  it('TSC-deadline mode fires when the TSC reaches IA32_TSC_DEADLINE and then disarms', () => {
    let tsc = 0n;
    const { apic, clock, w, r } = make({ tsc: { readTsc: () => tsc }, tscHz: 2_000_000_000 });
    apic.writeTscDeadline(5000n);
    expect(apic.readTscDeadline()).toBe(0n); // ignored outside TSC-deadline mode
    w(Reg.LVT_TIMER, 0x34 | (TimerMode.TscDeadline << R.LVT_TIMER_MODE_SHIFT));
    w(Reg.TIMER_INITIAL, 10); // ignored in TSC-deadline mode
    expect(r(Reg.TIMER_INITIAL)).toBe(0);
    apic.writeTscDeadline(5000n);
    expect(apic.nextDeadlineNs()).toBe(2500); // 5000 cycles at 2 GHz
    clock.setNs(2499);
    tsc = 4998n;
    apic.poll();
    expect(apic.hasInterrupt()).toBe(false);
    tsc = 5000n;
    apic.poll();
    expect(apic.acknowledge()).toBe(0x34);
    expect(apic.readTscDeadline()).toBe(0n);
    expect(apic.nextDeadlineNs()).toBeNull();
  });

  it('software disable masks every LVT and keeps the mask set', () => {
    const { apic, w, r } = make();
    w(Reg.LVT_LINT1, 0x400);
    w(Reg.SVR, 0xff);
    expect(r(Reg.LVT_LINT1) & R.LVT_MASKED).toBe(R.LVT_MASKED);
    w(Reg.LVT_LINT1, 0x400);
    expect(r(Reg.LVT_LINT1) & R.LVT_MASKED).toBe(R.LVT_MASKED);
    apic.accept(0x50, false);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('LINT0 in ExtINT mode takes the vector from the 8259 INTA cycle', () => {
    let pic: PicPair | undefined;
    const apic = new LocalApic({
      clock: new ManualClock(0),
      id: 0,
      bsp: true, // LINT0 = ExtINT at reset, as QEMU leaves the BSP
      extInt: { acknowledge: () => pic!.acknowledge() },
    });
    pic = new PicPair({ output: apic.lint0 });
    for (const [port, v] of [
      [0, 0x11],
      [1, 0x20],
      [1, 0x04],
      [1, 0x01],
    ] as const) {
      pic.master.write(port, 1, v);
    }
    apic.write(Reg.SVR, 4, SVR_ENABLE | 0xff);
    pic.setIrq(1, true);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x21);
    expect(apic.hasInterrupt()).toBe(false);
    apic.write(Reg.LVT_LINT0, 4, 0x700 | R.LVT_MASKED);
    pic.master.write(0, 1, 0x20); // EOI
    pic.setIrq(3, true);
    expect(apic.hasInterrupt()).toBe(false); // masked LINT0 blocks the 8259
  });

  it('LINT1 programmed as NMI turns a rising edge into an NMI event', () => {
    const { apic, w } = make();
    w(Reg.LVT_LINT1, DeliveryMode.Nmi << 8);
    apic.lint1.set(true);
    apic.lint1.set(false);
    expect(apic.takeNmi()).toBe(true);
    expect(apic.takeNmi()).toBe(false);
  });

  it('level-triggered fixed LINT0 sets remote IRR until EOI and re-delivers while asserted', () => {
    const { apic, w, r } = make();
    w(Reg.LVT_LINT0, 0x60 | R.LVT_TRIGGER_LEVEL);
    apic.lint0.set(true);
    expect(r(Reg.LVT_LINT0) & R.LVT_REMOTE_IRR).toBe(R.LVT_REMOTE_IRR);
    expect(apic.acknowledge()).toBe(0x60);
    apic.lint0.set(true);
    expect(apic.hasInterrupt()).toBe(false);
    w(Reg.EOI, 0);
    expect(apic.acknowledge()).toBe(0x60); // still asserted: delivered again
  });

  it('ICR self IPI sets IRR locally; other destinations go to the IPI sink', () => {
    const { apic, w, ipis } = make();
    w(Reg.ICR_LOW, 0x45 | (Shorthand.Self << R.ICR_SHORTHAND_SHIFT));
    expect(apic.acknowledge()).toBe(0x45);
    expect(ipis).toEqual([]);
    w(Reg.ICR_HIGH, 0x0200_0000);
    w(Reg.ICR_LOW, 0x46 | R.ICR_LEVEL_ASSERT);
    expect(ipis).toEqual([
      {
        vector: 0x46,
        deliveryMode: 0,
        destMode: 0,
        assert: true,
        trigger: 0,
        shorthand: 0,
        destination: 2,
        source: 0,
      },
    ]);
    expect(w(Reg.ICR_LOW, 0x46) === undefined && apic.read(Reg.ICR_LOW, 4) & R.ICR_DELIVERY_STATUS).toBe(0);
  });

  it('INIT and SIPI through the ICR reach the sink; received ones become events', () => {
    const { apic, w, ipis } = make();
    w(
      Reg.ICR_LOW,
      (DeliveryMode.Init << 8) | R.ICR_LEVEL_ASSERT | (Shorthand.AllExcludingSelf << R.ICR_SHORTHAND_SHIFT),
    );
    w(
      Reg.ICR_LOW,
      0x9a | (DeliveryMode.StartUp << 8) | (Shorthand.AllExcludingSelf << R.ICR_SHORTHAND_SHIFT),
    );
    expect(ipis.map((i) => [i.deliveryMode, i.vector, i.shorthand])).toEqual([
      [DeliveryMode.Init, 0, 3],
      [DeliveryMode.StartUp, 0x9a, 3],
    ]);
    apic.deliver(DeliveryMode.Init, 0, 0);
    apic.deliver(DeliveryMode.StartUp, 0x9a, 0);
    expect(apic.takeInit()).toBe(true);
    expect(apic.takeSipi()).toBe(0x9a);
    expect(apic.takeSipi()).toBe(-1);
  });

  it('illegal vectors are refused and latched into ESR on the next ESR write', () => {
    const { apic, w, r, ipis } = make();
    w(Reg.LVT_ERROR, 0xfe);
    apic.accept(0x05, false);
    w(Reg.ICR_LOW, 0x07);
    expect(ipis).toEqual([]);
    expect(r(Reg.ESR)).toBe(0);
    w(Reg.ESR, 0);
    expect(r(Reg.ESR)).toBe(R.ESR_RECEIVE_ILLEGAL_VECTOR | R.ESR_SEND_ILLEGAL_VECTOR);
    expect(apic.acknowledge()).toBe(0xfe); // the error LVT fired
    r(0x2f0); // CMCI does not exist in this model
    w(Reg.ESR, 0);
    expect(r(Reg.ESR)).toBe(R.ESR_ILLEGAL_REGISTER);
  });

  it('logical destinations: flat model by LDR bits, cluster model by cluster and member', () => {
    const { apic, w } = make();
    w(Reg.LDR, 0x0400_0000);
    expect(apic.matchesDestination(0x04, true)).toBe(true);
    expect(apic.matchesDestination(0x03, true)).toBe(false);
    w(Reg.DFR, 0x0fff_ffff);
    w(Reg.LDR, 0x2100_0000);
    expect(apic.matchesDestination(0x23, true)).toBe(true);
    expect(apic.matchesDestination(0x13, true)).toBe(false);
    expect(apic.matchesDestination(0, false)).toBe(true);
    expect(apic.matchesDestination(0xff, false)).toBe(true);
  });

  it('x2APIC: MSR view with 32-bit ID, derived LDR, no DFR, 64-bit ICR and SELF IPI', () => {
    const clock = new ManualClock(0);
    const ipis: LapicIpi[] = [];
    const apic = new LocalApic({ clock, id: 0x123, ipi: { sendIpi: (i) => ipis.push(i) } });
    expect(apic.readMsr(0x802)).toBeNull(); // xAPIC mode: #GP
    expect(apic.writeApicBase(0xfee0_0c00n)).toBe(true);
    expect(apic.x2apicMode).toBe(true);
    expect(apic.read(Reg.ID, 4)).toBe(0); // MMIO no longer decodes
    expect(apic.readMsr(0x802)).toBe(0x123n);
    expect(apic.readMsr(0x803)).toBe(0x50014n);
    expect(apic.readMsr(0x80d)).toBe(0x0012_0008n); // cluster 0x12, bit 3
    expect(apic.readMsr(0x80e)).toBeNull(); // no DFR
    expect(apic.writeMsr(0x802, 5n)).toBe(false); // ID is read-only
    expect(apic.writeMsr(0x80f, BigInt(SVR_ENABLE | 0xff))).toBe(true);
    expect(apic.writeMsr(0x83f, 0x66n)).toBe(true);
    expect(apic.acknowledge()).toBe(0x66);
    expect(apic.readMsr(0x83f)).toBeNull(); // write-only
    expect(apic.writeMsr(0x80b, 1n)).toBe(false); // EOI must be written with 0
    expect(apic.writeMsr(0x80b, 0n)).toBe(true);
    expect(apic.writeMsr(0x830, (7n << 32n) | 0x4077n)).toBe(true);
    expect(ipis[0]).toMatchObject({ vector: 0x77, destination: 7, source: 0x123 });
    expect(apic.readMsr(0x830)).toBe((7n << 32n) | 0x4077n);
    expect(apic.matchesDestination(0x0012_0008, true)).toBe(true);
    expect(apic.matchesDestination(0x123, false)).toBe(true);
    // x2APIC -> xAPIC directly is not allowed (11.12.5); through disabled it is.
    expect(apic.writeApicBase(0xfee0_0800n)).toBe(false);
    expect(apic.writeApicBase(0xfee0_0000n)).toBe(true);
    expect(apic.writeApicBase(0xfee0_0400n)).toBe(false);
    expect(apic.writeApicBase(0xfee0_0800n)).toBe(true);
    expect(apic.read(Reg.SVR, 4)).toBe(0xff); // disabling reset the APIC
  });

  it('hardware-disabled APIC passes LINT0 through as INTR and drops messages', () => {
    const clock = new ManualClock(0);
    const apic = new LocalApic({ clock, id: 0, extInt: { acknowledge: () => 0x08 } });
    apic.writeApicBase(0xfee0_0000n);
    apic.deliver(DeliveryMode.Fixed, 0x40, 0);
    expect(apic.hasInterrupt()).toBe(false);
    apic.lint0.set(true);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x08);
  });

  it('an ExtINT message (I/O APIC pin in virtual-wire mode) is answered by the 8259 at INTA', () => {
    let inta = 0;
    const { apic } = make({
      extInt: {
        acknowledge: () => {
          inta++;
          return 0x30;
        },
      },
    });
    expect(apic.deliver(DeliveryMode.ExtInt, 0, 0)).toBe(true);
    apic.accept(0x80, false);
    expect(apic.acknowledge()).toBe(0x80); // the APIC's own vectors go first (as QEMU)
    expect(apic.acknowledge()).toBe(0x30);
    expect(inta).toBe(1);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('software-disabled APIC refuses fixed messages but still takes NMI and INIT', () => {
    const clock = new ManualClock(0);
    const apic = new LocalApic({ clock, id: 1 });
    expect(apic.deliver(DeliveryMode.Fixed, 0x40, 0)).toBe(false);
    expect(apic.deliver(DeliveryMode.LowestPriority, 0x40, 1)).toBe(false);
    expect(apic.deliver(DeliveryMode.Nmi, 0, 0)).toBe(true);
    expect(apic.deliver(DeliveryMode.Init, 0, 0)).toBe(true);
    expect(apic.takeNmi()).toBe(true);
    expect(apic.takeInit()).toBe(true);
  });

  it('IA32_APIC_BASE refuses reserved bits and keeps BSP read-only; the base can move', () => {
    const { apic } = make();
    expect(apic.writeApicBase(0xfee0_0801n | (1n << 60n))).toBe(false);
    expect(apic.writeApicBase(0xfee0_0001n)).toBe(false);
    expect(apic.writeApicBase(0xfec8_0800n)).toBe(true); // BSP bit not written: stays set
    expect(apic.readApicBase()).toBe(0xfec8_0900n);
    expect(apic.mmioBase).toBe(0xfec8_0000);
  });

  it('state round-trips through JSON and keeps the timer schedule', () => {
    const { apic, clock, w } = make();
    w(Reg.LVT_TIMER, 0x30 | (TimerMode.Periodic << R.LVT_TIMER_MODE_SHIFT));
    w(Reg.TIMER_INITIAL, 1000);
    apic.accept(0x70, true);
    clock.setNs(2500);
    apic.poll();
    const s = JSON.parse(JSON.stringify(apic.getState()));
    const copy = LocalApic.fromState(s, { clock, id: 0, bsp: true });
    expect(copy.getState()).toEqual(apic.getState());
    expect(copy.nextDeadlineNs()).toBe(4000); // divide-by-2 reset value: 2000 ns periods
    expect(copy.acknowledge()).toBe(0x70);
    expect(() => LocalApic.fromState({ ...s, isr: [1, 2] }, { clock, id: 0 })).toThrow(/InvalidState/);
  });
});
