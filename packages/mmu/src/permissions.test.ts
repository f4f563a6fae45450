import { expect, test } from 'vitest';
import {
  AccessKind,
  CR0,
  CR4,
  EFER,
  PagingState,
  Privilege,
  accessRightsFault,
  allowedAccessMask,
  tlbAllowBit,
} from './index.js';

test('the TLB rights word agrees with the per-access rules for every state and every entry', () => {
  const st = new PagingState();
  let checked = 0;
  const mismatches: string[] = [];
  for (let c = 0; c < 64; c++) {
    st.cr0 = (CR0.PE | CR0.PG | (c & 1 ? CR0.WP : 0)) >>> 0;
    st.cr4 = CR4.PAE | (c & 2 ? CR4.SMEP : 0) | (c & 4 ? CR4.SMAP : 0) | (c & 8 ? CR4.PKE : 0);
    st.efer = c & 16 ? EFER.LME | EFER.LMA | EFER.NXE : EFER.NXE;
    for (const pkru of [0, 1 << 6, 2 << 6, 3 << 6]) {
      st.pkru = pkru;
      st.recompute();
      for (let e = 0; e < 8; e++) {
        for (const pkey of [0, 3]) {
          const user = (e & 1) !== 0;
          const writable = (e & 2) !== 0;
          const noExec = (e & 4) !== 0;
          const mask = allowedAccessMask(st, user, writable, noExec, pkey);
          for (const priv of [Privilege.User, Privilege.Supervisor, Privilege.SupervisorAc]) {
            for (const kind of [AccessKind.Read, AccessKind.Write, AccessKind.Fetch]) {
              const allowed = accessRightsFault(st, kind, priv, user, writable, noExec, pkey) === 0;
              if (((mask & tlbAllowBit(kind, priv)) !== 0) !== allowed) {
                mismatches.push(
                  `controls ${c} pkru ${pkru} entry ${e} key ${pkey} priv ${priv} kind ${kind}`,
                );
              }
              checked++;
            }
          }
        }
      }
    }
  }
  expect(mismatches).toEqual([]);
  expect(checked).toBe(64 * 4 * 8 * 2 * 9);
});
