/** Field-by-field comparison used by the round-trip property (decode(encode(x)) equals x). */
import type { Instruction } from './instruction.js';

/**
 * Fields that define an instruction's meaning (not its redundant prefixes or length). `operandSize` is
 * left out: where it matters the Code already fixes it, elsewhere a redundant 66 changes it.
 */
export const SEMANTIC_FIELDS = [
  'code',
  'mnemonic',
  'addressSize',
  'opCount',
  'op0Kind',
  'op1Kind',
  'op2Kind',
  'op3Kind',
  'op4Kind',
  'op0Register',
  'op1Register',
  'op2Register',
  'op3Register',
  'op4Register',
  'memBase',
  'memIndex',
  'memScale',
  'memDisplacement',
  'memSegment',
  'immediate',
  'immediateHi',
  'immediate2',
  'nearBranchTarget',
  'farBranchSelector',
  'farBranchOffset',
  'lock',
  'repPrefix',
  'segmentPrefix',
] as const satisfies readonly (keyof Instruction)[];

/** Names of the semantic fields that differ between `a` and `b` (empty when equal). */
export function semanticDiff(a: Instruction, b: Instruction): string[] {
  const out: string[] = [];
  for (const f of SEMANTIC_FIELDS) if (a[f] !== b[f]) out.push(`${f}: ${String(a[f])} != ${String(b[f])}`);
  return out;
}
