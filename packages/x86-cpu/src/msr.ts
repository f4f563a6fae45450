/**
 * Model-specific registers as a table (SDM Vol. 4): each known MSR has a reset value and a mask of
 * writable bits; anything else raises #GP on RDMSR/WRMSR. Values live in two typed arrays (low and high
 * halves), indexed by the row of the table. The TSC is not stored here: it is derived from the CPU's
 * instruction count and an offset (see `system.ts`).
 */

export const Msr = {
  TSC: 0x10,
  PLATFORM_ID: 0x17,
  APIC_BASE: 0x1b,
  BIOS_SIGN_ID: 0x8b,
  MTRRCAP: 0xfe,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  MCG_CAP: 0x179,
  MCG_STATUS: 0x17a,
  MISC_ENABLE: 0x1a0,
  MTRR_PHYSBASE0: 0x200,
  MTRR_FIX64K_00000: 0x250,
  MTRR_FIX16K_80000: 0x258,
  MTRR_FIX16K_A0000: 0x259,
  MTRR_FIX4K_C0000: 0x268,
  PAT: 0x277,
  MTRR_DEF_TYPE: 0x2ff,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  FMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
} as const;

/**
 * The MSRs of IA-32e mode (SDM Vol. 4 Table 2-2), which a model without long mode does not have
 * (#GP). FS_BASE and GS_BASE are not rows of the table: they read and write the segment caches.
 */
export const LONG_MODE_MSRS: readonly number[] = [
  Msr.STAR,
  Msr.LSTAR,
  Msr.CSTAR,
  Msr.FMASK,
  Msr.FS_BASE,
  Msr.GS_BASE,
  Msr.KERNEL_GS_BASE,
];

/** MSRs whose value is a linear address: a non-canonical write is #GP(0) (SDM WRMSR). */
export const ADDRESS_MSRS: readonly number[] = [
  Msr.SYSENTER_ESP,
  Msr.SYSENTER_EIP,
  Msr.LSTAR,
  Msr.CSTAR,
  Msr.FS_BASE,
  Msr.GS_BASE,
  Msr.KERNEL_GS_BASE,
];

/** IA32_APIC_BASE bits. */
export const ApicBase = { BSP: 0x100, ENABLE: 0x800, DEFAULT_BASE: 0xfee00000 } as const;

/** EFER bits. */
export const Efer = { SCE: 0x1, LME: 0x100, LMA: 0x400, NXE: 0x800 } as const;

interface MsrRow {
  readonly index: number;
  readonly resetLo: number;
  readonly resetHi: number;
  /** Writable bits of the low half (others are ignored on write; reserved bits set raise #GP). */
  readonly writeLo: number;
  readonly writeHi: number;
}

const row = (index: number, resetLo: number, resetHi: number, writeLo: number, writeHi: number): MsrRow => ({
  index,
  resetLo,
  resetHi,
  writeLo,
  writeHi,
});

/** The MSRs this CPU implements. Rows are the single source of truth for RDMSR/WRMSR. */
export const MSR_TABLE: readonly MsrRow[] = [
  row(Msr.PLATFORM_ID, 0, 0, 0, 0),
  row(Msr.APIC_BASE, ApicBase.DEFAULT_BASE | ApicBase.ENABLE | ApicBase.BSP, 0, 0xfffff900, 0xf),
  row(Msr.BIOS_SIGN_ID, 0, 0, 0xffffffff, 0xffffffff),
  // 8 variable ranges, fixed ranges, write-combining (SDM Vol. 3 §11.11.1).
  row(Msr.MTRRCAP, 0x508, 0, 0, 0),
  row(Msr.SYSENTER_CS, 0, 0, 0xffff, 0),
  // 64 bits wide with IA-32e mode (WRMSR refuses bits 63:32 on a model without it).
  row(Msr.SYSENTER_ESP, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.SYSENTER_EIP, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.MCG_CAP, 0, 0, 0, 0),
  row(Msr.MCG_STATUS, 0, 0, 0x7, 0),
  row(Msr.MISC_ENABLE, 0x1, 0, 0xffffffff, 0xffffffff),
  // Bits 39:32 writable: 40 physical address bits, what `X86_64_MODEL` reports in leaf 80000008H and
  // what firmware derives its PHYSMASK values from (SeaBIOS's mtrr_setup writes 0xff there).
  ...Array.from({ length: 16 }, (_, i) =>
    row(Msr.MTRR_PHYSBASE0 + i, 0, 0, i & 1 ? 0xfffff800 : 0xfffff0ff, 0xff),
  ),
  row(Msr.MTRR_FIX64K_00000, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.MTRR_FIX16K_80000, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.MTRR_FIX16K_A0000, 0, 0, 0xffffffff, 0xffffffff),
  ...Array.from({ length: 8 }, (_, i) => row(Msr.MTRR_FIX4K_C0000 + i, 0, 0, 0xffffffff, 0xffffffff)),
  // Power-on PAT: WB, WT, UC-, UC in each half (SDM Vol. 3 Table 11-12).
  row(Msr.PAT, 0x00070406, 0x00070406, 0x07070707, 0x07070707),
  row(Msr.MTRR_DEF_TYPE, 0, 0, 0xcff, 0),
  row(Msr.EFER, 0, 0, Efer.SCE | Efer.LME | Efer.NXE, 0),
  row(Msr.STAR, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.LSTAR, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.CSTAR, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.FMASK, 0, 0, 0xffffffff, 0),
  row(Msr.KERNEL_GS_BASE, 0, 0, 0xffffffff, 0xffffffff),
  row(Msr.TSC_AUX, 0, 0, 0xffffffff, 0),
];

