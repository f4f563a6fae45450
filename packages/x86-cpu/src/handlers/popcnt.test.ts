import { CODE_NAMES, CpuidFeature, codeCpuidFeatures } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flat32, runToHlt } from '../../test/machine.js';
import { applyGuestCpuid, CORE_2, type CpuModel, Leaf1Ecx, PENTIUM_4_PRESCOTT } from '../cpu-model.js';
import { HANDLERS } from '../dispatch.js';
import { EFLAGS, Vector } from '../index.js';

const MEM = 0x3000;
const STATUS = EFLAGS.CF | EFLAGS.PF | EFLAGS.AF | EFLAGS.ZF | EFLAGS.SF | EFLAGS.OF;

function machine(source: string, model: CpuModel = CORE_2) {
  const vectors: number[] = [];
  const m = flat32(`${source}\nhlt`, { model, events: { delivered: (_k, v) => vectors.push(v) } });
  return { m, vectors };
}

/** The SDM's Operation section: count bit by bit. */
function reference(v: number, bits: number): number {
  let n = 0;
  for (let i = 0; i < bits; i++) if ((v >>> i) & 1) n++;
  return n;
}

const value = fc.oneof(
  fc.constantFrom(0, 1, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);

describe('POPCNT', () => {
  it('every Code the decoder tags POPCNT has a handler (the REX.W form is in long-alu.ts)', () => {
    const names: string[] = [];
    for (let c = 0; c < HANDLERS.length; c++) {
      const [f1, f2] = codeCpuidFeatures(c);
      if (f1 !== CpuidFeature.POPCNT && f2 !== CpuidFeature.POPCNT) continue;
      if (HANDLERS[c] === undefined) names.push(CODE_NAMES[c]!);
    }
    expect(names).toEqual([]);
  });

  it('property: r32 and r16 forms, register and memory sources, count bits; ZF iff zero, other flags cleared', () => {
    fc.assert(
      fc.property(value, value, fc.constantFrom(0, STATUS), (v, old, flagsBefore) => {
        const x = machine(`popcnt eax, ebx\npopcnt cx, bx\npopcnt edx, [${MEM}]\npushfd\npop esi`);
        x.m.cpu.regs.u32.set([old, old, old, v]);
        x.m.memory.write32(MEM, v);
        x.m.cpu.eflags = EFLAGS.FIXED1 | flagsBefore;
        runToHlt(x.m);
        const r = x.m.cpu.regs.u32;
        expect(r[0]).toBe(reference(v, 32));
        expect(r[1]).toBe(((old & 0xffff0000) | reference(v, 16)) >>> 0);
        expect(r[2]).toBe(reference(v, 32));
        expect(r[6]! & STATUS).toBe(v === 0 ? EFLAGS.ZF : 0);
      }),
      { numRuns: 200 },
    );
  });

  it('the r16 form sets ZF from the 16-bit source only', () => {
    const x = machine('popcnt ax, bx');
    x.m.cpu.regs.u32[3] = 0x10000;
    runToHlt(x.m);
    expect(x.m.cpu.eflags & EFLAGS.ZF).toBe(EFLAGS.ZF);
  });

  it('#UD on a model without POPCNT and when the guest CPUID clears CPUID.01H:ECX.POPCNT', () => {
    const first = (model: CpuModel, ecx?: number) => {
      const x = machine('popcnt eax, ebx', model);
      if (ecx !== undefined) applyGuestCpuid(x.m.cpu.features, model, ecx, 0xffffffff);
      x.m.run(1);
      return x.vectors[0];
    };
    const ecx = CORE_2.cpuid.find((l) => l.leaf === 1)!.ecx;
    expect(first(PENTIUM_4_PRESCOTT)).toBe(Vector.UD);
    expect(first(CORE_2, ecx & ~Leaf1Ecx.POPCNT)).toBe(Vector.UD);
    expect(first(CORE_2, ecx & ~Leaf1Ecx.SSE4_2)).toBeUndefined();
    expect(first(CORE_2)).toBeUndefined();
  });
});
