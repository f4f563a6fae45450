import type { GuestMemory } from '@typevisor/memory';
import { assemble } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import { flat32, GDT, real16, runToHlt, Sel, writeDescriptor, writeGate, writeGdt } from '../test/machine.js';
import { CpuExit, EFLAGS, Mode, Seg, Vector } from './index.js';

const IDT = 0x7800;
const TSS = 0x6000;
const INT_GATE32 = 0xe;
const CALL_GATE32 = 0xc;

/** Assembly that points IDT vector `v` at `label` with a 32-bit gate of `type`/`dpl`. */
function gate(v: number, label: string, type = INT_GATE32, dpl = 0): string {
  const a = IDT + v * 8;
  return `
    mov eax, ${label}
    mov word [${a}], ax
    mov word [${a + 2}], ${Sel.Code32}
    mov word [${a + 4}], ${0x8000 | (dpl << 13) | (type << 8)}
    shr eax, 16
    mov word [${a + 6}], ax`;
}

/** GDT plus a 32-bit TSS (selector 0x38) with SS0:ESP0 = 0x10:0x7000; IDTR at IDT with `vectors` entries. */
function systemTables(m: { memory: GuestMemory; cpu: import('./index.js').Cpu }, vectors = 256): void {
  writeGdt(m.memory);
  writeDescriptor(m.memory, GDT + 0x38, TSS, 0x67 + 0x2000 / 8 + 1, 0x89, 0);
  m.cpu.ctrl.gdtr.limit = 0x40 - 1;
  m.memory.write32(TSS + 4, 0x7000);
  m.memory.write32(TSS + 8, Sel.Data32);
  m.memory.write16(TSS + 0x66, 0x68);
  m.cpu.ctrl.idtr.base = IDT;
  m.cpu.ctrl.idtr.limit = vectors * 8 - 1;
}

describe('mode switches', () => {
  it('real mode enters 32-bit protected mode with LGDT, MOV CR0 and a far JMP', () => {
    const pm = assemble('mov ax, 0x10\nmov ds, ax\nmov eax, [0x3000]\nhlt', { bitness: 32, origin: 0x2000 });
    const m = real16(`
      lgdt fword [0x3100]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp far 0x08:0x2000`);
    writeGdt(m.memory);
    m.memory.write16(0x3100, 7 * 8 - 1);
    m.memory.write32(0x3102, GDT);
    m.ram.set(pm, 0x2000);
    m.memory.write32(0x3000, 0xfeedf00d);
    runToHlt(m);
    expect(m.cpu.ctrl.mode).toBe(Mode.Protected);
    expect(m.cpu.bitness).toBe(32);
    expect(m.cpu.regs.u32[0]).toBe(0xfeedf00d);
  });
});

