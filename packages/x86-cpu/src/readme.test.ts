// The example in README.md, verbatim in spirit: keep the two in sync.
import { GuestMemory } from '@typevisor/memory';
import { assemble } from '@typevisor/x86-decoder';
import { expect, it } from 'vitest';
import { CR0, Cpu, CpuExit, MAX_MODEL, NullHooks, Seg } from './index.js';

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

// The README's AVX example: VADDPS on YMM registers after the guest enables OSXSAVE and XCR0.
it('runs the README AVX example', () => {
  const memory = GuestMemory.create(1 << 20);
  memory.writeBytes(0x2000, new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
  memory.writeBytes(0x2020, new Uint8Array(new Float32Array(8).fill(0.5).buffer));
  const code = assemble(
    `
      mov eax, cr4
      or eax, 0x40200          ; CR4.OSXSAVE | CR4.OSFXSR
      mov cr4, eax
      xor ecx, ecx
      xor edx, edx
      mov eax, 7               ; XCR0 = x87 | SSE | AVX
      xsetbv
      vmovups ymm0, [0x2000]
      vaddps ymm0, ymm0, [0x2020]
      vmovups [0x2040], ymm0
      hlt`,
    { bitness: 32, origin: 0x1000 },
  );
  memory.writeBytes(0x1000, code);

  const cpu = new Cpu(memory, { model: MAX_MODEL }); // PENTIUM_II (the default) has no AVX: #UD
  cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0); // protected mode with flat 32-bit caches, no GDT needed
  for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES])
    cpu.segs.set(s, 8, 0, 0xffffffff, s === Seg.CS ? 0xc09b : 0xc093);
  cpu.regs.ip = 0x1000;

  const exit = cpu.run(1_000);

  expect(exit).toBe(CpuExit.Hlt);
  const sum = new Uint8Array(32);
  memory.readBytes(0x2040, sum);
  expect([...new Float32Array(sum.buffer)]).toEqual([1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5]);
});

// The README's compiling-tier example: a hot 32-bit loop runs as a compiled block function.
it('runs the README compiling-tier example', () => {
  const memory = GuestMemory.create(1 << 20);
  const code = assemble(
    `
      mov ecx, 1000
      xor eax, eax
    top:
      add eax, ecx
      dec ecx
      jnz top
      hlt`,
    { bitness: 32, origin: 0x1000 },
  );
  memory.writeBytes(0x1000, code);
  const cpu = new Cpu(memory);
  cpu.setControlRegisters(CR0.PE | CR0.ET, 0, 0);
  cpu.segs.set(Seg.CS, 8, 0, 0xffffffff, 0x9b | 0xc000); // flat 32-bit code
  for (const s of [Seg.SS, Seg.DS, Seg.ES]) cpu.segs.set(s, 16, 0, 0xffffffff, 0x93 | 0xc000);
  cpu.regs.ip = 0x1000;
  cpu.blocks.hotRuns = 100; // compile after 100 interpreted runs (default 30,000)

  expect(cpu.run(1_000_000)).toBe(CpuExit.Hlt);
  expect(cpu.regs.u32[0]).toBe(500_500);
  expect(cpu.blocks.compiled).toBe(1); // the loop's block; it looped inside its function
});
