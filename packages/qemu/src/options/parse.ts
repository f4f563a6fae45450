import type {
  CharBackend,
  Command,
  DeviceConfig,
  DriveConfig,
  MachineType,
  NetdevConfig,
  VmConfig,
} from './config.js';
import { CPU_MODELS, CpuModelError, checkCpuConfig, cpuHelpText, DEFAULT_CPU_MODEL } from './cpu-model.js';
import { OptionSyntaxError, parseBool, parseKeyValues, parseSize } from './keyval.js';
import { deviceHelpText, planVirtio, VirtioOptionError } from './virtio-plan.js';

/** A bad command line; `message` is QEMU-style: `-m foo: Parameter 'size' expects a size`. */
export class CommandLineError extends Error {
  override readonly name = 'CommandLineError';
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] };

/** One entry of the option table: the single source of truth for names, arity and help text. */
interface OptionSpec {
  readonly names: readonly string[];
  readonly arg: string | null;
  readonly help: string;
  readonly apply: (cfg: Mutable<VmConfig>, value: string, cmd: CommandSoFar) => void;
}

/** What the options decided besides the config: the action, and for `list` which listing. */
interface CommandSoFar {
  action: Command['action'];
  list?: 'cpu' | 'machine' | 'device';
}

/** The machines of `-machine help`, with QEMU's descriptions. */
export const MACHINES: readonly { readonly name: MachineType; readonly description: string }[] = [
  { name: 'microvm', description: 'microvm (i386)' },
  { name: 'pc', description: 'Standard PC (i440FX + PIIX, 1996)' },
];

/** `-machine help` as QEMU prints it: "Supported machines are:", then `%-20s %s` per machine. */
export function machineHelpText(): string {
  return ['Supported machines are:', ...MACHINES.map((m) => `${m.name.padEnd(20)} ${m.description}`)].join(
    '\n',
  );
}

const isHelp = (v: string | undefined): boolean => v === 'help' || v === '?';

export const LOG_ITEMS = [
  'int',
  'cpu_reset',
  'guest_errors',
  'unimp',
  'exec',
  'in_asm',
  'cpu',
  'mmu',
  'pcall',
] as const;

const DEFAULTS: VmConfig = {
  machine: 'pc',
  ept: true,
  kernelIrqchip: false,
  vcpuThread: undefined,
  // Without -cpu the vCPU gets the facade's x86-64 model (what `-cpu host` was before the facade had
  // AVX: SSE to SSE4.2, AES-NI, XSAVE, long mode), so that default guests keep their CPUID.
  cpu: { model: DEFAULT_CPU_MODEL, features: new Map() },
  memoryBytes: 128 * 2 ** 20,
  smp: 1,
  kernel: undefined,
  initrd: undefined,
  append: '',
  bios: undefined,
  bootOrder: undefined,
  bootMenu: false,
  drives: [],
  devices: [],
  netdevs: [],
  serial: [],
  debugcon: undefined,
  monitor: undefined,
  nographic: false,
  vga: undefined,
  startPaused: false,
  noReboot: false,
  noShutdown: false,
  noDefaults: false,
  snapshot: false,
  name: undefined,
  logItems: [],
  logFile: undefined,
};

function onlyKeys(what: string, kv: Map<string, string>, allowed: readonly string[]): void {
  for (const k of kv.keys()) {
    if (!allowed.includes(k))
      throw new OptionSyntaxError(`Invalid parameter '${k}'${what ? ` for ${what}` : ''}`);
  }
}

function parseMachine(cfg: Mutable<VmConfig>, value: string, cmd: CommandSoFar): void {
  const kv = parseKeyValues(value, 'type');
  onlyKeys('', kv, ['type', 'accel', 'kernel_irqchip']);
  const type = kv.get('type');
  if (type !== undefined) {
    if (isHelp(type)) {
      cmd.action = 'list';
      cmd.list = 'machine';
      return;
    }
    if (type !== 'pc' && type !== 'microvm')
      throw new OptionSyntaxError(`unsupported machine type '${type}' (use -machine help)`);
    cfg.machine = type as MachineType;
  }
  const accel = kv.get('accel');
  if (accel !== undefined && accel !== 'kvm')
    throw new OptionSyntaxError(`invalid accelerator ${accel} (only kvm)`);
  const irqchip = kv.get('kernel_irqchip');
  if (irqchip === 'split')
    throw new OptionSyntaxError(
      'kernel_irqchip=split is not available: the KVM facade has no split irqchip (use on or off)',
    );
  if (irqchip !== undefined) cfg.kernelIrqchip = parseBool('kernel_irqchip', irqchip);
}

