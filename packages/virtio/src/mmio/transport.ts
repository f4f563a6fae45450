import type { AccessSize, GuestMemory, IrqLine, MmioDevice } from '@typevisor/memory';
import type { VirtioDevice } from '../device.js';
import type { QueueError } from '../errors.js';
import type { Virtqueue } from '../queue/queue.js';
import { type CoreState, type RingOptions, VirtioCore } from '../transport-core.js';
import { MMIO_DEFAULT_VENDOR, MMIO_MAGIC, MMIO_VERSION, MmioInterrupt, MmioReg } from './registers.js';

export interface MmioTransportOptions extends RingOptions {
  readonly vendorId?: number;
}

/** Plain, JSON-able state of a virtio-mmio transport (the device's own state is saved separately). */
export interface MmioTransportState extends CoreState {
  readonly deviceFeaturesSel: number;
  readonly driverFeaturesSel: number;
  readonly queueSel: number;
  readonly interruptStatus: number;
}

/**
 * virtio-mmio version 2 (4.2): the register window of one device. Insert it on the MMIO bus at the
 * base given to Linux with {@link virtioMmioCmdline}. Registers take 32-bit accesses; the
 * configuration space at 0x100 takes any width.
 */
export class MmioTransport implements MmioDevice {
  private readonly core: VirtioCore;
  private readonly vendorId: number;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private interruptStatus = 0;

  constructor(
    readonly device: VirtioDevice,
    memory: GuestMemory,
    private readonly irq: IrqLine,
    options: MmioTransportOptions = {},
  ) {
    this.core = new VirtioCore(
      device,
      memory,
      {
        queue: () => this.raise(MmioInterrupt.USED_BUFFER),
        config: () => this.raise(MmioInterrupt.CONFIG_CHANGE),
      },
      options,
    );
    this.vendorId = options.vendorId ?? MMIO_DEFAULT_VENDOR;
  }

  get queues(): readonly Virtqueue[] {
    return this.core.queues;
  }

  /** Features offered to the driver (device bits plus ring features). */
  get offered(): number {
    return this.core.offered;
  }

  /** The last guest-caused error that set DEVICE_NEEDS_RESET (for diagnostics), or null. */
  get error(): QueueError | null {
    return this.core.error;
  }

  get deviceStatus(): number {
    return this.core.status;
  }

  read(offset: number, size: AccessSize): number {
    if (offset >= MmioReg.CONFIG) return this.device.readConfig(offset - MmioReg.CONFIG, size);
    // 4.2.2.2: the driver MUST use only 32-bit wide and aligned reads and writes for registers.
    if (size !== 4) return 0;
    const q = this.core.queues[this.queueSel];
    switch (offset) {
      case MmioReg.MAGIC_VALUE:
        return MMIO_MAGIC;
      case MmioReg.VERSION:
        return MMIO_VERSION;
      case MmioReg.DEVICE_ID:
        return this.device.deviceId;
      case MmioReg.VENDOR_ID:
        return this.vendorId;
      case MmioReg.DEVICE_FEATURES:
        return this.core.deviceFeatureWord(this.deviceFeaturesSel);
      case MmioReg.QUEUE_NUM_MAX:
        return q === undefined ? 0 : q.maxSize;
      case MmioReg.QUEUE_NUM:
        return q === undefined ? 0 : q.size;
      case MmioReg.QUEUE_READY:
        return q?.ready ? 1 : 0;
      case MmioReg.QUEUE_DESC_LOW:
        return low(q?.descAddr);
      case MmioReg.QUEUE_DESC_HIGH:
        return high(q?.descAddr);
      case MmioReg.QUEUE_DRIVER_LOW:
        return low(q?.driverAddr);
      case MmioReg.QUEUE_DRIVER_HIGH:
        return high(q?.driverAddr);
      case MmioReg.QUEUE_DEVICE_LOW:
        return low(q?.deviceAddr);
      case MmioReg.QUEUE_DEVICE_HIGH:
        return high(q?.deviceAddr);
      case MmioReg.INTERRUPT_STATUS:
        return this.interruptStatus;
      case MmioReg.STATUS:
        return this.core.status;
      // No shared memory regions: "a length of -1" (4.2.2).
      case MmioReg.SHM_LEN_LOW:
      case MmioReg.SHM_LEN_HIGH:
        return 0xffffffff;
      case MmioReg.CONFIG_GENERATION:
        return this.core.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset >= MmioReg.CONFIG) {
      this.device.writeConfig(offset - MmioReg.CONFIG, size, value);
      return;
    }
    if (size !== 4) return;
    value >>>= 0;
    switch (offset) {
      case MmioReg.DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = value;
        return;
      case MmioReg.DRIVER_FEATURES:
        this.core.writeDriverFeatures(this.driverFeaturesSel, value);
        return;
      case MmioReg.DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = value;
        return;
      case MmioReg.QUEUE_SEL:
        this.queueSel = value;
        return;
      case MmioReg.QUEUE_NUM:
        this.withIdleQueue((q) => {
          q.size = value;
        });
        return;
      case MmioReg.QUEUE_READY:
        this.withIdleQueue((q) => {
          q.ready = (value & 1) === 1;
        }, true);
        return;
      case MmioReg.QUEUE_DESC_LOW:
      case MmioReg.QUEUE_DESC_HIGH:
        this.withIdleQueue((q) => {
          q.descAddr = setHalf(q.descAddr, offset === MmioReg.QUEUE_DESC_HIGH, value);
        });
        return;
      case MmioReg.QUEUE_DRIVER_LOW:
      case MmioReg.QUEUE_DRIVER_HIGH:
        this.withIdleQueue((q) => {
          q.driverAddr = setHalf(q.driverAddr, offset === MmioReg.QUEUE_DRIVER_HIGH, value);
        });
        return;
      case MmioReg.QUEUE_DEVICE_LOW:
      case MmioReg.QUEUE_DEVICE_HIGH:
        this.withIdleQueue((q) => {
          q.deviceAddr = setHalf(q.deviceAddr, offset === MmioReg.QUEUE_DEVICE_HIGH, value);
        });
        return;
      case MmioReg.QUEUE_NOTIFY:
        this.core.notify(value & 0xffff);
        return;
      case MmioReg.INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        return;
      case MmioReg.STATUS:
        if (this.core.writeStatus(value)) this.resetRegisters();
        return;
      default:
        return;
    }
  }

