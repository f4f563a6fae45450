import { describe, expect, it } from 'vitest';
import { CODE64, long64, PML4 } from '../test/long-machine.js';
import { CpuExit, CR0, CR4, MAX_MODEL, Vector } from './index.js';
import { Efer } from './msr.js';

const PD = PML4 + 0x2000;
const USER_PAGE = 0x200000;
/** #PF error code of a supervisor instruction fetch from a present page: P | I/D (U/S = 0: CPL 0). */
const FETCH_PRESENT = 0x11;

/**
 * A CPL-0 machine whose first 2 MiB page (code, tables) is supervisor-only and second (at 0x200000)
 * a user page holding HLT, or with `xd` an execute-disable supervisor page.
 */
function machine(source: string, smep: boolean, xd = false) {
  const events: [number, number][] = [];
  const m = long64(source, { model: MAX_MODEL, events: { delivered: (_k, v, e) => events.push([v, e]) } });
  m.memory.write32(PD, 0x83);
  m.memory.write32(PD + 8, USER_PAGE | (xd ? 0x83 : 0x87));
  m.memory.write32(PD + 12, xd ? 0x80000000 : 0);
  m.ram[USER_PAGE] = 0xf4;
  m.cpu.setControlRegisters(
    CR0.PE | CR0.ET | CR0.PG | CR0.NE,
    PML4,
    CR4.PAE | (smep ? CR4.SMEP : 0),
    Efer.LME | Efer.LMA | Efer.NXE,
  );
  m.cpu.regs.ip = CODE64;
  return { m, events };
}

describe('CR4.SMEP in the CPU front TLB', () => {
  it('a supervisor fetch from a user page is #PF(P|I/D) on the first fetch', () => {
    const { m, events } = machine(`jmp ${USER_PAGE}`, true);
    m.run(5);
    expect(events[0]).toEqual([Vector.PF, FETCH_PRESENT]);
    expect(m.cpu.ctrl.cr2).toBe(USER_PAGE);
  });

  it('also after a supervisor read cached the page translation', () => {
    const { m, events } = machine(`mov rax, [${USER_PAGE}]\njmp ${USER_PAGE}`, true);
    m.run(5);
    expect(events[0]).toEqual([Vector.PF, FETCH_PRESENT]);
  });

  it('also after the page was executed with SMEP off and SMEP was then set by MOV CR4', () => {
    // First pass: call the user page's code (RET there), set SMEP, call it again.
    const { m, events } = machine(
      `call ${USER_PAGE}\nmov rax, cr4\nbts eax, 20\nmov cr4, rax\ncall ${USER_PAGE}\nhlt`,
      false,
    );
    m.ram[USER_PAGE] = 0xc3; // RET
    m.run(50);
    expect(events[0]).toEqual([Vector.PF, FETCH_PRESENT]);
    expect(m.cpu.ctrl.cr4 & CR4.SMEP).toBe(CR4.SMEP);
  });

  it('without SMEP the same fetches run (the page itself is fine)', () => {
    const { m } = machine(`mov rax, [${USER_PAGE}]\njmp ${USER_PAGE}`, false);
    expect(m.run(5)).toBe(CpuExit.Hlt);
  });

  it('an execute-disable page read first is still #PF on the fetch', () => {
    const { m, events } = machine(`mov rax, [${USER_PAGE}]\njmp ${USER_PAGE}`, false, true);
    m.run(5);
    expect(events[0]).toEqual([Vector.PF, FETCH_PRESENT]);
  });
});
