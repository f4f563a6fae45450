/**
 * Character backends in Node for `-serial` and `-debugcon`: `file:` (created or truncated, as QEMU
 * does; written on the next event-loop turn and fsynced on close, so what the guest wrote is on disk
 * when the VM ends), `tcp:host:port[,server[,wait=off]]` and `unix:path[,server[,wait=off]]` (one
 * client at a time; as in QEMU, output with no client connected is dropped).
 */
import { closeSync, fsyncSync, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Chardev, OpenChardev, OpenedChardev } from '../chardev/backend.js';
import type { CharBackend } from '../options/config.js';

/** What `errno` codes mean, in the words QEMU's messages use. */
function reason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'EISDIR':
      return 'Is a directory';
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'EADDRINUSE':
      return 'Address already in use';
    default:
      return e.message;
  }
}

/** Bytes collected between event-loop turns, handed to `sink` in one piece. */
class OutputBuffer {
  private buf = new Uint8Array(4096);
  private used = 0;
  private scheduled = false;
  constructor(private readonly sink: (bytes: Uint8Array) => void) {}

  push(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.used + bytes.length));
      bigger.set(this.buf.subarray(0, this.used));
      this.buf = bigger;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.used === 0) return;
    const out = this.buf.slice(0, this.used);
    this.used = 0;
    this.sink(out);
  }
}

function openFile(path: string): OpenedChardev {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new Error(`Could not open '${path}': ${reason(e as NodeJS.ErrnoException)}`);
  }
  let open = true;
  const out = new OutputBuffer((bytes) => {
    if (!open) return;
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
  });
  const chardev: Chardev = {
    write: (bytes) => out.push(bytes),
    close: () => {
      if (!open) return;
      out.flush();
      open = false;
      fsyncSync(fd);
      closeSync(fd);
    },
  };
  return { chardev, ready: Promise.resolve() };
}

type SocketBackend = Extract<CharBackend, { kind: 'tcp' | 'unix' }>;

function where(b: SocketBackend): string {
  return b.kind === 'tcp' ? `${b.host}:${b.port}` : b.path;
}

function openSocket(b: SocketBackend, onInput: (bytes: Uint8Array) => void): OpenedChardev {
  let client: Socket | null = null;
  let server: Server | null = null;
  let closed = false;
  const out = new OutputBuffer((bytes) => {
    if (client !== null && !client.destroyed) client.write(bytes);
  });
  const adopt = (s: Socket): void => {
    client = s;
    s.on('data', (chunk: Buffer) => {
      if (!closed) onInput(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    });
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (client === s) client = null;
    });
  };
  const chardev: Chardev = {
    write: (bytes) => out.push(bytes),
    close: () => {
      if (closed) return;
      out.flush();
      closed = true;
      (client as Socket | null)?.end();
      server?.close();
    },
  };
  const ready = new Promise<void>((resolve, reject) => {
    if (!b.server) {
      const s = b.kind === 'tcp' ? createConnection(b.port, b.host) : createConnection(b.path);
      s.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(`Failed to connect to '${where(b)}': ${reason(e)}`)),
      );
      s.once('connect', () => {
        adopt(s);
        resolve();
      });
      return;
    }
    const srv = createServer((s: Socket) => {
      // One client at a time, as QEMU's socket chardev: a second one is turned away.
      if (client !== null || closed) {
        s.destroy();
        return;
      }
      adopt(s);
      resolve(); // `wait`: the guest starts once the first client is there
    });
    server = srv;
    srv.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`Failed to bind socket to '${where(b)}': ${reason(e)}`)),
    );
    if (b.kind === 'unix') {
      // QEMU removes a stale socket file before it binds.
      try {
        if (lstatSync(b.path).isSocket()) unlinkSync(b.path);
      } catch {
        // no such file: nothing to remove
      }
      srv.listen(b.path, () => (b.wait ? undefined : resolve()));
    } else srv.listen(b.port, b.host, () => (b.wait ? undefined : resolve()));
  });
  return { chardev, ready };
}

/** Opens `-serial` / `-debugcon` backends for a VM in Node (`VmHost.openChardev`). */
export const nodeOpenChardev: OpenChardev = (backend, onInput) => {
  switch (backend.kind) {
    case 'file':
      return openFile(backend.path);
    case 'tcp':
    case 'unix':
      return openSocket(backend, onInput);
    default:
      throw new Error(`${backend.kind} is the terminal or nothing, not a backend to open`);
  }
};
