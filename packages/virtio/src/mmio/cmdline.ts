import { VirtioError } from '../errors.js';
import { MMIO_WINDOW_SIZE } from './registers.js';

export interface MmioCmdlineEntry {
  /** Guest physical base of the register window. */
  readonly base: number;
  /** GSI the device interrupts on. */
  readonly irq: number;
  /** Window size in bytes (default 4 KiB). */
  readonly size?: number;
  /** Platform device id Linux gives the device (optional fourth field). */
  readonly id?: number;
}

/**
 * The kernel command-line parameter Linux's virtio_mmio driver parses when there is no device tree
 * or ACPI description (drivers/virtio/virtio_mmio.c, `vm_cmdline_set`):
 * `virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]`, size in memparse syntax (e.g. `4K`).
 */
export function virtioMmioCmdline(entry: MmioCmdlineEntry): string {
  const size = entry.size ?? MMIO_WINDOW_SIZE;
  for (const [name, v] of [
    ['base', entry.base],
    ['irq', entry.irq],
    ['size', size],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new VirtioError('InvalidArgument', `virtio-mmio ${name} ${v}`);
  }
  if (size === 0) throw new VirtioError('InvalidArgument', 'virtio-mmio size 0');
  const sizeText = size % 1024 === 0 ? `${size / 1024}K` : `${size}`;
  const id = entry.id === undefined ? '' : `:${entry.id}`;
  return `virtio_mmio.device=${sizeText}@0x${entry.base.toString(16)}:${entry.irq}${id}`;
}

/** All entries, space-separated, ready to append to `-append`. */
export function virtioMmioCmdlines(entries: readonly MmioCmdlineEntry[]): string {
  return entries.map(virtioMmioCmdline).join(' ');
}
