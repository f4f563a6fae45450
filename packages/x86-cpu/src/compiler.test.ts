import { assemble } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockSource } from './compiler.js';
import { CODE, GDT, flat32, type Machine, Sel, writeDescriptor, writeGdt } from '../test/machine.js';
import { CpuExit, type CpuEvents, EFLAGS, NullHooks, Seg } from './index.js';

/** The machines here compile a block after this many runs (the default is for real guests). */
const HOT_RUNS = 64;
/**
 * Differential test of the compiling tier (`compiler.ts`): the same program from the same state runs on
 * a CPU that only interprets (`blocks.compiling = false`) and on one whose blocks run compiled; the
 * registers, EIP, EFLAGS, memory, retired count, exit and delivered events must agree.
 */

const IDT = 0x600;
const IDT_ENTRIES = 64;
/** Every IDT gate leads here: HLT, so a delivered exception or interrupt ends the run where it landed. */
const HANDLER = 0x800;
const DATA = 0x4000;
/** RAM compared between the two machines (IDT, code, data, both stacks, the 16-bit stack segment). */
const COMPARED = 0x10000;

type Logged = [kind: number, vector: number, errorCode: number, instructions: number, eip: number];

interface Pair {
  /** Interpreter only. */
  slow: Machine;
  /** Compiling tier on. */
  fast: Machine;
  log: Map<Machine, Logged[]>;
}

function logger(log: Logged[], cpu: () => Machine): CpuEvents {
  return {
    delivered(kind, vector, errorCode) {
      const c = cpu().cpu;
      log.push([kind, vector, errorCode, c.instructions, c.regs.ip]);
    },
  };
}

/** Two machines for `source` (the hooks factory gets a getter for its machine, e.g. to raise INTR). */
function pair(source: string, hooks?: (m: () => Machine) => NullHooks): Pair {
  const log = new Map<Machine, Logged[]>();
  const make = (compiling: boolean): Machine => {
    const events: Logged[] = [];
    let m: Machine | null = null;
    const get = () => m!;
    m = flat32(source, { events: logger(events, get), hooks: hooks?.(get) ?? new NullHooks() });
    m.cpu.blocks.compiling = compiling;
    m.cpu.blocks.hotRuns = HOT_RUNS;
    log.set(m, events);
    idt(m);
    return m;
  };
  return { slow: make(false), fast: make(true), log };
}

function idt(m: Machine): void {
  for (let v = 0; v < IDT_ENTRIES; v++) {
    m.memory.write32(IDT + v * 8, (Sel.Code32 << 16) | HANDLER);
    m.memory.write32(IDT + v * 8 + 4, 0x8e00);
  }
  m.ram[HANDLER] = 0xf4; // hlt
  m.cpu.ctrl.idtr.base = IDT;
  m.cpu.ctrl.idtr.limit = IDT_ENTRIES * 8 - 1;
}

/** Address of `label:` in `source` assembled at CODE (the text up to and with the label). */
function labelAddress(source: string, label: string): number {
  const marker = `${label}:`;
  const end = source.indexOf(marker) + marker.length;
  return CODE + assemble(source.slice(0, end), { bitness: 32, origin: CODE }).length;
}

/** Index of the first byte where the compared RAM differs, -1 when equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < COMPARED; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function state(m: Machine, exit: CpuExit, log: Logged[]) {
  const cpu = m.cpu;
  return {
    exit,
    regs: Array.from(cpu.regs.u32.subarray(0, 8), (v) => v.toString(16)),
    eip: cpu.regs.ip.toString(16),
    eflags: cpu.eflags.toString(16),
    instructions: cpu.instructions,
    cr2: cpu.ctrl.cr2,
    lastVector: cpu.lastVector,
    halted: cpu.halted,
    cs: cpu.segs.selector[Seg.CS],
    esp: cpu.regs.u32[4]!.toString(16),
    events: log.slice(),
  };
}

/** Runs both machines for `budget` instructions and insists on the same outcome. */
function runBoth(p: Pair, budget: number, label = ''): ReturnType<typeof state> {
  const a = state(p.slow, p.slow.run(budget), p.log.get(p.slow)!);
  const b = state(p.fast, p.fast.run(budget), p.log.get(p.fast)!);
  expect(b, label).toEqual(a);
  expect(firstDifference(p.fast.ram, p.slow.ram), `${label}: first RAM byte that differs`).toBe(-1);
  return a;
}

