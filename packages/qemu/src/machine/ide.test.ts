import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBlockBackend } from '@typevisor/virtio';
import { describe, expect, it } from 'vitest';
import { nodeVirtioBackends } from '../node/virtio-backends.js';
import { parseCommandLine } from '../options/parse.js';
import { ideDrivePositions } from './ide.js';
import { realModeGuest } from './real-mode-guest.js';
import { noVirtioIo, type VirtioIo } from './virtio-devices.js';

/** LBA28 setup for one sector at `lba` on the primary (0x1F0) or secondary (0x170) channel's master. */
const setup = (base: number, lba: number) => [
  0xba,
  (base + 6) & 0xff,
  base >> 8,
  0xb0,
  0xe0,
  0xee, // drive/head: LBA, master
  0xba,
  (base + 2) & 0xff,
  base >> 8,
  0xb0,
  0x01,
  0xee, // sector count 1
  0xba,
  (base + 3) & 0xff,
  base >> 8,
  0xb0,
  lba,
  0xee, // LBA 7:0
  0x42,
  0x30,
  0xc0,
  0xee,
  0x42,
  0xee, // LBA 15:8 and 23:16 = 0
];
const command = (base: number, cmd: number) => [0xba, (base + 7) & 0xff, base >> 8, 0xb0, cmd, 0xee];
const waitDrq = [0xec, 0xa8, 0x08, 0x74, 0xfb]; // in al,dx; test al,8; jz -5
const storeStatusAndHalt = [0xec, 0xa2, 0x00, 0x40, 0xf4]; // in al,dx; mov [0x4000],al; hlt

/** READ SECTORS of LBA 0 into 0000:2000 with rep insw. */
const readSector0 = (base: number) => [
  ...setup(base, 0),
  ...command(base, 0x20),
  ...waitDrq,
  0xba,
  base & 0xff,
  base >> 8,
  0xbf,
  0x00,
  0x20,
  0xb9,
  0x00,
  0x01,
  0xfc,
  0xf3,
  0x6d, // rep insw
  0xba,
  (base + 7) & 0xff,
  base >> 8,
  ...storeStatusAndHalt,
];
/** WRITE SECTORS of LBA 1 from 0000:3000 with rep outsw, then FLUSH CACHE. */
const writeSector1AndFlush = [
  ...setup(0x1f0, 1),
  ...command(0x1f0, 0x30),
  ...waitDrq,
  0xba,
  0xf0,
  0x01,
  0xbe,
  0x00,
  0x30,
  0xb9,
  0x00,
  0x01,
  0xfc,
  0xf3,
  0x6f, // rep outsw
  ...command(0x1f0, 0xe7),
  ...storeStatusAndHalt,
];

function images(files: Record<string, MemoryBlockBackend>): VirtioIo {
  return {
    ...noVirtioIo(),
    backends: {
      openDrive: (d) => {
        const b = files[d.file];
        if (b === undefined) throw new Error('No such file or directory');
        return { backend: b, close() {} };
      },
    },
  };
}

function disk(sectors: number): MemoryBlockBackend {
  const b = new MemoryBlockBackend(sectors * 512);
  for (let i = 0; i < b.bytes.length; i++) b.bytes[i] = (i * 7 + (i >> 9)) & 0xff;
  return b;
}

const halted = (g: ReturnType<typeof realModeGuest>) => () => (g.m.exitCounts.get('Hlt') ?? 0) > 0;

