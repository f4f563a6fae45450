/**
 * Property test across paging modes: random 32-bit, PAE and 4-level trees (4-KiB, 2/4-MiB and 1-GiB
 * pages, random rights, reserved bits and protection keys) and random accesses, guest page-table
 * writes, INVLPGs and flushes give the same results and leave the same guest memory (A/D flags) bare,
 * under EPT and under shadow paging. Bare metal is the yardstick here; the permission matrix checks it
 * against the SDM rules. MMU_FUZZ=<runs> runs more cases.
 */
import { GuestMemory } from '@typevisor/memory';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { AccessKind, CR0, CR4, EFER, FaultKind, MMU_FAULT, PTE, Privilege } from './index.js';
import { type GuestConfig, bareConfig, eptConfig, shadowConfig } from './testing/configs.js';
import { type PhysWriter, TableBuilder } from './testing/tables.js';

const FUZZ = Number(process.env.MMU_FUZZ ?? 0);
const GUEST = 1 << 20;
type ModeName = '32-bit' | 'PAE' | '4-level';

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

/** Records every write, so the tree can be replayed into each configuration. */
class Recorder implements PhysWriter {
  readonly mem = GuestMemory.create(GUEST);
  readonly writes: [number, number][] = [];
  read32(gpa: number): number {
    return this.mem.read32(gpa);
  }
  write32(gpa: number, v: number): void {
    this.mem.write32(gpa, v);
    this.writes.push([gpa, v >>> 0]);
  }
  write64(gpa: number, lo: number, hi: number): void {
    this.write32(gpa, lo);
    this.write32(gpa + 4, hi);
  }
}

