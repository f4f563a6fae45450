/** KVM_GET/SET_MSRS and user-space MSR exits (KVM_CAP_X86_USER_SPACE_MSR), after the userspace_msr_exit selftest. */
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import { E2BIG, EFAULT, EINVAL } from '../uapi/errno.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_enable_cap, kvm_msr_list } from '../uapi/structs.js';
import { realModeGuest, TestClock, type TestGuest } from './guest.test-support.js';

/** mov ecx,0x12345678; rdmsr; out 0x80,al; mov eax,0xaabbccdd; wrmsr; out 0x82,al; hlt */
const UNKNOWN_MSR = [
  ...[0x66, 0xb9, 0x78, 0x56, 0x34, 0x12, 0x0f, 0x32, 0xe6, 0x80],
  ...[0x66, 0xb8, 0xdd, 0xcc, 0xbb, 0xaa, 0x0f, 0x30, 0xe6, 0x82, 0xf4],
];
/** #GP handler (IVT[13]): mov al,0x13; out 0x81,al; hlt */
const GP_HANDLER = [0xb0, 0x13, 0xe6, 0x81, 0xf4];

function msrs(entries: readonly [number, bigint][]): Uint8Array {
  const b = new Uint8Array(8 + 16 * entries.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, entries.length, true);
  entries.forEach(([index, data], i) => {
    v.setUint32(8 + i * 16, index, true);
    v.setBigUint64(8 + i * 16 + 8, data, true);
  });
  return b;
}

function enableUserSpaceMsr(g: TestGuest, mask: number): number {
  const cap = allocStruct(kvm_enable_cap);
  cap.set('cap', C.KVM_CAP_X86_USER_SPACE_MSR);
  cap.set('args0', mask);
  return g.host.ioctl(g.vmfd, I.KVM_ENABLE_CAP, cap.bytes);
}

for (const ept of [true, false]) {
  describe(`MSRs (ept ${ept ? 'on' : 'off'})`, () => {
    it('gives an unknown MSR to userspace as KVM_EXIT_X86_RDMSR/WRMSR, msr.error injecting #GP', () => {
      const g = realModeGuest(UNKNOWN_MSR, { vmx: { ept }, clock: new TestClock() });
      g.ram.set([0x00, 0x11, 0x00, 0x00], 13 * 4);
      g.ram.set(GP_HANDLER, 0x1100);
      expect(enableUserSpaceMsr(g, C.KVM_MSR_EXIT_REASON_UNKNOWN)).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_X86_RDMSR);
      expect(g.run.get('msr.index')).toBe(0x12345678);
      expect(g.run.get('msr.reason')).toBe(C.KVM_MSR_EXIT_REASON_UNKNOWN);
      g.run.set('msr.data', 0x1122334455);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x80);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x55);
      expect(g.regs().get('rdx') & 0xff).toBe(0x11);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_X86_WRMSR);
      expect(g.run.getBigInt('msr.data')).toBe(0x11aabbccddn);
      g.run.set('msr.error', 1);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x81); // the #GP handler, not the OUT after WRMSR
    });

    it('raises #GP in the kernel for an unknown MSR without the capability', () => {
      const g = realModeGuest(UNKNOWN_MSR, { vmx: { ept }, clock: new TestClock() });
      g.ram.set([0x00, 0x11, 0x00, 0x00], 13 * 4);
      g.ram.set(GP_HANDLER, 0x1100);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x81);
    });

    it('reads and writes the vCPU MSR file with KVM_GET/SET_MSRS, stopping at an unknown MSR', () => {
      // mov ecx,0x174; rdmsr; out 0x80,al; hlt
      const g = realModeGuest([0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32, 0xe6, 0x80, 0xf4], {
        vmx: { ept },
        clock: new TestClock(),
      });
      const set = msrs([
        [0x174, 0x23n],
        [0x12345678, 1n],
        [0x175, 0x1000n],
      ]);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_MSRS, set)).toBe(1);
      const get = msrs([
        [0x174, 0n],
        [0x10, 0n],
        [0x175, 0n],
      ]);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_MSRS, get)).toBe(3);
      const v = new DataView(get.buffer);
      expect(v.getBigUint64(16, true)).toBe(0x23n);
      expect(v.getBigUint64(48, true)).toBe(0n); // SYSENTER_ESP untouched: the set stopped before it
      expect(g.runOnce()).toBe(0);
      expect(g.map[g.run.get('io.data_offset')]).toBe(0x23);
      // TSC: a write moves the guest's TSC.
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_MSRS, msrs([[0x10, 1n << 40n]]))).toBe(1);
      const tsc = msrs([[0x10, 0n]]);
      expect(g.host.ioctl(g.vcpufd, I.KVM_GET_MSRS, tsc)).toBe(1);
      expect(new DataView(tsc.buffer).getBigUint64(16, true) >= 1n << 40n).toBe(true);
    });
  });
}

describe('MSR ioctl errors', () => {
  it('refuses oversized and short kvm_msrs, bad KVM_ENABLE_CAP arguments', () => {
    const g = realModeGuest([0xf4], { clock: new TestClock() });
    const big = new Uint8Array(8 + 256 * 16);
    new DataView(big.buffer).setUint32(0, 256, true);
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_MSRS, big)).toBe(-E2BIG);
    const short = msrs([[0x174, 0n]]).subarray(0, 20);
    expect(g.host.ioctl(g.vcpufd, I.KVM_SET_MSRS, short)).toBe(-EFAULT);
    expect(enableUserSpaceMsr(g, 8)).toBe(-EINVAL);
    const cap = allocStruct(kvm_enable_cap);
    cap.set('cap', C.KVM_CAP_X86_USER_SPACE_MSR);
    cap.set('flags', 1);
    expect(g.host.ioctl(g.vmfd, I.KVM_ENABLE_CAP, cap.bytes)).toBe(-EINVAL);
    cap.set('flags', 0);
    cap.set('cap', C.KVM_CAP_SPLIT_IRQCHIP);
    expect(g.host.ioctl(g.vmfd, I.KVM_ENABLE_CAP, cap.bytes)).toBe(-EINVAL);
    const kvm = g.host.open('/dev/kvm');
    const list = allocStruct(kvm_msr_list);
    expect(g.host.ioctl(kvm, I.KVM_GET_MSR_FEATURE_INDEX_LIST, list.bytes)).toBe(0);
    expect(list.get('nmsrs')).toBe(0);
  });
});
