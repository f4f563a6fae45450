/**
 * Character backends (QEMU's chardevs) for `-serial`, `-debugcon`: what a host provides so that a
 * serial port's bytes go to a file, a TCP or Unix socket, and come back from it. The VM only sees
 * {@link Chardev}; the Node implementation is `nodeOpenChardev` in `@typevisor/qemu/node`.
 */
import type { CharBackend } from '../options/config.js';

/** An open backend: guest output goes in with `write`; input arrives through the opener's callback. */
export interface Chardev {
  /** Queues `bytes` for the backend (copied: the caller may reuse the array). */
  write(bytes: Uint8Array): void;
  /** Writes what is buffered, makes it durable (fsync for a file), and releases the backend. */
  close(): void;
}

export interface OpenedChardev {
  readonly chardev: Chardev;
  /**
   * Settles when the backend can run: at once for a file; for a socket server with `wait` (QEMU's
   * default) when the first client connects; rejects with a message naming the backend when it cannot
   * be opened (a refused connection, a path that cannot be created).
   */
  readonly ready: Promise<void>;
}

/** Opens `backend`; throws an Error naming it when it cannot even start (e.g. a file that cannot be created). */
export type OpenChardev = (backend: CharBackend, onInput: (bytes: Uint8Array) => void) => OpenedChardev;

/** The backend as the command line spelled it, for messages. */
export function describeBackend(b: CharBackend): string {
  switch (b.kind) {
    case 'file':
      return `file:${b.path}`;
    case 'tcp':
      return `tcp:${b.host}:${b.port}${b.server ? ',server=on' : ''}${b.server && !b.wait ? ',wait=off' : ''}`;
    case 'unix':
      return `unix:${b.path}${b.server ? ',server=on' : ''}${b.server && !b.wait ? ',wait=off' : ''}`;
    default:
      return b.kind;
  }
}

/** Backends that are the VMM's own terminal (stdio): output to the host's terminal, input from its mux. */
export function isTerminal(b: CharBackend): boolean {
  return b.kind === 'stdio' || b.kind === 'mon:stdio';
}

/** Backends that drop output and never give input. */
export function isDiscard(b: CharBackend): boolean {
  return b.kind === 'null' || b.kind === 'none';
}