function makeTree(mode: ModeName, seed: number) {
  const rnd = prng(seed);
  const rec = new Recorder();
  const b = new TableBuilder(rec, 0x1000);
  const root = b.alloc();
  const las: number[] = [];
  const leaves: number[] = [];
  const leafLo = (large: boolean) => {
    let lo = 0;
    if (rnd() < 0.9) lo |= PTE.P;
    if (rnd() < 0.7) lo |= PTE.RW;
    if (rnd() < 0.7) lo |= PTE.US;
    if (rnd() < 0.5) lo |= PTE.A;
    if (rnd() < 0.5) lo |= PTE.D;
    if (rnd() < 0.1) lo |= PTE.G;
    if (large && rnd() < 0.05) lo |= 1 << (mode === '32-bit' ? 21 : 13); // reserved
    return lo;
  };
  const leafHi = () => {
    let hi = 0;
    if (rnd() < 0.2) hi |= 0x8000_0000;
    if (rnd() < 0.03) hi |= 1 << 19;
    if (mode === '4-level' && rnd() < 0.5) hi |= Math.floor(rnd() * 16) << 27;
    return hi;
  };
  const page = () => Math.floor(rnd() * (GUEST / 4096)) * 4096;
  for (let n = 0; n < 8; n++) {
    const r = rnd();
    const off = Math.floor(rnd() * 4096);
    if (mode === '32-bit') {
      const la = (Math.floor(rnd() * 2 ** 20) * 4096) >>> 0;
      if (r < 0.2) leaves.push(b.map32(root, la, 0, leafLo(true), 4 << 20));
      else leaves.push(b.map32(root, la, page(), leafLo(false)));
      las.push(r < 0.2 ? la - (la % (4 << 20)) + Math.floor(rnd() * GUEST) : la + off);
    } else if (mode === 'PAE') {
      const la = Math.floor(rnd() * 2 ** 20) * 4096;
      if (r < 0.2) leaves.push(b.mapPae(root, la, 0, leafLo(true), leafHi(), 2 << 20));
      else leaves.push(b.mapPae(root, la, page(), leafLo(false), leafHi()));
      las.push(r < 0.2 ? la - (la % (2 << 20)) + Math.floor(rnd() * GUEST) : la + off);
    } else {
      const la = (Math.floor(rnd() * 2 ** 36) - 2 ** 35) * 4096;
      if (r < 0.1) leaves.push(b.map64(root, la, 0, leafLo(true), leafHi(), 1 << 30));
      else if (r < 0.25) leaves.push(b.map64(root, la, 0, leafLo(true), leafHi(), 2 << 20));
      else leaves.push(b.map64(root, la, page(), leafLo(false), leafHi()));
      // Inside a large page, stay inside guest RAM.
      las.push(r < 0.25 ? la - (la % (2 << 20)) + Math.floor(rnd() * GUEST) : la + off);
    }
  }
  const slots = [...new Set(rec.writes.map(([gpa]) => gpa - (gpa % (mode === '32-bit' ? 4 : 8))))];
  return { root, las, leaves, writes: rec.writes, slots };
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

const KINDS = [AccessKind.Read, AccessKind.Write, AccessKind.Fetch] as const;
const PRIVS = [Privilege.User, Privilege.Supervisor, Privilege.SupervisorAc] as const;

/** Guest-physical addresses past guest RAM are an EPT violation under EPT and plain numbers elsewhere. */
function outcome(cfg: GuestConfig, r: number): string {
  if (r !== MMU_FAULT) return r >= GUEST ? 'outside RAM' : `ok ${r}`;
  const f = cfg.fault;
  if (f.kind === FaultKind.EptViolation && f.guestPhysical >= GUEST) return 'outside RAM';
  return `fault ${f.kind} ${f.errorCode} ${f.address}`;
}

/** Guest RAM (and so every A/D flag) is the same in all configurations. */
function sameMemory(configs: readonly GuestConfig[], step: number, mode: ModeName): void {
  const base = Buffer.from(configs[0]!.guest.bytes());
  for (const cfg of configs.slice(1)) {
    const got = Buffer.from(cfg.guest.bytes());
    if (Buffer.compare(base, got) !== 0) {
      let at = 0;
      while (base[at] === got[at]) at++;
      expect({ step, mode, config: cfg.name, at, value: got[at] }).toEqual({
        step,
        mode,
        config: cfg.name,
        at,
        value: base[at],
      });
    }
  }
}

function scenario(mode: ModeName, seed: number, controls: number, pkru: number, ops: readonly Op[]): void {
  const tree = makeTree(mode, seed);
  const configs = [bareConfig(GUEST), eptConfig(GUEST), shadowConfig(GUEST)];
  for (const cfg of configs) for (const [gpa, v] of tree.writes) cfg.guest.write32(gpa, v);
  const cr0 = CR0.PE | CR0.PG | (controls & 1 ? CR0.WP : 0);
  let cr4 = (controls & 2 ? CR4.SMEP : 0) | (controls & 4 ? CR4.SMAP : 0) | (controls & 8 ? CR4.PGE : 0);
  let efer = controls & 16 ? EFER.NXE : 0;
  if (mode === '32-bit') cr4 |= CR4.PSE;
  if (mode !== '32-bit') cr4 |= CR4.PAE;
  if (mode === '4-level') {
    efer |= EFER.LME | EFER.LMA;
    if (controls & 32) cr4 |= CR4.PKE;
  }
  for (const cfg of configs) cfg.load(cr0 >>> 0, tree.root, cr4, efer, pkru);
  const entryBytes = mode === '32-bit' ? 4 : 8;
  for (const [n, op] of ops.entries()) {
    if (op.op === 'access') {
      const la = tree.las[op.target % tree.las.length]!;
      const results = configs.map((cfg) => outcome(cfg, cfg.translate(la, KINDS[op.kind], PRIVS[op.priv])));
      if (results[1] !== results[0] || results[2] !== results[0]) {
        expect({ step: n, mode, la, op, ept: results[1], shadow: results[2] }).toEqual({
          step: n,
          mode,
          la,
          op,
          ept: results[0],
          shadow: results[0],
        });
      }
    } else if (op.op === 'write') {
      sameMemory(configs, n, mode);
      // Mostly the leaf of a linear address the scenario uses; sometimes any entry.
      const gpa =
        op.slot % 4 === 0
          ? tree.slots[(op.slot >>> 2) % tree.slots.length]!
          : tree.leaves[(op.slot >>> 2) % tree.leaves.length]!;
      const mask = [PTE.P, PTE.RW, PTE.US, PTE.A, PTE.D, PTE.PS, PTE.G][op.flip % 7]!;
      for (const cfg of configs) {
        cfg.guest.write32(gpa, (cfg.guest.read32(gpa) ^ mask) >>> 0);
        if (entryBytes === 8 && op.flip % 5 === 0)
          cfg.guest.write32(gpa + 4, (cfg.guest.read32(gpa + 4) ^ 0x8000_0000) >>> 0);
        cfg.guestWrote(gpa);
        cfg.flushAll();
      }
    } else if (op.op === 'invlpg') {
      for (const cfg of configs) cfg.invlpg(tree.las[op.target % tree.las.length]!);
    } else {
      for (const cfg of configs) cfg.flushAll();
    }
  }
  sameMemory(configs, ops.length, mode);
}

describe('bare, EPT and shadow paging agree on random trees', () => {
  for (const mode of ['32-bit', 'PAE', '4-level'] as const) {
    test(`${mode} paging`, () => {
      fc.assert(
        fc.property(
          fc.integer(),
          fc.nat({ max: 63 }),
          fc.oneof(fc.constant(0), fc.nat({ max: 0xffff_ffff })),
          fc.array(opArb, { minLength: 20, maxLength: 80 }),
          (seed, controls, pkru, ops) => scenario(mode, seed, controls, pkru, ops),
        ),
        FUZZ > 0 ? { numRuns: FUZZ } : { numRuns: 8, seed: 0xc0ffee },
      );
    });
  }
});
