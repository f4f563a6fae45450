import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, real16, runToHlt } from '../../test/machine.js';
import { PENTIUM_4 } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { CR0, CR4, Vector } from '../index.js';
import { MXCSR } from '../sse/state.js';

const SSE_MODEL = PENTIUM_4;

const MEM = 0x3000;

function machine(source: string, cr4 = CR4.OSFXSR | CR4.OSXMMEXCPT) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model: SSE_MODEL, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, cr4);
  return { m, vectors, sse: m.cpu.fpu.sse };
}

function run(source: string, setup?: (m: ReturnType<typeof machine>) => void) {
  const x = machine(source);
  setup?.(x);
  runToHlt(x.m);
  return x;
}

/** Runs one instruction and returns the first delivered vector. */
function fault(
  source: string,
  setup?: (x: ReturnType<typeof machine>) => void,
  cr4?: number,
): number | undefined {
  const x = machine(source, cr4);
  setup?.(x);
  x.m.run(1);
  return x.vectors[0];
}

const f32 = (v: number) => {
  const a = new Float32Array([v]);
  return new Uint32Array(a.buffer)[0]!;
};

describe('SSE entry rules', () => {
  it('CR4.OSFXSR=0 makes MOVAPS #UD', () => {
    expect(fault('movaps xmm0, xmm1', undefined, 0)).toBe(Vector.UD);
  });
  it('CR0.EM=1 makes ADDPS #UD and CR0.TS=1 makes it #NM', () => {
    expect(fault('addps xmm0, xmm1', (x) => (x.m.cpu.ctrl.cr0 |= CR0.EM))).toBe(Vector.UD);
    expect(fault('addps xmm0, xmm1', (x) => (x.m.cpu.ctrl.cr0 |= CR0.TS))).toBe(Vector.NM);
  });
  it('a misaligned m128 of MOVAPS/PADDB is #GP(0) but MOVUPS/MOVDQU are fine', () => {
    expect(fault(`movaps xmm0, [${MEM + 8}]`)).toBe(Vector.GP);
    expect(fault(`paddb xmm0, [${MEM + 4}]`)).toBe(Vector.GP);
    const x = run(`movups xmm0, [${MEM + 4}]\nmovdqu [${MEM + 0x41}], xmm0`, (x) =>
      x.m.memory.write32(MEM + 4, 0x12345678),
    );
    expect(x.m.memory.read32(MEM + 0x41)).toBe(0x12345678);
  });
  it('an unmasked SIMD exception raises #XM, or #UD with CR4.OSXMMEXCPT=0, leaving the destination', () => {
    const setup = (x: ReturnType<typeof machine>) => {
      x.sse.mxcsr = 0x1f80 & ~MXCSR.ZM;
      x.sse.f32[0] = 1;
      x.sse.f32[4] = 0;
    };
    expect(fault('divss xmm0, xmm1', setup)).toBe(Vector.XM);
    expect(fault('divss xmm0, xmm1', setup, CR4.OSFXSR)).toBe(Vector.UD);
    const x = machine('divss xmm0, xmm1');
    setup(x);
    x.m.run(1);
    expect(x.sse.f32[0]).toBe(1);
    expect(x.sse.mxcsr & MXCSR.ZE).toBe(MXCSR.ZE);
  });
});

describe('MXCSR', () => {
  it('LDMXCSR/STMXCSR round-trip and a reserved bit is #GP(0)', () => {
    const x = run(`ldmxcsr [${MEM}]\nstmxcsr [${MEM + 4}]`, (x) => x.m.memory.write32(MEM, 0x7fc0));
    expect(x.m.memory.read32(MEM + 4)).toBe(0x7fc0);
    expect(fault(`ldmxcsr [${MEM}]`, (x) => x.m.memory.write32(MEM, 0x10000))).toBe(Vector.GP);
  });
  it('resets to 0x1F80', () => {
    const x = machine('nop');
    x.sse.mxcsr = 0;
    x.m.cpu.reset();
    expect(x.sse.mxcsr).toBe(0x1f80);
  });
});

