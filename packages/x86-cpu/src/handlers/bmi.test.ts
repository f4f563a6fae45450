import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reg64 } from '../../test/long-machine.js';
import { flat32, real16 } from '../../test/machine.js';
import { type LongRun, longRunner, RAX, RBX, RCX, RDX, STATUS } from '../../test/long-runner.js';
import { assemble } from '@typevisor/x86-decoder';
import { CpuExit, EFLAGS as F, MAX_MODEL, Mode, Seg, Vector, X86_64_MODEL } from '../index.js';
import { pdep32, pext32 } from './bmi.js';

const MEM = 0x3000;

const mask = (w: number) => (1n << BigInt(w)) - 1n;
const EDGES64 = [
  0n,
  1n,
  2n,
  mask(64),
  1n << 63n,
  mask(63),
  0xffff_ffffn,
  0x1_0000_0000n,
  0x8000_0000n,
  0x7fff_ffffn,
];
const u64 = fc.oneof(fc.constantFrom(...EDGES64), fc.bigInt({ min: 0n, max: mask(64) }));
/** A value with the low `w` bits random (edge values included) and random garbage above. */
const val = (w: number) => u64.map((v) => v & mask(w));
const statusIn = fc.integer({ min: 0, max: 0xfff }).map((v) => v & STATUS);
const garbage = fc.bigInt({ min: 0n, max: mask(64) });
/** A bit index byte (and garbage above it), with the edges of both operand sizes. */
const index = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 255, 0x120, 0x13f),
  fc.integer({ min: 0, max: 0xfff }),
);

/** Runs `source` then HLT in 64-bit mode on `model`, reusing the machine until a fault. */
const runner = (source: string, model = MAX_MODEL) => longRunner(source, model);
type Out = LongRun;
const flagsOf = (o: Out) => o.m.cpu.eflags & STATUS;
const r = (o: Out, n: number) => reg64(o.m.cpu, n);
const sf = (v: bigint, w: number) => ((v >> BigInt(w - 1)) & 1n ? F.SF : 0);
const zf = (v: bigint) => (v === 0n ? F.ZF : 0);

// ------------------------------------------------------------------ BigInt references (SDM)

function bextrRef(v: bigint, ctl: bigint, w: number): bigint {
  const start = Number(ctl & 0xffn);
  const len = Number((ctl >> 8n) & 0xffn);
  if (start >= w) return 0n;
  return (v >> BigInt(start)) & (len >= w ? mask(w) : mask(len));
}
function pdepRef(src: bigint, m: bigint, w: number): bigint {
  let res = 0n;
  let k = 0n;
  for (let i = 0n; i < BigInt(w); i++)
    if ((m >> i) & 1n) {
      if ((src >> k) & 1n) res |= 1n << i;
      k++;
    }
  return res;
}
function pextRef(src: bigint, m: bigint, w: number): bigint {
  let res = 0n;
  let k = 0n;
  for (let i = 0n; i < BigInt(w); i++)
    if ((m >> i) & 1n) {
      if ((src >> i) & 1n) res |= 1n << k;
      k++;
    }
  return res;
}
function tzRef(v: bigint, w: number): number {
  for (let i = 0; i < w; i++) if ((v >> BigInt(i)) & 1n) return i;
  return w;
}
function lzRef(v: bigint, w: number): number {
  for (let i = w - 1; i >= 0; i--) if ((v >> BigInt(i)) & 1n) return w - 1 - i;
  return w;
}

/** The destination after a write of `v` of width `w` over `old` (32-bit writes zero-extend). */
const merged = (old: bigint, v: bigint, w: number) => (w === 16 ? (old & ~0xffffn) | v : v);

const REG = { 32: ['eax', 'ebx', 'ecx', 'edx'], 64: ['rax', 'rbx', 'rcx', 'rdx'] } as const;

