import { Kvm, KvmHost } from '@typevisor/kvm';
import type { CpuidEntry } from '@typevisor/kvm';
import { describe, expect, it } from 'vitest';
import { commandLineErrorOf, cpuConfigOf } from '../../test/cpu-guest.js';
import { parseCommandLine } from './parse.js';
import { CPU_MODELS, cpuFlagNames, resolveCpu } from './cpu-model.js';

const supported = (): CpuidEntry[] => Kvm.open(new KvmHost()).getSupportedCpuid();

const cpuOf = (arg: string) => cpuConfigOf(['-cpu', arg]);
/** CPUID.01H:ECX.HYPERVISOR, which QEMU sets in every model's CPUID. */
const HYPERVISOR = 2 ** 31;
/** The supported CPUID as a guest gets it: with the hypervisor bit (KVM's leaves are in it already). */
const asGuest = (entries: readonly CpuidEntry[]): CpuidEntry[] =>
  entries.map((e) => (e.function === 1 ? { ...e, ecx: (e.ecx | HYPERVISOR) >>> 0 } : e));

const leaf = (entries: readonly CpuidEntry[], fn: number) => entries.find((e) => e.function === fn);
const errorOf = commandLineErrorOf;

describe('-cpu models', () => {
  it('host and max are exactly what KVM_GET_SUPPORTED_CPUID reports plus the hypervisor bit, without warnings', () => {
    for (const model of ['host', 'max']) {
      const r = resolveCpu(cpuOf(model), supported());
      expect(r.warnings).toEqual([]);
      expect(r.cpuid).toEqual(asGuest(supported()));
    }
  });

  it('every model tells the guest it runs on KVM with kvmclock and the no-op I/O delay; -kvmclock removes both clock bits', () => {
    for (const model of ['qemu32', 'qemu64', 'Haswell', 'max']) {
      const r = resolveCpu(cpuOf(model), supported());
      expect((leaf(r.cpuid, 1)!.ecx & HYPERVISOR) >>> 0).toBe(HYPERVISOR);
      const sig = leaf(r.cpuid, 0x4000_0000)!;
      expect(new TextDecoder().decode(new Uint32Array([sig.ebx, sig.ecx, sig.edx]))).toBe('KVMKVMKVM\0\0\0');
      expect(sig.eax).toBe(0x4000_0001);
      // kvmclock (bits 0 and 3), kvm-nopiodelay (1), kvmclock-stable-bit (24)
      expect(leaf(r.cpuid, 0x4000_0001)!.eax).toBe((1 | 2 | 8 | (1 << 24)) >>> 0);
      // KVM's leaves sit between the basic and the extended ones, as KVM_GET_CPUID2 lists them.
      const order = r.cpuid.map((e) => e.function >>> 0);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
    const off = resolveCpu(cpuOf('qemu64,-kvmclock,-kvm-nopiodelay'), supported());
    expect(leaf(off.cpuid, 0x4000_0001)!.eax).toBe(1 << 24);
    const more = resolveCpu(cpuOf('qemu64,+kvm-asyncpf'), supported());
    expect(more.warnings).toContain(
      "host doesn't support requested feature: CPUID.40000001H:EAX.kvm-asyncpf [bit 4]",
    );
    expect(cpuFlagNames()).toEqual(
      expect.arrayContaining(['kvmclock', 'kvm-nopiodelay', 'kvmclock-stable-bit']),
    );
  });

  it("pentium2 is QEMU's model: Intel, family 6 model 5 stepping 2, level 2, its features where supported", () => {
    const r = resolveCpu(cpuOf('pentium2'), supported());
    const l0 = leaf(r.cpuid, 0)!;
    expect(l0.eax).toBe(2);
    expect(
      String.fromCharCode(
        ...[l0.ebx, l0.edx, l0.ecx].flatMap((d) => [d, d >> 8, d >> 16, d >>> 24].map((b) => b & 0xff)),
      ),
    ).toBe('GenuineIntel');
    expect(leaf(r.cpuid, 1)!.eax).toBe(0x652);
    const edx = leaf(r.cpuid, 1)!.edx;
    // fpu tsc msr cx8 apic sep mtrr pge cmov pat mmx fxsr: all in the facade's CPU
    for (const bit of [0, 4, 5, 8, 9, 11, 12, 13, 15, 16, 23, 24]) expect((edx >>> bit) & 1).toBe(1);
    expect(leaf(r.cpuid, 0x8000_0000)).toBeUndefined(); // xlevel 0
    // Whatever the facade lacks is dropped with a warning in QEMU's words.
    for (const w of r.warnings)
      expect(w).toMatch(/^host doesn't support requested feature: CPUID\.01H:EDX\.\w+ \[bit \d+\]$/);
    expect((edx & ~leaf(supported(), 1)!.edx) >>> 0).toBe(0);
  });

  it('warns for each requested feature the facade does not support, as QEMU does with KVM', () => {
    const r = resolveCpu(cpuOf('qemu32,+sse4.2,+avx512f'), supported());
    expect(r.warnings).toContain("host doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]");
    expect(r.warnings.filter((w) => w.includes('ECX.sse4'))).toEqual([]);
    // SSE, SSE2 (qemu32's PPRO set), SSE3 (pni) and SSE4.2 are implemented by the facade's CPU: kept.
    expect(leaf(r.cpuid, 1)!.ecx).toBe((1 | (1 << 20) | HYPERVISOR) >>> 0);
    expect((leaf(r.cpuid, 1)!.edx >>> 25) & 3).toBe(3);
    expect(r.warnings.filter((w) => /\.(sse2?|pni) /.test(w))).toEqual([]);
    // qemu32's brand string is QEMU's.
    const brand = [2, 3, 4]
      .map((i) => leaf(r.cpuid, 0x8000_0000 + i)!)
      .flatMap((e) => [e.eax, e.ebx, e.ecx, e.edx])
      .flatMap((d) => [d, d >> 8, d >> 16, d >>> 24].map((b) => b & 0xff));
    expect(String.fromCharCode(...brand).replace(/\0+$/, '')).toBe('QEMU Virtual CPU version 2.5+');
  });

  it('removes features with -feat and feat=off, adds them with +feat and feat=on (aliases too)', () => {
    const r = resolveCpu(cpuOf('pentium3,-mmx,fxsr=off,+sse3,+sse4_1'), supported());
    const edx = leaf(r.cpuid, 1)!.edx;
    expect((edx >>> 23) & 1).toBe(0);
    expect((edx >>> 24) & 1).toBe(0);
    expect(leaf(r.cpuid, 1)!.ecx).toBe((1 | (1 << 19) | HYPERVISOR) >>> 0); // sse3 = pni and sse4_1 = sse4.1, the facade's
    expect(r.warnings.filter((w) => /ECX\.(pni|sse)/.test(w))).toEqual([]);
    const host = resolveCpu(cpuOf('host,-tsc'), supported());
    expect((leaf(host.cpuid, 1)!.edx >>> 4) & 1).toBe(0);
    expect(host.warnings).toEqual([]);
  });

  it("qemu64 has long mode as QEMU's model: LM, SYSCALL, NX, LAHF_LM, CX16, 40/48-bit addresses, no SSSE3", () => {
    const r = resolveCpu(cpuOf('qemu64'), supported());
    const e1 = leaf(r.cpuid, 0x8000_0001)!;
    for (const bit of [29, 11, 20]) expect((e1.edx >>> bit) & 1).toBe(1); // lm syscall nx
    expect(e1.ecx & 1).toBe(1); // lahf-lm
    expect((e1.edx >>> 27) & 1).toBe(0); // rdtscp: not in qemu64
    expect((leaf(r.cpuid, 1)!.ecx >>> 13) & 1).toBe(1); // cx16
    expect((leaf(r.cpuid, 1)!.ecx >>> 9) & 1).toBe(0); // no ssse3
    expect(leaf(r.cpuid, 0x8000_0008)!.eax).toBe(0x3028);
    // The facade has LM, SYSCALL, NX and LAHF_LM: of leaf 80000001H only SVM (AMD's, which KVM on
    // Intel lacks) warns, as with QEMU on an Intel host.
    expect(r.warnings.filter((w) => w.includes('80000001H'))).toEqual([
      "host doesn't support requested feature: CPUID.80000001H:ECX.svm [bit 2]",
    ]);
    // family 15, model 107, stepping 1: QEMU's qemu64 reset EDX in the golden session (00060fb1)
    expect(leaf(r.cpuid, 1)!.eax).toBe(0x60fb1);
  });

  it('qemu64,-lm drops long mode (and the linear width of leaf 80000008H); qemu32 has none', () => {
    const r = resolveCpu(cpuOf('qemu64,-lm'), supported());
    expect((leaf(r.cpuid, 0x8000_0001)!.edx >>> 29) & 1).toBe(0);
    // Without LM: 36 bits with PSE-36, else 32 (the facade lacks PSE-36, so it was dropped).
    expect(leaf(r.cpuid, 0x8000_0008)!.eax).toBe((leaf(r.cpuid, 1)!.edx >>> 17) & 1 ? 36 : 32);
    expect(r.warnings).not.toContain(
      "host doesn't support requested feature: CPUID.80000001H:EDX.lm [bit 29]",
    );
    const q32 = resolveCpu(cpuOf('qemu32'), supported());
    expect((leaf(q32.cpuid, 0x8000_0001)!.edx >>> 29) & 1).toBe(0);
    expect(leaf(q32.cpuid, 0x8000_0008)).toBeUndefined();
    expect(q32.warnings.filter((w) => w.includes('80000001H'))).toEqual([]);
  });

  it('host and max report long mode', () => {
    for (const model of ['host', 'max']) {
      const r = resolveCpu(cpuOf(model), supported());
      expect((leaf(r.cpuid, 0x8000_0001)!.edx >>> 29) & 1).toBe(1);
      expect(r.warnings).toEqual([]);
    }
  });
});

describe('-cpu errors (QEMU 7.2 wording)', () => {
  it('names an unknown model', () => {
    expect(errorOf(['-cpu', 'foo'])).toBe("unable to find CPU model 'foo'");
  });
  it('names an unknown feature in the form QEMU reports it', () => {
    expect(errorOf(['-cpu', 'qemu32,+foo'])).toBe("Property 'qemu32-x86_64-cpu.foo' not found");
    expect(errorOf(['-cpu', 'qemu32,foo=on'])).toBe(
      "can't apply global qemu32-x86_64-cpu.foo=on: Property 'qemu32-x86_64-cpu.foo' not found",
    );
    expect(errorOf(['-cpu', 'qemu32,foo'])).toBe(
      "can't apply global qemu32-x86_64-cpu.foo=on: Property 'qemu32-x86_64-cpu.foo' not found",
    );
    expect(errorOf(['-cpu', 'qemu32,sse2=maybe'])).toBe(
      "can't apply global qemu32-x86_64-cpu.sse2=maybe: Parameter 'sse2' expects 'on' or 'off'",
    );
  });
});

describe('-cpu help', () => {
  const listing = (arg: string): string => {
    const cmd = parseCommandLine(['-cpu', arg]);
    if (cmd.action !== 'list') throw new Error('not a listing');
    return cmd.text;
  };

  it("lists every model the parser accepts with its description, in QEMU's layout", () => {
    const lines = listing('help').split('\n');
    expect(lines[0]).toBe('Available CPUs:');
    const models = lines.slice(1, lines.indexOf(''));
    expect(models.map((l) => l.split(/\s+/)[1])).toEqual([...CPU_MODELS]);
    expect(models).toContain('x86 pentium3              Intel Pentium III');
    expect(models).toContain('x86 qemu64                QEMU Virtual CPU version 2.5+');
    expect(models).toContain('x86 host                  KVM processor with all supported host features');
    expect(listing('?')).toBe(listing('help'));
  });

  it('lists the CPUID flags the parser accepts, sorted, wrapped before column 75', () => {
    const text = listing('help');
    const flags = text.slice(text.indexOf('Recognized CPUID flags:\n') + 24).split('\n');
    for (const line of flags) {
      expect(line.startsWith('  ')).toBe(true);
      expect(line.length).toBeLessThan(76);
    }
    const names = flags.join(' ').trim().split(/\s+/);
    expect(names).toEqual(cpuFlagNames());
    expect(names).toEqual([...names].sort());
    for (const n of ['sse', 'sse4.1', 'lahf-lm', 'avx2']) expect(names).toContain(n);
    // Every listed flag is one -cpu accepts.
    for (const n of names) expect(() => parseCommandLine(['-cpu', `pentium,+${n}`])).not.toThrow();
  });
});
