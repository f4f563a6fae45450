/**
 * IA-32e event delivery (16-byte IDT gates, RSPn/IST stacks, 8-byte frames), IRETQ and far transfers
 * between 64-bit and compatibility mode (SDM Vol. 3 §6.14, §5.8.6; Vol. 2 IRET, JMP, CALL, RET).
 */
import { assemble } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ATTR_CODE64,
  ATTR_DATA,
  CODE64,
  GDT64,
  HIGH_ALIAS,
  long64,
  PML4,
  reg64,
  runLong,
  Sel64,
  setReg64,
} from '../test/long-machine.js';
import type { Machine } from '../test/machine.js';
import { Mode } from './control.js';
import { EFLAGS } from './flags.js';
import { EventKind } from './interrupts.js';
import { Seg } from './registers.js';
import { FAULT, Vector } from './exceptions.js';
import { readSystemDescriptor64, systemDescriptorBase64 } from './descriptors.js';
import { isSoftwareException } from './software-exceptions.js';

const IDT = 0x3000;
const TSS = 0x4000;
/** Extra GDT entries after the machine's six: a 16-byte TSS at index 6, gates from index 8. */
const SEL_TSS = 0x30;
const SEL_CALL_GATE = 0x43;
const SEL_TASK_GATE = 0x50;
const SEL_CODE32_DPL3 = 0x5b;

const H_RING0 = 0x2000;
const H_GP = 0x2100;
const H_IST = 0x2180;
const COMPAT = 0x2200;
const BACK64 = 0x2300;
const DATA = 0x2800;

type Events = [number, number, number][];

/** 64-bit code at `addr` (or 32-bit with `bitness`). */
function place(m: Machine, addr: number, src: string, bitness: 32 | 64 = 64): void {
  m.ram.set(assemble(src, { bitness, origin: addr }), addr);
}

function w64(m: Machine, addr: number, v: bigint): void {
  m.memory.write32(addr, Number(v & 0xffffffffn));
  m.memory.write32(addr + 4, Number((v >> 32n) & 0xffffffffn));
}

function r64(m: Machine, addr: number): bigint {
  return (BigInt(m.memory.read32(addr + 4)) << 32n) | BigInt(m.memory.read32(addr));
}

/** A 16-byte IDT gate (type 14 interrupt, 15 trap, 5 task). */
function gate(
  m: Machine,
  vector: number,
  offset: bigint,
  opts: { type?: number; dpl?: number; ist?: number; sel?: number } = {},
): void {
  const { type = 14, dpl = 0, ist = 0, sel = Sel64.Code64 } = opts;
  const at = IDT + vector * 16;
  const o = BigInt.asUintN(64, offset);
  m.memory.write32(at, Number(o & 0xffffn) | (sel << 16));
  m.memory.write32(at + 4, (Number(o & 0xffff0000n) | 0x8000 | (dpl << 13) | (type << 8) | ist) >>> 0);
  m.memory.write32(at + 8, Number(o >> 32n));
  m.memory.write32(at + 12, 0);
}

/** The machine plus an IDT, a 64-bit TSS in TR, the extra GDT entries and a #GP handler that halts. */
function machine(source: string, events?: Events): Machine {
  const m = long64(source, events ? { events: { delivered: (k, v, c) => events.push([k, v, c]) } } : {});
  const cpu = m.cpu;
  cpu.ctrl.idtr.base = IDT;
  cpu.ctrl.idtr.limit = 256 * 16 - 1;
  // 64-bit TSS descriptor (type 11 busy) at index 6, 16 bytes.
  m.memory.write32(GDT64 + 6 * 8, ((TSS & 0xffff) << 16) | 0x67);
  m.memory.write32(GDT64 + 6 * 8 + 4, 0x8b00 | ((TSS >>> 16) & 0xff));
  m.memory.write32(GDT64 + 7 * 8, 0);
  m.memory.write32(GDT64 + 7 * 8 + 4, 0);
  cpu.segs.set(Seg.TR, SEL_TSS, TSS, 0x67, 0x8b);
  // Task gate (index 10) naming the TSS; 32-bit code DPL 3 (index 11).
  m.memory.write32(GDT64 + 10 * 8, SEL_TSS << 16);
  m.memory.write32(GDT64 + 10 * 8 + 4, 0xe500);
  m.memory.write32(GDT64 + 11 * 8, 0x0000ffff);
  m.memory.write32(GDT64 + 11 * 8 + 4, 0x00cffa00);
  cpu.ctrl.gdtr.limit = 12 * 8 - 1;
  gate(m, Vector.GP, BigInt(H_GP));
  place(m, H_GP, 'mov ecx, esp\nhlt');
  return m;
}

