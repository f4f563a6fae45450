/**
 * The string compare of PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM Vol. 2B §4.1, "Imm8 Control
 * Byte Operation"): A holds the first operand (xmm1), B the second (xmm2/m128). imm8[1:0] is the
 * element format (unsigned/signed bytes/words), imm8[3:2] the aggregation (equal any, ranges, equal
 * each, equal ordered), imm8[5:4] the polarity. Elements at or beyond an operand's length are
 * invalid and the comparisons involving them are overridden per aggregation (SDM Table 4-7).
 */
import { A, B } from './lanes.js';

/** imm8 fields. */
export const StrImm = {
  WORDS: 0x1,
  SIGNED: 0x2,
  AGG_SHIFT: 2,
  POL_SHIFT: 4,
  /** Index: most significant set bit (else least); mask: expanded to elements (else bits). */
  MSB_OR_EXPAND: 0x40,
} as const;

export const Aggregation = { EqualAny: 0, Ranges: 1, EqualEach: 2, EqualOrdered: 3 } as const;

/** Element `i` of a lane set as imm8's format reads it. */
function elem(v: typeof A, i: number, words: boolean, signed: boolean): number {
  if (words) return signed ? v.i16[i]! : v.u16[i]!;
  return signed ? v.i8[i]! : v.u8[i]!;
}

/** Length of an implicit (null-terminated) string in A or B: the index of its first zero element. */
export function implicitLength(v: typeof A, words: boolean): number {
  const n = words ? 8 : 16;
  for (let i = 0; i < n; i++) if ((words ? v.u16[i]! : v.u8[i]!) === 0) return i;
  return n;
}

/**
 * IntRes2 (one bit per element of the second operand) for `imm` with valid lengths `la` (first
 * operand) and `lb` (second), each at most the element count.
 */
export function compareStrings(imm: number, la: number, lb: number): number {
  const words = (imm & StrImm.WORDS) !== 0;
  const signed = (imm & StrImm.SIGNED) !== 0;
  const n = words ? 8 : 16;
  const agg = (imm >>> StrImm.AGG_SHIFT) & 3;
  let res = 0;
  if (agg === Aggregation.EqualAny) {
    for (let i = 0; i < lb; i++) {
      const b = elem(B, i, words, signed);
      for (let j = 0; j < la; j++) {
        if (elem(A, j, words, signed) === b) {
          res |= 1 << i;
          break;
        }
      }
    }
  } else if (agg === Aggregation.Ranges) {
    for (let i = 0; i < lb; i++) {
      const b = elem(B, i, words, signed);
      for (let j = 0; j + 1 < la; j += 2) {
        if (b >= elem(A, j, words, signed) && b <= elem(A, j + 1, words, signed)) {
          res |= 1 << i;
          break;
        }
      }
    }
  } else if (agg === Aggregation.EqualEach) {
    for (let i = 0; i < n; i++) {
      const va = i < la;
      const vb = i < lb;
      // Both invalid: true; one invalid: false.
      if (va && vb ? elem(A, i, words, signed) === elem(B, i, words, signed) : !va && !vb) res |= 1 << i;
    }
  } else {
    // Equal ordered: the first operand found in the second starting at element j, the first operand's
    // invalid elements matching anything and the comparison cut at the end of the register.
    for (let j = 0; j < n; j++) {
      let match = true;
      for (let k = 0; j + k < n && match; k++) {
        if (k >= la) break;
        if (j + k >= lb || elem(A, k, words, signed) !== elem(B, j + k, words, signed)) match = false;
      }
      if (match) res |= 1 << j;
    }
  }
  const pol = (imm >>> StrImm.POL_SHIFT) & 3;
  const all = words ? 0xff : 0xffff;
  if (pol === 1) res ^= all;
  else if (pol === 3) res ^= (1 << lb) - 1;
  return res;
}
