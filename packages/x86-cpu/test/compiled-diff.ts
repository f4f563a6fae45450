/**
 * Scaffolding of the differential tests of the compiling tiers (`compiler.test.ts` for 32-bit code,
 * `compiler64.test.ts` for 64-bit code): the same program from the same state runs on a CPU that only
 * interprets (`blocks.compiling = false`) and on one whose blocks run compiled, and the two states
 * (registers, IP, flags, retired count, CR2, exit, delivered events, compared RAM) must agree. What
 * differs between the modes (register count, IDT gate size, bitness, machine) is a parameter here.
 */
import { assemble } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Block } from '../src/block-cache.js';
import { type Cpu, type CpuEvents, CpuExit, EFLAGS } from '../src/index.js';
import type { Machine } from './machine.js';

/** The machines here compile a block after this many runs (the default is for real guests). */
export const HOT_RUNS = 64;
/** A loop that runs `HOT_RUNS` times and more, so its block is compiled by the interpreter loop itself. */
export const ITERATIONS = HOT_RUNS + 136;
export const IDT = 0x600;
export const IDT_ENTRIES = 64;
export const DATA = 0x4000;
/** RAM compared between the two machines (low memory, IDT, code, data, stacks). */
export const COMPARED = 0x10000;

/** Every condition of Jcc, then JMP. */
export const JCC = [
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

/** A delivered event: what it was, and the retired count and IP (EIP or RIP) when it was delivered. */
export type Logged = [kind: number, vector: number, errorCode: number, instructions: number, ip: number];

/** Events that log every delivery into `log` (`cpu` gets the machine, which is made after them). */
export function logger(log: Logged[], cpu: () => Machine): CpuEvents {
  return {
    delivered(kind, vector, errorCode) {
      const c = cpu().cpu;
      log.push([kind, vector, errorCode, c.instructions, c.regs.ip]);
    },
  };
}

/** Makes a machine through `make` (given the logging events and a getter for the machine) and tunes its tier. */
export function loggedMachine(
  log: Logged[],
  compiling: boolean,
  make: (events: CpuEvents, m: () => Machine) => Machine,
): Machine {
  let m: Machine | null = null;
  const get = () => m!;
  m = make(logger(log, get), get);
  m.cpu.blocks.compiling = compiling;
  m.cpu.blocks.hotRuns = HOT_RUNS;
  return m;
}

/** An IDT of `IDT_ENTRIES` interrupt gates (8 bytes in 32-bit mode, 16 in 64-bit mode), all to `handler`: HLT. */
export function setIdt(m: Machine, gateSize: 8 | 16, selector: number, handler: number): void {
  for (let v = 0; v < IDT_ENTRIES; v++) {
    const at = IDT + v * gateSize;
    m.memory.write32(at, (selector << 16) | handler);
    m.memory.write32(at + 4, 0x8e00);
    if (gateSize === 16) {
      m.memory.write32(at + 8, 0);
      m.memory.write32(at + 12, 0);
    }
  }
  m.ram[handler] = 0xf4; // hlt
  m.cpu.ctrl.idtr.base = IDT;
  m.cpu.ctrl.idtr.limit = IDT_ENTRIES * gateSize - 1;
}

/** Address of `label:` in `source` assembled at `origin` (the text up to and with the label). */
export function labelAddress(source: string, label: string, bitness: 32 | 64, origin: number): number {
  const marker = `${label}:`;
  const end = source.indexOf(marker) + marker.length;
  return origin + assemble(source.slice(0, end), { bitness, origin }).length;
}

/** Index of the first byte where the compared RAM differs, -1 when equal. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < COMPARED; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** What is compared of a machine: `words` 32-bit register halves (8 or 32), and what `extra` adds. */
export interface Shape {
  words: number;
  extra?: (m: Machine) => Record<string, unknown>;
}

export function state(m: Machine, exit: CpuExit, log: Logged[], shape: Shape) {
  const cpu = m.cpu;
  return {
    exit,
    regs: Array.from(cpu.regs.u32.subarray(0, shape.words), (v) => v.toString(16)),
    ip: cpu.regs.ip.toString(16),
    flags: cpu.eflags.toString(16),
    instructions: cpu.instructions,
    cr2: cpu.ctrl.cr2,
    lastVector: cpu.lastVector,
    halted: cpu.halted,
    ...shape.extra?.(m),
    events: log.slice(),
  };
}
export type State = ReturnType<typeof state>;

export interface Pair {
  /** Interpreter only. */
  slow: Machine;
  /** Compiling tier on. */
  fast: Machine;
  log: Map<Machine, Logged[]>;
  shape: Shape;
}

/** Two machines made by `make` (see `loggedMachine`), the first interpreting only. */
export function pairOf(shape: Shape, make: (events: CpuEvents, m: () => Machine) => Machine): Pair {
  const log = new Map<Machine, Logged[]>();
  const one = (compiling: boolean): Machine => {
    const events: Logged[] = [];
    const m = loggedMachine(events, compiling, make);
    log.set(m, events);
    return m;
  };
  return { slow: one(false), fast: one(true), log, shape };
}

/** Runs both machines for `budget` instructions and insists on the same outcome. */
export function runBoth(p: Pair, budget: number, label = ''): State {
  const a = state(p.slow, p.slow.run(budget), p.log.get(p.slow)!, p.shape);
  const b = state(p.fast, p.fast.run(budget), p.log.get(p.fast)!, p.shape);
  expect(b, label).toEqual(a);
  expect(firstDifference(p.fast.ram, p.slow.ram), `${label}: first RAM byte that differs`).toBe(-1);
  return a;
}

/** Runs both machines to HLT (within 100,000 instructions) and insists on the same outcome. */
export function runToHlt(p: Pair): State {
  const s = runBoth(p, 100_000);
  expect(s.exit).toBe(CpuExit.Hlt);
  return s;
}

/** Budgets that stop a 4-instruction self-loop after 1, 2 and 3 of its instructions, and after whole rounds. */
const BUDGETS = [HOT_RUNS * 4 + 3, 1, 2, 401, 7, 4, 1000, 3, 6, 5];

/** Runs both machines in steps of `BUDGETS`, each ending on the budget; returns the instructions run. */
export function runInBudgets(p: Pair): number {
  let total = 0;
  for (const n of BUDGETS) {
    const s = runBoth(p, n, `budget ${n}`);
    total += n;
    expect(s.exit).toBe(CpuExit.Budget);
    expect(s.instructions).toBe(total);
  }
  expect(p.fast.cpu.blocks.compiled).toBeGreaterThan(0);
  return total;
}

/**
 * The self-modifying loop: ECX sums an immediate of 0x11111111 that a store patches to 0x22222222 when
 * the count is 20 (`patchTable` says where each round stores). What ECX holds at the end.
 */
export const PATCHED_SUM = ((ITERATIONS - 19) * 0x11111111 + 19 * 0x22222222) >>> 0;

/** Entries of `stride` bytes at `table`: the address each round stores to, `imm` for round 20 else DATA. */
export function patchTable(p: Pair, table: number, stride: number, imm: number): void {
  for (const m of [p.slow, p.fast])
    for (let i = 0; i <= ITERATIONS; i++) m.memory.write32(table + i * stride, i === 20 ? imm : DATA);
}

/** Linear pages 0x300 and 0x301 map to frames that are not adjacent (nor identity). */
export const CROSSING_FRAMES: readonly (readonly [page: number, frame: number])[] = [
  [0x300, 0x380],
  [0x301, 0x250],
];

/** Known words at the end of the first frame and the start of the second. */
export function seedCrossingFrames(m: Machine): void {
  m.memory.write32(0x380ffc, 0x44332211);
  m.memory.write32(0x250000, 0x88776655);
}

/** The frames around both halves agree (a crossing access handled as one page would touch 0x381000). */
export function expectCrossingFramesAgree(p: Pair): void {
  for (const start of [0x380ff0, 0x24fff0])
    for (let at = start; at < start + 0x20; at += 4)
      expect(p.fast.memory.read32(at), at.toString(16)).toBe(p.slow.memory.read32(at));
  expect(p.fast.memory.read32(0x250000)).not.toBe(0x88776655);
}

/** Has `b`'s compiled code (when it has some) call `counted` each time it runs. */
function countRuns(b: Block, counted: () => void): void {
  const run = b.run;
  if (run !== null)
    b.run = (cpu, list, handlers, budget, block) => {
      counted();
      return run(cpu, list, handlers, budget, block);
    };
}

/** Compiles the block at the machine's IP now, its runs counted by `counted`. */
export function compileCounted(m: Machine, counted: () => void): void {
  const b = m.cpu.blocks.lookup();
  m.cpu.blocks.compile(b);
  countRuns(b, counted);
}

/** Drops the blocks and the state of the last run (halted, retired count, last vector, CR2). */
export function resetCpu(m: Machine): void {
  const cpu = m.cpu;
  cpu.blocks.flush();
  cpu.halted = false;
  cpu.instructions = 0;
  cpu.lastVector = -1;
  cpu.ctrl.cr2 = 0;
}

/** Fills RAM from `DATA - 0x10` up to `end` with bytes of a generator seeded with `seed`. */
export function fillData(m: Machine, seed: number, end: number): void {
  let s = seed >>> 0;
  for (let i = DATA - 0x10; i < end; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    m.ram[i] = s >>> 24;
  }
}

// ------------------------------------------------------------------ random blocks

export type Pick = <T>(list: readonly T[]) => T;
/** An instruction template: picks its operands from lists. */
export type Form = (p: Pick) => string;

/** The fields of a random case that say its program (with `pre`, an index into the flag sources). */
export function blockFields(forms: readonly Form[]) {
  const picks = fc.array(fc.nat(), { minLength: 4, maxLength: 4 });
  return {
    body: fc.array(fc.tuple(fc.nat({ max: forms.length - 1 }), picks), { minLength: 1, maxLength: 12 }),
    jcc: fc.nat({ max: JCC.length - 1 }),
    /** The branch goes back to the block's own start (self-loop) or through another block. */
    selfLoop: fc.boolean(),
  };
}

/** The fields of a random case after the registers: the flags, the data's seed and the budget. */
export function runFields() {
  return {
    eflags: fc.nat({ max: 0xfff }),
    seed: fc.nat(),
    budget: fc.integer({ min: 1, max: 400 }),
  };
}

export interface BlockCase {
  body: [number, number[]][];
  jcc: number;
  selfLoop: boolean;
  pre: number;
  budget: number;
}

/** The program of a case: a flag producer, a jump to `top`, the body and the Jcc to `top` or through `away`. */
export function program(
  forms: readonly Form[],
  flagSources: readonly string[],
  c: BlockCase,
): { source: string; body: string[] } {
  const body = c.body.map(([form, p]) => {
    let k = 0;
    const pick: Pick = (list) => list[p[k++ % p.length]! % list.length]!;
    return forms[form]!(pick);
  });
  const source = [
    flagSources[c.pre]!,
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

/**
 * Runs a case on both machines of `[slow, fast]` after `load` put it there, with every block of the
 * program (at `origin`, `top` and `away`) compiled before it first runs; the loop's block counts its
 * compiled runs. Insists on the same state and RAM, and that the loop ran compiled whenever the budget
 * let it run whole after the 2-instruction first block (which cannot fault). Returns both states and
 * how often the loop ran compiled on the fast machine.
 */
export function runCase(
  machines: readonly [Machine, Machine],
  logs: Map<Machine, Logged[]>,
  shape: Shape,
  run: {
    load: (m: Machine) => void;
    origin: number;
    top: number;
    away: number;
    budget: number;
    label: string;
  },
): { states: State[]; calls: number } {
  const out = machines.map((m) => {
    logs.get(m)!.length = 0;
    run.load(m);
    let calls = 0;
    let count = 0;
    for (const ip of [run.origin, run.top, run.away]) {
      m.cpu.regs.ip = ip;
      const b = m.cpu.blocks.lookup();
      m.cpu.blocks.compile(b);
      if (ip !== run.top) continue;
      count = b.count;
      countRuns(b, () => calls++);
    }
    m.cpu.regs.ip = run.origin;
    const exit = m.run(run.budget);
    return { state: state(m, exit, logs.get(m)!, shape), calls, count };
  });
  const [slow, fast] = machines;
  expect(out[1]!.state, run.label).toEqual(out[0]!.state);
  expect(firstDifference(fast.ram, slow.ram), `${run.label}: first RAM byte that differs`).toBe(-1);
  expect(out[0]!.calls).toBe(0);
  if (run.budget >= 2 + out[1]!.count) expect(out[1]!.calls, run.label).toBeGreaterThan(0);
  return { states: out.map((o) => o.state), calls: out[1]!.calls };
}

/** The block of the Jcc test: `producer`, the Jcc to `taken`; EDI says which way it went. */
function jccSource(producer: string, jcc: string): string {
  return `${producer}\n${jcc} taken\nmov edi, 1\nhlt\ntaken:\nmov edi, 2\nhlt`;
}

/** How the Jcc test sets up and reads a machine for one pair of values `a`, `b`. */
export interface JccRig<V> {
  bitness: 32 | 64;
  origin: number;
  /** Flag producers: each is a block with every Jcc. */
  producers: readonly string[];
  values: readonly V[];
  /** After the block is loaded (blocks dropped), before it is compiled. */
  prepare?: (m: Machine) => void;
  /** Registers and memory for `a` and `b` (the registers are zero before). */
  setup: (m: Machine, a: V, b: V) => void;
  /** The registers compared besides IP, flags and the retired count (EAX, EDI at least). */
  regs: (cpu: Cpu) => string;
  /** `a` and `b` in the failure's label. */
  describe: (a: V, b: V) => string;
}

/**
 * Every Jcc after every producer, from every pair of values and with the flags clear and set, takes
 * the branch the interpreter takes on `[slow, fast]`; each block runs compiled on the fast machine.
 */
export function expectJccAgreement<V>(machines: readonly [Machine, Machine], rig: JccRig<V>): void {
  let compiledRuns = 0;
  for (const producer of rig.producers) {
    for (const jcc of JCC) {
      const code = assemble(jccSource(producer, jcc), { bitness: rig.bitness, origin: rig.origin });
      let calls = 0;
      for (const m of machines) {
        m.ram.set(code, rig.origin);
        m.cpu.blocks.flush();
        rig.prepare?.(m);
        m.cpu.regs.ip = rig.origin;
        compileCounted(m, () => calls++);
      }
      for (const a of rig.values) {
        for (const b of rig.values) {
          for (const flags of [0, 0x8d5]) {
            const out = machines.map((m) => {
              const cpu = m.cpu;
              cpu.halted = false;
              cpu.instructions = 0;
              cpu.regs.r32.fill(0);
              rig.setup(m, a, b);
              cpu.regs.ip = rig.origin;
              cpu.eflags = EFLAGS.FIXED1 | flags;
              const exit = cpu.run(10);
              return `${exit} ${rig.regs(cpu)} ${cpu.regs.ip} ${cpu.eflags} ${cpu.instructions}`;
            });
            if (out[0] !== out[1])
              expect(
                out[1],
                `${producer}; ${jcc} with ${rig.describe(a, b)} flags=${flags.toString(16)}`,
              ).toBe(out[0]);
          }
        }
      }
      compiledRuns += calls;
    }
  }
  expect(compiledRuns).toBe(rig.producers.length * JCC.length * rig.values.length ** 2 * 2);
}
