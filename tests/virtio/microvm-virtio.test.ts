import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGuest } from './guest.js';
import { freeUdpPort, startPeer } from './peer.js';

const dir = mkdtempSync(join(tmpdir(), 'typevisor-virtio-microvm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const disk = join(dir, 'disk.img');
const bytes = new Uint8Array(512 * 1024);
bytes.set(new TextEncoder().encode('microvm-mmio-block'), 7 * 512);
writeFileSync(disk, bytes);

describe('virtio-mmio devices on the microvm machine, driven by the Linux guest', () => {
  it('runs the shell on hvc0 and reads a virtio-blk disk; -snapshot keeps the image unchanged', {
    timeout: 1_500_000,
  }, async () => {
    // The other end of the guest's cable: a peer on QEMU's UDP socket framing that answers ARP and ping.
    const peer = await startPeer([10, 0, 2, 2]);
    const local = await freeUdpPort();
    const g = startGuest(
      [
        '-M',
        'microvm',
        '-snapshot',
        '-device',
        'virtio-serial-device',
        '-device',
        'virtconsole',
        '-drive',
        `file=${disk},if=none,id=d0,format=raw`,
        '-device',
        'virtio-blk-device,drive=d0',
        '-netdev',
        `socket,id=n0,udp=127.0.0.1:${peer.port},localaddr=127.0.0.1:${local}`,
        '-device',
        'virtio-net-device,netdev=n0,mac=52:54:00:12:34:01',
      ],
      // No keyboard controller and no firmware on microvm: Linux must reset by triple fault (as QEMU's docs say).
      'console=hvc0 reboot=t',
    );
    await g.waitFor(/GUEST-READY/, 1_200_000);
    await g.waitFor(/[~/] # /, 120_000);
    expect(await g.run('cat /sys/class/tty/console/active')).toContain('hvc0');
    // The machine described its devices on the command line, as QEMU's auto-kernel-cmdline does.
    expect(await g.run('cat /proc/cmdline')).toMatch(
      /virtio_mmio\.device=4K@0xfeb00000:\d+ virtio_mmio\.device=4K@0xfeb01000:\d+/,
    );
    expect(await g.run('dd if=/dev/vda bs=512 skip=7 count=1 2>/dev/null | head -c 18; echo')).toContain(
      'microvm-mmio-block',
    );
    // A write lands in the -snapshot overlay: the guest reads it back, the image file is unchanged.
    expect(
      await g.run(
        'echo overlay-write | dd of=/dev/vda bs=512 seek=9 conv=sync 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=9 count=1 2>/dev/null | head -c 13; echo',
      ),
    ).toContain('overlay-write');
    // virtio-net over `-netdev socket,udp=`: both directions, through the guest's own IP stack. One echo:
    // the guest kernel has no POSIX timers, so busybox ping cannot schedule a second one.
    const ping = await g.run(
      'ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ping -c 1 10.0.2.2',
    );
    expect(ping).toContain('1 packets transmitted, 1 packets received');
    expect(peer.echoes).toBe(1);
    expect(await g.run('cat /sys/class/net/eth0/address')).toContain('52:54:00:12:34:01');
    peer.close();
    g.type('reboot -f\r'); // no ACPI: the reset ends the VM (-no-reboot)
    expect(await g.exited).toBe(0);
    expect(
      readFileSync(disk)
        .subarray(9 * 512, 9 * 512 + 13)
        .every((b) => b === 0),
    ).toBe(true);
  });
});
