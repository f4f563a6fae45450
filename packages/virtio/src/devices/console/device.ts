import { DeviceId } from '../../constants.js';
import { features as featureSet } from '../../features.js';
import { readFromChain, writeToChain } from '../../queue/chain.js';
import { QueueDevice } from '../base.js';

/** Where the console's output goes (a terminal, a log, an xterm.js in a browser). */
export interface ConsoleSink {
  write(bytes: Uint8Array): void;
}

/** virtio-console feature bits (5.3.3). */
export const ConsoleFeature = {
  SIZE: 0,
  MULTIPORT: 1,
  EMERG_WRITE: 2,
} as const;

/** struct virtio_console_config offsets (5.3.4). */
export const ConsoleConfig = {
  COLS: 0,
  ROWS: 2,
  MAX_NR_PORTS: 4,
  EMERG_WR: 8,
  SIZE: 12,
} as const;

/** Queue indices of port 0 without MULTIPORT (5.3.2). */
export const ConsoleQueue = {
  RECEIVE: 0,
  TRANSMIT: 1,
} as const;

export interface ConsoleOptions {
  readonly queueSize?: number;
  /** Bytes of guest input held while the driver has no receive buffers (older input is kept, newer dropped). */
  readonly inputLimit?: number;
  /** Console size reported with VIRTIO_CONSOLE_F_SIZE; omitted: no size. */
  readonly size?: { readonly cols: number; readonly rows: number };
}

/**
 * virtio-console (5.3), single port: the guest's hvc0 (`console=hvc0`). Output chains go to the
 * sink; {@link ConsoleDevice.input} queues bytes for the guest, delivered as receive buffers appear.
 * Emergency writes (config offset 8) go to the sink too.
 */
export class ConsoleDevice extends QueueDevice {
  readonly deviceId = DeviceId.CONSOLE;
  readonly features: number;
  readonly queueMaxSizes: readonly number[];
  private readonly configBytes = new Uint8Array(ConsoleConfig.SIZE);
  private readonly inputLimit: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Input bytes dropped because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly sink: ConsoleSink,
    options: ConsoleOptions = {},
  ) {
    super();
    const q = options.queueSize ?? 256;
    this.queueMaxSizes = [q, q];
    this.inputLimit = options.inputLimit ?? 65536;
    const bits: number[] = [ConsoleFeature.EMERG_WRITE];
    if (options.size !== undefined) {
      bits.push(ConsoleFeature.SIZE);
      const c = new DataView(this.configBytes.buffer);
      c.setUint16(ConsoleConfig.COLS, options.size.cols, true);
      c.setUint16(ConsoleConfig.ROWS, options.size.rows, true);
    }
    this.features = featureSet(...bits);
  }

  protected config(): Uint8Array {
    return this.configBytes;
  }

  override writeConfig(offset: number, _size: 1 | 2 | 4, value: number): void {
    // emerg_wr: "the driver writes a character, the device outputs it" (5.3.4), even before DRIVER_OK.
    if (offset === ConsoleConfig.EMERG_WR) this.sink.write(Uint8Array.of(value & 0xff));
  }

  override reset(): void {
    super.reset();
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Bytes for the guest (keyboard input, a pipe). */
  input(bytes: Uint8Array): void {
    const room = this.inputLimit - this.pendingBytes;
    const take = Math.min(room, bytes.length);
    this.dropped += bytes.length - take;
    if (take > 0) {
      this.pending.push(bytes.slice(0, take));
      this.pendingBytes += take;
    }
    this.deliver();
  }

  queueNotify(index: number): void {
    if (index === ConsoleQueue.TRANSMIT) {
      this.drain(ConsoleQueue.TRANSMIT, (chain, ctx) => {
        const out = new Uint8Array(chain.readableLength);
        const n = readFromChain(ctx.memory, chain, 0, out);
        if (n > 0) this.sink.write(out.subarray(0, n));
        return 0;
      });
    } else if (index === ConsoleQueue.RECEIVE) {
      this.deliver();
    }
  }

  private deliver(): void {
    if (this.pendingBytes === 0) return;
    this.drain(
      ConsoleQueue.RECEIVE,
      (chain, ctx) => {
        let written = 0;
        while (this.pending.length > 0 && written < chain.writableLength) {
          const head = this.pending[0]!;
          const n = writeToChain(ctx.memory, chain, written, head);
          written += n;
          this.pendingBytes -= n;
          if (n === head.length) this.pending.shift();
          else this.pending[0] = head.subarray(n);
          if (n === 0) break;
        }
        // Stop popping receive buffers once the input is used up.
        return written;
      },
      () => this.pendingBytes > 0,
    );
  }
}
