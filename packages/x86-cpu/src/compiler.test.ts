import { assemble } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blockFields,
  COMPARED,
  CROSSING_FRAMES,
  DATA,
  expectCrossingFramesAgree,
  expectJccAgreement,
  fillData,
  type Form,
  HOT_RUNS,
  IDT,
  ITERATIONS,
  JCC,
  labelAddress as labelIn,
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
import { blockSource, RUNTIME } from './compiler.js';
import { TLB_MASK, tlbTag } from './paging.js';
import {
  CODE,
  GDT,
  flat32,
  type Machine,
  runToHlt as runToHltOne,
  Sel,
  writeDescriptor,
  writeGdt,
} from '../test/machine.js';
import { CpuExit, EFLAGS, NullHooks, Seg } from './index.js';

/**
 * Differential test of the compiling tier (`compiler.ts`): the same program from the same state runs on
 * a CPU that only interprets (`blocks.compiling = false`) and on one whose blocks run compiled; the
 * registers, EIP, EFLAGS, memory, retired count, exit and delivered events must agree (the scaffolding
 * is `test/compiled-diff.ts`, shared with the 64-bit test).
 */

/** Every IDT gate leads here: HLT, so a delivered exception or interrupt ends the run where it landed. */
const HANDLER = 0x800;
/** The 8 registers, and CS and ESP besides. */
const SHAPE: Shape = {
  words: 8,
  extra: (m) => ({ cs: m.cpu.segs.selector[Seg.CS], esp: m.cpu.regs.u32[4]!.toString(16) }),
};

/** Two machines for `source` (the hooks factory gets a getter for its machine, e.g. to raise INTR). */
function pair(source: string, hooks?: (m: () => Machine) => NullHooks): Pair {
  return pairOf(SHAPE, (events, get) => {
    const m = flat32(source, { events, hooks: hooks?.(get) ?? new NullHooks() });
    idt(m);
    return m;
  });
}

function idt(m: Machine): void {
  setIdt(m, 8, Sel.Code32, HANDLER);
}

/** Address of `label:` in `source` assembled at CODE. */
function labelAddress(source: string, label: string): number {
  return labelIn(source, label, 32, CODE);
}

// ------------------------------------------------------------------ random blocks