describe('protected-mode interrupts and privilege', () => {
  const program = `
    mov ax, 0x38
    ltr ax
    ${gate(0x80, 'syscall', INT_GATE32, 3)}
    ${gate(13, 'gp')}
    push ${Sel.Data32Dpl3}
    push 0x5000
    push 0x202
    push ${Sel.Code32Dpl3}
    push user
    iretd
  user:
    mov ax, ${Sel.Data32Dpl3}
    mov ds, ax
    mov eax, 5
    int 0x80
    mov [0x3100], eax
    hlt
  syscall:
    add eax, 1
    mov ebx, [esp+12]
    mov ecx, [esp+16]
    mov edx, esp
    iretd
  gp:
    mov esi, [esp]
    mov edi, [esp+4]
    hlt`;

  it('INT from CPL 3 switches to the TSS stack, IRET returns, HLT at CPL 3 is #GP(0)', () => {
    const m = flat32(program);
    systemTables(m);
    runToHlt(m);
    const cpu = m.cpu;
    expect(m.memory.read32(0x3100)).toBe(6);
    expect(cpu.regs.u32[3]).toBe(0x5000); // user ESP seen in the syscall frame
    expect(cpu.regs.u32[1]).toBe(Sel.Data32Dpl3); // user SS
    expect(cpu.regs.u32[2]).toBe(0x7000 - 20); // frame on the ring-0 stack
    expect(cpu.regs.u32[6]).toBe(0); // #GP error code
    expect(cpu.ctrl.cpl).toBe(0);
    expect(cpu.eflags & EFLAGS.IF).toBe(0); // interrupt gate cleared IF
  });

  it('a selector beyond the GDT limit faults #GP with the selector as error code', () => {
    const m = flat32(`${gate(13, 'gp')}\nmov ax, 0x1234\nmov ds, ax\nhlt\ngp:\nmov esi, [esp]\nhlt`);
    systemTables(m);
    runToHlt(m);
    expect(m.cpu.regs.u32[6]).toBe(0x1234); // index 0x1230, TI=1 (LDT)
  });

  it('a fault while delivering a fault becomes #DF with error code 0', () => {
    const m = flat32(
      `${gate(8, 'df')}\nmov ax, 0x1234\nmov ds, ax\nhlt\ndf:\nmov esi, [esp]\nmov edi, 0xdf\nhlt`,
    );
    systemTables(m, 9); // vectors 0..8 only: delivering #GP (13) faults again
    runToHlt(m);
    expect(m.cpu.regs.u32[7]).toBe(0xdf);
    expect(m.cpu.regs.u32[6]).toBe(0);
  });

  it('a fault while delivering #DF is a triple fault: run() reports shutdown', () => {
    const m = flat32('mov ax, 0x1234\nmov ds, ax\nhlt');
    systemTables(m, 1);
    expect(m.run(100)).toBe(CpuExit.Shutdown);
  });

  it('a call gate takes CPL 3 code to CPL 0 with a parameter copied to the inner stack', () => {
    const m = flat32(`
      mov ax, 0x38
      ltr ax
      push ${Sel.Data32Dpl3}
      push 0x5000
      push 0x2
      push ${Sel.Code32Dpl3}
      push user
      iretd
    user:
      push 0xabcd
      call far fword ss:[0x3200]
      hlt
    kernel:
      mov eax, [esp+8]
      mov ebx, [esp+12]
      mov ecx, cs
      hlt`);
    systemTables(m);
    const kernel =
      0x1000 +
      assemble(
        `mov ax, 0x38\nltr ax\npush ${Sel.Data32Dpl3}\npush 0x5000\npush 0x2\npush ${Sel.Code32Dpl3}\npush user\niretd\nuser:\npush 0xabcd\ncall far fword ss:[0x3200]\nhlt`,
        { bitness: 32, origin: 0x1000 },
      ).length;
    writeGate(m.memory, GDT + 0x40, Sel.Code32, kernel, CALL_GATE32, 3, 1);
    m.cpu.ctrl.gdtr.limit = 0x48 - 1;
    m.memory.write32(0x3200, 0);
    m.memory.write16(0x3204, 0x40 | 3);
    runToHlt(m);
    expect(m.cpu.ctrl.cpl).toBe(0);
    expect(m.cpu.regs.u32[0]).toBe(0xabcd); // the copied parameter
    expect(m.cpu.regs.u32[3]).toBe(0x5000 - 4); // caller ESP
    expect(m.cpu.regs.u32[1]).toBe(Sel.Code32);
    expect(m.cpu.regs.u32[4]).toBe(0x7000 - 20);
  });

  it('the I/O permission bitmap allows port 0x80 and refuses 0x81 at CPL 3', () => {
    const m = flat32(`
      mov ax, 0x38
      ltr ax
      ${gate(13, 'gp')}
      push ${Sel.Data32Dpl3}
      push 0x5000
      push 0x2
      push ${Sel.Code32Dpl3}
      push user
      iretd
    user:
      out 0x80, al
      mov ebx, 1
      out 0x81, al
      mov ebx, 2
    gp:
      hlt`);
    systemTables(m);
    // Bitmap at TSS+0x68: all ports denied except 0x80.
    for (let i = 0; i < 0x2000; i++) m.ram[TSS + 0x68 + i] = 0xff;
    m.ram[TSS + 0x68 + 0x10] = 0xfe;
    runToHlt(m);
    expect(m.cpu.regs.u32[3]).toBe(1);
    expect(m.cpu.ctrl.cpl).toBe(0);
  });

  it('a hardware task switch through a TSS descriptor saves the old task and loads the new one', () => {
    const m = flat32(`
      mov ax, 0x38
      ltr ax
      mov eax, 0x1111
      jmp far 0x48:0
      hlt`);
    systemTables(m);
    const TSS2 = 0x6800;
    writeDescriptor(m.memory, GDT + 0x48, TSS2, 0x67, 0x89, 0);
    m.cpu.ctrl.gdtr.limit = 0x50 - 1;
    const task2 = assemble('mov ebx, 0x2222\nhlt', { bitness: 32, origin: 0x2800 });
    m.ram.set(task2, 0x2800);
    m.memory.write32(TSS2 + 0x20, 0x2800); // EIP
    m.memory.write32(TSS2 + 0x24, 0x2); // EFLAGS
    m.memory.write32(TSS2 + 0x38, 0x5800); // ESP
    for (const [off, sel] of [
      [0x48, Sel.Data32],
      [0x4c, Sel.Code32],
      [0x50, Sel.Data32],
      [0x54, Sel.Data32],
    ] as const) {
      m.memory.write16(TSS2 + off, sel);
    }
    runToHlt(m);
    const cpu = m.cpu;
    expect(cpu.regs.u32[3]).toBe(0x2222);
    expect(cpu.regs.u32[0]).toBe(0); // EAX from the new TSS
    expect(cpu.regs.u32[4]).toBe(0x5800);
    expect(cpu.segs.selector[Seg.TR]).toBe(0x48);
    expect(m.memory.read32(TSS + 0x28)).toBe(0x1111); // old EAX saved
    expect((m.memory.read32(GDT + 0x48 + 4) >>> 8) & 0xf).toBe(0xb); // new TSS busy
    expect((m.memory.read32(GDT + 0x38 + 4) >>> 8) & 0xf).toBe(0x9); // old TSS available again (JMP)
  });

  it('a double fault through an IDT task gate switches to the handler task and pushes the error code there', () => {
    const m = flat32('mov ax, 0x38\nltr ax\nmov ax, 0x1234\nmov ds, ax\nhlt');
    systemTables(m, 9); // #GP (13) is outside the IDT: delivering it faults again, giving #DF
    const TSS2 = 0x6800;
    writeDescriptor(m.memory, GDT + 0x48, TSS2, 0x67, 0x89, 0);
    m.cpu.ctrl.gdtr.limit = 0x50 - 1;
    writeGate(m.memory, IDT + 8 * 8, 0x48, 0, 0x5, 0); // task gate for #DF
    m.ram.set(assemble('mov eax, [esp]\nstr bx\nhlt', { bitness: 32, origin: 0x2800 }), 0x2800);
    m.memory.write32(TSS2 + 0x20, 0x2800);
    m.memory.write32(TSS2 + 0x24, 0x2);
    m.memory.write32(TSS2 + 0x38, 0x5800);
    for (const [off, sel] of [
      [0x48, Sel.Data32],
      [0x4c, Sel.Code32],
      [0x50, Sel.Data32],
      [0x54, Sel.Data32],
    ] as const) {
      m.memory.write16(TSS2 + off, sel);
    }
    runToHlt(m);
    expect(m.cpu.regs.u32[4]).toBe(0x5800 - 4); // the #DF error code (0) on the new task's stack
    expect(m.cpu.regs.u32[0]).toBe(0);
    expect(m.cpu.regs.r16[6]).toBe(0x48); // STR: the handler task
    expect(m.memory.read16(TSS2)).toBe(0x38); // back link to the faulting task
    expect(m.cpu.eflags & EFLAGS.NT).toBe(EFLAGS.NT);
  });

  it('IRET with VM=1 enters virtual-8086 mode; INT there faults to the monitor with VM in the frame', () => {
    const m = flat32(`
      mov ax, 0x38
      ltr ax
      ${gate(13, 'gp')}
      push 0
      push 0
      push 0x300
      push 0
      push 0x400
      push 0x100
      push ${EFLAGS.VM | 0x2}
      push 0x200
      push 0
      iretd
    gp:
      mov esi, [esp+12]
      mov edi, [esp+8]
      hlt`);
    systemTables(m);
    const v86 = assemble('mov ax, 0x1234\nmov [0x10], ax\nint 0x21', { bitness: 16, origin: 0 });
    m.ram.set(v86, 0x2000);
    runToHlt(m);
    expect(m.memory.read16(0x3010)).toBe(0x1234); // DS = 0x300 in V86: linear 0x3010
    expect(m.cpu.regs.u32[6]! & EFLAGS.VM).toBe(EFLAGS.VM);
    expect(m.cpu.regs.u32[7]).toBe(0x200); // CS of the V86 code
    expect(m.cpu.ctrl.mode).toBe(Mode.Protected);
  });
});

