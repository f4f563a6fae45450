import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt, Sel } from '../../test/machine.js';
import { CORE_2, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { CR0, CR4, Seg, Vector } from '../index.js';
import { CR4_OSXSAVE, setXcr0, XsaveArea, xcr0Of } from './xsave.js';

/** 64-byte aligned XSAVE areas. */
const AREA = 0x3000;
const AREA2 = 0x3400;
const FXAREA = 0x3800;
const SSE_CR4 = CR4.OSFXSR | CR4.OSXMMEXCPT;

function machine(source: string, cr4 = SSE_CR4 | CR4_OSXSAVE, model = CORE_2) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  m.cpu.setControlRegisters(CR0.PE | CR0.ET, 0, cr4);
  return { m, vectors, cpu: m.cpu, sse: m.cpu.fpu.sse };
}
type M = ReturnType<typeof machine>;

/** Runs the first instruction only; the first vector delivered, undefined when none. */
function fault(source: string, setup?: (x: M) => void, cr4?: number, model = CORE_2): number | undefined {
  const x = machine(source, cr4, model);
  setup?.(x);
  x.m.run(1);
  return x.vectors[0];
}

function run(source: string, setup?: (x: M) => void): M {
  const x = machine(source);
  setup?.(x);
  runToHlt(x.m);
  expect(x.vectors).toEqual([]);
  return x;
}

const bytes = (x: M, at: number, n: number) => Array.from(x.m.ram.subarray(at, at + n));
const toCpl3 = (x: M) => {
  x.cpu.segs.set(Seg.CS, Sel.Code32Dpl3, 0, 0xffffffff, 0xc0fb);
  x.cpu.segs.set(Seg.SS, Sel.Data32Dpl3, 0, 0xffffffff, 0xc0f3);
  x.cpu.ctrl.cpl = 3;
};

describe('CPUID and CR4.OSXSAVE', () => {
  it('CPUID.01H:ECX reports XSAVE, and OSXSAVE exactly while CR4.OSXSAVE is set', () => {
    const src =
      'mov eax, 1\ncpuid\nmov esi, ecx\nmov eax, cr4\nor eax, 0x40000\nmov cr4, eax\nmov eax, 1\ncpuid';
    const x = machine(src, SSE_CR4);
    runToHlt(x.m);
    const before = x.cpu.regs.u32[6]!;
    const after = x.cpu.regs.u32[1]!;
    expect((before >>> 26) & 1).toBe(1);
    expect((before >>> 27) & 1).toBe(0);
    expect((after >>> 27) & 1).toBe(1);
    expect(x.cpu.ctrl.cr4 & CR4_OSXSAVE).toBe(CR4_OSXSAVE);
  });
  it('leaf 0DH: XCR0 may enable x87|SSE, 576-byte area, XSAVEOPT only; other sub-leaves 0', () => {
    const leaf = (sub: number) => {
      const x = run(`mov eax, 0xd\nmov ecx, ${sub}\ncpuid`);
      const r = x.cpu.regs.u32;
      return [r[0], r[3], r[1], r[2]];
    };
    expect(leaf(0)).toEqual([3, 576, 576, 0]);
    expect(leaf(1)).toEqual([1, 0, 0, 0]);
    expect(leaf(2)).toEqual([0, 0, 0, 0]);
    expect(run('xor eax, eax\ncpuid').cpu.regs.u32[0]).toBeGreaterThanOrEqual(0xd);
  });
  it('leaf 0DH EBX stays 576 with XCR0 = 3 (both components live in the legacy region)', () => {
    const x = run('xor ecx, ecx\nmov eax, 3\nxor edx, edx\nxsetbv\nmov eax, 0xd\nxor ecx, ecx\ncpuid');
    expect(x.cpu.regs.u32[3]).toBe(576);
  });
  it('MOV to CR4 with OSXSAVE is #GP(0) on a model without XSAVE', () => {
    const src = 'mov eax, 0x40600\nmov cr4, eax';
    expect(fault(src, (x) => x.m.run(1), SSE_CR4, PENTIUM_4_PRESCOTT)).toBe(Vector.GP);
    const x = machine(src, SSE_CR4);
    x.m.run(2);
    expect(x.vectors).toEqual([]);
  });
});

