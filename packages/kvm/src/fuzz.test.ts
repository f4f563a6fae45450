/**
 * Property: whatever fd, request number and argument a caller passes, the raw face returns an integer
 * (>= 0 or a negative Linux errno) and never throws, and the model stays usable afterwards.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvmHost } from './kernel/host.js';
import { close, open, ioctl as rawIoctl } from './raw.js';
import { KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY } from './uapi/constants.js';
import { EFAULT } from './uapi/errno.js';
import * as I from './uapi/ioctls.js';
import { ALL_STRUCTS } from './uapi/structs.js';

const KNOWN = Object.values(I).filter((v): v is number => typeof v === 'number');
const SIZES = [...new Set(ALL_STRUCTS.map((s) => s.size))];
const MAX_ERRNO = 4095;

const request = fc.oneof(
  fc.constantFrom(...KNOWN),
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.integer({ min: 0, max: 0xff }).map((nr) => (0xae00 | nr) >>> 0),
  fc.constantFrom(Number.NaN, -1, 2 ** 40, 0.5, Number.POSITIVE_INFINITY),
);

/** A memory-region struct that passes the shape checks often, so deeper rules get exercised. */
const plausibleRegion = fc
  .record({
    slot: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 0xffffffff })),
    flags: fc.constantFrom(0, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, 4),
    gpaPage: fc.integer({ min: 0, max: 64 }),
    pages: fc.integer({ min: 0, max: 16 }),
    useMapping: fc.boolean(),
  })
  .map(({ slot, flags, gpaPage, pages, useMapping }) => {
    const b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    v.setUint32(0, slot, true);
    v.setUint32(4, flags, true);
    v.setBigUint64(8, BigInt(gpaPage * 4096), true);
    v.setBigUint64(16, BigInt(pages * 4096), true);
    v.setBigUint64(24, useMapping ? 0x7f00_0000_0000n : 0x1000n, true);
    return b;
  });

const arg = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 }),
  fc.constantFrom(0, 1, 12, 255, 256, Number.NaN, -0, 2 ** 53, 1.5),
  fc.uint8Array({ maxLength: 600 }),
  fc.constantFrom(...SIZES).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
  plausibleRegion,
);

const call = fc.record({ fdIndex: fc.integer({ min: 0, max: 6 }), request, arg });

describe('raw face robustness', () => {
  it('never throws and always returns an integer result or a negative errno', () => {
    fc.assert(
      fc.property(fc.array(call, { maxLength: 25 }), (calls) => {
        const host = new KvmHost();
        host.mmap(64 * 4096); // the first mapping sits at 0x7f0000000000, where plausible regions point
        const kvm = host.open('/dev/kvm');
        const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
        const vcpu = host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
        const efd = host.eventfd();
        const fds = [kvm, vm, vcpu, efd, -1, 1000, 3.5];
        for (const c of calls) {
          const r = host.ioctl(fds[c.fdIndex]!, c.request, c.arg);
          expect(Number.isInteger(r)).toBe(true);
          expect(r).toBeGreaterThanOrEqual(-MAX_ERRNO);
        }
        // Still usable: a fresh vCPU id and a fresh slot work.
        expect(host.ioctl(kvm, I.KVM_GET_API_VERSION)).toBe(12);
        expect(host.ioctl(vm, I.KVM_CHECK_EXTENSION, 3)).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws from mmap, read, write or close either', () => {
    const num = fc.oneof(
      fc.integer({ min: -5, max: 20000 }),
      fc.constantFrom(Number.NaN, -1, 2 ** 60, 0.5, 4096, 8192, 12288),
    );
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('mmap' as const),
        length: num,
        fd: fc.integer({ min: -2, max: 8 }),
        offset: num,
      }),
      fc.record({
        kind: fc.constant('read' as const),
        fd: fc.integer({ min: -2, max: 8 }),
        buf: fc.uint8Array({ maxLength: 16 }),
      }),
      fc.record({
        kind: fc.constant('write' as const),
        fd: fc.integer({ min: -2, max: 8 }),
        buf: fc.uint8Array({ maxLength: 16 }),
      }),
      fc.record({ kind: fc.constant('close' as const), fd: fc.integer({ min: -2, max: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        const host = new KvmHost();
        const kvm = host.open('/dev/kvm');
        const vm = host.ioctl(kvm, I.KVM_CREATE_VM, 0);
        host.ioctl(vm, I.KVM_CREATE_VCPU, 0);
        host.eventfd(1);
        for (const o of ops) {
          if (o.kind === 'mmap') {
            const m = host.mmap(o.length, o.fd, o.offset);
            expect(Number.isInteger(m.addr)).toBe(true);
            if (m.addr < 0) expect(m.bytes.byteLength).toBe(0);
          } else {
            const r = o.kind === 'close' ? host.close(o.fd) : host[o.kind](o.fd, o.buf);
            expect(Number.isInteger(r)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('answers a detached buffer with EFAULT through the module-level raw face', () => {
    const kvm = open('/dev/kvm');
    const vm = rawIoctl(kvm, I.KVM_CREATE_VM, 0);
    const vcpu = rawIoctl(vm, I.KVM_CREATE_VCPU, 0);
    const ab = new ArrayBuffer(312);
    const view = new Uint8Array(ab);
    structuredClone(ab, { transfer: [ab] });
    expect(rawIoctl(vcpu, I.KVM_GET_SREGS, view)).toBe(-EFAULT);
    expect(rawIoctl(vcpu, I.KVM_SET_SREGS, view)).toBe(-EFAULT);
    for (const fd of [vcpu, vm, kvm]) expect(close(fd)).toBe(0);
  });
});