describe('FXSAVE/FXRSTOR with SSE state', () => {
  it('saves MXCSR, MXCSR_MASK and XMM0-7 and restores them', () => {
    const x = run(`fxsave [${MEM}]`, (x) => {
      x.sse.mxcsr = 0x9fa0;
      x.sse.u32[0] = 0xdeadbeef;
      x.sse.u32[31] = 0xcafef00d;
    });
    const mem = x.m.memory;
    expect(mem.read32(MEM + 24)).toBe(0x9fa0);
    expect(mem.read32(MEM + 28)).toBe(0xffff);
    expect(mem.read32(MEM + 160)).toBe(0xdeadbeef);
    expect(mem.read32(MEM + 160 + 7 * 16 + 12)).toBe(0xcafef00d);
    const y = machine(`fxrstor [${MEM}]`);
    y.m.ram.set(x.m.ram.subarray(MEM, MEM + 512), MEM);
    runToHlt(y.m);
    expect(y.sse.mxcsr).toBe(0x9fa0);
    expect(y.sse.u32[0]).toBe(0xdeadbeef);
    expect(y.sse.u32[31]).toBe(0xcafef00d);
  });
  it('FXRSTOR of an image with a reserved MXCSR bit is #GP(0) and changes nothing', () => {
    const x = machine(`fxrstor [${MEM}]`);
    x.m.memory.write32(MEM + 24, 0x20000);
    x.m.memory.write32(MEM + 160, 5);
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.GP);
    expect(x.sse.u32[0]).toBe(0);
  });
});

describe('data movement', () => {
  it('MOVSS from memory zeroes the upper lanes; register MOVSS merges', () => {
    const x = run(`movss xmm0, [${MEM}]\nmovss xmm2, xmm0`, (x) => {
      x.m.memory.write32(MEM, 7);
      x.sse.u32.fill(0xffffffff, 0, 4);
      x.sse.u32.fill(0xeeeeeeee, 8, 12);
    });
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([7, 0, 0, 0]);
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([7, 0xeeeeeeee, 0xeeeeeeee, 0xeeeeeeee]);
  });
  it('MOVHLPS/MOVLHPS/MOVHPS/MOVLPS move quadword halves', () => {
    const x = run(
      `movhlps xmm1, xmm0\nmovlhps xmm2, xmm0\nmovhps [${MEM}], xmm0\nmovlps xmm3, [${MEM}]`,
      (x) => {
        x.sse.u32.set([1, 2, 3, 4], 0);
      },
    );
    expect(Array.from(x.sse.u32.subarray(4, 6))).toEqual([3, 4]);
    expect(Array.from(x.sse.u32.subarray(10, 12))).toEqual([1, 2]);
    expect(Array.from(x.sse.u32.subarray(12, 14))).toEqual([3, 4]);
  });
  it('MOVD/MOVQ, MOVMSKPS, PMOVMSKB and MOVQ2DQ', () => {
    const x = run(
      'mov eax, -2\nmovd xmm1, eax\nmovmskps ebx, xmm0\npmovmskb ecx, xmm0\nmovq xmm2, xmm0\nmovd edx, xmm1',
      (x) => {
        x.sse.u32.set([0x80000000, 0, 0x80000001, 0x7fffffff], 0);
      },
    );
    expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual([0xfffffffe, 0, 0, 0]);
    expect(x.m.cpu.regs.u32[3]).toBe(0b0101);
    expect(x.m.cpu.regs.u32[1]).toBe((1 << 3) | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 14));
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([0x80000000, 0, 0, 0]);
    expect(x.m.cpu.regs.u32[2]).toBe(0xfffffffe);
  });
  it('MASKMOVDQU stores only the selected bytes at [EDI]', () => {
    const x = run(`mov edi, ${MEM}\nmaskmovdqu xmm0, xmm1`, (x) => {
      x.sse.u8.set([1, 2, 3, 4], 0);
      x.sse.u8.set([0x80, 0, 0xff, 0], 16);
      x.m.memory.write32(MEM, 0xaaaaaaaa);
    });
    expect(x.m.memory.read32(MEM)).toBe(0xaa03aa01);
  });
});

