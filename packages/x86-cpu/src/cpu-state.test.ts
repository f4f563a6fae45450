import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { HIGH_ALIAS, long64, reg64, setReg64 } from '../test/long-machine.js';
import { flat32, runToHlt } from '../test/machine.js';
import { Cpu, type CpuState, loadState, Seg, X86_64_MODEL } from './index.js';
import { saveState } from './index.js';

describe('CPU state', () => {
  it('a saved state is JSON-able and resumes on a fresh CPU with the same results', () => {
    const src = `
      fninit
      fld1
      mov ecx, 5
    l:
      add eax, ecx
      loop l
      mov ecx, 3
    m:
      add ebx, ecx
      loop m
      hlt`;
    const a = flat32(src);
    a.run(7); // stop inside the first loop
    const json = JSON.stringify(saveState(a.cpu));

    const b = new Cpu(a.memory);
    loadState(b, JSON.parse(json));
    const be = b.run(1000);
    runToHlt(a);
    expect(be).toBe(1);
    expect(saveState(b)).toEqual({ ...saveState(a.cpu), tsc: saveState(b).tsc });
    expect(b.regs.u32[0]).toBe(15);
    expect(b.regs.u32[3]).toBe(6);
    expect(b.fpu.getState().regs).toEqual(a.cpu.fpu.getState().regs);
  });

  it('restores protected-mode segment caches and control registers', () => {
    const m = flat32('hlt');
    const st = saveState(m.cpu);
    const fresh = new Cpu(GuestMemory.create(1 << 20));
    loadState(fresh, st);
    expect(fresh.bitness).toBe(32);
    expect(fresh.ctrl.mode).toBe(m.cpu.ctrl.mode);
    expect(saveState(fresh).segments).toEqual(st.segments);
  });

  it('keeps 64-bit state: both GPR halves, RIP in signed form, 64-bit FS/GS bases, EFER.LMA, CR3 above 4 GiB', () => {
    const m = long64('hlt');
    const cpu = m.cpu;
    for (let n = 0; n < 16; n++) setReg64(cpu, n, ((0x1111_1111n * BigInt(n + 1)) << 32n) | BigInt(n));
    cpu.regs.ip = HIGH_ALIAS + 0x1000; // 0xFFFF_8000_0000_1000
    cpu.segs.setBase64(Seg.GS, -0x7f00_0000); // 0xFFFF_FFFF_8100_0000
    cpu.segs.setBase64(Seg.FS, 0x7fff_0000_1000);
    cpu.ctrl.tpr = 9;
    const json = JSON.stringify(saveState(cpu));
    const st = JSON.parse(json) as CpuState;
    expect(st.eip).toBe(HIGH_ALIAS + 0x1000);
    expect(st.gprHi![15]).toBe(0x1111_1111 * 16 - 0x1_0000_0000);
    const fresh = new Cpu(m.memory, { model: X86_64_MODEL });
    loadState(fresh, st);
    expect(fresh.ctrl.lma).toBe(true);
    expect(fresh.code64).toBe(true);
    expect(fresh.regs.ip).toBe(HIGH_ALIAS + 0x1000);
    for (let n = 0; n < 16; n++) expect(reg64(fresh, n)).toBe(reg64(cpu, n));
    expect(fresh.segs.base[Seg.GS]).toBe(-0x7f00_0000);
    expect(fresh.segs.base[Seg.FS]).toBe(0x7fff_0000_1000);
    expect(fresh.ctrl.tpr).toBe(9);
    expect(saveState(fresh)).toEqual({ ...st, tsc: saveState(fresh).tsc });
    // A CR3 above 4 GiB (4-level paging, 40-bit physical addresses) survives.
    loadState(fresh, { ...st, cr3: 0x12_3456_7000 });
    expect(fresh.ctrl.cr3).toBe(0x12_3456_7000);
  });

  it('loads a state saved before IA-32e mode existed (no gprHi/drHi/cr8): high halves 0, EIP unsigned', () => {
    const m = flat32('hlt');
    for (let n = 0; n < 32; n++) m.cpu.regs.u32[n] = 0xdead_beef;
    const { gprHi: _g, drHi: _d, cr8: _c, ...old } = saveState(m.cpu);
    const fresh = new Cpu(GuestMemory.create(1 << 20));
    fresh.regs.u32.fill(0xffff_ffff);
    loadState(fresh, { ...old, gpr: old.gpr.map((_, i) => i), eip: 0x8000_1000 });
    expect(Array.from(fresh.regs.u32.subarray(16, 32))).toEqual(new Array(16).fill(0));
    expect(fresh.regs.ip).toBe(0x8000_1000);
    expect(fresh.ctrl.lma).toBe(false);
  });
});
