import {
  PciConfigSpace,
  type PciConfigSpaceState,
  type PciBarObserver,
  type PciDevice,
  PciRegs,
} from '@typevisor/devices';
import type { AccessSize, GuestMemory, IrqLine, MmioDevice } from '@typevisor/memory';
import type { VirtioDevice } from '../device.js';
import type { QueueError } from '../errors.js';
import { setHalf } from '../mmio/transport.js';
import type { Virtqueue } from '../queue/queue.js';
import { type CoreState, type RingOptions, VirtioCore } from '../transport-core.js';
import { type MsiSink, MsixTable, type MsixState } from './msix.js';
import {
  CommonCfg,
  IsrBit,
  ModernBar,
  MsixBar,
  MsixCap,
  NO_VECTOR,
  NOTIFY_OFF_MULTIPLIER,
  PciCap,
  PciCapType,
  VIRTIO_PCI_CLASS,
  VIRTIO_PCI_MODERN_DEVICE_BASE,
  VIRTIO_PCI_REVISION,
  VIRTIO_PCI_SUBSYSTEM_ID,
  VIRTIO_PCI_VENDOR_ID,
} from './registers.js';

export interface VirtioPciOptions extends RingOptions {
  /** The function's INTx line (after the board's swizzle, e.g. `Piix3IsaBridge.intxLine(slot, 1)`). */
  readonly intx?: IrqLine;
  /** Where MSI-X messages go; without one, MSI-X can be enabled but sends nothing. */
  readonly msi?: MsiSink;
  /** Told when BAR 1 (MSI-X) or BAR 4 (virtio structures) move, to place {@link VirtioPciDevice.barDevice} on the MMIO bus. */
  readonly barObserver?: PciBarObserver;
}

/** Plain, JSON-able state of a virtio-pci function. */
export interface VirtioPciState extends CoreState {
  readonly config: PciConfigSpaceState;
  readonly msix: MsixState;
  readonly isr: number;
  readonly configVector: number;
  readonly queueVectors: readonly number[];
  readonly queueSelect: number;
  readonly deviceFeatureSelect: number;
  readonly driverFeatureSelect: number;
}

const NO_MSI: MsiSink = { sendMsi() {} };

/**
 * Modern virtio-pci (4.1): a PCI function whose vendor capabilities point at the common
 * configuration, notification, ISR and device configuration structures in BAR 4, with an MSI-X
 * table in BAR 1 and the PCI configuration access capability for firmware. Attach it to a
 * `PciHost`; map {@link VirtioPciDevice.barDevice} where the BAR observer says.
 */
export class VirtioPciDevice implements PciDevice {
  readonly config: PciConfigSpace;
  readonly msix: MsixTable;
  private readonly core: VirtioCore;
  private readonly modern: MmioDevice;
  private readonly msixCap: number;
  private readonly pciCfgCap: number;
  private isr = 0;
  private configVector = NO_VECTOR;
  private readonly queueVectors: number[];
  private queueSelect = 0;
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;

