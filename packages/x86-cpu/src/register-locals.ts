/**
 * Guest registers in JavaScript locals for the compiling tier. A block function written by
 * `BlockWriter` reads and writes the register file at each use (`r32[n]`, `u32[n]`, and the 16- and
 * 8-bit views `r16`, `r8` for 16- and 8-bit registers and a 16-bit stack's SP); this pass gives each
 * 32-bit word the block uses a local instead (`e<n>`, loaded once at the front), so V8 can keep it in
 * a machine register: 16- and 8-bit reads and stores become shifts and masks of the local, as the
 * views' little-endian layout defines them. The register file is made current again wherever
 * something else can look at it:
 *
 * - in front of each slow path (`BlockWriter.book` begins every one: the `read32`/`write32`...
 *   calls, each `raise`, each handler call) and each `return`, the words the block writes are stored
 *   back (a word not written yet stores the value it was loaded with);
 * - after each handler call (which may change any register) every local is loaded again.
 *
 * It works on the text `BlockWriter` makes, whose register accesses all have constant indices
 * (`r32[3]`); it refuses (returns the lines unchanged) a block with any other form.
 */

/** Where the words a block function reads and writes live while it runs. */
export interface RegisterLocals {
  /** Declarations to put after the function's `const regs = ...` line (empty when nothing is cached). */
  readonly prologue: string[];
  /** The body with cached words read and written through locals. */
  readonly body: string[];
}

