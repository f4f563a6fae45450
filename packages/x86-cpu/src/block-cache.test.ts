import { assemble } from '@typevisor/x86-decoder';
import { describe, expect, it } from 'vitest';
import { CODE, flat32 } from '../test/machine.js';
import { CpuExit } from './exit.js';

/**
 * The decoded-block table is 2-way set-associative: two blocks whose physical addresses share a set
 * both stay decoded (a direct-mapped table rebuilt them on every visit, a tenth of a Linux boot's
 * time), and a third one evicts the way used least recently without changing what runs.
 */
describe('block table', () => {
  // Physical addresses in the same set as CODE (0x1000): set = (phys ^ (phys >>> 12)) & 8191.
  const B = 0x3002;
  const D = 0x5004;

  function loop(targets: number[]): ReturnType<typeof flat32> {
    const m = flat32('nop');
    // CODE -> targets[0] -> ... -> last, which counts ECX down and jumps back to CODE.
    const chain = [CODE, ...targets];
    for (let i = 0; i < chain.length; i++) {
      const here = chain[i]!;
      const src =
        i < chain.length - 1 ? `inc eax\njmp ${chain[i + 1]}` : `inc eax\ndec ecx\njnz ${CODE}\nhlt`;
      m.ram.set(assemble(src, { bitness: 32, origin: here }), here);
    }
    m.cpu.regs.r32[1] = 1000;
    return m;
  }

  it('keeps two blocks that share a set decoded across a loop between them', () => {
    const m = loop([B]);
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(2000);
    // CODE and B (which goes on past its JNZ to the HLT): each decoded once.
    expect(m.cpu.blocks.builds).toBe(2);
  });

  it('runs a loop over three blocks of one set correctly, rebuilding the evicted one', () => {
    const m = loop([B, D]);
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(3000);
    expect(m.cpu.regs.r32[1]).toBe(0);
    // Least-recently-used replacement in a 2-way set over a cycle of three: every visit is a miss.
    expect(m.cpu.blocks.builds).toBeGreaterThan(2000);
  });

  /**
   * A self-loop at CODE (compiled after 50 runs) counts ECX down, then B and D (its set) replace it,
   * D optionally writes `patch` over its first byte, and it runs again; EBX counts the passes.
   */
  function replaced(patch: string | null, rounds = 100, hotRuns = 50): ReturnType<typeof flat32> {
    const m = flat32(`
    top:
      inc eax
      dec ecx
      jnz top
      dec ebx
      jz done
      jmp ${B}
    done:
      hlt`);
    m.ram.set(assemble(`mov ecx, ${rounds}\njmp ${D}`, { bitness: 32, origin: B }), B);
    const back = patch === null ? `jmp ${CODE}` : `mov byte [${CODE}], ${patch}\njmp ${CODE}`;
    m.ram.set(assemble(back, { bitness: 32, origin: D }), D);
    m.cpu.blocks.hotRuns = hotRuns;
    m.cpu.regs.r32[0] = 0;
    m.cpu.regs.r32[1] = rounds;
    m.cpu.regs.r32[2] = 0;
    m.cpu.regs.r32[3] = 2;
    return m;
  }

  it('gives a compiled block replaced in its set its compiled function back when its code returns', () => {
    const m = replaced(null);
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(200);
    // Without it the second pass would run 50 times interpreted and compile again.
    expect(m.cpu.blocks.compiled).toBe(1);
    expect(m.cpu.blocks.builds).toBeGreaterThan(4);
    m.cpu.regs.ip = CODE;
    expect(m.cpu.blocks.lookup().run).not.toBeNull();
  });

  it('counts the interpreted runs of a replaced block on from where they were', () => {
    // 1,500 runs in each pass: the block compiles in the second (3,000) only with the first counted.
    const m = replaced(null, 1500, 3000);
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(3000);
    expect(m.cpu.blocks.compiled).toBe(1);
  });

  it('forgets what a replaced block earned when its bytes are written', () => {
    const m = replaced('0x42'); // INC EDX instead of INC EAX
    expect(m.run(1_000_000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(100);
    expect(m.cpu.regs.r32[2]).toBe(100);
    expect(m.cpu.blocks.compiled).toBe(2);
  });
});

/**
 * Blocks go on past one conditional near branch (the path not taken) and end at the next, or at a
 * branch back to their own start (the compiling tier's in-place loop); a taken branch leaves the
 * block in the middle.
 */
describe('block formation', () => {
  it('goes on past one conditional branch and ends at the second', () => {
    const m = flat32('inc eax\njz away\ninc ebx\njz away\ninc ecx\nhlt\naway:\nhlt');
    const b = m.cpu.blocks.lookup();
    expect(b.count).toBe(4);
    // EAX becomes 1 (ZF clear), EBX 1: both branches fall through, ECX 1, HLT.
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect([m.cpu.regs.r32[0], m.cpu.regs.r32[3], m.cpu.regs.r32[1]]).toEqual([1, 1, 1]);
  });

  it('leaves in the middle when the branch inside is taken', () => {
    const m = flat32('xor eax, eax\njz away\ninc ebx\nhlt\naway:\ninc ecx\nhlt');
    expect(m.cpu.blocks.lookup().count).toBe(4);
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect([m.cpu.regs.r32[3], m.cpu.regs.r32[1]]).toEqual([0, 1]);
  });

  it('ends at a conditional branch back to its own start', () => {
    const m = flat32('top:\ndec ecx\njnz top\ninc eax\nhlt');
    m.cpu.regs.r32[1] = 5;
    expect(m.cpu.blocks.lookup().count).toBe(2);
    expect(m.run(100)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(1);
  });
});

/** Writes the CPU does not make (a device's DMA, reported by the facade through `hostWrote`). */
describe('host writes', () => {
  it('drop the blocks whose bytes they overwrite, and only those: code runs new, data beside it costs nothing', () => {
    // CODE: mov eax, 1; hlt. Data at CODE + 0x800, on the same page.
    const m = flat32('mov eax, 1\nhlt');
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(m.cpu.blocks.builds).toBe(1);
    const again = (): void => {
      m.cpu.halted = false;
      m.cpu.regs.ip = CODE;
      expect(m.run(10)).toBe(CpuExit.Hlt);
    };
    // Bytes changed behind the CPU's back and reported: the new immediate runs.
    m.ram[CODE + 1] = 2;
    m.cpu.phys.hostWrote(CODE + 1, 1);
    again();
    expect(m.cpu.regs.r32[0]).toBe(2);
    expect(m.cpu.blocks.builds).toBe(2);
    // A report of data next to the code on the same page keeps the block.
    m.ram[CODE + 0x800] = 0x55;
    m.cpu.phys.hostWrote(CODE + 0x800, 1);
    again();
    expect(m.cpu.blocks.builds).toBe(2);
    // A range over two pages reaches the block on the second one.
    m.ram[CODE + 1] = 3;
    m.cpu.phys.hostWrote(CODE - 0x10, 0x20);
    again();
    expect(m.cpu.regs.r32[0]).toBe(3);
    expect(m.cpu.blocks.builds).toBe(3);
  });
});

describe('bulk writes by the CPU', () => {
  it('drop a block on the second page of a bulk copy, as on the first', () => {
    const m = flat32('mov eax, 1\nhlt');
    expect(m.run(10)).toBe(CpuExit.Hlt);
    // The copy's range starts on the page before CODE (0x1000): the block is on its second page.
    m.ram.set(assemble('mov eax, 2\nhlt', { bitness: 32, origin: CODE }), 0x4010);
    expect(m.cpu.phys.copy(CODE - 0x10, 0x4000, 0x20)).toBe(true);
    m.cpu.halted = false;
    m.cpu.regs.ip = CODE;
    expect(m.run(10)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[0]).toBe(2);
    expect(m.cpu.blocks.builds).toBe(2);
  });

  it('drop a block on the second page a REP MOVSB spans, as on the first', () => {
    // X at 0x3000 returns 1 in EAX; a REP MOVSB to 0x2ff0..0x300f puts a copy that returns 2 there.
    const m = flat32(`
      call 0x3000
      mov ebx, eax
      mov esi, 0x4000
      mov edi, 0x2ff0
      mov ecx, 0x20
      cld
      rep movsb
      call 0x3000
      hlt`);
    m.ram.set(assemble('mov eax, 1\nret', { bitness: 32, origin: 0x3000 }), 0x3000);
    m.ram.set(assemble('mov eax, 2\nret', { bitness: 32, origin: 0x3000 }), 0x4010);
    expect(m.run(1000)).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.r32[3]).toBe(1);
    expect(m.cpu.regs.r32[0]).toBe(2);
  });
});
