import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODE64, HIGH_ALIAS, long64, PML4, STACK64 } from '../test/long-machine.js';
import { CR0, Seg } from './index.js';

/**
 * Differential test of `fast-paths64.ts`: every specialised 64-bit-mode form runs on one CPU with fast
 * paths and on one without (generic family handlers) from the same random states, after an instruction
 * that leaves a lazy 32-bit, an eager 64-bit or a partial flag record behind; all 16 registers (both
 * halves), RFLAGS, RIP, memory, the stack, the exit and the delivered exception vectors must agree.
 * Trials run the code at its identity-mapped address and at the high canonical alias (RIP-relative
 * operands and branch targets in signed form), with memory bases that are canonical, in the high half,
 * or non-canonical (directly or by a carry out of the displacement), and with a non-canonical RSP. The
 * high alias maps other physical memory than the low half, read-only (CR0.WP), so an address off by
 * 2^64 - 2^47 shows and a read-modify-write through the alias faults on its write, after the read.
 */
const DATA = 0x4000;
/** Physical address behind the high alias in these tests. */
const ALIAS_PHYS = 0x200000;
/** EFER of the long-mode test machine: LME, LMA, SCE, NXE. */
const EFER_LONG = 0xd01;

const FORMS = [
  // MOV r64 / r32 (zero-extension), register, immediate and memory either way.
  'mov rax, rbx',
  'mov r9, rcx',
  'mov rax, [rbx]',
  'mov rcx, fs:[rbx+8]',
  'mov r10, gs:[rbx+rsi*8+3]',
  'mov [rbx+8], rdx',
  'mov gs:[rbx], r11',
  'mov rsp, [rbx]',
  'mov rax, 0x123456789abcdef0',
  'mov rcx, -5',
  'mov r12, 0x7fffffff',
  'mov qword [rbx], -7',
  'mov qword fs:[rbx+rsi+8], 0x7fffffff',
  'mov rdx, [rip+0x4010]',
  'mov [rip+0x4008], r8',
  'mov eax, ebx',
  'mov r8d, r9d',
  'mov eax, 0x89abcdef',
  'mov ecx, [rbx+rsi*2+1]',
  'mov r13d, gs:[rbx]',
  'mov [rbx+4], edx',
  'mov fs:[rbx], r14d',
  'mov dword [rbx], 0x89abcdef',
  'mov esi, [rip+0x4020]',
  // ALU with a 64-bit register destination.
  'add rax, rbx',
  'add rcx, [rbx]',
  'add rdx, 0x7fffffff',
  'add rsi, -3',
  'add rax, 5',
  'add r15, gs:[rbx+rsi]',
  'add rax, [rip+0x4000]',
  'sub rax, rbx',
  'sub rcx, 1',
  'sub r8, [rbx+8]',
  'cmp rax, rbx',
  'cmp rcx, -0x80000000',
  'cmp rdx, fs:[rbx+4]',
  'cmp rax, 0',
  'and rax, rbx',
  'and rcx, -0x100',
  'and r9, [rbx]',
  'or rax, rdx',
  'or rcx, [rbx]',
  'xor rax, rax',
  'xor rdx, rbx',
  'xor r11, 0x7fffffff',
  'test rax, rbx',
  'test rcx, -0x7fffffff',
  'test rax, 0x100',
  'inc rax',
  'dec rcx',
  'inc r10',
  // ALU with a 32-bit register destination (zero-extended).
  'add eax, ebx',
  'add ecx, [rbx]',
  'add edx, 0x7fffffff',
  'add r8d, -3',
  'add eax, 5',
  'sub eax, ebx',
  'sub ecx, gs:[rbx+4]',
  'cmp eax, ebx',
  'cmp ecx, 0x80000000',
  'cmp r9d, [rbx+rsi*4]',
  'and eax, ebx',
  'and ecx, 0xff00',
  'or eax, edx',
  'or ecx, [rbx]',
  'xor eax, eax',
  'xor r12d, ebx',
  'test eax, ebx',
  'test ecx, 0x80000001',
  'inc eax',
  'dec r13d',
  // CMP/TEST r/m8, and CMP/TEST with a memory first operand.
  'cmp al, bl',
  'cmp ah, bh',
  'cmp sil, r9b',
  'cmp dl, [rbx+1]',
  'cmp al, 0x7f',
  'cmp cl, 0x80',
  'cmp byte [rbx], 0',
  'cmp byte gs:[rbx+rsi], 0xff',
  'cmp [rbx+2], dh',
  'test al, al',
  'test r10b, r11b',
  'test byte [rbx], 0x80',
  'test fs:[rbx+1], cl',
  'cmp dword [rbx], 5',
  'cmp dword [rbx+4], 0x80000000',
  'cmp [rbx+4], ecx',
  'test dword [rbx], 0x100',
  'test [rbx], edx',
  'cmp qword [rbx], -1',
  'cmp qword gs:[rbx], 0x7fffffff',
  'cmp [rbx+8], rdx',
  'cmp qword [rip+0x4010], 0',
  'test qword fs:[rbx], 0x7fffffff',
  'test [rbx], rax',
  // ALU with a memory destination.
  'add [rbx], eax',
  'add dword [rbx+4], 5',
  'sub dword gs:[rbx], -1',
  'sub [rbx+2], r9d',
  'and [rbx], ecx',
  'or dword [rbx], 0x80000000',
  'xor [rbx+1], edx',
  'inc dword [rbx]',
  'dec dword fs:[rbx+2]',
  'lock add [rbx], eax',
  'add [rbx], rax',
  'add qword [rbx+8], -1',
  'sub [rbx], rcx',
  'sub qword [rbx], 0x7fffffff',
  'and qword gs:[rbx], 0x7fffffff',
  'or [rbx], rdx',
  'xor qword [rbx], -1',
  'inc qword [rbx]',
  'dec qword [rip+0x4010]',
  'lock xor [rbx+rsi], r10',
  // MOVSXD.
  'movsxd rax, ebx',
  'movsxd r8, r9d',
  'movsxd rcx, dword [rbx]',
  'movsxd r8, dword gs:[rbx+4]',
  // Shifts of r64 by an immediate.
  'shl rax, 1',
  'shl rcx, 7',
  'shl rdx, 31',
  'shl rsi, 32',
  'shl rdi, 33',
  'shl r8, 63',
  'shl r9, 64',
  'shr rax, 1',
  'shr rcx, 13',
  'shr rdx, 32',
  'shr rsi, 45',
  'sar rax, 1',
  'sar rdx, 31',
  'sar rcx, 32',
  'sar r11, 63',
  // LEA, MOVZX.
  'lea rax, [rbx+rsi*4-100]',
  'lea rcx, [rax+rdx]',
  'lea r8, [rip-0x10]',
  'lea r9, [rbx+rsi*8+0x7fffffff]',
  'lea eax, [rbx+rsi*4-100]',
  'lea r10d, [rip+0x10]',
  'movzx eax, bx',
  'movzx rcx, word [rbx]',
  'movzx edx, bh',
  'movzx r9, sil',
  'movzx eax, byte [rbx+rsi]',
  'movzx r10d, word gs:[rbx+1]',
  // PUSH/POP.
  'push rax\npop rcx',
  'push rsp\npop rdx',
  'push r12\npop r13',
  'pop rsp',
  // JMP/Jcc (the second forms are rel32 with a target below the code: non-canonical at the alias).
  'jmp t\nmov eax, 1\nt:',
  'je t\nmov eax, 1\nt:',
  'jne t\nmov eax, 1\nt:',
  'jb t\nmov eax, 1\nt:',
  'jae t\nmov eax, 1\nt:',
  'jbe t\nmov eax, 1\nt:',
  'ja t\nmov eax, 1\nt:',
  'js t\nmov eax, 1\nt:',
  'jns t\nmov eax, 1\nt:',
  'jl t\nmov eax, 1\nt:',
  'jge t\nmov eax, 1\nt:',
  'jle t\nmov eax, 1\nt:',
  'jg t\nmov eax, 1\nt:',
  'db 0xe9\ndd -0x3000',
  'db 0x0f, 0x84\ndd -0x3000',
  'db 0x0f, 0x8c\ndd -0x3000',
];

