import { describe, expect, it } from 'vitest';
import { HIGH_ALIAS, long64, reg64, runLong, setReg64 } from '../../test/long-machine.js';
import type { Machine } from '../../test/machine.js';
import { Vector } from '../exceptions.js';
import { EFLAGS } from '../flags.js';
import { NullHooks } from '../hooks.js';
import { Seg } from '../registers.js';

const RAX = 0;
const RCX = 1;
const RSI = 6;
const RDI = 7;
const HIGH = BigInt.asUintN(64, BigInt(HIGH_ALIAS));

function read64(m: Machine, at: number): bigint {
  return (BigInt(m.memory.read32(at + 4)) << 32n) | BigInt(m.memory.read32(at));
}

function write64(m: Machine, at: number, v: bigint): void {
  m.memory.write32(at, Number(v & 0xffffffffn));
  m.memory.write32(at + 4, Number((v >> 32n) & 0xffffffffn));
}

/** A distinct 64-bit pattern per element. */
const pattern = (i: number): bigint => (BigInt(i + 1) << 40n) | BigInt(0x1000 + i * 7);

describe('64-bit string instructions', () => {
  it('REP MOVSQ copies RCX quadwords with 64-bit RSI/RDI, across pages and from the high alias', () => {
    const count = 1000; // 8000 bytes: crosses two page boundaries on each side
    const m = long64('rep movsq\nhlt');
    for (let i = 0; i < count; i++) write64(m, 0x20008 + i * 8, pattern(i));
    setReg64(m.cpu, RSI, HIGH + 0x20008n);
    setReg64(m.cpu, RDI, 0x30010n);
    setReg64(m.cpu, RCX, BigInt(count));
    runLong(m);
    for (let i = 0; i < count; i++) expect(read64(m, 0x30010 + i * 8)).toBe(pattern(i));
    expect(read64(m, 0x30010 + count * 8)).toBe(0n);
    expect(reg64(m.cpu, RCX)).toBe(0n);
    expect(reg64(m.cpu, RSI)).toBe(HIGH + 0x20008n + BigInt(count * 8));
    expect(reg64(m.cpu, RDI)).toBe(0x30010n + BigInt(count * 8));
  });

  it('REP MOVSQ with more than one chunk of iterations completes (restarts between chunks)', () => {
    const count = 9000;
    const m = long64('rep movsq\nhlt');
    for (let i = 0; i < count; i += 97) write64(m, 0x100000 + i * 8, pattern(i));
    setReg64(m.cpu, RSI, 0x100000n);
    setReg64(m.cpu, RDI, 0x180000n);
    setReg64(m.cpu, RCX, BigInt(count));
    runLong(m);
    for (let i = 0; i < count; i += 97) expect(read64(m, 0x180000 + i * 8)).toBe(pattern(i));
    expect(reg64(m.cpu, RCX)).toBe(0n);
  });

  it('REP STOSQ with DF=1 stores RAX downwards and leaves RDI below the block', () => {
    const m = long64('std\nrep stosq\nhlt');
    const value = 0x0123_4567_89ab_cdefn;
    setReg64(m.cpu, RAX, value);
    setReg64(m.cpu, RDI, BigInt(0x5000 + 8 * 9));
    setReg64(m.cpu, RCX, 10n);
    runLong(m);
    for (let i = 0; i < 10; i++) expect(read64(m, 0x5000 + i * 8)).toBe(value);
    expect(read64(m, 0x5000 - 8)).toBe(0n);
    expect(read64(m, 0x5000 + 80)).toBe(0n);
    expect(reg64(m.cpu, RDI)).toBe(BigInt(0x5000 - 8));
    expect(reg64(m.cpu, RCX)).toBe(0n);
    expect(m.cpu.eflags & EFLAGS.DF).toBe(EFLAGS.DF);
  });

  it('REP STOSQ forward fills with equal and unequal RAX halves', () => {
    for (const value of [0n, 0x1111_2222_3333_4444n, 0xabab_abab_abab_ababn]) {
      const m = long64('rep stosq\nhlt');
      setReg64(m.cpu, RAX, value);
      setReg64(m.cpu, RDI, 0x5ff8n);
      setReg64(m.cpu, RCX, 600n);
      for (let i = -1; i <= 600; i++) write64(m, 0x5ff8 + i * 8, 0x5a5a_5a5a_5a5a_5a5an);
      runLong(m);
      for (let i = 0; i < 600; i++) expect(read64(m, 0x5ff8 + i * 8)).toBe(value);
      expect(read64(m, 0x5ff8 - 8)).toBe(0x5a5a_5a5a_5a5a_5a5an);
      expect(read64(m, 0x5ff8 + 600 * 8)).toBe(0x5a5a_5a5a_5a5a_5a5an);
      expect(reg64(m.cpu, RDI)).toBe(0x5ff8n + 4800n);
    }
  });

  it('REPE CMPSQ stops at the first difference; REPNE SCASQ at the first match', () => {
    const m = long64(
      'repe cmpsq\nmov r8, rcx\nmov r9, rsi\nmov rsi, rdi\nmov rcx, 100\nmov rdi, 0x4000\nrepne scasq\nhlt',
    );
    for (let i = 0; i < 10; i++) {
      write64(m, 0x3000 + i * 8, pattern(i));
      write64(m, 0x4000 + i * 8, i === 6 ? 0n : pattern(i));
    }
    setReg64(m.cpu, RSI, 0x3000n);
    setReg64(m.cpu, RDI, 0x4000n);
    setReg64(m.cpu, RCX, 10n);
    setReg64(m.cpu, RAX, pattern(4));
    runLong(m);
    expect(reg64(m.cpu, 8)).toBe(3n);
    expect(reg64(m.cpu, 9)).toBe(0x3000n + 7n * 8n);
    expect(reg64(m.cpu, RDI)).toBe(0x4000n + 5n * 8n);
    expect(reg64(m.cpu, RCX)).toBe(95n);
    expect(m.cpu.eflags & EFLAGS.ZF).toBe(EFLAGS.ZF);
  });

  it('CMPSQ sets CF/SF/OF from the 64-bit difference', () => {
    const m = long64('cmpsq\nhlt');
    write64(m, 0x3000, 0x8000_0000_0000_0000n);
    write64(m, 0x4000, 1n);
    setReg64(m.cpu, RSI, 0x3000n);
    setReg64(m.cpu, RDI, 0x4000n);
    runLong(m);
    // 0x8000... - 1 = 0x7fff...: no borrow, signed overflow, positive.
    expect(m.cpu.eflags & (EFLAGS.CF | EFLAGS.OF | EFLAGS.SF | EFLAGS.ZF)).toBe(EFLAGS.OF);
  });

  it('REPNE SCASB decrements all 64 bits of RCX', () => {
    const m = long64('repne scasb\nhlt');
    m.memory.write8(0x4000, 0x42);
    setReg64(m.cpu, RAX, 0x42n);
    setReg64(m.cpu, RDI, 0x4000n);
    setReg64(m.cpu, RCX, 0x1_0000_0000n);
    runLong(m);
    expect(reg64(m.cpu, RCX)).toBe(0xffff_ffffn);
    expect(reg64(m.cpu, RDI)).toBe(0x4001n);
  });

  it('LODSQ loads RAX; LODSD zero-extends into RAX; LODSW keeps the upper bits', () => {
    const m = long64('lodsq\nmov r8, rax\nlodsd\nmov r9, rax\nlodsw\nhlt');
    write64(m, 0x3000, 0x1122_3344_5566_7788n);
    write64(m, 0x3008, 0xaabb_ccddn);
    m.memory.write16(0x300c, 0xeeff);
    setReg64(m.cpu, RSI, 0x3000n);
    runLong(m);
    expect(reg64(m.cpu, 8)).toBe(0x1122_3344_5566_7788n);
    expect(reg64(m.cpu, 9)).toBe(0xaabb_ccddn);
    expect(reg64(m.cpu, RAX)).toBe(0xaabb_eeffn);
    expect(reg64(m.cpu, RSI)).toBe(0x300en);
  });

  it('67h REP MOVSD uses ESI/EDI/ECX and zero-extends them', () => {
    const m = long64('db 0x67\nrep movsd\nhlt');
    for (let i = 0; i < 4; i++) m.memory.write32(0x3000 + i * 4, 0x1000 + i);
    setReg64(m.cpu, RSI, 0xffff_ffff_0000_3000n);
    setReg64(m.cpu, RDI, 0x1234_0000_0000_4000n);
    setReg64(m.cpu, RCX, 0x5555_0000_0000_0004n);
    runLong(m);
    for (let i = 0; i < 4; i++) expect(m.memory.read32(0x4000 + i * 4)).toBe(0x1000 + i);
    expect(reg64(m.cpu, RSI)).toBe(0x3010n);
    expect(reg64(m.cpu, RDI)).toBe(0x4010n);
    expect(reg64(m.cpu, RCX)).toBe(0n);
  });

  it('67h STOSQ one element at a time with DF=1 wraps nothing and zero-extends EDI', () => {
    const m = long64('std\ndb 0x67\nstosq\nhlt');
    setReg64(m.cpu, RAX, 0x0102_0304_0506_0708n);
    setReg64(m.cpu, RDI, 0xffff_0000_0000_4000n);
    runLong(m);
    expect(read64(m, 0x4000)).toBe(0x0102_0304_0506_0708n);
    expect(reg64(m.cpu, RDI)).toBe(0x3ff8n);
  });

  it('an FS override adds the 64-bit FS base to RSI; ES:RDI ignores overrides', () => {
    const m = long64('db 0x64\nlodsq\ndb 0x64\nmovsq\nhlt');
    m.cpu.segs.setBase64(Seg.FS, HIGH_ALIAS + 0x3000);
    write64(m, 0x3010, 0x5151_5151_5252_5252n);
    write64(m, 0x3018, 0x7777_6666_5555_4444n);
    setReg64(m.cpu, RSI, 0x10n);
    setReg64(m.cpu, RDI, 0x6000n);
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(0x5151_5151_5252_5252n);
    expect(read64(m, 0x6000)).toBe(0x7777_6666_5555_4444n);
  });

  it('REP OUTSB reads from RSI at the high alias; REP INSW writes to RDI; 67h uses ESI', () => {
    const out: number[] = [];
    class Ports extends NullHooks {
      override portIn(port: number, size: 1 | 2 | 4): number {
        return port === 0x60 && size === 2 ? 0xbeef : 0;
      }
      override portOut(port: number, size: 1 | 2 | 4, value: number): number {
        if (port === 0x60 && size === 1) out.push(value);
        return 0;
      }
    }
    const m = long64('rep outsb\nmov rcx, 2\nrep insw\ndb 0x67\noutsb\nhlt', { hooks: new Ports() });
    m.cpu.regs.r16[4] = 0x60;
    m.ram.set([1, 2, 3], 0x3000);
    m.ram.set([9], 0x3100);
    setReg64(m.cpu, RSI, HIGH + 0x3000n);
    setReg64(m.cpu, RDI, 0x4000n);
    setReg64(m.cpu, RCX, 3n);
    runLong(m);
    expect(out.slice(0, 3)).toEqual([1, 2, 3]);
    expect(m.memory.read32(0x4000)).toBe(0xbeefbeef);
    expect(reg64(m.cpu, RDI)).toBe(0x4004n);
    // 67h OUTSB: ESI = 0x3003 (the low half of HIGH + 0x3003), RSI zero-extended after.
    expect(out[3]).toBe(0);
    expect(reg64(m.cpu, RSI)).toBe(0x3004n);
  });

  it('a non-canonical RSI raises #GP(0) with nothing changed', () => {
    const seen: number[] = [];
    const m = long64('rep movsq\nhlt', { events: { delivered: (_k, v) => seen.push(v) } });
    setReg64(m.cpu, RSI, 0x0000_8000_0000_0000n);
    setReg64(m.cpu, RDI, 0x4000n);
    setReg64(m.cpu, RCX, 3n);
    m.run(1);
    expect(seen[0]).toBe(Vector.GP);
    expect(reg64(m.cpu, RCX)).toBe(3n);
    expect(reg64(m.cpu, RDI)).toBe(0x4000n);
  });
});
