import { PciRegs } from '@typevisor/devices';
import type { AccessSize, GuestMemory, MmioDevice } from '@typevisor/memory';
import type { VirtioPciDevice } from '../pci/transport.js';
import { CommonCfg, MsixBar, MsixCap, MsixEntry, PciCap, PciCapType } from '../pci/registers.js';
import type { GuestAllocator } from './allocator.js';
import { type QueueRegisters, VirtioDriver } from './driver.js';

/** Where a vendor capability says a structure is. */
export interface StructureLocation {
  readonly bar: number;
  readonly offset: number;
  readonly length: number;
  readonly cap: number;
}

export interface PciDriverOptions {
  /** Enable MSI-X with vector 0 for configuration changes and vector i+1 for queue i (like Linux). */
  readonly msix?: boolean;
}

/** Address the fake programs into BAR 4, and the MSI address/data it puts in the table. */
export const FAKE_BAR4 = 0xfe00_0000;
export const FAKE_BAR1 = 0xfebf_0000;
export const FAKE_MSI_ADDRESS = 0xfee0_0000;
export const FAKE_MSI_DATA_BASE = 0x40;

/**
 * A modern virtio-pci driver fake, doing what Linux's virtio_pci_modern does: place the BARs, enable
 * memory decoding and bus mastering, walk the vendor capabilities to find the structures, then the
 * generic initialization. BAR accesses go straight to `VirtioPciDevice.barDevice`, as the MMIO bus
 * would route them.
 */
export class PciDriver extends VirtioDriver {
  readonly structures = new Map<number, StructureLocation>();
  notifyMultiplier = 0;
  msixCap = 0;

  constructor(
    readonly pci: VirtioPciDevice,
    memory: GuestMemory,
    alloc: GuestAllocator,
    readonly options: PciDriverOptions = {},
  ) {
    super(memory, alloc);
    pci.configWrite(PciRegs.BAR0 + 4 * 4, 4, FAKE_BAR4);
    pci.configWrite(PciRegs.BAR0 + 4 * 5, 4, 0);
    pci.configWrite(PciRegs.BAR0 + 4 * 1, 4, FAKE_BAR1);
    pci.configWrite(PciRegs.COMMAND, 2, PciRegs.COMMAND_MEMORY | PciRegs.COMMAND_BUS_MASTER);
    this.findCapabilities();
  }

  private findCapabilities(): void {
    const seen = new Set<number>();
    for (let cap = this.pci.configRead(PciRegs.CAPABILITIES_POINTER, 1); cap !== 0 && !seen.has(cap); ) {
      seen.add(cap);
      const id = this.pci.configRead(cap, 1);
      if (id === PciRegs.CAP_ID_MSIX) this.msixCap = cap;
      if (id === PciRegs.CAP_ID_VENDOR) {
        const type = this.pci.configRead(cap + PciCap.CFG_TYPE, 1);
        // Linux takes the first capability of each type (virtio_pci_find_capability).
        if (!this.structures.has(type)) {
          this.structures.set(type, {
            bar: this.pci.configRead(cap + PciCap.BAR, 1),
            offset: this.pci.configRead(cap + PciCap.OFFSET, 4),
            length: this.pci.configRead(cap + PciCap.LENGTH, 4),
            cap,
          });
        }
        if (type === PciCapType.NOTIFY_CFG) {
          this.notifyMultiplier = this.pci.configRead(cap + PciCap.NOTIFY_OFF_MULTIPLIER, 4);
        }
      }
      cap = this.pci.configRead(cap + PciCap.NEXT, 1);
    }
  }

  structure(type: number): StructureLocation {
    const s = this.structures.get(type);
    if (s === undefined) throw new Error(`PciDriver: no capability of type ${type}`);
    return s;
  }

  private bar(index: number): MmioDevice {
    const d = this.pci.barDevice(index);
    if (d === undefined) throw new Error(`PciDriver: nothing behind BAR ${index}`);
    return d;
  }

  readStructure(type: number, offset: number, size: AccessSize): number {
    const s = this.structure(type);
    return this.bar(s.bar).read(s.offset + offset, size);
  }

