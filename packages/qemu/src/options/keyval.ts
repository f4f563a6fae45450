/**
 * QEMU's `key=value,key=value` option syntax (QemuOpts): a comma inside a value is written `,,`; the
 * first element may omit its key when the option has an implied one (`-machine pc` = `type=pc`,
 * `-cpu max,+vmx`); a bare `flag` means `flag=on` and `noflag`... is not accepted (as in QEMU 7+).
 */
export type KeyValues = Map<string, string>;

export class OptionSyntaxError extends Error {
  override readonly name = 'OptionSyntaxError';
}

/** Splits on single commas, turning `,,` into a literal comma. */
export function splitCommas(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === ',') {
      if (text[i + 1] === ',') {
        cur += ',';
        i++;
        continue;
      }
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  return parts;
}

export function parseKeyValues(text: string, impliedKey?: string): KeyValues {
  const out: KeyValues = new Map();
  const parts = splitCommas(text);
  parts.forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (i === 0 && impliedKey !== undefined) {
        out.set(impliedKey, part);
        return;
      }
      if (part === '') throw new OptionSyntaxError('empty parameter');
      if (part.startsWith('+') || part.startsWith('-')) {
        out.set(part, part[0] === '+' ? 'on' : 'off');
        return;
      }
      out.set(part, 'on');
      return;
    }
    const key = part.slice(0, eq);
    if (key === '') throw new OptionSyntaxError(`parameter without a name in '${part}'`);
    out.set(key, part.slice(eq + 1));
  });
  return out;
}

/** `on`/`off` (and QEMU's yes/no, true/false) to a boolean. */
export function parseBool(key: string, value: string): boolean {
  switch (value) {
    case 'on':
    case 'yes':
    case 'true':
      return true;
    case 'off':
    case 'no':
    case 'false':
      return false;
    default:
      throw new OptionSyntaxError(`Parameter '${key}' expects 'on' or 'off'`);
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** A size such as `256`, `256M`, `1G`, `1.5G`; a bare number is in `defaultUnit` bytes. */
export function parseSize(key: string, text: string, defaultUnit = 1): number {
  const m = /^(\d+(?:\.\d+)?)([BKMGT]?)$/i.exec(text.trim());
  if (!m) throw new OptionSyntaxError(`Parameter '${key}' expects a size`);
  const unit = m[2]!.toUpperCase();
  const bytes = Number(m[1]) * (unit === '' ? defaultUnit : SIZE_UNITS[unit]!);
  if (!Number.isSafeInteger(Math.floor(bytes)))
    throw new OptionSyntaxError(`Parameter '${key}' is too large`);
  return Math.floor(bytes);
}
