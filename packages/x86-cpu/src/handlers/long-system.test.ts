import { assemble, CpuidFeature } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import type { Machine } from '../../test/machine.js';
import { HIGH_ALIAS, long64, PML4, reg64, runLong, setReg64 } from '../../test/long-machine.js';
import { CR4 } from '../control.js';
import { X86_64_MODEL } from '../cpu-model.js';
import { Vector } from '../exceptions.js';
import { EFLAGS } from '../flags.js';
import { NullHooks } from '../hooks.js';
import { Efer, Msr } from '../msr.js';
import { Seg } from '../registers.js';
import { Attr } from '../segments.js';

const USER = 0x2000;
const KERNEL = 0x3000;
const GDT = 0x600;
/** STAR[47:32] (kernel CS; SS = +8) and STAR[63:48] (SYSRET base: CS32 = +0, SS = +8, CS64 = +16). */
const KERNEL_CS = 0x08;
const USER_BASE = 0x18;

/** Writes `source` assembled for 64-bit mode at `at`. */
function place(m: Machine, at: number, source: string): void {
  m.ram.set(assemble(source, { bitness: 64, origin: at }), at);
}

function setMsr(m: Machine, index: number, v: bigint): void {
  const slot = m.cpu.msrs.find(index);
  m.cpu.msrs.lo[slot] = Number(BigInt.asUintN(64, v) & 0xffffffffn);
  m.cpu.msrs.hi[slot] = Number(BigInt.asUintN(64, v) >> 32n);
}

function msr(m: Machine, index: number): bigint {
  const slot = m.cpu.msrs.find(index);
  return (BigInt(m.cpu.msrs.hi[slot]!) << 32n) | BigInt(m.cpu.msrs.lo[slot]!);
}

/**
 * A machine whose GDT at 0x600 matches STAR: 0x08 kernel code64, 0x10 kernel data, 0x18 user code32,
 * 0x20 user data, 0x28 user code64 (all DPL 3 for the user ones), with STAR/LSTAR/FMASK set, the
 * kernel entry (`kernel`) at KERNEL and `user` at USER. `vectors` collects delivered events.
 */
function syscallMachine(main: string, user: string, kernel = 'hlt'): { m: Machine; vectors: number[] } {
  const vectors: number[] = [];
  const m = long64(main, { events: { delivered: (_k, v) => vectors.push(v) } });
  const d: [number, number][] = [
    [0, 0],
    [0x0000ffff, 0x00af9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00cffa00],
    [0x0000ffff, 0x00cff200],
    [0x0000ffff, 0x00affa00],
  ];
  d.forEach(([lo, hi], i) => {
    m.memory.write32(GDT + i * 8, lo);
    m.memory.write32(GDT + i * 8 + 4, hi);
  });
  m.cpu.ctrl.gdtr.base = GDT;
  m.cpu.ctrl.gdtr.limit = d.length * 8 - 1;
  setMsr(m, Msr.STAR, (BigInt(USER_BASE) << 48n) | (BigInt(KERNEL_CS) << 32n));
  setMsr(m, Msr.LSTAR, BigInt(KERNEL));
  setMsr(m, Msr.FMASK, BigInt(EFLAGS.IF | EFLAGS.DF));
  place(m, USER, user);
  place(m, KERNEL, kernel);
  return { m, vectors };
}

