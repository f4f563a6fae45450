// Behaviour checked against ATA/ATAPI-6 (INCITS 361-2002): IDENTIFY DEVICE word layout (8.15, Table
// 27), PIO data-in/out and DMA protocols (9.5-9.10), PACKET protocol (9.11), signatures (9.12);
// SFF-8038i bus master registers and PRD format; MMC-3 READ CAPACITY / READ(10) / READ TOC and SPC-3
// INQUIRY / REQUEST SENSE.
import { GuestMemory } from '@typevisor/memory';
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { buildIsoImage } from '../testing/iso.js';
import { MemoryBlockBackend } from './backend.js';
import { IdeController } from './device.js';
import { IdeDrive } from './drive.js';
import * as R from './registers.js';

const SECTORS = 4096;
function diskImage(): Uint8Array {
  const img = new Uint8Array(SECTORS * 512);
  for (let s = 0; s < SECTORS; s++) img.fill(s & 0xff, s * 512, s * 512 + 512);
  return img;
}
const FILE_TEXT = 'Hello from an ISO 9660 image\n';
/** HELLO.TXT at LBA 20, then FILL.BIN whose sector n (21-31) is filled with n: 32 sectors in all. */
function isoImage(): Uint8Array {
  const fill = new Uint8Array(11 * 2048);
  for (let k = 0; k < 11; k++) fill.fill(21 + k, k * 2048, (k + 1) * 2048);
  return buildIsoImage([
    { name: 'HELLO.TXT', data: new TextEncoder().encode(FILE_TEXT) },
    { name: 'FILL.BIN', data: fill },
  ]);
}

function make(opts: { cdMedium?: boolean } = {}) {
  const irq14 = new FakeIrqLine();
  const irq15 = new FakeIrqLine();
  const memory = GuestMemory.create(0x100000);
  const disk = new MemoryBlockBackend(diskImage());
  const cd = opts.cdMedium === false ? null : new MemoryBlockBackend(isoImage(), true);
  const ide = new IdeController({
    memory,
    irq14,
    irq15,
    drives: {
      primaryMaster: new IdeDrive({ kind: 'disk', backend: disk, serial: 'SN123', model: 'TEST DISK' }),
      secondaryMaster: new IdeDrive({ kind: 'cdrom', backend: cd }),
    },
  });
  const p = ide.primary.commandBlock;
  const s = ide.secondary.commandBlock;
  const words = (dev: typeof p, n: number) => Array.from({ length: n }, () => dev.read(R.REG_DATA, 2));
  const bytesOf = (w: number[]) => w.flatMap((x) => [x & 0xff, x >> 8]);
  return { ide, p, s, irq14, irq15, memory, disk, words, bytesOf };
}

function lba28(dev: { write(o: number, s: 1, v: number): void }, lba: number, count: number, cmd: number) {
  dev.write(R.REG_SECTOR_COUNT, 1, count);
  dev.write(R.REG_LBA_LOW, 1, lba & 0xff);
  dev.write(R.REG_LBA_MID, 1, (lba >> 8) & 0xff);
  dev.write(R.REG_LBA_HIGH, 1, (lba >> 16) & 0xff);
  dev.write(R.REG_DEVICE, 1, R.DEV_LBA | ((lba >> 24) & 0xf));
  dev.write(R.REG_COMMAND, 1, cmd);
}

function sendPacket(s: { write(o: number, sz: 1 | 2, v: number): void }, cdb: number[], byteLimit = 0xfffe) {
  s.write(R.REG_FEATURES, 1, 0);
  s.write(R.REG_LBA_MID, 1, byteLimit & 0xff);
  s.write(R.REG_LBA_HIGH, 1, byteLimit >> 8);
  s.write(R.REG_COMMAND, 1, R.AtaCommand.Packet);
  const p = [...cdb, ...new Array(12 - cdb.length).fill(0)];
  for (let i = 0; i < 12; i += 2) s.write(R.REG_DATA, 2, p[i]! | (p[i + 1]! << 8));
}

