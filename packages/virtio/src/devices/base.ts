import type { AccessSize } from '@typevisor/memory';
import type { DeviceContext, VirtioDevice } from '../device.js';
import { readConfigBytes } from '../device.js';
import type { DescriptorChain } from '../queue/chain.js';
import { isQueueError } from '../queue/queue.js';

/**
 * What the four devices share: a read-only configuration space in bytes, the context between
 * activation and reset, and the pop/handle/push/notify loop. Not part of the `VirtioDevice`
 * contract: a device may implement that interface directly.
 */
export abstract class QueueDevice implements VirtioDevice {
  abstract readonly deviceId: number;
  abstract readonly features: number;
  abstract readonly queueMaxSizes: readonly number[];
  protected context: DeviceContext | null = null;

  protected abstract config(): Uint8Array;

  get configSize(): number {
    return this.config().length;
  }

  get activated(): boolean {
    return this.context !== null;
  }

  readConfig(offset: number, size: AccessSize): number {
    return readConfigBytes(this.config(), offset, size);
  }

  writeConfig(_offset: number, _size: AccessSize, _value: number): void {}

  activate(context: DeviceContext): void {
    this.context = context;
  }

  reset(): void {
    this.context = null;
  }

  abstract queueNotify(index: number): void;

  /**
   * Pops every available chain of queue `index`, hands it to `handle` (which returns the bytes it
   * wrote), pushes it and interrupts once; `more` says whether to take another chain (default: all).
   * A malformed chain sets DEVICE_NEEDS_RESET.
   */
  protected drain(
    index: number,
    handle: (chain: DescriptorChain, ctx: DeviceContext) => number,
    more: () => boolean = always,
  ): void {
    const ctx = this.context;
    const q = ctx?.queues[index];
    if (ctx === null || q === undefined) return;
    let pushed = false;
    while (more()) {
      const r = q.pop();
      if (r === null) break;
      if (isQueueError(r)) {
        ctx.needsReset(r);
        return;
      }
      const written = handle(r, ctx);
      if (this.context !== ctx) return;
      q.push(r, written);
      pushed = true;
    }
    if (pushed) ctx.notifyQueue(index);
  }
}

const always = (): boolean => true;
