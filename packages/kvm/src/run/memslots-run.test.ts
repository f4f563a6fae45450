import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_dirty_log, kvm_userspace_memory_region } from '../uapi/structs.js';
import { realModeGuest } from './guest.test-support.js';

for (const ept of [true, false]) {
  describe(`KVM_RUN and memslot changes (ept ${ept ? 'on' : 'off'})`, () => {
    it('logs the pages the guest writes once LOG_DIRTY_PAGES is switched on between runs', () => {
      // mov byte [0x1800],1; mov dx,0x3f8; out dx,al; hlt
      const g = realModeGuest([0xc6, 0x06, 0x00, 0x18, 0x01, 0xba, 0xf8, 0x03, 0xee, 0xf4], { vmx: { ept } });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.ram[0x1800]).toBe(1);
      g.ram[0x1800] = 0;
      // Flags-only change of slot 0; userspace moves RIP back, which drops the OUT's completion.
      const r = allocStruct(kvm_userspace_memory_region);
      r.set('slot', 0);
      r.set('flags', C.KVM_MEM_LOG_DIRTY_PAGES);
      r.set('memory_size', 0x2000);
      r.set('userspace_addr', slotAddr(g));
      expect(g.host.ioctl(g.vmfd, I.KVM_SET_USER_MEMORY_REGION, r.bytes)).toBe(0);
      g.setRegs({ rip: 0x1000 });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.ram[0x1800]).toBe(1);
      const bitmap = g.host.mmap(8);
      const log = allocStruct(kvm_dirty_log);
      log.set('slot', 0);
      log.set('dirty_bitmap', bitmap.addr);
      expect(g.host.ioctl(g.vmfd, I.KVM_GET_DIRTY_LOG, log.bytes)).toBe(0);
      expect(bitmap.bytes[0]! & 2).toBe(2); // page 1 (0x1000..0x1fff)
    });

    it('sees a slot added after the first run', () => {
      // mov al,[0x4000]; mov dx,0x3f8; out dx,al; hlt
      const g = realModeGuest([0xa0, 0x00, 0x40, 0xba, 0xf8, 0x03, 0xee, 0xf4], { vmx: { ept } });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_MMIO);
      expect(g.run.get('mmio.phys_addr')).toBe(0x4000);
      g.run.bytesOf('mmio.data')[0] = 0x11;
      expect(g.runOnce()).toBe(0);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x11);
      const extra = g.addSlot(1, 0x4000, 0x1000);
      extra[0] = 0x22;
      g.setRegs({ rip: 0x1000 });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x22);
    });
  });
}

function slotAddr(g: ReturnType<typeof realModeGuest>): number {
  const slot = g.host.vmState(g.vmfd)!.memslots.get(0)!;
  return slot.userspaceAddr;
}
