/**
 * Property tests: random guest page-table trees over random EPT permissions. The EPT 2-D walk and
 * shadow paging (over the same guest-physical map) must give the same translation or the same fault as
 * the reference composition of the two mappings, and leave the same A/D flags in guest and EPT tables,
 * before and after random guest page-table writes and TLB flushes.
 *
 * The normal run uses a fixed seed and a few dozen cases; MMU_FUZZ=<runs> runs that many random ones.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { AccessKind, EPTE, FaultKind, MMU_FAULT, PTE, Privilege } from './index.js';
import { type GuestConfig, eptConfig, eptLayout, shadowConfig } from './testing/configs.js';
import { type RefControls, type RefResult, Reference } from './testing/reference.js';

const FUZZ = Number(process.env.MMU_FUZZ ?? 0);
const GUEST = 1 << 20;
const RWX = EPTE.R | EPTE.W | EPTE.X;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface World {
  readonly writes: [number, number, number][]; // gpa, lo, hi
  readonly slots: number[];
  readonly las: number[];
  readonly perms: (gpa: number) => number;
}

/** A random 4-level tree rooted at guest-physical 0x1000, and random EPT rights per guest page. */
function makeWorld(seed: number): World {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const permTable = new Map<number, number>();
  for (let gpa = 0; gpa < GUEST; gpa += 4096) {
    const tablePage = gpa < 0x40000;
    const r = rnd();
    const p =
      r < (tablePage ? 0.93 : 0.7)
        ? RWX
        : pick([EPTE.R, EPTE.R | EPTE.W, EPTE.R | EPTE.X, EPTE.X, 0, RWX, EPTE.W /* misconfigured */]);
    permTable.set(gpa, p);
  }
  const writes: [number, number, number][] = [];
  const slots: number[] = [];
  const las: number[] = [];
  let next = 0x2000;
  const alloc = () => {
    const p = next;
    next += 4096;
    return p;
  };
  const flags = (leaf: boolean, level: number): [number, number] => {
    let lo = 0;
    let hi = 0;
    if (rnd() < 0.93) lo |= PTE.P;
    if (rnd() < 0.75) lo |= PTE.RW;
    if (rnd() < 0.7) lo |= PTE.US;
    if (rnd() < 0.5) lo |= PTE.A;
    if (leaf && rnd() < 0.5) lo |= PTE.D;
    if (leaf && rnd() < 0.1) lo |= PTE.G;
    if (rnd() < 0.15) hi |= 0x8000_0000;
    if (rnd() < 0.03) hi |= 1 << 19; // bit 51, reserved
    if (leaf && level > 1 && rnd() < 0.05) lo |= 1 << 13; // reserved in a large leaf
    if (leaf && rnd() < 0.5) hi |= Math.floor(rnd() * 16) << 27;
    return [lo, hi];
  };
  const put = (gpa: number, lo: number, hi: number) => {
    writes.push([gpa, lo >>> 0, hi >>> 0]);
    slots.push(gpa);
  };
  const la = (i4: number, i3: number, i2: number, i1: number, off: number) =>
    (i4 >= 256 ? i4 - 512 : i4) * 2 ** 39 + i3 * 2 ** 30 + i2 * 2 ** 21 + i1 * 2 ** 12 + off;
  const indices = (n: number, max = 512) => {
    const s = new Set<number>();
    while (s.size < n) s.add(Math.floor(rnd() * max));
    return [...s];
  };
  const pml4 = 0x1000;
  for (const i4 of [0, 1, 256, 511].filter(() => rnd() < 0.7)) {
    const pdpt = alloc();
    const [lo, hi] = flags(false, 4);
    put(pml4 + i4 * 8, pdpt | lo, hi);
    for (const i3 of indices(2)) {
      const [lo3, hi3] = flags(rnd() < 0.15, 3);
      if (rnd() < 0.15) {
        put(pdpt + i3 * 8, 0 | lo3 | PTE.PS, hi3);
        for (let k = 0; k < 2; k++) las.push(la(i4, i3, 0, 0, Math.floor(rnd() * GUEST * 1.2)));
        continue;
      }
      const pd = alloc();
      put(pdpt + i3 * 8, pd | lo3, hi3);
      for (const i2 of indices(2)) {
        if (rnd() < 0.2) {
          const [lo2, hi2] = flags(true, 2);
          put(pd + i2 * 8, 0 | lo2 | PTE.PS, hi2);
          for (let k = 0; k < 2; k++) las.push(la(i4, i3, i2, 0, Math.floor(rnd() * GUEST * 1.2)));
          continue;
        }
        const pt = alloc();
        const [lo2, hi2] = flags(false, 2);
        put(pd + i2 * 8, pt | lo2, hi2);
        for (const i1 of indices(3)) {
          const [lo1, hi1] = flags(true, 1);
          const page = Math.floor(rnd() * (GUEST / 4096) * 1.1) * 4096;
          put(pt + i1 * 8, (page | lo1) >>> 0, hi1);
          las.push(la(i4, i3, i2, i1, Math.floor(rnd() * 4096)));
        }
      }
    }
  }
  if (las.length === 0) las.push(0x1000);
  return { writes, slots, las, perms: (gpa) => permTable.get(gpa) ?? RWX };
}

type Op =
  | { op: 'access'; target: number; kind: 0 | 1 | 2; priv: 0 | 1 | 2 }
  | { op: 'write'; slot: number; flip: number }
  | { op: 'invlpg'; target: number }
  | { op: 'flush' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('access' as const),
      target: fc.nat(),
      kind: fc.constantFrom(0 as const, 1 as const, 2 as const),
      priv: fc.constantFrom(0 as const, 1 as const, 2 as const),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('write' as const), slot: fc.nat(), flip: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('invlpg' as const), target: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const) }) },
);

