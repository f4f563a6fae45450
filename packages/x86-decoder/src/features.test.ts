import { describe, expect, it } from 'vitest';
import { decode } from './decoder.js';
import { codeCpuidFeatures } from './features.js';
import { Code, CpuidFeature } from './table.gen.js';

describe('codeCpuidFeatures', () => {
  it('names the feature a form needs, as decode records it', () => {
    expect(codeCpuidFeatures(Code.Addps_xmm_xmmm128)).toContain(CpuidFeature.SSE);
    expect(codeCpuidFeatures(Code.Paddq_xmm_xmmm128)).toContain(CpuidFeature.SSE2);
    const ins = decode(new Uint8Array([0x66, 0x0f, 0xd4, 0xc1]), 0, { bitness: 32 }); // paddq xmm0, xmm1
    expect(ins.code).toBe(Code.Paddq_xmm_xmmm128);
    expect(codeCpuidFeatures(ins.code)).toEqual([ins.cpuidFeature, ins.cpuidFeature2]);
  });
});
