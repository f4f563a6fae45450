/**
 * A tiny network peer for guest tests: on a UDP socket speaking QEMU's `-netdev socket,udp=` framing
 * (one Ethernet frame per datagram), it answers ARP requests and ICMP echo requests for one IPv4
 * address, as a second machine on the wire would.
 */
import { createSocket, type Socket } from 'node:dgram';

const MAC = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];

function checksum(b: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i]! << 8) | (i + 1 < end ? b[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Peer {
  readonly port: number;
  /** Echo requests answered so far. */
  readonly echoes: number;
  /** The guest's UDP address, once a frame came from it. */
  close(): void;
}

export async function startPeer(ip: readonly number[]): Promise<Peer> {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  let echoes = 0;
  sock.on('message', (msg, rinfo) => {
    const f = new Uint8Array(msg);
    const send = (reply: Uint8Array) => sock.send(reply, rinfo.port, rinfo.address);
    const type = (f[12]! << 8) | f[13]!;
    if (type === 0x0806 && f[21] === 1 && ip.every((v, i) => f[38 + i] === v)) {
      const r = new Uint8Array(42);
      r.set(f.subarray(6, 12), 0); // to the asker
      r.set(MAC, 6);
      r.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2], 12);
      r.set(MAC, 22);
      r.set(ip, 28);
      r.set(f.subarray(22, 32), 32); // the asker's MAC and IP
      send(r);
    } else if (type === 0x0800 && f[23] === 1 && f[34] === 8 && ip.every((v, i) => f[30 + i] === v)) {
      const ihl = (f[14]! & 0xf) * 4;
      const r = f.slice();
      r.set(f.subarray(6, 12), 0);
      r.set(MAC, 6);
      r.set(f.subarray(30, 34), 26); // source = the address pinged
      r.set(f.subarray(26, 30), 30); // destination = the guest
      const icmp = 14 + ihl;
      r[icmp] = 0; // echo reply
      r[icmp + 2] = 0;
      r[icmp + 3] = 0;
      const c = checksum(r, icmp, 14 + ((f[16]! << 8) | f[17]!));
      r[icmp + 2] = c >>> 8;
      r[icmp + 3] = c & 0xff;
      echoes++;
      send(r);
    }
  });
  return {
    port: sock.address().port,
    get echoes() {
      return echoes;
    },
    close: () => sock.close(),
  };
}

/** A UDP port that was free a moment ago (for the guest's `localaddr=`). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
