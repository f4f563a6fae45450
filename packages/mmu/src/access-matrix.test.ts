/**
 * The permission matrix, in the spirit of kvm-unit-tests' x86/access.c: every combination of PDE and
 * PTE bits (P, RW, US, NX, A, D, PS, a reserved bit), CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE, PKRU,
 * privilege (user, supervisor, supervisor with EFLAGS.AC) and access kind, checked against an
 * independent transcription of the SDM rules, in three configurations: bare metal, EPT, shadow paging.
 *
 * The normal run covers every page-table combination and every access, each against a rotating
 * subset of the 64 control-register combinations; MMU_FULL_MATRIX=1 runs the whole product.
 */
import { describe, expect, test } from 'vitest';
import { AccessKind, CR0, CR4, EFER, FaultKind, MMU_FAULT, PTE, PfError, Privilege } from './index.js';
import { type GuestConfig, bareConfig, eptConfig, shadowConfig } from './testing/configs.js';

const FULL = process.env.MMU_FULL_MATRIX === '1';
const FULL_TIMEOUT = FULL ? 3_600_000 : 60_000;
const GUEST = 4 << 20;

// Bits of a test entry description.
const F = { P: 1, RW: 2, US: 4, NX: 8, A: 16, D: 32, PS: 64, RSVD: 128 } as const;

interface Mode {
  readonly name: string;
  readonly la: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly efer: number;
  /** Guest-physical addresses of the upper entries (always present) and of the PDE and PTE. */
  readonly upper: readonly number[];
  readonly pde: number;
  readonly pte: number;
  /** 32-bit paging: 4-byte entries, no XD, the only reserved bit is bit 21 of a 4-MiB PDE. */
  readonly legacy?: boolean;
}

// Tables: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000. 4-KiB target 0x10_0000, 2-MiB target 0x20_0000.
const L4_LA = (300 - 512) * 2 ** 39 + 2 * 2 ** 30 + 3 * 2 ** 21 + 4 * 2 ** 12 + 0x567; // kernel half
const PAE_LA = 2 * 2 ** 30 + 3 * 2 ** 21 + 4 * 2 ** 12 + 0x567;
const MODES: readonly Mode[] = [
  {
    name: '4-level',
    la: L4_LA,
    cr3: 0x1000,
    cr4: CR4.PAE,
    efer: EFER.LME | EFER.LMA,
    upper: [0x1000 + 300 * 8, 0x2000 + 2 * 8],
    pde: 0x3000 + 3 * 8,
    pte: 0x4000 + 4 * 8,
  },
  {
    name: 'PAE',
    la: PAE_LA,
    cr3: 0x2000,
    cr4: CR4.PAE,
    efer: 0,
    upper: [],
    pde: 0x3000 + 3 * 8,
    pte: 0x4000 + 4 * 8,
  },
  {
    name: '32-bit',
    la: 3 * 2 ** 22 + 4 * 2 ** 12 + 0x567,
    cr3: 0x3000,
    cr4: CR4.PSE,
    efer: 0,
    upper: [],
    pde: 0x3000 + 3 * 4,
    pte: 0x4000 + 4 * 4,
    legacy: true,
  },
];

const PAGE_4K = 0x10_0000;
const PAGE_2M = 0x20_0000;
const PAGE_4M = 0; // 32-bit paging: a 4-MiB page at 0 (the 4-KiB tables live inside it)
const PKEY = 1;

function entry(bits: number, target: number): [number, number] {
  let lo = target | (PTE.P * (bits & F.P));
  if (bits & F.RW) lo |= PTE.RW;
  if (bits & F.US) lo |= PTE.US;
  if (bits & F.A) lo |= PTE.A;
  if (bits & F.D) lo |= PTE.D;
  if (bits & F.PS) lo |= PTE.PS;
  let hi = PKEY << 27;
  if (bits & F.NX) hi |= 0x8000_0000;
  if (bits & F.RSVD) hi |= 1 << 19; // bit 51: above MAXPHYADDR (46)
  return [lo >>> 0, hi >>> 0];
}

interface Controls {
  wp: boolean;
  smep: boolean;
  smap: boolean;
  pke: boolean;
  nxe: boolean;
  pkru: number;
}

function allControls(): Controls[] {
  const out: Controls[] = [];
  for (let m = 0; m < 32; m++) {
    const c = { wp: !!(m & 1), smep: !!(m & 2), smap: !!(m & 4), pke: !!(m & 8), nxe: !!(m & 16) };
    const pkrus = c.pke ? [0, 1 << (2 * PKEY), 2 << (2 * PKEY), 3 << (2 * PKEY)] : [0];
    for (const pkru of pkrus) out.push({ ...c, pkru });
  }
  return out;
}