const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** Destinations: not ESP/EBP (stack), EBX/ESI (they form the memory operands, kept inside DATA). */
const D32 = ['eax', 'ecx', 'edx', 'edi'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const D16 = ['ax', 'cx', 'dx', 'di'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const D8 = ['al', 'cl', 'dl', 'ah', 'ch', 'dh'];
/**
 * Memory operands: base, base+disp, base+index, scaled index, FS/GS (other bases than DS), absolute.
 * Several on EBX with displacements around it (one below DATA: spans that cross a page), the access
 * groups the tier makes of `[reg + disp]` operands.
 */
const MEM = [
  '[ebx]',
  '[ebx+4]',
  '[ebx-8]',
  '[ebx+0x1d]',
  '[ebx+0x40]',
  '[ebx+esi]',
  '[ebx+esi*2+3]',
  '[ebx+esi*4-8]',
  '[esi*8+0x4001]',
  '[esi+0x4020]',
  '[0x4010]',
  'fs:[ebx+1]',
  'gs:[ebx+esi*8]',
];
const LEA = ['[ebx+esi*4-100]', '[eax+edx]', '[ecx*8+5]', '[edi+0x7fffffff]', '[eax+ebx*2-1]', '[edx]'];
const IMM = [
  '0',
  '1',
  '5',
  '-3',
  '0x7f',
  '0x80',
  '0xff',
  '0x7fffffff',
  '0x80000000',
  '0xffffffff',
  '0x12345678',
];
const COUNTS = ['0', '1', '2', '7', '13', '31', '32'];
/** 16-bit shift counts: up to the width and past it (the handler's results). */
const COUNTS16 = ['0', '1', '2', '7', '15', '16', '17', '31', '32'];
/** Sign-extended 8-bit immediates. */
const IMM8S = ['0', '1', '-1', '0x7f', '-0x80'];
const ALU = ['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor'];
const IMM8 = ['0', '1', '5', '0x7f', '0x80', '0xff'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** Instruction templates: the forms the tier writes inline, then some it calls the handler for. */
const FORMS: Form[] = [
  (p) => `mov ${p(D32)}, ${p(R32)}`,
  // EBX (the memory base) moves within DATA: a later access of an access group must see it.
  () => 'xor ebx, 0x10',
  (p) => `mov ${p(D32)}, ${p(IMM)}`,
  (p) => `mov ${p(D32)}, ${p(MEM)}`,
  (p) => `mov ${p(MEM)}, ${p(R32)}`,
  (p) => `mov dword ${p(MEM)}, ${p(IMM)}`,
  (p) => `mov ${p(D8)}, ${p(R8)}`,
  (p) => `mov ${p(D8)}, ${p(MEM)}`,
  (p) => `mov ${p(MEM)}, ${p(R8)}`,
  (p) => `mov ${p(D16)}, ${p(R16)}`,
  (p) => `mov ${p(D16)}, ${p(MEM)}`,
  (p) => `mov ${p(MEM)}, ${p(R16)}`,
  (p) => `lea ${p(D32)}, ${p(LEA)}`,
  (p) => `movzx ${p(D32)}, ${p(R16)}`,
  (p) => `movzx ${p(D32)}, ${p(R8)}`,
  (p) => `movzx ${p(D32)}, word ${p(MEM)}`,
  (p) => `movzx ${p(D32)}, byte ${p(MEM)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(R32)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(R32)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(IMM)}`,
  (p) => `${p(ALU)} ${p(D32)}, ${p(MEM)}`,
  (p) => `cmp ${p(R32)}, ${p(R32)}`,
  (p) => `cmp ${p(R32)}, ${p(IMM)}`,
  (p) => `test ${p(R32)}, ${p(R32)}`,
  (p) => `test ${p(D32)}, ${p(IMM)}`,
  (p) => `inc ${p(D32)}`,
  (p) => `dec ${p(D32)}`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D32)}, ${p(COUNTS)}`,
  (p) => `imul ${p(D32)}, ${p(R32)}`,
  (p) => `push ${p(R32)}`,
  (p) => `pop ${p(D32)}`,
  // Forms without a fast handler, written inline by their generic handler's semantics.
  (p) => `${p(['rol', 'ror'])} ${p(D32)}, ${p(COUNTS)}`,
  (p) => `cmp ${p(MEM)}, ${p(R32)}`,
  (p) => `cmp dword ${p(MEM)}, ${p(IMM)}`,
  (p) => `test ${p(MEM)}, ${p(R32)}`,
  (p) => `test dword ${p(MEM)}, ${p(IMM)}`,
  (p) => `${p(['cmp', 'test'])} ${p(R8)}, ${p(R8)}`,
  (p) => `${p(['cmp', 'test'])} ${p(R8)}, ${p(IMM8)}`,
  (p) => `${p(['cmp', 'test'])} byte ${p(MEM)}, ${p(IMM8)}`,
  (p) => `cmp ${p(MEM)}, ${p(R8)}`,
  (p) => `cmp ${p(R8)}, ${p(MEM)}`,
  (p) => `test ${p(MEM)}, ${p(R8)}`,
  // 16-bit addressing (67 prefix): the generic handler, not the 32-bit address written inline.
  (p) => `${p(['cmp', 'test'])} dword [bx+si+2], ${p(R32)}`,
  (p) => `cmp byte [bx+si], ${p(IMM8)}`,
  (p) => `cmov${p(CC)} ${p(D32)}, [bx+di]`,
  (p) => `set${p(CC)} ${p(D8)}`,
  (p) => `cmov${p(CC)} ${p(D32)}, ${p(R32)}`,
  (p) => `cmov${p(CC)} ${p(D32)}, ${p(MEM)}`,
  (p) => `bswap ${p(D32)}`,
  (p) => `not ${p(D32)}`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D32)}, cl`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D16)}, ${p(COUNTS16)}`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D16)}, 1`,
  (p) => `${p(['shl', 'shr', 'sar'])} ${p(D32)}, 1`,
  (p) => `mov ${p(D8)}, ${p(IMM8)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} dword ${p(MEM)}, ${p(R32)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} dword ${p(MEM)}, ${p(IMM)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} dword ${p(MEM)}, ${p(IMM8S)}`,
  (p) => `${p(['inc', 'dec'])} dword ${p(MEM)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} ${p(D8)}, ${p(R8)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} ${p(D8)}, ${p(IMM8)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} ${p(D8)}, ${p(MEM)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} ${p(MEM)}, ${p(R8)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} byte ${p(MEM)}, ${p(IMM8)}`,
  (p) => `${p(['add', 'or', 'and', 'sub', 'xor'])} al, ${p(IMM8)}`,
  (p) => `mov byte ${p(MEM)}, ${p(IMM8)}`,
  (p) => `nop dword ${p(MEM)}`,
  // A Jcc inside the block (blocks go on past conditional branches): taken, it leaves through `away`.
  (p) => `j${p(CC)} away`,
  // Generic handlers inside a compiled block.
  (p) => `xchg ${p(D32)}, ${p(D32)}`,
  (p) => `setc ${p(D8)}`,
  () => 'cmc',
  (p) => `neg ${p(D32)}`,
  (p) => `bt ${p(R32)}, ${p(R32)}`,
  (p) => `adc ${p(D8)}, ${p(R8)}`,
  (p) => `sub ${p(D16)}, ${p(R16)}`,
  (p) => `add dword ${p(MEM)}, ${p(R32)}`,
];
/** What the flags are when the first compiled block starts: lazy records of each kind, eager bits. */
const FLAG_SOURCES = [
  'cmp eax, ebx',
  'sub dl, bl',
  'add ecx, edx',
  'and eax, ebx',
  'inc edx',
  'dec ecx',
  'adc esi, edi',
  'shl edi, 1',
  'stc',
  'nop',
];
const SPECIAL = [0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe];

