import { describe, expect, it } from 'vitest';
import { flat32 } from '../../test/machine.js';
import { CODE64, long64, reg64, setReg64 } from '../../test/long-machine.js';
import { CpuExit, EFLAGS as F, MAX_MODEL, X86_64_MODEL, Vector } from '../index.js';

const STATUS = F.CF | F.PF | F.AF | F.ZF | F.SF | F.OF;

describe('RDRAND and RDSEED', () => {
  it('set CF and clear OF/SF/ZF/AF/PF; 32-bit destinations zero-extend, 16-bit ones keep bits 63:16', () => {
    for (const op of ['rdrand', 'rdseed']) {
      const m = long64(`${op} eax\n${op} bx\n${op} rcx\nhlt`, { model: MAX_MODEL });
      setReg64(m.cpu, 0, -1n);
      setReg64(m.cpu, 3, 0x1234_5678_9abc_def0n);
      m.cpu.eflags = F.FIXED1 | (STATUS & ~F.CF);
      expect(m.run()).toBe(CpuExit.Hlt);
      expect(m.cpu.eflags & STATUS).toBe(F.CF);
      expect(reg64(m.cpu, 0) >> 32n).toBe(0n);
      expect(reg64(m.cpu, 3) >> 16n).toBe(0x1234_5678_9abcn);
    }
  });

  it('gives values that vary, across pool refills (2,000 64-bit reads: no repeats, all bit positions used)', () => {
    const m = long64('mov ecx, 2000\nl: rdrand rax\nmov [rdi], rax\nadd rdi, 8\ndec ecx\njnz l\nhlt', {
      model: MAX_MODEL,
    });
    setReg64(m.cpu, 7, 0x100000n);
    m.cpu.regs.ip = CODE64;
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    const view = new DataView(m.ram.buffer, m.ram.byteOffset + 0x100000, 16000);
    const seen = new Set<bigint>();
    let or = 0n;
    let and = -1n;
    for (let i = 0; i < 2000; i++) {
      const v = view.getBigUint64(i * 8, true);
      seen.add(v);
      or |= v;
      and &= v;
    }
    expect(seen.size).toBe(2000);
    expect(or).toBe((1n << 64n) - 1n);
    expect(and).toBe(0n);
  });

  it('run in 32-bit protected mode; #UD on a model without the feature', () => {
    const m = flat32('rdrand eax\nhlt', { model: MAX_MODEL });
    expect(m.run()).toBe(CpuExit.Hlt);
    const vectors: number[] = [];
    const n = long64('rdseed eax\nhlt', {
      model: X86_64_MODEL,
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    n.run(5);
    expect(vectors[0]).toBe(Vector.UD);
  });
});
