// Behaviour checked against QEMU docs/specs/fw_cfg.rst: selector/data registers, "QEMU" signature,
// FW_CFG_ID feature bits, the big-endian file directory (key 0x19), the DMA interface (FWCfgDmaAccess,
// control bits, zero fill past the end, error bit) and the "QEMU CFG" DMA signature.
import { GuestMemory } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { FwCfg, bootOrderFile, e820File } from './device.js';
import * as R from './registers.js';

function readItem(fw: FwCfg, key: number, n: number): number[] {
  fw.write(R.SELECTOR_OFFSET, 2, key);
  return Array.from({ length: n }, () => fw.read(R.DATA_OFFSET, 1));
}
const bswap = (v: number) =>
  (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
/** Kicks a DMA request at `at` the way SeaBIOS does: outl(cpu_to_be32(hi), 0x514); outl(be32(lo), 0x518). */
function kick(fw: FwCfg, at: number) {
  fw.write(R.DMA_OFFSET, 4, bswap(Math.floor(at / 2 ** 32)));
  fw.write(R.DMA_OFFSET + 4, 4, bswap(at >>> 0));
}
function dmaRequest(mem: GuestMemory, at: number, control: number, length: number, address: number) {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, control);
  v.setUint32(4, length);
  v.setUint32(8, Math.floor(address / 2 ** 32));
  v.setUint32(12, address >>> 0);
  mem.writeBytes(at, b);
}
const control = (mem: GuestMemory, at: number) =>
  new DataView(Uint8Array.from(readBytes(mem, at, 4)).buffer).getUint32(0);
function readBytes(mem: GuestMemory, at: number, n: number): number[] {
  const b = new Uint8Array(n);
  mem.readBytes(at, b);
  return [...b];
}

describe('fw_cfg', () => {
  it('signature "QEMU" at key 0 and the feature bits at key 1', () => {
    const fw = new FwCfg({ memory: GuestMemory.create(0x10000) });
    expect(String.fromCharCode(...readItem(fw, R.FwCfgKey.Signature, 4))).toBe('QEMU');
    expect(readItem(fw, R.FwCfgKey.Id, 4)).toEqual([R.ID_TRADITIONAL | R.ID_DMA, 0, 0, 0]);
    expect(new FwCfg().item(R.FwCfgKey.Id)).toEqual(Uint8Array.of(R.ID_TRADITIONAL, 0, 0, 0));
  });

  it('reads 0 past the end of an item and for unknown keys', () => {
    const fw = new FwCfg();
    fw.addU16(R.FwCfgKey.NbCpus, 2);
    expect(readItem(fw, R.FwCfgKey.NbCpus, 3)).toEqual([2, 0, 0]);
    expect(readItem(fw, 0x1234, 2)).toEqual([0, 0]);
  });

  it('lists files in a big-endian directory at key 0x19', () => {
    const fw = new FwCfg();
    const key = fw.addFile('etc/e820', e820File([{ address: 0, length: 0x9fc00, type: R.E820.Ram }]));
    fw.addFile('bootorder', bootOrderFile(['/pci@i0cf8/ide@1,1/drive@0/disk@0']));
    expect(key).toBe(R.FwCfgKey.FileFirst);
    const dir = readItem(fw, R.FwCfgKey.FileDir, 4 + 2 * 64);
    expect(dir.slice(0, 4)).toEqual([0, 0, 0, 2]);
    expect(dir.slice(4, 8)).toEqual([0, 0, 0, 20]); // size
    expect(dir.slice(8, 10)).toEqual([0, 0x20]); // select
    expect(String.fromCharCode(...dir.slice(12, 20))).toBe('etc/e820');
    expect(dir[20]).toBe(0);
    expect(readItem(fw, key, 20)).toEqual([...e820File([{ address: 0, length: 0x9fc00, type: 1 }])]);
    expect(() => fw.addFile('x'.repeat(56), new Uint8Array())).toThrow(/InvalidArgument/);
  });

  it('DMA: reading 0x514 gives the "QEMU CFG" signature', () => {
    const fw = new FwCfg({ memory: GuestMemory.create(0x10000) });
    const bytes = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => fw.read(R.DMA_OFFSET + i, 1));
    expect(String.fromCharCode(...bytes)).toBe('QEMU CFG');
  });

  it('DMA: select + read copies the file, zero-fills past its end and clears control', () => {
    const mem = GuestMemory.create(0x10000);
    const fw = new FwCfg({ memory: mem });
    const key = fw.addFile('etc/hello', new TextEncoder().encode('hello'));
    mem.fill(0x2000, 8, 0xaa);
    dmaRequest(mem, 0x1000, (key << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_READ, 8, 0x2000);
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(0);
    expect(readBytes(mem, 0x2000, 8)).toEqual([104, 101, 108, 108, 111, 0, 0, 0]);
  });

  it('DMA: skip advances the offset', () => {
    const mem = GuestMemory.create(0x10000);
    const fw = new FwCfg({ memory: mem });
    const key = fw.addFile('f', Uint8Array.of(1, 2, 3, 4));
    dmaRequest(mem, 0x1000, (key << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_SKIP, 2, 0);
    kick(fw, 0x1000);
    dmaRequest(mem, 0x1000, R.DMA_CTL_READ, 2, 0x2000);
    kick(fw, 0x1000);
    expect(readBytes(mem, 0x2000, 2)).toEqual([3, 4]);
  });

  it('DMA: a destination outside guest RAM sets the error bit and writes nothing', () => {
    const mem = GuestMemory.create(0x10000);
    const fw = new FwCfg({ memory: mem });
    const key = fw.addFile('f', new Uint8Array(64).fill(9));
    dmaRequest(mem, 0x1000, (key << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_READ, 64, 0xfff0);
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(R.DMA_CTL_ERROR);
    dmaRequest(mem, 0x1000, R.DMA_CTL_READ, 0xffff_ffff, 0x2000); // 4 GiB into 64 KiB of RAM
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(R.DMA_CTL_ERROR);
  });

  it('DMA: writes only to writable files, within their size', () => {
    const mem = GuestMemory.create(0x10000);
    const fw = new FwCfg({ memory: mem });
    const ro = fw.addFile('ro', new Uint8Array(4));
    const rw = fw.addFile('rw', new Uint8Array(4), true);
    mem.writeBytes(0x2000, Uint8Array.of(5, 6, 7, 8, 9));
    dmaRequest(mem, 0x1000, (ro << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_WRITE, 4, 0x2000);
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(R.DMA_CTL_ERROR);
    dmaRequest(mem, 0x1000, (rw << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_WRITE, 5, 0x2000);
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(R.DMA_CTL_ERROR);
    dmaRequest(mem, 0x1000, (rw << 16) | R.DMA_CTL_SELECT | R.DMA_CTL_WRITE, 4, 0x2000);
    kick(fw, 0x1000);
    expect(control(mem, 0x1000)).toBe(0);
    expect([...fw.item(rw)!]).toEqual([5, 6, 7, 8]);
  });

  it('register state round-trips through JSON', () => {
    const fw = new FwCfg();
    fw.addU32(R.FwCfgKey.RamSize, 0x1234);
    readItem(fw, R.FwCfgKey.RamSize, 1);
    const copy = new FwCfg();
    copy.addU32(R.FwCfgKey.RamSize, 0x1234);
    copy.loadState(JSON.parse(JSON.stringify(fw.getState())));
    expect(copy.read(R.DATA_OFFSET, 1)).toBe(0x12);
  });
});