const FLAG_SOURCES = [
  'cmp eax, ebx',
  'cmp rax, rbx',
  'sub dl, bl',
  'add ecx, edx',
  'add rcx, rdx',
  'and eax, ebx',
  'inc edx',
  'inc rdx',
  'shl esi, 1',
  'stc',
  'nop',
];

const SPECIAL = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

/** Memory bases as (low, high) halves: canonical low and high, non-canonical, and a carry into bit 47. */
const BASES: readonly (readonly [number, number])[] = [
  [DATA, 0],
  [DATA, 0xffff8000],
  [DATA, 0x00008000],
  [0xfffffffc, 0x00007fff],
  [DATA, 0xffffffff],
];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function randomHalf(next: () => number): number {
  const r = next();
  return r % 3 === 0 ? SPECIAL[r % SPECIAL.length]! : next();
}

describe('64-bit fast paths', () => {
  for (const form of FORMS) {
    it(`${form.replace(/\n/g, '; ')} matches the generic handlers`, () => {
      for (const pre of FLAG_SOURCES) {
        const source = `${pre}\n${form}\nhlt`;
        const vectors: number[][] = [[], []];
        const fast = long64(source, { events: { delivered: (_k, v) => vectors[0]!.push(v) } });
        const slow = long64(source, { events: { delivered: (_k, v) => vectors[1]!.push(v) } });
        slow.cpu.blocks.fastPaths = false;
        slow.cpu.blocks.flush();
        for (const m of [fast, slow]) {
          // The high alias maps other memory (2 MiB up) than the identity map, with a copy of the code:
          // an address computed in the wrong half reads other bytes.
          m.memory.write32(PML4 + 256 * 8, (PML4 + 0x3000) | 7);
          m.memory.write32(PML4 + 0x3000, (PML4 + 0x4000) | 7);
          // Read-only (with CR0.WP): a write through the high alias faults after its read succeeded.
          m.memory.write32(PML4 + 0x4000, ALIAS_PHYS | 0x85);
          const c = m.cpu.ctrl;
          m.cpu.setControlRegisters(c.cr0 | CR0.WP, c.cr3, c.cr4, EFER_LONG);
          m.ram.copyWithin(ALIAS_PHYS + CODE64, CODE64, CODE64 + 0x1000);
        }
        const next = rng(form.length * 31 + pre.length);
        for (let trial = 0; trial < 30; trial++) {
          const regs = Array.from({ length: 32 }, () => randomHalf(next));
          // Every fourth trial makes some high halves all ones/zeros (sign and zero extensions).
          if (trial % 4 === 1) for (let i = 16; i < 32; i++) regs[i] = regs[i]! & 1 ? 0xffffffff : 0;
          const [baseLo, baseHi] = trial % 3 === 0 ? BASES[(trial / 3) % BASES.length]! : BASES[0]!;
          regs[3] = trial % 3 === 0 ? baseLo : DATA + (next() & 0x1f); // RBX: memory base
          regs[16 + 3] = baseHi;
          regs[6] = next() & 0x3f; // RSI: index
          regs[16 + 6] = 0;
          regs[4] = STACK64 - (next() & 0xf) * 8; // RSP
          regs[16 + 4] = trial % 10 === 9 ? 0x8000 : 0;
          const mem = Array.from({ length: 0x100 }, () => next() >>> 24);
          // High bytes of the generator: its low byte repeats every 256 draws.
          const aliasMem = Array.from({ length: 0x100 }, () => next() >>> 24);
          const flags = 0x2 | (next() & 0x8d5);
          const ip = trial % 2 === 1 ? HIGH_ALIAS + CODE64 : CODE64;
          const out = [fast, slow].map((m, i) => {
            const cpu = m.cpu;
            for (let r = 0; r < 32; r++) cpu.regs.u32[r] = regs[r]!;
            m.ram.set(mem, DATA);
            m.ram.set(aliasMem, ALIAS_PHYS + DATA);
            m.ram.fill(0, STACK64 - 0x100, STACK64 + 0x10);
            // FS and GS bases differ from DS (GS in the high half), so a wrong segment shows.
            cpu.segs.set(Seg.FS, 0x10, 0x40, 0xffffffff, 0x93 | 0xc000);
            cpu.segs.set(Seg.GS, 0x10, 0, 0xffffffff, 0x93 | 0xc000);
            cpu.segs.setBase64(Seg.GS, HIGH_ALIAS + 0x80);
            cpu.regs.ip = ip;
            cpu.eflags = flags;
            cpu.halted = false;
            vectors[i]!.length = 0;
            const exit = m.run(10);
            return {
              exit,
              vectors: [...vectors[i]!],
              regs: Array.from(cpu.regs.u32),
              rip: cpu.regs.ip,
              eflags: cpu.eflags,
              mem: Array.from(m.ram.subarray(DATA - 0x10, DATA + 0x130)),
              aliasMem: Array.from(m.ram.subarray(ALIAS_PHYS + DATA - 0x10, ALIAS_PHYS + DATA + 0x130)),
              stack: Array.from(m.ram.subarray(STACK64 - 0x100, STACK64 + 0x10)),
            };
          });
          expect(out[0], `${pre}; ${form}; trial ${trial}`).toEqual(out[1]);
        }
      }
    });
  }

  it('property: 64-bit arithmetic at the 2^63 and 2^64 edges, then each Jcc, agrees with the generic handlers', () => {
    const ops = [
      'add rax, rbx',
      'sub rax, rbx',
      'cmp rax, rbx',
      'and rax, rbx',
      'test rax, rbx',
      'inc rax',
      'dec rax',
    ];
    const jccs = ['je', 'jne', 'jb', 'jae', 'jbe', 'ja', 'js', 'jns', 'jl', 'jge', 'jle', 'jg'];
    const machines = new Map<string, [ReturnType<typeof long64>, ReturnType<typeof long64>]>();
    const pair = (source: string): [ReturnType<typeof long64>, ReturnType<typeof long64>] => {
      let p = machines.get(source);
      if (p === undefined) {
        p = [long64(source), long64(source)];
        p[1].cpu.blocks.fastPaths = false;
        p[1].cpu.blocks.flush();
        machines.set(source, p);
      }
      return p;
    };
    // Halves near the edges: 0, 1, 2^31 +- 1, 2^32 - 1 and random ones.
    const half = fc.oneof(
      fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...ops),
        fc.constantFrom(...jccs),
        half,
        half,
        half,
        half,
        fc.integer({ min: 0, max: 0x8d5 }),
        (op, jcc, aLo, aHi, bLo, bHi, flags) => {
          const out = pair(`${op}\n${jcc} t\nmov ecx, 1\nt:\nhlt`).map((m) => {
            const cpu = m.cpu;
            cpu.regs.u32.fill(0);
            cpu.regs.u32[0] = aLo;
            cpu.regs.u32[16] = aHi;
            cpu.regs.u32[3] = bLo;
            cpu.regs.u32[16 + 3] = bHi;
            cpu.regs.r32[4] = STACK64;
            cpu.regs.ip = CODE64;
            cpu.eflags = 0x2 | (flags & 0x8d5);
            cpu.halted = false;
            const exit = m.run(10);
            return { exit, regs: Array.from(cpu.regs.u32), rip: cpu.regs.ip, eflags: cpu.eflags };
          });
          expect(out[0]).toEqual(out[1]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('uses a fast handler for every form above (none falls back to the generic one)', async () => {
    const { fastHandler64 } = await import('./fast-paths64.js');
    const { decodeInto, Instruction } = await import('@typevisor/x86-decoder');
    const { assemble } = await import('@typevisor/x86-decoder');
    for (const form of FORMS) {
      const bytes = assemble(
        form.split('\n')[0]!.startsWith('db') ? form : form.split('\n')[0]!.replace(' t', ' 0x1000'),
        {
          bitness: 64,
          origin: CODE64,
        },
      );
      const ins = new Instruction();
      decodeInto(ins, bytes, 0, 64, CODE64, bytes.length);
      expect(fastHandler64(ins), form).not.toBeNull();
    }
  });
});