describe.each([32, 64] as const)('BMI %i-bit operand size', (w) => {
  const [a, b, c] = REG[w];
  const M = mask(w);

  it('ANDN is ~src1 & src2 with SF/ZF, CF = OF = 0 (register and memory source)', () => {
    const reg = runner(`andn ${a}, ${b}, ${c}`);
    const mem = runner(`andn ${a}, ${b}, [${MEM}]`);
    fc.assert(
      fc.property(val(w), val(w), garbage, statusIn, (x, y, g, fl) => {
        const want = ~x & y & M;
        const o = reg(
          [
            [RAX, g],
            [RBX, x],
            [RCX, y],
          ],
          fl,
        );
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(sf(want, w) | zf(want));
        const p = mem(
          [
            [RAX, g],
            [RBX, x],
          ],
          fl,
          [[MEM, y]],
        );
        expect(r(p, RAX)).toBe(want);
      }),
    );
  });

  it('BEXTR extracts LEN bits from START (any START/LEN byte, ZF only)', () => {
    const run = runner(`bextr ${a}, ${b}, ${c}`);
    const ctl = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }),
      index.chain((s) => index.map((l) => (s & 0xff) | ((l & 0xff) << 8))),
    );
    fc.assert(
      fc.property(val(w), ctl, garbage, (x, k, g) => {
        const want = bextrRef(x, BigInt(k), w);
        const o = run([
          [RAX, g],
          [RBX, x],
          [RCX, BigInt(k) | (g << 16n)],
        ]);
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(zf(want));
      }),
    );
  });

  it('BLSI, BLSMSK, BLSR: results and CF/ZF/SF as the SDM gives them', () => {
    const blsi = runner(`blsi ${a}, ${b}`);
    const blsmsk = runner(`blsmsk ${a}, ${b}`);
    const blsr = runner(`blsr ${a}, [${MEM}]`);
    fc.assert(
      fc.property(val(w), garbage, (x, g) => {
        const neg = -x & M;
        let want = x & neg;
        let o = blsi([
          [RAX, g],
          [RBX, x],
        ]);
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(sf(want, w) | zf(want) | (x !== 0n ? F.CF : 0));
        want = (x ^ (x - 1n)) & M;
        o = blsmsk([
          [RAX, g],
          [RBX, x],
        ]);
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(sf(want, w) | (x === 0n ? F.CF : 0));
        want = x & (x - 1n) & M;
        o = blsr([[RAX, g]], 0, [[MEM, x]]);
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(sf(want, w) | zf(want) | (x === 0n ? F.CF : 0));
      }),
    );
  });

  it('BZHI clears bits N and up; CF = N > size - 1 (N = index[7:0])', () => {
    const run = runner(`bzhi ${a}, ${b}, ${c}`);
    fc.assert(
      fc.property(val(w), index, garbage, (x, n, g) => {
        const idx = n & 0xff;
        const want = idx < w ? x & mask(idx) : x;
        const o = run([
          [RAX, g],
          [RBX, x],
          [RCX, BigInt(n)],
        ]);
        expect(r(o, RAX)).toBe(want);
        expect(flagsOf(o)).toBe(sf(want, w) | zf(want) | (idx > w - 1 ? F.CF : 0));
      }),
    );
  });

  it('MULX: EDX/RDX * src unsigned, low half to vvvv, high half to reg; flags unaffected', () => {
    const run = runner(`mulx ${a}, ${b}, ${c}`);
    const mem = runner(`mulx ${a}, ${b}, [${MEM}]`);
    const same = runner(`mulx ${a}, ${a}, ${c}`);
    fc.assert(
      fc.property(val(w), val(w), garbage, statusIn, (d, s, g, fl) => {
        const p = d * s;
        const o = run(
          [
            [RAX, g],
            [RBX, g],
            [RCX, s],
            [RDX, d],
          ],
          fl,
        );
        expect(r(o, RAX)).toBe(p >> BigInt(w));
        expect(r(o, RBX)).toBe(p & M);
        expect(flagsOf(o)).toBe(fl);
        const q = mem([[RDX, d]], fl, [[MEM, s]]);
        expect(r(q, RAX)).toBe(p >> BigInt(w));
        expect(
          r(
            same([
              [RCX, s],
              [RDX, d],
            ]),
            RAX,
          ),
        ).toBe(p >> BigInt(w));
      }),
    );
  });

  it('PDEP and PEXT against bit-by-bit references; flags unaffected', () => {
    const dep = runner(`pdep ${a}, ${b}, ${c}`);
    const ext = runner(`pext ${a}, ${b}, [${MEM}]`);
    fc.assert(
      fc.property(val(w), val(w), garbage, statusIn, (s, m, g, fl) => {
        let o = dep(
          [
            [RAX, g],
            [RBX, s],
            [RCX, m],
          ],
          fl,
        );
        expect(r(o, RAX)).toBe(pdepRef(s, m, w));
        expect(flagsOf(o)).toBe(fl);
        o = ext(
          [
            [RAX, g],
            [RBX, s],
          ],
          fl,
          [[MEM, m]],
        );
        expect(r(o, RAX)).toBe(pextRef(s, m, w));
        expect(flagsOf(o)).toBe(fl);
      }),
    );
  });

  it('RORX, SHLX, SHRX, SARX: count modulo the size, flags unaffected', () => {
    const sh = {
      shlx: runner(`shlx ${a}, ${b}, ${c}`),
      shrx: runner(`shrx ${a}, ${b}, ${c}`),
      sarx: runner(`sarx ${a}, [${MEM}], ${c}`),
    };
    fc.assert(
      fc.property(val(w), fc.integer({ min: 0, max: 255 }), garbage, statusIn, (x, n, g, fl) => {
        const k = BigInt(n % w);
        const signed = BigInt.asIntN(w, x);
        const want = { shlx: (x << k) & M, shrx: x >> k, sarx: BigInt.asUintN(w, signed >> k) };
        for (const op of ['shlx', 'shrx'] as const) {
          const o = sh[op](
            [
              [RAX, g],
              [RBX, x],
              [RCX, BigInt(n) | (g << 8n)],
            ],
            fl,
          );
          expect(r(o, RAX)).toBe(want[op]);
          expect(flagsOf(o)).toBe(fl);
        }
        const o = sh.sarx(
          [
            [RAX, g],
            [RCX, BigInt(n)],
          ],
          fl,
          [[MEM, x]],
        );
        expect(r(o, RAX)).toBe(want.sarx);
        const ror = runner(`rorx ${a}, ${b}, ${n}`)(
          [
            [RAX, g],
            [RBX, x],
          ],
          fl,
        );
        expect(r(ror, RAX)).toBe(((x >> k) | (x << (BigInt(w) - k))) & M);
        expect(flagsOf(ror)).toBe(fl);
      }),
      { numRuns: 60 },
    );
  });

  it('ADCX/ADOX carry through CF/OF alone; other flags kept', () => {
    const adcx = runner(`adcx ${a}, ${b}`);
    const adox = runner(`adox ${a}, [${MEM}]`);
    fc.assert(
      fc.property(val(w), val(w), statusIn, (x, y, fl) => {
        let cin = BigInt(fl & F.CF);
        let sum = x + y + cin;
        let o = adcx(
          [
            [RAX, x],
            [RBX, y],
          ],
          fl,
        );
        expect(r(o, RAX)).toBe(sum & M);
        expect(flagsOf(o)).toBe((fl & ~F.CF) | (sum > M ? F.CF : 0));
        cin = fl & F.OF ? 1n : 0n;
        sum = x + y + cin;
        o = adox([[RAX, x]], fl, [[MEM, y]]);
        expect(r(o, RAX)).toBe(sum & M);
        expect(flagsOf(o)).toBe((fl & ~F.OF) | (sum > M ? F.OF : 0));
      }),
    );
  });
});