describe('packed integer on XMM', () => {
  it('PADDSW saturates, PSUBUSB floors at 0, PADDQ carries', () => {
    const x = run('paddsw xmm0, xmm1\npsubusb xmm2, xmm3\npaddq xmm4, xmm5', (x) => {
      x.sse.i16.set([32767, -32768, 5, 0, 0, 0, 0, 0], 0);
      x.sse.i16.set([1, -1, 5, 0, 0, 0, 0, 0], 8);
      x.sse.u8.set([5, 10], 32);
      x.sse.u8.set([7, 3], 48);
      x.sse.u32.set([0xffffffff, 0, 0xffffffff, 1], 16);
      x.sse.u32.set([1, 0, 1, 1], 20);
    });
    expect(Array.from(x.sse.i16.subarray(0, 3))).toEqual([32767, -32768, 10]);
    expect(Array.from(x.sse.u8.subarray(32, 34))).toEqual([0, 7]);
    expect(Array.from(x.sse.u32.subarray(16, 20))).toEqual([0, 1, 0, 3]);
  });
  it('PMULUDQ gives the full 64-bit product; PMADDWD and PSADBW', () => {
    const x = run('pmuludq xmm0, xmm1\npmaddwd xmm2, xmm3\npsadbw xmm4, xmm5', (x) => {
      x.sse.u32.set([0xffffffff, 9, 0x12345678, 0], 0);
      x.sse.u32.set([0xffffffff, 9, 0x9abcdef0, 0], 4);
      x.sse.i16.set([-32768, -32768, 3, 4], 16);
      x.sse.i16.set([-32768, -32768, 5, 6], 24);
      x.sse.u8.set([0, 255, 10], 64);
      x.sse.u8.set([255, 0, 20], 80);
    });
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([0x00000001, 0xfffffffe, 0x242d2080, 0x0b00ea4e]);
    expect(Array.from(x.sse.u32.subarray(8, 10))).toEqual([0x80000000, 39]);
    expect(Array.from(x.sse.u32.subarray(16, 20))).toEqual([520, 0, 0, 0]);
  });
  it('PSLLDQ/PSRLDQ shift bytes; PSRAW by 200 fills with the sign; PSHUFD reverses', () => {
    const x = run('pslldq xmm0, 3\npsrldq xmm1, 15\npsraw xmm2, 200\npshufd xmm3, xmm4, 0x1b', (x) => {
      for (let i = 0; i < 16; i++) x.sse.u8[i] = i + 1;
      for (let i = 0; i < 16; i++) x.sse.u8[16 + i] = i + 1;
      x.sse.i16[16] = -5;
      x.sse.u32.set([1, 2, 3, 4], 16);
    });
    expect(Array.from(x.sse.u8.subarray(0, 5))).toEqual([0, 0, 0, 1, 2]);
    expect(Array.from(x.sse.u8.subarray(16, 18))).toEqual([16, 0]);
    expect(x.sse.i16[16]).toBe(-1);
    expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([4, 3, 2, 1]);
  });
  it('PACKUSWB, PUNPCKLBW, PEXTRW/PINSRW', () => {
    const x = run(
      'packuswb xmm0, xmm1\npunpcklbw xmm2, xmm3\npextrw eax, xmm0, 1\nmov ebx, 0x1234\npinsrw xmm4, ebx, 7',
      (x) => {
        x.sse.i16.set([-1, 300, 7, 0, 0, 0, 0, 0], 0);
        x.sse.u8.set([1, 2], 32);
        x.sse.u8.set([9, 8], 48);
      },
    );
    expect(Array.from(x.sse.u8.subarray(0, 3))).toEqual([0, 255, 7]);
    expect(Array.from(x.sse.u8.subarray(32, 36))).toEqual([1, 9, 2, 8]);
    expect(x.m.cpu.regs.u32[0]).toBe(7);
    expect(x.sse.u16[4 * 8 + 7]).toBe(0x1234);
  });
  it('SSE integer additions on MMX registers: PAVGB, PMINUB, PSHUFW', () => {
    const x = run(
      `movq mm0, [${MEM}]\nmovq mm1, [${MEM + 8}]\npavgb mm0, mm1\npshufw mm2, mm0, 0\nmovq [${MEM + 16}], mm2\nemms`,
      (x) => {
        x.m.memory.write32(MEM, 0x000000ff);
        x.m.memory.write32(MEM + 8, 0x00000100);
      },
    );
    expect(x.m.memory.read32(MEM + 16)).toBe(0x01800180);
  });
  it('property: PADDW/PSUBB on XMM match element-wise JS arithmetic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const x = run('movdqa xmm2, xmm0\npaddw xmm0, xmm1\npsubb xmm2, xmm1', (x) => x.sse.u8.set(bytes, 0));
        const a = new Uint16Array(bytes.slice(0, 16).buffer);
        const b = new Uint16Array(bytes.slice(16, 32).buffer);
        for (let i = 0; i < 8; i++) expect(x.sse.u16[i]).toBe((a[i]! + b[i]!) & 0xffff);
        for (let i = 0; i < 16; i++) expect(x.sse.u8[32 + i]).toBe((bytes[i]! - bytes[16 + i]!) & 0xff);
      }),
      { numRuns: 30 },
    );
  });
});

