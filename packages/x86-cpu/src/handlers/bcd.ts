/**
 * Decimal adjust and ASCII adjust: DAA, DAS, AAA, AAS, AAM, AAD, and SALC (SDM Vol. 2A pseudo-code).
 * Flags the SDM leaves undefined: DAA/DAS OF, AAA/AAS OF, AAM/AAD OF/AF/CF are cleared; AAA/AAS SF/ZF/PF
 * follow the final AL.
 */
import { Code } from '@typevisor/x86-decoder';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, getAF, getCF, setArith, szp } from '../flags.js';

const OSZAPC = EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF | EFLAGS.AF | EFLAGS.PF | EFLAGS.CF;

function daa(cpu: Cpu): void {
  const r = cpu.regs.r8;
  const oldAl = r[0]!;
  const oldCf = getCF(cpu.flags);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || getAF(cpu.flags)) {
    al += 6;
    cf = oldCf | (al > 0xff ? 1 : 0);
    al &= 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  } else cf = 0;
  r[0] = al;
  setArith(cpu.flags, OSZAPC, szp(al, 8) | (af ? EFLAGS.AF : 0) | cf);
}

function das(cpu: Cpu): void {
  const r = cpu.regs.r8;
  const oldAl = r[0]!;
  const oldCf = getCF(cpu.flags);
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0xf) > 9 || getAF(cpu.flags)) {
    cf = oldCf | (al < 6 ? 1 : 0);
    al = (al - 6) & 0xff;
    af = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  r[0] = al;
  setArith(cpu.flags, OSZAPC, szp(al, 8) | (af ? EFLAGS.AF : 0) | cf);
}

function aaa(cpu: Cpu): void {
  const r = cpu.regs;
  let adjust = 0;
  if ((r.r8[0]! & 0xf) > 9 || getAF(cpu.flags)) {
    r.r16[0] = r.r16[0]! + 0x106;
    adjust = EFLAGS.AF | EFLAGS.CF;
  }
  r.r8[0] = r.r8[0]! & 0xf;
  setArith(cpu.flags, OSZAPC, szp(r.r8[0]!, 8) | adjust);
}

function aas(cpu: Cpu): void {
  const r = cpu.regs;
  let adjust = 0;
  if ((r.r8[0]! & 0xf) > 9 || getAF(cpu.flags)) {
    r.r16[0] = r.r16[0]! - 6;
    r.r8[1] = r.r8[1]! - 1;
    adjust = EFLAGS.AF | EFLAGS.CF;
  }
  r.r8[0] = r.r8[0]! & 0xf;
  setArith(cpu.flags, OSZAPC, szp(r.r8[0]!, 8) | adjust);
}

const aam: Handler = (cpu, ins) => {
  const base = ins.immediate & 0xff;
  if (base === 0) raise(Vector.DE);
  const r = cpu.regs.r8;
  const al = r[0]!;
  r[1] = Math.floor(al / base);
  r[0] = al % base;
  setArith(cpu.flags, OSZAPC, szp(r[0]!, 8));
};

const aad: Handler = (cpu, ins) => {
  const base = ins.immediate & 0xff;
  const r = cpu.regs.r8;
  const al = (r[0]! + r[1]! * base) & 0xff;
  r[0] = al;
  r[1] = 0;
  setArith(cpu.flags, OSZAPC, szp(al, 8));
};

/** SALC (undocumented D6): AL = CF ? FF : 00, flags unchanged. */
function salc(cpu: Cpu): void {
  cpu.regs.r8[0] = getCF(cpu.flags) ? 0xff : 0;
}

export const BCD_HANDLERS: readonly [number, Handler][] = [
  [Code.Daa, daa],
  [Code.Das, das],
  [Code.Aaa, aaa],
  [Code.Aas, aas],
  [Code.Aam_imm8, aam],
  [Code.Aad_imm8, aad],
  [Code.Salc, salc],
];