/** The statement that marks the front of a slow path (`BlockWriter.book`). */
const SLOW_PATH = 'cpu.startIp = ';
/** A handler call as `BlockWriter.call` writes it. */
const HANDLER_CALL = /h\[\d+\]\(cpu, l\[\d+\], _b\.ops, \d+\);/g;
const ANY_VIEW = /\b(?:[ru]32|r16|r8)\[/g;
const ANY_INDEXED_PARTS = /\b([ru]32|r16|r8)\[(\d+)\]/g;
/** A store through a view (not `==`/`===`). */
const ANY_WRITE = /\b([ru]32|r16|r8)\[(\d+)\] = (?!=)/g;

/** The 32-bit word element `index` of `view` lies in. */
function word(view: string, index: number): number {
  if (view === 'r16') return index >> 1;
  if (view === 'r8') return index >> 2;
  return index;
}

/** A read of element `index` of `view` from the local of word `n`. */
function readOf(view: string, index: number, n: number): string {
  if (view === 'u32') return `(e${n} >>> 0)`;
  if (view === 'r32') return `e${n}`;
  if (view === 'r16') return index & 1 ? `(e${n} >>> 16)` : `(e${n} & 0xffff)`;
  const shift = (index & 3) * 8;
  return shift === 0 ? `(e${n} & 0xff)` : shift === 24 ? `(e${n} >>> 24)` : `((e${n} >>> ${shift}) & 0xff)`;
}

/** The new value of word `n`'s local for a store of `value` into element `index` of `view`. */
function writeOf(view: string, index: number, n: number, value: string): string {
  if (view === 'r32' || view === 'u32') return `(${value}) | 0`;
  const [bits, shift] = view === 'r16' ? [0xffff, (index & 1) * 16] : [0xff, (index & 3) * 8];
  const mask = ~(bits << shift);
  const part = shift === 0 ? `((${value}) & ${bits})` : `(((${value}) & ${bits}) << ${shift})`;
  return `(e${n} & ${mask}) | ${part}`;
}

/**
 * Rewrites `body` (lines of a block function after its prologue) to keep the register words it uses
 * in locals; `words` bounds the word indices this may cache (8 for 32-bit code).
 */
export function registerLocals(body: readonly string[], words: number): RegisterLocals {
  const text = body.join('\n');
  // Only constant indices: a computed one could name any word.
  if ((text.match(ANY_VIEW) ?? []).length !== (text.match(ANY_INDEXED_PARTS) ?? []).length)
    return { prologue: [], body: [...body] };
  const used = new Set<number>();
  for (const m of text.matchAll(ANY_INDEXED_PARTS)) {
    const n = word(m[1]!, Number(m[2]));
    if (n < words) used.add(n);
  }
  if (used.size === 0) return segmentLocals(body);
  const written = new Set<number>();
  for (const m of text.matchAll(ANY_WRITE)) {
    const n = word(m[1]!, Number(m[2]));
    if (used.has(n)) written.add(n);
  }
  const cached = [...used].sort((a, b) => a - b);
  const spill = [...written]
    .sort((a, b) => a - b)
    .map((n) => `r32[${n}] = e${n};`)
    .join(' ');
  const reload = cached.map((n) => `e${n} = r32[${n}];`).join(' ');

  const stored = rewriteWrites(text, used);
  if (stored === null) return { prologue: [], body: [...body] };
  let out = stored.replace(ANY_INDEXED_PARTS, (whole, view: string, index: string) => {
    const i = Number(index);
    const n = word(view, i);
    return used.has(n) ? readOf(view, i, n) : whole;
  });
  if (spill !== '') {
    out = out.split(SLOW_PATH).join(`${spill} ${SLOW_PATH}`);
    out = out.replace(/\breturn ([^;]*);/g, (_whole, value: string) => `{ ${spill} return ${value}; }`);
  }
  out = out.replace(HANDLER_CALL, (call) => `${call} ${reload}`);
  const segments = segmentLocals(out.split('\n'));
  return {
    prologue: [`let ${cached.map((n) => `e${n} = r32[${n}]`).join(', ')};`, ...segments.prologue],
    body: segments.body,
  };
}

const SEGMENT_ACCESS = /\bsacc\[(\d)\]/g;

/**
 * The segment registers' access bits (`sacc[n]`, which the inline memory paths test) in locals
 * (`sa<n>`): only handlers change them (segment loads, far transfers), so they are loaded again after
 * each handler call.
 */
function segmentLocals(body: readonly string[]): RegisterLocals {
  const text = body.join('\n');
  const used = [...new Set([...text.matchAll(SEGMENT_ACCESS)].map((m) => Number(m[1])))].sort(
    (a, b) => a - b,
  );
  if (used.length === 0) return { prologue: [], body: [...body] };
  const reload = used.map((n) => `sa${n} = sacc[${n}];`).join(' ');
  const out = text
    .replace(SEGMENT_ACCESS, (_whole, n: string) => `sa${n}`)
    .replace(HANDLER_CALL, (call) => `${call} ${reload}`);
  return { prologue: [`let ${used.map((n) => `sa${n} = sacc[${n}]`).join(', ')};`], body: out.split('\n') };
}

/**
 * `r32[n] = value;` / `u32[n] = value;` for a cached word becomes `e<n> = (value) | 0;` (the
 * conversion a store into the Int32Array makes). The value ends at the first `;` outside brackets.
 * Null for a store nested in another's value.
 */
function rewriteWrites(text: string, used: ReadonlySet<number>): string | null {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(ANY_WRITE)) {
    const index = Number(m[2]);
    const n = word(m[1]!, index);
    const start = m.index!;
    if (!used.has(n)) continue;
    // A store inside another store's value (`r32[a] = r32[b] = x`): not a form the writer makes.
    if (start < at) return null;
    const from = start + m[0].length;
    const end = statementEnd(text, from);
    out += `${text.slice(at, start)}e${n} = ${writeOf(m[1]!, index, n, text.slice(from, end))}`;
    at = end;
  }
  return out + text.slice(at);
}

/** Index of the `;` that ends the expression starting at `from`. */
function statementEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === ';' && depth === 0) return i;
    if (depth < 0) break;
  }
  throw new Error(`register-locals: no end for the store at ${from}: ${text.slice(from, from + 60)}`);
}
