/**
 * The virtio part of the command line, checked and resolved: which virtio devices the machine gets,
 * on which transport, with which drive or netdev behind them. `parseCommandLine` runs it so that a
 * bad `-device`, `-drive` or `-netdev` is a one-line error naming the option; the machine builders
 * run it again to get the plan.
 */
import type { DeviceConfig, DriveConfig, MachineType, NetdevConfig, VmConfig } from './config.js';

/** Ring features any virtio device accepts as properties (QEMU spelling). */
export interface RingProps {
  readonly packed?: boolean;
  readonly eventIdx?: boolean;
  readonly indirectDesc?: boolean;
}

interface SpecBase {
  /** The option as the user wrote it, for messages (`-device virtio-blk-pci,drive=d0`). */
  readonly option: string;
  readonly ring: RingProps;
  /** `addr=` on pc: the PCI slot asked for. */
  readonly slot: number | undefined;
}

export type VirtioSpec =
  | (SpecBase & {
      readonly kind: 'blk';
      readonly drive: DriveConfig;
      /** The drive's overlay setting after `-snapshot`. */
      readonly snapshot: boolean;
      readonly serial: string | undefined;
      readonly queueSize: number | undefined;
      readonly discard: boolean;
    })
  | (SpecBase & { readonly kind: 'net'; readonly netdev: NetdevConfig; readonly mac: string | undefined })
  | (SpecBase & { readonly kind: 'rng' })
  | (SpecBase & { readonly kind: 'console' });

/** Thrown for a bad virtio option; `parseCommandLine` turns it into a CommandLineError. */
export class VirtioOptionError extends Error {
  override readonly name = 'VirtioOptionError';
}

/** `-device` models per machine (the transport suffix QEMU uses: `-pci` on pc, `-device` on microvm). */
const MODELS = {
  pc: {
    'virtio-blk-pci': 'blk',
    'virtio-net-pci': 'net',
    'virtio-rng-pci': 'rng',
    'virtio-serial-pci': 'serial',
    virtconsole: 'console',
  },
  microvm: {
    'virtio-blk-device': 'blk',
    'virtio-net-device': 'net',
    'virtio-rng-device': 'rng',
    'virtio-serial-device': 'serial',
    virtconsole: 'console',
  },
} as const satisfies Record<MachineType, Record<string, string>>;

/** The `-device` model names a machine accepts. */
export function deviceModels(machine: MachineType): readonly string[] {
  return Object.keys(MODELS[machine]);
}

/** QEMU's device categories (`-device help` headings) and the bus each model plugs into. */
const DEVICE_CATEGORY = {
  blk: 'Storage devices',
  net: 'Network devices',
  serial: 'Input devices',
  console: 'Input devices',
  rng: 'Misc devices',
} as const;

/**
 * `-device help` as QEMU prints it: per category (in QEMU's order), `name "<model>", bus <bus>`, for
 * the models `machine` accepts.
 */
export function deviceHelpText(machine: MachineType): string {
  const lines: string[] = [];
  for (const category of ['Input devices', 'Misc devices', 'Network devices', 'Storage devices']) {
    const models = Object.entries(MODELS[machine]).filter(([, kind]) => DEVICE_CATEGORY[kind] === category);
    if (models.length === 0) continue;
    if (lines.length > 0) lines.push('');
    lines.push(`${category}:`);
    for (const [name, kind] of models) {
      const bus = kind === 'console' ? 'virtio-serial-bus' : machine === 'pc' ? 'PCI' : 'virtio-bus';
      lines.push(`name "${name}", bus ${bus}`);
    }
  }
  return lines.join('\n');
}

const COMMON_PROPS = ['id', 'bus', 'addr', 'packed', 'event_idx', 'indirect_desc'];
const PROPS: Record<string, readonly string[]> = {
  blk: ['drive', 'serial', 'queue-size', 'discard'],
  net: ['netdev', 'mac', 'host_mtu'],
  rng: [],
  serial: ['max_ports'],
  console: ['name', 'nr'],
};

const NETDEV_TYPES = ['socket', 'hubport'];

function deviceText(d: DeviceConfig): string {
  const props = [...d.props].map(([k, v]) => `${k}=${v.replaceAll(',', ',,')}`);
  return `-device ${[d.driver, ...props].join(',')}`;
}

function driveText(d: DriveConfig): string {
  return `-drive file=${d.file},if=${d.interface}${d.id === undefined ? '' : `,id=${d.id}`}`;
}

