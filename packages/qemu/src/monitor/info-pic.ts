/** `info pic` and `info irq`: the 8259 pair's registers and the per-IRQ counts, as QEMU prints them. */

/** The registers of one 8259A that `info pic` shows (the devices package's Pic8259State has them). */
export interface PicView {
  readonly irr: number;
  readonly imr: number;
  readonly isr: number;
  /** Lowest-priority rotation: the IR level with the highest priority (QEMU's priority_add). */
  readonly priorityBase: number;
  /** ICW2: the vector of IR0 (QEMU's irq_base). */
  readonly vectorBase: number;
  /** OCW3 RR/RIS: the next status read returns the ISR (QEMU's read_reg_select). */
  readonly readIsr: boolean;
  readonly elcr: number;
  readonly icw4: number;
}

const h2 = (n: number): string => n.toString(16).padStart(2, '0');
/** ICW4 bit 4: special fully nested mode. */
const ICW4_SFNM = 0x10;

function picLine(index: number, p: PicView): string {
  return (
    `pic${index}: irr=${h2(p.irr)} imr=${h2(p.imr)} isr=${h2(p.isr)} hprio=${p.priorityBase} ` +
    `irq_base=${h2(p.vectorBase)} rr_sel=${p.readIsr ? 1 : 0} elcr=${h2(p.elcr)} ` +
    `fnm=${(p.icw4 & ICW4_SFNM) !== 0 ? 1 : 0}`
  );
}

/** QEMU 7.2's `info pic` lines for the 8259 pair (it lists the slave, pic1, first). */
export function formatPicInfo(master: PicView, slave: PicView): string {
  return `${picLine(1, slave)}\n${picLine(0, master)}`;
}

/**
 * QEMU's `info irq` for an interrupt controller: the header, then `%2d: %d` for each input that was
 * raised at least once. `counts` is indexed by input (ISA IRQ 0-15 for the 8259 pair).
 */
export function formatIrqInfo(controller: string, counts: ArrayLike<number>): string {
  const lines = [`IRQ statistics for ${controller}:`];
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0;
    if (n > 0) lines.push(`${String(i).padStart(2, ' ')}: ${n}`);
  }
  return lines.join('\n');
}