describe.each([16, 32, 64] as const)('TZCNT/LZCNT/MOVBE %i-bit', (w) => {
  const name = { 16: ['ax', 'bx'], 32: ['eax', 'ebx'], 64: ['rax', 'rbx'] }[w];
  const M = mask(w);
  it('TZCNT and LZCNT count zeros (size for 0); CF = source 0, ZF = result 0, others cleared', () => {
    const tz = runner(`tzcnt ${name[0]}, ${name[1]}`);
    const lz = runner(`lzcnt ${name[0]}, [${MEM}]`);
    fc.assert(
      fc.property(val(w), garbage, statusIn, (x, g, fl) => {
        for (const [run, ref] of [
          [tz, tzRef],
          [lz, lzRef],
        ] as const) {
          const n = ref(x, w);
          const o = run(
            [
              [RAX, g],
              [RBX, x | (g << BigInt(w))],
            ],
            fl,
            [[MEM, x | (g << BigInt(w))]],
          );
          expect(r(o, RAX)).toBe(merged(g, BigInt(n), w));
          expect(flagsOf(o)).toBe((x === 0n ? F.CF : 0) | (n === 0 ? F.ZF : 0));
        }
      }),
    );
  });
  it('MOVBE loads and stores with the bytes reversed', () => {
    const load = runner(`movbe ${name[0]}, [${MEM}]`);
    const store = runner(`movbe [${MEM}], ${name[1]}`);
    const swap = (v: bigint) => {
      let s = 0n;
      for (let i = 0; i < w / 8; i++) s = (s << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
      return s;
    };
    fc.assert(
      fc.property(val(w), garbage, (x, g) => {
        let o = load([[RAX, g]], 0, [[MEM, x | (g << BigInt(w))]]);
        expect(r(o, RAX)).toBe(merged(g, swap(x), w));
        o = store([[RBX, x | (g << BigInt(w))]], 0, [[MEM, g]]);
        const got = new DataView(o.m.ram.buffer, o.m.ram.byteOffset).getBigUint64(MEM, true);
        expect(got).toBe((g & ~M) | swap(x));
      }),
    );
  });
});

describe('BMI in other modes and models', () => {
  it('the VEX-encoded forms #UD in real-address mode; TZCNT runs there', () => {
    const vectors: number[] = [];
    const m = real16('andn eax, ebx, ecx\nhlt', {
      model: MAX_MODEL,
      events: { delivered: (_k, v) => vectors.push(v) },
    });
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
    const t = real16('mov ebx, 8\ntzcnt eax, ebx\nhlt', { model: MAX_MODEL });
    expect(t.run()).toBe(CpuExit.Hlt);
    expect(t.cpu.regs.u32[0]).toBe(3);
  });
  it('#UD in virtual-8086 mode, and for VEX.L = 1', () => {
    const vectors: number[] = [];
    const m = flat32('hlt', { model: MAX_MODEL, events: { delivered: (_k, v) => vectors.push(v) } });
    m.ram.set(assemble('andn eax, ebx, ecx', { bitness: 16, origin: 0 }), 0x2000);
    for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS])
      m.cpu.segs.set(s, 0x200, 0x2000, 0xffff, 0xf3);
    m.cpu.eflags = F.FIXED1 | F.VM;
    m.cpu.updateMode();
    m.cpu.regs.ip = 0;
    expect(m.cpu.ctrl.mode).toBe(Mode.V86);
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
    // C4 E2 64 F2 C1: ANDN EAX, EBX, ECX with VEX.L = 1.
    const l1 = runner('db 0xc4, 0xe2, 0x64, 0xf2, 0xc1');
    expect(l1([]).vector).toBe(Vector.UD);
    expect(
      runner('db 0xc4, 0xe2, 0x60, 0xf2, 0xc1')([
        [RBX, 0n],
        [RCX, 5n],
      ]).vector,
    ).toBeUndefined();
  });
  it('32-bit protected mode: VEX.W is ignored and the 32-bit forms run', () => {
    const m = flat32('mov ebx, 0xf0\nmov ecx, 0x404\nbextr eax, ebx, ecx\npdep edx, ebx, ecx\nhlt', {
      model: MAX_MODEL,
    });
    expect(m.run()).toBe(CpuExit.Hlt);
    expect(m.cpu.regs.u32[0]).toBe(0xf);
    expect(m.cpu.regs.u32[2]).toBe(pdep32(0xf0, 0x404));
  });
  it('without BMI1 the F3 0F BC/BD encodings are BSF/BSR and ANDN is #UD', () => {
    const run = runner('tzcnt rax, rbx\nlzcnt rcx, rbx', X86_64_MODEL);
    const o = run([
      [RAX, 5n],
      [RBX, 0x10n],
    ]);
    expect(r(o, RAX)).toBe(4n);
    expect(r(o, RCX)).toBe(4n); // BSR index
    expect(runner('andn eax, ebx, ecx', X86_64_MODEL)([]).vector).toBe(Vector.UD);
  });
  it('pext32 undoes pdep32 on the mask: the low popcount(mask) bits of the source come back', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer(), (s, m) => {
        const ones = pextRef(mask(32), BigInt(m >>> 0), 32);
        expect(BigInt(pext32(pdep32(s >>> 0, m >>> 0), m >>> 0))).toBe(BigInt(s >>> 0) & ones);
        expect(BigInt(pdep32(s >>> 0, m >>> 0))).toBe(pdepRef(BigInt(s >>> 0), BigInt(m >>> 0), 32));
      }),
    );
  });
});
