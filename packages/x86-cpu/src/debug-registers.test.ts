import { describe, expect, it } from 'vitest';
import {
  BreakCondition,
  breakCondition,
  DR6,
  DR7,
  hasInstructionBreakpoints,
  instructionBreakpointHits,
} from './debug-registers.js';

/** DR7 with breakpoint n enabled (L bit) and R/Wn = `rw`. */
const enable = (n: number, rw = 0, global = false): number =>
  ((global ? 2 : 1) << (2 * n)) | (rw << (DR7.RW_SHIFT + 4 * n)) | DR7.FIXED1;

describe('instruction breakpoints (SDM 18.2)', () => {
  const dr = new Uint32Array([0x1000, 0x2000, 0x1000, 0xffff_fff0, 0, 0, DR6.FIXED1, DR7.FIXED1]);

  it('reports the B bit of each enabled execution breakpoint whose address matches', () => {
    expect(instructionBreakpointHits(enable(0), dr, 0x1000)).toBe(DR6.B0);
    expect(instructionBreakpointHits(enable(0) | enable(2, 0, true), dr, 0x1000)).toBe(DR6.B0 | DR6.B2);
    expect(instructionBreakpointHits(enable(1), dr, 0x2000)).toBe(DR6.B1);
    expect(instructionBreakpointHits(enable(3), dr, 0xffff_fff0)).toBe(DR6.B3);
  });

  it('ignores disabled breakpoints, other addresses and data/I-O breakpoints', () => {
    expect(instructionBreakpointHits(DR7.FIXED1, dr, 0x1000)).toBe(0);
    expect(instructionBreakpointHits(enable(0), dr, 0x1001)).toBe(0);
    expect(instructionBreakpointHits(enable(0, BreakCondition.Write), dr, 0x1000)).toBe(0);
    expect(instructionBreakpointHits(enable(0, BreakCondition.ReadWrite), dr, 0x1000)).toBe(0);
    expect(instructionBreakpointHits(enable(1), dr, 0x1000)).toBe(0);
  });

  it('says whether DR7 arms any execution breakpoint', () => {
    expect(hasInstructionBreakpoints(DR7.FIXED1)).toBe(false);
    expect(hasInstructionBreakpoints(enable(2, BreakCondition.Write))).toBe(false);
    expect(hasInstructionBreakpoints(enable(2, BreakCondition.Write) | enable(3))).toBe(true);
    expect(breakCondition(enable(1, BreakCondition.Io), 1)).toBe(BreakCondition.Io);
  });
});
