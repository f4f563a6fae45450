/**
 * Differential test against iced-x86 (the oracle): a fast seeded subset runs in every test run; the
 * multi-million run is `X86_DIFF_RANDOM=<count>` (or the `diff` command).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type CompareResult, compareBuffer, compareRandom, report } from './tools/compare.js';
import { readElfSection } from './tools/elf.js';

const RANDOM = Number(process.env.X86_DIFF_RANDOM ?? 20_000);
const testdata = new URL('../testdata/', import.meta.url);

/** Disagreements documented in README "Deliberate differences"; everything else must agree. */
function undocumented(res: CompareResult): string[] {
  const out: string[] = [];
  for (const [key, n] of res.byIcedCode) {
    // iced-x86 1.21's wasm formatter prints only the low 32 bits of MOV r64, imm64.
    if (key === 'operands:Mov_r64_imm64') continue;
    out.push(`${key}=${n}`);
  }
  return out;
}

describe('differential against iced-x86', () => {
  it('agrees on the first 1 MiB of the Node.js binary (64-bit)', () => {
    const text = readElfSection(process.execPath);
    const res = compareBuffer(text.bytes.subarray(0, 1 << 20), { bitness: 64, ip: text.addr });
    expect(undocumented(res), report(res)).toEqual([]);
    expect(res.total).toBeGreaterThan(200_000);
  });

  it('agrees on SeaBIOS 32-bit code', () => {
    const bytes = new Uint8Array(readFileSync(new URL('seabios-bios-0-64k-32bit.bin', testdata)));
    const res = compareBuffer(bytes, { bitness: 32, ip: 0xe0000n });
    expect(undocumented(res), report(res)).toEqual([]);
  });

  it('agrees on the SeaBIOS VGA BIOS (16-bit)', () => {
    const bytes = new Uint8Array(readFileSync(new URL('seabios-vgabios-stdvga-16bit.bin', testdata)));
    const res = compareBuffer(bytes, { bitness: 16 });
    expect(undocumented(res), report(res)).toEqual([]);
  });

  for (const bitness of [64, 32, 16] as const) {
    it(`agrees on >= 99.9% of ${RANDOM} seeded random sequences (${bitness}-bit)`, () => {
      const res = compareRandom(bitness, 0x5eed + bitness, RANDOM);
      expect(res.total).toBe(RANDOM);
      expect(res.agree / res.total, report(res)).toBeGreaterThanOrEqual(0.999);
    });
  }
});
