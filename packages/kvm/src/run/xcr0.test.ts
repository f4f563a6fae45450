/**
 * XCR0 and the XSAVE area through the facade (state-sync.ts): the guest's XSETBV sets vcpu->arch.xcr0
 * as KVM's handle_xsetbv does, KVM_SET_XCRS reaches the guest's XGETBV, and the guest's XSAVE writes
 * the standard-format area.
 */
import { describe, expect, it } from 'vitest';
import * as C from '../uapi/constants.js';
import * as I from '../uapi/ioctls.js';
import { kvm_cpuid2, kvm_cpuid_entry2 } from '../uapi/structs.js';
import { getXcr0, setXcr0 } from '../../test/xcrs.js';
import { realModeGuest, type TestGuest } from './guest.test-support.js';

/** mov eax, cr4; or eax, 0x40600; mov cr4, eax: CR4.OSFXSR | OSXMMEXCPT | OSXSAVE (16-bit code). */
const ENABLE_XSAVE = [0x0f, 0x20, 0xe0, 0x66, 0x0d, 0x00, 0x06, 0x04, 0x00, 0x0f, 0x22, 0xe0];
/** xor ecx, ecx; mov eax, 3; xor edx, edx; xsetbv. */
const XSETBV_3 = [0x66, 0x31, 0xc9, 0x66, 0xb8, 0x03, 0x00, 0x00, 0x00, 0x66, 0x31, 0xd2, 0x0f, 0x01, 0xd1];
/** mov eax, -1; mov edx, eax; xsave [0x1800]. */
const XSAVE_ALL = [0x66, 0xb8, 0xff, 0xff, 0xff, 0xff, 0x66, 0x89, 0xc2, 0x0f, 0xae, 0x26, 0x00, 0x18];
/** xor ecx, ecx; xgetbv; mov [0x1900], eax. */
const XGETBV_STORE = [0x66, 0x31, 0xc9, 0x0f, 0x01, 0xd0, 0x66, 0xa3, 0x00, 0x19];
const HLT = 0xf4;
const XSAVE_AREA = 0x1800;

const LEAF1_ECX_XSAVE = 1 << 26;
const LEAF1_ECX_OSXSAVE = 1 << 27;
const LEAF1_EDX_FXSR_SSE_SSE2 = (1 << 24) | (1 << 25) | (1 << 26);

/**
 * KVM_SET_CPUID2 with a leaf-1 entry (ECX = `ecx`, EDX = FXSR|SSE|SSE2) and, unless `leafDEax` is
 * undefined, leaf 0DH sub-leaf 0 with EAX = `leafDEax` (the XCR0 bits the guest may enable).
 */
function setCpuid(g: TestGuest, ecx: number, leafDEax?: number): void {
  const n = leafDEax === undefined ? 1 : 2;
  const b = new Uint8Array(kvm_cpuid2.size + n * kvm_cpuid_entry2.size);
  const v = new DataView(b.buffer);
  const E = kvm_cpuid_entry2.fields;
  v.setUint32(0, n, true);
  let o = kvm_cpuid2.size;
  v.setUint32(o + E.function.offset, 1, true);
  v.setUint32(o + E.ecx.offset, ecx >>> 0, true);
  v.setUint32(o + E.edx.offset, LEAF1_EDX_FXSR_SSE_SSE2, true);
  if (leafDEax !== undefined) {
    o += kvm_cpuid_entry2.size;
    v.setUint32(o + E.function.offset, 0xd, true);
    v.setUint32(o + E.flags.offset, C.KVM_CPUID_FLAG_SIGNIFCANT_INDEX, true);
    v.setUint32(o + E.eax.offset, leafDEax, true);
  }
  expect(g.host.ioctl(g.vcpufd, I.KVM_SET_CPUID2, b)).toBe(0);
}

/** IVT[13] -> 0000:1100: out 0x86, al; hlt. */
function gpHandler(g: TestGuest): void {
  g.ram.set([0x00, 0x11, 0x00, 0x00], 13 * 4);
  g.ram.set([0xe6, 0x86, HLT], 0x1100);
}

