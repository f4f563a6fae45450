import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import { Seg } from './index.js';

/**
 * Differential test of `fast-paths.ts`: every specialised form runs on one CPU with fast paths and on
 * one without (generic family handlers) from the same random states, after an instruction that leaves
 * a lazy or an eager flag record behind; registers, EFLAGS, EIP, memory and the exit must agree.
 */
const DATA = 0x4000;

const FORMS = [
  'mov eax, ebx',
  'sub eax, gs:[ebx]',
  'add ecx, fs:[ebx+4]',
  'cmp edx, gs:[ebx+esi]',
  'mov ecx, fs:[ebx]',
  'mov gs:[ebx+2], eax',
  'mov ax, gs:[ebx]',
  'movzx eax, byte fs:[ebx]',
  'mov dl, gs:[ebx+1]',
  'mov eax, 0x12345678',
  'mov ecx, [ebx+esi*2+3]',
  'mov [ebx+8], edx',
  'mov dword [ebx], 0x89abcdef',
  'mov ax, bx',
  'mov dx, [ebx+1]',
  'mov [ebx+2], cx',
  'lea eax, [ebx+esi*4-100]',
  'lea ecx, [eax+edx]',
  'movzx eax, bx',
  'movzx ecx, word [ebx]',
  'movzx edx, bh',
  'movzx eax, byte [ebx+esi]',
  'add eax, ebx',
  'add ecx, [ebx]',
  'add edx, 0x7fffffff',
  'add esi, -3',
  'add eax, 5',
  'adc eax, ebx',
  'adc ecx, [ebx]',
  'adc edx, 0xffffffff',
  'sbb eax, ebx',
  'sbb ecx, [ebx+2]',
  'sbb edx, 5',
  'mov al, bh',
  'mov ah, [ebx+1]',
  'mov [ebx+3], dh',
  'sub eax, ebx',
  'sub ecx, 1',
  'cmp eax, ebx',
  'cmp ecx, 0x80000000',
  'cmp edx, [ebx+4]',
  'and eax, ebx',
  'and ecx, 0xff00',
  'or eax, edx',
  'or ecx, [ebx]',
  'xor eax, eax',
  'xor edx, ebx',
  'test eax, ebx',
  'test ecx, 0x80000001',
  'inc eax',
  'dec ecx',
  'shl eax, 1',
  'shl ecx, 7',
  'shl edx, 31',
  'shr eax, 1',
  'shr ecx, 13',
  'sar eax, 1',
  'sar edx, 31',
  'imul eax, ebx',
  'imul ecx, edx',
  'push eax\npop ecx',
  'push esp\npop edx',
  'pop esp',
  'jmp t\nmov eax, 1\nt:',
  'jb t\nmov eax, 1\nt:',
  'jae t\nmov eax, 1\nt:',
  'je t\nmov eax, 1\nt:',
  'jne t\nmov eax, 1\nt:',
  'jbe t\nmov eax, 1\nt:',
  'ja t\nmov eax, 1\nt:',
  // fast-paths-cold.ts
  'call t\nmov eax, 1\nt:',
  'push t\nret\nmov eax, 1\nt:',
  'push t\nret 8\nmov eax, 1\nt:',
  'push 5',
  'push -3',
  'push 0x87654321',
  'push dword [ebx]',
  'push dword gs:[ebx+esi]',
  'mov ebp, ebx\nleave',
  'jo t\nmov eax, 1\nt:',
  'jno t\nmov eax, 1\nt:',
  'js t\nmov eax, 1\nt:',
  'jns t\nmov eax, 1\nt:',
  'jp t\nmov eax, 1\nt:',
  'jnp t\nmov eax, 1\nt:',
  'jl t\nmov eax, 1\nt:',
  'jge t\nmov eax, 1\nt:',
  'jle t\nmov eax, 1\nt:',
  'jg t\nmov eax, 1\nt:',
  'cmovne eax, ebx',
  'cmove ecx, [ebx]',
  'cmovl edx, esi',
  'cmovb eax, fs:[ebx+4]',
  'cmovg esi, edi',
  'setne al',
  'setb ch',
  'setg dl',
  'seto bh',
  'setbe ah',
  'cmp [ebx], eax',
  'cmp dword [ebx+4], 5',
  'cmp dword gs:[ebx], 0x80000000',
  'test [ebx], ecx',
  'test dword fs:[ebx], 0x80000001',
  'test dword [ebx+1], 0x80',
  'add [ebx], eax',
  'add dword [ebx+4], -1',
  'add dword fs:[ebx], 0x7fffffff',
  'sub [ebx], edx',
  'sub dword [ebx+2], 1',
  'and dword [ebx], 0xff',
  'or [ebx+2], ecx',
  'xor dword gs:[ebx], 0x1234',
  'adc [ebx], eax',
  'adc dword [ebx], -1',
  'sbb dword [ebx], 3',
  'sbb [ebx+3], esi',
  'inc dword [ebx]',
  'dec dword [ebx+1]',
  'mov byte [ebx], 0x80',
  'mov byte gs:[ebx+esi], 7',
  'not eax',
  'neg ecx',
  'neg eax',
  'bswap edx',
  'rol eax, 1',
  'rol ecx, 7',
  'rol esi, 32',
  'ror edx, 31',
  'ror eax, 1',
  'ror ebx, 12',
  'shl eax, cl',
  'shr edx, cl',
  'sar esi, cl',
  'sar ecx, cl',
  'db 0xc1, 0xe0, 0x01',
  'shr eax, 1',
  'sar edx, 1',
  'cmp al, 5',
  'cmp bl, 0x80',
  'cmp byte [ebx], 7',
  'cmp [ebx], dl',
  'cmp dh, [ebx+1]',
  'cmp ah, bl',
  'cmp byte gs:[ebx], 0xff',
  'test al, 1',
  'test bl, cl',
  'test byte [ebx], 0x40',
  'test [ebx], ch',
  'test byte fs:[ebx+1], 0x81',
  'test gs:[ebx], cl',
  'cmp al, fs:[ebx+esi]',
  'test dh, 0x81',
  'mov eax, [0x4004]',
  'mov [0x4008], eax',
  'mov al, [0x4001]',
  'mov [0x4002], al',
  'mov ax, gs:[0x4003]',
  'mov [0x4005], ax',
  'mov eax, fs:[0x4010]',
];

