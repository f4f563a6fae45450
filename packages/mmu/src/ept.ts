import type { GuestMemory } from '@typevisor/memory';
import {
  EPTE,
  EPTP,
  EptQual,
  FaultKind,
  LEVEL_SPAN,
  MMU_FAULT,
  MemoryType,
  StageAccess,
  TWO_32,
} from './constants.js';
import type { TranslationFault } from './fault.js';
import { PhysicalAtomics } from './phys.js';
import type { SecondStage } from './stage.js';

/** EPT features of the modelled processor (IA32_VMX_EPT_VPID_CAP, SDM Appendix A.10). */
export interface EptCapabilities {
  /** Bit 0: entries with only X set (execute-only) are allowed. */
  readonly executeOnly: boolean;
  /** Bit 7: 5-level EPT (page-walk length 5). */
  readonly walkLength5: boolean;
  /** Bit 17: 1-GiB EPT pages. */
  readonly pages1G: boolean;
  /** Bit 21: accessed and dirty flags for EPT. */
  readonly accessedDirty: boolean;
  /** MAXPHYADDR of the host. */
  readonly maxPhysAddr: number;
}

export const DEFAULT_EPT_CAPABILITIES: EptCapabilities = {
  executeOnly: true,
  walkLength5: false,
  pages1G: true,
  accessedDirty: true,
  maxPhysAddr: 46,
};

/** Why an EPTP fails the VM-entry check of SDM §27.2.1.1 (undefined: valid). */
export type EptpProblem = 'MemoryType' | 'WalkLength' | 'AccessedDirty' | 'ReservedBits';

/** VM-entry check of an EPT pointer (SDM §27.2.1.1, §25.6.11). */
export function checkEptp(
  eptp: number,
  caps: EptCapabilities = DEFAULT_EPT_CAPABILITIES,
): EptpProblem | undefined {
  const low = eptp % 4096;
  const type = low & EPTP.MEMTYPE_MASK;
  if (type !== MemoryType.UC && type !== MemoryType.WB) return 'MemoryType';
  const walk = (low >>> EPTP.WALK_LENGTH_SHIFT) & EPTP.WALK_LENGTH_MASK;
  if (walk !== 3 && !(walk === 4 && caps.walkLength5)) return 'WalkLength';
  if ((low & EPTP.AD_ENABLE) !== 0 && !caps.accessedDirty) return 'AccessedDirty';
  if ((low & 0xf80) !== 0) return 'ReservedBits';
  if (eptp >= 2 ** caps.maxPhysAddr || eptp < 0 || !Number.isInteger(eptp)) return 'ReservedBits';
  return undefined;
}

/** Builds an EPTP: 4-level walk, write-back, optional A/D flags. */
export function makeEptp(pml4: number, accessedDirty = false, levels: 4 | 5 = 4): number {
  return (
    pml4 + MemoryType.WB + ((levels - 1) << EPTP.WALK_LENGTH_SHIFT) + (accessedDirty ? EPTP.AD_ENABLE : 0)
  );
}

const RWX = EPTE.R | EPTE.W | EPTE.X;

/**
 * EPT as a {@link SecondStage}: the walk of SDM §29.3.2 over the EPT paging structures in host memory,
 * with R/W/X permissions, execute-only entries when the capability is present, 2-MiB and 1-GiB pages,
 * memory types, accessed/dirty flags (EPTP bit 6), EPT violations with the exit qualification of
 * SDM Table 28-7 and EPT misconfigurations (SDM §29.3.3.1).
 *
 * Not modelled: mode-based execute control (bit 10 is ignored), sub-page write permissions,
 * supervisor shadow stacks, #VE (bit 63 is ignored), the advanced exit-qualification bits 9-11.
 */
export class EptStage implements SecondStage {
  allow = 0;
  memoryType = -1;
  /** Whether the leaf of the last translation had "ignore PAT" set. */
  ignorePat = false;
  private eptpValue = 0;
  private root = 0;
  private levels = 4;
  private ad = false;
  private readonly addressHi: number;
  private readonly atomics: PhysicalAtomics;
  // The entries used by the walk in progress.
  private readonly entryAddr = new Float64Array(5);
  private readonly entryLo = new Uint32Array(5);

  constructor(
    private readonly memory: GuestMemory,
    eptp: number,
    readonly caps: EptCapabilities = DEFAULT_EPT_CAPABILITIES,
  ) {
    const m = caps.maxPhysAddr;
    this.addressHi = m >= 52 ? 0xfffff : (1 << (m - 32)) - 1;
    this.atomics = new PhysicalAtomics(memory);
    this.setEptp(eptp);
  }

  get eptp(): number {
    return this.eptpValue;
  }

  /** Whether accesses to guest paging structures are treated as writes (EPTP bit 6). */
  get accessedDirtyEnabled(): boolean {
    return this.ad;
  }

  /** Loads a new EPT pointer (VM entry or VMWRITE). Throws on an EPTP that fails {@link checkEptp}. */
  setEptp(eptp: number): void {
    const problem = checkEptp(eptp, this.caps);
    if (problem !== undefined) throw new RangeError(`invalid EPTP 0x${eptp.toString(16)}: ${problem}`);
    this.eptpValue = eptp;
    const low = eptp % 4096;
    this.root = eptp - low;
    this.levels = ((low >>> EPTP.WALK_LENGTH_SHIFT) & EPTP.WALK_LENGTH_MASK) + 1;
    this.ad = (low & EPTP.AD_ENABLE) !== 0;
  }

