/**
 * Named bits and codes of the MMU, grouped by register or structure. Every number cites the SDM
 * (Intel 64 and IA-32 Architectures Software Developer's Manual, Vol. 3A/3C).
 */

/** What a translation returns when it fails; details are in the {@link TranslationFault} record. */
export const MMU_FAULT = -1;

/** Kind of a memory access. Numbering is shared with the CPU's pager. */
export const AccessKind = { Read: 0, Write: 1, Fetch: 2 } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/**
 * Privilege of an access for the permission rules (SDM §4.6). `Supervisor` is an explicit access at
 * CPL < 3 with EFLAGS.AC = 0, and also every implicit supervisor access (GDT/IDT/TSS reads, even at
 * CPL 3), for which SMAP applies whatever AC is. `SupervisorAc` is an explicit access at CPL < 3 with
 * EFLAGS.AC = 1 (SMAP relaxed).
 */
export const Privilege = { User: 0, Supervisor: 1, SupervisorAc: 2 } as const;
export type Privilege = (typeof Privilege)[keyof typeof Privilege];

/** Paging mode in force (SDM §4.1.1, Table 4-1). */
export const PagingMode = { None: 0, Bits32: 1, Pae: 2, Level4: 3, Level5: 4 } as const;
export type PagingMode = (typeof PagingMode)[keyof typeof PagingMode];

/** Why a translation failed. */
export const FaultKind = {
  None: 0,
  /** #PF: `errorCode` and `address` (the CR2 value) are set. */
  PageFault: 1,
  /** EPT violation VM exit (SDM §28.3.3.2 / 29.3.3.2): `qualification`, `guestPhysical`, `guestLinear`. */
  EptViolation: 2,
  /** EPT misconfiguration VM exit (SDM §29.3.3.1): `guestPhysical`. */
  EptMisconfig: 3,
  /** #GP(0): a non-canonical linear address, or reserved bits in a PAE PDPTE at load time (SDM §4.4.1). */
  GeneralProtection: 4,
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

/** Page-fault error code bits (SDM §4.7, Figure 4-12). */
export const PfError = {
  /** 0: not-present page; 1: protection violation (or reserved bit). */
  P: 1 << 0,
  /** The access was a write. */
  W: 1 << 1,
  /** The access was a user-mode access. */
  U: 1 << 2,
  /** A reserved bit was set in some paging-structure entry. */
  RSVD: 1 << 3,
  /** Instruction fetch (only reported when CR4.SMEP = 1 or PAE/4-level paging with EFER.NXE = 1). */
  I: 1 << 4,
  /** Protection-key violation. */
  PK: 1 << 5,
} as const;

/** CR0 bits the MMU reads (SDM §2.5). */
export const CR0 = { PE: 1 << 0, WP: 1 << 16, PG: 0x8000_0000 } as const;

/** CR4 bits the MMU reads (SDM §2.5). */
export const CR4 = {
  PSE: 1 << 4,
  PAE: 1 << 5,
  PGE: 1 << 7,
  LA57: 1 << 12,
  PCIDE: 1 << 17,
  SMEP: 1 << 20,
  SMAP: 1 << 21,
  PKE: 1 << 22,
} as const;

/** IA32_EFER bits the MMU reads (SDM §2.2.1). */
export const EFER = { LME: 1 << 8, LMA: 1 << 10, NXE: 1 << 11 } as const;

/** Low-dword bits of an x86 paging-structure entry (SDM Tables 4-4..4-20). */
export const PTE = {
  P: 1 << 0,
  RW: 1 << 1,
  US: 1 << 2,
  PWT: 1 << 3,
  PCD: 1 << 4,
  A: 1 << 5,
  D: 1 << 6,
  /** Page size in a PDE/PDPTE; PAT in a PTE. */
  PS: 1 << 7,
  G: 1 << 8,
} as const;

/** High-dword bits of a 64-bit paging-structure entry. */
export const PTE_HI = {
  /** Bit 63: execute-disable. */
  XD: 0x8000_0000,
  /** Bits 62:59: protection key (shift of the high dword). */
  PK_SHIFT: 27,
} as const;

/** Bits of an EPT paging-structure entry (SDM §29.3.2, Tables 29-1..29-6). */
export const EPTE = {
  R: 1 << 0,
  W: 1 << 1,
  X: 1 << 2,
  /** Bits 5:3 of a leaf: EPT memory type. */
  MEMTYPE_SHIFT: 3,
  IGNORE_PAT: 1 << 6,
  /** Bit 7: maps a page (PDPTE: 1 GiB, PDE: 2 MiB). */
  PS: 1 << 7,
  A: 1 << 8,
  D: 1 << 9,
  /** Bit 10: execute for user-mode linear addresses (mode-based execute control). */
  XU: 1 << 10,
} as const;

/** EPTP fields (SDM §25.6.11). */
export const EPTP = {
  MEMTYPE_MASK: 0x7,
  WALK_LENGTH_SHIFT: 3,
  WALK_LENGTH_MASK: 0x7,
  AD_ENABLE: 1 << 6,
} as const;

/** Memory types (SDM §11.3, Table 11-2) as used in EPT and the EPTP. */
export const MemoryType = { UC: 0, WC: 1, WT: 4, WP: 5, WB: 6 } as const;

/** Exit qualification bits of an EPT violation (SDM Table 28-7). */
export const EptQual = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  FETCH: 1 << 2,
  READABLE: 1 << 3,
  WRITABLE: 1 << 4,
  EXECUTABLE: 1 << 5,
  USER_EXECUTABLE: 1 << 6,
  GLA_VALID: 1 << 7,
  /** With GLA_VALID: the access was to the translation of the linear address, not to a paging structure. */
  TRANSLATED: 1 << 8,
} as const;

/**
 * Flags of an access handed to the second stage (see {@link SecondStage}). `Data`, `Write` and
 * `Fetch` give the access type; `PagingStructure` marks a read or A/D update of a guest paging-structure
 * entry; `GlaValid` says a linear address caused it (all accesses except PDPTE loads).
 */
export const StageAccess = {
  Read: 1 << 0,
  Write: 1 << 1,
  Fetch: 1 << 2,
  PagingStructure: 1 << 3,
  GlaValid: 1 << 4,
  /** A debugger's look-up (KVM_TRANSLATE, gdbstub): set no accessed/dirty flags. */
  Probe: 1 << 5,
} as const;

/** Bits of the per-frame watch array ({@link Mmu.watch}). */
export const Watch = {
  /** The frame holds code the CPU has translated; writes call `onCodeWrite`. */
  Code: 1 << 0,
  /** The frame holds a guest paging structure shadowed by a {@link ShadowMmu}. */
  PageTable: 1 << 1,
} as const;

export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;
/** 2^32, for composing 64-bit values from two halves. */
export const TWO_32 = 0x1_0000_0000;

/** Bytes mapped by one entry at paging level `n` (1 = PTE .. 5 = PML5E): `LEVEL_SPAN[n] = 2^(12 + 9(n-1))`. */
export const LEVEL_SPAN: readonly number[] = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39, 2 ** 48];