/** Table combinations that are distinguishable (PTE bits only matter under a present, small, valid PDE). */
function tableCombos(mode: Mode): [number, number][] {
  const out: [number, number][] = [];
  for (let pde = 0; pde < 256; pde++) {
    // 32-bit paging has no XD bit, and only a 4-MiB PDE has a reserved bit.
    if (mode.legacy && ((pde & F.NX) !== 0 || ((pde & F.RSVD) !== 0 && (pde & F.PS) === 0))) continue;
    const pdeUsesPte = (pde & F.P) !== 0 && (pde & F.PS) === 0 && (pde & F.RSVD) === 0;
    if ((pde & F.P) === 0 && pde !== 0) continue; // a not-present PDE: one representative
    if ((pde & F.P) !== 0 && (pde & F.RSVD) !== 0 && (pde & 0x7e) !== 0) continue; // reserved: one representative
    if (pdeUsesPte && (pde & F.D) !== 0) continue; // D is ignored in a PDE that points to a table
    if (!pdeUsesPte) {
      out.push([pde, 0]);
      continue;
    }
    for (let pte = 0; pte < 256; pte++) {
      if ((pte & F.PS) !== 0) continue; // PAT bit in a PTE: not a permission bit
      if (mode.legacy && (pte & (F.NX | F.RSVD)) !== 0) continue;
      if ((pte & F.P) === 0 && pte !== 0) continue;
      out.push([pde, pte]);
    }
  }
  return out;
}

interface Expect {
  fault: boolean;
  errorCode: number;
  phys: number;
  pdeA: boolean;
  pteA: boolean;
  leafD: boolean;
}

/** SDM §4.6/§4.7 transcribed as kvm-unit-tests' ac_emulate_access does it. */
function oracle(
  mode: Mode,
  pde: number,
  pte: number,
  c: Controls,
  priv: Privilege,
  kind: AccessKind,
): Expect {
  const user = priv === Privilege.User;
  const write = kind === AccessKind.Write;
  const fetch = kind === AccessKind.Fetch;
  const longMode = mode.name === '4-level';
  // I/D needs SMEP, or NXE with PAE-format paging structures (SDM §4.7).
  const fetchBit = c.smep || (c.nxe && !mode.legacy);
  const code = (write ? PfError.W : 0) | (user ? PfError.U : 0) | (fetch && fetchBit ? PfError.I : 0);
  const faultWith = (bits: number): Expect => ({
    fault: true,
    errorCode: code | bits,
    phys: 0,
    pdeA: (pde & F.A) !== 0,
    pteA: (pte & F.A) !== 0,
    leafD: !!(((pde & F.PS) !== 0 ? pde : pte) & F.D),
  });
  if (!(pde & F.P)) return faultWith(0);
  if (pde & F.RSVD || (pde & F.NX && !c.nxe)) return faultWith(PfError.P | PfError.RSVD);
  const large = (pde & F.PS) !== 0;
  if (!large) {
    if (!(pte & F.P)) return faultWith(0);
    if (pte & F.RSVD || (pte & F.NX && !c.nxe)) return faultWith(PfError.P | PfError.RSVD);
  }
  const leaf = large ? pde : pte;
  const pageUser = (pde & F.US) !== 0 && (large || (pte & F.US) !== 0);
  const pageWritable = (pde & F.RW) !== 0 && (large || (pte & F.RW) !== 0);
  const pageNx = !mode.legacy && c.nxe && ((pde & F.NX) !== 0 || (!large && (pte & F.NX) !== 0));
  let denied = false;
  if (user) {
    if (!pageUser) denied = true;
    if (write && !pageWritable) denied = true;
    if (fetch && pageNx) denied = true;
  } else {
    if (fetch) {
      if (pageNx) denied = true;
      if (pageUser && c.smep) denied = true;
    } else {
      if (pageUser && c.smap && priv !== Privilege.SupervisorAc) denied = true;
      if (write && !pageWritable && c.wp) denied = true;
    }
  }
  let pk = false;
  if (longMode && c.pke && pageUser && !fetch) {
    const ad = (c.pkru >>> (2 * PKEY)) & 1;
    const wd = (c.pkru >>> (2 * PKEY + 1)) & 1;
    if (ad || (wd && write && (user || c.wp))) pk = true;
  }
  if (denied || pk) return faultWith(PfError.P | (pk ? PfError.PK : 0));
  return {
    fault: false,
    errorCode: 0,
    phys: large
      ? mode.legacy
        ? PAGE_4M + (mode.la & 0x3f_ffff)
        : PAGE_2M + (mode.la & 0x1f_ffff)
      : PAGE_4K + (mode.la & 0xfff),
    pdeA: true,
    pteA: large ? (pte & F.A) !== 0 : true,
    leafD: write || (leaf & F.D) !== 0,
  };
}

const PRIVS = [Privilege.User, Privilege.Supervisor, Privilege.SupervisorAc] as const;
const KINDS = [AccessKind.Read, AccessKind.Write, AccessKind.Fetch] as const;

/** The description bits with A and D as they now are in memory. */
function withAD(bits: number, lo: number): number {
  return (bits & ~(F.A | F.D)) | (lo & PTE.A ? F.A : 0) | (lo & PTE.D ? F.D : 0);
}