describe('XGETBV and XSETBV', () => {
  it('XCR0 starts at 1; XSETBV 3 then XGETBV reads 3 back', () => {
    const x = run(
      'xor ecx, ecx\nxgetbv\nmov esi, eax\nmov edi, edx\nmov eax, 3\nxor edx, edx\nxsetbv\nmov edx, -1\nxgetbv',
    );
    expect(x.cpu.regs.u32[6]).toBe(1);
    expect(x.cpu.regs.u32[7]).toBe(0);
    expect(x.cpu.regs.u32[0]).toBe(3);
    expect(x.cpu.regs.u32[2]).toBe(0);
    expect(xcr0Of(x.cpu)).toBe(3);
    // RESET puts XCR0 back to 1 (SDM Vol. 3 Table 9-1).
    x.cpu.reset();
    expect(xcr0Of(x.cpu)).toBe(1);
  });
  it('both are #UD without CR4.OSXSAVE, and on a model without XSAVE', () => {
    expect(fault('xgetbv', (x) => (x.cpu.regs.u32[1] = 0), SSE_CR4)).toBe(Vector.UD);
    expect(fault('xsetbv', (x) => (x.cpu.regs.u32[0] = 1), SSE_CR4)).toBe(Vector.UD);
    expect(fault('xgetbv', undefined, SSE_CR4, PENTIUM_4_PRESCOTT)).toBe(Vector.UD);
  });
  it('XGETBV with ECX = 1 (XINUSE is not claimed) or 2 is #GP(0)', () => {
    expect(fault('xgetbv', (x) => (x.cpu.regs.u32[1] = 1))).toBe(Vector.GP);
    expect(fault('xgetbv', (x) => (x.cpu.regs.u32[1] = 2))).toBe(Vector.GP);
  });
  it('XGETBV works at CPL 3, XSETBV is #GP(0) there', () => {
    const set = (x: M) => {
      toCpl3(x);
      x.cpu.regs.u32[0] = 3;
      x.cpu.regs.u32[1] = 0;
      x.cpu.regs.u32[2] = 0;
    };
    expect(fault('xgetbv', set)).toBeUndefined();
    expect(fault('xsetbv', set)).toBe(Vector.GP);
  });
  it.each([
    ['x87 cleared', 0, 0, 0],
    ['SSE without x87', 0, 2, 0],
    ['AVX (unsupported)', 0, 7, 0],
    ['AVX without SSE', 0, 5, 0],
    ['a reserved low bit', 0, 0x11, 0],
    ['an upper-half bit', 0, 3, 1],
    ['XCR index 1', 1, 3, 0],
  ])('XSETBV with %s is #GP(0) and leaves XCR0', (_name, ecx, eax, edx) => {
    const x = machine('xsetbv');
    x.cpu.regs.u32[1] = ecx;
    x.cpu.regs.u32[0] = eax;
    x.cpu.regs.u32[2] = edx;
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.GP);
    expect(xcr0Of(x.cpu)).toBe(1);
  });
});

/** x87 and SSE state worth saving: ST(0) = pi, ST(1) = 1, a non-default FCW, XMM0..7, MXCSR. */
const LOAD_STATE = `
  fninit
  fld1
  fldpi
  mov dword [0x2000], 0x0f7f
  fldcw [0x2000]
  mov dword [0x2004], 0x7f80
  ldmxcsr [0x2004]
  movdqu xmm0, [0x2100]
  movdqu xmm3, [0x2110]
  movdqu xmm7, [0x2120]
  xor ecx, ecx
  mov eax, 3
  xor edx, edx
  xsetbv`;

function fillXmmSources(x: M): void {
  for (let i = 0; i < 48; i++) x.m.ram[0x2100 + i] = (i * 7 + 1) & 0xff;
}

