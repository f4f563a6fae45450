/**
 * Guest MIPS of the x86-cpu interpreter on small guest loops in 32-bit flat protected mode: ALU,
 * memory, branches and string operations (paging off), plus the memory loop with 32-bit paging on.
 * Prints wall-clock MIPS and MIPS per second of this process's CPU time (steadier on a shared machine).
 *
 *   node_modules/.bin/tsx --conditions=source bench/cpu.bench.ts [--generic] [--interpret] [--long]
 *
 * The `cold N` loops run N distinct blocks (3,000, 6,000, 9,000) in turn, too few times each to compile:
 * the interpreter reading decoded instructions that are not in the processor's caches (about 400 bytes
 * each: 9,000 blocks are past a 32 MiB L3). 2026-11-27, MIPS of CPU time, alternating with the code
 * before the eighth round (x86-cpu README): 6,000 blocks 12-27 -> 22-40, 9,000 blocks 7-13 -> 18-20,
 * 3,000 blocks 36-38 -> 38-42; with operand records (x86-cpu `operand-record.ts`) after that, 6,000
 * blocks 40-47, 9,000 blocks 35-37. They move with what the machine's neighbours do to the shared L3:
 * compare builds alternately, several rounds.
 *
 * `--interpret` turns off the compiling tier (`packages/x86-cpu/src/compiler.ts`, `compiler64.ts`):
 * with it on, each loop's hot block runs as a compiled function. 2026-11-27, shared 2-core machine,
 * MIPS of CPU time, alternating runs, `--interpret` -> default: alu 75 -> 120, memory 89 -> 300,
 * branches 65 -> 90, memory (paged) 80 -> 280; `--long`: alu 81 -> 289, alu32 82 -> 350, memory
 * 67 -> 187, memory32 64 -> 209, branches 48 -> 70 (the interpreter figures are higher than those below:
 * a quieter machine).
 * The fourth round (x86-cpu README: bookkeeping only on faulting paths, the self-loop's successor),
 * same day, alternating: `--interpret` 73 / 86 / 63 / 79 -> default alu 223-282, memory 313-388,
 * branches 143-149, memory (paged) 317-375 MIPS of CPU time.
 *
 * `--generic` turns off the specialised handlers of `packages/x86-cpu/src/fast-paths.ts` (the state
 * before they existed). Figures of 2026-11-26 on a shared 2-core machine, MIPS of CPU time, best of
 * three alternating runs:
 *
 *   loop             generic   fast paths
 *   alu                32.1       37.8
 *   memory             26.7       41.2
 *   branches           26.9       33.0
 *   memory (paged)     26.0       37.3
 *
 * With block chaining, flat segments and the RAM-direct TLB (packages/x86-cpu/README.md "Second
 * round"), same machine under heavier load, MIPS of CPU time, alternating with a copy of the code
 * before: alu 40 (39.5 before), memory 46-48 (42-44), branches 35-37 (31-33), memory (paged) 44-45
 * (37-38).
 *
 * Profile (`node --cpu-prof`, self time as a share of the CPU package's time) with --generic: run loop
 * 20.5% (+8.3% inlined into `bench`), the shared ALU closure (alu.ts `binary`) 19.6%, INC/DEC 8.0%,
 * block lookup 7.4%, Jcc 5.4%, MOV 4.5%, write32 4.1%, readSized 3.7%, locate 2.0%. With fast paths:
 * run loop 26.8% (+9.3%), block lookup 11.1%, each fast handler 1.7-5.2%. What is left is dispatch
 * (the handler call and the per-block lookup); removing the per-instruction bookkeeping of the run
 * loop (startIp/startSp/instruction count) measured at about 3% and was left as it is.
 *
 * `--long` runs the loops of `LOOPS64` in IA-32e 64-bit mode (4-level paging): 64-bit ALU, 32-bit ALU
 * in 64-bit mode (zero-extending, REX registers, LEA), 64-bit and 32-bit memory (MOVZX, RIP-relative),
 * branches with 8-byte CALL/RET/PUSH/POP, REP MOVSQ/STOSQ. `--generic` there is the state before
 * `packages/x86-cpu/src/fast-paths64.ts` (64-bit code had no fast paths). Figures of 2026-11-27 on the
 * shared 2-core machine (load 2.5-3.4), MIPS of CPU time, best of three alternating runs:
 *
 *   loop             generic   fast paths
 *   alu                41.8       79.0
 *   alu32              58.9       81.8
 *   memory             41.9       67.4
 *   memory32           40.1       66.6
 *   branches           33.6       49.2
 *   string            about 5,800 MB/s either way (the REP string bulk path)
 *
 * Profile (`--long`, self time as a share of the whole profile) before: 64-bit ALU closures
 * (long-alu.ts) 15.9%, 64-bit MOV/PUSH/POP/Jcc/CALL/RET (long-data.ts) 14.9%, run loop 14.4% (+5.4%
 * runBlocks), the shared 32-bit ALU closure (alu.ts) 10.7%, setFlags64 6.8%, block lookup 4.9%, locate
 * 4.9%, 32-bit MOV/LEA/MOVZX (data.ts) 4.5%, effectiveAddress64 1.2%. After: the fast handlers 39.0%
 * together (1.7-3.8% each, memory access inlined), run loop 19.5% (+4.0%), block lookup 7.0%, the
 * generic CALL/RET (long-data.ts) 5.1%, locate64 1.7%; setFlags64 and the generic ALU closures are gone
 * from these loops. As for 32-bit code, what is left is mostly dispatch.
 */
