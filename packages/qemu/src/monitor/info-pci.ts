/** `info pci`: every function on the PCI host bridge, in QEMU's layout (hmp_info_pci). */
import { PciConfigSpace, type PciDevice, type PciHost } from '@typevisor/devices';

/** QEMU's pci_class_descriptions: base class << 8 | subclass -> the name `info pci` prints. */
const CLASS_NAMES: ReadonlyMap<number, string> = new Map([
  [0x0001, 'VGA controller'],
  [0x0100, 'SCSI controller'],
  [0x0101, 'IDE controller'],
  [0x0102, 'Floppy controller'],
  [0x0103, 'IPI controller'],
  [0x0104, 'RAID controller'],
  [0x0106, 'SATA controller'],
  [0x0107, 'SAS controller'],
  [0x0180, 'Storage controller'],
  [0x0200, 'Ethernet controller'],
  [0x0201, 'Token Ring controller'],
  [0x0202, 'FDDI controller'],
  [0x0203, 'ATM controller'],
  [0x0280, 'Network controller'],
  [0x0300, 'VGA controller'],
  [0x0301, 'XGA controller'],
  [0x0302, '3D controller'],
  [0x0380, 'Display controller'],
  [0x0400, 'Video controller'],
  [0x0401, 'Audio controller'],
  [0x0402, 'Phone'],
  [0x0403, 'Audio controller'],
  [0x0480, 'Multimedia controller'],
  [0x0500, 'RAM controller'],
  [0x0501, 'Flash controller'],
  [0x0580, 'Memory controller'],
  [0x0600, 'Host bridge'],
  [0x0601, 'ISA bridge'],
  [0x0602, 'EISA bridge'],
  [0x0603, 'MC bridge'],
  [0x0604, 'PCI bridge'],
  [0x0605, 'PCMCIA bridge'],
  [0x0606, 'NUBUS bridge'],
  [0x0607, 'CARDBUS bridge'],
  [0x0608, 'RACEWAY bridge'],
  [0x0680, 'Bridge'],
  [0x0700, 'Serial port'],
  [0x0701, 'Parallel port'],
  [0x0703, 'Modem'],
  [0x0780, 'Communication controller'],
  [0x0800, 'PIC'],
  [0x0801, 'DMA controller'],
  [0x0802, 'Timer'],
  [0x0803, 'RTC'],
  [0x0880, 'System peripheral'],
  [0x0c00, 'Firewire controller'],
  [0x0c03, 'USB controller'],
  [0x0c05, 'SMBus'],
]);

/** PCI_BAR_UNMAPPED: what QEMU reports as the address of a BAR that does not decode. */
const UNMAPPED = 0xffff_ffff_ffff_ffffn;
const MASK64 = (1n << 64n) - 1n;

const hex = (n: number | bigint, width: number): string => BigInt(n).toString(16).padStart(width, '0');

/** The PciConfigSpace behind a function, when it exposes one (for BAR sizes and decoding). */
function configSpaceOf(dev: PciDevice): PciConfigSpace | undefined {
  if (dev instanceof PciConfigSpace) return dev;
  const config = (dev as { readonly config?: unknown }).config;
  return config instanceof PciConfigSpace ? config : undefined;
}

function formatFunction(bus: number, slot: number, fn: number, dev: PciDevice): string[] {
  const vendor = dev.configRead(0x00, 2);
  const device = dev.configRead(0x02, 2);
  const cls = dev.configRead(0x0a, 2);
  const headerType = dev.configRead(0x0e, 1) & 0x7f;
  const lines = [
    `  Bus ${String(bus).padStart(2)}, device ${String(slot).padStart(3)}, function ${fn}:`,
    `    ${CLASS_NAMES.get(cls) ?? `Class ${hex(cls, 4)}`}: PCI device ${hex(vendor, 4)}:${hex(device, 4)}`,
  ];
  if (headerType === 0) {
    lines.push(`      PCI subsystem ${hex(dev.configRead(0x2c, 2), 4)}:${hex(dev.configRead(0x2e, 2), 4)}`);
  }
  const pin = dev.configRead(0x3d, 1);
  if (pin !== 0) {
    lines.push(`      IRQ ${dev.configRead(0x3c, 1)}, pin ${String.fromCharCode(0x40 + pin)}`);
  }
  const config = configSpaceOf(dev);
  for (let i = 0; config !== undefined && i < 6; i++) {
    const bar = config.bar(i);
    if (bar === undefined) continue;
    const addr = bar.address === null ? UNMAPPED : BigInt(bar.address);
    const last = (addr + BigInt(bar.size) - 1n) & MASK64;
    if (bar.kind === 'io') {
      lines.push(`      BAR${i}: I/O at 0x${hex(addr, 4)} [0x${hex(last, 4)}].`);
    } else {
      const prefetch = config.get(0x10 + 4 * i, 1) & 0x08 ? ' prefetchable' : '';
      const bits = bar.kind === 'mem64' ? 64 : 32;
      lines.push(`      BAR${i}: ${bits} bit${prefetch} memory at 0x${hex(addr, 8)} [0x${hex(last, 8)}].`);
    }
  }
  lines.push('      id ""');
  return lines;
}

/**
 * QEMU 7.2's `info pci` for the functions on bus 0 of `host` (empty when the machine has no PCI).
 * Everything comes from configuration-space reads, so any PciDevice shows up; BARs are listed for
 * functions built on PciConfigSpace (all of the devices package's and virtio-pci's).
 */
export function formatPciInfo(host: PciHost | undefined): string {
  if (host === undefined) return '';
  const lines: string[] = [];
  for (let slot = 0; slot < 32; slot++) {
    for (let fn = 0; fn < 8; fn++) {
      const dev = host.function(slot, fn);
      if (dev !== undefined) lines.push(...formatFunction(0, slot, fn, dev));
    }
  }
  return lines.join('\n');
}
