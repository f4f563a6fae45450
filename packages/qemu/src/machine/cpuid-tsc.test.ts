import type { CpuidEntry } from '@typevisor/kvm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CRYSTAL_KHZ, withTscFrequency } from './cpuid-tsc.js';

const PENTIUM_II: CpuidEntry[] = [
  { function: 0, index: 0, flags: 0, eax: 2, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
  { function: 1, index: 0, flags: 0, eax: 0x652, ebx: 0, ecx: 0, edx: 0x0183fbff },
  { function: 2, index: 0, flags: 0, eax: 0x03020101, ebx: 0, ecx: 0, edx: 0x0c040843 },
  { function: 0x80000000, index: 0, flags: 0, eax: 0x80000000, ebx: 0, ecx: 0, edx: 0 },
];

/** Linux's native_calibrate_tsc(): the kHz a guest derives from the leaves (0 = unknown). */
function linuxTscKhz(cpuid: readonly CpuidEntry[]): number {
  const leaf = (f: number) => cpuid.find((e) => e.function === f);
  if ((leaf(0)?.eax ?? 0) < 0x15) return 0;
  const l15 = leaf(0x15);
  if (l15 === undefined || l15.eax === 0 || l15.ebx === 0) return 0;
  const crystalKhz = Math.floor(l15.ecx / 1000);
  return Math.floor((crystalKhz * l15.ebx) / l15.eax);
}

describe('withTscFrequency', () => {
  it('gives a Linux guest back exactly the TSC rate, with the crystal as the APIC timer clock', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (khz) => {
        const cpuid = withTscFrequency(PENTIUM_II, khz);
        expect(linuxTscKhz(cpuid)).toBe(khz);
        expect(cpuid.find((e) => e.function === 0x15)!.ecx).toBe(CRYSTAL_KHZ * 1000);
        for (const e of cpuid) for (const r of [e.eax, e.ebx, e.ecx, e.edx]) expect(r >>> 0).toBe(r);
      }),
    );
  });

  it('raises the maximum basic leaf to 16H and reports leaves 3 to 14H as empty', () => {
    const cpuid = withTscFrequency(PENTIUM_II, 1_000_000);
    expect(cpuid.find((e) => e.function === 0)!.eax).toBe(0x16);
    const basic = cpuid.filter((e) => e.function < 0x80000000).map((e) => e.function);
    expect(basic).toEqual(Array.from({ length: 0x17 }, (_, i) => i));
    for (let f = 3; f < 0x15; f++) {
      expect(cpuid.find((e) => e.function === f)).toMatchObject({ eax: 0, ebx: 0, ecx: 0, edx: 0 });
    }
    expect(cpuid.find((e) => e.function === 0x16)).toMatchObject({ eax: 1000, ebx: 1000, ecx: 1000 });
    // The leaves it did not add are untouched.
    expect(cpuid.find((e) => e.function === 1)).toEqual(PENTIUM_II[1]);
    expect(cpuid.find((e) => e.function === 0x80000000)).toEqual(PENTIUM_II[3]);
  });

  it('leaves a CPUID without leaf 0 as it is', () => {
    expect(withTscFrequency(PENTIUM_II.slice(1), 1_000_000)).toEqual(PENTIUM_II.slice(1));
  });
});