describe('IDE drives on the pc machine', () => {
  it('-hda: a real-mode guest reads sector 0 through the legacy ports 0x1F0-0x1F7 (PIO)', () => {
    const img = disk(4);
    const g = realModeGuest(['-hda', 'disk.img'], readSector0(0x1f0), [], images({ 'disk.img': img }));
    g.run(halted(g));
    expect(g.m.ram.subarray(0x2000, 0x2200)).toEqual(img.bytes.subarray(0, 512));
    expect(g.m.ram[0x4000]! & 0x89).toBe(0); // status: not busy, no DRQ, no error
    expect(g.m.irqCounts.counts[14]).toBeGreaterThan(0); // IRQ 14 raised on completion
  });

  it('-cdrom is the secondary master (0x170-0x177, 0x376, IRQ 15), an ATAPI CD-ROM', () => {
    const iso = new MemoryBlockBackend(4 * 2048);
    const identifyPacket = [
      ...command(0x170, 0xa1), // IDENTIFY PACKET DEVICE
      ...waitDrq,
      0xba,
      0x70,
      0x01,
      0xbf,
      0x00,
      0x20,
      0xb9,
      0x00,
      0x01,
      0xfc,
      0xf3,
      0x6d, // rep insw
      0xba,
      0x77,
      0x01,
      ...storeStatusAndHalt,
    ];
    const g = realModeGuest(['-cdrom', 'cd.iso'], identifyPacket, [], images({ 'cd.iso': iso }));
    g.run(halted(g));
    const word0 = g.m.ram[0x2000]! | (g.m.ram[0x2001]! << 8);
    expect(word0 >> 14).toBe(2); // ATAPI
    expect((word0 >> 8) & 0x1f).toBe(5); // CD-ROM
    expect(g.m.irqCounts.counts[15]).toBeGreaterThan(0);
    expect(g.m.ide?.drives.get(2)?.kind).toBe('cdrom');
    expect(g.m.pio.lookup(0x376)?.name).toBe('ide');
  });

  it('WRITE SECTORS changes the image and FLUSH CACHE flushes the backend (fsync for a file)', () => {
    const img = disk(4);
    const data = Array.from({ length: 512 }, (_, i) => (255 - i) & 0xff);
    const g = realModeGuest(
      ['-drive', 'file=d.img,if=ide,format=raw'],
      writeSector1AndFlush,
      [[0x3000, data]],
      images({ 'd.img': img }),
    );
    g.run(halted(g));
    expect([...img.bytes.subarray(512, 1024)]).toEqual(data);
    expect(img.flushes).toBe(1);
    expect(g.m.ram[0x4000]! & 0x01).toBe(0); // no ERR
  });

  it('with a real image file: the written sector is in the file, and readonly=on opens it read-only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'typevisor-ide-'));
    const file = join(dir, 'disk.raw');
    writeFileSync(file, new Uint8Array(4 * 512));
    const data = Array.from({ length: 512 }, (_, i) => (i * 3) & 0xff);
    const io: VirtioIo = { ...noVirtioIo(), backends: nodeVirtioBackends() };
    const g = realModeGuest(['-hda', file], writeSector1AndFlush, [[0x3000, data]], io);
    g.run(halted(g));
    g.m.ide?.close();
    expect([...readFileSync(file).subarray(512, 1024)]).toEqual(data);
    const ro = realModeGuest(['-drive', `file=${file},readonly=on`], [0xf4], [], io);
    expect(ro.m.ide?.drives.get(0)?.backend?.readOnly).toBe(true);
    ro.m.ide?.close();
    rmSync(dir, { recursive: true });
  });

  it('readonly=on: the write is aborted and the image is unchanged', () => {
    const img = disk(4);
    const before = img.bytes.slice();
    const program = [
      ...setup(0x1f0, 1),
      ...command(0x1f0, 0x30),
      ...storeStatusAndHalt.slice(0, 0),
      0xec,
      0xa2,
      0x00,
      0x40,
      0xf4,
    ];
    const g = realModeGuest(
      ['-drive', 'file=d.img,if=ide,readonly=on'],
      program,
      [],
      images({ 'd.img': img }),
    );
    g.run(halted(g));
    expect(img.bytes).toEqual(before);
    expect(g.m.ram[0x4000]! & 0x01).toBe(1); // ERR: the drive refused the write
  });

  it('a missing image names the path; two drives at one position are refused as QEMU does', () => {
    expect(() => realModeGuest(['-hda', '/nope/disk.img'], [0xf4], [], images({}))).toThrow(
      "-drive file=/nope/disk.img,if=ide: Could not open '/nope/disk.img': No such file or directory",
    );
    const cmd = parseCommandLine(['-hda', 'a.img', '-drive', 'file=b.img,index=0']);
    if (cmd.action !== 'run') throw new Error('not a run');
    expect(() => ideDrivePositions(cmd.config.drives)).toThrow('drive with bus=0, unit=0 (index=0) exists');
    const auto = parseCommandLine(['-cdrom', 'cd.iso', '-drive', 'file=a.img', '-drive', 'file=b.img']);
    if (auto.action !== 'run') throw new Error('not a run');
    expect([...ideDrivePositions(auto.config.drives)].map(([i, d]) => `${i}:${d.file}`).sort()).toEqual([
      '0:a.img',
      '1:b.img',
      '2:cd.iso',
    ]);
  });

  it('is PCI function 00:01.1 and its bus-master registers follow BAR4 where the guest puts it', () => {
    const g = realModeGuest(['-hda', 'disk.img'], [0xf4], [], images({ 'disk.img': disk(1) }));
    const host = g.m.pci.host;
    expect(host.function(1, 1)).toBe(g.m.ide?.controller);
    const dfn = (1 << 3) | 1;
    host.configWrite(0, dfn, 0x20, 4, 0xc040);
    host.configWrite(0, dfn, 0x04, 2, 0x0005); // I/O decode and bus master on
    expect(g.m.pio.lookup(0xc040)?.name).toBe('piix-bmdma');
    host.configWrite(0, dfn, 0x20, 4, 0xc080);
    expect(g.m.pio.lookup(0xc040)).toBeUndefined();
    expect(g.m.pio.lookup(0xc08f)?.name).toBe('piix-bmdma');
    host.configWrite(0, dfn, 0x04, 2, 0x0000); // decode off: gone
    expect(g.m.pio.lookup(0xc080)).toBeUndefined();
  });

  it('no IDE drive, no controller (the ports stay unassigned)', () => {
    const g = realModeGuest([], [0xf4]);
    expect(g.m.ide).toBeUndefined();
    expect(g.m.pio.lookup(0x1f0)).toBeUndefined();
  });
});