function parseAccel(cfg: Mutable<VmConfig>, value: string): void {
  const kv = parseKeyValues(value, 'accel');
  onlyKeys('', kv, ['accel', 'ept', 'vcpu-thread']);
  if (kv.get('accel') !== 'kvm')
    throw new OptionSyntaxError(`invalid accelerator ${kv.get('accel')} (only kvm)`);
  const ept = kv.get('ept');
  if (ept !== undefined) cfg.ept = parseBool('ept', ept);
  const thread = kv.get('vcpu-thread');
  if (thread !== undefined) cfg.vcpuThread = parseBool('vcpu-thread', thread);
}

function parseCpu(cfg: Mutable<VmConfig>, value: string, cmd: CommandSoFar): void {
  const parts = value.split(',');
  const model = parts[0] ?? '';
  if (model === '') throw new OptionSyntaxError('CPU model missing');
  if (isHelp(model)) {
    cmd.action = 'list';
    cmd.list = 'cpu';
    return;
  }
  const features = new Map<string, boolean>();
  const explicit = new Set<string>(); // `feat=on|off` and bare `feat`: QEMU reports these as globals
  if (!CPU_MODELS.includes(model)) throw new CommandLineError(`unable to find CPU model '${model}'`);
  for (const p of parts.slice(1)) {
    if (p.startsWith('+') || p.startsWith('-')) features.set(p.slice(1), p[0] === '+');
    else if (p.includes('=')) {
      const [k, v] = p.split('=', 2) as [string, string];
      try {
        features.set(k, parseBool(k, v));
      } catch (e) {
        if (!(e instanceof OptionSyntaxError)) throw e;
        throw new CommandLineError(`can't apply global ${model}-x86_64-cpu.${k}=${v}: ${e.message}`);
      }
      explicit.add(k);
    } else if (p !== '') {
      features.set(p, true);
      explicit.add(p);
    }
  }
  cfg.cpu = { model, features };
  try {
    checkCpuConfig(cfg.cpu, explicit);
  } catch (e) {
    if (e instanceof CpuModelError) throw new CommandLineError(e.message);
    throw e;
  }
}

function parseMemory(cfg: Mutable<VmConfig>, value: string): void {
  const kv = parseKeyValues(value, 'size');
  onlyKeys('', kv, ['size', 'slots', 'maxmem']);
  const bytes = parseSize('size', kv.get('size') ?? '', 2 ** 20);
  if (bytes < 2 ** 20) throw new OptionSyntaxError(`memory size ${bytes} too small (at least 1M)`);
  if (bytes % 4096 !== 0) throw new OptionSyntaxError('memory size must be a multiple of 4 KiB');
  if (bytes > 3.5 * 2 ** 30) throw new OptionSyntaxError('memory size above 3.5G is not supported yet');
  cfg.memoryBytes = bytes;
}

/** `-boot`: the order letters are checked as QEMU's pc does (at most 3 of a, b, c, d, n). */
function parseBoot(cfg: Mutable<VmConfig>, value: string): void {
  const kv = parseKeyValues(value, 'order');
  onlyKeys('', kv, ['order', 'once', 'menu', 'strict', 'splash', 'splash-time', 'reboot-timeout']);
  const order = kv.get('once') ?? kv.get('order');
  if (order !== undefined) {
    const bad = [...order].find((ch) => !'abcdn'.includes(ch));
    if (bad !== undefined) throw new OptionSyntaxError(`Invalid boot device for PC: '${bad}'`);
    if (order.length > 3) throw new OptionSyntaxError('Too many boot devices for PC');
    cfg.bootOrder = order;
  }
  const menu = kv.get('menu');
  if (menu !== undefined) cfg.bootMenu = parseBool('menu', menu);
}