/** A 64-bit call gate (type 12, 16 bytes) at GDT index 8. */
function callGate(m: Machine, target: number, dpl: number): void {
  m.memory.write32(GDT64 + 8 * 8, (target & 0xffff) | (Sel64.Code64 << 16));
  m.memory.write32(GDT64 + 8 * 8 + 4, ((target & 0xffff0000) | 0x8c00 | (dpl << 13)) >>> 0);
  m.memory.write32(GDT64 + 9 * 8, 0);
  m.memory.write32(GDT64 + 9 * 8 + 4, 0);
}

/** Puts the CPU at CPL 3 in 64-bit mode (CS 0x23, SS 0x2b) with RSP `rsp`. */
function toRing3(m: Machine, rsp: number): void {
  const cpu = m.cpu;
  cpu.segs.set(Seg.CS, Sel64.Code64Dpl3, 0, 0xffffffff, ATTR_CODE64 | 0x60);
  cpu.segs.set(Seg.SS, Sel64.DataDpl3, 0, 0xffffffff, ATTR_DATA | 0x60);
  cpu.ctrl.cpl = 3;
  setReg64(cpu, 4, BigInt(rsp));
}

describe('IA-32e interrupt delivery', () => {
  it('INT n to a ring-0 handler pushes an 8-byte frame on the 16-byte aligned stack; IRETQ returns', () => {
    const m = machine('int 0x80\nmov ebx, 1\nhlt');
    gate(m, 0x80, BigInt(H_RING0));
    place(m, H_RING0, 'mov ecx, esp\niretq');
    const cpu = m.cpu;
    setReg64(cpu, 4, 0x8ff8n);
    cpu.eflags = EFLAGS.FIXED1 | EFLAGS.IF | EFLAGS.CF;
    cpu.step();
    expect(cpu.regs.ip).toBe(H_RING0);
    // Aligned down to 0x8ff0, then SS, RSP, RFLAGS, CS, RIP.
    expect(reg64(cpu, 4)).toBe(0x8ff0n - 40n);
    expect(cpu.eflags & EFLAGS.IF).toBe(0);
    const f = 0x8ff0 - 40;
    expect(r64(m, f)).toBe(BigInt(CODE64 + 2));
    expect(r64(m, f + 8)).toBe(BigInt(Sel64.Code64));
    expect(r64(m, f + 16)).toBe(BigInt(EFLAGS.FIXED1 | EFLAGS.IF | EFLAGS.CF));
    expect(r64(m, f + 24)).toBe(0x8ff8n);
    expect(r64(m, f + 32)).toBe(BigInt(Sel64.Data));
    runLong(m);
    expect(reg64(cpu, 1)).toBe(BigInt(f));
    expect(reg64(cpu, 3)).toBe(1n);
    expect(reg64(cpu, 4)).toBe(0x8ff8n);
    expect(cpu.eflags & (EFLAGS.IF | EFLAGS.CF)).toBe(EFLAGS.IF | EFLAGS.CF);
    expect(cpu.bitness).toBe(64);
  });

  it('a gate above 4 GiB: the handler runs at the high canonical alias', () => {
    const m = machine('int 0x80\nhlt');
    gate(m, 0x80, 0xffff_8000_0000_0000n + BigInt(H_RING0));
    place(m, H_RING0, 'mov ecx, esp\nhlt', 64);
    runLong(m);
    expect(m.cpu.regs.ip).toBe(-(2 ** 47) + H_RING0 + 3);
  });

  it('#GP from a non-canonical access pushes error code 0 and RF, RIP at the faulting instruction', () => {
    const events: Events = [];
    const m = machine('mov eax, [rbx]\nhlt', events);
    setReg64(m.cpu, 3, 0x0000_8000_0000_0000n);
    runLong(m);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, 0]]);
    const f = Number(reg64(m.cpu, 1));
    expect(f).toBe(0x9000 - 48);
    expect(r64(m, f)).toBe(0n);
    expect(r64(m, f + 8)).toBe(BigInt(CODE64));
    expect(r64(m, f + 16)).toBe(BigInt(Sel64.Code64));
    expect(Number(r64(m, f + 24)) & EFLAGS.RF).toBe(EFLAGS.RF);
    expect(r64(m, f + 32)).toBe(0x9000n);
    expect(r64(m, f + 40)).toBe(BigInt(Sel64.Data));
  });

  it('a gate with IST 2 switches to TSS.IST2 (aligned) even without a privilege change', () => {
    const m = machine('int 0x81\nhlt');
    gate(m, 0x81, BigInt(H_IST), { ist: 2 });
    place(m, H_IST, 'mov ecx, esp\nhlt');
    w64(m, TSS + 36 + 8, 0x7008n);
    runLong(m);
    expect(reg64(m.cpu, 1)).toBe(0x7000n - 40n);
    expect(r64(m, 0x7000 - 16)).toBe(0x9000n);
    expect(m.cpu.segs.selector[Seg.SS]).toBe(Sel64.Data);
  });

  it('ring 3 -> ring 0 takes RSP0 from the TSS and loads a null SS; IRETQ goes back to ring 3', () => {
    const m = machine('int 0x80\nint 0x82');
    gate(m, 0x80, BigInt(H_RING0), { dpl: 3 });
    gate(m, 0x82, BigInt(H_IST), { dpl: 3 });
    place(m, H_RING0, 'mov ecx, esp\niretq');
    place(m, H_IST, 'hlt');
    w64(m, TSS + 4, 0x6000n);
    toRing3(m, 0x8800);
    const cpu = m.cpu;
    cpu.step();
    expect(cpu.ctrl.cpl).toBe(0);
    expect(cpu.segs.selector[Seg.SS]).toBe(0);
    expect(cpu.segs.selector[Seg.CS]).toBe(Sel64.Code64);
    expect(reg64(cpu, 4)).toBe(0x6000n - 40n);
    expect(r64(m, 0x6000 - 8)).toBe(BigInt(Sel64.DataDpl3));
    expect(r64(m, 0x6000 - 16)).toBe(0x8800n);
    expect(r64(m, 0x6000 - 32)).toBe(BigInt(Sel64.Code64Dpl3));
    cpu.step();
    cpu.step();
    expect(cpu.ctrl.cpl).toBe(3);
    expect(cpu.regs.ip).toBe(CODE64 + 2);
    expect(cpu.segs.selector[Seg.CS]).toBe(Sel64.Code64Dpl3);
    expect(cpu.segs.selector[Seg.SS]).toBe(Sel64.DataDpl3);
    expect(reg64(cpu, 4)).toBe(0x8800n);
    runLong(m);
    expect(cpu.ctrl.cpl).toBe(0);
  });

  it('a task gate in the IDT is #GP(vector * 8 + 2) in IA-32e mode', () => {
    const events: Events = [];
    const m = machine('int 0x83\nhlt', events);
    gate(m, 0x83, 0n, { type: 5, dpl: 3, sel: SEL_TSS });
    runLong(m);
    expect(events).toEqual([
      [EventKind.Software, 0x83, 0],
      [EventKind.Exception, Vector.GP, 0x83 * 8 + 2],
    ]);
    // Reported at the INT instruction.
    expect(r64(m, Number(reg64(m.cpu, 1)) + 8)).toBe(BigInt(CODE64));
  });

  it('a 32-bit interrupt gate (type 14 with a non-64-bit target) raises #GP(selector + EXT)', () => {
    const events: Events = [];
    const m = machine('int 0x84\nhlt', events);
    gate(m, 0x84, BigInt(H_RING0), { sel: Sel64.Code32 });
    runLong(m);
    expect(events[1]).toEqual([EventKind.Exception, Vector.GP, Sel64.Code32]);
  });
});