describe('IDE disk (ATA)', () => {
  it('signature and status after reset identify an ATA disk', () => {
    const { p } = make();
    expect([2, 3, 4, 5].map((o) => p.read(o, 1))).toEqual([...R.ATA_SIGNATURE]);
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
  });

  it('IDENTIFY DEVICE returns the ATA-6 word layout: strings, geometry, LBA28/LBA48 capacity', () => {
    const { p, irq14, words, bytesOf } = make();
    p.write(R.REG_COMMAND, 1, R.AtaCommand.IdentifyDevice);
    expect(irq14.level).toBe(true);
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC | R.ST_DRQ);
    expect(irq14.level).toBe(false); // status read clears INTRQ
    const w = words(p, 256);
    expect(w[0]).toBe(0x0040);
    const str = (a: number, b: number) =>
      String.fromCharCode(...bytesOf(w.slice(a, b)).map((_, i, arr) => arr[i ^ 1]!));
    expect(str(10, 20).trim()).toBe('SN123');
    expect(str(27, 47).trim()).toBe('TEST DISK');
    expect(w[49]! & 0x0200).toBe(0x0200); // LBA supported
    expect(w[60]! | (w[61]! << 16)).toBe(SECTORS);
    expect(w[83]! & 0x0400).toBe(0x0400); // 48-bit feature set
    expect(w[100]! + w[101]! * 65536).toBe(SECTORS);
    expect(w[1]).toBe(Math.floor(SECTORS / (16 * 63)));
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
  });

  it('READ SECTORS (PIO) interrupts once per sector and returns the data', () => {
    const { p, irq14, words, bytesOf } = make();
    lba28(p, 7, 2, R.AtaCommand.ReadSectors);
    expect(irq14.risingEdges).toBe(1);
    p.read(R.REG_STATUS, 1);
    expect(bytesOf(words(p, 256)).every((b) => b === 7)).toBe(true);
    expect(irq14.risingEdges).toBe(2);
    p.read(R.REG_STATUS, 1);
    expect(bytesOf(words(p, 256)).every((b) => b === 8)).toBe(true);
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
  });

  it('32-bit data port accesses move two words', () => {
    const { p } = make();
    lba28(p, 3, 1, R.AtaCommand.ReadSectors);
    expect(p.read(R.REG_DATA, 4)).toBe(0x0303_0303);
  });

  it('WRITE SECTORS stores data and interrupts at completion', () => {
    const { p, irq14, disk } = make();
    lba28(p, 100, 1, R.AtaCommand.WriteSectors);
    expect(irq14.level).toBe(false); // no interrupt before the first block
    for (let i = 0; i < 256; i++) p.write(R.REG_DATA, 2, 0xbeef);
    expect(irq14.level).toBe(true);
    expect(disk.bytes[100 * 512]).toBe(0xef);
    expect(disk.bytes[100 * 512 + 511]).toBe(0xbe);
  });

  it('READ SECTORS EXT uses the LBA48 high-order bytes', () => {
    const { p, words, bytesOf } = make();
    const put = (o: number, hi: number, lo: number) => {
      p.write(o, 1, hi);
      p.write(o, 1, lo);
    };
    put(R.REG_SECTOR_COUNT, 0, 1);
    put(R.REG_LBA_LOW, 0, 0x05);
    put(R.REG_LBA_MID, 0, 0x01);
    put(R.REG_LBA_HIGH, 0, 0);
    p.write(R.REG_DEVICE, 1, R.DEV_LBA);
    p.write(R.REG_COMMAND, 1, R.AtaCommand.ReadSectorsExt);
    expect(bytesOf(words(p, 1))).toEqual([0x05, 0x05]); // sector 0x105 is filled with 0x05
    // HOB in device control reads back the previous (high-order) values
    const ide = make();
    ide.p.write(R.REG_SECTOR_COUNT, 1, 0x12);
    ide.p.write(R.REG_SECTOR_COUNT, 1, 0x34);
    ide.ide.primary.controlBlock.write(0, 1, R.CTL_HOB);
    expect(ide.p.read(R.REG_SECTOR_COUNT, 1)).toBe(0x12);
  });

  it('selecting the other drive mid-transfer neither moves nor crashes the transfer', () => {
    const { ide, s, disk } = make();
    // Secondary channel: master is the CD-ROM, the slave is absent. Start a write on the primary disk
    // instead, then switch the primary channel to its (absent) slave while sending data.
    const p = ide.primary.commandBlock;
    lba28(p, 5, 1, R.AtaCommand.WriteSectors);
    p.write(R.REG_DEVICE, 1, R.DEV_SELECT_SLAVE);
    for (let i = 0; i < 256; i++) p.write(R.REG_DATA, 2, 0x1111);
    expect(disk.bytes[5 * 512]).toBe(0x11);
    expect(p.read(R.REG_STATUS, 1)).toBe(0); // the selected position is empty
    p.write(R.REG_DEVICE, 1, 0);
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
    // A PACKET command on the CD-ROM, then the empty slave selected: the packet still reaches the CD.
    s.write(R.REG_COMMAND, 1, R.AtaCommand.Packet);
    s.write(R.REG_DEVICE, 1, R.DEV_SELECT_SLAVE);
    for (let i = 0; i < 6; i++) s.write(R.REG_DATA, 2, 0); // TEST UNIT READY
    s.write(R.REG_DEVICE, 1, 0);
    expect(s.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
    expect(s.read(R.REG_SECTOR_COUNT, 1)).toBe(R.IREASON_IO | R.IREASON_COD);
  });

  it('a sector range past the end aborts with IDNF', () => {
    const { p } = make();
    lba28(p, SECTORS - 1, 2, R.AtaCommand.ReadSectors);
    expect(p.read(R.REG_STATUS, 1) & R.ST_ERR).toBe(R.ST_ERR);
    expect(p.read(R.REG_ERROR, 1)).toBe(R.ERR_IDNF | R.ERR_ABRT);
  });

  it('READ MULTIPLE transfers SET MULTIPLE MODE sectors per interrupt', () => {
    const { p, irq14, words } = make();
    p.write(R.REG_SECTOR_COUNT, 1, 4);
    p.write(R.REG_COMMAND, 1, R.AtaCommand.SetMultipleMode);
    p.read(R.REG_STATUS, 1);
    lba28(p, 0, 8, R.AtaCommand.ReadMultiple);
    const edges = irq14.risingEdges;
    p.read(R.REG_STATUS, 1);
    words(p, 256 * 4);
    expect(irq14.risingEdges).toBe(edges + 1);
    p.write(R.REG_SECTOR_COUNT, 1, 3); // not a power of two
    p.write(R.REG_COMMAND, 1, R.AtaCommand.SetMultipleMode);
    expect(p.read(R.REG_ERROR, 1)).toBe(R.ERR_ABRT);
  });

  it('READ DMA through a PRD table fills guest memory and interrupts', () => {
    const { ide, p, irq14, memory } = make();
    // PRD table at 0x8000: 512 bytes to 0x10000, then 512 bytes to 0x20000 (EOT).
    memory.write32(0x8000, 0x10000);
    memory.write32(0x8004, 512);
    memory.write32(0x8008, 0x20000);
    memory.write32(0x800c, 512 | (R.PRD_EOT << 16));
    const bm = ide.busMaster;
    bm.write(R.BM_PRD_TABLE, 4, 0x8000);
    lba28(p, 20, 2, R.AtaCommand.ReadDma);
    expect(irq14.level).toBe(false);
    bm.write(R.BM_COMMAND, 1, R.BMCMD_START | R.BMCMD_TO_MEMORY);
    expect(irq14.level).toBe(true);
    expect(bm.read(R.BM_STATUS, 1) & (R.BMST_INTERRUPT | R.BMST_ACTIVE)).toBe(R.BMST_INTERRUPT);
    expect(memory.read8(0x10000)).toBe(20);
    expect(memory.read8(0x201ff)).toBe(21);
    bm.write(R.BM_STATUS, 1, R.BMST_INTERRUPT); // write 1 to clear
    expect(bm.read(R.BM_STATUS, 1) & R.BMST_INTERRUPT).toBe(0);
    expect(p.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
  });

  it('DMA to an address outside guest RAM fails with the bus master error bit', () => {
    const { ide, p, memory } = make();
    memory.write32(0x8000, 0xfff0_0000);
    memory.write32(0x8004, 512 | (R.PRD_EOT << 16));
    ide.busMaster.write(R.BM_PRD_TABLE, 4, 0x8000);
    ide.busMaster.write(R.BM_COMMAND, 1, R.BMCMD_START | R.BMCMD_TO_MEMORY);
    lba28(p, 0, 1, R.AtaCommand.ReadDma);
    expect(ide.busMaster.read(R.BM_STATUS, 1) & R.BMST_ERROR).toBe(R.BMST_ERROR);
    expect(p.read(R.REG_STATUS, 1) & R.ST_ERR).toBe(R.ST_ERR);
  });

  it('the PIIX3 IDE function identifies itself and exposes BAR4', () => {
    const { ide } = make();
    expect(ide.configRead(0, 4)).toBe(0x7010_8086);
    expect(ide.configRead(0x09, 1)).toBe(0x80);
    ide.configWrite(0x20, 4, 0xffff_ffff);
    expect(ide.configRead(0x20, 4)).toBe(0xffff_fff1);
  });
});

describe('IDE CD-ROM (ATAPI)', () => {
  it('leaves the ATAPI signature and aborts IDENTIFY DEVICE', () => {
    const { s } = make();
    s.write(R.REG_COMMAND, 1, R.AtaCommand.IdentifyDevice);
    expect(s.read(R.REG_STATUS, 1) & R.ST_ERR).toBe(R.ST_ERR);
    expect([s.read(R.REG_LBA_MID, 1), s.read(R.REG_LBA_HIGH, 1)]).toEqual([0x14, 0xeb]);
  });

  it('IDENTIFY PACKET DEVICE describes a removable CD-ROM with 12-byte packets', () => {
    const { s, words } = make();
    s.write(R.REG_COMMAND, 1, R.AtaCommand.IdentifyPacketDevice);
    const w = words(s, 256);
    expect(w[0]! >> 14).toBe(2); // ATAPI
    expect((w[0]! >> 8) & 0x1f).toBe(5); // CD-ROM
    expect(w[0]! & 0x80).toBe(0x80); // removable
    expect(w[0]! & 3).toBe(0); // 12-byte packets
  });

  it('READ CAPACITY reports the last LBA and 2048-byte blocks', () => {
    const { s, irq15, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.ReadCapacity]);
    expect(irq15.level).toBe(true);
    expect(s.read(R.REG_SECTOR_COUNT, 1)).toBe(R.IREASON_IO);
    expect(s.read(R.REG_LBA_MID, 1) | (s.read(R.REG_LBA_HIGH, 1) << 8)).toBe(8);
    s.read(R.REG_STATUS, 1);
    expect(bytesOf(words(s, 4))).toEqual([0, 0, 0, 31, 0, 0, 8, 0]);
    expect(s.read(R.REG_SECTOR_COUNT, 1)).toBe(R.IREASON_IO | R.IREASON_COD);
    expect(s.read(R.REG_STATUS, 1)).toBe(R.ST_DRDY | R.ST_DSC);
  });

  it('READ(10) of LBA 16 returns the ISO 9660 primary volume descriptor', () => {
    const { s, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.Read10, 0, 0, 0, 0, 16, 0, 0, 1]);
    const sector = bytesOf(words(s, 1024));
    expect(sector[0]).toBe(1);
    expect(String.fromCharCode(...sector.slice(1, 6))).toBe('CD001');
    expect(String.fromCharCode(...sector.slice(40, 49))).toBe('TYPEVISOR');
    expect(s.read(R.REG_SECTOR_COUNT, 1)).toBe(R.IREASON_IO | R.IREASON_COD);
  });

  it('splits data into DRQ blocks of the host byte-count limit', () => {
    const { s, irq15, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.Read10, 0, 0, 0, 0, 21, 0, 0, 2], 2048);
    for (const lba of [21, 22]) {
      expect(s.read(R.REG_LBA_MID, 1) | (s.read(R.REG_LBA_HIGH, 1) << 8)).toBe(2048);
      s.read(R.REG_STATUS, 1);
      expect(bytesOf(words(s, 1024)).every((b) => b === lba)).toBe(true);
    }
    expect(irq15.risingEdges).toBe(3); // two data blocks and the completion
  });

  it('reads a file from the ISO image by walking PVD -> root directory -> extent with READ(10)', () => {
    const { s, words, bytesOf } = make();
    const readSector = (lba: number) => {
      sendPacket(s, [
        R.ScsiCommand.Read10,
        0,
        lba >>> 24,
        (lba >> 16) & 0xff,
        (lba >> 8) & 0xff,
        lba & 0xff,
        0,
        0,
        1,
      ]);
      return Uint8Array.from(bytesOf(words(s, 1024)));
    };
    const le32 = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);
    const pvd = readSector(16);
    const rootLba = le32(pvd, 156 + 2);
    const dir = readSector(rootLba);
    let o = 0;
    let file: { lba: number; size: number } | undefined;
    while (dir[o]! > 0) {
      const name = new TextDecoder().decode(dir.subarray(o + 33, o + 33 + dir[o + 32]!));
      if (name === 'HELLO.TXT;1') file = { lba: le32(dir, o + 2), size: le32(dir, o + 10) };
      o += dir[o]!;
    }
    expect(file).toBeDefined();
    const data = readSector(file!.lba).subarray(0, file!.size);
    expect(new TextDecoder().decode(data)).toBe(FILE_TEXT);
  });

  it('READ(10) past the end is a CHECK CONDITION with ILLEGAL REQUEST / LBA out of range', () => {
    const { s, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.Read10, 0, 0, 0, 0, 31, 0, 0, 2]);
    expect(s.read(R.REG_STATUS, 1) & R.ST_ERR).toBe(R.ST_ERR);
    expect(s.read(R.REG_ERROR, 1) >> 4).toBe(R.SENSE_ILLEGAL_REQUEST);
    sendPacket(s, [R.ScsiCommand.RequestSense, 0, 0, 0, 18]);
    const sense = bytesOf(words(s, 9));
    expect(sense[0]).toBe(0x70);
    expect(sense[2]).toBe(R.SENSE_ILLEGAL_REQUEST);
    expect(sense[12]).toBe(R.ASC_LBA_OUT_OF_RANGE);
  });

  it('TEST UNIT READY without a medium reports NOT READY / medium not present', () => {
    const { s, words, bytesOf } = make({ cdMedium: false });
    sendPacket(s, [R.ScsiCommand.TestUnitReady]);
    expect(s.read(R.REG_ERROR, 1) >> 4).toBe(R.SENSE_NOT_READY);
    sendPacket(s, [R.ScsiCommand.RequestSense, 0, 0, 0, 18]);
    expect(bytesOf(words(s, 9))[12]).toBe(R.ASC_MEDIUM_NOT_PRESENT);
  });

  it('INQUIRY names a removable CD/DVD device', () => {
    const { s, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.Inquiry, 0, 0, 0, 36]);
    const inq = bytesOf(words(s, 18));
    expect(inq[0]).toBe(5);
    expect(inq[1]).toBe(0x80);
  });

  it('READ TOC format 0 lists track 1 and the lead-out at the capacity', () => {
    const { s, words, bytesOf } = make();
    sendPacket(s, [R.ScsiCommand.ReadToc, 0, 0, 0, 0, 0, 0, 0, 20]);
    const toc = bytesOf(words(s, 10));
    expect(toc.slice(2, 4)).toEqual([1, 1]);
    expect(toc[14]).toBe(0xaa);
    expect(toc.slice(16, 20)).toEqual([0, 0, 0, 32]);
  });

  it('PACKET with DMA moves READ(10) data through the bus master', () => {
    const { ide, s, memory, irq15 } = make();
    memory.write32(0x8000, 0x30000);
    memory.write32(0x8004, 2048 | (R.PRD_EOT << 16));
    const bm = ide.busMaster;
    bm.write(8 + R.BM_PRD_TABLE, 4, 0x8000);
    s.write(R.REG_FEATURES, 1, 1);
    s.write(R.REG_COMMAND, 1, R.AtaCommand.Packet);
    const cdb = [R.ScsiCommand.Read10, 0, 0, 0, 0, 25, 0, 0, 1, 0, 0, 0];
    for (let i = 0; i < 12; i += 2) s.write(R.REG_DATA, 2, cdb[i]! | (cdb[i + 1]! << 8));
    bm.write(8 + R.BM_COMMAND, 1, R.BMCMD_START | R.BMCMD_TO_MEMORY);
    expect(irq15.level).toBe(true);
    expect(memory.read8(0x30000)).toBe(25);
    expect(memory.read8(0x307ff)).toBe(25);
    expect(s.read(R.REG_SECTOR_COUNT, 1)).toBe(R.IREASON_IO | R.IREASON_COD);
  });

  it('software reset restores signatures and stops a transfer', () => {
    const { ide, s } = make();
    sendPacket(s, [R.ScsiCommand.ReadCapacity]);
    ide.secondary.controlBlock.write(0, 1, R.CTL_SRST);
    ide.secondary.controlBlock.write(0, 1, 0);
    expect([2, 3, 4, 5].map((o) => s.read(o, 1))).toEqual([...R.ATAPI_SIGNATURE]);
    expect(s.read(R.REG_STATUS, 1)).toBe(0);
  });

  it('state round-trips through JSON mid-transfer', () => {
    const a = make();
    lba28(a.p, 9, 2, R.AtaCommand.ReadSectors);
    a.words(a.p, 10);
    const b = make();
    b.ide.loadState(JSON.parse(JSON.stringify(a.ide.getState())));
    expect(b.ide.getState()).toEqual(a.ide.getState());
    expect(b.words(b.p, 1)).toEqual(a.words(a.p, 1));
  });
});
