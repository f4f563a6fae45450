import type { TranslationFault } from './fault.js';

/**
 * The second dimension of address translation: guest-physical to host-physical. The page walker sends
 * every guest paging-structure access and the final access through it, so one walker serves plain
 * paging ({@link IdentityStage}), EPT ({@link EptStage}) and the guest walks of shadow paging.
 */
export interface SecondStage {
  /**
   * Host-physical address of `gpa` for an access described by `access` ({@link StageAccess} bits), or
   * {@link MMU_FAULT} with `fault` filled in. `gla` is the linear address behind the access (valid
   * when `access` has `GlaValid`). Must not allocate or throw.
   */
  translate(gpa: number, access: number, gla: number, fault: TranslationFault): number;
  /**
   * After a successful {@link SecondStage.translate}: the accesses (bit `1 << AccessKind`) a TLB may
   * cache for that page without asking again (EPT: permitted, and a write only once the dirty flag is
   * set).
   */
  readonly allow: number;
  /** After a successful translation: the memory type (EPT leaf bits 5:3), or -1 when the stage has none. */
  readonly memoryType: number;
}

/** No second dimension: guest-physical is host-physical (no virtualization, or the shadow tables' own walk). */
export class IdentityStage implements SecondStage {
  readonly allow = 7;
  readonly memoryType = -1;
  translate(gpa: number, _access: number, _gla: number, _fault: TranslationFault): number {
    return gpa;
  }
}
