// Behaviour checked against the PCI Local Bus Specification 3.0: 3.2.2.3.2 (configuration mechanism
// #1), 6.1 (header), 6.2.2 (Command incl. Interrupt Disable), 6.2.3 (Status, write-1-to-clear),
// 6.2.5.1 (BAR sizing), 6.7 (capability list); PIIX3 datasheet 290550 2.2.9 (PIRQRC) and 2.2.11 (RCR);
// PIIX4 datasheet 290562 3.3 (PMBA/PMREGMISC); 440FX datasheet 290549 3.2.18 (PAM).
import { FakeIrqLine } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { PciConfigSpace, type PciBarMapping } from './config-space.js';
import { PciHost, devfn } from './device.js';
import { I440fxHostBridge } from './i440fx.js';
import { Piix3IsaBridge, Piix4PowerManagement } from './piix.js';
import * as R from './registers.js';

const addr = (dev: number, fn: number, reg: number) => (0x8000_0000 | (dev << 11) | (fn << 8) | reg) >>> 0;
function cfgRead(host: PciHost, dev: number, fn: number, reg: number, size: 1 | 2 | 4 = 4): number {
  host.write(0, 4, addr(dev, fn, reg & ~3));
  return host.read(4 + (reg & 3), size);
}
function cfgWrite(host: PciHost, dev: number, fn: number, reg: number, value: number, size: 1 | 2 | 4 = 4) {
  host.write(0, 4, addr(dev, fn, reg & ~3));
  host.write(4 + (reg & 3), size, value);
}

describe('PCI host (configuration mechanism #1)', () => {
  it('finds the i440FX at 00:00.0 and all-ones where nothing is attached', () => {
    const host = new PciHost();
    host.attach(0, 0, new I440fxHostBridge());
    expect(cfgRead(host, 0, 0, 0)).toBe(0x1237_8086);
    expect(cfgRead(host, 0, 0, 0x0a, 2)).toBe(0x0600);
    expect(cfgRead(host, 5, 0, 0)).toBe(0xffff_ffff);
    host.write(0, 4, 0x0000_0000); // enable bit clear
    expect(host.read(4, 4)).toBe(0xffff_ffff);
    expect(host.read(0, 4)).toBe(0);
  });

  it('refuses a second function at the same address', () => {
    const host = new PciHost();
    host.attach(1, 0, new I440fxHostBridge());
    expect(() => host.attach(1, 0, new I440fxHostBridge())).toThrow(/SlotInUse/);
    expect(() => host.attach(32, 0, new I440fxHostBridge())).toThrow(/InvalidArgument/);
  });

  it('0xCF9 RST_CPU rising edge requests a reset (Linux reboot=pci)', () => {
    let resets = 0;
    const host = new PciHost({ reset: { requestReset: () => resets++ } });
    host.write(1, 1, R.RCR_SYS_RST);
    host.write(1, 1, R.RCR_SYS_RST | R.RCR_RST_CPU);
    expect(resets).toBe(1);
    expect(host.read(1, 1)).toBe(R.RCR_SYS_RST);
  });

  it('PAM writes reach the observer', () => {
    const seen: Array<[number, number]> = [];
    const host = new PciHost();
    const bridge = new I440fxHostBridge({ pamChanged: (i, v) => seen.push([i, v]) });
    host.attach(0, 0, bridge);
    cfgWrite(host, 0, 0, 0x59, 0x30, 1);
    cfgWrite(host, 0, 0, 0x5a, 0xff, 1);
    expect(seen).toEqual([
      [0, 0x30],
      [1, 0x33],
    ]);
  });
});