function onOff(option: string, key: string, value: string | undefined, dflt: boolean): boolean {
  if (value === undefined) return dflt;
  if (value === 'on' || value === 'true' || value === 'yes') return true;
  if (value === 'off' || value === 'false' || value === 'no') return false;
  throw new VirtioOptionError(`${option}: Parameter '${key}' expects 'on' or 'off'`);
}

function ringProps(option: string, props: ReadonlyMap<string, string>): RingProps {
  const r: { packed?: boolean; eventIdx?: boolean; indirectDesc?: boolean } = {};
  if (props.has('packed')) r.packed = onOff(option, 'packed', props.get('packed'), false);
  if (props.has('event_idx')) r.eventIdx = onOff(option, 'event_idx', props.get('event_idx'), true);
  if (props.has('indirect_desc'))
    r.indirectDesc = onOff(option, 'indirect_desc', props.get('indirect_desc'), true);
  return r;
}

/** `addr=3` or `addr=0x3.0`: slot 1-31 of bus 0 (function 0 only). */
function slotProp(option: string, machine: MachineType, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (machine !== 'pc') throw new VirtioOptionError(`${option}: Property 'addr' is for PCI devices only`);
  const m = /^(0x[0-9a-f]+|[0-9a-f]+)(?:\.0)?$/i.exec(value);
  const slot = m === null ? Number.NaN : Number.parseInt(m[1]!.replace(/^0x/i, ''), 16);
  if (!Number.isInteger(slot) || slot < 2 || slot > 31)
    throw new VirtioOptionError(`${option}: Property 'addr' must be a free slot 0x2-0x1f (function 0)`);
  return slot;
}

/**
 * Checks every virtio `-device`, `-drive if=virtio|none` and `-netdev` of `config` and returns the
 * devices to build, in command-line order (drives with `if=virtio` first, as QEMU creates them
 * while parsing drives). Throws {@link VirtioOptionError} naming the option at fault.
 */
