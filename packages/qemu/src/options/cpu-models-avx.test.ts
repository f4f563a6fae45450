/**
 * `-cpu` with the facade's Haswell-class CPU: the default keeps the x86-64 CPUID it had before the
 * facade had AVX; qemu64 keeps QEMU's set; `Nehalem`, `Haswell`, `Haswell-noTSX`, `max` and `host`
 * give QEMU's feature words within what the facade supports, with leaf 7 and leaf 0DH (XCR0 YMM with
 * AVX) consistent with them; the new feature names as QEMU spells them; and what a guest then runs.
 */
import { type CpuidEntry, HASWELL_MODEL, Kvm, KvmHost, X86_64_KVM_MODEL } from '@typevisor/kvm';
import { describe, expect, it } from 'vitest';
import {
  CODE,
  commandLineErrorOf,
  cpuConfigOf,
  cpuGuest,
  nextOut,
  resolvedCpu as resolved,
} from '../../test/cpu-guest.js';
import { CPU_MODELS, resolveCpu } from './cpu-model.js';
import { parseCommandLine } from './parse.js';

const find = (cpuid: readonly CpuidEntry[], fn: number, index = 0) =>
  cpuid.find((e) => e.function === fn && e.index === index);
const reg = (cpuid: readonly CpuidEntry[], fn: number, r: 'eax' | 'ebx' | 'ecx' | 'edx', index = 0) =>
  (find(cpuid, fn, index)?.[r] ?? 0) >>> 0;

const AVX = 1 << 28;
const FMA = 1 << 12;
const F16C = 1 << 29;
const AVX2 = 1 << 5;
const XSAVE = 1 << 26;

const defaultCpu = () => cpuConfigOf([]);
/** CPUID.01H:ECX.HYPERVISOR: QEMU sets it in every model's CPUID. */
const HYPERVISOR = 2 ** 31;
/** A facade table as a guest gets it: the hypervisor bit set (KVM's 40000000H leaves are in the table). */
const asGuest = (entries: readonly CpuidEntry[]): CpuidEntry[] =>
  entries.map((e) => (e.function === 1 ? { ...e, ecx: (e.ecx | HYPERVISOR) >>> 0 } : e));

const errorOf = commandLineErrorOf;

describe('the default CPU and qemu64 are unchanged by the Haswell-class facade', () => {
  it('without -cpu the vCPU gets the x86-64 model table (and the hypervisor bit): no AVX, no leaf 7, XCR0 x87|SSE', () => {
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    const r = resolveCpu(defaultCpu(), supported);
    expect(r.warnings).toEqual([]);
    expect(r.cpuid).toEqual(asGuest(X86_64_KVM_MODEL.cpuid));
    expect(reg(r.cpuid, 1, 'ecx') & AVX).toBe(0);
    expect(find(r.cpuid, 7)).toBeUndefined();
    expect([reg(r.cpuid, 0xd, 'eax'), reg(r.cpuid, 0xd, 'ebx'), reg(r.cpuid, 0xd, 'ecx')]).toEqual([
      3, 576, 576,
    ]);
  });

  it('qemu64 resolves to the same CPUID against the Haswell-class facade as against the x86-64 one', () => {
    const old = Kvm.open(new KvmHost({ model: X86_64_KVM_MODEL })).getSupportedCpuid();
    const now = Kvm.open(new KvmHost()).getSupportedCpuid();
    const cmd = parseCommandLine(['-cpu', 'qemu64']);
    if (cmd.action !== 'run') throw new Error('not a run');
    const a = resolveCpu(cmd.config.cpu, old);
    const b = resolveCpu(cmd.config.cpu, now);
    expect(b.cpuid).toEqual(a.cpuid);
    expect(b.warnings).toEqual(a.warnings);
    // qemu64 has no XSAVE: no leaf 0DH entries (QEMU skips sub-leaves whose EAX is 0).
    expect(b.cpuid.some((e) => e.function === 0xd)).toBe(false);
  });
});