const u32 = fc.oneof(
  fc.constantFrom(...SPECIAL),
  fc.nat().map((v) => (v * 2 + 1) >>> 0),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const caseArb = fc.record({
  ...blockFields(FORMS),
  pre: fc.nat({ max: FLAG_SOURCES.length - 1 }),
  regs: fc.array(u32, { minLength: 8, maxLength: 8 }),
  ...runFields(),
  /** Every so often a DS limit that some memory operands cross (#GP in the middle of the block). */
  dsLimit: fc.nat({ max: 3 }).map((v) => (v === 3 ? DATA + 0x10 : 0xffffffff)),
  /** A 16-bit stack segment: PUSH/POP move SP only. */
  ss16: fc.boolean(),
  sp: fc.constantFrom(0x9000, 0x8ff8, 0x8ffc, 0x0004, 0x0008),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

/** Loads a program and a state into a reused machine (blocks dropped, compared RAM rewritten). */
function load(m: Machine, code: Uint8Array, c: Case): void {
  const cpu = m.cpu;
  m.ram.fill(0, 0, COMPARED);
  writeGdt(m.memory);
  idt(m);
  m.ram.set(code, CODE);
  fillData(m, c.seed, DATA + 0x340);
  resetCpu(m);
  const data32 = 0x93 | 0xc000;
  cpu.segs.set(Seg.CS, Sel.Code32, 0, 0xffffffff, 0x9b | 0xc000);
  cpu.segs.set(Seg.ES, Sel.Data32, 0, 0xffffffff, data32);
  cpu.segs.set(Seg.DS, Sel.Data32, 0, c.dsLimit, data32);
  // FS and GS bases differ from DS, so an operand read through the wrong segment shows.
  cpu.segs.set(Seg.FS, Sel.Data32, 0x40, 0xffff, data32);
  cpu.segs.set(Seg.GS, Sel.Data32, 0x80, 0xffff, data32);
  if (c.ss16) cpu.segs.set(Seg.SS, Sel.Data16, 0, 0xffff, 0x93);
  else cpu.segs.set(Seg.SS, Sel.Data32, 0, 0xffffffff, data32);
  const r = cpu.regs.r32;
  for (let i = 0; i < 8; i++) r[i] = c.regs[i]!;
  r[3] = DATA + (c.regs[3]! & 0x1f); // EBX: memory base
  r[6] = c.regs[6]! & 0x3f; // ESI: index
  r[4] = c.ss16 ? (c.regs[4]! & 0xffff0000) | c.sp : 0x9000 - (c.regs[4]! & 0xf) * 4;
  cpu.regs.ip = CODE;
  cpu.eflags = EFLAGS.FIXED1 | (c.eflags & 0x8d5); // OF SF ZF AF PF CF
}

describe('compiled blocks', () => {
  const { slow, fast, log: logs } = pairOf(SHAPE, (events) => flat32('hlt', { events }));
  let compiledRuns = 0;

  it('random blocks of inline and generic forms, ending in every Jcc and JMP, match the interpreter', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { source, body } = program(FORMS, FLAG_SOURCES, c);
        const code = assemble(source, { bitness: 32, origin: CODE });
        const { calls } = runCase([slow, fast], logs, SHAPE, {
          load: (m) => load(m, code, c),
          origin: CODE,
          top: labelAddress(source, 'top'),
          away: labelAddress(source, 'away'),
          budget: c.budget,
          label: `${body.join('; ')}; ${JCC[c.jcc]} (${c.selfLoop ? 'self-loop' : 'via away'}) after ${FLAG_SOURCES[c.pre]}`,
        });
        compiledRuns += calls;
      }),
      { numRuns: 1500, seed: 0x7c0de },
    );
    expect(fast.cpu.blocks.compiled).toBeGreaterThan(1500);
    expect(compiledRuns).toBeGreaterThan(1500);
  });

  it('every Jcc after every kind of flag producer takes the branch the interpreter takes', () => {
    // The block is the producer and the Jcc: the condition is computed from the compared values where
    // the tier knows them, else from the record (and from the eager bits after NOP).
    const producers = [
      'add eax, ebx',
      'add eax, 0',
      'add eax, [esi]',
      'adc eax, ebx',
      'sub eax, ebx',
      'sub eax, [esi]',
      'sbb eax, ebx',
      'cmp eax, ebx',
      'cmp eax, [esi]',
      'cmp eax, 0x80000000',
      'and eax, ebx',
      'or eax, ebx',
      'xor eax, ebx',
      'test eax, ebx',
      'test eax, 0x80000001',
      'inc eax',
      'dec eax',
      'shl eax, 1',
      'shl eax, 2',
      'shr eax, 1',
      'shr eax, 2',
      'sar eax, 1',
      'sar eax, 31',
      'imul eax, ebx',
      'rol eax, 3',
      'ror eax, 1',
      'ror eax, 31',
      'cmp [esi], ebx',
      'cmp dword [esi], 0x80000000',
      'cmp dword [esi], -3',
      'test [esi], ebx',
      'test dword [esi], 0x80000001',
      'cmp al, bl',
      'cmp al, 0x80',
      'cmp bh, 0x7f',
      'cmp byte [esi], bl',
      'cmp bl, [esi]',
      'cmp byte [esi], 0x81',
      'test al, bl',
      'test al, 0x81',
      'test ah, 0xff',
      'test byte [esi], 0x81',
      'neg eax',
      'mov ecx, ebx\nshl eax, cl',
      'mov ecx, ebx\nshr eax, cl',
      'mov ecx, ebx\nsar eax, cl',
      'cmp eax, ebx\nsetl bl\nbswap eax\nnot eax\ncmovg eax, ebx',
      'sub eax, ebx\nsetbe bh\ncmova eax, [esi]',
      'nop',
    ];
    const values = [...SPECIAL, 0x40000000, 0xc0000000, 0x80000001];
    expectJccAgreement([slow, fast], {
      bitness: 32,
      origin: CODE,
      producers,
      values,
      prepare: (m) => {
        m.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0xffffffff, 0x93 | 0xc000);
        m.cpu.segs.set(Seg.SS, Sel.Data32, 0, 0xffffffff, 0x93 | 0xc000);
      },
      setup: (m, a, b) => {
        const r = m.cpu.regs.r32;
        r[0] = a;
        r[3] = b;
        r[6] = DATA;
        r[4] = 0x9000;
        m.memory.write32(DATA, b);
      },
      regs: (cpu) => `${cpu.regs.u32[0]} ${cpu.regs.u32[7]}`,
      describe: (a, b) => `eax=${a.toString(16)} ebx=${b.toString(16)}`,
    });
  });
});

