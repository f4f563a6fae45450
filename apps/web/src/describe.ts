import { CommandLineError, parseCommandLine } from '@typevisor/qemu';

/** Splits a command line the way a shell would for simple quoting ("..." and '...'). */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(m[1] ?? m[2] ?? m[3] ?? '');
  return out;
}

/** What the page shows for a typed command line: the machine it describes, or QEMU's error. */
export function describeCommandLine(text: string): { ok: boolean; text: string } {
  try {
    const cmd = parseCommandLine(splitArgs(text));
    if (cmd.action !== 'run') return { ok: true, text: `-${cmd.action}` };
    const c = cmd.config;
    return {
      ok: true,
      text: [
        `machine: ${c.machine}, accel: kvm (ept=${c.ept ? 'on' : 'off'})`,
        `cpu: ${c.cpu.model}, ${c.smp} vCPU(s), ${c.memoryBytes / 2 ** 20} MiB`,
        c.kernel !== undefined
          ? `kernel: ${c.kernel}${c.initrd ? `, initrd: ${c.initrd}` : ''}`
          : 'firmware boot',
        c.append !== '' ? `append: ${c.append}` : '',
        ...c.drives.map(
          (d) => `drive: ${d.file} (${d.interface}, ${d.media}${d.readonly ? ', read-only' : ''})`,
        ),
      ]
        .filter((l) => l !== '')
        .join('\n'),
    };
  } catch (e) {
    if (e instanceof CommandLineError) return { ok: false, text: `typevisor: ${e.message}` };
    throw e;
  }
}
