/**
 * A second Typevisor process for the socket netdev test: a virtio-net device on the given
 * `-netdev socket` (QEMU spelling, as JSON in argv[2]) whose guest-side driver fake echoes every
 * frame it receives with the bytes reversed. Prints "ready" once connected or bound.
 *
 *   node --conditions=source --import tsx/esm packages/virtio/test/echo-peer.ts '{"connect":"127.0.0.1:1234"}'
 */
import { NET_HEADER_SIZE, NetDevice, NetQueue } from '@typevisor/virtio';
import { openSocketNetdev, type SocketNetdevOptions } from '@typevisor/virtio/node';
import { mmioHarness } from '@typevisor/virtio/testing';

const options = JSON.parse(process.argv[2] ?? '{}') as SocketNetdevOptions;
const backend = await openSocketNetdev(options);
const guest = mmioHarness(new NetDevice(backend, { mac: '52:54:00:00:00:02' }));
const rx = guest.driver.queue(NetQueue.RECEIVE);
const tx = guest.driver.queue(NetQueue.TRANSMIT);
for (let i = 0; i < 8; i++) rx.add([{ write: 2048 }]);
guest.driver.kick(NetQueue.RECEIVE);

// The guest's interrupt handler, polled: echo each received frame back, reversed.
setInterval(() => {
  for (const used of rx.drainUsed()) {
    const frame = used.data.slice(NET_HEADER_SIZE).reverse();
    tx.add([{ read: new Uint8Array(NET_HEADER_SIZE) }, { read: frame }]);
    guest.driver.kick(NetQueue.TRANSMIT);
    tx.drainUsed();
    rx.add([{ write: 2048 }]);
    guest.driver.kick(NetQueue.RECEIVE);
  }
}, 2);
process.stdout.write('ready\n');
// The parent ends this process when the test is over.
