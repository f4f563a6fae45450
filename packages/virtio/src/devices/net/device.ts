import { DeviceId } from '../../constants.js';
import { VirtioError } from '../../errors.js';
import { features as featureSet } from '../../features.js';
import { readFromChain, writeToChain } from '../../queue/chain.js';
import { QueueDevice } from '../base.js';
import type { NetBackend } from './backend.js';

/** virtio-net feature bits used here (5.1.3). */
export const NetFeature = {
  CSUM: 0,
  GUEST_CSUM: 1,
  MTU: 3,
  MAC: 5,
  MRG_RXBUF: 15,
  STATUS: 16,
  CTRL_VQ: 17,
} as const;

/** struct virtio_net_config offsets (5.1.4). */
export const NetConfig = {
  MAC: 0,
  STATUS: 6,
  MAX_VIRTQUEUE_PAIRS: 8,
  MTU: 10,
  SIZE: 12,
} as const;

/** `status` bits (5.1.4). */
export const NET_S_LINK_UP = 1;

/** Queue indices of the first (only) queue pair (5.1.2). */
export const NetQueue = {
  RECEIVE: 0,
  TRANSMIT: 1,
} as const;

/**
 * struct virtio_net_hdr as a VERSION_1 device uses it: 12 bytes including num_buffers (5.1.6).
 * Offsets of the fields this device writes.
 */
export const NET_HEADER_SIZE = 12;
const HDR_NUM_BUFFERS = 10;
/** Largest frame accepted from either side: 64 KiB plus an Ethernet header, like QEMU's NET_BUFSIZE. */
export const MAX_FRAME = 65536 + 14;

export interface NetOptions {
  /** `mac=52:54:00:12:34:56` (QEMU's default). */
  readonly mac?: string;
  readonly queueSize?: number;
  /** MTU reported with VIRTIO_NET_F_MTU (default 1500). */
  readonly mtu?: number;
  /** Frames from the backend held while the driver has no receive buffers. */
  readonly rxBacklog?: number;
}

export function parseMac(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new VirtioError('InvalidArgument', `MAC address ${mac}`);
  }
  return Uint8Array.from(parts.map((p) => Number.parseInt(p, 16)));
}

/**
 * virtio-net (5.1), one queue pair, no offloads: frames cross as-is between the guest and a
 * {@link NetBackend}. A received frame that does not fit the next receive chain is dropped (no
 * MRG_RXBUF), as is one that arrives while the backlog is full.
 */
export class NetDevice extends QueueDevice {
  readonly deviceId = DeviceId.NET;
  readonly features: number;
  readonly queueMaxSizes: readonly number[];
  readonly mac: Uint8Array;
  private readonly configBytes = new Uint8Array(NetConfig.SIZE);
  private readonly backlog: Uint8Array[] = [];
  private readonly backlogLimit: number;
  private readonly header = new Uint8Array(NET_HEADER_SIZE);
  /** Counters, like a NIC's statistics. */
  readonly stats = { txFrames: 0, rxFrames: 0, rxDropped: 0, txDropped: 0 };

  constructor(
    private readonly backend: NetBackend,
    options: NetOptions = {},
  ) {
    super();
    const q = options.queueSize ?? 256;
    this.queueMaxSizes = [q, q];
    this.backlogLimit = options.rxBacklog ?? 256;
    this.mac = parseMac(options.mac ?? '52:54:00:12:34:56');
    this.features = featureSet(NetFeature.MAC, NetFeature.STATUS, NetFeature.MTU);
    const c = new DataView(this.configBytes.buffer);
    this.configBytes.set(this.mac, NetConfig.MAC);
    c.setUint16(NetConfig.STATUS, NET_S_LINK_UP, true);
    c.setUint16(NetConfig.MAX_VIRTQUEUE_PAIRS, 1, true);
    c.setUint16(NetConfig.MTU, options.mtu ?? 1500, true);
    // num_buffers is 1 for every frame without MRG_RXBUF (5.1.6.4).
    new DataView(this.header.buffer).setUint16(HDR_NUM_BUFFERS, 1, true);
    backend.attach((frame) => this.receive(frame));
  }

  protected config(): Uint8Array {
    return this.configBytes;
  }

  override reset(): void {
    super.reset();
    this.backlog.length = 0;
  }

  queueNotify(index: number): void {
    if (index === NetQueue.TRANSMIT) this.transmit();
    else if (index === NetQueue.RECEIVE) this.deliver();
  }

  /** A frame from the backend for the guest. */
  receive(frame: Uint8Array): void {
    if (this.context === null || frame.length > MAX_FRAME || this.backlog.length >= this.backlogLimit) {
      this.stats.rxDropped++;
      return;
    }
    this.backlog.push(frame);
    this.deliver();
  }

  private transmit(): void {
    this.drain(NetQueue.TRANSMIT, (chain, ctx) => {
      const len = chain.readableLength - NET_HEADER_SIZE;
      if (len <= 0 || len > MAX_FRAME) {
        this.stats.txDropped++;
        return 0;
      }
      const frame = new Uint8Array(len);
      if (readFromChain(ctx.memory, chain, NET_HEADER_SIZE, frame) === len) {
        this.stats.txFrames++;
        this.backend.send(frame);
      } else this.stats.txDropped++;
      return 0;
    });
  }

  private deliver(): void {
    this.drain(
      NetQueue.RECEIVE,
      (chain, ctx) => {
        const frame = this.backlog.shift()!;
        if (NET_HEADER_SIZE + frame.length > chain.writableLength) {
          this.stats.rxDropped++;
          return 0;
        }
        writeToChain(ctx.memory, chain, 0, this.header);
        writeToChain(ctx.memory, chain, NET_HEADER_SIZE, frame);
        this.stats.rxFrames++;
        return NET_HEADER_SIZE + frame.length;
      },
      () => this.backlog.length > 0,
    );
  }
}
