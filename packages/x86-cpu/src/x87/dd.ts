// Double-double arithmetic (an unevaluated sum hi + lo of two doubles, about 106 significant bits)
// for the transcendental instructions. Results go to `dd.hi`/`dd.lo` so nothing
// allocates; read them immediately after each call.

/** The result of the last operation (an object: V8 updates its double fields in place). */
export const dd = { hi: 0.5, lo: 0.5 };

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp split)

function twoProdErr(a: number, b: number, p: number): number {
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  return ah * bh - p + ah * bl + al * bh + al * bl;
}

/** Normalize (h, l) so that |l| <= ulp(h) / 2. */
export function ddNorm(h: number, l: number): void {
  const s = h + l;
  dd.lo = l - (s - h);
  dd.hi = s;
}

export function ddAdd(ah: number, al: number, bh: number, bl: number): void {
  let s = ah + bh;
  let bb = s - ah;
  let e = ah - (s - bb) + (bh - bb);
  const t = al + bl;
  bb = t - al;
  const f = al - (t - bb) + (bl - bb);
  e += t;
  const h = s + e;
  e = e - (h - s);
  e += f;
  s = h + e;
  dd.lo = e - (s - h);
  dd.hi = s;
}

export function ddMul(ah: number, al: number, bh: number, bl: number): void {
  const p = ah * bh;
  let e = twoProdErr(ah, bh, p);
  e += ah * bl + al * bh;
  const s = p + e;
  dd.lo = e - (s - p);
  dd.hi = s;
}

export function ddDiv(ah: number, al: number, bh: number, bl: number): void {
  const q1 = ah / bh;
  ddMul(bh, bl, q1, 0);
  ddAdd(ah, al, -dd.hi, -dd.lo);
  const r1h = dd.hi;
  const r1l = dd.lo;
  const q2 = r1h / bh;
  ddMul(bh, bl, q2, 0);
  ddAdd(r1h, r1l, -dd.hi, -dd.lo);
  const q3 = dd.hi / bh;
  ddNorm(q1, q2);
  ddAdd(dd.hi, dd.lo, q3, 0);
}

/** sqrt of a positive double-double. */
export function ddSqrt(ah: number, al: number): void {
  const s = Math.sqrt(ah);
  // One Newton step: s + (a - s^2) / (2s).
  const p = s * s;
  const pe = twoProdErr(s, s, p);
  ddAdd(ah, al, -p, -pe);
  const corr = dd.hi / (2 * s);
  ddNorm(s, corr);
}

/** Multiply by a power of two (exact). */
export function ddScale(ah: number, al: number, k: number): void {
  // 2^k in at most two steps keeps intermediate factors finite for |k| <= 2046.
  if (k > 1023) {
    ah *= 2 ** 1023;
    al *= 2 ** 1023;
    k -= 1023;
  } else if (k < -1022) {
    ah *= 2 ** -1022;
    al *= 2 ** -1022;
    k += 1022;
  }
  const f = 2 ** k;
  dd.hi = ah * f;
  dd.lo = al * f;
}
