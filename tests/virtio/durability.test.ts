import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGuest } from './guest.js';

const dir = mkdtempSync(join(tmpdir(), 'typevisor-virtio-durability-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECTOR = 512;
const SECTORS = 8192; // a 4 MiB raw disk: one record per sector
const disk = join(dir, 'disk.img');
writeFileSync(disk, new Uint8Array(SECTORS * SECTOR));

/** mulberry32: a small seeded generator, so that a failing kill moment can be replayed with DURABILITY_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const record = (n: number) => `REC${String(n).padStart(5, '0')}`;

describe('virtio-blk durability across a SIGKILL of the VMM', () => {
  it('keeps every record the guest reported flushed', { timeout: 1_500_000 }, async () => {
    const seed = Number(process.env.DURABILITY_SEED ?? Date.now() % 2 ** 31);
    console.log(`durability: seed ${seed} (replay with DURABILITY_SEED=${seed})`);
    const next = random(seed);

    const g = startGuest(['-drive', `file=${disk},if=virtio,format=raw`], 'console=ttyS0');
    await g.waitFor(/GUEST-READY/, 1_200_000);
    await g.waitFor(/[~/] # /, 120_000);
    const from = g.output().length;
    // Record i goes to sector i; dd's conv=fsync makes the kernel send a virtio-blk FLUSH before dd
    // exits, and only then does the shell print the record's number.
    g.type(
      `i=0; while [ $i -lt ${SECTORS} ]; do printf REC%05d $i | dd of=/dev/vda bs=${SECTOR} seek=$i conv=sync,fsync 2>/dev/null && echo FLUSHED:$i; i=$((i+1)); done\r`,
    );
    await g.waitFor(/FLUSHED:2\r\n/, 120_000, from);
    const delay = Math.floor(next() * 3000);
    console.log(`durability: SIGKILL ${delay} ms after record 2`);
    await new Promise((r) => setTimeout(r, delay));
    g.kill();
    expect(await g.exited).toBe(137);

    const printed = [
      ...g
        .output()
        .slice(from)
        .matchAll(/FLUSHED:(\d+)\r\n/g),
    ].map((m) => Number(m[1]));
    console.log(`durability: ${printed.length} records reported flushed before the kill`);
    // The guest wrote the records in order, and reported each one.
    expect(printed).toEqual(printed.map((_, i) => i));
    expect(printed.length).toBeLessThan(SECTORS); // killed while it was still writing
    const image = readFileSync(disk);
    const missing = printed.filter(
      (n) => image.subarray(n * SECTOR, n * SECTOR + 8).toString('latin1') !== record(n),
    );
    expect(missing).toEqual([]);
  });
});
