import { decode } from '@typevisor/x86-decoder';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPS_STRIDE, Rec, writeRecord } from './operand-record.js';

/** The record's fields unpacked, next to what the decoded instruction says. */
function unpack(rec: Int32Array, at: number) {
  const m = rec[at + Rec.Mem]!;
  return {
    length: rec[at + Rec.Length],
    op0Register: rec[at + Rec.Reg0],
    op1Register: rec[at + Rec.Reg1],
    op1Kind: rec[at + Rec.Kind1],
    immediate: rec[at + Rec.Imm]! >>> 0,
    memDisplacement: rec[at + Rec.Disp],
    memBase: m & 0xff,
    memIndex: (m >>> 8) & 0xff,
    memScale: (m >>> 16) & 0xff,
    memSegment: m >>> 24,
    branchDisplacement: rec[at + Rec.Branch],
  };
}

describe('operand records', () => {
  it('hold what the fast handlers read of an instruction, at its slot in the block', () => {
    const bytes = [
      [0x65, 0x23, 0x44, 0xb3, 0xe0], // and eax, gs:[ebx+esi*4-0x20]
      [0x81, 0xe1, 0x00, 0xf0, 0xff, 0xff], // and ecx, 0xfffff000
      [0x0f, 0x85, 0xf0, 0xff, 0xff, 0xff], // jne -16
    ];
    const rec = new Int32Array(bytes.length * OPS_STRIDE);
    for (const [i, b] of bytes.entries())
      writeRecord(rec, i * OPS_STRIDE, decode(Uint8Array.from(b), 0, { bitness: 32, ip: 0xc1000000 }));
    const first = unpack(rec, 0);
    const sib = decode(Uint8Array.from(bytes[0]!), 0, { bitness: 32, ip: 0xc1000000 });
    expect(first).toMatchObject({ length: 5, memDisplacement: -0x20, memScale: 4 });
    expect([first.memBase, first.memIndex, first.memSegment]).toEqual([
      sib.memBase,
      sib.memIndex,
      sib.memSegment,
    ]);
    expect(unpack(rec, OPS_STRIDE).immediate).toBe(0xfffff000);
    expect(unpack(rec, 2 * OPS_STRIDE)).toMatchObject({ length: 6, branchDisplacement: -16 });
  });

  it('round-trip every field of random 32-bit instructions (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 15, maxLength: 15 }), (bytes) => {
        const ins = decode(bytes, 0, { bitness: 32, ip: 0x80001000 });
        const rec = new Int32Array(2 * OPS_STRIDE);
        writeRecord(rec, OPS_STRIDE, ins);
        expect(unpack(rec, OPS_STRIDE)).toEqual({
          length: ins.length,
          op0Register: ins.op0Register,
          op1Register: ins.op1Register,
          op1Kind: ins.op1Kind,
          immediate: ins.immediate >>> 0,
          memDisplacement: ins.memDisplacement | 0,
          memBase: ins.memBase,
          memIndex: ins.memIndex,
          memScale: ins.memScale,
          memSegment: ins.memSegment,
          branchDisplacement: ins.branchDisplacement,
        });
        expect(Array.from(rec.subarray(0, OPS_STRIDE))).toEqual(new Array(OPS_STRIDE).fill(0));
      }),
      { numRuns: 2000 },
    );
  });
});