function parseSmp(cfg: Mutable<VmConfig>, value: string): void {
  const kv = parseKeyValues(value, 'cpus');
  onlyKeys('', kv, ['cpus', 'maxcpus', 'sockets', 'cores', 'threads']);
  const n = Number(kv.get('cpus') ?? '1');
  if (!Number.isInteger(n) || n < 1 || n > 255)
    throw new OptionSyntaxError(`Invalid CPU count '${kv.get('cpus')}'`);
  cfg.smp = n;
}

const DRIVE_KEYS = ['file', 'if', 'format', 'readonly', 'id', 'media', 'index', 'snapshot', 'cache', 'aio'];

function parseDrive(
  value: string,
  overrides: { media?: 'cdrom'; interface?: 'ide'; index?: number } = {},
): DriveConfig {
  const kv = parseKeyValues(value);
  onlyKeys('', kv, DRIVE_KEYS);
  const file = kv.get('file');
  if (file === undefined || file === '') throw new OptionSyntaxError("drive: parameter 'file' is missing");
  const iface = overrides.interface ?? kv.get('if') ?? 'ide';
  if (iface !== 'ide' && iface !== 'virtio' && iface !== 'none')
    throw new OptionSyntaxError(`unsupported bus type '${iface}' (ide, virtio or none)`);
  const format = kv.get('format') ?? 'raw';
  if (format !== 'raw') throw new OptionSyntaxError(`Unknown driver '${format}' (only format=raw)`);
  const media = overrides.media ?? kv.get('media') ?? 'disk';
  if (media !== 'disk' && media !== 'cdrom') throw new OptionSyntaxError(`'${media}' invalid media`);
  const indexText = kv.get('index');
  const index = overrides.index ?? (indexText === undefined ? undefined : Number(indexText));
  if (index !== undefined && (!Number.isInteger(index) || index < 0 || index > 3))
    throw new OptionSyntaxError(`index ${indexText} out of range`);
  return {
    file,
    interface: iface,
    media,
    format: 'raw',
    readonly: media === 'cdrom' || parseBool('readonly', kv.get('readonly') ?? 'off'),
    snapshot: parseBool('snapshot', kv.get('snapshot') ?? 'off'),
    id: kv.get('id'),
    index,
  };
}

function parseDevice(value: string): DeviceConfig {
  const kv = parseKeyValues(value, 'driver');
  const driver = kv.get('driver');
  if (driver === undefined || driver === '') throw new OptionSyntaxError("Parameter 'driver' is missing");
  kv.delete('driver');
  return { driver, props: kv };
}

function parseNetdev(value: string): NetdevConfig {
  const kv = parseKeyValues(value, 'type');
  const type = kv.get('type');
  const id = kv.get('id');
  if (type === undefined || type === '') throw new OptionSyntaxError("Parameter 'type' is missing");
  if (id === undefined || id === '') throw new OptionSyntaxError("Parameter 'id' is missing");
  kv.delete('type');
  kv.delete('id');
  return { type, id, props: kv };
}

/** ISA serial ports a `pc` or `microvm` machine can have (QEMU's MAX_ISA_SERIAL_PORTS). */
export const MAX_SERIAL_PORTS = 4;