describe('SYSCALL and SYSRET', () => {
  it('SYSRETQ enters 64-bit ring 3; SYSCALL comes back to LSTAR at ring 0 with RCX, R11 and FMASK', () => {
    const { m } = syscallMachine('sysretq', 'mov ebx, 1\nsyscall\nud2');
    const cpu = m.cpu;
    setReg64(cpu, 1, BigInt(USER));
    setReg64(cpu, 11, BigInt(EFLAGS.IF | EFLAGS.DF | EFLAGS.CF | EFLAGS.RF | EFLAGS.VM | 2));
    m.run(1);
    expect(cpu.ctrl.cpl).toBe(3);
    expect(cpu.segs.selector[Seg.CS]).toBe(0x2b);
    expect(cpu.segs.selector[Seg.SS]).toBe(0x23);
    expect(cpu.segs.dpl(Seg.CS)).toBe(3);
    expect(cpu.bitness).toBe(64);
    expect(cpu.regs.ip).toBe(USER);
    // RF and VM are not taken from R11.
    expect(cpu.eflags).toBe(EFLAGS.IF | EFLAGS.DF | EFLAGS.CF | 2);
    runLong(m);
    expect(cpu.ctrl.cpl).toBe(0);
    expect(cpu.segs.selector[Seg.CS]).toBe(KERNEL_CS);
    expect(cpu.segs.selector[Seg.SS]).toBe(KERNEL_CS + 8);
    expect(cpu.segs.attr[Seg.CS]! & Attr.L).toBe(Attr.L);
    expect(cpu.segs.dpl(Seg.SS)).toBe(0);
    expect(cpu.regs.ip).toBe(KERNEL + 1);
    // RCX: the instruction after SYSCALL (mov ebx, 1 is 5 bytes, syscall 2).
    expect(reg64(cpu, 1)).toBe(BigInt(USER + 7));
    expect(reg64(cpu, 11)).toBe(BigInt(EFLAGS.IF | EFLAGS.DF | EFLAGS.CF | 2));
    // FMASK cleared IF and DF.
    expect(cpu.eflags).toBe(EFLAGS.CF | 2);
    expect(reg64(cpu, 3)).toBe(1n);
  });

  it('SYSRET without REX.W returns to compatibility mode at ECX with CS = STAR[63:48] | 3', () => {
    const { m, vectors } = syscallMachine('sysret', 'syscall');
    setReg64(m.cpu, 1, 0xffff_ffff_0000_0000n | BigInt(USER));
    setReg64(m.cpu, 11, 2n);
    m.run(1);
    expect(m.cpu.segs.selector[Seg.CS]).toBe(USER_BASE | 3);
    expect(m.cpu.segs.selector[Seg.SS]).toBe((USER_BASE + 8) | 3);
    expect(m.cpu.bitness).toBe(32);
    expect(m.cpu.code64).toBe(false);
    expect(m.cpu.regs.ip).toBe(USER);
    expect(m.cpu.ctrl.cpl).toBe(3);
    // SYSCALL outside 64-bit mode is #UD (Intel).
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });

  it('SYSCALL is #UD without EFER.SCE', () => {
    const { m, vectors } = syscallMachine('syscall\nhlt', 'hlt');
    const c = m.cpu.ctrl;
    m.cpu.setControlRegisters(c.cr0, c.cr3, c.cr4, Efer.LME | Efer.LMA | Efer.NXE);
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });

  it('SYSRET at CPL 3 is #GP(0)', () => {
    const { m, vectors } = syscallMachine('sysretq', 'sysretq');
    setReg64(m.cpu, 1, BigInt(USER));
    setReg64(m.cpu, 11, 2n);
    m.run(2);
    expect(m.cpu.ctrl.cpl).toBe(3);
    expect(vectors[0]).toBe(Vector.GP);
  });

  it('SYSRETQ with a non-canonical RCX is #GP(0) at CPL 0 and changes nothing', () => {
    const { m, vectors } = syscallMachine('sysretq', 'hlt');
    setReg64(m.cpu, 1, 0x0000_8000_0000_0000n);
    m.run(1);
    expect(vectors[0]).toBe(Vector.GP);
    expect(m.cpu.segs.selector[Seg.CS]).toBe(0x08);
  });
});

describe('SWAPGS', () => {
  it('exchanges the GS base with KERNEL_GS_BASE and back', () => {
    const m = long64('swapgs\nmov eax, gs:[rsi + 0x10]\nswapgs\nmov ebx, gs:[rsi + 0x10]\nhlt');
    const kernelGs = BigInt.asUintN(64, BigInt(HIGH_ALIAS)) + 0x2000n;
    setMsr(m, Msr.KERNEL_GS_BASE, kernelGs);
    m.cpu.segs.setBase64(Seg.GS, 0x3000);
    m.memory.write32(0x2010, 0x11111111);
    m.memory.write32(0x3010, 0x22222222);
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(0x11111111n);
    expect(reg64(m.cpu, 3)).toBe(0x22222222n);
    expect(m.cpu.segs.base[Seg.GS]).toBe(0x3000);
    expect(msr(m, Msr.KERNEL_GS_BASE)).toBe(kernelGs);
  });

  it('is #GP(0) at CPL 3', () => {
    const { m, vectors } = syscallMachine('sysretq', 'swapgs');
    setReg64(m.cpu, 1, BigInt(USER));
    setReg64(m.cpu, 11, 2n);
    m.run(2);
    expect(vectors[0]).toBe(Vector.GP);
  });
});

