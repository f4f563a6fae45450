/**
 * Builder for a family's handler list: handlers are registered by decoder `Code` name, so a renamed or
 * missing Code fails loudly at module load instead of silently decoding to #UD.
 */
import { Code } from '@typevisor/x86-decoder';
import type { Handler } from '../cpu.js';
import { CpuError } from '../errors.js';

const CODES = Code as Record<string, number>;

export class HandlerList {
  readonly entries: [number, Handler][] = [];

  add(name: string, handler: Handler): void {
    const code = CODES[name];
    if (code === undefined) throw new CpuError('UnknownCode', `unknown Code ${name}`);
    this.entries.push([code, handler]);
  }

  /** True when the decoder has a Code of this name (for optional forms). */
  static has(name: string): boolean {
    return CODES[name] !== undefined;
  }
}

/** Condition-code suffixes in encoding order (the low nibble of Jcc/SETcc/CMOVcc), as in Code names. */
export const CONDITIONS = [
  'o',
  'no',
  'b',
  'ae',
  'e',
  'ne',
  'be',
  'a',
  's',
  'ns',
  'p',
  'np',
  'l',
  'ge',
  'le',
  'g',
] as const;
