import { CpuidFeature } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import {
  applyGuestCpuid,
  Ext1Edx,
  featureTable,
  Leaf1Ecx,
  Leaf1Edx,
  PENTIUM_4,
  PENTIUM_II,
  X86_64_MODEL,
} from './cpu-model.js';
import { CR0, CR4, Vector } from './index.js';

const leaf1 = (edx: number) => PENTIUM_4.cpuid.find((l) => l.leaf === 1)!.edx & edx;

describe('CPU models', () => {
  it('PENTIUM_4 reports SSE, SSE2, CLFSH, FXSR and no XSAVE/SSE3; PENTIUM_II no SSE', () => {
    const all = Leaf1Edx.SSE | Leaf1Edx.SSE2 | Leaf1Edx.CLFSH | Leaf1Edx.FXSR;
    expect(leaf1(all)).toBe(all);
    expect(PENTIUM_4.cpuid.find((l) => l.leaf === 1)!.ecx & (Leaf1Ecx.XSAVE | Leaf1Ecx.SSE3)).toBe(0);
    expect(PENTIUM_II.cpuid.find((l) => l.leaf === 1)!.edx & (Leaf1Edx.SSE | Leaf1Edx.SSE2)).toBe(0);
    expect(PENTIUM_4.features).toEqual(expect.arrayContaining([CpuidFeature.SSE, CpuidFeature.SSE2]));
  });

  it('applyGuestCpuid keeps the model features, drops SSE-family tags the guest CPUID lacks, reports changes', () => {
    const t = featureTable(PENTIUM_II);
    expect(applyGuestCpuid(t, PENTIUM_4, 0, Leaf1Edx.SSE)).toBe(true);
    expect([t[CpuidFeature.SSE], t[CpuidFeature.SSE2], t[CpuidFeature.CLFSH]]).toEqual([1, 0, 0]);
    expect([t[CpuidFeature.CMOV], t[CpuidFeature.MMX], t[CpuidFeature.None]]).toEqual([1, 1, 1]);
    expect(applyGuestCpuid(t, PENTIUM_4, 0, Leaf1Edx.SSE)).toBe(false);
    // A CPUID bit cannot add what the model does not implement (SSE3 here, SSE2 on the Pentium II).
    expect(applyGuestCpuid(t, PENTIUM_II, Leaf1Ecx.SSE3, Leaf1Edx.SSE | Leaf1Edx.SSE2)).toBe(true);
    expect([t[CpuidFeature.SSE], t[CpuidFeature.SSE2], t[CpuidFeature.SSE3]]).toEqual([0, 0, 0]);
    // No guest CPUID at all: the P6 set stays.
    expect(applyGuestCpuid(t, PENTIUM_4, 0, 0)).toBe(false);
    expect(t).toEqual(featureTable(PENTIUM_II));
  });

  it('applyGuestCpuid gates IA-32e mode, SYSCALL and RDTSCP by CPUID.80000001H:EDX and CMPXCHG16B by CX16', () => {
    const l1 = X86_64_MODEL.cpuid.find((l) => l.leaf === 1)!;
    const e1 = X86_64_MODEL.cpuid.find((l) => l.leaf === 0x80000001)!;
    const t = featureTable(X86_64_MODEL);
    const tags = () =>
      [CpuidFeature.X64, CpuidFeature.SYSCALL, CpuidFeature.RDTSCP, CpuidFeature.CMPXCHG16B].map((f) => t[f]);
    // Without the extended leaf's values (callers of the leaf-1-only form): all kept.
    expect(applyGuestCpuid(t, X86_64_MODEL, l1.ecx, l1.edx)).toBe(false);
    expect(tags()).toEqual([1, 1, 1, 1]);
    expect(
      applyGuestCpuid(t, X86_64_MODEL, l1.ecx & ~Leaf1Ecx.CX16, l1.edx, e1.ecx, e1.edx & ~Ext1Edx.LM),
    ).toBe(true);
    expect(tags()).toEqual([0, 1, 1, 0]);
    expect(applyGuestCpuid(t, X86_64_MODEL, l1.ecx, l1.edx, 0, Ext1Edx.LM)).toBe(true);
    expect(tags()).toEqual([1, 0, 0, 1]);
    // A guest CPUID with LM cannot give IA-32e mode to a model without it.
    expect(applyGuestCpuid(t, PENTIUM_4, 0, 0, 0, 0xffffffff)).toBe(true);
    expect(tags()).toEqual([0, 0, 0, 0]);
  });
});

describe('MOV to CR4 with the SSE bits', () => {
  it('accepts OSFXSR | OSXMMEXCPT (Linux sets both on an SSE CPU); a reserved bit is #GP(0)', () => {
    const vectors: number[] = [];
    const m = flat32(
      'mov eax, cr4\nor eax, 0x600\nmov cr4, eax\nmov ebx, cr4\nmov ecx, 0x800\nmov cr4, ecx\nhlt',
      {
        model: PENTIUM_4,
        events: { delivered: (_k, v) => vectors.push(v) },
      },
    );
    m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0);
    // MOV to CR4 ends a run() (the CPU stops to pick up the new paging mode), so run by count.
    for (let i = 0; i < 10 && m.cpu.instructions < 5; i++) m.run(5 - m.cpu.instructions);
    expect(m.cpu.instructions).toBe(5);
    expect(m.cpu.regs.u32[3]).toBe(CR4.OSFXSR | CR4.OSXMMEXCPT);
    expect(vectors).toEqual([]);
    m.run(1);
    expect(vectors[0]).toBe(Vector.GP); // (then #DF: the test machine has no IDT)
  });
});
