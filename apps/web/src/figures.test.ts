import { describe, expect, it } from 'vitest';
import { FigureSeries, formatRate, niceMax, ratesBetween, silentSeconds, stackLayers } from './figures.js';
import type { FigureSample } from './protocol.js';

const sample = (
  t: number,
  exits: number,
  byReason: Record<string, number>,
  instructions: number | null = null,
) => ({ t, exits, byReason, instructions }) satisfies FigureSample;

describe('figures', () => {
  it('turns two samples into exits per second by reason, and MIPS when counted', () => {
    const r = ratesBetween(
      sample(0, 100, { IoOut: 50, Hlt: 50 }, 1e6),
      sample(500, 1100, { IoOut: 950, Hlt: 50, MmioRead: 100 }, 6e6),
    );
    expect(r).toEqual({ t: 500, exitsPerSec: 2000, byReason: { IoOut: 1800, MmioRead: 200 }, mips: 10 });
    expect(ratesBetween(sample(0, 0, {}), sample(500, 10, {}))?.mips).toBeNull();
    expect(ratesBetween(sample(500, 0, {}), sample(500, 10, {}))).toBeNull();
  });

  it('keeps a window of rates and ranks the reasons by activity', () => {
    const s = new FigureSeries(2);
    expect(s.push(sample(0, 0, {}))).toBeNull();
    s.push(sample(1000, 10, { Hlt: 10 }));
    s.push(sample(2000, 40, { Hlt: 10, IoOut: 30 }));
    s.push(sample(3000, 60, { Hlt: 15, IoOut: 45 }));
    expect(s.rates.map((r) => r.t)).toEqual([2000, 3000]);
    expect(s.reasons()).toEqual(['IoOut', 'Hlt']);
    expect(stackLayers(s)).toEqual([
      { name: 'IoOut', tops: [30, 15] },
      { name: 'Hlt', tops: [30, 20] },
    ]);
  });

  it('folds reasons beyond the colours into "other"', () => {
    const s = new FigureSeries();
    s.push(sample(0, 0, {}));
    s.push(sample(1000, 21, { a: 6, b: 5, c: 4, d: 3, e: 2, f: 1 }));
    const layers = stackLayers(s);
    expect(layers.map((l) => l.name)).toEqual(['a', 'b', 'c', 'd', 'e', 'other']);
    expect(layers.at(-1)?.tops).toEqual([21]);
  });

  it('picks steady axis maxima and short labels', () => {
    expect([0, 0.3, 1, 3, 7, 12, 2500].map(niceMax)).toEqual([1, 0.5, 1, 5, 10, 20, 5000]);
    expect([0, 2.5, 42, 12_345, 3_400_000].map(formatRate)).toEqual(['0', '2.5', '42', '12.3k', '3.4M']);
  });

  it('notices a worker that stopped answering', () => {
    expect(silentSeconds(1000, 2500, 500)).toBe(0);
    expect(silentSeconds(1000, 13_400, 500)).toBe(12);
  });
});