describe('-cpu Nehalem, Haswell, Haswell-noTSX, max, host', () => {
  it("Haswell has QEMU's identity and, within the facade, x86-cpu's HASWELL feature words", () => {
    const r = resolved('Haswell');
    expect(reg(r.cpuid, 0, 'eax')).toBe(0xd);
    expect(reg(r.cpuid, 1, 'eax')).toBe(0x306c4);
    const hw = HASWELL_MODEL.cpuid;
    expect(reg(r.cpuid, 1, 'ecx')).toBe((reg(hw, 1, 'ecx') | HYPERVISOR) >>> 0);
    expect(reg(r.cpuid, 7, 'ebx')).toBe(reg(hw, 7, 'ebx'));
    expect(find(r.cpuid, 7)!.flags).toBe(1);
    expect(reg(r.cpuid, 0x8000_0001, 'ecx')).toBe(reg(hw, 0x8000_0001, 'ecx'));
    expect(reg(r.cpuid, 0x8000_0001, 'edx')).toBe(reg(hw, 0x8000_0001, 'edx'));
    // Leaf 0DH: x87|SSE|YMM, 832 bytes, XSAVEOPT, YMM's 256 bytes at 576.
    expect(
      [0, 1, 2].map((i) => find(r.cpuid, 0xd, i)).map((e) => e && [e.eax, e.ebx, e.ecx, e.flags]),
    ).toEqual([
      [7, 832, 832, 1],
      [1, 0, 0, 1],
      [256, 576, 0, 1],
    ]);
    // What the facade lacks of QEMU's CPUID.01H:EDX (vme, de, mce, mca, pse36) warns, nothing else.
    for (const w of r.warnings) expect(w).toMatch(/CPUID\.01H:EDX\.(vme|de|mce|mca|pse36) /);
    const brand = [2, 3, 4]
      .flatMap((i) => ['eax', 'ebx', 'ecx', 'edx'].map((k) => reg(r.cpuid, 0x8000_0000 + i, k as 'eax')))
      .flatMap((d) => [d, d >> 8, d >> 16, d >>> 24].map((b) => b & 0xff));
    expect(String.fromCharCode(...brand).replace(/\0+$/, '')).toBe('Intel Core Processor (Haswell)');
    const notsx = resolved('Haswell-noTSX');
    expect(reg(notsx.cpuid, 1, 'eax')).toBe(0x306c1);
    expect(reg(notsx.cpuid, 7, 'ebx')).toBe(reg(r.cpuid, 7, 'ebx'));
  });

  it('Haswell,-avx drops AVX and the YMM component (as QEMU: AVX2, FMA, F16C stay, it has no such dependency)', () => {
    const r = resolved('Haswell,-avx');
    expect(reg(r.cpuid, 1, 'ecx') & AVX).toBe(0);
    expect(reg(r.cpuid, 1, 'ecx') & (FMA | F16C)).toBe(FMA | F16C);
    expect(reg(r.cpuid, 7, 'ebx') & AVX2).toBe(AVX2);
    expect([reg(r.cpuid, 0xd, 'eax'), reg(r.cpuid, 0xd, 'ebx'), reg(r.cpuid, 0xd, 'ecx')]).toEqual([
      3, 576, 576,
    ]);
    expect(find(r.cpuid, 0xd, 2)).toBeUndefined();
    // -xsave: no leaf 0DH at all.
    const nx = resolved('Haswell,-xsave');
    expect(reg(nx.cpuid, 1, 'ecx') & XSAVE).toBe(0);
    expect(nx.cpuid.some((e) => e.function === 0xd)).toBe(false);
  });

  it("Nehalem is QEMU's: level 11, family 6 model 26 stepping 3, SSE4.2 and POPCNT, no XSAVE/AVX, empty leaf 7", () => {
    const r = resolved('Nehalem');
    expect(reg(r.cpuid, 0, 'eax')).toBe(11);
    expect(reg(r.cpuid, 1, 'eax')).toBe(0x106a3);
    const ecx = (1 | (1 << 9) | (1 << 13) | (1 << 19) | (1 << 20) | (1 << 23) | HYPERVISOR) >>> 0;
    expect(reg(r.cpuid, 1, 'ecx')).toBe(ecx);
    expect(reg(r.cpuid, 7, 'ebx')).toBe(0);
    expect(r.cpuid.some((e) => e.function === 0xd)).toBe(false);
    expect(reg(r.cpuid, 0x8000_0001, 'edx')).toBe(((1 << 29) | (1 << 20) | (1 << 11)) >>> 0);
  });

  it('max and host are the supported CPUID: Haswell plus ADX and RDSEED, XCR0 with YMM; max,-avx2 clears only that', () => {
    const supported = Kvm.open(new KvmHost()).getSupportedCpuid();
    for (const m of ['max', 'host']) {
      const r = resolved(m);
      expect(r.warnings).toEqual([]);
      expect(r.cpuid).toEqual(asGuest(supported));
      expect(reg(r.cpuid, 7, 'ebx') & ((1 << 18) | (1 << 19))).toBe((1 << 18) | (1 << 19));
    }
    const r = resolved('max,-avx2');
    expect(reg(r.cpuid, 7, 'ebx')).toBe((reg(supported, 7, 'ebx') & ~AVX2) >>> 0);
    expect(reg(r.cpuid, 0xd, 'eax')).toBe(7);
  });

  it('the new feature names set their bits as QEMU spells them (on qemu64, whose level shows leaf 7)', () => {
    const bits: [string, number, 'ebx' | 'ecx', number][] = [
      ['avx', 1, 'ecx', 28],
      ['fma', 1, 'ecx', 12],
      ['f16c', 1, 'ecx', 29],
      ['movbe', 1, 'ecx', 22],
      ['rdrand', 1, 'ecx', 30],
      ['pcid', 1, 'ecx', 17],
      ['xsave', 1, 'ecx', 26],
      ['aes', 1, 'ecx', 25],
      ['pclmulqdq', 1, 'ecx', 1],
      ['popcnt', 1, 'ecx', 23],
      ['sse4.1', 1, 'ecx', 19],
      ['sse4.2', 1, 'ecx', 20],
      ['ssse3', 1, 'ecx', 9],
      ['fsgsbase', 7, 'ebx', 0],
      ['bmi1', 7, 'ebx', 3],
      ['avx2', 7, 'ebx', 5],
      ['smep', 7, 'ebx', 7],
      ['bmi2', 7, 'ebx', 8],
      ['erms', 7, 'ebx', 9],
      ['invpcid', 7, 'ebx', 10],
      ['rdseed', 7, 'ebx', 18],
      ['adx', 7, 'ebx', 19],
      ['abm', 0x8000_0001, 'ecx', 5],
    ];
    for (const [name, leaf, r, bit] of bits) {
      const res = resolved(`qemu64,+${name}`);
      expect(res.warnings.filter((w) => w.includes(`.${name} `))).toEqual([]);
      expect((reg(res.cpuid, leaf, r) >>> bit) & 1, name).toBe(1);
    }
    // None of them is in qemu64 itself.
    const base = resolved('qemu64').cpuid;
    for (const [name, leaf, r, bit] of bits) expect((reg(base, leaf, r) >>> bit) & 1, name).toBe(0);
  });

  it('-cpu help lists the models; an unknown model or feature is a one-line error naming it', () => {
    const cmd = parseCommandLine(['-cpu', 'help']);
    if (cmd.action !== 'list') throw new Error('not a listing');
    for (const m of ['Nehalem', 'Haswell', 'Haswell-noTSX', 'qemu64', 'max', 'host']) {
      expect(CPU_MODELS).toContain(m);
      expect(cmd.text).toMatch(new RegExp(`\\nx86 ${m} `));
    }
    expect(cmd.text).toContain('xsaveopt');
    expect(errorOf(['-cpu', 'Skylake-Client'])).toBe("unable to find CPU model 'Skylake-Client'");
    expect(errorOf(['-cpu', 'Haswell,+avx9'])).toBe("Property 'Haswell-x86_64-cpu.avx9' not found");
    expect(errorOf(['-cpu', 'default'])).toBe("unable to find CPU model 'default'");
  });
});

