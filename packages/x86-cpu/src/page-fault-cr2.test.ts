/**
 * CR2 and page faults met while delivering an event (SDM Vol. 3A §6.15, Interrupt 14: "Processors
 * update CR2 whenever a page fault is detected ... even if the page fault results in a double fault or
 * occurs during the delivery of a double fault").
 */
import { assemble } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import { CODE, flat32, type Machine, Sel } from '../test/machine.js';
import { CpuExit } from './index.js';

const PAGE_DIR = 0x100000;
const PAGE_TABLE = 0x101000;
/** The last mapped linear page ends here (0-4 MiB is identity-mapped, 4-8 MiB is not present). */
const MAPPED_END = 0x400000;

const MAIN = `
      mov eax, ${PAGE_DIR}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov eax, [0x801234]
      hlt`;
/** The #DF handler: reads CR2 into ESI. */
const DF_HANDLER = CODE + assemble(MAIN, { bitness: 32, origin: CODE }).length;

/** Paging on with 0-4 MiB identity-mapped, then `mov eax, [0x801234]` (not present). */
function machine(idtBase: number): Machine {
  const m = flat32(`${MAIN}
      mov esi, cr2
      hlt`);
  m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
  for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
  m.cpu.ctrl.idtr.base = idtBase;
  m.cpu.ctrl.idtr.limit = 0xff;
  return m;
}

/** A 32-bit interrupt gate at `vector` to `target` (gates on unmapped pages are not written). */
function gate(m: Machine, idtBase: number, vector: number, target: number): void {
  const at = idtBase + vector * 8;
  m.memory.write32(at, (Sel.Code32 << 16) | (target & 0xffff));
  m.memory.write32(at + 4, (target & 0xffff0000) | 0x8e00);
}

describe('CR2 and page faults during event delivery', () => {
  it('a #PF while delivering a #PF loads CR2 with its own address before the #DF handler runs', () => {
    // Gate 8 is the last gate on the mapped page, gate 14 lies on the unmapped one.
    const idt = MAPPED_END - 9 * 8;
    const m = machine(idt);
    gate(m, idt, 8, DF_HANDLER);
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(m.cpu.lastVector).toBe(8);
    expect(m.cpu.regs.u32[6]).toBe(idt + 14 * 8);
    expect(m.cpu.ctrl.cr2).toBe(idt + 14 * 8);
  });

  it('a #PF while delivering the #DF loads CR2 before the shutdown', () => {
    const idt = MAPPED_END - 8;
    const m = machine(idt);
    expect(m.run()).toBe(CpuExit.Shutdown);
    expect(m.cpu.ctrl.cr2).toBe(idt + 8 * 8);
  });
});
