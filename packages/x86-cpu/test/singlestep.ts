/**
 * Runner for the SingleStepTests 80286 real-mode vectors (testdata/singlestep-80286, see its README).
 * Loads a test's registers and memory into a real-mode CPU, runs until the CPU executes the trailing
 * HLT, and compares registers, flags (with the undefined-flag masks) and memory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GuestMemory } from '@typevisor/memory';
import { Cpu, CpuExit, Seg } from '../src/index.js';

export const DATA_DIR = join(import.meta.dirname, '..', 'testdata', 'singlestep-80286');

type Regs = Record<string, number>;
export interface SingleStepTest {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Regs; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

interface MetaEntry {
  status?: string;
  'flags-mask'?: number;
  reg?: Record<string, MetaEntry>;
}

const metadata = JSON.parse(readFileSync(join(DATA_DIR, 'metadata.json'), 'utf8')) as {
  opcodes: Record<string, MetaEntry>;
};

/** All form names present, in file order. */
export function forms(): string[] {
  return readdirSync(DATA_DIR)
    .filter((f) => f.endsWith('.json.gz'))
    .map((f) => f.slice(0, -'.json.gz'.length))
    .sort();
}

export function loadForm(form: string): SingleStepTest[] {
  return JSON.parse(
    gunzipSync(readFileSync(join(DATA_DIR, `${form}.json.gz`))).toString('utf8'),
  ) as SingleStepTest[];
}

/** The undefined-flags AND mask of a form (0xFFFF when the metadata gives none). */
export function flagsMask(form: string): number {
  const [op, reg] = form.split('.') as [string, string | undefined];
  const e = metadata.opcodes[op];
  const entry = reg !== undefined ? e?.reg?.[reg] : e;
  return entry?.['flags-mask'] ?? 0xffff;
}

const REG_ORDER = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] as const;
const SEG_ORDER: [string, number][] = [
  ['es', Seg.ES],
  ['cs', Seg.CS],
  ['ss', Seg.SS],
  ['ds', Seg.DS],
];

/** Why a test failed, for the results table. */
export interface Failure {
  form: string;
  idx: number;
  name: string;
  detail: string;
  /** Every field that differed: register names, 'flags', 'mem', 'exit'. */
  fields: string[];
  /** First vector our CPU delivered (-1 none). */
  ourVector: number;
}

/** One CPU and memory reused for every test. */
export class SingleStepHarness {
  readonly memory = GuestMemory.create(0x120000);
  /** Vectors delivered during the current test, in order. */
  readonly vectors: number[] = [];
  readonly cpu = new Cpu(this.memory, { events: { delivered: (_k, v) => this.vectors.push(v) } });
  private readonly ram = this.memory.regions()[0]!.bytes;

  /** Runs one test; returns null when it passes, else a description of the first mismatch. */
  run(form: string, t: SingleStepTest): Failure | null {
    const cpu = this.cpu;
    const ram = this.ram;
    for (const [a, v] of t.initial.ram) ram[a] = v;
    cpu.reset();
    const r = cpu.regs;
    const ir = t.initial.regs;
    REG_ORDER.forEach((name, i) => {
      r.r32[i] = ir[name]!;
    });
    for (const [name, seg] of SEG_ORDER) {
      const sel = ir[name]!;
      cpu.segs.set(seg, sel, sel << 4, 0xffff, 0x93);
    }
    r.ip = ir.ip!;
    cpu.eflags = ir.flags! & 0x0fff;
    this.vectors.length = 0;
    const exit = cpu.run(2000);
    const mismatches: string[] = [];
    const fields: string[] = [];
    const miss = (field: string, detail: string): void => {
      fields.push(field);
      mismatches.push(detail);
    };
    try {
      if (exit !== CpuExit.Hlt) miss('exit', `exit ${exit} instead of HLT`);
      const expected: Regs = { ...ir, ...t.final.regs };
      const mask = flagsMask(form) & (form === '9D' || form === 'CF' ? 0x0fff : 0xffff);
      for (const [i, name] of REG_ORDER.entries()) {
        const got = r.r16[i * 2]!;
        if (got !== expected[name]) miss(name, `${name}=${hex(got)} want ${hex(expected[name]!)}`);
      }
      for (const [name, seg] of SEG_ORDER) {
        const got = cpu.segs.selector[seg]!;
        if (got !== expected[name]) miss(name, `${name}=${hex(got)} want ${hex(expected[name]!)}`);
      }
      if ((r.ip & 0xffff) !== expected.ip) miss('ip', `ip=${hex(r.ip)} want ${hex(expected.ip!)}`);
      const flags = cpu.eflags & 0xffff;
      if ((flags & mask) !== (expected.flags! & mask)) {
        miss('flags', `flags=${hex(flags)} want ${hex(expected.flags!)} (mask ${hex(mask)})`);
      }
      // Memory: final bytes, and untouched initial bytes; the pushed FLAGS of an exception frame is masked.
      const maskedFlagBytes = new Map<number, number>();
      if (t.exception) {
        const ss = expected.ss!;
        const sp = expected.sp!;
        const lo = ss * 16 + ((sp + 4) & 0xffff);
        const hi = ss * 16 + ((sp + 5) & 0xffff);
        maskedFlagBytes.set(lo, mask & 0xff);
        maskedFlagBytes.set(hi, mask >>> 8);
      }
      const want = new Map<number, number>();
      for (const [a, v] of t.initial.ram) want.set(a, v);
      for (const [a, v] of t.final.ram) want.set(a, v);
      for (const [a, v] of want) {
        const m = maskedFlagBytes.get(a) ?? 0xff;
        if ((ram[a]! & m) !== (v & m)) miss('mem', `mem[${hex(a)}]=${hex(ram[a]!)} want ${hex(v)}`);
      }
      if (mismatches.length === 0) return null;
      return {
        form,
        idx: t.idx,
        name: t.name,
        detail: mismatches.join(', '),
        fields,
        ourVector: this.vectors[0] ?? -1,
      };
    } finally {
      for (const [a] of t.initial.ram) ram[a] = 0;
      for (const [a] of t.final.ram) ram[a] = 0;
      this.scrubStack(t);
    }
  }

