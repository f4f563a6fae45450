import { type AccessSize, type GuestMemory, type IrqLine, NO_IRQ, type PioDevice } from '@typevisor/memory';
import type { IdeDrive } from './drive.js';
import {
  ATA_SECTOR_SIZE,
  ATA_SIGNATURE,
  ATAPI_PACKET_SIZE,
  ATAPI_SIGNATURE,
  AtaCommand,
  BMCMD_START,
  BMST_ACTIVE,
  BMST_ERROR,
  BMST_INTERRUPT,
  CTL_HOB,
  CTL_NIEN,
  CTL_SRST,
  DEV_HEAD_MASK,
  DEV_LBA,
  DEV_SELECT_SLAVE,
  DIAG_PASSED,
  ERR_ABRT,
  ERR_IDNF,
  HEADS,
  IREASON_COD,
  IREASON_IO,
  MAX_MULTIPLE_SECTORS,
  MAX_PRD_ENTRIES,
  PRD_EOT,
  REG_COMMAND,
  REG_DATA,
  REG_DEVICE,
  REG_ERROR,
  REG_LBA_HIGH,
  REG_LBA_LOW,
  REG_LBA_MID,
  REG_SECTOR_COUNT,
  SECTORS_PER_TRACK,
  ST_DRDY,
  ST_DRQ,
  ST_DSC,
  ST_ERR,
} from './registers.js';

type XferKind = 'none' | 'in' | 'out' | 'packet';

/** The data phase in progress on a channel. */
interface Transfer {
  kind: XferKind;
  /** The drive that owns the transfer: selecting the other drive mid-transfer does not move it. */
  drive: 0 | 1;
  atapi: boolean;
  dma: boolean;
  /** Bytes of a buffered response (IDENTIFY, INQUIRY, ...), or null when the medium is the source. */
  bytes: Uint8Array | null;
  bytesPos: number;
  diskOffset: number;
  /** Bytes not yet moved into (in) or out of (out) the current block. */
  remaining: number;
  blockBytes: number;
  buf: Uint8Array;
  pos: number;
}

const NO_TRANSFER = (): Transfer => ({
  kind: 'none',
  drive: 0,
  atapi: false,
  dma: false,
  bytes: null,
  bytesPos: 0,
  diskOffset: 0,
  remaining: 0,
  blockBytes: 0,
  buf: new Uint8Array(0),
  pos: 0,
});

/** Plain-data snapshot of a channel (task file, drive status, transfer, bus master registers). */
export interface IdeChannelState {
  readonly taskFile: readonly number[];
  readonly hob: readonly number[];
  readonly select: number;
  readonly control: number;
  readonly status: readonly number[];
  readonly error: readonly number[];
  readonly multiple: readonly number[];
  readonly sense: ReadonlyArray<readonly [number, number]>;
  readonly intrq: boolean;
  readonly transfer: {
    readonly kind: XferKind;
    readonly drive: 0 | 1;
    readonly atapi: boolean;
    readonly dma: boolean;
    readonly bytes: readonly number[] | null;
    readonly bytesPos: number;
    readonly diskOffset: number;
    readonly remaining: number;
    readonly blockBytes: number;
    readonly buf: readonly number[];
    readonly pos: number;
  };
  readonly bmCommand: number;
  readonly bmStatus: number;
  readonly bmPrd: number;
}

/** Task file slots: features, sector count, LBA low, LBA mid, LBA high. */
const TF_FEATURES = 0;
const TF_COUNT = 1;
const TF_LOW = 2;
const TF_MID = 3;
const TF_HIGH = 4;

/**
 * One IDE channel (two drive positions) with its bus-master DMA engine: ATA PIO and DMA data
 * protocols (ATA-6 section 9), the ATAPI PACKET protocol, software reset, LBA28/LBA48/CHS addressing.
 * Commands complete instantly, so BSY is never observed. `commandBlock` goes at 0x1F0/0x170 (8 ports),
 * `controlBlock` at 0x3F6/0x376 (1 port).
 */
