import { Code, decodeInto, Instruction } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CODE, flat32 } from '../test/machine.js';
import { RECORD_ONLY } from './block-cache.js';
import { CpuExit } from './exit.js';

/** The same bytes decoded directly, as `BlockCache.build` decodes them. */
function decodedAt(ram: Uint8Array, at: number, ip: number): Instruction {
  const ins = new Instruction();
  decodeInto(ins, ram, at, 32, ip);
  return ins;
}

/**
 * A block holds no decoded instruction where its handler reads only the operand record (the fast
 * handlers), and `Block.instruction` decodes those bytes again, for the compiling tier, to what the
 * build decoded.
 */
describe('blocks without the decoded instructions their fast handlers do not read', () => {
  it('hold RECORD_ONLY for fast-handled instructions and the decoded instruction for the others', () => {
    const m = flat32(`
      mov eax, [ebx + 8]
      add eax, ecx
      rol eax, 3
      rcl eax, 3
      lea edx, [eax * 4 + ebx + 0x12345678]
      cpuid`);
    const b = m.cpu.blocks.lookup();
    expect(b.count).toBe(6);
    const held = b.instructions.map((ins) => (ins === RECORD_ONLY ? -1 : ins.code));
    // ROL has a fast handler (fast-paths-cold.ts), RCL and CPUID run generic handlers.
    expect(held).toEqual([-1, -1, -1, Code.Rcl_rm32_imm8, -1, Code.Cpuid]);
    let ip = CODE;
    for (let i = 0; i < b.count; i++) {
      const again = b.instruction(i);
      expect(again).toEqual(decodedAt(m.ram, ip, ip));
      ip = again.nextIp;
    }
  });

  it('keep the decoded instruction that runs onto the next page', () => {
    const m = flat32('nop');
    // NOPs up to 0x1ffe, then MOV EAX, EBX (2 bytes) across the page end at 0x2000.
    const start = 0x1ff8;
    m.ram.fill(0x90, start, 0x1fff);
    m.ram.set([0x89, 0xd8, 0xf4], 0x1fff);
    m.cpu.regs.ip = start;
    const b = m.cpu.blocks.lookup();
    const last = b.instructions[b.count - 1]!;
    expect(last).not.toBe(RECORD_ONLY);
    expect(last.code).toBe(Code.Mov_rm32_r32);
    expect(last.ip).toBe(0x1fff);
    m.cpu.regs.r32[3] = 0x1234;
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(0x1234);
  });

  it('decode again to what the build decoded, for random code (fast-check)', () => {
    const m = flat32('nop');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (bytes) => {
        m.ram.set(bytes, CODE);
        m.cpu.blocks.flush();
        m.cpu.regs.ip = CODE;
        let b: ReturnType<typeof m.cpu.blocks.lookup>;
        try {
          b = m.cpu.blocks.lookup();
        } catch {
          return; // the first instruction's fetch faulted: no block
        }
        let ip = CODE;
        for (let i = 0; i < b.count; i++) {
          const direct = decodedAt(m.ram, ip, ip);
          expect(b.instruction(i)).toEqual(direct);
          if (b.instructions[i] !== RECORD_ONLY) expect(b.instructions[i]).toEqual(direct);
          ip = direct.nextIp;
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('decode again the instructions of a block longer than 16 (its records in a grown array)', () => {
    const m = flat32(`${'add eax, 3\n'.repeat(24)}hlt`);
    const b = m.cpu.blocks.lookup();
    expect(b.count).toBe(25);
    for (let i = 0; i < 24; i++) expect(b.instructions[i]).toBe(RECORD_ONLY);
    for (let i = 0; i < 24; i++) expect(b.instruction(i).ip).toBe(CODE + 3 * i);
    expect(b.instruction(23).immediate).toBe(3);
    expect(b.instruction(24).code).toBe(Code.Hlt);
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(72);
  });

  it('run the same with and without the fast handlers', () => {
    const source = `
      mov ecx, 100
    top:
      mov eax, [ebx + 8]
      add eax, ecx
      rol eax, 3
      mov [ebx + 8], eax
      lea edx, [eax * 4 + ebx + 0x12345678]
      dec ecx
      jnz top
      hlt`;
    const results = [true, false].map((fast) => {
      const m = flat32(source);
      m.cpu.blocks.fastPaths = fast;
      m.cpu.blocks.flush();
      m.cpu.regs.r32[3] = 0x8000;
      expect(m.run(100_000)).toBe(CpuExit.Hlt);
      return [...m.cpu.regs.r32.slice(0, 8)];
    });
    expect(results[0]).toEqual(results[1]);
  });
});
