// The example in README.md, verbatim in spirit: keep the two in sync.
import { GuestMemory } from '@typevisor/memory';
import { assemble } from '@typevisor/x86-decoder';
import { expect, it } from 'vitest';
import { Cpu, CpuExit, NullHooks } from './index.js';

it('runs the README example', () => {
  // 1 MiB of guest RAM; the CPU starts in real mode as after RESET, we point it at our code.
  const memory = GuestMemory.create(1 << 20);
  const code = assemble(
    `
      mov dx, 0x3f8
      mov si, msg
    next:
      lodsb
      test al, al
      jz done
      out dx, al
      jmp next
    done:
      hlt
    msg:
      db "hi", 0`,
    { bitness: 16, origin: 0x7c00 },
  );
  memory.writeBytes(0x7c00, code);

  const out: number[] = [];
  class Serial extends NullHooks {
    override portOut(port: number, _size: 1 | 2 | 4, value: number): number {
      if (port === 0x3f8) out.push(value);
      return 0;
    }
  }
  const cpu = new Cpu(memory, { hooks: new Serial() });
  cpu.segs.set(1 /* Seg.CS */, 0, 0, 0xffff, 0x93);
  cpu.regs.ip = 0x7c00;

  const exit = cpu.run(1_000_000);

  expect(exit).toBe(CpuExit.Hlt);
  expect(String.fromCharCode(...out)).toBe('hi');
});