export class IdeChannel {
  readonly commandBlock: PioDevice;
  readonly controlBlock: PioDevice;
  private tf = [0, 0, 0, 0, 0];
  private hob = [0, 0, 0, 0, 0];
  private select = 0xa0;
  private control = 0;
  private status = [0, 0];
  private error = [DIAG_PASSED, DIAG_PASSED];
  private intrq = false;
  private irqLevel = false;
  private x: Transfer = NO_TRANSFER();
  /** Bus master (SFF-8038i) registers of this channel. */
  bmCommand = 0;
  bmStatus = 0;
  bmPrd = 0;

  constructor(
    private readonly drives: readonly [IdeDrive | undefined, IdeDrive | undefined],
    private readonly irq: IrqLine = NO_IRQ,
    private readonly memory: GuestMemory | undefined = undefined,
  ) {
    this.resetDrives();
    this.commandBlock = {
      maxAccessSize: 4,
      read: (offset: number, size: AccessSize) => this.readCommandBlock(offset, size),
      write: (offset: number, size: AccessSize, value: number) => this.writeCommandBlock(offset, size, value),
    };
    this.controlBlock = {
      maxAccessSize: 1,
      read: (offset: number) => (offset === 0 ? this.readStatus(false) : 0xff),
      write: (offset: number, _size: AccessSize, value: number) => {
        if (offset === 0) this.writeControl(value & 0xff);
      },
    };
  }

  /** The drive at position 0 (master) or 1 (slave). */
  drive(index: 0 | 1): IdeDrive | undefined {
    return this.drives[index];
  }

  /** @internal Bus master command register write (start/stop, direction). */
  writeBmCommand(value: number): void {
    const wasStarted = (this.bmCommand & BMCMD_START) !== 0;
    this.bmCommand = value & 0x09;
    if (value & BMCMD_START && !wasStarted) {
      this.bmStatus |= BMST_ACTIVE;
      this.tryDma();
    } else if (!(value & BMCMD_START)) {
      this.bmStatus &= ~BMST_ACTIVE;
    }
  }

  getState(): IdeChannelState {
    const x = this.x;
    return {
      taskFile: [...this.tf],
      hob: [...this.hob],
      select: this.select,
      control: this.control,
      status: [...this.status],
      error: [...this.error],
      multiple: this.drives.map((d) => d?.multipleSectors ?? 0),
      sense: this.drives.map((d) => [d?.sense.key ?? 0, d?.sense.asc ?? 0] as const),
      intrq: this.intrq,
      transfer: {
        kind: x.kind,
        drive: x.drive,
        atapi: x.atapi,
        dma: x.dma,
        bytes: x.bytes === null ? null : [...x.bytes],
        bytesPos: x.bytesPos,
        diskOffset: x.diskOffset,
        remaining: x.remaining,
        blockBytes: x.blockBytes,
        buf: [...x.buf],
        pos: x.pos,
      },
      bmCommand: this.bmCommand,
      bmStatus: this.bmStatus,
      bmPrd: this.bmPrd,
    };
  }

  /** @internal Restores a validated snapshot. */
  loadState(s: IdeChannelState): void {
    this.tf = [...s.taskFile];
    this.hob = [...s.hob];
    this.select = s.select;
    this.control = s.control;
    this.status = [...s.status];
    this.error = [...s.error];
    this.drives.forEach((d, i) => {
      if (d === undefined) return;
      d.multipleSectors = s.multiple[i] ?? 0;
      const sense = s.sense[i];
      d.sense = { key: sense?.[0] ?? 0, asc: sense?.[1] ?? 0 };
    });
    this.intrq = s.intrq;
    const t = s.transfer;
    this.x = {
      kind: t.kind,
      drive: t.drive,
      atapi: t.atapi,
      dma: t.dma,
      bytes: t.bytes === null ? null : Uint8Array.from(t.bytes),
      bytesPos: t.bytesPos,
      diskOffset: t.diskOffset,
      remaining: t.remaining,
      blockBytes: t.blockBytes,
      buf: Uint8Array.from(t.buf),
      pos: t.pos,
    };
    this.bmCommand = s.bmCommand;
    this.bmStatus = s.bmStatus;
    this.bmPrd = s.bmPrd;
    this.updateIrq();
  }