describe('what a guest runs under each model', () => {
  // andn eax, ebx, ecx (BMI1); then vpshufd (AVX) once XCR0 allows it.
  const program = `mov ebx, 0xff00ff00
    mov ecx, 0x0ff00ff0
    andn eax, ebx, ecx
    out 0x81, eax
    vpshufd xmm0, xmm1, 0x1b
    mov eax, 2
    out 0x82, eax
    hlt`;
  const andnAt = CODE + 10;
  const vexAt = andnAt + 5 + 2;

  it('Haswell: ANDN and VPSHUFD run (CR4.OSXSAVE, XCR0 = 7)', () => {
    const { vcpu } = cpuGuest('Haswell', program, 0x40600);
    vcpu.setXcrs([{ xcr: 0, value: 7n }]);
    expect(nextOut(vcpu)).toEqual([0x81, 0x00f000f0]);
    expect(nextOut(vcpu)).toEqual([0x82, 2]);
  });

  it('Haswell,-avx: XCR0 cannot enable YMM, and VPSHUFD is #UD; ANDN still runs', () => {
    const { vcpu } = cpuGuest('Haswell,-avx', program, 0x40600);
    expect(() => vcpu.setXcrs([{ xcr: 0, value: 7n }])).toThrow();
    vcpu.setXcrs([{ xcr: 0, value: 3n }]);
    expect(nextOut(vcpu)).toEqual([0x81, 0x00f000f0]);
    expect(nextOut(vcpu)).toEqual([0x86, vexAt]);
  });

  it('Nehalem: ANDN is #UD (no BMI1 in its leaf 7); CR4.OSXSAVE is refused (no XSAVE)', () => {
    expect(() => cpuGuest('Nehalem', program, 0x40600)).toThrow();
    const { vcpu } = cpuGuest('Nehalem', program, 0x600);
    expect(nextOut(vcpu)).toEqual([0x86, andnAt]);
  });
});
