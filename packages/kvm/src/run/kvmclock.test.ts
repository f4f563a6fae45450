/**
 * kvmclock (Documentation/virt/kvm/x86/msr.rst): the guest writes MSR_KVM_SYSTEM_TIME_NEW and
 * MSR_KVM_WALL_CLOCK_NEW, the kernel fills the records, and the guest's own formula over its TSC gives
 * KVM_GET_CLOCK's time, before and after KVM_SET_CLOCK.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KVM_PARAVIRT_LEAVES } from '../cpu-model.js';
import {
  KVMCLOCK_MSRS,
  KvmFeature,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
  PVCLOCK_TSC_STABLE_BIT,
  pvclockNs,
  timeScale,
} from '../kernel/kvmclock.js';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { allocStruct } from '../uapi/layout.js';
import { kvm_clock_data } from '../uapi/structs.js';
import { TestClock, type TestGuest, realModeGuest } from './guest.test-support.js';

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/**
 * mov ecx,SYSTEM_TIME_NEW; mov eax,0x2001; xor edx,edx; wrmsr; out 0x80,al;
 * mov ecx,WALL_CLOCK_NEW; mov eax,0x3000; wrmsr; mov ecx,SYSTEM_TIME_NEW; rdmsr; out 0x81,al;
 * rdtsc; out 0x82,al; hlt
 */
const ENABLE_KVMCLOCK = [
  ...[
    0x66,
    0xb9,
    ...le32(MSR_KVM_SYSTEM_TIME_NEW),
    0x66,
    0xb8,
    ...le32(0x2001),
    0x66,
    0x31,
    0xd2,
    0x0f,
    0x30,
  ],
  ...[0xe6, 0x80],
  ...[0x66, 0xb9, ...le32(MSR_KVM_WALL_CLOCK_NEW), 0x66, 0xb8, ...le32(0x3000), 0x0f, 0x30],
  ...[0x66, 0xb9, ...le32(MSR_KVM_SYSTEM_TIME_NEW), 0x0f, 0x32, 0xe6, 0x81],
  ...[0x0f, 0x31, 0xe6, 0x82, 0xf4],
];

interface Record {
  readonly version: number;
  readonly tscTimestamp: bigint;
  readonly systemTime: bigint;
  readonly mul: number;
  readonly shift: number;
  readonly flags: number;
}
function record(g: TestGuest, gpa: number): Record {
  const v = new DataView(g.ram.buffer, g.ram.byteOffset + gpa, 32);
  return {
    version: v.getUint32(0, true),
    tscTimestamp: v.getBigUint64(8, true),
    systemTime: v.getBigUint64(16, true),
    mul: v.getUint32(24, true),
    shift: v.getInt8(28),
    flags: v.getUint8(29),
  };
}
function kvmclock(g: TestGuest): bigint {
  const d = allocStruct(kvm_clock_data);
  expect(g.host.ioctl(g.vmfd, I.KVM_GET_CLOCK, d.bytes)).toBe(0);
  return d.getBigInt('clock');
}
/** The guest TSC now (EDX:EAX of the RDTSC before `out 0x82`). */
function guestTsc(g: TestGuest): bigint {
  const r = g.regs();
  return (BigInt(r.get('rdx') >>> 0) << 32n) | BigInt(r.get('rax') >>> 0);
}
const guestNs = (r: Record, tsc: bigint): bigint =>
  pvclockNs(r.systemTime, r.tscTimestamp, { mul: r.mul, shift: r.shift }, tsc);