describe('paging through the MMU', () => {
  it('a not-present page faults #PF with CR2 and the error code; a mapped page translates', () => {
    const m = flat32(`
      ${gate(14, 'pf')}
      mov eax, 0x100000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov eax, [0x400010]
      mov ebx, [0x801234]
      hlt
    pf:
      mov esi, cr2
      mov edi, [esp]
      hlt`);
    systemTables(m);
    const mem = m.memory;
    // Page directory at 0x100000, page tables after it.
    mem.write32(0x100000, 0x101000 | 3); // PDE 0: identity 0-4 MiB
    for (let i = 0; i < 1024; i++) mem.write32(0x101000 + i * 4, (i << 12) | 3);
    mem.write32(0x100004, 0x102000 | 3); // PDE 1 (4-8 MiB): one page 0x400000 -> 0x200000
    mem.write32(0x102000, 0x200000 | 3);
    mem.write32(0x200010, 0x5a5a5a5a);
    runToHlt(m);
    expect(m.cpu.regs.u32[0]).toBe(0x5a5a5a5a);
    expect(m.cpu.regs.u32[6]).toBe(0x801234);
    expect(m.cpu.regs.u32[7]).toBe(0); // not present, read, supervisor
  });
});

describe('external interrupts', () => {
  function withController(source: string) {
    const m = flat32(source);
    systemTables(m);
    const acks: number[] = [];
    m.cpu.interruptController = {
      acknowledge: () => {
        acks.push(0x20);
        m.cpu.setIntr(false);
        return 0x20;
      },
    };
    return { m, acks };
  }

  it('HLT wakes on INTR; the acknowledged vector is delivered through the IDT', () => {
    const { m, acks } = withController(
      `${gate(0x20, 'irq')}\nsti\nhlt\nmov ebx, 1\nhlt\nirq:\nmov ecx, 0x20\niretd`,
    );
    expect(m.run(100)).toBe(CpuExit.Hlt);
    m.cpu.setIntr(true);
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect(acks).toEqual([0x20]);
    expect(m.cpu.regs.u32[1]).toBe(0x20);
    expect(m.cpu.regs.u32[3]).toBe(1);
  });

  it('STI delays a pending interrupt until after the next instruction', () => {
    const { m } = withController(
      `${gate(0x20, 'irq')}\nsti\nmov ebx, 1\nmov ebx, 2\nhlt\nirq:\nmov ecx, ebx\niretd`,
    );
    m.cpu.setIntr(true);
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(1); // the interrupt came after the instruction following STI
  });

  it('MOV SS inhibits interrupts for one instruction', () => {
    const { m } = withController(`
      ${gate(0x20, 'irq')}
      mov ax, ss
      mov ecx, 0xffff
      mov ss, ax
      mov ebx, 5
      mov ebx, 6
      hlt
    irq:
      mov ecx, ebx
      iretd`);
    m.cpu.flags.bits |= EFLAGS.IF;
    expect(m.run(9)).toBe(CpuExit.Budget); // gate setup (6 instructions), MOV AX,SS, MOV ECX, MOV SS
    m.cpu.setIntr(true);
    runToHlt(m);
    expect(m.cpu.regs.u32[1]).toBe(5); // taken after MOV EBX,5, not right after MOV SS
  });

  it('NMI is delivered through vector 2 even with IF clear', () => {
    const m = flat32(`${gate(2, 'nmi')}\ncli\nhlt\nnmi:\nmov edx, 2\nhlt`);
    systemTables(m);
    expect(m.run(100)).toBe(CpuExit.Hlt);
    m.cpu.raiseNmi();
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.u32[2]).toBe(2);
  });
});

describe('segmentation', () => {
  it('an expand-down data segment faults below its limit and allows above it', () => {
    const m = flat32(`
      ${gate(13, 'gp')}
      mov ax, 0x40
      mov es, ax
      mov dword es:[0x2000], 1
      mov ebx, 1
      mov dword es:[0x0800], 1
      mov ebx, 2
    gp:
      hlt`);
    systemTables(m);
    writeDescriptor(m.memory, GDT + 0x40, 0x100000, 0x0fff, 0x96, 0x4); // expand-down, limit 0xfff, B=1
    m.cpu.ctrl.gdtr.limit = 0x48 - 1;
    runToHlt(m);
    expect(m.memory.read32(0x102000)).toBe(1);
    expect(m.cpu.regs.u32[3]).toBe(1);
  });

  it('stack faults in protected mode are #SS', () => {
    const vectors: number[] = [];
    const m = flat32('mov ax, 0x20\nmov ss, ax\nmov esp, 0x10002\npush eax\nhlt', {
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    systemTables(m);
    m.run(5);
    expect(vectors[0]).toBe(Vector.SS);
  });
});
