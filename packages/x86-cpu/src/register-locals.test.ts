import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { registerLocals } from './register-locals.js';

/**
 * Runs a block body (statements over the register views, as `BlockWriter` writes them) on a fresh
 * register file. `cpu.startIp = ` marks a slow path, which snapshots the register file there (what a
 * fault or a device would see); `h[k](cpu, l[k], _b.ops, 0)` is a handler call that rewrites a word.
 */
function run(body: readonly string[], prologue: readonly string[], start: Int32Array) {
  const buffer = new ArrayBuffer(64);
  const r32 = new Int32Array(buffer);
  r32.set(start);
  const seen: number[][] = [];
  const cpu = {
    set startIp(_v: number) {
      seen.push([...r32]);
    },
  };
  // Segment access bits (`sacc`), which only handlers change.
  const sacc = new Uint16Array([0x13, 0x9, 0xa, 0xb]);
  const h = [
    (_cpu: unknown, k: number) => {
      r32[k & 7] = (r32[k & 7]! * 31 + 7) | 0;
      sacc[k & 3] = sacc[k & 3]! ^ (k + 1);
    },
  ];
  const l = [0, 1, 2, 3, 4, 5, 6, 7];
  const fn = new Function(
    'cpu',
    'h',
    'l',
    'r32',
    'u32',
    'r16',
    'r8',
    'sacc',
    '_b',
    `${prologue.join('\n')}\n${body.join('\n')}`,
  );
  const result = fn(
    cpu,
    h,
    l,
    r32,
    new Uint32Array(buffer),
    new Uint16Array(buffer),
    new Uint8Array(buffer),
    sacc,
    { ops: new Int32Array(0) },
  );
  return { result, regs: [...r32], seen };
}

const word = fc.integer({ min: 0, max: 7 });
/** A read through any view, as the writer writes them. */
const read = fc.oneof(
  word.map((n) => `r32[${n}]`),
  word.map((n) => `u32[${n}]`),
  fc.integer({ min: 0, max: 15 }).map((n) => `r16[${n}]`),
  fc.integer({ min: 0, max: 31 }).map((n) => `r8[${n}]`),
  fc.integer({ min: 0, max: 3 }).map((n) => `sacc[${n}]`),
);
const value = fc.oneof(
  read,
  fc.integer().map(String),
  fc.tuple(read, read).map(([a, b]) => `((${a} + ${b}) >>> 0)`),
  fc.tuple(read, fc.integer({ min: 0, max: 31 })).map(([a, s]) => `(${a} << ${s})`),
);
const statement = fc.oneof(
  fc.tuple(word, value).map(([n, v]) => `r32[${n}] = ${v};`),
  fc.tuple(fc.integer({ min: 0, max: 15 }), value).map(([n, v]) => `r16[${n}] = ${v};`),
  fc.tuple(fc.integer({ min: 0, max: 31 }), value).map(([n, v]) => `r8[${n}] = ${v};`),
  fc.tuple(word, value).map(([n, v]) => `if ((${v} & 1) === 1) { r32[${n}] = ${v}; }`),
  value.map((v) => `{ cpu.startIp = 5; const t = ${v}; }`),
  word.map((k) => `cpu.startIp = 1; h[0](cpu, l[${k}], _b.ops, 0);`),
  value.map((v) => `if ((${v} & 7) === 0) return null;`),
);

describe('registerLocals', () => {
  it('leaves the register file, and what every slow path and handler sees, as the plain code does', () => {
    fc.assert(
      fc.property(
        fc.array(statement, { minLength: 1, maxLength: 24 }),
        fc.array(fc.integer(), { minLength: 8, maxLength: 8 }),
        (body, regs) => {
          const start = Int32Array.from(regs);
          // Twice round, as a self-looping block goes; every path ends in a return, as the writer's do.
          const whole = ['for (let round = 0; round < 2; round++) {', ...body, '}', "return 'end';"];
          const local = registerLocals(whole, 8);
          expect(run(local.body, local.prologue, start)).toEqual(run(whole, [], start));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('keeps every word the body uses in a local, whatever view reaches it', () => {
    const { prologue, body } = registerLocals(['r32[1] = (u32[0] + r8[9]) >>> 0;', 'r16[6] = r8[13];'], 8);
    expect(prologue).toEqual(['let e0 = r32[0], e1 = r32[1], e2 = r32[2], e3 = r32[3];']);
    expect(body.join('\n')).not.toMatch(/r32|u32|r16|r8/);
  });

  it('stores written words back in front of each slow path and return, and reloads after handlers', () => {
    const { body } = registerLocals(
      ['r32[2] = r32[1];', 'cpu.startIp = 9; h[0](cpu, l[0], _b.ops, 0);', 'return null;'],
      8,
    );
    expect(body).toEqual([
      'e2 = (e1) | 0;',
      'r32[2] = e2; cpu.startIp = 9; h[0](cpu, l[0], _b.ops, 0); e1 = r32[1]; e2 = r32[2];',
      '{ r32[2] = e2; return null; }',
    ]);
  });

  it('keeps segment access bits in locals, loaded again after handler calls', () => {
    const { prologue, body } = registerLocals(
      ['r32[0] = sacc[3];', 'h[0](cpu, l[0], _b.ops, 0);', 'r32[1] = sacc[3];'],
      8,
    );
    expect(prologue).toEqual(['let e0 = r32[0], e1 = r32[1];', 'let sa3 = sacc[3];']);
    expect(body).toEqual([
      'e0 = (sa3) | 0;',
      'h[0](cpu, l[0], _b.ops, 0); sa3 = sacc[3]; e0 = r32[0]; e1 = r32[1];',
      'e1 = (sa3) | 0;',
    ]);
  });

  it('leaves words at or above the bound (64-bit high halves) and computed indices in the register file', () => {
    expect(registerLocals(['r32[17] = r32[1];'], 8).prologue).toEqual(['let e1 = r32[1];']);
    const computed = ['r32[i] = r32[1];'];
    expect(registerLocals(computed, 8)).toEqual({ prologue: [], body: computed });
  });
});
