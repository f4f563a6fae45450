/**
 * The PIIX3 IDE function of the `pc` machine for `-drive if=ide`, `-hda`, `-hdb` and `-cdrom`: the
 * devices package's IDE/ATAPI controller at the legacy ports (0x1F0-0x1F7 and 0x3F6 on IRQ 14,
 * 0x170-0x177 and 0x376 on IRQ 15), at PCI 00:01.1 when the machine has a PCI bus (its bus-master
 * registers follow BAR4). Drives are raw image files: FLUSH CACHE is fsync, `readonly=on` and CD-ROMs
 * refuse writes.
 */
import {
  type BlockBackend as IdeBlockBackend,
  IdeController,
  IdeDrive,
  type IdeDrives,
  type PciBarMapping,
  type PciHost,
} from '@typevisor/devices';
import type { GuestMemory, IrqLine, PioBus } from '@typevisor/memory';
import { type BlockBackend, MemoryBlockBackend } from '@typevisor/virtio';
import type { DriveConfig } from '../options/config.js';
import { type OpenedDrive, VirtioBackendError, type VirtioIo } from './virtio-devices.js';

/** Where the four IDE positions (`index=0..3`) sit: primary master/slave, secondary master/slave. */
const POSITIONS = ['primaryMaster', 'primarySlave', 'secondaryMaster', 'secondarySlave'] as const;

/** An image file as the IDE drive reads it: host read errors read as zeroes, flush is fsync. */
class IdeImage implements IdeBlockBackend {
  constructor(
    private readonly image: BlockBackend,
    readonly readOnly: boolean,
  ) {}
  get size(): number {
    return this.image.size;
  }
  read(offset: number, dst: Uint8Array): void {
    if (!this.image.read(offset, dst)) dst.fill(0);
  }
  write(offset: number, src: Uint8Array): void {
    this.image.write(offset, src);
  }
  flush(): boolean {
    return this.image.flush();
  }
}

/** The IDE drives of a command line by position, as QEMU assigns them (`index=`, else the next free). */
export function ideDrivePositions(drives: readonly DriveConfig[]): Map<number, DriveConfig> {
  const byIndex = new Map<number, DriveConfig>();
  for (const d of drives) {
    if (d.interface !== 'ide' || d.index === undefined) continue;
    if (byIndex.has(d.index)) {
      const bus = d.index >> 1;
      throw new VirtioBackendError(`drive with bus=${bus}, unit=${d.index & 1} (index=${d.index}) exists`);
    }
    byIndex.set(d.index, d);
  }
  for (const d of drives) {
    if (d.interface !== 'ide' || d.index !== undefined) continue;
    const free = [0, 1, 2, 3].find((i) => !byIndex.has(i));
    if (free === undefined)
      throw new VirtioBackendError(`Too many IDE drives: '${d.file}' has no free position`);
    byIndex.set(free, d);
  }
  return byIndex;
}

export interface PcIdeWiring {
  readonly pio: PioBus;
  readonly isaIrq: (irq: number) => IrqLine;
  readonly memory?: GuestMemory;
  readonly pciHost?: PciHost;
  readonly io: VirtioIo;
  /** `-snapshot`: every drive writes to a temporary overlay. */
  readonly snapshot: boolean;
}

/** The IDE controller and its open images; `close()` closes the files. */
export class PcIde {
  readonly controller: IdeController;
  readonly drives: ReadonlyMap<number, IdeDrive>;
  private readonly opened: OpenedDrive[] = [];
  private bmBase: number | null = null;

  constructor(configs: ReadonlyMap<number, DriveConfig>, w: PcIdeWiring) {
    const drives = new Map<number, IdeDrive>();
    const positions: { -readonly [K in keyof IdeDrives]: IdeDrive } = {};
    try {
      for (const [index, d] of configs) {
        const opened = openImage(d, w.io, w.snapshot);
        this.opened.push(opened);
        const cdrom = d.media === 'cdrom';
        const drive = new IdeDrive({
          kind: cdrom ? 'cdrom' : 'disk',
          backend: new IdeImage(opened.backend, d.readonly || cdrom),
        });
        drives.set(index, drive);
        positions[POSITIONS[index]!] = drive;
      }
    } catch (e) {
      this.close();
      throw e;
    }
    this.drives = drives;
    const pio = w.pio;
    this.controller = new IdeController({
      drives: positions,
      irq14: w.isaIrq(14),
      irq15: w.isaIrq(15),
      ...(w.memory ? { memory: w.memory } : {}),
      barObserver: { barChanged: (m) => this.moveBusMaster(pio, m) },
    });
    const c = this.controller;
    pio.insert(0x1f0, 8, c.primary.commandBlock, 'ide');
    pio.insert(0x3f6, 1, c.primary.controlBlock, 'ide');
    pio.insert(0x170, 8, c.secondary.commandBlock, 'ide');
    pio.insert(0x376, 1, c.secondary.controlBlock, 'ide');
    w.pciHost?.attach(1, 1, c);
  }

  /** The guest placed (or moved, or turned off) BAR4: the bus-master registers follow it. */
  private moveBusMaster(pio: PioBus, m: PciBarMapping): void {
    if (m.index !== 4) return;
    if (this.bmBase !== null) pio.remove(this.bmBase);
    this.bmBase = null;
    if (m.address === null) return;
    try {
      pio.insert(m.address, m.size, this.controller.busMaster, 'piix-bmdma');
      this.bmBase = m.address;
    } catch {
      // The guest put BAR4 over another device: like an address conflict on real hardware, the
      // registers do not decode there.
    }
  }

  close(): void {
    for (const o of this.opened.splice(0)) o.close();
  }
}

function openImage(d: DriveConfig, io: VirtioIo, snapshot: boolean): OpenedDrive {
  const readonly = d.readonly || d.media === 'cdrom';
  try {
    if (io.backends.openDrive !== undefined) {
      return io.backends.openDrive({ file: d.file, readonly, snapshot: d.snapshot || snapshot });
    }
    return { backend: new MemoryBlockBackend(io.readFile(d.file).slice(), readonly), close() {} };
  } catch (e) {
    throw new VirtioBackendError(
      `-drive file=${d.file},if=ide: Could not open '${d.file}': ${(e as Error).message}`,
    );
  }
}