import { GuestMemory } from '@typevisor/memory';
import { CR0, CR4, Cpu, CpuExit, EFLAGS, Seg, X86_64_MODEL } from '@typevisor/x86-cpu';
import { assemble } from '@typevisor/x86-decoder';

const CODE = 0x10000;
/** `--generic`: run every instruction through its generic family handler (no `fast-paths.ts`/`fast-paths64.ts`). */
const GENERIC = process.argv.includes('--generic');
/** `--interpret`: no compiling tier (`packages/x86-cpu/src/compiler.ts`): every block stays interpreted. */
const INTERPRET = process.argv.includes('--interpret');
/** `--long`: the 64-bit loops of {@link LOOPS64} in IA-32e 64-bit mode (4-level paging) instead. */
const LONG = process.argv.includes('--long');

const LOOPS: Record<string, string> = {
  alu: `
    mov ecx, 2000000
  top:
    add eax, ebx
    xor edx, eax
    sub ebx, 3
    shl esi, 1
    or esi, edx
    inc edi
    dec ecx
    jnz top
    hlt`,
  memory: `
    mov ecx, 2000000
    mov esi, 0x100000
  top:
    mov eax, [esi]
    add eax, ecx
    mov [esi+4], eax
    add esi, 8
    and esi, 0x10ffff
    dec ecx
    jnz top
    hlt`,
  branches: `
    mov ecx, 2000000
  top:
    test ecx, 1
    jz even
    inc eax
    jmp next
  even:
    dec ebx
  next:
    cmp ecx, 1000
    jb low
    call fn
  low:
    dec ecx
    jnz top
    hlt
  fn:
    add edx, 1
    ret`,
  string: `
    mov ebx, 20000
  top:
    mov esi, 0x100000
    mov edi, 0x200000
    mov ecx, 1024
    rep movsd
    mov edi, 0x300000
    mov ecx, 1024
    xor eax, eax
    rep stosd
    dec ebx
    jnz top
    hlt`,
};

/**
 * EIP of the cold loops: a 32-bit kernel's addresses (above 2^31, where the decoded instructions'
 * EIPs and branch targets are heap numbers), with a CS base that puts them at linear {@link CODE}.
 */
const KERNEL_EIP = 0xc0010000;

/**
 * Cold code: `blocks` distinct blocks of 9 instructions (a load, ALU, LEA, PUSH/POP, a store, a JMP to
 * the next), run in turn, `rounds` times over, about 1.2 million block runs in all. Each block sits in
 * 64 bytes of its own, so each has a block-table slot of its own (no rebuilds), and runs too few times
 * for the compiling tier: what is measured is the interpreter reaching decoded instructions that are
 * not in the processor's caches, as the cold blocks of a boot do. At about 400 bytes per decoded
 * instruction, 3,000 blocks are 11 MB of them, 6,000 blocks 23 MB and 9,000 blocks 34 MB, past this
 * machine's 32 MiB L3.
 */
