import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BlkDevice, BlkRequest, BlkStatus } from '../devices/blk/device.js';
import { NET_HEADER_SIZE, NetDevice, NetQueue } from '../devices/net/device.js';
import { RngDevice } from '../devices/rng/device.js';
import { type MmioHarness, mmioHarness } from '../testing/index.js';
import { nodeCryptoEntropy } from './entropy.js';
import { FileBlockBackend, openDrive } from './file-backend.js';
import {
  openSocketNetdev,
  parseHostPort,
  type SocketNetBackend,
  TcpNetBackend,
  UdpNetBackend,
} from './socket-netdev.js';

// Count fsync(2) calls: a guest FLUSH must reach the disk, not just the page cache.
const fsyncs = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    fsyncSync: (fd: number) => {
      fsyncs.count++;
      fs.fsyncSync(fd);
    },
  };
});

const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempImage(bytes: Uint8Array): string {
  const dir = mkdtempSync(join(tmpdir(), 'virtio-test-'));
  dirs.push(dir);
  const path = join(dir, 'disk.raw');
  writeFileSync(path, bytes);
  return path;
}

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  new DataView(h.buffer).setUint32(0, type, true);
  new DataView(h.buffer).setUint32(8, sector, true);
  return h;
}

function blkRequest(h: MmioHarness, buffers: Parameters<MmioHarness['driver']['queues'][0]['add']>[0]) {
  h.driver.queue(0).add(buffers);
  h.driver.kick(0);
  const u = h.driver.queue(0).popUsed()!;
  const all = u.written.flatMap((w) => [...w]);
  return { status: all[all.length - 1], data: Uint8Array.from(all.slice(0, -1)) };
}

describe('raw image files', () => {
  it('reads the file, writes through to it, and fsyncs on FLUSH', () => {
    const path = tempImage(new Uint8Array(8 * 512).fill(0x11));
    const backend = FileBlockBackend.open(path);
    closers.push(() => backend.close());
    const h = mmioHarness(new BlkDevice(backend));
    expect(blkRequest(h, [{ read: header(BlkRequest.IN, 1) }, { write: 512 }, { write: 1 }]).data[0]).toBe(
      0x11,
    );
    const w = blkRequest(h, [
      { read: header(BlkRequest.OUT, 2) },
      { read: new Uint8Array(512).fill(0x22) },
      { write: 1 },
    ]);
    expect(w.status).toBe(BlkStatus.OK);
    const before = fsyncs.count;
    expect(blkRequest(h, [{ read: header(BlkRequest.FLUSH, 0) }, { write: 1 }]).status).toBe(BlkStatus.OK);
    expect(fsyncs.count).toBe(before + 1);
    expect(readFileSync(path)[2 * 512]).toBe(0x22);
  });

  it('refuses writes to a read-only image', () => {
    const path = tempImage(new Uint8Array(4 * 512));
    const drive = openDrive({ file: path, readonly: true });
    closers.push(() => drive.close());
    const h = mmioHarness(new BlkDevice(drive.backend));
    const w = blkRequest(h, [
      { read: header(BlkRequest.OUT, 0) },
      { read: new Uint8Array(512).fill(1) },
      { write: 1 },
    ]);
    expect(w.status).toBe(BlkStatus.IOERR);
    expect(readFileSync(path).every((b) => b === 0)).toBe(true);
  });

  it('keeps the image unchanged with snapshot=on while the guest sees its writes', () => {
    const path = tempImage(new Uint8Array(16 * 512).fill(0x33));
    const drive = openDrive({ file: path, snapshot: true });
    closers.push(() => drive.close());
    const h = mmioHarness(new BlkDevice(drive.backend));
    const data = new Uint8Array(512).fill(0x44);
    expect(blkRequest(h, [{ read: header(BlkRequest.OUT, 3) }, { read: data }, { write: 1 }]).status).toBe(
      BlkStatus.OK,
    );
    expect(blkRequest(h, [{ read: header(BlkRequest.IN, 3) }, { write: 512 }, { write: 1 }]).data[0]).toBe(
      0x44,
    );
    expect(blkRequest(h, [{ read: header(BlkRequest.IN, 4) }, { write: 512 }, { write: 1 }]).data[0]).toBe(
      0x33,
    );
    expect(readFileSync(path).every((b) => b === 0x33)).toBe(true);
  });

  it('returns IOERR instead of throwing after the file is closed', () => {
    const backend = FileBlockBackend.open(tempImage(new Uint8Array(512)));
    backend.close();
    expect(backend.read(0, new Uint8Array(512))).toBe(false);
    expect(backend.flush()).toBe(false);
  });
});