  private get sel(): 0 | 1 {
    return this.select & DEV_SELECT_SLAVE ? 1 : 0;
  }

  private get empty(): boolean {
    return this.drives[0] === undefined && this.drives[1] === undefined;
  }

  private readCommandBlock(offset: number, size: AccessSize): number {
    if (this.empty) return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
    if (offset === REG_DATA) return this.readData(size);
    const hob = (this.control & CTL_HOB) !== 0;
    const file = hob ? this.hob : this.tf;
    switch (offset) {
      case REG_ERROR:
        return this.drives[this.sel] ? this.error[this.sel]! : 0;
      case REG_SECTOR_COUNT:
        return file[TF_COUNT]!;
      case REG_LBA_LOW:
        return file[TF_LOW]!;
      case REG_LBA_MID:
        return file[TF_MID]!;
      case REG_LBA_HIGH:
        return file[TF_HIGH]!;
      case REG_DEVICE:
        return this.select;
      default:
        return this.readStatus(true);
    }
  }

  private writeCommandBlock(offset: number, size: AccessSize, value: number): void {
    if (offset === REG_DATA) {
      this.writeData(size, value);
      return;
    }
    value &= 0xff;
    // Any command-block write clears HOB (ATA-6 7.9, Device Control).
    this.control &= ~CTL_HOB;
    if (offset >= 1 && offset <= 5) {
      const slot = offset - 1;
      this.hob[slot] = this.tf[slot]!;
      this.tf[slot] = value;
    } else if (offset === REG_DEVICE) {
      this.select = value | 0xa0;
    } else if (offset === REG_COMMAND) {
      this.execute(value);
    }
    this.updateIrq();
  }

  private readStatus(clearIrq: boolean): number {
    if (this.empty) return 0xff;
    const d = this.sel;
    if (this.drives[d] === undefined) return 0;
    if (clearIrq && this.intrq) {
      this.intrq = false;
      this.updateIrq();
    }
    return this.status[d]!;
  }

  private writeControl(value: number): void {
    const wasReset = (this.control & CTL_SRST) !== 0;
    this.control = value;
    if (value & CTL_SRST && !wasReset) this.resetDrives();
    this.updateIrq();
  }

  private resetDrives(): void {
    this.x = NO_TRANSFER();
    this.intrq = false;
    this.select = 0xa0;
    for (const i of [0, 1] as const) {
      const d = this.drives[i];
      this.error[i] = DIAG_PASSED;
      this.status[i] = d === undefined || d.kind === 'cdrom' ? 0 : ST_DRDY | ST_DSC;
    }
    this.setSignature(this.drives[0]);
  }

  private setSignature(d: IdeDrive | undefined): void {
    const sig = d?.kind === 'cdrom' ? ATAPI_SIGNATURE : ATA_SIGNATURE;
    this.tf[TF_COUNT] = sig[0];
    this.tf[TF_LOW] = sig[1];
    this.tf[TF_MID] = sig[2];
    this.tf[TF_HIGH] = sig[3];
    this.select &= ~DEV_HEAD_MASK;
  }

  private updateIrq(): void {
    const level = this.intrq && !(this.control & CTL_NIEN);
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }

  private raise(): void {
    this.intrq = true;
    this.updateIrq();
  }

  /** The drive a completion or error applies to: the transfer's owner, else the selected one. */
  private get owner(): 0 | 1 {
    return this.x.kind === 'none' ? this.sel : this.x.drive;
  }

