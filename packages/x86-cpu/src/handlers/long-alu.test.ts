import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reg64 } from '../../test/long-machine.js';
import { longRunner, RAX, RBP, RBX, RCX, RDI, RDX, STATUS } from '../../test/long-runner.js';
import type { Machine } from '../../test/machine.js';
import { EFLAGS as F, Vector } from '../index.js';
import { divWide, mulWide, WIDE } from './long-alu.js';

const M64 = (1n << 64n) - 1n;
const SIGN = 1n << 63n;
const MEM = 0x3000;

const EDGES = [
  0n,
  1n,
  2n,
  M64,
  SIGN,
  SIGN - 1n,
  SIGN + 1n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x8000_0000n,
  0x7fff_ffffn,
];
const u64 = fc.oneof(fc.constantFrom(...EDGES), fc.bigInt({ min: 0n, max: M64 }));
const statusIn = fc.integer({ min: 0, max: 0xfff }).map((v) => v & STATUS);

const s64 = (v: bigint) => BigInt.asIntN(64, v);
const msb = (v: bigint) => Number((v >> 63n) & 1n);
const bit = (v: bigint, i: number | bigint) => Number((v >> BigInt(i)) & 1n);

/** PF, ZF and SF of a 64-bit result. */
function szp(r: bigint): number {
  let ones = 0;
  for (let i = 0; i < 8; i++) ones += bit(r, i);
  return (ones % 2 === 0 ? F.PF : 0) | (r === 0n ? F.ZF : 0) | (msb(r) ? F.SF : 0);
}

/** Runs `source` then HLT in 64-bit mode, reusing one machine until an instruction faults. */
const runner = (source: string) => longRunner(source);

function readQ(m: Machine, a: number): bigint {
  const view = new DataView(m.ram.buffer, m.ram.byteOffset);
  return view.getBigUint64(a, true);
}

// ------------------------------------------------------------------ reference models (BigInt)

type Alu = 'add' | 'or' | 'adc' | 'sbb' | 'and' | 'sub' | 'xor' | 'cmp';

/** Result and status flags of a 64-bit ALU operation (SDM "ADD" .. "XOR"). */
function aluRef(op: Alu, d: bigint, s: bigint, cfIn: number): { r: bigint; flags: number } {
  const c = BigInt(cfIn);
  let r: bigint;
  let cf = 0;
  let of = 0;
  let af = 0;
  switch (op) {
    case 'add':
    case 'adc': {
      const cin = op === 'adc' ? c : 0n;
      const full = d + s + cin;
      r = full & M64;
      cf = full > M64 ? 1 : 0;
      of = msb(~(d ^ s) & (d ^ r));
      af = bit(d ^ s ^ r, 4);
      break;
    }
    case 'sub':
    case 'sbb':
    case 'cmp': {
      const cin = op === 'sbb' ? c : 0n;
      const full = d - s - cin;
      r = BigInt.asUintN(64, full);
      cf = full < 0n ? 1 : 0;
      of = msb((d ^ s) & (d ^ r));
      af = bit(d ^ s ^ r, 4);
      break;
    }
    case 'or':
      r = d | s;
      break;
    case 'and':
      r = d & s;
      break;
    default:
      r = d ^ s;
  }
  return { r, flags: cf | (af ? F.AF : 0) | (of ? F.OF : 0) | szp(r) };
}

type Shift = 'rol' | 'ror' | 'rcl' | 'rcr' | 'shl' | 'shr' | 'sar';

/**
 * A 64-bit shift/rotate step by step (SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"), with the choices
 * shift.ts makes for its 32-bit forms where the SDM leaves a flag undefined: OF from the last step
 * (SHL, rotates), 0 for SHR by more than 1 and for SAR, AF cleared. Returns the flags it changes.
 */