describe('XSAVE and XRSTOR', () => {
  it('round-trip x87 and XMM state; the legacy region equals FXSAVE and XSTATE_BV = 3', () => {
    const x = run(
      `${LOAD_STATE}
      mov eax, -1
      mov edx, -1
      xsave [${AREA}]
      fxsave [${FXAREA}]
      fninit
      pxor xmm0, xmm0
      pxor xmm3, xmm3
      pxor xmm7, xmm7
      mov dword [0x2000], 0x1f80
      ldmxcsr [0x2000]
      mov eax, 3
      xor edx, edx
      xrstor [${AREA}]
      xsave [${AREA2}]
      fstp qword [0x2200]
      fstp qword [0x2208]`,
      fillXmmSources,
    );
    // Bytes 0..287: x87 state, MXCSR/MXCSR_MASK, XMM0-7 (the ST slots' reserved bytes stay 0 in both).
    expect(bytes(x, AREA, 288)).toEqual(bytes(x, FXAREA, 288));
    expect(bytes(x, AREA + XsaveArea.XSTATE_BV, 16)).toEqual([
      3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    expect(bytes(x, AREA2, 576)).toEqual(bytes(x, AREA, 576));
    expect(x.m.memory.read32(AREA + 0)).toBe(0x0f7f | (0x3000 << 16)); // FCW; FSW with TOP = 6
    expect(x.sse.mxcsr).toBe(0x7f80);
    expect(Array.from(x.sse.u8.subarray(0, 16))).toEqual(bytes(x, 0x2100, 16));
    expect(Array.from(x.sse.u8.subarray(48, 64))).toEqual(bytes(x, 0x2110, 16));
    expect(Array.from(x.sse.u8.subarray(112, 128))).toEqual(bytes(x, 0x2120, 16));
    const f = new DataView(x.m.ram.buffer, x.m.ram.byteOffset + 0x2200, 16);
    // FCW 0F7F rounds to zero with 24-bit precision: pi comes back truncated, 1 exactly.
    expect(f.getFloat64(0, true)).toBeCloseTo(Math.PI, 6);
    expect(f.getFloat64(8, true)).toBe(1);
  });

  it('RFBM = XCR0 AND EDX:EAX: with EAX = 1 (or XCR0 = 1) only x87 state is written', () => {
    const prefill = (x: M) => {
      fillXmmSources(x);
      x.m.ram.fill(0xaa, AREA, AREA + 512);
      x.m.ram.fill(0, AREA + 512, AREA + 576);
    };
    for (const [xcr0, eax] of [
      [3, 1],
      [1, 3],
    ] as const) {
      const x = run(`${LOAD_STATE}\nmov eax, ${xcr0}\nxsetbv\nmov eax, ${eax}\nxsave [${AREA}]`, prefill);
      expect(x.m.memory.read16(AREA)).toBe(0x0f7f);
      // MXCSR, MXCSR_MASK and XMM untouched; XSTATE_BV = x87 only.
      expect(bytes(x, AREA + 24, 8)).toEqual(new Array(8).fill(0xaa));
      expect(bytes(x, AREA + 160, 128)).toEqual(new Array(128).fill(0xaa));
      expect(x.m.ram[AREA + XsaveArea.XSTATE_BV]).toBe(1);
    }
  });

  it('XSAVE keeps XSTATE_BV bits outside RFBM and the rest of the header', () => {
    const x = run(`${LOAD_STATE}\nmov eax, 1\nxsave [${AREA}]`, (x) => {
      fillXmmSources(x);
      x.m.ram[AREA + XsaveArea.XSTATE_BV] = 2;
      x.m.ram[AREA + 540] = 0x5a;
    });
    expect(x.m.ram[AREA + XsaveArea.XSTATE_BV]).toBe(3);
    expect(x.m.ram[AREA + 540]).toBe(0x5a);
  });

  it('XRSTOR with XSTATE_BV = 0 puts x87 in its initial state, zeroes XMM0-7 and loads MXCSR from memory', () => {
    const x = run(`${LOAD_STATE}\nmov eax, 3\nxrstor [${AREA}]`, (x) => {
      fillXmmSources(x);
      x.m.ram.fill(0x11, AREA, AREA + 512);
      x.m.ram.fill(0, AREA + 512, AREA + 576);
      x.m.memory.write32(AREA + 24, 0x1f80);
    });
    const fpu = x.cpu.fpu;
    expect(fpu.cw).toBe(0x037f);
    expect(fpu.statusWord).toBe(0);
    expect(fpu.abridgedTagWord).toBe(0);
    expect(fpu.fip).toBe(0);
    expect(Array.from(x.sse.u8.subarray(0, 128))).toEqual(new Array(128).fill(0));
    // The standard form loads MXCSR whenever RFBM[1] = 1, whatever XSTATE_BV[1] says (SDM XRSTOR).
    expect(x.sse.mxcsr).toBe(0x1f80);
  });

  it('XRSTOR with RFBM = x87 leaves XMM and MXCSR alone', () => {
    const x = run(`${LOAD_STATE}\nmov eax, 1\nxrstor [${AREA}]`, (x) => {
      fillXmmSources(x);
      x.m.ram.fill(0, AREA, AREA + 576);
      x.m.memory.write32(AREA + 24, 0x1f80);
      x.m.ram[AREA + XsaveArea.XSTATE_BV] = 3;
    });
    expect(x.sse.mxcsr).toBe(0x7f80);
    expect(Array.from(x.sse.u8.subarray(0, 16))).toEqual(bytes(x, 0x2100, 16));
    expect(x.cpu.fpu.cw).toBe(0);
  });

  it('a misaligned area is #GP(0) for XSAVE and XRSTOR; CR0.TS is #NM', () => {
    const xcr = (x: M) => {
      setXcr0(x.cpu, 3);
      x.cpu.regs.u32[0] = 3;
    };
    expect(fault(`xsave [${AREA + 16}]`, xcr)).toBe(Vector.GP);
    expect(fault(`xrstor [${AREA + 32}]`, xcr)).toBe(Vector.GP);
    expect(fault(`xsaveopt [${AREA + 8}]`, xcr)).toBe(Vector.GP);
    expect(fault(`xsave [${AREA}]`, xcr)).toBeUndefined();
    expect(fault(`xsave [${AREA}]`, (x) => (x.cpu.ctrl.cr0 |= CR0.TS))).toBe(Vector.NM);
    expect(fault(`xrstor [${AREA}]`, undefined, SSE_CR4)).toBe(Vector.UD);
  });

  it.each([
    ['XCOMP_BV bit 63 (compacted form, XSAVEC not claimed)', XsaveArea.XCOMP_BV + 7, 0x80],
    ['XCOMP_BV bit 0', XsaveArea.XCOMP_BV, 1],
    ['header byte 16', XsaveArea.RESERVED, 1],
    ['header byte 23', XsaveArea.RESERVED + 7, 0x40],
    ['XSTATE_BV bit 2 (AVX, not in XCR0)', XsaveArea.XSTATE_BV, 4],
    ['XSTATE_BV bit 32', XsaveArea.XSTATE_BV + 4, 1],
    ['a reserved MXCSR bit', 26, 1],
  ])('XRSTOR with %s is #GP(0) and changes nothing', (_name, offset, value) => {
    const x = machine(`xrstor [${AREA}]`);
    setXcr0(x.cpu, 3);
    x.cpu.regs.u32[0] = 3;
    x.m.memory.write32(AREA + 24, 0x1f80);
    x.m.ram[AREA + XsaveArea.XSTATE_BV] = 3;
    x.m.ram[AREA + offset] = x.m.ram[AREA + offset]! | value;
    x.cpu.fpu.sse.u32[0] = 0x12345678;
    x.cpu.fpu.sse.mxcsr = 0x1fc0;
    x.m.run(1);
    expect(x.vectors[0]).toBe(Vector.GP);
    expect(x.sse.u32[0]).toBe(0x12345678);
    expect(x.sse.mxcsr).toBe(0x1fc0);
  });

  it('XRSTOR with XSTATE_BV bit 1 while XCR0 = 1 is #GP(0); header bytes 24-63 are not checked', () => {
    const header = (bv: number, at: number) => (x: M) => {
      x.cpu.regs.u32[0] = 3;
      x.m.memory.write32(AREA + 24, 0x1f80);
      x.m.ram[AREA + XsaveArea.XSTATE_BV] = bv;
      x.m.ram[AREA + at] = 0xff;
    };
    expect(fault(`xrstor [${AREA}]`, header(3, 0))).toBe(Vector.GP);
    expect(fault(`xrstor [${AREA}]`, header(1, XsaveArea.RESERVED + 8))).toBeUndefined();
  });
});

describe('XRSTOR on guest-controlled headers', () => {
  it('is #GP(0) exactly when the SDM says so, and otherwise restores; never a host exception', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(1, 3),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.boolean(),
        (header, mxcsr, xcr0, eax, edx, sparse) => {
          const x = machine(`xrstor [${AREA}]`);
          setXcr0(x.cpu, xcr0);
          x.cpu.regs.u32[0] = eax;
          x.cpu.regs.u32[2] = edx;
          // Sparse headers reach the success paths often enough to matter.
          const h = sparse ? header.map((b, i) => (i < 8 ? b & 3 : 0)) : header;
          x.m.ram.set(h, AREA + 512);
          x.m.memory.write32(AREA + 24, sparse ? mxcsr & 0x1ffff : mxcsr);
          const hv = new DataView(h.buffer, h.byteOffset, 64);
          const bvLo = hv.getUint32(0, true);
          const bvHi = hv.getUint32(4, true);
          const rfbm = xcr0 & eax;
          const m = x.m.memory.read32(AREA + 24);
          const gp =
            (bvLo & ~xcr0) !== 0 ||
            bvHi !== 0 ||
            h.subarray(8, 24).some((b) => b !== 0) ||
            ((rfbm & 2) !== 0 && m > 0xffff);
          x.m.run(1);
          // The first vector (no IDT here: a #GP goes on to #DF).
          expect(x.vectors[0]).toBe(gp ? Vector.GP : undefined);
          if (!gp && rfbm & 2) expect(x.sse.mxcsr).toBe(m);
        },
      ),
      { numRuns: 300 },
    );
  });
});
