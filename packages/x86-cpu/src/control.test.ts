import { describe, expect, it } from 'vitest';
import { flat32, real16, runToHlt, STACK_TOP } from '../test/machine.js';

function run(source: string) {
  const m = flat32(`${source}\nhlt`);
  runToHlt(m);
  return m;
}

describe('control transfer and stack', () => {
  it('CALL pushes the return address and RET pops it', () => {
    const m = run('call f\nmov ebx, 2\nhlt\nf:\nmov eax, [esp]\nret');
    expect(m.cpu.regs.u32[0]).toBe(0x1005);
    expect(m.cpu.regs.u32[3]).toBe(2);
    expect(m.cpu.regs.u32[4]).toBe(STACK_TOP);
  });

  it('RET imm16 releases parameters', () => {
    const m = run('push 1\npush 2\ncall f\nhlt\nf:\nret 8');
    expect(m.cpu.regs.u32[4]).toBe(STACK_TOP);
  });

  it('LOOP counts ECX down to zero', () => {
    const m = run('mov ecx, 10\nxor eax, eax\nl:\nadd eax, 3\nloop l');
    expect(m.cpu.regs.u32[0]).toBe(30);
  });

  it('JECXZ jumps only when ECX is zero', () => {
    const m = run('xor ecx, ecx\nmov eax, 1\njecxz skip\nmov eax, 2\nskip:');
    expect(m.cpu.regs.u32[0]).toBe(1);
  });

  it('indirect JMP through a register and CALL through memory', () => {
    const m = run(
      'mov eax, t\njmp eax\nhlt\nt:\nmov dword [0x3000], f\ncall dword [0x3000]\nhlt\nf:\nmov edx, 7\nret',
    );
    expect(m.cpu.regs.u32[2]).toBe(7);
  });

  it('PUSHAD/POPAD save and restore all registers; POPAD skips ESP', () => {
    const m = run('mov eax, 1\nmov ebx, 2\npushad\nxor eax, eax\nxor ebx, ebx\npopad');
    expect(m.cpu.regs.u32[0]).toBe(1);
    expect(m.cpu.regs.u32[3]).toBe(2);
    expect(m.cpu.regs.u32[4]).toBe(STACK_TOP);
  });

  it('PUSH ESP pushes the value before the push; POP ESP loads the popped value', () => {
    const m = run('push esp\npop eax\npush 0x5000\npop esp');
    expect(m.cpu.regs.u32[0]).toBe(STACK_TOP);
    expect(m.cpu.regs.u32[4]).toBe(0x5000);
  });

  it('ENTER with nesting level 2 copies the frame pointer and LEAVE undoes it', () => {
    const m = run('mov ebp, 0x7777\nenter 16, 2\nmov eax, ebp\nmov ebx, [ebp-4]\nmov ecx, esp\nleave');
    const frame = STACK_TOP - 4;
    expect(m.cpu.regs.u32[0]).toBe(frame);
    expect(m.cpu.regs.u32[1]).toBe(frame - 8 - 16);
    expect(m.cpu.regs.u32[5]).toBe(0x7777);
    expect(m.cpu.regs.u32[4]).toBe(STACK_TOP);
  });

  it('PUSHF/POPF round-trip the flags', () => {
    const m = run('stc\npushfd\nclc\npopfd\nsetc al');
    expect(m.cpu.regs.r8[0]).toBe(1);
  });

  it('real-mode far CALL and RETF switch CS', () => {
    const m = real16('call far 0x200:0x10\nhlt');
    m.ram.set([0xb8, 0x34, 0x12, 0xcb], 0x2010); // mov ax, 0x1234 ; retf
    runToHlt(m);
    expect(m.cpu.regs.r16[0]).toBe(0x1234);
    expect(m.cpu.segs.selector[1]).toBe(0);
  });

  it('real-mode INT and IRET go through the IVT', () => {
    const m = real16('int 0x21\nhlt');
    m.memory.write16(0x21 * 4, 0x0000);
    m.memory.write16(0x21 * 4 + 2, 0x0300);
    m.ram.set([0xb0, 0x99, 0xcf], 0x3000); // mov al, 0x99 ; iret
    runToHlt(m);
    expect(m.cpu.regs.r8[0]).toBe(0x99);
    expect(m.cpu.regs.r16[8]).toBe(STACK_TOP);
  });
});
