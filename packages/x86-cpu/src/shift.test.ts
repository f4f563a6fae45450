import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { EFLAGS as F } from './index.js';

function run(source: string) {
  const m = flat32(`${source}\nhlt`);
  runToHlt(m);
  return m.cpu;
}

describe('shifts and rotates', () => {
  it('SHL by 1 puts the last bit out in CF and sets OF = MSB xor CF', () => {
    const cpu = run('mov al, 0x81\nshl al, 1');
    expect(cpu.regs.r8[0]).toBe(0x02);
    expect(cpu.eflags & (F.CF | F.OF | F.ZF)).toBe(F.CF | F.OF);
  });

  it('masks the count to 5 bits: a count of 32 changes nothing, flags included', () => {
    const cpu = run('mov eax, 0x1234\nmov cl, 32\nstc\nshl eax, cl');
    expect(cpu.regs.u32[0]).toBe(0x1234);
    expect(cpu.eflags & F.CF).toBe(F.CF);
  });

  it('SHR of a byte by more than its width gives 0 with CF 0', () => {
    const cpu = run('mov bl, 0xff\nmov cl, 9\nshr bl, cl');
    expect(cpu.regs.r8[12]).toBe(0);
    expect(cpu.eflags & (F.CF | F.ZF)).toBe(F.ZF);
  });

  it('SAR keeps the sign and shifts the low bit into CF', () => {
    const cpu = run('mov eax, 0x80000003\nsar eax, 1');
    expect(cpu.regs.u32[0]).toBe(0xc0000001);
    expect(cpu.eflags & (F.CF | F.SF | F.OF)).toBe(F.CF | F.SF);
  });

  it('ROL moves the top bit to bit 0 and CF without touching ZF', () => {
    const cpu = run('xor edx, edx\nmov dx, 0x8001\nrol dx, 1');
    expect(cpu.regs.r16[4]).toBe(0x0003);
    expect(cpu.eflags & (F.CF | F.ZF)).toBe(F.CF | F.ZF);
  });

  it('ROR by 4 swaps nibbles of a byte', () => {
    const cpu = run('mov al, 0x1e\nror al, 4');
    expect(cpu.regs.r8[0]).toBe(0xe1);
    expect(cpu.eflags & F.CF).toBe(F.CF);
  });

  it('RCL rotates through CF (9-bit rotation for bytes)', () => {
    const cpu = run('stc\nmov al, 0x80\nrcl al, 1');
    expect(cpu.regs.r8[0]).toBe(0x01);
    expect(cpu.eflags & F.CF).toBe(F.CF);
  });

  it('RCR by 9 on a byte is the identity', () => {
    const cpu = run('clc\nmov al, 0x5a\nmov cl, 9\nrcr al, cl');
    expect(cpu.regs.r8[0]).toBe(0x5a);
    expect(cpu.eflags & F.CF).toBe(0);
  });

  it('SHLD shifts bits in from the source register', () => {
    const cpu = run('mov eax, 0x12345678\nmov ebx, 0x9abcdef0\nshld eax, ebx, 8');
    expect(cpu.regs.u32[0]).toBe(0x3456789a);
  });

  it('SHRD by CL shifts bits in from the top', () => {
    const cpu = run('mov eax, 0x12345678\nmov ebx, 0x9abcdef0\nmov cl, 12\nshrd eax, ebx, cl');
    expect(cpu.regs.u32[0]).toBe(0xef012345);
    // CF is the last bit shifted out of the destination: bit 11 of 0x12345678.
    expect(cpu.eflags & F.CF).toBe(0);
  });
});