  translate(gpa: number, access: number, gla: number, fault: TranslationFault): number {
    for (;;) {
      const r = this.walk(gpa, access, gla, fault);
      if (r !== RESTART) return r;
    }
  }

  private walk(gpa: number, access: number, gla: number, fault: TranslationFault): number {
    const mem = this.memory;
    // With A/D flags enabled, guest paging-structure accesses count as writes (SDM §28.3.3.2).
    const psWrite = this.ad && (access & StageAccess.PagingStructure) !== 0;
    const isWrite = psWrite || (access & StageAccess.Write) !== 0;
    let table = this.root;
    let rwx = RWX;
    let n = 0;
    for (let level = this.levels; level >= 1; level--) {
      const span = LEVEL_SPAN[level]!;
      const index = Math.floor(gpa / span) & 511;
      const addr = table + index * 8;
      const lo = mem.read32(addr);
      const hi = mem.read32(addr + 4);
      rwx &= lo;
      if ((lo & RWX) === 0) return this.violation(gpa, access, psWrite, rwx & RWX, gla, fault);
      if (this.misconfigured(lo, hi, level)) {
        fault.kind = FaultKind.EptMisconfig;
        fault.guestPhysical = gpa;
        fault.address = gla;
        fault.qualification = 0;
        fault.errorCode = 0;
        return MMU_FAULT;
      }
      this.entryAddr[n] = addr;
      this.entryLo[n] = lo;
      n++;
      const leaf = level === 1 || (level <= 3 && (lo & EPTE.PS) !== 0);
      const base = (hi & this.addressHi) * TWO_32;
      if (!leaf) {
        table = base + ((lo & 0xffff_f000) >>> 0);
        continue;
      }
      const need = isWrite
        ? EPTE.W | (psWrite ? EPTE.R : 0)
        : (access & StageAccess.Fetch) !== 0
          ? EPTE.X
          : EPTE.R;
      if ((rwx & need) !== need) return this.violation(gpa, access, psWrite, rwx & RWX, gla, fault);
      // Success: set accessed flags on every entry used and the dirty flag of the leaf for a write.
      if (this.ad && (access & StageAccess.Probe) === 0) {
        for (let i = 0; i < n; i++) {
          const old = this.entryLo[i]!;
          const want = old | EPTE.A | (i === n - 1 && isWrite ? EPTE.D : 0);
          if (want !== old && !this.atomics.compareExchange32(this.entryAddr[i]!, old, want)) return RESTART;
        }
      }
      const lowMask = level === 1 ? 0xffff_f000 : level === 2 ? 0xffe0_0000 : 0xc000_0000;
      const page = base + ((lo & lowMask) >>> 0);
      const dirty = !this.ad || isWrite || (lo & EPTE.D) !== 0;
      this.allow = (rwx & EPTE.R ? 1 : 0) | (rwx & EPTE.W && dirty ? 2 : 0) | (rwx & EPTE.X ? 4 : 0);
      this.memoryType = (lo >>> EPTE.MEMTYPE_SHIFT) & 7;
      this.ignorePat = (lo & EPTE.IGNORE_PAT) !== 0;
      return page + (gpa % span);
    }
    return MMU_FAULT; // unreachable: level 1 is always a leaf
  }

  private misconfigured(lo: number, hi: number, level: number): boolean {
    // Write without read; execute-only without the capability (SDM §29.3.3.1).
    if ((lo & (EPTE.R | EPTE.W)) === EPTE.W) return true;
    if ((lo & RWX) === EPTE.X && !this.caps.executeOnly) return true;
    // Bits 51:M.
    if ((hi & ~this.addressHi & 0x000f_ffff) !== 0) return true;
    const ps = (lo & EPTE.PS) !== 0;
    if (level >= 4) return (lo & 0xf8) !== 0;
    if (level === 3 && ps) return !this.caps.pages1G || (lo & 0x3fff_f000) !== 0 || badType(lo);
    if (level === 2 && ps) return (lo & 0x001f_f000) !== 0 || badType(lo);
    if (level === 1) return badType(lo);
    return (lo & 0x78) !== 0;
  }

  private violation(
    gpa: number,
    access: number,
    psWrite: boolean,
    rwx: number,
    gla: number,
    fault: TranslationFault,
  ): number {
    let q = access & (StageAccess.Read | StageAccess.Write | StageAccess.Fetch);
    // "If such an access causes an EPT violation, the processor sets both bit 0 and bit 1" (Table 28-7).
    if (psWrite) q |= EptQual.READ | EptQual.WRITE;
    q |= rwx << 3;
    if ((access & StageAccess.GlaValid) !== 0) {
      q |= EptQual.GLA_VALID;
      if ((access & StageAccess.PagingStructure) === 0) q |= EptQual.TRANSLATED;
    }
    fault.kind = FaultKind.EptViolation;
    fault.qualification = q;
    fault.guestPhysical = gpa;
    fault.address = (access & StageAccess.GlaValid) !== 0 ? gla : 0;
    fault.errorCode = 0;
    return MMU_FAULT;
  }
}

const RESTART = -2;

/** Memory types 2, 3 and 7 are reserved in an EPT leaf. */
const badType = (lo: number): boolean => {
  const t = (lo >>> EPTE.MEMTYPE_SHIFT) & 7;
  return t === 2 || t === 3 || t === 7;
};
