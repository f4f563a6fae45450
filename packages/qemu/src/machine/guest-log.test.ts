import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LOG_ITEMS } from '../options/parse.js';
import { GuestLog, LOG_ITEM_HELP, logHelpText } from './guest-log.js';
import { realModeGuest } from './real-mode-guest.js';

const bzImage = new Uint8Array(
  readFileSync(
    join(dirname(fileURLToPath(import.meta.url)), '../../../../tools/images/default-i386/bzImage'),
  ),
);

// Program the master 8259 (vector base 8, only IRQ0 unmasked), read an unassigned port, then sti; hlt.
const PROGRAM = [
  0xfa, 0xb0, 0x11, 0xe6, 0x20, 0xb0, 0x08, 0xe6, 0x21, 0xb0, 0x04, 0xe6, 0x21, 0xb0, 0x01, 0xe6, 0x21, 0xb0,
  0xfe, 0xe6, 0x21, 0xe4, 0x99, 0xfb, 0xf4, 0xeb, 0xfd,
];
// IVT entry 8 -> 0000:1100, where the handler sends EOI and returns.
const IVT8: readonly [number, number[]] = [0x20, [0x00, 0x11, 0x00, 0x00]];
const HANDLER: readonly [number, number[]] = [0x1100, [0xb0, 0x20, 0xe6, 0x20, 0xcf]];

describe('-d log items on the pc machine', () => {
  it('int: each hardware interrupt injected, in QEMU words; guest_errors: the unassigned port', () => {
    const g = realModeGuest(['-d', 'int,guest_errors'], PROGRAM, [IVT8, HANDLER]);
    g.run(() => g.log.filter((l) => l.startsWith('Servicing')).length >= 3);
    expect(g.log.filter((l) => l === 'Servicing hardware INT=0x08\n').length).toBe(3);
    expect(g.log).toContain("Invalid read at addr 0x99, size 1, region 'I/O', reason: unassigned\n");
    expect(g.log.every((l) => !l.startsWith('CPU Reset'))).toBe(true);
  });

  it('logs nothing for items that are off', () => {
    const g = realModeGuest([], PROGRAM, [IVT8, HANDLER]);
    g.run(() => g.m.irqCounts.counts[0]! >= 3);
    expect(g.m.irqCounts.counts[0]).toBeGreaterThanOrEqual(3);
    expect(g.log).toEqual([]);
  });

  it('cpu_reset: "CPU Reset (CPU 0)" and the state being reset, each time the kernel is (re)loaded', () => {
    const g = realModeGuest(['-d', 'cpu_reset'], PROGRAM);
    expect(g.m.loadLinux(new Uint8Array(16), undefined, '')).toBeDefined(); // not a bzImage: no reset
    expect(g.log).toEqual([]);
    expect(g.m.loadLinux(bzImage, undefined, 'console=ttyS0')).toBeUndefined();
    expect(g.m.loadLinux(bzImage, undefined, 'console=ttyS0')).toBeUndefined();
    expect(g.log).toHaveLength(2);
    expect(g.log[0]).toMatch(/^CPU Reset \(CPU 0\)\nEAX=00000000 /);
    expect(g.log[0]).toContain('\nEIP=00001000 EFL=00000002 '); // the state before: our program
    expect(g.log[0]).toContain('\nCS =0000 00000000 ');
    expect(g.log[1]).toContain('\nEIP=00100000 '); // the second reset dumps the loaded entry state
  });

  it('cpu_reset and triple fault through a guest that faults with no IDT', () => {
    // lidt with a zero limit, then int3: #GP on the IDT access, #DF, triple fault (KVM_EXIT_SHUTDOWN).
    const g = realModeGuest(
      ['-d', 'cpu_reset'],
      [0x0f, 0x01, 0x1e, 0x00, 0x20, 0xcc],
      [[0x2000, [0, 0, 0, 0, 0, 0]]],
    );
    const action = g.run(() => false, 100);
    expect(action).toEqual({ kind: 'reset', reason: 'triple fault' });
    expect(g.log).toEqual(['Triple fault\n']);
  });

  it('formats the guest-error and unimp lines and the help list', () => {
    const lines: string[] = [];
    const log = new GuestLog(['guest_errors', 'unimp'], (t) => lines.push(t));
    log.unassigned('memory', 0xfed00000, 4, true, 0x1234);
    log.unimplemented('MSR 0x1b exit without a userspace MSR handler');
    log.hardwareInterrupt(0x20); // int is off
    expect(lines).toEqual([
      "Invalid write of 0x1234 at addr 0xFED00000, size 4, region 'memory', reason: unassigned\n",
      'unimplemented: MSR 0x1b exit without a userspace MSR handler\n',
    ]);
    expect(LOG_ITEM_HELP.map(([n]) => n).sort()).toEqual([...LOG_ITEMS].sort());
    expect(logHelpText()).toMatch(/^Log items \(comma separated\):\nin_asm {10}show target assembly/);
    expect(logHelpText()).toContain('\ncpu_reset       show CPU state before CPU resets\n');
  });
});
