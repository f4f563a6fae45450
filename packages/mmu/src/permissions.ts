import { AccessKind, CR0, CR4, EFER, PagingMode, PfError, Privilege } from './constants.js';
import type { PagingState } from './paging-state.js';

/**
 * The access-rights rules of SDM §4.6 applied to the effective rights of a translation (U/S and R/W
 * ANDed over all levels, XD ORed) and its protection key (§4.6.2). Returns 0 when the access is
 * allowed, otherwise the #PF error-code bits it earns: P, and PK when PKRU forbids it. The caller adds
 * W/R, U/S and I/D.
 */
export function accessRightsFault(
  state: PagingState,
  kind: AccessKind,
  priv: Privilege,
  user: boolean,
  writable: boolean,
  noExec: boolean,
  pkey: number,
): number {
  const wp = (state.cr0 & CR0.WP) !== 0;
  let deny = false;
  if (priv === Privilege.User) {
    if (!user) deny = true;
    else if (kind === AccessKind.Write) deny = !writable;
    else if (kind === AccessKind.Fetch) deny = noExec;
  } else if (kind === AccessKind.Fetch) {
    deny = (user && (state.cr4 & CR4.SMEP) !== 0) || noExec;
  } else if (user && (state.cr4 & CR4.SMAP) !== 0 && priv !== Privilege.SupervisorAc) {
    deny = true;
  } else if (kind === AccessKind.Write && !writable) {
    deny = wp;
  }
  let pk = 0;
  // Protection keys: data accesses to user-mode addresses in IA-32e paging with CR4.PKE = 1.
  if (user && kind !== AccessKind.Fetch && (state.cr4 & CR4.PKE) !== 0 && state.mode >= PagingMode.Level4) {
    const bits = (state.pkru >>> (2 * pkey)) & 3;
    const ad = (bits & 1) !== 0;
    const wd = (bits & 2) !== 0;
    if (ad || (wd && kind === AccessKind.Write && (priv === Privilege.User || wp))) pk = PfError.PK;
  }
  return deny || pk !== 0 ? PfError.P | pk : 0;
}

/** The W/R, U/S and I/D bits of a #PF error code for an access (SDM §4.7). */
export function accessErrorBits(state: PagingState, kind: AccessKind, priv: Privilege): number {
  let e = 0;
  if (kind === AccessKind.Write) e |= PfError.W;
  if (priv === Privilege.User) e |= PfError.U;
  if (
    kind === AccessKind.Fetch &&
    ((state.cr4 & CR4.SMEP) !== 0 || ((state.cr4 & CR4.PAE) !== 0 && (state.efer & EFER.NXE) !== 0))
  ) {
    e |= PfError.I;
  }
  return e;
}

/**
 * The {@link Privilege} of an access: user at CPL 3 unless it is an implicit supervisor access
 * (descriptor tables, TSS, shadow stack of a gate); at CPL < 3 SMAP is relaxed by EFLAGS.AC only for
 * explicit accesses.
 */
export function privilegeOf(cpl: number, eflagsAc: boolean, implicit = false): Privilege {
  if (implicit) return Privilege.Supervisor;
  if (cpl === 3) return Privilege.User;
  return eflagsAc ? Privilege.SupervisorAc : Privilege.Supervisor;
}

/**
 * The same rules as {@link accessRightsFault}, for all privileges and kinds at once: bit
 * `priv * 4 + kind` is set when that access is allowed (the TLB's rights word).
 */
export function allowedAccessMask(
  state: PagingState,
  user: boolean,
  writable: boolean,
  noExec: boolean,
  pkey: number,
): number {
  const wp = (state.cr0 & CR0.WP) !== 0;
  const smep = (state.cr4 & CR4.SMEP) !== 0;
  const smap = (state.cr4 & CR4.SMAP) !== 0;
  let pkRead = true;
  let pkWriteUser = true;
  let pkWriteSup = true;
  if (user && (state.cr4 & CR4.PKE) !== 0 && state.mode >= PagingMode.Level4) {
    const bits = (state.pkru >>> (2 * pkey)) & 3;
    if ((bits & 1) !== 0) {
      pkRead = false;
      pkWriteUser = false;
      pkWriteSup = false;
    } else if ((bits & 2) !== 0) {
      pkWriteUser = false;
      pkWriteSup = !wp;
    }
  }
  const supWrite = (writable || !wp) && pkWriteSup;
  const supFetch = !noExec && !(user && smep);
  // User.
  let m = 0;
  if (user) {
    if (pkRead) m |= 1;
    if (writable && pkWriteUser) m |= 2;
    if (!noExec) m |= 4;
  }
  // Supervisor (SMAP enforced) and supervisor with EFLAGS.AC.
  const smapBlocks = user && smap;
  let sup = supFetch ? 4 : 0;
  if (pkRead) sup |= 1;
  if (supWrite) sup |= 2;
  m |= (smapBlocks ? sup & 4 : sup) << 4;
  m |= sup << 8;
  return m;
}
