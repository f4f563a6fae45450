import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODE64, long64, reg64, runLong, setReg64 } from '../../test/long-machine.js';
import type { Machine } from '../../test/machine.js';
import { Vector } from '../exceptions.js';
import { EFLAGS } from '../flags.js';

const M64 = (1n << 64n) - 1n;
const u64 = fc.bigInt({ min: 0n, max: M64 });
const RAX = 0;
const RCX = 1;
const RDX = 2;
const RBX = 3;
const RSI = 6;
const RDI = 7;

/** Re-runs the machine's program from the start (the decoded code is reused). */
function rerun(m: Machine): void {
  m.cpu.regs.ip = CODE64;
  m.cpu.halted = false;
  runLong(m);
}

function read64(m: Machine, at: number): bigint {
  return (BigInt(m.memory.read32(at + 4)) << 32n) | BigInt(m.memory.read32(at));
}

function write64(m: Machine, at: number, v: bigint): void {
  m.memory.write32(at, Number(v & 0xffffffffn));
  m.memory.write32(at + 4, Number((v >> 32n) & 0xffffffffn));
}

const sx32 = (v: bigint): bigint => BigInt.asUintN(64, BigInt.asIntN(32, v));

/** The six status flags of the 64-bit `a - b` (or `a + b`), computed with BigInt. */
function flags64(a: bigint, b: bigint, add: boolean): number {
  const r = BigInt.asUintN(64, add ? a + b : a - b);
  const sa = a >> 63n;
  const sb = b >> 63n;
  const sr = r >> 63n;
  const cf = add ? a + b > M64 : a < b;
  const of = add ? sa === sb && sr !== sa : sa !== sb && sr !== sa;
  let low = Number(r & 0xffn);
  let ones = 0;
  while (low) {
    ones += low & 1;
    low >>= 1;
  }
  return (
    (cf ? EFLAGS.CF : 0) |
    (ones % 2 === 0 ? EFLAGS.PF : 0) |
    (((a ^ b ^ r) & 0x10n) !== 0n ? EFLAGS.AF : 0) |
    (r === 0n ? EFLAGS.ZF : 0) |
    (sr ? EFLAGS.SF : 0) |
    (of ? EFLAGS.OF : 0)
  );
}
const STATUS = 0x8d5;

