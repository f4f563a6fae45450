import { describe, expect, it } from 'vitest';
import { long64, reg64, runLong, setReg64 } from '../test/long-machine.js';
import { Vector } from './exceptions.js';

describe('IA-32e mode core', () => {
  it('decodes and runs 64-bit code: a 32-bit operation zero-extends into the 64-bit register', () => {
    const m = long64('mov eax, 5\nadd eax, 3\nhlt');
    setReg64(m.cpu, 0, 0xffff_ffff_0000_0000n);
    runLong(m);
    expect(m.cpu.bitness).toBe(64);
    expect(reg64(m.cpu, 0)).toBe(8n);
  });

  it('8- and 16-bit operations keep the upper bits; REX selects R8..R15 and SIL', () => {
    const m = long64('mov ax, 0x1234\nmov sil, 0x56\nmov r9d, 7\nhlt');
    setReg64(m.cpu, 0, 0x1111_2222_3333_4444n);
    setReg64(m.cpu, 6, 0xaaaa_bbbb_cccc_dd00n);
    setReg64(m.cpu, 9, -1n);
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(0x1111_2222_3333_1234n);
    expect(reg64(m.cpu, 6)).toBe(0xaaaa_bbbb_cccc_dd56n);
    expect(reg64(m.cpu, 9)).toBe(7n);
  });

  it('memory operands use 64-bit addresses: high canonical alias, RIP-relative, 32-bit address size', () => {
    const m = long64(
      ['xor ebx, ebx', 'mov eax, [rip + data]', 'mov ecx, [ebx + data]', 'hlt', 'data: dd 0x11223344'].join(
        '\n',
      ),
    );
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(0x11223344n);
    expect(reg64(m.cpu, 1)).toBe(0x11223344n);
  });

  it('a non-canonical memory reference raises #GP(0); through RSP/RBP it raises #SS(0)', () => {
    const vectors: number[] = [];
    const gp = long64('mov eax, [rbx]\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    setReg64(gp.cpu, 3, 0x0000_8000_0000_0000n);
    gp.run(1);
    expect(vectors[0]).toBe(Vector.GP);
    const ss: number[] = [];
    const m = long64('mov eax, [rbp]\nhlt', { events: { delivered: (_k, v) => ss.push(v) } });
    setReg64(m.cpu, 5, 0x0000_8000_0000_0000n);
    m.run(1);
    expect(ss[0]).toBe(Vector.SS);
  });

  it('the same physical memory is read through the high canonical alias 0xFFFF_8000_0000_0000', () => {
    const m = long64('mov eax, [rbx + 0x2000]\nhlt');
    m.memory.write32(0x2000, 0xcafe);
    setReg64(m.cpu, 3, 0xffff_8000_0000_0000n);
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(0xcafen);
  });
});
