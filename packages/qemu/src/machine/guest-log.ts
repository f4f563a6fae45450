/**
 * `-d int,cpu_reset,guest_errors,unimp`: QEMU's log items for what a VMM over KVM can see. Hardware
 * interrupts are the vectors it injects with KVM_INTERRUPT ("Servicing hardware INT=0x.."), CPU resets
 * dump the state being reset ("CPU Reset (CPU 0)" and `info registers`' layout), a triple fault
 * (KVM_EXIT_SHUTDOWN) is "Triple fault", guest errors are port and MMIO accesses where no device
 * sits, and unimp names the exits the VMM has no handler for. Exceptions the guest takes and handles
 * itself never leave KVM_RUN, so they are not logged (QEMU with KVM does not log them either).
 */
import type { AccessSize } from '@typevisor/memory';

/** `-d` items, with QEMU's help text. TCG-only items are accepted and log nothing under KVM, as in QEMU. */
export const LOG_ITEM_HELP: readonly (readonly [string, string])[] = [
  ['in_asm', 'show target assembly code for each compiled TB (TCG only: nothing with KVM)'],
  ['int', 'show interrupts/exceptions in short format'],
  ['exec', 'show trace before each executed TB (TCG only: nothing with KVM)'],
  ['cpu', 'show CPU registers before entering a TB (TCG only: nothing with KVM)'],
  ['mmu', 'log MMU-related activities (TCG only: nothing with KVM)'],
  ['pcall', 'x86 only: show protected mode far calls/returns/exceptions (TCG only: nothing with KVM)'],
  ['cpu_reset', 'show CPU state before CPU resets'],
  ['unimp', 'log unimplemented functionality'],
  ['guest_errors', 'log when the guest OS does something invalid (eg accessing a\nnon-existent register)'],
];

/** `-d help`: the list QEMU prints (item, padded to 16 columns, then its help). */
export function logHelpText(): string {
  return ['Log items (comma separated):', ...LOG_ITEM_HELP.map(([n, h]) => `${n.padEnd(15)} ${h}`)].join(
    '\n',
  );
}

const hex = (n: number): string => n.toString(16).toUpperCase();

/** The enabled items and where their lines go. Each `log*` method is a no-op unless its item is on. */
export class GuestLog {
  readonly int: boolean;
  readonly cpuReset: boolean;
  readonly guestErrors: boolean;
  readonly unimp: boolean;

  constructor(
    items: readonly string[],
    private readonly sink: (text: string) => void = () => {},
  ) {
    this.int = items.includes('int');
    this.cpuReset = items.includes('cpu_reset');
    this.guestErrors = items.includes('guest_errors');
    this.unimp = items.includes('unimp');
  }

  /** A hardware interrupt delivered to the vCPU (QEMU's do_interrupt_all under `-d int`). */
  hardwareInterrupt(vector: number): void {
    if (this.int) this.sink(`Servicing hardware INT=0x${vector.toString(16).padStart(2, '0')}\n`);
  }

  /** Before a CPU reset: QEMU's "CPU Reset (CPU n)" and the register dump of the state being reset. */
  reset(cpu: number, registers: () => string): void {
    if (this.cpuReset) this.sink(`CPU Reset (CPU ${cpu})\n${registers()}\n`);
  }

  /** An exception KVM passed to userspace (KVM_EXIT_EXCEPTION), in QEMU's check_exception words. */
  exception(vector: number): void {
    if (this.int) this.sink(`check_exception old: 0xffffffff new 0x${vector.toString(16)}\n`);
  }

  /** A triple fault: the machine resets (QEMU logs it under cpu_reset). */
  tripleFault(): void {
    if (this.cpuReset) this.sink('Triple fault\n');
  }

  /** An access where no device sits, in the wording of QEMU's rejected accesses. */
  unassigned(space: 'I/O' | 'memory', addr: number, size: AccessSize, write: boolean, value: number): void {
    if (!this.guestErrors) return;
    const what = write ? `write of 0x${hex(value >>> 0)}` : 'read';
    this.sink(
      `Invalid ${what} at addr 0x${hex(addr)}, size ${size}, region '${space}', reason: unassigned\n`,
    );
  }

  /** An exit the VMM has no handler for. */
  unimplemented(what: string): void {
    if (this.unimp) this.sink(`unimplemented: ${what}\n`);
  }
}