function shiftRef(op: Shift, d: bigint, count: number, flagsIn: number): { r: bigint; flags: number } {
  const c = count & 63;
  if (c === 0) return { r: d, flags: flagsIn & STATUS };
  let r = d;
  let cf = flagsIn & F.CF;
  for (let i = 0; i < c; i++) {
    switch (op) {
      case 'rol':
        cf = msb(r);
        r = ((r << 1n) & M64) | BigInt(cf);
        break;
      case 'ror':
        cf = bit(r, 0);
        r = (r >> 1n) | (BigInt(cf) << 63n);
        break;
      case 'rcl': {
        const out = msb(r);
        r = ((r << 1n) & M64) | BigInt(cf);
        cf = out;
        break;
      }
      case 'rcr': {
        const out = bit(r, 0);
        r = (r >> 1n) | (BigInt(cf) << 63n);
        cf = out;
        break;
      }
      case 'shl':
        cf = msb(r);
        r = (r << 1n) & M64;
        break;
      case 'shr':
        cf = bit(r, 0);
        r >>= 1n;
        break;
      default:
        cf = bit(r, 0);
        r = BigInt.asUintN(64, s64(r) >> 1n);
    }
  }
  let of: number;
  if (op === 'rol' || op === 'rcl' || op === 'shl') of = msb(r) ^ cf;
  else if (op === 'ror' || op === 'rcr') of = msb(r) ^ bit(r, 62);
  else if (op === 'shr') of = c === 1 ? msb(d) : 0;
  else of = 0;
  const oc = cf | (of ? F.OF : 0);
  if (op.startsWith('r')) return { r, flags: (flagsIn & STATUS & ~(F.CF | F.OF)) | oc };
  return { r, flags: oc | szp(r) };
}

// ------------------------------------------------------------------ tests

