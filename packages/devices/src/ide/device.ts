import type { AccessSize, GuestMemory, IrqLine, PioDevice } from '@typevisor/memory';
import { PciConfigSpace, type PciBarObserver, type PciDevice } from '../pci/config-space.js';
import { CLASS_IDE, DEVICE_PIIX3_IDE, VENDOR_INTEL } from '../pci/registers.js';
import { IdeChannel } from './channel.js';
import type { IdeDrive } from './drive.js';
import {
  BM_CHANNEL_STRIDE,
  BM_COMMAND,
  BM_IO_LENGTH,
  BM_PRD_TABLE,
  BM_STATUS,
  BMST_DRIVE0_DMA,
  BMST_DRIVE1_DMA,
  BMST_ERROR,
  BMST_INTERRUPT,
} from './registers.js';
import { type IdeControllerState, validateIdeChannelState } from './state.js';

export interface IdeDrives {
  readonly primaryMaster?: IdeDrive;
  readonly primarySlave?: IdeDrive;
  readonly secondaryMaster?: IdeDrive;
  readonly secondarySlave?: IdeDrive;
}

export interface IdeControllerOptions {
  readonly drives?: IdeDrives;
  /** Guest RAM for bus-master DMA; without it only PIO works. */
  readonly memory?: GuestMemory;
  /** Legacy-mode interrupts: ISA IRQ14 (primary) and IRQ15 (secondary). */
  readonly irq14?: IrqLine;
  readonly irq15?: IrqLine;
  /** Told where the guest places the bus master registers (BAR4). */
  readonly barObserver?: PciBarObserver;
}

/**
 * The PIIX3 IDE function (8086:7010, PCI 00:01.1 on the i440FX PC) in legacy mode: two channels at the
 * ISA addresses (0x1F0/0x3F6 on IRQ14, 0x170/0x376 on IRQ15) and the SFF-8038i bus master registers
 * behind BAR4. Insert `primary.commandBlock`, `primary.controlBlock`, `secondary...` at the legacy ports
 * and `busMaster` wherever the observer reports BAR4.
 */
export class IdeController implements PciDevice {
  readonly primary: IdeChannel;
  readonly secondary: IdeChannel;
  readonly busMaster: PioDevice;
  readonly config: PciConfigSpace;

  constructor(options: IdeControllerOptions = {}) {
    const d = options.drives ?? {};
    this.primary = new IdeChannel([d.primaryMaster, d.primarySlave], options.irq14, options.memory);
    this.secondary = new IdeChannel([d.secondaryMaster, d.secondarySlave], options.irq15, options.memory);
    for (const ch of [this.primary, this.secondary]) {
      ch.bmStatus = (ch.drive(0) ? BMST_DRIVE0_DMA : 0) | (ch.drive(1) ? BMST_DRIVE1_DMA : 0);
    }
    this.config = new PciConfigSpace({
      vendorId: VENDOR_INTEL,
      deviceId: DEVICE_PIIX3_IDE,
      classCode: CLASS_IDE,
      bars: [undefined, undefined, undefined, undefined, { kind: 'io', size: BM_IO_LENGTH }],
      ...(options.barObserver ? { barObserver: options.barObserver } : {}),
    });
    // IDETIM (0x40-0x43) and SIDETIM (0x44): timing registers, kept as plain bytes. The decode-enable
    // bits (IDETIM bit 15 per channel) start set, as firmware leaves them: Linux's ata_piix skips a
    // channel whose bit is clear.
    this.config.setWritable(0x40, 5);
    this.config.put(0x40, 4, 0x8000_8000);
    this.busMaster = {
      maxAccessSize: 4,
      read: (offset: number, size: AccessSize) => {
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = v * 256 + this.readBm(offset + i);
        return v;
      },
      write: (offset: number, size: AccessSize, value: number) => {
        for (let i = 0; i < size; i++) this.writeBm(offset + i, Math.floor((value >>> 0) / 256 ** i) & 0xff);
      },
    };
  }

  configRead(offset: number, size: AccessSize): number {
    return this.config.configRead(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    this.config.configWrite(offset, size, value);
  }

  getState(): IdeControllerState {
    return { channels: [this.primary.getState(), this.secondary.getState()], config: this.config.getState() };
  }

  /** Restores into a controller built with the same drives and backends. */
  loadState(state: IdeControllerState): void {
    validateIdeChannelState(state.channels[0]);
    validateIdeChannelState(state.channels[1]);
    this.config.loadState(state.config);
    this.primary.loadState(state.channels[0]);
    this.secondary.loadState(state.channels[1]);
  }

  private channelAt(offset: number): IdeChannel {
    return offset < BM_CHANNEL_STRIDE ? this.primary : this.secondary;
  }

  private readBm(offset: number): number {
    const ch = this.channelAt(offset);
    const reg = offset % BM_CHANNEL_STRIDE;
    if (reg === BM_COMMAND) return ch.bmCommand;
    if (reg === BM_STATUS) return ch.bmStatus;
    if (reg >= BM_PRD_TABLE) return (ch.bmPrd >>> ((reg - BM_PRD_TABLE) * 8)) & 0xff;
    return 0;
  }

  private writeBm(offset: number, b: number): void {
    const ch = this.channelAt(offset);
    const reg = offset % BM_CHANNEL_STRIDE;
    if (reg === BM_COMMAND) {
      ch.writeBmCommand(b);
    } else if (reg === BM_STATUS) {
      const keep = ch.bmStatus & 0x01;
      const clear = b & (BMST_ERROR | BMST_INTERRUPT);
      ch.bmStatus = keep | (ch.bmStatus & (BMST_ERROR | BMST_INTERRUPT) & ~clear) | (b & 0x60);
    } else if (reg >= BM_PRD_TABLE) {
      const shift = (reg - BM_PRD_TABLE) * 8;
      const v = ((ch.bmPrd & ~(0xff << shift)) | (b << shift)) >>> 0;
      ch.bmPrd = (v & 0xffff_fffc) >>> 0;
    }
  }
}
