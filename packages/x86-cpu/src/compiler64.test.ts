import { assemble } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blockFields,
  COMPARED,
  compileCounted,
  CROSSING_FRAMES,
  DATA,
  expectCrossingFramesAgree,
  expectJccAgreement,
  fillData,
  type Form,
  HOT_RUNS,
  ITERATIONS,
  JCC,
  labelAddress as labelIn,
  type Logged,
  loggedMachine,
  type Pair,
  pairOf,
  PATCHED_SUM,
  patchTable,
  program,
  resetCpu,
  runBoth,
  runCase,
  runFields,
  runInBudgets,
  runToHlt,
  seedCrossingFrames,
  setIdt,
  type Shape,
} from '../test/compiled-diff.js';
import { CODE64, HIGH_ALIAS, long64, Sel64 } from '../test/long-machine.js';
import type { Machine } from '../test/machine.js';
import { blockSource64 } from './compiler64.js';
import { type CpuEvents, Seg } from './index.js';

/**
 * Differential test of the 64-bit compiling tier (`compiler64.ts`): the same program from the same
 * state runs in IA-32e 64-bit mode on a CPU that only interprets (`blocks.compiling = false`) and on
 * one whose blocks run compiled; all 16 registers (both halves), RIP, RFLAGS, memory, the retired
 * count, CR2, the exit and the delivered events must agree. The code runs at its identity-mapped
 * address and at the high canonical alias (RIPs, RIP-relative operands and branch targets in signed
 * form); memory bases are canonical, in the high half, non-canonical (#GP/#SS) or unmapped (#PF). The
 * scaffolding is `test/compiled-diff.ts`, shared with the 32-bit test.
 */

/** Every IDT gate leads here: HLT, so a delivered exception ends the run where it landed. */
const HANDLER = 0xe00;
const STACK = 0x9000;
/** Not mapped by the test machine's page tables (it maps 4 MiB): a #PF. */
const UNMAPPED = 0x400000;
/** All 16 registers, both halves. */
const SHAPE: Shape = { words: 32 };

function idt(m: Machine): void {
  setIdt(m, 16, Sel64.Code64, HANDLER);
}

/** The 64-bit test machine with `events` and the IDT. */
function long(events: CpuEvents): Machine {
  const m = long64('hlt', { events });
  idt(m);
  return m;
}

function machine(log: Logged[], compiling: boolean): Machine {
  return loggedMachine(log, compiling, long);
}

/** Address of `label:` in `source` assembled at `origin`. */
function labelAddress(source: string, label: string, origin = CODE64): number {
  return labelIn(source, label, 64, origin);
}

// ------------------------------------------------------------------ random blocks

const R64 = [
  'rax',
  'rcx',
  'rdx',
  'rbx',
  'rsp',
  'rbp',
  'rsi',
  'rdi',
  'r8',
  'r9',
  'r10',
  'r11',
  'r12',
  'r13',
  'r14',
  'r15',
];
/** Destinations: not RSP (stack), RBX/RSI/R14 (they form the memory operands). */
const D64 = ['rax', 'rcx', 'rdx', 'rbp', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r15'];
const R32 = R64.map((r) => (r.startsWith('r') && /\d/.test(r) ? `${r}d` : `e${r.slice(1)}`));
const D32 = D64.map((r) => (/\d/.test(r) ? `${r}d` : `e${r.slice(1)}`));
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r11w', 'r15w'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh', 'sil', 'dil', 'r9b', 'r14b'];
/**
 * Memory operands: base, base+disp, base+index, scaled index, FS/GS (other bases than DS; GS in the
 * high half), RIP-relative, and R14 (a base that is often non-canonical or unmapped).
 */
