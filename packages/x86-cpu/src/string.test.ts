import { describe, expect, it } from 'vitest';
import { flat32, real16, runToHlt } from '../test/machine.js';
import { CpuExit, EFLAGS as F } from './index.js';

describe('string instructions', () => {
  it('REP MOVSB copies forward and leaves ECX 0, ESI/EDI past the end', () => {
    const m = flat32('mov esi, 0x3000\nmov edi, 0x4000\nmov ecx, 5\nrep movsb\nhlt');
    m.ram.set([1, 2, 3, 4, 5], 0x3000);
    runToHlt(m);
    expect([...m.ram.subarray(0x4000, 0x4005)]).toEqual([1, 2, 3, 4, 5]);
    expect(m.cpu.regs.u32[1]).toBe(0);
    expect(m.cpu.regs.u32[6]).toBe(0x3005);
    expect(m.cpu.regs.u32[7]).toBe(0x4005);
  });

  it('overlapping forward REP MOVSB replicates the first byte (byte-at-a-time semantics)', () => {
    const m = flat32('mov esi, 0x3000\nmov edi, 0x3001\nmov ecx, 300\nrep movsb\nhlt');
    m.ram[0x3000] = 0xab;
    runToHlt(m);
    expect(m.ram.subarray(0x3000, 0x3000 + 301).every((b) => b === 0xab)).toBe(true);
  });

  it('REP STOSD with DF=1 fills downward', () => {
    const m = flat32('std\nmov edi, 0x3008\nmov eax, 0x11223344\nmov ecx, 3\nrep stosd\ncld\nhlt');
    runToHlt(m);
    expect(m.memory.read32(0x3000)).toBe(0x11223344);
    expect(m.memory.read32(0x3008)).toBe(0x11223344);
    expect(m.cpu.regs.u32[7]).toBe(0x2ffc);
  });

  it('REP STOSD across a page boundary fills every dword', () => {
    const m = flat32('mov edi, 0x3ff8\nmov eax, 0xdeadbeef\nmov ecx, 4\nrep stosd\nhlt');
    runToHlt(m);
    for (let a = 0x3ff8; a < 0x4008; a += 4) expect(m.memory.read32(a)).toBe(0xdeadbeef);
  });

  it('REPE CMPSB stops at the first difference', () => {
    const m = flat32('mov esi, 0x3000\nmov edi, 0x4000\nmov ecx, 8\nrepe cmpsb\nhlt');
    m.ram.set([1, 2, 3, 9], 0x3000);
    m.ram.set([1, 2, 3, 4], 0x4000);
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(4);
    expect(m.cpu.regs.u32[6]).toBe(0x3004);
    expect(m.cpu.eflags & F.ZF).toBe(0);
  });

  it('REPNE SCASB finds a byte', () => {
    const m = flat32('mov edi, 0x3000\nmov al, 0\nmov ecx, 100\nrepne scasb\nhlt');
    m.ram.set([5, 6, 7, 0], 0x3000);
    runToHlt(m);
    expect(m.cpu.regs.u32[7]).toBe(0x3004);
    expect(m.cpu.regs.u32[1]).toBe(96);
  });

  it('LODSW and STOSW use SI/DI and CX in 16-bit code', () => {
    const m = real16('mov si, 0x3000\nmov di, 0x4000\nmov cx, 2\nagain:\nlodsw\nstosw\nloop again\nhlt');
    m.memory.write32(0x3000, 0xbeefcafe);
    runToHlt(m);
    expect(m.memory.read32(0x4000)).toBe(0xbeefcafe);
  });

  it('a long REP is interruptible: the interrupt sees partial progress and returns to the REP', () => {
    const m = flat32(`
      mov esi, 0x100000
      mov edi, 0x200000
      mov ecx, 0x40000
      rep movsb
      hlt`);
    const cpu = m.cpu;
    // One step executes one chunk of the REP and then stops at the instruction boundary.
    expect(cpu.run(4)).toBe(CpuExit.Budget);
    const left = cpu.regs.u32[1]!;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(0x40000);
    expect(cpu.regs.ip).toBe(0x1000 + 15);
    runToHlt(m);
    expect(cpu.regs.u32[1]).toBe(0);
  });
});

describe('A20 gate', () => {
  it('with A20 disabled, FFFF:0010 wraps to physical 0; enabled, it reaches 1 MiB', () => {
    const m = real16('mov ax, 0xffff\nmov ds, ax\nmov byte [0x10], 0x55\nhlt');
    m.cpu.setA20(false);
    runToHlt(m);
    expect(m.ram[0]).toBe(0x55);
    expect(m.ram[0x100000]).toBe(0);
    const m2 = real16('mov ax, 0xffff\nmov ds, ax\nmov byte [0x10], 0x66\nhlt');
    runToHlt(m2);
    expect(m2.ram[0x100000]).toBe(0x66);
  });
});
