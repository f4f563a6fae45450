import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { realModeGuest } from './guest.test-support.js';

/**
 * The VMM's writes to guest RAM (a device's DMA, a loader) reach the vCPU's decoded-code cache through
 * the mapping's write log (`Mapping.writes`, given to the VMM's `GuestMemory`): code the host replaced
 * runs new at the next entry, as a CPU's instruction cache sees DMA.
 */
for (const ept of [true, false]) {
  describe(`code the host writes between runs (ept ${ept ? 'on' : 'off'})`, () => {
    // 0x1000: mov al, 1; out 0x10, al; jmp 0x1000
    const code = [0xb0, 0x01, 0xe6, 0x10, 0xeb, 0xfa];

    /** The guest, and the VMM's view of its RAM with (or without) the mapping's write log. */
    function setup(withLog: boolean) {
      const g = realModeGuest(code, { vmx: { ept } });
      const slot = g.host.vmState(g.vmfd)!.memslots.get(0)!;
      expect(slot.writes).not.toBeNull();
      const vmm = new GuestMemory();
      vmm.addRegion(0, g.ram, { writes: withLog ? slot.writes : null });
      const out = (): number => {
        expect(g.runOnce()).toBe(0);
        expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
        expect(g.run.get('io.port')).toBe(0x10);
        return g.map[g.run.get('io.data_offset')]!;
      };
      return { g, vmm, out };
    }

    it('runs the new code after a write8 over a decoded block', () => {
      const { vmm, out } = setup(true);
      expect(out()).toBe(1);
      expect(out()).toBe(1);
      vmm.write8(0x1001, 2);
      expect(out()).toBe(2);
    });

    it('runs the new code after writeBytes, fill, and a view reported with markDirty', () => {
      const { vmm, out } = setup(true);
      expect(out()).toBe(1);
      expect(vmm.writeBytes(0x1000, new Uint8Array([0xb0, 0x03]))).toBe(true);
      expect(out()).toBe(3);
      expect(vmm.fill(0x1001, 1, 4)).toBe(true);
      expect(out()).toBe(4);
      vmm.subarray(0x1001, 1)![0] = 5;
      vmm.markDirty(0x1001, 1);
      expect(out()).toBe(5);
      vmm.write16(0x1000, 0x06b0);
      expect(out()).toBe(6);
      vmm.write32(0x1000, 0x10e607b0);
      expect(out()).toBe(7);
    });

    it('a write not given to the log is not seen: the decoded block runs on (so the tests above prove the log)', () => {
      const { vmm, out } = setup(false);
      expect(out()).toBe(1);
      vmm.write8(0x1001, 2);
      expect(out()).toBe(1);
    });
  });
}