describe('logic and shuffles', () => {
  it('XORPS clears, ANDNPS is ~dst & src, SHUFPS and UNPCKLPS select lanes', () => {
    const x = run(
      'xorps xmm0, xmm0\nandnps xmm1, xmm2\nshufps xmm3, xmm4, 0x1b\nunpcklps xmm5, xmm6',
      (x) => {
        x.sse.u32.fill(5, 0, 4);
        x.sse.u32.set([0xf0f0f0f0, 0, 0, 0], 4);
        x.sse.u32.set([0xffffffff, 1, 1, 1], 8);
        x.sse.u32.set([1, 2, 3, 4], 12);
        x.sse.u32.set([5, 6, 7, 8], 16);
        x.sse.u32.set([1, 2, 3, 4], 20);
        x.sse.u32.set([5, 6, 7, 8], 24);
      },
    );
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([0, 0, 0, 0]);
    expect(x.sse.u32[4]).toBe(0x0f0f0f0f);
    expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([4, 3, 6, 5]);
    expect(Array.from(x.sse.u32.subarray(20, 24))).toEqual([1, 5, 2, 6]);
  });
});

describe('float arithmetic', () => {
  it('ADDPS/MULPD/DIVSS/SQRTSD known values', () => {
    const x = run('addps xmm0, xmm1\nmulpd xmm2, xmm3\ndivss xmm4, xmm5\nsqrtsd xmm6, xmm7', (x) => {
      x.sse.f32.set([1.5, -2, 1e30, 0.1], 0);
      x.sse.f32.set([2.25, 2, 1e30, 0.2], 4);
      x.sse.f64.set([3, -0.5], 4);
      x.sse.f64.set([7, 4], 6);
      x.sse.f32.set([1, 9, 9, 9], 16);
      x.sse.f32.set([3, 0, 0, 0], 20);
      x.sse.f64.set([2, 0], 14);
    });
    expect(Array.from(x.sse.f32.subarray(0, 4))).toEqual([
      3.75,
      0,
      Math.fround(2e30),
      Math.fround(Math.fround(0.1) + Math.fround(0.2)),
    ]);
    expect(Array.from(x.sse.f64.subarray(4, 6))).toEqual([21, -2]);
    expect(x.sse.f32[16]).toBe(Math.fround(1 / 3));
    expect(Array.from(x.sse.f32.subarray(17, 20))).toEqual([9, 9, 9]);
    expect(x.sse.f64[12]).toBe(Math.SQRT2);
    expect(x.sse.mxcsr & MXCSR.PE).toBe(MXCSR.PE);
  });
  it('NaN rules: the first source QNaN wins, an SNaN is quieted with IE, 0/0 gives the indefinite', () => {
    const x = run('addss xmm0, xmm1\naddss xmm2, xmm3\ndivsd xmm4, xmm5', (x) => {
      x.sse.u32[0] = 0x7fc00001;
      x.sse.u32[4] = 0x7fc00002;
      x.sse.u32[8] = 0x3f800000;
      x.sse.u32[12] = 0xff800003;
    });
    expect(x.sse.u32[0]).toBe(0x7fc00001);
    expect(x.sse.u32[8]).toBe(0xffc00003);
    expect(x.sse.u32[17]).toBe(0xfff80000);
    expect(x.sse.u32[16]).toBe(0);
    expect(x.sse.mxcsr & MXCSR.IE).toBe(MXCSR.IE);
  });
  it('MINSS/MAXSS return the second operand on NaN or equal zeros', () => {
    const x = run('minss xmm0, xmm1\nmaxss xmm2, xmm3\nminss xmm4, xmm5', (x) => {
      x.sse.u32[0] = 0x7fc00000;
      x.sse.f32[4] = 2;
      x.sse.u32[8] = 0x00000000;
      x.sse.u32[12] = 0x80000000;
      x.sse.f32[16] = 1;
      x.sse.u32[20] = 0x7fa00000;
    });
    expect(x.sse.f32[0]).toBe(2);
    expect(x.sse.u32[8]).toBe(0x80000000);
    expect(x.sse.u32[16]).toBe(0x7fa00000);
  });
  it('x + -x is +0 to nearest and -0 rounding down', () => {
    const x = run(`addsd xmm0, xmm1\nldmxcsr [${MEM}]\naddsd xmm2, xmm3`, (x) => {
      x.m.memory.write32(MEM, 0x1f80 | (1 << 13));
      x.sse.f64.set([1.5, 0, -1.5, 0, 1.5, 0, -1.5, 0]);
    });
    expect(Object.is(x.sse.f64[0], 0)).toBe(true);
    expect(Object.is(x.sse.f64[4], -0)).toBe(true);
  });
  it('rounding modes: 1/3 rounds down/up/toward zero to neighbouring floats', () => {
    const third = Math.fround(1 / 3);
    const results: number[] = [];
    for (const rc of [1, 2, 3]) {
      const x = run(`ldmxcsr [${MEM}]\ndivss xmm0, xmm1`, (x) => {
        x.m.memory.write32(MEM, 0x1f80 | (rc << 13));
        x.sse.f32[0] = 1;
        x.sse.f32[4] = 3;
      });
      results.push(x.sse.f32[0]!);
    }
    const below = third < 1 / 3 ? third : new Float32Array(new Uint32Array([f32(third) - 1]).buffer)[0]!;
    const above = third > 1 / 3 ? third : new Float32Array(new Uint32Array([f32(third) + 1]).buffer)[0]!;
    expect(results).toEqual([below, above, below]);
  });
  it('overflow gives infinity with OE|PE; FTZ flushes a tiny product with UE|PE; DAZ zeroes a denormal input', () => {
    const x = run('mulss xmm0, xmm1', (x) => {
      x.sse.f32[0] = 3e38;
      x.sse.f32[4] = 10;
    });
    expect(x.sse.f32[0]).toBe(Number.POSITIVE_INFINITY);
    expect(x.sse.mxcsr & 0x3f).toBe(MXCSR.OE | MXCSR.PE);
    const y = run('mulss xmm0, xmm1', (x) => {
      x.sse.mxcsr = 0x1f80 | MXCSR.FZ;
      x.sse.f32[0] = 2 ** -100;
      x.sse.f32[4] = 2 ** -30;
    });
    expect(y.sse.f32[0]).toBe(0);
    expect(y.sse.mxcsr & 0x3f).toBe(MXCSR.UE | MXCSR.PE);
    const z = run('addss xmm0, xmm1', (x) => {
      x.sse.mxcsr = 0x1f80 | MXCSR.DAZ;
      x.sse.u32[0] = 1;
      x.sse.f32[4] = 1;
    });
    expect(z.sse.f32[0]).toBe(1);
    expect(z.sse.mxcsr & 0x3f).toBe(0);
    const w = run('addss xmm0, xmm1', (x) => {
      x.sse.u32[0] = 1;
      x.sse.f32[4] = 0;
    });
    expect(w.sse.u32[0]).toBe(1);
    expect(w.sse.mxcsr & 0x3f).toBe(MXCSR.DE);
  });
  it('property: ADDPS/SUBPS/MULPS/DIVPS match Math.fround of the double result', () => {
    const finite = fc.float({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.array(finite, { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 3 }),
        (v, opi) => {
          const ops = ['addps', 'subps', 'mulps', 'divps'] as const;
          const x = run(`${ops[opi]} xmm0, xmm1`, (x) => x.sse.f32.set(v, 0));
          for (let i = 0; i < 4; i++) {
            const a = v[i]!;
            const b = v[4 + i]!;
            const want = [a + b, a - b, a * b, a / b][opi]!;
            if (Number.isNaN(want)) expect(x.sse.u32[i]).toBe(0xffc00000);
            else expect(x.sse.f32[i]).toBe(Math.fround(want));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
  it('property: ADDSD/MULSD/DIVSD/SQRTSD match Float64 arithmetic (PE and directed modes: sse/float.test.ts)', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 });
    fc.assert(
      fc.property(finite, finite, fc.integer({ min: 0, max: 3 }), (a, b, opi) => {
        const ops = ['addsd', 'mulsd', 'divsd', 'sqrtsd'] as const;
        const x = run(`${ops[opi]} xmm0, xmm1`, (x) => x.sse.f64.set([a, 0, b, 0], 0));
        const want = [a + b, a * b, a / b, Math.sqrt(b)][opi]!;
        if (Number.isNaN(want)) expect(x.sse.u32[1]).toBe(0xfff80000);
        else expect(x.sse.f64[0]).toBe(want);
      }),
      { numRuns: 60 },
    );
  });
});

describe('compares and conversions', () => {
  it('CMPPS predicates 0-7 on (1, 2), (2, 2) and (NaN, 2)', () => {
    const got: number[][] = [];
    for (let p = 0; p < 8; p++) {
      const x = run(`cmpps xmm0, xmm1, ${p}`, (x) => {
        x.sse.f32.set([1, 2, 0, 3], 0);
        x.sse.u32[2] = 0x7fc00000;
        x.sse.f32.set([2, 2, 2, 3], 4);
      });
      got.push(Array.from(x.sse.u32.subarray(0, 3), (v) => (v ? 1 : 0)));
    }
    expect(got).toEqual([
      [0, 1, 0],
      [1, 0, 0],
      [1, 1, 0],
      [0, 0, 1],
      [1, 0, 1],
      [0, 1, 1],
      [0, 0, 1],
      [1, 1, 0],
    ]);
  });
  it('UCOMISS sets ZF/PF/CF for unordered without IE on a QNaN; COMISS raises IE', () => {
    const x = run('ucomiss xmm0, xmm1\nlahf\nmov bl, ah\ncomiss xmm2, xmm1\nlahf', (x) => {
      x.sse.u32[0] = 0x7fc00000;
      x.sse.f32[4] = 1;
      x.sse.u32[8] = 0x7fc00000;
    });
    expect(x.m.cpu.regs.u32[3]! & 0x45).toBe(0x45);
    expect(x.sse.mxcsr & MXCSR.IE).toBe(MXCSR.IE);
  });
  it('CVTTSS2SI truncates, CVTSS2SI rounds to even, out of range gives 0x80000000 with IE', () => {
    const x = run('cvttss2si eax, xmm0\ncvtss2si ebx, xmm0\ncvtss2si ecx, xmm1\ncvtsd2si edx, xmm2', (x) => {
      x.sse.f32[0] = -2.5;
      x.sse.f32[4] = 3e9;
      x.sse.f64[4] = 2.5;
    });
    expect(x.m.cpu.regs.u32[0]! | 0).toBe(-2);
    expect(x.m.cpu.regs.u32[3]! | 0).toBe(-2);
    expect(x.m.cpu.regs.u32[1]).toBe(0x80000000);
    expect(x.m.cpu.regs.u32[2]).toBe(2);
    expect(x.sse.mxcsr & (MXCSR.IE | MXCSR.PE)).toBe(MXCSR.IE | MXCSR.PE);
  });
  it('CVTSI2SS rounds, CVTPS2PD/CVTPD2PS convert, CVTDQ2PD is exact', () => {
    const x = run(
      'mov eax, 16777217\ncvtsi2ss xmm0, eax\ncvtps2pd xmm1, xmm2\ncvtpd2ps xmm3, xmm4\ncvtdq2pd xmm5, xmm6',
      (x) => {
        x.sse.f32.set([0.1, -1], 8);
        x.sse.f64.set([0.1, 1e300], 8);
        x.sse.i32.set([-7, 2147483647], 24);
      },
    );
    expect(x.sse.f32[0]).toBe(16777216);
    expect(Array.from(x.sse.f64.subarray(2, 4))).toEqual([Math.fround(0.1), -1]);
    expect(x.sse.f32[12]).toBe(Math.fround(0.1));
    expect(x.sse.f32[13]).toBe(Number.POSITIVE_INFINITY);
    expect(Array.from(x.sse.u32.subarray(14, 16))).toEqual([0, 0]);
    expect(Array.from(x.sse.f64.subarray(10, 12))).toEqual([-7, 2147483647]);
  });
  it('RCPSS and RSQRTSS are within 1.5 * 2^-12 relative error, with no flags', () => {
    const x = run('rcpss xmm0, xmm1\nrsqrtss xmm2, xmm3', (x) => {
      x.sse.f32[4] = 3;
      x.sse.f32[12] = 2;
    });
    expect(Math.abs(x.sse.f32[0]! * 3 - 1)).toBeLessThan(1.5 * 2 ** -12);
    expect(Math.abs(x.sse.f32[8]! * Math.SQRT2 - 1)).toBeLessThan(1.5 * 2 ** -12);
    expect(x.sse.mxcsr & 0x3f).toBe(0);
  });
});

describe('coverage and models', () => {
  it('every SSE/SSE2/CLFLUSH Code of the decoder has a handler except the 64-bit (REX.W) forms', () => {
    const tags = new Set<number>([CpuidFeature.SSE, CpuidFeature.SSE2, CpuidFeature.CLFSH]);
    const missing: string[] = [];
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (!tags.has(f1) && !tags.has(f2)) continue;
      const name = CODE_NAMES[c]!;
      if (HANDLERS[c] === undefined && !/r64|rm64/.test(name)) missing.push(name);
    }
    expect(missing).toEqual([]);
  });
  it('PENTIUM_4 reports SSE, SSE2 and CLFLUSH in CPUID.01H:EDX with a 64-byte line', () => {
    const x = run('mov eax, 1\ncpuid');
    expect((x.m.cpu.regs.u32[2]! >>> 25) & 3).toBe(3);
    expect((x.m.cpu.regs.u32[2]! >>> 19) & 1).toBe(1);
    expect((x.m.cpu.regs.u32[3]! >>> 8) & 0xff).toBe(8);
    expect(x.m.cpu.regs.u32[0]).toBe(0xf29);
  });
  it('works in real mode with 16-bit addressing', () => {
    const m = real16('movaps xmm1, [0x3000]\naddps xmm1, xmm1\nmovups [0x3011], xmm1\nhlt', {
      model: SSE_MODEL,
    });
    m.cpu.setControlRegisters(0, 0, CR4.OSFXSR);
    m.memory.write32(0x3000, f32(1.25));
    runToHlt(m);
    expect(m.memory.read32(0x3011)).toBe(f32(2.5));
  });
  it('CVTPI2PS converts MM0 into the low half and enters the MMX state; CVTTPS2PI writes MM1', () => {
    const x = run(
      `fninit\nmovq mm0, [${MEM}]\nemms\ncvtpi2ps xmm0, [${MEM}]\ncvttps2pi mm1, xmm0\nmovq [${MEM + 8}], mm1`,
      (x) => {
        x.m.memory.write32(MEM, -3);
        x.m.memory.write32(MEM + 4, 7);
        x.sse.u32[2] = 0x12345678;
      },
    );
    expect(Array.from(x.sse.f32.subarray(0, 2))).toEqual([-3, 7]);
    expect(x.sse.u32[2]).toBe(0x12345678);
    expect(x.m.cpu.fpu.abridgedTagWord).toBe(0xff);
    expect(x.m.memory.read32(MEM + 8) | 0).toBe(-3);
    expect(x.m.memory.read32(MEM + 12)).toBe(7);
  });
  it('the default (Pentium II) model still raises #UD for SSE', () => {
    const vectors: number[] = [];
    const m = flat32('addps xmm0, xmm1\nhlt', { events: { delivered: (_k, v) => vectors.push(v) } });
    m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, CR4.OSFXSR);
    m.run(1);
    expect(vectors[0]).toBe(Vector.UD);
  });
});

describe('more forms', () => {
  it('MOVQ xmm, xmm and MOVQ xmm/m64, xmm zero the upper quadword; MOVDQ2Q/PEXTRW mm/PINSRW mm', () => {
    const x = run(
      'movq xmm1, xmm0\nmovdq2q mm0, xmm0\npextrw eax, mm0, 3\nmov ebx, 0xabcd\npinsrw mm0, ebx, 0\nmovq [0x3000], xmm0\nemms',
      (x) => {
        x.sse.u32.set([1, 0x12345678, 3, 4], 0);
        x.sse.u32.set([9, 9, 9, 9], 4);
      },
    );
    expect(Array.from(x.sse.u32.subarray(4, 8))).toEqual([1, 0x12345678, 0, 0]);
    expect(x.m.cpu.regs.u32[0]).toBe(0x1234);
    expect(x.m.cpu.fpu.regs[0]!.lo).toBe(0xabcd);
    expect([x.m.memory.read32(MEM), x.m.memory.read32(MEM + 4), x.m.memory.read32(MEM + 8)]).toEqual([
      1, 0x12345678, 0,
    ]);
  });
  it('MOVQ2DQ, PMOVMSKB mm, MASKMOVQ, PADDQ/PMULUDQ on MMX registers', () => {
    const x = run(
      `mov edi, ${MEM}\nmovq mm0, [${MEM + 8}]\nmovq mm1, [${MEM + 16}]\nmaskmovq mm0, mm1\npmovmskb eax, mm1\npaddq mm0, mm0\npmuludq mm1, mm1\nmovq2dq xmm2, mm0\nmovq2dq xmm3, mm1\nemms`,
      (x) => {
        x.m.memory.write32(MEM + 8, 0x80000001);
        x.m.memory.write32(MEM + 12, 0x00000002);
        x.m.memory.write32(MEM + 16, 0xff0000ff);
        x.m.memory.write32(MEM + 20, 0);
        x.m.memory.write32(MEM, 0x55555555);
      },
    );
    expect(x.m.memory.read32(MEM)).toBe(0x80555501);
    expect(x.m.cpu.regs.u32[0]).toBe(0b1001);
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([2, 5, 0, 0]);
    const sq = 0xff0000ffn * 0xff0000ffn;
    expect(Array.from(x.sse.u32.subarray(12, 14))).toEqual([Number(sq & 0xffffffffn), Number(sq >> 32n)]);
  });
  it('PSHUFLW/PSHUFHW, PUNPCKHQDQ and SHUFPD', () => {
    const x = run(
      'pshuflw xmm1, xmm0, 0x1b\npshufhw xmm2, xmm0, 0x1b\npunpckhqdq xmm3, xmm0\nshufpd xmm4, xmm0, 1',
      (x) => {
        x.sse.u16.set([0, 1, 2, 3, 4, 5, 6, 7], 0);
        x.sse.u32.set([10, 11, 12, 13], 12);
        x.sse.u32.set([20, 21, 22, 23], 16);
      },
    );
    expect(Array.from(x.sse.u16.subarray(8, 16))).toEqual([3, 2, 1, 0, 4, 5, 6, 7]);
    expect(Array.from(x.sse.u16.subarray(16, 24))).toEqual([0, 1, 2, 3, 7, 6, 5, 4]);
    expect(Array.from(x.sse.u32.subarray(12, 16))).toEqual([12, 13, x.sse.u32[2], x.sse.u32[3]]);
    expect(Array.from(x.sse.u32.subarray(16, 20))).toEqual([22, 23, x.sse.u32[0], x.sse.u32[1]]);
  });
  it('CMPSD/CMPPD write all-ones quadwords; CVTPD2DQ zeroes the upper half; CVTTPD2PI truncates into MM', () => {
    const x = run(
      'cmpsd xmm0, xmm1, 1\ncmppd xmm2, xmm3, 4\ncvtpd2dq xmm4, xmm5\ncvttpd2pi mm0, xmm5\nmovq2dq xmm6, mm0\nemms',
      (x) => {
        x.sse.f64.set([1, 7, 2, 0], 0);
        x.sse.f64.set([1, 2, 1, 3], 4);
        x.sse.u32.set([5, 5, 5, 5], 16);
        x.sse.f64.set([2.5, -3.5], 10);
      },
    );
    expect(Array.from(x.sse.u32.subarray(0, 4))).toEqual([0xffffffff, 0xffffffff, 0, 0x401c0000]);
    expect(Array.from(x.sse.u32.subarray(8, 12))).toEqual([0, 0, 0xffffffff, 0xffffffff]);
    expect(Array.from(x.sse.i32.subarray(16, 20))).toEqual([2, -4, 0, 0]);
    expect(Array.from(x.sse.i32.subarray(24, 26))).toEqual([2, -3]);
  });
  it('an unmasked invalid suppresses the post-computation flags of the other lanes', () => {
    const x = machine('addps xmm0, xmm1');
    x.sse.mxcsr = 0x1f80 & ~MXCSR.IM;
    x.sse.u32[0] = 0x7f800001; // SNaN in lane 0
    x.sse.f32[1] = 0.1; // lane 1 inexact
    x.sse.f32[5] = 0.2;
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.XM);
    expect(x.sse.mxcsr & 0x3f).toBe(MXCSR.IE);
    expect(x.sse.u32[0]).toBe(0x7f800001);
  });
  it('MOVNTI, MOVNTPS, PREFETCHNTA, SFENCE, LFENCE, MFENCE and CLFLUSH run', () => {
    const x = run(
      `mov eax, 77\nmovnti [${MEM}], eax\nmovntps [${MEM + 16}], xmm0\nprefetchnta [${MEM}]\nsfence\nlfence\nmfence\nclflush [${MEM}]`,
      (x) => {
        x.sse.u32[0] = 5;
      },
    );
    expect(x.m.memory.read32(MEM)).toBe(77);
    expect(x.m.memory.read32(MEM + 16)).toBe(5);
  });
  it('property: scalar ADDSS on arbitrary bit patterns follows the NaN rules and matches Math.fround otherwise', () => {
    const nan = fc.oneof(
      fc.integer({ min: 0x7f800001, max: 0x7fffffff }),
      fc.integer({ min: 0xff800001, max: 0xffffffff }),
    );
    const bits = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), nan);
    fc.assert(
      fc.property(bits, bits, (a, b) => {
        const x = run('addss xmm0, xmm1', (x) => {
          x.sse.u32[0] = a;
          x.sse.u32[4] = b;
        });
        const nanBits = (v: number) => (v & 0x7f800000) === 0x7f800000 && (v & 0x7fffff) !== 0;
        const snanBits = (v: number) => nanBits(v) && (v & 0x400000) === 0;
        const got = x.sse.u32[0]!;
        if (nanBits(a) || nanBits(b)) {
          expect(got).toBe(((nanBits(a) ? a : b) | 0x400000) >>> 0);
          expect((x.sse.mxcsr & MXCSR.IE) !== 0).toBe(snanBits(a) || snanBits(b));
          return;
        }
        const fa = new Float32Array(new Uint32Array([a]).buffer)[0]!;
        const fb = new Float32Array(new Uint32Array([b]).buffer)[0]!;
        const want = Math.fround(fa + fb);
        if (Number.isNaN(want)) expect(got).toBe(0xffc00000);
        else expect(x.sse.f32[0]).toBe(want);
      }),
      { numRuns: 100 },
    );
  });
});
