/**
 * Guests taking interrupts from the in-kernel irqchip (after the KVM selftests' xapic / irqfd / timer
 * tests): the 8259 pair raised by KVM_IRQ_LINE, the LAPIC by KVM_SIGNAL_MSI, the I/O APIC by an irqfd,
 * the LAPIC timer waking a HLT; every one delivered through VM-entry event injection.
 */
import { describe, expect, it } from 'vitest';
import { type HostClock, SYSTEM_CLOCK } from '../kernel/context.js';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import {
  kvm_irq_level,
  kvm_irqchip,
  kvm_irqfd,
  kvm_lapic_state,
  kvm_mp_state,
  kvm_msi,
} from '../uapi/structs.js';
import { flatProtectedMode, realModeGuest, TestClock, type TestGuest } from './guest.test-support.js';

const HLT = 0xf4;
const STI = 0xfb;
/** mov al,0x55; out 0x81,al: the main program's "after the HLT" marker. */
const DONE = [0xb0, 0x55, 0xe6, 0x81];
/** mov dword [addr], value (32-bit code). */
const movMem = (addr: number, value: number): number[] => [
  0xc7,
  0x05,
  ...[0, 8, 16, 24].map((s) => (addr >>> s) & 0xff),
  ...[0, 8, 16, 24].map((s) => (value >>> s) & 0xff),
];
/** The 32-bit handler: LAPIC EOI, out 0x80 <- 0x99, iretd. */
const PM_HANDLER = [...movMem(0xfee000b0, 0), 0xb0, 0x99, 0xe6, 0x80, 0xcf];
const LAPIC_ENABLE = movMem(0xfee000f0, 0x1ff);

function expectIo(g: TestGuest, port: number, value: number): void {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
  expect(g.run.get('io.port')).toBe(port);
  expect(g.map[g.run.get('io.data_offset')]).toBe(value);
}

function mpState(g: TestGuest): number {
  const m = allocStruct(kvm_mp_state);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_MP_STATE, m.bytes)).toBe(0);
  return m.get('mp_state');
}

/** Runs until the vCPU blocks in HLT with nothing to wake it: KVM_RUN says -EINTR, mp_state HALTED. */
function expectHalted(g: TestGuest): void {
  expect(g.runOnce()).toBe(-EINTR);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_INTR);
  expect(mpState(g)).toBe(C.KVM_MP_STATE_HALTED);
}

function pmGuest(code: number[], ept: boolean, clock: HostClock = new TestClock()): TestGuest {
  const g = realModeGuest(code, { vmx: { ept }, irqchip: true, clock, ramSize: 0x4000 });
  g.ram.set(PM_HANDLER, 0x1100);
  flatProtectedMode(g, 0x1100, [2, 0x30, 0x40, 0x41]);
  return g;
}

