/**
 * A reference model for the property tests: the composition of the guest's 4-level paging and EPT,
 * written as a plain transcription of SDM Chapter 4 and §29.3 over 64-bit BigInt entries, with no TLB,
 * no caching and no shared code with the implementation. It updates A/D flags in its own copy of
 * host memory exactly where the SDM says the processor does.
 */
import type { GuestMemory } from '@typevisor/memory';

export type RefResult =
  | { readonly kind: 'ok'; readonly hpa: number }
  | { readonly kind: 'pf'; readonly code: number; readonly cr2: number }
  | { readonly kind: 'ept'; readonly qual: number; readonly gpa: number; readonly gla: number }
  | { readonly kind: 'misconfig'; readonly gpa: number };

export interface RefControls {
  readonly wp: boolean;
  readonly smep: boolean;
  readonly smap: boolean;
  readonly pke: boolean;
  readonly nxe: boolean;
  readonly pkru: number;
}

const M = 46n; // MAXPHYADDR
const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
const bits = (v: bigint, hi: number, lo: number): bigint =>
  (v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n);
const addrMask = (1n << M) - 1n;

class Fault {
  constructor(readonly result: RefResult) {}
}

export class Reference {
  constructor(
    private readonly host: GuestMemory,
    private readonly eptRoot: number,
    private readonly eptAd: boolean,
    private readonly cr3: number,
    private readonly c: RefControls,
  ) {}

  private read(addr: bigint): bigint {
    const a = Number(addr);
    return BigInt(this.host.read32(a)) | (BigInt(this.host.read32(a + 4)) << 32n);
  }

  private write(addr: bigint, v: bigint): void {
    const a = Number(addr);
    this.host.write32(a, Number(v & 0xffff_ffffn));
    this.host.write32(a + 4, Number(v >> 32n));
  }

  /** EPT translation of `gpa`. `how`: the access; `ps`: a guest paging-structure access; `gla`: linear address or null. */
  private ept(gpa: bigint, how: 'r' | 'w' | 'x', ps: boolean, gla: number | null): bigint {
    const asWrite = how === 'w' || (ps && this.eptAd);
    let table = BigInt(this.eptRoot);
    let r = true;
    let w = true;
    let x = true;
    const used: bigint[] = [];
    for (let level = 4; level >= 1; level--) {
      const idx = bits(gpa, 12 + 9 * level - 1, 12 + 9 * (level - 1));
      const ea = table + idx * 8n;
      const e = this.read(ea);
      r &&= bit(e, 0);
      w &&= bit(e, 1);
      x &&= bit(e, 2);
      const present = bits(e, 2, 0) !== 0n;
      if (!present) throw new Fault(this.violation(gpa, how, ps, asWrite, r, w, x, gla));
      // Misconfigurations.
      const mis =
        (!bit(e, 0) && bit(e, 1)) ||
        bits(e, 51, Number(M)) !== 0n ||
        (level === 4 && bits(e, 7, 3) !== 0n) ||
        (level < 4 && level > 1 && !bit(e, 7) && bits(e, 6, 3) !== 0n) ||
        (level === 3 && bit(e, 7) && bits(e, 29, 12) !== 0n) ||
        (level === 2 && bit(e, 7) && bits(e, 20, 12) !== 0n) ||
        ((level === 1 || (level <= 3 && bit(e, 7))) && [2n, 3n, 7n].includes(bits(e, 5, 3)));
      if (mis) throw new Fault({ kind: 'misconfig', gpa: Number(gpa) });
      used.push(ea);
      const leaf = level === 1 || (level <= 3 && bit(e, 7));
      if (!leaf) {
        table = e & addrMask & ~0xfffn;
        continue;
      }
      const ok = asWrite ? w : how === 'x' ? x : r;
      if (!ok) throw new Fault(this.violation(gpa, how, ps, asWrite, r, w, x, gla));
      if (this.eptAd) {
        for (let i = 0; i < used.length; i++) {
          const a = used[i]!;
          let v = this.read(a) | (1n << 8n);
          if (i === used.length - 1 && asWrite) v |= 1n << 9n;
          this.write(a, v);
        }
      }
      const shift = BigInt(12 + 9 * (level - 1));
      const size = 1n << shift;
      return (e & addrMask & ~(size - 1n)) + (gpa & (size - 1n));
    }
    throw new Error('unreachable');
  }

