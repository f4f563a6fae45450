import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { CR0, EFLAGS as F, Vector } from './index.js';

function run(source: string, setup?: (m: ReturnType<typeof flat32>) => void) {
  const m = flat32(`fninit\n${source}\nhlt`);
  setup?.(m);
  runToHlt(m);
  return m;
}

describe('x87 instructions through the interpreter', () => {
  it('FLD/FADD/FSTP compute 1.5 + 2.25 into memory as a double', () => {
    // fld qword [0x3000] / fadd qword [0x3008] / fstp qword [0x3010], as bytes: the assembler's x87
    // memory forms were in flux while this was written.
    const code = 'db 0xdd,5,0,0x30,0,0\ndb 0xdc,5,8,0x30,0,0\ndb 0xdd,0x1d,0x10,0x30,0,0';
    const m = run(code, (m) => {
      const v = new DataView(m.ram.buffer);
      v.setFloat64(0x3000, 1.5, true);
      v.setFloat64(0x3008, 2.25, true);
    });
    expect(new DataView(m.ram.buffer).getFloat64(0x3010, true)).toBe(3.75);
  });

  it('FILD/FIMUL/FISTP work on integers', () => {
    // fild dword [0x3000] / fimul word [0x3004] / fistp dword [0x3008]
    const code = 'db 0xdb,5,0,0x30,0,0\ndb 0xde,0x0d,4,0x30,0,0\ndb 0xdb,0x1d,8,0x30,0,0';
    const m = run(code, (m) => {
      m.memory.write32(0x3000, -7);
      m.memory.write16(0x3004, 6);
    });
    expect(m.memory.read32(0x3008) | 0).toBe(-42);
  });

  it('FCOMI sets ZF/PF/CF like an unsigned compare', () => {
    // The two pops are `fstp st0` (DD D8) as bytes.
    const m = run('fld1\nfldz\nfcomi st0, st1\nsetb al\ndb 0xdd, 0xd8, 0xdd, 0xd8');
    expect(m.cpu.regs.r8[0]).toBe(1);
    expect(m.cpu.eflags & (F.OF | F.SF | F.AF)).toBe(0);
  });

  it('FNSTSW AX reports TOP after two pushes', () => {
    const m = run('fninit\nfld1\nfld1\nfnstsw ax');
    expect((m.cpu.regs.r16[0]! >>> 11) & 7).toBe(6);
  });

  it('an x87 instruction with CR0.TS set raises #NM', () => {
    const vectors: number[] = [];
    const m = flat32('fld1\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    m.cpu.ctrl.cr0 |= CR0.TS;
    m.run(1);
    expect(vectors[0]).toBe(Vector.NM);
  });

  it('FXSAVE stores the control word and needs a 16-byte aligned operand', () => {
    // FXSAVE [0x3000] / [0x3008] (the assembler has no m512 operand size).
    const m = run('db 0x0f, 0xae, 0x05, 0x00, 0x30, 0x00, 0x00');
    expect(m.memory.read16(0x3000)).toBe(0x037f);
    const vectors: number[] = [];
    const bad = flat32('db 0x0f, 0xae, 0x05, 0x08, 0x30, 0x00, 0x00\nhlt', {
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    bad.run(1);
    expect(vectors[0]).toBe(Vector.GP);
  });
});

describe('MMX instructions through the interpreter', () => {
  it('PADDB adds bytes with wrap-around; MOVQ/MOVD move through MM registers; EMMS empties the tags', () => {
    const m = flat32(`
      movq mm0, [0x3000]
      movq mm1, [0x3008]
      paddb mm0, mm1
      movq [0x3010], mm0
      movd eax, mm0
      emms
      hlt`);
    m.memory.write32(0x3000, 0x01020304);
    m.memory.write32(0x3004, 0xff000080);
    m.memory.write32(0x3008, 0x10101010);
    m.memory.write32(0x300c, 0x02000080);
    runToHlt(m);
    expect(m.memory.read32(0x3010)).toBe(0x11121314);
    expect(m.memory.read32(0x3014)).toBe(0x01000000);
    expect(m.cpu.regs.u32[0]).toBe(0x11121314);
    expect([...m.cpu.fpu.empty]).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('PSRLQ by an immediate shifts the whole quadword', () => {
    const m = flat32('mov eax, 0x80000000\nmovd mm2, eax\npsllq mm2, 4\nmovq [0x3000], mm2\nemms\nhlt');
    runToHlt(m);
    expect(m.memory.read32(0x3000)).toBe(0);
    expect(m.memory.read32(0x3004)).toBe(8);
  });

  it('an MMX instruction with CR0.EM set raises #UD', () => {
    const vectors: number[] = [];
    const m = flat32('emms\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    m.cpu.ctrl.cr0 |= CR0.EM;
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });
});
