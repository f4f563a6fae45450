/**
 * IA-32e system instructions (SDM Vol. 2 pseudo-code, Intel behaviour): SYSCALL/SYSRET, SWAPGS,
 * RDTSCP, LGDT/LIDT/SGDT/SIDT with 10-byte operands, RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE. The 64-bit
 * forms of MOV CR/DR, LLDT/LTR, SLDT/STR/SMSW and SYSEXIT extend their 32-bit handlers in `system.ts`.
 */
import type { Instruction } from '@typevisor/x86-decoder';
import { CR4 } from '../control.js';
import type { Cpu, Handler } from '../cpu.js';
import { raise, Vector } from '../exceptions.js';
import { EFLAGS, materialize, readFlags, writeFlags } from '../flags.js';
import { isCanonical, read16, read64, TWO_32, write16, write64 } from '../memory-access.js';
import { Efer, MSR_TABLE, Msr } from '../msr.js';
import { getReg64, joinSigned, locate, setReg32, setReg64 } from '../operands.js';
import { GPR_HI, Seg } from '../registers.js';
import { Attr, SegType } from '../segments.js';
import { FLAT_CODE64, readTsc, vmxSensitive } from './system.js';
import { HandlerList } from './table.js';

/** Row of a built-in MSR in every `MsrFile` (built-in rows keep their table position). */
function slotOf(index: number): number {
  return MSR_TABLE.findIndex((r) => r.index >>> 0 === index >>> 0);
}
const STAR = slotOf(Msr.STAR);
const LSTAR = slotOf(Msr.LSTAR);
const FMASK = slotOf(Msr.FMASK);
const KERNEL_GS_BASE = slotOf(Msr.KERNEL_GS_BASE);
const TSC_AUX = slotOf(Msr.TSC_AUX);

const DPL3 = 3 << Attr.DPL_SHIFT;
/** SYSRET's 32-bit code segment (compatibility mode): D = 1, L = 0, flat, DPL 3. */
const FLAT_CODE32_USER =
  Attr.P | Attr.S | SegType.CODE | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED | Attr.DB | Attr.G | DPL3;
/** The stack segment SYSCALL (DPL 0) and SYSRET (DPL 3) load: flat writable data, B = 1. */
const FLAT_STACK = Attr.P | Attr.S | SegType.WRITABLE_OR_READABLE | SegType.ACCESSED | Attr.DB | Attr.G;

/** RFLAGS bits SYSRET takes from R11 (RF, VM and the reserved bits cleared; bit 1 is set). */
const SYSRET_FLAGS = 0x3c7fd7;

/** #UD unless in 64-bit mode with EFER.SCE (SYSCALL and SYSRET on Intel). */
function requireSyscall(cpu: Cpu): void {
  if (!cpu.code64 || (cpu.pager.mmu.state.efer & Efer.SCE) === 0) raise(Vector.UD);
}

/**
 * SYSCALL: RCX = RIP of the next instruction, R11 = RFLAGS (RF clear), RFLAGS &= ~FMASK, CS and SS
 * from STAR[47:32] with fixed flat caches (CS 64-bit, DPL 0), CPL 0, RIP = LSTAR.
 */
const syscall: Handler = (cpu) => {
  requireSyscall(cpu);
  const m = cpu.msrs;
  const r = cpu.regs.r32;
  const ip = cpu.regs.ip;
  r[1] = ip >>> 0;
  r[GPR_HI + 1] = Math.floor(ip / TWO_32);
  materialize(cpu.flags);
  const flags = readFlags(cpu.flags) & ~EFLAGS.RF;
  r[11] = flags;
  r[GPR_HI + 11] = 0;
  writeFlags(cpu.flags, flags & ~m.lo[FMASK]!);
  cpu.updateMode();
  const sel = m.hi[STAR]! & 0xffff;
  cpu.segs.set(Seg.CS, sel & 0xfffc, 0, 0xffffffff, FLAT_CODE64);
  cpu.segs.set(Seg.SS, (sel + 8) & 0xfffc, 0, 0xffffffff, FLAT_STACK);
  cpu.ctrl.cpl = 0;
  cpu.regs.ip = joinSigned(m.lo[LSTAR]!, m.hi[LSTAR]!);
  cpu.stop = true;
};

/**
 * SYSRET: #GP(0) unless CPL 0, and (64-bit form) unless RCX is canonical. RFLAGS from R11, CPL 3,
 * CS = STAR[63:48] + 16 (64-bit form, to 64-bit code) or STAR[63:48] (to compatibility mode), SS =
 * STAR[63:48] + 8, both with RPL 3 and fixed flat caches.
 */
function sysret(wide: boolean): Handler {
  return (cpu) => {
    requireSyscall(cpu);
    if (cpu.ctrl.cpl !== 0) raise(Vector.GP, 0);
    const u = cpu.regs.u32;
    const rip = wide ? joinSigned(u[1]!, u[GPR_HI + 1]!) : u[1]!;
    if (wide && !isCanonical(rip)) raise(Vector.GP, 0);
    writeFlags(cpu.flags, (u[11]! & SYSRET_FLAGS) | EFLAGS.FIXED1);
    cpu.updateMode();
    const sel = cpu.msrs.hi[STAR]! >>> 16;
    if (wide) cpu.segs.set(Seg.CS, ((sel + 16) | 3) & 0xffff, 0, 0xffffffff, FLAT_CODE64 | DPL3);
    else cpu.segs.set(Seg.CS, sel | 3, 0, 0xffffffff, FLAT_CODE32_USER);
    cpu.segs.set(Seg.SS, ((sel + 8) | 3) & 0xffff, 0, 0xffffffff, FLAT_STACK | DPL3);
    cpu.ctrl.cpl = 3;
    cpu.regs.ip = rip;
    cpu.stop = true;
  };
}