describe('64-bit MOV forms', () => {
  it('MOV r64, imm64 loads all 64 bits; MOV r/m64, imm32 sign-extends', () => {
    const m = long64(
      ['mov rax, 0x123456789abcdef0', 'mov qword [rbx], -5', 'mov rcx, [rbx]', 'mov r9, rax', 'hlt'].join(
        '\n',
      ),
    );
    setReg64(m.cpu, RBX, 0x3000n);
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(0x123456789abcdef0n);
    expect(read64(m, 0x3000)).toBe(M64 - 4n);
    expect(reg64(m.cpu, RCX)).toBe(M64 - 4n);
    expect(reg64(m.cpu, 9)).toBe(0x123456789abcdef0n);
  });

  it('MOV RAX, moffs64 and moffs64, RAX use the 8-byte absolute address (high canonical alias)', () => {
    // 48 A1 / 48 A3 with the 64-bit offset 0xFFFF_8000_0000_3000 (the same RAM as 0x3000).
    const m = long64(
      [
        'db 0x48, 0xa1',
        'dq 0xffff800000003000',
        'db 0x48, 0xa3',
        'dq 0x0000000000003008',
        'db 0xa0',
        'dq 0xffff800000003001',
        'hlt',
      ].join('\n'),
    );
    write64(m, 0x3000, 0x1122334455667788n);
    runLong(m);
    expect(read64(m, 0x3008)).toBe(0x1122334455667788n);
    expect(reg64(m.cpu, RAX)).toBe(0x1122334455667777n);
  });

  it('MOV r64, Sreg zero-extends the selector; MOV Sreg, r64 loads it', () => {
    const m = long64(['mov rax, cs', 'mov rcx, 0x10', 'mov es, rcx', 'mov rdx, es', 'hlt'].join('\n'));
    setReg64(m.cpu, RAX, M64);
    setReg64(m.cpu, RDX, M64);
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(0x08n);
    expect(reg64(m.cpu, RDX)).toBe(0x10n);
  });

  it('MOVSXD r64 sign-extends; MOVSXD r32 zero-extends; MOVZX/MOVSX r64 extend bytes and words', () => {
    fc.assert(
      fc.property(u64, u64, (a, old) => {
        const m = machine('movsxd', [
          'movsxd rax, ecx',
          'db 0x63, 0xd1', // movsxd edx, ecx
          'movzx rbx, cl',
          'movsx rsi, cx',
          'movsx rdi, cl',
          'movzx r8, cx',
          'hlt',
        ]);
        for (const r of [RAX, RDX, RBX, RSI, RDI, 8]) setReg64(m.cpu, r, old);
        setReg64(m.cpu, RCX, a);
        rerun(m);
        expect(reg64(m.cpu, RAX)).toBe(sx32(a & 0xffffffffn));
        expect(reg64(m.cpu, RDX)).toBe(a & 0xffffffffn);
        expect(reg64(m.cpu, RBX)).toBe(a & 0xffn);
        expect(reg64(m.cpu, RSI)).toBe(BigInt.asUintN(64, BigInt.asIntN(16, a)));
        expect(reg64(m.cpu, RDI)).toBe(BigInt.asUintN(64, BigInt.asIntN(8, a)));
        expect(reg64(m.cpu, 8)).toBe(a & 0xffffn);
      }),
    );
  });

  it('LEA r64 computes any 64-bit sum without a canonical check; LEA r32 and 67h truncate', () => {
    const m = long64(
      [
        'lea rax, [rbx+rcx*8+0x10]',
        'lea edx, [rbx+rcx*8+0x10]',
        'db 0x67, 0x48, 0x8d, 0x74, 0xcb, 0x10', // lea rsi, [ebx+ecx*8+0x10]
        'lea rdi, [rip + tail]',
        'tail: hlt',
      ].join('\n'),
    );
    setReg64(m.cpu, RBX, 0x7fff_ffff_ffff_fff0n);
    setReg64(m.cpu, RCX, 0x1_0000_0001n);
    runLong(m);
    const sum = BigInt.asUintN(64, 0x7fff_ffff_ffff_fff0n + 0x1_0000_0001n * 8n + 0x10n);
    expect(reg64(m.cpu, RAX)).toBe(sum);
    expect(reg64(m.cpu, RDX)).toBe(sum & 0xffffffffn);
    expect(reg64(m.cpu, RSI)).toBe(sum & 0xffffffffn);
    expect(reg64(m.cpu, RDI)).toBe(BigInt(CODE64 + 5 + 4 + 6 + 7));
  });

  it('XCHG r64 forms: 90+r with REX.B exchanges R8 and RAX, XCHG with memory swaps 8 bytes', () => {
    const m = long64(['xchg r8, rax', 'xchg [rbx], rcx', 'nop', 'hlt'].join('\n'));
    setReg64(m.cpu, RAX, 0x1111_2222_3333_4444n);
    setReg64(m.cpu, 8, 0xaaaa_bbbb_cccc_ddddn);
    setReg64(m.cpu, RBX, 0x3000n);
    setReg64(m.cpu, RCX, 0x5555_6666_7777_8888n);
    write64(m, 0x3000, 0x9999_0000_9999_0000n);
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(0xaaaa_bbbb_cccc_ddddn);
    expect(reg64(m.cpu, 8)).toBe(0x1111_2222_3333_4444n);
    expect(reg64(m.cpu, RCX)).toBe(0x9999_0000_9999_0000n);
    expect(read64(m, 0x3000)).toBe(0x5555_6666_7777_8888n);
  });

  it('BSWAP r64 reverses the eight bytes', () => {
    fc.assert(
      fc.property(u64, (a) => {
        const m = machine('bswap', ['bswap r10', 'hlt']);
        setReg64(m.cpu, 10, a);
        rerun(m);
        let want = 0n;
        for (let i = 0n; i < 8n; i++) want |= ((a >> (i * 8n)) & 0xffn) << ((7n - i) * 8n);
        expect(reg64(m.cpu, 10)).toBe(want);
      }),
    );
  });

  it('CDQE/CQO/CWDE/CDQ: 32-bit results zero-extend', () => {
    fc.assert(
      fc.property(u64, u64, (a, d) => {
        const m = machine('cdqe', [
          'mov r8, rax',
          'cdqe',
          'mov r9, rax',
          'cqo',
          'mov r10, rdx',
          'mov rax, r8',
          'cwde',
          'cdq',
          'hlt',
        ]);
        setReg64(m.cpu, RAX, a);
        setReg64(m.cpu, RDX, d);
        rerun(m);
        const cdqe = sx32(a & 0xffffffffn);
        expect(reg64(m.cpu, 9)).toBe(cdqe);
        expect(reg64(m.cpu, 10)).toBe(cdqe >> 63n ? M64 : 0n);
        const cwde = BigInt.asUintN(32, BigInt.asIntN(16, a));
        expect(reg64(m.cpu, RAX)).toBe(cwde);
        expect(reg64(m.cpu, RDX)).toBe(cwde >> 31n ? 0xffffffffn : 0n);
      }),
    );
  });
});

