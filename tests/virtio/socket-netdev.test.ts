import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type Guest, startGuest } from './guest.js';

/** A TCP port that was free a moment ago (the listening Typevisor takes it next). */
function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

function nic(netdev: string, mac: string): string[] {
  return ['-netdev', netdev, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`];
}

async function ready(g: Guest): Promise<void> {
  await g.waitFor(/GUEST-READY/, 1_200_000);
  await g.waitFor(/[~/] # /, 120_000);
}

describe('two Typevisor processes on one QEMU TCP socket netdev', () => {
  it('guests on listen= and connect= ping each other', { timeout: 1_500_000 }, async () => {
    const port = await freeTcpPort();
    const t0 = Date.now();
    const a = startGuest(nic(`socket,id=n0,listen=127.0.0.1:${port}`, '52:54:00:12:34:0a'), 'console=ttyS0');
    let b: Guest | undefined;
    try {
      // The connecting side needs the listener's socket: wait until the first VMM prints anything.
      await a.waitFor(/\S/, 120_000);
      b = startGuest(nic(`socket,id=n0,connect=127.0.0.1:${port}`, '52:54:00:12:34:0b'), 'console=ttyS0');
      await Promise.all([ready(a), ready(b)]);
      console.log(`socket netdev: both guests at the shell after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      expect(await a.run('ip link set eth0 up && ip addr add 10.0.3.1/24 dev eth0')).not.toMatch(/ip:/);
      expect(await b.run('ip link set eth0 up && ip addr add 10.0.3.2/24 dev eth0')).not.toMatch(/ip:/);
      // One echo: the guest kernel has no POSIX timers, so busybox ping cannot schedule a second one.
      expect(await b.run('ping -c 1 10.0.3.1')).toContain('1 packets transmitted, 1 packets received');
      expect(await a.run('ping -c 1 10.0.3.2')).toContain('1 packets transmitted, 1 packets received');
      expect(await a.run('cat /sys/class/net/eth0/address')).toContain('52:54:00:12:34:0a');
      console.log(`socket netdev: done after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      a.type('reboot -f\r');
      b.type('reboot -f\r');
      expect(await a.exited).toBe(0);
      expect(await b.exited).toBe(0);
    } finally {
      a.kill();
      b?.kill();
    }
  });
});
