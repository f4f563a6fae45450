import { DeviceId } from '../../constants.js';
import { chainViews, markChainDirty } from '../../queue/chain.js';
import { QueueDevice } from '../base.js';

/** Where virtio-rng gets its bytes (a host CSPRNG in production, a seeded generator in tests). */
export interface EntropySource {
  /** Fills `dst` completely. */
  fill(dst: Uint8Array): void;
}

/** Web Crypto randomness (`crypto.getRandomValues`), available in browsers and in Node >= 19. */
export const webCryptoEntropy: EntropySource = {
  fill(dst) {
    // getRandomValues takes at most 65536 bytes per call.
    for (let at = 0; at < dst.length; at += 65536) {
      globalThis.crypto.getRandomValues(dst.subarray(at, Math.min(at + 65536, dst.length)));
    }
  },
};

export interface RngOptions {
  readonly queueSize?: number;
  /** Most bytes returned for one request (QEMU returns what it has; a guest asking for 1 GiB gets this much). */
  readonly maxBytesPerRequest?: number;
}

/** virtio-rng (5.4): one request queue; each device-writable buffer is filled with entropy. */
export class RngDevice extends QueueDevice {
  readonly deviceId = DeviceId.ENTROPY;
  readonly features = 0;
  readonly queueMaxSizes: readonly number[];
  private readonly maxBytes: number;
  private readonly empty = new Uint8Array(0);

  constructor(
    private readonly source: EntropySource,
    options: RngOptions = {},
  ) {
    super();
    this.queueMaxSizes = [options.queueSize ?? 256];
    this.maxBytes = options.maxBytesPerRequest ?? 65536;
  }

  protected config(): Uint8Array {
    return this.empty;
  }

  queueNotify(index: number): void {
    if (index !== 0) return;
    this.drain(0, (chain, ctx) => {
      const length = Math.min(chain.writableLength, this.maxBytes);
      let done = 0;
      for (const view of chainViews(ctx.memory, chain, true, 0, length)) {
        this.source.fill(view);
        done += view.length;
      }
      markChainDirty(ctx.memory, chain, 0, done);
      return done;
    });
  }
}
