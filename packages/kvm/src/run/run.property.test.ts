import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { EINTR } from '../uapi/errno.js';
import { realModeGuest } from './guest.test-support.js';

const USERSPACE_EXITS = new Set([
  C.KVM_EXIT_IO,
  C.KVM_EXIT_MMIO,
  C.KVM_EXIT_HLT,
  C.KVM_EXIT_SHUTDOWN,
  C.KVM_EXIT_FAIL_ENTRY,
  C.KVM_EXIT_INTERNAL_ERROR,
  C.KVM_EXIT_IRQ_WINDOW_OPEN,
  C.KVM_EXIT_INTR,
]);

for (const ept of [true, false]) {
  describe(`KVM_RUN on random guest code (ept ${ept ? 'on' : 'off'})`, () => {
    it('never throws: every KVM_RUN is an exit for userspace or an errno', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 256 }),
          fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
          (code, gprs) => {
            const g = realModeGuest([...code], { vmx: { ept }, sliceInstructions: 2000, ramSize: 0x10000 });
            g.setRegs({
              rax: gprs[0]!,
              rbx: gprs[1]!,
              rcx: gprs[2]!,
              rdx: gprs[3]!,
              rsi: gprs[4]!,
              rdi: gprs[5]!,
              rbp: gprs[6]!,
            });
            for (let i = 0; i < 12; i++) {
              const r = g.runOnce();
              if (r === -EINTR) continue;
              expect(r).toBe(0);
              const reason = g.run.get('exit_reason');
              expect(USERSPACE_EXITS.has(reason)).toBe(true);
              if (reason === C.KVM_EXIT_IO) g.map.fill(0x5a, 4096, 8192);
              if (reason === C.KVM_EXIT_MMIO) g.run.bytesOf('mmio.data').fill(0xa5);
              if (reason === C.KVM_EXIT_SHUTDOWN || reason === C.KVM_EXIT_FAIL_ENTRY) break;
              if (reason === C.KVM_EXIT_INTERNAL_ERROR) break;
            }
          },
        ),
        { numRuns: 25 },
      );
    }, 120_000);
  });
}