const MEM = [
  '[rbx]',
  '[rbx+4]',
  '[rbx+rsi]',
  '[rbx+rsi*2+3]',
  '[rbx+rsi*4-8]',
  '[rsi*8+0x4001]',
  '[rsi+0x4020]',
  '[0x4010]',
  'fs:[rbx+1]',
  'gs:[rbx+rsi*8]',
  '[rip+0x3000]',
  '[r14+8]',
  '[r14+rsi*8-0x10]',
  // Through FS/GS the base may bring a non-canonical offset back: #GP all the same.
  'gs:[r14+8]',
  'fs:[r14]',
  // SS by default (RSP/RBP base): #SS for a non-canonical address.
  '[rsp+r14]',
];
const LEA = [
  '[rbx+rsi*4-100]',
  '[rax+rdx]',
  '[rcx*8+5]',
  '[rdi+0x7fffffff]',
  '[rax+rbx*2-1]',
  '[rdx]',
  '[rip-0x10]',
  '[r12+r13*8-0x80000000]',
];
const IMM32 = ['0', '1', '5', '-3', '0x7f', '0x80', '0x7fffffff', '-0x80000000', '0x12345678'];
const IMM64 = ['0x123456789abcdef0', '-1', '0x8000000000000000', '0x7fffffffffffffff', '0xffffffff'];
const ALU = ['add', 'sub', 'cmp', 'and', 'or', 'xor'];

/** Instruction templates: the forms the tier writes inline, then some it calls the handler for. */
const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

