import { createServer, type Server, type Socket } from 'node:net';
import type { Monitor } from '../monitor/hmp.js';
import type { CharBackend } from '../options/config.js';

/** The banner QEMU's monitor prints on a new connection, with our name and version. */
export const monitorBanner = (version: string) =>
  `Typevisor ${version} monitor - type 'help' for more information\r\n`;

/**
 * Serves the HMP monitor on `-monitor tcp:host:port,server` or `-monitor unix:path,server`: a banner,
 * a `(qemu) ` prompt, one command per line, QEMU's output for it. Several clients may connect; the
 * input is not echoed back (QEMU's readline echo is for terminals, scripts read only the output).
 * Resolves once the server listens.
 */
export function serveMonitor(backend: CharBackend, monitor: Monitor, version: string): Promise<Server> {
  if (backend.kind !== 'tcp' && backend.kind !== 'unix') {
    return Promise.reject(new Error(`-monitor ${backend.kind}: not a socket backend`));
  }
  if (!backend.server) {
    return Promise.reject(new Error(`-monitor: only server mode is supported (add ',server')`));
  }
  const server = createServer((socket: Socket) => {
    socket.setEncoding('latin1');
    socket.write(`${monitorBanner(version)}(qemu) `);
    let pending = '';
    socket.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.search(/\r?\n/); nl >= 0; nl = pending.search(/\r?\n/)) {
        const line = pending.slice(0, nl);
        pending = pending.slice(pending[nl] === '\r' ? nl + 2 : nl + 1);
        const out = monitor.execute(line);
        if (socket.destroyed) return;
        socket.write(`${out === '' ? '' : `${out.replaceAll('\n', '\r\n')}\r\n`}(qemu) `);
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `-monitor ${describe(backend)}: ${e.code === 'EADDRINUSE' ? 'Address already in use' : e.message}`,
        ),
      ),
    );
    const onListening = () => resolve(server);
    if (backend.kind === 'tcp') server.listen(backend.port, backend.host, onListening);
    else server.listen(backend.path, onListening);
  });
}

function describe(b: CharBackend): string {
  if (b.kind === 'tcp') return `tcp:${b.host}:${b.port}`;
  if (b.kind === 'unix') return `unix:${b.path}`;
  return b.kind;
}
