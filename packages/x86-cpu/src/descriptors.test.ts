import { assemble } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import { flat32, GDT, real16, runToHlt, Sel, writeDescriptor, writeGate } from '../test/machine.js';
import { EFLAGS, Seg, Vector } from './index.js';

const TSS = 0x6000;

/** Extends the test GDT with a TSS at 0x38 (SS0:ESP0 = 0x10:0x7000) and more entries from 0x40. */
function tables(m: ReturnType<typeof flat32>, limit = 0x60): void {
  writeDescriptor(m.memory, GDT + 0x38, TSS, 0x67, 0x89, 0);
  m.memory.write32(TSS + 4, 0x7000);
  m.memory.write32(TSS + 8, Sel.Data32);
  m.cpu.ctrl.gdtr.limit = limit - 1;
}

function vectorsOf(source: string, setup?: (m: ReturnType<typeof flat32>) => void, steps = 50) {
  const vectors: number[] = [];
  const m = flat32(source, { events: { delivered: (_k, v) => vectors.push(v) } });
  tables(m);
  setup?.(m);
  m.run(steps);
  return { m, vectors };
}

describe('descriptor instructions', () => {
  it('LAR and LSL report access rights and the byte-granular limit of a visible descriptor', () => {
    const m = flat32(`mov ax, ${Sel.Data32}\nlar ebx, eax\nlsl ecx, eax\nhlt`);
    runToHlt(m);
    expect(m.cpu.regs.u32[3]).toBe(0x00c09200); // type, S, DPL, P, AVL, D, G; limit bits masked
    expect(m.cpu.regs.u32[1]).toBe(0xffffffff);
    expect(m.cpu.eflags & EFLAGS.ZF).toBe(EFLAGS.ZF);
  });

  it('LAR clears ZF for a selector beyond the GDT', () => {
    const m = flat32('mov eax, 0x1238\nmov ebx, 77\nlar ebx, eax\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[3]).toBe(77);
    expect(m.cpu.eflags & EFLAGS.ZF).toBe(0);
  });

  it('VERR/VERW tell readable from writable segments', () => {
    const m = flat32(
      `mov ax, ${Sel.Code32}\nverr ax\nsetz bl\nverw ax\nsetz bh\nmov ax, ${Sel.Data32}\nverw ax\nsetz cl\nhlt`,
    );
    runToHlt(m);
    expect(m.cpu.regs.r8[12]).toBe(1);
    expect(m.cpu.regs.r8[13]).toBe(0);
    expect(m.cpu.regs.r8[4]).toBe(1);
  });

  it('ARPL raises the RPL of the destination to the source RPL', () => {
    const m = flat32('mov ax, 0x10\nmov bx, 0x2b\narpl ax, bx\nsetz cl\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.r16[0]).toBe(0x13);
    expect(m.cpu.regs.r8[4]).toBe(1);
  });

  it('SGDT/SIDT store limit and base', () => {
    const m = flat32('sgdt [0x3000]\nsidt [0x3010]\nhlt');
    tables(m);
    m.cpu.ctrl.idtr.base = 0x7800;
    m.cpu.ctrl.idtr.limit = 0x7ff;
    runToHlt(m);
    expect(m.memory.read16(0x3000)).toBe(0x5f);
    expect(m.memory.read32(0x3002)).toBe(GDT);
    expect(m.memory.read16(0x3010)).toBe(0x7ff);
    expect(m.memory.read32(0x3012)).toBe(0x7800);
  });

  it('LMSW can set PE and TS but never clears PE; SMSW reads them back', () => {
    const m = flat32('mov ax, 8\nlmsw ax\nsmsw ebx\nhlt');
    runToHlt(m);
    expect(m.cpu.regs.u32[3]! & 0xf).toBe(0x9);
  });
});

describe('privilege checks', () => {
  const toRing3 = (user: string) => `
    mov ax, 0x38
    ltr ax
    push ${Sel.Data32Dpl3}
    push 0x5000
    push 0x2
    push ${Sel.Code32Dpl3}
    push user
    iretd
  user:
    ${user}
    hlt`;

  it('CLI at CPL 3 with IOPL 0 raises #GP(0)', () => {
    const { vectors } = vectorsOf(toRing3('cli'));
    expect(vectors[0]).toBe(Vector.GP);
  });

  it('POPF at CPL 3 leaves IOPL and IF unchanged', () => {
    const { m } = vectorsOf(toRing3('push 0x3202\npopfd\npushfd\npop eax'), undefined, 20);
    expect(m.cpu.regs.u32[0]! & (EFLAGS.IOPL | EFLAGS.IF)).toBe(0);
  });

  it('loading a DPL 0 data segment at CPL 3 raises #GP with the selector', () => {
    const errors: number[] = [];
    const m = flat32(toRing3(`mov ax, ${Sel.Data32}\nmov ds, ax`), {
      events: { delivered: (_k, v, e) => errors.push(v, e) },
    });
    tables(m);
    m.run(20);
    expect(errors.slice(0, 2)).toEqual([Vector.GP, Sel.Data32]);
  });

  it('a far RET from CPL 0 to CPL 3 code reloads SS:ESP from the stack and nulls DPL 0 data segments', () => {
    const m = flat32(`
      push ${Sel.Data32Dpl3}
      push 0x5000
      push ${Sel.Code32Dpl3}
      push user
      db 0xcb
    user:
      mov eax, ds
      mov ebx, esp
      mov ecx, cs
      jmp user`);
    tables(m);
    m.run(10);
    expect(m.cpu.ctrl.cpl).toBe(3);
    expect(m.cpu.regs.u32[0]).toBe(0);
    expect(m.cpu.regs.u32[3]).toBe(0x5000);
    expect(m.cpu.regs.u32[1]).toBe(Sel.Code32Dpl3);
  });

  it('a conforming code segment runs at the caller privilege', () => {
    const m = flat32(toRing3('call far fword ss:[0x3200]'));
    tables(m);
    // 0x40: conforming code, DPL 0.
    writeDescriptor(m.memory, GDT + 0x40, 0, 0xfffff, 0x9e, 0xc);
    const target = 0x2800;
    m.ram.set(assemble('mov edx, cs\nhlt', { bitness: 32, origin: target }), target);
    m.memory.write32(0x3200, target);
    m.memory.write16(0x3204, 0x40);
    m.run(30);
    expect(m.cpu.regs.u32[2]! & 3).toBe(3);
    expect(m.cpu.ctrl.cpl).toBe(3);
  });

  it('a 16-bit code segment executes 16-bit code in protected mode', () => {
    const m = flat32('jmp far 0x18:0x2800');
    tables(m);
    m.ram.set(assemble('mov ax, 0x1234\nmov bx, sp\nhlt', { bitness: 16, origin: 0x2800 }), 0x2800);
    runToHlt(m);
    expect(m.cpu.bitness).toBe(16);
    expect(m.cpu.regs.r16[0]).toBe(0x1234);
  });

  it('a call gate whose DPL is below CPL raises #GP', () => {
    const { vectors } = vectorsOf(toRing3('call far fword ss:[0x3200]'), (m) => {
      writeGate(m.memory, GDT + 0x48, Sel.Code32, 0x2000, 0xc, 0, 0);
      m.memory.write32(0x3200, 0);
      m.memory.write16(0x3204, 0x4b);
    });
    expect(vectors[0]).toBe(Vector.GP);
  });
});

describe('exceptions raised by instructions', () => {
  it('BOUND outside the range raises #BR', () => {
    const { vectors } = vectorsOf(
      'mov dword [0x3000], 0\nmov dword [0x3004], 10\nmov eax, 11\nbound eax, [0x3000]\nhlt',
    );
    expect(vectors[0]).toBe(Vector.BR);
  });

  it('INTO traps only when OF is set', () => {
    const { vectors } = vectorsOf('into\nmov al, 0x7f\nadd al, 1\ninto\nhlt');
    expect(vectors[0]).toBe(Vector.OF);
  });

  it('UD2 raises #UD', () => {
    const { vectors } = vectorsOf('ud2\nhlt');
    expect(vectors[0]).toBe(Vector.UD);
  });

  it('TF raises #DB after each instruction', () => {
    const { vectors } = vectorsOf('pushfd\nor dword [esp], 0x100\npopfd\nnop\nhlt');
    expect(vectors[0]).toBe(Vector.DB);
  });
});

describe('real-mode segment loads', () => {
  it('a data-segment load in big real mode moves the base the memory fast path uses (SeaBIOS IRQ entry)', () => {
    // DS keeps a 4 GiB limit from protected mode ("unreal mode"); loading it in real mode changes only
    // selector and base, and the next access must use the new base, not the old flat base 0.
    const m = real16('mov ax, 0x100\nmov ds, ax\nmov eax, [0x20]\nhlt');
    m.cpu.segs.set(Seg.DS, 0, 0, 0xffffffff, 0x93 | 0x8000);
    m.memory.write32(0x20, 0x11111111);
    m.memory.write32(0x1020, 0x22222222);
    runToHlt(m);
    expect(m.cpu.regs.u32[0]).toBe(0x22222222);
  });
});
