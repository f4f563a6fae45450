import { mkdtempSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Chardev } from '../chardev/backend.js';
import { nodeOpenChardev } from './chardev.js';

const dir = mkdtempSync(join(tmpdir(), 'tv-chardev-'));
const bytes = (s: string) => new TextEncoder().encode(s);
const open: Chardev[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

/** A free TCP port on the loopback interface. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('nodeOpenChardev', () => {
  it('writes a file: backend and has every byte on disk when closed', async () => {
    const path = join(dir, 'serial.log');
    const { chardev, ready } = nodeOpenChardev({ kind: 'file', path }, () => {});
    await ready;
    const one = new Uint8Array(1);
    for (const c of bytes('hello\n')) {
      one[0] = c;
      chardev.write(one); // the same array each time, as a UART does: the backend copies
    }
    chardev.close();
    expect(readFileSync(path, 'utf8')).toBe('hello\n');
  });

  it('names a file it cannot create, as QEMU does', () => {
    expect(() => nodeOpenChardev({ kind: 'file', path: join(dir, 'no/such/dir/x') }, () => {})).toThrow(
      /Could not open '.*no\/such\/dir\/x': No such file or directory/,
    );
  });

  it('waits for the first client of a tcp server with wait, then talks both ways', async () => {
    const port = await freePort();
    const input: string[] = [];
    const { chardev, ready } = nodeOpenChardev(
      { kind: 'tcp', host: '127.0.0.1', port, server: true, wait: true },
      (b) => input.push(new TextDecoder().decode(b)),
    );
    open.push(chardev);
    let isReady = false;
    void ready.then(() => (isReady = true));
    await turn();
    expect(isReady).toBe(false);
    const client: Socket = connect(port, '127.0.0.1');
    let got = '';
    client.on('data', (d) => (got += d.toString()));
    await ready;
    chardev.write(bytes('login: '));
    client.write('root\r');
    for (let i = 0; i < 200 && (got === '' || input.length === 0); i++)
      await new Promise((r) => setTimeout(r, 5));
    expect(got).toBe('login: ');
    expect(input.join('')).toBe('root\r');
    client.destroy();
  });

  it('is ready at once for a server without wait, and drops output nobody reads', async () => {
    const port = await freePort();
    const { chardev, ready } = nodeOpenChardev(
      { kind: 'tcp', host: '127.0.0.1', port, server: true, wait: false },
      () => {},
    );
    open.push(chardev);
    await ready;
    chardev.write(bytes('nobody hears this'));
    await turn();
    const client = connect(port, '127.0.0.1');
    let got = '';
    client.on('data', (d) => (got += d.toString()));
    await new Promise((r) => client.once('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    chardev.write(bytes('now'));
    for (let i = 0; i < 200 && got === ''; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got).toBe('now');
    client.destroy();
  });

  it('connects as a client and reports a refused connection naming the address', async () => {
    const port = await freePort();
    const refused = nodeOpenChardev(
      { kind: 'tcp', host: '127.0.0.1', port, server: false, wait: true },
      () => {},
    );
    await expect(refused.ready).rejects.toThrow(
      `Failed to connect to '127.0.0.1:${port}': Connection refused`,
    );
    let peer: Socket | null = null;
    const srv: Server = createServer((s) => (peer = s));
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    const { chardev, ready } = nodeOpenChardev(
      { kind: 'tcp', host: '127.0.0.1', port, server: false, wait: true },
      () => {},
    );
    open.push(chardev);
    await ready;
    for (let i = 0; i < 100 && peer === null; i++) await new Promise((r) => setTimeout(r, 5));
    let got = '';
    (peer as unknown as Socket).on('data', (d) => (got += d.toString()));
    chardev.write(bytes('out'));
    for (let i = 0; i < 200 && got === ''; i++) await new Promise((r) => setTimeout(r, 5));
    expect(got).toBe('out');
    chardev.close();
    srv.close();
  });

  it('serves a unix socket, replacing a stale one', async () => {
    const path = join(dir, 'serial.sock');
    for (let round = 0; round < 2; round++) {
      const { chardev, ready } = nodeOpenChardev({ kind: 'unix', path, server: true, wait: false }, () => {});
      await ready;
      const client = connect(path);
      await new Promise((r) => client.once('connect', r));
      client.destroy();
      chardev.close();
    }
  });
});
