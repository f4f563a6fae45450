import { describe, expect, it } from 'vitest';
import { crossOriginIsolation } from '../vite.config.js';
import { describeCommandLine, splitArgs } from './describe.js';

describe('web command-line panel', () => {
  it('splits quoted arguments as a shell would', () => {
    expect(splitArgs(`-append "console=ttyS0 quiet" -m '256'`)).toEqual([
      '-append',
      'console=ttyS0 quiet',
      '-m',
      '256',
    ]);
  });

  it('describes the machine a valid command line asks for', () => {
    const r = describeCommandLine('-m 256 -accel kvm,ept=off -kernel bz -append "console=ttyS0"');
    expect(r.ok).toBe(true);
    expect(r.text).toContain('ept=off');
    expect(r.text).toContain('256 MiB');
    expect(r.text).toContain('append: console=ttyS0');
  });

  it("shows QEMU's error for a bad option", () => {
    expect(describeCommandLine('-m lots')).toEqual({
      ok: false,
      text: "typevisor: -m lots: Parameter 'size' expects a size",
    });
  });

  it('serves with the headers SharedArrayBuffer needs', () => {
    expect(crossOriginIsolation['Cross-Origin-Opener-Policy']).toBe('same-origin');
    expect(crossOriginIsolation['Cross-Origin-Embedder-Policy']).toBe('require-corp');
  });
});
