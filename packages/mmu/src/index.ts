export {
  MMU_FAULT,
  AccessKind,
  Privilege,
  PagingMode,
  FaultKind,
  PfError,
  CR0,
  CR4,
  EFER,
  PTE,
  PTE_HI,
  EPTE,
  EPTP,
  EptQual,
  MemoryType,
  StageAccess,
  Watch,
} from './constants.js';
export { TranslationFault } from './fault.js';
export { PagingState, type PagingFeatures, DEFAULT_FEATURES, pagingModeOf } from './paging-state.js';
export { type SecondStage, IdentityStage } from './stage.js';
export {
  EptStage,
  type EptCapabilities,
  DEFAULT_EPT_CAPABILITIES,
  type EptpProblem,
  checkEptp,
  makeEptp,
} from './ept.js';
export { accessRightsFault, accessErrorBits, allowedAccessMask, privilegeOf } from './permissions.js';
export { PageWalker } from './walker.js';
export { Tlb, TLB_EMPTY, TLB_FAST_WRITE, TlbFlag, tlbAllowBit, tlbFastBit } from './tlb.js';
export { Mmu, type MmuOptions, type WatchedWriteHandler, linearFromHalves } from './mmu.js';
export { ShadowMmu, type ShadowMmuOptions, ShadowOutcome } from './shadow.js';
