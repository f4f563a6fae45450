import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';

function runMain(args: string[]) {
  let out = '';
  let err = '';
  const status = main(
    args,
    (s) => {
      out += s;
    },
    (s) => {
      err += s;
    },
  );
  return { status, out, err };
}

describe('typevisor CLI', () => {
  it('prints its version with -version and exits 0', () => {
    const r = runMain(['-version']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^typevisor version \d+\.\d+\.\d+/);
  });

  it('prints help derived from the option table', () => {
    const r = runMain(['-h']);
    expect(r.status).toBe(0);
    expect(r.out).toContain('-append cmdline');
  });

  it('names a bad option in one line and exits 1', () => {
    const r = runMain(['-m', 'lots']);
    expect(r.status).toBe(1);
    expect(r.err).toBe("typevisor: -m lots: Parameter 'size' expects a size\n");
  });

  it('names a missing kernel file', () => {
    const r = runMain(['-kernel', '/nonexistent/bzImage']);
    expect(r.status).toBe(1);
    expect(r.err).toBe('typevisor: -kernel /nonexistent/bzImage: No such file or directory\n');
  });

  it('as a process: an unknown option gives one line on stderr, status 1, no stack trace', () => {
    const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'typevisor.mjs');
    const r = spawnSync(process.execPath, [bin, '-frobnicate'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('typevisor: -frobnicate: invalid option\n');
    expect(r.stdout).toBe('');
  });
});
