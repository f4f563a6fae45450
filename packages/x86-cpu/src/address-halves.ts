/** 2^32. */
const HI = 4294967296;

/**
 * The high half of an address as an int32 (`Math.floor(a / 2^32)`): 0 below 2^32, negative for a RIP
 * in signed form. With `a | 0`, the two halves a lookup compares instead of the number itself
 * (`Block.physHi`, `Block.ipHi`): int32 values stay in the object, where V8 keeps a field that held a
 * number past 2^31 in a heap number of its own.
 */
export function highHalf(a: number): number {
  return a >= 0 && a < HI ? 0 : Math.floor(a / HI) | 0;
}