describe('host entropy', () => {
  it('feeds virtio-rng from the Node CSPRNG', () => {
    const h = mmioHarness(new RngDevice(nodeCryptoEntropy));
    h.driver.queue(0).add([{ write: 64 }]);
    h.driver.kick(0);
    const u = h.driver.queue(0).popUsed();
    expect(u?.len).toBe(64);
    expect(u?.data.some((b) => b !== 0)).toBe(true);
  });
});

/** Two guests' NICs joined by a pair of socket backends; resolves with the frame b received. */
async function exchange(a: SocketNetBackend, b: SocketNetBackend): Promise<Uint8Array> {
  closers.push(
    () => a.close(),
    () => b.close(),
  );
  const ga = mmioHarness(new NetDevice(a));
  const gb = mmioHarness(new NetDevice(b));
  gb.driver.queue(NetQueue.RECEIVE).add([{ write: 2048 }]);
  gb.driver.kick(NetQueue.RECEIVE);
  const got = new Promise<Uint8Array>((resolve) => {
    const poll = setInterval(() => {
      const u = gb.driver.queue(NetQueue.RECEIVE).popUsed();
      if (u !== null) {
        clearInterval(poll);
        resolve(u.data.subarray(NET_HEADER_SIZE));
      }
    }, 2);
  });
  const frame = new Uint8Array(98).map((_, i) => i);
  ga.driver.queue(NetQueue.TRANSMIT).add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame }]);
  ga.driver.kick(NetQueue.TRANSMIT);
  return got;
}

describe('-netdev socket', () => {
  it('exchanges frames over loopback UDP', async () => {
    const a = await UdpNetBackend.open({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 1 });
    const b = await openSocketNetdev({ udp: `127.0.0.1:${a.localPort}`, localaddr: '127.0.0.1:0' });
    // Point a at b's port now that it is known.
    const a2 = await UdpNetBackend.open(
      { host: '127.0.0.1', port: 0 },
      { host: '127.0.0.1', port: (b as UdpNetBackend).localPort },
    );
    await a.close();
    const frame = await exchange(a2, b);
    expect([...frame]).toEqual([...new Uint8Array(98).map((_, i) => i)]);
  });

  it('exchanges length-prefixed frames over TCP listen/connect', async () => {
    const server = await TcpNetBackend.listen({ host: '127.0.0.1', port: 0 });
    const client = await openSocketNetdev({ connect: `127.0.0.1:${server.localPort}` });
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (server.connected) {
          clearInterval(t);
          resolve();
        }
      }, 2);
    });
    const frame = await exchange(client, server);
    expect(frame.length).toBe(98);
    expect(frame[97]).toBe(97);
  });

  it('exchanges frames with a second Typevisor process over TCP', async () => {
    const server = await TcpNetBackend.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => server.close());
    const repo = fileURLToPath(new URL('../../../../', import.meta.url));
    const peer = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx/esm',
        'packages/virtio/test/echo-peer.ts',
        JSON.stringify({ connect: `127.0.0.1:${server.localPort}` }),
      ],
      { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    closers.push(() => peer.kill());
    await new Promise<void>((resolve, reject) => {
      peer.once('error', reject);
      peer.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
    });
    const guest = mmioHarness(new NetDevice(server));
    guest.driver.queue(NetQueue.RECEIVE).add([{ write: 2048 }]);
    guest.driver.kick(NetQueue.RECEIVE);
    const frame = Uint8Array.from({ length: 64 }, (_, i) => i);
    guest.driver.queue(NetQueue.TRANSMIT).add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame }]);
    guest.driver.kick(NetQueue.TRANSMIT);
    const echoed = await new Promise<Uint8Array>((resolve) => {
      const poll = setInterval(() => {
        const u = guest.driver.queue(NetQueue.RECEIVE).popUsed();
        if (u !== null) {
          clearInterval(poll);
          resolve(u.data.slice(NET_HEADER_SIZE));
        }
      }, 2);
    });
    expect([...echoed]).toEqual([...frame].reverse());
  }, 60_000);

  it('drops frames sent after the socket closed instead of throwing', async () => {
    const a = await UdpNetBackend.open({ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: 9 });
    await a.close();
    expect(() => a.send(new Uint8Array(60))).not.toThrow();
  });

  it('parses QEMU socket addresses', () => {
    expect(parseHostPort(':1234', '0.0.0.0')).toEqual({ host: '0.0.0.0', port: 1234 });
    expect(parseHostPort('10.0.2.2:80')).toEqual({ host: '10.0.2.2', port: 80 });
    expect(() => parseHostPort('nope')).toThrow(/InvalidArgument/);
    expect(() => openSocketNetdev({})).toThrow(/InvalidArgument/);
  });
});
