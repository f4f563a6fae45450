import type { AccessSize, GuestMemory, MmioDevice } from '@typevisor/memory';
import { MmioReg } from '../mmio/registers.js';
import type { GuestAllocator } from './allocator.js';
import { type QueueRegisters, VirtioDriver } from './driver.js';

/** A virtio-mmio driver fake over any `MmioDevice` (normally an `MmioTransport`). */
export class MmioDriver extends VirtioDriver {
  constructor(
    readonly device: MmioDevice,
    memory: GuestMemory,
    alloc: GuestAllocator,
  ) {
    super(memory, alloc);
  }

  reg(offset: number): number {
    return this.device.read(offset, 4);
  }

  setReg(offset: number, value: number): void {
    this.device.write(offset, 4, value >>> 0);
  }

  get status(): number {
    return this.reg(MmioReg.STATUS);
  }

  setStatus(value: number): void {
    this.setReg(MmioReg.STATUS, value);
  }

  readFeatureWord(sel: number): number {
    this.setReg(MmioReg.DEVICE_FEATURES_SEL, sel);
    return this.reg(MmioReg.DEVICE_FEATURES);
  }

  writeFeatureWord(sel: number, value: number): void {
    this.setReg(MmioReg.DRIVER_FEATURES_SEL, sel);
    this.setReg(MmioReg.DRIVER_FEATURES, value);
  }

  queueMax(index: number): number {
    this.setReg(MmioReg.QUEUE_SEL, index);
    return this.reg(MmioReg.QUEUE_NUM_MAX);
  }

  programQueue(index: number, q: QueueRegisters): void {
    this.setReg(MmioReg.QUEUE_SEL, index);
    this.setReg(MmioReg.QUEUE_NUM, q.size);
    this.setReg(MmioReg.QUEUE_DESC_LOW, q.descAddr);
    this.setReg(MmioReg.QUEUE_DESC_HIGH, 0);
    this.setReg(MmioReg.QUEUE_DRIVER_LOW, q.driverAddr);
    this.setReg(MmioReg.QUEUE_DRIVER_HIGH, 0);
    this.setReg(MmioReg.QUEUE_DEVICE_LOW, q.deviceAddr);
    this.setReg(MmioReg.QUEUE_DEVICE_HIGH, 0);
    this.setReg(MmioReg.QUEUE_READY, 1);
  }

  kick(index: number): void {
    this.setReg(MmioReg.QUEUE_NOTIFY, index);
  }

  /** Reads InterruptStatus and acknowledges it, like vm_interrupt(). */
  ackInterrupt(): number {
    const isr = this.reg(MmioReg.INTERRUPT_STATUS);
    this.setReg(MmioReg.INTERRUPT_ACK, isr);
    return isr;
  }

  readConfig(offset: number, size: AccessSize): number {
    return this.device.read(MmioReg.CONFIG + offset, size);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.device.write(MmioReg.CONFIG + offset, size, value);
  }
}