  private done(): void {
    this.status[this.owner] = ST_DRDY | ST_DSC;
    this.x = NO_TRANSFER();
    this.raise();
  }

  private abort(errorBits = ERR_ABRT): void {
    const d = this.owner;
    this.error[d] = errorBits;
    this.status[d] = ST_DRDY | ST_DSC | ST_ERR;
    this.x = NO_TRANSFER();
    this.raise();
  }

  // ---- commands ---------------------------------------------------------------------------------

  private execute(cmd: number): void {
    const d = this.drives[this.sel];
    if (d === undefined) return; // nothing answers at this position
    this.intrq = false;
    this.error[this.sel] = 0;
    if (d.kind === 'cdrom') {
      this.executeAtapiDrive(d, cmd);
      return;
    }
    const ext = cmd === AtaCommand.ReadSectorsExt || cmd === AtaCommand.WriteSectorsExt;
    switch (cmd) {
      case AtaCommand.IdentifyDevice: {
        this.startIn(d.identify(), ATA_SECTOR_SIZE, false);
        return;
      }
      case AtaCommand.ReadSectors:
      case AtaCommand.ReadSectorsNoRetry:
      case AtaCommand.ReadSectorsExt: {
        this.startDisk(d, 'in', ext, 1, false);
        return;
      }
      case AtaCommand.ReadMultiple:
      case AtaCommand.ReadMultipleExt:
        if (d.multipleSectors === 0) {
          this.abort();
          return;
        }
        {
          this.startDisk(d, 'in', cmd === AtaCommand.ReadMultipleExt, d.multipleSectors, false);
          return;
        }
      case AtaCommand.ReadDma:
      case AtaCommand.ReadDmaNoRetry:
      case AtaCommand.ReadDmaExt: {
        this.startDisk(d, 'in', cmd === AtaCommand.ReadDmaExt, 1, true);
        return;
      }
      case AtaCommand.WriteSectors:
      case AtaCommand.WriteSectorsNoRetry:
      case AtaCommand.WriteSectorsExt: {
        this.startDisk(d, 'out', ext, 1, false);
        return;
      }
      case AtaCommand.WriteMultiple:
      case AtaCommand.WriteMultipleExt:
        if (d.multipleSectors === 0) {
          this.abort();
          return;
        }
        {
          this.startDisk(d, 'out', cmd === AtaCommand.WriteMultipleExt, d.multipleSectors, false);
          return;
        }
      case AtaCommand.WriteDma:
      case AtaCommand.WriteDmaNoRetry:
      case AtaCommand.WriteDmaExt: {
        this.startDisk(d, 'out', cmd === AtaCommand.WriteDmaExt, 1, true);
        return;
      }
      case AtaCommand.ReadVerifySectors:
      case AtaCommand.ReadVerifySectorsExt: {
        const r = this.range(d, cmd === AtaCommand.ReadVerifySectorsExt);
        if (r === null) this.abort(ERR_IDNF | ERR_ABRT);
        else this.done();
        return;
      }
      case AtaCommand.SetMultipleMode: {
        const n = this.tf[TF_COUNT]!;
        if (n > MAX_MULTIPLE_SECTORS || (n & (n - 1)) !== 0) {
          this.abort();
          return;
        }
        d.multipleSectors = n;
        this.done();
        return;
      }
      case AtaCommand.CheckPowerMode:
        this.tf[TF_COUNT] = 0xff; // active or idle
        {
          this.done();
          return;
        }
      case AtaCommand.ExecuteDeviceDiagnostic: {
        this.diagnostic();
        return;
      }
      case AtaCommand.FlushCache:
      case AtaCommand.FlushCacheExt: {
        if (d.backend?.flush?.() === false) this.abort();
        else this.done();
        return;
      }
      case AtaCommand.Recalibrate:
      case AtaCommand.Seek:
      case AtaCommand.InitializeDeviceParameters:
      case AtaCommand.SetFeatures:
      case AtaCommand.StandbyImmediate:
      case AtaCommand.IdleImmediate:
      case AtaCommand.Standby:
      case AtaCommand.Idle:
      case AtaCommand.Sleep: {
        this.done();
        return;
      }
      default: {
        this.abort();
        return;
      }
    }
  }