  constructor(
    readonly device: VirtioDevice,
    memory: GuestMemory,
    options: VirtioPciOptions = {},
  ) {
    this.core = new VirtioCore(
      device,
      memory,
      {
        queue: (index) => this.interrupt(this.queueVectors[index] ?? NO_VECTOR, IsrBit.QUEUE),
        config: () => this.interrupt(this.configVector, IsrBit.CONFIG),
      },
      options,
    );
    this.queueVectors = this.core.queues.map(() => NO_VECTOR);
    this.config = new PciConfigSpace({
      vendorId: VIRTIO_PCI_VENDOR_ID,
      deviceId: VIRTIO_PCI_MODERN_DEVICE_BASE + device.deviceId,
      revision: VIRTIO_PCI_REVISION,
      classCode: VIRTIO_PCI_CLASS[device.deviceId] ?? 0xff0000,
      subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
      subsystemId: VIRTIO_PCI_SUBSYSTEM_ID,
      interruptPin: PciRegs.INTA,
      bars: [
        undefined,
        { kind: 'mem32', size: MsixBar.SIZE },
        undefined,
        undefined,
        { kind: 'mem64', size: ModernBar.SIZE, prefetchable: true },
      ],
      ...(options.intx === undefined ? {} : { intx: options.intx }),
      ...(options.barObserver === undefined ? {} : { barObserver: options.barObserver }),
    });
    // One vector per queue plus one for configuration changes, as Linux asks for.
    const vectors = this.core.queues.length + 1;
    this.msix = new MsixTable(vectors, options.msi ?? NO_MSI, () => {
      const c = this.config.get(this.msixCap + MsixCap.CONTROL, 2);
      return {
        enabled: (c & MsixCap.CONTROL_ENABLE) !== 0,
        masked: (c & MsixCap.CONTROL_FUNCTION_MASK) !== 0,
      };
    });
    this.msixCap = this.config.addCapability(PciRegs.CAP_ID_MSIX, MsixCap.LENGTH);
    this.config.put(this.msixCap + MsixCap.CONTROL, 2, vectors - 1);
    this.config.setWritable(
      this.msixCap + MsixCap.CONTROL,
      2,
      MsixCap.CONTROL_ENABLE | MsixCap.CONTROL_FUNCTION_MASK,
    );
    this.config.put(this.msixCap + MsixCap.TABLE, 4, MsixBar.TABLE | MsixBar.INDEX);
    this.config.put(this.msixCap + MsixCap.PBA, 4, MsixBar.PBA | MsixBar.INDEX);
    this.addStructure(PciCapType.COMMON_CFG, ModernBar.COMMON, CommonCfg.SIZE);
    this.addStructure(PciCapType.ISR_CFG, ModernBar.ISR, 1);
    this.addStructure(PciCapType.DEVICE_CFG, ModernBar.DEVICE, Math.max(device.configSize, 1));
    const notify = this.addStructure(
      PciCapType.NOTIFY_CFG,
      ModernBar.NOTIFY,
      this.core.queues.length * NOTIFY_OFF_MULTIPLIER,
      PciCap.NOTIFY_SIZE,
    );
    this.config.put(notify + PciCap.NOTIFY_OFF_MULTIPLIER, 4, NOTIFY_OFF_MULTIPLIER);
    // 4.1.4.9: the window firmware uses to reach the structures without mapping BARs.
    this.pciCfgCap = this.addStructure(PciCapType.PCI_CFG, 0, 0, PciCap.PCI_CFG_SIZE);
    this.config.put(this.pciCfgCap + PciCap.BAR, 1, 0);
    this.config.setWritable(this.pciCfgCap + PciCap.BAR, 1);
    this.config.setWritable(this.pciCfgCap + PciCap.OFFSET, 8);
    this.config.setWritable(this.pciCfgCap + PciCap.PCI_CFG_DATA, 4);
    this.modern = {
      read: (offset, size) => this.readModern(offset, size),
      write: (offset, size, value) => this.writeModern(offset, size, value),
    };
  }

  private addStructure(
    type: number,
    offset: number,
    length: number,
    capLength: number = PciCap.SIZE,
  ): number {
    const cap = this.config.addCapability(PciRegs.CAP_ID_VENDOR, capLength);
    this.config.put(cap + PciCap.LEN, 1, capLength);
    this.config.put(cap + PciCap.CFG_TYPE, 1, type);
    this.config.put(cap + PciCap.BAR, 1, ModernBar.INDEX);
    this.config.put(cap + PciCap.OFFSET, 4, offset);
    this.config.put(cap + PciCap.LENGTH, 4, length);
    return cap;
  }

  get queues(): readonly Virtqueue[] {
    return this.core.queues;
  }

  get offered(): number {
    return this.core.offered;
  }

  get error(): QueueError | null {
    return this.core.error;
  }

  get deviceStatus(): number {
    return this.core.status;
  }

  /** The MMIO device behind BAR `index` (1: MSI-X table and PBA, 4: virtio structures). */
  barDevice(index: number): MmioDevice | undefined {
    if (index === MsixBar.INDEX) return this.msix;
    if (index === ModernBar.INDEX) return this.modern;
    return undefined;
  }

  // ---- PCI configuration space --------------------------------------------------------------

  configRead(offset: number, size: AccessSize): number {
    const data = this.pciCfgCap + PciCap.PCI_CFG_DATA;
    if (offset === data) return this.pciCfgAccess(size, null);
    return this.config.configRead(offset, size);
  }

  configWrite(offset: number, size: AccessSize, value: number): void {
    const data = this.pciCfgCap + PciCap.PCI_CFG_DATA;
    if (offset === data) {
      this.pciCfgAccess(size, value);
      return;
    }
    this.config.configWrite(offset, size, value);
    if (offset < this.msixCap + MsixCap.LENGTH && offset + size > this.msixCap + MsixCap.CONTROL) {
      // Enabling MSI-X takes the function off INTx (PCI 3.0, 6.8.2.3); unmasking sends pending messages.
      if (this.msix.enabled) this.config.setIntx(false);
      this.msix.update();
    }
  }

