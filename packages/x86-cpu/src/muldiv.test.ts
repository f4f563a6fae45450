import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { EFLAGS as F, Vector } from './index.js';

function run(source: string) {
  const m = flat32(`${source}\nhlt`);
  runToHlt(m);
  return m.cpu;
}

describe('multiply and divide', () => {
  it('MUL r32 produces the full 64-bit product in EDX:EAX and sets CF/OF', () => {
    const cpu = run('mov eax, 0xffffffff\nmov ecx, 0xffffffff\nmul ecx');
    expect(cpu.regs.u32[0]).toBe(1);
    expect(cpu.regs.u32[2]).toBe(0xfffffffe);
    expect(cpu.eflags & (F.CF | F.OF)).toBe(F.CF | F.OF);
  });

  it('IMUL r32 sign-extends the product and clears CF/OF when it fits', () => {
    const cpu = run('mov eax, -7\nmov ecx, 6\nimul ecx');
    expect(cpu.regs.r32[0]).toBe(-42);
    expect(cpu.regs.r32[2]).toBe(-1);
    expect(cpu.eflags & (F.CF | F.OF)).toBe(0);
  });

  it('IMUL r, r/m, imm truncates and reports overflow', () => {
    const cpu = run('mov ebx, 0x40000000\nimul eax, ebx, 4');
    expect(cpu.regs.u32[0]).toBe(0);
    expect(cpu.eflags & (F.CF | F.OF)).toBe(F.CF | F.OF);
  });

  it('DIV r32 divides EDX:EAX exactly for a 64-bit dividend', () => {
    const cpu = run('mov edx, 0x12345\nmov eax, 0x6789abcd\nmov ecx, 0xfedcba98\ndiv ecx');
    const dividend = 0x12345n * 2n ** 32n + 0x6789abcdn;
    expect(cpu.regs.u32[0]).toBe(Number(dividend / 0xfedcba98n));
    expect(cpu.regs.u32[2]).toBe(Number(dividend % 0xfedcba98n));
  });

  it('IDIV rounds toward zero with the remainder taking the dividend sign', () => {
    const cpu = run('mov eax, -7\ncdq\nmov ecx, 2\nidiv ecx');
    expect(cpu.regs.r32[0]).toBe(-3);
    expect(cpu.regs.r32[2]).toBe(-1);
  });

  it('IDIV r8 allows a quotient of -128', () => {
    const cpu = run('mov ax, -256\nmov cl, 2\nidiv cl');
    expect(cpu.regs.r8[0]).toBe(0x80);
  });

  it('DIV by zero raises #DE with EIP at the DIV', () => {
    const vectors: number[] = [];
    const m = flat32('xor ecx, ecx\ndiv ecx\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    m.run(3);
    expect(vectors[0]).toBe(Vector.DE);
  });

  it('DIV whose quotient overflows raises #DE', () => {
    const vectors: number[] = [];
    const m = flat32('mov edx, 2\nmov eax, 0\nmov ecx, 2\ndiv ecx\nhlt', {
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    m.run(5);
    expect(vectors[0]).toBe(Vector.DE);
  });
});