  /** Clears the bytes a wrong run may have pushed near the stack top, so the next test starts clean. */
  private scrubStack(t: SingleStepTest): void {
    const base = t.initial.regs.ss! * 16;
    const sp = t.initial.regs.sp!;
    for (let d = -16; d < 16; d++) this.ram[base + ((sp + d) & 0xffff)] = 0;
  }
}

/** Documented 80286-vs-P6 differences (testdata README, "286 vs 8086 vs 386+") that explain a failure. */
export const Difference = {
  /** LOCK on a non-lockable instruction or register destination: #UD on 386+, accepted by the 286. */
  Lock: 'LOCK prefix: #UD on P6, ignored by the 286',
  /** 11-15-byte instructions: the 286 raises #GP (10-byte limit); P6 executes them. */
  Length: 'instruction longer than 10 bytes: #GP on the 286 only',
  /** SS-relative word at offset FFFF: #SS (12) on P6, #GP (13) on the 286. */
  StackFault: 'stack-segment limit fault: #SS on P6, #GP on the 286',
  /** 8C/8E with reg 4/5: FS/GS on 386+, #UD on the 286. */
  FsGs: 'MOV to/from FS/GS: valid on P6, #UD on the 286',
  /** String word access at FFFF: the 286 has already stepped SI/DI when it faults; P6 faults restartably. */
  StringFault: 'string operand at offset FFFF: the 286 updates SI/DI before #GP; P6 leaves them',
} as const;
export type Difference = (typeof Difference)[keyof typeof Difference];

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0xf0, 0xf2, 0xf3]);
const STRING_FORMS = new Set([
  '6C',
  '6D',
  '6E',
  '6F',
  'A4',
  'A5',
  'A6',
  'A7',
  'AA',
  'AB',
  'AC',
  'AD',
  'AE',
  'AF',
]);

/** The documented difference that explains a failed test, or null when none does. */
export function explain(f: Failure, t: SingleStepTest): Difference | null {
  const body = t.bytes.slice(0, -1);
  let i = 0;
  let lock = false;
  while (i < body.length && PREFIXES.has(body[i]!)) {
    if (body[i] === 0xf0) lock = true;
    i++;
  }
  const op = f.form.split('.')[0]!;
  const modrmReg = ((body[i + 1] ?? 0) >>> 3) & 7;
  if (lock && f.ourVector === 6 && t.exception?.number !== 6) return Difference.Lock;
  if (body.length > 10 && t.exception?.number === 13) return Difference.Length;
  if (t.exception?.number === 13 && f.ourVector === 12) return Difference.StackFault;
  if ((op === '8C' || op === '8E') && (modrmReg === 4 || modrmReg === 5)) return Difference.FsGs;
  if (
    STRING_FORMS.has(op) &&
    t.exception?.number === 13 &&
    f.ourVector === 13 &&
    f.fields.every((x) => x === 'si' || x === 'di' || x === 'cx')
  ) {
    return Difference.StringFault;
  }
  return null;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