describe('IA-32e delivery and IRETQ: property', () => {
  it('for any RSP, vector, IST and status flags the handler stack is aligned and IRETQ restores everything', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0x5000 / 2, max: 0x8ff8 / 2 }),
        fc.integer({ min: 0x20, max: 0xff }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 0, max: 0xff }),
        fc.boolean(),
        (half, vector, ist, status, high) => {
          const rsp = half * 2;
          const m = machine(`int ${vector}\nhlt`);
          gate(m, vector, BigInt(H_RING0), { ist, type: status & 1 ? 15 : 14 });
          place(m, H_RING0, 'mov ecx, esp\niretq');
          const istTop = 0x4800 + ist * 0x40 + (status & 15);
          if (ist !== 0) w64(m, TSS + 36 + 8 * (ist - 1), BigInt(istTop));
          // The same stack memory seen through the high canonical alias.
          const base = high ? 0xffff_8000_0000_0000n : 0n;
          setReg64(m.cpu, 4, base + BigInt(rsp));
          const flags = EFLAGS.FIXED1 | EFLAGS.IF | (status & 0xd5);
          m.cpu.eflags = flags;
          runLong(m);
          const top = ist !== 0 ? istTop & ~15 : rsp & ~15;
          expect(Number(reg64(m.cpu, 1) & 0xffffffffn)).toBe(top - 40);
          expect(r64(m, top - 24) & 0xffffn).toBe(BigInt(flags));
          expect(reg64(m.cpu, 4)).toBe(base + BigInt(rsp));
          expect(m.cpu.eflags & 0xfff).toBe(flags & 0xfff);
          expect(m.cpu.regs.ip).toBe(CODE64 + 3);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('IA-32e IRET and far transfers', () => {
  it('IRETD in 64-bit mode pops 4-byte RIP, CS, EFLAGS, ESP and SS', () => {
    const m = machine('iretd');
    place(m, BACK64, 'hlt');
    m.memory.write32(0x8000, BACK64);
    m.memory.write32(0x8004, Sel64.Code64);
    m.memory.write32(0x8008, 0x2 | EFLAGS.CF);
    m.memory.write32(0x800c, 0x7004);
    m.memory.write32(0x8010, Sel64.Data);
    setReg64(m.cpu, 4, 0x8000n);
    runLong(m);
    expect(m.cpu.regs.ip).toBe(BACK64 + 1);
    expect(reg64(m.cpu, 4)).toBe(0x7004n);
    expect(m.cpu.eflags & EFLAGS.CF).toBe(EFLAGS.CF);
  });

  it('IRETQ to compatibility mode loads the 32-bit CS; RETF from there comes back to 64-bit mode', () => {
    const m = machine('iretq');
    place(m, COMPAT, 'mov eax, 7\nret far', 32);
    place(m, BACK64, 'mov ebx, 9\nhlt');
    const cpu = m.cpu;
    // IRETQ frame: RIP, CS, RFLAGS, RSP, SS; the compatibility-mode stack holds the RETF frame.
    w64(m, 0x8000, BigInt(COMPAT));
    w64(m, 0x8008, BigInt(Sel64.Code32));
    w64(m, 0x8010, 0x2n);
    w64(m, 0x8018, 0x7000n);
    w64(m, 0x8020, BigInt(Sel64.Data));
    m.memory.write32(0x7000, BACK64);
    m.memory.write32(0x7004, Sel64.Code64);
    setReg64(cpu, 4, 0x8000n);
    cpu.step();
    expect(cpu.bitness).toBe(32);
    expect(cpu.code64).toBe(false);
    expect(cpu.regs.ip).toBe(COMPAT);
    expect(reg64(cpu, 4)).toBe(0x7000n);
    runLong(m);
    expect(reg64(cpu, 0)).toBe(7n);
    expect(reg64(cpu, 3)).toBe(9n);
    expect(cpu.bitness).toBe(64);
    expect(reg64(cpu, 4)).toBe(0x7008n);
  });

  it('RETFQ to compatibility mode and a direct far JMP (ptr16:32) back to 64-bit mode', () => {
    const m = machine('data64 ret far');
    place(m, COMPAT, `mov eax, 5\njmp far ${Sel64.Code64}:${BACK64}`, 32);
    place(m, BACK64, 'mov ebx, 6\nhlt');
    w64(m, 0x8000, BigInt(COMPAT));
    w64(m, 0x8008, BigInt(Sel64.Code32));
    setReg64(m.cpu, 4, 0x8000n);
    m.cpu.step();
    expect(m.cpu.bitness).toBe(32);
    expect(reg64(m.cpu, 4)).toBe(0x8010n);
    runLong(m);
    expect(reg64(m.cpu, 0)).toBe(5n);
    expect(reg64(m.cpu, 3)).toBe(6n);
    expect(m.cpu.bitness).toBe(64);
  });

  it('JMP m16:64 and CALL m16:64 (REX.W) take an 8-byte offset; CALL pushes 8-byte CS and RIP', () => {
    // call far [rbx] (REX.W FF /3) to BACK64, which returns with RETFQ; then jmp far [rsi] (REX.W FF /5).
    const m = machine('db 0x48, 0xff, 0x1b\nmov edx, 3\ndb 0x48, 0xff, 0x2e');
    place(m, BACK64, 'mov ecx, esp\ndata64 ret far');
    place(m, H_RING0, 'mov ebx, 4\nhlt');
    w64(m, DATA, BigInt(BACK64));
    m.memory.write16(DATA + 8, Sel64.Code64);
    w64(m, DATA + 16, 0xffff_8000_0000_0000n + BigInt(H_RING0));
    m.memory.write16(DATA + 24, Sel64.Code64);
    setReg64(m.cpu, 3, BigInt(DATA));
    setReg64(m.cpu, 6, BigInt(DATA + 16));
    runLong(m);
    expect(reg64(m.cpu, 1)).toBe(0x9000n - 16n);
    expect(r64(m, 0x9000 - 16)).toBe(BigInt(CODE64 + 3));
    expect(r64(m, 0x9000 - 8)).toBe(BigInt(Sel64.Code64));
    expect(reg64(m.cpu, 2)).toBe(3n);
    expect(reg64(m.cpu, 3)).toBe(4n);
    expect(m.cpu.regs.ip).toBe(-(2 ** 47) + H_RING0 + 6);
  });

  it('a far JMP to a task gate or a TSS is #GP(selector) in IA-32e mode', () => {
    for (const sel of [SEL_TASK_GATE, SEL_TSS]) {
      const events: Events = [];
      const m = machine(`jmp far fword [rip + ptr]\nhlt\nptr: dd 0\ndw ${sel}`, events);
      runLong(m);
      expect(events).toEqual([[EventKind.Exception, Vector.GP, sel]]);
    }
  });

  it('IRET with NT = 1 is #GP(0) in IA-32e mode', () => {
    const events: Events = [];
    const m = machine('iretq', events);
    m.cpu.eflags = EFLAGS.FIXED1 | EFLAGS.NT;
    runLong(m);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, 0]]);
  });

  it('IRETQ to a non-canonical RIP is #GP(0) and changes nothing', () => {
    const events: Events = [];
    const m = machine('iretq', events);
    w64(m, 0x8000, 0x0000_8000_0000_0000n);
    w64(m, 0x8008, BigInt(Sel64.Code64));
    w64(m, 0x8010, 0x2n);
    w64(m, 0x8018, 0x7000n);
    w64(m, 0x8020, BigInt(Sel64.Data));
    setReg64(m.cpu, 4, 0x8000n);
    runLong(m);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, 0]]);
    expect(r64(m, Number(reg64(m.cpu, 1)) + 32)).toBe(0x8000n);
  });

  it('IRETQ to ring 3 in compatibility mode; a null SS there is #GP(0)', () => {
    const m = machine('iretq');
    place(m, COMPAT, 'mov eax, 1\nint 0x80', 32);
    gate(m, 0x80, BigInt(H_RING0), { dpl: 3 });
    place(m, H_RING0, 'hlt');
    w64(m, TSS + 4, 0x6000n);
    w64(m, 0x8000, BigInt(COMPAT));
    w64(m, 0x8008, BigInt(SEL_CODE32_DPL3));
    w64(m, 0x8010, 0x202n);
    w64(m, 0x8018, 0x7000n);
    w64(m, 0x8020, BigInt(Sel64.DataDpl3));
    setReg64(m.cpu, 4, 0x8000n);
    const cpu = m.cpu;
    cpu.step();
    expect(cpu.ctrl.cpl).toBe(3);
    expect(cpu.bitness).toBe(32);
    expect(cpu.eflags & EFLAGS.IF).toBe(EFLAGS.IF);
    runLong(m);
    // INT from compatibility mode: 64-bit frame on RSP0 with the 32-bit CS and ESP.
    expect(cpu.ctrl.cpl).toBe(0);
    expect(r64(m, 0x6000 - 40)).toBe(BigInt(COMPAT + 7));
    expect(r64(m, 0x6000 - 32)).toBe(BigInt(SEL_CODE32_DPL3));
    expect(r64(m, 0x6000 - 16)).toBe(0x7000n);

    const events: Events = [];
    const bad = machine('iretq', events);
    w64(bad, 0x8000, BigInt(COMPAT));
    w64(bad, 0x8008, BigInt(SEL_CODE32_DPL3));
    w64(bad, 0x8010, 0x2n);
    w64(bad, 0x8018, 0x7000n);
    w64(bad, 0x8020, 3n);
    setReg64(bad.cpu, 4, 0x8000n);
    runLong(bad);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, 0]]);
  });

  // SDM Vol. 2 IRET (RETURN-TO-OUTER-PRIVILEGE-LEVEL, also taken by IA-32e-MODE-RETURN): ES, FS, GS
  // and DS holding a data or non-conforming code segment with DPL < the new CPL become null. A null
  // DS is #GP(0) on use in compatibility mode (protected-mode rules); 64-bit mode does not check it.
  // QEMU TCG nulls the register but does not check it on access (tests/cpu-diff README).
  it('IRETQ to ring 3 nulls a DPL-0 DS; a DS access is then #GP(0) in compatibility mode, not in 64-bit mode', () => {
    const frame = (m: Machine, rip: number, cs: number) => {
      w64(m, 0x8000, BigInt(rip));
      w64(m, 0x8008, BigInt(cs));
      w64(m, 0x8010, 0x2n);
      w64(m, 0x8018, 0x7000n);
      w64(m, 0x8020, BigInt(Sel64.DataDpl3));
      w64(m, TSS + 4, 0x6000n);
      m.memory.write32(DATA, 0x1234_5678);
      setReg64(m.cpu, 4, 0x8000n);
      m.cpu.segs.set(Seg.ES, Sel64.DataDpl3, 0, 0xffffffff, ATTR_DATA | 0x60);
    };

    const events: Events = [];
    const compat = machine('iretq', events);
    place(compat, COMPAT, `mov eax, es:[${DATA}]\nmov ebx, [${DATA}]\nhlt`, 32);
    frame(compat, COMPAT, SEL_CODE32_DPL3);
    compat.cpu.step();
    expect(compat.cpu.bitness).toBe(32);
    expect(compat.cpu.segs.selector[Seg.DS]).toBe(0);
    expect(compat.cpu.segs.selector[Seg.ES]).toBe(Sel64.DataDpl3); // DPL 3: kept
    runLong(compat);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, 0]]);
    expect(reg64(compat.cpu, 0)).toBe(0x1234_5678n);
    expect(reg64(compat.cpu, 3)).toBe(0n);
    // The fault is at the DS access (the ES load before it is 6 bytes: 26 A1 moffs32).
    expect(r64(compat, 0x6000 - 40)).toBe(BigInt(COMPAT + 6));

    const m64 = machine('iretq');
    const USER64 = 0x2400;
    place(m64, USER64, `mov ebx, [${DATA}]\nint 0x80`);
    gate(m64, 0x80, BigInt(H_RING0), { dpl: 3 });
    place(m64, H_RING0, 'hlt');
    frame(m64, USER64, Sel64.Code64Dpl3);
    m64.cpu.step();
    expect(m64.cpu.bitness).toBe(64);
    expect(m64.cpu.segs.selector[Seg.DS]).toBe(0);
    runLong(m64);
    expect(m64.cpu.ctrl.cpl).toBe(0);
    expect(reg64(m64.cpu, 3)).toBe(0x1234_5678n);
  });

  it('CALL through a 64-bit call gate from ring 3: RSP0, null SS, 8-byte frame; RETFQ back to ring 3', () => {
    const m = machine(`call far fword [rip + ptr]\nint 0x82\nptr: dd 0\ndw ${SEL_CALL_GATE}`);
    callGate(m, H_RING0, 3);
    place(m, H_RING0, 'mov ecx, esp\ndata64 ret far');
    gate(m, 0x82, BigInt(H_IST), { dpl: 3 });
    place(m, H_IST, 'hlt');
    w64(m, TSS + 4, 0x6008n);
    toRing3(m, 0x8800);
    const cpu = m.cpu;
    cpu.step();
    expect(cpu.ctrl.cpl).toBe(0);
    expect(cpu.segs.selector[Seg.SS]).toBe(0);
    expect(cpu.regs.ip).toBe(H_RING0);
    // No alignment for call gates: old SS, RSP, CS, RIP below 0x6008.
    expect(reg64(cpu, 4)).toBe(0x6008n - 32n);
    expect(r64(m, 0x6000)).toBe(BigInt(Sel64.DataDpl3));
    expect(r64(m, 0x6000 - 8)).toBe(0x8800n);
    expect(r64(m, 0x6000 - 16)).toBe(BigInt(Sel64.Code64Dpl3));
    expect(r64(m, 0x6000 - 24)).toBe(BigInt(CODE64 + 6));
    cpu.step();
    cpu.step();
    expect(cpu.ctrl.cpl).toBe(3);
    expect(cpu.regs.ip).toBe(CODE64 + 6);
    expect(cpu.segs.selector[Seg.SS]).toBe(Sel64.DataDpl3);
    expect(reg64(cpu, 4)).toBe(0x8800n);
    runLong(m);
  });

  it('JMP through a 64-bit call gate at CPL 0 changes CS:RIP only; a 16-byte gate past the GDT limit is #GP', () => {
    const m = machine(`jmp far fword [rip + ptr]\nptr: dd 0\ndw ${SEL_CALL_GATE & ~3}`);
    callGate(m, H_RING0, 0);
    place(m, H_RING0, 'hlt');
    runLong(m);
    expect(m.cpu.regs.ip).toBe(H_RING0 + 1);
    expect(reg64(m.cpu, 4)).toBe(0x9000n);
    const events: Events = [];
    const short = machine(`jmp far fword [rip + ptr]\nptr: dd 0\ndw ${SEL_CALL_GATE & ~3}`, events);
    callGate(short, H_RING0, 0);
    short.cpu.ctrl.gdtr.limit = 9 * 8 - 2;
    runLong(short);
    expect(events).toEqual([[EventKind.Exception, Vector.GP, SEL_CALL_GATE & ~3]]);
  });

  it('MOV SS with a null selector is allowed at CPL 0 in 64-bit mode and #GP(0) at CPL 3', () => {
    const m = machine('xor eax, eax\nmov ss, eax\nhlt');
    runLong(m);
    expect(m.cpu.segs.selector[Seg.SS]).toBe(0);
    expect(m.cpu.ctrl.mode).toBe(Mode.Protected);
    const events: Events = [];
    const u = machine('mov eax, 3\nmov ss, eax\nhlt', events);
    w64(u, TSS + 4, 0x6000n);
    toRing3(u, 0x8800);
    runLong(u);
    expect(events[0]).toEqual([EventKind.Exception, Vector.GP, 0]);
  });
});

