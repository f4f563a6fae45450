import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { type BlockBackend, MemoryBlockBackend } from './backend.js';
import { IdeController } from './device.js';
import { IdeDrive } from './drive.js';
import * as R from './registers.js';

/** A disk whose flush result the test chooses, counting the calls. */
class FlushingDisk extends MemoryBlockBackend implements BlockBackend {
  flushes = 0;
  constructor(private readonly result: boolean) {
    super(new Uint8Array(8 * 512));
  }
  flush(): boolean {
    this.flushes++;
    return this.result;
  }
}

function flushWith(backend: BlockBackend, cmd: number): number {
  const ide = new IdeController({
    irq14: new FakeIrqLine(),
    drives: { primaryMaster: new IdeDrive({ kind: 'disk', backend }) },
  });
  ide.primary.commandBlock.write(6, 1, 0xe0);
  ide.primary.commandBlock.write(7, 1, cmd);
  return ide.primary.commandBlock.read(7, 1);
}

describe('FLUSH CACHE', () => {
  it("calls the backend's flush (fsync for a file) and completes", () => {
    for (const cmd of [R.AtaCommand.FlushCache, R.AtaCommand.FlushCacheExt]) {
      const disk = new FlushingDisk(true);
      expect(flushWith(disk, cmd) & 0x01).toBe(0);
      expect(disk.flushes).toBe(1);
    }
  });

  it('aborts the command when the host cannot flush', () => {
    const disk = new FlushingDisk(false);
    const status = flushWith(disk, R.AtaCommand.FlushCache);
    expect(status & 0x01).toBe(1); // ERR
    expect(disk.flushes).toBe(1);
  });

  it('completes on a backend without flush (memory)', () => {
    expect(flushWith(new MemoryBlockBackend(new Uint8Array(512)), R.AtaCommand.FlushCache) & 0x01).toBe(0);
  });
});
