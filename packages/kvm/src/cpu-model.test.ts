import {
  CORE_2,
  CORE_2_AES,
  Leaf1Ecx,
  Leaf1Edx,
  PENTIUM_4,
  PENTIUM_4_PRESCOTT,
  PENTIUM_II,
} from '@typevisor/x86-cpu';
import { describe, expect, it } from 'vitest';
import {
  CORE_2_MODEL,
  DEFAULT_MODEL,
  PENTIUM_4_MODEL,
  PENTIUM_4_PRESCOTT_MODEL,
  PENTIUM_II_MODEL,
} from './cpu-model.js';
import { KvmHost } from './kernel/host.js';
import { Kvm } from './kvm.js';
import { EINVAL } from './uapi/errno.js';

const leaf1 = (m: typeof DEFAULT_MODEL) => m.cpuid.find((e) => e.function === 1)!;

describe('the facade CPU model', () => {
  it("is x86-cpu's model data: every leaf of each model as a kvm_cpuid_entry2", () => {
    for (const [kvm, cpu] of [
      [PENTIUM_II_MODEL, PENTIUM_II],
      [PENTIUM_4_MODEL, PENTIUM_4],
      [PENTIUM_4_PRESCOTT_MODEL, PENTIUM_4_PRESCOTT],
      [CORE_2_MODEL, CORE_2],
      [DEFAULT_MODEL, CORE_2_AES],
    ] as const) {
      expect(kvm.cpu).toBe(cpu);
      expect(kvm.cpuid.map((e) => [e.function, e.ebx, e.ecx, e.edx])).toEqual(
        cpu.cpuid.map((l) => [l.leaf, l.ebx, l.ecx, l.edx]),
      );
      // Basic leaves keep EAX; leaf 80000000H reports itself as the highest extended leaf.
      expect(kvm.cpuid.find((e) => e.function === 1)!.eax).toBe(cpu.resetEdx);
      expect(kvm.cpuid.find((e) => e.function === 0x8000_0000)!.eax).toBe(0x8000_0000);
    }
  });

  it('KVM_GET_SUPPORTED_CPUID of a default host reports SSE to SSSE3, CLFLUSH, FXSR and XSAVE with leaf 0DH', () => {
    expect(DEFAULT_MODEL.cpu).toBe(CORE_2_AES);
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    const l1 = supported.find((e) => e.function === 1)!;
    for (const bit of [Leaf1Edx.SSE, Leaf1Edx.SSE2, Leaf1Edx.CLFSH, Leaf1Edx.FXSR])
      expect(l1.edx & bit).toBe(bit);
    const xsave = Leaf1Ecx.SSE3 | Leaf1Ecx.SSSE3 | Leaf1Ecx.XSAVE;
    // OSXSAVE follows the guest's CR4.OSXSAVE at run time; KVM never reports it as supported.
    expect(l1.ecx & (xsave | Leaf1Ecx.OSXSAVE)).toBe(xsave);
    // Leaf 0DH: XCR0 may enable x87|SSE, a 576-byte area (legacy region + header), XSAVEOPT only.
    const d0 = supported.find((e) => e.function === 0xd && e.index === 0)!;
    const d1 = supported.find((e) => e.function === 0xd && e.index === 1)!;
    expect([d0.eax, d0.ebx, d0.ecx, d0.edx, d0.flags]).toEqual([3, 576, 576, 0, 1]);
    expect([d1.eax, d1.ebx, d1.ecx, d1.edx]).toEqual([1, 0, 0, 0]);
    expect(supported.find((e) => e.function === 0)!.eax).toBeGreaterThanOrEqual(0xd);
    expect(leaf1(PENTIUM_II_MODEL).edx & (Leaf1Edx.SSE | Leaf1Edx.SSE2)).toBe(0);
  });

  it('a default host reports AES-NI and PCLMULQDQ, which the Core 2 model (as a real Core 2) does not', () => {
    const aesPclmul = Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ;
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    expect(supported.find((e) => e.function === 1)!.ecx & aesPclmul).toBe(aesPclmul);
    expect(leaf1(CORE_2_MODEL).ecx & aesPclmul).toBe(0);
    // Otherwise the same leaves as the Core 2 model.
    expect(leaf1(DEFAULT_MODEL).ecx & ~aesPclmul).toBe(leaf1(CORE_2_MODEL).ecx);
    expect(DEFAULT_MODEL.cpuid.length).toBe(CORE_2_MODEL.cpuid.length);
  });

  it('XCR0 starts at x87 and may become x87|SSE with the supported CPUID; AVX (which the CPU lacks) is refused', () => {
    const kvm = Kvm.open(new KvmHost());
    const vcpu = kvm.createVm().createVcpu(0);
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 1n }]);
    // guest_supported_xcr0 comes from the guest CPUID's leaf 0DH: none yet, so x87 only.
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 3n }])).toThrow(expect.objectContaining({ errno: EINVAL }));
    vcpu.setCpuid2(kvm.getSupportedCpuid());
    vcpu.setXcrs([{ xcr: 0, value: 3n }]);
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 3n }]);
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 7n }])).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});
