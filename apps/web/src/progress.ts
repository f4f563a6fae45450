/** Progress of one file: bytes so far and the total when known (Content-Length, File.size). */
export interface Progress {
  readonly name: string;
  readonly loaded: number;
  readonly total: number | undefined;
}

function mib(n: number): string {
  return (n / 2 ** 20).toFixed(1);
}

/** "bzImage: 0.7 / 1.4 MiB (50%)" */
export function formatProgress(p: Progress): string {
  if (p.total === undefined || p.total <= 0) return `${p.name}: ${mib(p.loaded)} MiB`;
  const pct = Math.min(100, Math.floor((p.loaded / p.total) * 100));
  return `${p.name}: ${mib(p.loaded)} / ${mib(p.total)} MiB (${pct}%)`;
}

/** Reads a byte stream to the end, reporting progress after each chunk. */
export async function readWithProgress(
  stream: ReadableStream<Uint8Array>,
  name: string,
  total: number | undefined,
  onProgress: (p: Progress) => void,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = stream.getReader();
  onProgress({ name, loaded, total });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress({ name, loaded, total });
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Fetches a URL with progress; a non-2xx answer is an error naming the file. */
export async function fetchWithProgress(
  url: string,
  name: string,
  onProgress: (p: Progress) => void,
): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || res.body === null) throw new Error(`${name}: HTTP ${res.status} ${res.statusText}`);
  const len = Number(res.headers.get('content-length'));
  return readWithProgress(res.body, name, Number.isFinite(len) && len > 0 ? len : undefined, onProgress);
}
