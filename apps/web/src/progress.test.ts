import { describe, expect, it } from 'vitest';
import { formatProgress, type Progress, readWithProgress } from './progress.js';

describe('image loading progress', () => {
  it('reads a stream to the end, reporting after each chunk', async () => {
    const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (const ch of chunks) c.enqueue(ch);
        c.close();
      },
    });
    const seen: Progress[] = [];
    const bytes = await readWithProgress(stream, 'bzImage', 5, (p) => seen.push(p));
    expect([...bytes]).toEqual([1, 2, 3, 4, 5]);
    expect(seen.map((p) => p.loaded)).toEqual([0, 3, 5]);
  });

  it('says how far a file is, with or without a known size', () => {
    expect(formatProgress({ name: 'bzImage', loaded: 3 * 2 ** 19, total: 3 * 2 ** 20 })).toBe(
      'bzImage: 1.5 / 3.0 MiB (50%)',
    );
    expect(formatProgress({ name: 'disk.img', loaded: 2 ** 20, total: undefined })).toBe('disk.img: 1.0 MiB');
  });
});