  private executeAtapiDrive(d: IdeDrive, cmd: number): void {
    switch (cmd) {
      case AtaCommand.IdentifyPacketDevice: {
        this.startIn(d.identify(), ATA_SECTOR_SIZE, false);
        return;
      }
      case AtaCommand.Packet:
        this.x = {
          ...NO_TRANSFER(),
          kind: 'packet',
          drive: this.sel,
          atapi: true,
          buf: new Uint8Array(ATAPI_PACKET_SIZE),
        };
        this.x.dma = (this.tf[TF_FEATURES]! & 1) !== 0;
        this.tf[TF_COUNT] = IREASON_COD;
        this.status[this.sel] = ST_DRDY | ST_DSC | ST_DRQ;
        return;
      case AtaCommand.DeviceReset:
        this.setSignature(d);
        this.error[this.sel] = DIAG_PASSED;
        this.status[this.sel] = 0;
        this.x = NO_TRANSFER();
        return;
      case AtaCommand.ExecuteDeviceDiagnostic: {
        this.diagnostic();
        return;
      }
      case AtaCommand.CheckPowerMode:
        this.tf[TF_COUNT] = 0xff;
        {
          this.done();
          return;
        }
      case AtaCommand.SetFeatures:
      case AtaCommand.IdleImmediate:
      case AtaCommand.StandbyImmediate:
      case AtaCommand.Sleep: {
        this.done();
        return;
      }
      default:
        // ATA commands on a packet device abort and leave the ATAPI signature (ATA-6 9.12).
        this.setSignature(d);
        {
          this.abort();
          return;
        }
    }
  }

  private diagnostic(): void {
    this.setSignature(this.drives[0]);
    this.error[0] = DIAG_PASSED;
    this.error[1] = DIAG_PASSED;
    this.status[this.sel] = this.drives[this.sel]?.kind === 'cdrom' ? 0 : ST_DRDY | ST_DSC;
    this.x = NO_TRANSFER();
    this.raise();
  }

  /** [lba, count] for an ATA command, or null when outside the medium. */
  private range(d: IdeDrive, lba48: boolean): [number, number] | null {
    let lba: number;
    let count: number;
    const tf = this.tf;
    const hob = this.hob;
    if (lba48) {
      count = (hob[TF_COUNT]! << 8) | tf[TF_COUNT]! || 65536;
      lba =
        (hob[TF_HIGH]! * 2 ** 16 + hob[TF_MID]! * 2 ** 8 + hob[TF_LOW]!) * 2 ** 24 +
        tf[TF_HIGH]! * 2 ** 16 +
        tf[TF_MID]! * 2 ** 8 +
        tf[TF_LOW]!;
    } else {
      count = tf[TF_COUNT]! || 256;
      if (this.select & DEV_LBA) {
        lba =
          (this.select & DEV_HEAD_MASK) * 2 ** 24 + (tf[TF_HIGH]! << 16) + (tf[TF_MID]! << 8) + tf[TF_LOW]!;
      } else {
        const cyl = (tf[TF_HIGH]! << 8) | tf[TF_MID]!;
        const sector = tf[TF_LOW]!;
        if (sector === 0) return null;
        lba = (cyl * HEADS + (this.select & DEV_HEAD_MASK)) * SECTORS_PER_TRACK + sector - 1;
      }
    }
    return lba + count > d.sectors ? null : [lba, count];
  }

