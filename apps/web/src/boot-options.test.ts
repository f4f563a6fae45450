import { parseCommandLine } from '@typevisor/qemu';
import { describe, expect, it } from 'vitest';
import { bootArgs, DEFAULT_APPEND, shellLine, uniqueNames } from './boot-options.js';

describe('boot options', () => {
  it('makes the argv the CLI would take, with -S, EPT and memory from the controls', () => {
    const args = bootArgs({
      memoryMiB: 256,
      ept: false,
      startPaused: true,
      kernel: 'bzImage',
      initrd: 'initrd.cpio.gz',
      append: DEFAULT_APPEND,
    });
    expect(args).toEqual([
      '-m', '256', '-accel', 'kvm,ept=off', '-S',
      '-kernel', 'bzImage', '-initrd', 'initrd.cpio.gz', '-append', 'console=ttyS0',
    ]); // biome-ignore format: one option per pair reads best
    const cmd = parseCommandLine(args);
    expect(cmd.action).toBe('run');
    if (cmd.action !== 'run') return;
    expect(cmd.config.ept).toBe(false);
    expect(cmd.config.startPaused).toBe(true);
    expect(cmd.config.memoryBytes).toBe(256 * 2 ** 20);
    expect(cmd.config.append).toBe('console=ttyS0');
  });

  it('attaches an ISO and a disk (commas escaped) that the frontend parses back', () => {
    const args = bootArgs({
      memoryMiB: 64,
      ept: true,
      startPaused: false,
      append: 'x',
      cdrom: 'a.iso',
      disk: 'b,c.img',
    });
    expect(args).not.toContain('-append');
    const cmd = parseCommandLine(args);
    if (cmd.action !== 'run') throw new Error('not a run');
    expect(cmd.config.drives.map((d) => [d.file, d.media])).toEqual([
      ['a.iso', 'cdrom'],
      ['b,c.img', 'disk'],
    ]);
  });

  it('quotes arguments for display only where a shell needs it', () => {
    expect(shellLine(['-append', 'console=ttyS0 quiet', '-m', '64', "it's"])).toBe(
      `-append 'console=ttyS0 quiet' -m 64 'it'\\''s'`,
    );
  });

  it('keeps file names unique, as a download folder would', () => {
    expect(uniqueNames(['boot.img', 'boot.img', 'vmlinuz', 'vmlinuz', 'boot.img'])).toEqual([
      'boot.img',
      'boot (2).img',
      'vmlinuz',
      'vmlinuz (2)',
      'boot (3).img',
    ]);
  });
});
