import { parseCommandLine } from '@typevisor/qemu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootArgs,
  bootOrder,
  DEFAULT_APPEND,
  FILE_ROLES,
  type FileRole,
  planBoot,
  shellLine,
  uniqueNames,
} from './boot-options.js';

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

  it('attaches an ISO (read-only) and a disk (-hda, commas and all) that the frontend parses back', () => {
    const args = bootArgs({
      memoryMiB: 64,
      ept: true,
      startPaused: false,
      append: 'x',
      cdrom: 'a.iso',
      disk: 'b,c.img',
    });
    expect(args).not.toContain('-append');
    expect(args.slice(4)).toEqual(['-hda', 'b,c.img', '-cdrom', 'a.iso', '-boot', 'order=dc']);
    const cmd = parseCommandLine(args);
    if (cmd.action !== 'run') throw new Error('not a run');
    expect(cmd.config.drives.map((d) => [d.file, d.media, d.readonly])).toEqual([
      ['b,c.img', 'disk', false],
      ['a.iso', 'cdrom', true],
    ]);
    expect(cmd.config.bootOrder).toBe('dc');
  });

  it('boots a CD-ROM with boot order d and a disk with boot order c, by the BIOS given', () => {
    const base = { memoryMiB: 32, ept: true, startPaused: false, append: DEFAULT_APPEND };
    expect(bootArgs({ ...base, cdrom: 'boot.iso' })).toEqual([
      '-m', '32', '-accel', 'kvm,ept=on', '-cdrom', 'boot.iso', '-boot', 'order=d',
    ]); // biome-ignore format: one option per pair reads best
    expect(bootArgs({ ...base, disk: 'disk.img', bios: 'my bios.bin' }).slice(4)).toEqual([
      '-hda', 'disk.img', '-bios', 'my bios.bin', '-boot', 'order=c',
    ]); // biome-ignore format: one option per pair reads best
    // A kernel boots without firmware: no -bios, no -boot, the drives stay attached.
    expect(bootArgs({ ...base, kernel: 'k', cdrom: 'c.iso', bios: 'b.bin' }).slice(4)).toEqual([
      '-kernel', 'k', '-append', 'console=ttyS0', '-cdrom', 'c.iso',
    ]); // biome-ignore format: one option per pair reads best
    expect(bootOrder({})).toBe('');
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

describe('planning a boot from the chosen files', () => {
  const base = { memoryMiB: 128, ept: true, startPaused: false, append: DEFAULT_APPEND };

  it('boots the default guest when nothing is chosen, with a local initrd in place of its own', () => {
    expect(planBoot({}, base)).toEqual({
      options: { ...base, kernel: 'bzImage', initrd: 'initrd.cpio.gz' },
      files: [
        { name: 'bzImage', source: 'served', role: 'kernel' },
        { name: 'initrd.cpio.gz', source: 'served', role: 'initrd' },
      ],
    });
    expect(planBoot({ initrd: 'bzImage' }, base)).toEqual({
      options: { ...base, kernel: 'bzImage', initrd: 'bzImage (2)' },
      files: [
        { name: 'bzImage', source: 'served', role: 'kernel' },
        { name: 'bzImage (2)', source: 'local', role: 'initrd' },
      ],
    });
  });

  it('boots an ISO alone through the served SeaBIOS, fetched first', () => {
    const p = planBoot({ cdrom: 'debian.iso' }, base);
    expect(p).toEqual({
      options: { ...base, cdrom: 'debian.iso', bios: 'bios-256k.bin' },
      files: [
        { name: 'bios-256k.bin', source: 'served', role: 'bios' },
        { name: 'debian.iso', source: 'local', role: 'cdrom' },
      ],
    });
    if ('error' in p) return;
    expect(shellLine(bootArgs(p.options))).toBe(
      '-m 128 -accel kvm,ept=on -cdrom debian.iso -bios bios-256k.bin -boot order=d',
    );
  });

  it("boots a disk (and a CD) through the user's BIOS, and nothing is fetched", () => {
    const p = planBoot({ disk: 'hd.img', cdrom: 'inst.iso', bios: 'seabios.bin' }, base);
    expect(p).toEqual({
      options: { ...base, disk: 'hd.img', cdrom: 'inst.iso', bios: 'seabios.bin' },
      files: [
        { name: 'seabios.bin', source: 'local', role: 'bios' },
        { name: 'inst.iso', source: 'local', role: 'cdrom' },
        { name: 'hd.img', source: 'local', role: 'disk' },
      ],
    });
  });

  it('keeps the served BIOS name when a local file has the same name', () => {
    const p = planBoot({ disk: 'bios-256k.bin' }, base);
    expect('error' in p ? [] : p.files.map((f) => [f.name, f.role])).toEqual([
      ['bios-256k.bin', 'bios'],
      ['bios-256k (2).bin', 'disk'],
    ]);
  });

  it('refuses an initrd without a kernel beside a CD, and a BIOS beside a kernel, saying what to clear', () => {
    expect(planBoot({ cdrom: 'a.iso', initrd: 'i.gz' }, base)).toEqual({
      error:
        'An initrd needs a kernel: choose a kernel too, or clear the initrd (a CD-ROM or disk image boots through the BIOS).',
    });
    const both = planBoot({ kernel: 'vmlinuz', bios: 'b.bin' }, base);
    expect('error' in both && both.error).toMatch(/^A kernel boots without the BIOS: clear the BIOS file/);
  });

  it('for any choice of files, the argv parses back and names exactly the files to load', () => {
    const role = fc.constantFrom(...FILE_ROLES);
    const name = fc.stringMatching(/^[a-z,. ()-]{1,12}$/);
    fc.assert(
      fc.property(fc.dictionary(role, name), (chosen) => {
        const picked = chosen as Partial<Record<FileRole, string>>;
        const p = planBoot(picked, base);
        if ('error' in p) {
          const initrdAlone = picked.kernel === undefined && picked.initrd !== undefined;
          expect(initrdAlone || (picked.kernel !== undefined && picked.bios !== undefined)).toBe(true);
          return;
        }
        const names = p.files.map((f) => f.name);
        expect(new Set(names).size).toBe(names.length);
        const cmd = parseCommandLine(bootArgs(p.options));
        if (cmd.action !== 'run') throw new Error('not a run');
        const c = cmd.config;
        const named = [
          c.kernel,
          c.initrd,
          c.kernel === undefined ? c.bios : undefined,
          ...c.drives.map((d) => d.file),
        ];
        expect(named.filter((n) => n !== undefined).sort()).toEqual([...names].sort());
        // Every local file is sent; a firmware boot always has a BIOS.
        for (const r of FILE_ROLES)
          if (picked[r] !== undefined) expect(p.files.some((f) => f.role === r)).toBe(true);
        if (c.kernel === undefined) expect(c.bios).toBeDefined();
        if (picked.cdrom !== undefined && c.kernel === undefined) expect(c.bootOrder?.[0]).toBe('d');
      }),
    );
  });
});
