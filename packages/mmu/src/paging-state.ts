import { CR0, CR4, EFER, PagingMode, TWO_32 } from './constants.js';

/** What the paging hardware of one CPU model supports (from CPUID). */
export interface PagingFeatures {
  /** MAXPHYADDR (CPUID 8000_0008h EAX[7:0]); 32..52. */
  readonly maxPhysAddr: number;
  /** 1-GiB pages in 4-level paging (CPUID 8000_0001h EDX[26]). */
  readonly pages1G: boolean;
}

export const DEFAULT_FEATURES: PagingFeatures = { maxPhysAddr: 46, pages1G: true };

/**
 * The paging context of one logical processor: the control-register and MSR state the MMU reads.
 * Plain numbers; CR3 holds up to 52 bits (exact in a double). The PDPTE registers of PAE paging
 * (SDM §4.4.1) are eight 32-bit halves. Change it through the {@link Mmu} `write*` calls, which also
 * flush the TLB as the SDM requires; derived fields (`mode`, masks) are recomputed there.
 */
export class PagingState {
  cr0 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  pkru = 0;
  /** Virtual-processor identifier tagging TLB entries (0 outside VMX non-root operation). */
  vpid = 0;
  /** PAE PDPTE registers: `pdpte[2*i]` = bits 31:0 and `pdpte[2*i+1]` = bits 63:32 of PDPTE i. */
  readonly pdpte = new Uint32Array(8);

  mode: PagingMode = PagingMode.None;
  /** Reserved bits of a 64-bit entry's high dword for the current mode (bits 51:M; PAE: 62:M). */
  reservedHi = 0;
  /** Address bits of a 64-bit entry's high dword (bits M-1:32). */
  addressHi = 0;
  /** High-dword reserved bits of 32-bit paging's 4-MiB PDE (PSE-36: bits 20:13 beyond M). */
  pse36Reserved = 0;

  constructor(readonly features: PagingFeatures = DEFAULT_FEATURES) {
    if (!(features.maxPhysAddr >= 32 && features.maxPhysAddr <= 52)) {
      throw new RangeError(`maxPhysAddr ${features.maxPhysAddr} outside 32..52`);
    }
    this.recompute();
  }

  /** Recomputes the derived fields from the registers. */
  recompute(): void {
    const m = this.features.maxPhysAddr;
    this.mode = pagingModeOf(this.cr0, this.cr4, this.efer);
    this.addressHi = m >= 52 ? 0xfffff : (1 << (m - 32)) - 1;
    // 4-level: bits 51:M reserved, 62:52 ignored (62:59 are the protection key). PAE: 62:M reserved.
    const above = ~this.addressHi;
    this.reservedHi = this.mode === PagingMode.Pae ? above & 0x7fff_ffff : above & 0x000f_ffff;
    // 32-bit 4-MiB PDE: bits 20:13 hold physical bits 39:32; those at or above M are reserved.
    this.pse36Reserved = m >= 40 ? 0 : (0xff << (m - 32 + 13)) & 0x001f_e000;
  }

  get longMode(): boolean {
    return this.mode >= PagingMode.Level4;
  }

  /** PCID in force (CR3[11:0] when CR4.PCIDE = 1). */
  get pcid(): number {
    return (this.cr4 & CR4.PCIDE) !== 0 ? this.cr3 % 4096 : 0;
  }

  /** Physical address of the top paging structure named by CR3 (page-aligned; PAE: 32-byte aligned). */
  get rootAddress(): number {
    if (this.mode === PagingMode.Pae) return (this.cr3 & 0xffff_ffe0) >>> 0;
    if (this.mode === PagingMode.Bits32) return (this.cr3 & 0xffff_f000) >>> 0;
    const hi = Math.floor(this.cr3 / TWO_32) & this.addressHi;
    return hi * TWO_32 + ((this.cr3 & 0xffff_f000) >>> 0);
  }
}

export function pagingModeOf(cr0: number, cr4: number, efer: number): PagingMode {
  if ((cr0 & CR0.PG) === 0) return PagingMode.None;
  if ((cr4 & CR4.PAE) === 0) return PagingMode.Bits32;
  if ((efer & EFER.LMA) === 0) return PagingMode.Pae;
  return (cr4 & CR4.LA57) !== 0 ? PagingMode.Level5 : PagingMode.Level4;
}