/** Rows a layer above may add to one CPU's file with {@link MsrFile.define}. */
export const MAX_DEFINED_MSRS = 32;

export class MsrFile {
  private readonly slot = new Map<number, number>();
  /** {@link MSR_TABLE} followed by the rows added with {@link define}. */
  private readonly rows: MsrRow[] = MSR_TABLE.slice();
  readonly lo = new Uint32Array(MSR_TABLE.length + MAX_DEFINED_MSRS);
  readonly hi = new Uint32Array(MSR_TABLE.length + MAX_DEFINED_MSRS);

  constructor() {
    MSR_TABLE.forEach((r, i) => {
      this.slot.set(r.index >>> 0, i);
    });
    this.reset();
  }

  /**
   * Adds an MSR to this CPU (a VMX model's IA32_FEATURE_CONTROL and capability MSRs), or redefines one
   * added before, at its reset value; returns its row. Throws when {@link MAX_DEFINED_MSRS} are used.
   */
  define(index: number, resetLo: number, resetHi: number, writeLo: number, writeHi: number): number {
    const r = row(index >>> 0, resetLo >>> 0, resetHi >>> 0, writeLo >>> 0, writeHi >>> 0);
    let slot = this.find(index);
    if (slot >= 0 && slot < MSR_TABLE.length) throw new RangeError(`MSR ${index.toString(16)} is built in`);
    if (slot < 0) {
      if (this.rows.length >= this.lo.length) throw new RangeError('too many defined MSRs');
      slot = this.rows.length;
      this.rows.push(r);
      this.slot.set(r.index, slot);
    } else {
      this.rows[slot] = r;
    }
    this.lo[slot] = r.resetLo;
    this.hi[slot] = r.resetHi;
    return slot;
  }

  reset(): void {
    this.rows.forEach((r, i) => {
      this.lo[i] = r.resetLo;
      this.hi[i] = r.resetHi;
    });
  }

  /** Row of an MSR, or -1 when it does not exist. */
  find(index: number): number {
    return this.slot.get(index >>> 0) ?? -1;
  }

  /** Low half of an existing MSR (programmer error to ask for a missing one). */
  getLo(index: number): number {
    return this.lo[this.find(index)]!;
  }

  /** Writes an MSR; false when reserved bits are set (the caller raises #GP). */
  write(slot: number, lo: number, hi: number): boolean {
    const r = this.rows[slot]!;
    if ((lo & ~r.writeLo) >>> 0 !== (r.resetLo & ~r.writeLo) >>> 0 && (lo & ~r.writeLo & ~r.resetLo) !== 0)
      return false;
    if ((hi & ~r.writeHi) >>> 0 !== 0 && (hi & ~r.writeHi & ~r.resetHi) !== 0) return false;
    this.lo[slot] = ((lo & r.writeLo) | (r.resetLo & ~r.writeLo)) >>> 0;
    this.hi[slot] = ((hi & r.writeHi) | (r.resetHi & ~r.writeHi)) >>> 0;
    return true;
  }
}
