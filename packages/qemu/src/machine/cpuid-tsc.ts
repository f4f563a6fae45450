import type { CpuidEntry } from '@typevisor/kvm';

/** The local APIC timer's input clock: 1 GHz, as QEMU and KVM model it (the "core crystal"). */
export const CRYSTAL_KHZ = 1_000_000;

const TSC_LEAF = 0x15;
const FREQUENCY_LEAF = 0x16;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Adds the TSC frequency to a vCPU's CPUID as a VMM does when the hypervisor knows it (crosvm's
 * `tsc_frequency_cpuid`): leaf 15H (TSC/crystal ratio with the crystal's Hz) and leaf 16H (base MHz),
 * raising the maximum basic leaf to 16H with zeroed leaves in between (zero means "not reported" for
 * every leaf from 3 to 14H). A guest kernel then knows its TSC rate instead of calibrating it against
 * the PIT through port I/O exits, which a slow or loaded host makes fail (Linux's
 * `native_calibrate_tsc()` sets X86_FEATURE_TSC_KNOWN_FREQ and takes the APIC timer rate from the crystal).
 * Other entries are returned unchanged.
 */
export function withTscFrequency(entries: readonly CpuidEntry[], tscKhz: number): CpuidEntry[] {
  const leaf0 = entries.find((e) => e.function === 0);
  if (leaf0 === undefined || !Number.isInteger(tscKhz) || tscKhz <= 0) return [...entries];
  const g = gcd(tscKhz, CRYSTAL_KHZ);
  const withoutTiming = entries.filter((e) => e.function !== TSC_LEAF && e.function !== FREQUENCY_LEAF);
  const present = new Set(withoutTiming.map((e) => e.function));
  const added: CpuidEntry[] = [];
  for (let f = 3; f < TSC_LEAF; f++) {
    if (!present.has(f)) added.push({ function: f, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  }
  const mhz = Math.max(1, Math.round(tscKhz / 1000));
  return [
    ...withoutTiming.map((e) => (e.function === 0 ? { ...e, eax: Math.max(e.eax, FREQUENCY_LEAF) } : e)),
    ...added,
    {
      function: TSC_LEAF,
      index: 0,
      flags: 0,
      eax: CRYSTAL_KHZ / g,
      ebx: tscKhz / g,
      ecx: CRYSTAL_KHZ * 1000,
      edx: 0,
    },
    {
      function: FREQUENCY_LEAF,
      index: 0,
      flags: 0,
      eax: mhz,
      ebx: mhz,
      ecx: Math.round(CRYSTAL_KHZ / 1000),
      edx: 0,
    },
  ].sort((a, b) => a.function - b.function || a.index - b.index);
}
