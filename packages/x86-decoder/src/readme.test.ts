// Runs the README's example (keep the two in sync).
import { describe, expect, it } from 'vitest';
import { Code, Instruction, assemble, decodeInto, encode, formatInstruction } from './index.js';

describe('README example', () => {
  it('assembles, decodes into a reused object, formats and re-encodes', () => {
    const code = assemble('mov eax, 1\nmov dx, 0x3f8\nout dx, al\nhlt', { bitness: 16, origin: 0x7c00 });
    const insn = new Instruction();
    const lines: string[] = [];
    for (let off = 0, ip = 0x7c00; off < code.length; ) {
      const len = decodeInto(insn, code, off, 16, ip);
      if (len === 0) throw new Error(`invalid instruction at ${off}`);
      lines.push(formatInstruction(insn));
      expect(encode(insn)).toEqual(code.subarray(off, off + len));
      off += len;
      ip += len;
    }
    expect(lines).toEqual(['mov eax,1', 'mov dx,3F8h', 'out dx,al', 'hlt']);
    expect(insn.code).toBe(Code.Hlt);
    expect(insn.endsBlock).toBe(true);
  });
});
