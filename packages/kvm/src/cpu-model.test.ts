import {
  CORE_2,
  CORE_2_AES,
  Ext1Ecx,
  HASWELL,
  Leaf1Ecx,
  Leaf1Edx,
  Leaf7Ebx,
  MAX_MODEL,
  NEHALEM,
  PENTIUM_4,
  PENTIUM_4_PRESCOTT,
  PENTIUM_II,
  X86_64_MODEL,
} from '@typevisor/x86-cpu';
import { describe, expect, it } from 'vitest';
import {
  CORE_2_AES_MODEL,
  CORE_2_MODEL,
  CR4_FSGSBASE,
  CR4_PCIDE,
  CR4_SMEP,
  DEFAULT_MODEL,
  KVM_PARAVIRT_LEAVES,
  HASWELL_MODEL,
  NEHALEM_MODEL,
  PENTIUM_4_MODEL,
  PENTIUM_4_PRESCOTT_MODEL,
  PENTIUM_II_MODEL,
  X86_64_KVM_MODEL,
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
      [CORE_2_AES_MODEL, CORE_2_AES],
      [X86_64_KVM_MODEL, X86_64_MODEL],
      [NEHALEM_MODEL, NEHALEM],
      [HASWELL_MODEL, HASWELL],
      [DEFAULT_MODEL, MAX_MODEL],
    ] as const) {
      expect(kvm.cpu).toBe(cpu);
      // Leaf 0DH sub-leaf 0's EBX is the size for every supported component (ECX), as KVM reports it.
      // ... with KVM's own leaves (signature and paravirtual features) between basic and extended ones.
      const hardware = kvm.cpuid.filter((e) => e.function >>> 28 !== 4);
      expect(kvm.cpuid.filter((e) => e.function >>> 28 === 4)).toEqual(KVM_PARAVIRT_LEAVES);
      expect(kvm.cpuid.map((e) => e.function >>> 0)).toEqual(
        kvm.cpuid.map((e) => e.function >>> 0).sort((a, b) => a - b),
      );
      expect(hardware.map((e) => [e.function, e.ebx, e.ecx, e.edx])).toEqual(
        cpu.cpuid.map((l) => [l.leaf, l.leaf === 0xd && l.subleaf === 0 ? l.ecx : l.ebx, l.ecx, l.edx]),
      );
      // Basic leaves keep EAX; leaf 80000000H reports itself as the highest extended leaf.
      expect(kvm.cpuid.find((e) => e.function === 1)!.eax).toBe(cpu.resetEdx);
      const ext = cpu.cpuid.find((l) => l.leaf === 0x8000_0000)?.eax ?? 0;
      expect(kvm.cpuid.find((e) => e.function === 0x8000_0000)!.eax).toBe(Math.max(ext, 0x8000_0000));
    }
  });

  it('KVM_GET_SUPPORTED_CPUID of a default host reports SSE to SSSE3, CLFLUSH, FXSR and XSAVE with leaf 0DH', () => {
    expect(DEFAULT_MODEL.cpu).toBe(MAX_MODEL);
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    const l1 = supported.find((e) => e.function === 1)!;
    for (const bit of [Leaf1Edx.SSE, Leaf1Edx.SSE2, Leaf1Edx.CLFSH, Leaf1Edx.FXSR])
      expect(l1.edx & bit).toBe(bit);
    const xsave = Leaf1Ecx.SSE3 | Leaf1Ecx.SSSE3 | Leaf1Ecx.XSAVE;
    // OSXSAVE follows the guest's CR4.OSXSAVE at run time; KVM never reports it as supported.
    expect(l1.ecx & (xsave | Leaf1Ecx.OSXSAVE)).toBe(xsave);
    // Leaf 0DH: XCR0 may enable x87|SSE|AVX, an 832-byte area (legacy region + header + YMM_Hi128),
    // XSAVEOPT only; sub-leaf 2: the AVX component, 256 bytes at offset 576.
    const d0 = supported.find((e) => e.function === 0xd && e.index === 0)!;
    const d1 = supported.find((e) => e.function === 0xd && e.index === 1)!;
    const d2 = supported.find((e) => e.function === 0xd && e.index === 2)!;
    expect([d0.eax, d0.ebx, d0.ecx, d0.edx, d0.flags]).toEqual([7, 832, 832, 0, 1]);
    expect([d1.eax, d1.ebx, d1.ecx, d1.edx]).toEqual([1, 0, 0, 0]);
    expect([d2.eax, d2.ebx, d2.ecx, d2.edx, d2.flags]).toEqual([256, 576, 0, 0, 1]);
    // The x86-64 model (the default before AVX) keeps x87|SSE and 576 bytes.
    const x0 = X86_64_KVM_MODEL.cpuid.find((e) => e.function === 0xd && e.index === 0)!;
    expect([x0.eax, x0.ebx, x0.ecx]).toEqual([3, 576, 576]);
    expect(supported.find((e) => e.function === 0)!.eax).toBeGreaterThanOrEqual(0xd);
    expect(leaf1(PENTIUM_II_MODEL).edx & (Leaf1Edx.SSE | Leaf1Edx.SSE2)).toBe(0);
  });

  it('a default host reports AES-NI and PCLMULQDQ, which the Core 2 model (as a real Core 2) does not', () => {
    const aesPclmul = Leaf1Ecx.AES | Leaf1Ecx.PCLMULQDQ;
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    expect(supported.find((e) => e.function === 1)!.ecx & aesPclmul).toBe(aesPclmul);
    expect(leaf1(CORE_2_MODEL).ecx & aesPclmul).toBe(0);
    // Otherwise the same leaves as the Core 2 model (the default adds IA-32e mode: CX16 and leaves
    // 80000001H/80000008H, pinned by the next test).
    expect(leaf1(CORE_2_AES_MODEL).ecx & ~aesPclmul).toBe(leaf1(CORE_2_MODEL).ecx);
    expect(CORE_2_AES_MODEL.cpuid.length).toBe(CORE_2_MODEL.cpuid.length);
    expect(leaf1(X86_64_KVM_MODEL).ecx & ~(aesPclmul | Leaf1Ecx.CX16)).toBe(leaf1(CORE_2_MODEL).ecx);
  });

  it('a default host reports the Haswell-class features: AVX, FMA, F16C, MOVBE, RDRAND, PCID, leaf 7 (AVX2, BMI1/2, ...), ABM', () => {
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    const ecx1 =
      Leaf1Ecx.AVX | Leaf1Ecx.FMA | Leaf1Ecx.F16C | Leaf1Ecx.MOVBE | Leaf1Ecx.RDRAND | Leaf1Ecx.PCID;
    expect((supported.find((e) => e.function === 1)!.ecx & ecx1) >>> 0).toBe(ecx1 >>> 0);
    const l7 = supported.find((e) => e.function === 7 && e.index === 0)!;
    expect(l7.flags).toBe(1);
    const ebx7 =
      Leaf7Ebx.FSGSBASE |
      Leaf7Ebx.BMI1 |
      Leaf7Ebx.AVX2 |
      Leaf7Ebx.SMEP |
      Leaf7Ebx.BMI2 |
      Leaf7Ebx.ERMS |
      Leaf7Ebx.INVPCID |
      Leaf7Ebx.ADX |
      Leaf7Ebx.RDSEED;
    expect(l7.ebx >>> 0).toBe(ebx7 >>> 0);
    expect(supported.find((e) => e.function === 0x8000_0001)!.ecx & Ext1Ecx.ABM).toBe(Ext1Ecx.ABM);
    expect(supported.find((e) => e.function === 0)!.eax).toBeGreaterThanOrEqual(0xd);
    // The Haswell model lacks Broadwell's ADX and RDSEED.
    const h7 = HASWELL_MODEL.cpuid.find((e) => e.function === 7)!;
    expect(h7.ebx & (Leaf7Ebx.ADX | Leaf7Ebx.RDSEED)).toBe(0);
    expect(leaf1(NEHALEM_MODEL).ecx & (Leaf1Ecx.XSAVE | Leaf1Ecx.AVX | Leaf1Ecx.AES)).toBe(0);
  });

  it('CR4 bits follow the model: FSGSBASE, PCIDE and SMEP with Haswell-class CPUID, not on the x86-64 model', () => {
    const haswell = CR4_FSGSBASE | CR4_PCIDE | CR4_SMEP;
    expect(DEFAULT_MODEL.cr4Valid & haswell).toBe(haswell);
    expect(HASWELL_MODEL.cr4Valid & haswell).toBe(haswell);
    expect(X86_64_KVM_MODEL.cr4Valid & haswell).toBe(0);
    expect(X86_64_KVM_MODEL.cr4Valid).toBe(0x7ff | (1 << 18));
    expect(NEHALEM_MODEL.cr4Valid).toBe(0x7ff);
  });

  it('a default host reports long mode as real KVM on a 64-bit host: LM, SYSCALL, NX, RDTSCP, LAHF_LM, CX16, PAE, 40-bit addresses', () => {
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    const l1 = supported.find((e) => e.function === 1)!;
    expect(l1.ecx & Leaf1Ecx.CX16).toBe(Leaf1Ecx.CX16);
    expect(l1.edx & Leaf1Edx.PAE).toBe(Leaf1Edx.PAE);
    expect(supported.find((e) => e.function === 0x8000_0000)!.eax).toBe(0x8000_0008);
    const e1 = supported.find((e) => e.function === 0x8000_0001)!;
    const lm = (1 << 29) | (1 << 11) | (1 << 20) | (1 << 27);
    expect((e1.edx & lm) >>> 0).toBe(lm >>> 0);
    expect(e1.ecx & 1).toBe(1); // LAHF_LM
    expect(supported.find((e) => e.function === 0x8000_0008)!.eax & 0xffff).toBe(0x3028);
    expect(DEFAULT_MODEL.maxPhyAddr).toBe(40);
    // KVM_GET_MSR_INDEX_LIST adds STAR, LSTAR, CSTAR, SYSCALL_MASK, KERNEL_GS_BASE and TSC_AUX.
    const msrs = Kvm.open(new KvmHost()).getMsrIndexList();
    for (const m of [0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0102, 0xc000_0103])
      expect(msrs).toContain(m);
    expect(CORE_2_AES_MODEL.msrIndices).not.toContain(0xc000_0082);
    // The 32-bit models keep no long mode and 36 physical address bits.
    expect(CORE_2_AES_MODEL.cpuid.some((e) => e.function === 0x8000_0001)).toBe(false);
    expect(CORE_2_AES_MODEL.maxPhyAddr).toBe(36);
  });

  it('XCR0 starts at x87 and may become x87|SSE|AVX with the supported CPUID', () => {
    const kvm = Kvm.open(new KvmHost());
    const vcpu = kvm.createVm().createVcpu(0);
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 1n }]);
    // guest_supported_xcr0 comes from the guest CPUID's leaf 0DH: none yet, so x87 only.
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 3n }])).toThrow(expect.objectContaining({ errno: EINVAL }));
    vcpu.setCpuid2(kvm.getSupportedCpuid());
    vcpu.setXcrs([{ xcr: 0, value: 3n }]);
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 3n }]);
    vcpu.setXcrs([{ xcr: 0, value: 7n }]);
    expect(vcpu.getXcrs()).toEqual([{ xcr: 0, value: 7n }]);
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 0xfn }])).toThrow(expect.objectContaining({ errno: EINVAL }));
  });

  it('on a host with the x86-64 model, XCR0 with AVX (which that model lacks) is refused', () => {
    const kvm = Kvm.open(new KvmHost({ model: X86_64_KVM_MODEL }));
    const vcpu = kvm.createVm().createVcpu(0);
    vcpu.setCpuid2(kvm.getSupportedCpuid());
    vcpu.setXcrs([{ xcr: 0, value: 3n }]);
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 7n }])).toThrow(expect.objectContaining({ errno: EINVAL }));
  });
});