function check(
  cfg: GuestConfig,
  mode: Mode,
  pde: number,
  pte: number,
  c: Controls,
  priv: Privilege,
  kind: AccessKind,
): void {
  const g = cfg.guest;
  const want = oracle(mode, pde, pte, c, priv, kind);
  const got = cfg.translate(mode.la, kind, priv);
  const pdeNow = g.read32(mode.pde);
  const pteNow = g.read32(mode.pte);
  const leafNow = (pde & F.PS) !== 0 ? pdeNow : pteNow;
  const actual = {
    fault: got === MMU_FAULT,
    errorCode: got === MMU_FAULT ? cfg.fault.errorCode : 0,
    phys: got === MMU_FAULT ? 0 : got,
    pdeA: (pdeNow & PTE.A) !== 0,
    pteA: (pteNow & PTE.A) !== 0,
    leafD: (leafNow & PTE.D) !== 0,
  };
  if (
    actual.fault !== want.fault ||
    actual.errorCode !== want.errorCode ||
    actual.phys !== want.phys ||
    actual.pdeA !== want.pdeA ||
    actual.pteA !== want.pteA ||
    actual.leafD !== want.leafD
  ) {
    expect({ config: cfg.name, mode: mode.name, pde, pte, c, priv, kind, ...actual }).toEqual({
      config: cfg.name,
      mode: mode.name,
      pde,
      pte,
      c,
      priv,
      kind,
      ...want,
    });
  }
  if (got === MMU_FAULT && (cfg.fault.kind !== FaultKind.PageFault || cfg.fault.address !== mode.la)) {
    expect({ kind: cfg.fault.kind, address: cfg.fault.address }).toEqual({
      kind: FaultKind.PageFault,
      address: mode.la,
    });
  }
}

function runMatrix(cfg: GuestConfig, mode: Mode): number {
  const controls = allControls();
  const combos = tableCombos(mode);
  const g = cfg.guest;
  let checked = 0;
  for (let t = 0; t < combos.length; t++) {
    const [pde, pte] = combos[t]!;
    const picks = mode.legacy ? [0, 1, 2, 3, 4, 5] : [0, 1];
    const chosen = FULL ? controls : picks.map((k) => controls[(t * 7 + k * 31) % controls.length]!);
    for (const c of chosen) {
      const cr0 = CR0.PE | CR0.PG | (c.wp ? CR0.WP : 0);
      const cr4 = mode.cr4 | (c.smep ? CR4.SMEP : 0) | (c.smap ? CR4.SMAP : 0) | (c.pke ? CR4.PKE : 0);
      const efer = mode.efer | (c.nxe ? EFER.NXE : 0);
      for (const priv of PRIVS) {
        for (const kind of KINDS) {
          // Fresh tables for every access: upper levels present, writable, user, not yet accessed.
          if (mode.name === 'PAE') g.write64(0x2000 + 2 * 8, 0x3000 | PTE.P, 0);
          for (const u of mode.upper) g.write64(u, (u < 0x2000 ? 0x2000 : 0x3000) | 7, 0);
          const large = (pde & F.PS) !== 0;
          const [pdeLo, pdeHi] = entry(pde, large ? (mode.legacy ? PAGE_4M : PAGE_2M) : 0x4000);
          const [pteLo, pteHi] = entry(pte, PAGE_4K);
          if (mode.legacy) {
            g.write32(mode.pde, (pde & F.RSVD) !== 0 ? (pdeLo | (1 << 21)) >>> 0 : pdeLo);
            g.write32(mode.pte, pteLo);
          } else {
            g.write64(mode.pde, pdeLo, mode.name === 'PAE' ? pdeHi & ~(PKEY << 27) : pdeHi);
            g.write64(mode.pte, pteLo, mode.name === 'PAE' ? pteHi & ~(PKEY << 27) : pteHi);
          }
          cfg.load(cr0, mode.cr3, cr4, efer, c.pkru);
          check(cfg, mode, pde, pte, c, priv, kind);
          // Follow-ups on the same (now possibly cached) translation, with entries as the first access left them.
          const next: [Privilege, AccessKind][] = [
            [priv, AccessKind.Write],
            [PRIVS[(priv + 1) % 3]!, KINDS[(kind + 1) % 3]!],
          ];
          for (const [p2, k2] of next) {
            const pdeNow = withAD(pde, g.read32(mode.pde));
            const pteNow = withAD(pte, g.read32(mode.pte));
            check(cfg, mode, pdeNow, pteNow, c, p2, k2);
          }
          checked++;
        }
      }
    }
  }
  return checked;
}

describe('permission matrix', () => {
  for (const mode of MODES) {
    for (const make of [bareConfig, eptConfig, shadowConfig]) {
      const cfg = make(GUEST);
      test(
        `${mode.name} paging under ${cfg.name} matches the SDM rules for every PDE/PTE combination`,
        () => {
          const n = runMatrix(cfg, mode);
          expect(n).toBeGreaterThan(mode.legacy ? 8_000 : 10_000);
        },
        FULL_TIMEOUT,
      );
    }
  }
});
