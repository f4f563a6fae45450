// The std VGA as a PCI function of the pc machine, probed the way a guest's PCI code (and Linux's bochs
// DRM driver) does: configuration mechanism #1, BAR sizing, a relocated framebuffer BAR, the DISPI
// registers and the VGA ports through the MMIO BAR, and the legacy graphics window at 0xA0000.
import { VgaRegs } from '@typevisor/devices';
import { KvmHost } from '@typevisor/kvm';
import { CollectingSink, ManualClock } from '@typevisor/memory/testing';
import { describe, expect, it } from 'vitest';
import { runFlatGuest } from '../../test/flat-guest.js';
import { parseCommandLine } from '../options/parse.js';
import { PcMachine } from './pc.js';
import type { VirtioIo } from './virtio-devices.js';
import { VBE_LFB_BASE, VGA_PCI_SLOT, VGA_VRAM_BYTES } from './vga.js';

function machine(args: string[]) {
  const cmd = parseCommandLine(['-m', '16', ...args]);
  if (cmd.action !== 'run') throw new Error('not a run');
  const virtio: VirtioIo = {
    backends: {},
    readFile: () => new Uint8Array(0),
    consoleOut: { write() {} },
    fail() {},
  };
  return new PcMachine(
    cmd.config,
    { serialOut: new CollectingSink(), clock: new ManualClock(), virtio },
    new KvmHost(),
  );
}

const address = (slot: number, reg: number) => (0x8000_0000 | (slot << 11) | (reg & 0xfc)) >>> 0;
function cfgRead(m: PcMachine, slot: number, reg: number, size: 1 | 2 | 4 = 4): number {
  m.pio.write(0xcf8, 4, address(slot, reg));
  return m.pio.read(0xcfc + (reg & 3), size) >>> 0;
}
function cfgWrite(m: PcMachine, slot: number, reg: number, value: number): void {
  m.pio.write(0xcf8, 4, address(slot, reg));
  m.pio.write(0xcfc, 4, value >>> 0);
}

const runGuest = runFlatGuest;

const SLOT = VGA_PCI_SLOT;