const controlsArb: fc.Arbitrary<RefControls> = fc.record({
  wp: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  pke: fc.boolean(),
  nxe: fc.boolean(),
  pkru: fc.oneof(fc.constant(0), fc.nat({ max: 0xffff_ffff })),
});

const KINDS = [AccessKind.Read, AccessKind.Write, AccessKind.Fetch] as const;
const PRIVS = [Privilege.User, Privilege.Supervisor, Privilege.SupervisorAc] as const;
const REF_KIND = ['r', 'w', 'x'] as const;
const REF_PRIV = ['user', 'sup', 'supac'] as const;

function observed(cfg: GuestConfig, r: number, offset: number): RefResult {
  if (r !== MMU_FAULT) return { kind: 'ok', hpa: r + offset };
  const f = cfg.fault;
  if (f.kind === FaultKind.PageFault) return { kind: 'pf', code: f.errorCode, cr2: f.address };
  if (f.kind === FaultKind.EptViolation) {
    return { kind: 'ept', qual: f.qualification, gpa: f.guestPhysical, gla: f.address };
  }
  if (f.kind === FaultKind.EptMisconfig) return { kind: 'misconfig', gpa: f.guestPhysical };
  return { kind: 'pf', code: -1, cr2: f.kind };
}

function scenario(seed: number, c: RefControls, ops: readonly Op[], ad: boolean): void {
  const world = makeWorld(seed);
  const configs = [
    eptConfig(GUEST, { ad, perms: world.perms }),
    shadowConfig(GUEST, { ept: true, ad, perms: world.perms }),
  ];
  const ref = eptLayout(GUEST, 0, { ad, perms: world.perms });
  const offset = ref.offset;
  for (const [gpa, lo, hi] of world.writes) {
    ref.host.write64(offset + gpa, lo, hi);
    for (const cfg of configs) cfg.guest.write64(gpa, lo, hi);
  }
  const cr0 = 0x8001_0001 & (c.wp ? ~0 : ~0x1_0000);
  const cr4 = 0x20 | (c.smep ? 1 << 20 : 0) | (c.smap ? 1 << 21 : 0) | (c.pke ? 1 << 22 : 0);
  const efer = 0x500 | (c.nxe ? 0x800 : 0);
  for (const cfg of configs) cfg.load(cr0 >>> 0, 0x1000, cr4, efer, c.pkru);
  const reference = new Reference(ref.host, ref.stage.eptp - (ref.stage.eptp % 4096), ad, 0x1000, c);
  const span = offset + GUEST;
  for (const [n, op] of ops.entries()) {
    if (op.op === 'access') {
      const la = world.las[op.target % world.las.length]!;
      const want = reference.translate(la, REF_KIND[op.kind], REF_PRIV[op.priv]);
      for (const cfg of configs) {
        const got = observed(cfg, cfg.translate(la, KINDS[op.kind], PRIVS[op.priv]), offset);
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          expect({ step: n, config: cfg.name, la, op, got }).toEqual({
            step: n,
            config: cfg.name,
            la,
            op,
            got: want,
          });
        }
      }
    } else if (op.op === 'write') {
      const gpa = world.slots[op.slot % world.slots.length]!;
      const mask = [PTE.P, PTE.RW, PTE.US, PTE.A, PTE.D, PTE.PS][op.flip % 6]!;
      const lo = (ref.host.read32(offset + gpa) ^ mask) >>> 0;
      const hi =
        op.flip % 7 === 0
          ? (ref.host.read32(offset + gpa + 4) ^ 0x8000_0000) >>> 0
          : ref.host.read32(offset + gpa + 4);
      ref.host.write64(offset + gpa, lo, hi);
      for (const cfg of configs) {
        cfg.guest.write64(gpa, lo, hi);
        cfg.guestWrote(gpa);
        cfg.flushAll(); // the guest's MOV CR3 / INVPCID after changing its tables
      }
    } else if (op.op === 'invlpg') {
      for (const cfg of configs) cfg.invlpg(world.las[op.target % world.las.length]!);
    } else {
      for (const cfg of configs) cfg.flushAll();
    }
    // Guest RAM and the EPT tables hold the same bits (A/D flags included) in all three.
    const want = ref.host.subarray(0, span)!;
    for (const cfg of configs) {
      const got = cfg.guest.host.subarray(0, span)!;
      if (
        Buffer.compare(
          Buffer.from(got.buffer, got.byteOffset, span),
          Buffer.from(want.buffer, want.byteOffset, span),
        ) !== 0
      ) {
        let at = 0;
        while (got[at] === want[at]) at++;
        expect({ step: n, op, config: cfg.name, at, value: got[at] }).toEqual({
          step: n,
          op,
          config: cfg.name,
          at,
          value: want[at],
        });
      }
    }
  }
}

describe('EPT 2-D walk and shadow paging against the reference composition', () => {
  for (const ad of [true, false]) {
    test(`random trees, random EPT rights, guest table writes and flushes (EPT A/D ${ad ? 'on' : 'off'})`, () => {
      fc.assert(
        fc.property(
          fc.integer(),
          controlsArb,
          fc.array(opArb, { minLength: 10, maxLength: 80 }),
          (seed, c, ops) => scenario(seed, c, ops, ad),
        ),
        FUZZ > 0 ? { numRuns: FUZZ } : { numRuns: 25, seed: ad ? 0x5eed : 0xfeed },
      );
    });
  }
});
