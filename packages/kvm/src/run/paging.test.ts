import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_segment, kvm_sregs, kvm_translation } from '../uapi/structs.js';
import { realModeGuest } from './guest.test-support.js';

for (const ept of [true, false]) {
  describe(`a paged 32-bit guest (ept ${ept ? 'on' : 'off'})`, () => {
    it('translates code and data through the guest page tables', () => {
      // at linear 0x400000 (physical 0x1000): mov dx,0x3f8; mov al,[0x400100]; out dx,al; hlt
      const g = realModeGuest([0x66, 0xba, 0xf8, 0x03, 0xa0, 0x00, 0x01, 0x40, 0x00, 0xee, 0xf4], {
        vmx: { ept },
        ramSize: 0x10000,
      });
      g.ram[0x1100] = 0x37;
      const dv = new DataView(g.ram.buffer, g.ram.byteOffset);
      dv.setUint32(0x3000 + 1 * 4, 0x5000 | 3, true); // PDE 1 -> page table at 0x5000
      dv.setUint32(0x5000, 0x1000 | 3, true); // PTE 0: linear 0x400000 -> physical 0x1000
      const s = allocStruct(kvm_sregs);
      g.host.ioctl(g.vcpufd, I.KVM_GET_SREGS, s.bytes);
      for (const name of ['cs', 'ds', 'es', 'ss', 'fs', 'gs'] as const) {
        const seg = s.sub(name, kvm_segment);
        seg.set('base', 0);
        seg.set('limit', 0xffffffff);
        seg.set('selector', name === 'cs' ? 8 : 16);
        seg.set('type', name === 'cs' ? 11 : 3);
        seg.set('s', 1);
        seg.set('present', 1);
        seg.set('db', 1);
        seg.set('g', 1);
      }
      s.set('cr3', 0x3000);
      s.set('cr0', 0x80000011);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_SREGS, s.bytes)).toBe(0);
      g.setRegs({ rip: 0x400000 });
      // KVM_TRANSLATE walks the guest's tables before the first KVM_RUN, without setting A/D bits.
      const tr = allocStruct(kvm_translation);
      tr.set('linear_address', 0x400123);
      expect(g.host.ioctl(g.vcpufd, I.KVM_TRANSLATE, tr.bytes)).toBe(0);
      expect([tr.get('physical_address'), tr.get('valid'), tr.get('writeable'), tr.get('usermode')]).toEqual([
        0x1123, 1, 1, 0,
      ]);
      expect(dv.getUint32(0x5000, true) & 0x20).toBe(0);
      tr.set('linear_address', 0x800000); // PDE 2 not present
      expect(g.host.ioctl(g.vcpufd, I.KVM_TRANSLATE, tr.bytes)).toBe(0);
      expect(tr.get('valid')).toBe(0);
      expect(tr.getBigInt('physical_address')).toBe(0xffff_ffff_ffff_ffffn);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x37);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
      expect(g.regs().get('rip')).toBe(0x40000b);
      // The accessed/dirty flags the walk set are in guest memory.
      expect(dv.getUint32(0x5000, true) & 0x20).toBe(0x20);
      const runner = g.host.vcpuRunner(g.vcpufd)!;
      if (ept) {
        expect(runner.shadowStats).toBeNull();
        expect(runner.stats.pfFixed).toBeGreaterThanOrEqual(3); // the code/data page, the PD, the PT
      } else {
        expect(runner.shadowStats!.fixed).toBeGreaterThanOrEqual(1); // the leaf for the code/data page
      }
    });
  });
}
