import { describe, expect, it } from 'vitest';
import { flat32 } from '../test/machine.js';
import { FAULT, Vector } from './exceptions.js';
import { CR0, CpuExit, NullHooks, Seg } from './index.js';
import { read32, write32 } from './memory-access.js';

/**
 * The RAM-direct path of `memory-access.ts` (flat segments, the pager's RAM-direct TLB): everything a
 * direct read or write skips must still happen where it matters.
 */
describe('RAM-direct memory access', () => {
  it('a store to a page that became code after its write entry was made still drops the stale block', () => {
    const m = flat32(`
      mov dword [0x3800], 7      ; data store: a RAM-direct write entry for page 3 (no code on it yet)
      call 0x3000                ; code on page 3 is decoded: the write entries must go
      mov ebx, eax
      mov byte [0x3001], 2       ; patch the immediate of "mov eax, 1"
      call 0x3000
      hlt`);
    m.ram.set([0xb8, 1, 0, 0, 0, 0xc3], 0x3000); // mov eax, 1; ret
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.u32[3]).toBe(1);
    expect(m.cpu.regs.u32[0]).toBe(2);
    expect(m.memory.read32(0x3800)).toBe(7);
  });

  it('a flat segment still faults an access that runs past 4 GiB instead of wrapping', () => {
    const { cpu } = flat32('hlt');
    expect(() => read32(cpu, Seg.DS, 0xfffffffe)).toThrow(FAULT);
    expect(FAULT.vector).toBe(Vector.GP);
    expect(() => write32(cpu, Seg.SS, 0xffffffff, 1)).toThrow(FAULT);
    expect(FAULT.vector).toBe(Vector.SS);
  });

  it('a segment with a base or a limit is checked and offset as before', () => {
    const { cpu, memory } = flat32('hlt');
    cpu.segs.set(Seg.ES, 0x10, 0x2000, 0xfff, 0x93 | 0x4000);
    memory.write32(0x2010, 0xcafe1234);
    expect(read32(cpu, Seg.ES, 0x10)).toBe(0xcafe1234);
    expect(() => read32(cpu, Seg.ES, 0xffd)).toThrow(FAULT);
    expect(FAULT.vector).toBe(Vector.GP);
  });

  it('accesses outside RAM reach the MMIO hooks every time', () => {
    const reads: number[] = [];
    class Mmio extends NullHooks {
      override mmioRead(gpa: number): number {
        reads.push(gpa);
        return 0x11223344;
      }
    }
    const { cpu } = flat32('hlt', { hooks: new Mmio() });
    expect(read32(cpu, Seg.DS, 0xfee00020)).toBe(0x11223344);
    expect(read32(cpu, Seg.DS, 0xfee00020)).toBe(0x11223344);
    expect(reads).toEqual([0xfee00020, 0xfee00020]);
  });

  it('direct entries follow INVLPG and CR3 reloads of the page tables', () => {
    const { cpu, memory } = flat32('hlt');
    memory.write32(0x100000, 0x101000 | 3); // PDE 0: identity 0-4 MiB
    for (let i = 0; i < 1024; i++) memory.write32(0x101000 + i * 4, (i << 12) | 3);
    memory.write32(0x100004, 0x102000 | 3); // PDE 1: 0x400000 -> 0x200000
    memory.write32(0x102000, 0x200000 | 3);
    memory.write32(0x200000, 0xaaaa0000);
    memory.write32(0x201000, 0xbbbb0000);
    cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.PG, 0x100000, 0);
    expect(read32(cpu, Seg.DS, 0x400000)).toBe(0xaaaa0000);
    write32(cpu, Seg.DS, 0x400004, 5);
    memory.write32(0x102000, 0x201000 | 3); // remap 0x400000 -> 0x201000
    cpu.pager.invalidate(0x400000);
    expect(read32(cpu, Seg.DS, 0x400000)).toBe(0xbbbb0000);
    write32(cpu, Seg.DS, 0x400004, 6);
    expect(memory.read32(0x201004)).toBe(6);
    expect(memory.read32(0x200004)).toBe(5);
    memory.write32(0x102000, 0x200000 | 3);
    cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.PG, 0x100000, 0); // CR3 reload
    expect(read32(cpu, Seg.DS, 0x400004)).toBe(5);
  });

  it('writes through a cached entry are dirty-logged once logging is switched on', () => {
    const { cpu, memory } = flat32('hlt');
    write32(cpu, Seg.DS, 0x5000, 1); // makes a direct write entry
    const log = memory.enableDirtyLog(0, true)!;
    cpu.phys.refresh();
    write32(cpu, Seg.DS, 0x5004, 2);
    expect(log.isDirty(5)).toBe(true);
    expect(memory.read32(0x5004)).toBe(2);
  });
});
