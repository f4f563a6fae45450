/** Base64 without Buffer or atob, so VRAM snapshots work the same in Node and browsers. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOOKUP = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;
const PAD = 61; // '='

export function encodeBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = ALPHABET.charCodeAt(n >> 18);
    out[o++] = ALPHABET.charCodeAt((n >> 12) & 63);
    out[o++] = ALPHABET.charCodeAt((n >> 6) & 63);
    out[o++] = ALPHABET.charCodeAt(n & 63);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = (bytes[i]! << 16) | (rest > 1 ? bytes[i + 1]! << 8 : 0);
    out[o++] = ALPHABET.charCodeAt(n >> 18);
    out[o++] = ALPHABET.charCodeAt((n >> 12) & 63);
    out[o++] = rest > 1 ? ALPHABET.charCodeAt((n >> 6) & 63) : PAD;
    out[o++] = PAD;
  }
  return new TextDecoder('latin1').decode(out);
}

/** Decodes into `out`; returns false (leaving `out` partly written) on malformed input or a size mismatch. */
export function decodeBase64Into(text: string, out: Uint8Array): boolean {
  if (text.length % 4 !== 0) return false;
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const c2 = text.charCodeAt(i + 2);
    const c3 = text.charCodeAt(i + 3);
    const last = i + 4 === text.length;
    const bytes = last && c2 === PAD ? 1 : last && c3 === PAD ? 2 : 3;
    const a = LOOKUP[text.charCodeAt(i) & 0xff]!;
    const b = LOOKUP[text.charCodeAt(i + 1) & 0xff]!;
    const c = bytes > 1 ? LOOKUP[c2 & 0xff]! : 0;
    const d = bytes > 2 ? LOOKUP[c3 & 0xff]! : 0;
    if ((a | b | c | d) < 0 || text.charCodeAt(i) > 0xff || o + bytes > out.length) return false;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >> 16;
    if (bytes > 1) out[o++] = (n >> 8) & 0xff;
    if (bytes > 2) out[o++] = n & 0xff;
  }
  return o === out.length;
}
