/** KVM_CREATE_PIT2: the in-kernel 8254 on ports 0x40-0x43, its IRQ 0 into the in-kernel 8259. */
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { EEXIST, EFAULT, ENOENT, ENXIO } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_pit_config, kvm_pit_state2, kvm_reinject_control } from '../uapi/structs.js';
import { realModeGuest, TestClock } from './guest.test-support.js';

const PIC_INIT_UNMASK_IRQ0 = [
  ...[0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21],
  ...[0xb0, 0xfe, 0xe6, 0x21],
];
/** Counter 0, LSB then MSB, mode 2 (rate generator), count 1193: a 1 ms period. */
const PIT_1MS = [0xb0, 0x34, 0xe6, 0x43, 0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40];
const HANDLER = [0x50, 0xb0, 0x20, 0xe6, 0x20, 0xb0, 0x99, 0xe6, 0x80, 0x58, 0xcf];

describe('KVM_CREATE_PIT2 ioctls', () => {
  it('needs the in-kernel 8259s (-ENOENT), exists once (-EEXIST), and gates the state ioctls (-ENXIO)', () => {
    const g = realModeGuest([0xf4], { clock: new TestClock() });
    const cfg = allocStruct(kvm_pit_config);
    expect(g.host.ioctl(g.vmfd, I.KVM_CREATE_PIT2, cfg.bytes)).toBe(-ENOENT);
    expect(g.host.ioctl(g.vmfd, I.KVM_GET_PIT2, allocStruct(kvm_pit_state2).bytes)).toBe(-ENXIO);
    expect(g.host.ioctl(g.vmfd, I.KVM_SET_PIT2, allocStruct(kvm_pit_state2).bytes)).toBe(-ENXIO);
    expect(g.host.ioctl(g.vmfd, I.KVM_REINJECT_CONTROL, allocStruct(kvm_reinject_control).bytes)).toBe(
      -ENXIO,
    );
    const h = realModeGuest([0xf4], { clock: new TestClock(), irqchip: true });
    expect(h.host.ioctl(h.vmfd, I.KVM_CREATE_PIT2, new Uint8Array(10))).toBe(-EFAULT);
    expect(h.host.ioctl(h.vmfd, I.KVM_CREATE_PIT2, cfg.bytes)).toBe(0);
    expect(h.host.ioctl(h.vmfd, I.KVM_CREATE_PIT2, cfg.bytes)).toBe(-EEXIST);
    expect(h.host.ioctl(h.vmfd, I.KVM_GET_PIT2, new Uint8Array(111))).toBe(-EFAULT);
    expect(h.host.ioctl(h.vmfd, I.KVM_REINJECT_CONTROL, allocStruct(kvm_reinject_control).bytes)).toBe(0);
    expect(h.host.vmState(h.vmfd)!.chip!.pit!.reinject).toBe(0);
  });
});

for (const ept of [true, false]) {
  describe(`the in-kernel PIT (ept ${ept ? 'on' : 'off'})`, () => {
    it('wakes a HLT with IRQ 0 through the in-kernel 8259, ports 0x40-0x43 never reaching userspace', () => {
      const clock = new TestClock();
      const g = realModeGuest([...PIC_INIT_UNMASK_IRQ0, ...PIT_1MS, 0xfb, 0xf4, 0xe4, 0x61, 0xf4], {
        vmx: { ept },
        irqchip: true,
        clock,
      });
      expect(g.host.ioctl(g.vmfd, I.KVM_CREATE_PIT2, allocStruct(kvm_pit_config).bytes)).toBe(0);
      g.ram.set([0x00, 0x11, 0x00, 0x00], 8 * 4);
      g.ram.set(HANDLER, 0x1100);
      const t0 = clock.mono;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x80);
      const waited = clock.mono - t0;
      expect(waited).toBeGreaterThanOrEqual(999_000);
      expect(waited).toBeLessThan(1_100_000);
      // 5 to the 8259 (ICWs, OCW1), 3 to the 8254, the handler's EOI.
      expect(g.host.vcpuRunner(g.vcpufd)!.stats.kernelIo).toBe(9);
      // The speaker port stays in userspace, as in Linux.
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x61);
      expect(g.run.get('io.direction')).toBe(C.KVM_EXIT_IO_IN);
    });

    it('shows the guest-programmed counter in kvm_pit_state2 and takes it back with KVM_SET_PIT2', () => {
      const clock = new TestClock();
      const g = realModeGuest([...PIT_1MS, 0xe6, 0x82, 0xf4], { vmx: { ept }, irqchip: true, clock });
      expect(g.host.ioctl(g.vmfd, I.KVM_CREATE_PIT2, allocStruct(kvm_pit_config).bytes)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x82);
      const a = allocStruct(kvm_pit_state2);
      expect(g.host.ioctl(g.vmfd, I.KVM_GET_PIT2, a.bytes)).toBe(0);
      const ch0 = new DataView(a.bytes.buffer, 0, 24);
      expect(ch0.getUint32(0, true)).toBe(1193); // count
      expect(ch0.getUint8(12)).toBe(3); // rw_mode: LSB then MSB
      expect(ch0.getUint8(13)).toBe(2); // mode 2
      expect(ch0.getUint8(15)).toBe(1); // gate
      expect(new DataView(a.bytes.buffer, 48, 24).getUint8(15)).toBe(0); // counter 2's gate is low
      clock.mono += 5_000;
      expect(g.host.ioctl(g.vmfd, I.KVM_SET_PIT2, a.bytes)).toBe(0);
      const b = allocStruct(kvm_pit_state2);
      expect(g.host.ioctl(g.vmfd, I.KVM_GET_PIT2, b.bytes)).toBe(0);
      // Everything but count_load_time (the reload restarts the count now) reads back.
      for (let i = 0; i < 3; i++) {
        expect(b.bytes.subarray(i * 24, i * 24 + 16)).toEqual(a.bytes.subarray(i * 24, i * 24 + 16));
        const t = new DataView(b.bytes.buffer, i * 24 + 16, 8).getBigInt64(0, true);
        expect(Math.abs(Number(t) - clock.mono)).toBeLessThan(1000);
      }
      expect(g.host.ioctl(g.vmfd, I.KVM_SET_PIT2, b.bytes)).toBe(0);
      const c = allocStruct(kvm_pit_state2);
      g.host.ioctl(g.vmfd, I.KVM_GET_PIT2, c.bytes);
      expect(c.bytes).toEqual(b.bytes);
    });
  });
}
