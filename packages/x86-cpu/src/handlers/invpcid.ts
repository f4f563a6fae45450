/**
 * INVPCID r32/r64, m128 (SDM Vol. 2 "INVPCID"; CPUID.07H:EBX.INVPCID[bit 10]): invalidates the
 * translations of one address in a PCID (type 0), of one PCID (1), of all PCIDs including global
 * translations (2) or excluding them (3). The descriptor is read first; then #GP(0) for a type above
 * 3, descriptor bits 63:12 not 0, a PCID other than 0 for type 0/1 with CR4.PCIDE = 0, or a
 * non-canonical address for type 0. CPL 0 only (#GP(0)); allowed in real-address mode, #UD in
 * virtual-8086 mode. The register is 64 bits in 64-bit mode, 32 bits otherwise.
 *
 * The MMU's TLB tags PCIDs and does exactly what the type asks; the CPU's own front TLB (`Pager`) does
 * not tag them, so it drops the one page (type 0) or everything, which is a superset the SDM allows.
 * VMX: "enable INVPCID" / INVLPG exiting are not offered to the VMX port (no `VmxSensitive` for it).
 */
import { CR4, Mode } from '../control.js';
import type { Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { isCanonical, read64 } from '../memory-access.js';
import { getReg32, getReg64, joinSigned, locate } from '../operands.js';
import { offsetPlus } from './sse-core.js';
import { HandlerList } from './table.js';

function invpcid(wide: boolean): Handler {
  return (cpu, ins) => {
    const c = cpu.ctrl;
    if (c.mode === Mode.V86) raise(Vector.UD);
    if (c.mode === Mode.Protected && c.cpl !== 0) raise(Vector.GP, 0);
    let type = getReg32(cpu, ins.op0Register);
    if (wide) {
      type = getReg64(cpu, ins.op0Register);
      if (cpu.hi !== 0) type = 4;
    }
    locate(cpu, ins);
    const d0 = read64(cpu, cpu.eaSeg, cpu.eaOff);
    const d1 = cpu.hi;
    const aLo = read64(cpu, cpu.eaSeg, offsetPlus(ins, cpu.eaOff, 8));
    const aHi = cpu.hi;
    if (type > 3) raise(Vector.GP, 0);
    if ((d0 & ~0xfff) !== 0 || d1 !== 0) raise(Vector.GP, 0);
    const pcid = d0 & 0xfff;
    if (type <= 1 && pcid !== 0 && (c.cr4 & CR4.PCIDE) === 0) raise(Vector.GP, 0);
    const pager = cpu.pager;
    if (type === 0) {
      const la = joinSigned(aLo, aHi);
      if (!isCanonical(la)) raise(Vector.GP, 0);
      const linear = c.lma ? la : aLo >>> 0;
      pager.mmu.invpcid(0, pcid, linear);
      pager.invalidate(linear);
      return;
    }
    pager.mmu.invpcid(type as 1 | 2 | 3, pcid, 0);
    pager.flush();
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Invpcid_r32_m128', invpcid(false));
  list.add('Invpcid_r64_m128', invpcid(true));
  return list.entries;
}

/** Handler of INVPCID. */
export const INVPCID_HANDLERS: readonly (readonly [number, Handler])[] = entries();
