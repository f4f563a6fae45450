/**
 * What a memory access costs the CPU: TLB fast-path hits (typed-array reads the CPU inlines),
 * `Mmu.translate` hits, and misses that walk 4-level tables bare, through EPT (2-D) and through
 * shadow paging. Prints translations per second.
 *
 *   node_modules/.bin/tsx --conditions=source bench/mmu-tlb.bench.ts
 */
import { GuestMemory } from '@typevisor/memory';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  EPTE,
  EptStage,
  IdentityStage,
  MMU_FAULT,
  Mmu,
  PTE,
  Privilege,
  ShadowMmu,
  makeEptp,
  tlbFastBit,
} from '@typevisor/mmu';

const MiB = 1 << 20;
const BASE_LA = -(2 ** 47) + 0x40_0000_0000; // a kernel-half address, sign-extended
const PAGES = 4096; // 16 MiB of linear space mapped with 4-KiB pages

/** Writes 4-level tables at `tables` (guest-physical) mapping PAGES pages at BASE_LA to `data`. */
function buildTables(
  write64: (a: number, lo: number, hi: number) => void,
  read32: (a: number) => number,
  tables: number,
  data: number,
): number {
  let next = tables;
  const alloc = () => {
    const p = next;
    next += 4096;
    for (let o = 0; o < 4096; o += 8) write64(p + o, 0, 0);
    return p;
  };
  const root = alloc();
  for (let i = 0; i < PAGES; i++) {
    const la = BASE_LA + i * 4096;
    let t = root;
    for (let level = 4; level > 1; level--) {
      const slot = t + (Math.floor(la / 2 ** (12 + 9 * (level - 1))) & 511) * 8;
      const e = read32(slot);
      if ((e & 1) === 0) {
        const n = alloc();
        write64(slot, n | 7, 0);
        t = n;
      } else t = (e & 0xffff_f000) >>> 0;
    }
    write64(t + ((la >>> 12) & 511) * 8, (data + i * 4096) | PTE.P | PTE.RW | PTE.A | PTE.D, 0);
  }
  return root;
}

function enableLongMode(
  m: {
    writeCr4(v: number): number;
    writeEfer(v: number): void;
    writeCr3(v: number): number;
    writeCr0(v: number): number;
  },
  root: number,
) {
  m.writeCr4(CR4.PAE);
  m.writeEfer(EFER.LME | EFER.NXE);
  m.writeCr3(root);
  m.writeCr0(CR0.PE | CR0.PG | CR0.WP);
}

function measure(name: string, n: number, body: (n: number) => number): void {
  body(Math.min(n, 200_000)); // warm up the JIT
  const t0 = process.hrtime.bigint();
  const sink = body(n);
  const ns = Number(process.hrtime.bigint() - t0);
  const perSec = (n / ns) * 1e9;
  console.log(
    `${name.padEnd(44)} ${(perSec / 1e6).toFixed(1).padStart(8)} M/s ${(ns / n).toFixed(1).padStart(8)} ns/op  (${sink & 1})`,
  );
}

const R = AccessKind.Read;
const S = Privilege.Supervisor;

// Precomputed address streams, so the loops measure the MMU and not the address arithmetic.
const SPAN = 4096;
const hot = new Float64Array(SPAN); // 512 pages: fits the TLB
const cold = new Float64Array(SPAN); // 4096 pages: misses a 1024-entry TLB
for (let k = 0; k < SPAN; k++) {
  hot[k] = BASE_LA + ((k * 7) % 512) * 4096 + ((k * 8) & 0xff8);
  cold[k] = BASE_LA + ((k * 1031) % PAGES) * 4096;
}

// ---- bare metal ----
const mem = GuestMemory.create(64 * MiB);
const root = buildTables(
  (a, lo, hi) => mem.write64(a, lo, hi),
  (a) => mem.read32(a),
  0x10_0000,
  16 * MiB,
);
const mmu = new Mmu(mem);
enableLongMode(mmu, root);
const HOT = 512; // working set that fits the 1024-entry TLB
for (let i = 0; i < HOT; i++) mmu.translate(BASE_LA + i * 4096, R, S);

