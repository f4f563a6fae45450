/**
 * Differential comparison against iced-x86: iced drives (N counts iced's instructions); at each of
 * iced's offsets Typevisor decodes the same bytes and every compared field must agree.
 */
import { decodeInto } from '../decoder.js';
import { formatOperands, formatMnemonic } from '../formatter.js';
import { type Bitness, DecodeError, Instruction } from '../instruction.js';
import { CODE_NAMES } from '../names.js';
import { iced, icedCodeName } from './iced.js';

export interface Disagreement {
  offset: number;
  bytes: string;
  field: string;
  iced: string;
  ours: string;
}

export interface CompareResult {
  total: number;
  agree: number;
  /** Disagreements by field, with up to `maxSamples` examples each. */
  byField: Map<string, { count: number; samples: Disagreement[] }>;
  /** Count per iced Code name among disagreements (to rank what to fix). */
  byIcedCode: Map<string, number>;
}

export interface CompareOptions {
  bitness: Bitness;
  ip?: bigint;
  maxSamples?: number;
  /** Keep samples only for iced Code names matching this (default: all). */
  sampleFilter?: RegExp;
  /** Compare formatted operands too (default true). */
  format?: boolean;
}

function hex(bytes: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len && off + i < bytes.length; i++) s += bytes[off + i]!.toString(16).padStart(2, '0');
  return s;
}

function newResult(): CompareResult {
  return { total: 0, agree: 0, byField: new Map(), byIcedCode: new Map() };
}

/**
 * Compares at iced's instruction offsets. `starts` (random mode): decode exactly one instruction at each
 * listed offset instead of walking the buffer.
 */
export function compareBuffer(
  bytes: Uint8Array,
  opts: CompareOptions,
  result?: CompareResult,
  starts?: { step: number; count: number },
): CompareResult {
  const res = result ?? newResult();
  const maxSamples = opts.maxSamples ?? 5;
  const sampleFilter = opts.sampleFilter;
  const doFormat = opts.format ?? true;
  const ip0 = opts.ip ?? 0n;
  const decoder = new iced.Decoder(opts.bitness, bytes, iced.DecoderOptions.None);
  decoder.ip = ip0;
  const formatter = new iced.Formatter(iced.FormatterSyntax.Intel);
  const ii = new iced.Instruction();
  const ours = new Instruction();
  let slot = 0;
  try {
    for (;;) {
      if (starts) {
        if (slot >= starts.count) break;
        decoder.position = slot * starts.step;
        decoder.ip = ip0 + BigInt(slot * starts.step);
        slot++;
      } else if (!decoder.canDecode) break;
      const off = decoder.position;
      decoder.decodeOut(ii);
      res.total++;
      const ip = Number(BigInt.asIntN(64, ip0 + BigInt(off)));
      decodeInto(ours, bytes, off, opts.bitness, opts.bitness === 64 ? ip : ip >>> 0);
      const icedValid = ii.code !== iced.Code.INVALID;
      const ourValid = ours.error === DecodeError.None;
      let field = '';
      let a = '';
      let b = '';
      if (icedValid !== ourValid) {
        field = 'validity';
        a = icedValid ? icedCodeName(ii.code) : `invalid(${iced.DecoderError[decoder.lastError]})`;
        b = ourValid ? (CODE_NAMES[ours.code] ?? '') : `invalid(${ours.error})`;
        if (ours.error === DecodeError.EvexNotSupported && icedValid) field = 'validity(evex)';
      } else if (ii.length !== ours.length) {
        field = 'length';
        a = String(ii.length);
        b = String(ours.length);
      } else if (icedValid && icedCodeName(ii.code) !== CODE_NAMES[ours.code]) {
        field = 'code';
        a = icedCodeName(ii.code);
        b = CODE_NAMES[ours.code] ?? '';
      } else if (icedValid && doFormat) {
        const im = formatter.formatMnemonic(ii);
        const om = formatMnemonic(ours);
        if (im !== om) {
          field = 'mnemonic';
          a = im;
          b = om;
        } else {
          const io = formatter.formatAllOperands(ii);
          const oo = formatOperands(ours);
          if (io !== oo) {
            field = 'operands';
            a = io;
            b = oo;
          }
        }
      }
      if (field === '') {
        res.agree++;
      } else {
        let f = res.byField.get(field);
        if (!f) {
          f = { count: 0, samples: [] };
          res.byField.set(field, f);
        }
        f.count++;
        const codeName = icedValid ? icedCodeName(ii.code) : 'INVALID';
        if (f.samples.length < maxSamples && (!sampleFilter || sampleFilter.test(codeName))) {
          f.samples.push({
            offset: off,
            bytes: hex(bytes, off, Math.max(ii.length, ours.length)),
            field,
            iced: a,
            ours: b,
          });
        }
        const key = `${field}:${icedValid ? icedCodeName(ii.code) : 'INVALID'}`;
        res.byIcedCode.set(key, (res.byIcedCode.get(key) ?? 0) + 1);
      }
    }
  } finally {
    decoder.free();
    formatter.free();
    ii.free();
  }
  return res;
}

/** Seeded xorshift32 random bytes. */
export function randomBytes(seed: number, n: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Compares `count` seeded random 16-byte sequences, one instruction decoded at the start of each. */
export function compareRandom(
  bitness: Bitness,
  seed: number,
  count: number,
  result?: CompareResult,
  extra?: { maxSamples?: number; sampleFilter?: RegExp },
): CompareResult {
  const res = result ?? newResult();
  const chunk = 65536;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const bytes = randomBytes((seed + Math.imul(done + 1, 0x9e3779b1)) >>> 0, n * 16);
    compareBuffer(bytes, { bitness, maxSamples: 5, ...extra }, res, { step: 16, count: n });
  }
  return res;
}

export function report(res: CompareResult, top = 25): string {
  const lines: string[] = [];
  for (const [field, f] of res.byField) {
    lines.push(`${field}: ${f.count}`);
    for (const s of f.samples) lines.push(`  @${s.offset} ${s.bytes}  iced=${s.iced}  ours=${s.ours}`);
  }
  const codes = [...res.byIcedCode].sort((a, b) => b[1] - a[1]).slice(0, top);
  if (codes.length) lines.push(`top disagreements: ${codes.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  lines.push(`agree ${res.agree}/${res.total} instructions`);
  return lines.join('\n');
}