// ------------------------------------------------------------------ specific cases

describe('compiled blocks: forms written inline from their generic handlers', () => {
  it('ROL/ROR, CMP/TEST m32, 8-bit CMP/TEST, SETcc, CMOVcc, BSWAP, NOT, NEG and shifts by CL call no handler', () => {
    const source = `
    top:
      rol eax, 3
      ror ecx, 7
      rol edx, 32
      cmp [ebx+4], edx
      cmp dword [ebx+esi*4], 5
      cmp dword [ebx], 0x12345
      test [ebx], ecx
      test dword [ebx], 0x80
      cmp al, bl
      cmp cl, 5
      cmp al, 0x80
      cmp byte [ebx], 3
      cmp [ebx], dh
      cmp ah, [ebx+1]
      test al, bl
      test cl, 0x40
      test al, 0x81
      test byte [ebx+2], 0x10
      test [ebx+esi], ch
      setne al
      setg bh
      cmovb eax, ecx
      cmovle edx, [ebx]
      bswap esi
      not edi
      neg ecx
      shl eax, cl
      shr edx, cl
      sar edi, cl
      jmp top`;
    const m = flat32(source);
    const b = m.cpu.blocks.lookup();
    expect(b.count).toBe(30);
    const text = blockSource(b);
    expect(text).not.toContain('h[');
    expect(text).toContain('for (;;)');
  });
});

/** The page directory of the cases that turn paging on, and its one table (the first 4 MiB). */
const PAGE_DIR = 0x100000;
const PAGE_TABLE = 0x101000;
/** Turns paging on with PAGE_DIR (the start of the program, in front of its first line). */
const PAGING_ON = `
      mov eax, ${PAGE_DIR}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax`;

