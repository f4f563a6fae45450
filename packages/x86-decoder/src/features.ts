import { T_CPUID, T_CPUID2 } from './tables.js';

/**
 * The CPUID features an instruction form needs, as `CpuidFeature` values: the first, and a second one
 * for the forms that need two (the same value twice when there is only one). What `decode` puts in
 * `Instruction.cpuidFeature` and `cpuidFeature2`, without an encoding to decode.
 */
export function codeCpuidFeatures(code: number): readonly [number, number] {
  return [T_CPUID[code] ?? 0, T_CPUID2[code] ?? 0];
}