  writeStructure(type: number, offset: number, size: AccessSize, value: number): void {
    const s = this.structure(type);
    this.bar(s.bar).write(s.offset + offset, size, value);
  }

  common(offset: number, size: AccessSize): number {
    return this.readStructure(PciCapType.COMMON_CFG, offset, size);
  }

  setCommon(offset: number, size: AccessSize, value: number): void {
    this.writeStructure(PciCapType.COMMON_CFG, offset, size, value);
  }

  get status(): number {
    return this.common(CommonCfg.DEVICE_STATUS, 1);
  }

  setStatus(value: number): void {
    this.setCommon(CommonCfg.DEVICE_STATUS, 1, value);
  }

  readFeatureWord(sel: number): number {
    this.setCommon(CommonCfg.DEVICE_FEATURE_SELECT, 4, sel);
    return this.common(CommonCfg.DEVICE_FEATURE, 4);
  }

  writeFeatureWord(sel: number, value: number): void {
    this.setCommon(CommonCfg.DRIVER_FEATURE_SELECT, 4, sel);
    this.setCommon(CommonCfg.DRIVER_FEATURE, 4, value);
  }

  queueMax(index: number): number {
    if (index >= this.common(CommonCfg.NUM_QUEUES, 2)) return 0;
    this.setCommon(CommonCfg.QUEUE_SELECT, 2, index);
    return this.common(CommonCfg.QUEUE_SIZE, 2);
  }

  programQueue(index: number, q: QueueRegisters): void {
    this.setCommon(CommonCfg.QUEUE_SELECT, 2, index);
    this.setCommon(CommonCfg.QUEUE_SIZE, 2, q.size);
    this.setCommon(CommonCfg.QUEUE_DESC, 4, q.descAddr);
    this.setCommon(CommonCfg.QUEUE_DESC + 4, 4, 0);
    this.setCommon(CommonCfg.QUEUE_DRIVER, 4, q.driverAddr);
    this.setCommon(CommonCfg.QUEUE_DRIVER + 4, 4, 0);
    this.setCommon(CommonCfg.QUEUE_DEVICE, 4, q.deviceAddr);
    this.setCommon(CommonCfg.QUEUE_DEVICE + 4, 4, 0);
    if (this.options.msix) this.setCommon(CommonCfg.QUEUE_MSIX_VECTOR, 2, index + 1);
    this.setCommon(CommonCfg.QUEUE_ENABLE, 2, 1);
  }

  protected override afterQueues(): void {
    if (!this.options.msix) return;
    const vectors =
      (this.pci.configRead(this.msixCap + MsixCap.CONTROL, 2) & MsixCap.CONTROL_TABLE_SIZE_MASK) + 1;
    const table = this.bar(MsixBar.INDEX);
    for (let v = 0; v < vectors; v++) {
      const at = MsixBar.TABLE + v * MsixEntry.SIZE;
      table.write(at + MsixEntry.ADDR_LO, 4, FAKE_MSI_ADDRESS);
      table.write(at + MsixEntry.ADDR_HI, 4, 0);
      table.write(at + MsixEntry.DATA, 4, FAKE_MSI_DATA_BASE + v);
      table.write(at + MsixEntry.CONTROL, 4, 0);
    }
    this.pci.configWrite(this.msixCap + MsixCap.CONTROL, 2, MsixCap.CONTROL_ENABLE);
    this.setCommon(CommonCfg.CONFIG_MSIX_VECTOR, 2, 0);
  }

  kick(index: number): void {
    this.setCommon(CommonCfg.QUEUE_SELECT, 2, index);
    const off = this.common(CommonCfg.QUEUE_NOTIFY_OFF, 2);
    this.writeStructure(PciCapType.NOTIFY_CFG, off * this.notifyMultiplier, 2, index);
  }

  /** Reads (and so clears) the ISR, as vp_interrupt() does. */
  ackInterrupt(): number {
    return this.readStructure(PciCapType.ISR_CFG, 0, 1);
  }

  readConfig(offset: number, size: AccessSize): number {
    return this.readStructure(PciCapType.DEVICE_CFG, offset, size);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.writeStructure(PciCapType.DEVICE_CFG, offset, size, value);
  }
}