describe('XCR0 through KVM_GET/SET_XCRS', () => {
  it("the guest's XSETBV 3 is what KVM_GET_XCRS then reads, and its XSAVE stores XSTATE_BV = 3", () => {
    const g = realModeGuest([...ENABLE_XSAVE, ...XSETBV_3, ...XSAVE_ALL, HLT]);
    setCpuid(g, LEAF1_ECX_XSAVE, 3);
    expect(getXcr0(g)).toBe(1n);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    expect(getXcr0(g)).toBe(3n);
    // Legacy region: FCW 037F (reset), MXCSR 1F80, MXCSR_MASK FFFF; header: XSTATE_BV = x87|SSE.
    const area = new DataView(g.ram.buffer, g.ram.byteOffset + XSAVE_AREA, 576);
    expect(area.getUint16(0, true)).toBe(0x037f);
    expect(area.getUint32(24, true)).toBe(0x1f80);
    expect(area.getUint32(28, true)).toBe(0xffff);
    expect(area.getBigUint64(512, true)).toBe(3n);
  });

  it("KVM_SET_XCRS reaches the guest's XGETBV", () => {
    const g = realModeGuest([...ENABLE_XSAVE, ...XGETBV_STORE, HLT]);
    setCpuid(g, LEAF1_ECX_XSAVE, 3);
    expect(setXcr0(g, 3n)).toBe(0);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    expect(new DataView(g.ram.buffer, g.ram.byteOffset).getUint32(0x1900, true)).toBe(3);
  });

  it("XSETBV 3 is #GP when the guest CPUID's leaf 0DH does not allow SSE state (handle_xsetbv)", () => {
    for (const leafD of [undefined, 1]) {
      const g = realModeGuest([...ENABLE_XSAVE, ...XSETBV_3, HLT]);
      gpHandler(g);
      setCpuid(g, LEAF1_ECX_XSAVE, leafD);
      expect(g.runOnce()).toBe(0);
      expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
      expect(g.run.get('io.port')).toBe(0x86);
      expect(getXcr0(g)).toBe(1n);
    }
  });

  it('without CPUID.01H:ECX.XSAVE in the guest CPUID, setting CR4.OSXSAVE is #GP', () => {
    const g = realModeGuest([...ENABLE_XSAVE, ...XSETBV_3, HLT]);
    gpHandler(g);
    setCpuid(g, 0, 3);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_IO);
    expect(g.run.get('io.port')).toBe(0x86);
    expect(getXcr0(g)).toBe(1n);
  });
});

describe('CPUID.01H:ECX.OSXSAVE at run time', () => {
  it("follows the guest's CR4.OSXSAVE whatever the KVM_SET_CPUID2 table says (kvm_update_cpuid_runtime)", () => {
    // mov eax, 1; cpuid; mov [0x1908], ecx; (enable OSXSAVE); mov eax, 1; cpuid; mov [0x1904], ecx; hlt
    const leaf1 = (at: number) => [
      0x66,
      0xb8,
      0x01,
      0x00,
      0x00,
      0x00,
      0x0f,
      0xa2,
      0x66,
      0x89,
      0x0e,
      at & 0xff,
      at >> 8,
    ];
    const g = realModeGuest([...leaf1(0x1908), ...ENABLE_XSAVE, ...leaf1(0x1904), HLT]);
    setCpuid(g, LEAF1_ECX_XSAVE | LEAF1_ECX_OSXSAVE, 3);
    expect(g.runOnce()).toBe(0);
    expect(g.run.get('exit_reason')).toBe(C.KVM_EXIT_HLT);
    const ram = new DataView(g.ram.buffer, g.ram.byteOffset);
    expect(ram.getUint32(0x1908, true) & (LEAF1_ECX_XSAVE | LEAF1_ECX_OSXSAVE)).toBe(LEAF1_ECX_XSAVE);
    expect(ram.getUint32(0x1904, true) & (LEAF1_ECX_XSAVE | LEAF1_ECX_OSXSAVE)).toBe(
      LEAF1_ECX_XSAVE | LEAF1_ECX_OSXSAVE,
    );
  });
});