/** `-serial` / `-monitor` / `-debugcon` backends as QEMU spells them. */
export function parseCharBackend(value: string): CharBackend {
  if (value === 'stdio' || value === 'null' || value === 'none' || value === 'mon:stdio')
    return { kind: value };
  if (value.startsWith('file:')) {
    const path = value.slice(5);
    if (path === '') throw new OptionSyntaxError("'file:' needs a path");
    return { kind: 'file', path };
  }
  if (value.startsWith('tcp:')) {
    const [addr = '', ...flags] = value.slice(4).split(',');
    const colon = addr.lastIndexOf(':');
    const host = colon > 0 ? addr.slice(0, colon) : '127.0.0.1';
    const port = Number(addr.slice(colon + 1));
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new OptionSyntaxError(`invalid port in '${value}'`);
    const opts = flags.length > 0 ? parseKeyValues(flags.join(',')) : new Map<string, string>();
    onlyKeys('tcp', opts, ['server', 'wait', 'nowait', 'nodelay']);
    return {
      kind: 'tcp',
      host,
      port,
      server: opts.has('server') && parseBool('server', opts.get('server')!),
      wait: opts.has('nowait') ? false : parseBool('wait', opts.get('wait') ?? 'on'),
    };
  }
  if (value.startsWith('unix:')) {
    const [path = '', ...flags] = value.slice(5).split(',');
    if (path === '') throw new OptionSyntaxError("'unix:' needs a path");
    const opts = flags.length > 0 ? parseKeyValues(flags.join(',')) : new Map<string, string>();
    onlyKeys('unix', opts, ['server', 'wait', 'nowait']);
    return {
      kind: 'unix',
      path,
      server: opts.has('server') && parseBool('server', opts.get('server')!),
      wait: opts.has('nowait') ? false : parseBool('wait', opts.get('wait') ?? 'on'),
    };
  }
  throw new OptionSyntaxError(
    `'${value}' is not a valid char driver (stdio, null, none, file:, tcp:, unix:)`,
  );
}

function parseLog(cfg: Mutable<VmConfig>, value: string, cmd: CommandSoFar): void {
  if (value === 'help' || value === '?') {
    cmd.action = 'log-help';
    return;
  }
  const items = value.split(',');
  for (const item of items) {
    if (!(LOG_ITEMS as readonly string[]).includes(item))
      throw new OptionSyntaxError(`unknown log item '${item}'`);
  }
  cfg.logItems = items;
}