measure('fast path hit (inline typed-array check)', 20_000_000, (n) => {
  const tlb = mmu.tlb;
  const tag = tlb.tag;
  const perm = tlb.perm;
  const host = tlb.host;
  const ram = mmu.ram;
  const bit = tlbFastBit(R, S);
  let acc = 0;
  for (let k = 0; k < n; k++) {
    const la = hot[k & (SPAN - 1)]!;
    const i = (la >>> 12) & tlb.mask;
    if (tag[i] === la - (la & 0xfff) + tlb.ctx && (perm[i]! & bit) !== 0)
      acc += ram[host[i]! + (la & 0xfff)]!;
    else acc += mmu.translate(la, R, S);
  }
  return acc;
});

measure('Mmu.translate, TLB hit', 10_000_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += mmu.translate(hot[k & (SPAN - 1)]!, R, S);
  return acc;
});

measure('Mmu.translate, TLB miss (4-level walk)', 1_000_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += mmu.translate(cold[k & (SPAN - 1)]!, R, S);
  return acc;
});

// ---- EPT: guest RAM at host 32 MiB, EPT tables at host 1 MiB ----
const host = GuestMemory.create(96 * MiB);
const GUEST_AT = 32 * MiB;
let eptNext = 0x10_0000;
const eptAlloc = () => {
  const p = eptNext;
  eptNext += 4096;
  return p;
};
const eptRoot = eptAlloc();
const eptPdpt = eptAlloc();
const eptPd = eptAlloc();
host.write64(eptRoot, eptPdpt | 7, 0);
host.write64(eptPdpt, eptPd | 7, 0);
for (let i = 0; i < 32; i++) {
  host.write64(eptPd + i * 8, (GUEST_AT + i * 2 * MiB) | EPTE.R | EPTE.W | EPTE.X | EPTE.PS | (6 << 3), 0);
}
const groot = buildTables(
  (a, lo, hi) => host.write64(GUEST_AT + a, lo, hi),
  (a) => host.read32(GUEST_AT + a),
  0x10_0000,
  16 * MiB,
);
const ept = new Mmu(host, { stage: new EptStage(host, makeEptp(eptRoot, true)) });
enableLongMode(ept, groot);
measure('EPT: Mmu.translate, TLB hit', 10_000_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += ept.translate(hot[k & (SPAN - 1)]!, R, S);
  return acc;
});
measure('EPT: Mmu.translate, TLB miss (2-D walk)', 300_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += ept.translate(cold[k & (SPAN - 1)]!, R, S);
  return acc;
});

// ---- shadow paging: pool at host 80 MiB ----
const hw = new Mmu(host);
const shadow = new ShadowMmu({ hw, stage: new IdentityStage(), pool: { base: 80 * MiB, size: 8 * MiB } });
const sroot = buildTables(
  (a, lo, hi) => host.write64(a, lo, hi),
  (a) => host.read32(a),
  64 * MiB, // away from the EPT tables above
  16 * MiB,
);
enableLongMode(shadow, sroot);
for (let i = 0; i < PAGES; i++) shadow.translate(BASE_LA + i * 4096, R, S);
measure('shadow: hardware TLB hit', 10_000_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += shadow.translate(hot[k & (SPAN - 1)]!, R, S);
  return acc;
});
measure('shadow: TLB miss, shadow tables hit', 1_000_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) acc += shadow.translate(cold[k & (SPAN - 1)]!, R, S);
  return acc;
});
measure('shadow: shadow fault (guest walk + fill)', 100_000, (n) => {
  let acc = 0;
  for (let k = 0; k < n; k++) {
    if (k % PAGES === 0) shadow.resetAll();
    acc += shadow.translate(BASE_LA + (k % PAGES) * 4096, R, S);
  }
  return acc;
});
if (mmu.translate(BASE_LA, R, S) === MMU_FAULT) throw new Error('benchmark tables are broken');