  /** 4.1.4.9: an access of `length` bytes to BAR `bar` at `offset`, through pci_cfg_data. */
  private pciCfgAccess(size: AccessSize, value: number | null): number {
    const cap = this.pciCfgCap;
    const bar = this.config.get(cap + PciCap.BAR, 1);
    const offset = this.config.get(cap + PciCap.OFFSET, 4);
    const length = this.config.get(cap + PciCap.LENGTH, 4);
    const target = this.barDevice(bar);
    if (target === undefined || (length !== 1 && length !== 2 && length !== 4) || size < length) return 0;
    if (offset % length !== 0) return 0;
    if (value === null) return target.read(offset, length);
    target.write(offset, length, length === 4 ? value >>> 0 : value & (2 ** (8 * length) - 1));
    return 0;
  }

  // ---- BAR 4: common configuration, ISR, device configuration, notifications ---------------

  private readModern(offset: number, size: AccessSize): number {
    if (offset < ModernBar.ISR) return this.readCommon(offset, size);
    if (offset < ModernBar.DEVICE) {
      if (offset !== ModernBar.ISR) return 0;
      // 4.1.4.5.1: reading the ISR clears it and de-asserts INTx.
      const v = this.isr;
      this.isr = 0;
      this.config.setIntx(false);
      return v;
    }
    if (offset < ModernBar.NOTIFY) return this.device.readConfig(offset - ModernBar.DEVICE, size);
    return 0;
  }

  private writeModern(offset: number, size: AccessSize, value: number): void {
    if (offset < ModernBar.ISR) this.writeCommon(offset, size, value);
    else if (offset >= ModernBar.DEVICE && offset < ModernBar.NOTIFY) {
      this.device.writeConfig(offset - ModernBar.DEVICE, size, value);
    } else if (offset >= ModernBar.NOTIFY) {
      const rel = offset - ModernBar.NOTIFY;
      // A function without Bus Master Enable cannot reach guest memory, so it does not process queues.
      if (rel % NOTIFY_OFF_MULTIPLIER === 0 && this.config.busMasterEnabled) {
        this.core.notify(rel / NOTIFY_OFF_MULTIPLIER);
      }
    }
  }

  private readCommon(offset: number, size: AccessSize): number {
    const q = this.core.queues[this.queueSelect];
    switch (size) {
      case 1:
        if (offset === CommonCfg.DEVICE_STATUS) return this.core.status;
        if (offset === CommonCfg.CONFIG_GENERATION) return this.core.configGeneration & 0xff;
        return 0;
      case 2:
        switch (offset) {
          case CommonCfg.CONFIG_MSIX_VECTOR:
            return this.configVector;
          case CommonCfg.NUM_QUEUES:
            return this.core.queues.length;
          case CommonCfg.QUEUE_SELECT:
            return this.queueSelect;
          case CommonCfg.QUEUE_SIZE:
            return q === undefined ? 0 : q.size;
          case CommonCfg.QUEUE_MSIX_VECTOR:
            return q === undefined ? NO_VECTOR : this.queueVectors[this.queueSelect]!;
          case CommonCfg.QUEUE_ENABLE:
            return q?.ready ? 1 : 0;
          case CommonCfg.QUEUE_NOTIFY_OFF:
            return q === undefined ? 0 : this.queueSelect;
          default:
            return 0;
        }
      case 4:
        switch (offset) {
          case CommonCfg.DEVICE_FEATURE_SELECT:
            return this.deviceFeatureSelect;
          case CommonCfg.DEVICE_FEATURE:
            return this.core.deviceFeatureWord(this.deviceFeatureSelect);
          case CommonCfg.DRIVER_FEATURE_SELECT:
            return this.driverFeatureSelect;
          case CommonCfg.DRIVER_FEATURE:
            return this.core.driverFeatureWord(this.driverFeatureSelect);
          case CommonCfg.QUEUE_DESC:
          case CommonCfg.QUEUE_DESC + 4:
            return half(q?.descAddr, offset - CommonCfg.QUEUE_DESC);
          case CommonCfg.QUEUE_DRIVER:
          case CommonCfg.QUEUE_DRIVER + 4:
            return half(q?.driverAddr, offset - CommonCfg.QUEUE_DRIVER);
          case CommonCfg.QUEUE_DEVICE:
          case CommonCfg.QUEUE_DEVICE + 4:
            return half(q?.deviceAddr, offset - CommonCfg.QUEUE_DEVICE);
          default:
            return 0;
        }
    }
  }

