/**
 * Conversions between virtual nanoseconds and ticks of a fixed-frequency device clock, exact for any
 * ns below 2^53 (the product ns*hz is never formed whole, so no precision is lost).
 */
const NS_PER_S = 1_000_000_000;

/** Whole ticks of an `hz` clock elapsed at `ns` (floor). */
export function nsToTicks(ns: number, hz: number): number {
  if (ns <= 0) return 0;
  const s = Math.floor(ns / NS_PER_S);
  const rem = ns - s * NS_PER_S;
  return s * hz + Math.floor((rem * hz) / NS_PER_S);
}

/** The first ns at which {@link nsToTicks} reaches `ticks`. */
export function ticksToNs(ticks: number, hz: number): number {
  if (ticks <= 0) return 0;
  const s = Math.floor(ticks / hz);
  const rem = ticks - s * hz;
  let ns = s * NS_PER_S + Math.ceil((rem * NS_PER_S) / hz);
  while (nsToTicks(ns, hz) < ticks) ns++;
  while (ns > 0 && nsToTicks(ns - 1, hz) >= ticks) ns--;
  return ns;
}