// ------------------------------------------------------------------ random blocks

const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
/** Destinations: not ESP/EBP (stack), EBX/ESI (they form the memory operands, kept inside DATA). */
const D32 = ['eax', 'ecx', 'edx', 'edi'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const D16 = ['ax', 'cx', 'dx', 'di'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const D8 = ['al', 'cl', 'dl', 'ah', 'ch', 'dh'];
/** Memory operands: base, base+disp, base+index, scaled index, FS/GS (other bases than DS), absolute. */
const MEM = [
  '[ebx]',
  '[ebx+4]',
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
const ALU = ['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor'];
const IMM8 = ['0', '1', '5', '0x7f', '0x80', '0xff'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

type Pick = <T>(list: readonly T[]) => T;
/** Instruction templates: the forms the tier writes inline, then some it calls the handler for. */
const FORMS: ((p: Pick) => string)[] = [
  (p) => `mov ${p(D32)}, ${p(R32)}`,
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
const JCC = [
  'jo',
  'jno',
  'jb',
  'jae',
  'je',
  'jne',
  'jbe',
  'ja',
  'js',
  'jns',
  'jp',
  'jnp',
  'jl',
  'jge',
  'jle',
  'jg',
  'jmp',
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
const picks = fc.array(fc.nat(), { minLength: 4, maxLength: 4 });
const caseArb = fc.record({
  body: fc.array(fc.tuple(fc.nat({ max: FORMS.length - 1 }), picks), { minLength: 1, maxLength: 12 }),
  jcc: fc.nat({ max: JCC.length - 1 }),
  /** The branch goes back to the block's own start (self-loop) or through another block. */
  selfLoop: fc.boolean(),
  pre: fc.nat({ max: FLAG_SOURCES.length - 1 }),
  regs: fc.array(u32, { minLength: 8, maxLength: 8 }),
  eflags: fc.nat({ max: 0xfff }),
  seed: fc.nat(),
  budget: fc.integer({ min: 1, max: 400 }),
  /** Every so often a DS limit that some memory operands cross (#GP in the middle of the block). */
  dsLimit: fc.nat({ max: 3 }).map((v) => (v === 3 ? DATA + 0x10 : 0xffffffff)),
  /** A 16-bit stack segment: PUSH/POP move SP only. */
  ss16: fc.boolean(),
  sp: fc.constantFrom(0x9000, 0x8ff8, 0x8ffc, 0x0004, 0x0008),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function program(c: Case): { source: string; body: string[] } {
  const body = c.body.map(([form, p]) => {
    let k = 0;
    const pick: Pick = (list) => list[p[k++ % p.length]! % list.length]!;
    return FORMS[form]!(pick);
  });
  const source = [
    FLAG_SOURCES[c.pre]!,
    'jmp top',
    'top:',
    ...body,
    `${JCC[c.jcc]} ${c.selfLoop ? 'top' : 'away'}`,
    'hlt',
    'away:',
    'jmp top',
  ].join('\n');
  return { source, body };
}

/** Loads a program and a state into a reused machine (blocks dropped, compared RAM rewritten). */
function load(m: Machine, code: Uint8Array, c: Case): void {
  const cpu = m.cpu;
  m.ram.fill(0, 0, COMPARED);
  writeGdt(m.memory);
  idt(m);
  m.ram.set(code, CODE);
  let s = c.seed >>> 0;
  for (let i = DATA - 0x10; i < DATA + 0x340; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    m.ram[i] = s >>> 24;
  }
  cpu.blocks.flush();
  cpu.halted = false;
  cpu.instructions = 0;
  cpu.lastVector = -1;
  cpu.ctrl.cr2 = 0;
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
  const slowLog: Logged[] = [];
  const fastLog: Logged[] = [];
  const slow: Machine = flat32('hlt', { events: logger(slowLog, () => slow) });
  const fast: Machine = flat32('hlt', { events: logger(fastLog, () => fast) });
  slow.cpu.blocks.compiling = false;
  slow.cpu.blocks.hotRuns = HOT_RUNS;
  fast.cpu.blocks.hotRuns = HOT_RUNS;
  const logs = new Map<Machine, Logged[]>([
    [slow, slowLog],
    [fast, fastLog],
  ]);
  let compiledRuns = 0;

  it('random blocks of inline and generic forms, ending in every Jcc and JMP, match the interpreter', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { source, body } = program(c);
        const code = assemble(source, { bitness: 32, origin: CODE });
        const top = labelAddress(source, 'top');
        const away = labelAddress(source, 'away');
        const out = [slow, fast].map((m) => {
          logs.get(m)!.length = 0;
          load(m, code, c);
          // Every block of the program is compiled before it first runs (from the state above); the
          // loop's block counts its compiled runs.
          let calls = 0;
          let count = 0;
          for (const ip of [CODE, top, away]) {
            m.cpu.regs.ip = ip;
            const b = m.cpu.blocks.lookup();
            m.cpu.blocks.compile(b);
            const run = b.run;
            if (ip !== top) continue;
            count = b.count;
            if (run !== null)
              b.run = (cpu, list, handlers, limit) => {
                calls++;
                run(cpu, list, handlers, limit);
              };
          }
          m.cpu.regs.ip = CODE;
          const exit = m.run(c.budget);
          return { state: state(m, exit, logs.get(m)!), calls, count };
        });
        const label = `${body.join('; ')}; ${JCC[c.jcc]} (${c.selfLoop ? 'self-loop' : 'via away'}) after ${FLAG_SOURCES[c.pre]}`;
        expect(out[1]!.state, label).toEqual(out[0]!.state);
        expect(firstDifference(fast.ram, slow.ram), `${label}: first RAM byte that differs`).toBe(-1);
        expect(out[0]!.calls).toBe(0);
        // The loop's block ran compiled whenever the budget let it run whole after the 2-instruction
        // first block (which cannot fault).
        if (c.budget >= 2 + out[1]!.count) expect(out[1]!.calls, label).toBeGreaterThan(0);
        compiledRuns += out[1]!.calls;
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
    let compiledRuns = 0;
    for (const producer of producers) {
      for (const jcc of JCC) {
        const source = `${producer}\n${jcc} taken\nmov edi, 1\nhlt\ntaken:\nmov edi, 2\nhlt`;
        const code = assemble(source, { bitness: 32, origin: CODE });
        let calls = 0;
        for (const m of [slow, fast]) {
          m.ram.set(code, CODE);
          m.cpu.blocks.flush();
          m.cpu.segs.set(Seg.DS, Sel.Data32, 0, 0xffffffff, 0x93 | 0xc000);
          m.cpu.segs.set(Seg.SS, Sel.Data32, 0, 0xffffffff, 0x93 | 0xc000);
          m.cpu.regs.ip = CODE;
          const b = m.cpu.blocks.lookup();
          m.cpu.blocks.compile(b);
          const run = b.run;
          if (run !== null)
            b.run = (cpu, list, handlers, limit) => {
              calls++;
              run(cpu, list, handlers, limit);
            };
        }
        for (const a of values) {
          for (const bv of values) {
            for (const flags of [0, 0x8d5]) {
              const out = [slow, fast].map((m) => {
                const cpu = m.cpu;
                cpu.halted = false;
                cpu.instructions = 0;
                cpu.regs.r32.fill(0);
                cpu.regs.r32[0] = a;
                cpu.regs.r32[3] = bv;
                cpu.regs.r32[6] = DATA;
                cpu.regs.r32[4] = 0x9000;
                m.memory.write32(DATA, bv);
                cpu.regs.ip = CODE;
                cpu.eflags = EFLAGS.FIXED1 | flags;
                const exit = cpu.run(10);
                return `${exit} ${cpu.regs.u32[0]} ${cpu.regs.u32[7]} ${cpu.regs.ip} ${cpu.eflags} ${cpu.instructions}`;
              });
              if (out[0] !== out[1])
                expect(
                  out[1],
                  `${producer}; ${jcc} with eax=${a.toString(16)} ebx=${bv.toString(16)} flags=${flags.toString(16)}`,
                ).toBe(out[0]);
            }
          }
        }
        compiledRuns += calls;
      }
    }
    expect(compiledRuns).toBe(producers.length * JCC.length * values.length ** 2 * 2);
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

/** A loop that runs `HOT_RUNS` times and more, so its block is compiled by the interpreter loop itself. */
const ITERATIONS = HOT_RUNS + 136;

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
    // 4 instructions a round: budgets that end after 1, 2 and 3 of them, and whole rounds.
    let total = 0;
    for (const n of [HOT_RUNS * 4 + 3, 1, 2, 401, 7, 4, 1000, 3, 6, 5]) {
      const s = runBoth(p, n, `budget ${n}`);
      total += n;
      expect(s.exit).toBe(CpuExit.Budget);
      expect(s.instructions).toBe(total);
    }
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
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
    for (const m of [p.slow, p.fast]) {
      for (let i = 0; i <= ITERATIONS; i++) m.memory.write32(table + i * 4, i === 20 ? imm : DATA);
    }
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
    expect(p.fast.cpu.regs.u32[1]).toBe(((ITERATIONS - 19) * 0x11111111 + 19 * 0x22222222) >>> 0);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a #PF in the middle of a compiled block is delivered at the same instruction, and the loop resumes', () => {
    const PAGE_DIR = 0x100000;
    const PAGE_TABLE = 0x101000;
    const MISSING = 0x200000;
    const start = MISSING - 4 * (HOT_RUNS + 40);
    const source = `
      mov eax, ${PAGE_DIR}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
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
      mov dword [${PAGE_TABLE + (MISSING >>> 12) * 4}], ${MISSING | 3}
      invlpg [eax]
      pop eax
      add esp, 4
      iretd`;
    const p = pair(source);
    const pf = labelAddress(source, 'pf');
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      for (let i = 0; i < 1024; i++)
        m.memory.write32(PAGE_TABLE + i * 4, i === MISSING >>> 12 ? 0 : (i << 12) | 3);
      m.memory.write32(IDT + 14 * 8, (Sel.Code32 << 16) | pf);
      m.memory.write32(IDT + 14 * 8 + 4, 0x8e00);
    }
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
    expect(s.events.map((e) => e[1])).toEqual([14]);
    expect(s.cr2).toBe(MISSING);
    expect(p.fast.memory.read32(DATA + 0x20)).toBe(MISSING);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

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
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
    expect(s.events.map((e) => e[1])).toEqual([13]);
    expect(s.eip).toBe((HANDLER + 1).toString(16));
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('loads and stores crossing into a page mapped elsewhere use both translations', () => {
    const PAGE_DIR = 0x100000;
    const PAGE_TABLE = 0x101000;
    // Linear 0x300000 and 0x301000 map to frames that are not adjacent (nor identity).
    const frames: [number, number][] = [
      [0x300, 0x380],
      [0x301, 0x250],
    ];
    const p = pair(`
      mov eax, ${PAGE_DIR}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      mov ebp, ${ITERATIONS}
    top:
      mov eax, [0x300ffe]
      add eax, ebp
      mov [0x300ffd], eax
      movzx edx, word [0x300fff]
      add ecx, [0x300ffc]
      mov [0x300fff], dx
      mov [0x300ff0], ecx
      add ecx, edx
      dec ebp
      jnz top
      hlt`);
    for (const m of [p.slow, p.fast]) {
      m.memory.write32(PAGE_DIR, PAGE_TABLE | 3);
      for (let i = 0; i < 1024; i++) m.memory.write32(PAGE_TABLE + i * 4, (i << 12) | 3);
      for (const [page, frame] of frames) m.memory.write32(PAGE_TABLE + page * 4, (frame << 12) | 3);
      m.memory.write32(0x380ffc, 0x44332211);
      m.memory.write32(0x250000, 0x88776655);
    }
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
    // The frames around both halves (a crossing access handled as one page would touch 0x381000).
    for (const start of [0x380ff0, 0x24fff0])
      for (let at = start; at < start + 0x20; at += 4)
        expect(p.fast.memory.read32(at), at.toString(16)).toBe(p.slow.memory.read32(at));
    expect(p.fast.memory.read32(0x250000)).not.toBe(0x88776655);
    expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  });

  it('a user-mode access to a supervisor page faults although a supervisor access left it in the TLB', () => {
    const PAGE_DIR = 0x100000;
    const PAGE_TABLE = 0x101000;
    const SUPERVISOR = 0x302000;
    const USER = 0x303000;
    const TABLE = 0x304000;
    const TSS = 0xa00;
    const p = pair(`
      mov eax, ${PAGE_DIR}
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
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
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
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
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
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
    const s = runBoth(p, 100_000);
    expect(s.exit).toBe(CpuExit.Hlt);
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