describe('RDTSCP, CPUID, RDMSR/WRMSR and IN in 64-bit mode', () => {
  it('RDTSCP returns TSC_AUX in ECX and zeroes the upper halves of RAX, RDX, RCX', () => {
    const m = long64('mov ecx, 0xc0000103\nmov eax, 0x1234\nxor edx, edx\nwrmsr\nrdtscp\nhlt');
    setReg64(m.cpu, 0, 0xdead_0000_0000_0000n);
    setReg64(m.cpu, 2, 0xbeef_0000_0000_0000n);
    runLong(m);
    expect(reg64(m.cpu, 1)).toBe(0x1234n);
    const tsc = (reg64(m.cpu, 2) << 32n) | reg64(m.cpu, 0);
    expect(reg64(m.cpu, 0) >> 32n).toBe(0n);
    expect(reg64(m.cpu, 2) >> 32n).toBe(0n);
    expect(tsc).toBeGreaterThan(0n);
    expect(tsc).toBeLessThanOrEqual(BigInt(m.cpu.tsc));
  });

  it('CPUID zeroes bits 63:32 of RAX, RBX, RCX and RDX', () => {
    const m = long64('cpuid\nhlt');
    for (const n of [0, 1, 2, 3]) setReg64(m.cpu, n, 0xffff_ffff_0000_0000n);
    runLong(m);
    for (const n of [0, 1, 2, 3]) expect(reg64(m.cpu, n) >> 32n).toBe(0n);
    expect(reg64(m.cpu, 0)).toBeGreaterThan(0n);
  });

  it('WRMSR FS_BASE sets the base an fs: access uses; RDMSR reads it back into EDX:EAX', () => {
    const m = long64(
      'mov ecx, 0xc0000100\nmov eax, 0x2000\nmov edx, 0xffff8000\nwrmsr\nmov ebx, fs:[rsi + 0x10]\nrdmsr\nhlt',
    );
    m.memory.write32(0x2010, 0xdeadbeef);
    runLong(m);
    expect(reg64(m.cpu, 3)).toBe(0xdeadbeefn);
    expect(m.cpu.segs.base[Seg.FS]).toBe(HIGH_ALIAS + 0x2000);
    expect(reg64(m.cpu, 0)).toBe(0x2000n);
    expect(reg64(m.cpu, 2)).toBe(0xffff8000n);
  });

  it('WRMSR of a non-canonical FS_BASE or GS_BASE is #GP(0)', () => {
    for (const index of [Msr.FS_BASE, Msr.GS_BASE]) {
      const vectors: number[] = [];
      const m = long64(`mov ecx, ${index}\nxor eax, eax\nmov edx, 0x8000\nwrmsr\nhlt`, {
        events: { delivered: (_k, v) => vectors.push(v) },
      });
      m.run(4);
      expect(vectors[0]).toBe(Vector.GP);
      expect(m.cpu.segs.base[index === Msr.FS_BASE ? Seg.FS : Seg.GS]).toBe(0);
    }
  });

  it('IN at CPL 3 consults the I/O permission bitmap of the 64-bit TSS (map base at 0x66)', () => {
    const { m, vectors } = syscallMachine('mov ax, 0x30\nltr ax\nsysretq', 'in al, 0x80\nin al, 0x81\nud2');
    const tss = 0x4000;
    const limit = 0x68 + 0x20;
    // 16-byte available 64-bit TSS descriptor at GDT index 6 (selector 0x30).
    m.memory.write32(GDT + 0x30, ((tss & 0xffff) << 16) | limit);
    m.memory.write32(GDT + 0x34, 0x8900);
    m.memory.write32(GDT + 0x38, 0);
    m.memory.write32(GDT + 0x3c, 0);
    m.cpu.ctrl.gdtr.limit = 8 * 8 - 1;
    m.memory.write16(tss + 0x66, 0x68);
    m.memory.write8(tss + 0x68 + 0x10, 0x02);
    setReg64(m.cpu, 1, BigInt(USER));
    setReg64(m.cpu, 11, 2n);
    m.run(4);
    expect(m.cpu.ctrl.cpl).toBe(3);
    expect(vectors).toEqual([]);
    m.run(1);
    expect(vectors[0]).toBe(Vector.GP);
  });

  it('IN EAX zero-extends into RAX', () => {
    const m = long64('in eax, dx\nhlt');
    setReg64(m.cpu, 0, 0x1234_5678_0000_0000n);
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(0xffff_ffffn);
  });
});

