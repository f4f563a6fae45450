import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CODE_COUNT, Code, OPCODE_ROWS } from './table.gen.js';
import { T_MODES } from './tables.js';
import { generateTable } from './tools/gen-table.js';

describe('opcode table', () => {
  it('table.gen.ts is what the generator produces (not stale, not hand-edited)', () => {
    const onDisk = readFileSync(new URL('./table.gen.ts', import.meta.url), 'utf8');
    expect(onDisk === generateTable()).toBe(true);
  });

  it('has one row per Code, in Code order', () => {
    expect(OPCODE_ROWS.length).toBe(CODE_COUNT - 1);
    expect(OPCODE_ROWS.every((row, i) => row[0] === i + 1)).toBe(true);
    expect(T_MODES[Code.Vmlaunch]).toBe(7);
  });
});
