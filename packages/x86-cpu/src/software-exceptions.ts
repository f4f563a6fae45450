/**
 * Intercepting the software exceptions INT3 and INTO before the guest sees them, as VT-x does for
 * vectors set in the exception bitmap (SDM Vol. 3 §25.2: INT3 and INTO are "software exceptions" and
 * honour the bitmap; INT n, even INT 3 spelt CD 03, is a software interrupt and does not).
 *
 * The CPU tells its `CpuEvents.delivered` listener about every event before delivering it. Software
 * events (`EventKind.Software`) are delivered while their INT instruction executes, inside the
 * interpreter's fault handling, so a listener may stop one there with {@link interceptSoftwareEvent}:
 * the instruction is rolled back (EIP points at it, nothing was pushed) and `run()` returns
 * `CpuExit.Intercept`, exactly as when a hook returns INTERCEPT. Not valid for other event kinds.
 */
import type { Cpu } from './cpu.js';
import { raiseIntercept, Vector } from './exceptions.js';
import { AccessKind } from './paging.js';
import { Seg } from './registers.js';

const INT3_OPCODE = 0xcc;
const INTO_OPCODE = 0xce;

/**
 * Whether the software event `vector` being delivered comes from INT3 (CC, vector 3) or INTO (CE,
 * vector 4) rather than INT n: the last byte of the executing instruction is the opcode for those two
 * and the immediate for INT n. Call it from `CpuEvents.delivered` only.
 */
export function isSoftwareException(cpu: Cpu, vector: number): boolean {
  if (vector !== Vector.BP && vector !== Vector.OF) return false;
  // 64-bit mode: CS base 0 and RIP a canonical address in signed form (no 32-bit wrap).
  const last = cpu.code64 ? cpu.regs.ip - 1 : (cpu.segs.base[Seg.CS]! + cpu.regs.ip - 1) >>> 0;
  // The byte was fetched a moment ago: its translation is in the TLB and cannot fault.
  const phys = cpu.pager.translate(last, AccessKind.Fetch, cpu.ctrl.cpl === 3);
  return cpu.phys.read8(phys) === (vector === Vector.BP ? INT3_OPCODE : INTO_OPCODE);
}

/** From `CpuEvents.delivered` for an `EventKind.Software` event: do not deliver it, stop before the INT. */
export function interceptSoftwareEvent(): never {
  raiseIntercept();
}
