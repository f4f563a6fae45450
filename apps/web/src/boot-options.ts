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
  /** The firmware image for a boot without a kernel (`-bios`). */
  readonly bios?: string;
}

/** The memory sizes the page offers, in MiB. */
export const MEMORY_CHOICES = [32, 64, 128, 256, 512] as const;

/** The kernel command line for the default guest: its console is the serial port. */
export const DEFAULT_APPEND = 'console=ttyS0';

/** The qemu-system-x86_64 arguments for the controls' state: the same argv the CLI would take. */
export function bootArgs(o: BootOptions): string[] {
  const args = ['-m', `${o.memoryMiB}`, '-accel', `kvm,ept=${o.ept ? 'on' : 'off'}`];
  if (o.startPaused) args.push('-S');
  if (o.kernel !== undefined) args.push('-kernel', o.kernel);
  if (o.initrd !== undefined) args.push('-initrd', o.initrd);
  if (o.kernel !== undefined && o.append !== '') args.push('-append', o.append);
  if (o.disk !== undefined) args.push('-hda', o.disk);
  if (o.cdrom !== undefined) args.push('-cdrom', o.cdrom);
  if (o.kernel === undefined) {
    if (o.bios !== undefined) args.push('-bios', o.bios);
    const order = bootOrder(o);
    if (order !== '') args.push('-boot', `order=${order}`);
  }
  return args;
}

/**
 * The firmware boot order for the chosen drives, as `-boot order=` letters: the CD-ROM first (`d`, as
 * `-boot d` does for an installer ISO), then the hard disk (`c`); empty without drives.
 */
export function bootOrder(o: Pick<BootOptions, 'cdrom' | 'disk'>): string {
  return `${o.cdrom !== undefined ? 'd' : ''}${o.disk !== undefined ? 'c' : ''}`;
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

/** The file pickers of the page, in the order the files are loaded (the small BIOS first). */
export const FILE_ROLES = ['bios', 'kernel', 'initrd', 'cdrom', 'disk'] as const;
export type FileRole = (typeof FILE_ROLES)[number];

/** The files the page serves itself: the default guest, and SeaBIOS when the build machine had it. */
export type ServedFile = 'kernel' | 'initrd' | 'bios';

/** The names the served files are sent to the worker under (as the CLI would name them). */
export const SERVED_NAMES: Readonly<Record<ServedFile, string>> = {
  kernel: 'bzImage',
  initrd: 'initrd.cpio.gz',
  bios: 'bios-256k.bin',
};

/** One file of a boot: the name it is sent under, and where its bytes come from. */
export type PlannedFile =
  | { readonly name: string; readonly source: 'local'; readonly role: FileRole }
  | { readonly name: string; readonly source: 'served'; readonly role: ServedFile };

/** What to load and how to boot, or why the chosen files cannot boot together. */
export type BootPlan =
  | { readonly options: BootOptions; readonly files: readonly PlannedFile[] }
  | { readonly error: string };

/** The controls other than the file pickers. */
export type BaseOptions = Omit<BootOptions, 'kernel' | 'initrd' | 'cdrom' | 'disk' | 'bios'>;

/**
 * The boot for the chosen local files (by role, their file names): the default guest when there is
 * no kernel, CD-ROM, disk or BIOS (a local initrd replaces the default one); a kernel boot; or a
 * firmware boot of the CD-ROM and/or disk (QEMU's `-cdrom`/`-hda` with `-boot order=dc`) by the
 * chosen BIOS, else by the SeaBIOS the page serves. Names are made unique, served files first.
 */
export function planBoot(picked: Partial<Record<FileRole, string>>, base: BaseOptions): BootPlan {
  const firmware = picked.kernel === undefined;
  const drives = picked.cdrom !== undefined || picked.disk !== undefined;
  if (firmware && !drives && picked.bios === undefined) {
    const served: ServedFile[] = picked.initrd === undefined ? ['kernel', 'initrd'] : ['kernel'];
    return plan(base, served, picked.initrd === undefined ? {} : { initrd: picked.initrd });
  }
  if (firmware && picked.initrd !== undefined)
    return {
      error:
        'An initrd needs a kernel: choose a kernel too, or clear the initrd (a CD-ROM or disk image boots through the BIOS).',
    };
  if (!firmware && picked.bios !== undefined)
    return {
      error:
        'A kernel boots without the BIOS: clear the BIOS file to boot the kernel, or clear the kernel to boot the CD-ROM or disk through the BIOS.',
    };
  return plan(base, firmware && picked.bios === undefined ? ['bios'] : [], picked);
}

function plan(
  base: BaseOptions,
  served: readonly ServedFile[],
  picked: Partial<Record<FileRole, string>>,
): BootPlan {
  const local = FILE_ROLES.flatMap((role) => {
    const name = picked[role];
    return name === undefined ? [] : [{ role, name }];
  });
  const names = uniqueNames([...served.map((r) => SERVED_NAMES[r]), ...local.map((f) => f.name)]);
  const files: PlannedFile[] = [
    ...served.map((role, i): PlannedFile => ({ name: names[i]!, source: 'served', role })),
    ...local.map((f, i): PlannedFile => ({ name: names[served.length + i]!, source: 'local', role: f.role })),
  ];
  const name = (role: FileRole) => files.find((f) => f.role === role)?.name;
  const [kernel, initrd, cdrom, disk, bios] = [
    name('kernel'),
    name('initrd'),
    name('cdrom'),
    name('disk'),
    name('bios'),
  ];
  const options: BootOptions = {
    ...base,
    ...(kernel !== undefined ? { kernel } : {}),
    ...(initrd !== undefined ? { initrd } : {}),
    ...(cdrom !== undefined ? { cdrom } : {}),
    ...(disk !== undefined ? { disk } : {}),
    ...(bios !== undefined ? { bios } : {}),
  };
  return { options, files };
}
