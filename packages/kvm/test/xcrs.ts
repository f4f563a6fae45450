/** KVM_GET_XCRS / KVM_SET_XCRS of XCR0 for the facade's run tests (`src/run/xcr0.test.ts`, `avx-state.test.ts`). */
import { expect } from 'vitest';
import type { TestGuest } from '../src/run/guest.test-support.js';
import * as I from '../src/uapi/ioctls.js';
import { allocStruct } from '../src/uapi/layout.js';
import { kvm_xcr, kvm_xcrs } from '../src/uapi/structs.js';

/** The vCPU's XCR0 through KVM_GET_XCRS (which must succeed). */
export function getXcr0(g: TestGuest): bigint {
  const s = allocStruct(kvm_xcrs);
  expect(g.host.ioctl(g.vcpufd, I.KVM_GET_XCRS, s.bytes)).toBe(0);
  const e = allocStruct(kvm_xcr);
  e.bytes.set(s.bytesOf('xcrs').subarray(0, kvm_xcr.size));
  return e.getBigInt('value');
}

/** KVM_SET_XCRS with XCR0 = `value`; returns the ioctl's result. */
export function setXcr0(g: TestGuest, value: bigint): number {
  const s = allocStruct(kvm_xcrs);
  s.set('nr_xcrs', 1);
  const e = allocStruct(kvm_xcr);
  e.set('value', value);
  s.bytesOf('xcrs').set(e.bytes);
  return g.host.ioctl(g.vcpufd, I.KVM_SET_XCRS, s.bytes);
}