const FLAG_SOURCES = [
  'cmp eax, ebx',
  'sub dl, bl',
  'add ecx, edx',
  'and eax, ebx',
  'inc edx',
  'shl esi, 1',
  'cmp al, 0',
  'stc',
  'nop',
];

const SPECIAL = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

describe('fast paths', () => {
  for (const form of FORMS) {
    it(`${form.replace(/\n/g, '; ')} matches the generic handlers`, () => {
      for (const pre of FLAG_SOURCES) {
        const source = `${pre}\n${form}\nhlt`;
        const fast = flat32(source);
        const slow = flat32(source);
        slow.cpu.blocks.fastPaths = false;
        slow.cpu.blocks.flush();
        const next = rng(form.length * 31 + pre.length);
        for (let trial = 0; trial < 40; trial++) {
          const regs = Array.from({ length: 8 }, () => {
            const r = next();
            return r % 3 === 0 ? SPECIAL[r % SPECIAL.length]! : next();
          });
          regs[3] = DATA + (next() & 0x1f); // EBX: memory base
          regs[6] = next() & 0x3f; // ESI: index
          regs[4] = 0x9000 - (next() & 0xf) * 4; // ESP
          const mem = Array.from({ length: 0x100 }, () => next() & 0xff);
          // Every fourth trial runs with a DS limit that some of the memory operands cross.
          const limit = trial % 4 === 3 ? DATA + 0x10 : 0xffffffff;
          const flags = 0x2 | (next() & 0x8d5);
          const out = [fast, slow].map((m) => {
            const cpu = m.cpu;
            for (let i = 0; i < 8; i++) cpu.regs.r32[i] = regs[i]!;
            m.ram.set(mem, DATA);
            cpu.segs.set(Seg.DS, 0x10, 0, limit, 0x93 | 0xc000);
            // FS and GS bases differ from DS, so an operand read through the wrong segment shows.
            cpu.segs.set(Seg.FS, 0x10, 0x40, 0xffff, 0x93 | 0xc000);
            cpu.segs.set(Seg.GS, 0x10, 0x80, 0xffff, 0x93 | 0xc000);
            cpu.regs.ip = 0x1000;
            cpu.eflags = flags;
            cpu.halted = false;
            const exit = m.run(10);
            return {
              exit,
              regs: Array.from(cpu.regs.u32.subarray(0, 8)),
              eip: cpu.regs.ip,
              eflags: cpu.eflags,
              mem: Array.from(m.ram.subarray(DATA - 0x10, DATA + 0x130)),
              stack: Array.from(m.ram.subarray(0x8fc0, 0x9008)),
            };
          });
          expect(out[0], `${pre}; ${form}; trial ${trial}`).toEqual(out[1]);
        }
      }
    });
  }

  it('taken near branches above 2^31 and across the top of the address space reach the generic targets', () => {
    // [EIP, bytes, EFLAGS, target]; CS bases put each EIP at linear 0x1000 (linear addresses wrap).
    const cases: [number, number[], number, number][] = [
      [0xc0001000, [0xeb, 0x10], 0x2, 0xc0001012], // jmp short: a kernel's EIPs
      [0xfffffff0, [0xeb, 0x20], 0x2, 0x12], // jmp short past 0xffffffff
      [0xfffffff0, [0x0f, 0x85, 0x20, 0, 0, 0], 0x2, 0x16], // jne rel32 past 0xffffffff
      [0x80000000, [0x0f, 0x84, 0xf0, 0xff, 0xff, 0xff], 0x42, 0x7ffffff6], // je back below 2^31
      [0x7ffffff0, [0x0f, 0x82, 0x20, 0, 0, 0], 0x3, 0x80000016], // jb forward past 2^31
    ];
    for (const [eip, bytes, flags, target] of cases) {
      const out = [true, false].map((fastPaths) => {
        const m = flat32('hlt');
        m.cpu.blocks.fastPaths = fastPaths;
        m.cpu.blocks.flush();
        m.ram.set(bytes, 0x1000);
        m.cpu.segs.set(Seg.CS, 0x08, (0x1000 - eip) >>> 0, 0xffffffff, 0x9b | 0xc000);
        m.cpu.regs.ip = eip;
        m.cpu.eflags = flags;
        m.run(1);
        return m.cpu.regs.ip;
      });
      expect(out, `branch at ${eip.toString(16)}`).toEqual([target, target]);
    }
  });
});