  private startDisk(d: IdeDrive, dir: 'in' | 'out', lba48: boolean, perBlock: number, dma: boolean): void {
    const r = this.range(d, lba48);
    if (r === null) {
      this.abort(ERR_IDNF | ERR_ABRT);
      return;
    }
    if (dir === 'out' && d.backend!.readOnly) {
      this.abort();
      return;
    }
    const [lba, count] = r;
    this.x = {
      ...NO_TRANSFER(),
      kind: dir,
      drive: this.sel,
      dma,
      diskOffset: lba * ATA_SECTOR_SIZE,
      remaining: count * ATA_SECTOR_SIZE,
      blockBytes: perBlock * ATA_SECTOR_SIZE,
    };
    this.status[this.sel] = ST_DRDY | ST_DSC | ST_DRQ;
    if (dma) {
      this.tryDma();
      return;
    }
    if (dir === 'in') {
      this.nextInBlock();
      this.raise();
    } else {
      this.x.buf = new Uint8Array(Math.min(this.x.remaining, this.x.blockBytes));
      this.x.pos = 0;
    }
  }

  /** A PIO data-in transfer of a buffered response (IDENTIFY). */
  private startIn(bytes: Uint8Array, blockBytes: number, atapi: boolean): void {
    this.x = {
      ...NO_TRANSFER(),
      kind: 'in',
      drive: this.sel,
      atapi,
      bytes,
      remaining: bytes.length,
      blockBytes,
    };
    this.status[this.sel] = ST_DRDY | ST_DSC | ST_DRQ;
    this.nextInBlock();
    this.raise();
  }

  /** Pulls the next DRQ block from the source into the buffer. */
  private nextInBlock(): void {
    const x = this.x;
    const n = Math.min(x.remaining, x.blockBytes);
    x.buf = this.takeSource(n);
    x.pos = 0;
    if (x.atapi) {
      // ATAPI: byte count of this DRQ block in LBA mid/high, interrupt reason "data to host".
      this.tf[TF_MID] = n & 0xff;
      this.tf[TF_HIGH] = n >> 8;
      this.tf[TF_COUNT] = IREASON_IO;
    }
  }

  private takeSource(n: number): Uint8Array {
    const x = this.x;
    const out = new Uint8Array(n);
    if (x.bytes !== null) {
      out.set(x.bytes.subarray(x.bytesPos, x.bytesPos + n));
      x.bytesPos += n;
    } else {
      this.drives[x.drive]?.backend?.read(x.diskOffset, out);
      x.diskOffset += n;
    }
    x.remaining -= n;
    return out;
  }

  private readData(size: AccessSize): number {
    const x = this.x;
    if (x.kind !== 'in' || x.dma) return 0;
    let v = 0;
    for (let i = 0; i < size; i++) v += (x.buf[x.pos + i] ?? 0) * 256 ** i;
    x.pos += size;
    if (x.pos >= x.buf.length) this.endOfInBlock();
    return v;
  }

  private endOfInBlock(): void {
    const x = this.x;
    if (x.remaining > 0) {
      this.nextInBlock();
      this.raise();
    } else if (x.atapi) {
      this.atapiComplete();
    } else {
      // PIO data-in: no interrupt after the last block (ATA-6 9.7).
      this.status[x.drive] = ST_DRDY | ST_DSC;
      this.x = NO_TRANSFER();
    }
  }

  private writeData(size: AccessSize, value: number): void {
    const x = this.x;
    // The command packet itself always goes by PIO, even for a DMA data phase.
    if (x.kind !== 'packet' && (x.kind !== 'out' || x.dma)) return;
    let v = value >>> 0;
    for (let i = 0; i < size && x.pos < x.buf.length; i++) {
      x.buf[x.pos++] = v & 0xff;
      v >>>= 8;
    }
    if (x.pos < x.buf.length) return;
    if (x.kind === 'packet') {
      this.runPacket(x.buf);
      return;
    }
    const backend = this.drives[x.drive]?.backend;
    if (backend == null || backend.readOnly) {
      this.abort();
      return;
    }
    backend.write(x.diskOffset, x.buf);
    x.diskOffset += x.buf.length;
    x.remaining -= x.buf.length;
    if (x.remaining > 0) {
      x.buf = new Uint8Array(Math.min(x.remaining, x.blockBytes));
      x.pos = 0;
      this.raise();
    } else {
      this.done();
    }
  }