  private violation(
    gpa: bigint,
    how: 'r' | 'w' | 'x',
    ps: boolean,
    asWrite: boolean,
    r: boolean,
    w: boolean,
    x: boolean,
    gla: number | null,
  ): RefResult {
    let q = 0;
    if (ps && this.eptAd) q |= 3;
    else q |= how === 'r' ? 1 : how === 'w' ? 2 : 4;
    void asWrite;
    if (r) q |= 8;
    if (w) q |= 16;
    if (x) q |= 32;
    if (gla !== null) q |= 128 | (ps ? 0 : 256);
    return { kind: 'ept', qual: q, gpa: Number(gpa), gla: gla ?? 0 };
  }

  translate(la: number, kind: 'r' | 'w' | 'x', priv: 'user' | 'sup' | 'supac'): RefResult {
    try {
      return { kind: 'ok', hpa: Number(this.walk(la, kind, priv)) };
    } catch (e) {
      if (e instanceof Fault) return e.result;
      throw e;
    }
  }

  private walk(la: number, kind: 'r' | 'w' | 'x', priv: 'user' | 'sup' | 'supac'): bigint {
    const c = this.c;
    const lin = BigInt.asUintN(64, BigInt(la));
    const user = priv === 'user';
    const pfBase = (kind === 'w' ? 2 : 0) | (user ? 4 : 0) | (kind === 'x' && (c.smep || c.nxe) ? 16 : 0);
    const pf = (extra: number) => new Fault({ kind: 'pf', code: pfBase | extra, cr2: la });
    let table = BigInt(this.cr3) & addrMask & ~0xfffn;
    let u = true;
    let rw = true;
    let xd = false;
    const used: bigint[] = [];
    const values: bigint[] = [];
    let gpa = 0n;
    let leafEntry = 0n;
    for (let level = 4; level >= 1; level--) {
      const idx = bits(lin, 12 + 9 * level - 1, 12 + 9 * (level - 1));
      const ea = table + idx * 8n;
      const e = this.read(this.ept(ea, 'r', true, la));
      if (!bit(e, 0)) throw pf(0);
      const ps = bit(e, 7);
      const rsvd =
        bits(e, 51, Number(M)) !== 0n ||
        (!c.nxe && bit(e, 63)) ||
        (level === 4 && ps) ||
        (level === 3 && ps && bits(e, 29, 13) !== 0n) ||
        (level === 2 && ps && bits(e, 20, 13) !== 0n);
      if (rsvd) throw pf(1 | 8);
      u &&= bit(e, 2);
      rw &&= bit(e, 1);
      xd ||= c.nxe && bit(e, 63);
      used.push(ea);
      values.push(e);
      if (level === 1 || (level <= 3 && ps)) {
        const shift = BigInt(12 + 9 * (level - 1));
        const size = 1n << shift;
        gpa = (e & addrMask & ~(size - 1n)) + (lin & (size - 1n));
        leafEntry = e;
        break;
      }
      table = e & addrMask & ~0xfffn;
    }
    // SDM §4.6.
    let deny: boolean;
    if (user) {
      deny = !u || (kind === 'w' && !rw) || (kind === 'x' && xd);
    } else if (kind === 'x') {
      deny = xd || (u && c.smep);
    } else {
      deny = (u && c.smap && priv !== 'supac') || (kind === 'w' && !rw && c.wp);
    }
    let pk = false;
    if (c.pke && u && kind !== 'x') {
      const key = Number(bits(leafEntry, 62, 59));
      const ad = (c.pkru >>> (2 * key)) & 1;
      const wd = (c.pkru >>> (2 * key + 1)) & 1;
      pk = ad === 1 || (wd === 1 && kind === 'w' && (user || c.wp));
    }
    if (deny || pk) throw pf(1 | (pk ? 32 : 0));
    // SDM §4.8: A on every entry, D on the leaf for a write; each update is a write through EPT.
    for (let i = 0; i < used.length; i++) {
      const ea = used[i]!;
      const e = values[i]!;
      let v = e | (1n << 5n);
      if (i === used.length - 1 && kind === 'w') v |= 1n << 6n;
      if (v !== e) this.write(this.ept(ea, 'w', true, la), v);
    }
    return this.ept(gpa, kind, false, la);
  }
}