describe('PciConfigSpace', () => {
  function make() {
    const maps: PciBarMapping[] = [];
    const intx = new FakeIrqLine();
    const cfg = new PciConfigSpace({
      vendorId: 0x1af4,
      deviceId: 0x1041,
      classCode: 0x020000,
      interruptPin: R.INTA,
      intx,
      bars: [
        { kind: 'io', size: 32 },
        { kind: 'mem32', size: 4096 },
        undefined,
        undefined,
        { kind: 'mem64', size: 0x4000, prefetchable: true },
      ],
      barObserver: { barChanged: (m) => maps.push(m) },
    });
    return { cfg, maps, intx };
  }

  it('BAR sizing: all-ones reads back the size mask with the type bits', () => {
    const { cfg } = make();
    cfg.configWrite(R.BAR0, 4, 0xffff_ffff);
    expect(cfg.configRead(R.BAR0, 4)).toBe(0xffff_ffe1); // I/O BARs: all 32 bits writable, as in QEMU
    cfg.configWrite(R.BAR0 + 4, 4, 0xffff_ffff);
    expect(cfg.configRead(R.BAR0 + 4, 4)).toBe(0xffff_f000);
    cfg.configWrite(R.BAR0 + 16, 4, 0xffff_ffff);
    cfg.configWrite(R.BAR0 + 20, 4, 0xffff_ffff);
    expect(cfg.configRead(R.BAR0 + 16, 4)).toBe((0xffff_c000 | R.BAR_MEM_TYPE_64 | R.BAR_MEM_PREFETCH) >>> 0);
    expect(cfg.configRead(R.BAR0 + 20, 4)).toBe(0xffff_ffff);
    expect(cfg.configRead(R.BAR0 + 8, 4)).toBe(0); // unimplemented BAR
  });

  it('reports BAR mappings only while the command register enables decoding', () => {
    const { cfg, maps } = make();
    cfg.configWrite(R.BAR0, 4, 0xc000);
    cfg.configWrite(R.BAR0 + 4, 4, 0xfebf_1000);
    cfg.configWrite(R.BAR0 + 16, 4, 0x0000_0000);
    cfg.configWrite(R.BAR0 + 20, 4, 0x1);
    expect(maps).toEqual([]);
    cfg.configWrite(R.COMMAND, 2, R.COMMAND_IO | R.COMMAND_MEMORY);
    expect(maps).toEqual([
      { index: 0, kind: 'io', size: 32, address: 0xc000 },
      { index: 1, kind: 'mem32', size: 4096, address: 0xfebf_1000 },
      { index: 4, kind: 'mem64', size: 0x4000, address: 2 ** 32 },
    ]);
    expect(cfg.bar(4)?.address).toBe(2 ** 32);
    cfg.configWrite(R.COMMAND, 2, R.COMMAND_MEMORY);
    expect(maps.at(-1)).toEqual({ index: 0, kind: 'io', size: 32, address: null });
  });

  it('IDs are read-only; status error bits are write-1-to-clear', () => {
    const { cfg } = make();
    cfg.configWrite(R.VENDOR_ID, 4, 0);
    expect(cfg.configRead(R.VENDOR_ID, 4)).toBe(0x1041_1af4);
    cfg.put(R.STATUS, 2, 0x8000 | 0x0100);
    cfg.configWrite(R.STATUS, 2, 0x8000);
    expect(cfg.configRead(R.STATUS, 2)).toBe(0x0100);
  });

  it('INTx is gated by Command.INTX_DISABLE while Status.INTERRUPT follows the device', () => {
    const { cfg, intx } = make();
    cfg.setIntx(true);
    expect(intx.level).toBe(true);
    expect(cfg.configRead(R.STATUS, 2) & R.STATUS_INTERRUPT).toBe(R.STATUS_INTERRUPT);
    cfg.configWrite(R.COMMAND, 2, R.COMMAND_INTX_DISABLE);
    expect(intx.level).toBe(false);
    expect(cfg.configRead(R.STATUS, 2) & R.STATUS_INTERRUPT).toBe(R.STATUS_INTERRUPT);
  });

  it('builds a capability list from 0x40 and sets Status.CAP_LIST', () => {
    const { cfg } = make();
    const a = cfg.addCapability(R.CAP_ID_VENDOR, 16);
    const b = cfg.addCapability(R.CAP_ID_MSIX, 12);
    expect([a, b]).toEqual([0x40, 0x50]);
    expect(cfg.configRead(R.CAPABILITIES_POINTER, 1)).toBe(0x40);
    expect(cfg.configRead(0x41, 1)).toBe(0x50);
    expect(cfg.configRead(0x51, 1)).toBe(0);
    expect(cfg.configRead(R.STATUS, 2) & R.STATUS_CAP_LIST).toBe(R.STATUS_CAP_LIST);
    expect(() => cfg.addCapability(R.CAP_ID_VENDOR, 200)).toThrow(/InvalidArgument/);
  });

  it('rejects a BAR size that is not a power of two', () => {
    expect(
      () => new PciConfigSpace({ vendorId: 1, deviceId: 1, classCode: 0, bars: [{ kind: 'io', size: 24 }] }),
    ).toThrow(/InvalidArgument/);
  });
});