/** One machine per program, reused across property runs. */
const machines = new Map<string, Machine>();
function machine(key: string, lines: string[]): Machine {
  let m = machines.get(key);
  if (m === undefined) {
    m = long64(lines.join('\n'));
    machines.set(key, m);
  }
  return m;
}

describe('32-bit data forms in 64-bit mode', () => {
  it('XADD r32 with one register keeps the sum; XCHG r32 zero-extends; XLAT uses all of RBX', () => {
    const m = long64(['xadd eax, eax', 'xchg ecx, r8d', 'db 0xd7', 'hlt'].join('\n'));
    setReg64(m.cpu, RAX, 0xffff_ffff_0000_0003n);
    setReg64(m.cpu, RCX, 0xaaaa_aaaa_0000_0001n);
    setReg64(m.cpu, 8, 0xbbbb_bbbb_0000_0002n);
    setReg64(m.cpu, RBX, 0xffff_8000_0000_3000n);
    m.memory.write8(0x3006, 0x77);
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(0x77n);
    expect(reg64(m.cpu, RCX)).toBe(2n);
    expect(reg64(m.cpu, 8)).toBe(1n);
  });
});

describe('LAHF/SAHF in 64-bit mode (LAHF_LM)', () => {
  it('SAHF loads SF/ZF/AF/PF/CF from AH; LAHF stores them with bit 1 set', () => {
    const m = long64(['sahf', 'mov ah, 0', 'lahf', 'hlt'].join('\n'));
    setReg64(m.cpu, RAX, 0xffff_ffff_ffff_d500n);
    runLong(m);
    expect(m.cpu.eflags & STATUS).toBe(0xd5);
    expect(reg64(m.cpu, RAX)).toBe(0xffff_ffff_ffff_d700n);
  });
});