describe('128-bit multiply and divide on halves (no BigInt)', () => {
  const halves = (v: bigint): [number, number] => [Number(v & 0xffff_ffffn), Number(v >> 32n)];
  const wide = (): bigint =>
    (BigInt(WIDE[3]!) << 96n) | (BigInt(WIDE[2]!) << 64n) | (BigInt(WIDE[1]!) << 32n) | BigInt(WIDE[0]!);

  it('property: mulWide gives the exact unsigned and signed 128-bit product', () => {
    fc.assert(
      fc.property(u64, u64, (a, b) => {
        const [aLo, aHi] = halves(a);
        const [bLo, bHi] = halves(b);
        mulWide(aLo, aHi, bLo, bHi, false);
        expect(wide()).toBe(a * b);
        mulWide(aLo, aHi, bLo, bHi, true);
        expect(wide()).toBe(BigInt.asUintN(128, s64(a) * s64(b)));
        mulWide(aLo | 0, aHi | 0, bLo | 0, bHi | 0, true); // the handlers pass int32 halves
        expect(wide()).toBe(BigInt.asUintN(128, s64(a) * s64(b)));
      }),
      { numRuns: 20_000 },
    );
  });

  /** Divisors around the two algorithms' boundary (2^36) and the edges. */
  const divisor = fc.oneof(
    u64.filter((d) => d !== 0n),
    fc.bigInt({ min: 1n, max: (1n << 36n) + 5n }),
    fc.constantFrom((1n << 36n) - 1n, 1n << 36n, (1n << 36n) + 1n, 3n, 10n, 1_000_000_000n),
  );

  it('property: divWide gives the exact quotient and remainder of a 128-by-64 division', () => {
    fc.assert(
      fc.property(u64, u64, divisor, (hiSeed, lo, d) => {
        const hi = hiSeed % d; // the precondition: the quotient fits 64 bits
        const n = (hi << 64n) | lo;
        const [n0, n1] = halves(lo);
        const [n2, n3] = halves(hi);
        const [dLo, dHi] = halves(d);
        divWide(n0, n1, n2, n3, dLo, dHi);
        expect(wide()).toBe(((n % d) << 64n) | (n / d));
        divWide(n0 | 0, n1 | 0, n2 | 0, n3 | 0, dLo | 0, dHi | 0);
        expect(wide()).toBe(((n % d) << 64n) | (n / d));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('64-bit ALU group', () => {
  const ops: Alu[] = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

  it('property: every op on r64, r64 matches the reference in RAX and RFLAGS, for any carry-in', () => {
    const runs = ops.map((op) => [op, runner(`${op} rax, rbx`)] as const);
    fc.assert(
      fc.property(u64, u64, statusIn, (d, s, flags) => {
        for (const [op, run] of runs) {
          const { cpu } = run(
            [
              [RAX, d],
              [RBX, s],
            ],
            flags,
          );
          const ref = aluRef(op, d, s, flags & F.CF);
          expect(reg64(cpu, RAX)).toBe(op === 'cmp' ? d : ref.r);
          expect(cpu.eflags & STATUS).toBe(ref.flags);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('property: sign-extended imm8/imm32, RAX,imm32, r64,[mem] and [mem],r64 forms', () => {
    const cases = [
      ['sub rcx, -1', 'sub', -1n, RCX],
      ['add rcx, 0x7f', 'add', 0x7fn, RCX],
      ['and rcx, -0x80000000', 'and', -0x8000_0000n, RCX],
      ['adc rax, 0x12345678', 'adc', 0x1234_5678n, RAX],
      ['sbb rax, -2', 'sbb', -2n, RAX],
      ['cmp rax, -0x7fffffff', 'cmp', -0x7fff_ffffn, RAX],
      ['xor rcx, 0x7fffffff', 'xor', 0x7fff_ffffn, RCX],
      ['or rcx, -3', 'or', -3n, RCX],
    ] as const;
    const runs = cases.map(([src, op, imm, reg]) => [runner(src), op, BigInt.asUintN(64, imm), reg] as const);
    const memLoad = runner(`add rcx, [${MEM}]`);
    const memStore = runner('sbb qword [rbx], rcx');
    fc.assert(
      fc.property(u64, u64, statusIn, (d, s, flags) => {
        for (const [run, op, imm, reg] of runs) {
          const { cpu } = run([[reg, d]], flags);
          const ref = aluRef(op, d, imm, flags & F.CF);
          expect(reg64(cpu, reg)).toBe(op === 'cmp' ? d : ref.r);
          expect(cpu.eflags & STATUS).toBe(ref.flags);
        }
        const a = memLoad([[RCX, d]], flags, [[MEM, s]]);
        const refA = aluRef('add', d, s, 0);
        expect(reg64(a.cpu, RCX)).toBe(refA.r);
        expect(a.cpu.eflags & STATUS).toBe(refA.flags);
        const b = memStore(
          [
            [RCX, s],
            [RBX, BigInt(MEM)],
          ],
          flags,
          [[MEM, d]],
        );
        const refB = aluRef('sbb', d, s, flags & F.CF);
        expect(readQ(b.m, MEM)).toBe(refB.r);
        expect(b.cpu.eflags & STATUS).toBe(refB.flags);
      }),
      { numRuns: 1000 },
    );
  });

  it('add qword [rbx], rax through the high canonical alias, and LOCK forms behave the same', () => {
    const run = runner('lock xor qword [rbx + 8], rax\nadd qword [rbx], rax\nlock inc qword [rbx + 16]');
    const { m, cpu } = run(
      [
        [RAX, 0xffff_ffff_0000_0001n],
        [RBX, 0xffff_8000_0000_0000n + BigInt(MEM)],
      ],
      0,
      [
        [MEM, 0x0000_0001_ffff_ffffn],
        [MEM + 8, M64],
        [MEM + 16, SIGN - 1n],
      ],
    );
    expect(readQ(m, MEM)).toBe(0x0000_0001_0000_0000n);
    expect(readQ(m, MEM + 8)).toBe(0x0000_0000_ffff_fffen);
    expect(readQ(m, MEM + 16)).toBe(SIGN);
    expect(cpu.eflags & (F.OF | F.SF | F.CF)).toBe(F.OF | F.SF | F.CF); // CF kept from the ADD
  });

  it('property: TEST (r64, imm32, RAX imm32), INC/DEC keep CF, NEG, NOT', () => {
    const test = runner('test rax, rbx');
    const testImm = runner('test rcx, -0x10');
    const testRax = runner('test rax, 0x40000001');
    const inc = runner('inc rax');
    const dec = runner('dec rax');
    const neg = runner('neg rax');
    const not = runner('not rax');
    const logic = (r: bigint) => szp(r);
    fc.assert(
      fc.property(u64, u64, statusIn, (d, s, flags) => {
        const pair: [number, bigint][] = [
          [RAX, d],
          [RBX, s],
          [RCX, d],
        ];
        expect(test(pair, flags).cpu.eflags & STATUS).toBe(logic(d & s));
        expect(testImm(pair, flags).cpu.eflags & STATUS).toBe(logic(d & BigInt.asUintN(64, -0x10n)));
        expect(testRax(pair, flags).cpu.eflags & STATUS).toBe(logic(d & 0x4000_0001n));
        for (const [run, delta] of [
          [inc, 1n],
          [dec, -1n],
        ] as const) {
          const { cpu } = run(pair, flags);
          const ref = aluRef(delta > 0n ? 'add' : 'sub', d, 1n, 0);
          expect(reg64(cpu, RAX)).toBe(ref.r);
          expect(cpu.eflags & STATUS).toBe((ref.flags & ~F.CF) | (flags & F.CF));
        }
        const n = neg(pair, flags).cpu;
        const refN = aluRef('sub', 0n, d, 0);
        expect(reg64(n, RAX)).toBe(refN.r);
        expect(n.eflags & STATUS).toBe(refN.flags);
        const t = not(pair, flags).cpu;
        expect(reg64(t, RAX)).toBe(~d & M64);
        expect(t.eflags & STATUS).toBe(flags);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('64-bit shifts and rotates', () => {
  const ops: Shift[] = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar'];
  const count = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 31, 32, 33, 63, 64, 65));

  it('property: by CL (masked to 6 bits) in a register, with the flags of the 32-bit forms', () => {
    const runs = ops.map((op) => [op, runner(`${op} rax, cl`)] as const);
    fc.assert(
      fc.property(u64, count, statusIn, (d, c, flags) => {
        for (const [op, run] of runs) {
          const { cpu } = run(
            [
              [RAX, d],
              [RCX, BigInt(c)],
            ],
            flags,
          );
          const ref = shiftRef(op, d, c, flags);
          expect(reg64(cpu, RAX)).toBe(ref.r);
          expect(cpu.eflags & STATUS).toBe(ref.flags);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('property: by 1 and by imm8, on a memory operand', () => {
    const forms = ops.flatMap((op) => [
      [op, 1, runner(`${op} qword [rbx], 1`)] as const,
      [op, 7, runner(`${op} qword [rbx], 7`)] as const,
      [op, 100, runner(`${op} qword [rbx], 100`)] as const,
    ]);
    fc.assert(
      fc.property(u64, statusIn, (d, flags) => {
        for (const [op, c, run] of forms) {
          const { m, cpu } = run([[RBX, BigInt(MEM)]], flags, [[MEM, d]]);
          const ref = shiftRef(op, d, c, flags);
          expect(readQ(m, MEM)).toBe(ref.r);
          expect(cpu.eflags & STATUS).toBe(ref.flags);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: SHLD/SHRD r/m64, r64 by CL and imm8', () => {
    const shld = runner('shld rax, rbx, cl');
    const shrd = runner('shrd rax, rbx, cl');
    const shrdImm = runner('shrd qword [rdx], rbx, 37');
    const ref = (left: boolean, d: bigint, s: bigint, cnt: number, flags: number) => {
      const c = BigInt(cnt & 63);
      if (c === 0n) return { r: d, flags: flags & STATUS };
      const r = left ? ((d << c) | (s >> (64n - c))) & M64 : ((d >> c) | (s << (64n - c))) & M64;
      const cf = left ? bit(d, 64n - c) : bit(d, c - 1n);
      return { r, flags: cf | (msb(r ^ d) ? F.OF : 0) | szp(r) };
    };
    fc.assert(
      fc.property(u64, u64, count, statusIn, (d, s, c, flags) => {
        const regs: [number, bigint][] = [
          [RAX, d],
          [RBX, s],
          [RCX, BigInt(c)],
          [RDX, BigInt(MEM)],
        ];
        for (const [run, left] of [
          [shld, true],
          [shrd, false],
        ] as const) {
          const { cpu } = run(regs, flags);
          const want = ref(left, d, s, c, flags);
          expect(reg64(cpu, RAX)).toBe(want.r);
          expect(cpu.eflags & STATUS).toBe(want.flags);
        }
        const mem = shrdImm(regs, flags, [[MEM, d]]);
        const want = ref(false, d, s, 37, flags);
        expect(readQ(mem.m, MEM)).toBe(want.r);
        expect(mem.cpu.eflags & STATUS).toBe(want.flags);
      }),
      { numRuns: 1500 },
    );
  });

  it('a 32-bit shift by a masked count of 0 still zero-extends its register; the 64-bit one changes nothing', () => {
    const run = runner('shl eax, cl\nshld ebx, eax, cl\nror rdx, cl');
    const { cpu } = run(
      [
        [RAX, M64],
        [RBX, M64],
        [RCX, 64n],
        [RDX, M64],
      ],
      F.CF | F.OF,
    );
    expect(reg64(cpu, RAX)).toBe(0xffff_ffffn);
    expect(reg64(cpu, RBX)).toBe(0xffff_ffffn);
    expect(reg64(cpu, RDX)).toBe(M64);
    expect(cpu.eflags & STATUS).toBe(F.CF | F.OF);
  });
});

describe('64-bit multiply and divide', () => {
  it('property: MUL/IMUL r/m64 give RDX:RAX exactly; CF = OF = the high half is significant', () => {
    const mul = runner('mul rbx');
    const imul = runner(`imul qword [${MEM}]`);
    fc.assert(
      fc.property(u64, u64, statusIn, (a, b, flags) => {
        const regs: [number, bigint][] = [
          [RAX, a],
          [RBX, b],
        ];
        const u = mul(regs, flags).cpu;
        const p = a * b;
        expect(reg64(u, RAX)).toBe(p & M64);
        expect(reg64(u, RDX)).toBe(p >> 64n);
        expect(u.eflags & STATUS).toBe(szp(p & M64) | (p >> 64n !== 0n ? F.CF | F.OF : 0));
        const sgn = imul(regs, flags, [[MEM, b]]).cpu;
        const sp = s64(a) * s64(b);
        expect(reg64(sgn, RAX)).toBe(BigInt.asUintN(64, sp));
        expect(reg64(sgn, RDX)).toBe(BigInt.asUintN(64, sp >> 64n));
        const fits = BigInt.asIntN(64, sp) === sp;
        expect(sgn.eflags & STATUS).toBe(szp(BigInt.asUintN(64, sp)) | (fits ? 0 : F.CF | F.OF));
      }),
      { numRuns: 3000 },
    );
  });

  /** Any 64-bit value, or a sign-extended 32-bit one (the handler's exact-double path). */
  const factor = fc.oneof(
    u64,
    fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((v) => BigInt.asUintN(64, BigInt(v))),
    fc.constantFrom(1n << 26n, 1n << 27n, BigInt.asUintN(64, -(1n << 27n)), (1n << 27n) + 1n),
  );

  it('property: IMUL r64, r/m64 and r64, r/m64, imm8/imm32 truncate and flag signed overflow', () => {
    const two = runner('imul rax, rbx');
    const imm8 = runner('imul rcx, rbx, -3');
    const imm32 = runner('imul rcx, rbx, 0x12345678');
    fc.assert(
      fc.property(factor, factor, (a, b) => {
        const regs: [number, bigint][] = [
          [RAX, a],
          [RBX, b],
        ];
        for (const [run, x, dst] of [
          [two, s64(a), RAX],
          [imm8, -3n, RCX],
          [imm32, 0x1234_5678n, RCX],
        ] as const) {
          const { cpu } = run(regs);
          const sp = x * s64(b);
          const lo = BigInt.asUintN(64, sp);
          expect(reg64(cpu, dst)).toBe(lo);
          expect(cpu.eflags & (F.CF | F.OF)).toBe(BigInt.asIntN(64, sp) === sp ? 0 : F.CF | F.OF);
          expect(cpu.eflags & (F.SF | F.ZF | F.PF)).toBe(szp(lo));
        }
      }),
      { numRuns: 3000 },
    );
  });

  const divisor = fc.oneof(u64, fc.bigInt({ min: 0n, max: 1n << 40n }), fc.constantFrom(10n, M64, SIGN));
  /**
   * Dividends: mostly q * d + r built to fit (q, r random; r below d in magnitude), some with CQO's
   * sign-extended RDX, a few with any RDX (mostly #DE, each of which costs a new machine).
   */
  const dividend = (signed: boolean) =>
    fc
      .tuple(fc.integer({ min: 0, max: 9 }), u64, u64, u64, divisor)
      .map(([mode, a, b, c, d]): [bigint, bigint, bigint] => {
        const dd = signed ? s64(d) : d;
        if (mode < 6 && dd !== 0n) {
          const n = signed ? s64(a) * dd + (s64(b) % dd) : a * dd + (b % dd);
          return [BigInt.asUintN(64, n >> 64n), BigInt.asUintN(64, n), d];
        }
        if (mode < 8) return [signed && msb(b) ? M64 : 0n, b, d];
        return [c, b, d];
      });

  it('property: DIV r/m64 divides RDX:RAX exactly or raises #DE (zero divisor, quotient above 64 bits)', () => {
    const div = runner('div rbx');
    fc.assert(
      fc.property(dividend(false), statusIn, ([hi, lo, d], flags) => {
        const r = div(
          [
            [RDX, hi],
            [RAX, lo],
            [RBX, d],
          ],
          flags,
        );
        const n = (hi << 64n) | lo;
        if (d === 0n || n / d > M64) {
          expect(r.vector).toBe(Vector.DE);
          return;
        }
        expect(r.vector).toBeUndefined();
        expect(reg64(r.cpu, RAX)).toBe(n / d);
        expect(reg64(r.cpu, RDX)).toBe(n % d);
        expect(r.cpu.eflags & STATUS).toBe(flags);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: IDIV r/m64 truncates toward zero, the remainder takes the dividend sign, #DE on overflow', () => {
    const idiv = runner(`idiv qword [${MEM}]`);
    fc.assert(
      fc.property(dividend(true), ([hi, lo, d]) => {
        const r = idiv(
          [
            [RDX, hi],
            [RAX, lo],
          ],
          0,
          [[MEM, d]],
        );
        const n = BigInt.asIntN(128, (hi << 64n) | lo);
        const sd = s64(d);
        if (sd === 0n) {
          expect(r.vector).toBe(Vector.DE);
          return;
        }
        const q = n / sd; // BigInt division truncates toward zero
        if (q !== BigInt.asIntN(64, q)) {
          expect(r.vector).toBe(Vector.DE);
          return;
        }
        expect(r.vector).toBeUndefined();
        expect(reg64(r.cpu, RAX)).toBe(BigInt.asUintN(64, q));
        expect(reg64(r.cpu, RDX)).toBe(BigInt.asUintN(64, n % sd));
      }),
      { numRuns: 3000 },
    );
  });

  it('IDIV edge cases: -2^127 / -1 and -2^63 / -1 raise #DE; 2^63 / -1, -2^63 / 1 and -2^64 / 2 give -2^63', () => {
    const idiv = runner('idiv rbx');
    const at = (hi: bigint, lo: bigint, d: bigint) =>
      idiv([
        [RDX, hi],
        [RAX, lo],
        [RBX, d],
      ]);
    expect(at(SIGN, 0n, M64).vector).toBe(Vector.DE);
    expect(at(M64, SIGN, M64).vector).toBe(Vector.DE); // -2^63 / -1 = 2^63 does not fit
    const fits = at(0n, SIGN, M64); // 2^63 / -1 = -2^63 fits
    expect(reg64(fits.cpu, RAX)).toBe(SIGN);
    expect(reg64(fits.cpu, RDX)).toBe(0n);
    const a = at(M64, SIGN, 1n);
    expect(reg64(a.cpu, RAX)).toBe(SIGN);
    expect(reg64(a.cpu, RDX)).toBe(0n);
    const b = at(M64, 0n, 2n);
    expect(reg64(b.cpu, RAX)).toBe(SIGN);
    const c = at(M64, BigInt.asUintN(64, -7n), 2n);
    expect(reg64(c.cpu, RAX)).toBe(BigInt.asUintN(64, -3n));
    expect(reg64(c.cpu, RDX)).toBe(M64);
  });

  it('the 32-bit forms zero-extend: MUL/IMUL/DIV/IDIV r32 leave the upper halves of RAX and RDX 0', () => {
    for (const op of ['mul ecx', 'imul ecx', 'div ecx', 'idiv ecx']) {
      const { cpu, vector } = runner(op)([
        [RAX, 0xdead_beef_0000_0007n],
        [RDX, 0xdead_beef_0000_0000n],
        [RCX, 0xffff_ffff_0000_0002n],
      ]);
      expect(vector).toBeUndefined();
      expect(reg64(cpu, RAX) >> 32n).toBe(0n);
      expect(reg64(cpu, RDX) >> 32n).toBe(0n);
    }
    const { cpu } = runner('mul ecx')([
      [RAX, 0xffff_ffff_ffff_ffffn],
      [RDX, M64],
      [RCX, 0xffff_ffffn],
    ]);
    expect(reg64(cpu, RAX)).toBe(1n);
    expect(reg64(cpu, RDX)).toBe(0xffff_fffen);
  });
});

describe('64-bit bit test and scan', () => {
  const ops = ['bt', 'bts', 'btr', 'btc'] as const;
  const apply = (op: (typeof ops)[number], v: bigint, b: bigint) =>
    op === 'bt' ? v : op === 'bts' ? v | (1n << b) : op === 'btr' ? v & ~(1n << b) : v ^ (1n << b);

  it('property: register destination takes the offset mod 64 (register and imm8 offsets); only CF changes', () => {
    const runs = ops.map((op) => [op, runner(`${op} rax, rbx`), runner(`${op} rax, 77`)] as const);
    fc.assert(
      fc.property(u64, u64, statusIn, (v, off, flags) => {
        for (const [op, reg, imm] of runs) {
          for (const [run, o] of [
            [reg, off],
            [imm, 77n],
          ] as const) {
            const { cpu } = run(
              [
                [RAX, v],
                [RBX, off],
              ],
              flags,
            );
            const b = o & 63n;
            expect(reg64(cpu, RAX)).toBe(apply(op, v, b));
            expect(cpu.eflags & STATUS).toBe((flags & ~F.CF) | bit(v, b));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: memory destination with a register offset addresses the bit string by signed 64-bit offset', () => {
    const base = 0x20_0000; // the middle of the mapped 4 MiB: +-2^24 bits around it are mapped
    const runs = ops.map((op) => [op, runner(`${op} [rdi + 3], rbx`)] as const);
    const offset = fc.oneof(
      fc.bigInt({ min: -(1n << 23n), max: 1n << 23n }),
      fc.constantFrom(0n, 63n, 64n, -1n, -64n, -65n, 200n, -200n),
    );
    fc.assert(
      fc.property(offset, u64, statusIn, (off, v, flags) => {
        for (const [op, run] of runs) {
          const at = base + 3 + Number(off >> 6n) * 8;
          const { m, cpu } = run(
            [
              [RBX, BigInt.asUintN(64, off)],
              [RDI, BigInt(base)],
            ],
            flags,
            [[at, v]],
          );
          const b = off & 63n;
          expect(readQ(m, at)).toBe(apply(op, v, b));
          expect(cpu.eflags & STATUS).toBe((flags & ~F.CF) | bit(v, b));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a memory bit offset that leaves the canonical range raises #GP(0); an imm8 offset stays in the operand', () => {
    const far = runner('bts qword [rdi], rbx');
    expect(
      far([
        [RDI, BigInt(MEM)],
        [RBX, 1n << 62n],
      ]).vector,
    ).toBe(Vector.GP);
    expect(
      far([
        [RDI, BigInt(MEM)],
        [RBX, -(1n << 62n)],
      ]).vector,
    ).toBe(Vector.GP);
    const stack = runner('bt qword [rbp], rbx');
    expect(
      stack([
        [RBP, BigInt(MEM)],
        [RBX, 1n << 53n], // 2^50 bytes above: not canonical, through SS
      ]).vector,
    ).toBe(Vector.SS);
    // A negative offset (-64 bits: the qword 8 bytes below) from an address in the high canonical half.
    const wrap = runner('btr qword [rdi], rbx');
    const back = wrap(
      [
        [RDI, 0xffff_8000_0000_0000n + BigInt(MEM) + 8n],
        [RBX, BigInt.asUintN(64, -64n)],
      ],
      0,
      [[MEM, 1n]],
    );
    expect(readQ(back.m, MEM)).toBe(0n);
    expect(back.cpu.eflags & F.CF).toBe(F.CF);
    const imm = runner('btc qword [rdi], 200');
    const { m, cpu } = imm([[RDI, BigInt(MEM)]], 0, [[MEM, 0n]]);
    expect(readQ(m, MEM)).toBe(1n << 8n);
    expect(cpu.eflags & F.CF).toBe(0);
  });

  it('with a 32-bit address size (67h) the bit-string address wraps at 4 GiB', () => {
    const run = runner('bts qword [edi], rbx');
    // EDI = 0x3010, offset -128 bits = -16 bytes: 0x3000; the upper half of RDI is ignored.
    const { m, cpu } = run(
      [
        [RDI, 0xffff_ffff_0000_3010n],
        [RBX, BigInt.asUintN(64, -127n)],
      ],
      0,
      [[MEM, 0n]],
    );
    expect(readQ(m, MEM)).toBe(2n);
    expect(cpu.eflags & F.CF).toBe(0);
  });

  it('property: BSF/BSR r64 find the lowest/highest set bit; a zero source sets ZF and keeps the destination', () => {
    const bsf = runner('bsf rax, rbx');
    const bsr = runner(`bsr rax, [${MEM}]`);
    const tzcnt = runner('tzcnt rax, rbx'); // no BMI1 in the model: executes as BSF (F3 ignored)
    fc.assert(
      fc.property(u64, u64, statusIn, (v, old, flags) => {
        const regs: [number, bigint][] = [
          [RAX, old],
          [RBX, v],
        ];
        for (const [run, reverse] of [
          [bsf, false],
          [bsr, true],
          [tzcnt, false],
        ] as const) {
          const { cpu } = run(regs, flags, [[MEM, v]]);
          if (v === 0n) {
            expect(reg64(cpu, RAX)).toBe(old);
            expect(cpu.eflags & STATUS).toBe(flags | F.ZF);
          } else {
            const s = v.toString(2);
            const want = reverse ? s.length - 1 : s.length - 1 - s.lastIndexOf('1');
            expect(reg64(cpu, RAX)).toBe(BigInt(want));
            expect(cpu.eflags & STATUS).toBe(flags & ~F.ZF);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('property: POPCNT r64, r/m64 counts 64 bits; ZF iff zero, the other status flags cleared', () => {
    const reg = runner('popcnt rax, rbx');
    const mem = runner(`popcnt rcx, [${MEM}]`);
    fc.assert(
      fc.property(u64, statusIn, (v, flags) => {
        const want = BigInt([...v.toString(2)].filter((ch) => ch === '1').length);
        const a = reg([[RBX, v]], flags).cpu;
        expect(reg64(a, RAX)).toBe(want);
        expect(a.eflags & STATUS).toBe(v === 0n ? F.ZF : 0);
        const b = mem([[RCX, M64]], flags, [[MEM, v]]).cpu;
        expect(reg64(b, RCX)).toBe(want);
      }),
      { numRuns: 1000 },
    );
  });
});
