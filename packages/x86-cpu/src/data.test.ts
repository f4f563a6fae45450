import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { EFLAGS as F } from './index.js';

function machine(source: string) {
  const m = flat32(`${source}\nhlt`);
  runToHlt(m);
  return m;
}

describe('data movement and atomics', () => {
  it('CMPXCHG stores the source and sets ZF when the accumulator matches', () => {
    const m = machine('mov dword [0x3000], 5\nmov eax, 5\nmov ecx, 9\ncmpxchg [0x3000], ecx');
    expect(m.memory.read32(0x3000)).toBe(9);
    expect(m.cpu.eflags & F.ZF).toBe(F.ZF);
  });

  it('CMPXCHG loads the accumulator and clears ZF on a mismatch', () => {
    const m = machine('mov dword [0x3000], 7\nmov eax, 5\nmov ecx, 9\ncmpxchg [0x3000], ecx');
    expect(m.memory.read32(0x3000)).toBe(7);
    expect(m.cpu.regs.u32[0]).toBe(7);
    expect(m.cpu.eflags & F.ZF).toBe(0);
  });

  it('CMPXCHG8B swaps ECX:EBX in when EDX:EAX matches', () => {
    const m = machine(`
      mov dword [0x3000], 1
      mov dword [0x3004], 2
      mov eax, 1
      mov edx, 2
      mov ebx, 0xaaaa
      mov ecx, 0xbbbb
      cmpxchg8b qword [0x3000]`);
    expect(m.memory.read32(0x3000)).toBe(0xaaaa);
    expect(m.memory.read32(0x3004)).toBe(0xbbbb);
    expect(m.cpu.eflags & F.ZF).toBe(F.ZF);
  });

  it('CMPXCHG8B loads EDX:EAX on a mismatch', () => {
    const m = machine(`
      mov dword [0x3000], 3
      mov dword [0x3004], 4
      xor eax, eax
      xor edx, edx
      cmpxchg8b qword [0x3000]`);
    expect(m.cpu.regs.u32[0]).toBe(3);
    expect(m.cpu.regs.u32[2]).toBe(4);
    expect(m.cpu.eflags & F.ZF).toBe(0);
  });

  it('XADD exchanges and adds', () => {
    const m = machine('mov dword [0x3000], 10\nmov ecx, 3\nxadd [0x3000], ecx');
    expect(m.memory.read32(0x3000)).toBe(13);
    expect(m.cpu.regs.u32[1]).toBe(10);
  });

  it('BSWAP reverses the bytes', () => {
    const m = machine('mov esi, 0x11223344\nbswap esi');
    expect(m.cpu.regs.u32[6]).toBe(0x44332211);
  });

  it('CMOVcc moves only when the condition holds', () => {
    const m = machine('mov eax, 1\nmov ebx, 2\nmov ecx, 3\ncmp eax, ebx\ncmovl eax, ecx\ncmovg ebx, ecx');
    expect(m.cpu.regs.u32[0]).toBe(3);
    expect(m.cpu.regs.u32[3]).toBe(2);
  });

  it('SETcc writes 0 or 1 for signed and unsigned conditions', () => {
    const m = machine('mov eax, -1\ncmp eax, 1\nsetl bl\nsetb bh\nseta cl');
    expect(m.cpu.regs.r8[12]).toBe(1);
    expect(m.cpu.regs.r8[13]).toBe(0);
    expect(m.cpu.regs.r8[4]).toBe(1);
  });

  it('MOVZX and MOVSX extend bytes and words', () => {
    const m = machine(
      'mov byte [0x3000], 0x80\nmovzx eax, byte [0x3000]\nmovsx ebx, byte [0x3000]\nmov cx, 0x8001\nmovsx edx, cx',
    );
    expect(m.cpu.regs.u32[0]).toBe(0x80);
    expect(m.cpu.regs.u32[3]).toBe(0xffffff80);
    expect(m.cpu.regs.u32[2]).toBe(0xffff8001);
  });

  it('BTS on memory addresses the bit string beyond the operand with a register offset', () => {
    const m = machine('mov dword [0x3004], 0\nmov ecx, 35\nbts dword [0x3000], ecx');
    expect(m.memory.read32(0x3004)).toBe(8);
    expect(m.cpu.eflags & F.CF).toBe(0);
  });

  it('BTR and BTC report the old bit in CF', () => {
    const m = machine('mov eax, 0xff\nbtr eax, 3\nsetc bl\nbtc eax, 8\nsetc bh');
    expect(m.cpu.regs.u32[0]).toBe(0x1f7);
    expect(m.cpu.regs.r8[12]).toBe(1);
    expect(m.cpu.regs.r8[13]).toBe(0);
  });

  it('BSF and BSR find the lowest and highest set bits; a zero source sets ZF', () => {
    const m = machine(
      'mov eax, 0x00f00100\nbsf ebx, eax\nbsr ecx, eax\nmov edx, 77\nxor esi, esi\nbsf edx, esi',
    );
    expect(m.cpu.regs.u32[3]).toBe(8);
    expect(m.cpu.regs.u32[1]).toBe(23);
    expect(m.cpu.regs.u32[2]).toBe(77);
    expect(m.cpu.eflags & F.ZF).toBe(F.ZF);
  });

  it('XCHG with memory swaps both ways', () => {
    const m = machine('mov dword [0x3000], 1\nmov eax, 2\nxchg [0x3000], eax');
    expect(m.memory.read32(0x3000)).toBe(2);
    expect(m.cpu.regs.u32[0]).toBe(1);
  });

  it('LAHF/SAHF move SF ZF AF PF CF through AH', () => {
    const m = machine('mov ah, 0xd5\nsahf\nmov ah, 0\nlahf');
    expect(m.cpu.regs.r8[1]).toBe(0xd7);
  });
});