for (const ept of [true, false]) {
  describe(`kvmclock (ept ${ept ? 'on' : 'off'})`, () => {
    it('fills the time record on MSR_KVM_SYSTEM_TIME_NEW, and the guest formula gives KVM_GET_CLOCK', () => {
      const clock = new TestClock();
      const g = realModeGuest(ENABLE_KVMCLOCK, { vmx: { ept }, clock, tscKhz: 2_000_000, ramSize: 0x4000 });
      clock.mono += 7_000_000;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x80);
      const r = record(g, 0x2000);
      expect(r.version % 2).toBe(0);
      expect(r.version).toBeGreaterThan(0);
      // 2 GHz: ns = ticks / 2, as mul 2^31 with no shift.
      expect([r.mul, r.shift]).toEqual([2 ** 31, 0]);
      expect(r.flags).toBe(PVCLOCK_TSC_STABLE_BIT);
      expect(r.systemTime).toBe(kvmclock(g));

      // The wall clock is the realtime at which kvmclock read 0; RDMSR returns what was written.
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x81);
      expect(g.regs().get('rax') >>> 0).toBe(0x2001);
      const w = new DataView(g.ram.buffer, g.ram.byteOffset + 0x3000, 12);
      expect(w.getUint32(0, true) % 2).toBe(0);
      const boot = clock.realtimeNs() - kvmclock(g);
      expect(BigInt(w.getUint32(4, true)) * 1_000_000_000n + BigInt(w.getUint32(8, true))).toBe(boot);

      // 3 ms later the guest reads its TSC: the record, unchanged, gives the kernel's kvmclock.
      clock.mono += 3_000_000;
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x82);
      expect(guestNs(record(g, 0x2000), guestTsc(g))).toBe(kvmclock(g));
      expect(record(g, 0x2000).version).toBe(r.version);
    });

    it('rewrites the record after KVM_SET_CLOCK and after a guest TSC write from userspace', () => {
      const clock = new TestClock();
      const g = realModeGuest(ENABLE_KVMCLOCK, { vmx: { ept }, clock, ramSize: 0x4000 });
      expect(g.runOnce()).toBe(0);
      const before = record(g, 0x2000);
      const d = allocStruct(kvm_clock_data);
      d.set('clock', 123_456_789_000);
      expect(g.host.ioctl(g.vmfd, I.KVM_SET_CLOCK, d.bytes)).toBe(0);
      const msrs = new Uint8Array(8 + 16);
      const mv = new DataView(msrs.buffer);
      mv.setUint32(0, 1, true);
      mv.setUint32(8, 0x10, true);
      mv.setBigUint64(16, 1n << 40n, true);
      expect(g.host.ioctl(g.vcpufd, I.KVM_SET_MSRS, msrs)).toBe(1);
      clock.mono += 1_000_000;
      expect(g.runOnce()).toBe(0);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('io.port')).toBe(0x82);
      const after = record(g, 0x2000);
      expect(after.version).toBeGreaterThan(before.version);
      expect(after.tscTimestamp).toBeGreaterThanOrEqual(1n << 40n);
      expect(guestNs(after, guestTsc(g))).toBe(kvmclock(g));
      expect(kvmclock(g)).toBe(123_456_789_000n + 1_000_000n);
    });

    it('writes nothing and faults nothing for a record outside guest RAM', () => {
      const code = [...ENABLE_KVMCLOCK];
      code.splice(8, 4, ...le32(0xf000_0001)); // the record at 0xF0000000 (no memslot)
      const g = realModeGuest(code, { vmx: { ept }, clock: new TestClock(), ramSize: 0x4000 });
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x80);
      expect(g.ram.subarray(0x2000, 0x2020).every((b) => b === 0)).toBe(true);
    });
  });
}

describe('kvmclock, the host side', () => {
  it('is in KVM_GET_SUPPORTED_CPUID (signature, clocksource, clocksource2, stable bit, no-op I/O delay)', () => {
    const [sig, features] = KVM_PARAVIRT_LEAVES;
    const name = new TextDecoder().decode(new Uint32Array([sig!.ebx, sig!.ecx, sig!.edx]));
    expect(name).toBe('KVMKVMKVM\0\0\0');
    expect(sig!.eax).toBe(0x4000_0001);
    const want = KvmFeature.CLOCKSOURCE | KvmFeature.CLOCKSOURCE2 | KvmFeature.CLOCKSOURCE_STABLE_BIT;
    expect(features!.eax & want).toBe(want);
    expect(features!.eax & KvmFeature.NOP_IO_DELAY).toBe(KvmFeature.NOP_IO_DELAY);
  });

  it('saves and restores the MSRs with KVM_GET/SET_MSRS, and lists them', () => {
    const g = realModeGuest([0xf4], { clock: new TestClock(), ramSize: 0x4000 });
    const set = new Uint8Array(8 + 32);
    const v = new DataView(set.buffer);
    v.setUint32(0, 2, true);
    v.setUint32(8, MSR_KVM_SYSTEM_TIME_NEW, true);
    v.setBigUint64(16, 0x2001n, true);
    v.setUint32(24, MSR_KVM_WALL_CLOCK_NEW, true);
    v.setBigUint64(32, 0x3000n, true);
    expect(g.host.ioctl(g.vcpufd, I.KVM_SET_MSRS, set)).toBe(2);
    const get = new Uint8Array(set);
    v.setBigUint64(16, 0n, true);
    v.setBigUint64(32, 0n, true);
    get.set(set);
    expect(g.host.ioctl(g.vcpufd, I.KVM_GET_MSRS, get)).toBe(2);
    const gv = new DataView(get.buffer);
    expect([gv.getBigUint64(16, true), gv.getBigUint64(32, true)]).toEqual([0x2001n, 0x3000n]);
    for (const m of KVMCLOCK_MSRS) expect(DEFAULT_MSR_LIST()).toContain(m);
  });

  it('scales any TSC rate to ns as the guest computes it: within 2 ns (the ABI floors twice) and 2^-30', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 10_000_000 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (khz, ticks) => {
          const scale = timeScale(1e9, khz * 1000);
          expect(scale.mul).toBeGreaterThanOrEqual(2 ** 31);
          expect(scale.mul).toBeLessThan(2 ** 32);
          const ns = Number(pvclockNs(0n, 0n, scale, BigInt(ticks)));
          const exact = (ticks * 1e6) / khz;
          expect(Math.abs(ns - exact)).toBeLessThanOrEqual(2 + exact / 2 ** 30);
        },
      ),
    );
  });
});

function DEFAULT_MSR_LIST(): readonly number[] {
  const g = realModeGuest([0xf4]);
  const kvm = g.host.open('/dev/kvm');
  const list = new Uint8Array(4 + 4 * 64);
  new DataView(list.buffer).setUint32(0, 64, true);
  expect(g.host.ioctl(kvm, I.KVM_GET_MSR_INDEX_LIST, list)).toBe(0);
  const n = new DataView(list.buffer).getUint32(0, true);
  return Array.from({ length: n }, (_, i) => new DataView(list.buffer).getUint32(4 + 4 * i, true));
}