/** SWAPGS: exchanges the GS base with IA32_KERNEL_GS_BASE; #UD outside 64-bit mode, #GP(0) above CPL 0. */
const swapgs: Handler = (cpu) => {
  if (!cpu.code64) raise(Vector.UD);
  if (cpu.ctrl.cpl !== 0) raise(Vector.GP, 0);
  const m = cpu.msrs;
  const old = cpu.segs.base[Seg.GS]!;
  cpu.segs.setBase64(Seg.GS, joinSigned(m.lo[KERNEL_GS_BASE]!, m.hi[KERNEL_GS_BASE]!));
  m.lo[KERNEL_GS_BASE] = old >>> 0;
  m.hi[KERNEL_GS_BASE] = Math.floor(old / TWO_32) >>> 0;
};

/**
 * RDTSCP: as RDTSC (CR4.TSD, the `rdtsc` hook, EDX:EAX = TSC), and ECX = IA32_TSC_AUX[31:0]; bits
 * 63:32 of RAX, RDX and RCX become 0.
 */
const rdtscp: Handler = (cpu) => {
  if (!readTsc(cpu)) return;
  const r = cpu.regs.r32;
  r[1] = cpu.msrs.lo[TSC_AUX]!;
  r[GPR_HI + 1] = 0;
};

/** #GP(0) unless CPL 0 (these forms run in 64-bit mode only). */
function requireCpl0In64(cpu: Cpu): void {
  if (cpu.ctrl.cpl !== 0) raise(Vector.GP, 0);
}

/** LGDT/LIDT m16&64: 2-byte limit and 8-byte base, which must be canonical (#GP(0)). */
function loadTable64(idt: boolean): Handler {
  return (cpu, ins: Instruction) => {
    requireCpl0In64(cpu);
    vmxSensitive(cpu, idt ? 'lidt' : 'lgdt', ins);
    locate(cpu, ins);
    const limit = read16(cpu, cpu.eaSeg, cpu.eaOff);
    const lo = read64(cpu, cpu.eaSeg, cpu.eaOff + 2);
    const base = joinSigned(lo, cpu.hi);
    if (!isCanonical(base)) raise(Vector.GP, 0);
    const t = idt ? cpu.ctrl.idtr : cpu.ctrl.gdtr;
    t.base = base;
    t.limit = limit;
  };
}

/** SGDT/SIDT m16&64: stores the limit and the 64-bit base (at any CPL). */
function storeTable64(idt: boolean): Handler {
  return (cpu, ins: Instruction) => {
    vmxSensitive(cpu, idt ? 'sidt' : 'sgdt', ins);
    locate(cpu, ins);
    const t = idt ? cpu.ctrl.idtr : cpu.ctrl.gdtr;
    const base = t.base;
    write64(cpu, cpu.eaSeg, cpu.eaOff + 2, base >>> 0, Math.floor(base / TWO_32) >>> 0);
    write16(cpu, cpu.eaSeg, cpu.eaOff, t.limit);
  };
}

/** #UD unless CR4.FSGSBASE (the decoder has checked the model's FSGSBASE feature and 64-bit mode). */
function requireFsgsbase(cpu: Cpu): void {
  if ((cpu.ctrl.cr4 & CR4.FSGSBASE) === 0) raise(Vector.UD);
}

/** RDFSBASE/RDGSBASE: the base into a 64-bit register, or its low half zero-extended. */
function readBase(seg: number, wide: boolean): Handler {
  return (cpu, ins) => {
    requireFsgsbase(cpu);
    const base = cpu.segs.base[seg]!;
    if (wide) setReg64(cpu, ins.op0Register, base >>> 0, Math.floor(base / TWO_32) >>> 0);
    else setReg32(cpu, ins.op0Register, base >>> 0);
  };
}

/** WRFSBASE/WRGSBASE: a 64-bit base must be canonical (#GP(0)); a 32-bit one is zero-extended. */
function writeBase(seg: number, wide: boolean): Handler {
  return (cpu, ins) => {
    requireFsgsbase(cpu);
    const lo = getReg64(cpu, ins.op0Register);
    const base = wide ? joinSigned(lo, cpu.hi) : lo;
    if (!isCanonical(base)) raise(Vector.GP, 0);
    cpu.segs.setBase64(seg, base);
  };
}

function entries(): [number, Handler][] {
  const list = new HandlerList();
  list.add('Syscall', syscall);
  list.add('Sysretd', sysret(false));
  list.add('Sysretq', sysret(true));
  list.add('Swapgs', swapgs);
  list.add('Rdtscp', rdtscp);
  list.add('Lgdt_m1664', loadTable64(false));
  list.add('Lidt_m1664', loadTable64(true));
  list.add('Sgdt_m1664', storeTable64(false));
  list.add('Sidt_m1664', storeTable64(true));
  list.add('Rdfsbase_r32', readBase(Seg.FS, false));
  list.add('Rdfsbase_r64', readBase(Seg.FS, true));
  list.add('Rdgsbase_r32', readBase(Seg.GS, false));
  list.add('Rdgsbase_r64', readBase(Seg.GS, true));
  list.add('Wrfsbase_r32', writeBase(Seg.FS, false));
  list.add('Wrfsbase_r64', writeBase(Seg.FS, true));
  list.add('Wrgsbase_r32', writeBase(Seg.GS, false));
  list.add('Wrgsbase_r64', writeBase(Seg.GS, true));
  return list.entries;
}

export const LONG_SYSTEM_HANDLERS: readonly (readonly [number, Handler])[] = entries();
