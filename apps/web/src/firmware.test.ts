import { describe, expect, it } from 'vitest';
import {
  fetchServedBios,
  isServedFile,
  MissingBiosError,
  missingBiosMessage,
  SEABIOS_SOURCE,
  SERVED_BIOS_PATH,
} from './firmware.js';
import type { Progress } from './progress.js';

const answer = (status: number, type: string, body: Uint8Array<ArrayBuffer> | string) =>
  new Response(body, { status, headers: { 'content-type': type } });

describe('the served BIOS', () => {
  it('names the file it needs and both ways to provide it', () => {
    const m = missingBiosMessage();
    expect(m).toContain('bios-256k.bin');
    expect(m).toContain(SEABIOS_SOURCE);
    expect(m).toContain('BIOS picker');
    expect(m).toContain('apt-get install seabios');
    expect(m).toContain('rebuild');
    expect(SERVED_BIOS_PATH).toBe('seabios/bios-256k.bin');
  });

  it('takes a 404 and the HTML fallback page for an absent BIOS, and a binary answer for the file', () => {
    expect(isServedFile(answer(404, 'text/plain', 'nope'))).toBe(false);
    expect(isServedFile(answer(200, 'text/html; charset=utf-8', '<!doctype html>'))).toBe(false);
    expect(isServedFile(answer(200, 'application/octet-stream', new Uint8Array(4)))).toBe(true);
  });

  it('fetches the image with progress, or fails with the missing-BIOS message', async () => {
    const image = new Uint8Array(65536).fill(0x90);
    const seen: Progress[] = [];
    const urls: string[] = [];
    const bytes = await fetchServedBios(
      'http://x/seabios/bios-256k.bin',
      'bios-256k.bin',
      (p) => seen.push(p),
      async (u) => {
        urls.push(u);
        return new Response(image, {
          headers: { 'content-type': 'application/octet-stream', 'content-length': '65536' },
        });
      },
    );
    expect(urls).toEqual(['http://x/seabios/bios-256k.bin']);
    expect(bytes).toEqual(image);
    expect(seen.at(-1)).toEqual({ name: 'bios-256k.bin', loaded: 65536, total: 65536 });

    const fallback = fetchServedBios(
      'u',
      'bios-256k.bin',
      () => {},
      async () => answer(200, 'text/html', '<!doctype html><title>Typevisor</title>'),
    );
    await expect(fallback).rejects.toBeInstanceOf(MissingBiosError);
    await expect(
      fetchServedBios(
        'u',
        'b',
        () => {},
        async () => answer(404, 'text/plain', ''),
      ),
    ).rejects.toThrow(missingBiosMessage());
  });
});
