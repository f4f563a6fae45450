/**
 * Builds the virtio devices a command line asks for (see options/virtio-plan.ts), with their
 * backends: drives, netdevs, entropy and the console sink. Transport-neutral: pc.ts puts the result
 * on PCI (pci-bus.ts), microvm.ts on virtio-mmio.
 */
import {
  type BlockBackend,
  BlkDevice,
  ConsoleDevice,
  type EntropySource,
  MemoryBlockBackend,
  type NetBackend,
  NetDevice,
  NetHub,
  RngDevice,
  type VirtioDevice,
  webCryptoEntropy,
} from '@typevisor/virtio';
import type { VirtioSpec } from '../options/virtio-plan.js';

/** An opened `-drive` image. */
export interface OpenedDrive {
  readonly backend: BlockBackend;
  close(): void;
}

/** A connected `-netdev socket`. */
export interface OpenedNetdev extends NetBackend {
  close(): unknown;
}

/**
 * What the host offers the virtio devices. Node supplies all of it (`nodeVirtioBackends()` from
 * `@typevisor/qemu/node`); without it drives are read into memory (writes are not kept), socket
 * netdevs are unavailable and randomness comes from Web Crypto.
 */
export interface VirtioBackends {
  /** Opens a raw image; throws an Error whose message says what is wrong. */
  openDrive?(drive: {
    readonly file: string;
    readonly readonly: boolean;
    readonly snapshot: boolean;
  }): OpenedDrive;
  /** QEMU's `-netdev socket` with its properties (listen, connect, udp, localaddr). */
  openSocketNetdev?(props: ReadonlyMap<string, string>): Promise<OpenedNetdev>;
  readonly entropy?: EntropySource;
}

/** What the builder needs from the machine's surroundings. */
export interface VirtioIo {
  readonly backends: VirtioBackends;
  /** Reads a whole file (the fallback for drives when the host has no `openDrive`). */
  readFile(path: string): Uint8Array;
  /** Where virtconsole output goes (the terminal). */
  readonly consoleOut: { write(bytes: Uint8Array): void };
  /** A backend failed after start (a socket netdev that could not connect): report and stop. */
  fail(message: string): void;
}

/** A failure to open what an option names; the message names the option. */
export class VirtioBackendError extends Error {
  override readonly name = 'VirtioBackendError';
}

export interface BuiltVirtio {
  readonly spec: VirtioSpec;
  readonly device: VirtioDevice;
  /** Bus-range name, QEMU-like (`virtio-blk`, `virtio-net`...). */
  readonly name: string;
}

/** Frames sent before a socket netdev is connected are dropped, like a cable not yet plugged in. */
class PendingNetBackend implements NetBackend {
  private inner: NetBackend | null = null;
  private receive: ((frame: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.inner?.send(frame);
  }
  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
    this.inner?.attach(receive);
  }
  connect(inner: NetBackend): void {
    this.inner = inner;
    if (this.receive !== null) inner.attach(this.receive);
  }
}

/** The virtio devices of one machine and the backends behind them. */
export class VirtioDeviceSet {
  readonly devices: BuiltVirtio[] = [];
  /** The virtconsole, if any: terminal input goes to it as well as to the serial port. */
  console: ConsoleDevice | undefined;
  private readonly closers: (() => unknown)[] = [];
  private closed = false;

  constructor(specs: readonly VirtioSpec[], io: VirtioIo) {
    const hubs = new Map<string, NetHub>();
    try {
      for (const spec of specs) this.devices.push(this.build(spec, io, hubs));
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private build(spec: VirtioSpec, io: VirtioIo, hubs: Map<string, NetHub>): BuiltVirtio {
    switch (spec.kind) {
      case 'blk': {
        const d = spec.drive;
        let opened: OpenedDrive;
        try {
          if (io.backends.openDrive !== undefined) {
            opened = io.backends.openDrive({ file: d.file, readonly: d.readonly, snapshot: spec.snapshot });
          } else {
            const bytes = io.readFile(d.file);
            opened = { backend: new MemoryBlockBackend(bytes.slice(), d.readonly), close() {} };
          }
        } catch (e) {
          throw new VirtioBackendError(`${spec.option}: could not open '${d.file}': ${(e as Error).message}`);
        }
        this.closers.push(() => opened.close());
        if (opened.backend.size < 512)
          throw new VirtioBackendError(`${spec.option}: '${d.file}' is smaller than one 512-byte sector`);
        const device = new BlkDevice(opened.backend, {
          readOnly: d.readonly,
          discard: spec.discard,
          ...(spec.serial === undefined ? {} : { serial: spec.serial }),
          ...(spec.queueSize === undefined ? {} : { queueSize: spec.queueSize }),
        });
        return { spec, device, name: 'virtio-blk' };
      }
      case 'net': {
        const n = spec.netdev;
        let backend: NetBackend;
        if (n.type === 'hubport') {
          const id = n.props.get('hubid') ?? '0';
          let hub = hubs.get(id);
          if (hub === undefined) {
            hub = new NetHub();
            hubs.set(id, hub);
          }
          backend = hub.port();
        } else {
          const open = io.backends.openSocketNetdev;
          if (open === undefined)
            throw new VirtioBackendError(`${spec.option}: -netdev socket needs host sockets (Node)`);
          const pending = new PendingNetBackend();
          backend = pending;
          Promise.resolve(n.props)
            .then((props) => open(props))
            .then(
              (sock) => {
                if (this.closed) {
                  sock.close();
                  return;
                }
                this.closers.push(() => sock.close());
                pending.connect(sock);
              },
              (e: Error) => io.fail(`-netdev socket,id=${n.id}: ${e.message}`),
            );
        }
        const device = new NetDevice(backend, spec.mac === undefined ? {} : { mac: spec.mac });
        return { spec, device, name: 'virtio-net' };
      }
      case 'rng':
        return { spec, device: new RngDevice(io.backends.entropy ?? webCryptoEntropy), name: 'virtio-rng' };
      case 'console': {
        const device = new ConsoleDevice(io.consoleOut);
        this.console = device;
        return { spec, device, name: 'virtio-serial' };
      }
      default:
        throw new Error('unreachable');
    }
  }

  /** Closes every backend (files, sockets); idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.closers.splice(0)) {
      try {
        c();
      } catch {
        // closing is best effort: the process is ending
      }
    }
  }
}

/** For machines built without virtio backends (unit tests): any virtio option fails to open. */
export function noVirtioIo(): VirtioIo {
  return {
    backends: {},
    readFile: (path) => {
      throw new Error(`${path}: no file access in this host`);
    },
    consoleOut: { write() {} },
    fail: () => {},
  };
}