const FORMS: Form[] = [
  // A Jcc inside the block (blocks go on past conditional branches): taken, it leaves through `away`.
  (p) => `j${p(CONDITIONS)} away`,
  (p) => `mov ${p(D64)}, ${p(R64)}`,
  (p) => `mov ${p(D64)}, ${p([...IMM32, ...IMM64])}`,
  (p) => `mov ${p(D32)}, ${p(R32)}`,
  (p) => `mov ${p(D32)}, ${p(IMM32)}`,
  (p) => `mov ${p(D64)}, ${p(MEM)}`,
  (p) => `mov ${p(MEM)}, ${p(R64)}`,
  (p) => `mov qword ${p(MEM)}, ${p(IMM32)}`,
  (p) => `mov ${p(D32)}, ${p(MEM)}`,
  (p) => `mov ${p(MEM)}, ${p(R32)}`,
  (p) => `mov dword ${p(MEM)}, ${p(IMM32)}`,
  (p) => `lea ${p(D64)}, ${p(LEA)}`,
  (p) => `lea ${p(D32)}, ${p(LEA)}`,
  (p) => `movzx ${p([...D32, ...D64])}, ${p(R16)}`,
  (p) => `movzx ${p([...D32, ...D64])}, ${p(R8)}`,
  (p) => `movzx ${p([...D32, ...D64])}, word ${p(MEM)}`,
  (p) => `movzx ${p([...D32, ...D64])}, byte ${p(MEM)}`,
  (p) => `movsxd ${p(D64)}, ${p(R32)}`,
  (p) => `movsxd ${p(D64)}, dword ${p(MEM)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(R32)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(R32)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(IMM32)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(MEM)}`,
  (p) => `test ${p(R32)}, ${p(R32)}`,
  (p) => `test ${p(D32)}, ${p(IMM32)}`,
  (p) => `${p(['inc', 'dec'])} ${p(D32)}`,
  (p) => `${p(ALU)} ${p(D64)}, ${p(R64)}`,
  (p) => `${p(ALU)} ${p(D64)}, ${p(R64)}`,
  (p) => `${p(ALU)} ${p(D64)}, ${p(IMM32)}`,
  (p) => `${p(ALU)} ${p(D64)}, ${p(MEM)}`,
  (p) => `test ${p(R64)}, ${p(R64)}`,
  (p) => `test ${p(D64)}, ${p(IMM32)}`,
  (p) => `${p(['inc', 'dec'])} ${p(D64)}`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D64)}, ${p(['0', '1', '2', '7', '31', '32', '33', '63'])}`,
  (p) => `push ${p(R64)}`,
  (p) => `pop ${p(D64)}`,
  // Generic handlers (and fast ones the tier calls) inside a compiled block.
  (p) => `xchg ${p(D64)}, ${p(D64)}`,
  (p) => `setc ${p(['al', 'cl', 'dl', 'r9b'])}`,
  () => 'cmc',
  (p) => `neg ${p(D64)}`,
  (p) => `adc ${p(D32)}, ${p(R32)}`,
  (p) => `ror ${p(D64)}, ${p(['1', '5', '40'])}`,
  (p) => `cmp byte ${p(MEM)}, ${p(['0', '0x80'])}`,
  (p) => `add qword ${p(MEM)}, ${p(R64)}`,
];
/** What the flags are when the first compiled block starts: lazy 32-bit records, eager 64-bit bits. */
const FLAG_SOURCES = [
  'cmp eax, ebx',
  'cmp rax, rbx',
  'sub dl, bl',
  'add ecx, edx',
  'add rcx, rdx',
  'and eax, ebx',
  'inc edx',
  'inc rdx',
  'shl rsi, 1',
  'stc',
  'nop',
];
const HALVES = [0, 0x7fffffff, 0x80000000, 0xffffffff];
const half = fc.oneof(fc.constantFrom(...HALVES), fc.integer({ min: 0, max: 0xffffffff }));
/**
 * R14: in DATA, at the high alias, non-canonical (the GS base brings it back: 0x80 + DATA), unmapped,
 * and 8 bytes that cross out of the canonical low half.
 */
const R14: readonly (readonly [number, number])[] = [
  [DATA, 0],
  [DATA, 0xffff8000],
  [DATA, 0x00008000],
  [DATA, 0x00018000],
  [UNMAPPED, 0],
  [0xfffffff8, 0x00007fff],
];
/** RSP: canonical low, at the high alias, non-canonical (#SS), unmapped (#PF). */
const RSP: readonly (readonly [number, number])[] = [
  [STACK, 0],
  [STACK - 0x18, 0],
  [STACK, 0xffff8000],
  [STACK, 0x00008000],
  [UNMAPPED + 8, 0],
];
const caseArb = fc.record({
  ...blockFields(FORMS),
  /** The code runs at the high canonical alias (negative RIPs). */
  high: fc.boolean(),
  pre: fc.nat({ max: FLAG_SOURCES.length - 1 }),
  regs: fc.array(half, { minLength: 32, maxLength: 32 }),
  r14: fc.oneof(fc.constant(0), fc.nat({ max: R14.length - 1 })),
  rsp: fc.oneof(fc.constant(0), fc.nat({ max: RSP.length - 1 })),
  ...runFields(),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Loads a program and a state into a reused machine (blocks dropped, compared RAM rewritten). */
function load(m: Machine, code: Uint8Array, c: Case): void {
  const cpu = m.cpu;
  m.ram.fill(0, 0, COMPARED);
  m.ram.set(code, CODE64);
  idt(m);
  // The GDT of `long64` (at 0x500) again: it lives in the compared RAM.
  const gdt = [
    [0, 0],
    [0x0000ffff, 0x00af9a00],
    [0x0000ffff, 0x00cf9200],
    [0x0000ffff, 0x00cf9a00],
    [0x0000ffff, 0x00affa00],
    [0x0000ffff, 0x00cff200],
  ];
  gdt.forEach(([lo, hi], i) => {
    m.memory.write32(0x500 + i * 8, lo!);
    m.memory.write32(0x500 + i * 8 + 4, hi!);
  });
  fillData(m, c.seed, DATA + 0x400);
  resetCpu(m);
  // FS and GS bases differ from DS (GS in the high half), so an operand read through the wrong segment shows.
  cpu.segs.set(Seg.FS, Sel64.Data, 0x40, 0xffffffff, 0x93 | 0xc000);
  cpu.segs.set(Seg.GS, Sel64.Data, 0, 0xffffffff, 0x93 | 0xc000);
  cpu.segs.setBase64(Seg.GS, HIGH_ALIAS + 0x80);
  const u = cpu.regs.u32;
  for (let i = 0; i < 32; i++) u[i] = c.regs[i]!;
  u[3] = DATA + (c.regs[3]! & 0x1f); // RBX: memory base
  u[16 + 3] = c.regs[3]! & 0x100 ? 0xffff8000 : 0; // at the high alias, the same RAM
  u[6] = c.regs[6]! & 0x3f; // RSI: index
  u[16 + 6] = 0;
  const [r14lo, r14hi] = R14[c.r14]!;
  u[14] = r14lo;
  u[16 + 14] = r14hi;
  const [splo, sphi] = RSP[c.rsp]!;
  u[4] = splo - (c.regs[4]! & 0xf) * 8;
  u[16 + 4] = sphi;
  cpu.regs.ip = c.high ? HIGH_ALIAS + CODE64 : CODE64;
  cpu.eflags = 0x2 | (c.eflags & 0x8d5); // OF SF ZF AF PF CF
}

describe('compiled 64-bit blocks', () => {
  const { slow, fast, log: logs } = pairOf(SHAPE, long);

  it('random blocks of inline and generic forms, ending in every Jcc and JMP, match the interpreter', () => {
    let compiledRuns = 0;
    let faults = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const { source, body } = program(FORMS, FLAG_SOURCES, c);
        const origin = c.high ? HIGH_ALIAS + CODE64 : CODE64;
        // Assembled where it runs (RIP-relative operands are relative either way).
        const code = assemble(source, { bitness: 64, origin: CODE64 });
        const { states, calls } = runCase([slow, fast], logs, SHAPE, {
          load: (m) => load(m, code, c),
          origin,
          top: labelAddress(source, 'top') - CODE64 + origin,
          away: labelAddress(source, 'away') - CODE64 + origin,
          budget: c.budget,
          label: `${body.join('; ')}; ${JCC[c.jcc]} (${c.selfLoop ? 'self-loop' : 'via away'}, ${c.high ? 'high' : 'low'}) after ${FLAG_SOURCES[c.pre]}`,
        });
        compiledRuns += calls;
        if (states[0]!.events.length > 0) faults++;
      }),
      { numRuns: 1500, seed: 0x64c0de },
    );
    expect(fast.cpu.blocks.compiled).toBeGreaterThan(1500);
    expect(compiledRuns).toBeGreaterThan(1500);
    // Faults (#GP, #SS, #PF) happened in a good share of the runs.
    expect(faults).toBeGreaterThan(150);
  });

  it('every Jcc after every kind of flag producer takes the branch the interpreter takes', () => {
    const producers = [
      'add eax, ebx',
      'add eax, [rsi]',
      'sub eax, ebx',
      'cmp eax, ebx',
      'cmp eax, [rsi]',
      'cmp eax, 0x80000000',
      'and eax, ebx',
      'xor eax, ebx',
      'test eax, ebx',
      'test eax, 0x80000001',
      'inc eax',
      'dec eax',
      'add rax, rbx',
      'add rax, [rsi]',
      'sub rax, rbx',
      'cmp rax, rbx',
      'cmp rax, -1',
      'and rax, rbx',
      'or rax, rbx',
      'test rax, rbx',
      'inc rax',
      'dec rax',
      'shl rax, 1',
      'shl rax, 33',
      'shr rax, 1',
      'shr rax, 32',
      'sar rax, 1',
      'sar rax, 63',
      'nop',
    ];
    const values: [number, number][] = [
      [0, 0],
      [1, 0],
      [0xffffffff, 0xffffffff],
      [0, 0x80000000],
      [0xffffffff, 0x7fffffff],
      [0x80000000, 0],
      [0x7fffffff, 0xffffffff],
      [0xffffffff, 0],
    ];
    expectJccAgreement([slow, fast], {
      bitness: 64,
      origin: CODE64,
      producers,
      values,
      setup: (m, [alo, ahi], [blo, bhi]) => {
        const u = m.cpu.regs.u32;
        u[0] = alo;
        u[16] = ahi;
        u[3] = blo;
        u[16 + 3] = bhi;
        u[6] = DATA;
        u[4] = STACK;
        m.memory.write32(DATA, blo);
        m.memory.write32(DATA + 4, bhi);
      },
      regs: (cpu) => `${cpu.regs.u32[0]} ${cpu.regs.u32[16]} ${cpu.regs.u32[7]}`,
      describe: ([alo, ahi], [blo, bhi]) =>
        `rax=${ahi.toString(16)}:${alo.toString(16)} rbx=${bhi.toString(16)}:${blo.toString(16)}`,
    });
  });

  it('writes the inline forms without handler calls, and a loop of them as a self-loop', () => {
    const m = machine([], true);
    const source = `
    top:
      mov rax, rbx
      mov rcx, 0x123456789
      mov edx, esi
      mov edi, 5
      lea r8, [rax+rcx*4+8]
      lea r9d, [rip+0x100]
      movzx r10d, cx
      movzx r11, dl
      movsxd r12, eax
      mov rax, [rbx+8]
      mov [rbx+rsi*8], rcx
      mov qword [rbx], -1
      mov eax, [rip+0x3000]
      mov [rbx+4], edx
      mov dword [rbx], 7
      movzx eax, word [rbx]
      movzx eax, byte [rbx]
      movsxd rax, dword [rbx]
      add eax, ecx
      sub rax, [rbx]
      cmp r9d, 3
      and rdx, rcx
      inc eax
      dec rcx
      shl r8, 3
      shr r9, 40
      sar r10, 1
      push rax
      pop rdx
      jne top`;
    m.ram.set(assemble(source, { bitness: 64, origin: CODE64 }), CODE64);
    m.cpu.regs.ip = CODE64;
    const b = m.cpu.blocks.lookup();
    const text = blockSource64(b);
    expect(b.count).toBe(30);
    expect(text).not.toContain('h[');
    expect(text).toContain('for (;;)');
  });
});

// ------------------------------------------------------------------ specific cases

function pair(source: string): Pair {
  return pairOf(SHAPE, (events) => {
    const m = long(events);
    m.ram.set(assemble(source, { bitness: 64, origin: CODE64 }), CODE64);
    m.cpu.regs.ip = CODE64;
    m.cpu.regs.u32[4] = STACK;
    return m;
  });
}

describe('compiled 64-bit blocks: specific cases', () => {
  it('a loop compiled by the interpreter loop itself runs to the same state', () => {
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rsi, ${DATA}
      mov rax, 0x123456789abcdef
      mov rcx, 0x9abcdef012345678
    top:
      add rax, rcx
      adc rdx, rax
      mov [rsi+rbp*8], rdx
      xor rcx, [rsi+rbp*8-8]
      add ecx, eax
      shr rcx, 3
      push rax
      pop rdi
      lea rbx, [rax+rcx*2+7]
      lea rax, [rsp+16]
      push rax
      pop rsp
      sub rsp, 16
      dec rbp
      jnz top
      hlt`);
    runToHlt(p);
    expect(p.slow.cpu.blocks.compiled).toBe(0);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a self-loop stops on the instruction budget, also in the middle of a round', () => {
    const p = pair(`
    top:
      add rax, rbx
      xor ecx, eax
      inc rdx
      jmp top`);
    for (const r of [p.slow, p.fast]) {
      r.cpu.regs.u32[0] = 1;
      r.cpu.regs.u32[2] = 0; // EDX holds the CPU signature after reset
      r.cpu.regs.u32[3] = 0x9e3779b9;
      r.cpu.regs.u32[16 + 3] = 0x7f4a7c15;
    }
    const total = runInBudgets(p);
    expect(p.fast.cpu.regs.u32[2]).toBe(total / 4 + (total % 4 >= 3 ? 1 : 0));
  });

  it('a store that walks out of the canonical high half raises #GP at the same instruction', () => {
    // RDI walks down from the high alias (the same RAM as low memory) to below 0xFFFF8000_00000000.
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rdi, ${-(2 ** 47) + 8 * (HOT_RUNS + 40)}
    top:
      mov rax, [rsi+${DATA}]
      add rax, rbp
      mov [rdi], rax
      sub rdi, 8
      add ecx, eax
      dec rbp
      jnz top
      hlt`);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(s.ip).toBe((HANDLER + 1).toString(16));
    expect(p.fast.cpu.regs.u32[5]).toBe(ITERATIONS - HOT_RUNS - 41);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a load that walks into an unmapped page raises #PF with the same CR2 at the same instruction', () => {
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rdi, ${UNMAPPED - 8 * (HOT_RUNS + 40)}
    top:
      mov [rsi+${DATA}], rbp
      mov rax, [rdi]
      add rdi, 8
      add ecx, eax
      dec rbp
      jnz top
      hlt`);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([14]);
    expect(s.cr2).toBe(UNMAPPED);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('PUSH with a stack that walks out of the canonical low half raises #SS, RSP unchanged', () => {
    const p = pair(`
      mov rbp, ${ITERATIONS}
    top:
      push rax
      pop rcx
      mov rdx, 0x900000000000
      add rsp, 8
      cmp rbp, 30
      cmove rsp, rdx
      dec rbp
      jnz top
      hlt`);
    const s = runBoth(p, 100_000);
    // The #SS frame cannot be pushed either (the same non-canonical RSP): a double fault follows.
    expect(s.events[0]![1]).toBe(12);
    expect(s.events[0]![3]).toBe(1 + (ITERATIONS - 29) * 8 + 1);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });
  it('a non-canonical offset raises #GP although the FS base would make the sum canonical', () => {
    // At the high alias, RIP - 0x3000 is below 0xFFFF8000_00000000, and so is RBX; FS + either is a
    // canonical (unmapped) address.
    for (const operand of ['fs:[rip-0x3000]', 'fs:[rbx+8]', 'fs:[rbx+rsi*8]']) {
      const p = pair(`add ecx, eax\nmov rdi, ${operand}\nmov rax, rdi\nhlt`);
      let calls = 0;
      for (const m of [p.slow, p.fast]) {
        const cpu = m.cpu;
        cpu.segs.setBase64(Seg.FS, 2 ** 47 - DATA);
        cpu.regs.ip = HIGH_ALIAS + CODE64;
        cpu.regs.u32[3] = 0;
        cpu.regs.u32[16 + 3] = 0xffff7fff;
        compileCounted(m, () => calls++);
      }
      const s = runBoth(p, 100, operand);
      expect(
        s.events.map((e) => e[1]),
        operand,
      ).toEqual([13]);
      expect(s.events[0]![3], operand).toBe(2);
      expect(calls, operand).toBe(1);
    }
  });

  it('a Jcc to a non-canonical target raises #GP at the Jcc', () => {
    // At the high alias a rel32 of -0x3000 leaves the canonical high half.
    const p = pair(`
      xor eax, eax
    top:
      inc eax
      cmp eax, ${ITERATIONS}
      db 0x0f, 0x83
      dd -0x3000
      jmp top`);
    for (const m of [p.slow, p.fast]) m.cpu.regs.ip = HIGH_ALIAS + CODE64;
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(p.fast.cpu.regs.u32[0]).toBe(ITERATIONS);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  for (const [ret, at] of [
    ['ret', 'low'],
    ['ret 16', 'low'],
    ['ret', 'high'],
  ] as const) {
    it(`CALL rel32 and ${ret} written inline match the interpreter at every budget (${at} half)`, () => {
      const p = pair(`
        mov rbp, ${ITERATIONS}
      top:
        add rax, rbp
        call fn
        dec rbp
        jnz top
        hlt
      fn:
        push rbp
        pop rcx
        xor rbx, rcx
        ${ret}`);
      // At the high alias the return addresses pushed have a high half of all ones.
      if (at === 'high') for (const m of [p.slow, p.fast]) m.cpu.regs.ip = HIGH_ALIAS + CODE64;
      for (const n of [HOT_RUNS * 5 + 2, 1, 3, 250, 2, 7, 100_000]) runBoth(p, n, `budget ${n}`);
      expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
      expect(p.fast.cpu.halted).toBe(true);
    });
  }

  it('a CALL to a non-canonical target raises #GP at the CALL, nothing pushed', () => {
    // At the high alias a rel32 of -0x3000 leaves the canonical high half. The block runs once: it is
    // compiled before it runs.
    const p = pair(`
      inc eax
      db 0xe8
      dd -0x3000`);
    let calls = 0;
    for (const m of [p.slow, p.fast]) {
      m.cpu.regs.ip = HIGH_ALIAS + CODE64;
      compileCounted(m, () => calls++);
    }
    const s = runBoth(p, 100);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(calls).toBe(1);
  });

  it('a RET to a non-canonical address raises #GP with RSP unchanged, as the interpreter does', () => {
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rdx, 0x900000000000
    top:
      mov rax, back
      cmp rbp, 30
      cmove rax, rdx
      push rax
      ret
    back:
      dec rbp
      jnz top
      hlt`);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a CALL with a stack that walks out of the canonical low half raises #SS, RSP unchanged', () => {
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rdx, 0x800000000010
    top:
      cmp rbp, 30
      cmove rsp, rdx
      call fn
      dec rbp
      jnz top
      hlt
    fn:
      ret`);
    const s = runBoth(p, 100_000);
    // As for PUSH: the #SS frame cannot be pushed either, a double fault follows.
    expect(s.events[0]![1]).toBe(12);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a store into the code of the compiled block running stops it, and the new code runs', () => {
    const table = DATA + 0x100;
    const source = `
      mov rbp, ${ITERATIONS}
      mov rbx, ${table}
      mov eax, 0x22222222
      xor ecx, ecx
    top:
      mov rsi, [rbx+rbp*8]
      mov rdi, [rip+top-8]
    patch:
      mov edx, 0x11111111
      add ecx, edx
      mov [rsi], eax
      dec rbp
      jnz top
      hlt`;
    const p = pair(source);
    // The store goes to a scratch word, except when RBP is 20: then into the MOV's immediate.
    const imm = labelAddress(source, 'patch') + 1;
    patchTable(p, table, 8, imm);
    runToHlt(p);
    expect(p.fast.cpu.regs.u32[1]).toBe(PATCHED_SUM);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('loads, stores, PUSH and POP crossing into a 4-KiB page mapped elsewhere use both translations', () => {
    // Linear 2 MiB..4 MiB through a page table of 4-KiB pages; 0x300000 and 0x301000 map to
    // CROSSING_FRAMES, not adjacent.
    const PT = 0x20000;
    const PD = 0x12000;
    const p = pair(`
      mov rbp, ${ITERATIONS}
      mov rsp, 0x301004
    top:
      mov rax, [0x300ffe]
      add rax, rbp
      mov [0x300ffb], rax
      mov [0x300ffd], ecx
      movzx edx, word [0x300fff]
      add ecx, [0x300ffc]
      mov qword [0x300ff9], -5
      mov [0x300ff0], rcx
      push rax
      pop rdi
      add rcx, rdx
      dec rbp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PD + 8, PT | 7);
      for (let i = 0; i < 512; i++) m.memory.write32(PT + i * 8, (0x200000 + i * 0x1000) | 7);
      for (const [page, frame] of CROSSING_FRAMES)
        m.memory.write32(PT + (page - 0x200) * 8, (frame << 12) | 7);
      seedCrossingFrames(m);
    }
    runToHlt(p);
    expectCrossingFramesAgree(p);
    expect(p.fast.memory.read32(0x381000)).toBe(0);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });
  it('POPFQ setting TF in a compiled loop block ends it: the single-step #DB follows the same instruction', () => {
    const p = pair(`
      xor eax, eax
    top:
      inc rax
      pushfq
      pop rdx
      mov rcx, rdx
      or rcx, 0x100
      cmp rax, ${ITERATIONS}
      cmove rdx, rcx
      push rdx
      popfq
      jmp top`);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([1]);
    expect(p.fast.cpu.regs.u32[0]).toBe(ITERATIONS);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });
});