/** The option table (names, argument, help, effect); the parser and `-h` are derived from it. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    names: ['machine', 'M'],
    arg: 'type[,accel=kvm][,kernel_irqchip=on|off]',
    help: 'machine: pc (i440FX, PCI) or microvm (-machine help lists them)',
    apply: (c, v, cmd) => parseMachine(c, v, cmd),
  },
  {
    names: ['accel'],
    arg: 'kvm[,ept=on|off][,vcpu-thread=on|off]',
    help: 'accelerator: the KVM facade; ept=off uses shadow paging; vcpu-thread=on runs the vCPU on a worker thread (default off)',
    apply: (c, v) => parseAccel(c, v),
  },
  { names: ['enable-kvm'], arg: null, help: 'same as -accel kvm', apply: () => {} },
  {
    names: ['cpu'],
    arg: 'model[,+feat,-feat,feat=on|off]',
    help: `CPU model (${CPU_MODELS.join(', ')}) and feature changes (-cpu help lists them)`,
    apply: (c, v, cmd) => parseCpu(c, v, cmd),
  },
  {
    names: ['m'],
    arg: 'size',
    help: 'guest RAM (default unit MiB): -m 256, -m 1G',
    apply: (c, v) => parseMemory(c, v),
  },
  {
    names: ['smp'],
    arg: 'n',
    help: 'number of vCPUs (SMP guests are not supported yet: more than 1 gives a warning and 1 vCPU)',
    apply: (c, v) => parseSmp(c, v),
  },
  {
    names: ['kernel'],
    arg: 'file',
    help: 'Linux bzImage or multiboot kernel',
    apply: (c, v) => {
      c.kernel = v;
    },
  },
  {
    names: ['initrd'],
    arg: 'file',
    help: 'initial ramdisk',
    apply: (c, v) => {
      c.initrd = v;
    },
  },
  {
    names: ['append'],
    arg: 'cmdline',
    help: 'kernel command line',
    apply: (c, v) => {
      c.append = v;
    },
  },
  {
    names: ['bios'],
    arg: 'file',
    help: 'firmware image (e.g. SeaBIOS bios.bin)',
    apply: (c, v) => {
      c.bios = v;
    },
  },
  {
    names: ['boot'],
    arg: '[order=]drives[,once=drives][,menu=on|off]',
    help: 'firmware boot order: c disk, d CD-ROM (QEMU: -boot d boots the CD first)',
    apply: (c, v) => parseBoot(c, v),
  },
  {
    names: ['drive'],
    arg: 'file=,if=ide|virtio|none,format=raw,readonly=on,id=',
    help: 'a drive',
    apply: (c, v) => {
      c.drives.push(parseDrive(v));
    },
  },
  {
    names: ['hda'],
    arg: 'file',
    help: 'IDE disk 0',
    apply: (c, v) => {
      c.drives.push(parseDrive(`file=${v.replaceAll(',', ',,')}`, { interface: 'ide', index: 0 }));
    },
  },
  {
    names: ['hdb'],
    arg: 'file',
    help: 'IDE disk 1',
    apply: (c, v) => {
      c.drives.push(parseDrive(`file=${v.replaceAll(',', ',,')}`, { interface: 'ide', index: 1 }));
    },
  },
  {
    names: ['cdrom'],
    arg: 'file',
    help: 'IDE CD-ROM (secondary master)',
    apply: (c, v) => {
      c.drives.push(
        parseDrive(`file=${v.replaceAll(',', ',,')}`, { interface: 'ide', media: 'cdrom', index: 2 }),
      );
    },
  },
  {
    names: ['device'],
    arg: 'driver[,prop=value...]',
    help: 'a device, e.g. virtio-blk-pci,drive=d0 (-device help lists them)',
    apply: (c, v, cmd) => {
      if (isHelp(v.split(',')[0])) {
        cmd.action = 'list';
        cmd.list = 'device';
        return;
      }
      c.devices.push(parseDevice(v));
    },
  },
  {
    names: ['netdev'],
    arg: 'type,id=...',
    help: 'a network backend (socket, hub)',
    apply: (c, v) => {
      c.netdevs.push(parseNetdev(v));
    },
  },
  {
    names: ['serial'],
    arg: 'stdio|file:path|tcp:host:port[,server]|unix:path[,server]|null|none',
    help: 'the next serial port (COM1..COM4) on this backend',
    apply: (c, v) => {
      if (c.serial.length === MAX_SERIAL_PORTS) throw new OptionSyntaxError('too many serial ports');
      c.serial.push(parseCharBackend(v));
    },
  },
  {
    names: ['debugcon'],
    arg: 'stdio|file:path|tcp:...|unix:...|null',
    help: 'the debug console (port 0xE9) on this backend',
    apply: (c, v) => {
      c.debugcon = parseCharBackend(v);
    },
  },
  {
    names: ['monitor'],
    arg: 'stdio|tcp:...|unix:path',
    help: 'HMP monitor backend',
    apply: (c, v) => {
      c.monitor = parseCharBackend(v);
    },
  },
  {
    names: ['nographic'],
    arg: null,
    help: 'serial and monitor on stdio (Ctrl-A h for help)',
    apply: (c) => {
      c.nographic = true;
    },
  },
  {
    names: ['display'],
    arg: 'none',
    help: 'only "none" (no window)',
    apply: (_c, v) => {
      if (v !== 'none') throw new OptionSyntaxError(`display '${v}' is not available (only none)`);
    },
  },
  {
    names: ['S'],
    arg: null,
    help: 'start paused (cont in the monitor to run)',
    apply: (c) => {
      c.startPaused = true;
    },
  },
  {
    names: ['no-reboot'],
    arg: null,
    help: 'exit instead of rebooting',
    apply: (c) => {
      c.noReboot = true;
    },
  },
  {
    names: ['no-shutdown'],
    arg: null,
    help: 'stop instead of exiting on guest power-off',
    apply: (c) => {
      c.noShutdown = true;
    },
  },
  {
    names: ['vga'],
    arg: 'std|none',
    help: 'the VGA card: std (Bochs VBE, the default with a display) or none',
    apply: (c, v) => {
      if (v !== 'std' && v !== 'none')
        throw new OptionSyntaxError(`VGA type '${v}' is not available (std, none)`);
      c.vga = v;
    },
  },
  {
    names: ['nodefaults'],
    arg: null,
    help: 'no default devices',
    apply: (c) => {
      c.noDefaults = true;
    },
  },
  {
    names: ['snapshot'],
    arg: null,
    help: 'write to temporary overlays, never to the images',
    apply: (c) => {
      c.snapshot = true;
    },
  },
  {
    names: ['name'],
    arg: 'string',
    help: 'guest name',
    apply: (c, v) => {
      c.name = v.split(',')[0];
    },
  },
  {
    names: ['d'],
    arg: `item[,...] (${LOG_ITEMS.join(', ')})`,
    help: 'log items (-d help lists them)',
    apply: (c, v, cmd) => parseLog(c, v, cmd),
  },
  {
    names: ['D'],
    arg: 'logfile',
    help: 'write the log to a file',
    apply: (c, v) => {
      c.logFile = v;
    },
  },
  {
    names: ['version'],
    arg: null,
    help: 'print the version and exit',
    apply: (_c, _v, cmd) => {
      cmd.action = 'version';
    },
  },
  {
    names: ['h', 'help'],
    arg: null,
    help: 'print this help and exit',
    apply: (_c, _v, cmd) => {
      cmd.action = 'help';
    },
  },
];

const BY_NAME = new Map<string, OptionSpec>(OPTIONS.flatMap((o) => o.names.map((n) => [n, o] as const)));

/**
 * Parses a qemu-system-x86_64 style argument vector (without the program name).
 * Throws {@link CommandLineError} with QEMU's wording for the first bad option.
 */