describe('PIIX3/PIIX4 functions', () => {
  it('routes PIRQs to ISA IRQs through PIRQRC and ORs shared lines', () => {
    const lines = Array.from({ length: 16 }, () => new FakeIrqLine());
    const piix = new Piix3IsaBridge({ isaIrq: (n) => lines[n]! });
    const host = new PciHost();
    host.attach(1, 0, piix);
    // slot 3 INTA -> PIRQ (0 + 3 - 1) & 3 = C; slot 2 INTB -> PIRQ C too.
    const a = piix.intxLine(3, R.INTA);
    const b = piix.intxLine(2, R.INTB);
    a.set(true);
    expect(lines.some((l) => l.level)).toBe(false); // PIRQC routing disabled at reset
    cfgWrite(host, 1, 0, R.PIIX_PIRQRC + 2, 11, 1);
    expect(lines[11]!.level).toBe(true);
    b.set(true);
    a.set(false);
    expect(lines[11]!.level).toBe(true);
    b.set(false);
    expect(lines[11]!.level).toBe(false);
    a.set(true);
    cfgWrite(host, 1, 0, R.PIIX_PIRQRC + 2, 10, 1); // move the route
    expect(lines[11]!.level).toBe(false);
    expect(lines[10]!.level).toBe(true);
    cfgWrite(host, 1, 0, R.PIIX_PIRQRC + 2, 2, 1); // IRQ2 is not a valid target
    expect(piix.routedIrq(2)).toBe(-1);
    expect(lines[10]!.level).toBe(false);
    expect(cfgRead(host, 1, 0, R.HEADER_TYPE, 1)).toBe(R.HEADER_TYPE_MULTI_FUNCTION);
  });

  it('PIIX4 PMBA + PMIOSE place the ACPI PM block (SeaBIOS sequence)', () => {
    const bases: Array<number | null> = [];
    const pm = new Piix4PowerManagement({ pmIoChanged: (b) => bases.push(b) });
    const host = new PciHost();
    host.attach(1, 3, pm);
    expect(host.function(1, 3)).toBe(pm);
    expect(host.configRead(0, devfn(1, 3), 0, 4)).toBe(0x7113_8086);
    cfgWrite(host, 1, 3, R.PIIX4_PMBA, 0x600 | 1);
    expect(bases).toEqual([]);
    cfgWrite(host, 1, 3, R.PIIX4_PMREGMISC, R.PMREGMISC_PMIOSE, 1);
    expect(bases).toEqual([0x600]);
    expect(cfgRead(host, 1, 3, R.PIIX4_PMBA)).toBe(0x601);
    cfgWrite(host, 1, 3, R.PIIX4_PMREGMISC, 0, 1);
    expect(bases).toEqual([0x600, null]);
  });

  it('unaligned config data accesses are split into bytes', () => {
    const host = new PciHost();
    host.attach(0, 0, new I440fxHostBridge());
    expect(cfgRead(host, 0, 0, 1, 2)).toBe(0x3780); // bytes 86 80 37 12
  });
});