describe('MOV CR and DR with 64-bit registers', () => {
  it('MOV CR3, RAX loads the paging root; MOV RBX, CR3 reads it back', () => {
    const m = long64('mov cr3, rax\nmov rbx, cr3\nhlt');
    setReg64(m.cpu, 0, BigInt(PML4));
    setReg64(m.cpu, 3, -1n);
    runLong(m);
    expect(reg64(m.cpu, 3)).toBe(BigInt(PML4));
    expect(m.cpu.ctrl.cr3).toBe(PML4);
  });

  it('CR3 bits above MAXPHYADDR, CR0/CR4 bits 63:32 and CR4.PCIDE without PCID are #GP(0)', () => {
    const cases: [string, bigint][] = [
      ['mov cr3, rax', (1n << 60n) | BigInt(PML4)],
      ['mov cr0, rax', 0x1_8000_0031n],
      ['mov cr4, rax', 0x1_0000_0620n],
      ['mov cr4, rax', BigInt(0x620 | CR4.PCIDE)],
    ];
    for (const [src, v] of cases) {
      const vectors: number[] = [];
      const m = long64(`${src}\nhlt`, { events: { delivered: (_k, x) => vectors.push(x) } });
      setReg64(m.cpu, 0, v);
      m.run(1);
      expect(vectors[0], src).toBe(Vector.GP);
      expect(m.cpu.ctrl.cr3).toBe(PML4);
    }
  });

  it('CR8 holds the task priority (bits 3:0); a value above 15 is #GP(0)', () => {
    const m = long64('mov cr8, rax\nmov rbx, cr8\nhlt');
    setReg64(m.cpu, 0, 9n);
    runLong(m);
    expect(reg64(m.cpu, 3)).toBe(9n);
    expect(m.cpu.ctrl.tpr).toBe(9);
    const vectors: number[] = [];
    const bad = long64('mov cr8, rax\nhlt', { events: { delivered: (_k, x) => vectors.push(x) } });
    setReg64(bad.cpu, 0, 0x10n);
    bad.run(1);
    expect(vectors[0]).toBe(Vector.GP);
  });

  it('DR0 keeps a 64-bit address; DR7 bits 63:32 set are #GP(0)', () => {
    const m = long64('mov dr0, rax\nmov rbx, dr0\nhlt');
    setReg64(m.cpu, 0, 0xffff_8000_0000_1000n);
    runLong(m);
    expect(reg64(m.cpu, 3)).toBe(0xffff_8000_0000_1000n);
    const vectors: number[] = [];
    const bad = long64('mov dr7, rax\nhlt', { events: { delivered: (_k, x) => vectors.push(x) } });
    setReg64(bad.cpu, 0, 0x1_0000_0400n);
    bad.run(1);
    expect(vectors[0]).toBe(Vector.GP);
  });
});

