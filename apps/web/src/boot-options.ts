/** What the controls ask for; file entries are the names the files are sent under. */
export interface BootOptions {
  readonly memoryMiB: number;
  readonly ept: boolean;
  /** QEMU's -S: create the machine and stay in "paused (prelaunch)" until `cont`. */
  readonly startPaused: boolean;
  readonly kernel?: string;
  readonly initrd?: string;
  readonly append: string;
  readonly cdrom?: string;
  readonly disk?: string;
}

/** The memory sizes the page offers, in MiB. */
export const MEMORY_CHOICES = [32, 64, 128, 256, 512] as const;

/** The kernel command line for the default guest: its console is the serial port. */
export const DEFAULT_APPEND = 'console=ttyS0';

/** A drive file name as a -drive value: commas are doubled (QEMU's escaping). */
function driveFile(name: string): string {
  return name.replaceAll(',', ',,');
}

/** The qemu-system-x86_64 arguments for the controls' state: the same argv the CLI would take. */
export function bootArgs(o: BootOptions): string[] {
  const args = ['-m', `${o.memoryMiB}`, '-accel', `kvm,ept=${o.ept ? 'on' : 'off'}`];
  if (o.startPaused) args.push('-S');
  if (o.kernel !== undefined) args.push('-kernel', o.kernel);
  if (o.initrd !== undefined) args.push('-initrd', o.initrd);
  if (o.kernel !== undefined && o.append !== '') args.push('-append', o.append);
  if (o.cdrom !== undefined) args.push('-cdrom', o.cdrom);
  if (o.disk !== undefined) args.push('-drive', `file=${driveFile(o.disk)},format=raw,if=ide`);
  return args;
}

/** The arguments as one shell-quoted line, for display. */
export function shellLine(args: readonly string[]): string {
  return args.map((a) => (/^[\w,.=:/+-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Unique names for the chosen files, in the order given (a kernel and an initrd may both be called
 * `boot.img`): a clash gets " (2)", " (3)", ... before its extension, as a download folder would.
 */
export function uniqueNames(names: readonly string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    let candidate = name;
    for (let i = 2; used.has(candidate); i++) {
      const dot = name.lastIndexOf('.');
      candidate = dot > 0 ? `${name.slice(0, dot)} (${i})${name.slice(dot)}` : `${name} (${i})`;
    }
    used.add(candidate);
    return candidate;
  });
}