  private writeCommon(offset: number, size: AccessSize, value: number): void {
    const q = this.core.queues[this.queueSelect];
    const idle = q !== undefined && !q.ready && this.core.queuesConfigurable;
    if (size === 1) {
      if (offset === CommonCfg.DEVICE_STATUS && this.core.writeStatus(value)) this.resetRegisters();
      return;
    }
    if (size === 2) {
      switch (offset) {
        case CommonCfg.CONFIG_MSIX_VECTOR:
          this.configVector = this.vectorOrNone(value);
          return;
        case CommonCfg.QUEUE_SELECT:
          this.queueSelect = value & 0xffff;
          return;
        case CommonCfg.QUEUE_SIZE:
          if (idle) q.size = value & 0xffff;
          return;
        case CommonCfg.QUEUE_MSIX_VECTOR:
          if (q !== undefined) this.queueVectors[this.queueSelect] = this.vectorOrNone(value);
          return;
        case CommonCfg.QUEUE_ENABLE:
          // 4.1.4.3.2: the driver MUST NOT write 0 (that would need VIRTIO_F_RING_RESET).
          if (idle && (value & 1) === 1) q.ready = true;
          return;
        default:
          return;
      }
    }
    switch (offset) {
      case CommonCfg.DEVICE_FEATURE_SELECT:
        this.deviceFeatureSelect = value >>> 0;
        return;
      case CommonCfg.DRIVER_FEATURE_SELECT:
        this.driverFeatureSelect = value >>> 0;
        return;
      case CommonCfg.DRIVER_FEATURE:
        this.core.writeDriverFeatures(this.driverFeatureSelect, value);
        return;
      case CommonCfg.QUEUE_DESC:
      case CommonCfg.QUEUE_DESC + 4:
        if (idle) q.descAddr = setHalf(q.descAddr, offset !== CommonCfg.QUEUE_DESC, value);
        return;
      case CommonCfg.QUEUE_DRIVER:
      case CommonCfg.QUEUE_DRIVER + 4:
        if (idle) q.driverAddr = setHalf(q.driverAddr, offset !== CommonCfg.QUEUE_DRIVER, value);
        return;
      case CommonCfg.QUEUE_DEVICE:
      case CommonCfg.QUEUE_DEVICE + 4:
        if (idle) q.deviceAddr = setHalf(q.deviceAddr, offset !== CommonCfg.QUEUE_DEVICE, value);
        return;
      default:
        return;
    }
  }

  /** 4.1.5.1.2: a vector the function does not have reads back as NO_VECTOR, which tells the driver. */
  private vectorOrNone(value: number): number {
    const v = value & 0xffff;
    return v < this.msix.vectors ? v : NO_VECTOR;
  }

  private interrupt(vector: number, isrBit: number): void {
    if (this.msix.enabled) {
      if (vector !== NO_VECTOR) this.msix.signal(vector);
      return;
    }
    this.isr |= isrBit;
    this.config.setIntx(true);
  }

  private resetRegisters(): void {
    this.isr = 0;
    this.config.setIntx(false);
    this.configVector = NO_VECTOR;
    this.queueVectors.fill(NO_VECTOR);
    this.queueSelect = 0;
    this.deviceFeatureSelect = 0;
    this.driverFeatureSelect = 0;
  }

  /**
   * Virtio device reset, as when the driver writes 0 to device_status: the PCI configuration space
   * and the MSI-X table are untouched. For a machine reset, restore the state saved at power-on.
   */
  reset(): void {
    this.core.reset();
    this.resetRegisters();
  }

  getState(): VirtioPciState {
    return {
      ...this.core.getState(),
      config: this.config.getState(),
      msix: this.msix.getState(),
      isr: this.isr,
      configVector: this.configVector,
      queueVectors: [...this.queueVectors],
      queueSelect: this.queueSelect,
      deviceFeatureSelect: this.deviceFeatureSelect,
      driverFeatureSelect: this.driverFeatureSelect,
    };
  }

  setState(state: VirtioPciState): void {
    this.config.loadState(state.config);
    this.msix.setState(state.msix);
    this.core.setState(state);
    this.isr = state.isr;
    this.configVector = state.configVector;
    state.queueVectors.forEach((v, i) => {
      if (i < this.queueVectors.length) this.queueVectors[i] = v;
    });
    this.queueSelect = state.queueSelect;
    this.deviceFeatureSelect = state.deviceFeatureSelect;
    this.driverFeatureSelect = state.driverFeatureSelect;
  }
}

const half = (v: number | undefined, which: number): number =>
  v === undefined ? 0 : which === 0 ? (v % 0x1_0000_0000) >>> 0 : Math.floor(v / 0x1_0000_0000) >>> 0;
