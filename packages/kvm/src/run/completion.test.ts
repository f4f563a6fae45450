/**
 * complete_userspace_io across KVM_RUN calls that return before entering the guest: the instruction a
 * KVM_RUN completed (an OUT, an IN) stays completed even when that KVM_RUN returned at once
 * (immediate_exit, a single-step exit) and no other vCPU ioctl came before the next KVM_RUN.
 */
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_guest_debug } from '../uapi/structs.js';
import { realModeGuest } from './guest.test-support.js';

const HLT = 0xf4;
/** mov al,0x42 (0x1000); out 0x80,al (0x1002); in al,0x81 (0x1004); inc ax (0x1006); hlt (0x1007) */
const CODE = [0xb0, 0x42, 0xe6, 0x80, 0xe4, 0x81, 0x40, HLT];

for (const ept of [true, false]) {
  describe(`userspace I/O completion (ept ${ept ? 'on' : 'off'})`, () => {
    it('an OUT completed by a KVM_RUN that returns for immediate_exit is not executed again', () => {
      const g = realModeGuest(CODE, { vmx: { ept } });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x80);
      // The VMM reads the registers (a vCPU ioctl), then asks for an immediate return.
      expect(g.regs().get('rip')).toBe(0x1002);
      g.run.set('immediate_exit', 1);
      expect(g.runOnce()).toBe(-EINTR);
      g.run.set('immediate_exit', 0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x81);
      g.map[g.run.get('io.data_offset')] = 0x10;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rax') & 0xff).toBe(0x11);
    });

    it('single steps over userspace I/O move on, without a vCPU ioctl between the KVM_RUNs', () => {
      const g = realModeGuest(CODE, { vmx: { ept } });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x80);
      const d = allocStruct(kvm_guest_debug);
      d.set('control', C.KVM_GUESTDBG_ENABLE | C.KVM_GUESTDBG_SINGLESTEP);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_GUEST_DEBUG, d.bytes)).toBe(0);
      const pcs: number[] = [];
      for (let i = 0; i < 4; i++) {
        expect(g.runOnce()).toBe(0);
        const reason = g.run.get('exit_reason');
        pcs.push(reason === C.KVM_EXIT_DEBUG ? g.run.get('debug.arch.pc') : -reason);
      }
      // The OUT's completion, the IN's exit, its completion, inc ax.
      expect(pcs).toEqual([0x1004, -C.KVM_EXIT_IO, 0x1006, 0x1007]);
    });
  });
}