export function parseCommandLine(argv: readonly string[]): Command {
  const cfg = structuredClone(DEFAULTS) as Mutable<VmConfig>;
  cfg.cpu = { model: DEFAULTS.cpu.model, features: new Map() };
  const cmd: CommandSoFar = { action: 'run' };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    if (!raw.startsWith('-') || raw === '-')
      throw new CommandLineError(`${raw}: invalid option (options start with '-')`);
    const name = raw.replace(/^--?/, '');
    const spec = BY_NAME.get(name);
    if (spec === undefined) throw new CommandLineError(`${raw}: invalid option`);
    let value = '';
    if (spec.arg !== null) {
      const next = argv[i + 1];
      if (next === undefined) throw new CommandLineError(`${raw}: requires an argument`);
      value = next;
      i++;
    }
    try {
      spec.apply(cfg, value, cmd);
    } catch (e) {
      if (e instanceof OptionSyntaxError) throw new CommandLineError(`${raw} ${value}: ${e.message}`);
      throw e;
    }
  }
  if (cmd.action === 'list') {
    const text =
      cmd.list === 'cpu'
        ? cpuHelpText()
        : cmd.list === 'machine'
          ? machineHelpText()
          : deviceHelpText(cfg.machine);
    return { action: 'list', text };
  }
  if (cmd.action !== 'run') return { action: cmd.action };
  if (cfg.initrd !== undefined && cfg.kernel === undefined)
    throw new CommandLineError('-initrd: only allowed with -kernel');
  if (cfg.append !== '' && cfg.kernel === undefined)
    throw new CommandLineError('-append: only allowed with -kernel');
  if (cfg.machine === 'microvm' && cfg.drives.some((d) => d.interface === 'ide'))
    throw new CommandLineError(
      'microvm has no IDE controller: use -drive if=virtio or if=none with -device virtio-blk-device',
    );
  try {
    planVirtio(cfg); // every -device/-netdev and virtio -drive must make sense before anything starts
  } catch (e) {
    if (e instanceof VirtioOptionError) throw new CommandLineError(e.message);
    throw e;
  }
  return { action: 'run', config: cfg };
}

/** `-h` text, derived from the option table. */
export function helpText(program: string): string {
  const lines = [`usage: ${program} [options]`, ''];
  for (const o of OPTIONS) {
    const left = `-${o.names[0]}${o.arg === null ? '' : ` ${o.arg}`}`;
    lines.push(`${left.padEnd(44)} ${o.help}`);
  }
  return lines.join('\n');
}