export function planVirtio(config: VmConfig): VirtioSpec[] {
  const machine = config.machine;
  const models: Record<string, string> = MODELS[machine];
  const specs: VirtioSpec[] = [];
  const usedDrives = new Set<DriveConfig>();
  const usedNetdevs = new Set<NetdevConfig>();

  for (const n of config.netdevs) {
    const option = `-netdev ${n.type},id=${n.id}`;
    if (!NETDEV_TYPES.includes(n.type))
      throw new VirtioOptionError(`${option}: netdev type '${n.type}' is not available (socket, hubport)`);
    if (config.netdevs.filter((o) => o.id === n.id).length > 1)
      throw new VirtioOptionError(`${option}: Duplicate ID '${n.id}' for netdev`);
    const keys = n.type === 'socket' ? ['listen', 'connect', 'udp', 'localaddr'] : ['hubid'];
    for (const k of n.props.keys())
      if (!keys.includes(k)) throw new VirtioOptionError(`${option}: Invalid parameter '${k}'`);
    if (n.type === 'socket') {
      const modes = ['listen', 'connect', 'udp'].filter((k) => n.props.has(k));
      if (modes.length !== 1)
        throw new VirtioOptionError(`${option}: exactly one of listen=, connect= or udp= is needed`);
      if (n.props.has('udp') !== n.props.has('localaddr'))
        throw new VirtioOptionError(`${option}: udp= and localaddr= go together`);
      for (const k of ['listen', 'connect', 'udp', 'localaddr']) {
        const v = n.props.get(k);
        if (v !== undefined && !/^(\[[^\]]*\]|[^:]*):\d{1,5}$/.test(v))
          throw new VirtioOptionError(`${option}: ${k}=${v} is not host:port`);
        if (v !== undefined && Number(v.slice(v.lastIndexOf(':') + 1)) > 65535)
          throw new VirtioOptionError(`${option}: port out of range in ${k}=${v}`);
      }
    } else if (!/^\d+$/.test(n.props.get('hubid') ?? '')) {
      throw new VirtioOptionError(`${option}: Parameter 'hubid' expects a number`);
    }
  }

  const blk = (
    option: string,
    drive: DriveConfig,
    props: ReadonlyMap<string, string>,
    slot: number | undefined,
  ): VirtioSpec => {
    const q = props.get('queue-size');
    const queueSize = q === undefined ? undefined : Number(q);
    if (queueSize !== undefined && !(Number.isInteger(queueSize) && queueSize >= 2 && queueSize <= 1024))
      throw new VirtioOptionError(`${option}: queue-size must be a power of 2 between 2 and 1024`);
    if (queueSize !== undefined && (queueSize & (queueSize - 1)) !== 0)
      throw new VirtioOptionError(`${option}: queue-size must be a power of 2 between 2 and 1024`);
    const discard = props.get('discard') ?? 'unmap';
    if (discard !== 'unmap' && discard !== 'ignore')
      throw new VirtioOptionError(`${option}: Parameter 'discard' expects 'unmap' or 'ignore'`);
    if (drive.media === 'cdrom')
      throw new VirtioOptionError(`${option}: media=cdrom needs an IDE drive (virtio-blk is a disk)`);
    return {
      kind: 'blk',
      option,
      drive,
      snapshot: (drive.snapshot || config.snapshot) && !drive.readonly,
      serial: props.get('serial'),
      queueSize,
      discard: discard === 'unmap',
      ring: ringProps(option, props),
      slot,
    };
  };

  for (const d of config.drives) {
    if (d.interface !== 'virtio') continue;
    specs.push(blk(driveText(d), d, new Map(), undefined));
    usedDrives.add(d);
  }

  let serialBus = false;
  let consoles = 0;
  for (const dev of config.devices) {
    const option = deviceText(dev);
    const kind = models[dev.driver];
    if (kind === undefined) {
      const other = machine === 'pc' ? MODELS.microvm : MODELS.pc;
      if (dev.driver in other)
        throw new VirtioOptionError(
          `${option}: '${dev.driver}' is not available on the ${machine} machine (use ${deviceModels(machine)
            .filter((m) => m.startsWith(dev.driver.replace(/-(pci|device)$/, '')))
            .join(', ')})`,
        );
      throw new VirtioOptionError(`${option}: '${dev.driver}' is not a valid device model name`);
    }
    const allowed = [...COMMON_PROPS, ...(PROPS[kind] ?? [])];
    for (const k of dev.props.keys())
      if (!allowed.includes(k))
        throw new VirtioOptionError(`${option}: Property '${dev.driver}.${k}' not found`);
    const slot = slotProp(option, machine, dev.props.get('addr'));
    switch (kind) {
      case 'blk': {
        const id = dev.props.get('drive');
        if (id === undefined) throw new VirtioOptionError(`${option}: drive property not set`);
        const drive = config.drives.find((d) => d.id === id);
        if (drive === undefined)
          throw new VirtioOptionError(`${option}: Property 'drive': drive '${id}' not found`);
        if (drive.interface !== 'none')
          throw new VirtioOptionError(`${option}: drive '${id}' has if=${drive.interface}; use if=none`);
        if (usedDrives.has(drive))
          throw new VirtioOptionError(`${option}: drive '${id}' is already in use by another device`);
        usedDrives.add(drive);
        specs.push(blk(option, drive, dev.props, slot));
        break;
      }
      case 'net': {
        const id = dev.props.get('netdev');
        if (id === undefined) throw new VirtioOptionError(`${option}: netdev property not set`);
        const netdev = config.netdevs.find((n) => n.id === id);
        if (netdev === undefined)
          throw new VirtioOptionError(`${option}: Property 'netdev': netdev '${id}' not found`);
        if (usedNetdevs.has(netdev))
          throw new VirtioOptionError(`${option}: netdev '${id}' is already in use by another device`);
        usedNetdevs.add(netdev);
        const mac = dev.props.get('mac');
        if (mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac))
          throw new VirtioOptionError(`${option}: Property 'mac' expects aa:bb:cc:dd:ee:ff`);
        if (dev.props.has('host_mtu'))
          throw new VirtioOptionError(`${option}: host_mtu is not available (no MTU feature yet)`);
        specs.push({ kind: 'net', option, netdev, mac, ring: ringProps(option, dev.props), slot });
        break;
      }
      case 'rng':
        specs.push({ kind: 'rng', option, ring: ringProps(option, dev.props), slot });
        break;
      case 'serial':
        if (serialBus)
          throw new VirtioOptionError(
            `${option}: only one virtio-serial controller (one console port) is available`,
          );
        serialBus = true;
        if (dev.props.has('max_ports') && dev.props.get('max_ports') !== '1')
          throw new VirtioOptionError(`${option}: max_ports must be 1 (a single console port)`);
        specs.push({ kind: 'console', option, ring: ringProps(option, dev.props), slot });
        break;
      case 'console':
        if (!serialBus)
          throw new VirtioOptionError(
            `${option}: No 'virtio-serial-bus' bus found for device 'virtconsole' (add -device virtio-serial-${machine === 'pc' ? 'pci' : 'device'} first)`,
          );
        if (++consoles > 1) throw new VirtioOptionError(`${option}: only one virtconsole port is available`);
        if (dev.props.has('nr') && dev.props.get('nr') !== '0')
          throw new VirtioOptionError(`${option}: nr must be 0 (a single console port)`);
        break;
      default:
        break;
    }
  }
  return specs;
}