function coldLoop(blocks: number): string {
  const lines = [`    mov ebp, ${Math.round(1_200_000 / blocks)}`, '    mov esi, 0x100000', '  top:'];
  for (let b = 0; b < blocks; b++) {
    const d = 128 + ((b * 52) % 3800);
    lines.push(
      `  b${b}:`,
      `    mov eax, [esi+${d}]`,
      '    add ebx, eax',
      `    lea ecx, [ebx+edx*2+${b & 127}]`,
      '    xor edx, ecx',
      '    push eax',
      '    pop edi',
      '    shl edi, 3',
      `    mov [esi+${d + 4}], edi`,
      b + 1 < blocks ? `    jmp b${b + 1}` : '    dec ebp',
    );
    // 27 bytes of code (disp32 loads and stores, a short JMP) and 37 of padding.
    for (let k = 0; k < 37; k++) lines.push('    nop');
  }
  lines.push('    jnz top', '    hlt');
  return lines.join('\n');
}

/**
 * The same kinds of loops as 64-bit code: 64-bit registers and addresses, the 32-bit forms that
 * compilers emit in 64-bit code (zero-extending), REX registers, RIP-relative data, 8-byte PUSH/CALL.
 */
const LOOPS64: Record<string, string> = {
  alu: `
    mov ecx, 2000000
  top:
    add rax, rbx
    xor rdx, rax
    sub rbx, 3
    shl rsi, 1
    or rsi, rdx
    inc rdi
    dec ecx
    jnz top
    hlt`,
  alu32: `
    mov ecx, 2000000
  top:
    add eax, ebx
    xor edx, eax
    sub r8d, 3
    lea r9d, [rax+rdx*2]
    and r9d, 0xfff
    inc edi
    dec ecx
    jnz top
    hlt`,
  memory: `
    mov ecx, 2000000
    mov esi, 0x100000
  top:
    mov rax, [rsi]
    add rax, rcx
    mov [rsi+8], rax
    add rsi, 16
    and rsi, 0x10ffff
    dec rcx
    jnz top
    hlt`,
  memory32: `
    mov ecx, 2000000
    mov esi, 0x100000
  top:
    mov eax, [rsi]
    add eax, ecx
    mov [rsi+4], eax
    movzx edx, byte [rsi+1]
    add r8d, [rip+counter]
    add rsi, 8
    and esi, 0x10ffff
    dec ecx
    jnz top
    hlt
  counter: dd 3`,
  branches: `
    mov ecx, 2000000
  top:
    test ecx, 1
    jz even
    inc rax
    jmp next
  even:
    dec rbx
  next:
    cmp rcx, 1000
    jb low
    call fn
  low:
    dec rcx
    jnz top
    hlt
  fn:
    push rbx
    add rdx, 1
    pop rbx
    ret`,
  string: `
    mov ebx, 20000
  top:
    mov esi, 0x100000
    mov edi, 0x200000
    mov ecx, 512
    rep movsq
    mov edi, 0x300000
    mov ecx, 512
    xor eax, eax
    rep stosq
    dec ebx
    jnz top
    hlt`,
};

/**
 * IA-32e 64-bit mode at CPL 0 (as `packages/x86-cpu/test/long-machine.ts`): 4-level paging that
 * identity-maps 4 MiB with 2 MiB pages, 64-bit CS, flat data segments.
 */
function longCpu(source: string): Cpu {
  const memory = GuestMemory.create(16 << 20);
  const ram = memory.regions()[0]!.bytes;
  ram.set(assemble(source, { bitness: 64, origin: CODE }), CODE);
  const cpu = new Cpu(memory, { model: X86_64_MODEL });
  const pml4 = 0x1000;
  memory.write32(pml4, 0x2000 | 7);
  memory.write32(0x2000, 0x3000 | 7);
  memory.write32(0x3000, 0x87);
  memory.write32(0x3008, 0x200000 | 0x87);
  // EFER.LME | EFER.LMA | EFER.SCE | EFER.NXE.
  cpu.setControlRegisters(CR0.PE | CR0.ET | CR0.PG | CR0.NE, pml4, CR4.PAE | CR4.OSFXSR, 0xd01);
  cpu.segs.set(Seg.CS, 8, 0, 0xffffffff, 0x9b | 0xa000);
  for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) cpu.segs.set(s, 16, 0, 0xffffffff, 0x93 | 0xc000);
  cpu.updateMode();
  cpu.regs.ip = CODE;
  cpu.regs.r32[4] = 0x8000;
  cpu.eflags = EFLAGS.FIXED1;
  return cpu;
}