for (const ept of [true, false]) {
  describe(`in-kernel irqchip delivery (ept ${ept ? 'on' : 'off'})`, () => {
    it('delivers an 8259 interrupt raised by KVM_IRQ_LINE to a real-mode guest waiting in HLT', () => {
      // Program the master 8259 (ICW1-4: vectors 0x08.., 8086 mode), unmask IRQ 0 only, sti, hlt.
      const code = [
        ...[0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21],
        ...[0xb0, 0xfe, 0xe6, 0x21],
        STI,
        HLT,
        ...DONE,
        HLT,
      ];
      const g = realModeGuest(code, { vmx: { ept }, irqchip: true, clock: new TestClock() });
      // IVT[8] -> 0000:1100: push ax; mov al,0x20; out 0x20,al (EOI); mov al,0x99; out 0x80,al; pop ax; iret
      g.ram.set([0x00, 0x11, 0x00, 0x00], 8 * 4);
      g.ram.set([0x50, 0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x99, 0xe6, 0x80, 0x58, 0xcf], 0x1100);
      expectHalted(g);
      // The PIC ports never reached userspace.
      const stats = g.host.vcpuRunner(g.vcpufd)!.stats;
      expect(stats.kernelIo).toBe(5);
      expect(stats.userspaceExits[C.KVM_EXIT_IO]).toBe(0);
      const line = allocStruct(kvm_irq_level);
      line.set('irq', 0);
      line.set('level', 1);
      expect(g.host.ioctl(g.vmfd, I.KVM_IRQ_LINE, line.bytes)).toBe(0);
      line.set('level', 0);
      expect(g.host.ioctl(g.vmfd, I.KVM_IRQ_LINE, line.bytes)).toBe(0);
      expectIo(g, 0x80, 0x99);
      expect(mpState(g)).toBe(C.KVM_MP_STATE_RUNNABLE);
      expectIo(g, 0x81, 0x55);
      expect(stats.irqInjections).toBe(1);
      // The guest's EOI left nothing in service; its ICWs are in the state.
      const chip = allocStruct(kvm_irqchip);
      chip.set('chip_id', C.KVM_IRQCHIP_PIC_MASTER);
      expect(g.host.ioctl(g.vmfd, I.KVM_GET_IRQCHIP, chip.bytes)).toBe(0);
      const pic = chip.bytesOf('chip');
      expect([pic[1], pic[2], pic[3], pic[5]]).toEqual([0, 0xfe, 0, 0x08]); // irr, imr, isr, irq_base
    });

    it('holds the interrupt while IF is clear and injects it at the interrupt window', () => {
      // cli; (IRQ raised meanwhile) out 0x82; sti; nop; ... the interrupt arrives after STI's shadow.
      const code = [
        ...[0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21],
        ...[0xb0, 0xfe, 0xe6, 0x21],
        0xfa, // cli
        0xe6,
        0x82, // out 0x82,al (userspace raises IRQ 0 here)
        STI,
        0x90, // nop (in STI's shadow)
        ...DONE,
        HLT,
      ];
      const g = realModeGuest(code, { vmx: { ept }, irqchip: true, clock: new TestClock() });
      g.ram.set([0x00, 0x11, 0x00, 0x00], 8 * 4);
      g.ram.set([0x50, 0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x99, 0xe6, 0x80, 0x58, 0xcf], 0x1100);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x82);
      const line = allocStruct(kvm_irq_level);
      line.set('level', 1);
      expect(g.host.ioctl(g.vmfd, I.KVM_IRQ_LINE, line.bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      // Not inside STI's shadow: the interrupt frame's IP is past the NOP (0x1019), IF was set.
      expect(g.run.get('io.port')).toBe(0x80);
      const stack = new DataView(g.ram.buffer, g.ram.byteOffset);
      expect(stack.getUint16(0x1fea, true)).toBe(0x1019);
      expect(stack.getUint16(0x1fee, true) & 0x200).toBe(0x200);
      const vmx = g.host.vcpuRunner(g.vcpufd)!.stats;
      expect(vmx.exits[7]).toBeGreaterThanOrEqual(1); // interrupt-window exits
    });

    it('delivers a KVM_SIGNAL_MSI to the LAPIC of a protected-mode guest; LAPIC MMIO stays in the kernel', () => {
      const g = pmGuest([...LAPIC_ENABLE, STI, HLT, ...DONE, HLT], ept);
      expectHalted(g);
      const msi = allocStruct(kvm_msi);
      msi.set('address_lo', 0xfee00000);
      msi.set('data', 0x40);
      expect(g.host.ioctl(g.vmfd, I.KVM_SIGNAL_MSI, msi.bytes)).toBe(1);
      expectIo(g, 0x80, 0x99);
      expectIo(g, 0x81, 0x55);
      const stats = g.host.vcpuRunner(g.vcpufd)!.stats;
      expect(stats.userspaceExits[C.KVM_EXIT_MMIO]).toBe(0);
      expect(stats.kernelMmio).toBe(2); // SVR, EOI
      const l = allocStruct(kvm_lapic_state);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_LAPIC, l.bytes)).toBe(0);
      const regs = new DataView(l.bytes.buffer);
      expect(regs.getUint32(0xf0, true)).toBe(0x1ff);
      expect(regs.getUint32(0x100 + 2 * 0x10, true)).toBe(0); // ISR word of vector 0x40: EOI'd
      // An MSI to an APIC ID nobody has is delivered to no one.
      msi.set('address_lo', 0xfee05000);
      expect(g.host.ioctl(g.vmfd, I.KVM_SIGNAL_MSI, msi.bytes)).toBe(0);
    });

    it('wakes a cli; hlt with an NMI sent as an MSI (delivery mode NMI)', () => {
      const g = pmGuest([...LAPIC_ENABLE, 0xfa, HLT, ...DONE, HLT], ept);
      expectHalted(g);
      const msi = allocStruct(kvm_msi);
      msi.set('address_lo', 0xfee00000);
      msi.set('data', 0x400);
      expect(g.host.ioctl(g.vmfd, I.KVM_SIGNAL_MSI, msi.bytes)).toBe(1);
      expectIo(g, 0x80, 0x99);
    });

    it('delivers an irqfd write through the I/O APIC pin the guest programmed', () => {
      const code = [
        ...[0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1], // mask both 8259s
        ...LAPIC_ENABLE,
        ...movMem(0xfec00000, 0x10 + 2 * 5), // IOREGSEL: redirection entry 5, low dword
        ...movMem(0xfec00010, 0x41), // fixed, edge, physical destination 0, vector 0x41
        STI,
        HLT,
        ...DONE,
        HLT,
      ];
      const g = pmGuest(code, ept);
      expectHalted(g);
      const efd = g.host.eventfd(0);
      const q = allocStruct(kvm_irqfd);
      q.set('fd', efd);
      q.set('gsi', 5);
      expect(g.host.ioctl(g.vmfd, I.KVM_IRQFD, q.bytes)).toBe(0);
      expect(g.host.write(efd, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]))).toBe(8);
      expectIo(g, 0x80, 0x99);
      expectIo(g, 0x81, 0x55);
      // The guest's entry is what KVM_GET_IRQCHIP shows.
      const chip = allocStruct(kvm_irqchip);
      chip.set('chip_id', C.KVM_IRQCHIP_IOAPIC);
      expect(g.host.ioctl(g.vmfd, I.KVM_GET_IRQCHIP, chip.bytes)).toBe(0);
      const io = new DataView(chip.bytes.buffer, 8);
      expect(io.getUint32(24 + 5 * 8, true)).toBe(0x41);
    });

    it('wakes a HLT with a one-shot LAPIC timer, the host sleeping until the deadline', () => {
      const clock = new TestClock();
      const code = [
        ...LAPIC_ENABLE,
        ...movMem(0xfee003e0, 0xb), // divide by 1: a 1 ns tick
        ...movMem(0xfee00320, 0x30), // LVT timer: one-shot, vector 0x30
        ...movMem(0xfee00380, 2_000_000), // 2 ms
        STI,
        HLT,
        ...DONE,
        HLT,
      ];
      const g = pmGuest(code, ept, clock);
      const t0 = clock.mono;
      expectIo(g, 0x80, 0x99);
      expect(clock.mono - t0).toBeGreaterThanOrEqual(2_000_000);
      expect(clock.mono - t0).toBeLessThan(3_000_000);
      expect(g.host.vcpuRunner(g.vcpufd)!.stats.haltWaits).toBeGreaterThanOrEqual(1);
      expectIo(g, 0x81, 0x55);
      // Nothing armed now: KVM_RUN waits haltWaitNs (10 ms) on the clock, then returns -EINTR.
      const t1 = clock.mono;
      expectHalted(g);
      expect(clock.mono - t1).toBe(10_000_000);
    });

    it('starts an AP with INIT and SIPI sent through the BSP LAPIC ICR', () => {
      const code = [
        ...LAPIC_ENABLE,
        ...movMem(0xfee00310, 1 << 24), // ICR high: APIC ID 1
        ...movMem(0xfee00300, 0x4500), // INIT, assert
        ...movMem(0xfee00300, 0x4602), // start-up, vector 2: the AP starts at 0200:0000
        ...DONE,
        HLT,
      ];
      const g = pmGuest(code, ept);
      g.ram.set([0xb0, 0x77, 0xe6, 0x83, HLT], 0x2000);
      const ap = g.host.ioctl(g.vmfd, I.KVM_CREATE_VCPU, 1);
      const apRun = g.host.mmap(3 * 4096, ap).bytes;
      const m = allocStruct(kvm_mp_state);
      g.host.ioctl(ap, I.KVM_GET_MP_STATE, m.bytes);
      expect(m.get('mp_state')).toBe(C.KVM_MP_STATE_UNINITIALIZED);
      // Nothing has woken the AP yet.
      expect(g.host.ioctl(ap, I.KVM_RUN, 0)).toBe(-EINTR);
      expectIo(g, 0x81, 0x55);
      expect(g.host.ioctl(ap, I.KVM_RUN, 0)).toBe(0);
      const v = new DataView(apRun.buffer, apRun.byteOffset);
      expect(v.getUint32(8, true)).toBe(C.KVM_EXIT_IO);
      expect(apRun[4096]).toBe(0x77);
      g.host.ioctl(ap, I.KVM_GET_MP_STATE, m.bytes);
      expect(m.get('mp_state')).toBe(C.KVM_MP_STATE_RUNNABLE);
    });

    it('sleeps on the real host clock by default instead of spinning', () => {
      const g = pmGuest(
        [
          ...LAPIC_ENABLE,
          ...movMem(0xfee003e0, 0xb),
          ...movMem(0xfee00320, 0x30),
          ...movMem(0xfee00380, 3_000_000), // 3 ms of host time
          STI,
          HLT,
          ...DONE,
          HLT,
        ],
        ept,
        SYSTEM_CLOCK,
      );
      const t0 = performance.now();
      expectIo(g, 0x80, 0x99);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(2.5);
      const runner = g.host.vcpuRunner(g.vcpufd)!;
      // Blocked in a few sleeps, not thousands of polls.
      expect(runner.stats.haltWaits).toBeGreaterThanOrEqual(1);
      expect(runner.stats.haltWaits).toBeLessThan(50);
    });
  });
}