  /** Applies a write to the selected queue's registers unless it is enabled (4.2.2.3: not while ready). */
  private withIdleQueue(apply: (q: Virtqueue) => void, readyRegister = false): void {
    const q = this.core.queues[this.queueSel];
    if (q === undefined || !this.core.queuesConfigurable) return;
    if (q.ready && !readyRegister) return;
    apply(q);
  }

  private raise(bit: number): void {
    this.interruptStatus |= bit;
    this.updateIrq();
  }

  private updateIrq(): void {
    this.irq.set(this.interruptStatus !== 0);
  }

  private resetRegisters(): void {
    this.deviceFeaturesSel = 0;
    this.driverFeaturesSel = 0;
    this.queueSel = 0;
    this.interruptStatus = 0;
    this.updateIrq();
  }

  /** Device reset (as when the driver writes 0 to Status, or at machine reset). */
  reset(): void {
    this.core.reset();
    this.resetRegisters();
  }

  getState(): MmioTransportState {
    return {
      ...this.core.getState(),
      deviceFeaturesSel: this.deviceFeaturesSel,
      driverFeaturesSel: this.driverFeaturesSel,
      queueSel: this.queueSel,
      interruptStatus: this.interruptStatus,
    };
  }

  /** Restores the transport; a running device is re-activated over the same guest memory. */
  setState(state: MmioTransportState): void {
    this.core.setState(state);
    this.deviceFeaturesSel = state.deviceFeaturesSel;
    this.driverFeaturesSel = state.driverFeaturesSel;
    this.queueSel = state.queueSel;
    this.interruptStatus = state.interruptStatus;
    this.updateIrq();
  }
}

const low = (v: number | undefined): number => (v === undefined ? 0 : (v % 0x1_0000_0000) >>> 0);
const high = (v: number | undefined): number => (v === undefined ? 0 : Math.floor(v / 0x1_0000_0000) >>> 0);

/** Replaces one 32-bit half of a 64-bit address. The high half is kept below 2^21 so the result is exact. */
export function setHalf(addr: number, highHalf: boolean, value: number): number {
  const lo = highHalf ? low(addr) : value >>> 0;
  // Addresses at or above 2^53 are never RAM; clamp them to an address that is not RAM either.
  const hi = highHalf ? Math.min(value >>> 0, 0x1f_ffff) : high(addr);
  return hi * 0x1_0000_0000 + lo;
}
