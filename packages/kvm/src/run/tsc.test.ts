import { describe, expect, it } from 'vitest';
import type { HostClock } from '../kernel/context.js';
import * as C from '../uapi/constants.js';
import { EIO } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { realModeGuest } from './guest.test-support.js';

/** A host clock the test moves by hand. */
function manualClock(): HostClock & { ns: number } {
  const c = {
    ns: 5_000_000,
    monotonicNs: () => c.ns,
    realtimeNs: () => BigInt(c.ns),
  };
  return c;
}

// rdtsc; out 0x10, eax; mov eax, edx; out 0x11, eax; hlt  (EDX:EAX reported through two OUT exits)
const RDTSC_TWICE = [0x0f, 0x31, 0x66, 0xe7, 0x10, 0x66, 0x89, 0xd0, 0x66, 0xe7, 0x11, 0xf4];

function readTsc(g: ReturnType<typeof realModeGuest>): number {
  expect(g.runOnce()).toBe(0);
  expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
  const lo = g.regs().get('rax') >>> 0;
  expect(g.runOnce()).toBe(0);
  const hi = g.regs().get('rax') >>> 0;
  return hi * 2 ** 32 + lo;
}

describe.each([true, false])('the guest TSC (ept=%s)', (ept) => {
  it('runs at KVM_GET_TSC_KHZ from the host clock, whatever the instruction count', () => {
    const clock = manualClock();
    const g = realModeGuest(RDTSC_TWICE, { clock, tscKhz: 2_000_000, vmx: { ept } });
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_TSC_KHZ, 0)).toBe(2_000_000);
    // The TSC starts at 0 on the first KVM_RUN (a clock that does not move reads 0).
    expect(readTsc(g)).toBe(0);
    g.setRegs({ rip: 0x1000 });
    clock.ns += 1_000; // 1 us at 2 GHz
    expect(readTsc(g)).toBe(2_000);
    // A second RDTSC after 3 ms of host time, however few instructions ran in between.
    g.setRegs({ rip: 0x1000 });
    clock.ns += 3_000_000;
    expect(readTsc(g)).toBe(2_000 + 6_000_000);
  });

  it('never goes backwards when the host clock does', () => {
    const clock = manualClock();
    const g = realModeGuest(RDTSC_TWICE, { clock, vmx: { ept } });
    clock.ns += 10_000;
    const first = readTsc(g);
    g.setRegs({ rip: 0x1000 });
    clock.ns -= 5_000;
    expect(readTsc(g)).toBe(first);
  });

  it("counts retired instructions with tscKhz: 'instructions', and KVM_GET_TSC_KHZ says -EIO", () => {
    const g = realModeGuest(RDTSC_TWICE, { tscKhz: 'instructions', vmx: { ept } });
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_TSC_KHZ, 0)).toBe(-EIO);
    // RDTSC is the first instruction (an EPT violation on its fetch counts as one more).
    const first = readTsc(g);
    expect(first).toBeLessThan(3);
    g.setRegs({ rip: 0x1000 });
    expect(readTsc(g) - first).toBe(4); // RDTSC, OUT, MOV and the OUT that exited
  });
});

it('rejects a TSC rate that is not a positive whole number of kHz', () => {
  expect(() => realModeGuest([0xf4], { tscKhz: 0 })).toThrow(/tscKhz: 0/);
  expect(() => realModeGuest([0xf4], { tscKhz: 1.5 })).toThrow(/tscKhz/);
});