describe('pc machine std VGA as a PCI function (-vga std)', () => {
  it('answers at 00:02.0 as 1234:1111, a VGA-compatible display controller', () => {
    const m = machine([]);
    expect(m.vga?.slot).toBe(2);
    expect(cfgRead(m, SLOT, 0x00)).toBe(0x1111_1234);
    expect(cfgRead(m, SLOT, 0x08) >>> 8).toBe(0x03_0000);
    expect(cfgRead(m, SLOT, 0x04, 2) & 3).toBe(3); // I/O and memory decoding on, as firmware leaves it
  });

  it('sizes BAR0 as prefetchable 32-bit memory of the VRAM size, BAR2 as 4 KiB of registers', () => {
    const m = machine([]);
    const bars = [0x10, 0x14, 0x18].map((reg) => {
      const was = cfgRead(m, SLOT, reg);
      cfgWrite(m, SLOT, reg, 0xffff_ffff);
      const mask = cfgRead(m, SLOT, reg);
      cfgWrite(m, SLOT, reg, was);
      return mask;
    });
    expect(bars[0]).toBe(((2 ** 32 - VGA_VRAM_BYTES) | 0x8) >>> 0); // bit 3: prefetchable
    expect(bars[1]).toBe(0); // BAR1 is unused, as on QEMU's stdvga (framebuffer BAR0, MMIO BAR2)
    expect(bars[2]).toBe(0xffff_f000);
    expect(cfgRead(m, SLOT, 0x10)).toBe((VBE_LFB_BASE | 0x8) >>> 0);
    expect(m.mmio.lookup(VBE_LFB_BASE)?.name).toBe('vga.vram');
  });

  it('moves the framebuffer where the guest reprograms BAR0, and DISPI reports the new base', () => {
    const m = machine([]);
    const vram = m.vga!.device.vram;
    cfgWrite(m, SLOT, 0x10, 0xe800_0000);
    expect(m.mmio.lookup(VBE_LFB_BASE)).toBeUndefined();
    expect(m.mmio.lookup(0xe800_0000)?.name).toBe('vga.vram');
    m.mmio.write(0xe800_0000 + 0x100, 4, 0xcafe_f00d);
    expect(Array.from(vram.subarray(0x100, 0x104))).toEqual([0x0d, 0xf0, 0xfe, 0xca]);
    expect(m.mmio.read(0xe800_0000 + 0x102, 2)).toBe(0xcafe);
    m.pio.write(0x1ce, 2, VgaRegs.VbeIndex.FbBaseHi);
    expect(m.pio.read(0x1cf, 2)).toBe(0xe800);
    // Memory decoding off: the framebuffer is gone from the bus.
    m.pio.write(0xcf8, 4, address(SLOT, 0x04));
    m.pio.write(0xcfc, 2, 0);
    expect(m.mmio.lookup(0xe800_0000)).toBeUndefined();
  });

  it('BAR2 holds the DISPI registers at 0x500 + index * 2 and the VGA ports at 0x400', () => {
    const m = machine([]);
    const d = m.vga!.device;
    const bar2 = (cfgRead(m, SLOT, 0x18) & ~0xf) >>> 0;
    expect(m.mmio.lookup(bar2)?.name).toBe('vga.mmio');
    const dispi = (i: number) => bar2 + 0x500 + i * 2;
    expect(m.mmio.read(dispi(VgaRegs.VbeIndex.Id), 2)).toBe(VgaRegs.VBE_ID5);
    expect(m.mmio.read(dispi(VgaRegs.VbeIndex.VideoMemory64k), 2)).toBe(VGA_VRAM_BYTES >>> 16);
    m.mmio.write(dispi(VgaRegs.VbeIndex.XRes), 2, 800);
    m.mmio.write(dispi(VgaRegs.VbeIndex.YRes), 2, 600);
    m.mmio.write(dispi(VgaRegs.VbeIndex.Bpp), 2, 32);
    m.mmio.write(dispi(VgaRegs.VbeIndex.Enable), 2, VgaRegs.VBE_ENABLED | VgaRegs.VBE_LFB_ENABLED);
    expect(d.mode).toBe('vbe');
    expect(d.displayMode()).toEqual({ kind: 'vbe', width: 800, height: 600 });
    m.mmio.write(VBE_LFB_BASE + (600 * 800 - 1) * 4, 4, 0x00ff_0000); // last pixel red
    const f = m.vga!.render();
    expect([f.width, f.height]).toEqual([800, 600]);
    expect(Array.from(f.rgba.subarray(f.rgba.length - 4))).toEqual([255, 0, 0, 255]);
    // A word at 0x404 writes port 0x3C4 (the sequencer index) then 0x3C5 (its data).
    m.mmio.write(bar2 + 0x404, 2, 0x0502);
    expect(d.reg('seq', 2)).toBe(0x05);
    expect(m.mmio.read(bar2 + 0x405, 1)).toBe(0x05);
    expect(m.mmio.read(bar2 + 0x40c, 1)).toBe(m.pio.read(0x3cc, 1)); // misc output, read side
  });

  it('decodes the graphics window at 0xA0000: a guest draws in mode 13h through VM exits', () => {
    const m = machine([]);
    const vga = m.vga!;
    const out = (port: number, v: number) => m.pio.write(port, 1, v);
    const indexed = (port: number, i: number, v: number) => {
      out(port, i);
      out(port + 1, v);
    };
    vga.bootScreen(m.ram, '');
    const t = VgaRegs.MODE13;
    for (let i = 0; i <= 4; i++) indexed(0x3c4, i, t.seq[i]!);
    for (let i = 0; i <= 8; i++) indexed(0x3ce, i, t.gr[i]!);
    indexed(0x3d4, 0x11, 0);
    for (let i = 0; i <= 0x18; i++) indexed(0x3d4, i, t.crtc[i]!);
    out(0x3c2, t.misc);
    out(0x3c8, 0x2c);
    for (const c of [0, 63, 0]) out(0x3c9, c);
    // mov byte [0xA0000 + 5], 0x2c; mov al, [0xA0000 + 5]; mov [0x2000], al; hlt
    runGuest(
      m,
      [
        0xc6, 0x05, 0x05, 0x00, 0x0a, 0x00, 0x2c, 0xa0, 0x05, 0x00, 0x0a, 0x00, 0xa2, 0x00, 0x20, 0x00, 0x00,
        0xf4,
      ],
    );
    expect(m.exitCounts.get('MmioWrite')).toBe(1);
    expect(vga.device.vram[5]).toBe(0x2c);
    expect(m.ram[0x2000]).toBe(0x2c); // read back through the card
    expect(m.ram[0xa0005]).toBe(0); // not RAM
    const f = vga.render();
    expect([f.width, f.height]).toEqual([320, 200]);
    expect(Array.from(f.rgba.subarray(5 * 4, 6 * 4))).toEqual([0, 255, 0, 255]);
    expect(Array.from(f.rgba.subarray(6 * 4, 7 * 4))).toEqual([0, 0, 0, 255]);
  });

  it('takes slot 2 before the -device functions; without a VGA the slot is theirs', () => {
    const m = machine(['-device', 'virtio-rng-pci']);
    expect(cfgRead(m, 3, 0)).toBe(0x1044_1af4);
    const none = machine(['-vga', 'none', '-device', 'virtio-rng-pci']);
    expect(none.vga).toBeNull();
    expect(cfgRead(none, 2, 0)).toBe(0x1044_1af4);
    expect(() => machine(['-device', 'virtio-rng-pci,addr=2'])).toThrow(
      '-device virtio-rng-pci,addr=2: PCI slot 2 is already in use',
    );
  });
});