describe('IA-32e system descriptors and odd cases', () => {
  it('IRETQ to CPL 0 in 64-bit mode accepts a null SS', () => {
    const m = machine('iretq');
    place(m, BACK64, 'hlt');
    w64(m, 0x8000, BigInt(BACK64));
    w64(m, 0x8008, BigInt(Sel64.Code64));
    w64(m, 0x8010, 0x2n);
    w64(m, 0x8018, 0x7000n);
    w64(m, 0x8020, 0n);
    setReg64(m.cpu, 4, 0x8000n);
    runLong(m);
    expect(m.cpu.regs.ip).toBe(BACK64 + 1);
    expect(m.cpu.segs.selector[Seg.SS]).toBe(0);
    expect(reg64(m.cpu, 4)).toBe(0x7000n);
  });

  it('direct far JMP/CALL (EA/9A) are #UD in 64-bit mode', () => {
    for (const op of [0xea, 0x9a]) {
      const events: Events = [];
      const m = machine(`db ${op}, 0, 0x11, 0, 0, 8, 0\nhlt`, events);
      gate(m, Vector.UD, BigInt(H_GP));
      runLong(m);
      expect(events).toEqual([[EventKind.Exception, Vector.UD, 0]]);
    }
  });

  it('a 16-byte TSS descriptor gives a 64-bit base; a non-canonical one is #GP(selector)', () => {
    const m = machine('hlt');
    m.memory.write32(GDT64 + 7 * 8, 0xffff8000);
    expect(() => readSystemDescriptor64(m.cpu, SEL_TSS)).not.toThrow();
    expect(systemDescriptorBase64(SEL_TSS)).toBe(HIGH_ALIAS + TSS);
    m.memory.write32(GDT64 + 7 * 8, 0x00008000);
    readSystemDescriptor64(m.cpu, SEL_TSS);
    let vector = -1;
    try {
      systemDescriptorBase64(SEL_TSS);
    } catch (e) {
      if (e === FAULT) vector = FAULT.vector * 0x10000 + FAULT.errorCode;
    }
    expect(vector).toBe(Vector.GP * 0x10000 + SEL_TSS);
    // The upper half must be within the GDT limit.
    m.cpu.ctrl.gdtr.limit = 7 * 8 - 1;
    let limitVector = -1;
    try {
      readSystemDescriptor64(m.cpu, SEL_TSS);
    } catch (e) {
      if (e === FAULT) limitVector = FAULT.vector;
    }
    expect(limitVector).toBe(Vector.GP);
  });

  it('a TSS at a high canonical base supplies RSP0 for a ring-3 interrupt', () => {
    const m = machine('int 0x80');
    gate(m, 0x80, BigInt(H_RING0), { dpl: 3 });
    place(m, H_RING0, 'mov ecx, esp\nhlt');
    w64(m, TSS + 4, 0x6000n);
    m.cpu.segs.set(Seg.TR, SEL_TSS, 0, 0x67, 0x8b);
    m.cpu.segs.setBase64(Seg.TR, HIGH_ALIAS + TSS);
    toRing3(m, 0x8800);
    runLong(m);
    expect(reg64(m.cpu, 1)).toBe(0x6000n - 40n);
  });

  it('isSoftwareException tells INT3 from INT 3 at a high canonical RIP', () => {
    for (const [src, expected] of [
      ['int3', true],
      ['db 0xcd, 3', false],
    ] as const) {
      const seen: boolean[] = [];
      // NOPs at the low address; the high half maps its own 2 MiB page (physical 2 MiB) with the code.
      const m = long64('nop\nnop\nnop', {
        events: { delivered: (_k, v) => seen.push(isSoftwareException(m.cpu, v)) },
      });
      m.memory.write32(PML4 + 256 * 8, (PML4 + 0x3000) | 7);
      m.memory.write32(PML4 + 0x3000, (PML4 + 0x4000) | 7);
      m.memory.write32(PML4 + 0x4000, 0x200000 | 0x87);
      m.ram.set(assemble(`${src}\nhlt`, { bitness: 64, origin: CODE64 }), 0x200000 + CODE64);
      m.cpu.ctrl.idtr.base = IDT;
      m.cpu.ctrl.idtr.limit = 0xfff;
      gate(m, Vector.BP, BigInt(H_GP));
      place(m, H_GP, 'hlt');
      m.cpu.regs.ip = HIGH_ALIAS + CODE64;
      runLong(m);
      expect(seen).toEqual([expected]);
    }
  });
});
