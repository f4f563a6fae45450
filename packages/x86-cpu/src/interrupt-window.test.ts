import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import { CpuExit } from './exit.js';

// VT-x interrupt-window exiting: the CPU stops at the first instruction boundary where an interrupt
// could be taken (EFLAGS.IF = 1 and no STI / MOV SS shadow), with nothing of the next instruction done.
describe('interruptWindowExiting', () => {
  it('stops after the instruction that follows STI (the STI shadow), not before', () => {
    const m = flat32('cli\nmov eax, 1\nmov eax, 2\nsti\nmov eax, 3\nmov eax, 4\nhlt');
    m.cpu.interruptWindowExiting = true;
    expect(m.cpu.run(1000)).toBe(CpuExit.InterruptWindow);
    expect(m.cpu.regs.u32[0]).toBe(3);
  });

  it('stops at once when interrupts are already enabled', () => {
    const m = flat32('sti\nnop\nmov eax, 5\nmov eax, 6\nhlt');
    m.cpu.run(2); // STI and the instruction in its shadow
    m.cpu.interruptWindowExiting = true;
    const before = m.cpu.instructions;
    expect(m.cpu.run(1000)).toBe(CpuExit.InterruptWindow);
    expect(m.cpu.instructions).toBe(before);
  });

  it('stops when POPF sets IF in the middle of a block', () => {
    const m = flat32('cli\npush 0x202\nmov eax, 7\npopf\nmov eax, 8\nhlt');
    m.cpu.interruptWindowExiting = true;
    expect(m.cpu.run(1000)).toBe(CpuExit.InterruptWindow);
    expect(m.cpu.regs.u32[0]).toBe(7);
  });

  it('runs the whole budget while interrupts stay disabled', () => {
    const m = flat32('cli\nl:\ninc eax\njmp l');
    m.cpu.interruptWindowExiting = true;
    expect(m.cpu.run(10_001)).toBe(CpuExit.Budget);
    expect(m.cpu.regs.u32[0]).toBe(5000);
  });
});