describe('descriptor tables in 64-bit mode', () => {
  it('LGDT/SGDT take and store a 10-byte operand with a 64-bit base', () => {
    const m = long64('lgdt [rbx]\nsgdt [rbx + 0x10]\nhlt');
    m.memory.write16(0x2000, 0x2f);
    m.memory.write32(0x2002, 0x500);
    m.memory.write32(0x2006, 0xffff8000);
    setReg64(m.cpu, 3, 0x2000n);
    runLong(m);
    expect(m.cpu.ctrl.gdtr.base).toBe(HIGH_ALIAS + 0x500);
    expect(m.cpu.ctrl.gdtr.limit).toBe(0x2f);
    expect(m.memory.read16(0x2010)).toBe(0x2f);
    expect(m.memory.read32(0x2012)).toBe(0x500);
    expect(m.memory.read32(0x2016)).toBe(0xffff8000);
  });

  it('LIDT with a non-canonical base is #GP(0)', () => {
    const vectors: number[] = [];
    const m = long64('lidt [rbx]\nhlt', { events: { delivered: (_k, x) => vectors.push(x) } });
    m.memory.write16(0x2000, 0xfff);
    m.memory.write32(0x2006, 0x00008000);
    setReg64(m.cpu, 3, 0x2000n);
    const before = m.cpu.ctrl.idtr.base;
    m.run(1);
    expect(vectors[0]).toBe(Vector.GP);
    expect(m.cpu.ctrl.idtr.base).toBe(before);
  });

  /** A 16-byte system descriptor at GDT index 6 (selector 0x30) with a 64-bit base. */
  function systemDescriptor(m: Machine, type: number, baseLo: number, baseHi: number, upper = 0): void {
    const at = 0x500 + 6 * 8;
    m.memory.write32(at, ((baseLo & 0xffff) << 16) | 0x67);
    m.memory.write32(at + 4, (baseLo & 0xff000000) | 0x8000 | (type << 8) | ((baseLo >>> 16) & 0xff));
    m.memory.write32(at + 8, baseHi);
    m.memory.write32(at + 12, upper);
    m.cpu.ctrl.gdtr.limit = 8 * 8 - 1;
  }

  it('LTR loads a 16-byte TSS descriptor with a 64-bit base and marks it busy; STR reads it', () => {
    const m = long64('mov ax, 0x30\nltr ax\nstr rbx\nhlt');
    systemDescriptor(m, 9, 0x4000, 0xffff8000);
    setReg64(m.cpu, 3, -1n);
    runLong(m);
    expect(m.cpu.segs.base[Seg.TR]).toBe(HIGH_ALIAS + 0x4000);
    expect(m.cpu.segs.limit[Seg.TR]).toBe(0x67);
    expect(m.cpu.segs.attr[Seg.TR]! & 0xf).toBe(11);
    expect((m.memory.read8(0x500 + 0x30 + 5) & 0xf) >>> 0).toBe(11);
    expect(reg64(m.cpu, 3)).toBe(0x30n);
  });

  it('LTR of a descriptor whose upper type field is not 0 is #GP(selector)', () => {
    const codes: number[] = [];
    const m = long64('mov ax, 0x30\nltr ax\nhlt', {
      events: { delivered: (_k, _v, code) => codes.push(code) },
    });
    systemDescriptor(m, 9, 0x4000, 0, 0x100);
    m.run(2);
    expect(codes[0]).toBe(0x30);
  });

  it('LLDT loads a 16-byte LDT descriptor with a 64-bit base', () => {
    const m = long64('mov ax, 0x30\nlldt ax\nhlt');
    systemDescriptor(m, 2, 0x5000, 0xffff8000);
    runLong(m);
    expect(m.cpu.segs.base[Seg.LDTR]).toBe(HIGH_ALIAS + 0x5000);
    expect(m.cpu.segs.selector[Seg.LDTR]).toBe(0x30);
  });
});

