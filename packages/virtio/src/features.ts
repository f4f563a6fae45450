/**
 * Feature sets as plain numbers. Bits 0..52 fit a double exactly, and no feature this package offers
 * is above bit 52; the transports move features as two 32-bit words and mask the driver's words with
 * the offered ones, so a guest can never produce an inexact value.
 */

const TWO_32 = 0x1_0000_0000;

/** The value with only feature `bit` set. */
export function featureBit(bit: number): number {
  return 2 ** bit;
}

/** A feature set with every listed bit set. */
export function features(...bits: readonly number[]): number {
  let f = 0;
  for (const b of bits) if (!hasFeature(f, b)) f += 2 ** b;
  return f;
}

export function hasFeature(set: number, bit: number): boolean {
  return Math.floor(set / 2 ** bit) % 2 === 1;
}

/** Word `sel` (0 = bits 0..31, 1 = bits 32..63) of a feature set; 0 for any other selector. */
export function featureWord(set: number, sel: number): number {
  if (sel === 0) return (set % TWO_32) >>> 0;
  if (sel === 1) return Math.floor(set / TWO_32) >>> 0;
  return 0;
}

/** `set` with word `sel` replaced by `value & mask-word` (mask is the offered feature set). */
export function withFeatureWord(set: number, sel: number, value: number, mask: number): number {
  const lo = sel === 0 ? (value & featureWord(mask, 0)) >>> 0 : featureWord(set, 0);
  const hi = sel === 1 ? (value & featureWord(mask, 1)) >>> 0 : featureWord(set, 1);
  return hi * TWO_32 + lo;
}
