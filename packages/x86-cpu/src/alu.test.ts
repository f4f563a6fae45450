import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { EFLAGS } from './index.js';

const F = EFLAGS;
const STATUS = F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF;

/** Runs `source` (ending in hlt) in flat 32-bit mode and returns the CPU. */
function run(source: string) {
  const m = flat32(`${source}\nhlt`);
  runToHlt(m);
  return m.cpu;
}

describe('ALU flags', () => {
  it('ADD sets CF, ZF, AF and PF on unsigned wrap to zero', () => {
    const cpu = run('mov eax, 0xffffffff\nadd eax, 1');
    expect(cpu.regs.u32[0]).toBe(0);
    expect(cpu.eflags & STATUS).toBe(F.CF | F.ZF | F.AF | F.PF);
  });

  it('ADD sets OF and SF on signed overflow', () => {
    const cpu = run('mov eax, 0x7fffffff\nadd eax, 1');
    expect(cpu.regs.u32[0]).toBe(0x80000000);
    expect(cpu.eflags & STATUS).toBe(F.OF | F.SF | F.AF | F.PF);
  });

  it('ADC adds the carry and reports the carry out even when the sum equals the destination', () => {
    const cpu = run('stc\nmov al, 0xff\nmov bl, 0xff\nadc al, bl');
    expect(cpu.regs.r8[0]).toBe(0xff);
    expect(cpu.eflags & F.CF).toBe(F.CF);
  });

  it('SUB borrows: 0 - 1 gives FFFF with CF, SF, AF, PF', () => {
    const cpu = run('xor ecx, ecx\nsub cx, 1');
    expect(cpu.regs.r16[2]).toBe(0xffff);
    expect(cpu.eflags & STATUS).toBe(F.CF | F.SF | F.AF | F.PF);
  });

  it('SBB with borrow-in computes dst - src - 1', () => {
    const cpu = run('stc\nmov eax, 5\nsbb eax, 5');
    expect(cpu.regs.u32[0]).toBe(0xffffffff);
    expect(cpu.eflags & (F.CF | F.ZF | F.SF)).toBe(F.CF | F.SF);
  });

  it('CMP leaves the operand and sets ZF for equal values', () => {
    const cpu = run('mov edx, 1234\ncmp edx, 1234');
    expect(cpu.regs.u32[2]).toBe(1234);
    expect(cpu.eflags & STATUS).toBe(F.ZF | F.PF);
  });

  it('logic ops clear CF and OF and AF', () => {
    const cpu = run('stc\nmov eax, 0xf0\nand eax, 0x0f');
    expect(cpu.eflags & STATUS).toBe(F.ZF | F.PF);
  });

  it('INC keeps CF and sets OF at 0x7f', () => {
    const cpu = run('stc\nmov al, 0x7f\ninc al');
    expect(cpu.regs.r8[0]).toBe(0x80);
    expect(cpu.eflags & STATUS).toBe(F.CF | F.OF | F.SF | F.AF);
  });

  it('DEC keeps CF and sets ZF at 1', () => {
    const cpu = run('clc\nmov ebx, 1\ndec ebx');
    expect(cpu.eflags & STATUS).toBe(F.ZF | F.PF);
  });

  it('NEG sets CF for a non-zero operand and OF for the minimum value', () => {
    const cpu = run('mov al, 0x80\nneg al');
    expect(cpu.regs.r8[0]).toBe(0x80);
    expect(cpu.eflags & (F.CF | F.OF)).toBe(F.CF | F.OF);
  });

  it('operates on memory operands with read-modify-write', () => {
    const m = flat32('mov dword [0x3000], 40\nadd dword [0x3000], 2\nhlt');
    runToHlt(m);
    expect(m.memory.read32(0x3000)).toBe(42);
  });

  it('writes AH without touching AL', () => {
    const cpu = run('mov eax, 0x11223344\nmov ah, 0x99');
    expect(cpu.regs.u32[0]).toBe(0x11229944);
  });
});
