import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { NetBackend } from '../devices/net/backend.js';
import { MAX_FRAME } from '../devices/net/device.js';
import { VirtioError } from '../errors.js';

/** QEMU `-netdev socket` options, spelled as on the command line. Exactly one of listen/connect/udp. */
export interface SocketNetdevOptions {
  /** `listen=[host]:port`: wait for one TCP peer. */
  readonly listen?: string;
  /** `connect=host:port`: TCP to a peer that listens. */
  readonly connect?: string;
  /** `udp=host:port`: send datagrams to the peer... */
  readonly udp?: string;
  /** ...`localaddr=host:port`: ...and receive them here (required with `udp`). */
  readonly localaddr?: string;
}

export interface SocketNetBackend extends NetBackend {
  close(): Promise<void>;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` / `:port` (host defaults to 127.0.0.1 when `defaultHost` is not given). */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): HostPort {
  const i = text.lastIndexOf(':');
  const host = i <= 0 ? defaultHost : text.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new VirtioError('InvalidArgument', `socket address ${text}`);
  }
  return { host, port };
}

/** Opens the netdev QEMU's options describe. Resolves once bound (udp, listen) or connected (connect). */
export function openSocketNetdev(options: SocketNetdevOptions): Promise<SocketNetBackend> {
  const modes = [options.listen, options.connect, options.udp].filter((m) => m !== undefined);
  if (modes.length !== 1)
    throw new VirtioError('InvalidArgument', 'socket netdev needs one of listen, connect, udp');
  if (options.udp !== undefined) {
    if (options.localaddr === undefined) throw new VirtioError('InvalidArgument', 'udp= needs localaddr=');
    return UdpNetBackend.open(parseHostPort(options.localaddr), parseHostPort(options.udp));
  }
  if (options.listen !== undefined) return TcpNetBackend.listen(parseHostPort(options.listen, '0.0.0.0'));
  return TcpNetBackend.connect(parseHostPort(options.connect!));
}

/** One Ethernet frame per UDP datagram, as QEMU's `-netdev socket,udp=` sends them. */
export class UdpNetBackend implements SocketNetBackend {
  private receive: ((frame: Uint8Array) => void) | null = null;

  private constructor(
    private readonly socket: UdpSocket,
    readonly remote: HostPort,
  ) {
    socket.on('message', (msg) => {
      if (msg.length <= MAX_FRAME) this.receive?.(new Uint8Array(msg));
    });
    // A datagram that cannot be delivered (peer not up yet) is a lost frame, as on a wire.
    socket.on('error', () => {});
  }

  static open(local: HostPort, remote: HostPort): Promise<UdpNetBackend> {
    const socket = createSocket(local.host.includes(':') ? 'udp6' : 'udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(local.port, local.host, () => {
        socket.off('error', reject);
        resolve(new UdpNetBackend(socket, remote));
      });
    });
  }

  /** The bound local port (useful with port 0). */
  get localPort(): number {
    return this.socket.address().port;
  }

  send(frame: Uint8Array): void {
    try {
      this.socket.send(frame, this.remote.port, this.remote.host);
    } catch {
      // A closed socket throws synchronously: the frame is lost, as on an unplugged cable.
    }
  }

  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/**
 * QEMU's TCP framing for `-netdev socket,listen=|connect=`: each frame is preceded by its length as
 * a 32-bit big-endian number (net/socket.c). A length above {@link MAX_FRAME} ends the connection.
 */
export class TcpNetBackend implements SocketNetBackend {
  private receive: ((frame: Uint8Array) => void) | null = null;
  private socket: Socket | null = null;
  private pending = new Uint8Array(0);

  private constructor(private readonly server: Server | null) {}

  static listen(address: HostPort): Promise<TcpNetBackend> {
    const server = createServer();
    const backend = new TcpNetBackend(server);
    server.on('connection', (socket) => {
      // QEMU serves one peer at a time.
      if (backend.socket !== null) socket.destroy();
      else backend.use(socket);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        resolve(backend);
      });
    });
  }

  static connect(address: HostPort): Promise<TcpNetBackend> {
    const backend = new TcpNetBackend(null);
    return new Promise((resolve, reject) => {
      const socket = createConnection(address.port, address.host);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        backend.use(socket);
        resolve(backend);
      });
    });
  }

  /** The listening port (useful with port 0). */
  get localPort(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  get connected(): boolean {
    return this.socket !== null;
  }

  private use(socket: Socket): void {
    this.socket = socket;
    this.pending = new Uint8Array(0);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
    });
  }

  private onData(socket: Socket, chunk: Buffer): void {
    const buf = new Uint8Array(this.pending.length + chunk.length);
    buf.set(this.pending);
    buf.set(chunk, this.pending.length);
    let at = 0;
    while (buf.length - at >= 4) {
      const len = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0;
      if (len > MAX_FRAME) {
        socket.destroy();
        return;
      }
      if (buf.length - at - 4 < len) break;
      this.receive?.(buf.slice(at + 4, at + 4 + len));
      at += 4 + len;
    }
    this.pending = buf.slice(at);
  }

  send(frame: Uint8Array): void {
    const s = this.socket;
    if (s === null) return;
    const out = Buffer.allocUnsafe(4 + frame.length);
    out.writeUInt32BE(frame.length, 0);
    out.set(frame, 4);
    s.write(out);
  }

  attach(receive: (frame: Uint8Array) => void): void {
    this.receive = receive;
  }

  close(): Promise<void> {
    this.socket?.destroy();
    this.socket = null;
    const server = this.server;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
