/** Name lookups for Codes, mnemonics and CPUID features (diagnostics, formatter, assembler). */
import { Code, CpuidFeature, Mnemonic } from './table.gen.js';

function invert(o: Record<string, number>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(o)) out[v] = k;
  return out;
}

/** `CODE_NAMES[Code.Add_rm32_imm8] === 'Add_rm32_imm8'`. */
export const CODE_NAMES: readonly string[] = invert(Code);
/** `MNEMONIC_NAMES[Mnemonic.Add] === 'Add'`. */
export const MNEMONIC_NAMES: readonly string[] = invert(Mnemonic);
/** `CPUID_FEATURE_NAMES[CpuidFeature.SSE2] === 'SSE2'`. */
export const CPUID_FEATURE_NAMES: readonly string[] = invert(CpuidFeature);

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Code#${code}`;
}
export function mnemonicName(mnemonic: number): string {
  return MNEMONIC_NAMES[mnemonic] ?? `Mnemonic#${mnemonic}`;
}
