import { describe, expect, it } from 'vitest';
import { CODE64, HIGH_ALIAS, long64, reg64, runLong, STACK64, setReg64 } from '../../test/long-machine.js';
import type { Machine } from '../../test/machine.js';
import { Vector } from '../exceptions.js';
import { EFLAGS } from '../flags.js';
import { Seg } from '../registers.js';

const RAX = 0;
const RCX = 1;
const RDX = 2;
const RBX = 3;
const RSP = 4;
const RBP = 5;
const RSI = 6;
const HIGH = BigInt.asUintN(64, BigInt(HIGH_ALIAS));

function read64(m: Machine, at: number): bigint {
  return (BigInt(m.memory.read32(at + 4)) << 32n) | BigInt(m.memory.read32(at));
}

/** Runs `source` expecting one exception first: its vector and the RIP it was raised at. */
function firstFault(source: string, setup: (m: Machine) => void, at = CODE64) {
  const seen: { vector: number; rip: number; rsp: bigint }[] = [];
  const m = long64(source, {
    events: {
      delivered: (_k, vector) => {
        if (seen.length === 0) seen.push({ vector, rip: m.cpu.regs.ip, rsp: reg64(m.cpu, RSP) });
      },
    },
  });
  m.cpu.regs.ip = at;
  setup(m);
  m.run(1);
  return { m, fault: seen[0] };
}

