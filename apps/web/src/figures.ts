import { FIGURES_MS, type FigureSample } from './protocol.js';

/** Rates between two samples. */
export interface Rates {
  readonly t: number;
  readonly exitsPerSec: number;
  /** Exits per second by reason. */
  readonly byReason: Readonly<Record<string, number>>;
  /** Guest MIPS, or null when the samples carry no instruction count. */
  readonly mips: number | null;
}

/** The rates from `a` to `b` (b later); null if no time passed. */
export function ratesBetween(a: FigureSample, b: FigureSample): Rates | null {
  const dt = (b.t - a.t) / 1000;
  if (!(dt > 0)) return null;
  const byReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(b.byReason)) {
    const d = n - (a.byReason[reason] ?? 0);
    if (d > 0) byReason[reason] = d / dt;
  }
  const mips =
    a.instructions === null || b.instructions === null ? null : (b.instructions - a.instructions) / dt / 1e6;
  return { t: b.t, exitsPerSec: Math.max(0, b.exits - a.exits) / dt, byReason, mips };
}

/** The last `capacity` rates, fed with successive samples. */
export class FigureSeries {
  readonly rates: Rates[] = [];
  private last: FigureSample | undefined;

  constructor(readonly capacity = 120) {}

  push(sample: FigureSample): Rates | null {
    const prev = this.last;
    this.last = sample;
    if (prev === undefined) return null;
    const r = ratesBetween(prev, sample);
    if (r === null) return null;
    this.rates.push(r);
    if (this.rates.length > this.capacity) this.rates.shift();
    return r;
  }

  /** The reasons seen in the window, busiest first. */
  reasons(): string[] {
    const totals = new Map<string, number>();
    for (const r of this.rates) {
      for (const [k, v] of Object.entries(r.byReason)) totals.set(k, (totals.get(k) ?? 0) + v);
    }
    return [...totals.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([k]) => k);
  }
}

/**
 * Whole seconds a worker has been silent past a grace of four sampling periods (0 while it is
 * answering): the page's sign that the vCPU is inside one long KVM_RUN.
 */
export function silentSeconds(lastHeardMs: number, nowMs: number, periodMs: number): number {
  const silent = nowMs - lastHeardMs;
  return silent > 4 * periodMs ? Math.floor(silent / 1000) : 0;
}

/** A "nice" axis maximum at or above `v` (1, 2, 5 x 10^n), so the scale does not jitter. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** "12.3k" style figures for the legend. */
export function formatRate(v: number): string {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return v.toFixed(v >= 10 || v === 0 ? 0 : 1);
}

/** Colours of the stacked reasons, busiest first; the rest is drawn as "other". */
export const REASON_COLOURS = ['#4e9af1', '#f1a34e', '#6cc070', '#c678dd', '#e06c75'] as const;

/**
 * The stacked-area layers for the chart: one per busiest reason (up to the colours available) and
 * "other" for the rest, each the running sum of the layers below at every point.
 */
export function stackLayers(series: FigureSeries): { name: string; tops: number[] }[] {
  const reasons = series.reasons();
  const shown = reasons.slice(0, REASON_COLOURS.length);
  const names = reasons.length > shown.length ? [...shown, 'other'] : shown;
  const base = series.rates.map(() => 0);
  return names.map((name) => {
    const tops = series.rates.map((r, i) => {
      const v =
        name === 'other'
          ? Object.entries(r.byReason)
              .filter(([k]) => !shown.includes(k))
              .reduce((s, [, x]) => s + x, 0)
          : (r.byReason[name] ?? 0);
      base[i] = (base[i] ?? 0) + v;
      return base[i]!;
    });
    return { name, tops };
  });
}

/** Draws the exits-per-second chart (stacked by reason) and the MIPS line when there is one. */
export function drawChart(ctx: CanvasRenderingContext2D, series: FigureSeries): void {
  const { width: w, height: h } = ctx.canvas;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = '#161616';
  ctx.fillRect(0, 0, w, h);
  const n = series.capacity;
  const layers = stackLayers(series);
  const peak = Math.max(0, ...series.rates.map((r) => r.exitsPerSec), ...(layers.at(-1)?.tops ?? []));
  const max = niceMax(peak);
  const x = (i: number) => w - ((series.rates.length - 1 - i) / (n - 1)) * w;
  const y = (v: number) => h - 14 - (v / max) * (h - 24);
  for (let li = layers.length - 1; li >= 0; li--) {
    const layer = layers[li]!;
    if (layer.tops.length === 0) continue;
    ctx.beginPath();
    ctx.moveTo(x(0), y(0));
    for (const [i, v] of layer.tops.entries()) ctx.lineTo(x(i), y(v));
    ctx.lineTo(x(layer.tops.length - 1), y(0));
    ctx.closePath();
    ctx.fillStyle = REASON_COLOURS[li] ?? '#888';
    ctx.fill();
  }
  const mips = series.rates.map((r) => r.mips);
  if (mips.some((m) => m !== null)) {
    const mmax = niceMax(Math.max(...mips.map((m) => m ?? 0)));
    ctx.beginPath();
    ctx.strokeStyle = '#fff';
    mips.forEach((m, i) => {
      const yy = h - 14 - ((m ?? 0) / mmax) * (h - 24);
      if (i === 0) ctx.moveTo(x(i), yy);
      else ctx.lineTo(x(i), yy);
    });
    ctx.stroke();
  }
  ctx.fillStyle = '#aaa';
  ctx.font = '11px monospace';
  ctx.fillText(`${formatRate(max)} exits/s`, 4, 12);
  ctx.fillText(`last ${(n * FIGURES_MS) / 1000} s`, 4, h - 3);
}