function flatCpu(source: string, paging: boolean, eip = CODE): Cpu {
  const memory = GuestMemory.create(16 << 20);
  const ram = memory.regions()[0]!.bytes;
  ram.set(assemble(source, { bitness: 32, origin: eip }), CODE);
  const cpu = new Cpu(memory);
  let cr0 = CR0.PE | CR0.ET;
  if (paging) {
    // 32-bit paging, 4 MiB identity map with 4-KiB pages: page directory at 0x1000, tables from 0x2000.
    memory.write32(0x1000, 0x2000 | 7);
    for (let t = 0; t < 4; t++) {
      memory.write32(0x1000 + t * 4, (0x2000 + t * 0x1000) | 7);
      for (let i = 0; i < 1024; i++) memory.write32(0x2000 + t * 0x1000 + i * 4, ((t * 1024 + i) << 12) | 7);
    }
    cr0 |= CR0.PG;
  }
  cpu.setControlRegisters(cr0, paging ? 0x1000 : 0, 0);
  cpu.segs.set(Seg.CS, 8, (CODE - eip) >>> 0, 0xffffffff, 0x9b | 0xc000);
  for (const s of [Seg.SS, Seg.DS, Seg.ES]) cpu.segs.set(s, 16, 0, 0xffffffff, 0x93 | 0xc000);
  cpu.regs.ip = eip;
  cpu.regs.r32[4] = 0x8000;
  cpu.eflags = EFLAGS.FIXED1;
  return cpu;
}

function bench(name: string, source: string, paging: boolean, eip = CODE): void {
  // Warm-up run, then a measured one.
  for (let round = 0; round < 2; round++) {
    const cpu = LONG ? longCpu(source) : flatCpu(source, paging, eip);
    if (GENERIC) {
      cpu.blocks.fastPaths = false;
      cpu.blocks.flush();
    }
    if (INTERPRET) cpu.blocks.compiling = false;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let exit: CpuExit = CpuExit.Budget;
    while (exit === CpuExit.Budget) exit = cpu.run(1_000_000);
    const ms = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    // CPU time of this process: steadier than wall time when other processes share the cores.
    const cpuMs = (c1.user + c1.system) / 1000;
    if (exit !== CpuExit.Hlt) throw new Error(`${name}: exit ${exit}`);
    if (round === 1) {
      const mips = cpu.instructions / ms / 1000;
      const cpuMips = cpu.instructions / cpuMs / 1000;
      if (name === 'string') {
        // 20,000 rounds of 4 KiB copied plus 4 KiB filled.
        const mb = (20000 * 8192) / 1e6;
        console.log(
          `${name.padEnd(16)} ${mb.toFixed(0).padStart(10)} MB moved   ${ms.toFixed(0).padStart(6)} ms  ${(mb / (ms / 1000)).toFixed(0).padStart(6)} MB/s`,
        );
        continue;
      }
      console.log(
        `${name.padEnd(16)} ${cpu.instructions.toString().padStart(10)} instructions  ${ms.toFixed(0).padStart(6)} ms  ${mips.toFixed(1).padStart(6)} MIPS  (${cpuMips.toFixed(1).padStart(6)} MIPS of CPU time)`,
      );
    }
  }
}

if (LONG) {
  for (const [name, src] of Object.entries(LOOPS64)) bench(name, src, true);
} else {
  for (const [name, src] of Object.entries(LOOPS)) bench(name, src, false);
  bench('memory (paged)', LOOPS.memory!, true);
  for (const blocks of [3_000, 6_000, 9_000]) bench(`cold ${blocks}`, coldLoop(blocks), false, KERNEL_EIP);
}
