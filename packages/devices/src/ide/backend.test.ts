// A file-backed BlockBackend, written the way the README suggests (the device never imports node:fs;
// the VMM's backend does), running ATAPI READ CAPACITY / READ(10) against an ISO file on disk.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildIsoImage } from '../testing/iso.js';
import type { BlockBackend } from './backend.js';
import { IdeController } from './device.js';
import { IdeDrive } from './drive.js';
import * as R from './registers.js';

/** A read-only backend over a file descriptor (Node). */
class FileBlockBackend implements BlockBackend {
  readonly readOnly = true;
  readonly size: number;
  constructor(private readonly fd: number) {
    this.size = fstatSync(fd).size;
  }
  read(offset: number, dst: Uint8Array): void {
    readSync(this.fd, dst, 0, dst.length, offset);
  }
  write(): void {
    throw new Error('read-only');
  }
}

describe('ATAPI on an ISO file', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('READ CAPACITY and READ(10) read the file through a file-descriptor backend', () => {
    const dir = mkdtempSync(join(tmpdir(), 'typevisor-iso-'));
    dirs.push(dir);
    const path = join(dir, 'test.iso');
    const text = 'served from a file\n';
    writeFileSync(path, buildIsoImage([{ name: 'README.TXT', data: new TextEncoder().encode(text) }]));
    const fd = openSync(path, 'r');
    try {
      const ide = new IdeController({
        drives: { secondaryMaster: new IdeDrive({ kind: 'cdrom', backend: new FileBlockBackend(fd) }) },
      });
      const s = ide.secondary.commandBlock;
      const packet = (cdb: number[], words: number): number[] => {
        s.write(R.REG_LBA_MID, 1, 0xfe);
        s.write(R.REG_LBA_HIGH, 1, 0xff);
        s.write(R.REG_COMMAND, 1, R.AtaCommand.Packet);
        const p = [...cdb, ...new Array(12 - cdb.length).fill(0)];
        for (let i = 0; i < 12; i += 2) s.write(R.REG_DATA, 2, p[i]! | (p[i + 1]! << 8));
        return Array.from({ length: words }, () => s.read(R.REG_DATA, 2)).flatMap((w) => [w & 0xff, w >> 8]);
      };
      expect(packet([R.ScsiCommand.ReadCapacity], 4)).toEqual([0, 0, 0, 20, 0, 0, 8, 0]); // 21 sectors
      const pvd = packet([R.ScsiCommand.Read10, 0, 0, 0, 0, 16, 0, 0, 1], 1024);
      expect(String.fromCharCode(...pvd.slice(1, 6))).toBe('CD001');
      const file = packet([R.ScsiCommand.Read10, 0, 0, 0, 0, 20, 0, 0, 1], 1024);
      expect(new TextDecoder().decode(Uint8Array.from(file.slice(0, text.length)))).toBe(text);
    } finally {
      closeSync(fd);
    }
  });
});