describe('compiled blocks: specific cases', () => {
  it('a loop compiled by the interpreter loop itself runs to the same state', () => {
    const p = pair(`
      mov ebp, ${ITERATIONS}
      mov esi, ${DATA}
      mov eax, 0x12345678
      mov ecx, 0x9abcdef0
    top:
      add eax, ecx
      adc edx, eax
      mov [esi+ebp*4], edx
      xor ecx, [esi+ebp*4-4]
      shr ecx, 3
      imul ecx, eax
      push eax
      pop edi
      lea ebx, [eax+ecx*2+7]
      dec ebp
      jnz top
      hlt`);
    runBoth(p, 100_000);
    expect(p.slow.cpu.blocks.compiled).toBe(0);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a self-loop stops on the instruction budget, also in the middle of a round', () => {
    const p = pair(`
    top:
      add eax, ebx
      xor ecx, eax
      inc edx
      jmp top`);
    for (const r of [p.slow, p.fast]) {
      r.cpu.regs.r32[0] = 1;
      r.cpu.regs.r32[3] = 0x9e3779b9;
    }
    runInBudgets(p);
  });

  it('a store into the code of the compiled block running stops it, and the new code runs', () => {
    const table = DATA + 0x100;
    const source = `
      mov ebp, ${ITERATIONS}
      mov ebx, ${table}
      mov eax, 0x22222222
      xor ecx, ecx
    top:
      mov esi, [ebx+ebp*4]
      mov edi, [top]
    patch:
      mov edx, 0x11111111
      add ecx, edx
      mov [esi], eax
      dec ebp
      jnz top
      hlt`;
    const p = pair(source);
    // The store goes to a scratch word, except when EBP is 20: then into the MOV's immediate.
    const imm = labelAddress(source, 'patch') + 1;
    patchTable(p, table, 4, imm);
    runToHlt(p);
    expect(p.fast.cpu.regs.u32[1]).toBe(PATCHED_SUM);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  // Above 2^31 the fault comes from a slow path given its offset as int32 (`write32s`): CR2 is unsigned.
  it.each([
    ['0x200000', 0x200000],
    ['0xc0200000, above 2^31', 0xc0200000],
  ])(
    'a #PF at %s in the middle of a compiled block is delivered at the same instruction, and the loop resumes',
    (_, MISSING) => {
      const start = MISSING - 4 * (HOT_RUNS + 40);
      const source = `${PAGING_ON}
      mov ebp, ${ITERATIONS}
      mov esi, ${DATA}
      mov edi, ${start}
    top:
      mov eax, [esi]
      add eax, ebp
      mov [edi], eax
      add edi, 4
      add ecx, eax
      dec ebp
      jnz top
      hlt
    pf:
      push eax
      mov eax, cr2
      mov [${DATA + 0x20}], eax
      mov dword [${PAGE_TABLE + ((MISSING >>> 12) % 1024) * 4}], ${(MISSING % 0x400000) + 3}
      invlpg [eax]
      pop eax
      add esp, 4
      iretd`;
      const p = pair(source);
      const pf = labelAddress(source, 'pf');
      for (const m of [p.slow, p.fast]) {
        // Linear 0xc0000000 up uses the same page table as 0 up.
        m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
        m.memory.write32(PAGE_DIR + (0xc0000000 >>> 22) * 4, PAGE_TABLE | 3);
        for (let i = 0; i < 1024; i++)
          m.memory.write32(PAGE_TABLE + i * 4, i === (MISSING >>> 12) % 1024 ? 0 : (i << 12) | 3);
        m.memory.write32(IDT + 14 * 8, (Sel.Code32 << 16) | pf);
        m.memory.write32(IDT + 14 * 8 + 4, 0x8e00);
      }
      const s = runToHlt(p);
      expect(s.events.map((e) => e[1])).toEqual([14]);
      expect(s.cr2).toBe(MISSING);
      expect(p.fast.memory.read32(DATA + 0x20)).toBe(MISSING);
      expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    },
  );

  it('a #GP from the DS limit in the middle of a compiled block leaves the same state and frame', () => {
    const start = DATA + 0x100;
    const p = pair(`
      mov ebp, ${ITERATIONS}
      mov esi, ${DATA}
      mov edi, ${start}
    top:
      mov eax, [esi]
      add eax, ebp
      push eax
      mov [edi], eax
      pop edx
      add edi, 4
      add ecx, eax
      dec ebp
      jnz top
      hlt`);
    const limit = start + 4 * (HOT_RUNS + 30) + 1; // the dword store there crosses it
    for (const m of [p.slow, p.fast]) m.cpu.segs.set(Seg.DS, Sel.Data32, 0, limit, 0x93 | 0xc000);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(s.ip).toBe((HANDLER + 1).toString(16));
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  // Above 2^31 the slow paths get their offsets as int32 (`read32s`...): the same bytes must be reached.
  it.each([
    ['0x300000', 0],
    ['0xc0300000, above 2^31', 0xc0000000],
  ])(
    'loads and stores crossing from linear %s into a page mapped elsewhere use both translations',
    (_, high) => {
      // Linear 0x300000 and 0x301000 (also at 0xc0300000: the same page table) map to CROSSING_FRAMES,
      // not adjacent (nor identity).
      const at = (a: number) => `0x${(high + a).toString(16)}`;
      const p = pair(`${PAGING_ON}
      mov ebp, ${ITERATIONS}
    top:
      mov eax, [${at(0x300ffe)}]
      add eax, ebp
      mov [${at(0x300ffd)}], eax
      movzx edx, word [${at(0x300fff)}]
      add ecx, [${at(0x300ffc)}]
      mov [${at(0x300fff)}], dx
      mov [${at(0x300ff0)}], ecx
      add ecx, edx
      dec ebp
      jnz top
      hlt`);
      for (const m of [p.slow, p.fast]) {
        m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
        m.memory.write32(PAGE_DIR + (0xc0000000 >>> 22) * 4, PAGE_TABLE | 3);
        for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
        for (const [page, frame] of CROSSING_FRAMES)
          m.memory.write32(PAGE_TABLE + page * 4, (frame << 12) | 3);
        seedCrossingFrames(m);
      }
      runToHlt(p);
      expectCrossingFramesAgree(p);
      expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    },
  );

  it('an access group whose span runs into a page mapped elsewhere uses both translations', () => {
    // [ebx+8]...[ebx+0x17] from 0x300ff0: the group's span crosses into 0x301000 (CROSSING_FRAMES).
    const p = pair(`${PAGING_ON}
      mov ebp, ${ITERATIONS}
      mov ebx, 0x300ff0
    top:
      mov eax, [ebx+0xc]
      add eax, ebp
      mov [ebx+0x10], eax
      add ecx, [ebx+0x8]
      mov [ebx+0x14], ecx
      add ecx, [ebx+0x10]
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
      for (const [page, frame] of CROSSING_FRAMES) m.memory.write32(PAGE_TABLE + page * 4, (frame << 12) | 3);
      seedCrossingFrames(m);
    }
    runToHlt(p);
    expectCrossingFramesAgree(p);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a store of an access group whose page has only a read entry takes the slow path (which sets D)', () => {
    // Linear 0x400000 up (a second page table, no A/D bits yet) maps to frames from 0x200000. The
    // first loop reads one word of each page (read entries), the second reads and writes each page
    // through one group: the stores must set D in the PTEs as the interpreter's do.
    const TABLE2 = 0x102000;
    const p = pair(`${PAGING_ON}
      mov ebp, ${ITERATIONS}
      mov ebx, 0x400000
    touch:
      add ecx, [ebx]
      add ebx, 4096
      dec ebp
      jnz touch
      mov ebp, ${ITERATIONS}
      mov ebx, 0x400000
    top:
      mov eax, [ebx]
      add eax, ebp
      mov [ebx+4], eax
      mov [ebx+8], ecx
      add ebx, 4096
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      m.memory.write32(PAGE_DIR + 4, TABLE2 | 3);
      for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
      for (let i = 0; i < ITERATIONS; i++) m.memory.write32(TABLE2 + i * 4, (0x200000 + i * 4096) | 3);
    }
    runToHlt(p);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    expect(p.fast.memory.read32(TABLE2 + (ITERATIONS - 1) * 4) & 0x40).toBe(0x40);
  });

  it('an access group is tested again after a handler call loads its segment with another base', () => {
    const BASED = 0x38; // GDT entry 7: data, base 0x40
    const p = pair(`
      mov ebp, ${ITERATIONS}
      mov ebx, ${DATA}
      mov edx, ${BASED}
      mov esi, ${Sel.Data32}
    top:
      mov eax, [ebx]
      add eax, ebp
      mov [ebx+4], eax
      add ecx, [ebx+4]
      mov ds, dx
      add ecx, [ebx+12]
      mov [ebx+16], ecx
      add ecx, [ebx+4]
      mov ds, si
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      writeDescriptor(m.memory, GDT + 7 * 8, 0x40, 0xfffff, 0x93, 0xc);
      m.cpu.ctrl.gdtr.limit = 8 * 8 - 1;
    }
    runToHlt(p);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    expect(p.fast.memory.read32(DATA + 0x40 + 16)).not.toBe(0);
  });

  it('the 32-bit slow paths take an int32 offset above 2^31 to the unsigned address (and its TLB tag)', () => {
    const wrappers = RUNTIME as unknown as Record<string, (...a: number[]) => number>;
    for (const size of [8, 16, 32] as const) {
      const m = flat32(`${PAGING_ON}
        hlt`);
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      m.memory.write32(PAGE_DIR + (0xc0000000 >>> 22) * 4, PAGE_TABLE | 3);
      for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
      m.memory.write32(0x300ff0, 0x89abcdef);
      runToHltOne(m);
      const cpu = m.cpu as unknown as number;
      const at = 0xc0300ff0;
      const value = size === 8 ? 0xef : size === 16 ? 0xcdef : 0x89abcdef;
      // Each fills the RAM-direct TLB for the unsigned address: the next access takes the direct path.
      const { ramRTag, ramWTag } = m.cpu.pager;
      const slot = (at >>> 12) & TLB_MASK;
      expect(wrappers[`read${size}s`]!(cpu, Seg.DS, at | 0), `read${size}s`).toBe(value);
      expect(ramRTag[slot], `read${size}s tag`).toBe(tlbTag(at, false));
      wrappers[`write${size}s`]!(cpu, Seg.DS, (at + 4) | 0, 0x80000000 | value);
      expect(m.memory.read32(0x300ff4), `write${size}s`).toBe(
        size === 32 ? (0x80000000 | value) >>> 0 : value,
      );
      expect(ramWTag[slot], `write${size}s tag`).toBe(tlbTag(at, false));
    }
  });

  it('a user-mode access to a supervisor page faults although a supervisor access left it in the TLB', () => {
    const SUPERVISOR = 0x302000;
    const USER = 0x303000;
    const TABLE = 0x304000;
    const TSS = 0xa00;
    const p = pair(`${PAGING_ON}
      mov ax, 0x38
      ltr ax
      mov eax, [${SUPERVISOR}]
      mov [${SUPERVISOR + 4}], eax
      mov ax, ${Sel.Data32Dpl3}
      mov ds, ax
      mov es, ax
      push ${Sel.Data32Dpl3}
      push 0x8f00
      push 0x2
      push ${Sel.Code32Dpl3}
      push user
      iretd
    user:
      mov ebp, ${ITERATIONS}
      mov ebx, ${TABLE}
    top:
      mov esi, [ebx+ebp*4]
      mov eax, [esi]
      add ecx, eax
      mov [esi+4], ecx
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 7);
      for (let i = 0; i < 1024; i++)
        m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | (i === SUPERVISOR >>> 12 ? 3 : 7));
      writeDescriptor(m.memory, GDT + 0x38, TSS, 0x67, 0x89, 0);
      m.cpu.ctrl.gdtr.limit = 8 * 8 - 1;
      m.memory.write32(TSS + 4, 0x7000); // ESP0
      m.memory.write32(TSS + 8, Sel.Data32); // SS0
      // The loop reads the user page, and the supervisor page when EBP is 20.
      for (let i = 0; i <= ITERATIONS; i++) m.memory.write32(TABLE + i * 4, i === 20 ? SUPERVISOR : USER);
    }
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([14]);
    expect(s.cr2).toBe(SUPERVISOR);
    expect(p.fast.cpu.regs.u32[5]).toBe(20);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a jump past the CS limit from a compiled block raises #GP at the jump', () => {
    const source = `
      xor eax, eax
    top:
      inc eax
      cmp eax, ${ITERATIONS}
      jae far
      jmp top
    far:
      hlt`;
    const p = pair(source);
    const far = labelAddress(source, 'far');
    for (const m of [p.slow, p.fast]) m.cpu.segs.set(Seg.CS, Sel.Code32, 0, far - 1, 0x9b | 0xc000);
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(p.fast.cpu.regs.u32[0]).toBe(ITERATIONS);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('PUSH/POP on a 16-bit stack segment wrap SP and keep the high half of ESP', () => {
    const p = pair(`
      mov ebp, ${ITERATIONS}
    top:
      push eax
      push ecx
      pop edx
      add eax, edx
      push ebx
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.cpu.segs.set(Seg.SS, Sel.Data16, 0, 0xffff, 0x93);
      m.cpu.regs.r32[4] = 0xabcd0000 + 0x400;
      m.cpu.regs.r32[1] = 0x01010101;
    }
    // Each round leaves 8 bytes on the stack: SP wraps below 0 after 128 rounds.
    runToHlt(p);
    expect(p.fast.cpu.regs.u32[4]! >>> 16).toBe(0xabcd);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  // An MMIO read inside the loop raises the event in the middle of a round, at the 150th read.
  const MMIO = 0x800000;
  const events: [string, (m: Machine) => void, CpuExit][] = [
    ['an INTR', (m) => m.cpu.setIntr(true), CpuExit.Hlt],
    ['an NMI', (m) => m.cpu.raiseNmi(), CpuExit.Hlt],
    ['an interrupt window', (m) => (m.cpu.interruptWindowExiting = true), CpuExit.InterruptWindow],
  ];
  for (const [name, raise, exit] of events) {
    it(`${name} raised during a compiled self-loop is taken after the same instruction`, () => {
      const p = pair(
        `
        sti
        nop
      top:
        mov ecx, [${MMIO}]
        add eax, ecx
        inc edx
        jmp top`,
        (m) => {
          let reads = 0;
          return new (class extends NullHooks {
            override mmioRead(): number {
              if (++reads === 150) raise(m());
              return reads;
            }
          })();
        },
      );
      for (const m of [p.slow, p.fast]) m.cpu.interruptController = { acknowledge: () => 0x20 };
      const s = runBoth(p, 100_000);
      expect(s.exit).toBe(exit);
      expect(s.instructions).toBeGreaterThan(150 * 4);
      if (exit === CpuExit.Hlt) expect(s.events.length).toBe(1);
      expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    });
  }
});

// ------------------------------------------------------------------ CALL and RET written inline

describe('compiled CALL rel32 and RET', () => {
  for (const ss16 of [false, true]) {
    for (const ret of ['ret', 'ret 8']) {
      it(`CALL and ${ret} on a ${ss16 ? 16 : 32}-bit stack match the interpreter at every budget`, () => {
        const p = pair(`
          mov ebp, ${ITERATIONS}
        top:
          add eax, ebp
          call fn
          dec ebp
          jnz top
          hlt
        fn:
          push ebp
          pop ecx
          xor ebx, ecx
          ${ret}`);
        for (const m of [p.slow, p.fast]) {
          if (ss16) {
            m.cpu.segs.set(Seg.SS, Sel.Data16, 0, 0xffff, 0x93);
            // SP alone moves: the high half of ESP must survive, SP wraps through 0.
            m.cpu.regs.r32[4] = 0x12340010;
          }
        }
        for (const n of [HOT_RUNS * 5 + 2, 1, 3, 250, 2, 7, 100_000]) runBoth(p, n, `budget ${n}`);
        expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
        expect(p.fast.cpu.halted).toBe(true);
      });
    }
  }

  it('a POP past the limit of a 16-bit stack in a compiled block raises #SS at the POP, as the interpreter does', () => {
    const p = pair(`
      mov ebp, ${ITERATIONS}
    top:
      add ebx, ebp
      pop ecx
      add eax, ecx
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      // SP climbs 4 a round: the read of round HOT_RUNS + 30 crosses the limit (the loop is compiled by then).
      m.cpu.segs.set(Seg.SS, Sel.Data16, 0, 0x100 + 4 * (HOT_RUNS + 30) + 1, 0x93);
      m.cpu.regs.r32[4] = 0x100;
    }
    const s = runToHlt(p);
    expect(s.events.map((e) => e[1])).toEqual([12]);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a compiled RET to an EIP beyond the CS limit raises #GP with the state the interpreter leaves', () => {
    const p = pair(`
      mov ebp, ${ITERATIONS}
    top:
      mov edx, back
      cmp ebp, 1
      jne go
      mov edx, 0x200000
      jmp go
    go:
      push edx
      ret
    back:
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) m.cpu.segs.set(Seg.CS, Sel.Code32, 0, 0xfffff, 0x9b | 0xc000);
    const s = runBoth(p, 100_000);
    expect(s.lastVector).toBe(13);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a compiled CALL whose target is beyond a CS limit lowered under it raises #GP as the interpreter does', () => {
    const source = `
      mov ebp, ${ITERATIONS * 2}
    top:
      inc eax
      call fn
      dec ebp
      jnz top
      hlt
      ${'nop\n'.repeat(64)}
    fn:
      ret`;
    const p = pair(source);
    // MOV, then 5 instructions a round: stop at \`top\`, whose compiled block ends in the CALL.
    runBoth(p, 1 + 5 * (HOT_RUNS + 40));
    expect(p.fast.cpu.regs.ip).toBe(labelAddress(source, 'top'));
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
    // The target `fn` now lies beyond the limit; the code up to it does not.
    const limit = labelAddress(source, 'fn') - 1;
    for (const m of [p.slow, p.fast]) m.cpu.segs.set(Seg.CS, Sel.Code32, 0, limit, 0x9b | 0xc000);
    const s = runBoth(p, 100_000);
    expect(s.lastVector).toBe(13);
  });
});

// ------------------------------------------------------------------ a compiled block naming its successor

describe('a compiled block that names its successor (no lookup)', () => {
  it('does not run a fall-through successor that a lowered CS limit puts out of reach', () => {
    // `top` is a block of 32 register-only instructions (MAX_BLOCK): it ends by size and falls through.
    const source = `
      mov ebp, ${ITERATIONS}
    top:
      ${'inc eax\n'.repeat(32)}
    next:
      add ecx, eax
      dec ebp
      jnz top
      hlt`;
    const p = pair(source);
    runBoth(p, 1 + 35 * (HOT_RUNS + 40));
    expect(p.fast.cpu.regs.ip).toBe(labelAddress(source, 'top'));
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(1);
    const limit = labelAddress(source, 'next') - 1;
    for (const m of [p.slow, p.fast]) m.cpu.segs.set(Seg.CS, Sel.Code32, 0, limit, 0x9b | 0xc000);
    const s = runBoth(p, 100_000);
    expect(s.lastVector).toBe(13);
  });

  it('looks the successor up again after the translation of its page changed', () => {
    // Linear 0x3f0000 holds `add edx, 1` in one frame and `add edx, 0x100` in another; the loop jumps
    // there from a compiled block without handler calls, and the page is remapped half-way.
    const TARGET = 0x3f0000;
    const FRAMES = [0x200000, 0x210000];
    const source = `${PAGING_ON}
      mov ebp, ${ITERATIONS * 2}
    top:
      inc ecx
      jmp ${TARGET}
    back:
      dec ebp
      jnz top
      hlt`;
    const back = labelAddress(source, 'back');
    const p = pair(source);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
      FRAMES.forEach((frame, k) => {
        const code = assemble(`add edx, ${k === 0 ? 1 : 0x100}\njmp ${back}`, {
          bitness: 32,
          origin: TARGET,
        });
        m.memory.writeBytes(frame, code);
      });
      m.memory.write32(PAGE_TABLE + (TARGET >>> 12) * 4, FRAMES[0]! | 3);
    }
    // Five setup instructions, MOV, then 6 instructions a round: stop at `top`.
    runBoth(p, 6 + 6 * (HOT_RUNS + 40));
    expect(p.fast.cpu.regs.ip).toBe(labelAddress(source, 'top'));
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(1);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_TABLE + (TARGET >>> 12) * 4, FRAMES[1]! | 3);
      // What a MOV to CR3 does: the MMU's and the pager's translations dropped.
      m.cpu.pager.mmu.writeCr3(PAGE_DIR, false);
      m.cpu.pager.flush();
    }
    const before = p.slow.cpu.regs.u32[2]!;
    const s = runBoth(p, 100_000);
    expect(s.halted).toBe(true);
    // Every round after the remap ran the new frame's code (0x100 each).
    const added = p.fast.cpu.regs.u32[2]! - before;
    expect(added).toBeGreaterThan(0);
    expect(added % 0x100).toBe(0);
  });
});