describe('64-bit PUSH and POP', () => {
  it('PUSH/POP r64 round-trip 8-byte slots; PUSH imm8/imm32 sign-extend to 64 bits', () => {
    const m = long64(
      [
        'push rax',
        'push r9',
        'db 0x6a, 0x80', // push -128
        'push 0x7fffffff',
        'db 0x68, 0x00, 0x00, 0x00, 0x80', // push -0x80000000
        'pop rsi',
        'pop rdi',
        'pop r10',
        'pop rcx',
        'pop rdx',
        'hlt',
      ].join('\n'),
    );
    setReg64(m.cpu, RAX, 0x1122_3344_5566_7788n);
    setReg64(m.cpu, 9, 0x99aa_bbcc_ddee_ff00n);
    runLong(m);
    expect(reg64(m.cpu, RSI)).toBe(BigInt.asUintN(64, -0x8000_0000n));
    expect(reg64(m.cpu, 7)).toBe(0x7fff_ffffn);
    expect(reg64(m.cpu, 10)).toBe(BigInt.asUintN(64, -128n));
    expect(reg64(m.cpu, RCX)).toBe(0x99aa_bbcc_ddee_ff00n);
    expect(reg64(m.cpu, RDX)).toBe(0x1122_3344_5566_7788n);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
    expect(read64(m, STACK64 - 8)).toBe(0x1122_3344_5566_7788n);
  });

  it('66h PUSH/POP move RSP by 2; PUSH RSP pushes the old value; POP RSP loads the popped value', () => {
    const m = long64(
      ['push ax', 'mov r8, rsp', 'pop cx', 'push rsp', 'pop rdx', 'push rbx', 'pop rsp', 'hlt'].join('\n'),
    );
    setReg64(m.cpu, RAX, 0xffff_ffff_ffff_1234n);
    setReg64(m.cpu, RCX, 0xaaaa_aaaa_aaaa_aaaan);
    setReg64(m.cpu, RBX, 0x7000n);
    runLong(m);
    expect(reg64(m.cpu, RCX)).toBe(0xaaaa_aaaa_aaaa_1234n);
    expect(reg64(m.cpu, 8)).toBe(BigInt(STACK64 - 2));
    expect(reg64(m.cpu, RDX)).toBe(BigInt(STACK64));
    expect(reg64(m.cpu, RSP)).toBe(0x7000n);
  });

  it('PUSH r/m64 and POP r/m64 with memory; POP [RSP] addresses with the incremented RSP', () => {
    const m = long64(
      ['push qword [rbx]', 'pop qword [rbx + 8]', 'push rax', 'pop qword [rsp]', 'hlt'].join('\n'),
    );
    m.memory.write32(0x3000, 0xdeadbeef);
    m.memory.write32(0x3004, 0xcafef00d);
    setReg64(m.cpu, RBX, 0x3000n);
    setReg64(m.cpu, RAX, 0x0102_0304_0506_0708n);
    runLong(m);
    expect(read64(m, 0x3008)).toBe(0xcafe_f00d_dead_beefn);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
    expect(read64(m, STACK64)).toBe(0x0102_0304_0506_0708n);
  });

  it('PUSH FS/GS take an 8-byte slot with the selector in its low word; POP GS loads it', () => {
    const m = long64(['push fs', 'pop gs', 'hlt'].join('\n'));
    m.memory.write32(STACK64 - 8, 0xffffffff);
    m.memory.write32(STACK64 - 4, 0xffffffff);
    m.cpu.segs.set(Seg.GS, 0, 0, 0, 0);
    runLong(m);
    expect(m.memory.read16(STACK64 - 8)).toBe(0x10);
    expect(m.cpu.segs.selector[Seg.GS]).toBe(0x10);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
  });

  it('PUSHFQ pushes RFLAGS; POPFQ clears RF, ignores VM and the high half, writes IOPL/IF at CPL 0', () => {
    const m = long64(['pushfq', 'pop rax', 'push rbx', 'popfq', 'pushfq', 'pop rcx', 'hlt'].join('\n'));
    m.cpu.eflags = EFLAGS.FIXED1 | EFLAGS.CF | EFLAGS.ZF;
    setReg64(
      m.cpu,
      RBX,
      0xffff_ffff_0000_0000n | BigInt(EFLAGS.RF | EFLAGS.VM | EFLAGS.IOPL | EFLAGS.DF | EFLAGS.OF),
    );
    runLong(m);
    expect(reg64(m.cpu, RAX)).toBe(BigInt(EFLAGS.FIXED1 | EFLAGS.CF | EFLAGS.ZF));
    expect(reg64(m.cpu, RCX)).toBe(BigInt(EFLAGS.FIXED1 | EFLAGS.IOPL | EFLAGS.DF | EFLAGS.OF));
    expect(m.cpu.eflags & (EFLAGS.RF | EFLAGS.VM)).toBe(0);
  });

  it('POPFQ at CPL 3 keeps IOPL and (IOPL < 3) IF', () => {
    const m = long64(['push rbx', 'popfq', 'hlt'].join('\n'));
    m.cpu.ctrl.cpl = 3;
    m.cpu.eflags = EFLAGS.FIXED1;
    setReg64(m.cpu, RBX, BigInt(EFLAGS.IOPL | EFLAGS.IF | EFLAGS.CF));
    m.run(2);
    expect(m.cpu.eflags & (EFLAGS.IOPL | EFLAGS.IF | EFLAGS.CF)).toBe(EFLAGS.CF);
  });

  it('66h ENTER/LEAVE push and pop 16-bit BP on the 64-bit RSP', () => {
    // enterw 8, 1; mov r8, rsp; leavew
    const m = long64(['db 0x66, 0xc8, 0x08, 0x00, 0x01', 'mov r8, rsp', 'db 0x66, 0xc9', 'hlt'].join('\n'));
    setReg64(m.cpu, RBP, 0x4444n);
    runLong(m);
    // push bp (2), push frame (2), then 8 bytes allocated.
    expect(reg64(m.cpu, 8)).toBe(BigInt(STACK64 - 2 - 2 - 8));
    expect(m.memory.read16(STACK64 - 2)).toBe(0x4444);
    expect(m.memory.read16(STACK64 - 4)).toBe((STACK64 - 2) & 0xffff);
    expect(reg64(m.cpu, RBP)).toBe(0x4444n);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
  });

  it('ENTER 16, 2 / LEAVE with RBP and RSP', () => {
    const m = long64(['enter 16, 2', 'mov rsi, rsp', 'mov rdi, rbp', 'leave', 'hlt'].join('\n'));
    const oldBp = 0x8800n;
    setReg64(m.cpu, RBP, oldBp);
    m.memory.write32(0x8800 - 8, 0x5555aaaa);
    m.memory.write32(0x8800 - 4, 0x12345678);
    runLong(m);
    const frame = BigInt(STACK64 - 8);
    expect(reg64(m.cpu, 7)).toBe(frame);
    expect(reg64(m.cpu, RSI)).toBe(frame - 16n - 16n);
    expect(read64(m, STACK64 - 8)).toBe(oldBp);
    expect(read64(m, STACK64 - 16)).toBe(0x1234_5678_5555_aaaan);
    expect(read64(m, STACK64 - 24)).toBe(frame);
    expect(reg64(m.cpu, RBP)).toBe(oldBp);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
  });
});