  private runPacket(cdb: Uint8Array): void {
    const d = this.drives[this.x.drive];
    if (d === undefined) {
      this.abort();
      return;
    }
    const dma = this.x.dma;
    const result = d.packet(cdb);
    if (!result.ok) {
      this.tf[TF_COUNT] = IREASON_IO | IREASON_COD;
      this.abort((result.senseKey << 4) | ERR_ABRT);
      return;
    }
    const data = result.data;
    if (data === null) {
      this.atapiComplete();
      return;
    }
    // The host's byte count limit (LBA mid/high at PACKET time); 0 is taken as the largest even count.
    let limit = ((this.tf[TF_HIGH]! << 8) | this.tf[TF_MID]!) & ~1 || 0xfffe;
    if (limit > 0xfffe) limit = 0xfffe;
    const isBytes = 'bytes' in data;
    this.x = {
      ...NO_TRANSFER(),
      kind: 'in',
      drive: this.x.drive,
      atapi: true,
      dma,
      bytes: isBytes ? data.bytes : null,
      diskOffset: isBytes ? 0 : data.offset,
      remaining: isBytes ? data.bytes.length : data.length,
      blockBytes: limit,
    };
    this.status[this.x.drive] = ST_DRDY | ST_DSC | ST_DRQ;
    if (dma) {
      this.tryDma();
      return;
    }
    this.nextInBlock();
    this.raise();
  }

  private atapiComplete(): void {
    this.tf[TF_COUNT] = IREASON_IO | IREASON_COD;
    this.done();
  }

  // ---- bus master DMA ---------------------------------------------------------------------------

  private tryDma(): void {
    const x = this.x;
    if (
      !x.dma ||
      (x.kind !== 'in' && x.kind !== 'out') ||
      !(this.bmCommand & BMCMD_START) ||
      this.memory === undefined
    )
      return;
    const mem = this.memory;
    const toMemory = x.kind === 'in';
    let prd = this.bmPrd;
    let eot = false;
    let ok = true;
    for (let i = 0; i < MAX_PRD_ENTRIES && x.remaining > 0 && !eot; i++, prd += 8) {
      if (!mem.contains(prd, 8)) {
        ok = false;
        break;
      }
      const addr = mem.read32(prd) & ~1;
      const count = mem.read16(prd + 4) || 0x1_0000;
      eot = (mem.read16(prd + 6) & PRD_EOT) !== 0;
      const n = Math.min(count, x.remaining);
      if (!mem.contains(addr, n)) {
        ok = false;
        break;
      }
      if (toMemory) {
        mem.writeBytes(addr, this.takeSource(n));
      } else {
        const backend = this.drives[x.drive]?.backend;
        if (backend == null || backend.readOnly) {
          ok = false;
          break;
        }
        const chunk = new Uint8Array(n);
        mem.readBytes(addr, chunk);
        backend.write(x.diskOffset, chunk);
        x.diskOffset += n;
        x.remaining -= n;
      }
    }
    // The engine stays active if the drive finished before the table did (SFF-8038i, status bits).
    if (eot || !ok || x.remaining > 0) this.bmStatus &= ~BMST_ACTIVE;
    this.bmStatus |= BMST_INTERRUPT;
    if (!ok || x.remaining > 0) {
      this.bmStatus |= BMST_ERROR;
      if (x.atapi) this.tf[TF_COUNT] = IREASON_IO | IREASON_COD;
      this.abort();
      return;
    }
    if (x.atapi) this.atapiComplete();
    else this.done();
  }
}
