import { describe, expect, it } from 'vitest';
import { AssembleError, asm, assemble } from './assembler.js';
import { decodeAll, decodeInto } from './decoder.js';
import { formatInstruction } from './formatter.js';
import { Instruction } from './instruction.js';
import { randomBytes } from './tools/compare.js';

const disasm = (bytes: Uint8Array, bitness: 16 | 32 | 64, ip = 0) =>
  [...decodeAll(bytes, { bitness, ip })].map(formatInstruction);

describe('assembler', () => {
  it('assembles a 16-bit boot-sector style program with labels and data', () => {
    const bytes = assemble(
      `
      start:
        mov ax, 0x1234
        mov dx, 0x3f8   ; COM1
        out dx, al
        xor cx, cx
      again:
        inc cx
        cmp cx, 10
        jne again
        hlt
        jmp short start
      msg: db "ok", 0
      `,
      { bitness: 16, origin: 0x7c00 },
    );
    expect(disasm(bytes.subarray(0, 18), 16, 0x7c00)).toEqual([
      'mov ax,1234h',
      'mov dx,3F8h',
      'out dx,al',
      'xor cx,cx',
      'inc cx',
      'cmp cx,0Ah',
      'jne short 7C09h',
      'hlt',
      'jmp short 7C00h',
    ]);
    expect(Array.from(bytes.subarray(18))).toEqual([0x6f, 0x6b, 0]);
  });

  it('picks the shortest encoding (imm8 forms, rel8 branches)', () => {
    expect(Array.from(assemble('add eax, 1', { bitness: 32 }))).toEqual([0x83, 0xc0, 0x01]);
    expect(Array.from(assemble('add eax, 1000', { bitness: 32 }))).toEqual([0x05, 0xe8, 0x03, 0, 0]);
    expect(assemble('l: jmp l', { bitness: 32 }).length).toBe(2);
  });

  it('uses near branches when the target is out of rel8 range', () => {
    const bytes = assemble(`jmp far_away\ntimes: db ${Array(200).fill('0').join(',')}\nfar_away: hlt`, {
      bitness: 32,
    });
    expect(disasm(bytes.subarray(0, 5), 32)).toEqual(['jmp 000000CDh']);
  });

  it('assembles 64-bit code with REX, RIP-relative data and SSE/AVX', () => {
    const bytes = assemble(
      'mov rax, 0x123456789abc\nmov [rip+data], eax\npush r12\nvmovdqu ymm1, [rax+rcx*8+16]\nlock cmpxchg [rdi], ecx\nrep movsb\ndata: dd 0',
      { bitness: 64, origin: 0x400000 },
    );
    expect(disasm(bytes.subarray(0, bytes.length - 4), 64, 0x400000)).toEqual([
      'mov rax,123456789ABCh',
      'mov [40001Eh],eax',
      'push r12',
      'vmovdqu ymm1,[rax+rcx*8+10h]',
      'lock cmpxchg [rdi],ecx',
      'rep movsb [rdi],[rsi]',
    ]);
  });

  it('supports memory size keywords, segment overrides and far pointers', () => {
    const bytes = assemble(
      'mov byte ptr [bx+si+4], 0x12\nmov word ptr es:[di], 0x1234\njmp far 0x10:0x2000',
      {
        bitness: 16,
      },
    );
    expect(disasm(bytes, 16)).toEqual([
      'mov byte ptr [bx+si+4],12h',
      'mov word ptr es:[di],1234h',
      'jmp far 2000h,0010h',
    ]);
  });

  it('has a tagged-template form', () => {
    const a32 = asm(32);
    expect(Array.from(a32`mov eax, ${7}\nret`)).toEqual([0xb8, 7, 0, 0, 0, 0xc3]);
  });

  it('reports errors with the line number', () => {
    expect(() => assemble('nop\nfrobnicate eax', { bitness: 32 })).toThrow(AssembleError);
    expect(() => assemble('nop\nfrobnicate eax', { bitness: 32 })).toThrow(/line 2/);
    expect(() => assemble('out 0x3f8, al', { bitness: 16 })).toThrow(/no form of 'out'/);
    expect(() => assemble('mov r8d, 1', { bitness: 32 })).toThrow(/line 1/);
  });
});

describe('assembler accepts what the formatter prints', () => {
  for (const bitness of [16, 32, 64] as const) {
    it(`re-assembles formatted random instructions to the same text (${bitness}-bit)`, () => {
      const bytes = randomBytes(0xa5 + bitness, 16 * 3000);
      const a = new Instruction();
      const b = new Instruction();
      let checked = 0;
      for (let i = 0; i < 3000; i++) {
        if (decodeInto(a, bytes, i * 16, bitness, 0x1000) === 0) continue;
        const text = formatInstruction(a);
        // In 64-bit mode `es:[rdi]` only says "an FS/GS prefix was present": not reproducible from text.
        if (bitness === 64 && text.includes('es:[')) continue;
        const out = assemble(text, { bitness, origin: 0x1000 });
        expect(decodeInto(b, out, 0, bitness, 0x1000), text).toBe(out.length);
        expect(formatInstruction(b), text).toBe(text);
        checked++;
      }
      expect(checked).toBeGreaterThan(2000);
    });
  }
});
