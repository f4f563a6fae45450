import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import { CpuExit } from './exit.js';
import { NullHooks } from './hooks.js';

/**
 * `Cpu.run` executes decoded blocks back to back without returning to its event check; these prove it
 * still leaves the chain wherever the event check must run before the next instruction.
 */
describe('block chaining', () => {
  it('an interrupt window opened by IRETD stops the chain before the next instruction', () => {
    const m = flat32(`
      cli
      pushfd
      or dword [esp], 0x200
      push cs
      push after
      iretd
    after:
      mov eax, 1
      jmp next
    next:
      mov eax, 2
      hlt`);
    m.cpu.interruptWindowExiting = true;
    expect(m.run()).toBe(CpuExit.InterruptWindow);
    expect(m.cpu.regs.u32[0]).toBe(0);
  });

  it('an INTR raised by a port write is taken at the next block boundary, not later', () => {
    class Raise extends NullHooks {
      override portOut(): number {
        m.cpu.setIntr(true);
        return 0;
      }
    }
    const m = flat32(
      `
      mov ebx, 0
      out 0x80, al
      jmp a
    a:
      inc ebx
      jmp b
    b:
      inc ebx
      hlt`,
      { hooks: new Raise() },
    );
    let seenAt = -1;
    m.cpu.interruptController = {
      acknowledge: () => {
        seenAt = m.cpu.regs.u32[3]!;
        m.cpu.setIntr(false);
        return -1; // spurious: nothing delivered, the guest goes on
      },
    };
    m.cpu.eflags = 0x202;
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(seenAt).toBe(0);
    expect(m.cpu.regs.u32[3]).toBe(2);
  });
});
