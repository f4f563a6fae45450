/**
 * `x` / `xp` output as QEMU's memory_dump() prints it: `/[count][format][size]`, format one of
 * x (hex), d (signed), u (unsigned), o (octal), c (char), size one of b, h, w, g; an address label of
 * 16 hex digits (qemu-system-x86_64) and a line of 16 bytes (8 for octal/decimal 64-bit values).
 */
export type DumpFormat = 'x' | 'd' | 'u' | 'o' | 'c';

export interface DumpSpec {
  readonly count: number;
  readonly format: DumpFormat;
  readonly size: 1 | 2 | 4 | 8;
}

export const DEFAULT_DUMP: DumpSpec = { count: 1, format: 'x', size: 4 };

/**
 * Parses `/10xw`-style format text. Format and size are sticky between commands in QEMU
 * (`previous` supplies them); the count defaults to 1.
 */
export function parseDumpFormat(text: string, previous: DumpSpec = DEFAULT_DUMP): DumpSpec | string {
  const m = /^\/(\d*)(.*)$/.exec(text);
  if (!m) return `invalid char in format: '${text[0] ?? ''}'`;
  let { format, size } = previous;
  for (const ch of m[2]!) {
    if ('xduoc'.includes(ch)) format = ch as DumpFormat;
    else if (ch === 'b') size = 1;
    else if (ch === 'h') size = 2;
    else if (ch === 'w') size = 4;
    else if (ch === 'g') size = 8;
    else return `invalid char in format: '${ch}'`;
  }
  return { count: m[1] === '' ? 1 : Number(m[1]), format, size };
}

/** How many bytes a dump of `spec` reads. */
export const dumpLength = (spec: DumpSpec): number => spec.count * spec.size;

function readValue(bytes: Uint8Array, off: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[off + i] ?? 0);
  return v;
}

/** monitor_printc(): a character in single quotes with C-style escapes. */
function charText(code: number): string {
  if (code === 0x5c) return "'\\\\'";
  if (code === 0x27) return "'\\''";
  if (code === 0x0a) return "'\\n'";
  if (code === 0x0d) return "'\\r'";
  if (code >= 0x20 && code <= 0x7e) return `'${String.fromCharCode(code)}'`;
  return `'\\x${code.toString(16).padStart(2, '0')}'`;
}

/**
 * Formats `bytes` (`dumpLength(spec)` bytes read from guest memory at `addr`) exactly as QEMU's
 * memory_dump() does: 8 values of a byte or 16 bytes per line, `0x%0*x` for hex, `%#*o` for octal,
 * `%*u`/`%*d` for decimal with widths derived from the value size. This is the monitor, not a hot
 * path: bigint is fine here for exact 64-bit values.
 */
export function formatDump(addr: number, bytes: Uint8Array, spec: DumpSpec): string {
  const { format } = spec;
  const lineSize = spec.size === 1 ? 8 : 16;
  const size = format === 'c' ? 1 : spec.size; // QEMU decides the line size before 'c' forces bytes
  const digits =
    format === 'o'
      ? Math.ceil((size * 8) / 3)
      : format === 'u' || format === 'd'
        ? Math.ceil((size * 80) / 33)
        : size * 2;
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += lineSize) {
    let line = `${(addr + off).toString(16).padStart(16, '0')}:`;
    for (let i = off; i < Math.min(off + lineSize, bytes.length); i += size) {
      const v = readValue(bytes, i, size);
      line += ' ';
      switch (format) {
        case 'x':
          line += `0x${v.toString(16).padStart(digits, '0')}`;
          break;
        case 'o':
          line += (v === 0n ? '0' : `0${v.toString(8)}`).padStart(digits, ' ');
          break;
        case 'u':
          line += v.toString(10).padStart(digits, ' ');
          break;
        case 'd':
          // QEMU loads 1/2/4-byte values zero-extended into an int64: only 8-byte values print negative.
          line += (size === 8 ? BigInt.asIntN(64, v) : v).toString(10).padStart(digits, ' ');
          break;
        case 'c':
          line += charText(Number(v));
          break;
      }
    }
    lines.push(line);
  }
  return lines.join('\n');
}
