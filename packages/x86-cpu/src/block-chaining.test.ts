import { describe, expect, it } from 'vitest';
import { flat32, real16, Sel } from '../test/machine.js';
import { CpuExit } from './exit.js';
import { NullHooks } from './hooks.js';
import { Seg } from './registers.js';

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

/**
 * The interpreter's loop forms each next EIP from the instruction's own EIP and length, wrapped as the
 * decoder wraps `nextIp` (it no longer reads `nextIp`): these run the wrap points of each code size.
 */
describe('the next EIP the interpreter loop forms', () => {
  it('wraps IP past 0xffff in 16-bit code', () => {
    const m = real16('hlt');
    const cpu = m.cpu;
    // CS base 0x10000: IP 0xfffe is linear 0x1fffe; the 2-byte MOV ends at IP 0, linear 0x10000.
    cpu.segs.set(Seg.CS, 0x1000, 0x10000, 0xffff, 0x9b);
    m.ram.set([0x89, 0xd8], 0x1fffe); // mov ax, bx
    m.ram.set([0xf4], 0x10000); // hlt
    cpu.regs.r32[3] = 0x1234;
    cpu.regs.ip = 0xfffe;
    cpu.blocks.compiling = false;
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(cpu.regs.r32[0]! & 0xffff).toBe(0x1234);
    expect(cpu.regs.ip).toBe(1);
  });

  it('wraps EIP past 0xffffffff in 32-bit code, and keeps EIPs above 2^31 unsigned', () => {
    const m = flat32('hlt');
    const cpu = m.cpu;
    // CS base 0x20000: EIP 0xfffffffe is linear 0x1fffe; the MOV ends at EIP 0, linear 0x20000.
    cpu.segs.set(Seg.CS, Sel.Code32, 0x20000, 0xffffffff, 0x9b | 0xc000);
    m.ram.set([0x89, 0xd8], 0x1fffe); // mov eax, ebx
    m.ram.set([0x90, 0x40, 0xf4], 0x20000); // nop; inc eax; hlt
    cpu.regs.r32[3] = 41;
    cpu.regs.ip = 0xfffffffe;
    cpu.blocks.compiling = false;
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(cpu.regs.r32[0]).toBe(42);
    expect(cpu.regs.ip).toBe(3);
    // Above 2^31: CS base 0x40000000 puts EIP 0xc0001000 at linear 0x1000 (mod 2^32).
    cpu.halted = false;
    cpu.segs.set(Seg.CS, Sel.Code32, 0x40000000, 0xffffffff, 0x9b | 0xc000);
    m.ram.set([0x40, 0x40, 0xf4], 0x1000); // inc eax; inc eax; hlt
    cpu.regs.ip = 0xc0001000;
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(cpu.regs.r32[0]).toBe(44);
    expect(cpu.regs.ip).toBe(0xc0001003);
  });
});