describe('64-bit near branches', () => {
  it('CALL/RET from code at the high canonical alias push and return to a 64-bit address', () => {
    const m = long64(['call f', 'call rbx', 'hlt', 'f: mov rax, [rsp]', 'ret'].join('\n'));
    m.cpu.regs.ip = HIGH_ALIAS + CODE64;
    setReg64(m.cpu, RBX, HIGH + BigInt(CODE64 + 0x40));
    // At CODE64 + 0x40: mov rdx, [rsp]; ret
    m.ram.set([0x48, 0x8b, 0x14, 0x24, 0xc3], CODE64 + 0x40);
    runLong(m, 20);
    expect(reg64(m.cpu, RAX)).toBe(HIGH + BigInt(CODE64 + 5));
    expect(reg64(m.cpu, RDX)).toBe(HIGH + BigInt(CODE64 + 7));
    expect(read64(m, STACK64 - 8)).toBe(HIGH + BigInt(CODE64 + 7));
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64));
    expect(m.cpu.regs.ip).toBe(HIGH_ALIAS + CODE64 + 8);
  });

  it('RET imm16 releases the bytes after the return address; JMP r/m64 to a high address', () => {
    const m = long64(['call f', 'jmp qword [rbx]', 'hlt', 'f: ret 16'].join('\n'));
    setReg64(m.cpu, RBX, 0x3000n);
    m.memory.write32(0x3000, CODE64 + 0x40);
    m.memory.write32(0x3004, 0xffff8000);
    m.ram.set([0xf4], CODE64 + 0x40);
    runLong(m);
    expect(reg64(m.cpu, RSP)).toBe(BigInt(STACK64 + 16));
    expect(m.cpu.regs.ip).toBe(HIGH_ALIAS + CODE64 + 0x41);
  });

  it('Jcc rel32 and JMP rel8 run at the high alias', () => {
    const m = long64(
      ['xor eax, eax', 'jz near t', 'hlt', 't: jmp short u', 'hlt', 'u: mov ecx, 7', 'hlt'].join('\n'),
    );
    m.cpu.regs.ip = HIGH_ALIAS + CODE64;
    runLong(m);
    expect(reg64(m.cpu, RCX)).toBe(7n);
    expect(m.cpu.regs.ip).toBeLessThan(0);
  });

  it('a non-canonical JMP/CALL/RET target raises #GP(0) with RIP at the branch and RSP unchanged', () => {
    const nonCanonical = 0x0000_8000_0000_0000n;
    for (const src of ['jmp rax', 'call rax', 'push rax\nret', 'call qword [rbx]']) {
      const steps = src.includes('\n') ? 2 : 1;
      const seen: number[] = [];
      let rip = 0;
      let rsp = 0n;
      const m = long64(`${src}\nhlt`, {
        events: {
          delivered: (_k, v) => {
            if (seen.length === 0) {
              rip = m.cpu.regs.ip;
              rsp = reg64(m.cpu, RSP);
            }
            seen.push(v);
          },
        },
      });
      setReg64(m.cpu, RAX, nonCanonical);
      setReg64(m.cpu, RBX, 0x3000n);
      m.memory.write32(0x3004, 0x8000);
      m.run(steps);
      expect(seen[0], src).toBe(Vector.GP);
      expect(rip, src).toBe(CODE64 + (steps === 2 ? 1 : 0));
      expect(rsp, src).toBe(BigInt(STACK64 - (steps === 2 ? 8 : 0)));
    }
  });

  it('a rel32 target below the canonical range raises #GP(0) at the JMP', () => {
    const { fault } = firstFault('db 0xe9\ndd -0x2000\nhlt', () => {}, HIGH_ALIAS + CODE64);
    expect(fault?.vector).toBe(Vector.GP);
    expect(fault?.rip).toBe(HIGH_ALIAS + CODE64);
  });

  it('LOOP decrements all of RCX; 67h LOOP uses ECX and zero-extends it', () => {
    const m = long64('l: loop l\nhlt');
    setReg64(m.cpu, RCX, 0x1_0000_0000n);
    m.run(1);
    expect(reg64(m.cpu, RCX)).toBe(0xffff_ffffn);
    expect(m.cpu.regs.ip).toBe(CODE64);
    const c = long64(['l: lea rdx, [rdx + 1]', 'db 0x67', 'loop l', 'hlt'].join('\n'));
    setReg64(c.cpu, RCX, 0xffff_ffff_0000_0003n);
    setReg64(c.cpu, RDX, 0n);
    runLong(c);
    expect(reg64(c.cpu, RCX)).toBe(0n);
    expect(reg64(c.cpu, RDX)).toBe(3n);
  });

  it('LOOPE/LOOPNE test ZF; JRCXZ tests RCX and 67h JECXZ only ECX', () => {
    const m = long64(
      ['loope a', 'mov esi, 1', 'a: loopne b', 'mov edi, 2', 'b: jrcxz c', 'mov ebp, 3', 'c: hlt'].join('\n'),
    );
    setReg64(m.cpu, RCX, 0x1_0000_0003n);
    m.cpu.eflags = EFLAGS.FIXED1 | EFLAGS.ZF;
    runLong(m);
    expect(reg64(m.cpu, RCX)).toBe(0x1_0000_0001n);
    expect(reg64(m.cpu, RSI)).toBe(0n);
    expect(reg64(m.cpu, 7)).toBe(2n);
    expect(reg64(m.cpu, RBP)).toBe(3n);
    const z = long64(['jrcxz c', 'jecxz d', 'c: hlt', 'd: mov esi, 1', 'hlt'].join('\n'));
    setReg64(z.cpu, RCX, 0x1_0000_0000n);
    runLong(z);
    expect(reg64(z.cpu, RSI)).toBe(1n);
  });
});