describe('64-bit CMPXCHG, CMPXCHG16B, XADD, CMOVcc', () => {
  it('CMPXCHG r/m64: RAX against the destination, flags of RAX - dest', () => {
    fc.assert(
      fc.property(u64, u64, u64, fc.boolean(), (acc, dst, src, same) => {
        const m = machine('cmpxchg', ['cmpxchg [rbx], rcx', 'pushfq', 'pop r11', 'cmpxchg rdx, rcx', 'hlt']);
        const d = same ? acc : dst;
        setReg64(m.cpu, RAX, acc);
        setReg64(m.cpu, RBX, 0x3000n);
        setReg64(m.cpu, RCX, src);
        setReg64(m.cpu, RDX, d);
        m.cpu.regs.r32[4] = 0x9000;
        write64(m, 0x3000, d);
        rerun(m);
        expect(read64(m, 0x3000)).toBe(acc === d ? src : d);
        expect(Number(reg64(m.cpu, 11)) & STATUS).toBe(flags64(acc, d, false));
        // The second CMPXCHG compares the (possibly reloaded) RAX with RDX = d: always equal.
        expect(reg64(m.cpu, RAX)).toBe(d);
        expect(reg64(m.cpu, RDX)).toBe(src);
      }),
    );
  });

  it('CMPXCHG r32 in 64-bit mode: a failed compare leaves the destination register whole, loads EAX zero-extended', () => {
    const m = long64(['cmpxchg edx, ecx', 'hlt'].join('\n'));
    setReg64(m.cpu, RAX, 0xffff_ffff_0000_0001n);
    setReg64(m.cpu, RDX, 0xaaaa_aaaa_0000_0002n);
    runLong(m);
    expect(reg64(m.cpu, RDX)).toBe(0xaaaa_aaaa_0000_0002n);
    expect(reg64(m.cpu, RAX)).toBe(2n);
    const ok = long64(['cmpxchg edx, ecx', 'hlt'].join('\n'));
    setReg64(ok.cpu, RAX, 0xffff_ffff_0000_0002n);
    setReg64(ok.cpu, RDX, 0xaaaa_aaaa_0000_0002n);
    setReg64(ok.cpu, RCX, 0xbbbb_bbbb_0000_0003n);
    runLong(ok);
    expect(reg64(ok.cpu, RDX)).toBe(3n);
    expect(reg64(ok.cpu, RAX)).toBe(0xffff_ffff_0000_0002n);
  });

  it('CMPXCHG16B: RDX:RAX against m128, RCX:RBX stored when equal, the old value loaded when not', () => {
    fc.assert(
      fc.property(u64, u64, u64, u64, fc.boolean(), (lo, hi, newLo, newHi, equal) => {
        const m = machine('cx16', ['cmpxchg16b [rdi]', 'hlt']);
        setReg64(m.cpu, RDI, 0x3010n);
        write64(m, 0x3010, lo);
        write64(m, 0x3018, hi);
        setReg64(m.cpu, RAX, equal ? lo : lo ^ 1n);
        setReg64(m.cpu, RDX, hi);
        setReg64(m.cpu, RBX, newLo);
        setReg64(m.cpu, RCX, newHi);
        rerun(m);
        expect((m.cpu.eflags & EFLAGS.ZF) !== 0).toBe(equal);
        expect(read64(m, 0x3010)).toBe(equal ? newLo : lo);
        expect(read64(m, 0x3018)).toBe(equal ? newHi : hi);
        expect(reg64(m.cpu, RAX)).toBe(lo);
        expect(reg64(m.cpu, RDX)).toBe(hi);
      }),
    );
  });

  it('CMPXCHG16B raises #GP(0) on an operand not aligned to 16 bytes', () => {
    const seen: number[] = [];
    const m = long64('cmpxchg16b [rdi]\nhlt', { events: { delivered: (_k, v) => seen.push(v) } });
    setReg64(m.cpu, RDI, 0x3008n);
    write64(m, 0x3008, 0n);
    m.run(1);
    expect(seen[0]).toBe(Vector.GP);
    expect(read64(m, 0x3008)).toBe(0n);
  });

  it('XADD r/m64: destination gets the sum, source the old destination, flags of the add', () => {
    fc.assert(
      fc.property(u64, u64, (d, s) => {
        const m = machine('xadd', ['xadd [rbx], rcx', 'pushfq', 'pop r11', 'xadd rdx, rdx', 'hlt']);
        setReg64(m.cpu, RBX, 0x3000n);
        setReg64(m.cpu, RCX, s);
        setReg64(m.cpu, RDX, d);
        m.cpu.regs.r32[4] = 0x9000;
        write64(m, 0x3000, d);
        rerun(m);
        expect(read64(m, 0x3000)).toBe(BigInt.asUintN(64, d + s));
        expect(reg64(m.cpu, RCX)).toBe(d);
        expect(Number(reg64(m.cpu, 11)) & STATUS).toBe(flags64(d, s, true));
        // XADD with one register: the sum wins.
        expect(reg64(m.cpu, RDX)).toBe(BigInt.asUintN(64, d + d));
      }),
    );
  });

  it('CMOVcc r64 moves on the condition; CMOVcc r32 zero-extends even when false', () => {
    fc.assert(
      fc.property(fc.boolean(), u64, u64, (cf, x, y) => {
        const m = machine('cmov', ['cmovb rcx, rdx', 'cmovb esi, edi', 'hlt']);
        m.cpu.eflags = EFLAGS.FIXED1 | (cf ? EFLAGS.CF : 0);
        setReg64(m.cpu, RCX, x);
        setReg64(m.cpu, RDX, y);
        setReg64(m.cpu, RSI, x);
        setReg64(m.cpu, RDI, y);
        rerun(m);
        expect(reg64(m.cpu, RCX)).toBe(cf ? y : x);
        expect(reg64(m.cpu, RSI)).toBe((cf ? y : x) & 0xffffffffn);
      }),
    );
  });

  it('MOVNTI m64, r64 stores all 64 bits (a hint on a plain store)', () => {
    const m = long64('movnti [rdi + 24], rsi\nhlt');
    setReg64(m.cpu, 7, 0x3000n);
    setReg64(m.cpu, 6, 0x0123_4567_89ab_cdefn);
    runLong(m);
    expect(m.memory.read32(0x3018)).toBe(0x89abcdef);
    expect(m.memory.read32(0x301c)).toBe(0x01234567);
  });
});
