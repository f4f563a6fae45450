import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../test/machine.js';
import { Cpu, loadState, saveState } from './index.js';

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
});
