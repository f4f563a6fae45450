import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  I440fxHostBridge,
  IdeController,
  PciConfigSpace,
  PciHost,
  PicPair,
  Piix3IsaBridge,
  Piix4PowerManagement,
} from '@typevisor/devices';
import { NO_IRQ } from '@typevisor/memory';
import { describe, expect, it } from 'vitest';
import { formatExits } from './info-exits.js';
import { formatMtree } from './info-mtree.js';
import { formatPciInfo } from './info-pci.js';
import { formatIrqInfo, formatPicInfo } from './info-pic.js';

const golden = new Map(
  (
    JSON.parse(
      readFileSync(
        join(dirname(fileURLToPath(import.meta.url)), '../../testdata/monitor-golden.json'),
        'utf8',
      ),
    ) as { session: [string, string][] }
  ).session,
);

/** The i440FX board's PCI functions as QEMU's `pc` has them (00:00.0, 00:01.0, 00:01.1, 00:01.3). */
function qemuPcBus(): PciHost {
  const host = new PciHost();
  const sub = (config: PciConfigSpace) => {
    config.put(0x2c, 2, 0x1af4); // QEMU's subsystem vendor (Red Hat) and id (0x1100) on every function
    config.put(0x2e, 2, 0x1100);
  };
  const bridge = new I440fxHostBridge();
  const isa = new Piix3IsaBridge({ isaIrq: () => NO_IRQ });
  const ide = new IdeController();
  const pm = new Piix4PowerManagement();
  for (const d of [bridge, isa, ide, pm]) sub(d.config);
  host.attach(0, 0, bridge);
  host.attach(1, 0, isa);
  host.attach(1, 1, ide);
  host.attach(1, 3, pm);
  return host;
}

describe('info pci', () => {
  it('prints the i440FX board exactly as QEMU 7.2 does before the firmware ran', () => {
    expect(formatPciInfo(qemuPcBus())).toBe(golden.get('info pci'));
  });

  it('shows a BAR the guest placed, the interrupt line it wrote, and a class QEMU has no name for', () => {
    const host = qemuPcBus();
    host.configWrite(0, (1 << 3) | 1, 0x20, 4, 0xc000); // IDE BAR4 -> 0xc000
    host.configWrite(0, (1 << 3) | 1, 0x04, 2, 0x0001); // I/O decode on
    host.configWrite(0, (1 << 3) | 3, 0x3c, 1, 9); // PM interrupt line
    host.attach(
      3,
      0,
      new PciConfigSpace({
        vendorId: 0x1af4,
        deviceId: 0x1005,
        classCode: 0x00ff00,
        interruptPin: 1,
        bars: [
          { kind: 'mem32', size: 0x1000 },
          undefined,
          undefined,
          undefined,
          { kind: 'mem64', size: 0x4000, prefetchable: true },
        ],
      }),
    );
    const text = formatPciInfo(host);
    expect(text).toContain('      BAR4: I/O at 0xc000 [0xc00f].');
    expect(text).toContain('      IRQ 9, pin A\n');
    expect(text).toContain(
      [
        '  Bus  0, device   3, function 0:',
        '    Class 00ff: PCI device 1af4:1005',
        '      PCI subsystem 0000:0000',
        '      IRQ 0, pin A',
        '      BAR0: 32 bit memory at 0xffffffffffffffff [0x00000ffe].',
        '      BAR4: 64 bit prefetchable memory at 0xffffffffffffffff [0x00003ffe].',
        '      id ""',
      ].join('\n'),
    );
  });

  it('is empty on a machine without PCI', () => {
    expect(formatPciInfo(undefined)).toBe('');
    expect(formatPciInfo(new PciHost())).toBe('');
  });
});

describe('info pic', () => {
  it('prints a reset 8259 pair as QEMU 7.2 does (slave first)', () => {
    const pic = new PicPair();
    const want = golden.get('info pic')!.split('\n').slice(-2).join('\n');
    expect(formatPicInfo(pic.master.getState(), pic.slave.getState())).toBe(want);
  });

  it('shows what the guest programmed: vector base, mask, ELCR, a pending request', () => {
    const pic = new PicPair();
    for (const [port, v] of [
      [0, 0x11],
      [1, 0x20],
      [1, 0x04],
      [1, 0x11], // ICW4: 8086 mode, special fully nested
      [1, 0xfa],
    ] as const) {
      pic.master.write(port, 1, v);
    }
    pic.setIrq(0, true);
    const text = formatPicInfo(pic.master.getState(), pic.slave.getState());
    expect(text.split('\n')[1]).toBe('pic0: irr=01 imr=fa isr=00 hprio=0 irq_base=20 rr_sel=0 elcr=00 fnm=1');
  });
});

describe('info irq', () => {
  it('prints only the inputs that were raised, in QEMU layout', () => {
    const counts = new Float64Array(16);
    counts[0] = 1;
    const want = golden.get('info irq')!.split('\n').slice(2).join('\n');
    expect(formatIrqInfo('isa-i8259', counts)).toBe(want);
    counts[14] = 1234;
    expect(formatIrqInfo('isa-i8259', counts)).toBe('IRQ statistics for isa-i8259:\n 0: 1\n14: 1234');
  });
});

describe('info mtree', () => {
  it("uses QEMU's layout for the memory and I/O address spaces and pc.ram", () => {
    const text = formatMtree({
      ramBytes: 128 * 2 ** 20,
      mmio: [{ base: 0xfec00000, length: 0x1000, name: 'ioapic' }],
      pio: [
        { base: 0x40, length: 4, name: 'pit' },
        { base: 0x20, length: 2, name: 'pic' },
      ],
    });
    const want = golden.get('info mtree')!.split('\n');
    const lines = text.split('\n');
    // Every line we print for these regions is a line QEMU printed for the same regions.
    for (const l of lines) if (l !== '') expect(want).toContain(l);
    expect(lines.slice(0, 3)).toEqual([
      'address-space: memory',
      '  0000000000000000-ffffffffffffffff (prio 0, i/o): system',
      '    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff',
    ]);
    // Sorted by address within a space.
    expect(lines.indexOf('    0000000000000020-0000000000000021 (prio 0, i/o): pic')).toBeLessThan(
      lines.indexOf('    0000000000000040-0000000000000043 (prio 0, i/o): pit'),
    );
  });
});

describe('info exits', () => {
  it('lists the VMM exits and the facade exits by VMX reason, most frequent first', () => {
    const vmm = new Map([
      ['hlt', 3],
      ['io', 40],
    ]);
    expect(formatExits(vmm, undefined)).toBe(
      `exits handled by the VMM: 43\n  ${'io'.padEnd(22)} ${'40'.padStart(12)}\n  ${'hlt'.padEnd(22)} ${'3'.padStart(12)}`,
    );
    const exits = new Float64Array(80);
    exits[30] = 40;
    exits[10] = 7;
    exits[77] = 1;
    const text = formatExits(vmm, {
      exits,
      kernelExits: 8,
      userspaceReturns: 40,
      runs: 45,
      instructions: 1e6,
    });
    expect(text).toContain('KVM_RUN calls: 45, guest instructions: 1000000');
    expect(text).toContain('VM exits: 48 (in the kernel: 8, to userspace: 40)');
    const tail = text.split('\n').slice(-3);
    expect(tail.map((l) => l.trim().split(/\s+/))).toEqual([
      ['io_instruction', '40'],
      ['cpuid', '7'],
      ['reason_77', '1'],
    ]);
  });
});