describe('other IA-32e system forms', () => {
  it('INVLPG passes the 64-bit linear address (signed form) to the hook', () => {
    const seen: number[] = [];
    class Hooks extends NullHooks {
      override invlpg(linear: number): number {
        seen.push(linear);
        return 0;
      }
    }
    const m = long64('invlpg [rbx]\nhlt', { hooks: new Hooks() });
    setReg64(m.cpu, 3, 0xffff_8000_0000_1234n);
    runLong(m);
    expect(seen).toEqual([HIGH_ALIAS + 0x1234]);
  });

  it('SYSEXIT with REX.W returns to 64-bit ring 3; SYSENTER enters 64-bit ring 0 at a 64-bit RIP', () => {
    const m = long64('sysexitq');
    place(m, USER, 'sysenter');
    place(m, KERNEL, 'hlt');
    setMsr(m, Msr.SYSENTER_CS, 0x10n);
    setMsr(m, Msr.SYSENTER_EIP, BigInt.asUintN(64, BigInt(HIGH_ALIAS)) + BigInt(KERNEL));
    setMsr(m, Msr.SYSENTER_ESP, 0xffff_8000_0000_8000n);
    setReg64(m.cpu, 2, BigInt(USER));
    setReg64(m.cpu, 1, 0x7000n);
    m.run(1);
    expect(m.cpu.segs.selector[Seg.CS]).toBe(0x10 + 32 + 3);
    expect(m.cpu.segs.selector[Seg.SS]).toBe(0x10 + 40 + 3);
    expect(m.cpu.bitness).toBe(64);
    expect(m.cpu.ctrl.cpl).toBe(3);
    expect(reg64(m.cpu, 4)).toBe(0x7000n);
    runLong(m);
    expect(m.cpu.ctrl.cpl).toBe(0);
    expect(m.cpu.segs.selector[Seg.CS]).toBe(0x10);
    expect(m.cpu.bitness).toBe(64);
    expect(m.cpu.regs.ip).toBe(HIGH_ALIAS + KERNEL + 1);
    expect(reg64(m.cpu, 4)).toBe(0xffff_8000_0000_8000n);
  });

  it('RDFSBASE/WRGSBASE need CR4.FSGSBASE (and a model with FSGSBASE); a non-canonical base is #GP', () => {
    const model = { ...X86_64_MODEL, features: [...X86_64_MODEL.features, CpuidFeature.FSGSBASE] };
    const m = long64('wrgsbase rax\nrdgsbase rbx\nrdfsbase ecx\nhlt', { model });
    const c = m.cpu.ctrl;
    m.cpu.setControlRegisters(c.cr0, c.cr3, c.cr4 | CR4.FSGSBASE, Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE);
    m.cpu.segs.setBase64(Seg.FS, HIGH_ALIAS + 0x10);
    setReg64(m.cpu, 0, 0xffff_8000_0000_4000n);
    runLong(m);
    expect(m.cpu.segs.base[Seg.GS]).toBe(HIGH_ALIAS + 0x4000);
    expect(reg64(m.cpu, 3)).toBe(0xffff_8000_0000_4000n);
    expect(reg64(m.cpu, 1)).toBe(0x10n);
    const vectors: number[] = [];
    const off = long64('rdfsbase rax\nhlt', { model, events: { delivered: (_k, v) => vectors.push(v) } });
    off.run(1);
    expect(vectors[0]).toBe(Vector.UD);
    const gp: number[] = [];
    const bad = long64('wrfsbase rax\nhlt', { model, events: { delivered: (_k, v) => gp.push(v) } });
    const b = bad.cpu.ctrl;
    bad.cpu.setControlRegisters(
      b.cr0,
      b.cr3,
      b.cr4 | CR4.FSGSBASE,
      Efer.LME | Efer.LMA | Efer.SCE | Efer.NXE,
    );
    setReg64(bad.cpu, 0, 0x0000_8000_0000_0000n);
    bad.run(1);
    expect(gp[0]).toBe(Vector.GP);
  });

  it('MOV r64, CR0/CR4 zero-extends even when the value has bit 31 set (CR0.PG)', () => {
    const m = long64('mov rax, cr0\nmov rbx, cr4\nhlt');
    m.cpu.ctrl.cr0 = m.cpu.ctrl.cr0 | 0; // held as a negative int32 (PG is bit 31)
    runLong(m);
    expect(reg64(m.cpu, 0) >> 32n).toBe(0n);
    expect(Number(reg64(m.cpu, 0) & 0x8000_0000n)).toBe(0x8000_0000);
    expect(reg64(m.cpu, 3) >> 32n).toBe(0n);
  });

  it('MTRR PHYSMASK takes bits 39:32 (40 physical address bits, as leaf 80000008H reports; SeaBIOS writes them)', () => {
    const m = long64('wrmsr\nrdmsr\nhlt');
    setReg64(m.cpu, 1, 0x201n); // IA32_MTRR_PHYSMASK0
    setReg64(m.cpu, 0, 0xe0000800n);
    setReg64(m.cpu, 2, 0xffn);
    runLong(m);
    expect(reg64(m.cpu, 2)).toBe(0xffn);
    expect(reg64(m.cpu, 0)).toBe(0xe0000800n);
  });
});
